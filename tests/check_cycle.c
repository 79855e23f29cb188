/*
 * check_cycle.c - wait-for cycles caught as they form (cycle.c): every
 * shape through joins, mutexes a task holds and group waits, in both
 * orders of closing; the diagnostic naming every task of the cycle; no
 * report for waits with a deadline; and no false report from a stress of
 * joins and mutexes that form no cycle, on two workers.
 *
 * A task "waits" once it has not returned after SETTLE; the tests give the
 * first party SETTLE to get into its wait before the second closes the
 * cycle.  A task has one joiner at most, so the test thread joins only
 * the tasks that no task of the cycle joined with success, and reads the
 * others' results from where they left them.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define NWORKERS 2
#define TIMEOUT (60 * TEST_TIMEOUT_MULT)
#define SETTLE GREEN_MSEC(30)
#define PROMPT GREEN_SEC(10)

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

/* --- join cycles --------------------------------------------------------- */

static _Atomic(green_task_t *) peer; /* the task hold_and_join joins */
static green_mutex_t mtx;

/* What join_peer joins, when, and until when; what it got. */
struct jp {
	_Atomic(green_task_t *) target;
	int64_t delay;	  /* ns before the join */
	int64_t deadline; /* relative; -1: none */
	atomic_int result;
	atomic_int done;
};

#define JP(delay, deadline) { NULL, (delay), (deadline), 1, 0 }

/* Joins jp->target (after jp->delay); returns the join's result. */
static void *
join_peer(void *arg)
{
	struct jp *j = arg;
	green_task_t *t;
	int r;

	if (j->delay > 0)
		green_sleep(green_now() + j->delay);
	while ((t = atomic_load(&j->target)) == NULL)
		green_yield();
	r = green_join(t, NULL,
		       j->deadline < 0 ? -1 : green_now() + j->deadline);
	atomic_store(&j->result, r);
	atomic_store(&j->done, 1);
	return (void *)(intptr_t)r;
}

/* Wait (from the test thread) until *flag is set. */
static void
wait_done(atomic_int *flag)
{
	ck_assert_msg(wait_flag(flag, PROMPT), "a party never finished");
}

START_TEST(test_join_cycle_closer_fails_other_completes)
{
	static struct jp ja, jb;
	green_task_t *a, *b;
	void *ra, *rb;

	/* a waits for b; b, later, for a: b closes the cycle */
	ja = (struct jp)JP(0, -1);
	jb = (struct jp)JP(SETTLE, -1);
	ck_assert_int_eq(green_spawn(&a, NULL, join_peer, &ja), 0);
	ck_assert_int_eq(green_spawn(&b, NULL, join_peer, &jb), 0);
	atomic_store(&ja.target, b);
	atomic_store(&jb.target, a);
	wait_done(&jb.done);
	ck_assert_int_eq(atomic_load(&jb.result), -EDEADLK);
	/* b ended, so a's join of it succeeded (and took b's handle) */
	ck_assert_int_eq(green_join(a, &ra, green_now() + PROMPT), 0);
	ck_assert_int_eq((int)(intptr_t)ra, 0);
	(void)rb;
}
END_TEST

/* --- mutex cycles -------------------------------------------------------- */

static atomic_int lock_result, lock_done;

/* Locks mtx forever (after delay ns); unlocks it if it got it. */
static void *
lock_mtx(void *arg)
{
	int64_t delay = (int64_t)(intptr_t)arg;
	int r;

	if (delay > 0)
		green_sleep(green_now() + delay);
	r = green_mutex_lock(&mtx, -1);
	if (r == 0)
		green_mutex_unlock(&mtx);
	atomic_store(&lock_result, r);
	atomic_store(&lock_done, 1);
	return (void *)(intptr_t)r;
}

/* Holds mtx and joins peer (after delay ns); returns the join's result. */
static void *
hold_and_join(void *arg)
{
	int64_t delay = (int64_t)(intptr_t)arg;
	green_task_t *t;
	int r;

	if (green_mutex_lock(&mtx, -1) != 0)
		return (void *)(intptr_t)-1000;
	if (delay > 0)
		green_sleep(green_now() + delay);
	while ((t = atomic_load(&peer)) == NULL)
		green_yield();
	r = green_join(t, NULL, -1);
	green_mutex_unlock(&mtx);
	return (void *)(intptr_t)r;
}

START_TEST(test_mutex_cycle_closed_by_the_lock)
{
	green_task_t *holder, *locker;
	void *rh, *rl;

	ck_assert_int_eq(green_mutex_init(&mtx), 0);
	atomic_store(&peer, NULL);
	atomic_store(&lock_done, 0);
	/* holder takes mtx and joins locker; locker, later, locks mtx */
	ck_assert_int_eq(green_spawn(&holder, NULL, hold_and_join, NULL), 0);
	ck_assert_int_eq(green_spawn(&locker, NULL, lock_mtx,
				     (void *)(intptr_t)SETTLE),
			 0);
	atomic_store(&peer, locker);
	wait_done(&lock_done);
	ck_assert_int_eq(atomic_load(&lock_result), -EDEADLK);
	/* holder joined locker */
	ck_assert_int_eq(green_join(holder, &rh, green_now() + PROMPT), 0);
	(void)rl;
	ck_assert_int_eq((int)(intptr_t)rh, 0);
	ck_assert_int_eq(green_mutex_destroy(&mtx), 0);
}
END_TEST

START_TEST(test_mutex_cycle_closed_by_the_join)
{
	green_task_t *holder, *locker;
	void *rh, *rl;

	ck_assert_int_eq(green_mutex_init(&mtx), 0);
	atomic_store(&peer, NULL);
	atomic_store(&lock_done, 0);
	/* holder takes mtx, locker waits for it, then holder joins locker */
	ck_assert_int_eq(green_spawn(&holder, NULL, hold_and_join,
				     (void *)(intptr_t)SETTLE),
			 0);
	pause_ns(SETTLE / 3);
	ck_assert_int_eq(green_spawn(&locker, NULL, lock_mtx, NULL), 0);
	atomic_store(&peer, locker);
	ck_assert_int_eq(green_join(holder, &rh, green_now() + PROMPT), 0);
	ck_assert_int_eq((int)(intptr_t)rh, -EDEADLK);
	/* holder unlocked: locker got the mutex */
	ck_assert_int_eq(green_join(locker, &rl, green_now() + PROMPT), 0);
	ck_assert_int_eq((int)(intptr_t)rl, 0);
	ck_assert_int_eq(green_mutex_destroy(&mtx), 0);
}
END_TEST

static void *
lock_twice(void *arg)
{
	int r;

	(void)arg;
	if (green_mutex_lock(&mtx, -1) != 0)
		return (void *)(intptr_t)-1000;
	r = green_mutex_lock(&mtx, -1);
	green_mutex_unlock(&mtx);
	return (void *)(intptr_t)r;
}

START_TEST(test_mutex_relock_by_owner_fails_with_edeadlk)
{
	ck_assert_int_eq(green_mutex_init(&mtx), 0);
	ck_assert_int_eq((int)(intptr_t)run_in_task(lock_twice, NULL),
			 -EDEADLK);
	ck_assert_int_eq(green_mutex_destroy(&mtx), 0);
}
END_TEST

/* --- three tasks: a joins b, b locks mtx held by c, c joins a ------------ */

static _Atomic(green_task_t *) ta, tb;

static void *
three_a(void *arg)
{
	(void)arg;
	while (atomic_load(&tb) == NULL)
		green_yield();
	return (void *)(intptr_t)green_join(atomic_load(&tb), NULL, -1);
}

static void *
three_c(void *arg)
{
	int r;

	(void)arg;
	if (green_mutex_lock(&mtx, -1) != 0)
		return (void *)(intptr_t)-1000;
	green_sleep(green_now() + 2 * SETTLE);
	r = green_join(atomic_load(&ta), NULL, -1);
	green_mutex_unlock(&mtx);
	return (void *)(intptr_t)r;
}

START_TEST(test_three_task_cycle_closed_by_the_last_join)
{
	green_task_t *a, *b, *c;
	void *r[3];

	ck_assert_int_eq(green_mutex_init(&mtx), 0);
	atomic_store(&tb, NULL);
	atomic_store(&lock_done, 0);
	ck_assert_int_eq(green_spawn(&c, NULL, three_c, NULL), 0);
	pause_ns(SETTLE / 3); /* c holds mtx */
	ck_assert_int_eq(green_spawn(&a, NULL, three_a, NULL), 0);
	atomic_store(&ta, a);
	ck_assert_int_eq(green_spawn(&b, NULL, lock_mtx, NULL), 0);
	atomic_store(&tb, b);
	/* c closes the cycle; then b gets mtx, and a's join of b ends */
	ck_assert_int_eq(green_join(c, &r[2], green_now() + PROMPT), 0);
	ck_assert_int_eq((int)(intptr_t)r[2], -EDEADLK);
	wait_done(&lock_done);
	ck_assert_int_eq(atomic_load(&lock_result), 0);
	ck_assert_int_eq(green_join(a, &r[0], green_now() + PROMPT), 0);
	ck_assert_int_eq((int)(intptr_t)r[0], 0);
	ck_assert_int_eq(green_mutex_destroy(&mtx), 0);
}
END_TEST

/* --- group cycles -------------------------------------------------------- */

static _Atomic(green_task_t *) waiter_task;

/* A task of the group: joins the task that waits for the group. */
static int
member_joins_waiter(void *arg)
{
	int64_t delay = (int64_t)(intptr_t)arg;
	green_task_t *t;

	if (delay > 0)
		green_sleep(green_now() + delay);
	while ((t = atomic_load(&waiter_task)) == NULL)
		green_yield();
	return green_join(t, NULL, -1);
}

struct gw {
	green_group_t *g;
	int64_t delay;
	atomic_int result;
};

/* Waits for the group (after delay ns); returns the wait's result. */
static void *
wait_group(void *arg)
{
	struct gw *w = arg;
	int r;

	if (w->delay > 0)
		green_sleep(green_now() + w->delay);
	r = green_group_wait(w->g, -1);
	atomic_store(&w->result, r);
	return (void *)(intptr_t)r;
}

START_TEST(test_group_cycle_closed_by_a_member)
{
	green_group_t *g;
	struct gw w;
	green_task_t *t;
	void *r;

	atomic_store(&waiter_task, NULL);
	ck_assert_int_eq(green_group_create(&g, NULL), 0);
	/* the member joins the waiter only after it waits for the group */
	ck_assert_int_eq(green_group_spawn(g, NULL, member_joins_waiter,
					   (void *)(intptr_t)SETTLE, -1),
			 0);
	w = (struct gw){ g, 0, 1 };
	ck_assert_int_eq(green_spawn(&t, NULL, wait_group, &w), 0);
	atomic_store(&waiter_task, t);
	/* the member's join fails, so it ends with -EDEADLK, and so does
	 * the group's outcome; the member's join did not take t (join t
	 * only then: a task has one joiner) */
	for (int i = 0; i < 10000 && atomic_load(&w.result) == 1; i++)
		pause_ns(GREEN_MSEC(1));
	ck_assert_int_eq(green_join(t, &r, green_now() + PROMPT), 0);
	ck_assert_int_eq((int)(intptr_t)r, -EDEADLK);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

START_TEST(test_group_cycle_closed_by_the_wait)
{
	green_group_t *g;
	struct gw w;
	green_task_t *t;

	atomic_store(&waiter_task, NULL);
	ck_assert_int_eq(green_group_create(&g, NULL), 0);
	/* the member joins the waiter first; the waiter waits later */
	ck_assert_int_eq(green_group_spawn(g, NULL, member_joins_waiter, NULL,
					   -1),
			 0);
	w = (struct gw){ g, SETTLE, 1 };
	ck_assert_int_eq(green_spawn(&t, NULL, wait_group, &w), 0);
	atomic_store(&waiter_task, t);
	/* the member joins t (so t has no other joiner): wait for the
	 * group instead, from here, which is in no cycle */
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), 0);
	ck_assert_int_eq(atomic_load(&w.result), -EDEADLK);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

/* --- what is not a cycle ------------------------------------------------ */

/* a joins b with a deadline; b joins a for ever: a times out, no report */
START_TEST(test_wait_with_deadline_is_no_cycle)
{
	static struct jp ja, jb;
	green_task_t *a, *b;
	void *rb;

	ja = (struct jp)JP(0, 2 * SETTLE);
	jb = (struct jp)JP(SETTLE / 2, -1);
	ck_assert_int_eq(green_spawn(&a, NULL, join_peer, &ja), 0);
	ck_assert_int_eq(green_spawn(&b, NULL, join_peer, &jb), 0);
	atomic_store(&ja.target, b);
	atomic_store(&jb.target, a);
	/* a gives up at its deadline and ends; b's join then returns 0 (and
	 * takes a's handle) */
	wait_done(&ja.done);
	ck_assert_int_eq(atomic_load(&ja.result), -ETIMEDOUT);
	ck_assert_int_eq(green_join(b, &rb, green_now() + PROMPT), 0);
	ck_assert_int_eq((int)(intptr_t)rb, 0);
}
END_TEST

/* Chains of joins and nested locks in one order: never a cycle. */
#define CHAIN 8
static green_mutex_t chain_mtx[3];
static atomic_int false_reports;

struct link {
	green_task_t *prev; /* joined at the end; NULL for the first */
	int i;
};

static void *
chain_link(void *arg)
{
	struct link *l = arg;

	for (int k = 0; k < 50; k++) {
		/* always in index order: no lock cycle */
		for (int m = 0; m < 3; m++)
			if (green_mutex_lock(&chain_mtx[m], -1) == -EDEADLK)
				atomic_fetch_add(&false_reports, 1);
		green_yield();
		for (int m = 2; m >= 0; m--)
			green_mutex_unlock(&chain_mtx[m]);
	}
	if (l->prev != NULL &&
	    green_join(l->prev, NULL, -1) == -EDEADLK)
		atomic_fetch_add(&false_reports, 1);
	return NULL;
}

START_TEST(test_stress_no_false_cycle)
{
	struct link l[CHAIN];
	green_task_t *last = NULL;

	atomic_store(&false_reports, 0);
	for (int m = 0; m < 3; m++)
		ck_assert_int_eq(green_mutex_init(&chain_mtx[m]), 0);
	for (int round = 0; round < TEST_SCALE(40); round++) {
		last = NULL;
		for (int i = 0; i < CHAIN; i++) {
			l[i] = (struct link){ last, i };
			ck_assert_int_eq(green_spawn(&last, NULL, chain_link,
						     &l[i]),
					 0);
		}
		/* each link joined its predecessor; the last one is ours */
		ck_assert_int_eq(green_join(last, NULL, green_now() + PROMPT),
				 0);
	}
	ck_assert_int_eq(atomic_load(&false_reports), 0);
	for (int m = 0; m < 3; m++)
		ck_assert_int_eq(green_mutex_destroy(&chain_mtx[m]), 0);
}
END_TEST

/* --- the diagnostic ------------------------------------------------------ */

static void *
named_join(void *arg)
{
	return join_peer(arg);
}

static void
diag_main(void *arg)
{
	static struct jp ja, jb;
	green_attr_t an = { .name = "alpha" }, bn = { .name = "beta" };
	green_task_t *a, *b;
	int *rb = arg;
	void *r;

	ja = (struct jp)JP(0, -1);
	jb = (struct jp)JP(SETTLE, -1);
	if (green_spawn(&a, &an, named_join, &ja) != 0 ||
	    green_spawn(&b, &bn, named_join, &jb) != 0)
		_exit(3);
	atomic_store(&ja.target, b);
	atomic_store(&jb.target, a);
	while (!atomic_load(&jb.done))
		green_sleep(green_now() + GREEN_MSEC(1));
	*rb = atomic_load(&jb.result);
	green_join(a, &r, -1);
}

static int
diag_child(void *arg)
{
	green_config_t cfg = { .workers = 2 };
	int rb = 0, r;

	(void)arg;
	r = green_run(diag_main, &rb, &cfg);
	return r == 0 && rb == -EDEADLK ? 0 : 1;
}

START_TEST(test_diagnostic_names_every_task_of_the_cycle)
{
	char out[8192], st[64];
	int status;

	ck_assert_int_eq(run_forked(diag_child, NULL, &status, out, sizeof(out)),
			 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child %s; stderr:\n%s",
		      describe_status(status, st, sizeof(st)), out);
	ck_assert_msg(strstr(out, "would close a cycle") != NULL &&
			      strstr(out, "\"alpha\" (entry named_join) joins") !=
				      NULL &&
			      strstr(out, "\"beta\" (entry named_join) joins") !=
				      NULL,
		      "stderr:\n%s", out);
}
END_TEST

static Suite *
cycle_suite(void)
{
	Suite *s = suite_create("cycle");
	TCase *tc;

	tc = add_tcase(s, "join", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_join_cycle_closer_fails_other_completes);

	tc = add_tcase(s, "mutex", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_mutex_cycle_closed_by_the_lock);
	tcase_add_test(tc, test_mutex_cycle_closed_by_the_join);
	tcase_add_test(tc, test_mutex_relock_by_owner_fails_with_edeadlk);
	tcase_add_test(tc, test_three_task_cycle_closed_by_the_last_join);

	tc = add_tcase(s, "group", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_group_cycle_closed_by_a_member);
	tcase_add_test(tc, test_group_cycle_closed_by_the_wait);

	tc = add_tcase(s, "no_cycle", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_wait_with_deadline_is_no_cycle);
	tcase_add_test(tc, test_stress_no_false_cycle);

	tc = add_tcase(s, "diagnostic", NULL, NULL, TIMEOUT);
	tcase_add_test(tc, test_diagnostic_names_every_task_of_the_cycle);

	return s;
}

int
main(void)
{
	return run_suite(cycle_suite());
}
