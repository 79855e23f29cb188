/*
 * bench.h - helpers shared by the benchmark programs in bench/.
 *
 * Every program takes the same options:
 *   -w N       workers (green_config_t.workers), default 1; 0 lets the
 *              runtime choose (GREEN_WORKERS, else one per CPU)
 *   -r ROUNDS  repeat the measurement ROUNDS times in one runtime, default 1
 *   -n N       the workload's size (iterations, tasks, fib argument)
 *   -o         run the ordinary-C variant of the task functions (only the
 *              programs that define BENCH_ORDINARY before including this
 *              file have one; see below)
 *   -d         run the detached variant: tasks spawned detached (no handle)
 *              and waited for with a wait group, Go's go + sync.WaitGroup
 *              idiom (only the programs that define BENCH_DETACHED before
 *              including this file have one; their top comment says what it
 *              does and the name of its results)
 *   -g         run the group variant: tasks spawned into a task group
 *              (green_group_create(3)) and waited for with it (only the
 *              programs that define BENCH_GROUP; their top comment says
 *              what it measures)
 * and prints, for every round, machine-readable lines
 *   RESULT <name> <value> <unit>
 * followed by one line for humans.  bench/run reads the RESULT lines; the
 * Go peers in bench/peers print the same names.
 *
 * The task functions of the benchmarks are written "helper style": libc is
 * only called from the harness, from bench_fail() (bench_check()'s error
 * path; a varargs function, so it stays out of line) and from libgreen's
 * nosplit wrappers, so a task function keeps gcc's small split-stack
 * prologue.  Real programs call
 * fprintf, snprintf, malloc and memcpy from their task functions, and gold
 * rewrites the prologue of a function that calls non-split code so that it
 * demands far more free stack than its frame: "stc", which sends a small
 * frame to __morestack_non_split, or for a large frame a limit lowered by
 * --split-stack-adjust-size.  Such a task splits onto a new segment as it
 * starts.  The ordinary-C variant (-o) measures that: the same tasks,
 * channels and checks, with task functions that call libc directly as a C
 * programmer writes them.  Its results carry the suffix "_oc"
 * (bench_report()), so bench/run files both variants side by side.
 */
#ifndef GREEN_BENCH_H
#define GREEN_BENCH_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
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
	bool ordinary;		/* -o: the ordinary-C task functions */
	bool detached;		/* -d: the detached variant */
	bool group;		/* -g: the group variant */
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

/*
 * A program with an ordinary-C variant defines BENCH_ORDINARY before it
 * includes this file, one with a detached variant BENCH_DETACHED; the
 * others refuse -o and -d rather than ignore them.
 */
#ifdef BENCH_ORDINARY
#define BENCH_OPT_O "o"
#define BENCH_USAGE_O " [-o]"
#define BENCH_HELP_O                                                       \
	"  -o          ordinary C: task functions that call libc directly "  \
	"(results named *_oc)\n"
#else
#define BENCH_OPT_O ""
#define BENCH_USAGE_O ""
#define BENCH_HELP_O ""
#endif
#ifdef BENCH_DETACHED
#define BENCH_OPT_D "d"
#define BENCH_USAGE_D " [-d]"
#define BENCH_HELP_D                                                       \
	"  -d          detached: tasks spawned without a handle, waited for " \
	"with a wait group\n"
#else
#define BENCH_OPT_D ""
#define BENCH_USAGE_D ""
#define BENCH_HELP_D ""
#endif
#ifdef BENCH_GROUP
#define BENCH_OPT_G "g"
#define BENCH_USAGE_G " [-g]"
#define BENCH_HELP_G                                                       \
	"  -g          group: tasks spawned into a task group, waited for " \
	"with it\n"
#else
#define BENCH_OPT_G ""
#define BENCH_USAGE_G ""
#define BENCH_HELP_G ""
#endif
#define BENCH_OPTSTRING "w:r:n:" BENCH_OPT_O BENCH_OPT_D BENCH_OPT_G "h"

static inline void __attribute__((noreturn))
bench_usage(const struct bench_opts *o, const char *n_help, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-w WORKERS] [-r ROUNDS] [-n N]" BENCH_USAGE_O
		BENCH_USAGE_D BENCH_USAGE_G "\n"
		"  -w WORKERS  worker threads (default 1; 0: the runtime's "
		"default)\n"
		"  -r ROUNDS   repeat the measurement, one result per round "
		"(default 1)\n"
		"  -n N        %s\n" BENCH_HELP_O BENCH_HELP_D BENCH_HELP_G,
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
	o->ordinary = false;
	o->detached = false;
	o->group = false;
	while ((c = getopt(argc, argv, BENCH_OPTSTRING)) != -1) {
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
		case 'o':
			o->ordinary = true;
			break;
		case 'd':
			o->detached = true;
			break;
		case 'g':
			o->group = true;
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

#ifdef BENCH_ORDINARY
/*
 * The per-task work of the ordinary-C variants (-o), after the task has
 * formatted its name (snprintf returned len): check it was not truncated,
 * and keep a heap copy as the label of its error messages (the caller
 * frees it).  always_inline: the libc calls stay in the task function's
 * own body, as in a program that writes them there, so the linker rewrites
 * that function's prologue as it would the program's.
 */
static inline __attribute__((always_inline)) char *
bench_oc_label(const char *prog, const char *name, size_t size, int len)
{
	char *label;

	if (len < 0 || (size_t)len >= size) {
		fprintf(stderr, "%s: task name '%s' truncated\n", prog, name);
		exit(1);
	}
	label = malloc(64);
	if (label == NULL) {
		fprintf(stderr, "%s: out of memory\n", name);
		exit(1);
	}
	memcpy(label, name, strlen(name) + 1);
	return label;
}
#endif

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

/*
 * bench_result() for a program with an ordinary-C variant: under -o the
 * name gets the suffix "_oc", so that bench/run files the variants apart.
 */
static inline void
bench_report(const struct bench_opts *o, const char *name, double value,
	     const char *unit)
{
	char full[64];

	snprintf(full, sizeof(full), "%s%s", name, o->ordinary ? "_oc" : "");
	bench_result(full, value, unit);
}

/* Which variant ran, for the line for humans. */
static inline const char *
bench_variant(const struct bench_opts *o)
{
	return o->ordinary ? " (ordinary C)" : "";
}

/* Runs fn(o) as the main task on o->workers workers. */
static inline void
bench_run(struct bench_opts *o, void (*fn)(void *))
{
	green_config_t cfg = { .workers = o->workers };

	/* -w N means N threads running tasks, as GOMAXPROCS N does for the Go
	 * peers: no spare takes over from a task that holds its worker (a
	 * spawn loop does, for hundreds of ms), unless the caller's
	 * environment asks for it (libgreen(7), "Blocking calls and
	 * hand-off") */
	setenv("GREEN_HANDOFF", "0", 0);

	bench_check(o, green_run(fn, o, &cfg), "green_run");
}

#endif /* GREEN_BENCH_H */
