/*
 * skynet: a million tasks adding up 0..999999 over channels.
 *
 * Every task stands for a range of numbers.  A task for a single number
 * sends it to its parent; any other task splits its range in ten, spawns a
 * child for each tenth, adds up the ten sums its children send it and sends
 * the total to its parent.  That is 1,111,111 tasks in all.  The workers
 * come from GREEN_WORKERS, else one per CPU.  (bench/skynet is the
 * benchmark version, with options.)
 *
 * A task that cannot create its channel or spawn a child says so; its
 * parent then waits for ever for a sum that never comes, and green_run()
 * reports the deadlock (every waiting task) and returns -EDEADLK.
 */
#include <green.h>
#include <stdio.h>

#define LEAVES 1000000

struct range {
	green_chan_t *parent; /* where this task sends its sum */
	long first, count;
};

static void *
skynet(void *arg)
{
	/* A copy: *arg is in the parent's frame (the parent waits for us). */
	struct range me = *(struct range *)arg;
	struct range child[10];
	green_chan_t *ch;
	long sum = 0, v;

	if (me.count == 1) {
		green_chan_send(me.parent, &me.first, GREEN_FOREVER);
		return NULL;
	}
	/* Unbuffered: each child waits until we take its sum. */
	if (green_chan_create(&ch, sizeof(long), 0) != 0) {
		fprintf(stderr, "skynet: cannot create a channel\n");
		return NULL;
	}
	for (int i = 0; i < 10; i++) {
		child[i].parent = ch;
		child[i].count = me.count / 10;
		child[i].first = me.first + i * child[i].count;
		/* Detached (NULL handle): the sum tells us it is done. */
		if (green_spawn(NULL, NULL, skynet, &child[i]) != 0)
			fprintf(stderr, "skynet: cannot spawn a task\n");
	}
	for (int i = 0; i < 10; i++) {
		green_chan_recv(ch, &v, GREEN_FOREVER);
		sum += v;
	}
	green_chan_destroy(ch);
	green_chan_send(me.parent, &sum, GREEN_FOREVER);
	return NULL;
}

static void
start(void *arg)
{
	long *sum = arg;
	struct range root = { .first = 0, .count = LEAVES };
	green_chan_t *ch;
	int64_t t0;

	if (green_chan_create(&ch, sizeof(long), 0) != 0)
		return;
	root.parent = ch;
	t0 = green_now();
	green_spawn(NULL, NULL, skynet, &root);
	green_chan_recv(ch, sum, GREEN_FOREVER);
	printf("skynet: sum %ld in %.1f ms\n", *sum,
	       (double)(green_now() - t0) / 1e6);
	green_chan_destroy(ch);
}

int
main(void)
{
	long sum = -1;
	int err = green_run(start, &sum, NULL);

	if (err != 0) {
		fprintf(stderr, "skynet: %s\n", green_strerror(err));
		return 1;
	}
	/* 0 + 1 + ... + (LEAVES - 1) */
	if (sum != (long)LEAVES * (LEAVES - 1) / 2) {
		fprintf(stderr, "skynet: wrong sum\n");
		return 1;
	}
	return 0;
}
