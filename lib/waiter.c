/*
 * waiter.c - wait lists: what blocks on a channel, mutex, condition, wait
 * group or semaphore (Go's sudog).
 *
 * A waiter lives on the blocked caller's stack and sits on the object's
 * list under the object's lock.  It stands for a task (parked through
 * park.c) or for a plain OS thread (blocked on a futex word), so every
 * object works from both.  Wakers take a waiter off the list and claim it;
 * a claim fails when a deadline, a cancellation or another select case won
 * first, and the waker moves on to the next waiter.  A waiter that wakes
 * for another reason takes itself off the list under the same lock.
 */
#include <errno.h>

#include "green-internal.h"

void
green__unlock_spin(void *lock)
{
	green__spin_unlock(lock);
}

/* Prepare w for the caller: self is the running task, or NULL. */
void
green__waiter_init(struct green__waiter *w, struct green_task *self)
{
	w->next = w->prev = NULL;
	w->task = self;
	/* relaxed: w is not shared until listed under the object's lock */
	atomic_store_explicit(&w->tword, WAKE_ARMED, memory_order_relaxed);
	atomic_store_explicit(&w->tfutex, 0, memory_order_relaxed);
	w->result = 0;
	w->elem = NULL;
	w->index = 0;
	w->listed = false;
	w->is_send = false;
	w->in_select = false;
	w->since = 0;
	w->obj = NULL;
	w->home = w;
	w->won = NULL;
}

/* Make a woken waiter ready to wait again (a mutex waiter that lost). */
void
green__waiter_rearm(struct green__waiter *w)
{
	atomic_store_explicit(&w->tword, WAKE_ARMED, memory_order_relaxed);
	atomic_store_explicit(&w->tfutex, 0, memory_order_relaxed);
	w->won = NULL;
}

void
green__waitq_push(struct green__waiter **head, struct green__waiter **tail,
		  struct green__waiter *w)
{
	w->next = NULL;
	w->prev = *tail;
	if (*tail != NULL)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
	w->listed = true;
}

void
green__waitq_push_front(struct green__waiter **head,
			struct green__waiter **tail, struct green__waiter *w)
{
	w->prev = NULL;
	w->next = *head;
	if (*head != NULL)
		(*head)->prev = w;
	else
		*tail = w;
	*head = w;
	w->listed = true;
}

void
green__waitq_remove(struct green__waiter **head, struct green__waiter **tail,
		    struct green__waiter *w)
{
	if (!w->listed)
		return;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		*head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		*tail = w->prev;
	w->next = w->prev = NULL;
	w->listed = false;
}

/* Put w back where it was: after prev, or first when prev is NULL. */
static void
waitq_insert_after(struct green__waiter **head, struct green__waiter **tail,
		   struct green__waiter *prev, struct green__waiter *w)
{
	w->prev = prev;
	w->next = prev != NULL ? prev->next : *head;
	if (w->next != NULL)
		w->next->prev = w;
	else
		*tail = w;
	if (prev != NULL)
		prev->next = w;
	else
		*head = w;
	w->listed = true;
}

/* Claim w for a wake; see green__claim.  Returns false if w is taken. */
bool
green__waiter_claim(struct green__waiter *w)
{
	struct green__waiter *home = w->home;
	uint64_t s = WAKE_ARMED;

	if (w->task != NULL) {
		if (!green__claim(w->task, false))
			return false;
	} else if (!atomic_compare_exchange_strong(&home->tword, &s,
						   WAKE_ARMED | WAKE_WOKEN)) {
		return false;
	}
	/* a select learns from this which of its cases won; the owner
	 * reads it after the finish that publishes it */
	home->won = w;
	return true;
}

void
green__waiter_finish(struct green__waiter *w, int result)
{
	struct green__waiter *home = w->home;

	if (w->task != NULL) {
		green__finish(w->task, result);
		return;
	}
	home->result = result;
	/* release: the result and any data handed over come first */
	atomic_store_explicit(&home->tfutex, 1, memory_order_release);
	green__futex_wake(&home->tfutex, 1);
}

/*
 * Wake the first waiter that can still be woken with result, take it off
 * the list and return it, or NULL.  fill(w, arg) hands data over: for a
 * plain task waiter it runs before the single-CAS wake (so it must leave
 * nothing to undo when that wake fails: that waiter then returns an error
 * and its buffer is unspecified), for any other waiter between claim and
 * finish.
 *
 * Waiters that cannot be woken (a deadline, a cancellation or another
 * select case won) stay listed: their owners take them off under the lock,
 * so an object with such a waiter is still in use (destroy says -EBUSY)
 * until they have, and never freed under them.
 */
struct green__waiter *
green__waitq_wake(struct green__waiter **head, struct green__waiter **tail,
		  void (*fill)(struct green__waiter *, void *), void *arg,
		  int result)
{
	struct green__waiter *w, *next;

	for (w = *head; w != NULL; w = next) {
		next = w->next;
		if (w->task != NULL && !w->in_select) {
			/* off the list first: once woken, w's owner may run
			 * and its stack (where w lives) be gone */
			struct green__waiter *prev = w->prev;
			fill(w, arg);
			green__waitq_remove(head, tail, w);
			if (green__wake(w->task, result))
				return w;
			waitq_insert_after(head, tail, prev, w);
		} else if (green__waiter_claim(w)) {
			green__waitq_remove(head, tail, w);
			fill(w, arg);
			green__waiter_finish(w, result);
			return w;
		}
	}
	return NULL;
}

/* Claim the first claimable waiter and take it off the list (see above). */
struct green__waiter *
green__waitq_claim(struct green__waiter **head, struct green__waiter **tail)
{
	struct green__waiter *w;

	for (w = *head; w != NULL; w = w->next) {
		if (green__waiter_claim(w)) {
			green__waitq_remove(head, tail, w);
			return w;
		}
	}
	return NULL;
}

static int
thread_wait(struct green__waiter *w, int64_t deadline)
{
	uint64_t s = WAKE_ARMED;

	/* acquire: pairs with the finisher's release of tfutex */
	while (atomic_load_explicit(&w->tfutex, memory_order_acquire) == 0) {
		if (green__futex_wait(&w->tfutex, 0, deadline) != -ETIMEDOUT)
			continue;
		/* the deadline passed: win our own wait, or let the waker
		 * that already won finish */
		if (atomic_compare_exchange_strong(&w->tword, &s,
						   WAKE_ARMED | WAKE_WOKEN))
			return -ETIMEDOUT;
		deadline = -1;
	}
	return w->result;
}

/*
 * Block the caller on its listed waiter w until a waker finishes it, the
 * deadline passes (-ETIMEDOUT) or, for a task, it is cancelled
 * (-ECANCELED).  unlock(arg) releases the object's lock once the caller can
 * no longer miss a wake.  The caller must take w off the list (under the
 * lock) when the result is a timeout or a cancellation.
 */
int
green__wait(struct green__waiter *w, enum green_wait reason, const void *obj,
	    void (*unlock)(void *), void *arg, int64_t deadline, int flags)
{
	struct green_rt *rt = green__rt;
	int r;

	if (w->task != NULL)
		return green__park(w->task, reason, obj, unlock, arg, deadline,
				   flags);
	/* A thread blocked here can wake a task: no deadlock report while
	 * it waits (seq_cst, as for foreign spawns). */
	if (rt != NULL)
		atomic_fetch_add(&rt->foreign_busy, 1);
	unlock(arg);
	r = thread_wait(w, deadline);
	if (rt != NULL && atomic_fetch_sub(&rt->foreign_busy, 1) == 1)
		green__quiet_kick(rt); /* let a waiting shutdown look again */
	return r;
}
