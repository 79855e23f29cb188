/*
 * pingpong.c - W4: the cost of an unbuffered channel hand-off.
 *
 * Two tasks pass a long back and forth over two unbuffered channels: the
 * pinger sends i on "ping" and waits for i + 1 on "pong", the ponger adds
 * one and sends it back.  Each round trip is two rendezvous, each of which
 * parks one task and wakes the other; on two workers the tasks may sit on
 * different workers, so every wake-up can cross threads.  Reports elapsed
 * / N as "pingpong_ns".  The Go peer is bench/peers/pingpong.
 */
#include "bench.h"

struct pair {
	green_chan_t *ping, *pong;
	long n;
};

/* Set before the first task runs; tasks need it to report errors. */
static const struct bench_opts *opts;

static void *
pinger(void *arg)
{
	const struct pair *p = arg;

	for (long i = 0; i < p->n; i++) {
		long v = i;

		bench_check(opts, green_chan_send(p->ping, &v, GREEN_FOREVER),
			    "green_chan_send");
		bench_check(opts, green_chan_recv(p->pong, &v, GREEN_FOREVER),
			    "green_chan_recv");
		/* Proves the value made the whole trip, not just a wake-up. */
		if (v != i + 1)
			bench_fail(opts, "round trip %ld came back as %ld", i,
				   v);
	}
	return NULL;
}

static void *
ponger(void *arg)
{
	const struct pair *p = arg;

	for (long i = 0; i < p->n; i++) {
		long v;

		bench_check(opts, green_chan_recv(p->ping, &v, GREEN_FOREVER),
			    "green_chan_recv");
		v++;
		bench_check(opts, green_chan_send(p->pong, &v, GREEN_FOREVER),
			    "green_chan_send");
	}
	return NULL;
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;

	for (unsigned r = 1; r <= o->rounds; r++) {
		struct pair p = { .n = o->n };
		green_task_t *a, *b;
		int64_t t0, t1;
		double ns;

		bench_check(o, green_chan_create(&p.ping, sizeof(long), 0),
			    "green_chan_create");
		bench_check(o, green_chan_create(&p.pong, sizeof(long), 0),
			    "green_chan_create");
		/*
		 * As in bench/yield, spawning and joining the two tasks is
		 * timed; against 10^6 round trips it is noise.
		 */
		t0 = bench_now();
		bench_check(o, green_spawn(&a, NULL, pinger, &p),
			    "green_spawn");
		bench_check(o, green_spawn(&b, NULL, ponger, &p),
			    "green_spawn");
		bench_check(o, green_join(a, NULL, GREEN_FOREVER),
			    "green_join");
		bench_check(o, green_join(b, NULL, GREEN_FOREVER),
			    "green_join");
		t1 = bench_now();
		bench_check(o, green_chan_destroy(p.ping),
			    "green_chan_destroy");
		bench_check(o, green_chan_destroy(p.pong),
			    "green_chan_destroy");

		ns = (double)(t1 - t0) / (double)o->n;
		bench_result("pingpong_ns", ns, "ns");
		printf("pingpong: round %u/%u, %u worker(s), %ld round trips: "
		       "%.1f ms, %.1f ns/round trip\n",
		       r, o->rounds, o->workers, o->n, (t1 - t0) / 1e6, ns);
		fflush(stdout);
	}
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	bench_parse(&o, argc, argv, 1000000,
		    "round trips (default 1000000)");
	opts = &o;
	bench_run(&o, bench_main);
	return 0;
}
