/*
 * spawn.c - W2: the cost of a task's whole life.
 *
 * The main task spawns N trivial tasks (each returns its argument), keeping
 * their handles in an array, then joins them in spawn order and checks each
 * result.  Spawning them all before the first join makes the runtime hold N
 * tasks at once, as the Go peer (bench/peers/spawn: goroutines and a
 * sync.WaitGroup) does.  Reports elapsed / N as "spawn_join_ns".
 *
 * -o spawns trivial_oc() instead, the ordinary-C variant (bench.h); its
 * result is "spawn_join_ns_oc".
 */
#define BENCH_ORDINARY
#include "bench.h"

static void *
trivial(void *arg)
{
	return arg;
}

/*
 * trivial() as a C programmer writes a task that names itself: libc called
 * from its own body (so gold rewrites its prologue, and it starts on a new
 * segment), errors reported where they happen.  It formats its name, keeps
 * a heap copy as its label and frees it; checking the copy's length
 * against snprintf's count, with the label in the message, is what keeps
 * the compiler from dropping the copy.  It returns its argument, as
 * trivial() does, for the same check in bench_main().
 */
static void *
trivial_oc(void *arg)
{
	char name[32];
	char *label;
	int len;

	len = snprintf(name, sizeof(name), "spawn-%ld", (long)(intptr_t)arg);
	if (len < 0 || (size_t)len >= sizeof(name)) {
		fprintf(stderr, "spawn: task name '%s' truncated\n", name);
		exit(1);
	}
	label = malloc(64);
	if (label == NULL) {
		fprintf(stderr, "%s: out of memory\n", name);
		exit(1);
	}
	memcpy(label, name, strlen(name) + 1);
	if (strlen(label) != (size_t)len) {
		fprintf(stderr, "%s: name copied wrong\n", label);
		exit(1);
	}
	free(label);
	return arg;
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;
	void *(*task)(void *) = o->ordinary ? trivial_oc : trivial;
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
				    green_spawn(&tasks[i], NULL, task,
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
		bench_report(o, "spawn_join_ns", ns, "ns/task");
		printf("spawn%s: round %u/%u, %u worker(s), %ld tasks spawned "
		       "then joined: %.1f ms, %.1f ns/task\n",
		       bench_variant(o), r, o->rounds, o->workers, o->n,
		       (t1 - t0) / 1e6, ns);
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
