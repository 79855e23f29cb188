/*
 * bench.h - helpers shared by the benchmark programs in bench/.
 *
 * Every program takes the same options:
 *   -w N       workers (green_config_t.workers), default 1; 0 lets the
 *              runtime choose (GREEN_WORKERS, else one per CPU)
 *   -r ROUNDS  repeat the measurement ROUNDS times in one runtime, default 1
 *   -n N       the workload's size (iterations, tasks, fib argument)
 * and prints, for every round, machine-readable lines
 *   RESULT <name> <value> <unit>
 * followed by one line for humans.  bench/run reads the RESULT lines; the
 * Go peers in bench/peers print the same names.
 */
#ifndef GREEN_BENCH_H
#define GREEN_BENCH_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "green.h"

struct bench_opts {
	const char *prog;	/* argv[0], for messages */
	unsigned workers;	/* -w: passed to green_run() */
	unsigned rounds;	/* -r: measurements printed */
	long n;			/* -n: workload size */
};

/*
 * Read the clock directly rather than through green_now(): the timing must
 * not depend on the library under test, and the vDSO call costs the same.
 */
static inline int64_t
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * A failed benchmark must not print a plausible number, so every error ends
 * the process.  _exit() rather than exit(): this may run on a worker while
 * other workers run tasks, and atexit handlers or a library destructor
 * racing with them could hang instead of failing.
 */
static inline void __attribute__((noreturn, format(printf, 2, 3)))
bench_fail(const struct bench_opts *o, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", o->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

/* Ends the process when err (a libgreen return value) is an error. */
static inline void
bench_check(const struct bench_opts *o, int err, const char *call)
{
	if (err < 0)
		bench_fail(o, "%s: %s", call, green_strerror(err));
}

/*
 * Hide a value from the optimiser, so that a computation whose inputs are
 * known at compile time, or whose result is unused, is neither folded nor
 * moved out of the timed region (the usual "do not optimise" barrier).
 */
#define bench_opaque(v) __asm__ volatile("" : "+r"(v) : : "memory")

static inline void __attribute__((noreturn))
bench_usage(const struct bench_opts *o, const char *n_help, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-w WORKERS] [-r ROUNDS] [-n N]\n"
		"  -w WORKERS  worker threads (default 1; 0: the runtime's "
		"default)\n"
		"  -r ROUNDS   repeat the measurement, one result per round "
		"(default 1)\n"
		"  -n N        %s\n",
		o->prog, n_help);
	exit(status);
}

/* Parses a decimal option value in [min, max]; fails on anything else. */
static inline long
bench_number(const struct bench_opts *o, int opt, const char *s, long min,
	     long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		bench_fail(o, "-%c: expected a number in %ld..%ld, got '%s'",
			   opt, min, max, s);
	return v;
}

/*
 * Fills o from argv.  default_n is the workload's standard size, n_help
 * describes -n in the usage text.
 */
static inline void
bench_parse(struct bench_opts *o, int argc, char **argv, long default_n,
	    const char *n_help)
{
	int c;

	o->prog = argc > 0 ? argv[0] : "bench";
	o->workers = 1;
	o->rounds = 1;
	o->n = default_n;
	while ((c = getopt(argc, argv, "w:r:n:h")) != -1) {
		switch (c) {
		case 'w':
			/* 1024 is green_init()'s own limit. */
			o->workers = (unsigned)bench_number(o, c, optarg, 0,
							    1024);
			break;
		case 'r':
			o->rounds = (unsigned)bench_number(o, c, optarg, 1,
							   INT_MAX);
			break;
		case 'n':
			o->n = bench_number(o, c, optarg, 1, LONG_MAX);
			break;
		case 'h':
			bench_usage(o, n_help, 0);
		default:
			bench_usage(o, n_help, 2);
		}
	}
	if (optind != argc)
		bench_usage(o, n_help, 2);
}

/*
 * Prints one machine-readable result.  Flushed at once so that a round's
 * numbers survive a later round's failure, and a reader of a pipe sees them.
 */
static inline void
bench_result(const char *name, double value, const char *unit)
{
	printf("RESULT %s %.3f %s\n", name, value, unit);
	fflush(stdout);
}

/* Runs fn(o) as the main task on o->workers workers. */
static inline void
bench_run(struct bench_opts *o, void (*fn)(void *))
{
	green_config_t cfg = { .workers = o->workers };

	bench_check(o, green_run(fn, o, &cfg), "green_run");
}

#endif /* GREEN_BENCH_H */
