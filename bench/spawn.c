/*
 * spawn.c - W2: the cost of a task's whole life.
 *
 * The main task spawns N trivial tasks (each returns its argument), keeping
 * their handles in an array, then joins them in spawn order and checks each
 * result.  Spawning them all before the first join makes the runtime hold N
 * tasks at once, as the Go peer (bench/peers/spawn: goroutines and a
 * sync.WaitGroup) does.  Reports elapsed / N as "spawn_join_ns".
 */
#include "bench.h"

static void *
trivial(void *arg)
{
	return arg;
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;
	green_task_t **tasks;

	/*
	 * Allocated once, outside the timed region, and touched first so its
	 * page faults are not charged to the runtime either.
	 */
	if ((unsigned long)o->n > SIZE_MAX / sizeof(*tasks))
		bench_fail(o, "-n %ld: too many tasks", o->n);
	tasks = malloc((size_t)o->n * sizeof(*tasks));
	if (tasks == NULL)
		bench_fail(o, "cannot allocate %ld task handles", o->n);
	memset(tasks, 0, (size_t)o->n * sizeof(*tasks));

	for (unsigned r = 1; r <= o->rounds; r++) {
		int64_t t0, t1;
		double ns;

		t0 = bench_now();
		for (long i = 0; i < o->n; i++)
			bench_check(o,
				    green_spawn(&tasks[i], NULL, trivial,
						(void *)(intptr_t)i),
				    "green_spawn");
		for (long i = 0; i < o->n; i++) {
			void *res;

			bench_check(o, green_join(tasks[i], &res,
						  GREEN_FOREVER),
				    "green_join");
			if ((intptr_t)res != i)
				bench_fail(o, "task %ld returned %ld", i,
					   (long)(intptr_t)res);
		}
		t1 = bench_now();

		ns = (double)(t1 - t0) / (double)o->n;
		bench_result("spawn_join_ns", ns, "ns/task");
		printf("spawn: round %u/%u, %u worker(s), %ld tasks spawned "
		       "then joined: %.1f ms, %.1f ns/task\n",
		       r, o->rounds, o->workers, o->n, (t1 - t0) / 1e6, ns);
		fflush(stdout);
	}
	free(tasks);
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	bench_parse(&o, argc, argv, 1000000, "tasks (default 1000000)");
	bench_run(&o, bench_main);
	return 0;
}
