/*
 * pkgconfig_target.c - a user's program, built by tests/pkgconfig.sh with
 * nothing but the flags of libgreen.pc.  It parks 40,000 tasks at once:
 * with fixed stacks (two memory mappings each, vm.max_map_count = 65530)
 * the runtime could not give them all a stack and would abort, so exit
 * status 0 shows the tasks got segmented stacks.
 */
#include <errno.h>
#include <green.h>
#include <stdint.h>
#include <stdio.h>

#define TASKS 40000

static green_chan_t *ch;
static green_wg_t started = GREEN_WG_INITIALIZER;

static void *
wait_for_close(void *arg)
{
	int64_t v;

	(void)arg;
	green_wg_done(&started);
	return (void *)(intptr_t)(green_chan_recv(ch, &v, -1) == -EPIPE);
}

static void
start(void *arg)
{
	static green_task_t *t[TASKS];
	int *status = arg, err;
	long ok = 0;

	if ((err = green_chan_create(&ch, sizeof(int64_t), 0)) != 0 ||
	    (err = green_wg_add(&started, TASKS)) != 0)
		goto fail;
	for (int i = 0; i < TASKS; i++)
		if ((err = green_spawn(&t[i], NULL, wait_for_close, NULL)) != 0)
			goto fail;
	if ((err = green_wg_wait(&started, -1)) != 0 ||
	    (err = green_chan_close(ch)) != 0)
		goto fail;
	for (int i = 0; i < TASKS; i++) {
		void *r;
		if ((err = green_join(t[i], &r, -1)) != 0)
			goto fail;
		ok += r != NULL;
	}
	*status = ok == TASKS ? 0 : 1;
	return;
fail:
	fprintf(stderr, "pkgconfig_target: %s\n", green_strerror(err));
	*status = 1;
}

int
main(void)
{
	int status = 1;
	int err = green_run(start, &status, NULL);

	if (err != 0)
		fprintf(stderr, "pkgconfig_target: green_run: %s\n",
			green_strerror(err));
	return err != 0 ? 1 : status;
}
