/*
 * testutil.h - helpers shared by the check_<subsystem> runners.
 *
 * Everything here is static: each runner is one translation unit.  The
 * helpers above the fixtures report problems by return value, not by
 * ck_assert, so they can also be used in a child process forked by the test
 * itself (where a failed assertion would talk to the wrong check process)
 * and in tasks (see tfail).  Only the fixtures, tfail_check and run_in_task
 * assert, and only on the test's own thread.
 */
#ifndef GREEN_TESTUTIL_H
#define GREEN_TESTUTIL_H

#include "config.h" /* GREEN_SPLIT_STACK: what this build supports */

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "green.h"

/*
 * Sanitizer builds.  GCC defines __SANITIZE_THREAD__/__SANITIZE_ADDRESS__;
 * clang reports the same through __has_feature.  Under a sanitizer the code
 * runs several times slower (ThreadSanitizer about 10x) and the runtime may
 * add threads of its own, so the heaviest tests scale their work down and
 * widen timing bounds there.  Normal builds are unaffected: TEST_SCALE(n) is
 * n and the bounds are the strict ones.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TEST_SANITIZED 1
#else
#define TEST_SANITIZED 0
#endif

/*
 * Under valgrind (make check-valgrind) the same binaries run 20-50 times
 * slower with every thread serialised, so the scaling is decided at run time:
 * RUNNING_ON_VALGRIND is a client request that reads 0 on a real CPU.
 */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TEST_VALGRIND (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef TEST_VALGRIND
#define TEST_VALGRIND 0
#endif

/* True when the suite runs instrumented and heavy loops must shrink. */
#define TEST_SLOW (TEST_SANITIZED || TEST_VALGRIND)
/* Iteration counts of heavy loops: n / 20 when slow, at least 1. */
#define TEST_SCALE(n) (TEST_SLOW ? ((n) / 20 > 0 ? (n) / 20 : 1) : (n))
/* Multiplier for tcase timeouts and in-test time bounds. */
#define TEST_TIMEOUT_MULT (TEST_VALGRIND ? 10 : TEST_SANITIZED ? 3 : 1)

/* Threads the sanitizer runtime may start on its own (ThreadSanitizer's
 * background thread). */
#ifdef __SANITIZE_THREAD__
#define TEST_EXTRA_THREADS 1
#else
#define TEST_EXTRA_THREADS 0
#endif

/* A child forked by run_forked() is killed by SIGALRM after this many
 * seconds, so a hang fails the test instead of outliving it. */
#define TEST_CHILD_ALARM (20 * TEST_TIMEOUT_MULT)

/* Spin without blocking until ns nanoseconds have passed (busy work that
 * keeps a worker occupied). */
/* Sleep ns, as a task or as a plain thread (also without a runtime). */
static inline void
pause_ns(int64_t ns)
{
	if (green_self() != NULL)
		green_sleep(green_now() + ns);
	else
		usleep((useconds_t)(ns / 1000));
}

static inline void
busy_wait_ns(int64_t ns)
{
	int64_t end = green_now() + ns;

	while (green_now() < end)
		;
}

/* Yield (inside a task) until *flag is nonzero or timeout_ns passed.
 * Returns true when the flag was seen. */
static inline bool
wait_flag(atomic_int *flag, int64_t timeout_ns)
{
	int64_t end = green_now() + timeout_ns;

	while (atomic_load(flag) == 0) {
		if (green_now() > end)
			return false;
		if (green_self() != NULL)
			green_sleep(green_now() + GREEN_USEC(200));
		else
			usleep(200);
	}
	return true;
}

/* CPU time (user + system) this process has used, in ns. */
static inline int64_t
cpu_time_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* Whether a process's stderr out has a line of libgreen's own, besides
 * the fault injector's (GREEN_FAULT): a diagnostic. */
static inline bool
libgreen_said(const char *out)
{
	for (const char *p = out; (p = strstr(p, "libgreen: ")) != NULL; p++)
		if ((p == out || p[-1] == '\n') &&
		    strncmp(p, "libgreen: injected fault", 24) != 0 &&
		    strncmp(p, "libgreen: fault sites", 21) != 0)
			return true;
	return false;
}

/*
 * Under fault injection (GREEN_FAULT set, as tests/fault/run.sh does), say
 * on stderr how a forked child ended when it hung (killed by its alarm),
 * died of a signal with no libgreen diagnostic in its stderr (out), or,
 * under valgrind, exited with the status its error exit code is set to
 * (99, make check-valgrind and the driver's FAULT_WRAP): the driver reads
 * only the runner's output, where such a child is merely a failed test,
 * and it must tell those apart from the failures an injected fault is
 * expected to cause.  (out may be cut short of valgrind's summary.)
 */
static inline void
fault_child_verdict(int status, const char *out)
{
	if (getenv("GREEN_FAULT") == NULL)
		return;
	if (TEST_VALGRIND && WIFEXITED(status) && WEXITSTATUS(status) == 99)
		fprintf(stderr, "fault-child: leak: exited with valgrind's "
				"error status 99\n");
	if (!WIFSIGNALED(status))
		return;
	if (WTERMSIG(status) == SIGALRM) {
		fprintf(stderr, "fault-child: hang: killed by its alarm\n");
		return;
	}
	if (libgreen_said(out))
		return;
	fprintf(stderr,
		"fault-child: crash: signal %d (%s) without a libgreen "
		"diagnostic\n",
		WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/*
 * Run fn(arg) in a forked child whose stderr goes to a pipe; the child exits
 * with fn's return value.  The parent collects what the child wrote to
 * stderr (NUL-terminated, truncated to len - 1 bytes) and its wait status.
 * Returns 0, or -1 when fork/pipe/waitpid failed.
 */
static inline int
run_forked(int (*fn)(void *), void *arg, int *status, char *buf, size_t len)
{
	int fds[2];
	size_t got = 0;
	pid_t pid;

	if (len == 0 || pipe(fds) != 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };

		close(fds[0]);
		if (dup2(fds[1], STDERR_FILENO) < 0)
			_exit(127);
		close(fds[1]);
		/* an expected abort() should not spend time writing a core */
		setrlimit(RLIMIT_CORE, &nocore);
		alarm(TEST_CHILD_ALARM);
		_exit(fn(arg));
	}
	close(fds[1]);
	for (;;) {
		char scratch[256];
		char *dst = got < len - 1 ? buf + got : scratch;
		size_t room = got < len - 1 ? len - 1 - got : sizeof(scratch);
		ssize_t n = read(fds[0], dst, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != scratch)
			got += (size_t)n;
	}
	buf[got] = '\0';
	close(fds[0]);
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	fault_child_verdict(*status, buf);
	return 0;
}

/* What run_deadlocked() runs in its child. */
struct deadlock_run {
	void (*fn)(void *);
	void *arg;
	unsigned workers;
};

/* Child of run_deadlocked(): exits 0 when green_run saw the deadlock. */
static inline int
deadlock_child(void *arg)
{
	struct deadlock_run *d = arg;
	green_config_t cfg = { .workers = d->workers };
	int r = green_run(d->fn, d->arg, &cfg);

	fprintf(stderr, "test: green_run = %d\n", r);
	return r == -EDEADLK ? 0 : 1;
}

/*
 * Run fn(arg) as green_run's main task (workers workers) in a forked child
 * that exits 0 when green_run returns -EDEADLK, 1 when it returns anything
 * else; buf gets the child's stderr (the deadlock report) as in
 * run_forked.  No runtime may be running in the caller.  Returns 0, or -1
 * when the child could not be run.
 */
static inline int
run_deadlocked(void (*fn)(void *), void *arg, unsigned workers, int *status,
	       char *buf, size_t len)
{
	struct deadlock_run d = { fn, arg, workers };

	return run_forked(deadlock_child, &d, status, buf, len);
}

/* Describe a wait status for failure messages. */
static inline const char *
describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "wait status 0x%x", status);
	return buf;
}

/* Case-insensitive substring test. */
static inline bool
contains_ci(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

/*
 * Run fn(arg) as a task and wait for it from the calling (non-task) thread.
 * Returns fn's result; *err (if not NULL) gets green_spawn's or green_join's
 * error, and the result is NULL then.
 */
static inline void *
run_task(void *(*fn)(void *), void *arg, int *err)
{
	green_task_t *t;
	void *res = NULL;
	int r;

	r = green_spawn(&t, NULL, fn, arg);
	if (r == 0)
		r = green_join(t, &res, -1);
	if (err != NULL)
		*err = r;
	return r == 0 ? res : NULL;
}

/*
 * Failures inside tasks.  ck_assert must not run on a worker thread (it
 * would exit the process from a task stack), so task code records the first
 * failed check here and the test thread reports it with tfail_check() after
 * a join (which orders the record before the read).
 */
static struct {
	atomic_int n;
	int line;
	char what[200];
} tfail;

static inline void
tfail_reset(void)
{
	atomic_store(&tfail.n, 0);
	tfail.line = 0;
	tfail.what[0] = '\0';
}

static inline void __attribute__((format(printf, 2, 3)))
tfail_record(int line, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&tfail.n, 1) != 0)
		return;
	tfail.line = line;
	va_start(ap, fmt);
	vsnprintf(tfail.what, sizeof(tfail.what), fmt, ap);
	va_end(ap);
}

/* Non-fatal check in a task. */
#define T_CHECK(c)                                                             \
	do {                                                                   \
		if (!(c))                                                      \
			tfail_record(__LINE__, "%s", #c);                      \
	} while (0)
#define T_CHECK_INT_EQ(x, y)                                                   \
	do {                                                                   \
		long long x_ = (x), y_ = (y);                                  \
		if (x_ != y_)                                                  \
			tfail_record(__LINE__, "%s == %s (%lld != %lld)", #x,  \
				     #y, x_, y_);                              \
	} while (0)
/* Fatal check in a task function returning void *: the task returns NULL. */
#define T_REQUIRE(c)                                                           \
	do {                                                                   \
		if (!(c)) {                                                    \
			tfail_record(__LINE__, "%s", #c);                      \
			return NULL;                                           \
		}                                                              \
	} while (0)
#define T_REQUIRE_INT_EQ(x, y)                                                 \
	do {                                                                   \
		long long x_ = (x), y_ = (y);                                  \
		if (x_ != y_) {                                                \
			tfail_record(__LINE__, "%s == %s (%lld != %lld)", #x,  \
				     #y, x_, y_);                              \
			return NULL;                                           \
		}                                                              \
	} while (0)

#define tfail_check()                                                          \
	ck_assert_msg(atomic_load(&tfail.n) == 0,                              \
		      "%d failed check(s) in tasks; first at line %d: %s",     \
		      atomic_load(&tfail.n), tfail.line, tfail.what)

/* Run fn(arg) as a task, join it from the test thread, report failures
 * recorded in tasks, and return fn's result. */
#define run_in_task(fn, arg)                                                   \
	({                                                                     \
		int err_;                                                      \
		void *res_ = run_task((fn), (arg), &err_);                     \
		ck_assert_msg(err_ == 0,                                       \
			      "spawn/join of the test task: %d (%s)", err_,    \
			      green_strerror(err_));                           \
		tfail_check();                                                 \
		res_;                                                          \
	})

/* Start a runtime with n workers (checked fixtures call this). */
static inline void
init_workers(unsigned n)
{
	green_config_t cfg = { .workers = n };

	tfail_reset();
	ck_assert_int_eq(green_init(&cfg), 0);
}

/*
 * Checked teardown: every test must leave no task behind, so shutdown
 * returns 0.  -EPERM means a test already shut the runtime down itself
 * (the tests of the no-runtime errors do).
 */
static inline void
shutdown_runtime(void)
{
	int r = green_shutdown();

	ck_assert_msg(r == 0 || r == -EPERM, "green_shutdown() = %d (%s)", r,
		      green_strerror(r));
}

/* A test case; with setup, a checked fixture of setup and teardown (a
 * runtime), else one that only resets the record of task failures. */
static inline TCase *
add_tcase(Suite *s, const char *name, void (*setup)(void),
	  void (*teardown)(void), int timeout)
{
	TCase *tc = tcase_create(name);

	if (setup != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	else
		tcase_add_checked_fixture(tc, tfail_reset, NULL);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

/* A runner's main(): run the suite (CK_FORK and friends from the
 * environment); exit status 0 when every test passed. */
static inline int
run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

/* Threads a runtime has besides its workers: the monitor (monitor.c). */
#define TEST_RT_THREADS 1

/* The threads of this process (/proc/self/status), or -1. */
static inline int
count_threads(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * The thread count once it is n, or after 2 s.  A joined thread can still
 * be counted for a moment: pthread_join returns when the kernel clears its
 * tid, a little before the thread leaves the thread group.
 */
static inline int
threads_settle(int n)
{
	int64_t end = green_now() + GREEN_SEC(2);
	int c;

	while (((c = count_threads()) < n || c > n + TEST_EXTRA_THREADS) &&
	       green_now() < end)
		usleep(1000);
	return c;
}

/* The thread count settled at n, give or take the threads the sanitizer
 * runtime starts itself (none in a normal build: then exactly n). */
#define ck_assert_threads_settle(n)                                            \
	do {                                                                   \
		int want_ = (n), got_ = threads_settle(want_);                 \
		ck_assert_msg(got_ >= want_ &&                                 \
				      got_ <= want_ + TEST_EXTRA_THREADS,      \
			      "%d threads, expected %d (+%d)", got_, want_,   \
			      TEST_EXTRA_THREADS);                             \
	} while (0)

/* The process's resident set, in KiB (from /proc/self/statm), or -1. */
static inline long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* How many memory mappings the process has (lines of /proc/self/maps). */
static inline long
mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (f == NULL)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

#endif /* GREEN_TESTUTIL_H */
