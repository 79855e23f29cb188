/*
 * check_tls.c - thread-local state seen from tasks that migrate between
 * workers, built the way an aggressive user builds (-O2 -flto).
 *
 * A task may resume on another OS thread after any green_yield, and the
 * compiler may keep a TLS address (errno's included: glibc declares
 * __errno_location const) across the call.  The documented safe pattern is
 * to touch thread-locals only through a noinline, noipa accessor; this test
 * uses it for a per-thread cache of the worker id and checks that the cache
 * always agrees with green_worker_id(), that green_self() stays the task's
 * own handle, and that errors come back as return values.  errno is never
 * read here: after a migration it could be another thread's.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define TIMEOUT (60 * TEST_TIMEOUT_MULT)
#define NWORKERS 2
#define NSPARES 2
#define TLS_TASKS 64
#define TLS_ITERS TEST_SCALE(20000)

static void
setup(void)
{
	green_config_t cfg = { .workers = NWORKERS, .max_spares = NSPARES };

	tfail_reset();
	ck_assert_int_eq(green_init(&cfg), 0);
}

static void
teardown(void)
{
	shutdown_runtime();
}

/* The worker id of the OS thread this cache belongs to; -1 until set. */
static __thread int cached_worker = -1;

__attribute__((noinline, noipa)) static int
cached_worker_get(void)
{
	return cached_worker;
}

__attribute__((noinline, noipa)) static void
cached_worker_set(int w)
{
	cached_worker = w;
}

static green_task_t *_Atomic handles[TLS_TASKS];

static atomic_long n_migrations, n_cache_mismatch, n_self_mismatch,
	n_bad_worker, n_bad_einval, n_iters;

static void
stats_reset(void)
{
	for (int i = 0; i < TLS_TASKS; i++)
		atomic_store(&handles[i], NULL);
	atomic_store(&n_migrations, 0);
	atomic_store(&n_cache_mismatch, 0);
	atomic_store(&n_self_mismatch, 0);
	atomic_store(&n_bad_worker, 0);
	atomic_store(&n_bad_einval, 0);
	atomic_store(&n_iters, 0);
}

static void *
tls_task(void *arg)
{
	int me = (int)(intptr_t)arg;
	long migrations = 0, cache_mismatch = 0, self_mismatch = 0;
	long bad_worker = 0, bad_einval = 0, iters = 0;
	green_task_t *own;
	int prev;

	while ((own = atomic_load(&handles[me])) == NULL)
		green_yield();
	prev = green_worker_id();
	for (int i = 0; i < TLS_ITERS; i++) {
		int w, c;

		if (green_self() != own)
			self_mismatch++;
		/* mostly yields; now and then a short sleep, whose wake-up
		 * comes from the timer on either worker: more migrations */
		if (i % 1000 == 999)
			green_sleep(green_now() + GREEN_USEC(10));
		else
			green_yield();
		w = green_worker_id();
		/* a spare that takes over from a held worker (monitor.c)
		 * has an index of its own, up to workers + max_spares */
		if (w < 0 || w >= NWORKERS + NSPARES)
			bad_worker++;
		c = cached_worker_get();
		if (c == -1)
			cached_worker_set(w);
		else if (c != w)
			cache_mismatch++;
		if (w != prev)
			migrations++;
		prev = w;
		/* the error is the return value; errno is not looked at */
		if (i % 100 == 0 && green_join(NULL, NULL, 0) != -EINVAL)
			bad_einval++;
		iters++;
	}
	if (green_self() != own)
		self_mismatch++;
	atomic_fetch_add(&n_migrations, migrations);
	atomic_fetch_add(&n_cache_mismatch, cache_mismatch);
	atomic_fetch_add(&n_self_mismatch, self_mismatch);
	atomic_fetch_add(&n_bad_worker, bad_worker);
	atomic_fetch_add(&n_bad_einval, bad_einval);
	atomic_fetch_add(&n_iters, iters);
	return NULL;
}

static void *
tls_main(void *arg)
{
	green_task_t *h[TLS_TASKS];

	(void)arg;
	for (int i = 0; i < TLS_TASKS; i++) {
		T_REQUIRE_INT_EQ(
			green_spawn(&h[i], NULL, tls_task, (void *)(intptr_t)i),
			0);
		atomic_store(&handles[i], h[i]);
	}
	for (int i = 0; i < TLS_TASKS; i++)
		T_CHECK_INT_EQ(green_join(h[i], NULL, -1), 0);
	return NULL;
}

START_TEST(test_green_worker_id_after_yield_matches_thread_cache)
{
	stats_reset();
	run_in_task(tls_main, NULL);
	ck_assert_int_eq(atomic_load(&n_iters), (long)TLS_TASKS * TLS_ITERS);
	ck_assert_msg(atomic_load(&n_bad_worker) == 0,
		      "%ld worker ids out of range",
		      atomic_load(&n_bad_worker));
	ck_assert_msg(atomic_load(&n_cache_mismatch) == 0,
		      "%ld times the thread's cached worker id differed from "
		      "green_worker_id()",
		      atomic_load(&n_cache_mismatch));
	ck_assert_msg(atomic_load(&n_self_mismatch) == 0,
		      "%ld times green_self() was not the task's handle",
		      atomic_load(&n_self_mismatch));
	ck_assert_msg(atomic_load(&n_bad_einval) == 0,
		      "%ld times green_join(NULL, NULL, 0) != -EINVAL",
		      atomic_load(&n_bad_einval));
	/* the test means something only if tasks did change threads */
	ck_assert_msg(atomic_load(&n_migrations) > 0,
		      "no task ever migrated between workers");
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("green_worker_id");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_test(tc,
		       test_green_worker_id_after_yield_matches_thread_cache);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(tls_suite());
}
