/*
 * check_sync.c - mutex, condition variable, wait group and semaphore:
 * their rules and errors, deadlines and cancellation, contention from
 * tasks and plain threads, fairness, and the deadlock report.
 *
 * As in check_chan.c, a party that "blocks" has not returned after SETTLE,
 * and tests that need a party already blocked give it SETTLE to get there:
 * a slow machine makes them weaker, never wrong.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"

#define NWORKERS 2
#define TIMEOUT (60 * TEST_TIMEOUT_MULT)
#define PROMPT GREEN_SEC(5)
#define SETTLE GREEN_MSEC(20)
#define SHORT GREEN_MSEC(20)
#define LATE_MAX GREEN_SEC(2)
#define JOIN_FAILED 100000

static void
setup(void)
{
	init_workers(NWORKERS);
}

static void
teardown(void)
{
	shutdown_runtime();
}

/* --- helpers ------------------------------------------------------------ */

/* One blocking call run by a helper task or thread. */
struct op {
	green_mutex_t *m;
	green_cond_t *c;
	green_wg_t *wg;
	green_sem_t *s;
	int64_t deadline;
	atomic_int started;
	atomic_int done;
	int r;
	int after; /* what the helper saw after its call; see the bodies */
};

static void
op_init(struct op *o, int64_t deadline)
{
	memset(o, 0, sizeof(*o));
	o->deadline = deadline;
	o->r = JOIN_FAILED;
	o->after = JOIN_FAILED;
}

static void
settle(struct op *o)
{
	wait_flag(&o->started, GREEN_SEC(10));
	pause_ns(SETTLE);
}

static int
join_int(green_task_t *t)
{
	void *res = NULL;

	if (t == NULL || green_join(t, &res, green_now() + PROMPT) != 0)
		return JOIN_FAILED;
	return (int)(intptr_t)res;
}

static int
pjoin_int(pthread_t th)
{
	void *res = NULL;

	if (pthread_join(th, &res) != 0)
		return JOIN_FAILED;
	return (int)(intptr_t)res;
}

static green_task_t *
spawn(void *(*fn)(void *), void *arg)
{
	green_task_t *t = NULL;

	if (green_spawn(&t, NULL, fn, arg) != 0)
		return NULL;
	return t;
}

/* Locks o->m; on success unlocks it again.  Returns the lock's result. */
static void *
lock_op(void *arg)
{
	struct op *o = arg;

	atomic_store(&o->started, 1);
	o->r = green_mutex_lock(o->m, o->deadline);
	atomic_store(&o->done, 1);
	if (o->r == 0)
		o->after = green_mutex_unlock(o->m);
	return (void *)(intptr_t)o->r;
}

/* Locks o->m and waits once on o->c; o->after records whether it held
 * the mutex when the wait returned (1: trylock failed, unlock worked). */
static void *
cond_wait_op(void *arg)
{
	struct op *o = arg;
	int r;

	r = green_mutex_lock(o->m, -1);
	if (r != 0)
		return (void *)(intptr_t)(JOIN_FAILED + 1);
	atomic_store(&o->started, 1);
	o->r = green_cond_wait(o->c, o->m, o->deadline);
	atomic_store(&o->done, 1);
	/* held: trylock fails and unlock succeeds */
	o->after = green_mutex_trylock(o->m) == -EBUSY &&
		   green_mutex_unlock(o->m) == 0;
	return (void *)(intptr_t)o->r;
}

static void *
wg_wait_op(void *arg)
{
	struct op *o = arg;

	atomic_store(&o->started, 1);
	o->r = green_wg_wait(o->wg, o->deadline);
	atomic_store(&o->done, 1);
	return (void *)(intptr_t)o->r;
}

static void *
sem_acquire_op(void *arg)
{
	struct op *o = arg;

	atomic_store(&o->started, 1);
	o->r = green_sem_acquire(o->s, o->deadline);
	atomic_store(&o->done, 1);
	return (void *)(intptr_t)o->r;
}

/* --- green_mutex ------------------------------------------------------- */

START_TEST(test_green_mutex_lock_trylock_unlock_returns_zero)
{
	green_mutex_t m;

	ck_assert_int_eq(green_mutex_init(&m), 0);
	ck_assert_int_eq(green_mutex_lock(&m, -1), 0);
	ck_assert_int_eq(green_mutex_trylock(&m), -EBUSY);
	/* not recursive */
	ck_assert_int_eq(green_mutex_lock(&m, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_mutex_unlock(&m), 0);
	ck_assert_int_eq(green_mutex_trylock(&m), 0);
	ck_assert_int_eq(green_mutex_trylock(&m), -EBUSY);
	ck_assert_int_eq(green_mutex_unlock(&m), 0);
	ck_assert_int_eq(green_mutex_lock(&m, 0), 0);
	ck_assert_int_eq(green_mutex_unlock(&m), 0);
	ck_assert_int_eq(green_mutex_destroy(&m), 0);
}
END_TEST

static void *
mutex_basic_main(void *arg)
{
	green_mutex_t m;

	(void)arg;
	T_CHECK_INT_EQ(green_mutex_init(&m), 0);
	T_CHECK_INT_EQ(green_mutex_lock(&m, -1), 0);
	T_CHECK_INT_EQ(green_mutex_trylock(&m), -EBUSY);
	T_CHECK_INT_EQ(green_mutex_lock(&m, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	T_CHECK_INT_EQ(green_mutex_trylock(&m), 0);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	T_CHECK_INT_EQ(green_mutex_destroy(&m), 0);
	return NULL;
}

START_TEST(test_green_mutex_lock_in_task_returns_zero)
{
	run_in_task(mutex_basic_main, NULL);
}
END_TEST

START_TEST(test_green_mutex_null_returns_einval)
{
	ck_assert_int_eq(green_mutex_init(NULL), -EINVAL);
	ck_assert_int_eq(green_mutex_destroy(NULL), -EINVAL);
	ck_assert_int_eq(green_mutex_lock(NULL, -1), -EINVAL);
	ck_assert_int_eq(green_mutex_lock(NULL, 0), -EINVAL);
	ck_assert_int_eq(green_mutex_trylock(NULL), -EINVAL);
	ck_assert_int_eq(green_mutex_unlock(NULL), -EINVAL);
}
END_TEST

START_TEST(test_green_mutex_unlock_unlocked_returns_eperm)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;

	ck_assert_int_eq(green_mutex_unlock(&m), -EPERM);
	ck_assert_int_eq(green_mutex_lock(&m, -1), 0);
	ck_assert_int_eq(green_mutex_unlock(&m), 0);
	ck_assert_int_eq(green_mutex_unlock(&m), -EPERM);
	/* and the failed unlock changed nothing */
	ck_assert_int_eq(green_mutex_trylock(&m), 0);
	ck_assert_int_eq(green_mutex_unlock(&m), 0);
	ck_assert_int_eq(green_mutex_destroy(&m), 0);
}
END_TEST

static green_mutex_t static_mutex = GREEN_MUTEX_INITIALIZER;

static void *
initializer_main(void *arg)
{
	green_mutex_t zeroed;
	green_mutex_t *ms[2] = { &static_mutex, &zeroed };
	struct op o;
	green_task_t *t;

	(void)arg;
	memset(&zeroed, 0, sizeof(zeroed));
	for (int i = 0; i < 2; i++) {
		T_CHECK_INT_EQ(green_mutex_trylock(ms[i]), 0);
		T_CHECK_INT_EQ(green_mutex_trylock(ms[i]), -EBUSY);
		/* contended: a waiter gets it after the unlock */
		op_init(&o, -1);
		o.m = ms[i];
		T_REQUIRE((t = spawn(lock_op, &o)) != NULL);
		settle(&o);
		T_CHECK_INT_EQ(atomic_load(&o.done), 0);
		T_CHECK_INT_EQ(green_mutex_unlock(ms[i]), 0);
		T_CHECK_INT_EQ(join_int(t), 0);
		T_CHECK_INT_EQ(o.after, 0);
		T_CHECK_INT_EQ(green_mutex_destroy(ms[i]), 0);
	}
	return NULL;
}

START_TEST(test_green_mutex_initializer_and_zeroed_are_unlocked)
{
	run_in_task(initializer_main, NULL);
}
END_TEST

static void *
mutex_destroy_main(void *arg)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	struct op o;
	green_task_t *t;

	(void)arg;
	T_CHECK_INT_EQ(green_mutex_lock(&m, -1), 0);
	T_CHECK_INT_EQ(green_mutex_destroy(&m), -EBUSY);
	/* still locked and usable */
	T_CHECK_INT_EQ(green_mutex_trylock(&m), -EBUSY);
	/* locked and waited on */
	op_init(&o, -1);
	o.m = &m;
	T_REQUIRE((t = spawn(lock_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_mutex_destroy(&m), -EBUSY);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(o.after, 0);
	T_CHECK_INT_EQ(green_mutex_destroy(&m), 0);
	return NULL;
}

START_TEST(test_green_mutex_destroy_locked_returns_ebusy)
{
	run_in_task(mutex_destroy_main, NULL);
}
END_TEST

static void *
mutex_deadline_main(void *arg)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	int64_t deadline;
	struct op o;
	green_task_t *t;

	(void)arg;
	T_CHECK_INT_EQ(green_mutex_lock(&m, -1), 0);
	/* we hold it: our own timed lock expires (not recursive) */
	T_CHECK_INT_EQ(green_mutex_lock(&m, 0), -ETIMEDOUT);
	deadline = green_now() + SHORT;
	T_CHECK_INT_EQ(green_mutex_lock(&m, deadline), -ETIMEDOUT);
	T_CHECK(green_now() >= deadline);
	T_CHECK(green_now() < deadline + LATE_MAX);
	/* another task's timed lock expires too */
	op_init(&o, green_now() + SHORT);
	o.m = &m;
	T_REQUIRE((t = spawn(lock_op, &o)) != NULL);
	T_CHECK_INT_EQ(join_int(t), -ETIMEDOUT);
	/* the holder still holds it, and no waiter is left */
	T_CHECK_INT_EQ(green_mutex_trylock(&m), -EBUSY);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	T_CHECK_INT_EQ(green_mutex_destroy(&m), 0);
	/* destroyed: rejected until initialised again */
	T_CHECK_INT_EQ(green_mutex_trylock(&m), -EINVAL);
	T_CHECK_INT_EQ(green_mutex_init(&m), 0);
	T_CHECK_INT_EQ(green_mutex_trylock(&m), 0);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	return NULL;
}

START_TEST(test_green_mutex_lock_deadline_expires_returns_etimedout)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	int64_t deadline;

	run_in_task(mutex_deadline_main, NULL);
	/* a plain thread times out the same way */
	ck_assert_int_eq(green_mutex_lock(&m, -1), 0);
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_mutex_lock(&m, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_mutex_unlock(&m), 0);
	ck_assert_int_eq(green_mutex_destroy(&m), 0);
}
END_TEST

static void *
mutex_cancel_main(void *arg)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	struct op o;
	green_task_t *t;

	(void)arg;
	T_CHECK_INT_EQ(green_mutex_lock(&m, -1), 0);
	op_init(&o, -1);
	o.m = &m;
	T_REQUIRE((t = spawn(lock_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	T_CHECK_INT_EQ(green_mutex_trylock(&m), -EBUSY);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	/* its waiter is gone: the mutex is free and unwatched */
	T_CHECK_INT_EQ(green_mutex_destroy(&m), 0);
	/* destroyed: rejected until initialised again */
	T_CHECK_INT_EQ(green_mutex_trylock(&m), -EINVAL);
	T_CHECK_INT_EQ(green_mutex_init(&m), 0);
	T_CHECK_INT_EQ(green_mutex_trylock(&m), 0);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	return NULL;
}

START_TEST(test_green_mutex_lock_cancelled_while_waiting_returns_ecanceled)
{
	run_in_task(mutex_cancel_main, NULL);
}
END_TEST

/* Go: any task or thread may unlock. */
static void *
unlocker(void *arg)
{
	return (void *)(intptr_t)green_mutex_unlock(arg);
}

START_TEST(test_green_mutex_unlock_by_other_task_returns_zero)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	green_task_t *t;
	pthread_t th;

	ck_assert_int_eq(green_mutex_lock(&m, -1), 0);
	ck_assert_int_eq(green_spawn(&t, NULL, unlocker, &m), 0);
	ck_assert_int_eq(join_int(t), 0);
	ck_assert_int_eq(green_mutex_trylock(&m), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, unlocker, &m), 0);
	ck_assert_int_eq(pjoin_int(th), 0);
	ck_assert_int_eq(green_mutex_unlock(&m), -EPERM);
	ck_assert_int_eq(green_mutex_destroy(&m), 0);
}
END_TEST

#define CONTEND_TASKS 1000
#define CONTEND_ITERS 100

struct contend {
	green_mutex_t m;
	long counter; /* guarded by m */
	atomic_int inside;
	atomic_int overlap;
	atomic_int errors;
	int iters;
};

static void
contend_once(struct contend *c, bool yield)
{
	long v;

	if (green_mutex_lock(&c->m, -1) != 0) {
		atomic_fetch_add(&c->errors, 1);
		return;
	}
	if (atomic_fetch_add(&c->inside, 1) != 0)
		atomic_fetch_add(&c->overlap, 1);
	v = c->counter;
	if (yield)
		green_yield();
	c->counter = v + 1;
	atomic_fetch_sub(&c->inside, 1);
	if (green_mutex_unlock(&c->m) != 0)
		atomic_fetch_add(&c->errors, 1);
}

static void *
contend_task(void *arg)
{
	struct contend *c = arg;

	for (int i = 0; i < c->iters; i++)
		contend_once(c, true);
	return NULL;
}

static void *
contend_main(void *arg)
{
	static green_task_t *h[CONTEND_TASKS];
	struct contend *c = arg;

	for (int i = 0; i < CONTEND_TASKS; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], NULL, contend_task, c), 0);
	for (int i = 0; i < CONTEND_TASKS; i++)
		T_CHECK_INT_EQ(green_join(h[i], NULL, -1), 0);
	return NULL;
}

START_TEST(test_green_mutex_lock_contention_counter_exact)
{
	static struct contend c;

	memset(&c, 0, sizeof(c));
	c.iters = CONTEND_ITERS;
	run_in_task(contend_main, &c);
	ck_assert_int_eq(atomic_load(&c.errors), 0);
	ck_assert_int_eq(atomic_load(&c.overlap), 0);
	ck_assert_int_eq(c.counter, (long)CONTEND_TASKS * CONTEND_ITERS);
	ck_assert_int_eq(green_mutex_destroy(&c.m), 0);
}
END_TEST

#define MIXED_THREADS 4
#define MIXED_TASKS 50
#define MIXED_ITERS TEST_SCALE(2000)

/* A plain thread's share: no yield (it is not a task). */
static void *
contend_thread(void *arg)
{
	struct contend *c = arg;

	for (int i = 0; i < MIXED_ITERS; i++)
		contend_once(c, false);
	return NULL;
}

START_TEST(test_green_mutex_lock_pthreads_and_tasks_counter_exact)
{
	static struct contend c;
	static green_task_t *h[MIXED_TASKS];
	pthread_t th[MIXED_THREADS];

	memset(&c, 0, sizeof(c));
	c.iters = MIXED_ITERS;
	for (int i = 0; i < MIXED_THREADS; i++)
		ck_assert_int_eq(
			pthread_create(&th[i], NULL, contend_thread, &c), 0);
	for (int i = 0; i < MIXED_TASKS; i++)
		ck_assert_int_eq(green_spawn(&h[i], NULL, contend_task, &c), 0);
	/* and this thread takes part too */
	for (int i = 0; i < MIXED_ITERS; i++)
		contend_once(&c, false);
	for (int i = 0; i < MIXED_THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < MIXED_TASKS; i++)
		ck_assert_int_eq(green_join(h[i], NULL, -1), 0);
	ck_assert_int_eq(atomic_load(&c.errors), 0);
	ck_assert_int_eq(atomic_load(&c.overlap), 0);
	ck_assert_int_eq(c.counter,
			 (long)(MIXED_THREADS + MIXED_TASKS + 1) * MIXED_ITERS);
	ck_assert_int_eq(green_mutex_destroy(&c.m), 0);
}
END_TEST

/*
 * No starvation: a task that locks and unlocks in a tight loop (yielding
 * only outside the critical section) cannot keep a waiter out for long.
 */
#define STARVE_MAX GREEN_SEC(1)
#define STARVE_TRIES 20

struct starve {
	green_mutex_t m;
	atomic_int hog_started;
	atomic_int stop;
	long hog_rounds;
	int64_t waited; /* the longest of the waiter's tries */
	int errors;
};

static void *
hog(void *arg)
{
	struct starve *s = arg;
	int64_t end = green_now() + GREEN_SEC(20);

	atomic_store(&s->hog_started, 1);
	while (atomic_load(&s->stop) == 0 && green_now() < end) {
		if (green_mutex_lock(&s->m, -1) != 0)
			return (void *)1;
		busy_wait_ns(GREEN_USEC(50));
		green_mutex_unlock(&s->m);
		s->hog_rounds++;
		green_yield();
	}
	return NULL;
}

/* The waiter's side, as a task or as a plain thread. */
static void *
starve_waiter(void *arg)
{
	struct starve *s = arg;

	for (int i = 0; i < STARVE_TRIES; i++) {
		int64_t t0 = green_now(), w;

		if (green_mutex_lock(&s->m, -1) != 0) {
			s->errors++;
			break;
		}
		w = green_now() - t0;
		if (w > s->waited)
			s->waited = w;
		if (green_mutex_unlock(&s->m) != 0)
			s->errors++;
		pause_ns(GREEN_USEC(500));
	}
	return NULL;
}

static void *
starve_main(void *arg)
{
	struct starve *s = arg;
	green_task_t *t;

	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, hog, s), 0);
	T_REQUIRE(wait_flag(&s->hog_started, GREEN_SEC(10)));
	/* let the hog run a while */
	green_sleep(green_now() + GREEN_MSEC(5));
	starve_waiter(s);
	atomic_store(&s->stop, 1);
	T_CHECK_INT_EQ(green_join(t, NULL, -1), 0);
	return NULL;
}

START_TEST(test_green_mutex_lock_tight_loop_does_not_starve_waiter)
{
	static struct starve s;
	green_task_t *t;

	/* the waiter is a task */
	memset(&s, 0, sizeof(s));
	run_in_task(starve_main, &s);
	if (getenv("CHECK_SYNC_TIMES") != NULL)
		fprintf(stderr, "starvation (task): waited %.3f ms, hog %ld\n",
			s.waited / 1e6, s.hog_rounds);
	ck_assert_int_eq(s.errors, 0);
	ck_assert_msg(s.waited < STARVE_MAX,
		      "task waited %.3f s for a mutex (the hog locked it %ld "
		      "times)",
		      s.waited / 1e9, s.hog_rounds);

	/* the waiter is this plain thread: slow to wake, so the hog can
	 * take the lock again first unless the waiter is handed it */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(green_spawn(&t, NULL, hog, &s), 0);
	ck_assert(wait_flag(&s.hog_started, GREEN_SEC(10)));
	usleep(5000);
	starve_waiter(&s);
	atomic_store(&s.stop, 1);
	ck_assert_int_eq(green_join(t, NULL, -1), 0);
	if (getenv("CHECK_SYNC_TIMES") != NULL)
		fprintf(stderr,
			"starvation (thread): waited %.3f ms, hog %ld\n",
			s.waited / 1e6, s.hog_rounds);
	ck_assert_int_eq(s.errors, 0);
	ck_assert_msg(s.waited < STARVE_MAX,
		      "thread waited %.3f s for a mutex (the hog locked it %ld "
		      "times)",
		      s.waited / 1e9, s.hog_rounds);
}
END_TEST

/* --- green_cond -------------------------------------------------------- */

START_TEST(test_green_cond_null_returns_einval)
{
	green_cond_t c = GREEN_COND_INITIALIZER;
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;

	ck_assert_int_eq(green_cond_init(NULL), -EINVAL);
	ck_assert_int_eq(green_cond_destroy(NULL), -EINVAL);
	ck_assert_int_eq(green_cond_signal(NULL), -EINVAL);
	ck_assert_int_eq(green_cond_broadcast(NULL), -EINVAL);
	ck_assert_int_eq(green_mutex_lock(&m, -1), 0);
	ck_assert_int_eq(green_cond_wait(NULL, &m, 0), -EINVAL);
	ck_assert_int_eq(green_cond_wait(&c, NULL, 0), -EINVAL);
	ck_assert_int_eq(green_mutex_unlock(&m), 0);
}
END_TEST

START_TEST(test_green_cond_signal_broadcast_no_waiters_return_zero)
{
	green_cond_t c;

	ck_assert_int_eq(green_cond_init(&c), 0);
	ck_assert_int_eq(green_cond_signal(&c), 0);
	ck_assert_int_eq(green_cond_broadcast(&c), 0);
	ck_assert_int_eq(green_cond_destroy(&c), 0);
}
END_TEST

START_TEST(test_green_cond_wait_mutex_not_held_returns_eperm)
{
	green_cond_t c = GREEN_COND_INITIALIZER;
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;

	ck_assert_int_eq(green_cond_wait(&c, &m, -1), -EPERM);
	ck_assert_int_eq(green_cond_wait(&c, &m, 0), -EPERM);
	/* nothing changed */
	ck_assert_int_eq(green_mutex_unlock(&m), -EPERM);
	ck_assert_int_eq(green_cond_destroy(&c), 0);
}
END_TEST

/* Producer/consumer over a small ring guarded by a mutex, with "not empty"
 * and "not full" conditions and predicate loops. */
#define PC_CAP 8
#define PC_PRODUCERS 3
#define PC_CONSUMERS 3
#define PC_ITEMS 4000 /* per producer */

struct pc {
	green_mutex_t m;
	green_cond_t notempty, notfull;
	long ring[PC_CAP];
	int head, len;	    /* guarded by m */
	int producers_left; /* guarded by m */
	long count, sum;    /* guarded by m */
	atomic_int errors;
};

static void *
pc_producer(void *arg)
{
	struct pc *p = arg;

	for (long i = 1; i <= PC_ITEMS; i++) {
		if (green_mutex_lock(&p->m, -1) != 0)
			goto fail;
		while (p->len == PC_CAP)
			if (green_cond_wait(&p->notfull, &p->m, -1) != 0)
				goto fail;
		p->ring[(p->head + p->len) % PC_CAP] = i;
		p->len++;
		green_cond_signal(&p->notempty);
		green_mutex_unlock(&p->m);
	}
	green_mutex_lock(&p->m, -1);
	if (--p->producers_left == 0)
		green_cond_broadcast(&p->notempty);
	green_mutex_unlock(&p->m);
	return NULL;
fail:
	atomic_fetch_add(&p->errors, 1);
	return NULL;
}

static void *
pc_consumer(void *arg)
{
	struct pc *p = arg;

	if (green_mutex_lock(&p->m, -1) != 0)
		goto fail;
	for (;;) {
		while (p->len == 0 && p->producers_left > 0)
			if (green_cond_wait(&p->notempty, &p->m, -1) != 0)
				goto fail;
		if (p->len == 0)
			break;
		p->sum += p->ring[p->head];
		p->count++;
		p->head = (p->head + 1) % PC_CAP;
		p->len--;
		green_cond_signal(&p->notfull);
		/* let others in now and then */
		if (p->count % 16 == 0) {
			green_mutex_unlock(&p->m);
			green_yield();
			green_mutex_lock(&p->m, -1);
		}
	}
	green_mutex_unlock(&p->m);
	return NULL;
fail:
	atomic_fetch_add(&p->errors, 1);
	return NULL;
}

static void
pc_check(struct pc *p)
{
	long n = (long)PC_PRODUCERS * PC_ITEMS;

	ck_assert_int_eq(atomic_load(&p->errors), 0);
	ck_assert_int_eq(p->count, n);
	ck_assert_int_eq(p->sum,
			 (long)PC_PRODUCERS * PC_ITEMS * (PC_ITEMS + 1) / 2);
	ck_assert_int_eq(p->len, 0);
	ck_assert_int_eq(green_cond_destroy(&p->notempty), 0);
	ck_assert_int_eq(green_cond_destroy(&p->notfull), 0);
	ck_assert_int_eq(green_mutex_destroy(&p->m), 0);
}

START_TEST(test_green_cond_signal_producer_consumer_all_items)
{
	static struct pc p;
	green_task_t *h[PC_PRODUCERS + PC_CONSUMERS];

	memset(&p, 0, sizeof(p));
	p.producers_left = PC_PRODUCERS;
	for (int i = 0; i < PC_CONSUMERS; i++)
		ck_assert_int_eq(green_spawn(&h[i], NULL, pc_consumer, &p), 0);
	for (int i = 0; i < PC_PRODUCERS; i++)
		ck_assert_int_eq(green_spawn(&h[PC_CONSUMERS + i], NULL,
					     pc_producer, &p),
				 0);
	for (int i = 0; i < PC_PRODUCERS + PC_CONSUMERS; i++)
		ck_assert_int_eq(green_join(h[i], NULL, -1), 0);
	pc_check(&p);
}
END_TEST

START_TEST(test_green_cond_signal_pthreads_and_tasks_all_items)
{
	static struct pc p;
	green_task_t *h[PC_PRODUCERS];
	pthread_t th[PC_CONSUMERS];

	/* task producers, plain-thread consumers */
	memset(&p, 0, sizeof(p));
	p.producers_left = PC_PRODUCERS;
	for (int i = 0; i < PC_CONSUMERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, pc_consumer, &p),
				 0);
	for (int i = 0; i < PC_PRODUCERS; i++)
		ck_assert_int_eq(green_spawn(&h[i], NULL, pc_producer, &p), 0);
	for (int i = 0; i < PC_PRODUCERS; i++)
		ck_assert_int_eq(green_join(h[i], NULL, -1), 0);
	for (int i = 0; i < PC_CONSUMERS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	pc_check(&p);
}
END_TEST

/* Waiters that each take one ticket, waiting while there is none. */
#define TICKET_WAITERS 5

struct tickets {
	green_mutex_t m;
	green_cond_t c;
	int tickets; /* guarded by m */
	atomic_int waiting;
	atomic_int served;
	atomic_int errors;
};

static void *
ticket_waiter(void *arg)
{
	struct tickets *k = arg;

	if (green_mutex_lock(&k->m, -1) != 0)
		goto fail;
	atomic_fetch_add(&k->waiting, 1);
	while (k->tickets == 0)
		if (green_cond_wait(&k->c, &k->m, -1) != 0)
			goto fail;
	k->tickets--;
	atomic_fetch_add(&k->served, 1);
	green_mutex_unlock(&k->m);
	return NULL;
fail:
	atomic_fetch_add(&k->errors, 1);
	return NULL;
}

static void *
tickets_main(void *arg)
{
	struct tickets *k = arg;
	green_task_t *h[TICKET_WAITERS];

	for (int i = 0; i < TICKET_WAITERS; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], NULL, ticket_waiter, k), 0);
	while (atomic_load(&k->waiting) < TICKET_WAITERS)
		green_sleep(green_now() + GREEN_MSEC(1));
	pause_ns(SETTLE);
	/* one ticket, one signal: one waiter is served, the rest wait on */
	T_CHECK_INT_EQ(green_mutex_lock(&k->m, -1), 0);
	k->tickets = 1;
	T_CHECK_INT_EQ(green_cond_signal(&k->c), 0);
	T_CHECK_INT_EQ(green_mutex_unlock(&k->m), 0);
	for (int64_t end = green_now() + PROMPT;
	     atomic_load(&k->served) < 1 && green_now() < end;)
		green_sleep(green_now() + GREEN_MSEC(1));
	T_CHECK_INT_EQ(atomic_load(&k->served), 1);
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(atomic_load(&k->served), 1);
	/* a signal with no ticket serves nobody */
	T_CHECK_INT_EQ(green_cond_signal(&k->c), 0);
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(atomic_load(&k->served), 1);
	/* enough tickets and a broadcast: everyone */
	T_CHECK_INT_EQ(green_mutex_lock(&k->m, -1), 0);
	k->tickets = TICKET_WAITERS - 1;
	T_CHECK_INT_EQ(green_cond_broadcast(&k->c), 0);
	T_CHECK_INT_EQ(green_mutex_unlock(&k->m), 0);
	for (int i = 0; i < TICKET_WAITERS; i++)
		T_CHECK_INT_EQ(join_int(h[i]), 0);
	T_CHECK_INT_EQ(atomic_load(&k->served), TICKET_WAITERS);
	T_CHECK_INT_EQ(atomic_load(&k->errors), 0);
	T_CHECK_INT_EQ(k->tickets, 0);
	return NULL;
}

START_TEST(test_green_cond_signal_one_broadcast_all)
{
	static struct tickets k;

	memset(&k, 0, sizeof(k));
	run_in_task(tickets_main, &k);
	ck_assert_int_eq(green_cond_destroy(&k.c), 0);
	ck_assert_int_eq(green_mutex_destroy(&k.m), 0);
}
END_TEST

#define BCAST_WAITERS 50

START_TEST(test_green_cond_broadcast_wakes_tasks_and_pthreads)
{
	static struct tickets k;
	green_task_t *h[BCAST_WAITERS];
	pthread_t th[2];

	memset(&k, 0, sizeof(k));
	for (int i = 0; i < BCAST_WAITERS; i++)
		ck_assert_int_eq(green_spawn(&h[i], NULL, ticket_waiter, &k),
				 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(
			pthread_create(&th[i], NULL, ticket_waiter, &k), 0);
	while (atomic_load(&k.waiting) < BCAST_WAITERS + 2)
		usleep(1000);
	usleep(20000);
	ck_assert_int_eq(green_mutex_lock(&k.m, -1), 0);
	k.tickets = BCAST_WAITERS + 2;
	ck_assert_int_eq(green_cond_broadcast(&k.c), 0);
	ck_assert_int_eq(green_mutex_unlock(&k.m), 0);
	for (int i = 0; i < BCAST_WAITERS; i++)
		ck_assert_int_eq(join_int(h[i]), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(atomic_load(&k.served), BCAST_WAITERS + 2);
	ck_assert_int_eq(atomic_load(&k.errors), 0);
	ck_assert_int_eq(green_cond_destroy(&k.c), 0);
}
END_TEST

static void *
cond_timeout_main(void *arg)
{
	green_cond_t c = GREEN_COND_INITIALIZER;
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	int64_t deadline, locked_at;
	struct op o;
	green_task_t *t;

	(void)arg;
	T_CHECK_INT_EQ(green_mutex_lock(&m, -1), 0);
	T_CHECK_INT_EQ(green_cond_wait(&c, &m, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_mutex_trylock(&m), -EBUSY);
	deadline = green_now() + SHORT;
	T_CHECK_INT_EQ(green_cond_wait(&c, &m, deadline), -ETIMEDOUT);
	T_CHECK(green_now() >= deadline);
	T_CHECK(green_now() < deadline + LATE_MAX);
	/* re-locked: held by us */
	T_CHECK_INT_EQ(green_mutex_trylock(&m), -EBUSY);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);

	/* while another task holds the mutex at the deadline, the timed
	 * out waiter returns only once it has the mutex again */
	op_init(&o, green_now() + 10 * SETTLE);
	o.m = &m;
	o.c = &c;
	T_REQUIRE((t = spawn(cond_wait_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_mutex_lock(&m, -1), 0);
	locked_at = green_now();
	green_sleep(o.deadline + SETTLE);
	/* (if we got the mutex only after the deadline, the waiter may
	 * have come and gone: nothing to see then) */
	if (locked_at < o.deadline)
		T_CHECK_INT_EQ(atomic_load(&o.done), 0);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	T_CHECK_INT_EQ(join_int(t), -ETIMEDOUT);
	T_CHECK_INT_EQ(o.after, 1);

	/* no waiter left behind */
	T_CHECK_INT_EQ(green_cond_destroy(&c), 0);
	T_CHECK_INT_EQ(green_mutex_destroy(&m), 0);
	return NULL;
}

START_TEST(test_green_cond_wait_deadline_expires_relocks_mutex)
{
	green_cond_t c = GREEN_COND_INITIALIZER;
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	int64_t deadline;

	run_in_task(cond_timeout_main, NULL);
	/* from a plain thread */
	ck_assert_int_eq(green_mutex_lock(&m, -1), 0);
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_cond_wait(&c, &m, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_mutex_trylock(&m), -EBUSY);
	ck_assert_int_eq(green_mutex_unlock(&m), 0);
	ck_assert_int_eq(green_cond_destroy(&c), 0);
}
END_TEST

static void *
cond_cancel_main(void *arg)
{
	green_cond_t c = GREEN_COND_INITIALIZER;
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	struct op o;
	green_task_t *t;

	(void)arg;
	op_init(&o, -1);
	o.m = &m;
	o.c = &c;
	T_REQUIRE((t = spawn(cond_wait_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	T_CHECK_INT_EQ(o.after, 1);

	/* cancelled while we hold the mutex: it still waits for the mutex
	 * (the cancellation does not cut that short) */
	op_init(&o, -1);
	o.m = &m;
	o.c = &c;
	T_REQUIRE((t = spawn(cond_wait_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_mutex_lock(&m, -1), 0);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	pause_ns(SETTLE);
	T_CHECK_INT_EQ(atomic_load(&o.done), 0);
	T_CHECK_INT_EQ(green_mutex_unlock(&m), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	T_CHECK_INT_EQ(o.after, 1);

	T_CHECK_INT_EQ(green_cond_destroy(&c), 0);
	T_CHECK_INT_EQ(green_mutex_destroy(&m), 0);
	return NULL;
}

START_TEST(test_green_cond_wait_cancelled_relocks_mutex)
{
	run_in_task(cond_cancel_main, NULL);
}
END_TEST

static void *
cond_destroy_main(void *arg)
{
	green_cond_t c = GREEN_COND_INITIALIZER;
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	struct op o;
	green_task_t *t;

	(void)arg;
	op_init(&o, -1);
	o.m = &m;
	o.c = &c;
	T_REQUIRE((t = spawn(cond_wait_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_cond_destroy(&c), -EBUSY);
	/* still a working condition variable */
	T_CHECK_INT_EQ(green_cond_signal(&c), 0);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(o.after, 1);
	T_CHECK_INT_EQ(green_cond_destroy(&c), 0);
	T_CHECK_INT_EQ(green_mutex_destroy(&m), 0);
	return NULL;
}

START_TEST(test_green_cond_destroy_with_waiters_returns_ebusy)
{
	run_in_task(cond_destroy_main, NULL);
}
END_TEST

/* --- green_wg ---------------------------------------------------------- */

START_TEST(test_green_wg_null_returns_einval)
{
	ck_assert_int_eq(green_wg_init(NULL), -EINVAL);
	ck_assert_int_eq(green_wg_add(NULL, 1), -EINVAL);
	ck_assert_int_eq(green_wg_done(NULL), -EINVAL);
	ck_assert_int_eq(green_wg_wait(NULL, 0), -EINVAL);
	ck_assert_int_eq(green_wg_wait(NULL, -1), -EINVAL);
}
END_TEST

#define WG_TASKS 20

struct wg_work {
	green_wg_t *wg;
	atomic_int finished;
};

static void *
wg_worker(void *arg)
{
	struct wg_work *w = arg;

	green_sleep(green_now() +
		    GREEN_MSEC(1 + atomic_load(&w->finished) % 5));
	atomic_fetch_add(&w->finished, 1);
	return (void *)(intptr_t)green_wg_done(w->wg);
}

static void *
wg_main(void *arg)
{
	green_wg_t wg;
	struct wg_work w = { &wg, 0 };
	green_task_t *h[WG_TASKS];

	(void)arg;
	T_CHECK_INT_EQ(green_wg_init(&wg), 0);
	T_CHECK_INT_EQ(green_wg_add(&wg, WG_TASKS), 0);
	for (int i = 0; i < WG_TASKS; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], NULL, wg_worker, &w), 0);
	T_CHECK_INT_EQ(green_wg_wait(&wg, -1), 0);
	/* every done came before the wait returned */
	T_CHECK_INT_EQ(atomic_load(&w.finished), WG_TASKS);
	for (int i = 0; i < WG_TASKS; i++)
		T_CHECK_INT_EQ(join_int(h[i]), 0);
	T_CHECK_INT_EQ(green_wg_wait(&wg, 0), 0);
	return NULL;
}

START_TEST(test_green_wg_wait_returns_after_all_done)
{
	run_in_task(wg_main, NULL);
}
END_TEST

START_TEST(test_green_wg_wait_at_zero_returns_at_once)
{
	green_wg_t wg = GREEN_WG_INITIALIZER;
	green_wg_t z;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(green_wg_wait(&wg, 0), 0);
	ck_assert_int_eq(green_wg_wait(&wg, -1), 0);
	ck_assert_int_eq(green_wg_wait(&z, 0), 0);
	ck_assert_int_eq(green_wg_add(&wg, 0), 0);
	ck_assert_int_eq(green_wg_wait(&wg, 0), 0);
}
END_TEST

START_TEST(test_green_wg_add_negative_counter_returns_einval_unchanged)
{
	green_wg_t wg;

	ck_assert_int_eq(green_wg_init(&wg), 0);
	ck_assert_int_eq(green_wg_done(&wg), -EINVAL);
	ck_assert_int_eq(green_wg_add(&wg, -5), -EINVAL);
	ck_assert_int_eq(green_wg_wait(&wg, 0), 0);
	ck_assert_int_eq(green_wg_add(&wg, 2), 0);
	ck_assert_int_eq(green_wg_add(&wg, -3), -EINVAL);
	ck_assert_int_eq(green_wg_add(&wg, LONG_MIN), -EINVAL);
	/* still 2 */
	ck_assert_int_eq(green_wg_wait(&wg, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_wg_done(&wg), 0);
	ck_assert_int_eq(green_wg_wait(&wg, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_wg_done(&wg), 0);
	ck_assert_int_eq(green_wg_wait(&wg, 0), 0);
	ck_assert_int_eq(green_wg_done(&wg), -EINVAL);
	ck_assert_int_eq(green_wg_wait(&wg, 0), 0);
	/* a negative add that stays >= 0 is fine */
	ck_assert_int_eq(green_wg_add(&wg, 5), 0);
	ck_assert_int_eq(green_wg_add(&wg, -5), 0);
	ck_assert_int_eq(green_wg_wait(&wg, 0), 0);
}
END_TEST

static void *
wg_deadline_main(void *arg)
{
	green_wg_t wg = GREEN_WG_INITIALIZER;
	int64_t deadline;
	struct op o;
	green_task_t *t;

	(void)arg;
	T_CHECK_INT_EQ(green_wg_add(&wg, 1), 0);
	T_CHECK_INT_EQ(green_wg_wait(&wg, 0), -ETIMEDOUT);
	deadline = green_now() + SHORT;
	T_CHECK_INT_EQ(green_wg_wait(&wg, deadline), -ETIMEDOUT);
	T_CHECK(green_now() >= deadline);
	T_CHECK(green_now() < deadline + LATE_MAX);
	/* cancelled while waiting */
	op_init(&o, -1);
	o.wg = &wg;
	T_REQUIRE((t = spawn(wg_wait_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	T_CHECK_INT_EQ(green_wg_done(&wg), 0);
	T_CHECK_INT_EQ(green_wg_wait(&wg, -1), 0);
	return NULL;
}

START_TEST(test_green_wg_wait_deadline_and_cancel)
{
	green_wg_t wg = GREEN_WG_INITIALIZER;
	int64_t deadline;

	run_in_task(wg_deadline_main, NULL);
	ck_assert_int_eq(green_wg_add(&wg, 1), 0);
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_wg_wait(&wg, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_wg_done(&wg), 0);
}
END_TEST

#define WG_WAITERS 100
#define WG_THREADS 3

START_TEST(test_green_wg_wait_many_waiters_all_woken)
{
	static green_wg_t wg;
	static struct op o[WG_WAITERS + WG_THREADS];
	green_task_t *h[WG_WAITERS];
	pthread_t th[WG_THREADS];

	ck_assert_int_eq(green_wg_init(&wg), 0);
	ck_assert_int_eq(green_wg_add(&wg, 2), 0);
	for (int i = 0; i < WG_WAITERS + WG_THREADS; i++) {
		op_init(&o[i], -1);
		o[i].wg = &wg;
	}
	for (int i = 0; i < WG_WAITERS; i++)
		ck_assert_int_eq(green_spawn(&h[i], NULL, wg_wait_op, &o[i]),
				 0);
	for (int i = 0; i < WG_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, wg_wait_op,
						&o[WG_WAITERS + i]),
				 0);
	for (int i = 0; i < WG_WAITERS + WG_THREADS; i++)
		settle(&o[i]);
	ck_assert_int_eq(green_wg_done(&wg), 0);
	usleep(20000);
	/* 1 left: nobody woke */
	for (int i = 0; i < WG_WAITERS + WG_THREADS; i++)
		ck_assert_int_eq(atomic_load(&o[i].done), 0);
	ck_assert_int_eq(green_wg_done(&wg), 0);
	for (int i = 0; i < WG_WAITERS; i++)
		ck_assert_int_eq(join_int(h[i]), 0);
	for (int i = 0; i < WG_THREADS; i++)
		ck_assert_int_eq(pjoin_int(th[i]), 0);
}
END_TEST

static void *
wg_reuse_main(void *arg)
{
	green_wg_t wg = GREEN_WG_INITIALIZER;
	struct wg_work w = { &wg, 0 };

	(void)arg;
	for (int round = 0; round < 100; round++) {
		atomic_store(&w.finished, 0);
		T_REQUIRE_INT_EQ(green_wg_add(&wg, 3), 0);
		for (int i = 0; i < 3; i++)
			T_REQUIRE_INT_EQ(green_spawn(NULL, NULL, wg_worker, &w),
					 0);
		T_REQUIRE_INT_EQ(green_wg_wait(&wg, -1), 0);
		T_REQUIRE_INT_EQ(atomic_load(&w.finished), 3);
		T_REQUIRE_INT_EQ(green_wg_wait(&wg, 0), 0);
	}
	return NULL;
}

START_TEST(test_green_wg_reused_after_zero)
{
	run_in_task(wg_reuse_main, NULL);
}
END_TEST

/* --- green_sem --------------------------------------------------------- */

START_TEST(test_green_sem_init_negative_returns_einval)
{
	green_sem_t s;

	ck_assert_int_eq(green_sem_init(&s, -1), -EINVAL);
	ck_assert_int_eq(green_sem_init(&s, LONG_MIN), -EINVAL);
	ck_assert_int_eq(green_sem_init(NULL, 1), -EINVAL);
	ck_assert_int_eq(green_sem_init(&s, 0), 0);
	ck_assert_int_eq(green_sem_destroy(&s), 0);
}
END_TEST

START_TEST(test_green_sem_null_returns_einval)
{
	ck_assert_int_eq(green_sem_destroy(NULL), -EINVAL);
	ck_assert_int_eq(green_sem_acquire(NULL, 0), -EINVAL);
	ck_assert_int_eq(green_sem_acquire(NULL, -1), -EINVAL);
	ck_assert_int_eq(green_sem_release(NULL), -EINVAL);
}
END_TEST

START_TEST(test_green_sem_acquire_release_count_permits)
{
	green_sem_t s;
	green_sem_t t = GREEN_SEM_INITIALIZER(2);

	ck_assert_int_eq(green_sem_init(&s, 3), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_sem_acquire(&s, 0), 0);
	ck_assert_int_eq(green_sem_acquire(&s, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_sem_release(&s), 0);
	ck_assert_int_eq(green_sem_acquire(&s, -1), 0);
	ck_assert_int_eq(green_sem_acquire(&s, 0), -ETIMEDOUT);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(green_sem_release(&s), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(green_sem_acquire(&s, 0), 0);
	ck_assert_int_eq(green_sem_acquire(&s, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_sem_destroy(&s), 0);
	/* the initializer */
	ck_assert_int_eq(green_sem_acquire(&t, 0), 0);
	ck_assert_int_eq(green_sem_acquire(&t, 0), 0);
	ck_assert_int_eq(green_sem_acquire(&t, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_sem_destroy(&t), 0);
}
END_TEST

#define FIFO_WAITERS 6

static struct {
	green_sem_t s;
	int order[FIFO_WAITERS];
	atomic_int n;
	atomic_int started[FIFO_WAITERS];
} fifo;

static void *
fifo_waiter(void *arg)
{
	int id = (int)(intptr_t)arg;
	int r;

	atomic_store(&fifo.started[id], 1);
	r = green_sem_acquire(&fifo.s, -1);
	if (r == 0)
		fifo.order[atomic_fetch_add(&fifo.n, 1)] = id;
	return (void *)(intptr_t)r;
}

static void *
sem_fifo_main(void *arg)
{
	green_task_t *h[FIFO_WAITERS];

	(void)arg;
	memset(&fifo, 0, sizeof(fifo));
	T_REQUIRE_INT_EQ(green_sem_init(&fifo.s, 0), 0);
	/* they arrive one after the other */
	for (int i = 0; i < FIFO_WAITERS; i++) {
		T_REQUIRE_INT_EQ(green_spawn(&h[i], NULL, fifo_waiter,
					     (void *)(intptr_t)i),
				 0);
		wait_flag(&fifo.started[i], GREEN_SEC(10));
		pause_ns(SETTLE);
	}
	for (int i = 0; i < FIFO_WAITERS; i++) {
		T_CHECK_INT_EQ(green_sem_release(&fifo.s), 0);
		/* handed over: not there for us to take */
		T_CHECK_INT_EQ(green_sem_acquire(&fifo.s, 0), -ETIMEDOUT);
		for (int64_t end = green_now() + PROMPT;
		     atomic_load(&fifo.n) <= i && green_now() < end;)
			green_sleep(green_now() + GREEN_USEC(200));
		T_REQUIRE_INT_EQ(atomic_load(&fifo.n), i + 1);
	}
	for (int i = 0; i < FIFO_WAITERS; i++) {
		T_CHECK_INT_EQ(join_int(h[i]), 0);
		T_CHECK_INT_EQ(fifo.order[i], i);
	}
	T_CHECK_INT_EQ(green_sem_destroy(&fifo.s), 0);
	return NULL;
}

START_TEST(test_green_sem_release_hands_off_in_arrival_order)
{
	run_in_task(sem_fifo_main, NULL);
}
END_TEST

static void *
sem_deadline_main(void *arg)
{
	green_sem_t s;
	int64_t deadline;
	struct op o;
	green_task_t *t;

	(void)arg;
	T_CHECK_INT_EQ(green_sem_init(&s, 0), 0);
	deadline = green_now() + SHORT;
	T_CHECK_INT_EQ(green_sem_acquire(&s, deadline), -ETIMEDOUT);
	T_CHECK(green_now() >= deadline);
	T_CHECK(green_now() < deadline + LATE_MAX);
	/* the timed-out waiter is gone: a release adds a permit */
	T_CHECK_INT_EQ(green_sem_release(&s), 0);
	T_CHECK_INT_EQ(green_sem_acquire(&s, 0), 0);

	/* cancelled while waiting */
	op_init(&o, -1);
	o.s = &s;
	T_REQUIRE((t = spawn(sem_acquire_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_sem_destroy(&s), -EBUSY);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_CHECK_INT_EQ(join_int(t), -ECANCELED);
	T_CHECK_INT_EQ(green_sem_release(&s), 0);
	T_CHECK_INT_EQ(green_sem_acquire(&s, 0), 0);
	T_CHECK_INT_EQ(green_sem_acquire(&s, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_sem_destroy(&s), 0);
	return NULL;
}

START_TEST(test_green_sem_acquire_deadline_and_cancel)
{
	green_sem_t s = GREEN_SEM_INITIALIZER(0);
	int64_t deadline;

	run_in_task(sem_deadline_main, NULL);
	/* a plain thread */
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_sem_acquire(&s, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_sem_release(&s), 0);
	ck_assert_int_eq(green_sem_acquire(&s, 0), 0);
	ck_assert_int_eq(green_sem_destroy(&s), 0);
}
END_TEST

START_TEST(test_green_sem_release_at_long_max_returns_eoverflow)
{
	green_sem_t s;

	ck_assert_int_eq(green_sem_init(&s, LONG_MAX), 0);
	ck_assert_int_eq(green_sem_release(&s), -EOVERFLOW);
	ck_assert_int_eq(green_sem_acquire(&s, 0), 0);
	ck_assert_int_eq(green_sem_release(&s), 0);
	ck_assert_int_eq(green_sem_release(&s), -EOVERFLOW);
	ck_assert_int_eq(green_sem_destroy(&s), 0);
}
END_TEST

static void *
sem_destroy_main(void *arg)
{
	green_sem_t s = GREEN_SEM_INITIALIZER(0);
	struct op o;
	green_task_t *t;

	(void)arg;
	op_init(&o, -1);
	o.s = &s;
	T_REQUIRE((t = spawn(sem_acquire_op, &o)) != NULL);
	settle(&o);
	T_CHECK_INT_EQ(green_sem_destroy(&s), -EBUSY);
	T_CHECK_INT_EQ(green_sem_release(&s), 0);
	T_CHECK_INT_EQ(join_int(t), 0);
	T_CHECK_INT_EQ(green_sem_destroy(&s), 0);
	return NULL;
}

START_TEST(test_green_sem_destroy_waited_on_returns_ebusy)
{
	run_in_task(sem_destroy_main, NULL);
}
END_TEST

#define BOUND 3
#define BOUND_TASKS 200
#define BOUND_ITERS 20

static struct {
	green_sem_t s;
	atomic_int inside;
	atomic_int max;
	atomic_int errors;
} bound;

static void
bound_once(void)
{
	int now, max;

	if (green_sem_acquire(&bound.s, -1) != 0) {
		atomic_fetch_add(&bound.errors, 1);
		return;
	}
	now = atomic_fetch_add(&bound.inside, 1) + 1;
	max = atomic_load(&bound.max);
	while (now > max &&
	       !atomic_compare_exchange_weak(&bound.max, &max, now))
		;
	if (green_self() != NULL)
		green_yield();
	else
		sched_yield();
	atomic_fetch_sub(&bound.inside, 1);
	if (green_sem_release(&bound.s) != 0)
		atomic_fetch_add(&bound.errors, 1);
}

static void *
bound_task(void *arg)
{
	(void)arg;
	for (int i = 0; i < BOUND_ITERS; i++)
		bound_once();
	return NULL;
}

START_TEST(test_green_sem_bounded_concurrency_never_exceeded)
{
	static green_task_t *h[BOUND_TASKS];
	pthread_t th[2];

	memset(&bound, 0, sizeof(bound));
	ck_assert_int_eq(green_sem_init(&bound.s, BOUND), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, bound_task, NULL),
				 0);
	for (int i = 0; i < BOUND_TASKS; i++)
		ck_assert_int_eq(green_spawn(&h[i], NULL, bound_task, NULL), 0);
	for (int i = 0; i < BOUND_TASKS; i++)
		ck_assert_int_eq(green_join(h[i], NULL, -1), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(atomic_load(&bound.errors), 0);
	ck_assert_int_le(atomic_load(&bound.max), BOUND);
	ck_assert_int_ge(atomic_load(&bound.max), 1);
	ck_assert_int_eq(atomic_load(&bound.inside), 0);
	/* every permit came back */
	for (int i = 0; i < BOUND; i++)
		ck_assert_int_eq(green_sem_acquire(&bound.s, 0), 0);
	ck_assert_int_eq(green_sem_acquire(&bound.s, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_sem_destroy(&bound.s), 0);
}
END_TEST

/* --- without a runtime: plain threads only ------------------------------ */

START_TEST(test_sync_pthreads_without_runtime)
{
	static struct contend c;
	static struct pc p;
	static struct tickets k;
	pthread_t th[4];
	green_wg_t wg = GREEN_WG_INITIALIZER;
	green_sem_t s = GREEN_SEM_INITIALIZER(0);
	struct op o;
	int64_t deadline;

	/* the fixture started no runtime */
	ck_assert_int_eq(green_shutdown(), -EPERM);

	/* mutex */
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(
			pthread_create(&th[i], NULL, contend_thread, &c), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(atomic_load(&c.errors), 0);
	ck_assert_int_eq(atomic_load(&c.overlap), 0);
	ck_assert_int_eq(c.counter, 4L * MIXED_ITERS);
	ck_assert_int_eq(green_mutex_lock(&c.m, -1), 0);
	deadline = green_now() + SHORT;
	ck_assert_int_eq(green_mutex_lock(&c.m, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_mutex_unlock(&c.m), 0);

	/* cond: producer/consumer threads */
	memset(&p, 0, sizeof(p));
	p.producers_left = 2;
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, pc_consumer, &p),
				 0);
	for (int i = 2; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, pc_producer, &p),
				 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(atomic_load(&p.errors), 0);
	ck_assert_int_eq(p.count, 2L * PC_ITEMS);
	/* cond broadcast */
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(
			pthread_create(&th[i], NULL, ticket_waiter, &k), 0);
	while (atomic_load(&k.waiting) < 3)
		usleep(1000);
	ck_assert_int_eq(green_mutex_lock(&k.m, -1), 0);
	k.tickets = 3;
	ck_assert_int_eq(green_cond_broadcast(&k.c), 0);
	ck_assert_int_eq(green_mutex_unlock(&k.m), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(atomic_load(&k.served), 3);

	/* wait group */
	ck_assert_int_eq(green_wg_add(&wg, 1), 0);
	op_init(&o, -1);
	o.wg = &wg;
	ck_assert_int_eq(pthread_create(&th[0], NULL, wg_wait_op, &o), 0);
	settle(&o);
	ck_assert_int_eq(atomic_load(&o.done), 0);
	ck_assert_int_eq(green_wg_done(&wg), 0);
	ck_assert_int_eq(pjoin_int(th[0]), 0);

	/* semaphore */
	op_init(&o, -1);
	o.s = &s;
	ck_assert_int_eq(pthread_create(&th[0], NULL, sem_acquire_op, &o), 0);
	settle(&o);
	ck_assert_int_eq(atomic_load(&o.done), 0);
	ck_assert_int_eq(green_sem_release(&s), 0);
	ck_assert_int_eq(pjoin_int(th[0]), 0);
	ck_assert_int_eq(green_sem_acquire(&s, 0), -ETIMEDOUT);
}
END_TEST

/* --- deadlock report ----------------------------------------------------- */

static green_mutex_t dl_mutex;

static void *
dl_mutex_waiter(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)green_mutex_lock(&dl_mutex, -1);
}

/*
 * main holds the mutex and waits forever on a semaphore nobody releases,
 * while a task waits for the mutex.  (Had main joined that task, the
 * second wait would close a cycle and fail with -EDEADLK at once:
 * test_green_mutex_lock_cycle_fails_with_edeadlk.)
 */
static void
mutex_deadlock_main(void *arg)
{
	green_attr_t attr = { .name = "locker" };
	green_sem_t s = GREEN_SEM_INITIALIZER(0);
	green_task_t *t;

	(void)arg;
	green_mutex_init(&dl_mutex);
	if (green_mutex_lock(&dl_mutex, -1) != 0 ||
	    green_spawn(&t, &attr, dl_mutex_waiter, NULL) != 0)
		_exit(2);
	green_sem_acquire(&s, -1);
}

static void
cond_deadlock_main(void *arg)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	green_cond_t c = GREEN_COND_INITIALIZER;

	(void)arg;
	if (green_mutex_lock(&m, -1) != 0)
		_exit(2);
	green_cond_wait(&c, &m, -1);
}

static void
wg_deadlock_main(void *arg)
{
	green_wg_t wg = GREEN_WG_INITIALIZER;

	(void)arg;
	if (green_wg_add(&wg, 1) != 0)
		_exit(2);
	green_wg_wait(&wg, -1);
}

static void
sem_deadlock_main(void *arg)
{
	green_sem_t s = GREEN_SEM_INITIALIZER(0);

	(void)arg;
	green_sem_acquire(&s, -1);
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

START_TEST(test_green_run_blocked_on_held_mutex_reports_deadlock)
{
	char out[16384], st[64], *line;
	int status;

	ck_assert_int_eq(run_deadlocked(mutex_deadlock_main, NULL, NWORKERS,
					&status, out, sizeof(out)),
			 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child %s; stderr:\n%s",
		      describe_status(status, st, sizeof(st)), out);
	ck_assert_msg(strstr(out, "deadlock") != NULL,
		      "no \"deadlock\" in stderr:\n%s", out);
	/* the waiter's line names the mutex */
	line = strstr(out, "\"locker\"");
	ck_assert_msg(line != NULL, "no \"locker\" in stderr:\n%s", out);
	ck_assert_msg(strstr(line, "mutex") != NULL &&
			      (strchr(line, '\n') == NULL ||
			       strstr(line, "mutex") < strchr(line, '\n')),
		      "the waiter's line does not say \"mutex\":\n%s", out);
	ck_assert_msg(strstr(out, "semaphore") != NULL,
		      "no \"semaphore\" in stderr:\n%s", out);
}
END_TEST

START_TEST(test_green_run_blocked_in_cond_wait_reports_deadlock)
{
	assert_deadlock_report(cond_deadlock_main, "cond");
}
END_TEST

START_TEST(test_green_run_blocked_in_wg_wait_reports_deadlock)
{
	assert_deadlock_report(wg_deadlock_main, "wait group");
}
END_TEST

START_TEST(test_green_run_blocked_in_sem_acquire_reports_deadlock)
{
	assert_deadlock_report(sem_deadlock_main, "semaphore");
}
END_TEST

/* ------------------------------------------------------------------------- */

static TCase *
tcase(Suite *s, const char *name, bool runtime)
{
	return add_tcase(s, name, runtime ? setup : NULL, teardown, TIMEOUT);
}

static Suite *
sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc;

	tc = tcase(s, "green_mutex_lock", true);
	tcase_add_test(tc, test_green_mutex_lock_trylock_unlock_returns_zero);
	tcase_add_test(tc, test_green_mutex_lock_in_task_returns_zero);
	tcase_add_test(tc, test_green_mutex_null_returns_einval);
	tcase_add_test(
		tc, test_green_mutex_lock_deadline_expires_returns_etimedout);
	tcase_add_test(
		tc,
		test_green_mutex_lock_cancelled_while_waiting_returns_ecanceled);
	tcase_add_test(tc, test_green_mutex_lock_contention_counter_exact);
	tcase_add_test(tc,
		       test_green_mutex_lock_pthreads_and_tasks_counter_exact);
	tcase_add_test(tc,
		       test_green_mutex_lock_tight_loop_does_not_starve_waiter);

	tc = tcase(s, "green_mutex_unlock", true);
	tcase_add_test(tc, test_green_mutex_unlock_unlocked_returns_eperm);
	tcase_add_test(tc, test_green_mutex_unlock_by_other_task_returns_zero);

	tc = tcase(s, "green_mutex_init", true);
	tcase_add_test(tc,
		       test_green_mutex_initializer_and_zeroed_are_unlocked);

	tc = tcase(s, "green_mutex_destroy", true);
	tcase_add_test(tc, test_green_mutex_destroy_locked_returns_ebusy);

	tc = tcase(s, "green_cond_wait", true);
	tcase_add_test(tc, test_green_cond_null_returns_einval);
	tcase_add_test(tc, test_green_cond_wait_mutex_not_held_returns_eperm);
	tcase_add_test(tc, test_green_cond_wait_deadline_expires_relocks_mutex);
	tcase_add_test(tc, test_green_cond_wait_cancelled_relocks_mutex);

	tc = tcase(s, "green_cond_signal", true);
	tcase_add_test(tc,
		       test_green_cond_signal_broadcast_no_waiters_return_zero);
	tcase_add_test(tc, test_green_cond_signal_producer_consumer_all_items);
	tcase_add_test(tc, test_green_cond_signal_pthreads_and_tasks_all_items);
	tcase_add_test(tc, test_green_cond_signal_one_broadcast_all);

	tc = tcase(s, "green_cond_broadcast", true);
	tcase_add_test(tc, test_green_cond_broadcast_wakes_tasks_and_pthreads);

	tc = tcase(s, "green_cond_destroy", true);
	tcase_add_test(tc, test_green_cond_destroy_with_waiters_returns_ebusy);

	tc = tcase(s, "green_wg", true);
	tcase_add_test(tc, test_green_wg_null_returns_einval);
	tcase_add_test(tc, test_green_wg_wait_returns_after_all_done);
	tcase_add_test(tc, test_green_wg_wait_at_zero_returns_at_once);
	tcase_add_test(
		tc,
		test_green_wg_add_negative_counter_returns_einval_unchanged);
	tcase_add_test(tc, test_green_wg_wait_deadline_and_cancel);
	tcase_add_test(tc, test_green_wg_wait_many_waiters_all_woken);
	tcase_add_test(tc, test_green_wg_reused_after_zero);

	tc = tcase(s, "green_sem", true);
	tcase_add_test(tc, test_green_sem_init_negative_returns_einval);
	tcase_add_test(tc, test_green_sem_null_returns_einval);
	tcase_add_test(tc, test_green_sem_acquire_release_count_permits);
	tcase_add_test(tc, test_green_sem_release_hands_off_in_arrival_order);
	tcase_add_test(tc, test_green_sem_acquire_deadline_and_cancel);
	tcase_add_test(tc,
		       test_green_sem_release_at_long_max_returns_eoverflow);
	tcase_add_test(tc, test_green_sem_destroy_waited_on_returns_ebusy);
	tcase_add_test(tc, test_green_sem_bounded_concurrency_never_exceeded);

	tc = tcase(s, "no_runtime", false);
	tcase_add_test(tc, test_sync_pthreads_without_runtime);

	tc = tcase(s, "deadlock", false);
	tcase_add_test(tc,
		       test_green_run_blocked_on_held_mutex_reports_deadlock);
	tcase_add_test(tc,
		       test_green_run_blocked_in_cond_wait_reports_deadlock);
	tcase_add_test(tc, test_green_run_blocked_in_wg_wait_reports_deadlock);
	tcase_add_test(tc,
		       test_green_run_blocked_in_sem_acquire_reports_deadlock);

	return s;
}

int
main(void)
{
	return run_suite(sync_suite());
}
