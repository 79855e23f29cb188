/*
 * yield.c - W1: the cost of a context switch.
 *
 * Two tasks each call green_yield() N times while the main task waits in
 * green_join(); on one worker every yield hands the worker to the other
 * task, so a round makes 2N switches.  Reports elapsed / (2N) as
 * "switch_ns".  The Go peer is bench/peers/yield (runtime.Gosched()).
 */
#include "bench.h"

static void *
yielder(void *arg)
{
	long n = *(const long *)arg;

	for (long i = 0; i < n; i++)
		green_yield();
	return NULL;
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;

	for (unsigned r = 1; r <= o->rounds; r++) {
		green_task_t *a, *b;
		int64_t t0, t1;
		double ns;

		/*
		 * Spawning and joining the two tasks is inside the timed
		 * region; at 2N = 10^7 switches it is lost in the noise.
		 */
		t0 = bench_now();
		bench_check(o, green_spawn(&a, NULL, yielder, &o->n),
			    "green_spawn");
		bench_check(o, green_spawn(&b, NULL, yielder, &o->n),
			    "green_spawn");
		bench_check(o, green_join(a, NULL, GREEN_FOREVER),
			    "green_join");
		bench_check(o, green_join(b, NULL, GREEN_FOREVER),
			    "green_join");
		t1 = bench_now();

		ns = (double)(t1 - t0) / (2.0 * (double)o->n);
		bench_result("switch_ns", ns, "ns");
		printf("yield: round %u/%u, %u worker(s), 2 tasks x %ld "
		       "yields: %.1f ms, %.2f ns/switch\n",
		       r, o->rounds, o->workers, o->n, (t1 - t0) / 1e6, ns);
		fflush(stdout);
	}
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	bench_parse(&o, argc, argv, 5000000,
		    "yields per task (default 5000000)");
	bench_run(&o, bench_main);
	return 0;
}
