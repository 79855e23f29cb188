/*
 * sieve: the concurrent prime sieve from the Go tour, with libgreen.
 *
 *   sieve [N]      prints the first N primes (default 100), one a line
 *
 * A generator task sends 2, 3, 4, ... on an unbuffered channel.  The main
 * task receives the first number, which is prime, prints it and puts a
 * filter task behind it: the filter passes on only the numbers its prime
 * does not divide, on a new channel that the main task reads from next.
 * After N primes there is a chain generator -> filter -> ... -> filter ->
 * main, where every task waits for the next one to take a number.
 *
 * Unlike the Go original, which simply exits and leaves its goroutines
 * blocked, this one takes the chain down: it cancels every task, which
 * makes the channel call each one is blocked in return -ECANCELED, joins
 * them, and only then destroys the channels, when nothing can be blocked on
 * them any more.
 */
#include <green.h>
#include <stdio.h>
#include <stdlib.h>

/* One stage: a filter reads in and writes out; the generator only out. */
struct stage {
	green_task_t *task;
	green_chan_t *in, *out;
	long prime;
};

struct sieve {
	long n;
	struct stage *stages; /* [0] the generator, [1..] the filters */
	int err;	      /* the first error, for main()'s exit status */
};

static void *
generate(void *arg)
{
	struct stage *s = arg;

	/* Ends when the send fails: cancelled (or the channel closed). */
	for (long i = 2;; i++)
		if (green_chan_send(s->out, &i, GREEN_FOREVER) != 0)
			return NULL;
}

static void *
filter(void *arg)
{
	struct stage *s = arg;
	long i;

	while (green_chan_recv(s->in, &i, GREEN_FOREVER) == 0)
		if (i % s->prime != 0 &&
		    green_chan_send(s->out, &i, GREEN_FOREVER) != 0)
			break;
	return NULL;
}

static void
run(void *arg)
{
	struct sieve *sv = arg;
	long made = 0; /* stages whose task and channel exist */
	green_chan_t *ch;
	int err;

	/* Stage k's output channel is stage k+1's input. */
	if ((err = green_chan_create(&sv->stages[0].out, sizeof(long), 0)) !=
		    0 ||
	    (err = green_spawn(&sv->stages[0].task, NULL, generate,
			       &sv->stages[0])) != 0)
		goto out;
	made = 1;
	ch = sv->stages[0].out;
	for (long k = 1; k <= sv->n; k++) {
		struct stage *s = &sv->stages[k];
		long prime;

		if ((err = green_chan_recv(ch, &prime, GREEN_FOREVER)) != 0)
			goto out;
		printf("%ld\n", prime);
		if (k == sv->n)
			break; /* nobody would read the next filter's output */
		s->in = ch;
		s->prime = prime;
		if ((err = green_chan_create(&s->out, sizeof(long), 0)) != 0)
			goto out;
		if ((err = green_spawn(&s->task, NULL, filter, s)) != 0) {
			green_chan_destroy(s->out);
			goto out;
		}
		made = k + 1;
		ch = s->out;
	}
	err = 0;
out:
	if (err != 0) {
		fprintf(stderr, "sieve: %s\n", green_strerror(err));
		sv->err = err;
	}
	/*
	 * Every task is blocked in a channel call that nobody will complete.
	 * Cancelling makes that call (and, being sticky, any later one)
	 * return -ECANCELED, so the task ends; cancelling them all before the
	 * first join lets them unwind together instead of one per join.
	 */
	for (long k = 0; k < made; k++)
		green_cancel(sv->stages[k].task);
	for (long k = 0; k < made; k++)
		green_join(sv->stages[k].task, NULL, GREEN_FOREVER);
	for (long k = 0; k < made; k++)
		green_chan_destroy(sv->stages[k].out);
}

int
main(int argc, char **argv)
{
	struct sieve sv = { .n = 100 };
	char *end;
	int err;

	if (argc > 2 || (argc == 2 && ((sv.n = strtol(argv[1], &end, 10)) < 1 ||
				       *end != '\0'))) {
		fprintf(stderr, "usage: sieve [N]   (prints the first N "
				"primes, default 100)\n");
		return 2;
	}
	sv.stages = calloc((size_t)sv.n + 1, sizeof(*sv.stages));
	if (sv.stages == NULL) {
		fprintf(stderr, "sieve: out of memory\n");
		return 1;
	}
	err = green_run(run, &sv, NULL);
	free(sv.stages);
	if (err != 0) {
		fprintf(stderr, "sieve: %s\n", green_strerror(err));
		return 1;
	}
	return sv.err != 0;
}
