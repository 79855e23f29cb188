/*
 * soak/mpmc.c - -n messages (default 10^8) from PRODUCERS producers to
 * CONSUMERS consumers through a mix of buffered and unbuffered channels,
 * sent and received by plain calls and by selects, every value counted.
 *
 * A value is its producer's number and its sequence number.  A producer
 * sends each value to one channel, picked at random or left to a select
 * over all of them; a consumer takes from one channel, or from whichever a
 * select finds ready.  Every value received sets its bit in its
 * producer's bitmap (an atomic OR): a bit already set is a duplicate.
 * Once every producer has finished, the channels are closed and the
 * consumers drain them.  PASS: no bit set twice, none left clear.
 */
#include <stdatomic.h>

#include "soak.h"

#define PRODUCERS 8
#define CONSUMERS 8
#define NCHANS 4 /* capacities below */
static const size_t capacity[NCHANS] = { 0, 0, 16, 256 };
#define SEQ_BITS 40
#define PATIENCE GREEN_MSEC(1) /* a plain send's or receive's deadline */

struct shared {
	green_chan_t *ch[NCHANS];
	_Atomic uint64_t *seen[PRODUCERS]; /* one bit per value */
	long per_producer;
	atomic_long duplicates, foreign, errors;
	atomic_long selects, received, timeouts;
};

struct producer {
	struct shared *sh;
	uint64_t id, rng;
};

static int
send_one(struct producer *p, uint64_t v)
{
	struct shared *sh = p->sh;
	uint64_t r = soak_rand(&p->rng);

	/* a plain send waits a little only: every consumer may be waiting
	 * on other channels (then -ETIMEDOUT, and the caller tries again) */
	if (r % 4 != 0)
		return green_chan_send(sh->ch[(r >> 8) % NCHANS], &v,
				       green_now() + PATIENCE);
	/* a select over every channel: any that can take it */
	green_case_t c[NCHANS];
	for (int i = 0; i < NCHANS; i++)
		c[i] = (green_case_t){ .kind = GREEN_SEND, .chan = sh->ch[i],
				       .elem = &v };
	int i = green_select(c, NCHANS, GREEN_FOREVER);
	atomic_fetch_add_explicit(&sh->selects, 1, memory_order_relaxed);
	return i < 0 ? i : c[i].result;
}

static void *
producer(void *arg)
{
	struct producer *p = arg;
	int err;

	for (long seq = 0; seq < p->sh->per_producer; seq++) {
		uint64_t v = p->id << SEQ_BITS | (uint64_t)seq;

		while ((err = send_one(p, v)) == -ETIMEDOUT)
			atomic_fetch_add_explicit(&p->sh->timeouts, 1,
						  memory_order_relaxed);
		if (err != 0) {
			fprintf(stderr, "mpmc: producer %lu: send: %s\n",
				(unsigned long)p->id, green_strerror(err));
			atomic_fetch_add(&p->sh->errors, 1);
			break;
		}
	}
	return NULL;
}

/* Account for one value received. */
static void
count(struct shared *sh, uint64_t v)
{
	uint64_t id = v >> SEQ_BITS, seq = v & (((uint64_t)1 << SEQ_BITS) - 1);

	if (id >= PRODUCERS || seq >= (uint64_t)sh->per_producer) {
		atomic_fetch_add(&sh->foreign, 1);
		return;
	}
	uint64_t bit = (uint64_t)1 << (seq % 64);
	if (atomic_fetch_or_explicit(&sh->seen[id][seq / 64], bit,
				     memory_order_relaxed) &
	    bit)
		atomic_fetch_add(&sh->duplicates, 1);
	atomic_fetch_add_explicit(&sh->received, 1, memory_order_relaxed);
}

struct consumer {
	struct shared *sh;
	uint64_t rng;
	bool closed[NCHANS];
	int nclosed;
};

/* Receive one value from one channel or a select; 1 when one came, 0
 * when none did (the channel tried was closed and drained, or its
 * deadline passed), <0 on error. */
static int
recv_one(struct consumer *c, uint64_t *v)
{
	struct shared *sh = c->sh;
	uint64_t r = soak_rand(&c->rng);
	int i, err;

	if (r % 4 != 0) {
		i = (int)((r >> 8) % NCHANS);
		if (c->closed[i])
			return 0;
		err = green_chan_recv(sh->ch[i], v, green_now() + PATIENCE);
		if (err == -ETIMEDOUT) {
			atomic_fetch_add_explicit(&sh->timeouts, 1,
						  memory_order_relaxed);
			return 0;
		}
	} else {
		green_case_t cs[NCHANS];
		for (int k = 0; k < NCHANS; k++)
			cs[k] = (green_case_t){
				.kind = GREEN_RECV,
				/* a drained channel is always ready: left
				 * out, as Go programs set it to nil */
				.chan = c->closed[k] ? NULL : sh->ch[k],
				.elem = v,
			};
		i = green_select(cs, NCHANS, GREEN_FOREVER);
		atomic_fetch_add_explicit(&sh->selects, 1,
					  memory_order_relaxed);
		if (i < 0)
			return i;
		err = cs[i].result;
	}
	if (err == -EPIPE) {
		if (!c->closed[i]) {
			c->closed[i] = true;
			c->nclosed++;
		}
		return 0;
	}
	return err == 0 ? 1 : err;
}

static void *
consumer(void *arg)
{
	struct consumer *c = arg;
	uint64_t v;
	int r;

	while (c->nclosed < NCHANS) {
		if ((r = recv_one(c, &v)) < 0) {
			fprintf(stderr, "mpmc: consumer: recv: %s\n",
				green_strerror(r));
			atomic_fetch_add(&c->sh->errors, 1);
			break;
		}
		if (r == 1)
			count(c->sh, v);
	}
	return NULL;
}

struct run {
	struct soak_opts *o;
	struct shared sh;
	double seconds;
	long lost;
};

static void
join_all(green_task_t **t, int n)
{
	for (int i = 0; i < n; i++) {
		int err = green_join(t[i], NULL, GREEN_FOREVER);
		if (err != 0) {
			fprintf(stderr, "mpmc: green_join: %s\n",
				green_strerror(err));
			exit(1);
		}
	}
}

static void
mpmc(void *arg)
{
	struct run *r = arg;
	struct shared *sh = &r->sh;
	struct producer p[PRODUCERS];
	struct consumer c[CONSUMERS];
	green_task_t *pt[PRODUCERS], *ct[CONSUMERS];
	int64_t start = green_now();
	int err = 0;

	for (int i = 0; i < NCHANS && err == 0; i++)
		err = green_chan_create(&sh->ch[i], sizeof(uint64_t),
					capacity[i]);
	for (int i = 0; i < CONSUMERS && err == 0; i++) {
		c[i] = (struct consumer){ .sh = sh,
					  .rng = soak_seed(r->o->seed,
							   100 + (uint64_t)i) };
		err = green_spawn(&ct[i], NULL, consumer, &c[i]);
	}
	for (int i = 0; i < PRODUCERS && err == 0; i++) {
		p[i] = (struct producer){ .sh = sh, .id = (uint64_t)i,
					  .rng = soak_seed(r->o->seed,
							   (uint64_t)i) };
		err = green_spawn(&pt[i], NULL, producer, &p[i]);
	}
	if (err != 0) {
		fprintf(stderr, "mpmc: setting up: %s\n", green_strerror(err));
		exit(1);
	}
	join_all(pt, PRODUCERS);
	for (int i = 0; i < NCHANS; i++)
		green_chan_close(sh->ch[i]);
	join_all(ct, CONSUMERS);
	r->seconds = (double)(green_now() - start) / 1e9;
	for (int i = 0; i < NCHANS; i++)
		green_chan_destroy(sh->ch[i]);
}

int
main(int argc, char **argv)
{
	struct soak_opts o = { .workers = 2, .n = 100000000 };
	struct run r = { .o = &o };
	green_config_t cfg;
	size_t words;
	int err;

	soak_parse(&o, argc, argv, "messages");
	r.sh.per_producer = o.n / PRODUCERS;
	words = (size_t)(r.sh.per_producer + 63) / 64;
	for (int i = 0; i < PRODUCERS; i++)
		if ((r.sh.seen[i] = calloc(words, sizeof(uint64_t))) == NULL) {
			fprintf(stderr, "mpmc: out of memory\n");
			return 1;
		}
	cfg = (green_config_t){ .workers = o.workers };
	if ((err = green_run(mpmc, &r, &cfg)) != 0) {
		fprintf(stderr, "mpmc: green_run: %s\n", green_strerror(err));
		return 1;
	}
	for (int i = 0; i < PRODUCERS; i++) {
		for (long s = 0; s < r.sh.per_producer; s++)
			if (!(atomic_load_explicit(&r.sh.seen[i][s / 64],
						   memory_order_relaxed) >>
			      (s % 64) & 1))
				r.lost++;
		free((void *)r.sh.seen[i]);
	}
	soak_report("mpmc_messages", "%ld", r.sh.per_producer * PRODUCERS);
	soak_report("mpmc_workers", "%u", o.workers);
	soak_report("mpmc_seconds", "%.1f", r.seconds);
	soak_report("mpmc_ns_per_message", "%.1f",
		    r.seconds * 1e9 / (double)(r.sh.per_producer * PRODUCERS));
	soak_report("mpmc_selects", "%ld", atomic_load(&r.sh.selects));
	soak_report("mpmc_received", "%ld", atomic_load(&r.sh.received));
	soak_report("mpmc_timeouts", "%ld", atomic_load(&r.sh.timeouts));
	soak_report("mpmc_lost", "%ld", r.lost);
	soak_report("mpmc_duplicated", "%ld", atomic_load(&r.sh.duplicates));
	soak_report("mpmc_foreign", "%ld", atomic_load(&r.sh.foreign));
	soak_report("mpmc_errors", "%ld", atomic_load(&r.sh.errors));
	if (atomic_load(&r.sh.errors) != 0)
		return soak_verdict(&o, "errors");
	if (r.lost != 0 || atomic_load(&r.sh.duplicates) != 0 ||
	    atomic_load(&r.sh.foreign) != 0)
		return soak_verdict(&o, "values lost, duplicated or invented");
	return soak_verdict(&o, NULL);
}
