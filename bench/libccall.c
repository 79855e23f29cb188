/*
 * libccall.c - what a call into code without a stack check costs a task on
 * a segmented stack, against the same call on a fixed stack (the C limit).
 *
 * A task on its 2 KiB first segment has too little room for libc: each call
 * to one of libgreen's libc entry points, and each call through a function
 * pointer into code built without -fsplit-stack, runs the callee on a
 * pooled segment for its length (doc/DECISIONS.md, "Stacks").  This
 * program times, per call, in one task on a segmented stack and in one on
 * a fixed stack, in the same run:
 *   - malloc(64) + free, called directly;
 *   - snprintf of a number, called directly;
 *   - strlen (run in place: it needs little stack);
 *   - a call through a function pointer to strtol, which is one of the
 *     entry points (the thunk jumps to it, and it hops);
 *   - a call through a function pointer to getpid, which is not (a hop);
 * and prints "RESULT <what>_seg_ns", "<what>_fixed_ns" and the ratio.  The
 * task functions call libc directly, as users write them.
 */
#include <sys/types.h>

#include "bench.h"

#define CALLS(n, body)                                                         \
	do {                                                                   \
		for (long i_ = 0; i_ < (n); i_++) {                            \
			body;                                                  \
		}                                                              \
	} while (0)

struct timing {
	long n;
	double malloc_ns, snprintf_ns, strlen_ns, strtol_ns, getpid_ns;
};

/* Reached only through pointers: the compiler cannot see the target. */
static long (*volatile strtol_ptr)(const char *, char **, int) = strtol;
static pid_t (*volatile getpid_ptr)(void) = getpid;

static double
per_call(int64_t t0, long n)
{
	return (double)(green_now() - t0) / (double)n;
}

/* The timed loops, in ordinary C. */
static void *
calls(void *arg)
{
	struct timing *t = arg;
	char name[32] = "12345";
	long n = t->n, sink = 0;
	int64_t t0;

	t0 = green_now();
	CALLS(n, {
		void *p = malloc(64);
		if (p == NULL) {
			fprintf(stderr, "libccall: out of memory\n");
			exit(1);
		}
		bench_opaque(p);
		free(p);
	});
	t->malloc_ns = per_call(t0, n);
	t0 = green_now();
	CALLS(n, {
		snprintf(name, sizeof(name), "%ld", i_);
		bench_opaque(name[0]);
	});
	t->snprintf_ns = per_call(t0, n);
	t0 = green_now();
	CALLS(n, {
		sink += (long)strlen(name);
		bench_opaque(sink);
	});
	t->strlen_ns = per_call(t0, n);
	t0 = green_now();
	CALLS(n, {
		sink += strtol_ptr(name, NULL, 10);
		bench_opaque(sink);
	});
	t->strtol_ns = per_call(t0, n);
	t0 = green_now();
	CALLS(n, {
		sink += getpid_ptr();
		bench_opaque(sink);
	});
	t->getpid_ns = per_call(t0, n);
	return (void *)sink;
}

static void
run_kind(const struct bench_opts *o, int kind, struct timing *t)
{
	green_attr_t attr = { .stack_kind = kind };
	green_task_t *task;

	t->n = o->n;
	bench_check(o, green_spawn(&task, &attr, calls, t), "green_spawn");
	bench_check(o, green_join(task, NULL, GREEN_FOREVER), "green_join");
}

static void
report(const char *what, double seg, double fixed)
{
	printf("RESULT %s_seg_ns %.2f ns\n", what, seg);
	printf("RESULT %s_fixed_ns %.2f ns\n", what, fixed);
	printf("  %-8s segmented %7.2f ns  fixed %7.2f ns  ratio %.2f\n", what,
	       seg, fixed, seg / fixed);
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;

	for (unsigned r = 1; r <= o->rounds; r++) {
		struct timing seg, fixed;

		/* alternate which goes first: neither always runs cold */
		if (r % 2) {
			run_kind(o, GREEN_STACK_SEGMENTED, &seg);
			run_kind(o, GREEN_STACK_FIXED, &fixed);
		} else {
			run_kind(o, GREEN_STACK_FIXED, &fixed);
			run_kind(o, GREEN_STACK_SEGMENTED, &seg);
		}
		report("malloc", seg.malloc_ns, fixed.malloc_ns);
		report("snprintf", seg.snprintf_ns, fixed.snprintf_ns);
		report("strlen", seg.strlen_ns, fixed.strlen_ns);
		report("strtol_ptr", seg.strtol_ns, fixed.strtol_ns);
		report("getpid_ptr", seg.getpid_ns, fixed.getpid_ns);
	}
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	bench_parse(&o, argc, argv, 2000000,
		    "calls of each kind per round (default 2000000)");
	bench_run(&o, bench_main);
	return 0;
}
