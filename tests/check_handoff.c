/*
 * check_handoff.c - no task can freeze the runtime (monitor.c): a worker
 * held by a task in an unhooked blocking call or a long loop hands its role
 * to another thread, the held task is reported, the runtime shrinks back
 * when it returns, and shuts down cleanly while a task is held.
 *
 * Timing bounds: a ticker due every 10 ms must never be more than 50 ms
 * later than a plain thread ticking beside it (the monitor acts after
 * 10-15 ms); instrumented builds widen it by TEST_TIMEOUT_MULT.
 */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define TIMEOUT (60 * TEST_TIMEOUT_MULT)
#define TICK GREEN_MSEC(10)
#define LATE_MAX (GREEN_MSEC(50) * TEST_TIMEOUT_MULT)

static void
start(unsigned workers, unsigned max_spares)
{
	green_config_t cfg = { .workers = workers, .max_spares = max_spares };

	ck_assert_int_eq(green_init(&cfg), 0);
}

/* --- what holds a worker ---------------------------------------------- */

/* sleep(3) straight to the kernel: libgreen does not hook it here (the
 * hook library is not linked), so the thread blocks. */
static void *
blocked_sleep(void *arg)
{
	unsigned s = (unsigned)(uintptr_t)arg;

	while ((s = sleep(s)) != 0)
		;
	return NULL;
}

/* A loop that never switches, for arg ms. */
static void *
cpu_loop(void *arg)
{
	busy_wait_ns(GREEN_MSEC((intptr_t)arg));
	return NULL;
}

/* Ticks every 10 ms for n ticks; returns the worst lateness in ns. */
static void *
ticker(void *arg)
{
	int n = (int)(intptr_t)arg;
	int64_t worst = 0, due = green_now();

	for (int i = 0; i < n; i++) {
		int64_t late;

		due += TICK;
		T_CHECK_INT_EQ(green_sleep(due), 0);
		late = green_now() - due;
		if (late > worst)
			worst = late;
	}
	return (void *)(intptr_t)worst;
}

struct hold {
	void *(*fn)(void *);
	void *arg;
	int ticks;
};

/* The ticker beside two holders; returns the ticker's worst lateness. */
static void *
ticker_beside_holders(void *arg)
{
	const struct hold *h = arg;
	green_task_t *tick, *a, *b;
	void *worst = NULL;

	T_REQUIRE_INT_EQ(green_spawn(&tick, NULL, ticker,
				     (void *)(intptr_t)h->ticks),
			 0);
	/* the ticker is parked in its first sleep when the holders start */
	T_CHECK_INT_EQ(green_sleep(green_now() + GREEN_MSEC(2)), 0);
	T_REQUIRE_INT_EQ(green_spawn(&a, NULL, h->fn, h->arg), 0);
	T_REQUIRE_INT_EQ(green_spawn(&b, NULL, h->fn, h->arg), 0);
	T_CHECK_INT_EQ(green_join(tick, &worst, -1), 0);
	T_CHECK_INT_EQ(green_join(a, NULL, -1), 0);
	T_CHECK_INT_EQ(green_join(b, NULL, -1), 0);
	return worst;
}

/*
 * The control: a plain thread ticking beside the runtime, so the bound
 * allows for what the machine does to any thread (make check runs other
 * suites at once on two cores, and the holders' loops are runnable
 * threads too).  Returns its worst lateness in ns.
 */
static void *
control_ticker(void *arg)
{
	int n = (int)(intptr_t)arg;
	int64_t worst = 0, due = green_now();

	for (int i = 0; i < n; i++) {
		struct timespec ts;
		int64_t late;

		due += TICK;
		ts.tv_sec = due / GREEN_SEC(1);
		ts.tv_nsec = due % GREEN_SEC(1);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) != 0)
			;
		late = green_now() - due;
		if (late > worst)
			worst = late;
	}
	return (void *)(intptr_t)worst;
}

struct lateness {
	int64_t task;	 /* the ticker task's worst */
	int64_t control; /* the plain thread's worst */
};

static struct lateness
run_ticker_test(unsigned workers, const struct hold *h)
{
	struct lateness l;
	pthread_t control;
	void *cw = NULL;

	start(workers, 0);
	ck_assert_int_eq(pthread_create(&control, NULL, control_ticker,
					(void *)(intptr_t)h->ticks),
			 0);
	l.task = (int64_t)(intptr_t)run_in_task(ticker_beside_holders,
						(void *)h);
	pthread_join(control, &cw);
	l.control = (int64_t)(intptr_t)cw;
	ck_assert_int_eq(green_shutdown(), 0);
	return l;
}

/* Held workers cost the ticker at most LATE_MAX more than a plain thread
 * loses to the machine (without hand-off it loses the holders' time). */
#define ck_assert_late_ok(l)                                                   \
	do {                                                                   \
		struct lateness l_ = (l);                                      \
		ck_assert_msg(l_.task < LATE_MAX + l_.control,                 \
			      "the ticker was %.1f ms late (at most %.1f "     \
			      "allowed, a plain thread was %.1f ms late)",     \
			      (double)l_.task / 1e6,                           \
			      (double)(LATE_MAX + l_.control) / 1e6,           \
			      (double)l_.control / 1e6);                       \
	} while (0)

START_TEST(test_handoff_one_worker_two_blocked_sleeps_ticker_on_time)
{
	struct hold h = { blocked_sleep, (void *)1, 120 };

	ck_assert_late_ok(run_ticker_test(1, &h));
}
END_TEST

START_TEST(test_handoff_two_workers_two_blocked_sleeps_ticker_on_time)
{
	struct hold h = { blocked_sleep, (void *)1, 120 };

	ck_assert_late_ok(run_ticker_test(2, &h));
}
END_TEST

START_TEST(test_handoff_two_workers_two_cpu_loops_ticker_on_time)
{
	struct hold h = { cpu_loop, (void *)2000, 220 };

	ck_assert_late_ok(run_ticker_test(2, &h));
}
END_TEST

/* --- reports ----------------------------------------------------------- */

/* Run fn(arg) with stderr sent to a file; returns what was written (free
 * it), or NULL. */
static char *
capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/check_handoff.XXXXXX", *text;
	int fd = mkstemp(path), saved;
	off_t len;

	if (fd < 0)
		return NULL;
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = lseek(fd, 0, SEEK_END);
	text = calloc(1, (size_t)len + 1);
	if (text != NULL && pread(fd, text, (size_t)len, 0) != len) {
		free(text);
		text = NULL;
	}
	close(fd);
	return text;
}

/* A ticker test with GREEN_WARN_HELD=1. */
struct warned {
	unsigned workers;
	struct hold h;
};

static void
run_warned(void *arg)
{
	const struct warned *wd = arg;

	ck_assert_int_eq(setenv("GREEN_WARN_HELD", "1", 1), 0);
	ck_assert_late_ok(run_ticker_test(wd->workers, &wd->h));
	unsetenv("GREEN_WARN_HELD");
}

START_TEST(test_handoff_cpu_loop_named_on_stderr_with_env)
{
	struct warned wd = { 2, { cpu_loop, (void *)300, 40 } };
	char *text = capture_stderr(run_warned, &wd);

	ck_assert_ptr_nonnull(text);
	/* one line while it holds the worker, one when it lets go */
	ck_assert_msg(strstr(text, "(entry cpu_loop) has held worker") !=
			      NULL &&
		      strstr(text, "(entry cpu_loop) held worker") != NULL &&
		      strstr(text, "running without switching") != NULL,
		      "stderr: %s", text);
	free(text);
}
END_TEST

START_TEST(test_handoff_blocked_call_named_on_stderr_with_env)
{
	struct warned wd = { 1, { blocked_sleep, (void *)1, 20 } };
	char *text = capture_stderr(run_warned, &wd);

	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "(entry blocked_sleep) has held worker") !=
			      NULL &&
		      strstr(text, "blocked in a system call") != NULL,
		      "stderr: %s", text);
	free(text);
}
END_TEST

static void
quiet_run(void *arg)
{
	struct hold h = { cpu_loop, (void *)100, 5 };

	(void)arg;
	unsetenv("GREEN_WARN_HELD");
	ck_assert_late_ok(run_ticker_test(2, &h));
}

START_TEST(test_handoff_no_warning_without_env)
{
	char *text = capture_stderr(quiet_run, NULL);

	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "held worker") == NULL, "stderr: %s", text);
	free(text);
}
END_TEST

/* --- shrinking back ---------------------------------------------------- */

#define SHRINK_TASKS 20

static int64_t shrink_from[SHRINK_TASKS], shrink_to[SHRINK_TASKS];

static void *
timed_busy(void *arg)
{
	intptr_t i = (intptr_t)arg;

	shrink_from[i] = green_now();
	busy_wait_ns(GREEN_MSEC(2)); /* below the monitor's threshold */
	shrink_to[i] = green_now();
	return NULL;
}

static void *
shrink_main(void *arg)
{
	green_task_t *held, *t[SHRINK_TASKS];

	(void)arg;
	/* held for 200 ms: a spare takes the worker's role meanwhile */
	T_REQUIRE_INT_EQ(green_spawn(&held, NULL, cpu_loop, (void *)200), 0);
	T_CHECK_INT_EQ(green_join(held, NULL, -1), 0);
	/* its exit retired one of the two threads: tasks now run one at a
	 * time, as on one worker */
	for (intptr_t i = 0; i < SHRINK_TASKS; i++)
		T_REQUIRE_INT_EQ(
			green_spawn(&t[i], NULL, timed_busy, (void *)i), 0);
	for (int i = 0; i < SHRINK_TASKS; i++)
		T_CHECK_INT_EQ(green_join(t[i], NULL, -1), 0);
	return NULL;
}

START_TEST(test_handoff_held_task_returns_runtime_shrinks_back)
{
	start(1, 0);
	run_in_task(shrink_main, NULL);
	ck_assert_int_eq(green_shutdown(), 0);
	for (int i = 0; i < SHRINK_TASKS; i++)
		for (int j = 0; j < SHRINK_TASKS; j++)
			ck_assert_msg(i == j || shrink_to[i] <= shrink_from[j] ||
					      shrink_to[j] <= shrink_from[i],
				      "tasks %d and %d ran at the same time on "
				      "a one-worker runtime",
				      i, j);
}
END_TEST

/* --- shutdown and the cap ---------------------------------------------- */

START_TEST(test_handoff_shutdown_while_task_held_waits_and_joins_all)
{
	int before = count_threads(), base = before + 1 + TEST_RT_THREADS;
	int64_t t0, end;

	start(1, 0);
	t0 = green_now();
	/* one blocked, one looping: both hold a worker at shutdown */
	ck_assert_int_eq(green_spawn(NULL, NULL, blocked_sleep, (void *)1), 0);
	ck_assert_int_eq(green_spawn(NULL, NULL, cpu_loop, (void *)500), 0);
	/* a spare took over meanwhile */
	end = green_now() + GREEN_SEC(1);
	while (count_threads() <= base && green_now() < end)
		usleep(1000);
	ck_assert_int_gt(count_threads(), base);
	ck_assert_int_eq(green_shutdown(), 0);
	/* it waited for the held tasks (the sleep ends 1 s after t0) */
	ck_assert_int_ge(green_now() - t0, GREEN_SEC(1));
	ck_assert_int_lt(green_now() - t0, GREEN_SEC(5) * TEST_TIMEOUT_MULT);
	ck_assert_threads_settle(before);
}
END_TEST

static void
at_cap(void *arg)
{
	int64_t worst;
	/* the ticker runs past the sleeps, however slowly they start */
	struct hold h = { blocked_sleep, (void *)1, 150 };

	(void)arg;
	/* one worker, one spare, two blocked tasks: the spare takes the
	 * first one's role and is then held by the second */
	start(1, 1);
	worst = (int64_t)(intptr_t)run_in_task(ticker_beside_holders, &h);
	ck_assert_int_eq(green_shutdown(), 0);
	/* at the cap the ticker waits for a held task to return */
	ck_assert_int_gt(worst, GREEN_MSEC(500));
}

START_TEST(test_handoff_at_spare_cap_says_so_and_finishes)
{
	char *text = capture_stderr(at_cap, NULL);

	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "the 1 spare threads are in use") != NULL,
		      "stderr: %s", text);
	free(text);
}
END_TEST

static void
handoff_off(void *arg)
{
	struct hold h = { blocked_sleep, (void *)1, 150 };
	int64_t worst;

	(void)arg;
	ck_assert_int_eq(setenv("GREEN_HANDOFF", "0", 1), 0);
	ck_assert_int_eq(setenv("GREEN_WARN_HELD", "1", 1), 0);
	start(1, 0);
	worst = (int64_t)(intptr_t)run_in_task(ticker_beside_holders, &h);
	ck_assert_int_eq(green_shutdown(), 0);
	unsetenv("GREEN_HANDOFF");
	unsetenv("GREEN_WARN_HELD");
	/* nobody took over: the ticker waited for the sleeps */
	ck_assert_int_gt(worst, GREEN_MSEC(500));
}

START_TEST(test_handoff_env_off_reports_but_does_not_replace)
{
	char *text = capture_stderr(handoff_off, NULL);

	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "(entry blocked_sleep) has held worker") !=
			      NULL &&
		      strstr(text, "another thread") == NULL,
		      "stderr: %s", text);
	free(text);
}
END_TEST

START_TEST(test_handoff_max_spares_above_cap_returns_einval)
{
	green_config_t cfg = { .workers = 1, .max_spares = 4097 };

	ck_assert_int_eq(green_init(&cfg), -EINVAL);
	cfg.max_spares = 4096;
	ck_assert_int_eq(green_init(&cfg), 0);
	ck_assert_int_eq(green_shutdown(), 0);
}
END_TEST

/* --- the monitor sleeps when the runtime does --------------------------- */

START_TEST(test_handoff_idle_runtime_monitor_uses_no_cpu)
{
	int64_t cpu0, cpu1;

	start(2, 0);
	usleep(50000); /* workers park */
	cpu0 = cpu_time_ns();
	usleep(500000);
	cpu1 = cpu_time_ns();
	ck_assert_int_eq(green_shutdown(), 0);
	/* a monitor ticking every 5 ms would wake 100 times here */
	ck_assert_msg(cpu1 - cpu0 < GREEN_MSEC(5) * TEST_TIMEOUT_MULT,
		      "an idle runtime used %.2f ms of CPU in 0.5 s",
		      (double)(cpu1 - cpu0) / 1e6);
}
END_TEST

static Suite *
handoff_suite(void)
{
	Suite *s = suite_create("handoff");
	TCase *tc;

	tc = add_tcase(s, "ticker", NULL, NULL, TIMEOUT);
	tcase_add_test(tc,
		       test_handoff_one_worker_two_blocked_sleeps_ticker_on_time);
	tcase_add_test(tc,
		       test_handoff_two_workers_two_blocked_sleeps_ticker_on_time);
	tcase_add_test(tc, test_handoff_two_workers_two_cpu_loops_ticker_on_time);

	tc = add_tcase(s, "report", NULL, NULL, TIMEOUT);
	tcase_add_test(tc, test_handoff_cpu_loop_named_on_stderr_with_env);
	tcase_add_test(tc, test_handoff_blocked_call_named_on_stderr_with_env);
	tcase_add_test(tc, test_handoff_no_warning_without_env);

	tc = add_tcase(s, "life", NULL, NULL, TIMEOUT);
	tcase_add_test(tc, test_handoff_held_task_returns_runtime_shrinks_back);
	tcase_add_test(tc,
		       test_handoff_shutdown_while_task_held_waits_and_joins_all);
	tcase_add_test(tc, test_handoff_at_spare_cap_says_so_and_finishes);
	tcase_add_test(tc, test_handoff_max_spares_above_cap_returns_einval);
	tcase_add_test(tc, test_handoff_env_off_reports_but_does_not_replace);
	tcase_add_test(tc, test_handoff_idle_runtime_monitor_uses_no_cpu);
	return s;
}

int
main(void)
{
	return run_suite(handoff_suite());
}
