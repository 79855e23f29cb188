/*
 * sched.c - workers, the run loop, spinning and parking, and the runtime's
 * life (green_init, green_shutdown, green_run).
 *
 * Shape (Go's runtime/proc.go, Tokio's multi_thread scheduler):
 *   - a task that blocks or yields switches straight to the next local task
 *     (task -> task, one switch); only when its worker has nothing local does
 *     it switch to the worker's own loop, which looks further;
 *   - an idle worker steals half of a random victim's ring while "spinning";
 *     at most half the busy workers spin; a spinner that finds work wakes
 *     another, so work fans out without a thundering herd;
 *   - a worker with nothing to do parks on its own futex word; work pushed
 *     while nobody spins wakes exactly one parked worker;
 *   - one parked worker at a time waits with the earliest timer deadline as
 *     its timeout: the others sleep until woken, so an idle runtime uses no
 *     CPU.
 *
 * Thread-local storage: the current worker is read through green__worker(),
 * a noipa function, after every switch: a task may resume on another
 * thread, and the compiler may otherwise keep a TLS address across the
 * switch (DESIGN.md section 4).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "green-internal.h"
#include "runq.h"
#include "sanitizer.h"

#define GLOBAL_QUEUE_PERIOD 61 /* ticks between fairness checks (Go) */
#define STEAL_ROUNDS 4

struct green_rt *green__rt;
/* initial-exec: one %fs-relative load, no __tls_get_addr call (the library
 * is linked at start-up, or dlopened into glibc's static TLS reserve) */
static __thread struct green_worker *tls_worker
	__attribute__((tls_model("initial-exec")));
static pthread_mutex_t life_lock = PTHREAD_MUTEX_INITIALIZER;

/* no_split_stack: a leaf without a frame, called from the tracer's
 * no_split_stack fast paths (trace.c) */
__attribute__((noipa)) GREEN_NO_SPLIT struct green_worker *
green__worker(void)
{
	return tls_worker;
}

/*
 * Busy workers poll too, every GLOBAL_QUEUE_PERIOD switches while tasks
 * wait for I/O, so tasks that keep every worker busy never starve it.
 * Here, after a switch, because the task that switched away may still
 * hold a descriptor's lock until its after action has run.
 */
static __attribute__((noinline)) void
busy_poll_now(struct green_worker *w)
{
	/* relaxed: a hint; a waiter missed now is polled next time */
	if (atomic_load_explicit(&green__rt->io_waiters, memory_order_relaxed) >
	    0)
		green__netpoll(w, 0);
	/* a stopped trace takes this busy worker's buffer within 61
	 * switches (an idle worker's loop checks at once): not on every
	 * switch */
	green__trace_safepoint(w);
}

/* The tick inline, the poll out of line: every switch passes here. */
static inline __attribute__((always_inline)) void
busy_poll(struct green_worker *w)
{
	if (++w->poll_tick % GLOBAL_QUEUE_PERIOD == 0)
		busy_poll_now(w);
}

static inline __attribute__((always_inline)) void
run_after(struct green_worker *w)
{
	green_after_fn fn = w->after;

	if (fn != NULL) {
		w->after = NULL;
		fn(w, w->after_task);
	}
	busy_poll(w);
}

/* Attach a stack to a task that runs for the first time. */
static void task_entry(void);

static _Noreturn __attribute__((noinline, cold)) void
stack_oom(struct green_task *t)
{
	fprintf(stderr,
		"libgreen: out of memory: no %zu-byte stack for task %llu "
		"\"%s\"\n",
		t->stack_size, (unsigned long long)t->id, t->name);
	abort();
}

void
green__sched_prepare(struct green_worker *w, struct green_task *next)
{
	struct green_stack *s;

	if (next->ctx.sp != NULL)
		return;
	s = green__stack_get(w, next->stack_kind, next->stack_size);
	if (s == NULL)
		stack_oom(next);
	next->stack = s;
	green__ctx_make(&next->ctx, green__stack_top(s), task_entry);
	green__ss_prepare(w, &next->ctx, s);
	san_ctx_stack(&next->ctx, (char *)s->map + green__stack_guard(),
		      s->size, true);
}

/*
 * The switch itself.  no_split_stack: once the split-stack words of to are
 * loaded, no split-stack prologue may run until the stack pointer is to's.
 */
static GREEN_NO_SPLIT void
switch_to(struct green_ctx *from, struct green_ctx *to, bool dying)
{
	san_switch(from, to, dying);
#ifdef GREEN_SPLIT_STACK
	green__ss_swap(&from->ss, &to->ss);
#endif
	green__switch(from, to);
}

static void
task_entry(void)
{
	struct green_worker *w = green__worker();
	struct green_task *t = w->current;

	san_resumed(NULL);
	run_after(w);
	if (t->group == NULL)
		t->result = t->fn(t->arg);
	else
		green__group_run(t);
	green__task_exit(t);
}

/* The next task this worker can run without looking at other workers: the
 * newest, or with oldest the oldest (a yield: round robin); see runq.c. */
static inline __attribute__((always_inline)) struct green_task *
find_local(struct green_worker *w, bool oldest)
{
	struct green_task *t;

	/* relaxed: the monitor's mark; an acquire exchange takes it */
	if (__builtin_expect(atomic_load_explicit(&w->held,
						  memory_order_relaxed),
			     0) &&
	    !green__held_return(w))
		return NULL; /* retiring: the worker loop parks it as a spare */
	if (++w->tick % GLOBAL_QUEUE_PERIOD == 0) {
		if (green__timer_next() >= 0)
			green__timers_run(green_now());
		if ((t = green__globq_pop(w, 1)) != NULL)
			return t;
	}
	return green__runq_pop(w, oldest);
}

/*
 * Leave the running task: save its registers in *save, switch to next (or,
 * when NULL, to the worker's loop), and have after(w, task) run on this
 * worker once we are off the task's stack.
 */
static inline __attribute__((always_inline)) void
switch_away(struct green_worker *w, struct green_ctx *save,
	    struct green_task *task, green_after_fn after,
	    struct green_task *next)
{
	bool dying = save == &w->dead_ctx;
	struct green_ctx *to = &w->sched_ctx;

	w->after = after;
	w->after_task = task;
	if (next != NULL) {
		/* every caller recorded task's stop just before */
		if (GREEN_TRACING())
			green__trace_start(next->id);
		green__sched_prepare(w, next);
		to = &next->ctx;
	}
	w->current = next;
	green__note_switch(w, next);
	switch_to(save, to, dying);
}

/*
 * Switch the running task cur away; after(w, cur) runs on this worker once
 * cur's registers are saved.  Returns when cur is resumed, on any worker.
 */
void
green__schedule(struct green_worker *w, struct green_task *cur,
		green_after_fn after)
{
	switch_away(w, &cur->ctx, cur, after, find_local(w, false));
	san_resumed(&cur->ctx);
	run_after(green__worker());
}

/* An ended task leaves for good: its registers go to the worker's scratch
 * context, its stack is released by after() once we are off it. */
_Noreturn void
green__leave(struct green_worker *w, struct green_task *t, green_after_fn after)
{
	switch_away(w, &w->dead_ctx, t, after, find_local(w, false));
	__builtin_unreachable();
}

static void
after_yield(struct green_worker *w, struct green_task *t)
{
	green__runq_push(w, t);
}

void
green_yield(void)
{
	struct green_worker *w = green__worker();
	struct green_task *cur, *next;

	if (w == NULL || (cur = w->current) == NULL) {
		green__os_yield();
		return;
	}
	next = find_local(w, true);
	/* relaxed: cleared by this thread, in green__held_return */
	if (next == NULL &&
	    atomic_load_explicit(&w->member, memory_order_relaxed)) {
		/* nothing local: give the global queue and the netpoller a
		 * turn (no switch, so no run_after) */
		if ((next = green__globq_pop(w, 1)) == NULL) {
			busy_poll(w);
			/* a scheduling point all the same: a task that
			 * yields alone on its worker holds nothing up */
			green__note_switch(w, cur);
			return;
		}
	}
	GREEN_TRACE(GT_YIELD, 1, cur->id, 0, 0);
	switch_away(w, &cur->ctx, cur, after_yield, next);
	san_resumed(&cur->ctx);
	run_after(green__worker());
}

/* --- finding work -------------------------------------------------------- */

static void
stop_spinning(struct green_worker *w)
{
	w->spinning = false;
	/* seq_cst: the last spinner to stop wakes another worker so found
	 * work keeps fanning out */
	if (atomic_fetch_sub(&green__rt->nspinning, 1) == 1)
		green__wake_worker();
}

static uint32_t
rand_next(struct green_worker *w)
{
	uint64_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	return (uint32_t)(x >> 32);
}

/* A random number for the calling thread (select's case order). */
uint32_t
green__rand(void)
{
	static __thread uint64_t seed __attribute__((tls_model("initial-exec")));
	struct green_worker *w = green__worker();

	if (w != NULL)
		return rand_next(w);
	if (seed == 0)
		seed = ((uint64_t)(uintptr_t)&seed ^ (uint64_t)green_now()) | 1;
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed >> 32);
}

static struct green_task *
steal_work(struct green_worker *w)
{
	struct green_rt *rt = green__rt;
	/* spares and held workers too: a held worker's queue is stolen */
	unsigned n = atomic_load(&rt->nthreads);

	for (int round = 0; round < STEAL_ROUNDS; round++) {
		unsigned start = rand_next(w) % n;
		for (unsigned i = 0; i < n; i++) {
			struct green_worker *v = &rt->workers[(start + i) % n];
			struct green_task *t;
			if (v == w)
				continue;
			t = green__runq_steal(w, v, round == STEAL_ROUNDS - 1);
			if (t != NULL)
				return t;
		}
	}
	return NULL;
}

static bool
any_work(void)
{
	struct green_rt *rt = green__rt;

	if (atomic_load(&rt->gq_len) != 0)
		return true;
	for (unsigned i = 0; i < atomic_load(&rt->nthreads); i++)
		if (!green__runq_empty(&rt->workers[i]))
			return true;
	return false;
}

static void
idle_push(struct green_rt *rt, struct green_worker *w)
{
	w->on_idle_list = true;
	w->idle_next = rt->idle_list;
	rt->idle_list = w;
	rt->nidle++;
	atomic_store(&rt->nidle_hint, rt->nidle);
}

/* Under idle_lock: take w off the idle list.  Returns false when a waker
 * already took it (and counted it as spinning). */
static bool
idle_remove(struct green_rt *rt, struct green_worker *w)
{
	struct green_worker **p;

	if (!w->on_idle_list)
		return false;
	for (p = &rt->idle_list; *p != w; p = &(*p)->idle_next)
		;
	*p = w->idle_next;
	w->on_idle_list = false;
	rt->nidle--;
	atomic_store(&rt->nidle_hint, rt->nidle);
	return true;
}

/*
 * Wake worker w from its idle wait: its futex, or the netpoller when it
 * waits there.  seq_cst on both sides (here: wakeword then polling; in
 * poll_wait: polling then wakeword): one of the two sees the other.
 */
void
green__worker_kick(struct green_worker *w)
{
	atomic_store(&w->wakeword, 1);
	if (atomic_load(&w->polling))
		green__netpoll_interrupt();
	else
		green__futex_wake(&w->wakeword, 1);
}

/*
 * The monitor: make an idle member a spare (one beyond nworkers that its
 * held task's return did not retire), not the one waiting for timers and
 * I/O.  Returns false when there is none.
 */
bool
green__idle_demote(struct green_rt *rt)
{
	struct green_worker *w;

	green__lock(&rt->timer_lock); /* before idle_lock, as everywhere */
	green__lock(&rt->idle_lock);
	for (w = rt->idle_list; w != NULL && w == rt->timer_waiter;
	     w = w->idle_next)
		;
	if (w != NULL) {
		idle_remove(rt, w);
		atomic_store(&w->member, false);
		atomic_fetch_sub(&rt->nmembers, 1);
		/* counted as spinning, as a waker counts the worker it takes
		 * off the list (idle_park); green__worker_spare_wait undoes */
		atomic_fetch_add(&rt->nspinning, 1);
	}
	green__unlock(&rt->idle_lock);
	green__unlock(&rt->timer_lock);
	if (w == NULL)
		return false;
	green__worker_kick(w);
	return true;
}

/* Wake one parked worker if there is one and nobody is spinning. */
void
green__wake_worker(void)
{
	struct green_rt *rt = green__rt;
	struct green_worker *w;
	unsigned zero = 0;

	if (atomic_load(&rt->nidle_hint) == 0 ||
	    atomic_load(&rt->nspinning) != 0)
		return;
	/* only one waker at a time becomes "the one spinner" (Go's wakep) */
	if (!atomic_compare_exchange_strong(&rt->nspinning, &zero, 1))
		return;
	green__lock(&rt->idle_lock);
	w = rt->idle_list;
	if (w != NULL)
		idle_remove(rt, w);
	green__unlock(&rt->idle_lock);
	if (w == NULL) {
		atomic_fetch_sub(&rt->nspinning, 1);
		return;
	}
	/* the woken worker starts out spinning: it owns the count we took */
	green__worker_kick(w);
}

void
green__quiet_kick(struct green_rt *rt)
{
	atomic_fetch_add(&rt->quiet_seq, 1);
	green__futex_wake(&rt->quiet_seq, INT_MAX);
}

/*
 * The waiter's wait: in the netpoller until an fd event, the deadline of
 * the earliest timer (-1: none) or a kick.  Tasks made ready by events are
 * on this worker's queue when it returns.
 */
static void
poll_wait(struct green_worker *w, int64_t deadline)
{
	struct green_rt *rt = green__rt;

	/* seq_cst: see green__worker_kick */
	atomic_store(&w->polling, true);
	if (atomic_load(&w->wakeword) == 0 && !atomic_load(&rt->stopping))
		green__netpoll(w, deadline);
	atomic_store(&w->polling, false);
}

/*
 * Nothing to run: park this worker until woken.  One idle worker at a time
 * is the waiter: it waits in the netpoller, with the earliest timer as its
 * timeout, whenever timers are armed or tasks wait for I/O.
 */
static void
idle_park(struct green_worker *w)
{
	struct green_rt *rt = green__rt;
	int64_t deadline = -1;
	bool all_idle, waiter = false;

	green__lock(&rt->idle_lock);
	idle_push(rt, w);
	all_idle = rt->nidle == atomic_load(&rt->nmembers);
	green__unlock(&rt->idle_lock);

	if (w->spinning) {
		w->spinning = false;
		/* seq_cst, then look again: work pushed by someone who saw us
		 * still spinning (and so woke nobody) is found here */
		atomic_fetch_sub(&rt->nspinning, 1);
		if (any_work()) {
			bool removed;
			green__lock(&rt->idle_lock);
			removed = idle_remove(rt, w);
			green__unlock(&rt->idle_lock);
			/* a waker that took us off the list counted us */
			if (removed)
				atomic_fetch_add(&rt->nspinning, 1);
			w->spinning = true;
			/* we were counted idle a moment: the monitor may
			 * have gone to sleep on it */
			green__monitor_kick(rt);
			return;
		}
	}

	/* one idle worker waits for the earliest timer and for I/O */
	green__lock(&rt->timer_lock);
	if (rt->timer_waiter == NULL &&
	    (rt->nheap > 0 || atomic_load(&rt->io_waiters) > 0)) {
		rt->timer_waiter = w;
		waiter = true;
		deadline = rt->nheap > 0 ? rt->heap[0]->deadline : -1;
	}
	green__unlock(&rt->timer_lock);
	if (all_idle) {
		green__stack_trim();
		if (!waiter)
			green__quiet_kick(rt);
	}

	GREEN_TRACE(GT_WORKER_PARK, 0, 0, 0, 0);
	if (waiter)
		poll_wait(w, deadline);
	else
		while (atomic_load(&w->wakeword) == 0 &&
		       !atomic_load(&rt->stopping))
			green__futex_wait(&w->wakeword, 0, -1);
	atomic_store(&w->wakeword, 0);
	GREEN_TRACE(GT_WORKER_UNPARK, 0, 0, 0, 0);

	if (waiter) {
		green__lock(&rt->timer_lock);
		if (rt->timer_waiter == w)
			rt->timer_waiter = NULL;
		green__unlock(&rt->timer_lock);
	}
	green__lock(&rt->idle_lock);
	if (!idle_remove(rt, w))
		w->spinning = true; /* a waker took us off and counted us */
	green__unlock(&rt->idle_lock);
	/* off the idle list (counted out of nidle_hint) before the kick:
	 * the monitor, woken, must see a worker that may run tasks */
	green__monitor_kick(rt);
}

/* Block until there is a task for w; NULL when the runtime stops. */
static struct green_task *
find_runnable(struct green_worker *w)
{
	struct green_rt *rt = green__rt;
	struct green_task *t;

	for (;;) {
		green__trace_safepoint(w);
		if (atomic_load_explicit(&rt->stopping, memory_order_relaxed)) {
			if (w->spinning) {
				w->spinning = false;
				atomic_fetch_sub(&rt->nspinning, 1);
			}
			return NULL;
		}
		if (!atomic_load(&w->member)) {
			green__worker_spare_wait(w);
			continue;
		}
		if (green__timer_next() >= 0)
			green__timers_run(green_now());
		if ((t = green__runq_pop(w, false)) != NULL ||
		    (t = green__globq_pop(w, SIZE_MAX)) != NULL)
			goto found;
		if (atomic_load_explicit(&rt->io_waiters,
					 memory_order_relaxed) > 0 &&
		    green__netpoll(w, 0) > 0 &&
		    (t = green__runq_pop(w, false)) != NULL)
			goto found;
		if (w->spinning ||
		    2 * atomic_load(&rt->nspinning) <
			    atomic_load(&rt->nmembers) -
				    atomic_load(&rt->nidle_hint)) {
			if (!w->spinning) {
				w->spinning = true;
				atomic_fetch_add(&rt->nspinning, 1);
			}
			if ((t = steal_work(w)) != NULL)
				goto found;
		}
		idle_park(w);
	}
found:
	if (w->spinning)
		stop_spinning(w);
	return t;
}

/* Every signal but the synchronous ones, which must reach the faulting
 * thread (the overflow and crash reports need them). */
static void
async_signals(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGTRAP);
	sigdelset(set, SIGSYS);
	sigdelset(set, SIGABRT);
}

/* The worker loop runs on the thread's own stack: tell the sanitizers. */
static __attribute__((noinline)) void
sched_stack(struct green_worker *w)
{
	pthread_attr_t a;
	void *lo = NULL;
	size_t len = 0;

	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstack(&a, &lo, &len);
		pthread_attr_destroy(&a);
	}
	san_ctx_stack(&w->sched_ctx, lo, len, false);
}

static void *
worker_loop(void *arg)
{
	struct green_worker *w = arg;
	struct green_task *t;

	tls_worker = w;
	atomic_store(&w->tid, (int)gettid());
	green__diag_thread_init(w);
	sched_stack(w);
	while ((t = find_runnable(w)) != NULL) {
		GREEN_TRACE(GT_START, 1, t->id, 0, 0);
		green__sched_prepare(w, t);
		w->current = t;
		green__note_switch(w, t);
		switch_to(&w->sched_ctx, &t->ctx, false);
		san_resumed(&w->sched_ctx);
		run_after(w);
		/* relaxed: a mark set after the switch's own check */
		if (atomic_load_explicit(&w->held, memory_order_relaxed))
			green__held_return(w);
	}
	green__ss_worker_fini(w);
	green__diag_thread_fini(w);
	tls_worker = NULL;
	return NULL;
}

/*
 * A worker thread starts here.  Its loop runs on the thread's own 8 MiB
 * stack and never needs a split: a zero guard passes every check.  Set
 * before any split-stack prologue runs, because libgcc's pthread_create
 * wrapper (a program linked with -fsplit-stack and a static libgreen)
 * starts threads with a guard only 16 KB below the first frame.
 */
static GREEN_NO_SPLIT void *
worker_main(void *arg)
{
#ifdef GREEN_SPLIT_STACK
	green__ss_set_guard(NULL);
#endif
	return worker_loop(arg);
}

/* --- life ---------------------------------------------------------------- */

/* Start the thread of worker slot w (green_init, and the monitor for a
 * spare).  0, -ENOMEM or -EAGAIN. */
int
green__worker_start(struct green_rt *rt, struct green_worker *w)
{
	sigset_t async, old;
	int err;

	w->id = (unsigned)(w - rt->workers);
	w->rng = 0x9e3779b97f4a7c15ull * (w->id + 1);
	if ((err = green__diag_altstack_map(w)) != 0)
		return err;
	/* the worker inherits a mask with asynchronous signals blocked: a
	 * handler would otherwise run on some task's stack */
	async_signals(&async);
	pthread_sigmask(SIG_BLOCK, &async, &old);
	err = green__fault(GF_THREAD)
		      ? EAGAIN
		      : pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		green__diag_altstack_unmap(w);
		return -EAGAIN;
	}
	return 0;
}

/*
 * Worker w is a spare (green__held_return retired it): hand its queue to
 * the others, then park until the monitor makes it a member again or the
 * runtime stops.  Kicks for the tracer's safe point wake it meanwhile.
 */
void
green__worker_spare_wait(struct green_worker *w)
{
	struct green_rt *rt = green__rt;
	bool all_idle;

	if (w->spinning) {
		/* green__idle_demote counted us as a waker does */
		w->spinning = false;
		atomic_fetch_sub(&rt->nspinning, 1);
	}
	if (green__runq_drain(w))
		green__wake_worker();
	/* one member fewer may leave every member parked: tell
	 * green_shutdown's wait, as the last worker to park does */
	green__lock(&rt->idle_lock);
	all_idle = rt->nidle == atomic_load(&rt->nmembers);
	green__unlock(&rt->idle_lock);
	if (all_idle)
		green__quiet_kick(rt);
	for (;;) {
		green__trace_safepoint(w);
		if (atomic_load(&w->member) || atomic_load(&rt->stopping))
			return;
		green__futex_wait(&w->wakeword, 0, -1);
		atomic_store(&w->wakeword, 0);
	}
}

/* Returns 0 and the worker count, or -EINVAL. */
static int
worker_count(const green_config_t *cfg, unsigned *n)
{
	const char *env = getenv("GREEN_WORKERS");
	long cpus;

	if (cfg != NULL && cfg->workers != 0) {
		*n = cfg->workers;
	} else if (env != NULL && *env != '\0') {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(env, &end, 10);
		if (errno != 0 || *end != '\0' || v == 0 ||
		    v > GREEN_MAX_WORKERS || env[0] == '-')
			return -EINVAL;
		*n = (unsigned)v;
	} else {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		*n = cpus > 0 ? (unsigned)cpus : 1;
		if (*n > GREEN_MAX_WORKERS)
			*n = GREEN_MAX_WORKERS;
	}
	return *n > GREEN_MAX_WORKERS ? -EINVAL : 0;
}

static int
check_config(const green_config_t *cfg)
{
	int err;

	if (cfg == NULL)
		return 0;
	if ((err = green__stack_check(cfg->stack_kind, cfg->stack_size,
				      cfg->stack_max)))
		return err;
#if !GREEN_TRACE_BUILD
	if (cfg->trace_path != NULL)
		return -ENOTSUP;
#endif
	if (cfg->offload_threads > GREEN_MAX_OFFLOAD ||
	    cfg->max_spares > GREEN_MAX_SPARES)
		return -EINVAL;
	return 0;
}

static void
rt_free(struct green_rt *rt)
{
	green__monitor_free(rt);
	green__offload_fini(rt);
	green__netpoll_fini(rt);
	green__free(rt->workers, rt->nslots * sizeof(*rt->workers));
	green__free(rt->heap, rt->capheap * sizeof(*rt->heap));
	green__globq_fini(rt);
	pthread_mutex_destroy(&rt->gq_lock);
	pthread_mutex_destroy(&rt->idle_lock);
	pthread_mutex_destroy(&rt->timer_lock);
	pthread_mutex_destroy(&rt->slab_lock);
	pthread_mutex_destroy(&rt->stack_lock);
	green__free(rt, sizeof(*rt));
}

#define ALL_THREADS UINT_MAX /* stop_workers: every thread started */

static void
stop_workers(struct green_rt *rt, unsigned n)
{
	atomic_store(&rt->stopping, true);
	/* first: it starts threads */
	green__monitor_stop(rt);
	/* every thread started, counted only now that none can start (read
	 * before, a spare the monitor started meanwhile ran on after
	 * green_shutdown: a SIGSEGV under valgrind) */
	if (n == ALL_THREADS)
		n = atomic_load(&rt->nthreads);
	for (unsigned i = 0; i < n; i++)
		green__worker_kick(&rt->workers[i]);
	for (unsigned i = 0; i < n; i++)
		pthread_join(rt->workers[i].thread, NULL);
}

/* The default stack kind and the default sizes of both kinds. */
static void
stack_defaults(struct green_rt *rt, const green_config_t *cfg)
{
	size_t size = cfg != NULL ? cfg->stack_size : 0;

	rt->stack_kind =
		green__stack_requested(cfg != NULL ? cfg->stack_kind : 0);
	/* the size belongs to the kind check_config checked it against */
	rt->fixed_size = GREEN_DEFAULT_STACK;
	rt->seg_size = GREEN_DEFAULT_SEGMENT;
	if (size != 0 && rt->stack_kind == GREEN_STACK_FIXED)
		rt->fixed_size = size;
	else if (size != 0)
		rt->seg_size = size;
	rt->stack_max = cfg != NULL && cfg->stack_max != 0
				? cfg->stack_max
				: GREEN_DEFAULT_STACK_MAX;
	rt->stack_why = GREEN_SPLIT_DEFAULT ? GREEN_WHY_ASKED : GREEN_WHY_BUILD;
	/* a lazily bound program would overflow a first segment in the
	 * dynamic linker; one with libgcc's __morestack cannot grow ours
	 * (splitstack.c) */
	if ((cfg == NULL || cfg->stack_kind == GREEN_STACK_DEFAULT) &&
	    rt->stack_kind == GREEN_STACK_SEGMENTED) {
		if (green__ss_foreign_runtime())
			rt->stack_why = GREEN_WHY_FOREIGN;
		else if (green__ss_lazy_binding())
			rt->stack_why = GREEN_WHY_LAZY;
		if (rt->stack_why != GREEN_WHY_ASKED)
			rt->stack_kind = GREEN_STACK_FIXED;
	}
	rt->fixed_size = green__round_stack(rt->fixed_size);
	rt->seg_size = (rt->seg_size + 63) & ~(size_t)63;
}

/* green_init failed after its first n threads started: undo, return err. */
static int
init_fail(struct green_rt *rt, unsigned n, int err)
{
	stop_workers(rt, n);
	green__diag_uninstall();
	green__rt = NULL;
	rt_free(rt);
	green__unlock(&life_lock);
	return err;
}

int
green_init(const green_config_t *cfg)
{
	struct green_rt *rt;
	unsigned n;
	int err;

	if ((err = check_config(cfg)) != 0 || (err = worker_count(cfg, &n)))
		return err;
	green__lock(&life_lock);
	if (green__rt != NULL) {
		green__unlock(&life_lock);
		return -EBUSY;
	}
	rt = green__calloc(sizeof(*rt));
	if (rt == NULL)
		goto nomem;
	rt->nslots = n + (cfg != NULL && cfg->max_spares != 0
				  ? cfg->max_spares
				  : GREEN_DEFAULT_SPARES);
	rt->workers = green__calloc(rt->nslots * sizeof(*rt->workers));
	if (rt->workers == NULL) {
		green__free(rt, sizeof(*rt));
		goto nomem;
	}
	rt->nworkers = n;
	rt->epfd = rt->evfd = -1;
	if ((err = green__netpoll_init(rt)) != 0 ||
	    (err = green__offload_init(
		     rt, cfg != NULL ? cfg->offload_threads : 0)) != 0) {
		green__netpoll_fini(rt);
		green__free(rt->workers, rt->nslots * sizeof(*rt->workers));
		green__free(rt, sizeof(*rt));
		green__unlock(&life_lock);
		return err;
	}
	stack_defaults(rt, cfg);
	pthread_mutex_init(&rt->gq_lock, NULL);
	pthread_mutex_init(&rt->idle_lock, NULL);
	pthread_mutex_init(&rt->timer_lock, NULL);
	pthread_mutex_init(&rt->slab_lock, NULL);
	pthread_mutex_init(&rt->stack_lock, NULL);
	atomic_store(&rt->timer_next, INT64_MAX);
	atomic_store(&rt->next_id, 1);
	green__rt = rt;
	green__diag_install();
	/* before the workers, which kick it: it sleeps until one does */
	if ((err = green__monitor_start(rt, cfg)) != 0)
		return init_fail(rt, 0, err);
	for (unsigned i = 0; i < n; i++) {
		atomic_store(&rt->workers[i].member, true);
		atomic_store(&rt->nmembers, i + 1);
		/* counted first: the thread iterates over the started ones,
		 * itself included */
		atomic_store(&rt->nthreads, i + 1);
		if ((err = green__worker_start(rt, &rt->workers[i])) != 0) {
			atomic_store(&rt->nthreads, i);
			return init_fail(rt, i, err);
		}
	}
	/* it may have gone to sleep on a runtime with no members yet, and a
	 * worker that finds a task at once never parks, so never kicks it */
	green__monitor_kick(rt);
	if ((err = green__trace_init(rt, cfg)) != 0)
		return init_fail(rt, n, err);
	green__unlock(&life_lock);
	return 0;
nomem:
	green__unlock(&life_lock);
	return -ENOMEM;
}

static uint64_t
live_tasks(struct green_rt *rt)
{
	uint64_t spawned = atomic_load(&rt->foreign_spawned), exited = 0;

	for (unsigned i = 0; i < atomic_load(&rt->nthreads); i++) {
		spawned += atomic_load_explicit(&rt->workers[i].nspawned,
						memory_order_relaxed);
		exited += atomic_load_explicit(&rt->workers[i].nexited,
					       memory_order_relaxed);
	}
	return spawned - exited;
}

/*
 * Under idle_lock with every worker parked: 0 when no task is left,
 * -EDEADLK when tasks are left but nothing can ever wake one, 1 otherwise.
 * The workers' counters are stable here: each worker's last update came
 * before it took idle_lock to park.
 */
static int
quiet_state(struct green_rt *rt)
{
	bool timers;

	if (rt->nidle != atomic_load(&rt->nmembers) ||
	    atomic_load(&rt->nheld) != 0 ||
	    atomic_load(&rt->foreign_busy) != 0)
		return 1;
	if (live_tasks(rt) == 0)
		return 0;
	/* not timer_lock: it is taken before idle_lock elsewhere (a timer
	 * wakes a task, which may wake a worker); with every worker parked
	 * nobody arms a timer, so the published earliest deadline is exact */
	timers = green__timer_next() >= 0;
	/* a task waiting for an fd or a pool job is woken from outside */
	if (timers || atomic_load(&rt->io_waiters) > 0 ||
	    atomic_load(&rt->offload_waiters) > 0 || any_work())
		return 1;
	return -EDEADLK;
}

/* Wait until no task is left (0) or the rest are deadlocked (-EDEADLK). */
static int
wait_quiet(struct green_rt *rt)
{
	for (;;) {
		uint32_t seq = atomic_load(&rt->quiet_seq);
		int st;

		green__lock(&rt->idle_lock);
		st = quiet_state(rt);
		if (st == -EDEADLK && !rt->deadlocked) {
			rt->deadlocked = true;
			green__deadlock_report();
		}
		green__unlock(&rt->idle_lock);
		if (st <= 0)
			return st;
		green__futex_wait(&rt->quiet_seq, seq, -1);
	}
}

/* Free the stacks of tasks abandoned in a deadlock. */
static void
drop_task_stack(struct green_task *t, void *arg)
{
	(void)arg;
	if (t->magic == GREEN_TASK_MAGIC && t->stack != NULL) {
		san_ctx_destroy(&t->ctx);
		green__ss_chain_put(NULL, &t->ctx);
		green__stack_put(NULL, t->stack);
		t->stack = NULL;
	}
}

int
green_shutdown(void)
{
	struct green_rt *rt;
	struct green_worker *w = green__worker();
	int st;

	if (w != NULL)
		return -EPERM;
	green__lock(&life_lock);
	rt = green__rt;
	if (rt == NULL) {
		green__unlock(&life_lock);
		return -EPERM;
	}
	st = wait_quiet(rt);
	green__trace_fini(rt);
	stop_workers(rt, ALL_THREADS);
	green__diag_uninstall();
	if (st == -EDEADLK)
		green__task_foreach(drop_task_stack, NULL);
	for (unsigned i = 0; i < atomic_load(&rt->nthreads); i++) {
		green__stack_pool_drain(&rt->workers[i]);
		green__chan_cache_drain(&rt->workers[i]);
	}
	green__stack_global_drain();
	green__task_slab_free_all();
	green__group_shutdown();
	green__rt = NULL;
	rt_free(rt);
	green__unlock(&life_lock);
	return st;
}

struct run_main {
	void (*fn)(void *);
	void *arg;
};

static void *run_main(void *p);

/* The function whose code decides a task's stack kind: a task started by
 * green_run runs the program's fn through run_main. */
const void *
green__entry_of(void *(*fn)(void *), void *arg)
{
	return fn == run_main ? (const void *)((struct run_main *)arg)->fn
			      : (const void *)fn;
}

static void *
run_main(void *p)
{
	struct run_main *m = p;

	m->fn(m->arg);
	return NULL;
}

int
green_run(void (*fn)(void *), void *arg, const green_config_t *cfg)
{
	struct run_main m = { fn, arg };
	green_attr_t attr = { .name = "main" };
	int err;

	if (fn == NULL)
		return -EINVAL;
	if ((err = green_init(cfg)) != 0)
		return err;
	/* run_main calls fn: fn's code decides the kind, not run_main's
	 * (green__entry_of) */
	err = green_spawn(NULL, &attr, run_main, &m);
	if (err != 0) {
		green_shutdown();
		return err;
	}
	return green_shutdown();
}

int
green_worker_id(void)
{
	struct green_worker *w = green__worker();

	return w != NULL && w->current != NULL ? (int)w->id : -EPERM;
}
