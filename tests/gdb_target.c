/*
 * gdb_target.c - the program tests/gdb.sh debugs with the libgreen gdb
 * extension (tools/gdb/libgreen-gdb.py).
 *
 * Two workers run three named tasks that all park, each in its own way:
 *   "sleeper"  green_sleep(-1) at the bottom of parked_leaf <- parked_middle
 *              <- sleeper_entry, parked_middle on a segment of its own;
 *   "joiner"   green_join of the sleeper;
 *   "receiver" green_chan_recv on a channel that nobody sends to.
 *
 * Once the three have announced themselves and had time to park, main
 * prints "READY pid=PID sleeper=ID joiner=ID receiver=ID" and then, by
 * argument:
 *   (none)   waits to be attached (sleeps; the test kills it);
 *   abort    calls abort(), for a core dump or a run under gdb.
 * It gives up after 120 s in any case, so a lost test cannot leave it
 * behind for long.
 */
#include <green.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

static atomic_int announced;
static green_chan_t *silent; /* nobody ever sends on it */
static green_task_t *sleeper;
static volatile int depth_sink;

static void
announce(void)
{
	atomic_fetch_add(&announced, 1);
}

NOINLINE static int
parked_leaf(int depth)
{
	int r;

	announce();
	r = green_sleep(-1); /* forever: only a cancel ends it */
	depth_sink = depth;  /* work after the call: no tail call */
	return r;
}

/* Its frame is bigger than a first segment: with segmented stacks it runs
 * on a segment of its own, so the sleeper's backtrace crosses from one
 * segment to the stack before (through libgreen's __morestack). */
NOINLINE static int
parked_middle(int depth)
{
	volatile char big[8192];
	int r;

	big[0] = (char)depth;
	r = parked_leaf(depth + 1);
	depth_sink = depth + big[0];
	return r;
}

static void *
sleeper_entry(void *arg)
{
	(void)arg;
	parked_middle(1);
	return NULL;
}

static void *
joiner_entry(void *arg)
{
	green_task_t *t = arg;

	announce();
	green_join(t, NULL, -1);
	return NULL;
}

static void *
receiver_entry(void *arg)
{
	int v;

	(void)arg;
	announce();
	green_chan_recv(silent, &v, -1);
	return NULL;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void
spawn(green_task_t **t, const char *name, void *(*fn)(void *), void *arg)
{
	green_attr_t attr;
	int err;

	memset(&attr, 0, sizeof(attr));
	attr.name = name;
	if ((err = green_spawn(t, &attr, fn, arg)) != 0) {
		fprintf(stderr, "gdb_target: spawn %s: %s\n", name,
			green_strerror(err));
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	green_config_t cfg;
	green_task_t *joiner, *receiver;
	int err, i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = 2;
	if ((err = green_init(&cfg)) != 0) {
		fprintf(stderr, "gdb_target: green_init: %s\n",
			green_strerror(err));
		return 2;
	}
	if ((err = green_chan_create(&silent, sizeof(int), 0)) != 0) {
		fprintf(stderr, "gdb_target: green_chan_create: %s\n",
			green_strerror(err));
		return 2;
	}
	spawn(&sleeper, "sleeper", sleeper_entry, NULL);
	spawn(&joiner, "joiner", joiner_entry, sleeper);
	spawn(&receiver, "receiver", receiver_entry, NULL);
	for (i = 0; atomic_load(&announced) < 3; i++) {
		if (i == 10000) { /* 10 s */
			fprintf(stderr, "gdb_target: tasks did not start\n");
			return 2;
		}
		sleep_ms(1);
	}
	/* Each task announced itself just before its parking call; a park
	 * takes microseconds.  Leave ample time for the switches. */
	sleep_ms(300);
	printf("READY pid=%ld sleeper=%llu joiner=%llu receiver=%llu\n",
	       (long)getpid(), (unsigned long long)green_task_id(sleeper),
	       (unsigned long long)green_task_id(joiner),
	       (unsigned long long)green_task_id(receiver));
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "abort") == 0)
		abort();
	for (i = 0; i < 1200; i++)
		sleep_ms(100);
	return 1;
}
