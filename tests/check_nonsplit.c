/*
 * check_nonsplit.c - task code as C programmers write it: calls into libc
 * and other code built without -fsplit-stack, directly and through
 * function pointers (doc/DECISIONS.md, "Stacks").
 *
 * What must hold with segmented stacks:
 *  - a task function that calls libc directly is not rewritten by the
 *    linker to split at every entry (libgreen's libc entry points), and a
 *    million of them parked cost their first segments only;
 *  - a direct call into other non-split code gets 64 KiB of stack;
 *  - libc functions reached through a callback table get what they need;
 *  - neighbouring tasks' frames stay intact through all of it (canaries);
 *  - alloca and VLAs that do not fit above the guard work;
 *  - threads created from split-stack code run with a zero guard.
 * In builds without segmented stacks the same code runs on fixed stacks
 * and must work as well.
 */
#include <regex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nosplit_entry.h"
#include "testutil.h"

#define NWORKERS 2
#define TIMEOUT (120 * TEST_TIMEOUT_MULT)

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

/* --- neighbours holding canaries ----------------------------------------- */

/*
 * Tasks parked while tested tasks run beside them: each keeps a canary
 * array in its frame, on its first segment, and checks it when woken.
 * First segments are packed side by side, so a tested task that ran off
 * the bottom of its own would write into a neighbour's.
 */
struct neighbours {
	green_chan_t *wake;
	green_wg_t ended;
	atomic_int bad;
};

/* as much of a 2 KiB first segment as its frame can take without growing */
#define CANARY_WORDS 112

static uint64_t
canary(uintptr_t who, int i)
{
	uint64_t x = (uint64_t)who * 0x9e3779b97f4a7c15ull + (uint64_t)i;

	return (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ull;
}

static void *
neighbour(void *arg)
{
	struct neighbours *n = arg;
	volatile uint64_t mark[CANARY_WORDS];
	uintptr_t who = (uintptr_t)mark;
	int bad = 0;

	for (int i = 0; i < CANARY_WORDS; i++)
		mark[i] = canary(who, i);
	(void)green_chan_recv(n->wake, NULL, -1);
	for (int i = 0; i < CANARY_WORDS; i++)
		bad += mark[i] != canary(who, i);
	atomic_fetch_add(&n->bad, bad);
	green_wg_done(&n->ended);
	return NULL;
}

/* Returns false when they could not all be started. */
static bool
neighbours_start(struct neighbours *n, int count)
{
	atomic_init(&n->bad, 0);
	n->ended = (green_wg_t)GREEN_WG_INITIALIZER;
	if (green_chan_create(&n->wake, 0, 0) != 0 ||
	    green_wg_add(&n->ended, count) != 0)
		return false;
	for (int i = 0; i < count; i++)
		if (green_spawn(NULL, NULL, neighbour, n) != 0)
			return false;
	return true;
}

/* Wake every neighbour; returns how many canaries were damaged. */
static int
neighbours_end(struct neighbours *n)
{
	green_chan_close(n->wake);
	green_wg_wait(&n->ended, -1);
	green_chan_destroy(n->wake);
	return atomic_load(&n->bad);
}

/* Run n tasks of fn, arg(i) for the i-th, 64 at a time; returns how many
 * returned non-NULL (a failure), or -1 when one could not be spawned. */
static int
run_batches(void *(*fn)(void *), void *(*arg)(int i), int n)
{
	green_task_t *h[64];
	int bad = 0;

	for (int i = 0; i < n; i += 64) {
		int k = n - i < 64 ? n - i : 64;
		void *r;
		for (int j = 0; j < k; j++)
			if (green_spawn(&h[j], NULL, fn, arg(i + j)) != 0)
				return -1;
		for (int j = 0; j < k; j++) {
			if (green_join(h[j], &r, -1) != 0)
				return -1;
			bad += r != NULL;
		}
	}
	return bad;
}

/* --- an ordinary task function ------------------------------------------- */

struct ordinary {
	green_chan_t *ch; /* closed to end the tasks */
	green_wg_t parked, ended;
	atomic_long total; /* the lengths of the names */
};

/* Written as users write it: libc called directly, errors printed inline. */
static void *
ordinary_task(void *arg)
{
	struct ordinary *o = arg;
	char name[32];
	char *buf;
	int err;

	snprintf(name, sizeof(name), "task-%llu",
		 (unsigned long long)green_task_id(green_self()));
	buf = malloc(64);
	if (buf == NULL) {
		fprintf(stderr, "ordinary_task: out of memory\n");
		exit(1);
	}
	memcpy(buf, name, strlen(name) + 1);
	green_wg_done(&o->parked);
	err = green_chan_recv(o->ch, NULL, -1);
	if (err != -EPIPE) {
		fprintf(stderr, "ordinary_task: recv: %s\n",
			green_strerror(err));
		exit(1);
	}
	atomic_fetch_add(&o->total, (long)strlen(buf));
	free(buf);
	green_wg_done(&o->ended);
	return NULL;
}

START_TEST(test_libc_caller_is_not_rewritten)
{
#ifdef GREEN_SPLIT_STACK
	const unsigned char *p = (const unsigned char *)ordinary_task;

	if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		p += 4; /* endbr64 */
	/* gold's rewrite for a caller of non-split code is "stc"; a call
	 * that binds to libgreen's entry point leaves the compare */
	ck_assert_msg(p[0] != 0xf9, "ordinary_task was rewritten to split "
				    "at every entry");
	ck_assert_msg(p[0] == 0x64 && p[2] == 0x3b,
		      "ordinary_task has no split-stack prologue");
#endif
}
END_TEST

#define ORDINARY_TASKS TEST_SCALE(50000)

static void *
ordinary_parked_main(void *arg)
{
	struct ordinary o = { NULL, GREEN_WG_INITIALIZER, GREEN_WG_INITIALIZER,
			      0 };
	long rss0, rss1, maps0, maps1;

	(void)arg;
	T_REQUIRE_INT_EQ(green_chan_create(&o.ch, 0, 0), 0);
	T_REQUIRE_INT_EQ(green_wg_add(&o.parked, ORDINARY_TASKS), 0);
	T_REQUIRE_INT_EQ(green_wg_add(&o.ended, ORDINARY_TASKS), 0);
	rss0 = rss_kib();
	maps0 = mappings();
	for (long i = 0; i < ORDINARY_TASKS; i++)
		T_REQUIRE_INT_EQ(green_spawn(NULL, NULL, ordinary_task, &o),
				 0);
	T_REQUIRE_INT_EQ(green_wg_wait(&o.parked, -1), 0);
	rss1 = rss_kib();
	maps1 = mappings();
#ifdef GREEN_SPLIT_STACK
	/* a parked ordinary task costs its first segment and struct (about
	 * 2.4 KiB), not a segment of its own (a page or more) */
	if (!TEST_SLOW) {
		T_CHECK((rss1 - rss0) * 1024 / ORDINARY_TASKS < 3072);
		T_CHECK(maps1 - maps0 < ORDINARY_TASKS / 100 + 16);
	}
#else
	(void)rss0, (void)rss1, (void)maps0, (void)maps1;
#endif
	T_CHECK_INT_EQ(green_chan_close(o.ch), 0);
	T_CHECK_INT_EQ(green_wg_wait(&o.ended, -1), 0);
	/* every name is "task-" and at least one digit */
	T_CHECK(atomic_load(&o.total) >= 6L * ORDINARY_TASKS);
	T_CHECK_INT_EQ(green_chan_destroy(o.ch), 0);
	return NULL;
}

START_TEST(test_ordinary_parked_tasks_cost_their_first_segment)
{
	run_in_task(ordinary_parked_main, NULL);
}
END_TEST

/* --- direct calls into non-split code ------------------------------------ */

#define DIRECT_TASKS TEST_SCALE(400)
#define DIRECT_BYTES ((size_t)60 << 10)

/* Calls non-split code directly: the linker rewrites this function to ask
 * for 64 KiB first. */
static void *
direct_caller(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	if (nosplit_use_stack(DIRECT_BYTES, seed) !=
	    nosplit_expect(DIRECT_BYTES, seed))
		return (void *)1;
	green_yield(); /* maybe to another worker, on the grown segment */
	if (nosplit_use_stack(DIRECT_BYTES, seed + 1) !=
	    nosplit_expect(DIRECT_BYTES, seed + 1))
		return (void *)1;
	return NULL;
}

static void *
seed_of(int i)
{
	return (void *)(uintptr_t)i;
}

static void *
direct_main(void *arg)
{
	struct neighbours n;

	(void)arg;
	T_REQUIRE(neighbours_start(&n, 200));
	T_CHECK_INT_EQ(run_batches(direct_caller, seed_of, DIRECT_TASKS), 0);
	T_CHECK_INT_EQ(neighbours_end(&n), 0);
	return NULL;
}

START_TEST(test_direct_nonsplit_call_gets_64k)
{
	run_in_task(direct_main, NULL);
}
END_TEST

/* --- libc through a callback table --------------------------------------- */

/* A plugin-style table: libc's functions stored in pointers, called where
 * the linker cannot see which function runs. */
struct ops {
	int (*fmt)(char *, size_t, const char *, ...);
	int (*compile)(regex_t *, const char *, int);
	int (*match)(const regex_t *, const char *, size_t, regmatch_t *, int);
	void (*release)(regex_t *);
	size_t (*len)(const char *);
};

static const struct ops libc_ops = { snprintf, regcomp, regexec, regfree,
				     strlen };

#define TABLE_TASKS TEST_SCALE(300)

static void *
table_task(void *arg)
{
	const struct ops *ops = arg;
	char out[128];
	regex_t re;
	regmatch_t m[4];
	int n, ok;

	/* long doubles make printf's deepest path (about 4.5 KiB) */
	n = ops->fmt(out, sizeof(out), "%.20Lg %.20Lg %.20Lg", 1.0L / 3,
		     2.0L / 3, 1e300L * 1e300L);
	if (n <= 0 || (size_t)n != ops->len(out))
		return (void *)1;
	/* regcomp and regexec of a nested pattern: about 20 KiB */
	if (ops->compile(&re, "^(([a-z]+)-([0-9]+))+(x|y|z)*$",
			 REG_EXTENDED) != 0)
		return (void *)2;
	ok = ops->match(&re, "task-12345abc-678", 4, m, 0) == 0 &&
	     ops->match(&re, "no match here", 4, m, 0) == REG_NOMATCH;
	ops->release(&re);
	return ok ? NULL : (void *)3;
}

static void *
ops_of(int i)
{
	(void)i;
	return (void *)&libc_ops;
}

static void *
table_main(void *arg)
{
	struct neighbours n;

	(void)arg;
	T_REQUIRE(neighbours_start(&n, 200));
	T_CHECK_INT_EQ(run_batches(table_task, ops_of, TABLE_TASKS), 0);
	T_CHECK_INT_EQ(neighbours_end(&n), 0);
	return NULL;
}

START_TEST(test_libc_through_callback_table)
{
	run_in_task(table_main, NULL);
}
END_TEST

/* --- other non-split code through pointers ------------------------------ */

/* What a plugin or a library hands out: functions without a stack check,
 * reached where the linker cannot see them. */
struct plugin {
	unsigned (*use_stack)(size_t, unsigned);
	long (*sum10)(long, long, long, long, long, long, long, long, long,
		      long);
	long (*vsum)(int, ...);
};

static const struct plugin plugin = { nosplit_use_stack, nosplit_sum10,
				      nosplit_vsum };

static void *
plugin_of(int i)
{
	(void)i;
	return (void *)&plugin;
}

/* nosplit_expect, in split-stack code: a direct call to the non-split one
 * would make the linker rewrite plugin_task to split at its entry. */
static unsigned
expect(size_t bytes, unsigned seed)
{
	unsigned sum = 0;

	for (size_t i = 0; i < bytes; i++)
		sum = sum * 31 + (unsigned char)(seed + i);
	return sum;
}

/* Called with the plugin's functions from a task's first segment. */
static void *
plugin_task(void *arg)
{
	const struct plugin *p = arg;
	unsigned seed = (unsigned)green_task_id(green_self());

	if (p->use_stack(DIRECT_BYTES, seed) != expect(DIRECT_BYTES, seed))
		return (void *)1;
	if (p->sum10(1, 2, 3, 4, 5, 6, 7, 8, 9, 10) != 385)
		return (void *)2;
	if (p->vsum(12, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L) !=
	    650)
		return (void *)3;
	return NULL;
}

static void *
plugin_main(void *arg)
{
	struct neighbours n;

	(void)arg;
	T_REQUIRE(neighbours_start(&n, 200));
	T_CHECK_INT_EQ(run_batches(plugin_task, plugin_of, DIRECT_TASKS), 0);
	T_CHECK_INT_EQ(neighbours_end(&n), 0);
	return NULL;
}

START_TEST(test_nonsplit_through_pointer_gets_64k)
{
	run_in_task(plugin_main, NULL);
}
END_TEST

/* --- alloca and VLAs ----------------------------------------------------- */

/* A VLA too big for the first segment's room: gcc asks
 * __morestack_allocate_stack_space for it. */
__attribute__((noinline)) static int
vla_sum(size_t n, int seed)
{
	volatile unsigned char v[n];
	int sum = 0;

	for (size_t i = 0; i < n; i++)
		v[i] = (unsigned char)(seed + (int)i);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

static int
vla_expect(size_t n, int seed)
{
	int sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)(seed + (int)i);
	return sum;
}

static void *
vla_task(void *arg)
{
	size_t n = (size_t)(uintptr_t)arg;

	for (int i = 0; i < 50; i++)
		if (vla_sum(n, i) != vla_expect(n, i))
			return (void *)1;
	return NULL;
}

/* VLA sizes from less than the first segment to more than a segment (and
 * within a default fixed stack, 256 KiB, for builds without segments) */
static void *
vla_size_of(int i)
{
	static const size_t sizes[] = { 512, 3000, 9000, 70000, 150000 };

	return (void *)(uintptr_t)sizes[i % 5];
}

static void *
vla_main(void *arg)
{
	struct neighbours n;

	(void)arg;
	T_REQUIRE(neighbours_start(&n, 100));
	T_CHECK_INT_EQ(run_batches(vla_task, vla_size_of, TEST_SCALE(200)), 0);
	T_CHECK_INT_EQ(neighbours_end(&n), 0);
	return NULL;
}

START_TEST(test_vla_beyond_the_segment_works)
{
	run_in_task(vla_main, NULL);
}
END_TEST

/* --- threads created by split-stack code --------------------------------- */

static void *
read_guard(void *arg)
{
	void *g;

	(void)arg;
	__asm__ volatile("movq %%fs:0x70, %0" : "=r"(g));
	return g;
}

START_TEST(test_thread_from_split_code_has_zero_guard)
{
	pthread_t th;
	void *guard = (void *)1;

	/* split-stack code is linked with --wrap=pthread_create */
	ck_assert_int_eq(pthread_create(&th, NULL, read_guard, NULL), 0);
	ck_assert_int_eq(pthread_join(th, &guard), 0);
	ck_assert_ptr_null(guard);
	/* and so is this thread, which no libgcc start-up code touched */
	ck_assert_ptr_null(read_guard(NULL));
}
END_TEST

static Suite *
nonsplit_suite(void)
{
	Suite *s = suite_create("nonsplit");
	TCase *tc;

	tc = tcase_create("ordinary");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_libc_caller_is_not_rewritten);
	tcase_add_test(tc, test_ordinary_parked_tasks_cost_their_first_segment);
	tcase_add_test(tc, test_direct_nonsplit_call_gets_64k);
	tcase_add_test(tc, test_libc_through_callback_table);
	tcase_add_test(tc, test_nonsplit_through_pointer_gets_64k);
	tcase_add_test(tc, test_vla_beyond_the_segment_works);
	tcase_add_test(tc, test_thread_from_split_code_has_zero_guard);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(nonsplit_suite());
}
