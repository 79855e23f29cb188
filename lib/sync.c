/*
 * sync.c - mutex, condition variable, wait group, semaphore.  Each parks
 * the task (or blocks a plain thread) on a wait list, never spins a worker.
 *
 * The mutex follows Go's sync.Mutex: normally an unlock frees the lock and
 * wakes the first waiter to compete for it, so a running task may take it
 * first (no convoy); a waiter that has waited more than STARVING_NS gets the
 * lock handed over directly, so nobody starves.  A waiter that lost the race
 * goes back to the front of the list and keeps its original wait start.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "green-internal.h"

#define STARVING_NS 1000000 /* Go's starvationThresholdNs */
#define HANDOFF 1	    /* wake result: the lock is yours */

/*
 * A destroyed mutex, condition variable or semaphore has no waiters and
 * this mark for its list's tail: every call on it but its init fails with
 * -EINVAL until it is initialised again (API.md: a destroyed handle is
 * detected).  Zero, what GREEN_*_INITIALIZER and init write, is a live
 * object, so the mark costs the objects nothing.
 */
static struct green__waiter destroyed_mark;
#define DESTROYED (&destroyed_mark)

/* Take *lock, the spin lock of the object whose list ends at *tail, unless
 * the object is destroyed (false, nothing held). */
static bool
lock_live(int *lock, struct green__waiter *const *tail)
{
	green__spin_lock(lock);
	if (*tail != DESTROYED)
		return true;
	green__spin_unlock(lock);
	return false;
}

/* Under the object's lock: destroy it unless busy (-EBUSY). */
static int
destroy_locked(int *lock, struct green__waiter **tail, bool busy)
{
	if (!busy)
		*tail = DESTROYED;
	green__spin_unlock(lock);
	return busy ? -EBUSY : 0;
}

/* Wait on a listed waiter and, unless a waker took it off, unlist it. */
static int
wait_on(struct green__waiter *w, enum green_wait reason, const void *obj,
	int *lock, struct green__waiter **head, struct green__waiter **tail,
	int64_t deadline, int flags)
{
	int r = green__wait(w, reason, obj, green__unlock_spin, lock, deadline,
			    flags);

	if (r == -ETIMEDOUT || r == -ECANCELED || r == -ENOMEM) {
		green__spin_lock(lock);
		green__waitq_remove(head, tail, w);
		green__spin_unlock(lock);
	}
	return r;
}

/* --- mutex -------------------------------------------------------------- */

int
green_mutex_init(green_mutex_t *m)
{
	if (m == NULL)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	return 0;
}

int
green_mutex_destroy(green_mutex_t *m)
{
	if (m == NULL || !lock_live(&m->_lock, &m->_tail))
		return -EINVAL;
	return destroy_locked(&m->_lock, &m->_tail,
			      m->_locked || m->_head != NULL);
}

/* Under m's lock: m is locked now, by self (a task) or a plain thread
 * (NULL).  cycle.c reads the owner, as a handle: a task that ended with
 * the mutex held is no owner any more once its struct serves another. */
static void
mutex_take(green_mutex_t *m, struct green_task *self)
{
	void *owner = NULL;

	m->_locked = 1;
	if (self != NULL)
		/* relaxed: self's own generation, stable while it runs */
		owner = green__handle(self, atomic_load_explicit(
						    &self->gen,
						    memory_order_relaxed));
	/* release: pairs with cycle.c's acquire */
	__atomic_store_n(&m->_owner, owner, __ATOMIC_RELEASE);
}

/* mutex_lock's wait, m's lock held and w listed; returns 0 with m ours. */
static int
mutex_wait(green_mutex_t *m, struct green__waiter *w, int64_t deadline,
	   int flags)
{
	int r;

	for (;;) {
		r = wait_on(w, GREEN_WAIT_MUTEX, m, &m->_lock, &m->_head,
			    &m->_tail, deadline, flags);
		if (r != 0)
			return r == HANDOFF ? 0 : r;
		/* woken to compete: take it, or queue again at the front */
		green__spin_lock(&m->_lock);
		if (!m->_locked) {
			mutex_take(m, w->task);
			green__spin_unlock(&m->_lock);
			return 0;
		}
		green__waiter_rearm(w);
		green__waitq_push_front(&m->_head, &m->_tail, w);
	}
}

static int
mutex_lock(green_mutex_t *m, int64_t deadline, int flags)
{
	struct green_task *self = green__self();
	struct green__waiter w;
	bool edge;
	int r;

	if (!lock_live(&m->_lock, &m->_tail))
		return -EINVAL;
	if (!m->_locked) {
		mutex_take(m, self);
		green__spin_unlock(&m->_lock);
		return 0;
	}
	if (deadline == 0) {
		green__spin_unlock(&m->_lock);
		return -ETIMEDOUT;
	}
	/* a task's wait without end (cond_wait's relock excepted: it cannot
	 * fail): does it close a cycle (cycle.c)? */
	edge = self != NULL && !(flags & GREEN_PARK_NOCANCEL) &&
	       green__deadline_cap(self, deadline) == -1;
	if (edge && green__wf_begin(self, GREEN_WAIT_MUTEX, m) != 0) {
		green__spin_unlock(&m->_lock);
		return -EDEADLK;
	}
	green__waiter_init(&w, self);
	w.since = green_now();
	green__waitq_push(&m->_head, &m->_tail, &w);
	r = mutex_wait(m, &w, deadline, flags);
	if (edge)
		green__wf_end(self);
	return r;
}

int
green_mutex_lock(green_mutex_t *m, int64_t deadline)
{
	if (m == NULL || deadline < -1)
		return -EINVAL;
	return mutex_lock(m, deadline, 0);
}

int
green_mutex_trylock(green_mutex_t *m)
{
	int r = 0;

	if (m == NULL || !lock_live(&m->_lock, &m->_tail))
		return -EINVAL;
	if (m->_locked)
		r = -EBUSY;
	else
		mutex_take(m, green__self());
	green__spin_unlock(&m->_lock);
	return r;
}

int
green_mutex_unlock(green_mutex_t *m)
{
	struct green__waiter *w;

	if (m == NULL || !lock_live(&m->_lock, &m->_tail))
		return -EINVAL;
	if (!m->_locked) {
		green__spin_unlock(&m->_lock);
		return -EPERM;
	}
	w = green__waitq_claim(&m->_head, &m->_tail);
	if (w != NULL && green_now() - w->since > STARVING_NS) {
		mutex_take(m, w->task); /* stays locked, for w */
		green__waiter_finish(w, HANDOFF);
	} else {
		m->_locked = 0;
		__atomic_store_n(&m->_owner, NULL, __ATOMIC_RELEASE);
		if (w != NULL)
			green__waiter_finish(w, 0);
	}
	green__spin_unlock(&m->_lock);
	return 0;
}

/* --- condition variable --------------------------------------------------- */

int
green_cond_init(green_cond_t *c)
{
	if (c == NULL)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	return 0;
}

int
green_cond_destroy(green_cond_t *c)
{
	if (c == NULL || !lock_live(&c->_lock, &c->_tail))
		return -EINVAL;
	return destroy_locked(&c->_lock, &c->_tail, c->_head != NULL);
}

int
green_cond_wait(green_cond_t *c, green_mutex_t *m, int64_t deadline)
{
	struct green__waiter w;
	int r;

	if (c == NULL || m == NULL || deadline < -1 ||
	    !lock_live(&c->_lock, &c->_tail))
		return -EINVAL;
	/* lock order: c, then m */
	if (!lock_live(&m->_lock, &m->_tail))
		r = -EINVAL;
	else {
		r = m->_locked ? 0 : -EPERM;
		green__spin_unlock(&m->_lock);
	}
	if (r != 0) {
		green__spin_unlock(&c->_lock);
		return r;
	}
	green__waiter_init(&w, green__self());
	green__waitq_push(&c->_head, &c->_tail, &w);
	/* unlocking under c's lock: a signal cannot slip in between */
	green_mutex_unlock(m);
	r = wait_on(&w, GREEN_WAIT_COND, c, &c->_lock, &c->_head, &c->_tail,
		    deadline, 0);
	/* m is ours again in every case, even after a cancellation */
	mutex_lock(m, -1, GREEN_PARK_NOCANCEL);
	return r;
}

static int
cond_wake(green_cond_t *c, bool all)
{
	struct green__waiter *w;

	if (c == NULL || !lock_live(&c->_lock, &c->_tail))
		return -EINVAL;
	while ((w = green__waitq_claim(&c->_head, &c->_tail)) != NULL) {
		green__waiter_finish(w, 0);
		if (!all)
			break;
	}
	green__spin_unlock(&c->_lock);
	return 0;
}

int
green_cond_signal(green_cond_t *c)
{
	return cond_wake(c, false);
}

int
green_cond_broadcast(green_cond_t *c)
{
	return cond_wake(c, true);
}

/* --- wait group ----------------------------------------------------------- */

int
green_wg_init(green_wg_t *wg)
{
	if (wg == NULL)
		return -EINVAL;
	memset(wg, 0, sizeof(*wg));
	return 0;
}

int
green_wg_add(green_wg_t *wg, long n)
{
	struct green__waiter *w;
	long count;

	if (wg == NULL)
		return -EINVAL;
	green__spin_lock(&wg->_lock);
	if (__builtin_add_overflow(wg->_count, n, &count) || count < 0) {
		green__spin_unlock(&wg->_lock);
		return count < 0 ? -EINVAL : -EOVERFLOW;
	}
	wg->_count = count;
	if (count == 0)
		while ((w = green__waitq_claim(&wg->_head, &wg->_tail)))
			green__waiter_finish(w, 0);
	green__spin_unlock(&wg->_lock);
	return 0;
}

int
green_wg_done(green_wg_t *wg)
{
	return green_wg_add(wg, -1);
}

int
green_wg_wait(green_wg_t *wg, int64_t deadline)
{
	struct green__waiter w;
	int r;

	if (wg == NULL || deadline < -1)
		return -EINVAL;
	green__spin_lock(&wg->_lock);
	if (wg->_count == 0) {
		green__spin_unlock(&wg->_lock);
		return 0;
	}
	if (deadline == 0) {
		green__spin_unlock(&wg->_lock);
		return -ETIMEDOUT;
	}
	green__waiter_init(&w, green__self());
	green__waitq_push(&wg->_head, &wg->_tail, &w);
	r = wait_on(&w, GREEN_WAIT_WG, wg, &wg->_lock, &wg->_head, &wg->_tail,
		    deadline, 0);
	/* The waker still holds the lock; a wait group has no destroy to
	 * wait on it, and the caller may free wg as soon as we return. */
	if (r == 0) {
		green__spin_lock(&wg->_lock);
		green__spin_unlock(&wg->_lock);
	}
	return r;
}

/* --- semaphore ------------------------------------------------------------ */

int
green_sem_init(green_sem_t *s, long count)
{
	if (s == NULL || count < 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->_count = count;
	return 0;
}

int
green_sem_destroy(green_sem_t *s)
{
	if (s == NULL || !lock_live(&s->_lock, &s->_tail))
		return -EINVAL;
	return destroy_locked(&s->_lock, &s->_tail, s->_head != NULL);
}

int
green_sem_acquire(green_sem_t *s, int64_t deadline)
{
	struct green__waiter w;

	if (s == NULL || deadline < -1 || !lock_live(&s->_lock, &s->_tail))
		return -EINVAL;
	if (s->_count > 0) {
		s->_count--;
		green__spin_unlock(&s->_lock);
		return 0;
	}
	if (deadline == 0) {
		green__spin_unlock(&s->_lock);
		return -ETIMEDOUT;
	}
	green__waiter_init(&w, green__self());
	green__waitq_push(&s->_head, &s->_tail, &w);
	/* a release hands its permit straight to us (FIFO) */
	return wait_on(&w, GREEN_WAIT_SEM, s, &s->_lock, &s->_head, &s->_tail,
		       deadline, 0);
}

int
green_sem_release(green_sem_t *s)
{
	struct green__waiter *w;
	int r = 0;

	if (s == NULL || !lock_live(&s->_lock, &s->_tail))
		return -EINVAL;
	if ((w = green__waitq_claim(&s->_head, &s->_tail)) != NULL)
		green__waiter_finish(w, 0);
	else if (s->_count == LONG_MAX)
		r = -EOVERFLOW;
	else
		s->_count++;
	green__spin_unlock(&s->_lock);
	return r;
}
