/*
 * check_trace.c - the tracer: a known program yields exactly the events
 * it must (counts by type, and the invariants that tie them: every task
 * created readies once and exits once, every slice that starts ends);
 * green_trace_start/stop's errors; the Chrome export has one lane per
 * worker with events; a task that holds its worker is reported; starting and stopping while tasks run loses or tears nothing
 * (every file parses); entry functions are named, static ones too.
 * Traces are read back with green-trace's reader.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "gt.h"
#include "reader.h"
#include "testutil.h"

#define TIMEOUT (120 * TEST_TIMEOUT_MULT)
#define NCHILD 100
#define NPING 50
#define NSLEEP 3
#define TRACE_SPARES 3 /* green_config_t.max_spares */

static char trace_path[64];

static void
make_path(void)
{
	snprintf(trace_path, sizeof(trace_path), "/tmp/check_trace.%d.bin",
		 (int)getpid());
}

/* --- reading a trace back ----------------------------------------------------- */

struct counts {
	uint64_t type[GT_EVENT_MAX + 1];
	uint64_t why[GT_WHY_MAX + 1];
	uint64_t events;
	unsigned workers;
	bool bad_source;
	unsigned sources; /* worker sources with events */
	bool seen[256];
	char funcs[8][64]; /* names of the FUNC events, in order */
	unsigned nfuncs;
};

/* Reads the whole trace at path; returns 0 or fails the test. */
static void
count_events(const char *path, struct counts *c)
{
	struct gt_input in = { .path = path };
	struct gt_reader *r;
	struct gt_event ev;
	char err[256];
	int k;

	memset(c, 0, sizeof(*c));
	r = gt_reader_open(&in, err, sizeof(err));
	ck_assert_msg(r != NULL, "open %s: %s", path, err);
	c->workers = gt_reader_header(r)->workers;
	while ((k = gt_reader_next(r, &ev, err, sizeof(err))) == 1) {
		c->events++;
		if (ev.type <= GT_EVENT_MAX)
			c->type[ev.type]++;
		if (ev.source != GREEN_TRACE_SOURCE_OTHER &&
		    ev.source >= c->workers)
			c->bad_source = true;
		else if (ev.source < 256 && !c->seen[ev.source]) {
			c->seen[ev.source] = true;
			c->sources++;
		}
		if (ev.type == GT_PARK && ev.arg[1] <= GT_WHY_MAX)
			c->why[ev.arg[1]]++;
		if (ev.type == GT_FUNC && c->nfuncs < 8) {
			size_t n = ev.str_len < 63 ? ev.str_len : 63;
			memcpy(c->funcs[c->nfuncs], ev.str, n);
			c->funcs[c->nfuncs++][n] = '\0';
		}
	}
	ck_assert_msg(k == 0, "read %s: %s", path, err);
	gt_reader_close(r);
}

static bool
has_func(const struct counts *c, const char *name)
{
	for (unsigned i = 0; i < c->nfuncs; i++)
		if (strcmp(c->funcs[i], name) == 0)
			return true;
	return false;
}

/* --- the known program ---------------------------------------------------------- */

static green_chan_t *ping, *pong;

/* Exported (the test links -export-dynamic) so that the trace can name
 * them: the build hides symbols by default. */
#define EXPORTED __attribute__((visibility("default")))
EXPORTED void *trace_child(void *arg);
EXPORTED void *trace_ponger(void *arg);
EXPORTED void *trace_root(void *arg);

void *
trace_child(void *arg)
{
	return arg;
}

/* Static: named from the executable's full symbol table (elfsym.c). */
static void *
static_entry(void *arg)
{
	return arg;
}

void *
trace_ponger(void *arg)
{
	int v;

	for (int i = 0; i < NPING; i++) {
		T_CHECK_INT_EQ(green_chan_recv(ping, &v, -1), 0);
		T_CHECK_INT_EQ(green_chan_send(pong, &v, -1), 0);
	}
	return arg;
}

void *
trace_root(void *arg)
{
	green_task_t *t[NCHILD], *p;

	for (int i = 0; i < NCHILD; i++)
		T_REQUIRE_INT_EQ(green_spawn(&t[i], NULL, trace_child, NULL), 0);
	for (int i = 0; i < NCHILD; i++)
		T_CHECK_INT_EQ(green_join(t[i], NULL, -1), 0);
	T_REQUIRE_INT_EQ(green_chan_create(&ping, sizeof(int), 0), 0);
	T_REQUIRE_INT_EQ(green_chan_create(&pong, sizeof(int), 0), 0);
	T_REQUIRE_INT_EQ(green_spawn(&p, NULL, trace_ponger, NULL), 0);
	for (int i = 0; i < NPING; i++) {
		int v = i;
		T_CHECK_INT_EQ(green_chan_send(ping, &v, -1), 0);
		T_CHECK_INT_EQ(green_chan_recv(pong, &v, -1), 0);
		T_CHECK_INT_EQ(v, i);
	}
	T_CHECK_INT_EQ(green_join(p, NULL, -1), 0);
	T_REQUIRE_INT_EQ(green_spawn(&p, NULL, static_entry, NULL), 0);
	T_CHECK_INT_EQ(green_join(p, NULL, -1), 0);
	/* long enough that the timer cannot fire before the task has
	 * switched away (then the sleep would not park), even under
	 * valgrind's serialised threads */
	for (int i = 0; i < NSLEEP; i++)
		T_CHECK_INT_EQ(green_sleep(green_now() + (TEST_VALGRIND
								  ? GREEN_MSEC(300)
								  : GREEN_MSEC(20))),
			       0);
	green_chan_destroy(ping);
	green_chan_destroy(pong);
	return arg;
}

/* Run the known program on n workers, traced from green_init. */
static void
run_known(unsigned n, struct counts *c)
{
	green_config_t cfg = { .workers = n,
			       .trace_path = trace_path,
			       .max_spares = TRACE_SPARES };
	green_task_t *root;

	make_path();
	tfail_reset();
	ck_assert_int_eq(green_init(&cfg), 0);
	ck_assert_int_eq(green_spawn(&root, NULL, trace_root, NULL), 0);
	ck_assert_int_eq(green_join(root, NULL, -1), 0);
	tfail_check();
	ck_assert_int_eq(green_shutdown(), 0); /* writes the trace out */
	count_events(trace_path, c);
	unlink(trace_path);
}

static void
check_known(unsigned n)
{
	struct counts c;
	uint64_t tasks = 1 + NCHILD + 1 + 1;

	run_known(n, &c);
	/* the header counts worker slots: the workers and the spares */
	ck_assert_uint_eq(c.workers, n + TRACE_SPARES);
	ck_assert(!c.bad_source);
	ck_assert_uint_eq(c.type[GT_LOST], 0);
	/* every task: created once, exits once */
	ck_assert_uint_eq(c.type[GT_CREATE], tasks);
	ck_assert_uint_eq(c.type[GT_EXIT], tasks);
	/* exactly the sleeps the program made */
	ck_assert_uint_eq(c.why[GT_WHY_SLEEP], NSLEEP);
	/* each entry function named once */
	ck_assert_uint_eq(c.type[GT_FUNC], 4);
	ck_assert(has_func(&c, "trace_root"));
	ck_assert(has_func(&c, "trace_child"));
	ck_assert(has_func(&c, "trace_ponger"));
	ck_assert(has_func(&c, "static_entry"));
	/* every park that switched away is readied once; so is every new
	 * task: READY = CREATE + PARK */
	ck_assert_uint_eq(c.type[GT_READY], c.type[GT_CREATE] + c.type[GT_PARK]);
	/* every slice starts after a ready or a yield, and ends once */
	ck_assert_uint_eq(c.type[GT_START],
			  c.type[GT_READY] + c.type[GT_YIELD]);
	ck_assert_uint_eq(c.type[GT_START], c.type[GT_PARK] +
						   c.type[GT_YIELD] +
						   c.type[GT_EXIT]);
	/* the ping-pong parked on the channels; on one worker the root
	 * parked in joins (on more, other workers may finish every child
	 * before the root joins it) */
	ck_assert(c.why[GT_WHY_CHAN_SEND] + c.why[GT_WHY_CHAN_RECV] >= NPING);
	if (n == 1)
		ck_assert(c.why[GT_WHY_JOIN] >= 1);
}

START_TEST(test_known_program_one_worker)
{
	check_known(1);
}
END_TEST

START_TEST(test_known_program_four_workers)
{
	check_known(4);
}
END_TEST

/* --- the API's errors ----------------------------------------------------------- */

START_TEST(test_start_stop_errors)
{
	green_config_t cfg = { .workers = 1, .trace_path = "/nonexistent/dir/t" };

	make_path();
	ck_assert_int_eq(green_trace_start(trace_path), -EPERM);
	ck_assert_int_eq(green_trace_stop(), -EPERM);
	ck_assert_int_eq(green_init(&cfg), -ENOENT);
	init_workers(2);
	ck_assert_int_eq(green_trace_start(NULL), -EINVAL);
	ck_assert_int_eq(green_trace_start(""), -EINVAL);
	ck_assert_int_eq(green_trace_start("/nonexistent/dir/t"), -ENOENT);
	ck_assert_int_eq(green_trace_stop(), -ESRCH);
	ck_assert_int_eq(green_trace_start(trace_path), 0);
	ck_assert_int_eq(green_trace_start(trace_path), -EBUSY);
	ck_assert_int_eq(green_trace_stop(), 0);
	ck_assert_int_eq(green_trace_stop(), -ESRCH);
	shutdown_runtime();
	unlink(trace_path);
}
END_TEST

/* --- export and stress ------------------------------------------------------------ */

/* The Chrome export of a 3-worker trace has one worker lane each. */
START_TEST(test_chrome_export_has_a_lane_per_worker)
{
	struct counts c;
	struct gt_input in;
	char err[256], *json = NULL, *p;
	size_t len = 0;
	FILE *out;
	int lanes = 0;

	run_known(3, &c);
	/* run_known removed the file: trace again, keep it */
	green_config_t cfg = { .workers = 3, .trace_path = trace_path };
	green_task_t *root;
	ck_assert_int_eq(green_init(&cfg), 0);
	ck_assert_int_eq(green_spawn(&root, NULL, trace_root, NULL), 0);
	ck_assert_int_eq(green_join(root, NULL, -1), 0);
	ck_assert_int_eq(green_shutdown(), 0);
	count_events(trace_path, &c);
	in = (struct gt_input){ .path = trace_path };
	out = open_memstream(&json, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(gt_chrome(&in, out, err, sizeof(err)) == 0, "%s", err);
	fclose(out);
	for (p = json; (p = strstr(p, "\"thread_name\"")) != NULL; p++)
		if (strstr(p, "\"worker ") != NULL &&
		    strstr(p, "\"worker ") - p < 200)
			lanes++;
	/* a lane per worker that recorded events: the three, fewer when one
	 * never ran a task, or a spare's too when a slow build held a worker
	 * for 10 ms (monitor.c); never one for an unused slot */
	ck_assert_uint_ge(c.sources, 1);
	ck_assert_uint_le(c.sources, c.workers);
	ck_assert_int_eq(lanes, (int)c.sources);
	ck_assert(strncmp(json, "{", 1) == 0);
	free(json);
	unlink(trace_path);
}
END_TEST

/* --- a task that holds its worker (monitor.c) -------------------------------- */

/* Runs 200 ms without switching: the monitor marks its worker held. */
static void *
hog_loop(void *arg)
{
	busy_wait_ns(GREEN_MSEC(200));
	return arg;
}

START_TEST(test_held_task_traced_and_summarised)
{
	green_config_t cfg = { .workers = 1, .trace_path = trace_path };
	green_task_t *hog;
	struct gt_input in;
	struct gt_reader *r;
	struct gt_event ev;
	char err[256], *text = NULL;
	size_t len = 0;
	int k, held = 0;
	uint64_t id;
	FILE *out;

	make_path();
	ck_assert_int_eq(green_init(&cfg), 0);
	ck_assert_int_eq(green_spawn(&hog, NULL, hog_loop, NULL), 0);
	id = green_task_id(hog); /* the handle is gone after the join */
	ck_assert_int_eq(green_join(hog, NULL, -1), 0);
	ck_assert_int_eq(green_shutdown(), 0);

	in = (struct gt_input){ .path = trace_path };
	r = gt_reader_open(&in, err, sizeof(err));
	ck_assert_msg(r != NULL, "open: %s", err);
	while ((k = gt_reader_next(r, &ev, err, sizeof(err))) == 1) {
		if (ev.type != GT_HELD)
			continue;
		held++;
		ck_assert_uint_eq(ev.arg[0], id);
		/* held from about its start to its end, 200 ms */
		ck_assert_msg(ev.arg[1] >= GREEN_MSEC(150) &&
				      ev.arg[1] <= GREEN_MSEC(200) +
							   GREEN_SEC(2) *
								   TEST_TIMEOUT_MULT,
			      "held for %llu ns",
			      (unsigned long long)ev.arg[1]);
		ck_assert_uint_eq(ev.arg[2], GT_HELD_RUNNING);
	}
	ck_assert_msg(k == 0, "read: %s", err);
	gt_reader_close(r);
	ck_assert_int_eq(held, 1);

	out = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(gt_summary(&in, out, err, sizeof(err)) == 0, "%s", err);
	fclose(out);
	ck_assert_msg(strstr(text, "tasks that held a worker") != NULL &&
			      strstr(strstr(text, "tasks that held a worker"),
				     "hog_loop") != NULL,
		      "summary: %s", text);
	free(text);
	unlink(trace_path);
}
END_TEST

/* Start and stop a trace over and over while tasks ping-pong on every
 * worker and a plain thread spawns: every file parses, nothing is lost. */
static atomic_bool stress_stop;

static void *
stress_pinger(void *arg)
{
	green_chan_t *ch = arg;
	int v = 0;

	while (!atomic_load(&stress_stop)) {
		if (green_chan_send(ch, &v, green_now() + GREEN_MSEC(10)) != 0)
			continue;
		green_yield();
	}
	return NULL;
}

static void *
stress_ponger(void *arg)
{
	green_chan_t *ch = arg;
	int v;

	while (!atomic_load(&stress_stop))
		(void)green_chan_recv(ch, &v, green_now() + GREEN_MSEC(10));
	return NULL;
}

static void *
plain_spawner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stress_stop)) {
		green_task_t *t;
		if (green_spawn(&t, NULL, trace_child, NULL) == 0)
			green_join(t, NULL, -1);
	}
	return NULL;
}

/* npairs pinger/ponger pairs: their channels in ch, their tasks in t. */
static void
start_pairs(int npairs, green_chan_t **ch, green_task_t **t)
{
	for (int i = 0; i < npairs; i++) {
		ck_assert_int_eq(green_chan_create(&ch[i], sizeof(int), 0), 0);
		ck_assert_int_eq(green_spawn(&t[2 * i], NULL, stress_pinger,
					     ch[i]),
				 0);
		ck_assert_int_eq(green_spawn(&t[2 * i + 1], NULL,
					     stress_ponger, ch[i]),
				 0);
	}
}

/* Stop the stress: the plain spawner th, the nt tasks t, the npairs
 * channels ch. */
static void
stop_stress(pthread_t th, green_task_t **t, int nt, green_chan_t **ch,
	    int npairs)
{
	atomic_store(&stress_stop, true);
	pthread_join(th, NULL);
	for (int i = 0; i < nt; i++)
		ck_assert_int_eq(green_join(t[i], NULL, -1), 0);
	for (int i = 0; i < npairs; i++)
		ck_assert_int_eq(green_chan_destroy(ch[i]), 0);
}

START_TEST(test_start_stop_while_running)
{
	enum { PAIRS = 4 };
	int rounds = TEST_SLOW ? 10 : 50;
	green_task_t *t[2 * PAIRS];
	green_chan_t *ch[PAIRS];
	pthread_t th;
	struct counts c;

	make_path();
	init_workers(4);
	atomic_store(&stress_stop, false);
	start_pairs(PAIRS, ch, t);
	ck_assert_int_eq(pthread_create(&th, NULL, plain_spawner, NULL), 0);
	for (int r = 0; r < rounds; r++) {
		green_task_t *one;
		ck_assert_int_eq(green_trace_start(trace_path), 0);
		/* one task surely created and ended inside the trace */
		ck_assert_int_eq(green_spawn(&one, NULL, trace_child, NULL), 0);
		ck_assert_int_eq(green_join(one, NULL, -1), 0);
		pause_ns(GREEN_MSEC(1));
		ck_assert_int_eq(green_trace_stop(), 0);
		count_events(trace_path, &c);
		ck_assert(!c.bad_source);
		ck_assert_uint_eq(c.type[GT_LOST], 0);
		ck_assert(c.type[GT_CREATE] >= 1);
		ck_assert(c.type[GT_EXIT] >= 1);
	}
	stop_stress(th, t, 2 * PAIRS, ch, PAIRS);
	shutdown_runtime();
	unlink(trace_path);
}
END_TEST

/*
 * Every source of events at once while traces start and stop back to back,
 * with no pause in between (issue 17: test_start_stop_while_running died
 * once with SIGSEGV; this widens every window it had): ping-pong on every
 * worker, a plain thread that spawns and joins, tasks whose offloaded
 * calls ready them from the blocking pool's threads, and a task that holds
 * its worker so that a spare takes over.  Each trace must parse, with
 * every event from a known source.
 */
static void *
offload_nap(void *arg)
{
	usleep(100);
	return arg;
}

static void *
stress_offloader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stress_stop))
		if (green_offload(offload_nap, NULL, NULL, GREEN_FOREVER) != 0)
			green_yield();
	return NULL;
}

static void *
stress_holder(void *arg)
{
	(void)arg;
	while (!atomic_load(&stress_stop)) {
		busy_wait_ns(GREEN_MSEC(15)); /* past the monitor's 10 ms */
		green_yield();
	}
	return NULL;
}

START_TEST(test_start_stop_every_source)
{
	enum { PAIRS = 2, OFFLOADERS = 2 };
	int rounds = TEST_SLOW ? 20 : 200;
	green_config_t cfg = { .workers = 2, .max_spares = TRACE_SPARES };
	green_task_t *t[2 * PAIRS + OFFLOADERS + 1];
	green_chan_t *ch[PAIRS];
	int nt;
	pthread_t th;
	struct counts c;

	make_path();
	tfail_reset();
	ck_assert_int_eq(green_init(&cfg), 0);
	atomic_store(&stress_stop, false);
	start_pairs(PAIRS, ch, t);
	nt = 2 * PAIRS;
	for (int i = 0; i < OFFLOADERS; i++)
		ck_assert_int_eq(green_spawn(&t[nt++], NULL, stress_offloader,
					     NULL),
				 0);
	ck_assert_int_eq(green_spawn(&t[nt++], NULL, stress_holder, NULL), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, plain_spawner, NULL), 0);
	for (int r = 0; r < rounds; r++) {
		ck_assert_int_eq(green_trace_start(trace_path), 0);
		if (r % 2 == 1)
			pause_ns(GREEN_USEC(200 * (r % 7)));
		ck_assert_int_eq(green_trace_stop(), 0);
		count_events(trace_path, &c);
		ck_assert(!c.bad_source);
	}
	stop_stress(th, t, nt, ch, PAIRS);
	shutdown_runtime();
	unlink(trace_path);
}
END_TEST

int
main(void)
{
	Suite *s;
	TCase *tc;

#if !GREEN_TRACE_BUILD
	fprintf(stderr, "check_trace: SKIP, built with --disable-trace\n");
	return 77;
#endif
	s = suite_create("trace");
	tc = add_tcase(s, "known", NULL, NULL, TIMEOUT);
	tcase_add_test(tc, test_known_program_one_worker);
	tcase_add_test(tc, test_known_program_four_workers);
	tcase_add_test(tc, test_start_stop_errors);
	tcase_add_test(tc, test_chrome_export_has_a_lane_per_worker);
	tcase_add_test(tc, test_held_task_traced_and_summarised);
	tcase_add_test(tc, test_start_stop_while_running);
	tcase_add_test(tc, test_start_stop_every_source);
	return run_suite(s);
}
