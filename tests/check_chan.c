/*
 * check_chan.c - channels and select: Go's channel rules one by one,
 * deadlines, cancellation, plain threads, destroy, the deadlock report, and
 * an MPMC stress run that accounts for every value.
 *
 * Blocking is observed from outside: a party that "blocks" has not
 * returned after SETTLE; tests that need a party already blocked give it
 * SETTLE to get there after it says it started.  A slow machine makes
 * these tests weaker (the party may not have blocked yet), never wrong.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"

#define NWORKERS 2
#define TIMEOUT (60 * TEST_TIMEOUT_MULT)
#define STRESS_TIMEOUT (120 * TEST_TIMEOUT_MULT)
/* "Promptly": a woken party must be joinable within this (generous)
 * bound; a lost wake-up fails here instead of at the TCase timeout. */
#define PROMPT GREEN_SEC(5)
#define SETTLE GREEN_MSEC(20)
/* A short deadline that is allowed to expire. */
#define SHORT GREEN_MSEC(20)
/* A timed-out call must return within this much after its deadline. */
#define LATE_MAX GREEN_SEC(2)

/* green_join of a helper failed: a value no channel call returns. */
#define JOIN_FAILED 100000

static void
setup(void)
{
	init_workers(NWORKERS);
}

static void
setup1(void)
{
	init_workers(1);
}

static void
teardown(void)
{
	shutdown_runtime();
}

/* --- helpers ------------------------------------------------------------ */

/* One channel operation run by a helper task or thread. */
struct op {
	green_chan_t *ch;
	int64_t val;	  /* sent */
	int64_t got;	  /* received into */
	int64_t deadline; /* of the operation */
	atomic_int started;
	atomic_int done;
	int r; /* the operation's result, once done */
};

static void
op_init(struct op *o, green_chan_t *ch, int64_t val, int64_t deadline)
{
	o->ch = ch;
	o->val = val;
	o->got = -1;
	o->deadline = deadline;
	atomic_store(&o->started, 0);
	atomic_store(&o->done, 0);
	o->r = JOIN_FAILED;
}

static void *
send_op(void *arg)
{
	struct op *o = arg;

	atomic_store(&o->started, 1);
	o->r = green_chan_send(o->ch, &o->val, o->deadline);
	atomic_store(&o->done, 1);
	return (void *)(intptr_t)o->r;
}

static void *
recv_op(void *arg)
{
	struct op *o = arg;

	atomic_store(&o->started, 1);
	o->r = green_chan_recv(o->ch, &o->got, o->deadline);
	atomic_store(&o->done, 1);
	return (void *)(intptr_t)o->r;
}

/* Wait until o started, then give it SETTLE to block. */
static void
settle(struct op *o)
{
	wait_flag(&o->started, GREEN_SEC(10));
	pause_ns(SETTLE);
}

/* Join t (promptly) and return its result as an int, or JOIN_FAILED. */
static int
join_int(green_task_t *t)
{
	void *res = NULL;

	if (t == NULL || green_join(t, &res, green_now() + PROMPT) != 0)
		return JOIN_FAILED;
	return (int)(intptr_t)res;
}

static green_task_t *
spawn_op(void *(*fn)(void *), void *arg)
{
	green_task_t *t = NULL;

	if (green_spawn(&t, NULL, fn, arg) != 0)
		return NULL;
	return t;
}

/* Result of a pthread running a struct op function, or JOIN_FAILED. */
static int
pjoin_int(pthread_t th)
{
	void *res = NULL;

	if (pthread_join(th, &res) != 0)
		return JOIN_FAILED;
	return (int)(intptr_t)res;
}

static green_chan_t *
mkchan(size_t elem_size, size_t cap)
{
	green_chan_t *ch = NULL;

	if (green_chan_create(&ch, elem_size, cap) != 0)
		return NULL;
	return ch;
}

#define I64 sizeof(int64_t)

/* --- green_chan_create ------------------------------------------------- */

START_TEST(test_green_chan_create_null_handle_returns_einval)
{
	ck_assert_int_eq(green_chan_create(NULL, I64, 0), -EINVAL);
	ck_assert_int_eq(green_chan_create(NULL, I64, 4), -EINVAL);
}
END_TEST

START_TEST(test_green_chan_create_size_overflow_returns_einval)
{
	green_chan_t *ch = NULL;

	/* elem_size * capacity wraps around */
	ck_assert_int_eq(green_chan_create(&ch, SIZE_MAX / 2 + 2, 2), -EINVAL);
	ck_assert_int_eq(green_chan_create(&ch, 3, SIZE_MAX / 2), -EINVAL);
	ck_assert_int_eq(green_chan_create(&ch, SIZE_MAX, SIZE_MAX), -EINVAL);
	/* no wrap, but more than SIZE_MAX / 2 bytes */
	ck_assert_int_eq(green_chan_create(&ch, 1, SIZE_MAX / 2 + 1), -EINVAL);
	ck_assert_int_eq(green_chan_create(&ch, SIZE_MAX / 4 + 1, 2), -EINVAL);
	ck_assert_ptr_null(ch);
}
END_TEST

START_TEST(test_green_chan_create_valid_returns_zero)
{
	green_chan_t *ch = NULL;

	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
	ch = NULL;
	ck_assert_int_eq(green_chan_create(&ch, 0, 0), 0);
	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
	ch = NULL;
	ck_assert_int_eq(green_chan_create(&ch, 0, 1000), 0);
	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

/* --- green_chan_send --------------------------------------------------- */

/* Sends o->val, then records what the receiver's buffer (*o->seen) holds
 * at the moment its send returned. */
struct rdv {
	struct op op;
	int64_t *seen;
	int64_t at_return;
};

static void *
rdv_sender(void *arg)
{
	struct rdv *s = arg;
	void *r = send_op(&s->op);

	s->at_return = *s->seen;
	return r;
}

static int64_t rdv_dest;

static void *
rendezvous_main(void *arg)
{
	green_chan_t *ch = mkchan(I64, 0);
	struct op o;
	struct rdv s;
	green_task_t *t;
	int64_t v = 4242;

	(void)arg;
	T_REQUIRE(ch != NULL);

	/* receiver first: when our send returns, its buffer has the value */
	op_init(&o, ch, 0, -1);
	T_REQUIRE((t = spawn_op(recv_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(atomic_load(&o.done), 0);
	T_CHECK_INT_EQ(green_chan_send(ch, &v, -1), 0);
	T_CHECK_INT_EQ(o.got, 4242);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(o.got, 4242);

	/* sender first: it stays blocked until we take the value, and when
	 * its send returns our buffer has it */
	rdv_dest = -1;
	op_init(&s.op, ch, 777, -1);
	s.seen = &rdv_dest;
	s.at_return = -2;
	T_REQUIRE((t = spawn_op(rdv_sender, &s.op)) != NULL);
	settle(&s.op);
	T_CHECK_INT_EQ(atomic_load(&s.op.done), 0);
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(atomic_load(&s.op.done), 0);
	T_CHECK_INT_EQ(green_chan_recv(ch, &rdv_dest, -1), 0);
	T_CHECK_INT_EQ(rdv_dest, 777);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(s.at_return, 777);

	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	return NULL;
}

START_TEST(test_green_chan_send_unbuffered_blocks_until_received)
{
	run_in_task(rendezvous_main, NULL);
}
END_TEST

static void *
buffered_send_main(void *arg)
{
	green_chan_t *ch = mkchan(I64, 3);
	struct op o;
	green_task_t *t;
	int64_t v;

	(void)arg;
	T_REQUIRE(ch != NULL);
	/* room: no blocking, not even with deadline 0 */
	for (v = 0; v < 3; v++)
		T_CHECK_INT_EQ(green_chan_send(ch, &v, 0), 0);
	T_CHECK_INT_EQ(green_chan_len(ch), 3);
	/* full */
	T_CHECK_INT_EQ(green_chan_send(ch, &v, 0), -ETIMEDOUT);
	op_init(&o, ch, 99, -1);
	T_REQUIRE((t = spawn_op(send_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(atomic_load(&o.done), 0);
	/* one slot frees: the blocked sender completes */
	T_CHECK_INT_EQ(green_chan_recv(ch, &v, -1), 0);
	T_CHECK_INT_EQ(v, 0);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(green_chan_len(ch), 3);
	for (int64_t want = 1; want <= 3; want++) {
		T_CHECK_INT_EQ(green_chan_recv(ch, &v, 0), 0);
		T_CHECK_INT_EQ(v, want == 3 ? 99 : want);
	}
	T_CHECK_INT_EQ(green_chan_recv(ch, &v, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	return NULL;
}

START_TEST(test_green_chan_send_buffered_blocks_only_when_full)
{
	run_in_task(buffered_send_main, NULL);
}
END_TEST

START_TEST(test_green_chan_send_null_returns_einval)
{
	green_chan_t *ch;
	int64_t v = 1;

	ck_assert_int_eq(green_chan_send(NULL, &v, -1), -EINVAL);
	ck_assert_int_eq(green_chan_send(NULL, &v, 0), -EINVAL);
	ck_assert_int_eq(green_chan_create(&ch, I64, 2), 0);
	/* elem NULL with elem_size > 0 */
	ck_assert_int_eq(green_chan_send(ch, NULL, 0), -EINVAL);
	ck_assert_int_eq(green_chan_send(ch, NULL, -1), -EINVAL);
	ck_assert_int_eq(green_chan_len(ch), 0);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

START_TEST(test_green_chan_send_closed_returns_epipe)
{
	green_chan_t *ch;
	int64_t v = 1;

	ck_assert_int_eq(green_chan_create(&ch, I64, 2), 0);
	ck_assert_int_eq(green_chan_close(ch), 0);
	/* with room, with deadline 0, and blocking */
	ck_assert_int_eq(green_chan_send(ch, &v, 0), -EPIPE);
	ck_assert_int_eq(green_chan_send(ch, &v, -1), -EPIPE);
	ck_assert_int_eq(green_chan_len(ch), 0);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	ck_assert_int_eq(green_chan_close(ch), 0);
	ck_assert_int_eq(green_chan_send(ch, &v, -1), -EPIPE);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

static void *
send_deadline_zero_main(void *arg)
{
	green_chan_t *u = mkchan(I64, 0), *b = mkchan(I64, 1);
	int64_t v = 5;

	(void)arg;
	T_REQUIRE(u != NULL && b != NULL);
	/* unbuffered, no receiver */
	T_CHECK_INT_EQ(green_chan_send(u, &v, 0), -ETIMEDOUT);
	/* buffered, full */
	T_CHECK_INT_EQ(green_chan_send(b, &v, 0), 0);
	v = 6;
	T_CHECK_INT_EQ(green_chan_send(b, &v, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_len(b), 1);
	T_CHECK_INT_EQ(green_chan_recv(b, &v, 0), 0);
	T_CHECK_INT_EQ(v, 5);
	T_CHECK_INT_EQ(green_chan_destroy(u), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	return NULL;
}

START_TEST(test_green_chan_send_deadline_zero_not_ready_returns_etimedout)
{
	green_chan_t *ch;
	int64_t v = 1;

	run_in_task(send_deadline_zero_main, NULL);
	/* the same from a plain thread */
	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	ck_assert_int_eq(green_chan_send(ch, &v, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

/* A send that times out returns -ETIMEDOUT no earlier than its deadline,
 * and its value is never delivered. */
static void
send_times_out(green_chan_t *ch, int64_t v)
{
	int64_t deadline = green_now() + SHORT;

	T_CHECK_INT_EQ(green_chan_send(ch, &v, deadline), -ETIMEDOUT);
	T_CHECK(green_now() >= deadline);
	T_CHECK(green_now() < deadline + LATE_MAX);
}

static void *
send_deadline_main(void *arg)
{
	green_chan_t *u = mkchan(I64, 0), *b = mkchan(I64, 1);
	green_task_t *t;
	struct op o;
	int64_t v = 0;

	(void)arg;
	T_REQUIRE(u != NULL && b != NULL);
	send_times_out(u, 11);
	/* not delivered: neither to a receiver polling nor to one that
	 * waits a while */
	T_CHECK_INT_EQ(green_chan_recv(u, &v, 0), -ETIMEDOUT);
	op_init(&o, u, 0, green_now() + GREEN_MSEC(50));
	T_REQUIRE((t = spawn_op(recv_op, &o)) != NULL);
	T_CHECK_INT_EQ(join_int(t), -ETIMEDOUT);

	/* buffered and full: the value does not go into the buffer later */
	T_CHECK_INT_EQ(green_chan_send(b, &(int64_t){ 1 }, 0), 0);
	send_times_out(b, 2);
	T_CHECK_INT_EQ(green_chan_len(b), 1);
	T_CHECK_INT_EQ(green_chan_recv(b, &v, 0), 0);
	T_CHECK_INT_EQ(v, 1);
	T_CHECK_INT_EQ(green_chan_recv(b, &v, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_len(b), 0);

	/* no waiter is left behind */
	T_CHECK_INT_EQ(green_chan_destroy(u), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	return NULL;
}

START_TEST(test_green_chan_send_deadline_expires_value_not_delivered)
{
	green_chan_t *ch;
	int64_t deadline, v = 3;

	run_in_task(send_deadline_main, NULL);
	/* a plain thread times out the same way */
	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_chan_send(ch, &v, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_chan_recv(ch, &v, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

static void *
send_cancel_main(void *arg)
{
	green_chan_t *u = mkchan(I64, 0), *b = mkchan(I64, 1);
	green_task_t *t;
	struct op o;
	int64_t v;

	(void)arg;
	T_REQUIRE(u != NULL && b != NULL);
	op_init(&o, u, 8, -1);
	T_REQUIRE((t = spawn_op(send_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	/* the cancelled value is not delivered, its waiter is gone */
	T_CHECK_INT_EQ(green_chan_recv(u, &v, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_destroy(u), 0);

	/* blocked on a full buffer */
	T_CHECK_INT_EQ(green_chan_send(b, &(int64_t){ 1 }, 0), 0);
	op_init(&o, b, 2, -1);
	T_REQUIRE((t = spawn_op(send_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	T_CHECK_INT_EQ(green_chan_recv(b, &v, 0), 0);
	T_CHECK_INT_EQ(v, 1);
	T_CHECK_INT_EQ(green_chan_recv(b, &v, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	return NULL;
}

START_TEST(test_green_chan_send_cancelled_while_blocked_returns_ecanceled)
{
	run_in_task(send_cancel_main, NULL);
}
END_TEST

static void *
signal_sender(void *arg)
{
	green_chan_t *ch = arg;
	int r = 0;

	for (int i = 0; i < 100 && r == 0; i++)
		r = green_chan_send(ch, NULL, -1);
	return (void *)(intptr_t)r;
}

static void *
zero_size_main(void *arg)
{
	green_chan_t *u = mkchan(0, 0), *b = mkchan(0, 5);
	green_task_t *t;
	char canary[4] = "abc";

	(void)arg;
	T_REQUIRE(u != NULL && b != NULL);
	/* unbuffered signal channel: 100 rendezvous, NULL or any buffer */
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, signal_sender, u), 0);
	for (int i = 0; i < 100; i++)
		T_CHECK_INT_EQ(green_chan_recv(u, i % 2 ? NULL : canary, -1),
			       0);
	T_CHECK_INT_EQ(join_int(t), 0);
	/* nothing was copied */
	T_CHECK(memcmp(canary, "abc", 4) == 0);
	T_CHECK_INT_EQ(green_chan_recv(u, NULL, 0), -ETIMEDOUT);

	/* buffered: counts, blocks when full */
	for (int i = 0; i < 5; i++)
		T_CHECK_INT_EQ(green_chan_send(b, NULL, 0), 0);
	T_CHECK_INT_EQ(green_chan_len(b), 5);
	T_CHECK_INT_EQ(green_chan_send(b, canary, 0), -ETIMEDOUT);
	for (int i = 0; i < 5; i++)
		T_CHECK_INT_EQ(green_chan_recv(b, canary, 0), 0);
	T_CHECK_INT_EQ(green_chan_recv(b, NULL, 0), -ETIMEDOUT);
	T_CHECK(memcmp(canary, "abc", 4) == 0);
	T_CHECK_INT_EQ(green_chan_close(b), 0);
	T_CHECK_INT_EQ(green_chan_recv(b, NULL, -1), -EPIPE);

	T_CHECK_INT_EQ(green_chan_destroy(u), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	return NULL;
}

START_TEST(test_green_chan_send_zero_size_elements_signal)
{
	run_in_task(zero_size_main, NULL);
}
END_TEST

#define BIG_N 64

struct big {
	uint32_t seq;
	unsigned char b[4096 - sizeof(uint32_t)];
};

static void
big_fill(struct big *x, uint32_t seq)
{
	x->seq = seq;
	for (size_t i = 0; i < sizeof(x->b); i++)
		x->b[i] = (unsigned char)(i * 31 + seq * 7 + (i >> 8));
}

/* Returns the first wrong byte's index + 1, or 0 when x is intact. */
static size_t
big_bad(const struct big *x, uint32_t seq)
{
	if (x->seq != seq)
		return 1;
	for (size_t i = 0; i < sizeof(x->b); i++)
		if (x->b[i] != (unsigned char)(i * 31 + seq * 7 + (i >> 8)))
			return i + 1;
	return 0;
}

static void *
big_sender(void *arg)
{
	green_chan_t *ch = arg;
	struct big x;

	for (uint32_t i = 0; i < BIG_N; i++) {
		big_fill(&x, i);
		if (i % 8 == 0)
			green_yield();
		if (green_chan_send(ch, &x, -1) != 0)
			return (void *)(intptr_t)i + 1;
		/* the sender may reuse its buffer at once */
		memset(&x, 0xee, sizeof(x));
	}
	return NULL;
}

static void *
big_main(void *arg)
{
	size_t caps[] = { 0, 1, 8 };

	(void)arg;
	T_REQUIRE(sizeof(struct big) == 4096);
	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		green_chan_t *ch = mkchan(sizeof(struct big), caps[k]);
		green_task_t *t;
		struct big y;

		T_REQUIRE(ch != NULL);
		T_REQUIRE_INT_EQ(green_spawn(&t, NULL, big_sender, ch), 0);
		for (uint32_t i = 0; i < BIG_N; i++) {
			memset(&y, 0, sizeof(y));
			if (i % 5 == 0)
				green_sleep(green_now() + GREEN_USEC(100));
			T_CHECK_INT_EQ(green_chan_recv(ch, &y, -1), 0);
			T_CHECK_INT_EQ(big_bad(&y, i), 0);
		}
		T_CHECK_INT_EQ(join_int(t), 0);
		T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	}
	return NULL;
}

START_TEST(test_green_chan_send_large_elements_copied_intact)
{
	run_in_task(big_main, NULL);
}
END_TEST

#define THREAD_N 1000

/* A plain thread sends 1..THREAD_N; returns the first error. */
static void *
thread_counter_sender(void *arg)
{
	green_chan_t *ch = arg;

	for (int64_t v = 1; v <= THREAD_N; v++) {
		int r = green_chan_send(ch, &v, -1);
		if (r != 0)
			return (void *)(intptr_t)r;
	}
	return NULL;
}

static void *
task_counter_receiver(void *arg)
{
	green_chan_t *ch = arg;
	int64_t v;

	for (int64_t want = 1; want <= THREAD_N; want++) {
		T_REQUIRE_INT_EQ(green_chan_recv(ch, &v, -1), 0);
		T_REQUIRE_INT_EQ(v, want);
	}
	return NULL;
}

static void *
task_counter_sender(void *arg)
{
	return thread_counter_sender(arg);
}

START_TEST(test_green_chan_send_between_pthread_and_task)
{
	size_t caps[] = { 0, 4 };

	for (size_t k = 0; k < 2; k++) {
		green_chan_t *ch;
		green_task_t *t;
		pthread_t th;
		int64_t v;

		ck_assert_int_eq(green_chan_create(&ch, I64, caps[k]), 0);
		/* thread -> task */
		ck_assert_int_eq(
			pthread_create(&th, NULL, thread_counter_sender, ch),
			0);
		run_in_task(task_counter_receiver, ch);
		ck_assert_int_eq(pjoin_int(th), 0);
		/* task -> this thread, which blocks in each recv */
		ck_assert_int_eq(green_spawn(&t, NULL, task_counter_sender, ch),
				 0);
		for (int64_t want = 1; want <= THREAD_N; want++) {
			ck_assert_int_eq(green_chan_recv(ch, &v, -1), 0);
			ck_assert_int_eq(v, want);
		}
		ck_assert_int_eq(join_int(t), 0);
		ck_assert_int_eq(green_chan_destroy(ch), 0);
	}
}
END_TEST

START_TEST(test_green_chan_send_pthread_blocks_until_task_receives)
{
	green_chan_t *ch;
	struct op o;
	pthread_t th;
	int64_t v = 0;

	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	op_init(&o, ch, 31, -1);
	ck_assert_int_eq(pthread_create(&th, NULL, send_op, &o), 0);
	settle(&o);
	ck_assert_int_eq(atomic_load(&o.done), 0);
	ck_assert_int_eq(green_chan_recv(ch, &v, -1), 0);
	ck_assert_int_eq(v, 31);
	ck_assert_int_eq(pjoin_int(th), 0);
	/* and a thread's send times out */
	op_init(&o, ch, 32, green_now() + SHORT);
	ck_assert_int_eq(pthread_create(&th, NULL, send_op, &o), 0);
	ck_assert_int_eq(pjoin_int(th), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_recv(ch, &v, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

/* --- without a runtime: plain threads only ------------------------------ */

struct pingpong {
	green_chan_t *ping, *pong;
};

static void *
pong_thread(void *arg)
{
	struct pingpong *p = arg;
	int64_t v;
	int r;

	/* echo v + 1 until ping is closed */
	while ((r = green_chan_recv(p->ping, &v, -1)) == 0) {
		v++;
		r = green_chan_send(p->pong, &v, -1);
		if (r != 0)
			break;
	}
	return (void *)(intptr_t)(r == -EPIPE ? 0 : r);
}

START_TEST(test_green_chan_send_pthreads_without_runtime)
{
	size_t caps[] = { 0, 2 };

	/* the fixture started no runtime */
	ck_assert_int_eq(green_shutdown(), -EPERM);
	for (size_t k = 0; k < 2; k++) {
		struct pingpong p;
		struct op o;
		pthread_t th;
		int64_t v, deadline;

		ck_assert_int_eq(green_chan_create(&p.ping, I64, caps[k]), 0);
		ck_assert_int_eq(green_chan_create(&p.pong, I64, caps[k]), 0);
		ck_assert_int_eq(pthread_create(&th, NULL, pong_thread, &p), 0);
		for (int64_t i = 0; i < 1000; i++) {
			v = i * 10;
			ck_assert_int_eq(green_chan_send(p.ping, &v, -1), 0);
			ck_assert_int_eq(green_chan_recv(p.pong, &v, -1), 0);
			ck_assert_int_eq(v, i * 10 + 1);
		}
		ck_assert_int_eq(green_chan_close(p.ping), 0);
		ck_assert_int_eq(pjoin_int(th), 0);

		/* deadlines and a close waking a blocked thread */
		deadline = green_now() + SHORT;
		ck_assert_int_eq(green_chan_recv(p.pong, &v, deadline),
				 -ETIMEDOUT);
		ck_assert_int_ge(green_now(), deadline);
		op_init(&o, p.pong, 0, -1);
		ck_assert_int_eq(pthread_create(&th, NULL, recv_op, &o), 0);
		settle(&o);
		ck_assert_int_eq(green_chan_close(p.pong), 0);
		ck_assert_int_eq(pjoin_int(th), -EPIPE);

		ck_assert_int_eq(green_chan_destroy(p.ping), 0);
		ck_assert_int_eq(green_chan_destroy(p.pong), 0);
	}
}
END_TEST

/* --- green_chan_recv --------------------------------------------------- */

static void *
recv_blocks_main(void *arg)
{
	size_t caps[] = { 0, 3 };

	(void)arg;
	for (size_t k = 0; k < 2; k++) {
		green_chan_t *ch = mkchan(I64, caps[k]);
		green_task_t *t;
		struct op o;
		int64_t v = 55;

		T_REQUIRE(ch != NULL);
		op_init(&o, ch, 0, -1);
		T_REQUIRE((t = spawn_op(recv_op, &o)) != NULL);
		settle(&o);
		T_CHECK_INT_EQ(atomic_load(&o.done), 0);
		pause_ns(SETTLE);
		T_CHECK_INT_EQ(atomic_load(&o.done), 0);
		T_CHECK_INT_EQ(green_chan_send(ch, &v, -1), 0);
		T_CHECK_INT_EQ(join_int(t), 0);
		T_CHECK_INT_EQ(o.got, 55);
		/* handed over, not left in the buffer */
		T_CHECK_INT_EQ(green_chan_len(ch), 0);
		T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	}
	return NULL;
}

START_TEST(test_green_chan_recv_empty_blocks_until_sent)
{
	run_in_task(recv_blocks_main, NULL);
}
END_TEST

static void *
fifo_main(void *arg)
{
	green_chan_t *ch = mkchan(I64, 16);
	int64_t v;

	(void)arg;
	T_REQUIRE(ch != NULL);
	/* wrap around the ring a few times, at varying fill levels */
	for (int64_t round = 0, next = 0, want = 0; round < 50; round++) {
		int64_t n = 1 + round % 16;
		for (int64_t i = 0; i < n; i++, next++)
			T_REQUIRE_INT_EQ(green_chan_send(ch, &next, 0), 0);
		for (int64_t i = 0; i < n; i++, want++) {
			T_REQUIRE_INT_EQ(green_chan_recv(ch, &v, 0), 0);
			T_REQUIRE_INT_EQ(v, want);
		}
	}
	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	return NULL;
}

START_TEST(test_green_chan_recv_buffered_fifo_order)
{
	run_in_task(fifo_main, NULL);
}
END_TEST

#define SEQ_N 2000

static void *
seq_sender(void *arg)
{
	green_chan_t *ch = arg;

	for (int64_t v = 0; v < SEQ_N; v++) {
		int r = green_chan_send(ch, &v, -1);
		if (r != 0)
			return (void *)(intptr_t)r;
	}
	return NULL;
}

#define BLOCKED_SENDERS 5

static void *
fifo_blocked_main(void *arg)
{
	green_chan_t *ch = mkchan(I64, 4);
	green_task_t *t, *h[BLOCKED_SENDERS];
	struct op o[BLOCKED_SENDERS];
	int64_t v;

	(void)arg;
	T_REQUIRE(ch != NULL);
	/* one sender that keeps blocking on the full buffer: a slow
	 * receiver still sees its values in order */
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, seq_sender, ch), 0);
	for (int64_t want = 0; want < SEQ_N; want++) {
		if (want % 100 == 0)
			green_sleep(green_now() + GREEN_USEC(500));
		else if (want % 3 == 0)
			green_yield();
		T_REQUIRE_INT_EQ(green_chan_recv(ch, &v, -1), 0);
		T_REQUIRE_INT_EQ(v, want);
	}
	T_CHECK_INT_EQ(join_int(t), 0);

	/* several senders blocked on a full buffer, one after the other:
	 * the buffered values come first, then theirs in arrival order */
	for (v = 0; v < 4; v++)
		T_REQUIRE_INT_EQ(green_chan_send(ch, &v, 0), 0);
	for (int i = 0; i < BLOCKED_SENDERS; i++) {
		op_init(&o[i], ch, 4 + i, -1);
		T_REQUIRE((h[i] = spawn_op(send_op, &o[i])) != NULL);
		settle(&o[i]);
	}
	for (int64_t want = 0; want < 4 + BLOCKED_SENDERS; want++) {
		T_CHECK_INT_EQ(green_chan_recv(ch, &v, -1), 0);
		T_CHECK_INT_EQ(v, want);
	}
	for (int i = 0; i < BLOCKED_SENDERS; i++)
		T_CHECK_INT_EQ(join_int(h[i]), 0);
	T_CHECK_INT_EQ(green_chan_len(ch), 0);
	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	return NULL;
}

START_TEST(test_green_chan_recv_fifo_with_blocked_senders)
{
	run_in_task(fifo_blocked_main, NULL);
}
END_TEST

static void *
recv_null_main(void *arg)
{
	green_chan_t *b = mkchan(I64, 4), *u = mkchan(I64, 0);
	green_task_t *t;
	struct op o;
	int64_t v;

	(void)arg;
	T_REQUIRE(b != NULL && u != NULL);
	for (v = 1; v <= 3; v++)
		T_CHECK_INT_EQ(green_chan_send(b, &v, 0), 0);
	/* the first value is taken and dropped */
	T_CHECK_INT_EQ(green_chan_recv(b, NULL, 0), 0);
	T_CHECK_INT_EQ(green_chan_len(b), 2);
	T_CHECK_INT_EQ(green_chan_recv(b, &v, 0), 0);
	T_CHECK_INT_EQ(v, 2);
	T_CHECK_INT_EQ(green_chan_recv(b, NULL, -1), 0);
	T_CHECK_INT_EQ(green_chan_recv(b, NULL, 0), -ETIMEDOUT);
	/* unbuffered: a blocked sender completes */
	op_init(&o, u, 9, -1);
	T_REQUIRE((t = spawn_op(send_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_chan_recv(u, NULL, -1), 0);
	T_CHECK_INT_EQ(join_int(t), 0);
	/* and a blocked NULL receiver takes a value */
	op_init(&o, u, 0, -1);
	T_REQUIRE((t = spawn_op(recv_op, &o)) != NULL);
	T_CHECK_INT_EQ(green_chan_send(u, &(int64_t){ 4 }, -1), 0);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	T_CHECK_INT_EQ(green_chan_destroy(u), 0);
	return NULL;
}

START_TEST(test_green_chan_recv_null_elem_discards)
{
	run_in_task(recv_null_main, NULL);
}
END_TEST

START_TEST(test_green_chan_recv_null_returns_einval)
{
	int64_t v;

	ck_assert_int_eq(green_chan_recv(NULL, &v, -1), -EINVAL);
	ck_assert_int_eq(green_chan_recv(NULL, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(test_green_chan_recv_deadline_zero_empty_returns_etimedout)
{
	green_chan_t *u, *b;
	int64_t v = 17;

	ck_assert_int_eq(green_chan_create(&u, I64, 0), 0);
	ck_assert_int_eq(green_chan_create(&b, I64, 2), 0);
	ck_assert_int_eq(green_chan_recv(u, &v, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_recv(b, &v, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_recv(b, NULL, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_destroy(u), 0);
	ck_assert_int_eq(green_chan_destroy(b), 0);
}
END_TEST

static void *
recv_deadline_main(void *arg)
{
	size_t caps[] = { 0, 2 };

	(void)arg;
	for (size_t k = 0; k < 2; k++) {
		green_chan_t *ch = mkchan(I64, caps[k]);
		int64_t v, deadline;

		T_REQUIRE(ch != NULL);
		deadline = green_now() + SHORT;
		T_CHECK_INT_EQ(green_chan_recv(ch, &v, deadline), -ETIMEDOUT);
		T_CHECK(green_now() >= deadline);
		T_CHECK(green_now() < deadline + LATE_MAX);
		/* the timed-out receiver is gone: it takes nothing later */
		if (caps[k] > 0) {
			v = 3;
			T_CHECK_INT_EQ(green_chan_send(ch, &v, 0), 0);
			T_CHECK_INT_EQ(green_chan_len(ch), 1);
		} else {
			T_CHECK_INT_EQ(green_chan_send(ch, &v, 0), -ETIMEDOUT);
		}
		T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	}
	return NULL;
}

START_TEST(test_green_chan_recv_deadline_expires_returns_etimedout)
{
	green_chan_t *ch;
	int64_t v, deadline;

	run_in_task(recv_deadline_main, NULL);
	/* from a plain thread */
	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_chan_recv(ch, &v, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_chan_send(ch, &v, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

static void *
recv_cancel_main(void *arg)
{
	green_chan_t *ch = mkchan(I64, 2);
	green_task_t *t;
	struct op o;
	int64_t v = 6;

	(void)arg;
	T_REQUIRE(ch != NULL);
	op_init(&o, ch, 0, -1);
	T_REQUIRE((t = spawn_op(recv_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	/* its waiter is gone: a value sent now stays in the buffer */
	T_CHECK_INT_EQ(green_chan_send(ch, &v, 0), 0);
	T_CHECK_INT_EQ(green_chan_len(ch), 1);
	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	return NULL;
}

START_TEST(test_green_chan_recv_cancelled_while_blocked_returns_ecanceled)
{
	run_in_task(recv_cancel_main, NULL);
}
END_TEST

/* A task that sleeps a little, then sends 123. */
static void *
late_sender(void *arg)
{
	int64_t v = 123;

	green_sleep(green_now() + SETTLE);
	return (void *)(intptr_t)green_chan_send(arg, &v, -1);
}

START_TEST(test_green_chan_recv_pthread_blocks_until_task_sends)
{
	size_t caps[] = { 0, 1 };

	for (size_t k = 0; k < 2; k++) {
		green_chan_t *ch;
		green_task_t *t;
		int64_t v = 0;

		ck_assert_int_eq(green_chan_create(&ch, I64, caps[k]), 0);
		ck_assert_int_eq(green_spawn(&t, NULL, late_sender, ch), 0);
		/* this (non-task) thread blocks */
		ck_assert_int_eq(green_chan_recv(ch, &v, -1), 0);
		ck_assert_int_eq(v, 123);
		ck_assert_int_eq(join_int(t), 0);
		ck_assert_int_eq(green_chan_destroy(ch), 0);
	}
}
END_TEST

/* --- green_chan_close -------------------------------------------------- */

#define NWAITERS 4

static void *
close_receivers_main(void *arg)
{
	size_t caps[] = { 0, 3 };

	(void)arg;
	for (size_t k = 0; k < 2; k++) {
		green_chan_t *ch = mkchan(I64, caps[k]);
		green_task_t *h[NWAITERS];
		struct op o[NWAITERS];
		int64_t v;

		T_REQUIRE(ch != NULL);
		for (int i = 0; i < NWAITERS; i++) {
			op_init(&o[i], ch, 0, -1);
			T_REQUIRE((h[i] = spawn_op(recv_op, &o[i])) != NULL);
		}
		for (int i = 0; i < NWAITERS; i++)
			settle(&o[i]);
		T_CHECK_INT_EQ(green_chan_close(ch), 0);
		for (int i = 0; i < NWAITERS; i++)
			T_CHECK_INT_EQ(join_int(h[i]), -EPIPE);
		/* later receives fail at once */
		T_CHECK_INT_EQ(green_chan_recv(ch, &v, -1), -EPIPE);
		T_CHECK_INT_EQ(green_chan_recv(ch, NULL, 0), -EPIPE);
		T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	}
	return NULL;
}

START_TEST(test_green_chan_close_wakes_blocked_receivers_with_epipe)
{
	run_in_task(close_receivers_main, NULL);
}
END_TEST

static void *
close_senders_main(void *arg)
{
	size_t caps[] = { 0, 1 };

	(void)arg;
	for (size_t k = 0; k < 2; k++) {
		green_chan_t *ch = mkchan(I64, caps[k]);
		green_task_t *h[NWAITERS];
		struct op o[NWAITERS];
		int64_t v = 7;

		T_REQUIRE(ch != NULL);
		if (caps[k] > 0)
			T_CHECK_INT_EQ(green_chan_send(ch, &v, 0), 0);
		for (int i = 0; i < NWAITERS; i++) {
			op_init(&o[i], ch, 100 + i, -1);
			T_REQUIRE((h[i] = spawn_op(send_op, &o[i])) != NULL);
		}
		for (int i = 0; i < NWAITERS; i++)
			settle(&o[i]);
		T_CHECK_INT_EQ(green_chan_close(ch), 0);
		for (int i = 0; i < NWAITERS; i++)
			T_CHECK_INT_EQ(join_int(h[i]), -EPIPE);
		/* the buffered value survives, the blocked senders' values
		 * were not delivered */
		if (caps[k] > 0) {
			T_CHECK_INT_EQ(green_chan_len(ch), 1);
			T_CHECK_INT_EQ(green_chan_recv(ch, &v, 0), 0);
			T_CHECK_INT_EQ(v, 7);
		}
		T_CHECK_INT_EQ(green_chan_len(ch), 0);
		T_CHECK_INT_EQ(green_chan_recv(ch, &v, -1), -EPIPE);
		T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	}
	return NULL;
}

START_TEST(test_green_chan_close_wakes_blocked_senders_value_not_delivered)
{
	run_in_task(close_senders_main, NULL);
}
END_TEST

START_TEST(test_green_chan_close_receivers_drain_then_epipe)
{
	green_chan_t *ch;
	int64_t v;

	ck_assert_int_eq(green_chan_create(&ch, I64, 8), 0);
	/* start past the ring's beginning, so the drain wraps */
	for (v = 0; v < 6; v++)
		ck_assert_int_eq(green_chan_send(ch, &v, 0), 0);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(green_chan_recv(ch, NULL, 0), 0);
	for (v = 10; v < 15; v++)
		ck_assert_int_eq(green_chan_send(ch, &v, 0), 0);
	ck_assert_int_eq(green_chan_close(ch), 0);
	ck_assert_int_eq(green_chan_send(ch, &v, 0), -EPIPE);
	for (int64_t want = 10; want < 15; want++) {
		ck_assert_int_eq(green_chan_len(ch), 15 - want);
		ck_assert_int_eq(green_chan_recv(ch, &v, -1), 0);
		ck_assert_int_eq(v, want);
	}
	ck_assert_int_eq(green_chan_len(ch), 0);
	ck_assert_int_eq(green_chan_recv(ch, &v, -1), -EPIPE);
	ck_assert_int_eq(green_chan_recv(ch, &v, 0), -EPIPE);
	ck_assert_int_eq(green_chan_recv(ch, NULL, -1), -EPIPE);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

START_TEST(test_green_chan_close_twice_returns_epipe)
{
	green_chan_t *ch;

	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	ck_assert_int_eq(green_chan_close(ch), 0);
	ck_assert_int_eq(green_chan_close(ch), -EPIPE);
	ck_assert_int_eq(green_chan_close(ch), -EPIPE);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

START_TEST(test_green_chan_close_null_returns_einval)
{
	ck_assert_int_eq(green_chan_close(NULL), -EINVAL);
}
END_TEST

START_TEST(test_green_chan_close_wakes_blocked_pthreads_with_epipe)
{
	green_chan_t *ch;
	struct op r, s;
	pthread_t tr, ts;
	green_chan_t *ch2;

	/* a receiver thread on one channel, a sender thread on another,
	 * closed from a task-free thread */
	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	ck_assert_int_eq(green_chan_create(&ch2, I64, 0), 0);
	op_init(&r, ch, 0, -1);
	op_init(&s, ch2, 5, -1);
	ck_assert_int_eq(pthread_create(&tr, NULL, recv_op, &r), 0);
	ck_assert_int_eq(pthread_create(&ts, NULL, send_op, &s), 0);
	settle(&r);
	settle(&s);
	ck_assert_int_eq(green_chan_close(ch), 0);
	ck_assert_int_eq(green_chan_close(ch2), 0);
	ck_assert_int_eq(pjoin_int(tr), -EPIPE);
	ck_assert_int_eq(pjoin_int(ts), -EPIPE);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
	ck_assert_int_eq(green_chan_destroy(ch2), 0);
}
END_TEST

/* --- green_chan_destroy ------------------------------------------------ */

struct sel_op {
	green_case_t c[2];
	int64_t a, b;
	atomic_int started;
	int64_t deadline;
};

static void *
select2_op(void *arg)
{
	struct sel_op *s = arg;

	atomic_store(&s->started, 1);
	return (void *)(intptr_t)green_select(s->c, 2, s->deadline);
}

static void
sel_op_init(struct sel_op *s, green_chan_t *x, green_chan_t *y,
	    int64_t deadline)
{
	memset(s->c, 0, sizeof(s->c));
	s->a = s->b = -1;
	s->c[0] =
		(green_case_t){ .kind = GREEN_RECV, .chan = x, .elem = &s->a };
	s->c[1] =
		(green_case_t){ .kind = GREEN_RECV, .chan = y, .elem = &s->b };
	s->c[0].result = s->c[1].result = 12345;
	atomic_store(&s->started, 0);
	s->deadline = deadline;
}

static void *
destroy_busy_main(void *arg)
{
	green_chan_t *ch = mkchan(I64, 0), *ch2 = mkchan(I64, 1);
	green_task_t *t;
	struct sel_op s;
	struct op o;
	int64_t v = 1;

	(void)arg;
	T_REQUIRE(ch != NULL && ch2 != NULL);
	/* a blocked receiver */
	op_init(&o, ch, 0, -1);
	T_REQUIRE((t = spawn_op(recv_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_chan_destroy(ch), -EBUSY);
	/* nothing was destroyed: the channel still works */
	T_CHECK_INT_EQ(green_chan_send(ch, &(int64_t){ 5 }, -1), 0);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(o.got, 5);

	/* a blocked sender */
	op_init(&o, ch, 6, -1);
	T_REQUIRE((t = spawn_op(send_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_chan_destroy(ch), -EBUSY);
	T_CHECK_INT_EQ(green_chan_recv(ch, &v, -1), 0);
	T_CHECK_INT_EQ(v, 6);
	T_CHECK_INT_EQ(join_int(t), 0);

	/* a blocked select on both channels */
	sel_op_init(&s, ch, ch2, -1);
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, select2_op, &s), 0);
	wait_flag(&s.started, GREEN_SEC(10));
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(green_chan_destroy(ch), -EBUSY);
	T_CHECK_INT_EQ(green_chan_destroy(ch2), -EBUSY);
	T_CHECK_INT_EQ(green_chan_send(ch2, &(int64_t){ 8 }, -1), 0);
	T_CHECK_INT_EQ(join_int(t), 1);
	T_CHECK_INT_EQ(s.b, 8);

	/* the waiters have left */
	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	T_CHECK_INT_EQ(green_chan_destroy(ch2), 0);
	return NULL;
}

START_TEST(test_green_chan_destroy_blocked_waiter_returns_ebusy)
{
	green_chan_t *ch;
	struct op o;
	pthread_t th;

	run_in_task(destroy_busy_main, NULL);
	/* a blocked plain thread */
	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	op_init(&o, ch, 0, -1);
	ck_assert_int_eq(pthread_create(&th, NULL, recv_op, &o), 0);
	settle(&o);
	ck_assert_int_eq(green_chan_destroy(ch), -EBUSY);
	ck_assert_int_eq(green_chan_send(ch, &(int64_t){ 9 }, -1), 0);
	ck_assert_int_eq(pjoin_int(th), 0);
	ck_assert_int_eq(o.got, 9);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

START_TEST(test_green_chan_destroy_with_buffered_values_returns_zero)
{
	green_chan_t *ch;
	int64_t v;

	ck_assert_int_eq(green_chan_create(&ch, I64, 4), 0);
	for (v = 0; v < 3; v++)
		ck_assert_int_eq(green_chan_send(ch, &v, 0), 0);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
	/* closed with values left */
	ck_assert_int_eq(green_chan_create(&ch, I64, 4), 0);
	ck_assert_int_eq(green_chan_send(ch, &v, 0), 0);
	ck_assert_int_eq(green_chan_close(ch), 0);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

START_TEST(test_green_chan_destroy_null_returns_einval)
{
	ck_assert_int_eq(green_chan_destroy(NULL), -EINVAL);
}
END_TEST

/* --- green_chan_len, green_chan_cap ------------------------------------ */

START_TEST(test_green_chan_len_counts_buffered_values)
{
	green_chan_t *u, *b;
	int64_t v = 0;

	ck_assert_int_eq(green_chan_create(&u, I64, 0), 0);
	ck_assert_int_eq(green_chan_create(&b, I64, 5), 0);
	ck_assert_int_eq(green_chan_len(u), 0);
	ck_assert_int_eq(green_chan_len(b), 0);
	for (int i = 1; i <= 5; i++) {
		ck_assert_int_eq(green_chan_send(b, &v, 0), 0);
		ck_assert_int_eq(green_chan_len(b), i);
	}
	ck_assert_int_eq(green_chan_send(b, &v, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_len(b), 5);
	for (int i = 4; i >= 0; i--) {
		ck_assert_int_eq(green_chan_recv(b, &v, 0), 0);
		ck_assert_int_eq(green_chan_len(b), i);
	}
	ck_assert_int_eq(green_chan_destroy(u), 0);
	ck_assert_int_eq(green_chan_destroy(b), 0);
}
END_TEST

START_TEST(test_green_chan_len_null_returns_einval)
{
	ck_assert_int_eq(green_chan_len(NULL), -EINVAL);
}
END_TEST

START_TEST(test_green_chan_cap_returns_capacity)
{
	size_t caps[] = { 0, 1, 7, 1000 };

	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		green_chan_t *ch;
		int64_t v = 0;

		ck_assert_int_eq(green_chan_create(&ch, I64, caps[k]), 0);
		ck_assert_int_eq(green_chan_cap(ch), (ssize_t)caps[k]);
		if (caps[k] > 0)
			ck_assert_int_eq(green_chan_send(ch, &v, 0), 0);
		ck_assert_int_eq(green_chan_cap(ch), (ssize_t)caps[k]);
		ck_assert_int_eq(green_chan_close(ch), 0);
		ck_assert_int_eq(green_chan_cap(ch), (ssize_t)caps[k]);
		ck_assert_int_eq(green_chan_destroy(ch), 0);
	}
}
END_TEST

START_TEST(test_green_chan_cap_null_returns_einval)
{
	ck_assert_int_eq(green_chan_cap(NULL), -EINVAL);
}
END_TEST

/* --- green_select ------------------------------------------------------ */

static green_case_t
rcase(green_chan_t *ch, void *elem)
{
	return (green_case_t){
		.kind = GREEN_RECV, .chan = ch, .elem = elem, .result = 12345
	};
}

static green_case_t
scase(green_chan_t *ch, void *elem)
{
	return (green_case_t){
		.kind = GREEN_SEND, .chan = ch, .elem = elem, .result = 12345
	};
}

static void *
select_index_main(void *arg)
{
	green_chan_t *a = mkchan(I64, 1), *b = mkchan(I64, 1),
		     *c = mkchan(I64, 1);
	int64_t x = -1, y = -1, z = -1;
	green_case_t cs[3];

	(void)arg;
	T_REQUIRE(a != NULL && b != NULL && c != NULL);
	T_CHECK_INT_EQ(green_chan_send(b, &(int64_t){ 21 }, 0), 0);
	cs[0] = rcase(a, &x);
	cs[1] = rcase(b, &y);
	cs[2] = rcase(c, &z);
	T_CHECK_INT_EQ(green_select(cs, 3, -1), 1);
	T_CHECK_INT_EQ(cs[1].result, 0);
	T_CHECK_INT_EQ(y, 21);
	/* only that case was performed */
	T_CHECK_INT_EQ(x, -1);
	T_CHECK_INT_EQ(z, -1);
	T_CHECK_INT_EQ(green_chan_len(b), 0);

	/* a send case: performs exactly that send */
	T_CHECK_INT_EQ(green_chan_send(a, &(int64_t){ 1 }, 0), 0);
	T_CHECK_INT_EQ(green_chan_send(b, &(int64_t){ 2 }, 0), 0);
	x = 31;
	y = 32;
	z = 33;
	cs[0] = scase(a, &x);
	cs[1] = scase(b, &y);
	cs[2] = scase(c, &z);
	T_CHECK_INT_EQ(green_select(cs, 3, 0), 2);
	T_CHECK_INT_EQ(cs[2].result, 0);
	T_CHECK_INT_EQ(green_chan_len(a), 1);
	T_CHECK_INT_EQ(green_chan_len(b), 1);
	T_CHECK_INT_EQ(green_chan_len(c), 1);
	T_CHECK_INT_EQ(green_chan_recv(c, &z, 0), 0);
	T_CHECK_INT_EQ(z, 33);

	T_CHECK_INT_EQ(green_chan_destroy(a), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	T_CHECK_INT_EQ(green_chan_destroy(c), 0);
	return NULL;
}

START_TEST(test_green_select_ready_case_returns_index_and_result)
{
	run_in_task(select_index_main, NULL);
}
END_TEST

#define UNI_CASES 4
#define UNI_ROUNDS TEST_SCALE(100000)
/* chi-square, 3 degrees of freedom, p = 0.001 */
#define UNI_CHI2_MAX 16.27

struct uniform {
	long count[UNI_CASES];
	double chi2;
};

static void *
select_uniform_main(void *arg)
{
	struct uniform *u = arg;
	green_chan_t *ch[UNI_CASES];
	green_case_t cs[UNI_CASES];
	int64_t v[UNI_CASES];
	double e = (double)UNI_ROUNDS / UNI_CASES;

	for (int i = 0; i < UNI_CASES; i++) {
		T_REQUIRE((ch[i] = mkchan(I64, 1)) != NULL);
		T_REQUIRE_INT_EQ(green_chan_send(ch[i], &(int64_t){ i }, 0), 0);
	}
	for (int k = 0; k < UNI_ROUNDS; k++) {
		int r;

		for (int i = 0; i < UNI_CASES; i++)
			cs[i] = rcase(ch[i], &v[i]);
		r = green_select(cs, UNI_CASES, 0);
		T_REQUIRE(r >= 0 && r < UNI_CASES);
		T_REQUIRE_INT_EQ(cs[r].result, 0);
		T_REQUIRE_INT_EQ(v[r], r);
		u->count[r]++;
		/* refill: all cases stay ready */
		T_REQUIRE_INT_EQ(green_chan_send(ch[r], &(int64_t){ r }, 0), 0);
	}
	u->chi2 = 0;
	for (int i = 0; i < UNI_CASES; i++)
		u->chi2 += (u->count[i] - e) * (u->count[i] - e) / e;
	for (int i = 0; i < UNI_CASES; i++)
		T_CHECK_INT_EQ(green_chan_destroy(ch[i]), 0);
	return NULL;
}

START_TEST(test_green_select_uniform_among_ready_cases)
{
	struct uniform u = { { 0 }, 0 };

	run_in_task(select_uniform_main, &u);
	ck_assert_msg(u.chi2 < UNI_CHI2_MAX,
		      "not uniform: counts %ld %ld %ld %ld, chi-square %.2f",
		      u.count[0], u.count[1], u.count[2], u.count[3], u.chi2);
}
END_TEST

static void *
select_poll_main(void *arg)
{
	green_chan_t *a = mkchan(I64, 0), *b = mkchan(I64, 1);
	int64_t x = -1, y = -1, t0;
	green_case_t cs[2];

	(void)arg;
	T_REQUIRE(a != NULL && b != NULL);
	/* none ready */
	cs[0] = rcase(a, &x);
	cs[1] = rcase(b, &y);
	t0 = green_now();
	T_CHECK_INT_EQ(green_select(cs, 2, 0), -ETIMEDOUT);
	T_CHECK(green_now() - t0 < LATE_MAX);
	T_CHECK_INT_EQ(x, -1);
	T_CHECK_INT_EQ(y, -1);
	/* an unbuffered send with no receiver is not ready either */
	cs[0] = scase(a, &x);
	T_CHECK_INT_EQ(green_select(cs, 2, 0), -ETIMEDOUT);
	/* one ready */
	T_CHECK_INT_EQ(green_chan_send(b, &(int64_t){ 4 }, 0), 0);
	T_CHECK_INT_EQ(green_select(cs, 2, 0), 1);
	T_CHECK_INT_EQ(cs[1].result, 0);
	T_CHECK_INT_EQ(y, 4);
	T_CHECK_INT_EQ(green_select(cs, 2, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_destroy(a), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	return NULL;
}

#define NBLOCKED 4

struct blocked_sel {
	green_chan_t *ch[NBLOCKED];
	green_case_t cs[NBLOCKED];
	int64_t v[NBLOCKED];
	atomic_int started;
};

static void *
blocked_sel_op(void *arg)
{
	struct blocked_sel *b = arg;

	atomic_store(&b->started, 1);
	return (void *)(intptr_t)green_select(b->cs, NBLOCKED, -1);
}

/* A blocked select woken through case i, for each i: it returns i and
 * sets cases[i].result, for receive and for send cases. */
static void *
select_blocked_index_main(void *arg)
{
	static struct blocked_sel b;

	(void)arg;
	for (int send = 0; send < 2; send++) {
		for (int i = 0; i < NBLOCKED; i++) {
			green_task_t *t;
			int64_t x = -1;

			memset(&b, 0, sizeof(b));
			for (int j = 0; j < NBLOCKED; j++) {
				T_REQUIRE((b.ch[j] = mkchan(I64, 0)) != NULL);
				b.v[j] = send ? 500 + j : -1;
				b.cs[j] = send ? scase(b.ch[j], &b.v[j])
					       : rcase(b.ch[j], &b.v[j]);
			}
			T_REQUIRE_INT_EQ(
				green_spawn(&t, NULL, blocked_sel_op, &b), 0);
			wait_flag(&b.started, GREEN_SEC(10));
			pause_ns(SETTLE);
			if (send) {
				T_CHECK_INT_EQ(green_chan_recv(b.ch[i], &x, -1),
					       0);
				T_CHECK_INT_EQ(x, 500 + i);
			} else {
				x = 600 + i;
				T_CHECK_INT_EQ(green_chan_send(b.ch[i], &x, -1),
					       0);
			}
			T_CHECK_INT_EQ(join_int(t), i);
			for (int j = 0; j < NBLOCKED; j++) {
				T_CHECK_INT_EQ(b.cs[j].result,
					       (j == i ? 0 : 12345));
				if (!send)
					T_CHECK_INT_EQ(b.v[j],
						       (j == i ? 600 + i : -1));
				T_CHECK_INT_EQ(green_chan_destroy(b.ch[j]), 0);
			}
		}
	}
	return NULL;
}

START_TEST(test_green_select_blocked_woken_by_any_case_sets_result)
{
	run_in_task(select_blocked_index_main, NULL);
}
END_TEST

/*
 * Two senders, on two workers, race for one blocked select with a receive
 * case on each of their channels: exactly one case is performed.  The
 * loser's value is not delivered (its sender stays blocked until we take
 * it) and the other case's buffer is left alone.  Large elements make the
 * window of a copy that races a claim wide.
 */
#define RACE_ROUNDS TEST_SCALE(5000)
#define RACE_ELEM 16384

struct race_elem {
	int64_t v;
	char pad[RACE_ELEM - sizeof(int64_t)];
};

static struct {
	green_case_t c[2];
	struct race_elem in[2];	 /* the select's receive buffers */
	struct race_elem out[2]; /* the senders' values */
	atomic_int started;
	atomic_int ready;
	atomic_int go;
} race;

static void *
race_select(void *arg)
{
	(void)arg;
	atomic_store(&race.started, 1);
	return (void *)(intptr_t)green_select(race.c, 2, -1);
}

static void *
race_sender(void *arg)
{
	int i = (int)(intptr_t)arg;

	atomic_fetch_add(&race.ready, 1);
	/* yield while waiting: a spinning task would keep its worker from
	 * the others (no preemption) */
	while (atomic_load(&race.go) == 0)
		green_yield();
	return (void *)(intptr_t)green_chan_send(race.c[i].chan, &race.out[i],
						 -1);
}

static void *
select_race_main(void *arg)
{
	/* counted, not checked one by one: every kind of failure shows */
	int wins[2] = { 0 }, clobbered = 0, bad_result = 0, bad_value = 0;
	static struct race_elem tmp;

	(void)arg;
	for (int k = 0; k < RACE_ROUNDS; k++) {
		green_chan_t *ch[2];
		green_task_t *ts, *tx[2];
		int idx, other;

		for (int i = 0; i < 2; i++) {
			T_REQUIRE((ch[i] = mkchan(RACE_ELEM, 0)) != NULL);
			memset(&race.in[i], 0, RACE_ELEM);
			race.in[i].v = -1;
			memset(&race.out[i], 'a' + i, RACE_ELEM);
			race.out[i].v = 2 * k + i;
			race.c[i] = rcase(ch[i], &race.in[i]);
		}
		atomic_store(&race.started, 0);
		atomic_store(&race.ready, 0);
		atomic_store(&race.go, 0);
		T_REQUIRE_INT_EQ(green_spawn(&ts, NULL, race_select, NULL), 0);
		wait_flag(&race.started, GREEN_SEC(10));
		green_yield();
		for (intptr_t i = 0; i < 2; i++)
			T_REQUIRE_INT_EQ(green_spawn(&tx[i], NULL, race_sender,
						     (void *)i),
					 0);
		while (atomic_load(&race.ready) < 2)
			green_sleep(green_now() + GREEN_USEC(50));
		atomic_store(&race.go, 1);
		idx = join_int(ts);
		T_REQUIRE(idx == 0 || idx == 1);
		other = 1 - idx;
		wins[idx]++;
		bad_result += race.c[idx].result != 0;
		bad_value +=
			memcmp(&race.in[idx], &race.out[idx], RACE_ELEM) != 0;
		/* the other case was not performed */
		clobbered +=
			race.in[other].v != -1 || race.c[other].result != 12345;
		T_REQUIRE_INT_EQ(join_int(tx[idx]), 0);
		/* the losing sender still holds its value */
		T_REQUIRE_INT_EQ(green_chan_recv(ch[other], &tmp, -1), 0);
		T_REQUIRE(memcmp(&tmp, &race.out[other], RACE_ELEM) == 0);
		T_REQUIRE_INT_EQ(join_int(tx[other]), 0);
		for (int i = 0; i < 2; i++)
			T_REQUIRE_INT_EQ(green_chan_destroy(ch[i]), 0);
	}
	T_CHECK_INT_EQ(clobbered, 0);
	T_CHECK_INT_EQ(bad_value, 0);
	T_CHECK_INT_EQ(bad_result, 0);
	if (getenv("CHECK_CHAN_TIMES") != NULL)
		fprintf(stderr,
			"race: wins %d/%d, clobbered %d, bad value %d, "
			"bad result %d\n",
			wins[0], wins[1], clobbered, bad_value, bad_result);
	return NULL;
}

START_TEST(test_green_select_two_wakers_race_one_case_performed)
{
	run_in_task(select_race_main, NULL);
}
END_TEST

START_TEST(test_green_select_deadline_zero_polls)
{
	green_chan_t *ch;
	green_case_t c;
	int64_t v;

	run_in_task(select_poll_main, NULL);
	/* from a plain thread */
	ck_assert_int_eq(green_chan_create(&ch, I64, 0), 0);
	c = rcase(ch, &v);
	ck_assert_int_eq(green_select(&c, 1, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

static void *
select_no_cases_main(void *arg)
{
	green_case_t unused;
	int64_t deadline;

	(void)arg;
	T_CHECK_INT_EQ(green_select(NULL, 0, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_select(&unused, 0, 0), -ETIMEDOUT);
	deadline = green_now() + SHORT;
	T_CHECK_INT_EQ(green_select(NULL, 0, deadline), -ETIMEDOUT);
	T_CHECK(green_now() >= deadline);
	T_CHECK(green_now() < deadline + LATE_MAX);
	return NULL;
}

START_TEST(test_green_select_no_cases_waits_until_deadline)
{
	int64_t deadline;

	run_in_task(select_no_cases_main, NULL);
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_select(NULL, 0, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
}
END_TEST

static void *
select_null_chan_main(void *arg)
{
	green_chan_t *ch = mkchan(I64, 1);
	int64_t v = 1, w = -1, deadline;
	green_case_t cs[3];
	green_task_t *t;

	(void)arg;
	T_REQUIRE(ch != NULL);
	/* only NULL channels: never ready */
	cs[0] = rcase(NULL, &w);
	cs[1] = scase(NULL, &v);
	cs[2] = scase(NULL, NULL);
	T_CHECK_INT_EQ(green_select(cs, 3, 0), -ETIMEDOUT);
	deadline = green_now() + SHORT;
	T_CHECK_INT_EQ(green_select(cs, 3, deadline), -ETIMEDOUT);
	T_CHECK(green_now() >= deadline);
	/* beside a ready case, always the ready one */
	for (int k = 0; k < 200; k++) {
		T_REQUIRE_INT_EQ(green_chan_send(ch, &(int64_t){ k }, 0), 0);
		cs[2] = rcase(ch, &w);
		T_REQUIRE_INT_EQ(green_select(cs, 3, -1), 2);
		T_REQUIRE_INT_EQ(w, k);
	}
	/* and while blocked */
	w = -1;
	T_REQUIRE((t = spawn_op(late_sender, ch)) != NULL);
	T_CHECK_INT_EQ(green_select(cs, 3, -1), 2);
	T_CHECK_INT_EQ(w, 123);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	return NULL;
}

START_TEST(test_green_select_null_channel_never_ready)
{
	run_in_task(select_null_chan_main, NULL);
}
END_TEST

static void *
select_same_chan_main(void *arg)
{
	green_chan_t *b = mkchan(I64, 1), *u = mkchan(I64, 0);
	int64_t v[3], deadline;
	int seen[3] = { 0 };
	green_case_t cs[3];
	struct sel_op s;
	green_task_t *t;
	int r;

	(void)arg;
	T_REQUIRE(b != NULL && u != NULL);
	/* one value, three cases on its channel: exactly one takes it */
	for (int k = 0; k < 300; k++) {
		T_REQUIRE_INT_EQ(green_chan_send(b, &(int64_t){ k }, 0), 0);
		for (int i = 0; i < 3; i++) {
			v[i] = -1;
			cs[i] = rcase(b, &v[i]);
		}
		r = green_select(cs, 3, -1);
		T_REQUIRE(r >= 0 && r < 3);
		T_REQUIRE_INT_EQ(v[r], k);
		T_REQUIRE_INT_EQ(v[(r + 1) % 3], -1);
		T_REQUIRE_INT_EQ(v[(r + 2) % 3], -1);
		T_REQUIRE_INT_EQ(green_chan_len(b), 0);
		seen[r]++;
	}
	T_CHECK(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);

	/* blocked with two cases on one channel: one value wakes it once
	 * and leaves no waiter behind */
	sel_op_init(&s, u, u, -1);
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, select2_op, &s), 0);
	wait_flag(&s.started, GREEN_SEC(10));
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(green_chan_send(u, &(int64_t){ 50 }, -1), 0);
	r = join_int(t);
	T_CHECK(r == 0 || r == 1);
	if (r == 0 || r == 1) {
		T_CHECK_INT_EQ(s.c[r].result, 0);
		T_CHECK_INT_EQ(r == 0 ? s.a : s.b, 50);
		T_CHECK_INT_EQ(r == 0 ? s.b : s.a, -1);
	}
	T_CHECK_INT_EQ(green_chan_send(u, &(int64_t){ 51 }, 0), -ETIMEDOUT);

	/* a send and a receive on one unbuffered channel: a select does
	 * not meet itself */
	v[0] = 5;
	cs[0] = scase(u, &v[0]);
	cs[1] = rcase(u, &v[1]);
	deadline = green_now() + SHORT;
	T_CHECK_INT_EQ(green_select(cs, 2, deadline), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_select(cs, 2, 0), -ETIMEDOUT);

	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	T_CHECK_INT_EQ(green_chan_destroy(u), 0);
	return NULL;
}

START_TEST(test_green_select_same_channel_in_several_cases)
{
	run_in_task(select_same_chan_main, NULL);
}
END_TEST

/* A select with one send case (on o->ch, sending o->val) and one receive
 * case on a channel nobody uses; returns the index. */
static void *
select_send_op(void *arg)
{
	struct op *o = arg;
	green_chan_t *idle = mkchan(I64, 0);
	int64_t sink = -1;
	green_case_t cs[2];
	int r;

	if (idle == NULL)
		return (void *)(intptr_t)-ENOMEM;
	cs[0] = rcase(idle, &sink);
	cs[1] = scase(o->ch, &o->val);
	atomic_store(&o->started, 1);
	r = green_select(cs, 2, o->deadline);
	if (r == 1)
		o->r = cs[1].result;
	T_CHECK_INT_EQ(sink, -1);
	T_CHECK_INT_EQ(green_chan_destroy(idle), 0);
	atomic_store(&o->done, 1);
	return (void *)(intptr_t)r;
}

/* The receiving counterpart: case 1 receives from o->ch into o->got. */
static void *
select_recv_op(void *arg)
{
	struct op *o = arg;
	green_chan_t *idle = mkchan(I64, 0);
	int64_t sink = -1;
	green_case_t cs[2];
	int r;

	if (idle == NULL)
		return (void *)(intptr_t)-ENOMEM;
	cs[0] = rcase(idle, &sink);
	cs[1] = rcase(o->ch, &o->got);
	atomic_store(&o->started, 1);
	r = green_select(cs, 2, o->deadline);
	if (r == 1)
		o->r = cs[1].result;
	T_CHECK_INT_EQ(sink, -1);
	T_CHECK_INT_EQ(green_chan_destroy(idle), 0);
	atomic_store(&o->done, 1);
	return (void *)(intptr_t)r;
}

static void *
select_send_main(void *arg)
{
	green_chan_t *u = mkchan(I64, 0);
	green_task_t *t;
	struct op o;
	int64_t v = -1;

	(void)arg;
	T_REQUIRE(u != NULL);
	/* a blocked select with a send case meets a plain receiver */
	op_init(&o, u, 61, -1);
	T_REQUIRE((t = spawn_op(select_send_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(atomic_load(&o.done), 0);
	T_CHECK_INT_EQ(green_chan_recv(u, &v, -1), 0);
	T_CHECK_INT_EQ(v, 61);
	T_CHECK_INT_EQ(join_int(t), 1);
	T_CHECK_INT_EQ(o.r, 0);
	/* a blocked receiver makes a send case ready */
	op_init(&o, u, 0, -1);
	T_REQUIRE((t = spawn_op(recv_op, &o)) != NULL);
	settle(&o);
	{
		green_case_t c = scase(u, &(int64_t){ 62 });
		T_CHECK_INT_EQ(green_select(&c, 1, 0), 0);
		T_CHECK_INT_EQ(c.result, 0);
	}
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(o.got, 62);
	T_CHECK_INT_EQ(green_chan_destroy(u), 0);
	return NULL;
}

START_TEST(test_green_select_send_cases_fire)
{
	run_in_task(select_send_main, NULL);
}
END_TEST

static void *
select_mixed_main(void *arg)
{
	green_chan_t *full = mkchan(I64, 1), *ready = mkchan(I64, 1),
		     *room = mkchan(I64, 1), *empty = mkchan(I64, 1),
		     *u1 = mkchan(I64, 0), *u2 = mkchan(I64, 0);
	int64_t x = 1, y = -1;
	int seen[2] = { 0 };
	green_case_t cs[2];
	green_task_t *t;
	struct op o;

	(void)arg;
	T_REQUIRE(full && ready && room && empty && u1 && u2);
	T_REQUIRE_INT_EQ(green_chan_send(full, &x, 0), 0);
	/* send not ready, receive ready */
	T_REQUIRE_INT_EQ(green_chan_send(ready, &(int64_t){ 2 }, 0), 0);
	cs[0] = scase(full, &x);
	cs[1] = rcase(ready, &y);
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 1);
	T_CHECK_INT_EQ(y, 2);
	T_CHECK_INT_EQ(green_chan_len(full), 1);
	/* send ready, receive not */
	x = 3;
	cs[0] = scase(room, &x);
	cs[1] = rcase(empty, &y);
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 0);
	T_CHECK_INT_EQ(green_chan_len(room), 1);
	T_CHECK_INT_EQ(green_chan_recv(room, &y, 0), 0);
	T_CHECK_INT_EQ(y, 3);
	/* both ready: either may fire, each performs only itself */
	for (int k = 0; k < 200; k++) {
		int r;

		T_REQUIRE_INT_EQ(green_chan_send(ready, &(int64_t){ k }, 0), 0);
		cs[0] = scase(room, &(int64_t){ k });
		cs[1] = rcase(ready, &y);
		r = green_select(cs, 2, -1);
		T_REQUIRE(r == 0 || r == 1);
		seen[r]++;
		T_REQUIRE_INT_EQ(green_chan_len(room), r == 0);
		T_REQUIRE_INT_EQ(green_chan_len(ready), r == 0);
		if (r == 0) {
			T_REQUIRE_INT_EQ(green_chan_recv(room, NULL, 0), 0);
			T_REQUIRE_INT_EQ(green_chan_recv(ready, NULL, 0), 0);
		}
	}
	T_CHECK(seen[0] > 0 && seen[1] > 0);
	/* blocked on a send case and a receive case: a sender arrives */
	T_REQUIRE((t = spawn_op(late_sender, u2)) != NULL);
	x = 71;
	y = -1;
	cs[0] = scase(u1, &x);
	cs[1] = rcase(u2, &y);
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 1);
	T_CHECK_INT_EQ(cs[1].result, 0);
	T_CHECK_INT_EQ(y, 123);
	T_CHECK_INT_EQ(join_int(t), 0);
	/* nothing went out on u1 */
	T_CHECK_INT_EQ(green_chan_recv(u1, &y, 0), -ETIMEDOUT);
	/* and a receiver arrives instead */
	op_init(&o, u1, 0, -1);
	T_REQUIRE((t = spawn_op(recv_op, &o)) != NULL);
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 0);
	T_CHECK_INT_EQ(cs[0].result, 0);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(o.got, 71);

	T_CHECK_INT_EQ(green_chan_destroy(full), 0);
	T_CHECK_INT_EQ(green_chan_destroy(ready), 0);
	T_CHECK_INT_EQ(green_chan_destroy(room), 0);
	T_CHECK_INT_EQ(green_chan_destroy(empty), 0);
	T_CHECK_INT_EQ(green_chan_destroy(u1), 0);
	T_CHECK_INT_EQ(green_chan_destroy(u2), 0);
	return NULL;
}

START_TEST(test_green_select_mixed_send_and_recv_cases)
{
	run_in_task(select_mixed_main, NULL);
}
END_TEST

static void *
select_closed_main(void *arg)
{
	green_chan_t *open = mkchan(I64, 0), *c = mkchan(I64, 2);
	int64_t x = -1, y = -1;
	green_case_t cs[2];

	(void)arg;
	T_REQUIRE(open != NULL && c != NULL);
	T_CHECK_INT_EQ(green_chan_send(c, &(int64_t){ 40 }, 0), 0);
	T_CHECK_INT_EQ(green_chan_close(c), 0);
	cs[0] = rcase(open, &x);
	cs[1] = rcase(c, &y);
	/* the buffered value first, with result 0 */
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 1);
	T_CHECK_INT_EQ(cs[1].result, 0);
	T_CHECK_INT_EQ(y, 40);
	/* then the drained closed channel fires with -EPIPE, blocking
	 * select or poll alike */
	cs[1].result = 12345;
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 1);
	T_CHECK_INT_EQ(cs[1].result, -EPIPE);
	cs[1].result = 12345;
	T_CHECK_INT_EQ(green_select(cs, 2, 0), 1);
	T_CHECK_INT_EQ(cs[1].result, -EPIPE);
	/* a send case on a closed channel fires with -EPIPE too */
	cs[1] = scase(c, &(int64_t){ 41 });
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 1);
	T_CHECK_INT_EQ(cs[1].result, -EPIPE);
	T_CHECK_INT_EQ(green_chan_len(c), 0);
	T_CHECK_INT_EQ(x, -1);
	T_CHECK_INT_EQ(green_chan_destroy(open), 0);
	T_CHECK_INT_EQ(green_chan_destroy(c), 0);
	return NULL;
}

START_TEST(test_green_select_closed_channel_fires_with_epipe)
{
	run_in_task(select_closed_main, NULL);
}
END_TEST

static void *
select_close_wakes_main(void *arg)
{
	green_chan_t *a = mkchan(I64, 0), *b = mkchan(I64, 3);
	green_task_t *t;
	struct sel_op s;

	(void)arg;
	T_REQUIRE(a != NULL && b != NULL);
	sel_op_init(&s, a, b, -1);
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, select2_op, &s), 0);
	wait_flag(&s.started, GREEN_SEC(10));
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(green_chan_close(b), 0);
	T_CHECK_INT_EQ(join_int(t), 1);
	T_CHECK_INT_EQ(s.c[1].result, -EPIPE);
	T_CHECK_INT_EQ(s.a, -1);
	/* its waiter on a is gone */
	T_CHECK_INT_EQ(green_chan_send(a, &(int64_t){ 1 }, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_destroy(a), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	return NULL;
}

START_TEST(test_green_select_close_wakes_blocked_select_with_epipe)
{
	run_in_task(select_close_wakes_main, NULL);
}
END_TEST

static void *
select_rendezvous_main(void *arg)
{
	(void)arg;
	/* round 0: the sending select blocks first; round 1: the
	 * receiving one */
	for (int round = 0; round < 2; round++) {
		green_chan_t *u = mkchan(I64, 0);
		struct op s, r;
		green_task_t *ts, *tr;

		T_REQUIRE(u != NULL);
		op_init(&s, u, 900 + round, -1);
		op_init(&r, u, 0, -1);
		if (round == 0) {
			T_REQUIRE((ts = spawn_op(select_send_op, &s)) != NULL);
			settle(&s);
			T_REQUIRE((tr = spawn_op(select_recv_op, &r)) != NULL);
		} else {
			T_REQUIRE((tr = spawn_op(select_recv_op, &r)) != NULL);
			settle(&r);
			T_REQUIRE((ts = spawn_op(select_send_op, &s)) != NULL);
		}
		T_CHECK_INT_EQ(join_int(ts), 1);
		T_CHECK_INT_EQ(join_int(tr), 1);
		T_CHECK_INT_EQ(s.r, 0);
		T_CHECK_INT_EQ(r.r, 0);
		T_CHECK_INT_EQ(r.got, 900 + round);
		T_CHECK_INT_EQ(green_chan_destroy(u), 0);
	}
	return NULL;
}

START_TEST(test_green_select_rendezvous_with_select)
{
	run_in_task(select_rendezvous_main, NULL);
}
END_TEST

START_TEST(test_green_select_unknown_kind_returns_einval)
{
	green_chan_t *ch;
	green_case_t cs[2];
	int64_t v;
	static const int kinds[] = { 0, 5, -1, 99 };

	ck_assert_int_eq(green_chan_create(&ch, I64, 1), 0);
	ck_assert_int_eq(green_chan_send(ch, &(int64_t){ 1 }, 0), 0);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cs[0] = rcase(ch, &v);
		cs[1] = rcase(ch, &v);
		cs[1].kind = kinds[i];
		ck_assert_int_eq(green_select(cs, 2, -1), -EINVAL);
		ck_assert_int_eq(green_select(&cs[1], 1, 0), -EINVAL);
	}
	ck_assert_int_eq(green_chan_len(ch), 1);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
}
END_TEST

START_TEST(test_green_select_null_cases_returns_einval)
{
	ck_assert_int_eq(green_select(NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(green_select(NULL, 3, -1), -EINVAL);
}
END_TEST

START_TEST(test_green_select_send_null_elem_returns_einval)
{
	green_chan_t *ch, *sig;
	green_case_t c;

	ck_assert_int_eq(green_chan_create(&ch, I64, 1), 0);
	c = scase(ch, NULL);
	ck_assert_int_eq(green_select(&c, 1, 0), -EINVAL);
	ck_assert_int_eq(green_select(&c, 1, -1), -EINVAL);
	ck_assert_int_eq(green_chan_len(ch), 0);
	/* fine on a zero-size channel */
	ck_assert_int_eq(green_chan_create(&sig, 0, 1), 0);
	c = scase(sig, NULL);
	ck_assert_int_eq(green_select(&c, 1, 0), 0);
	ck_assert_int_eq(c.result, 0);
	ck_assert_int_eq(green_chan_len(sig), 1);
	ck_assert_int_eq(green_chan_destroy(ch), 0);
	ck_assert_int_eq(green_chan_destroy(sig), 0);
}
END_TEST

#define MANY 100

struct many {
	green_chan_t *ch[MANY];
	green_case_t cs[MANY];
	int64_t v[MANY];
	atomic_int started;
};

static void *
many_select_op(void *arg)
{
	struct many *m = arg;

	for (int i = 0; i < MANY; i++) {
		m->v[i] = -1;
		m->cs[i] = rcase(m->ch[i], &m->v[i]);
	}
	atomic_store(&m->started, 1);
	return (void *)(intptr_t)green_select(m->cs, MANY, -1);
}

static void *
select_many_main(void *arg)
{
	static struct many m;
	green_task_t *t;
	int64_t v;

	(void)arg;
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < MANY; i++)
		T_REQUIRE((m.ch[i] = mkchan(I64, 1)) != NULL);
	/* poll: only one of them ready */
	T_REQUIRE_INT_EQ(green_chan_send(m.ch[42], &(int64_t){ 4200 }, 0), 0);
	for (int i = 0; i < MANY; i++) {
		m.v[i] = -1;
		m.cs[i] = rcase(m.ch[i], &m.v[i]);
	}
	T_CHECK_INT_EQ(green_select(m.cs, MANY, 0), 42);
	T_CHECK_INT_EQ(m.v[42], 4200);
	T_CHECK_INT_EQ(green_select(m.cs, MANY, 0), -ETIMEDOUT);
	/* send cases: all ready but the full ones */
	for (int i = 0; i < MANY; i++) {
		m.v[i] = i;
		m.cs[i] = scase(m.ch[i], &m.v[i]);
		if (i != 99)
			T_REQUIRE_INT_EQ(green_chan_send(m.ch[i], &v, 0), 0);
	}
	T_CHECK_INT_EQ(green_select(m.cs, MANY, 0), 99);
	T_CHECK_INT_EQ(green_chan_recv(m.ch[99], &v, 0), 0);
	T_CHECK_INT_EQ(v, 99);
	for (int i = 0; i < MANY; i++)
		T_REQUIRE_INT_EQ(green_chan_recv(m.ch[i], NULL, 0),
				 i == 99 ? -ETIMEDOUT : 0);
	/* blocked on all of them; one value wakes it */
	atomic_store(&m.started, 0);
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, many_select_op, &m), 0);
	wait_flag(&m.started, GREEN_SEC(10));
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(green_chan_send(m.ch[73], &(int64_t){ 7300 }, -1), 0);
	T_CHECK_INT_EQ(join_int(t), 73);
	T_CHECK_INT_EQ(m.cs[73].result, 0);
	for (int i = 0; i < MANY; i++)
		T_CHECK_INT_EQ(m.v[i], i == 73 ? 7300 : -1);
	/* no waiter left anywhere: a value sent now stays buffered */
	for (int i = 0; i < MANY; i++) {
		T_CHECK_INT_EQ(green_chan_send(m.ch[i], &v, 0), 0);
		T_CHECK_INT_EQ(green_chan_len(m.ch[i]), 1);
		T_CHECK_INT_EQ(green_chan_destroy(m.ch[i]), 0);
	}
	return NULL;
}

START_TEST(test_green_select_many_cases)
{
	run_in_task(select_many_main, NULL);
}
END_TEST

static void *
select_deadline_main(void *arg)
{
	green_chan_t *a = mkchan(I64, 0), *b = mkchan(I64, 1);
	int64_t x = -1, y = -1, deadline;
	green_case_t cs[2];

	(void)arg;
	T_REQUIRE(a != NULL && b != NULL);
	cs[0] = rcase(a, &x);
	cs[1] = rcase(b, &y);
	deadline = green_now() + SHORT;
	T_CHECK_INT_EQ(green_select(cs, 2, deadline), -ETIMEDOUT);
	T_CHECK(green_now() >= deadline);
	T_CHECK(green_now() < deadline + LATE_MAX);
	/* its waiters are gone */
	T_CHECK_INT_EQ(green_chan_send(a, &x, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_send(b, &(int64_t){ 1 }, 0), 0);
	T_CHECK_INT_EQ(green_chan_len(b), 1);
	T_CHECK_INT_EQ(x, -1);
	T_CHECK_INT_EQ(y, -1);
	T_CHECK_INT_EQ(green_chan_destroy(a), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	return NULL;
}

START_TEST(test_green_select_deadline_expires_returns_etimedout)
{
	run_in_task(select_deadline_main, NULL);
}
END_TEST

static void *
select_cancel_main(void *arg)
{
	green_chan_t *a = mkchan(I64, 0), *b = mkchan(I64, 1);
	green_task_t *t;
	struct sel_op s;

	(void)arg;
	T_REQUIRE(a != NULL && b != NULL);
	sel_op_init(&s, a, b, -1);
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, select2_op, &s), 0);
	wait_flag(&s.started, GREEN_SEC(10));
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	T_CHECK_INT_EQ(s.a, -1);
	T_CHECK_INT_EQ(s.b, -1);
	T_CHECK_INT_EQ(green_chan_send(a, &(int64_t){ 1 }, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_chan_send(b, &(int64_t){ 1 }, 0), 0);
	T_CHECK_INT_EQ(green_chan_destroy(a), 0);
	T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	return NULL;
}

START_TEST(test_green_select_cancelled_while_blocked_returns_ecanceled)
{
	run_in_task(select_cancel_main, NULL);
}
END_TEST

START_TEST(test_green_select_from_pthread_blocks_until_ready)
{
	green_chan_t *a, *b;
	green_case_t cs[2];
	green_task_t *t;
	int64_t x = -1, y = -1, deadline;

	ck_assert_int_eq(green_chan_create(&a, I64, 0), 0);
	ck_assert_int_eq(green_chan_create(&b, I64, 0), 0);
	cs[0] = rcase(a, &x);
	cs[1] = rcase(b, &y);
	/* this (non-task) thread blocks until the task sends on b */
	ck_assert_int_eq(green_spawn(&t, NULL, late_sender, b), 0);
	ck_assert_int_eq(green_select(cs, 2, -1), 1);
	ck_assert_int_eq(cs[1].result, 0);
	ck_assert_int_eq(y, 123);
	ck_assert_int_eq(x, -1);
	ck_assert_int_eq(join_int(t), 0);
	/* and times out */
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_select(cs, 2, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_chan_destroy(a), 0);
	ck_assert_int_eq(green_chan_destroy(b), 0);
}
END_TEST

/*
 * The common "close, then free" and "send, then free" patterns while the
 * other side is a select: once close or the hand-over returned, the select
 * is no longer blocked on the channel, so destroy succeeds, and the select
 * must not touch the channel again.  On one worker this is deterministic:
 * the select task parks before this task runs again, and runs again only
 * after the destroy.  A use after free shows under valgrind or ASan (with
 * jemalloc the freed channel is usually left intact), or as a wrong result
 * or a hang.
 */
#define UAF_ROUNDS 20

static void *
select_then_destroy_main(void *arg)
{
	(void)arg;
	for (int k = 0; k < UAF_ROUNDS; k++) {
		green_chan_t *a = mkchan(I64, 0), *b = mkchan(I64, 0);
		green_task_t *t;
		struct sel_op s;
		int want;

		T_REQUIRE(a != NULL && b != NULL);
		/* a is case 1 */
		sel_op_init(&s, b, a, -1);
		T_REQUIRE_INT_EQ(green_spawn(&t, NULL, select2_op, &s), 0);
		/* one worker: the select runs until it blocks */
		green_yield();
		T_REQUIRE_INT_EQ(atomic_load(&s.started), 1);
		if (k % 2 == 0) {
			T_CHECK_INT_EQ(green_chan_close(a), 0);
			want = -EPIPE;
		} else {
			T_CHECK_INT_EQ(green_chan_send(a, &(int64_t){ k }, -1),
				       0);
			want = 0;
		}
		T_CHECK_INT_EQ(green_chan_destroy(a), 0);
		T_REQUIRE_INT_EQ(join_int(t), 1);
		T_CHECK_INT_EQ(s.c[1].result, want);
		if (want == 0)
			T_CHECK_INT_EQ(s.b, k);
		T_CHECK_INT_EQ(green_chan_destroy(b), 0);
	}
	return NULL;
}

START_TEST(test_green_chan_destroy_right_after_waking_select_returns_zero)
{
	run_in_task(select_then_destroy_main, NULL);
}
END_TEST

/* --- stress: MPMC, every value accounted for ----------------------------- */

#define MPMC_PRODUCERS 8
#define MPMC_CONSUMERS 8
#define MPMC_MAX_VALUES 10000000
#define MPMC_VALUES TEST_SCALE(MPMC_MAX_VALUES)
#define MPMC_PER (MPMC_VALUES / MPMC_PRODUCERS)
#define MPMC_BUFFER 64

static _Atomic uint64_t mpmc_seen[(MPMC_MAX_VALUES + 63) / 64];

struct mpmc {
	green_chan_t *ch;
	atomic_ullong count, sum, dup, bad;
	atomic_int send_err, recv_err;
};

struct mpmc_arg {
	struct mpmc *m;
	uint64_t first;
};

static void *
mpmc_send(void *arg)
{
	struct mpmc_arg *a = arg;

	for (uint64_t v = a->first; v < a->first + MPMC_PER; v++) {
		int r = green_chan_send(a->m->ch, &v, -1);
		if (r != 0) {
			atomic_store(&a->m->send_err, r);
			break;
		}
	}
	return NULL;
}

static void *
mpmc_recv(void *arg)
{
	struct mpmc *m = arg;
	uint64_t v, count = 0, sum = 0, dup = 0, bad = 0;
	int r;

	while ((r = green_chan_recv(m->ch, &v, -1)) == 0) {
		count++;
		sum += v;
		if (v >= MPMC_VALUES) {
			bad++;
			continue;
		}
		if (atomic_fetch_or(&mpmc_seen[v / 64], 1ULL << (v % 64)) &
		    1ULL << (v % 64))
			dup++;
	}
	if (r != -EPIPE)
		atomic_store(&m->recv_err, r);
	atomic_fetch_add(&m->count, count);
	atomic_fetch_add(&m->sum, sum);
	atomic_fetch_add(&m->dup, dup);
	atomic_fetch_add(&m->bad, bad);
	return NULL;
}

static void *
mpmc_main(void *arg)
{
	struct mpmc *m = arg;
	struct mpmc_arg pa[MPMC_PRODUCERS];
	green_task_t *p[MPMC_PRODUCERS], *c[MPMC_CONSUMERS];

	for (int i = 0; i < MPMC_CONSUMERS; i++)
		T_REQUIRE_INT_EQ(green_spawn(&c[i], NULL, mpmc_recv, m), 0);
	for (int i = 0; i < MPMC_PRODUCERS; i++) {
		pa[i] = (struct mpmc_arg){ m, (uint64_t)i * MPMC_PER };
		T_REQUIRE_INT_EQ(green_spawn(&p[i], NULL, mpmc_send, &pa[i]),
				 0);
	}
	for (int i = 0; i < MPMC_PRODUCERS; i++)
		T_CHECK_INT_EQ(green_join(p[i], NULL, -1), 0);
	/* every value is sent (buffered or handed over): closing lets the
	 * consumers drain the buffer and stop */
	T_CHECK_INT_EQ(green_chan_close(m->ch), 0);
	for (int i = 0; i < MPMC_CONSUMERS; i++)
		T_CHECK_INT_EQ(green_join(c[i], NULL, -1), 0);
	return NULL;
}

static void
mpmc_run(size_t cap)
{
	static struct mpmc m;
	uint64_t lost = 0, n = MPMC_PER * (uint64_t)MPMC_PRODUCERS;
	int64_t t0 = green_now();

	memset(mpmc_seen, 0, sizeof(mpmc_seen));
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(green_chan_create(&m.ch, sizeof(uint64_t), cap), 0);
	run_in_task(mpmc_main, &m);
	for (uint64_t i = 0; i < n; i++)
		if (!(atomic_load(&mpmc_seen[i / 64]) & 1ULL << (i % 64)))
			lost++;
	if (getenv("CHECK_CHAN_TIMES") != NULL)
		fprintf(stderr, "mpmc cap %zu: %llu values in %.2f s\n", cap,
			(unsigned long long)n, (green_now() - t0) / 1e9);
	ck_assert_msg(atomic_load(&m.send_err) == 0, "a send failed: %d",
		      atomic_load(&m.send_err));
	ck_assert_msg(atomic_load(&m.recv_err) == 0, "a recv failed: %d",
		      atomic_load(&m.recv_err));
	ck_assert_msg(atomic_load(&m.count) == n, "received %llu of %llu",
		      (unsigned long long)atomic_load(&m.count),
		      (unsigned long long)n);
	ck_assert_msg(atomic_load(&m.sum) == n * (n - 1) / 2,
		      "sum %llu, expected %llu",
		      (unsigned long long)atomic_load(&m.sum),
		      (unsigned long long)(n * (n - 1) / 2));
	ck_assert_msg(atomic_load(&m.bad) == 0, "%llu values out of range",
		      (unsigned long long)atomic_load(&m.bad));
	ck_assert_msg(atomic_load(&m.dup) == 0, "%llu values duplicated",
		      (unsigned long long)atomic_load(&m.dup));
	ck_assert_msg(lost == 0, "%llu values lost", (unsigned long long)lost);
	ck_assert_int_eq(green_chan_destroy(m.ch), 0);
}

START_TEST(test_stress_mpmc_unbuffered_every_value_once)
{
	mpmc_run(0);
}
END_TEST

START_TEST(test_stress_mpmc_buffered_every_value_once)
{
	mpmc_run(MPMC_BUFFER);
}
END_TEST

/* --- deadlock report ----------------------------------------------------- */

/* The deadlocked tasks' channels stay reachable from here: the child never
 * frees them (a task still waits on each), and memcheck must not count them
 * as lost when green_shutdown releases the deadlocked tasks' stacks. */
static green_chan_t *forever[2];

static void
recv_forever_main(void *arg)
{
	int64_t v;

	(void)arg;
	if (green_chan_create(&forever[0], I64, 0) != 0)
		_exit(2);
	green_chan_recv(forever[0], &v, -1);
}

static void
send_forever_main(void *arg)
{
	int64_t v = 1;

	(void)arg;
	if (green_chan_create(&forever[0], I64, 1) != 0 ||
	    green_chan_send(forever[0], &v, 0) != 0)
		_exit(2);
	green_chan_send(forever[0], &v, -1);
}

static void
select_forever_main(void *arg)
{
	green_case_t cs[3];
	int64_t x, y = 1;

	(void)arg;
	if (green_chan_create(&forever[0], I64, 0) != 0 ||
	    green_chan_create(&forever[1], I64, 0) != 0)
		_exit(2);
	cs[0] = rcase(forever[0], &x);
	cs[1] = scase(forever[1], &y);
	cs[2] = rcase(NULL, &x);
	green_select(cs, 3, -1);
}

static void
assert_deadlock_report(void (*fn)(void *), const char *reason)
{
	char out[16384], st[64];
	int status;

	ck_assert_int_eq(
		run_deadlocked(fn, NULL, NWORKERS, &status, out, sizeof(out)),
		0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child %s; stderr:\n%s",
		      describe_status(status, st, sizeof(st)), out);
	ck_assert_msg(strstr(out, "deadlock") != NULL,
		      "no \"deadlock\" in stderr:\n%s", out);
	ck_assert_msg(strstr(out, reason) != NULL, "no \"%s\" in stderr:\n%s",
		      reason, out);
}

START_TEST(test_green_run_blocked_in_chan_recv_reports_deadlock)
{
	assert_deadlock_report(recv_forever_main, "chan recv");
}
END_TEST

START_TEST(test_green_run_blocked_in_chan_send_reports_deadlock)
{
	assert_deadlock_report(send_forever_main, "chan send");
}
END_TEST

START_TEST(test_green_run_blocked_in_select_reports_deadlock)
{
	assert_deadlock_report(select_forever_main, "select");
}
END_TEST

/* ------------------------------------------------------------------------- */

/* runtime: 0 none, 1 or 2 workers */
static TCase *
tcase(Suite *s, const char *name, int workers, int timeout)
{
	TCase *tc = tcase_create(name);

	if (workers == 1)
		tcase_add_checked_fixture(tc, setup1, teardown);
	else if (workers == 2)
		tcase_add_checked_fixture(tc, setup, teardown);
	else
		tcase_add_checked_fixture(tc, tfail_reset, NULL);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *
chan_suite(void)
{
	Suite *s = suite_create("chan");
	TCase *tc;

	tc = tcase(s, "green_chan_create", 2, TIMEOUT);
	tcase_add_test(tc, test_green_chan_create_null_handle_returns_einval);
	tcase_add_test(tc, test_green_chan_create_size_overflow_returns_einval);
	tcase_add_test(tc, test_green_chan_create_valid_returns_zero);

	tc = tcase(s, "green_chan_send", 2, TIMEOUT);
	tcase_add_test(tc,
		       test_green_chan_send_unbuffered_blocks_until_received);
	tcase_add_test(tc, test_green_chan_send_buffered_blocks_only_when_full);
	tcase_add_test(tc, test_green_chan_send_null_returns_einval);
	tcase_add_test(tc, test_green_chan_send_closed_returns_epipe);
	tcase_add_test(
		tc,
		test_green_chan_send_deadline_zero_not_ready_returns_etimedout);
	tcase_add_test(
		tc, test_green_chan_send_deadline_expires_value_not_delivered);
	tcase_add_test(
		tc,
		test_green_chan_send_cancelled_while_blocked_returns_ecanceled);
	tcase_add_test(tc, test_green_chan_send_zero_size_elements_signal);
	tcase_add_test(tc, test_green_chan_send_large_elements_copied_intact);
	tcase_add_test(tc, test_green_chan_send_between_pthread_and_task);
	tcase_add_test(tc,
		       test_green_chan_send_pthread_blocks_until_task_receives);

	tc = tcase(s, "no_runtime", 0, TIMEOUT);
	tcase_add_test(tc, test_green_chan_send_pthreads_without_runtime);

	tc = tcase(s, "green_chan_recv", 2, TIMEOUT);
	tcase_add_test(tc, test_green_chan_recv_empty_blocks_until_sent);
	tcase_add_test(tc, test_green_chan_recv_buffered_fifo_order);
	tcase_add_test(tc, test_green_chan_recv_fifo_with_blocked_senders);
	tcase_add_test(tc, test_green_chan_recv_null_elem_discards);
	tcase_add_test(tc, test_green_chan_recv_null_returns_einval);
	tcase_add_test(
		tc, test_green_chan_recv_deadline_zero_empty_returns_etimedout);
	tcase_add_test(tc,
		       test_green_chan_recv_deadline_expires_returns_etimedout);
	tcase_add_test(
		tc,
		test_green_chan_recv_cancelled_while_blocked_returns_ecanceled);
	tcase_add_test(tc,
		       test_green_chan_recv_pthread_blocks_until_task_sends);

	tc = tcase(s, "green_chan_close", 2, TIMEOUT);
	tcase_add_test(
		tc, test_green_chan_close_wakes_blocked_receivers_with_epipe);
	tcase_add_test(
		tc,
		test_green_chan_close_wakes_blocked_senders_value_not_delivered);
	tcase_add_test(tc, test_green_chan_close_receivers_drain_then_epipe);
	tcase_add_test(tc, test_green_chan_close_twice_returns_epipe);
	tcase_add_test(tc, test_green_chan_close_null_returns_einval);
	tcase_add_test(tc,
		       test_green_chan_close_wakes_blocked_pthreads_with_epipe);

	tc = tcase(s, "green_chan_destroy", 2, TIMEOUT);
	tcase_add_test(tc,
		       test_green_chan_destroy_blocked_waiter_returns_ebusy);
	tcase_add_test(
		tc, test_green_chan_destroy_with_buffered_values_returns_zero);
	tcase_add_test(tc, test_green_chan_destroy_null_returns_einval);

	tc = tcase(s, "green_chan_destroy_1_worker", 1, TIMEOUT);
	tcase_add_test(
		tc,
		test_green_chan_destroy_right_after_waking_select_returns_zero);

	tc = tcase(s, "green_chan_len", 2, TIMEOUT);
	tcase_add_test(tc, test_green_chan_len_counts_buffered_values);
	tcase_add_test(tc, test_green_chan_len_null_returns_einval);

	tc = tcase(s, "green_chan_cap", 2, TIMEOUT);
	tcase_add_test(tc, test_green_chan_cap_returns_capacity);
	tcase_add_test(tc, test_green_chan_cap_null_returns_einval);

	tc = tcase(s, "green_select", 2, TIMEOUT);
	tcase_add_test(tc,
		       test_green_select_ready_case_returns_index_and_result);
	tcase_add_test(tc, test_green_select_uniform_among_ready_cases);
	tcase_add_test(tc,
		       test_green_select_blocked_woken_by_any_case_sets_result);
	tcase_add_test(tc,
		       test_green_select_two_wakers_race_one_case_performed);
	tcase_add_test(tc, test_green_select_deadline_zero_polls);
	tcase_add_test(tc, test_green_select_no_cases_waits_until_deadline);
	tcase_add_test(tc, test_green_select_null_channel_never_ready);
	tcase_add_test(tc, test_green_select_same_channel_in_several_cases);
	tcase_add_test(tc, test_green_select_send_cases_fire);
	tcase_add_test(tc, test_green_select_mixed_send_and_recv_cases);
	tcase_add_test(tc, test_green_select_closed_channel_fires_with_epipe);
	tcase_add_test(tc,
		       test_green_select_close_wakes_blocked_select_with_epipe);
	tcase_add_test(tc, test_green_select_rendezvous_with_select);
	tcase_add_test(tc, test_green_select_unknown_kind_returns_einval);
	tcase_add_test(tc, test_green_select_null_cases_returns_einval);
	tcase_add_test(tc, test_green_select_send_null_elem_returns_einval);
	tcase_add_test(tc, test_green_select_many_cases);
	tcase_add_test(tc,
		       test_green_select_deadline_expires_returns_etimedout);
	tcase_add_test(
		tc,
		test_green_select_cancelled_while_blocked_returns_ecanceled);
	tcase_add_test(tc, test_green_select_from_pthread_blocks_until_ready);

	tc = tcase(s, "stress_1_worker", 1, STRESS_TIMEOUT);
	tcase_add_test(tc, test_stress_mpmc_unbuffered_every_value_once);
	tcase_add_test(tc, test_stress_mpmc_buffered_every_value_once);

	tc = tcase(s, "stress_2_workers", 2, STRESS_TIMEOUT);
	tcase_add_test(tc, test_stress_mpmc_unbuffered_every_value_once);
	tcase_add_test(tc, test_stress_mpmc_buffered_every_value_once);

	tc = tcase(s, "deadlock", 0, TIMEOUT);
	tcase_add_test(tc,
		       test_green_run_blocked_in_chan_recv_reports_deadlock);
	tcase_add_test(tc,
		       test_green_run_blocked_in_chan_send_reports_deadlock);
	tcase_add_test(tc, test_green_run_blocked_in_select_reports_deadlock);

	return s;
}

int
main(void)
{
	return run_suite(chan_suite());
}
