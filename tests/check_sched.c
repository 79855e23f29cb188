/*
 * check_sched.c - the scheduler: yield order, work stealing, foreign
 * threads, waiting for the last task, timers and sleep, idling, and a
 * mixed stress run.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define TIMEOUT (60 * TEST_TIMEOUT_MULT)
#define PROMPT GREEN_SEC(5)
#define STEAL_SPARES 2
#define STEAL_IDS (2 + STEAL_SPARES) /* workers and spares */

static void
setup1(void)
{
	init_workers(1);
}

static void
setup2(void)
{
	init_workers(2);
}

/* Two workers and at most STEAL_SPARES spares: worker ids stay below
 * STEAL_IDS. */
static void
setup2_capped(void)
{
	green_config_t cfg = { .workers = 2, .max_spares = STEAL_SPARES };

	tfail_reset();
	ck_assert_int_eq(green_init(&cfg), 0);
}

static void
teardown(void)
{
	shutdown_runtime();
}

static atomic_int started, release;

/* Says it started, waits (parked in short sleeps) for release, returns arg. */
static void *
wait_release(void *arg)
{
	atomic_store(&started, 1);
	T_CHECK(wait_flag(&release, GREEN_SEC(20)));
	return arg;
}

/* --- green_yield ------------------------------------------------------- */

#define FAIR_N 8
#define FAIR_K 200

static int fair_seq[FAIR_N * FAIR_K];
static atomic_int fair_pos;

static void *
fair_task(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int k = 0; k < FAIR_K; k++) {
		int p = atomic_fetch_add(&fair_pos, 1);
		if (p < FAIR_N * FAIR_K)
			fair_seq[p] = me;
		green_yield();
	}
	return NULL;
}

static void *
fair_main(void *arg)
{
	green_task_t *h[FAIR_N];

	(void)arg;
	/* none of them runs before all are spawned: one worker, and this
	 * task does not block until its first join */
	for (int i = 0; i < FAIR_N; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], NULL, fair_task,
					     (void *)(intptr_t)i),
				 0);
	for (int i = 0; i < FAIR_N; i++)
		T_CHECK_INT_EQ(green_join(h[i], NULL, -1), 0);
	return NULL;
}

/*
 * N tasks on one worker, each yielding K times: round robin.  Between two
 * turns of one task every other task had exactly one turn (so no task ever
 * ran twice in a row while others were runnable), and all got K turns.
 */
START_TEST(test_green_yield_one_worker_round_robin)
{
	int count[FAIR_N] = { 0 };
	int last[FAIR_N];

	atomic_store(&fair_pos, 0);
	run_in_task(fair_main, NULL);
	ck_assert_int_eq(atomic_load(&fair_pos), FAIR_N * FAIR_K);
	for (int p = 0; p < FAIR_N * FAIR_K; p++) {
		ck_assert(fair_seq[p] >= 0 && fair_seq[p] < FAIR_N);
		count[fair_seq[p]]++;
	}
	for (int i = 0; i < FAIR_N; i++)
		ck_assert_int_eq(count[i], FAIR_K);
	for (int i = 0; i < FAIR_N; i++)
		last[i] = -1;
	for (int p = 0; p < FAIR_N * FAIR_K; p++) {
		int me = fair_seq[p];
		if (p > 0)
			ck_assert_msg(fair_seq[p - 1] != me,
				      "task %d ran twice in a row at turn %d "
				      "while others were runnable",
				      me, p);
		if (last[me] >= 0) {
			int seen[FAIR_N] = { 0 };
			for (int q = last[me] + 1; q < p; q++)
				seen[fair_seq[q]]++;
			for (int o = 0; o < FAIR_N; o++)
				ck_assert_msg(o == me || seen[o] == 1,
					      "between turns %d and %d of task "
					      "%d, task %d had %d turns",
					      last[me], p, me, o, seen[o]);
		}
		last[me] = p;
	}
}
END_TEST

START_TEST(test_green_yield_outside_task_returns)
{
	green_yield();
	ck_assert_ptr_null(green_self());
}
END_TEST

/* --- green_spawn: stealing and foreign threads ------------------------- */

#define STEAL_N 2000

struct steal_rec {
	int worker;
	pid_t tid;
};

static struct steal_rec steal_rec[STEAL_N];

static void *
steal_task(void *arg)
{
	struct steal_rec *r = arg;

	r->worker = green_worker_id();
	r->tid = gettid();
	busy_wait_ns(GREEN_USEC(20));
	return NULL;
}

static void *
steal_main(void *arg)
{
	static green_task_t *h[STEAL_N];

	(void)arg;
	/* all of them land on this task's worker; the other must steal */
	for (int i = 0; i < STEAL_N; i++)
		T_REQUIRE_INT_EQ(
			green_spawn(&h[i], NULL, steal_task, &steal_rec[i]), 0);
	for (int i = 0; i < STEAL_N; i++)
		T_CHECK_INT_EQ(green_join(h[i], NULL, -1), 0);
	return NULL;
}

START_TEST(test_green_spawn_two_workers_work_is_stolen)
{
	/* a spare that took over from a held worker (monitor.c, when the
	 * machine stalls a worker for 10 ms) has an index of its own */
	int seen[STEAL_IDS] = { 0 }, ids = 0;
	pid_t tid_of[STEAL_IDS] = { 0 };

	for (int i = 0; i < STEAL_N; i++)
		steal_rec[i] = (struct steal_rec){ -1, 0 };
	run_in_task(steal_main, NULL);
	for (int i = 0; i < STEAL_N; i++) {
		int w = steal_rec[i].worker;
		ck_assert_msg(w >= 0 && w < STEAL_IDS, "task %d: worker id %d",
			      i, w);
		ids += seen[w]++ == 0;
		/* one OS thread per worker id, and distinct ones */
		if (tid_of[w] == 0)
			tid_of[w] = steal_rec[i].tid;
		ck_assert_msg(steal_rec[i].tid == tid_of[w],
			      "worker %d ran on threads %d and %d", w,
			      (int)tid_of[w], (int)steal_rec[i].tid);
		ck_assert_int_ne(tid_of[w], gettid());
	}
	ck_assert_msg(ids >= 2, "no stealing: one worker ran all %d tasks",
		      STEAL_N);
	for (int a = 0; a < STEAL_IDS; a++)
		for (int b = a + 1; b < STEAL_IDS; b++)
			ck_assert(tid_of[a] == 0 || tid_of[a] != tid_of[b]);
}
END_TEST

/*
 * Fairness of the LIFO order (runq.c): a worker runs the newest task, but a
 * stream of new work must not starve an older ready task.  One worker: a
 * chain of tasks, each spawning its successor and, while fewer than
 * CHAIN_LEAVES are waiting, a leaf, keeps a few tasks newer than the victim
 * in the ring (never enough to overflow it to the global queue).  The
 * victim, queued first, must still run long before the chain ends; it
 * would wait for the whole chain if the oldest task were never picked.
 */
#define CHAIN_LEN 20000
#define CHAIN_LEAVES 4
#define CHAIN_BOUND 2000 /* links after which the victim must have run */

static atomic_int chain_links, chain_leaves, victim_ran_at;

static void *
leaf_task(void *arg)
{
	(void)arg;
	atomic_fetch_sub(&chain_leaves, 1);
	return NULL;
}

static void *
chain_task(void *arg)
{
	int link = atomic_fetch_add(&chain_links, 1);

	(void)arg;
	if (link >= CHAIN_LEN)
		return NULL;
	if (atomic_load(&chain_leaves) < CHAIN_LEAVES) {
		atomic_fetch_add(&chain_leaves, 1);
		T_CHECK_INT_EQ(green_spawn(NULL, NULL, leaf_task, NULL), 0);
	}
	T_CHECK_INT_EQ(green_spawn(NULL, NULL, chain_task, NULL), 0);
	return NULL;
}

static void *
victim_task(void *arg)
{
	(void)arg;
	atomic_store(&victim_ran_at, atomic_load(&chain_links));
	return NULL;
}

static void *
starve_main(void *arg)
{
	green_task_t *v;

	(void)arg;
	atomic_store(&chain_links, 0);
	atomic_store(&chain_leaves, 0);
	atomic_store(&victim_ran_at, -1);
	T_REQUIRE_INT_EQ(green_spawn(&v, NULL, victim_task, NULL), 0);
	T_REQUIRE_INT_EQ(green_spawn(NULL, NULL, chain_task, NULL), 0);
	T_CHECK_INT_EQ(green_join(v, NULL, -1), 0);
	/* let the chain end before the runtime shuts down */
	while (atomic_load(&chain_links) <= CHAIN_LEN)
		green_yield();
	return NULL;
}

START_TEST(test_green_spawn_one_worker_stream_does_not_starve_older_task)
{
	int at;

	run_in_task(starve_main, NULL);
	at = atomic_load(&victim_ran_at);
	ck_assert_msg(at >= 0 && at < CHAIN_BOUND,
		      "the victim ran after %d of %d chain links", at,
		      CHAIN_LEN);
}
END_TEST

/*
 * The deque under thieves (runq.c): a fork-join tree on two workers, where
 * owners take their newest tasks while the other worker steals the oldest.
 * Every node runs exactly once: each marks its own cell, which must go
 * from 0 to 1, and the leaves' sum is exact.
 */
#define TREE_DEPTH (TEST_SLOW ? 12 : 17)
#define TREE_NODES ((1u << (TREE_DEPTH + 1)) - 1)

static atomic_uchar *tree_ran;

static void *
tree_task(void *arg)
{
	uintptr_t node = (uintptr_t)arg; /* heap order: children 2n+1, 2n+2 */
	green_task_t *l, *r;
	void *a = NULL, *b = NULL;

	T_CHECK_INT_EQ(atomic_fetch_add(&tree_ran[node], 1), 0);
	if (node >= TREE_NODES / 2)
		return (void *)1; /* a leaf */
	T_REQUIRE_INT_EQ(green_spawn(&l, NULL, tree_task,
				     (void *)(2 * node + 1)),
			 0);
	T_REQUIRE_INT_EQ(green_spawn(&r, NULL, tree_task,
				     (void *)(2 * node + 2)),
			 0);
	T_CHECK_INT_EQ(green_join(l, &a, -1), 0);
	T_CHECK_INT_EQ(green_join(r, &b, -1), 0);
	return (void *)((uintptr_t)a + (uintptr_t)b);
}

START_TEST(test_stress_fork_join_tree_two_workers_every_task_runs_once)
{
	green_task_t *t;
	void *leaves = NULL;
	int r;

	tree_ran = calloc(TREE_NODES, sizeof(*tree_ran));
	ck_assert_ptr_nonnull(tree_ran);
	for (int round = 0; round < 3; round++) {
		memset((void *)tree_ran, 0, TREE_NODES);
		ck_assert_int_eq(green_spawn(&t, NULL, tree_task, NULL), 0);
		r = green_join(t, &leaves,
			       green_now() + GREEN_SEC(40) * TEST_TIMEOUT_MULT);
		ck_assert_msg(r == 0, "tree did not finish: %d (%s)", r,
			      green_strerror(r));
		tfail_check();
		ck_assert_uint_eq((uintptr_t)leaves, (TREE_NODES + 1) / 2);
		for (unsigned i = 0; i < TREE_NODES; i++)
			ck_assert_msg(tree_ran[i] == 1, "node %u ran %d times",
				      i, tree_ran[i]);
	}
	free((void *)tree_ran);
}
END_TEST

#define FOREIGN_THREADS 4
#define FOREIGN_SPAWNS TEST_SCALE(10000)

static atomic_long foreign_count;
static atomic_int foreign_go;

static void *
count_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&foreign_count, 1);
	return NULL;
}

static void *
foreign_spawner(void *arg)
{
	intptr_t errors = 0;

	(void)arg;
	while (atomic_load(&foreign_go) == 0)
		;
	for (int i = 0; i < FOREIGN_SPAWNS; i++)
		if (green_spawn(NULL, NULL, count_task, NULL) != 0)
			errors++;
	return (void *)errors;
}

START_TEST(test_green_spawn_foreign_threads_all_run)
{
	pthread_t th[FOREIGN_THREADS];

	atomic_store(&foreign_count, 0);
	atomic_store(&foreign_go, 0);
	for (int i = 0; i < FOREIGN_THREADS; i++)
		ck_assert_int_eq(
			pthread_create(&th[i], NULL, foreign_spawner, NULL), 0);
	atomic_store(&foreign_go, 1);
	for (int i = 0; i < FOREIGN_THREADS; i++) {
		void *errors;
		ck_assert_int_eq(pthread_join(th[i], &errors), 0);
		ck_assert_int_eq((intptr_t)errors, 0);
	}
	/* green_shutdown waits for every task, detached ones included */
	ck_assert_int_eq(green_shutdown(), 0);
	ck_assert_int_eq(atomic_load(&foreign_count),
			 FOREIGN_THREADS * FOREIGN_SPAWNS);
}
END_TEST

/* --- green_join from foreign threads ----------------------------------- */

static void *
sleep_then_ret(void *arg)
{
	green_sleep(green_now() + GREEN_MSEC(20));
	return arg;
}

START_TEST(test_green_join_foreign_thread_returns_result)
{
	green_task_t *t;
	void *res = NULL;

	ck_assert_int_eq(green_spawn(&t, NULL, sleep_then_ret, (void *)77), 0);
	ck_assert_int_eq(green_join(t, &res, -1), 0);
	ck_assert_ptr_eq(res, (void *)77);
}
END_TEST

struct pjoin {
	green_task_t *t;
	void *res;
	int r;
};

static void *
pthread_joiner(void *arg)
{
	struct pjoin *j = arg;

	j->r = green_join(j->t, &j->res, -1);
	return NULL;
}

START_TEST(test_green_join_other_pthread_returns_result)
{
	struct pjoin j = { NULL, NULL, -1 };
	pthread_t th;

	/* joined by a pthread that is neither a worker nor the spawner */
	ck_assert_int_eq(green_spawn(&j.t, NULL, sleep_then_ret, (void *)88),
			 0);
	ck_assert_int_eq(pthread_create(&th, NULL, pthread_joiner, &j), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(j.r, 0);
	ck_assert_ptr_eq(j.res, (void *)88);
}
END_TEST

START_TEST(test_green_join_foreign_deadline_returns_etimedout)
{
	green_task_t *t;
	void *res = NULL;
	int64_t deadline;

	atomic_store(&release, 0);
	ck_assert_int_eq(green_spawn(&t, NULL, wait_release, (void *)99), 0);
	ck_assert_int_eq(green_join(t, &res, 0), -ETIMEDOUT);
	deadline = green_now() + GREEN_MSEC(20);
	ck_assert_int_eq(green_join(t, &res, deadline), -ETIMEDOUT);
	ck_assert_int_ge(green_now(), deadline);
	/* still joinable */
	atomic_store(&release, 1);
	ck_assert_int_eq(green_join(t, &res, green_now() + PROMPT), 0);
	ck_assert_ptr_eq(res, (void *)99);
	tfail_check();
}
END_TEST

/* --- green_run --------------------------------------------------------- */

#define RUN_CHILDREN 100
#define RUN_GRANDCHILDREN 5

static atomic_int run_count;

static void *
run_leaf(void *arg)
{
	green_sleep(green_now() + GREEN_MSEC(5 + (intptr_t)arg % 20));
	atomic_fetch_add(&run_count, 1);
	return NULL;
}

static void *
run_child(void *arg)
{
	intptr_t i = (intptr_t)arg;

	green_sleep(green_now() + GREEN_MSEC(10 + i % 20));
	/* detached grandchildren spawned after the main task is long gone */
	if (i % 10 == 0)
		for (int k = 0; k < RUN_GRANDCHILDREN; k++)
			T_CHECK_INT_EQ(
				green_spawn(NULL, NULL, run_leaf, (void *)i),
				0);
	atomic_fetch_add(&run_count, 1);
	return NULL;
}

static void
run_main(void *arg)
{
	(void)arg;
	for (intptr_t i = 0; i < RUN_CHILDREN; i++)
		T_CHECK_INT_EQ(green_spawn(NULL, NULL, run_child, (void *)i),
			       0);
	/* returns at once: green_run must still wait for all of them */
}

START_TEST(test_green_run_waits_for_detached_tasks)
{
	green_config_t cfg = { .workers = 2 };

	atomic_store(&run_count, 0);
	ck_assert_int_eq(green_run(run_main, NULL, &cfg), 0);
	tfail_check();
	ck_assert_int_eq(atomic_load(&run_count),
			 RUN_CHILDREN + RUN_CHILDREN / 10 * RUN_GRANDCHILDREN);
}
END_TEST

/* --- green_sleep ------------------------------------------------------- */

#define SLEEPERS 20
#define SLEEP_SLACK (TEST_SLOW ? GREEN_MSEC(500) * TEST_TIMEOUT_MULT : GREEN_MSEC(50))

struct sleeper {
	int64_t deadline;
	int64_t woke;
	int r;
};

static void *
sleeper(void *arg)
{
	struct sleeper *s = arg;

	s->r = green_sleep(s->deadline);
	s->woke = green_now();
	return NULL;
}

START_TEST(test_green_sleep_tasks_wake_at_deadline)
{
	struct sleeper s[SLEEPERS];
	green_task_t *h[SLEEPERS];
	int64_t now = green_now();

	for (int i = 0; i < SLEEPERS; i++) {
		/* 10..50 ms, in a shuffled order */
		s[i].deadline =
			now + GREEN_MSEC(10) +
			GREEN_MSEC(40) * ((i * 7) % SLEEPERS) / SLEEPERS;
		s[i].r = -1;
		ck_assert_int_eq(green_spawn(&h[i], NULL, sleeper, &s[i]), 0);
	}
	for (int i = 0; i < SLEEPERS; i++)
		ck_assert_int_eq(green_join(h[i], NULL, -1), 0);
	for (int i = 0; i < SLEEPERS; i++) {
		int64_t late = s[i].woke - s[i].deadline;
		ck_assert_int_eq(s[i].r, 0);
		ck_assert_msg(late >= 0, "sleeper %d woke %lld ns early", i,
			      (long long)-late);
		ck_assert_msg(late <= SLEEP_SLACK,
			      "sleeper %d woke %lld us late", i,
			      (long long)late / 1000);
	}
}
END_TEST

static void *
sleep_edges(void *arg)
{
	int64_t t0;

	(void)arg;
	t0 = green_now();
	T_CHECK_INT_EQ(green_sleep(0), 0);
	T_CHECK_INT_EQ(green_sleep(t0 - GREEN_SEC(1)), 0);
	T_CHECK_INT_EQ(green_sleep(green_now()), 0);
	T_CHECK(green_now() - t0 < GREEN_SEC(1));
	T_CHECK_INT_EQ(green_sleep(-2), -EINVAL);
	return NULL;
}

START_TEST(test_green_sleep_past_deadline_returns_zero)
{
	run_in_task(sleep_edges, NULL);
}
END_TEST

START_TEST(test_green_sleep_outside_task_blocks_returns_zero)
{
	int64_t deadline = green_now() + GREEN_MSEC(20);

	ck_assert_int_eq(green_sleep(deadline), 0);
	ck_assert_int_ge(green_now(), deadline);
	ck_assert_int_eq(green_sleep(0), 0);
}
END_TEST

START_TEST(test_green_sleep_forever_outside_task_returns_einval)
{
	ck_assert_int_eq(green_sleep(GREEN_FOREVER), -EINVAL);
	ck_assert_int_eq(green_sleep(-5), -EINVAL);
}
END_TEST

/* CPU time used by the whole process across a 1 s sleep of this thread. */
static int64_t
idle_cpu_over_1s(void)
{
	int64_t c0, c1;

	c0 = cpu_time_ns();
	ck_assert_int_eq(green_sleep(green_now() + GREEN_SEC(1)), 0);
	c1 = cpu_time_ns();
	ck_assert_int_ge(c0, 0);
	return c1 - c0;
}

#define IDLE_CPU_MAX GREEN_MSEC(20) /* 2% of one core over 1 s */

static void *
long_sleeper(void *arg)
{
	(void)arg;
	atomic_store(&started, 1);
	return (void *)(intptr_t)green_sleep(green_now() + GREEN_SEC(10));
}

START_TEST(test_green_sleep_parked_task_uses_no_cpu)
{
	green_task_t *t;
	void *res = NULL;
	int64_t used;

	atomic_store(&started, 0);
	ck_assert_int_eq(green_spawn(&t, NULL, long_sleeper, NULL), 0);
	ck_assert(wait_flag(&started, GREEN_SEC(10)));
	usleep(100000);
	used = idle_cpu_over_1s();
	ck_assert_msg(used < IDLE_CPU_MAX,
		      "one sleeping task: %lld us of CPU in 1 s",
		      (long long)used / 1000);
	ck_assert_int_eq(green_cancel(t), 0);
	ck_assert_int_eq(green_join(t, &res, green_now() + PROMPT), 0);
	ck_assert_int_eq((intptr_t)res, -ECANCELED);
}
END_TEST

/* --- green_init: an idle runtime --------------------------------------- */

START_TEST(test_green_init_idle_workers_use_no_cpu)
{
	int64_t used;

	/* let the workers start and settle */
	usleep(100000);
	used = idle_cpu_over_1s();
	ck_assert_msg(used < IDLE_CPU_MAX,
		      "idle runtime: %lld us of CPU in 1 s",
		      (long long)used / 1000);
}
END_TEST

/* --- stress ------------------------------------------------------------ */

#define STRESS_TASKS 200
#define STRESS_ITERS TEST_SCALE(2000)

static void *
stress_child(void *arg)
{
	return (void *)((uintptr_t)arg * 3 + 1);
}

static void *
stress_task(void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	uintptr_t done = 0;

	for (uintptr_t k = 0; k < STRESS_ITERS; k++) {
		green_task_t *c;
		void *res = NULL;
		uintptr_t x = me * STRESS_ITERS + k;

		green_yield();
		T_REQUIRE_INT_EQ(green_spawn(&c, NULL, stress_child, (void *)x),
				 0);
		T_REQUIRE_INT_EQ(green_join(c, &res, -1), 0);
		T_REQUIRE_INT_EQ((uintptr_t)res, x * 3 + 1);
		if ((k + me) % 64 == 0)
			T_REQUIRE_INT_EQ(
				green_sleep(green_now() + GREEN_USEC(50)), 0);
		done++;
	}
	return (void *)done;
}

static void *
stress_main(void *arg)
{
	green_task_t *h[STRESS_TASKS];
	uintptr_t *total = arg;

	for (uintptr_t i = 0; i < STRESS_TASKS; i++)
		T_REQUIRE_INT_EQ(
			green_spawn(&h[i], NULL, stress_task, (void *)i), 0);
	for (uintptr_t i = 0; i < STRESS_TASKS; i++) {
		void *res = NULL;
		T_CHECK_INT_EQ(green_join(h[i], &res, -1), 0);
		T_CHECK_INT_EQ((uintptr_t)res, STRESS_ITERS);
		*total += (uintptr_t)res;
	}
	return NULL;
}

START_TEST(test_stress_yield_spawn_join_sleep_all_results_correct)
{
	uintptr_t total = 0;
	green_task_t *t;
	int r;

	ck_assert_int_eq(green_spawn(&t, NULL, stress_main, &total), 0);
	/* bounded: well inside the TCase timeout, so a hang reports here */
	r = green_join(t, NULL,
		       green_now() + GREEN_SEC(40) * TEST_TIMEOUT_MULT);
	ck_assert_msg(r == 0, "stress run did not finish: %d (%s)", r,
		      green_strerror(r));
	tfail_check();
	ck_assert_uint_eq(total, (uintptr_t)STRESS_TASKS * STRESS_ITERS);
}
END_TEST

/* ------------------------------------------------------------------------- */

static TCase *
tcase(Suite *s, const char *name, int workers)
{
	TCase *tc = tcase_create(name);

	if (workers == 1)
		tcase_add_checked_fixture(tc, setup1, teardown);
	else if (workers == 2)
		tcase_add_checked_fixture(tc, setup2, teardown);
	else
		tcase_add_checked_fixture(tc, tfail_reset, NULL);
	tcase_set_timeout(tc, TIMEOUT);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *
sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc;

	tc = tcase(s, "green_yield", 1);
	tcase_add_test(tc, test_green_yield_one_worker_round_robin);
	tcase_add_test(tc, test_green_yield_outside_task_returns);

	tc = add_tcase(s, "green_spawn_steal", setup2_capped, teardown, TIMEOUT);
	tcase_add_test(tc, test_green_spawn_two_workers_work_is_stolen);

	tc = tcase(s, "green_spawn", 2);
	tcase_add_test(tc, test_green_spawn_foreign_threads_all_run);

	tc = tcase(s, "green_spawn_order", 1);
	tcase_add_test(tc,
		       test_green_spawn_one_worker_stream_does_not_starve_older_task);

	tc = tcase(s, "green_join", 2);
	tcase_add_test(tc, test_green_join_foreign_thread_returns_result);
	tcase_add_test(tc, test_green_join_other_pthread_returns_result);
	tcase_add_test(tc, test_green_join_foreign_deadline_returns_etimedout);

	tc = tcase(s, "green_run", 0);
	tcase_add_test(tc, test_green_run_waits_for_detached_tasks);

	tc = tcase(s, "green_sleep", 2);
	tcase_add_test(tc, test_green_sleep_tasks_wake_at_deadline);
	tcase_add_test(tc, test_green_sleep_past_deadline_returns_zero);
	tcase_add_test(tc, test_green_sleep_outside_task_blocks_returns_zero);
	tcase_add_test(tc,
		       test_green_sleep_forever_outside_task_returns_einval);
	tcase_add_test(tc, test_green_sleep_parked_task_uses_no_cpu);

	tc = tcase(s, "green_init", 2);
	tcase_add_test(tc, test_green_init_idle_workers_use_no_cpu);

	tc = tcase(s, "stress", 2);
	tcase_add_test(tc,
		       test_stress_yield_spawn_join_sleep_all_results_correct);
	tcase_add_test(tc,
		       test_stress_fork_join_tree_two_workers_every_task_runs_once);

	return s;
}

int
main(void)
{
	return run_suite(sched_suite());
}
