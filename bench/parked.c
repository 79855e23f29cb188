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
 *  - "parked_bytes": ((VmHWM - VmRSS at the start) + (VmPTE while all are
 *    parked - VmPTE at the start)) / N, from /proc/self/status: the memory
 *    one parked task costs, its stack pages, its bookkeeping and the page
 *    tables that map them included.  Page tables are memory the kernel
 *    spends on the process, but VmRSS leaves them out: a task that maps
 *    a segment of its own can cost more in them than in the pages.  VmHWM
 *    is the process's resident high-water mark, so nothing that was touched
 *    and released again before the reading escapes it.
 *  - "parked_pte_bytes": the page tables' share of that, alone.
 *  - "parked_vm_bytes": (VmSize while all are parked - VmSize at the start)
 *    / N, the address space one parked task holds: untouched mappings cost
 *    no memory, but they count against ulimit -v (RLIMIT_AS).
 * The high-water mark is process-wide, so only the first round in a process
 * describes one run: bench/run starts a fresh process with -r 1 for every
 * round.  Later rounds reuse the stacks the first one left in the pools.
 *
 * -o spawns parked_oc() instead, the ordinary-C variant (bench.h); its
 * results carry the suffix "_oc".
 */
#define BENCH_ORDINARY
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
 * parked() as a C programmer writes a task that waits for work: libc
 * called from its own body (so gold rewrites its prologue, and it starts on
 * a new segment, which it still stands on when it parks), errors reported
 * where they happen.  It formats its name from its task id, keeps a heap
 * copy (64 bytes) as the label of its error messages while it waits, and
 * frees it as it ends; the label's only reader is the error paths, which is
 * what keeps the compiler from dropping the copy.  So a parked task holds
 * what such a task holds: its stack as the split left it, and its label.
 */
static void *
parked_oc(void *arg)
{
	struct round *rd = arg;
	char name[32];
	char *label;
	int len, err;

	len = snprintf(name, sizeof(name), "parked-%llu",
		       (unsigned long long)green_task_id(green_self()));
	label = bench_oc_label("parked", name, sizeof(name), len);

	err = green_wg_done(&rd->started);
	if (err < 0) {
		fprintf(stderr, "%s: green_wg_done: %s\n", label,
			green_strerror(err));
		exit(1);
	}
	/* Nothing is ever sent: only green_chan_close() ends the wait. */
	err = green_chan_recv(rd->ch, NULL, GREEN_FOREVER);
	if (err != -EPIPE) {
		fprintf(stderr, "%s: green_chan_recv: %s, expected -EPIPE\n",
			label, err == 0 ? "a value" : green_strerror(err));
		exit(1);
	}
	err = green_wg_done(&rd->ended);
	if (err < 0) {
		fprintf(stderr, "%s: green_wg_done: %s\n", label,
			green_strerror(err));
		exit(1);
	}
	free(label);
	return NULL;
}

/* The lines of /proc/self/status a round reads, in bytes. */
struct vm_status {
	long rss;  /* VmRSS: resident now */
	long hwm;  /* VmHWM: resident, high-water mark */
	long pte;  /* VmPTE: page tables */
	long size; /* VmSize: address space */
};

/*
 * Reads v from /proc/self/status, in one pass so that the four values
 * describe one moment.  stdio rather than getrusage(2): ru_maxrss has the
 * high-water mark only, the baseline must be the current resident set, and
 * getrusage has no page tables.
 */
static void
vm_status_read(const struct bench_opts *o, struct vm_status *v)
{
	char line[256], key[32];
	long kib;
	FILE *f;

	*v = (struct vm_status){ -1, -1, -1, -1 };
	f = fopen("/proc/self/status", "r");
	if (f == NULL)
		bench_fail(o, "/proc/self/status: %s", strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		/* The kernel counts these in kB, which are KiB. */
		if (sscanf(line, "%31[^:]: %ld kB", key, &kib) != 2)
			continue;
		if (strcmp(key, "VmRSS") == 0)
			v->rss = kib * 1024;
		else if (strcmp(key, "VmHWM") == 0)
			v->hwm = kib * 1024;
		else if (strcmp(key, "VmPTE") == 0)
			v->pte = kib * 1024;
		else if (strcmp(key, "VmSize") == 0)
			v->size = kib * 1024;
	}
	fclose(f);
	if (v->rss < 0 || v->hwm < 0 || v->pte < 0 || v->size < 0)
		bench_fail(o, "/proc/self/status lacks VmRSS, VmHWM, VmPTE or "
			   "VmSize");
}

/* Spawns the round's n tasks and waits until all of them are parking. */
static void
spawn_all(const struct bench_opts *o, struct round *rd)
{
	/* Counted before the spawns: a task may run, and finish, at once. */
	bench_check(o, green_wg_add(&rd->started, o->n), "green_wg_add");
	bench_check(o, green_wg_add(&rd->ended, o->n), "green_wg_add");
	void *(*task)(void *) = o->ordinary ? parked_oc : parked;

	for (long i = 0; i < o->n; i++)
		/* Detached: the wait groups, not joins, track the tasks. */
		bench_check(o, green_spawn(NULL, NULL, task, rd),
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
		struct vm_status base, peak;
		struct round rd;
		int64_t t0, t1;
		double ns, bytes, pte, vm;

		bench_check(o, green_chan_create(&rd.ch, 0, 0),
			    "green_chan_create");
		bench_check(o, green_wg_init(&rd.started), "green_wg_init");
		bench_check(o, green_wg_init(&rd.ended), "green_wg_init");
		/*
		 * Read after the channel exists, and while this read's own
		 * FILE is open: only the tasks lie between it and the peak.
		 */
		vm_status_read(o, &base);
		t0 = bench_now();
		spawn_all(o, &rd);
		t1 = bench_now();
		/* All parked: the page tables and mappings are at their peak. */
		vm_status_read(o, &peak);
		wake_all(o, &rd);

		ns = (double)(t1 - t0) / (double)o->n;
		pte = (double)(peak.pte - base.pte) / (double)o->n;
		bytes = (double)(peak.hwm - base.rss) / (double)o->n + pte;
		vm = (double)(peak.size - base.size) / (double)o->n;
		bench_report(o, "parked_spawn_ns", ns, "ns/task");
		bench_report(o, "parked_bytes", bytes, "B/task");
		bench_report(o, "parked_pte_bytes", pte, "B/task");
		bench_report(o, "parked_vm_bytes", vm, "B/task");
		printf("parked%s: round %u/%u, %u worker(s), %ld tasks parked: "
		       "%.1f ms, %.1f ns/task; RSS %.1f -> peak %.1f MiB, "
		       "page tables %.1f -> %.1f MiB: %.0f B/task (%.0f of "
		       "them page tables); VM %.0f B/task\n",
		       bench_variant(o), r, o->rounds, o->workers, o->n,
		       (t1 - t0) / 1e6, ns, base.rss / 1048576.0,
		       peak.hwm / 1048576.0, base.pte / 1048576.0,
		       peak.pte / 1048576.0, bytes, pte, vm);
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
