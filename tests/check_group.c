/*
 * check_group.c - task groups: every policy, the limit under contention,
 * deadlines inherited by every blocking call, cancellation reaching tasks
 * parked in I/O, channels and select, nesting three deep, destroy with
 * live children, bad input and stale handles, and a stress of spawns,
 * cancels and destroys racing on two workers (run under TSan in CI).
 *
 * A task "blocks" when it has not returned after SETTLE; tests that need a
 * task already blocked give it SETTLE to get there: a slow machine makes
 * them weaker, never wrong.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "testutil.h"

#define NWORKERS 2
#define TIMEOUT (60 * TEST_TIMEOUT_MULT)
#define PROMPT GREEN_SEC(10)
#define SETTLE GREEN_MSEC(20)

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

static green_group_t *
group_new(unsigned limit, int64_t deadline, int policy)
{
	green_group_attr_t a = { .limit = limit,
				 .deadline = deadline,
				 .policy = policy,
				 .name = "test" };
	green_group_t *g = NULL;

	ck_assert_int_eq(green_group_create(&g, &a), 0);
	ck_assert_ptr_nonnull(g);
	return g;
}

/* --- task bodies -------------------------------------------------------- */

static atomic_int ran;

/* Returns the int that arg points to. */
static int
ret_value(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return *(const int *)arg;
}

/* Sleeps a while, then returns the int that arg points to. */
static int
sleep_then_value(void *arg)
{
	int r = green_sleep(green_now() + GREEN_MSEC(30));

	atomic_fetch_add(&ran, 1);
	return r != 0 ? r : *(const int *)arg;
}

/* Blocks until cancelled (or the group's deadline): returns the error. */
static int
block_forever(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return green_sleep(-1);
}

/* --- policies ----------------------------------------------------------- */

START_TEST(test_wait_all_reports_first_failure_and_runs_every_task)
{
	static const int vals[] = { 0, -EIO, 0, -ENOENT, 0 };
	green_group_t *g = group_new(0, 0, GREEN_GROUP_WAIT_ALL);

	atomic_store(&ran, 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, ret_value,
					   (void *)&vals[1], -1),
			 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), -EIO);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(green_group_spawn(g, NULL, ret_value,
						   (void *)&vals[i], -1),
				 0);
	/* the first failure stays the outcome */
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), -EIO);
	ck_assert_int_eq(atomic_load(&ran), 6);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

START_TEST(test_wait_all_all_succeed_and_empty_group_return_zero)
{
	static const int zero = 0;
	green_group_t *g = group_new(0, 0, GREEN_GROUP_WAIT_ALL);

	ck_assert_int_eq(green_group_wait(g, 0), 0);
	atomic_store(&ran, 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(green_group_spawn(g, NULL, sleep_then_value,
						   (void *)&zero, -1),
				 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), 0);
	ck_assert_int_eq(atomic_load(&ran), 100);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

START_TEST(test_first_error_cancels_the_rest)
{
	static const int eio = -EIO;
	green_group_t *g = group_new(0, 0, GREEN_GROUP_FIRST_ERROR);
	int64_t t0 = green_now();

	atomic_store(&ran, 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(green_group_spawn(g, NULL, block_forever,
						   NULL, -1),
				 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, sleep_then_value,
					   (void *)&eio, -1),
			 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), -EIO);
	ck_assert_int_lt(green_now() - t0, PROMPT);
	ck_assert_int_eq(atomic_load(&ran), 11);
	/* cancelled: no new task */
	ck_assert_int_eq(green_group_spawn(g, NULL, ret_value, (void *)&eio,
					   -1),
			 -ECANCELED);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

START_TEST(test_first_success_cancels_the_rest)
{
	static const int zero = 0, eio = -EIO;
	green_group_t *g = group_new(0, 0, GREEN_GROUP_FIRST_SUCCESS);

	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(green_group_spawn(g, NULL, block_forever,
						   NULL, -1),
				 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, ret_value, (void *)&eio,
					   -1),
			 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, sleep_then_value,
					   (void *)&zero, -1),
			 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), 0);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

START_TEST(test_first_success_reports_last_failure_or_echild)
{
	static const int eio = -EIO, enoent = -ENOENT;
	green_group_t *g = group_new(0, 0, GREEN_GROUP_FIRST_SUCCESS);

	/* nothing ran, so nothing succeeded */
	ck_assert_int_eq(green_group_wait(g, -1), -ECHILD);
	ck_assert_int_eq(green_group_spawn(g, NULL, ret_value, (void *)&eio,
					   -1),
			 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), -EIO);
	ck_assert_int_eq(green_group_spawn(g, NULL, ret_value,
					   (void *)&enoent, -1),
			 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), -ENOENT);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

/* --- the limit ---------------------------------------------------------- */

static atomic_int running, most;

static int
count_running(void *arg)
{
	int now = atomic_fetch_add(&running, 1) + 1, m = atomic_load(&most);

	(void)arg;
	while (now > m && !atomic_compare_exchange_weak(&most, &m, now))
		;
	for (int i = 0; i < 3; i++)
		green_yield();
	green_sleep(green_now() + GREEN_USEC(200));
	atomic_fetch_sub(&running, 1);
	atomic_fetch_add(&ran, 1);
	return 0;
}

struct spawner {
	green_group_t *g;
	int n;
	int err;
};

static void *
spawn_many(void *arg)
{
	struct spawner *s = arg;

	for (int i = 0; i < s->n; i++) {
		int r = green_group_spawn(s->g, NULL, count_running, NULL, -1);

		if (r != 0 && s->err == 0)
			s->err = r;
	}
	return NULL;
}

START_TEST(test_limit_bounds_running_tasks_under_contention)
{
	enum { K = 4, SPAWNERS = 4, EACH = 200 };
	green_group_t *g = group_new(K, 0, GREEN_GROUP_WAIT_ALL);
	struct spawner s[SPAWNERS];
	green_task_t *t[SPAWNERS];

	atomic_store(&ran, 0);
	atomic_store(&running, 0);
	atomic_store(&most, 0);
	for (int i = 0; i < SPAWNERS; i++) {
		s[i] = (struct spawner){ g, TEST_SCALE(EACH), 0 };
		ck_assert_int_eq(green_spawn(&t[i], NULL, spawn_many, &s[i]),
				 0);
	}
	for (int i = 0; i < SPAWNERS; i++) {
		ck_assert_int_eq(green_join(t[i], NULL, -1), 0);
		ck_assert_int_eq(s[i].err, 0);
	}
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT * 3), 0);
	ck_assert_int_eq(atomic_load(&ran), SPAWNERS * TEST_SCALE(EACH));
	ck_assert_int_le(atomic_load(&most), K);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

START_TEST(test_limit_spawn_deadline_and_cancel)
{
	green_group_t *g = group_new(1, 0, GREEN_GROUP_WAIT_ALL);
	int64_t t0;

	ck_assert_int_eq(green_group_spawn(g, NULL, block_forever, NULL, -1),
			 0);
	/* full: a try fails at once, a deadline fails at the deadline */
	ck_assert_int_eq(green_group_spawn(g, NULL, block_forever, NULL, 0),
			 -ETIMEDOUT);
	t0 = green_now();
	ck_assert_int_eq(green_group_spawn(g, NULL, block_forever, NULL,
					   t0 + GREEN_MSEC(30)),
			 -ETIMEDOUT);
	ck_assert_int_ge(green_now() - t0, GREEN_MSEC(30));
	ck_assert_int_eq(green_group_cancel(g), 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT),
			 -ECANCELED);
	ck_assert_int_eq(green_group_spawn(g, NULL, block_forever, NULL, -1),
			 -ECANCELED);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

/* A spawner parked for a slot is released by a cancel. */
static void *
spawn_one_forever(void *arg)
{
	green_group_t *g = arg;

	return (void *)(intptr_t)green_group_spawn(g, NULL, block_forever,
						   NULL, -1);
}

START_TEST(test_limit_waiting_spawner_released_by_cancel)
{
	green_group_t *g = group_new(1, 0, GREEN_GROUP_WAIT_ALL);
	green_task_t *t;
	void *res;

	ck_assert_int_eq(green_group_spawn(g, NULL, block_forever, NULL, -1),
			 0);
	ck_assert_int_eq(green_spawn(&t, NULL, spawn_one_forever, g), 0);
	pause_ns(SETTLE);
	ck_assert_int_eq(green_group_cancel(g), 0);
	ck_assert_int_eq(green_join(t, &res, green_now() + PROMPT), 0);
	ck_assert_int_eq((int)(intptr_t)res, -ECANCELED);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

/* --- deadlines ---------------------------------------------------------- */

struct dl_probe {
	int64_t seen;	   /* green_deadline() in the task */
	int recv, sel, slp; /* the blocking calls' results */
	int64_t late;	   /* how long after the deadline they all returned */
};

static int
probe_deadline(void *arg)
{
	struct dl_probe *p = arg;
	green_chan_t *ch;
	green_case_t c[1];
	long v;

	p->seen = green_deadline();
	if (green_chan_create(&ch, sizeof(long), 0) != 0)
		return -ENOMEM;
	c[0] = (green_case_t){ .kind = GREEN_RECV, .chan = ch, .elem = &v };
	p->recv = green_chan_recv(ch, &v, -1);
	p->sel = green_select(c, 1, -1);
	p->slp = green_sleep(green_now() + GREEN_SEC(60));
	p->late = green_now() - p->seen;
	green_chan_destroy(ch);
	return p->recv;
}

START_TEST(test_group_deadline_bounds_every_blocking_call)
{
	int64_t dl = green_now() + GREEN_MSEC(50);
	green_group_t *g = group_new(0, dl, GREEN_GROUP_WAIT_ALL);
	struct dl_probe p = { 0 };

	ck_assert_int_eq(green_group_spawn(g, NULL, probe_deadline, &p, -1),
			 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT),
			 -ETIMEDOUT);
	ck_assert_int_eq(p.seen, dl);
	ck_assert_int_eq(p.recv, -ETIMEDOUT);
	ck_assert_int_eq(p.sel, -ETIMEDOUT);
	ck_assert_int_eq(p.slp, -ETIMEDOUT);
	ck_assert_int_ge(p.late, 0);
	ck_assert_int_lt(p.late, PROMPT);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

/* A sleep that ends before the group's deadline still returns 0, and a
 * task of no group sees no deadline. */
static int
short_sleep(void *arg)
{
	(void)arg;
	return green_sleep(green_now() + GREEN_MSEC(1));
}

static void *
no_group_probe(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)(green_deadline() == -1 &&
				  green_group_self() == NULL);
}

START_TEST(test_deadline_later_than_call_changes_nothing)
{
	green_group_t *g =
		group_new(0, green_now() + GREEN_SEC(60), GREEN_GROUP_WAIT_ALL);
	green_task_t *t;
	void *res;

	ck_assert_int_eq(green_group_spawn(g, NULL, short_sleep, NULL, -1), 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), 0);
	ck_assert_int_eq(green_group_destroy(g), 0);
	ck_assert_int_eq(green_spawn(&t, NULL, no_group_probe, NULL), 0);
	ck_assert_int_eq(green_join(t, &res, -1), 0);
	ck_assert_int_eq((int)(intptr_t)res, 1);
	ck_assert_int_eq(green_deadline(), -1);
	ck_assert_ptr_null(green_group_self());
}
END_TEST

/* --- cancellation reaching parked tasks --------------------------------- */

struct parked {
	int fd;		 /* I/O: a socket nobody writes to */
	green_chan_t *ch; /* channel and select: nobody sends */
	atomic_int in;
	int r[3];
};

static int
park_io(void *arg)
{
	struct parked *p = arg;
	char b;

	atomic_fetch_add(&p->in, 1);
	return p->r[0] = (int)green_read(p->fd, &b, 1, -1);
}

static int
park_chan(void *arg)
{
	struct parked *p = arg;
	long v;

	atomic_fetch_add(&p->in, 1);
	return p->r[1] = green_chan_recv(p->ch, &v, -1);
}

static int
park_select(void *arg)
{
	struct parked *p = arg;
	long v;
	green_case_t c[2] = {
		{ .kind = GREEN_RECV, .chan = p->ch, .elem = &v },
		{ .kind = GREEN_FD_READ, .fd = p->fd },
	};

	atomic_fetch_add(&p->in, 1);
	return p->r[2] = green_select(c, 2, -1);
}

START_TEST(test_cancel_reaches_io_channel_and_select)
{
	green_group_t *g = group_new(0, 0, GREEN_GROUP_WAIT_ALL);
	struct parked p = { 0 };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p.fd = sv[0];
	ck_assert_int_eq(green_chan_create(&p.ch, sizeof(long), 0), 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, park_io, &p, -1), 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, park_chan, &p, -1), 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, park_select, &p, -1), 0);
	while (atomic_load(&p.in) < 3)
		pause_ns(GREEN_MSEC(1));
	pause_ns(SETTLE);
	ck_assert_int_eq(green_group_wait(g, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_group_cancel(g), 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT),
			 -ECANCELED);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(p.r[i], -ECANCELED);
	ck_assert_int_eq(green_group_destroy(g), 0);
	ck_assert_int_eq(green_chan_destroy(p.ch), 0);
	green_close(sv[0]);
	close(sv[1]);
}
END_TEST

/* --- nesting ------------------------------------------------------------ */

/* Each level opens a group, spawns the next level and a blocker into it,
 * and waits for it; the deepest blocks.  What each level saw is recorded. */
struct nest {
	int depth;
	int64_t deadline[4]; /* green_deadline() at each level */
	int waited[4];	     /* green_group_wait's result at each level */
	atomic_int blocked;
};

struct level {
	struct nest *n;
	int d;
};

static int
nest_level(void *arg)
{
	struct level *l = arg, next = { l->n, l->d + 1 };
	green_group_t *g;
	green_group_attr_t a = { .name = "level" };
	int r;

	l->n->deadline[l->d] = green_deadline();
	if (l->d == l->n->depth) {
		atomic_fetch_add(&l->n->blocked, 1);
		return green_sleep(-1);
	}
	if ((r = green_group_create(&g, &a)) != 0)
		return r;
	/* a task of a group cannot wait for its own group */
	if (green_group_wait(green_group_self(), -1) != -EDEADLK ||
	    green_group_destroy(green_group_self()) != -EDEADLK)
		return -EPROTO;
	if ((r = green_group_spawn(g, NULL, nest_level, &next, -1)) != 0 ||
	    (r = green_group_spawn(g, NULL, block_forever, NULL, -1)) != 0)
		return r;
	l->n->waited[l->d] = green_group_wait(g, -1);
	green_group_destroy(g);
	return l->n->waited[l->d];
}

START_TEST(test_nested_three_deep_cancel_reaches_subtree)
{
	struct nest n = { .depth = 3 };
	struct level top = { &n, 1 };
	green_group_t *g = group_new(0, 0, GREEN_GROUP_WAIT_ALL);

	ck_assert_int_eq(green_group_spawn(g, NULL, nest_level, &top, -1), 0);
	while (atomic_load(&n.blocked) < 1)
		pause_ns(GREEN_MSEC(1));
	pause_ns(SETTLE);
	ck_assert_int_eq(green_group_wait(g, 0), -ETIMEDOUT);
	ck_assert_int_eq(green_group_cancel(g), 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT),
			 -ECANCELED);
	ck_assert_int_eq(n.waited[1], -ECANCELED);
	ck_assert_int_eq(n.waited[2], -ECANCELED);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

START_TEST(test_nested_deadline_is_the_earliest_ancestor)
{
	struct nest n = { .depth = 3 };
	struct level top = { &n, 1 };
	int64_t dl = green_now() + GREEN_MSEC(80);
	green_group_t *g = group_new(0, dl, GREEN_GROUP_WAIT_ALL);

	ck_assert_int_eq(green_group_spawn(g, NULL, nest_level, &top, -1), 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT),
			 -ETIMEDOUT);
	for (int d = 1; d <= 3; d++)
		ck_assert_int_eq(n.deadline[d], dl);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

/* A nested group whose own deadline is earlier than its parent's. */
static int
inner_earlier(void *arg)
{
	int64_t *seen = arg;
	green_group_attr_t a = { .deadline = green_now() + GREEN_MSEC(20) };
	green_group_t *g;
	int r;

	if ((r = green_group_create(&g, &a)) != 0)
		return r;
	if ((r = green_group_spawn(g, NULL, block_forever, NULL, -1)) != 0)
		return r;
	r = green_group_wait(g, -1);
	seen[0] = a.deadline;
	seen[1] = green_deadline(); /* the outer one, here */
	green_group_destroy(g);
	return r;
}

START_TEST(test_nested_earlier_deadline_wins_inside_only)
{
	int64_t outer = green_now() + GREEN_SEC(60), seen[2] = { 0, 0 };
	green_group_t *g = group_new(0, outer, GREEN_GROUP_WAIT_ALL);

	ck_assert_int_eq(green_group_spawn(g, NULL, inner_earlier, seen, -1),
			 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT),
			 -ETIMEDOUT);
	ck_assert_int_eq(seen[1], outer);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

/* --- destroy ------------------------------------------------------------ */

/* Opens a group it never destroys, with a blocked task in it. */
static int
leak_subgroup(void *arg)
{
	green_group_t *g;
	int r;

	(void)arg;
	if ((r = green_group_create(&g, NULL)) != 0)
		return r;
	if ((r = green_group_spawn(g, NULL, block_forever, NULL, -1)) != 0)
		return r;
	atomic_fetch_add(&ran, 1);
	return 0; /* its group's task lives on */
}

START_TEST(test_destroy_cancels_and_waits_for_live_children)
{
	green_group_t *g = group_new(0, 0, GREEN_GROUP_WAIT_ALL);

	atomic_store(&ran, 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(green_group_spawn(g, NULL, block_forever,
						   NULL, -1),
				 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, leak_subgroup, NULL, -1),
			 0);
	while (atomic_load(&ran) < 22)
		pause_ns(GREEN_MSEC(1));
	/* the leaked group's task keeps g's wait waiting */
	ck_assert_int_eq(green_group_wait(g, green_now() + SETTLE),
			 -ETIMEDOUT);
	ck_assert_int_eq(green_group_destroy(g), 0);
	/* the handle is dead now */
	ck_assert_int_eq(green_group_wait(g, 0), -EINVAL);
	ck_assert_int_eq(green_group_cancel(g), -EINVAL);
	ck_assert_int_eq(green_group_destroy(g), -EINVAL);
	ck_assert_int_eq(green_group_spawn(g, NULL, ret_value, NULL, -1),
			 -EINVAL);
	/* shutdown (the teardown) finds no task left */
}
END_TEST

/* --- bad input ---------------------------------------------------------- */

START_TEST(test_bad_input_returns_einval)
{
	green_group_attr_t a = { .policy = 7 };
	green_group_t *g;

	ck_assert_int_eq(green_group_create(NULL, NULL), -EINVAL);
	ck_assert_int_eq(green_group_create(&g, &a), -EINVAL);
	a = (green_group_attr_t){ .deadline = -5 };
	ck_assert_int_eq(green_group_create(&g, &a), -EINVAL);
	a = (green_group_attr_t){ .deadline = GREEN_FOREVER };
	ck_assert_int_eq(green_group_create(&g, &a), 0);
	ck_assert_int_eq(green_group_destroy(g), 0);
	ck_assert_int_eq(green_group_spawn(NULL, NULL, ret_value, NULL, -1),
			 -EINVAL);
	ck_assert_int_eq(green_group_wait(NULL, -1), -EINVAL);
	ck_assert_int_eq(green_group_cancel(NULL), -EINVAL);
	ck_assert_int_eq(green_group_destroy(NULL), -EINVAL);
	ck_assert_int_eq(green_group_create(&g, NULL), 0);
	ck_assert_int_eq(green_group_spawn(g, NULL, NULL, NULL, -1), -EINVAL);
	ck_assert_int_eq(green_group_spawn(g, NULL, ret_value, NULL, -2),
			 -EINVAL);
	ck_assert_int_eq(green_group_wait(g, -2), -EINVAL);
	ck_assert_int_eq(green_group_destroy(g), 0);
	ck_assert_int_eq(green_group_destroy(g), -EINVAL);
}
END_TEST

START_TEST(test_without_runtime)
{
	green_group_t *g;

	ck_assert_int_eq(green_group_create(&g, NULL), 0);
	ck_assert_int_eq(green_shutdown(), 0);
	/* a shut-down runtime's group is gone */
	ck_assert_int_eq(green_group_wait(g, 0), -EINVAL);
	ck_assert_int_eq(green_group_destroy(g), -EINVAL);
	ck_assert_int_eq(green_group_create(&g, NULL), -EPERM);
	ck_assert_int_eq(green_deadline(), -1);
	ck_assert_ptr_null(green_group_self());
}
END_TEST

/* --- self --------------------------------------------------------------- */

static int
self_is(void *arg)
{
	green_group_t **want = arg;

	return green_group_self() == *want ? 0 : -EPROTO;
}

START_TEST(test_group_self_names_the_group)
{
	green_group_t *g = group_new(0, 0, GREEN_GROUP_WAIT_ALL);

	ck_assert_int_eq(green_group_spawn(g, NULL, self_is, &g, -1), 0);
	ck_assert_int_eq(green_group_wait(g, green_now() + PROMPT), 0);
	ck_assert_int_eq(green_group_destroy(g), 0);
}
END_TEST

/* --- stress ------------------------------------------------------------- */

/* Random short tasks, some failing, some nesting a group of their own. */
static int
churn_task(void *arg)
{
	uintptr_t k = (uintptr_t)arg;

	if (k % 7 == 0) {
		green_group_t *g;

		if (green_group_create(&g, NULL) == 0) {
			green_group_spawn(g, NULL, churn_task,
					  (void *)(k / 7 + 1), -1);
			green_group_wait(g, green_now() + GREEN_MSEC(5));
			green_group_destroy(g);
		}
	}
	if (k % 3 == 0)
		green_yield();
	if (k % 5 == 0)
		return green_sleep(green_now() + GREEN_USEC(50 * (k % 4)));
	return k % 11 == 0 ? -EIO : 0;
}

static void *
churn_groups(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int round = 0; round < TEST_SCALE(100); round++) {
		green_group_attr_t a = { .limit = round % 3 == 0 ? 3 : 0,
					 .policy = round % 3 };
		green_group_t *g;

		if (green_group_create(&g, &a) != 0)
			return (void *)1;
		for (int i = 0; i < 20; i++) {
			seed = seed * 1103515245 + 12345;
			if (green_group_spawn(g, NULL, churn_task,
					      (void *)(uintptr_t)(seed >> 16),
					      -1) != 0 &&
			    a.policy == GREEN_GROUP_WAIT_ALL)
				return (void *)2;
		}
		if (round % 4 == 1)
			green_group_cancel(g);
		if (round % 2 == 0)
			green_group_wait(g, -1);
		if (green_group_destroy(g) != 0)
			return (void *)3;
	}
	return NULL;
}

START_TEST(test_stress_spawn_cancel_destroy_two_workers)
{
	enum { N = 4 };
	green_task_t *t[N];

	for (int i = 0; i < N; i++)
		ck_assert_int_eq(green_spawn(&t[i], NULL, churn_groups,
					     (void *)(uintptr_t)(i + 1)),
				 0);
	for (int i = 0; i < N; i++) {
		void *res;

		ck_assert_int_eq(green_join(t[i], &res, -1), 0);
		ck_assert_ptr_null(res);
	}
}
END_TEST

static Suite *
group_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc;

	tc = add_tcase(s, "policy", setup, teardown, TIMEOUT);
	tcase_add_test(tc,
		       test_wait_all_reports_first_failure_and_runs_every_task);
	tcase_add_test(tc,
		       test_wait_all_all_succeed_and_empty_group_return_zero);
	tcase_add_test(tc, test_first_error_cancels_the_rest);
	tcase_add_test(tc, test_first_success_cancels_the_rest);
	tcase_add_test(tc, test_first_success_reports_last_failure_or_echild);

	tc = add_tcase(s, "limit", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_limit_bounds_running_tasks_under_contention);
	tcase_add_test(tc, test_limit_spawn_deadline_and_cancel);
	tcase_add_test(tc, test_limit_waiting_spawner_released_by_cancel);

	tc = add_tcase(s, "deadline", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_group_deadline_bounds_every_blocking_call);
	tcase_add_test(tc, test_deadline_later_than_call_changes_nothing);

	tc = add_tcase(s, "cancel", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_cancel_reaches_io_channel_and_select);

	tc = add_tcase(s, "nesting", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_nested_three_deep_cancel_reaches_subtree);
	tcase_add_test(tc, test_nested_deadline_is_the_earliest_ancestor);
	tcase_add_test(tc, test_nested_earlier_deadline_wins_inside_only);

	tc = add_tcase(s, "destroy", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_destroy_cancels_and_waits_for_live_children);

	tc = add_tcase(s, "errors", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_bad_input_returns_einval);
	tcase_add_test(tc, test_without_runtime);
	tcase_add_test(tc, test_group_self_names_the_group);

	tc = add_tcase(s, "stress", setup, teardown, TIMEOUT * 2);
	tcase_add_test(tc, test_stress_spawn_cancel_destroy_two_workers);

	return s;
}

int
main(void)
{
	return run_suite(group_suite());
}
