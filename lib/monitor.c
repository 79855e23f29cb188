/*
 * monitor.c - hand-off: no task can freeze the runtime.
 *
 * C code cannot be preempted, so a task that runs a long loop, or that
 * enters a blocking call libgreen does not hook (sleep(3) without the hook
 * library, flock, waitpid, a library's own poll), keeps its worker's thread.
 * Go's sysmon answers with retake/handoffp: the P of an M stuck in a system
 * call goes to another M.  Here the role is the worker structure and its
 * queue, and the thread stays with its structure; what moves is the count.
 *
 *   - Every switch publishes a counter and the running task
 *     (green__note_switch).  A monitor thread samples them every
 *     MONITOR_TICK; a worker whose count has not moved for HELD_AFTER while
 *     it runs a task is "held": it is marked, and reported.
 *   - While fewer than nworkers members are not held, the monitor makes a
 *     spare a member: a parked spare thread, or a new one up to max_spares.
 *     The new member finds work like any idle worker: it steals the held
 *     worker's queue (the thief's protocol works against an owner that is
 *     not switching) and its LIFO slot, runs timers, polls the network.
 *   - The held task's next switch comes through find_local (sched.c), which
 *     clears the mark (green__held_return: trace event GT_HELD, the warning
 *     line), and, when the members not held are more than nworkers,
 *     retires its worker: it switches to the worker loop, which moves its
 *     queue to the global queue and parks the thread as a spare.
 *   - With every member idle and none held, the monitor sleeps until a
 *     worker leaves its idle park or green_init has started the workers
 *     (green__monitor_kick), or for a second at most: an idle runtime
 *     costs no measurable CPU.  A busy one pays a timed wake-up per
 *     tick, and each switch two relaxed stores on the worker's own line.
 *   - GREEN_HANDOFF=0 keeps the marks and reports but promotes no spare:
 *     the benchmarks run so, where "1 worker" must mean one thread
 *     running tasks, as GOMAXPROCS 1 does for their Go peers.
 *
 * HELD_AFTER is 10 ms, the time slice Go's sysmon gives a goroutine before
 * it preempts it (Go hands a P in a system call off after 20 us to 10 ms,
 * depending on whether other work waits).  Shorter would retire and
 * promote threads for tasks that are merely long; a task is held for 10 to
 * 15 ms before the monitor acts, and a starved task is late by about that.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "green-internal.h"

#define MONITOR_TICK GREEN_MSEC(5) /* sampling period while tasks run */
#define HELD_AFTER GREEN_MSEC(10) /* no switch for this long: held */
#define IDLE_BACKSTOP GREEN_SEC(1) /* longest sleep on an idle runtime */
#define CPU_PROBE 2000000 /* ns a held thread's CPU use is watched */

struct green_monitor {
	pthread_t thread;
	_Atomic uint32_t word; /* futex: bumped by every kick */
	_Atomic bool asleep;   /* waiting for a kick, not for a tick */
	bool warn;	       /* GREEN_WARN_HELD: a line on stderr */
	bool cap_warned;       /* the spares ran out once: said so */
	bool handoff;	       /* GREEN_HANDOFF is not "0": promote spares */
	bool joined;	       /* green__monitor_stop is done */
};

/* The thread's state letter in /proc/self/task/TID/stat, or 0. */
static char
thread_state(struct green_worker *w)
{
	char path[64], buf[256], *p;
	int fd, tid = atomic_load(&w->tid);
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "tid (comm) S ...": comm may hold spaces and parentheses */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2];
}

/* CPU time the thread of w used, in ns, or -1. */
static int64_t
thread_cpu_ns(struct green_worker *w)
{
	clockid_t id;
	struct timespec ts;

	if (pthread_getcpuclockid(w->thread, &id) != 0 ||
	    clock_gettime(id, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * What the thread of worker w is doing: running (or runnable), or blocked
 * in the kernel.  A thread asleep by its state may still be a loop that
 * waits for a CPU lock of its own (valgrind runs one thread at a time):
 * it is running if it uses a tenth of a CPU over CPU_PROBE.
 */
static uint8_t
held_kind(struct green_worker *w)
{
	char st = thread_state(w);
	int64_t cpu0, cpu1;
	struct timespec probe = { 0, CPU_PROBE };

	if (st != 'S' && st != 'D')
		return GT_HELD_RUNNING;
	if ((cpu0 = thread_cpu_ns(w)) < 0)
		return GT_HELD_BLOCKED;
	nanosleep(&probe, NULL);
	if ((cpu1 = thread_cpu_ns(w)) < 0)
		return GT_HELD_BLOCKED;
	return (cpu1 - cpu0) * 10 >= CPU_PROBE ? GT_HELD_RUNNING
					       : GT_HELD_BLOCKED;
}

static const char *
held_what(uint8_t kind)
{
	return kind == GT_HELD_BLOCKED ? "blocked in a system call libgreen "
					 "does not hook"
				       : "running without switching";
}

/* What names a task in a report, copied from it. */
struct held_who {
	uint64_t id;
	char name[sizeof(((struct green_task *)0)->name)];
	const void *entry; /* green_run's first task: the program's function */
};

static void
held_who(struct held_who *who, const struct green_task *t)
{
	who->id = t->id;
	memcpy(who->name, t->name, sizeof(who->name));
	who->name[sizeof(who->name) - 1] = '\0';
	who->entry = green__entry_of(t->fn, t->arg);
}

/*
 * The task held worker w for ns: one line on stderr.  still says whether
 * it still holds it (the monitor, naming a task that may never return) or
 * has let go (the worker).
 */
static void
held_warn(struct green_worker *w, const struct held_who *who, int64_t ns,
	  uint8_t kind, bool still)
{
	char fn[128];

	green__describe_fn((void *)who->entry, fn, sizeof(fn));
	fprintf(stderr,
		"libgreen: task %" PRIu64 " \"%s\" (entry %s) %s worker %u "
		"for %" PRId64 " ms, %s%s\n",
		who->id, who->name, fn, still ? "has held" : "held", w->id,
		ns / 1000000, held_what(kind),
		still && green__rt->monitor->handoff
			? "; another thread runs the worker's tasks"
			: "");
}

/*
 * Mark w held by t, seen running since `since`.  The warning copies the
 * task's fields and uses them only if the task has not switched meanwhile
 * (nswitch read again after the copy): until it switches it cannot end,
 * and its struct cannot be reused.
 */
static void
mark_held(struct green_rt *rt, struct green_monitor *m, struct green_worker *w,
	  struct green_task *t, int64_t since, int64_t now)
{
	uint8_t kind = held_kind(w);
	struct held_who who;

	atomic_store_explicit(&w->held_since, since, memory_order_relaxed);
	atomic_store_explicit(&w->held_kind, kind, memory_order_relaxed);
	atomic_store_explicit(&w->held_task, t, memory_order_relaxed);
	w->mon_marked = w->mon_nswitch + 1;
	atomic_fetch_add(&rt->nheld, 1);
	/* release: held_since and held_kind before the mark the owner reads
	 * with acquire (green__held_return) */
	atomic_store_explicit(&w->held, true, memory_order_release);
	if (!m->warn)
		return;
	held_who(&who, t);
	/* the copy before the load that validates it, as a seqlock reader:
	 * x86 keeps loads in order, so only the compiler must be stopped (a
	 * weakly ordered port needs an acquire fence here, which
	 * ThreadSanitizer does not model) */
	atomic_signal_fence(memory_order_acq_rel);
	if (atomic_load_explicit(&w->nswitch, memory_order_relaxed) ==
	    w->mon_nswitch)
		held_warn(w, &who, now - since, kind, true);
}

/* Look at worker w: a member that runs the task it ran at the last sample,
 * for long enough, becomes held. */
static void
sample(struct green_rt *rt, struct green_monitor *m, struct green_worker *w,
       int64_t now)
{
	uint32_t n = atomic_load_explicit(&w->nswitch, memory_order_relaxed);
	/* acquire: pairs with the owner's release in green__note_switch */
	struct green_task *t =
		atomic_load_explicit(&w->running, memory_order_acquire);

	if (n != w->mon_nswitch && atomic_load(&w->held)) {
		/* marked just after a switch that had already passed its
		 * check (find_local in sched.c), maybe to the worker's loop and
		 * an idle park: the owner may never clear it */
		if (atomic_exchange(&w->held, false))
			atomic_fetch_sub(&rt->nheld, 1);
	}
	if (n != w->mon_nswitch || t == NULL) {
		w->mon_nswitch = n;
		w->mon_seen = now;
		return;
	}
	if (now - w->mon_seen < HELD_AFTER ||
	    w->mon_marked == n + 1 || /* marked, and not switched since */
	    atomic_load_explicit(&w->held, memory_order_relaxed) ||
	    !atomic_load_explicit(&w->member, memory_order_relaxed))
		return;
	mark_held(rt, m, w, t, w->mon_seen, now);
}

/* One more member: a parked spare, else a new thread.  False at the cap. */
static bool
promote_one(struct green_rt *rt)
{
	unsigned n = atomic_load(&rt->nthreads);

	for (unsigned i = 0; i < n; i++) {
		struct green_worker *w = &rt->workers[i];
		bool no = false;

		if (atomic_compare_exchange_strong(&w->member, &no, true)) {
			atomic_fetch_add(&rt->nmembers, 1);
			green__worker_kick(w);
			return true;
		}
	}
	if (n == rt->nslots)
		return false;
	atomic_store(&rt->workers[n].member, true);
	atomic_fetch_add(&rt->nmembers, 1);
	/* counted first: the thread iterates over the started ones, itself
	 * included; a slot counted before its thread runs is empty, and only
	 * this thread adds slots */
	atomic_store(&rt->nthreads, n + 1);
	if (green__worker_start(rt, &rt->workers[n]) != 0) {
		atomic_store(&rt->nthreads, n);
		atomic_store(&rt->workers[n].member, false);
		atomic_fetch_sub(&rt->nmembers, 1);
		return false;
	}
	return true;
}

/* Keep nworkers members not held. */
static void
replace_held(struct green_rt *rt, struct green_monitor *m)
{
	while (atomic_load(&rt->nmembers) <
	       atomic_load(&rt->nheld) + rt->nworkers) {
		if (promote_one(rt))
			continue;
		if (!m->cap_warned) {
			m->cap_warned = true;
			fprintf(stderr,
				"libgreen: every worker is held by a task and "
				"the %u spare threads are in use: queued tasks "
				"wait until a held task switches "
				"(green_config_t.max_spares)\n",
				rt->nslots - rt->nworkers);
		}
		return;
	}
}

/* Nothing to watch: every member parked idle and none held. */
static bool
all_idle(struct green_rt *rt)
{
	return atomic_load(&rt->nheld) == 0 &&
	       atomic_load(&rt->nidle_hint) == atomic_load(&rt->nmembers);
}

static void *
monitor_main(void *arg)
{
	struct green_rt *rt = arg;
	struct green_monitor *m = rt->monitor;

	while (!atomic_load(&rt->stopping)) {
		uint32_t seq = atomic_load(&m->word);
		int64_t now;
		unsigned n;

		if (all_idle(rt)) {
			/* seq_cst: asleep, then look again; a worker that
			 * leaves its park after our look kicks us */
			atomic_store(&m->asleep, true);
			/* a second as a backstop: a kick missed (every path
			 * that makes a worker busy should kick) delays the
			 * monitor by that much, never for ever */
			if (all_idle(rt) && !atomic_load(&rt->stopping))
				green__futex_wait(&m->word, seq,
						  green_now() + IDLE_BACKSTOP);
			atomic_store(&m->asleep, false);
			continue;
		}
		green__futex_wait(&m->word, seq, green_now() + MONITOR_TICK);
		now = green_now();
		n = atomic_load(&rt->nthreads);
		for (unsigned i = 0; i < n; i++)
			sample(rt, m, &rt->workers[i], now);
		if (m->handoff && atomic_load(&rt->nheld) > 0)
			replace_held(rt, m);
		/* members beyond nworkers that their held task's return did
		 * not retire (a mark cleared above): park idle ones as spares */
		while (atomic_load(&rt->nmembers) >
			       atomic_load(&rt->nheld) + rt->nworkers &&
		       green__idle_demote(rt))
			;
	}
	return NULL;
}

/* A worker left its idle park: wake the monitor if it sleeps for good. */
void
green__monitor_kick(struct green_rt *rt)
{
	struct green_monitor *m = rt->monitor;

	if (m != NULL && atomic_load(&m->asleep)) {
		atomic_fetch_add(&m->word, 1);
		green__futex_wake(&m->word, 1);
	}
}

/* If the monitor marked w held for t (the running task), say so: a trace
 * event, and a warning when asked for. */
static void
held_report(struct green_worker *w, const struct green_task *t)
{
	uint8_t kind;
	int64_t ns;

	if (t == NULL ||
	    t != atomic_load_explicit(&w->held_task, memory_order_relaxed))
		return;
	kind = atomic_load_explicit(&w->held_kind, memory_order_relaxed);
	ns = green_now() -
	     atomic_load_explicit(&w->held_since, memory_order_relaxed);
	GREEN_TRACE(GT_HELD, 3, t->id, ns, kind);
	if (green__rt->monitor->warn) {
		struct held_who who;

		held_who(&who, t);
		held_warn(w, &who, ns, kind, false);
	}
}

/*
 * green__held_exit's slow path (green-internal.h).  The running task t of
 * w ends: a hold of its worker is reported now,
 * while t is still ours (its joiner may free it once it is marked done),
 * and green__held_return, which takes the mark later, no longer looks at
 * it.  A mark that comes after this check is counted but not reported by
 * name: its task is gone.
 */
void
green__held_exit_report(struct green_worker *w, struct green_task *t)
{
	held_report(w, t);
}

/*
 * Worker w, marked held, switches (find_local in sched.c) or is back in its
 * loop: clear the mark, and report the hold when the task switching away is
 * the one seen holding (else the mark came just after its switch, and
 * the hold's end is not known).  Returns true when w stays a member, false
 * when it retires to be a spare because enough others run tasks.
 */
bool
green__held_return(struct green_worker *w)
{
	struct green_rt *rt = green__rt;
	unsigned members;

	/* acquire: pairs with the monitor's release in mark_held */
	if (!atomic_exchange_explicit(&w->held, false, memory_order_acquire))
		return true;
	atomic_fetch_sub(&rt->nheld, 1);
	/* an ended task's struct may be its joiner's already: its hold was
	 * reported by green__held_exit */
	if (!w->exiting)
		held_report(w, w->current);
	members = atomic_load(&rt->nmembers);
	while (members > atomic_load(&rt->nheld) + rt->nworkers)
		if (atomic_compare_exchange_weak(&rt->nmembers, &members,
						 members - 1)) {
			atomic_store(&w->member, false);
			return false;
		}
	return true;
}

/* A switch in the environment: unset or "" is dflt, "0" off, else on. */
static bool
env_switch(const char *name, bool dflt)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		return dflt;
	return strcmp(v, "0") != 0;
}

int
green__monitor_start(struct green_rt *rt, const green_config_t *cfg)
{
	struct green_monitor *m = green__calloc(sizeof(*m));
	sigset_t all, old;
	int err;

	(void)cfg;
	if (m == NULL)
		return -ENOMEM;
	m->warn = env_switch("GREEN_WARN_HELD", false);
	m->handoff = env_switch("GREEN_HANDOFF", true);
	rt->monitor = m;
	/* no signal handler runs on the monitor */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = green__fault(GF_THREAD)
		      ? EAGAIN
		      : pthread_create(&m->thread, NULL, monitor_main, rt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		rt->monitor = NULL;
		green__free(m, sizeof(*m));
		return -EAGAIN;
	}
	return 0;
}

/* After rt->stopping is set; workers may still kick the monitor, whose
 * structure lives until green__monitor_free. */
void
green__monitor_stop(struct green_rt *rt)
{
	struct green_monitor *m = rt->monitor;

	if (m == NULL || m->joined)
		return;
	atomic_fetch_add(&m->word, 1);
	green__futex_wake(&m->word, 1);
	pthread_join(m->thread, NULL);
	m->joined = true;
}

/* With every worker joined. */
void
green__monitor_free(struct green_rt *rt)
{
	if (rt->monitor != NULL)
		green__free(rt->monitor, sizeof(*rt->monitor));
	rt->monitor = NULL;
}
