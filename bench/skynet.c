/*
 * skynet.c - W3: skynet, a 10-ary tree of tasks talking over channels.
 *
 * The root task stands for leaves 0..N-1.  A task for more than one leaf
 * creates an unbuffered channel, spawns ten detached children for the ten
 * tenths of its range, receives their ten sums from that channel and sends
 * its own sum up to its parent's channel; a leaf sends its number.  With the
 * default N = 10^6 that is 1,111,111 tasks and 111,111 channels, and the
 * root's sum must be N(N-1)/2 = 499999500000.  This is Go's canonical
 * skynet (github.com/atemerev/skynet); the Go peer is bench/peers/skynet.
 *
 * Every round reports the time from spawning the root to receiving its sum
 * ("skynet_ms") and the process's peak resident set so far, from
 * getrusage(2) ru_maxrss ("skynet_rss_mib").  The peak is a high-water mark
 * of the whole process, so only the first round's value describes one run:
 * bench/run starts a fresh process with -r 1 for every round.
 *
 * -o runs skynet_oc() instead of skynet(): the same tree, written in
 * ordinary C (bench.h); its results are "skynet_ms_oc" and
 * "skynet_rss_mib_oc".
 */
#include <sys/resource.h>

#define BENCH_ORDINARY
#include "bench.h"

#define FANOUT 10

/* What a task needs to know; it lives in its parent's frame (see below). */
struct node {
	green_chan_t *up; /* the parent's channel: where the sum goes */
	long first;	  /* the subtree's first leaf number */
	long leaves;	  /* how many leaves the subtree has */
};

/* Set before the first task runs; tasks need it to report errors. */
static const struct bench_opts *opts;

static void *
skynet(void *arg)
{
	/*
	 * Copied at once: *arg is in the parent's frame, which lives until
	 * the parent has received this task's sum, so reading it before the
	 * send below is safe, and no allocation per task is needed.
	 */
	const struct node me = *(const struct node *)arg;
	struct node kids[FANOUT];
	green_chan_t *ch;
	long sum = 0;

	if (me.leaves == 1) {
		bench_check(opts, green_chan_send(me.up, &me.first,
						  GREEN_FOREVER),
			    "green_chan_send");
		return NULL;
	}
	bench_check(opts, green_chan_create(&ch, sizeof(long), 0),
		    "green_chan_create");
	for (int i = 0; i < FANOUT; i++) {
		kids[i].up = ch;
		kids[i].leaves = me.leaves / FANOUT;
		kids[i].first = me.first + i * kids[i].leaves;
		/* Detached: the channel, not a join, says a child is done. */
		bench_check(opts, green_spawn(NULL, NULL, skynet, &kids[i]),
			    "green_spawn");
	}
	for (int i = 0; i < FANOUT; i++) {
		long v;

		bench_check(opts, green_chan_recv(ch, &v, GREEN_FOREVER),
			    "green_chan_recv");
		sum += v;
	}
	/* Every child has handed its value over: nobody uses ch any more. */
	bench_check(opts, green_chan_destroy(ch), "green_chan_destroy");
	bench_check(opts, green_chan_send(me.up, &sum, GREEN_FOREVER),
		    "green_chan_send");
	return NULL;
}

/*
 * skynet() as a C programmer writes it: libc called from the task's own
 * body (so gold rewrites its prologue, and every task starts on a new
 * segment), errors reported where they happen.  Each task formats its name,
 * keeps a heap copy of it as the label of its error messages, and frees it
 * as it ends.  The label's only reader is the error paths: that is what
 * keeps the compiler from dropping the copy, and it changes nothing that
 * the tree computes.
 */
static void *
skynet_oc(void *arg)
{
	struct node me, kids[FANOUT];
	green_chan_t *ch;
	char name[32];
	char *label;
	long sum = 0;
	int len, err;

	/* Copied at once, for the reason given in skynet(). */
	memcpy(&me, arg, sizeof(me));
	len = snprintf(name, sizeof(name), "skynet-%ld:%ld", me.first,
		       me.leaves);
	label = bench_oc_label("skynet", name, sizeof(name), len);

	/* A leaf's sum is its number; one send serves both kinds. */
	if (me.leaves == 1) {
		sum = me.first;
	} else {
		err = green_chan_create(&ch, sizeof(long), 0);
		if (err < 0) {
			fprintf(stderr, "%s: green_chan_create: %s\n", label,
				green_strerror(err));
			exit(1);
		}
		for (int i = 0; i < FANOUT; i++) {
			kids[i].up = ch;
			kids[i].leaves = me.leaves / FANOUT;
			kids[i].first = me.first + i * kids[i].leaves;
			err = green_spawn(NULL, NULL, skynet_oc, &kids[i]);
			if (err < 0) {
				fprintf(stderr, "%s: green_spawn: %s\n", label,
					green_strerror(err));
				exit(1);
			}
		}
		for (int i = 0; i < FANOUT; i++) {
			long v;

			err = green_chan_recv(ch, &v, GREEN_FOREVER);
			if (err < 0) {
				fprintf(stderr, "%s: green_chan_recv: %s\n",
					label, green_strerror(err));
				exit(1);
			}
			sum += v;
		}
		err = green_chan_destroy(ch);
		if (err < 0) {
			fprintf(stderr, "%s: green_chan_destroy: %s\n", label,
				green_strerror(err));
			exit(1);
		}
	}
	err = green_chan_send(me.up, &sum, GREEN_FOREVER);
	if (err < 0) {
		fprintf(stderr, "%s: green_chan_send: %s\n", label,
			green_strerror(err));
		exit(1);
	}
	free(label);
	return NULL;
}

/* The process's peak resident set so far, in MiB. */
static double
peak_rss_mib(const struct bench_opts *o)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		bench_fail(o, "getrusage: %s", strerror(errno));
	/* Linux counts ru_maxrss in KiB. */
	return (double)ru.ru_maxrss / 1024.0;
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;
	/* Leaves 0..n-1; n <= 10^9, so n(n-1) fits in a long. */
	long want = o->n * (o->n - 1) / 2;

	for (unsigned r = 1; r <= o->rounds; r++) {
		struct node root;
		green_chan_t *ch;
		int64_t t0, t1;
		double rss;
		long sum;

		bench_check(o, green_chan_create(&ch, sizeof(long), 0),
			    "green_chan_create");
		root = (struct node){ .up = ch, .first = 0, .leaves = o->n };
		t0 = bench_now();
		bench_check(o, green_spawn(NULL, NULL,
					   o->ordinary ? skynet_oc : skynet,
					   &root),
			    "green_spawn");
		bench_check(o, green_chan_recv(ch, &sum, GREEN_FOREVER),
			    "green_chan_recv");
		t1 = bench_now();
		bench_check(o, green_chan_destroy(ch), "green_chan_destroy");
		rss = peak_rss_mib(o);

		if (sum != want)
			bench_fail(o, "skynet(%ld): sum %ld, expected %ld",
				   o->n, sum, want);
		bench_report(o, "skynet_ms", (t1 - t0) / 1e6, "ms");
		bench_report(o, "skynet_rss_mib", rss, "MiB");
		printf("skynet%s: round %u/%u, %u worker(s), %ld leaves, sum "
		       "%ld: %.1f ms, peak RSS %.1f MiB\n",
		       bench_variant(o), r, o->rounds, o->workers, o->n, sum,
		       (t1 - t0) / 1e6, rss);
		fflush(stdout);
	}
}

int
main(int argc, char **argv)
{
	struct bench_opts o;
	long n;

	bench_parse(&o, argc, argv, 1000000,
		    "leaves, a power of 10 up to 10^9 (default 1000000)");
	/*
	 * Every level splits its range in ten equal parts.  10^9 keeps the
	 * sum, about n^2/2, well inside a long.
	 */
	for (n = o.n; n % FANOUT == 0; n /= FANOUT)
		;
	if (n != 1 || o.n > 1000000000)
		bench_fail(&o, "-n %ld: expected a power of 10 up to 10^9",
			   o.n);
	opts = &o;
	bench_run(&o, bench_main);
	return 0;
}
