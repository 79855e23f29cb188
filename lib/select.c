/*
 * select.c - green_select: wait on several channel operations at once.
 *
 * Go's algorithm (runtime/select.go): lock every channel involved, in
 * address order so two selects cannot deadlock; poll the cases in a random
 * order and perform the first that is ready (a uniform choice among the
 * ready ones); otherwise put one waiter per case on its channel's list and
 * park, the locks released only after the switch.  The first waker to claim
 * any of the waiters wins (the claim is on the task's one wake word); the
 * woken select then locks the channels that still list one of its waiters
 * to take those off.
 */
#include <errno.h>
#include <stdlib.h>

#include "green-internal.h"

#define SMALL 8 /* cases handled without allocating */

struct select_locks {
	struct green_chan **chans; /* distinct channels, ascending address */
	size_t n;
};

static int
cmp_chan(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(struct green_chan *const *)a;
	uintptr_t y = (uintptr_t)*(struct green_chan *const *)b;

	return x < y ? -1 : x > y;
}

/* libc's qsort for many cases; split-stack code may call libc only off
 * the hot path (nosplit.c) */
static __attribute__((noinline)) void
sort_many(struct green_chan **c, size_t n)
{
	qsort(c, n, sizeof(*c), cmp_chan);
}

/* Sort channels by address: the common few by insertion. */
static void
sort_chans(struct green_chan **c, size_t n)
{
	if (n > 16) {
		sort_many(c, n);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct green_chan *x = c[i];
		size_t j = i;
		for (; j > 0 && (uintptr_t)c[j - 1] > (uintptr_t)x; j--)
			c[j] = c[j - 1];
		c[j] = x;
	}
}

/* Collect the distinct channels of cases[i] where keep(i), sorted. */
static void
collect(struct select_locks *l, const green_case_t *cases, size_t n,
	const struct green__waiter *waiters)
{
	size_t k = 0;

	l->n = 0;
	for (size_t i = 0; i < n; i++)
		if (cases[i].chan != NULL &&
		    (waiters == NULL || waiters[i].listed))
			l->chans[l->n++] = cases[i].chan;
	sort_chans(l->chans, l->n);
	/* the same channel may appear in several cases: lock it once */
	for (size_t i = 0; i < l->n; i++)
		if (k == 0 || l->chans[k - 1] != l->chans[i])
			l->chans[k++] = l->chans[i];
	l->n = k;
}

static void
lock_all(struct select_locks *l)
{
	for (size_t i = 0; i < l->n; i++)
		green__spin_lock(&l->chans[i]->lock);
}

static void
unlock_all(void *arg)
{
	struct select_locks *l = arg;

	for (size_t i = l->n; i-- > 0;)
		green__spin_unlock(&l->chans[i]->lock);
}

/* Returns 0, or -EINVAL / -ENOTSUP for a case select cannot take. */
static int
check_cases(const green_case_t *cases, size_t n)
{
	if (n != 0 && cases == NULL)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		switch (cases[i].kind) {
		case GREEN_SEND:
			if (cases[i].chan != NULL && cases[i].elem == NULL &&
			    cases[i].chan->elem_size != 0)
				return -EINVAL;
			break;
		case GREEN_RECV:
			break;
		case GREEN_FD_READ:
		case GREEN_FD_WRITE:
			return -ENOTSUP; /* until the I/O layer lands */
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/* Poll the cases in order[]; returns the index performed, or -1. */
static long
poll_cases(green_case_t *cases, const size_t *order, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		green_case_t *c = &cases[order[k]];
		int r;

		if (c->chan == NULL)
			continue;
		r = c->kind == GREEN_SEND ? green__chan_try_send(c->chan, c->elem)
					  : green__chan_try_recv(c->chan, c->elem);
		if (r != 0) {
			c->result = r < 0 ? r : 0;
			return (long)order[k];
		}
	}
	return -1;
}

static int
select_locked(green_case_t *cases, size_t n, int64_t deadline,
	      struct select_locks *locks, size_t *order,
	      struct green__waiter *waiters)
{
	struct green_task *self = green__self();
	struct green__waiter *home = &waiters[0], *won;
	long idx;
	int r;

	/* a uniformly random poll order (Fisher-Yates) */
	for (size_t i = 0; i < n; i++) {
		size_t j = green__rand() % (i + 1);
		order[i] = order[j];
		order[j] = i;
	}
	lock_all(locks);
	if ((idx = poll_cases(cases, order, n)) >= 0) {
		unlock_all(locks);
		return (int)idx;
	}
	if (deadline == 0) {
		unlock_all(locks);
		return -ETIMEDOUT;
	}
	green__waiter_init(home, self);
	for (size_t i = 0; i < n; i++) {
		struct green__waiter *w = &waiters[i];
		if (i > 0)
			green__waiter_init(w, self);
		w->home = home;
		w->in_select = true;
		w->index = (int)i;
		w->elem = cases[i].elem;
		w->is_send = cases[i].kind == GREEN_SEND;
		w->obj = cases[i].chan;
		if (cases[i].chan != NULL)
			green__chan_enqueue(cases[i].chan, w);
	}
	r = green__wait(home, GREEN_WAIT_SELECT, cases, unlock_all, locks,
			deadline, 0);
	/*
	 * Take the other waiters off their lists.  Only a winning waker
	 * unlists one of ours (before its finish, so we see it), so the
	 * channels that still list ours are alive; the winner's channel may
	 * already be closed and destroyed, and is not touched again.
	 */
	collect(locks, cases, n, waiters);
	lock_all(locks);
	for (size_t i = 0; i < n; i++)
		if (waiters[i].listed)
			green__chan_dequeue(cases[i].chan, &waiters[i]);
	won = home->won;
	unlock_all(locks);
	if (won == NULL)
		return r; /* deadline or cancellation */
	cases[won->index].result = r;
	return won->index;
}

int
green_select(green_case_t *cases, size_t n, int64_t deadline)
{
	struct green_chan *small_chans[SMALL];
	struct green__waiter small_waiters[SMALL];
	size_t small_order[SMALL];
	struct select_locks locks = { small_chans, 0 };
	struct green__waiter *waiters = small_waiters;
	size_t *order = small_order;
	size_t nw = n > 0 ? n : 1;
	int r;

	if (deadline < -1 || n > INT32_MAX)
		return -EINVAL;
	if ((r = check_cases(cases, n)) != 0)
		return r;
	if (nw > SMALL) {
		locks.chans = green__alloc(n * sizeof(*locks.chans));
		waiters = green__alloc(n * sizeof(*waiters));
		order = green__alloc(n * sizeof(*order));
		if (!locks.chans || !waiters || !order) {
			r = -ENOMEM;
			goto out;
		}
	}
	collect(&locks, cases, n, NULL);
	r = select_locked(cases, n, deadline, &locks, order, waiters);
out:
	if (nw > SMALL) {
		green__free(locks.chans, n * sizeof(*locks.chans));
		green__free(waiters, n * sizeof(*waiters));
		green__free(order, n * sizeof(*order));
	}
	return r;
}
