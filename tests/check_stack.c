/*
 * check_stack.c - task stacks: segmented stacks that start small and grow
 * (deep recursion that parks at the bottom, many tasks at random depths
 * migrating between workers, a hot split, libc and longjmp in deep frames,
 * code built without -fsplit-stack, signals), and the memory a parked task
 * costs.  Fixed stacks are checked here too, and the overflow report in
 * check_diag.c.
 *
 * Every deep frame carries a canary derived from its task and depth and
 * checks it after its callee returns: a frame written by anyone else (a
 * neighbouring task running off its segment, a wrong segment after a
 * switch or a longjmp) fails the test instead of passing silently.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

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

/*
 * Attributes for a task that goes deep.  With segmented stacks, none: the
 * default grows.  In builds without them (sanitizers), a fixed stack big
 * enough for the depth, instrumented frames included; its pages are
 * committed only as they are touched.
 */
static const green_attr_t *
deep_attr(size_t fixed_size)
{
#ifdef GREEN_SPLIT_STACK
	(void)fixed_size;
	return NULL;
#else
	static _Thread_local green_attr_t a;

	a.stack_kind = GREEN_STACK_FIXED;
	a.stack_size = fixed_size;
	return &a;
#endif
}

/* --- frames with canaries ------------------------------------------------ */

static uint64_t
canary(uint64_t who, int depth)
{
	uint64_t x = who * 0x9e3779b97f4a7c15ull + (uint64_t)depth;

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ull;
}

/* What a frame does at the bottom of a recursion. */
typedef int64_t (*bottom_fn)(void *arg);

struct descent {
	uint64_t who;	 /* canary seed */
	int depth;	 /* frames to go down */
	bottom_fn bottom;
	void *arg;
	atomic_int *bad; /* frames whose canary changed */
};

/*
 * One frame: about 100 bytes of locals, a canary before and after the
 * call.  Not a tail call, so every frame stays on the stack.
 */
__attribute__((noinline, noipa)) static int64_t
descend(struct descent *d, int depth)
{
	volatile uint64_t mark[4];
	int64_t r;

	for (int i = 0; i < 4; i++)
		mark[i] = canary(d->who, depth) + (uint64_t)i;
	if (depth < d->depth)
		r = descend(d, depth + 1);
	else
		r = d->bottom(d->arg);
	for (int i = 0; i < 4; i++)
		if (mark[i] != canary(d->who, depth) + (uint64_t)i)
			atomic_fetch_add(d->bad, 1);
	return r + 1;
}

/* --- deep recursion parked at the bottom ------------------------------- */

/* 100,000 frames; a sanitizer's bookkeeping per frame makes that minutes */
#define DEEP_FRAMES (TEST_SANITIZED ? 5000 : 100000)

static int64_t
recv_at_bottom(void *arg)
{
	int64_t v = -1;

	T_CHECK_INT_EQ(green_chan_recv(arg, &v, -1), 0);
	return v;
}

static void *
deep_receiver(void *arg)
{
	atomic_int bad = 0;
	struct descent d = { 1, DEEP_FRAMES, recv_at_bottom, arg, &bad };
	int64_t r = descend(&d, 0);

	T_CHECK_INT_EQ(atomic_load(&bad), 0);
	return (void *)(intptr_t)r;
}

static void *
late_sender(void *arg)
{
	int64_t v = 1000;

	green_sleep(green_now() + GREEN_MSEC(50));
	T_CHECK_INT_EQ(green_chan_send(arg, &v, -1), 0);
	return NULL;
}

static void *
deep_recursion_main(void *arg)
{
	green_chan_t *ch;
	green_task_t *rx, *tx;
	void *r = NULL;

	(void)arg;
	T_REQUIRE_INT_EQ(green_chan_create(&ch, sizeof(int64_t), 0), 0);
	T_REQUIRE_INT_EQ(green_spawn(&rx, deep_attr((size_t)64 << 20),
				     deep_receiver, ch),
			 0);
	T_REQUIRE_INT_EQ(green_spawn(&tx, NULL, late_sender, ch), 0);
	T_CHECK_INT_EQ(green_join(rx, &r, -1), 0);
	T_CHECK_INT_EQ(green_join(tx, NULL, -1), 0);
	/* the value received, plus one per frame on the way up */
	T_CHECK_INT_EQ((intptr_t)r, 1000 + DEEP_FRAMES + 1);
	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	return NULL;
}

START_TEST(test_deep_recursion_parks_at_bottom_and_unwinds)
{
	run_in_task(deep_recursion_main, NULL);
}
END_TEST

/* --- many tasks at random depths, migrating ---------------------------- */

#define MANY_TASKS TEST_SCALE(100000)
#define MANY_MAX_DEPTH 150
#define MANY_YIELDS 3

static atomic_int many_bad;
static atomic_int many_moved;

/* At the bottom, sleep a little (a timer wakes the task on whichever
 * worker runs it) and yield: tasks resume on the other worker deep in
 * their segment chains. */
static int64_t
yield_at_bottom(void *arg)
{
	uint64_t who = (uint64_t)(uintptr_t)arg;
	int first = green_worker_id();

	green_sleep(green_now() + (int64_t)(who % 1000) * 1000);
	for (int i = 0; i < MANY_YIELDS; i++)
		green_yield();
	if (green_worker_id() != first)
		atomic_fetch_add(&many_moved, 1);
	return 0;
}

static void *
random_depth(void *arg)
{
	uint64_t who = (uint64_t)(uintptr_t)arg;
	struct descent d = { who, (int)(canary(who, 0) % MANY_MAX_DEPTH),
			     yield_at_bottom, arg, &many_bad };

	return (void *)(intptr_t)(descend(&d, 0) == d.depth + 1);
}

static void *
many_main(void *arg)
{
	green_task_t **h = malloc(MANY_TASKS * sizeof(*h));
	long ok = 0;

	(void)arg;
	T_REQUIRE(h != NULL);
	for (long i = 0; i < MANY_TASKS; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], NULL, random_depth,
					     (void *)(uintptr_t)(i + 1)),
				 0);
	for (long i = 0; i < MANY_TASKS; i++) {
		void *r = NULL;
		T_CHECK_INT_EQ(green_join(h[i], &r, -1), 0);
		ok += r != NULL;
	}
	free(h);
	T_CHECK_INT_EQ(ok, MANY_TASKS);
	T_CHECK_INT_EQ(atomic_load(&many_bad), 0);
	return NULL;
}

START_TEST(test_many_tasks_random_depths_migrate_intact)
{
	atomic_store(&many_bad, 0);
	atomic_store(&many_moved, 0);
	run_in_task(many_main, NULL);
	/* with two workers stealing, some tasks resumed on the other one
	 * (the test means nothing if none did) */
	ck_assert_int_gt(atomic_load(&many_moved), 0);
}
END_TEST

/* --- a hot split --------------------------------------------------------- */

#define HOT_CALLS TEST_SCALE(1000000)

/* A frame larger than a first segment: every call runs on another
 * segment and comes back. */
__attribute__((noinline, noipa)) static int
big_frame(int x)
{
	volatile char buf[4096];

	buf[0] = (char)x;
	buf[sizeof(buf) - 1] = (char)(x + 1);
	return buf[0] + buf[sizeof(buf) - 1];
}


static void *
hot_split_main(void *arg)
{
	long before, after, sum = 0, want = 0;

	(void)arg;
	big_frame(0); /* the first split maps the segment */
	before = rss_kib();
	for (long i = 0; i < HOT_CALLS; i++) {
		sum += big_frame((int)(i & 63));
		want += 2 * (i & 63) + 1;
	}
	after = rss_kib();
	T_CHECK_INT_EQ(sum, want);
	/* the segment is reused, not mapped per call */
	T_CHECK(before > 0 && after - before < 4096);
	return NULL;
}

START_TEST(test_hot_split_loop_reuses_segment)
{
	run_in_task(hot_split_main, NULL);
}
END_TEST

/* --- libc in deep frames ------------------------------------------------- */

static int
int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* printf, strtod, qsort and regcomp (about 20 KiB of stack) from the
 * bottom of a deep recursion. */
static int64_t
libc_at_bottom(void *arg)
{
	FILE *devnull = arg;
	char buf[128];
	int v[1000];
	regex_t re;
	int64_t ok = 0;

	snprintf(buf, sizeof(buf), "%d %s %.3f %Lg", 42, "deep", 2.5,
		 (long double)1e300);
	T_CHECK(strcmp(buf, "42 deep 2.500 1e+300") == 0);
	T_CHECK(fprintf(devnull, "%s %g\n", buf, 1.5) > 0);
	T_CHECK(strtod("1.25e-3", NULL) == 1.25e-3);
	for (int i = 0; i < 1000; i++)
		v[i] = (i * 7919) % 1000;
	qsort(v, 1000, sizeof(v[0]), int_cmp);
	T_CHECK(v[0] == 0 && v[999] == 999);
	T_CHECK_INT_EQ(regcomp(&re, "^a(b|c)*d[0-9]+$", REG_EXTENDED), 0);
	T_CHECK_INT_EQ(regexec(&re, "abcbcd123", 0, NULL, 0), 0);
	T_CHECK_INT_EQ(regexec(&re, "abxd1", 0, NULL, 0), REG_NOMATCH);
	regfree(&re);
	ok = 7;
	return ok;
}

static void *
libc_deep(void *arg)
{
	atomic_int bad = 0;
	struct descent d = { (uint64_t)(uintptr_t)arg, 5000, libc_at_bottom,
			     NULL, &bad };
	FILE *devnull = fopen("/dev/null", "w");
	int64_t r;

	T_REQUIRE(devnull != NULL);
	d.arg = devnull;
	r = descend(&d, 0);
	fclose(devnull);
	T_CHECK_INT_EQ(atomic_load(&bad), 0);
	T_CHECK_INT_EQ(r, 7 + 5000 + 1);
	return NULL;
}

static void *
libc_main(void *arg)
{
	green_task_t *h[16];

	(void)arg;
	for (int i = 0; i < 16; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], deep_attr((size_t)8 << 20),
					     libc_deep, (void *)(uintptr_t)(i + 1)),
				 0);
	for (int i = 0; i < 16; i++)
		T_CHECK_INT_EQ(green_join(h[i], NULL, -1), 0);
	return NULL;
}

START_TEST(test_deep_frames_call_libc)
{
	run_in_task(libc_main, NULL);
}
END_TEST

/* --- longjmp out of deep frames ------------------------------------------ */

#define JUMP_TASKS 32
#define JUMP_ROUNDS 20
#define JUMP_DEPTH 2000

enum jump_kind { JUMP_LONGJMP, JUMP_SIGLONGJMP, JUMP_UNDERSCORE };

struct jumper {
	enum jump_kind kind;
	jmp_buf env;
	sigjmp_buf senv;
};

static int64_t
jump_at_bottom(void *arg)
{
	struct jumper *j = arg;

	switch (j->kind) {
	case JUMP_LONGJMP:
		longjmp(j->env, 1);
	case JUMP_SIGLONGJMP:
		siglongjmp(j->senv, 1);
	case JUMP_UNDERSCORE:
		_longjmp(j->env, 1);
	}
	return 0;
}

static int64_t
sleep_at_bottom(void *arg)
{
	(void)arg;
	green_sleep(green_now() + GREEN_MSEC(1));
	return 0;
}

static void *
jumper_task(void *arg)
{
	static atomic_int bad;
	uint64_t who = (uint64_t)(uintptr_t)arg;
	struct jumper j;

	memset(&j, 0, sizeof(j));
	j.kind = (enum jump_kind)(who % 3);

	for (volatile int round = 0; round < JUMP_ROUNDS; round++) {
		struct descent down = { who, JUMP_DEPTH, jump_at_bottom, &j,
					&bad };
		struct descent park = { who + 1000, JUMP_DEPTH,
					sleep_at_bottom, NULL, &bad };
		int jumped = j.kind == JUMP_SIGLONGJMP ? sigsetjmp(j.senv, 1)
						       : setjmp(j.env);
		if (!jumped) {
			descend(&down, 0);
			T_REQUIRE(!"the longjmp came back");
		}
		/* back on the first segment: go deep again and park there;
		 * stale split-stack words would let these frames overrun
		 * the first segment into a neighbour's */
		T_REQUIRE_INT_EQ(descend(&park, 0), JUMP_DEPTH + 1);
	}
	T_CHECK_INT_EQ(atomic_load(&bad), 0);
	return NULL;
}

static void *
jump_main(void *arg)
{
	green_task_t *h[JUMP_TASKS];

	(void)arg;
	for (int i = 0; i < JUMP_TASKS; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], deep_attr((size_t)4 << 20),
					     jumper_task,
					     (void *)(uintptr_t)(i + 1)),
				 0);
	for (int i = 0; i < JUMP_TASKS; i++)
		T_CHECK_INT_EQ(green_join(h[i], NULL, -1), 0);
	return NULL;
}

START_TEST(test_longjmp_out_of_deep_frames_then_deep_again)
{
	run_in_task(jump_main, NULL);
}
END_TEST

/* --- entry code built without -fsplit-stack ------------------------------ */

static void *
nosplit_main(void *arg)
{
#ifdef GREEN_SPLIT_STACK
	green_attr_t seg = { .stack_kind = GREEN_STACK_SEGMENTED };
	const green_attr_t *odd = &seg;
#else
	const green_attr_t *odd = NULL;
#endif
	green_task_t *h[16];

	(void)arg;
	/* default and explicitly segmented: both must get a fixed stack */
	for (int i = 0; i < 16; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], i % 2 ? odd : NULL,
					     nosplit_big_frame,
					     (void *)(uintptr_t)(i + 1)),
				 0);
	for (int i = 0; i < 16; i++) {
		void *r = NULL;
		T_CHECK_INT_EQ(green_join(h[i], &r, -1), 0);
		T_CHECK_INT_EQ((uintptr_t)r, (uintptr_t)(i + 1));
	}
	return NULL;
}

START_TEST(test_nonsplit_entry_gets_a_fixed_stack)
{
	run_in_task(nosplit_main, NULL);
}
END_TEST

/* --- a segmented stack with a non-default first segment ----------------- */

#ifdef GREEN_SPLIT_STACK

static int64_t
nothing_at_bottom(void *arg)
{
	(void)arg;
	return 0;
}

static void *
sized_deep(void *arg)
{
	atomic_int bad = 0;
	struct descent d = { 7, 20000, nothing_at_bottom, NULL, &bad };

	(void)arg;
	T_CHECK_INT_EQ(descend(&d, 0), 20001);
	T_CHECK_INT_EQ(atomic_load(&bad), 0);
	return NULL;
}

static void *
sized_main(void *arg)
{
	size_t sizes[] = { 1024, 4096, 8192, 100000 };

	(void)arg;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		green_attr_t a = { .stack_kind = GREEN_STACK_SEGMENTED,
				   .stack_size = sizes[i] };
		green_task_t *t;
		T_REQUIRE_INT_EQ(green_spawn(&t, &a, sized_deep, NULL), 0);
		T_CHECK_INT_EQ(green_join(t, NULL, -1), 0);
	}
	return NULL;
}

START_TEST(test_segmented_first_segment_sizes_grow)
{
	run_in_task(sized_main, NULL);
}
END_TEST
#endif

/* --- parked tasks: memory and mappings ----------------------------------- */

#ifdef GREEN_SPLIT_STACK
#define PARKED_TASKS TEST_SCALE(100000)
#else
/* fixed stacks are two mappings each: vm.max_map_count (65530) caps them
 * near 32,000 (doc/DECISIONS.md) */
#define PARKED_TASKS TEST_SCALE(20000)
#endif


struct parked {
	green_chan_t *ch;
	green_wg_t wg;	  /* every task is parked */
	green_wg_t ended; /* every task has seen the close */
};

static void *
park_on_chan(void *arg)
{
	struct parked *p = arg;
	int64_t v;

	green_wg_done(&p->wg);
	T_CHECK_INT_EQ(green_chan_recv(p->ch, &v, -1), -EPIPE);
	green_wg_done(&p->ended);
	return NULL;
}

static void *
parked_main(void *arg)
{
	struct parked p = { NULL, GREEN_WG_INITIALIZER, GREEN_WG_INITIALIZER };
	long maps0, rss0, maps1, rss1;

	(void)arg;
	T_REQUIRE_INT_EQ(green_chan_create(&p.ch, sizeof(int64_t), 0), 0);
	maps0 = mappings();
	rss0 = rss_kib();
	T_REQUIRE_INT_EQ(green_wg_add(&p.wg, PARKED_TASKS), 0);
	T_REQUIRE_INT_EQ(green_wg_add(&p.ended, PARKED_TASKS), 0);
	for (long i = 0; i < PARKED_TASKS; i++)
		T_REQUIRE_INT_EQ(green_spawn(NULL, NULL, park_on_chan, &p), 0);
	T_REQUIRE_INT_EQ(green_wg_wait(&p.wg, -1), 0);
	maps1 = mappings();
	rss1 = rss_kib();
	T_CHECK_INT_EQ(green_chan_close(p.ch), 0);
#ifdef GREEN_SPLIT_STACK
	/* Segmented stacks (not under valgrind, which gets fixed ones, nor in
	 * sanitizer builds, which have no segments):
	 * not one mapping per task: first segments are carved from 2 MiB
	 * regions and task structs from slab chunks; and a parked task that
	 * used little stack costs its first segment and its struct, about
	 * 2.4 KiB; 4 KiB would mean a page or a segment chain per task. */
	if (!TEST_SLOW) {
		T_CHECK(maps0 > 0 && maps1 - maps0 < PARKED_TASKS / 100 + 16);
		T_CHECK((rss1 - rss0) * 1024 / PARKED_TASKS < 4096);
	}
#else
	(void)maps0, (void)maps1, (void)rss0, (void)rss1;
#endif
	T_CHECK_INT_EQ(green_wg_wait(&p.ended, -1), 0);
	T_CHECK_INT_EQ(green_chan_destroy(p.ch), 0);
	return NULL;
}

START_TEST(test_parked_tasks_cost_their_first_segment)
{
	run_in_task(parked_main, NULL);
}
END_TEST

/* --- signals -------------------------------------------------------------- */

#define SIGNALS 100

static atomic_int sig_seen, sig_on_worker;

static void
on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&sig_seen, 1);
	/* a handler on a worker would run on some task's small segment */
	if (green_worker_id() >= 0)
		atomic_fetch_add(&sig_on_worker, 1);
}

static int64_t
signal_at_bottom(void *arg)
{
	(void)arg;
	for (int i = 0; i < SIGNALS; i++) {
		kill(getpid(), SIGUSR1);
		green_yield();
	}
	return 0;
}

static void *
signal_deep(void *arg)
{
	atomic_int bad = 0;
	struct descent d = { 3, 1000, signal_at_bottom, NULL, &bad };

	(void)arg;
	descend(&d, 0);
	T_CHECK_INT_EQ(atomic_load(&bad), 0);
	return NULL;
}

START_TEST(test_async_signals_never_run_on_workers)
{
	struct sigaction sa = { 0 }, old;
	int64_t deadline;

	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	atomic_store(&sig_seen, 0);
	atomic_store(&sig_on_worker, 0);
	run_in_task(signal_deep, NULL);
	/* process-directed signals may arrive a little after kill returns */
	deadline = green_now() + GREEN_SEC(5);
	while (atomic_load(&sig_seen) == 0 && green_now() < deadline)
		pause_ns(GREEN_MSEC(1));
	sigaction(SIGUSR1, &old, NULL);
	ck_assert_int_gt(atomic_load(&sig_seen), 0);
	ck_assert_int_eq(atomic_load(&sig_on_worker), 0);
}
END_TEST

/* A fault deep in a segment chain is reported from the alternate signal
 * stack, naming the task. */
static int64_t
fault_at_bottom(void *arg)
{
	*(volatile int *)arg = 1;
	return 0;
}

VISIBLE void *
deep_faulter(void *arg)
{
	atomic_int bad = 0;
	struct descent d = { 9, 3000, fault_at_bottom, NULL, &bad };

	(void)arg;
	return (void *)(intptr_t)descend(&d, 0);
}

static void
fault_main(void *arg)
{
	green_attr_t attr = { .name = "faulty" };
	const green_attr_t *deep = deep_attr((size_t)8 << 20);
	green_task_t *t;

	(void)arg;
	if (deep != NULL) {
		attr.stack_kind = deep->stack_kind;
		attr.stack_size = deep->stack_size;
	}
	if (green_spawn(&t, &attr, deep_faulter, NULL) != 0)
		_exit(2);
	green_join(t, NULL, -1);
}

static int
fault_child(void *arg)
{
	green_config_t cfg = { .workers = 2 };

	(void)arg;
	green_run(fault_main, NULL, &cfg);
	return 3;
}

START_TEST(test_fault_in_deep_segment_names_task)
{
	char out[8192], st[64];
	int status;

	ck_assert_int_eq(run_forked(fault_child, NULL, &status, out,
				    sizeof(out)),
			 0);
	/* a sanitizer's handler takes the fault over and exits instead of
	 * dying by the signal (check_diag.c) */
	ck_assert_msg(TEST_SANITIZED ||
			      (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV),
		      "child %s, expected SIGSEGV; stderr:\n%s",
		      describe_status(status, st, sizeof(st)), out);
	ck_assert_msg(strstr(out, "fatal signal 11 (SEGV) in task") != NULL &&
			      strstr(out, "\"faulty\"") != NULL &&
			      strstr(out, "deep_faulter") != NULL,
		      "the report does not name the task:\n%s", out);
}
END_TEST

/* --- suite ----------------------------------------------------------------- */

static TCase *
tcase(Suite *s, const char *name, bool runtime)
{
	return add_tcase(s, name, runtime ? setup : NULL, teardown, TIMEOUT);
}

static Suite *
stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc;

	tc = tcase(s, "growth", true);
	tcase_add_test(tc, test_deep_recursion_parks_at_bottom_and_unwinds);
	tcase_add_test(tc, test_many_tasks_random_depths_migrate_intact);
	tcase_add_test(tc, test_hot_split_loop_reuses_segment);
#ifdef GREEN_SPLIT_STACK
	tcase_add_test(tc, test_segmented_first_segment_sizes_grow);
#endif
	tcase_add_test(tc, test_parked_tasks_cost_their_first_segment);

	tc = tcase(s, "foreign_code", true);
	tcase_add_test(tc, test_deep_frames_call_libc);
	tcase_add_test(tc, test_longjmp_out_of_deep_frames_then_deep_again);
	tcase_add_test(tc, test_nonsplit_entry_gets_a_fixed_stack);

	tc = tcase(s, "signals", true);
	tcase_add_test(tc, test_async_signals_never_run_on_workers);
	tc = tcase(s, "fault", false);
	tcase_add_test(tc, test_fault_in_deep_segment_names_task);
	return s;
}

int
main(void)
{
	return run_suite(stack_suite());
}
