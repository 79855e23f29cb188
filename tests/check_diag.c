/*
 * check_diag.c - the runtime's reports: deadlock and stack overflow, and
 * that a fault which is not an overflow keeps its default action.
 *
 * Every test runs the runtime in a child it forks itself (run_forked), with
 * the child's stderr captured: the child deadlocks or dies on purpose.
 * This binary is linked -rdynamic so that dladdr() can name the entry
 * functions below; they are non-static and, since the tests are compiled
 * with -fvisibility=hidden, explicitly visible.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>

#include "nosplit_entry.h"
#include "testutil.h"

#define TIMEOUT (30 * TEST_TIMEOUT_MULT)
#define VISIBLE __attribute__((visibility("default"), noinline))

/* Exit codes of the children. */
#define CHILD_OK 0
#define CHILD_WRONG_RC 1
#define CHILD_SETUP 2
#define CHILD_SURVIVED 3

#define OUT_MAX 16384

/* Run child(arg) forked; on return out holds its stderr. */
static void
fork_child(int (*child)(void *), void *arg, int *status, char *out)
{
	ck_assert_int_eq(run_forked(child, arg, status, out, OUT_MAX), 0);
}

#define assert_exit_ok(status, out)                                            \
	do {                                                                   \
		char st_[64];                                                  \
		ck_assert_msg(WIFEXITED(status) &&                             \
				      WEXITSTATUS(status) == CHILD_OK,         \
			      "child %s; stderr:\n%s",                         \
			      describe_status(status, st_, sizeof(st_)), out); \
	} while (0)

#define assert_has(out, s)                                                     \
	ck_assert_msg(strstr(out, s) != NULL, "no \"%s\" in stderr:\n%s", s,   \
		      out)

/* --- deadlock: a join of a task that waits on a channel ------------------
 *
 * (Two tasks that join each other no longer reach the global report: the
 * second join closes a cycle and fails with -EDEADLK at once, see
 * check_cycle.c.  A join of a task that waits for nothing that can come is
 * still a deadlock only the global report sees.) */

static green_task_t *_Atomic beta_h;
static green_chan_t *_Atomic never;

VISIBLE void *
deadlock_alpha(void *arg)
{
	(void)arg;
	/* beta's handle is published before we join */
	while (atomic_load(&beta_h) == NULL)
		green_sleep(green_now() + GREEN_MSEC(1));
	return (void *)(intptr_t)green_join(atomic_load(&beta_h), NULL, -1);
}

VISIBLE void *
deadlock_beta(void *arg)
{
	int v;

	(void)arg;
	return (void *)(intptr_t)green_chan_recv(atomic_load(&never), &v, -1);
}

static void
cycle_main(void *arg)
{
	green_attr_t a = { .name = "alpha" }, b = { .name = "beta" };
	green_task_t *t;
	green_chan_t *ch;

	(void)arg;
	if (green_chan_create(&ch, sizeof(int), 0) != 0)
		_exit(CHILD_SETUP);
	atomic_store(&never, ch);
	if (green_spawn(NULL, &a, deadlock_alpha, NULL) != 0)
		_exit(CHILD_SETUP);
	if (green_spawn(&t, &b, deadlock_beta, NULL) != 0)
		_exit(CHILD_SETUP);
	atomic_store(&beta_h, t);
}

static int
cycle_child(void *arg)
{
	green_config_t cfg = { .workers = 2 };
	int r;

	(void)arg;
	r = green_run(cycle_main, NULL, &cfg);
	fprintf(stderr, "test: green_run = %d\n", r);
	return r == -EDEADLK ? CHILD_OK : CHILD_WRONG_RC;
}

START_TEST(test_green_run_join_of_stuck_task_returns_edeadlk_and_reports)
{
	char out[OUT_MAX];
	int status;

	fork_child(cycle_child, NULL, &status, out);
	assert_exit_ok(status, out);
	assert_has(out, "deadlock");
	assert_has(out, "\"alpha\"");
	assert_has(out, "\"beta\"");
	assert_has(out, "join");
	assert_has(out, "chan recv");
	/* entry functions are named (found by dladdr) */
	assert_has(out, "deadlock_alpha");
	assert_has(out, "deadlock_beta");
}
END_TEST

/* --- deadlock: one task sleeping forever ------------------------------- */

static void
sleep_forever_main(void *arg)
{
	(void)arg;
	green_sleep(GREEN_FOREVER);
}

static int
sleep_child(void *arg)
{
	green_config_t cfg = { .workers = 2 };
	int r;

	(void)arg;
	r = green_run(sleep_forever_main, NULL, &cfg);
	fprintf(stderr, "test: green_run = %d\n", r);
	return r == -EDEADLK ? CHILD_OK : CHILD_WRONG_RC;
}

START_TEST(test_green_run_sleep_forever_returns_edeadlk_and_reports)
{
	char out[OUT_MAX];
	int status;

	fork_child(sleep_child, NULL, &status, out);
	assert_exit_ok(status, out);
	assert_has(out, "deadlock");
	assert_has(out, "\"main\"");
	assert_has(out, "sleep");
}
END_TEST

/* --- deadlock seen by green_shutdown; the runtime is torn down anyway -- */

VISIBLE void *
lonely_sleeper(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)green_sleep(GREEN_FOREVER);
}

static void *
ret_arg(void *arg)
{
	return arg;
}

static int
shutdown_child(void *arg)
{
	green_attr_t attr = { .name = "lonely" };
	green_task_t *t, *u;
	void *res = NULL;
	int r;

	(void)arg;
	if (green_init(NULL) != 0 ||
	    green_spawn(&t, &attr, lonely_sleeper, NULL) != 0)
		return CHILD_SETUP;
	r = green_shutdown();
	fprintf(stderr, "test: green_shutdown = %d\n", r);
	if (r != -EDEADLK)
		return CHILD_WRONG_RC;
	/* torn down: no runtime; a new one works */
	if (green_shutdown() != -EPERM)
		return CHILD_WRONG_RC;
	if (green_init(NULL) != 0 ||
	    green_spawn(&u, NULL, ret_arg, (void *)5) != 0 ||
	    green_join(u, &res, -1) != 0 || res != (void *)5 ||
	    green_shutdown() != 0)
		return CHILD_SETUP;
	return CHILD_OK;
}

START_TEST(test_green_shutdown_deadlocked_returns_edeadlk_and_reports)
{
	char out[OUT_MAX];
	int status;

	fork_child(shutdown_child, NULL, &status, out);
	assert_exit_ok(status, out);
	assert_has(out, "deadlock");
	assert_has(out, "\"lonely\"");
	assert_has(out, "lonely_sleeper");
	assert_has(out, "sleep");
}
END_TEST

/* --- stack overflow ---------------------------------------------------- */

/* Far deeper than any stack: the compiler cannot prove the recursion
 * infinite (-Winfinite-recursion), yet it never ends in practice. */
static volatile int max_depth = 1 << 30;

/* Not a tail call: the frame is used after the recursive call returns. */
__attribute__((noinline, noipa)) static int
recurse(int depth)
{
	volatile char buf[256];
	int r = 0;

	buf[0] = (char)depth;
	buf[sizeof(buf) - 1] = (char)depth;
	if (depth < max_depth)
		r = recurse(depth + 1);
	__asm__ volatile("" ::: "memory");
	return r + buf[0] + buf[sizeof(buf) - 1];
}

VISIBLE void *
overflow_entry(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)recurse(0);
}

/* Run child in a forked process that must end by SIGABRT; out gets its
 * stderr. */
static void
fork_aborting_child(int (*child)(void *), void *arg, char *out)
{
	char st[64];
	int status;

	fork_child(child, arg, &status, out);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		      "child %s, expected SIGABRT; stderr:\n%s",
		      describe_status(status, st, sizeof(st)), out);
}

/* Run overflow_entry in a task with the attributes arg points to. */
static void
deep_main(void *arg)
{
	green_task_t *t;

	if (green_spawn(&t, arg, overflow_entry, NULL) != 0)
		_exit(CHILD_SETUP);
	green_join(t, NULL, -1);
}

/* A fixed stack ends in a guard page: the overflow is reported. */
static int
overflow_child(void *arg)
{
	green_config_t cfg = { .workers = 2 };
	green_attr_t attr = { .name = "deep", .stack_kind = GREEN_STACK_FIXED };

	(void)arg;
	green_run(deep_main, &attr, &cfg);
	return CHILD_SURVIVED;
}

START_TEST(test_green_spawn_stack_overflow_reports_and_aborts)
{
	char out[OUT_MAX];

	fork_aborting_child(overflow_child, NULL, out);
	assert_has(out, "overflowed");
	assert_has(out, "\"deep\"");
	assert_has(out, "overflow_entry");
	assert_has(out, "a fixed stack was asked for");
}
END_TEST

/*
 * Whichever of the runtime's mmap calls fails, an overflow is still never
 * a silent death: the failure is reported to a caller, or the process
 * stops with a libgreen diagnostic (the overflow's, or one naming the
 * failure).  A worker whose alternate signal stack could not be mapped
 * used to start anyway, and an overflow on it died by SIGSEGV without a
 * word (make fault-check, GREEN_FAULT=mmap:N).  GREEN_FAULT is read when
 * libgreen is loaded, so each run is this program again, exec'd with
 * GREEN_FAULT=mmap:N and DIAG_CHILD=overflow (main runs
 * overflow_1_worker then).
 */
static char self_exe[PATH_MAX];

/* One worker: the task overflows on the worker whose mmap failed. */
static int
overflow_1_worker(void)
{
	green_config_t cfg = { .workers = 1 };
	green_attr_t attr = { .name = "deep", .stack_kind = GREEN_STACK_FIXED };
	int r = green_run(deep_main, &attr, &cfg);

	fprintf(stderr, "test: green_run = %d\n", r);
	return r == -ENOMEM || r == -EAGAIN ? CHILD_SETUP : CHILD_SURVIVED;
}

static int
exec_overflow_child(void *arg)
{
	char spec[32];

	snprintf(spec, sizeof(spec), "mmap:%d", *(int *)arg);
	if (setenv("GREEN_FAULT", spec, 1) != 0 ||
	    setenv("DIAG_CHILD", "overflow", 1) != 0)
		return CHILD_SETUP;
	execl(self_exe, self_exe, (char *)NULL);
	fprintf(stderr, "test: exec %s: %s\n", self_exe, strerror(errno));
	return CHILD_SETUP;
}

START_TEST(test_green_spawn_stack_overflow_reported_whichever_mmap_fails)
{
	char out[OUT_MAX], st[64];
	int status;

	ck_assert_msg(self_exe[0] != '\0', "/proc/self/exe unreadable");
	for (int n = 1;; n++) {
		bool injected;

		ck_assert_msg(n <= 32, "still mmap calls to fail after 32");
		fork_child(exec_overflow_child, &n, &status, out);
		injected = strstr(out, "libgreen: injected fault") != NULL;
		if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SETUP &&
		    injected)
			continue; /* green_run or green_spawn reported it */
		ck_assert_msg(WIFSIGNALED(status) &&
				      WTERMSIG(status) == SIGABRT &&
				      libgreen_said(out),
			      "GREEN_FAULT=mmap:%d: child %s, expected an "
			      "error or SIGABRT with a report; stderr:\n%s",
			      n, describe_status(status, st, sizeof(st)), out);
		if (!injected) {
			/* past the runtime's mmap calls: the plain report */
			assert_has(out, "overflowed");
			break;
		}
	}
}
END_TEST

#ifdef GREEN_SPLIT_STACK
/* A segmented stack with a limit above the memory there is grows until
 * memory runs out (here 1 GiB of address space); the report names the
 * task. */
static int
runaway_child(void *arg)
{
	green_config_t cfg = { .workers = 2 };
	green_attr_t attr = { .name = "runaway",
			      .stack_kind = GREEN_STACK_SEGMENTED,
			      .stack_max = (size_t)4 << 30 };
	struct rlimit as = { (rlim_t)1 << 30, (rlim_t)1 << 30 };

	(void)arg;
	if (setrlimit(RLIMIT_AS, &as) != 0)
		return CHILD_SETUP;
	green_run(deep_main, &attr, &cfg);
	return CHILD_SURVIVED;
}

START_TEST(test_green_spawn_segmented_runaway_recursion_names_task)
{
	char out[OUT_MAX];

	fork_aborting_child(runaway_child, NULL, out);
	assert_has(out, "out of memory: no stack segment to grow task");
	assert_has(out, "\"runaway\"");
	assert_has(out, "overflow_entry");
}
END_TEST

/* The default limit (1 GiB) stops unbounded recursion before memory runs
 * out, and a limit of the runtime's or the task's own stops it sooner; the
 * report names the task, its entry and the limit. */
static int
limit_child(void *arg)
{
	const size_t *limits = arg; /* the runtime's, the task's */
	green_config_t cfg = { .workers = 2, .stack_max = limits[0] };
	green_attr_t attr = { .name = "limited",
			      .stack_kind = GREEN_STACK_SEGMENTED,
			      .stack_max = limits[1] };

	green_run(deep_main, &attr, &cfg);
	return CHILD_SURVIVED;
}

static void
assert_limit_report(size_t rt_max, size_t task_max, const char *limit)
{
	size_t limits[2] = { rt_max, task_max };
	char out[OUT_MAX];

	fork_aborting_child(limit_child, limits, out);
	assert_has(out, "exceeded its stack limit of");
	assert_has(out, limit);
	assert_has(out, "\"limited\"");
	assert_has(out, "overflow_entry");
}

/* A direct call into code built without -fsplit-stack gets 64 KiB (and
 * what its segment has left); one that uses far more meets the segment's
 * guard page, and the report says what happened, naming the task. */
VISIBLE void *
nonsplit_hog(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)nosplit_use_stack((size_t)1 << 20, 7);
}

static int
nonsplit_hog_child(void *arg)
{
	green_config_t cfg = { .workers = 2 };
	green_attr_t attr = { .name = "hog" };
	green_task_t *t;

	(void)arg;
	if (green_init(&cfg) != 0 ||
	    green_spawn(&t, &attr, nonsplit_hog, NULL) != 0)
		return CHILD_SETUP;
	green_join(t, NULL, -1);
	return CHILD_SURVIVED;
}

START_TEST(test_green_spawn_nonsplit_overrun_names_task)
{
	char out[OUT_MAX];

	fork_aborting_child(nonsplit_hog_child, NULL, out);
	assert_has(out, "overflowed a stack segment");
	assert_has(out, "built without -fsplit-stack");
	assert_has(out, "\"hog\"");
	assert_has(out, "nonsplit_hog");
}
END_TEST

START_TEST(test_green_spawn_stack_max_stops_runaway_recursion)
{
	assert_limit_report(0, 0, " 1073741824 bytes (stack_max)");
	assert_limit_report((size_t)8 << 20, 0, " 8388608 bytes");
	assert_limit_report((size_t)8 << 20, (size_t)1 << 20, " 1048576 bytes");
}
END_TEST
#endif

/* --- a fault that is not an overflow ----------------------------------- */

VISIBLE void *
null_writer(void *arg)
{
	volatile int *volatile p = arg;

	*p = 1;
	return NULL;
}

static void
segv_main(void *arg)
{
	green_attr_t attr = { .name = "faulty" };
	green_task_t *t;

	(void)arg;
	if (green_spawn(&t, &attr, null_writer, NULL) != 0)
		_exit(CHILD_SETUP);
	green_join(t, NULL, -1);
}

static int
segv_child(void *arg)
{
	green_config_t cfg = { .workers = 2 };

	(void)arg;
	green_run(segv_main, NULL, &cfg);
	return CHILD_SURVIVED;
}

START_TEST(test_green_spawn_null_write_dies_by_sigsegv)
{
	char out[OUT_MAX], st[64];
	int status;

	fork_child(segv_child, NULL, &status, out);
#ifdef __SANITIZE_ADDRESS__
	/* the fault is passed on to ASan's handler, which reports it (with
	 * the task's stack) and exits instead of dying by the signal */
	(void)st;
	ck_assert_msg(strstr(out, "AddressSanitizer: SEGV") != NULL,
		      "expected ASan's SEGV report; stderr:\n%s", out);
#elif defined(__SANITIZE_THREAD__)
	/* likewise ThreadSanitizer reports the fault and exits (66) */
	(void)st;
	ck_assert_msg(strstr(out, "ThreadSanitizer: SEGV") != NULL,
		      "expected TSan's SEGV report; stderr:\n%s", out);
#else
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		      "child %s, expected SIGSEGV; stderr:\n%s",
		      describe_status(status, st, sizeof(st)), out);
#endif
	ck_assert_msg(strstr(out, "overflowed") == NULL,
		      "a NULL write was reported as an overflow:\n%s", out);
	/* the crash report names the task before the default action */
	assert_has(out, "libgreen: fatal signal 11 (SEGV) in task");
	assert_has(out, "\"faulty\"");
	assert_has(out, "null_writer");
}
END_TEST

/* ------------------------------------------------------------------------- */

static Suite *
diag_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *tc;

	tc = tcase_create("green_run");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_checked_fixture(tc, tfail_reset, NULL);
	tcase_add_test(tc,
		       test_green_run_join_of_stuck_task_returns_edeadlk_and_reports);
	tcase_add_test(
		tc, test_green_run_sleep_forever_returns_edeadlk_and_reports);
	suite_add_tcase(s, tc);

	tc = tcase_create("green_shutdown");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_checked_fixture(tc, tfail_reset, NULL);
	tcase_add_test(
		tc, test_green_shutdown_deadlocked_returns_edeadlk_and_reports);
	suite_add_tcase(s, tc);

	tc = tcase_create("green_spawn");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_checked_fixture(tc, tfail_reset, NULL);
	tcase_add_test(tc, test_green_spawn_stack_overflow_reports_and_aborts);
	tcase_add_test(
		tc, test_green_spawn_stack_overflow_reported_whichever_mmap_fails);
#ifdef GREEN_SPLIT_STACK
	tcase_add_test(tc,
		       test_green_spawn_segmented_runaway_recursion_names_task);
	tcase_add_test(tc, test_green_spawn_stack_max_stops_runaway_recursion);
	tcase_add_test(tc, test_green_spawn_nonsplit_overrun_names_task);
#endif
	tcase_add_test(tc, test_green_spawn_null_write_dies_by_sigsegv);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	const char *child = getenv("DIAG_CHILD");
	ssize_t n;

	if (child != NULL && strcmp(child, "overflow") == 0)
		return overflow_1_worker();
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	self_exe[n > 0 ? n : 0] = '\0';
	return run_suite(diag_suite());
}
