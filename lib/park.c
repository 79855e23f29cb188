/*
 * park.c - THE parking primitive: every blocking operation is a park and a
 * wake (Go's gopark/goready).
 *
 * The protocol lives in one word per task, green_task.wake:
 *   - the task stores ARMED, then publishes itself where wakers look (a wait
 *     list under an object's lock, the timer heap, its cancel flag);
 *   - it switches away; only then, on the worker, the unlock function runs
 *     and PARKED is or-ed in;
 *   - a waker claims it by CASing WOKEN|BUSY into an ARMED, not yet WOKEN
 *     word: exactly one waker wins; the winner may hand data over, then
 *     finishes: clears BUSY and stores the result in the high half.
 * Whoever comes second of "PARKED" and "finished" queues the task: a waker
 * can never resume a task whose registers are not saved yet, and the task
 * never runs before the data it is handed is in place.
 *
 * A waker must know the park it wakes is the one it means.  Object wakers
 * guarantee it by waking under the object's lock, which the woken task takes
 * to unlist itself before it can park again; the timer wakes under the timer
 * lock, which green__timer_del takes; a cancellation is sticky, so waking a
 * later park is correct anyway.
 */
#include <errno.h>

#include "green-internal.h"
#include "runq.h"

/*
 * Park the running task t until a waker calls green__wake(t, result), the
 * deadline passes (-ETIMEDOUT; -1: none; its group's deadline when that is
 * earlier) or t is cancelled (-ECANCELED; neither of the last two when
 * flags has GREEN_PARK_NOCANCEL).  unlock(arg) runs after t's
 * registers are saved (unlock may be NULL).  Returns the wake result.
 */
int
green__park(struct green_task *t, enum green_wait reason, const void *obj,
	    void (*unlock)(void *), void *arg, int64_t deadline, int flags)
{
	bool nocancel = flags & GREEN_PARK_NOCANCEL;
	uint64_t s;

	/* a group's deadline bounds every park it may cut short: those a
	 * cancellation may (group.c) */
	if (!nocancel)
		deadline = green__deadline_cap(t, deadline);
	t->wait_reason = reason;
	t->wait_obj = obj;
	t->unlock_fn = unlock;
	t->unlock_arg = arg;
	/* release: wakers find t under an object's lock, which orders this
	 * store for them; a cancellation racing with this park is caught by
	 * after_park's check, behind a full barrier */
	atomic_store_explicit(&t->wake,
			      WAKE_ARMED | (nocancel ? WAKE_NOCANCEL : 0),
			      memory_order_release);
	if (!nocancel &&
	    atomic_load_explicit(&t->cancelled, memory_order_relaxed))
		green__wake(t, -ECANCELED);
	if (deadline >= 0)
		green__timer_add(t, deadline);
	/* acquire: pairs with the finisher's CAS, for the result */
	s = atomic_load_explicit(&t->wake, memory_order_acquire);
	if ((s & (WAKE_WOKEN | WAKE_BUSY)) == WAKE_WOKEN) {
		/* woken before we left: no switch needed */
		if (unlock != NULL)
			unlock(arg);
	} else {
		GREEN_TRACE(GT_PARK, 2, t->id, reason, 0);
		green__schedule(green__worker(), t, green__after_park);
	}
	if (deadline >= 0)
		green__timer_del(t);
	s = atomic_load_explicit(&t->wake, memory_order_acquire);
	/* relaxed: only this task reads its word while it is not armed;
	 * the next park's seq_cst store orders it for the wakers */
	atomic_store_explicit(&t->wake, 0, memory_order_relaxed);
	t->wait_reason = GREEN_WAIT_NONE;
	t->wait_obj = NULL;
	return (int)(int32_t)(s >> 32);
}

/*
 * Win t's current park: the first step of a wake.  A winner that hands
 * data over (a channel copying into the receiver's buffer) does so between
 * green__claim and green__finish; t cannot run in between.  cancel: this
 * is green_cancel, which loses against a GREEN_PARK_NOCANCEL park.
 * Returns false when t is not parked or another waker won.
 */
bool
green__claim(struct green_task *t, bool cancel)
{
	uint64_t s = atomic_load(&t->wake);

	do {
		if (!(s & WAKE_ARMED) || (s & WAKE_WOKEN) ||
		    (cancel && (s & WAKE_NOCANCEL)))
			return false;
		/* seq_cst: see green__park about cancellation */
	} while (!atomic_compare_exchange_weak(&t->wake, &s,
					       s | WAKE_WOKEN | WAKE_BUSY));
	return true;
}

/* Second step of a wake: publish result and make t runnable once its
 * registers are saved (whoever of us and after_park comes second). */
void
green__finish(struct green_task *t, int result)
{
	uint64_t s = atomic_load(&t->wake), n;

	do {
		n = (s & 0xffffffffu & ~(uint64_t)WAKE_BUSY) |
		    ((uint64_t)(uint32_t)result << 32);
		/* seq_cst (release at least): publishes the data handed
		 * over before t can run */
	} while (!atomic_compare_exchange_weak(&t->wake, &s, n));
	if (s & WAKE_PARKED)
		green__ready(t);
}

/*
 * Try to wake t's current park with result: claim and finish in one CAS,
 * for wakers with no data to hand over after winning.
 */
bool
green__wake(struct green_task *t, int result)
{
	bool cancel = result == -ECANCELED;
	uint64_t s = atomic_load(&t->wake), n;

	do {
		if (!(s & WAKE_ARMED) || (s & WAKE_WOKEN) ||
		    (cancel && (s & WAKE_NOCANCEL)))
			return false;
		n = (s & 0xffffffffu) | WAKE_WOKEN |
		    ((uint64_t)(uint32_t)result << 32);
		/* seq_cst: see green__park about cancellation; also
		 * publishes what the waker wrote for t */
	} while (!atomic_compare_exchange_weak(&t->wake, &s, n));
	if (s & WAKE_PARKED)
		green__ready(t);
	return true;
}

/* Runs on t's old worker right after t switched away (see schedule). */
void
green__after_park(struct green_worker *w, struct green_task *t)
{
	void (*unlock)(void *) = t->unlock_fn;
	uint64_t old;

	if (unlock != NULL)
		unlock(t->unlock_arg);
	/* seq_cst RMW: totally ordered with the claim and finish CASes; a
	 * finish still in progress (BUSY) queues t itself */
	old = atomic_fetch_or(&t->wake, WAKE_PARKED);
	if ((old & (WAKE_WOKEN | WAKE_BUSY)) == WAKE_WOKEN) {
		/* woken while switching away: its waker did not queue it */
		GREEN_TRACE(GT_READY, 3, t->id, 0, w->id);
		green__runq_push(w, t);
		green__wake_worker();
	} else if (!(old & (WAKE_WOKEN | WAKE_NOCANCEL)) &&
		   atomic_load(&t->cancelled)) {
		/* Dekker with green_cancel: it stores the flag, then CASes
		 * this word; we or-ed PARKED in, then load the flag.  Both
		 * RMWs are seq_cst on one word, so if its CAS saw t not yet
		 * armed, this load sees the flag. */
		green__wake(t, -ECANCELED);
	}
}

/*
 * Make the parked task t runnable.  From a task, t goes to the LIFO slot of
 * the waker's worker (a message passed between two tasks stays in cache);
 * from a worker's own loop, to its ring; from any other thread, to the
 * global queue.  Another worker is woken only when something stealable was
 * added (Tokio's rule: a task alone in the LIFO slot is not stealable yet).
 */
void
green__ready(struct green_task *t)
{
	struct green_worker *w = green__worker();

	GREEN_TRACE(GT_READY, 3, t->id,
		    w != NULL && w->current != NULL ? w->current->id : 0,
		    w != NULL ? w->id : GREEN_TRACE_SOURCE_OTHER);
	if (w == NULL) {
		green__globq_push(t);
		green__wake_worker();
		return;
	}
	if (w->current != NULL) {
		/* acq_rel: publishes t's fields; see runq.c */
		struct green_task *old = atomic_exchange_explicit(
			&w->q.lifo, t, memory_order_acq_rel);
		if (old == NULL)
			return;
		green__runq_push(w, old);
	} else {
		green__runq_push(w, t);
	}
	green__wake_worker();
}
