/*
 * spawn.c - W2: the cost of a task's whole life.
 *
 * The main task spawns N trivial tasks (each returns its argument), keeping
 * their handles in an array, then joins them in spawn order and checks each
 * result.  Spawning them all before the first join makes the runtime hold N
 * tasks at once, as the Go peer (bench/peers/spawn: goroutines and a
 * sync.WaitGroup) does.  Reports elapsed / N as "spawn_join_ns".
 *
 * -d measures that Go idiom itself: every task is spawned detached
 * (green_spawn() with t NULL), stores its argument I in slot I of a results
 * array and calls green_wg_done() on one wait group, which the main task
 * initialised once and raises by N (green_wg_add()) before each round's
 * first spawn.  The main task waits for it (green_wg_wait()), then, outside
 * the timed region, checks every slot and resets it for the next round, as
 * the Go peer does.  Reports elapsed / N as "spawn_wg_ns".
 *
 * -g measures task groups against that idiom, in the same process: each
 * round runs the -d round above, then the same N tasks spawned into one
 * group (green_group_spawn(), one group a round, created and destroyed in
 * the timed region) that the main task waits for (green_group_wait());
 * each task stores I in slot I and returns 0.  Reports "spawn_group_ns"
 * and its ratio to the -d round's figure, "spawn_group_over_wg".  Then a
 * group of N tasks that each park for ever (green_sleep(GREEN_FOREVER))
 * under a group deadline 100 ms (plus 1 us a task) after the first spawn:
 * "group_park_ns" is the spawn per task, "group_expire_ns" the time from
 * the deadline to the group's end per task (every park cut short by the
 * deadline through the timer heap; with a million tasks it includes
 * parks that were not done by the deadline).
 *
 * -o spawns trivial_oc() instead (with -d, trivial_oc_wg(): the same work,
 * then the store and green_wg_done()), the ordinary-C variant (bench.h);
 * its result is "spawn_join_ns_oc" (with -d, "spawn_wg_ns_oc").
 */
#define BENCH_ORDINARY
#define BENCH_DETACHED
#define BENCH_GROUP
#include "bench.h"

/* What the detached tasks of -d share; each one's argument is its number. */
static const struct bench_opts *wg_opts; /* for bench_check() */
static green_wg_t wg_pending;		 /* the tasks not finished yet */
static long *wg_results;		 /* slot I: I, once task I ran */

static void *
trivial(void *arg)
{
	return arg;
}

/*
 * The end of detached task I (-d): I stored in slot I, one piece of work
 * done.  Inlined, so the task functions call only green_wg_done() (and
 * bench_fail() on its error path), as a task that calls helpers does.
 */
static inline __attribute__((always_inline)) void
wg_finish(void *arg)
{
	wg_results[(intptr_t)arg] = (long)(intptr_t)arg;
	bench_check(wg_opts, green_wg_done(&wg_pending), "green_wg_done");
}

/* trivial() for -d: nothing to return, its result goes into its slot. */
static void *
trivial_wg(void *arg)
{
	wg_finish(arg);
	return NULL;
}

/*
 * The body of trivial_oc(), inlined into it and into trivial_oc_wg(), so
 * that each calls libc from its own body.
 */
static inline __attribute__((always_inline)) void
name_self(void *arg)
{
	char name[32];
	char *label;
	int len;

	len = snprintf(name, sizeof(name), "spawn-%ld", (long)(intptr_t)arg);
	label = bench_oc_label("spawn", name, sizeof(name), len);
	if (strlen(label) != (size_t)len) {
		fprintf(stderr, "%s: name copied wrong\n", label);
		exit(1);
	}
	free(label);
}

/*
 * trivial() as a C programmer writes a task that names itself: libc called
 * from its own body (so gold rewrites its prologue, and it starts on a new
 * segment), errors reported where they happen.  It formats its name, keeps
 * a heap copy as its label and frees it; checking the copy's length
 * against snprintf's count, with the label in the message, is what keeps
 * the compiler from dropping the copy.  It returns its argument, as
 * trivial() does, for the same check in spawn_join().
 */
static void *
trivial_oc(void *arg)
{
	name_self(arg);
	return arg;
}

/* trivial_oc() for -d: the same work, then trivial_wg()'s. */
static void *
trivial_oc_wg(void *arg)
{
	name_self(arg);
	wg_finish(arg);
	return NULL;
}

/*
 * An array of o->n elements of size bytes, every byte set to fill: allocated
 * once, outside the timed region, and touched so that its page faults are
 * not charged to the runtime either.
 */
static void *
array(const struct bench_opts *o, size_t size, int fill, const char *what)
{
	void *a;

	if ((unsigned long)o->n > SIZE_MAX / size)
		bench_fail(o, "-n %ld: too many tasks", o->n);
	a = malloc((size_t)o->n * size);
	if (a == NULL)
		bench_fail(o, "cannot allocate %ld %s", o->n, what);
	memset(a, fill, (size_t)o->n * size);
	return a;
}

/*
 * Round r's results: RESULT name (bench_report()) and a line for humans
 * that says what the tasks went through.
 */
static void
report(const struct bench_opts *o, const char *name, const char *what,
       unsigned r, int64_t elapsed)
{
	double ns = (double)elapsed / (double)o->n;

	bench_report(o, name, ns, "ns/task");
	printf("spawn%s%s: round %u/%u, %u worker(s), %ld tasks %s: "
	       "%.1f ms, %.1f ns/task\n",
	       o->detached ? " -d" : "", bench_variant(o), r, o->rounds,
	       o->workers, o->n, what, elapsed / 1e6, ns);
	fflush(stdout);
}

/* The default: spawned with handles, joined in spawn order. */
static void
spawn_join(const struct bench_opts *o)
{
	void *(*task)(void *) = o->ordinary ? trivial_oc : trivial;
	green_task_t **tasks = array(o, sizeof(*tasks), 0, "task handles");

	for (unsigned r = 1; r <= o->rounds; r++) {
		int64_t t0, t1;

		t0 = bench_now();
		for (long i = 0; i < o->n; i++)
			bench_check(o,
				    green_spawn(&tasks[i], NULL, task,
						(void *)(intptr_t)i),
				    "green_spawn");
		for (long i = 0; i < o->n; i++) {
			void *res;

			bench_check(o, green_join(tasks[i], &res,
						  GREEN_FOREVER),
				    "green_join");
			if ((intptr_t)res != i)
				bench_fail(o, "task %ld returned %ld", i,
					   (long)(intptr_t)res);
		}
		t1 = bench_now();

		report(o, "spawn_join_ns", "spawned then joined", r, t1 - t0);
	}
	free(tasks);
}

/* -g: trivial() for a group: I into slot I, success. */
static int
trivial_group(void *arg)
{
	wg_results[(intptr_t)arg] = (long)(intptr_t)arg;
	return 0;
}

/* -g -o: the same after trivial_oc()'s work. */
static int
trivial_oc_group(void *arg)
{
	name_self(arg);
	wg_results[(intptr_t)arg] = (long)(intptr_t)arg;
	return 0;
}

/* -g, the second measurement: parks that only the deadline ends. */
static int
park_forever(void *arg)
{
	(void)arg;
	return green_sleep(GREEN_FOREVER) == -ETIMEDOUT ? 0 : -EPROTO;
}

/* Outside the timed region: every task stored its number in its slot;
 * every slot back to -1 for the next round, as the Go peer does. */
static void
check_slots(const struct bench_opts *o)
{
	for (long i = 0; i < o->n; i++) {
		if (wg_results[i] != i)
			bench_fail(o, "task %ld stored %ld", i, wg_results[i]);
		wg_results[i] = -1;
	}
}

/* One -d round; returns its elapsed ns (results checked, slots reset). */
static int64_t
wg_round(const struct bench_opts *o, void *(*task)(void *))
{
	int64_t t0 = bench_now(), t1;

	bench_check(o, green_wg_add(&wg_pending, o->n), "green_wg_add");
	for (long i = 0; i < o->n; i++)
		bench_check(o, green_spawn(NULL, NULL, task, (void *)(intptr_t)i),
			    "green_spawn");
	bench_check(o, green_wg_wait(&wg_pending, GREEN_FOREVER),
		    "green_wg_wait");
	t1 = bench_now();
	check_slots(o);
	return t1 - t0;
}

/* -d: spawned detached, waited for with one wait group. */
static void
spawn_wg(const struct bench_opts *o)
{
	void *(*task)(void *) = o->ordinary ? trivial_oc_wg : trivial_wg;

	/* Every slot -1 (all bytes 0xff), as the Go peer starts them. */
	wg_results = array(o, sizeof(*wg_results), 0xff, "result slots");
	wg_opts = o;
	bench_check(o, green_wg_init(&wg_pending), "green_wg_init");
	for (unsigned r = 1; r <= o->rounds; r++)
		report(o, "spawn_wg_ns",
		       "spawned detached, waited for with a wait group", r,
		       wg_round(o, task));
	free(wg_results);
}

/* One group round; returns its elapsed ns (checked, slots reset). */
static int64_t
group_round(const struct bench_opts *o, int (*task)(void *))
{
	int64_t t0 = bench_now(), t1;
	green_group_t *g;

	bench_check(o, green_group_create(&g, NULL), "green_group_create");
	for (long i = 0; i < o->n; i++)
		bench_check(o, green_group_spawn(g, NULL, task,
						 (void *)(intptr_t)i,
						 GREEN_FOREVER),
			    "green_group_spawn");
	bench_check(o, green_group_wait(g, GREEN_FOREVER), "green_group_wait");
	bench_check(o, green_group_destroy(g), "green_group_destroy");
	t1 = bench_now();
	check_slots(o);
	return t1 - t0;
}

/* N parked tasks of a group whose deadline ends them all. */
static void
group_deadline_round(const struct bench_opts *o, unsigned r)
{
	green_group_attr_t a = { .deadline = INT64_MAX };
	int64_t t0, t1, t2;
	green_group_t *g;

	/* the deadline is set at create: far enough for the spawns, then
	 * measured from; a first guess at 1 us per task, plus 100 ms */
	t0 = green_now();
	a.deadline = t0 + o->n * GREEN_USEC(1) + GREEN_MSEC(100);
	bench_check(o, green_group_create(&g, &a), "green_group_create");
	for (long i = 0; i < o->n; i++)
		bench_check(o, green_group_spawn(g, NULL, park_forever, NULL,
						 GREEN_FOREVER),
			    "green_group_spawn");
	t1 = green_now();
	if (t1 >= a.deadline)
		bench_fail(o, "spawning %ld tasks took past the deadline",
			   o->n);
	bench_check(o, green_group_wait(g, GREEN_FOREVER), "green_group_wait");
	t2 = green_now();
	bench_check(o, green_group_destroy(g), "green_group_destroy");
	bench_report(o, "group_park_ns", (double)(t1 - t0) / (double)o->n,
		     "ns/task");
	bench_report(o, "group_expire_ns",
		     (double)(t2 - a.deadline) / (double)o->n, "ns/task");
	printf("spawn -g%s: round %u/%u, %u worker(s), %ld tasks parked in a "
	       "group: %.1f ns/task to spawn, %.1f ns/task from the deadline "
	       "to the group's end\n",
	       bench_variant(o), r, o->rounds, o->workers, o->n,
	       (double)(t1 - t0) / (double)o->n,
	       (double)(t2 - a.deadline) / (double)o->n);
	fflush(stdout);
}

/* -g: group spawns against the -d idiom, then the deadline round. */
static void
spawn_group(const struct bench_opts *o)
{
	void *(*wtask)(void *) = o->ordinary ? trivial_oc_wg : trivial_wg;
	int (*gtask)(void *) = o->ordinary ? trivial_oc_group : trivial_group;

	wg_results = array(o, sizeof(*wg_results), 0xff, "result slots");
	wg_opts = o;
	bench_check(o, green_wg_init(&wg_pending), "green_wg_init");
	for (unsigned r = 1; r <= o->rounds; r++) {
		int64_t twg = wg_round(o, wtask), tg = group_round(o, gtask);

		report(o, "spawn_group_ns", "spawned into a group", r, tg);
		bench_report(o, "spawn_group_over_wg",
			     (double)tg / (double)twg, "x");
		printf("spawn -g%s: round %u/%u: %.1f ns/task detached with a "
		       "wait group, %.1f ns/task in a group: %.3fx\n",
		       bench_variant(o), r, o->rounds,
		       (double)twg / (double)o->n, (double)tg / (double)o->n,
		       (double)tg / (double)twg);
		group_deadline_round(o, r);
	}
	free(wg_results);
}

static void
bench_main(void *arg)
{
	const struct bench_opts *o = arg;

	if (o->group)
		spawn_group(o);
	else if (o->detached)
		spawn_wg(o);
	else
		spawn_join(o);
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	bench_parse(&o, argc, argv, 1000000, "tasks (default 1000000)");
	bench_run(&o, bench_main);
	return 0;
}
