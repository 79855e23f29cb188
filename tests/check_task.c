/*
 * check_task.c - task life: spawn, join, detach, cancel, identity, and the
 * runtime's entry points and their errors.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"

#define NWORKERS 2
#define TIMEOUT (60 * TEST_TIMEOUT_MULT)
/* "Promptly": a cancelled or released task must be joinable within this
 * (generous) bound; a lost wake-up hangs until it and fails. */
#define PROMPT GREEN_SEC(5)

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

/* For the tests of the no-runtime errors: take the fixture's runtime down. */
static void
no_runtime(void)
{
	ck_assert_int_eq(green_shutdown(), 0);
}

/* --- task bodies shared by several tests ------------------------------- */

static void *
ret_arg(void *arg)
{
	return arg;
}

static void *
set_flag(void *arg)
{
	atomic_store((atomic_int *)arg, 1);
	return NULL;
}

/* Flags live in static storage: a task may still read one after the task
 * that spawned it has returned. */
static atomic_int started, release, finished;

static void
flags_reset(void)
{
	atomic_store(&started, 0);
	atomic_store(&release, 0);
	atomic_store(&finished, 0);
}

/* Says it started, waits (parked, in short sleeps) until released, returns
 * its argument. */
static void *
wait_release(void *arg)
{
	atomic_store(&started, 1);
	T_CHECK(wait_flag(&release, GREEN_SEC(20)));
	atomic_store(&finished, 1);
	return arg;
}

/* Says it started, sleeps until cancelled, returns green_sleep's result. */
static void *
sleep_forever(void *arg)
{
	(void)arg;
	atomic_store(&started, 1);
	return (void *)(intptr_t)green_sleep(GREEN_FOREVER);
}

/* --- green_spawn ------------------------------------------------------- */

/* a million in a normal build; scaled down under a sanitizer */
/* ThreadSanitizer makes each task's creation and end cost milliseconds
 * (a fiber, shadow for its stack): 10,000 there. */
#define MILLION (TEST_SANITIZED ? 10000 : TEST_SCALE(1000000))

struct million {
	int spawn_err;
	size_t spawned;
	int join_err;
	size_t joined;
	size_t bad;
	size_t first_bad;
};

static void *
million_main(void *arg)
{
	struct million *m = arg;
	green_task_t **h = malloc(MILLION * sizeof(*h));

	T_REQUIRE(h != NULL);
	for (size_t i = 0; i < MILLION; i++) {
		m->spawn_err = green_spawn(&h[i], NULL, ret_arg, (void *)i);
		if (m->spawn_err != 0)
			break;
		m->spawned++;
	}
	for (size_t i = 0; i < m->spawned; i++) {
		void *res = NULL;
		int r = green_join(h[i], &res, -1);
		if (r != 0) {
			if (m->join_err == 0)
				m->join_err = r;
			continue;
		}
		m->joined++;
		if (res != (void *)i && m->bad++ == 0)
			m->first_bad = i;
	}
	free(h);
	return NULL;
}

START_TEST(test_green_spawn_million_tasks_all_joined)
{
	struct million m = { 0 };

	run_in_task(million_main, &m);
	ck_assert_msg(m.spawn_err == 0, "spawn %zu failed: %d (%s)", m.spawned,
		      m.spawn_err, green_strerror(m.spawn_err));
	ck_assert_uint_eq(m.spawned, MILLION);
	ck_assert_msg(m.join_err == 0, "a join failed: %d (%s)", m.join_err,
		      green_strerror(m.join_err));
	ck_assert_uint_eq(m.joined, MILLION);
	ck_assert_msg(m.bad == 0,
		      "%zu results differ from their argument, "
		      "first at task %zu",
		      m.bad, m.first_bad);
}
END_TEST

START_TEST(test_green_spawn_null_handle_runs_detached)
{
	static atomic_int ran;

	atomic_store(&ran, 0);
	ck_assert_int_eq(green_spawn(NULL, NULL, set_flag, &ran), 0);
	ck_assert_msg(wait_flag(&ran, GREEN_SEC(10)),
		      "detached task did not run");
}
END_TEST

static void *
spawn_detached_main(void *arg)
{
	T_CHECK_INT_EQ(green_spawn(NULL, NULL, set_flag, arg), 0);
	return NULL;
}

START_TEST(test_green_spawn_from_task_null_handle_runs_detached)
{
	static atomic_int ran;

	atomic_store(&ran, 0);
	run_in_task(spawn_detached_main, &ran);
	ck_assert_msg(wait_flag(&ran, GREEN_SEC(10)),
		      "detached task did not run");
}
END_TEST

START_TEST(test_green_spawn_fn_null_returns_einval)
{
	green_task_t *t = NULL;

	ck_assert_int_eq(green_spawn(&t, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(green_spawn(NULL, NULL, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_green_spawn_tiny_stack_returns_einval)
{
	green_attr_t attr = { .stack_size = 100 };
	green_task_t *t;

	ck_assert_int_eq(green_spawn(&t, &attr, ret_arg, NULL), -EINVAL);
	attr.stack_size = ((size_t)1 << 30) + 1;
	ck_assert_int_eq(green_spawn(&t, &attr, ret_arg, NULL), -EINVAL);
	/* a limit below the stack itself cannot be met */
	attr.stack_size = (size_t)64 << 10;
	attr.stack_max = (size_t)32 << 10;
	ck_assert_int_eq(green_spawn(&t, &attr, ret_arg, NULL), -EINVAL);
	attr.stack_size = 0;
	attr.stack_max = 100;
	ck_assert_int_eq(green_spawn(&t, &attr, ret_arg, NULL), -EINVAL);
}
END_TEST

START_TEST(test_green_spawn_unknown_stack_kind_returns_einval)
{
	green_attr_t attr = { .stack_kind = 99 };
	green_task_t *t;

	ck_assert_int_eq(green_spawn(&t, &attr, ret_arg, NULL), -EINVAL);
}
END_TEST

#ifdef GREEN_SPLIT_STACK
START_TEST(test_green_spawn_segmented_stack_runs)
{
	green_attr_t attr = { .stack_kind = GREEN_STACK_SEGMENTED };
	green_task_t *t;
	void *r;

	ck_assert_int_eq(green_spawn(&t, &attr, ret_arg, (void *)7), 0);
	ck_assert_int_eq(green_join(t, &r, -1), 0);
	ck_assert_ptr_eq(r, (void *)7);
	/* a first segment below the minimum is refused */
	attr.stack_size = 512;
	ck_assert_int_eq(green_spawn(&t, &attr, ret_arg, NULL), -EINVAL);
}
END_TEST
#else
START_TEST(test_green_spawn_segmented_stack_returns_enotsup)
{
	green_attr_t attr = { .stack_kind = GREEN_STACK_SEGMENTED };
	green_task_t *t;

	ck_assert_int_eq(green_spawn(&t, &attr, ret_arg, NULL), -ENOTSUP);
}
END_TEST
#endif

/* A task with a valid non-default stack runs and can use most of it. */
static void *
use_stack(void *arg)
{
	volatile char buf[8 << 10];

	buf[0] = 1;
	buf[sizeof(buf) - 1] = 2;
	return (void *)((uintptr_t)arg + buf[0] + buf[sizeof(buf) - 1]);
}

START_TEST(test_green_spawn_small_fixed_stack_runs)
{
	green_attr_t attr = { .stack_kind = GREEN_STACK_FIXED,
			      .stack_size = 16 << 10 };
	green_task_t *t;
	void *res = NULL;

	ck_assert_int_eq(green_spawn(&t, &attr, use_stack, (void *)10), 0);
	ck_assert_int_eq(green_join(t, &res, -1), 0);
	ck_assert_ptr_eq(res, (void *)13);
}
END_TEST

START_TEST(test_green_spawn_no_runtime_returns_eperm)
{
	green_task_t *t;

	no_runtime();
	ck_assert_int_eq(green_spawn(&t, NULL, ret_arg, NULL), -EPERM);
	ck_assert_int_eq(green_spawn(NULL, NULL, ret_arg, NULL), -EPERM);
}
END_TEST

/*
 * The name is copied (the caller's buffer may change after the call) and
 * its first 31 bytes are kept.  The only place a name shows is a report, so
 * a forked child deadlocks a named task and the test reads its stderr.
 */
static const char long_name[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static int
name_child(void *arg)
{
	char name[sizeof(long_name)];
	green_attr_t attr = { .name = name };
	green_config_t cfg = { .workers = NWORKERS };
	green_task_t *t;
	int r;

	(void)arg;
	memcpy(name, long_name, sizeof(name));
	if (green_init(&cfg) != 0)
		return 2;
	if (green_spawn(&t, &attr, sleep_forever, NULL) != 0)
		return 3;
	memset(name, 'X', sizeof(name) - 1);
	r = green_shutdown();
	fprintf(stderr, "test: green_shutdown = %d\n", r);
	return r == -EDEADLK ? 0 : 1;
}

START_TEST(test_green_spawn_attr_name_copied_and_truncated)
{
	char out[8192], st[64], want[64];
	int status;

	no_runtime();
	ck_assert_int_eq(
		run_forked(name_child, NULL, &status, out, sizeof(out)), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child %s; stderr:\n%s",
		      describe_status(status, st, sizeof(st)), out);
	/* exactly the first 31 bytes, between the report's quotes */
	snprintf(want, sizeof(want), "\"%.31s\"", long_name);
	ck_assert_msg(strstr(out, want) != NULL, "no %s in report:\n%s", want,
		      out);
	ck_assert_msg(strstr(out, "XXXX") == NULL,
		      "name was not copied at spawn:\n%s", out);
}
END_TEST

/* --- green_join -------------------------------------------------------- */

static void *
join_result_main(void *arg)
{
	green_task_t *t;
	void *res = NULL;

	(void)arg;
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, ret_arg, (void *)0x1234), 0);
	T_REQUIRE_INT_EQ(green_join(t, &res, -1), 0);
	T_CHECK(res == (void *)0x1234);
	return NULL;
}

START_TEST(test_green_join_from_task_stores_result)
{
	run_in_task(join_result_main, NULL);
}
END_TEST

START_TEST(test_green_join_from_thread_stores_result)
{
	green_task_t *t;
	void *res = NULL;

	ck_assert_int_eq(green_spawn(&t, NULL, ret_arg, (void *)0x4321), 0);
	ck_assert_int_eq(green_join(t, &res, -1), 0);
	ck_assert_ptr_eq(res, (void *)0x4321);
}
END_TEST

static void *
join_null_result_main(void *arg)
{
	static atomic_int ran;
	green_task_t *t;

	(void)arg;
	atomic_store(&ran, 0);
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, set_flag, &ran), 0);
	T_CHECK_INT_EQ(green_join(t, NULL, -1), 0);
	T_CHECK_INT_EQ(atomic_load(&ran), 1);
	return NULL;
}

START_TEST(test_green_join_null_result_returns_zero)
{
	run_in_task(join_null_result_main, NULL);
}
END_TEST

static void *
join_deadline_zero_main(void *arg)
{
	green_task_t *t;
	void *res = NULL;

	(void)arg;
	flags_reset();
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, wait_release, (void *)7), 0);
	/* not released: it cannot have ended, started or not */
	T_CHECK_INT_EQ(green_join(t, &res, 0), -ETIMEDOUT);
	T_CHECK(wait_flag(&started, GREEN_SEC(10)));
	T_CHECK_INT_EQ(green_join(t, &res, 0), -ETIMEDOUT);
	atomic_store(&release, 1);
	T_REQUIRE_INT_EQ(green_join(t, &res, green_now() + PROMPT), 0);
	T_CHECK(res == (void *)7);
	return NULL;
}

START_TEST(test_green_join_deadline_zero_running_returns_etimedout)
{
	run_in_task(join_deadline_zero_main, NULL);
}
END_TEST

static void *
join_short_deadline_main(void *arg)
{
	green_task_t *t;
	void *res = NULL;
	int64_t deadline;

	(void)arg;
	flags_reset();
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, wait_release, (void *)8), 0);
	deadline = green_now() + GREEN_MSEC(10);
	T_CHECK_INT_EQ(green_join(t, &res, deadline), -ETIMEDOUT);
	/* timed out, so the deadline must have passed */
	T_CHECK(green_now() >= deadline);
	atomic_store(&release, 1);
	T_REQUIRE_INT_EQ(green_join(t, &res, green_now() + PROMPT), 0);
	T_CHECK(res == (void *)8);
	return NULL;
}

START_TEST(test_green_join_short_deadline_returns_etimedout)
{
	run_in_task(join_short_deadline_main, NULL);
}
END_TEST

START_TEST(test_green_join_null_handle_returns_einval)
{
	void *res = NULL;

	ck_assert_int_eq(green_join(NULL, &res, -1), -EINVAL);
	ck_assert_int_eq(green_join(NULL, NULL, 0), -EINVAL);
}
END_TEST

static void *
join_twice_main(void *arg)
{
	green_task_t *t;
	void *res = NULL;

	(void)arg;
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, ret_arg, (void *)1), 0);
	T_REQUIRE_INT_EQ(green_join(t, &res, -1), 0);
	/* right after the first join: the struct has not been reused */
	T_CHECK_INT_EQ(green_join(t, &res, -1), -EINVAL);
	return NULL;
}

START_TEST(test_green_join_twice_returns_einval)
{
	run_in_task(join_twice_main, NULL);
}
END_TEST

static void *
join_detached_main(void *arg)
{
	green_task_t *t;

	(void)arg;
	flags_reset();
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, wait_release, NULL), 0);
	T_REQUIRE_INT_EQ(green_detach(t), 0);
	/* still alive (not released), so the handle is still its struct */
	T_CHECK_INT_EQ(green_join(t, NULL, -1), -EINVAL);
	atomic_store(&release, 1);
	T_CHECK(wait_flag(&finished, PROMPT));
	return NULL;
}

START_TEST(test_green_join_detached_returns_einval)
{
	run_in_task(join_detached_main, NULL);
}
END_TEST

static void *
join_self(void *arg)
{
	(void)arg;
	T_CHECK_INT_EQ(green_join(green_self(), NULL, 0), -EDEADLK);
	return (void *)(intptr_t)green_join(green_self(), NULL, -1);
}

START_TEST(test_green_join_self_returns_edeadlk)
{
	ck_assert_int_eq((intptr_t)run_in_task(join_self, NULL), -EDEADLK);
}
END_TEST

/* --- green_detach ------------------------------------------------------ */

START_TEST(test_green_detach_null_returns_einval)
{
	ck_assert_int_eq(green_detach(NULL), -EINVAL);
}
END_TEST

START_TEST(test_green_detach_twice_returns_einval)
{
	green_task_t *t;

	flags_reset();
	ck_assert_int_eq(green_spawn(&t, NULL, wait_release, NULL), 0);
	ck_assert_int_eq(green_detach(t), 0);
	ck_assert_int_eq(green_detach(t), -EINVAL);
	atomic_store(&release, 1);
	ck_assert(wait_flag(&finished, PROMPT));
}
END_TEST

START_TEST(test_green_detach_running_task_runs_to_end)
{
	green_task_t *t;

	flags_reset();
	ck_assert_int_eq(green_spawn(&t, NULL, wait_release, NULL), 0);
	ck_assert(wait_flag(&started, GREEN_SEC(10)));
	ck_assert_int_eq(green_detach(t), 0);
	atomic_store(&release, 1);
	ck_assert_msg(wait_flag(&finished, PROMPT),
		      "detached task did not finish");
	/* the teardown's green_shutdown() == 0 checks nothing is left */
}
END_TEST

START_TEST(test_green_detach_ended_task_returns_zero)
{
	static atomic_int ran;
	green_task_t *t;

	atomic_store(&ran, 0);
	ck_assert_int_eq(green_spawn(&t, NULL, set_flag, &ran), 0);
	ck_assert(wait_flag(&ran, GREEN_SEC(10)));
	/* let it get from the store to its end */
	green_sleep(green_now() + GREEN_MSEC(20));
	ck_assert_int_eq(green_detach(t), 0);
}
END_TEST

START_TEST(test_green_detach_joined_returns_einval)
{
	green_task_t *t;

	ck_assert_int_eq(green_spawn(&t, NULL, ret_arg, NULL), 0);
	ck_assert_int_eq(green_join(t, NULL, -1), 0);
	ck_assert_int_eq(green_detach(t), -EINVAL);
}
END_TEST

/* --- green_cancel ------------------------------------------------------ */

START_TEST(test_green_cancel_null_returns_einval)
{
	ck_assert_int_eq(green_cancel(NULL), -EINVAL);
}
END_TEST

static void *
cancel_sleeper_main(void *arg)
{
	green_task_t *t;
	void *res = NULL;

	(void)arg;
	flags_reset();
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, sleep_forever, NULL), 0);
	T_REQUIRE(wait_flag(&started, GREEN_SEC(10)));
	/* give it time to get into green_sleep */
	green_sleep(green_now() + GREEN_MSEC(10));
	T_CHECK_INT_EQ(green_cancel(t), 0);
	T_REQUIRE_INT_EQ(green_join(t, &res, green_now() + PROMPT), 0);
	T_CHECK_INT_EQ((intptr_t)res, -ECANCELED);
	return NULL;
}

START_TEST(test_green_cancel_sleeping_task_returns_ecanceled)
{
	run_in_task(cancel_sleeper_main, NULL);
}
END_TEST

static atomic_int joiner_started;

/* Joins the task passed as arg; returns green_join's result. */
static void *
joiner(void *arg)
{
	void *res = NULL;

	atomic_store(&joiner_started, 1);
	return (void *)(intptr_t)green_join(arg, &res, -1);
}

static void *
cancel_joiner_main(void *arg)
{
	green_task_t *target, *j;
	void *res = NULL;

	(void)arg;
	flags_reset();
	atomic_store(&joiner_started, 0);
	T_REQUIRE_INT_EQ(green_spawn(&target, NULL, wait_release, (void *)42),
			 0);
	T_REQUIRE_INT_EQ(green_spawn(&j, NULL, joiner, target), 0);
	T_REQUIRE(wait_flag(&joiner_started, GREEN_SEC(10)));
	green_sleep(green_now() + GREEN_MSEC(10));
	T_CHECK_INT_EQ(green_cancel(j), 0);
	T_REQUIRE_INT_EQ(green_join(j, &res, green_now() + PROMPT), 0);
	T_CHECK_INT_EQ((intptr_t)res, -ECANCELED);
	/* the target is untouched: alive, joinable, no join in progress */
	T_CHECK_INT_EQ(green_join(target, &res, 0), -ETIMEDOUT);
	atomic_store(&release, 1);
	T_REQUIRE_INT_EQ(green_join(target, &res, green_now() + PROMPT), 0);
	T_CHECK(res == (void *)42);
	return NULL;
}

START_TEST(test_green_cancel_joining_task_returns_ecanceled)
{
	run_in_task(cancel_joiner_main, NULL);
}
END_TEST

static atomic_int go;

/* Waits for go without blocking (green_yield is not a blocking call),
 * then sleeps twice: returns both results packed. */
static void *
sleep_after_go(void *arg)
{
	int a, b;

	(void)arg;
	while (atomic_load(&go) == 0)
		green_yield();
	a = green_sleep(green_now() + GREEN_SEC(30));
	b = green_sleep(green_now() + GREEN_SEC(30));
	return (void *)(intptr_t)(a * 1000 + b);
}

static void *
cancel_before_block_main(void *arg)
{
	green_task_t *t;
	void *res = NULL;

	(void)arg;
	atomic_store(&go, 0);
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, sleep_after_go, NULL), 0);
	T_CHECK_INT_EQ(green_cancel(t), 0);
	atomic_store(&go, 1);
	T_REQUIRE_INT_EQ(green_join(t, &res, green_now() + PROMPT), 0);
	/* sticky: both sleeps are cancelled */
	T_CHECK_INT_EQ((intptr_t)res, -ECANCELED * 1000 + -ECANCELED);
	return NULL;
}

START_TEST(test_green_cancel_before_block_next_sleep_returns_ecanceled)
{
	run_in_task(cancel_before_block_main, NULL);
}
END_TEST

static void *
cancel_self(void *arg)
{
	(void)arg;
	T_CHECK_INT_EQ(green_cancel(green_self()), 0);
	return (void *)(intptr_t)green_sleep(green_now() + GREEN_SEC(30));
}

START_TEST(test_green_cancel_self_next_sleep_returns_ecanceled)
{
	green_task_t *t;
	void *res = NULL;

	ck_assert_int_eq(green_spawn(&t, NULL, cancel_self, NULL), 0);
	ck_assert_int_eq(green_join(t, &res, green_now() + PROMPT), 0);
	tfail_check();
	ck_assert_int_eq((intptr_t)res, -ECANCELED);
}
END_TEST

static void *
cancel_thread(void *arg)
{
	return (void *)(intptr_t)green_cancel(arg);
}

START_TEST(test_green_cancel_from_foreign_thread_returns_zero)
{
	green_task_t *t;
	pthread_t th;
	void *rc = NULL, *res = NULL;

	flags_reset();
	ck_assert_int_eq(green_spawn(&t, NULL, sleep_forever, NULL), 0);
	ck_assert(wait_flag(&started, GREEN_SEC(10)));
	usleep(10000);
	ck_assert_int_eq(pthread_create(&th, NULL, cancel_thread, t), 0);
	ck_assert_int_eq(pthread_join(th, &rc), 0);
	ck_assert_int_eq((intptr_t)rc, 0);
	ck_assert_int_eq(green_join(t, &res, green_now() + PROMPT), 0);
	ck_assert_int_eq((intptr_t)res, -ECANCELED);
}
END_TEST

START_TEST(test_green_cancel_ended_task_returns_zero)
{
	static atomic_int ran;
	green_task_t *t;
	void *res = NULL;

	atomic_store(&ran, 0);
	ck_assert_int_eq(green_spawn(&t, NULL, set_flag, &ran), 0);
	ck_assert(wait_flag(&ran, GREEN_SEC(10)));
	usleep(20000);
	/* ended (or at worst on its way out: nothing left to cancel) */
	ck_assert_int_eq(green_cancel(t), 0);
	ck_assert_int_eq(green_join(t, &res, green_now() + PROMPT), 0);
	ck_assert_ptr_null(res);
}
END_TEST

/* --- green_self, green_task_id, green_worker_id ------------------------ */

struct self_check {
	_Atomic(green_task_t *) handle;
	green_task_t *seen;
	uint64_t seen_id;
};

static void *
self_task(void *arg)
{
	struct self_check *c = arg;

	while (atomic_load(&c->handle) == NULL)
		green_yield();
	c->seen = green_self();
	c->seen_id = green_task_id(green_self());
	return NULL;
}

START_TEST(test_green_self_outside_task_returns_null)
{
	ck_assert_ptr_null(green_self());
}
END_TEST

START_TEST(test_green_self_in_task_returns_handle)
{
	struct self_check c = { .handle = NULL };
	green_task_t *t;
	uint64_t id;

	ck_assert_int_eq(green_spawn(&t, NULL, self_task, &c), 0);
	id = green_task_id(t);
	atomic_store(&c.handle, t);
	ck_assert_int_eq(green_join(t, NULL, -1), 0);
	ck_assert_ptr_eq(c.seen, t);
	ck_assert_uint_eq(c.seen_id, id);
}
END_TEST

#define NIDS 2000

static void *
own_id(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)green_task_id(green_self());
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct ids {
	uint64_t id[NIDS];
	size_t n;
};

static void *
ids_main(void *arg)
{
	struct ids *s = arg;
	green_task_t *h[NIDS / 4];

	/* a few rounds, so ids of ended tasks' recycled structs count too */
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < NIDS / 4; i++) {
			T_REQUIRE_INT_EQ(green_spawn(&h[i], NULL, own_id, NULL),
					 0);
			s->id[s->n + i] = green_task_id(h[i]);
		}
		for (size_t i = 0; i < NIDS / 4; i++) {
			void *res = NULL;
			T_REQUIRE_INT_EQ(green_join(h[i], &res, -1), 0);
			T_CHECK_INT_EQ((uintptr_t)res, s->id[s->n + i]);
		}
		s->n += NIDS / 4;
	}
	return NULL;
}

START_TEST(test_green_task_id_unique_and_positive)
{
	static struct ids s;
	green_task_t *t;

	s.n = 0;
	run_in_task(ids_main, &s);
	ck_assert_uint_eq(s.n, NIDS);
	/* tasks spawned from a foreign thread draw ids too */
	ck_assert_int_eq(green_spawn(&t, NULL, own_id, NULL), 0);
	s.id[NIDS - 1] = green_task_id(t);
	ck_assert_int_eq(green_join(t, NULL, -1), 0);
	qsort(s.id, NIDS, sizeof(s.id[0]), cmp_u64);
	ck_assert_uint_ge(s.id[0], 1);
	for (size_t i = 1; i < NIDS; i++)
		ck_assert_msg(s.id[i] != s.id[i - 1], "id %llu given twice",
			      (unsigned long long)s.id[i]);
}
END_TEST

START_TEST(test_green_task_id_null_returns_zero)
{
	ck_assert_uint_eq(green_task_id(NULL), 0);
}
END_TEST

static void *
worker_id_task(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)green_worker_id();
}

START_TEST(test_green_worker_id_in_task_returns_index)
{
	for (int i = 0; i < 100; i++) {
		intptr_t id = (intptr_t)run_in_task(worker_id_task, NULL);
		ck_assert_int_ge(id, 0);
		/* a spare that took over from a held worker has an index
		 * after the workers' (green_worker_id(3)); 64 spares is
		 * green_config_t.max_spares' default */
		ck_assert_int_lt(id, NWORKERS + 64);
	}
}
END_TEST

START_TEST(test_green_worker_id_outside_task_returns_eperm)
{
	ck_assert_int_eq(green_worker_id(), -EPERM);
}
END_TEST

START_TEST(test_green_worker_id_no_runtime_returns_eperm)
{
	no_runtime();
	ck_assert_int_eq(green_worker_id(), -EPERM);
}
END_TEST

/* --- green_init -------------------------------------------------------- */

START_TEST(test_green_init_twice_returns_ebusy)
{
	ck_assert_int_eq(green_init(NULL), 0);
	ck_assert_int_eq(green_init(NULL), -EBUSY);
	ck_assert_int_eq(green_shutdown(), 0);
}
END_TEST

START_TEST(test_green_init_after_shutdown_returns_zero)
{
	ck_assert_int_eq(green_init(NULL), 0);
	ck_assert_int_eq(green_shutdown(), 0);
	ck_assert_int_eq(green_init(NULL), 0);
	ck_assert_uint_eq((uintptr_t)run_in_task(ret_arg, (void *)5), 5);
	ck_assert_int_eq(green_shutdown(), 0);
}
END_TEST

START_TEST(test_green_init_too_many_workers_returns_einval)
{
	green_config_t cfg = { .workers = 5000 };

	ck_assert_int_eq(green_init(&cfg), -EINVAL);
	cfg.workers = 1025;
	ck_assert_int_eq(green_init(&cfg), -EINVAL);
	/* nothing was left running */
	ck_assert_int_eq(green_shutdown(), -EPERM);
}
END_TEST

START_TEST(test_green_init_bad_env_returns_einval)
{
	static const char *bad[] = { "abc", "3x", "0", "1025", "-2" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(setenv("GREEN_WORKERS", bad[i], 1), 0);
		ck_assert_msg(green_init(NULL) == -EINVAL,
			      "GREEN_WORKERS=%s not rejected", bad[i]);
		ck_assert_int_eq(green_shutdown(), -EPERM);
	}
	unsetenv("GREEN_WORKERS");
}
END_TEST

START_TEST(test_green_init_env_workers_used)
{
	int before = count_threads();

	ck_assert_int_ge(before, 1);
	ck_assert_int_eq(setenv("GREEN_WORKERS", "3", 1), 0);
	ck_assert_int_eq(green_init(NULL), 0);
	unsetenv("GREEN_WORKERS");
	ck_assert_threads_settle(before + 3 + TEST_RT_THREADS);
	ck_assert_int_eq(green_shutdown(), 0);
	ck_assert_threads_settle(before);
}
END_TEST

START_TEST(test_green_init_config_workers_override_env)
{
	green_config_t cfg = { .workers = 1 };
	int before = count_threads();

	ck_assert_int_eq(setenv("GREEN_WORKERS", "abc", 1), 0);
	ck_assert_int_eq(green_init(&cfg), 0);
	unsetenv("GREEN_WORKERS");
	ck_assert_threads_settle(before + 1 + TEST_RT_THREADS);
	ck_assert_int_eq(green_shutdown(), 0);
}
END_TEST

START_TEST(test_green_init_bad_stack_returns_einval)
{
	green_config_t cfg = { .stack_size = 100 };

	ck_assert_int_eq(green_init(&cfg), -EINVAL);
	cfg.stack_size = ((size_t)1 << 30) + 1;
	ck_assert_int_eq(green_init(&cfg), -EINVAL);
	cfg.stack_size = 0;
	cfg.stack_kind = 99;
	ck_assert_int_eq(green_init(&cfg), -EINVAL);
	cfg.stack_kind = 0;
	cfg.stack_max = 100;
	ck_assert_int_eq(green_init(&cfg), -EINVAL);
	cfg.stack_size = (size_t)64 << 10;
	cfg.stack_max = (size_t)32 << 10;
	ck_assert_int_eq(green_init(&cfg), -EINVAL);
	ck_assert_int_eq(green_shutdown(), -EPERM);
}
END_TEST

START_TEST(test_green_init_unbuilt_features_return_enotsup)
{
	green_config_t cfg = { .stack_kind = GREEN_STACK_SEGMENTED };

	(void)cfg; /* a build with every feature has nothing to test */
#ifndef GREEN_SPLIT_STACK
	ck_assert_int_eq(green_init(&cfg), -ENOTSUP);
#endif
#if !GREEN_TRACE_BUILD
	cfg.stack_kind = 0;
	cfg.trace_path = "/dev/null";
	ck_assert_int_eq(green_init(&cfg), -ENOTSUP);
#endif
	ck_assert_int_eq(green_shutdown(), -EPERM);
}
END_TEST

/* --- green_shutdown ---------------------------------------------------- */

START_TEST(test_green_shutdown_no_runtime_returns_eperm)
{
	ck_assert_int_eq(green_shutdown(), -EPERM);
	ck_assert_int_eq(green_init(NULL), 0);
	ck_assert_int_eq(green_shutdown(), 0);
	ck_assert_int_eq(green_shutdown(), -EPERM);
}
END_TEST

static void *
shutdown_in_task(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)green_shutdown();
}

START_TEST(test_green_shutdown_in_task_returns_eperm)
{
	ck_assert_int_eq(green_init(NULL), 0);
	ck_assert_int_eq((intptr_t)run_in_task(shutdown_in_task, NULL), -EPERM);
	/* the runtime is still up */
	ck_assert_uint_eq((uintptr_t)run_in_task(ret_arg, (void *)3), 3);
	ck_assert_int_eq(green_shutdown(), 0);
}
END_TEST

static void *
late_finisher(void *arg)
{
	(void)arg;
	green_sleep(green_now() + GREEN_MSEC(30));
	atomic_store(&finished, 1);
	return NULL;
}

START_TEST(test_green_shutdown_waits_for_tasks_returns_zero)
{
	flags_reset();
	ck_assert_int_eq(green_init(NULL), 0);
	ck_assert_int_eq(green_spawn(NULL, NULL, late_finisher, NULL), 0);
	ck_assert_int_eq(green_shutdown(), 0);
	ck_assert_int_eq(atomic_load(&finished), 1);
}
END_TEST

/* --- green_run --------------------------------------------------------- */

struct run_seen {
	green_task_t *self;
	int worker;
	int ran;
};

static void
run_main_fn(void *arg)
{
	struct run_seen *s = arg;

	s->self = green_self();
	s->worker = green_worker_id();
	s->ran++;
}

START_TEST(test_green_run_null_fn_returns_einval)
{
	ck_assert_int_eq(green_run(NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(green_shutdown(), -EPERM);
}
END_TEST

START_TEST(test_green_run_fn_runs_as_task_returns_zero)
{
	struct run_seen s = { NULL, -1, 0 };
	green_config_t cfg = { .workers = NWORKERS };

	ck_assert_int_eq(green_run(run_main_fn, &s, &cfg), 0);
	ck_assert_int_eq(s.ran, 1);
	ck_assert_ptr_nonnull(s.self);
	ck_assert_int_ge(s.worker, 0);
	ck_assert_int_lt(s.worker, NWORKERS);
	/* the runtime is gone again */
	ck_assert_int_eq(green_shutdown(), -EPERM);
}
END_TEST

START_TEST(test_green_run_runtime_running_returns_ebusy)
{
	struct run_seen s = { NULL, -1, 0 };

	ck_assert_int_eq(green_init(NULL), 0);
	ck_assert_int_eq(green_run(run_main_fn, &s, NULL), -EBUSY);
	ck_assert_int_eq(s.ran, 0);
	ck_assert_int_eq(green_shutdown(), 0);
}
END_TEST

START_TEST(test_green_run_bad_config_returns_einval)
{
	struct run_seen s = { NULL, -1, 0 };
	green_config_t cfg = { .workers = 5000 };

	ck_assert_int_eq(green_run(run_main_fn, &s, &cfg), -EINVAL);
	ck_assert_int_eq(s.ran, 0);
}
END_TEST

/* --- green_strerror ---------------------------------------------------- */

START_TEST(test_green_strerror_epipe_mentions_pipe)
{
	const char *s = green_strerror(-EPIPE);

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(contains_ci(s, "pipe"), "green_strerror(-EPIPE) = \"%s\"",
		      s);
	s = green_strerror(EPIPE);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(contains_ci(s, "pipe"), "green_strerror(EPIPE) = \"%s\"",
		      s);
}
END_TEST

START_TEST(test_green_strerror_unknown_returns_text)
{
	static const int codes[] = { 12345, -12345, INT32_MIN, INT32_MAX };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = green_strerror(codes[i]);
		ck_assert_msg(s != NULL, "green_strerror(%d) is NULL",
			      codes[i]);
		ck_assert_uint_gt(strlen(s), 0);
	}
}
END_TEST

/* ------------------------------------------------------------------------- */

static TCase *
tcase(Suite *s, const char *name, bool runtime)
{
	return add_tcase(s, name, runtime ? setup : NULL, teardown, TIMEOUT);
}

static Suite *
task_suite(void)
{
	Suite *s = suite_create("task");
	TCase *tc;

	tc = tcase(s, "green_spawn", true);
	tcase_add_test(tc, test_green_spawn_million_tasks_all_joined);
	tcase_add_test(tc, test_green_spawn_null_handle_runs_detached);
	tcase_add_test(tc,
		       test_green_spawn_from_task_null_handle_runs_detached);
	tcase_add_test(tc, test_green_spawn_fn_null_returns_einval);
	tcase_add_test(tc, test_green_spawn_tiny_stack_returns_einval);
	tcase_add_test(tc, test_green_spawn_unknown_stack_kind_returns_einval);
#ifdef GREEN_SPLIT_STACK
	tcase_add_test(tc, test_green_spawn_segmented_stack_runs);
#else
	tcase_add_test(tc, test_green_spawn_segmented_stack_returns_enotsup);
#endif
	tcase_add_test(tc, test_green_spawn_small_fixed_stack_runs);
	tcase_add_test(tc, test_green_spawn_no_runtime_returns_eperm);
	tcase_add_test(tc, test_green_spawn_attr_name_copied_and_truncated);

	tc = tcase(s, "green_join", true);
	tcase_add_test(tc, test_green_join_from_task_stores_result);
	tcase_add_test(tc, test_green_join_from_thread_stores_result);
	tcase_add_test(tc, test_green_join_null_result_returns_zero);
	tcase_add_test(tc,
		       test_green_join_deadline_zero_running_returns_etimedout);
	tcase_add_test(tc, test_green_join_short_deadline_returns_etimedout);
	tcase_add_test(tc, test_green_join_null_handle_returns_einval);
	tcase_add_test(tc, test_green_join_twice_returns_einval);
	tcase_add_test(tc, test_green_join_detached_returns_einval);
	tcase_add_test(tc, test_green_join_self_returns_edeadlk);

	tc = tcase(s, "green_detach", true);
	tcase_add_test(tc, test_green_detach_null_returns_einval);
	tcase_add_test(tc, test_green_detach_twice_returns_einval);
	tcase_add_test(tc, test_green_detach_running_task_runs_to_end);
	tcase_add_test(tc, test_green_detach_ended_task_returns_zero);
	tcase_add_test(tc, test_green_detach_joined_returns_einval);

	tc = tcase(s, "green_cancel", true);
	tcase_add_test(tc, test_green_cancel_null_returns_einval);
	tcase_add_test(tc, test_green_cancel_sleeping_task_returns_ecanceled);
	tcase_add_test(tc, test_green_cancel_joining_task_returns_ecanceled);
	tcase_add_test(
		tc,
		test_green_cancel_before_block_next_sleep_returns_ecanceled);
	tcase_add_test(tc, test_green_cancel_self_next_sleep_returns_ecanceled);
	tcase_add_test(tc, test_green_cancel_from_foreign_thread_returns_zero);
	tcase_add_test(tc, test_green_cancel_ended_task_returns_zero);

	tc = tcase(s, "green_self", true);
	tcase_add_test(tc, test_green_self_outside_task_returns_null);
	tcase_add_test(tc, test_green_self_in_task_returns_handle);

	tc = tcase(s, "green_task_id", true);
	tcase_add_test(tc, test_green_task_id_unique_and_positive);
	tcase_add_test(tc, test_green_task_id_null_returns_zero);

	tc = tcase(s, "green_worker_id", true);
	tcase_add_test(tc, test_green_worker_id_in_task_returns_index);
	tcase_add_test(tc, test_green_worker_id_outside_task_returns_eperm);
	tcase_add_test(tc, test_green_worker_id_no_runtime_returns_eperm);

	tc = tcase(s, "green_init", false);
	tcase_add_test(tc, test_green_init_twice_returns_ebusy);
	tcase_add_test(tc, test_green_init_after_shutdown_returns_zero);
	tcase_add_test(tc, test_green_init_too_many_workers_returns_einval);
	tcase_add_test(tc, test_green_init_bad_env_returns_einval);
	tcase_add_test(tc, test_green_init_env_workers_used);
	tcase_add_test(tc, test_green_init_config_workers_override_env);
	tcase_add_test(tc, test_green_init_bad_stack_returns_einval);
	tcase_add_test(tc, test_green_init_unbuilt_features_return_enotsup);

	tc = tcase(s, "green_shutdown", false);
	tcase_add_test(tc, test_green_shutdown_no_runtime_returns_eperm);
	tcase_add_test(tc, test_green_shutdown_in_task_returns_eperm);
	tcase_add_test(tc, test_green_shutdown_waits_for_tasks_returns_zero);

	tc = tcase(s, "green_run", false);
	tcase_add_test(tc, test_green_run_null_fn_returns_einval);
	tcase_add_test(tc, test_green_run_fn_runs_as_task_returns_zero);
	tcase_add_test(tc, test_green_run_runtime_running_returns_ebusy);
	tcase_add_test(tc, test_green_run_bad_config_returns_einval);

	tc = tcase(s, "green_strerror", false);
	tcase_add_test(tc, test_green_strerror_epipe_mentions_pipe);
	tcase_add_test(tc, test_green_strerror_unknown_returns_text);

	return s;
}

int
main(void)
{
	return run_suite(task_suite());
}
