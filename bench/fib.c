/*
 * fib.c - W5: fork-join fib(32).
 *
 * fib(n) above the cutoff spawns a task for fib(n-1), computes fib(n-2)
 * itself and joins; at n <= CUTOFF it runs the plain recursive fib.  Each
 * round first times that plain fib(n) alone ("fib_serial_ms", the C limit
 * the target is relative to), then the fork-join one ("fib_ms"), in the
 * same process on the same worker so that both see the same clock speed.
 * The Go peer is bench/peers/fib.
 *
 * -o runs the fork-join part as fib_task_oc(), the ordinary-C variant
 * (bench.h); the serial fib is the same in both.  Its results are
 * "fib_serial_ms_oc" and "fib_ms_oc".
 */
#define BENCH_ORDINARY
#include "bench.h"

#define CUTOFF 20

/* The answer to check against, computed without recursion or tasks. */
static long
fib_iter(long n)
{
	long a = 0, b = 1;

	for (long i = 0; i < n; i++) {
		long t = a + b;

		a = b;
		b = t;
	}
	return a;
}

static long
fib_serial(long n)
{
	if (n < 2)
		return n;
	return fib_serial(n - 1) + fib_serial(n - 2);
}

/* A task's result travels as its void * return value. */
static void *fib_task(void *arg);

/* Set before the first task runs; fib_par() needs it to report errors. */
static const struct bench_opts *opts;

static long
fib_par(long n)
{
	green_task_t *t;
	void *res;
	long b;

	if (n <= CUTOFF)
		return fib_serial(n);
	bench_check(opts,
		    green_spawn(&t, NULL, fib_task, (void *)(intptr_t)(n - 1)),
		    "green_spawn");
	b = fib_par(n - 2);
	bench_check(opts, green_join(t, &res, GREEN_FOREVER), "green_join");
	return (long)(intptr_t)res + b;
}

static void *
fib_task(void *arg)
{
	return (void *)(intptr_t)fib_par((long)(intptr_t)arg);
}

/*
 * fib_task() and fib_par() in one, as a C programmer writes them: the task
 * function is the recursion, it calls libc from its own body (so gold
 * rewrites its prologue: every task starts on a new segment, and so does
 * every recursive call that finds less than 1 MiB left on it) and reports
 * errors where they happen.  Every call that forks formats its name, keeps
 * a heap copy as the label of its error messages and frees it when it has
 * joined; the label's only reader is the error paths, which is what keeps
 * the compiler from dropping the copy, and it changes no result.  The tasks
 * are those of fib_par(): fib(n-1) in a new task, fib(n-2) in this one.
 */
static void *
fib_task_oc(void *arg)
{
	long n = (long)(intptr_t)arg;
	green_task_t *t;
	char name[32];
	char *label;
	void *res;
	long b;
	int len, err;

	if (n <= CUTOFF)
		return (void *)(intptr_t)fib_serial(n);
	len = snprintf(name, sizeof(name), "fib-%ld", n);
	label = bench_oc_label("fib", name, sizeof(name), len);

	err = green_spawn(&t, NULL, fib_task_oc, (void *)(intptr_t)(n - 1));
	if (err < 0) {
		fprintf(stderr, "%s: green_spawn: %s\n", label,
			green_strerror(err));
		exit(1);
	}
	b = (long)(intptr_t)fib_task_oc((void *)(intptr_t)(n - 2));
	err = green_join(t, &res, GREEN_FOREVER);
	if (err < 0) {
		fprintf(stderr, "%s: green_join: %s\n", label,
			green_strerror(err));
		exit(1);
	}
	free(label);
	return (void *)((intptr_t)res + b);
}

/* The fork-join fib(n) of the variant -o chose, in the calling task. */
static long
fib_fork_join(const struct bench_opts *o, long n)
{
	if (o->ordinary)
		return (long)(intptr_t)fib_task_oc((void *)(intptr_t)n);
	return fib_par(n);
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;
	long want = fib_iter(o->n);

	for (unsigned r = 1; r <= o->rounds; r++) {
		int64_t t0, t1, t2;
		long n = o->n, serial, par;

		/* n is opaque so neither call can be folded or hoisted. */
		t0 = bench_now();
		bench_opaque(n);
		serial = fib_serial(n);
		bench_opaque(serial);
		t1 = bench_now();
		bench_opaque(n);
		par = fib_fork_join(o, n);
		bench_opaque(par);
		t2 = bench_now();

		if (serial != want || par != want)
			bench_fail(o, "fib(%ld): serial %ld, fork-join %ld, "
				   "expected %ld", o->n, serial, par, want);
		bench_report(o, "fib_serial_ms", (t1 - t0) / 1e6, "ms");
		bench_report(o, "fib_ms", (t2 - t1) / 1e6, "ms");
		printf("fib%s: round %u/%u, %u worker(s), fib(%ld) = %ld: "
		       "serial %.2f ms, fork-join %.2f ms (%.2fx serial)\n",
		       bench_variant(o), r, o->rounds, o->workers, o->n, par,
		       (t1 - t0) / 1e6,
		       (t2 - t1) / 1e6, (double)(t2 - t1) / (double)(t1 - t0));
		fflush(stdout);
	}
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	/* fib(92) is the last that fits in a 64-bit long. */
	bench_parse(&o, argc, argv, 32, "fib argument (default 32)");
	if (o.n > 92)
		bench_fail(&o, "-n: fib(%ld) overflows a long", o.n);
	opts = &o;
	bench_run(&o, bench_main);
	return 0;
}
