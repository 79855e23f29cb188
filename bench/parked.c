/*
 * parked.c - W6: a million tasks parked at once.
 *
 * The main task spawns N detached tasks (default 10^6) that each block in
 * green_chan_recv() on one shared unbuffered channel, on which nothing is
 * ever sent; closing it wakes them all with -EPIPE, their normal exit.  This
 * is what a server holding a million idle connections costs: every task is
 * alive and parked, none is running.  The Go peer is bench/peers/parked.
 *
 * Every round reports:
 *  - "parked_spawn_ns": the time from the first spawn until the wait group
 *    "started" reaches 0, i.e. until every task has run up to its receive,
 *    divided by N.  Each task calls green_wg_done() just before it blocks,
 *    so the time covers spawning, first run and parking of every task.
 *  - "parked_bytes": (VmHWM - VmRSS at the start) / N, from
 *    /proc/self/status: the resident memory one parked task costs, its stack
 *    pages and its bookkeeping included.  VmHWM is the process's resident
 *    high-water mark, so nothing that was touched and released again before
 *    the reading escapes it.
 * The high-water mark is process-wide, so only the first round in a process
 * describes one run: bench/run starts a fresh process with -r 1 for every
 * round.  Later rounds reuse the stacks the first one left in the pools.
 */
#include "bench.h"

/* What one round's tasks share; it lives in bench_main's frame. */
struct round {
	green_chan_t *ch;   /* the channel every task waits on */
	green_wg_t started; /* reaches 0 when every task is about to park */
	green_wg_t ended;   /* reaches 0 when every task has woken and ended */
};

/* Set before the first task runs; tasks need it to report errors. */
static const struct bench_opts *opts;

static void *
parked(void *arg)
{
	struct round *rd = arg;
	int err;

	bench_check(opts, green_wg_done(&rd->started), "green_wg_done");
	/* Nothing is ever sent: only green_chan_close() ends the wait. */
	err = green_chan_recv(rd->ch, NULL, GREEN_FOREVER);
	if (err != -EPIPE)
		bench_fail(opts, "green_chan_recv: %s, expected -EPIPE",
			   err == 0 ? "a value" : green_strerror(err));
	bench_check(opts, green_wg_done(&rd->ended), "green_wg_done");
	return NULL;
}

/*
 * The value of the "Vm...:" line key (with its colon) of /proc/self/status,
 * in bytes.  stdio rather than getrusage(2): ru_maxrss has the high-water
 * mark only, and the baseline must be the current resident set.
 */
static long
proc_status_bytes(const struct bench_opts *o, const char *key)
{
	size_t len = strlen(key);
	char line[256];
	long kib = -1;
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (f == NULL)
		bench_fail(o, "/proc/self/status: %s", strerror(errno));
	while (kib < 0 && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, len) == 0 &&
		    sscanf(line + len, "%ld kB", &kib) != 1)
			bench_fail(o, "/proc/self/status: cannot parse '%s'",
				   key);
	}
	fclose(f);
	if (kib < 0)
		bench_fail(o, "/proc/self/status has no '%s' line", key);
	return kib * 1024;
}

/* Spawns the round's n tasks and waits until all of them are parking. */
static void
spawn_all(const struct bench_opts *o, struct round *rd)
{
	/* Counted before the spawns: a task may run, and finish, at once. */
	bench_check(o, green_wg_add(&rd->started, o->n), "green_wg_add");
	bench_check(o, green_wg_add(&rd->ended, o->n), "green_wg_add");
	for (long i = 0; i < o->n; i++)
		/* Detached: the wait groups, not joins, track the tasks. */
		bench_check(o, green_spawn(NULL, NULL, parked, rd),
			    "green_spawn");
	/*
	 * With several workers the last task may still be between its
	 * green_wg_done() and its park when this returns; its stack and struct
	 * are resident already, which is what the reading after this counts.
	 */
	bench_check(o, green_wg_wait(&rd->started, GREEN_FOREVER),
		    "green_wg_wait");
}

/* Wakes every task of the round and waits until all have ended. */
static void
wake_all(const struct bench_opts *o, struct round *rd)
{
	bench_check(o, green_chan_close(rd->ch), "green_chan_close");
	bench_check(o, green_wg_wait(&rd->ended, GREEN_FOREVER),
		    "green_wg_wait");
	/* No task uses the channel any more: each has returned from recv. */
	bench_check(o, green_chan_destroy(rd->ch), "green_chan_destroy");
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;

	for (unsigned r = 1; r <= o->rounds; r++) {
		struct round rd;
		long base, peak;
		int64_t t0, t1;
		double ns, bytes;

		bench_check(o, green_chan_create(&rd.ch, 0, 0),
			    "green_chan_create");
		bench_check(o, green_wg_init(&rd.started), "green_wg_init");
		bench_check(o, green_wg_init(&rd.ended), "green_wg_init");
		/*
		 * Read after the channel exists, and while this read's own
		 * FILE is open: only the tasks lie between it and the peak.
		 */
		base = proc_status_bytes(o, "VmRSS:");
		t0 = bench_now();
		spawn_all(o, &rd);
		t1 = bench_now();
		peak = proc_status_bytes(o, "VmHWM:");
		wake_all(o, &rd);

		ns = (double)(t1 - t0) / (double)o->n;
		bytes = (double)(peak - base) / (double)o->n;
		bench_result("parked_spawn_ns", ns, "ns/task");
		bench_result("parked_bytes", bytes, "B/task");
		printf("parked: round %u/%u, %u worker(s), %ld tasks parked: "
		       "%.1f ms, %.1f ns/task; RSS %.1f -> peak %.1f MiB, "
		       "%.0f B/task\n",
		       r, o->rounds, o->workers, o->n, (t1 - t0) / 1e6, ns,
		       base / 1048576.0, peak / 1048576.0, bytes);
		fflush(stdout);
	}
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	bench_parse(&o, argc, argv, 1000000,
		    "tasks parked at once (default 1000000)");
	opts = &o;
	bench_run(&o, bench_main);
	return 0;
}
