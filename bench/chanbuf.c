/*
 * chanbuf.c - buffered channel throughput.
 *
 * A producer task sends 0..N-1 as 8-byte values on a channel of capacity
 * 1024 and closes it; a consumer task receives until the channel reports
 * closed and drained (-EPIPE), checking that the values arrive in order and
 * that none is missing.  With a buffer, most sends and receives complete
 * without parking, so this measures the channel's fast path and how well
 * the runtime batches the wake-ups when the buffer runs full or empty.
 * Reports elapsed / N as "chanbuf_ns".  The Go peer is bench/peers/chanbuf.
 */
#include "bench.h"

#define CAPACITY 1024

struct stream {
	green_chan_t *ch;
	long n;
};

/* Set before the first task runs; tasks need it to report errors. */
static const struct bench_opts *opts;

static void *
producer(void *arg)
{
	const struct stream *s = arg;

	for (int64_t i = 0; i < s->n; i++)
		bench_check(opts, green_chan_send(s->ch, &i, GREEN_FOREVER),
			    "green_chan_send");
	/* The end of the stream, as Go's close(ch) ends a range loop. */
	bench_check(opts, green_chan_close(s->ch), "green_chan_close");
	return NULL;
}

static void *
consumer(void *arg)
{
	const struct stream *s = arg;
	int64_t v, want = 0;
	int err;

	while ((err = green_chan_recv(s->ch, &v, GREEN_FOREVER)) == 0) {
		if (v != want)
			bench_fail(opts, "received %lld, expected %lld",
				   (long long)v, (long long)want);
		want++;
	}
	if (err != -EPIPE)
		bench_check(opts, err, "green_chan_recv");
	if (want != s->n)
		bench_fail(opts, "received %lld values, expected %ld",
			   (long long)want, s->n);
	return NULL;
}

static void
bench_main(void *arg)
{
	struct bench_opts *o = arg;

	for (unsigned r = 1; r <= o->rounds; r++) {
		struct stream s = { .n = o->n };
		green_task_t *p, *c;
		int64_t t0, t1;
		double ns;

		bench_check(o, green_chan_create(&s.ch, sizeof(int64_t),
						 CAPACITY),
			    "green_chan_create");
		t0 = bench_now();
		bench_check(o, green_spawn(&p, NULL, producer, &s),
			    "green_spawn");
		bench_check(o, green_spawn(&c, NULL, consumer, &s),
			    "green_spawn");
		bench_check(o, green_join(p, NULL, GREEN_FOREVER),
			    "green_join");
		bench_check(o, green_join(c, NULL, GREEN_FOREVER),
			    "green_join");
		t1 = bench_now();
		bench_check(o, green_chan_destroy(s.ch), "green_chan_destroy");

		ns = (double)(t1 - t0) / (double)o->n;
		bench_result("chanbuf_ns", ns, "ns");
		printf("chanbuf: round %u/%u, %u worker(s), %ld values through "
		       "a %d-slot channel: %.1f ms, %.2f ns/value\n",
		       r, o->rounds, o->workers, o->n, CAPACITY,
		       (t1 - t0) / 1e6, ns);
		fflush(stdout);
	}
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	bench_parse(&o, argc, argv, 10000000, "values (default 10000000)");
	opts = &o;
	bench_run(&o, bench_main);
	return 0;
}
