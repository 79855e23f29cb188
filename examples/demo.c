/*
 * demo: what libgreen does, in one run.  One task spawns a million tasks;
 * the workers steal from each other to share them out; every task records
 * which worker ran it.  Prints the time per task and the split per worker.
 *   usage: demo [tasks]      (GREEN_WORKERS=n picks the worker count)
 */
#include <green.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORKERS 1024

static _Atomic unsigned long ran_on[MAX_WORKERS];

static void *
work(void *arg)
{
	int w = green_worker_id();

	if (w >= 0 && w < MAX_WORKERS)
		ran_on[w]++;
	return arg;
}

struct demo {
	unsigned long n;
	int err;
	int64_t elapsed;
};

static void
run(void *p)
{
	struct demo *d = p;
	green_task_t **t = malloc(d->n * sizeof(*t));
	int64_t start = green_now();

	if (t == NULL) {
		d->err = -12;
		return;
	}
	for (unsigned long i = 0; i < d->n && d->err == 0; i++)
		d->err = green_spawn(&t[i], NULL, work, (void *)i);
	for (unsigned long i = 0; i < d->n && d->err == 0; i++) {
		void *r;
		d->err = green_join(t[i], &r, -1);
		if (d->err == 0 && (unsigned long)r != i)
			d->err = -5;
	}
	d->elapsed = green_now() - start;
	free(t);
}

int
main(int argc, char **argv)
{
	struct demo d = { argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000, 0, 0 };
	unsigned long total = 0;
	int err;

	if (d.n == 0)
		d.n = 1;
	err = green_run(run, &d, NULL);
	if (err == 0)
		err = d.err;
	if (err != 0) {
		fprintf(stderr, "demo: %s\n", green_strerror(err));
		return 1;
	}
	printf("spawned and joined %lu tasks in %.1f ms (%.0f ns per task)\n",
	       d.n, d.elapsed / 1e6, (double)d.elapsed / d.n);
	for (int w = 0; w < MAX_WORKERS; w++) {
		if (ran_on[w] == 0)
			continue;
		printf("  worker %d ran %lu tasks\n", w, ran_on[w]);
		total += ran_on[w];
	}
	printf("  total %lu\n", total);
	return total == d.n ? 0 : 1;
}
