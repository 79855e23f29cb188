/*
 * soak/churn.c - task churn: -n spawn/exit cycles (default 10^7), each
 * task recursing to a random depth so that its stack grows onto new
 * segments and gives them back, with the resident set sampled as it goes.
 *
 * SPAWNERS tasks each spawn batches of BATCH detached children and wait for
 * a batch with a wait group; a child recurses 0..MAX_DEPTH frames of ~300
 * bytes (up to ~40 KiB: past its 2 KiB first segment, onto pooled ones)
 * and adds the depth it reached to a checksum the spawner knows in
 * advance.  PASS: every task ran once (the checksums match), and the
 * resident set at the end is within 5% (plus 1 MiB of slack for the
 * allocator's noise) of the one after the first tenth of the cycles, when
 * the pools have grown to their working size.
 */
#include <stdatomic.h>

#include "soak.h"

#define SPAWNERS 4
#define BATCH 1000
#define MAX_DEPTH 128

struct child {
	unsigned depth;
	atomic_ulong *sum;
	green_wg_t *wg;
};

/* Recurse depth frames; each frame holds a buffer the compiler must keep. */
static unsigned long
descend(unsigned depth, unsigned long acc)
{
	volatile char frame[256];

	frame[depth % sizeof(frame)] = (char)depth;
	if (depth == 0)
		return acc + (unsigned char)frame[0];
	return descend(depth - 1, acc + 1) + frame[depth % sizeof(frame)] -
	       (char)depth;
}

static void *
child(void *arg)
{
	struct child *c = arg;

	atomic_fetch_add_explicit(c->sum, descend(c->depth, 0),
				  memory_order_relaxed);
	green_wg_done(c->wg);
	return NULL;
}

struct spawner {
	long cycles;	  /* this spawner's share */
	uint64_t rng;
	atomic_ulong sum; /* what the children added */
	unsigned long want; /* what they should have added */
	atomic_long *done; /* cycles finished, all spawners */
	long errors;
};

static void *
spawner(void *arg)
{
	struct spawner *s = arg;
	struct child *kids = malloc(BATCH * sizeof(*kids));
	green_wg_t wg = GREEN_WG_INITIALIZER;
	int err;

	if (kids == NULL) {
		fprintf(stderr, "churn: out of memory\n");
		s->errors++;
		return NULL;
	}
	for (long left = s->cycles; left > 0;) {
		long n = left < BATCH ? left : BATCH;

		green_wg_add(&wg, n);
		for (long i = 0; i < n; i++) {
			kids[i].depth =
				(unsigned)(soak_rand(&s->rng) % (MAX_DEPTH + 1));
			kids[i].sum = &s->sum;
			kids[i].wg = &wg;
			s->want += kids[i].depth;
			err = green_spawn(NULL, NULL, child, &kids[i]);
			if (err != 0) {
				fprintf(stderr, "churn: green_spawn: %s\n",
					green_strerror(err));
				s->errors++;
				s->want -= kids[i].depth;
				green_wg_done(&wg);
			}
		}
		if ((err = green_wg_wait(&wg, GREEN_FOREVER)) != 0) {
			fprintf(stderr, "churn: green_wg_wait: %s\n",
				green_strerror(err));
			s->errors++;
			break;
		}
		left -= n;
		atomic_fetch_add(s->done, n);
	}
	free(kids);
	return NULL;
}

struct run {
	struct soak_opts *o;
	long rss_warm, rss_end;
	long errors;
	bool checksum_ok;
	double seconds;
};

/* The main task: start the spawners, sample the resident set once a tenth
 * of the cycles is done, wait for the rest. */
static void
churn(void *arg)
{
	struct run *r = arg;
	struct spawner s[SPAWNERS];
	green_task_t *t[SPAWNERS];
	atomic_long done = 0;
	int64_t start = green_now();
	int err;

	for (int i = 0; i < SPAWNERS; i++) {
		s[i] = (struct spawner){
			.cycles = r->o->n / SPAWNERS +
				  (i < r->o->n % SPAWNERS ? 1 : 0),
			.rng = soak_seed(r->o->seed, (uint64_t)i),
			.done = &done,
		};
		if ((err = green_spawn(&t[i], NULL, spawner, &s[i])) != 0) {
			fprintf(stderr, "churn: green_spawn: %s\n",
				green_strerror(err));
			exit(1);
		}
	}
	while (atomic_load(&done) < r->o->n / 10)
		green_sleep(green_now() + GREEN_MSEC(10));
	r->rss_warm = soak_rss_kib(0);
	r->checksum_ok = true;
	for (int i = 0; i < SPAWNERS; i++) {
		if ((err = green_join(t[i], NULL, GREEN_FOREVER)) != 0) {
			fprintf(stderr, "churn: green_join: %s\n",
				green_strerror(err));
			exit(1);
		}
		r->errors += s[i].errors;
		if (atomic_load(&s[i].sum) != s[i].want) {
			fprintf(stderr,
				"churn: spawner %d: children added %lu, "
				"expected %lu\n",
				i, atomic_load(&s[i].sum), s[i].want);
			r->checksum_ok = false;
		}
	}
	r->seconds = (double)(green_now() - start) / 1e9;
	r->rss_end = soak_rss_kib(0);
}

int
main(int argc, char **argv)
{
	struct soak_opts o = { .workers = 2, .n = 10000000, .seconds = 0 };
	struct run r = { .o = &o };
	green_config_t cfg;
	double growth;
	int err;

	soak_parse(&o, argc, argv, "spawn/exit cycles");
	cfg = (green_config_t){ .workers = o.workers };
	if ((err = green_run(churn, &r, &cfg)) != 0) {
		fprintf(stderr, "churn: green_run: %s\n", green_strerror(err));
		return 1;
	}
	growth = soak_growth(r.rss_warm, r.rss_end);
	soak_report("churn_cycles", "%ld", o.n);
	soak_report("churn_workers", "%u", o.workers);
	soak_report("churn_seconds", "%.1f", r.seconds);
	soak_report("churn_ns_per_cycle", "%.0f", r.seconds * 1e9 / (double)o.n);
	soak_report("churn_errors", "%ld", r.errors);
	soak_report("churn_rss_kib_warm", "%ld", r.rss_warm);
	soak_report("churn_rss_kib_end", "%ld", r.rss_end);
	soak_report("churn_rss_growth_pct", "%.2f", growth);
	if (r.errors != 0)
		return soak_verdict(&o, "errors");
	if (!r.checksum_ok)
		return soak_verdict(&o, "a task did not run exactly once");
	if (r.rss_end > r.rss_warm + r.rss_warm / 20 + 1024)
		return soak_verdict(&o, "the resident set grew");
	return soak_verdict(&o, NULL);
}
