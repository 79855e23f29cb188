/*
 * testutil.h - helpers shared by the check_<subsystem> runners.
 *
 * Everything here is static: each runner is one translation unit.  The
 * helpers report problems by return value, not by ck_assert, so they can
 * also be used in a child process forked by the test itself, where a
 * failed assertion would talk to the wrong check process.
 */
#ifndef GREEN_TESTUTIL_H
#define GREEN_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

/* A child forked by run_forked() is killed by SIGALRM after this many
 * seconds, so a hang fails the test instead of outliving it. */
#define TEST_CHILD_ALARM 20

/* Spin without blocking until ns nanoseconds have passed (busy work that
 * keeps a worker occupied). */
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
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		       1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
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
	return 0;
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

/* Start a runtime with n workers (checked fixtures call this). */
static inline void
init_workers(unsigned n)
{
	green_config_t cfg = { .workers = n };

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

#endif /* GREEN_TESTUTIL_H */
