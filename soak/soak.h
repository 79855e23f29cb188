/*
 * soak.h - what the soak programs in soak/ share: options, the clock, the
 * resident set, a seeded generator, and the verdict.
 *
 * A soak program runs one long, checked workload (make soak; never make
 * check) and ends with a summary: lines "SOAK <name> <value>" that a
 * script can read, then "soak <program>: PASS" or "FAIL: <why>"; its exit
 * status is 0 only on PASS.  Task code is written as users write it: libc
 * called directly, errors reported with fprintf.
 */
#ifndef GREEN_SOAK_H
#define GREEN_SOAK_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "green.h"

struct soak_opts {
	const char *prog;
	unsigned workers; /* -w */
	long n;		  /* -n: the workload's size */
	long seconds;	  /* -t: how long, for the timed workloads */
	uint64_t seed;	  /* -s */
};

static inline void
soak_usage(const struct soak_opts *o, const char *what_n)
{
	fprintf(stderr,
		"usage: %s [-w WORKERS] [-n N] [-t SECONDS] [-s SEED]\n"
		"  -n  %s (default %ld)\n"
		"  -t  seconds to run, for a timed workload (default %ld)\n",
		o->prog, what_n, o->n, o->seconds);
	exit(2);
}

/* Parse argv into o, whose fields hold the program's defaults. */
static inline void
soak_parse(struct soak_opts *o, int argc, char **argv, const char *what_n)
{
	int opt;

	o->prog = argv[0];
	while ((opt = getopt(argc, argv, "w:n:t:s:")) != -1) {
		char *end;
		long v = strtol(optarg, &end, 0);

		if (*end != '\0' || v < 0)
			soak_usage(o, what_n);
		if (opt == 'w')
			o->workers = (unsigned)v;
		else if (opt == 'n')
			o->n = v;
		else if (opt == 't')
			o->seconds = v;
		else if (opt == 's')
			o->seed = (uint64_t)v;
		else
			soak_usage(o, what_n);
	}
}

/* Resident set of process pid (0: this one) in KiB, from /proc; -1 when
 * it cannot be read. */
static inline long
soak_rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Growth of the resident set from before to after, in percent. */
static inline double
soak_growth(long before, long after)
{
	return before > 0 ? 100.0 * (double)(after - before) / (double)before
			  : 0.0;
}

/* xorshift64*: a seeded generator for the workloads' random choices. */
static inline uint64_t
soak_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* A nonzero generator state from a seed and a stream number. */
static inline uint64_t
soak_seed(uint64_t seed, uint64_t stream)
{
	uint64_t s = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ (stream + 1);

	for (int i = 0; i < 4; i++)
		soak_rand(&s);
	return s != 0 ? s : 1;
}

/* One summary line. */
static inline void
soak_report(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("SOAK %-28s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* The verdict line: PASS when why is NULL, else FAIL and why.  Returns
 * the exit status. */
static inline int
soak_verdict(const struct soak_opts *o, const char *why)
{
	const char *name = strrchr(o->prog, '/');

	name = name != NULL ? name + 1 : o->prog;
	if (why == NULL) {
		printf("soak %s: PASS\n", name);
		return 0;
	}
	printf("soak %s: FAIL: %s\n", name, why);
	return 1;
}

#endif
