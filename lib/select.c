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
#include <poll.h>
#include <stdlib.h>

#include "green-internal.h"
#include "syscall.h"

#define SMALL 8 /* cases handled without allocating */

/* What one call needs per case; on the stack for up to SMALL cases. */
struct select_state {
	green_case_t *cases;
	size_t n;
	struct green_chan **chans; /* by case: its channel's struct, or NULL */
	int **locks;		   /* distinct spin locks, ascending address */
	size_t nlocks;
	size_t *order;		   /* the random poll order */
	struct green__waiter *waiters;
	struct green_fd_use *uses; /* fd cases: the descriptor */
	struct pollfd *pfds;	   /* by case: the non-blocking poll (fd -1
				      for a channel case, which poll skips) */
	size_t nfd;		   /* fd cases */
};

static bool
is_fd_case(const green_case_t *c)
{
	return c->kind == GREEN_FD_READ || c->kind == GREEN_FD_WRITE;
}

static int
fd_events(const green_case_t *c)
{
	return c->kind == GREEN_FD_READ ? GREEN_READ : GREEN_WRITE;
}

static int
cmp_lock(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(int *const *)a;
	uintptr_t y = (uintptr_t)*(int *const *)b;

	return x < y ? -1 : x > y;
}

/* libc's qsort for many cases; split-stack code may call libc only off
 * the hot path (nosplit.c) */
static __attribute__((noinline)) void
sort_many(int **l, size_t n)
{
	qsort(l, n, sizeof(*l), cmp_lock);
}

/* Sort locks by address: the common few by insertion. */
static void
sort_locks(int **l, size_t n)
{
	if (n > 16) {
		sort_many(l, n);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		int *x = l[i];
		size_t j = i;
		for (; j > 0 && (uintptr_t)l[j - 1] > (uintptr_t)x; j--)
			l[j] = l[j - 1];
		l[j] = x;
	}
}

/* The lock that guards case i's wait list: its channel's or its fd's. */
static int *
case_lock(const struct select_state *s, size_t i)
{
	if (is_fd_case(&s->cases[i]))
		return &s->uses[i].d->lock;
	return s->chans[i] != NULL ? &s->chans[i]->lock : NULL;
}

/*
 * Collect the distinct locks of the cases (of those whose waiter is still
 * listed, once the waiters are out), sorted: every object is locked in
 * address order, so two selects cannot deadlock.
 */
static void
collect(struct select_state *s, bool listed_only)
{
	size_t k = 0;
	int *l;

	s->nlocks = 0;
	for (size_t i = 0; i < s->n; i++)
		if ((!listed_only || s->waiters[i].listed) &&
		    (l = case_lock(s, i)) != NULL)
			s->locks[s->nlocks++] = l;
	sort_locks(s->locks, s->nlocks);
	/* the same object may appear in several cases: lock it once */
	for (size_t i = 0; i < s->nlocks; i++)
		if (k == 0 || s->locks[k - 1] != s->locks[i])
			s->locks[k++] = s->locks[i];
	s->nlocks = k;
}

static void
lock_all(struct select_state *s)
{
	for (size_t i = 0; i < s->nlocks; i++)
		green__spin_lock(s->locks[i]);
}

static void
unlock_all(void *arg)
{
	struct select_state *s = arg;

	for (size_t i = s->nlocks; i-- > 0;)
		green__spin_unlock(s->locks[i]);
}

/* Returns 0, or -EINVAL for a case select cannot take. */
static int
check_cases(const green_case_t *cases, size_t n)
{
	if (n != 0 && cases == NULL)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		switch (cases[i].kind) {
		case GREEN_SEND:
		case GREEN_RECV:
		case GREEN_FD_READ:
		case GREEN_FD_WRITE:
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Register the fd cases with the netpoller and poll them once without
 * blocking (an fd may have been ready since before it was registered, and
 * an edge-triggered epoll would never say so).  Returns 0 or -errno:
 * -EBADF for an fd that is not open, -EPERM with no runtime.
 */
static int
prepare_fds(struct select_state *s)
{
	long r;

	if (s->nfd == 0)
		return 0;
	if (green__rt == NULL)
		return -EPERM;
	for (size_t i = 0; i < s->n; i++) {
		green_case_t *c = &s->cases[i];
		struct green_fd *d;
		s->pfds[i].fd = -1;
		s->pfds[i].events = 0;
		s->pfds[i].revents = 0;
		if (!is_fd_case(c))
			continue;
		if ((d = green__fd(c->fd)) == NULL)
			return c->fd < 0 ? -EBADF : -ENOMEM;
		if ((r = green__fd_register(d, c->fd, &s->uses[i])) != 0)
			return (int)r;
		s->pfds[i].fd = c->fd;
		s->pfds[i].events = c->kind == GREEN_FD_READ
					    ? POLLIN | POLLRDHUP
					    : POLLOUT;
	}
	do
		r = green__sys3(SYS_poll, (long)s->pfds, (long)s->n, 0);
	while (r == -EINTR);
	return r < 0 ? (int)r : 0;
}

/* Under the locks: whether fd case i is ready, with its result. */
static bool
fd_case_ready(struct select_state *s, size_t i, int *result)
{
	const struct green_fd_use *u = &s->uses[i];
	const struct pollfd *pfd = &s->pfds[i];
	struct green_fd *d = u->d;

	*result = 0;
	if (d->gen != u->gen || !d->registered || (pfd->revents & POLLNVAL)) {
		*result = -EBADF; /* closed meanwhile */
		return true;
	}
	/* an error or hangup makes both directions "ready": the next call
	 * reports it */
	if (u->nopoll || pfd->revents != 0)
		return true;
	return green__fd_take_ready(d, fd_events(&s->cases[i]));
}

/*
 * Under the locks: whether every channel case names a live channel (not
 * destroyed) and every send case has a value to send.  Done where the
 * locks are held, as destroy writes a channel's generation under its lock.
 */
static bool
chans_valid(const struct select_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const green_case_t *c = &s->cases[i];
		const struct green_chan *ch = s->chans[i];

		if (ch == NULL) {
			if (!is_fd_case(c) && c->chan != NULL)
				return false; /* a handle that names none */
			continue;
		}
		if (!green__chan_matches(ch, c->chan) ||
		    (c->kind == GREEN_SEND && c->elem == NULL &&
		     ch->elem_size != 0))
			return false;
	}
	return true;
}

/* Under the locks: poll the cases in order[]; returns the index
 * performed, or -1. */
static long
poll_cases(struct select_state *s)
{
	for (size_t k = 0; k < s->n; k++) {
		size_t i = s->order[k];
		green_case_t *c = &s->cases[i];
		int r;

		if (is_fd_case(c)) {
			if (fd_case_ready(s, i, &r)) {
				c->result = r;
				return (long)i;
			}
			continue;
		}
		if (s->chans[i] == NULL)
			continue;
		r = c->kind == GREEN_SEND
			    ? green__chan_try_send(s->chans[i], c->elem)
			    : green__chan_try_recv(s->chans[i], c->elem);
		if (r != 0) {
			c->result = r < 0 ? r : 0;
			return (long)i;
		}
	}
	return -1;
}

/* Under the locks: list one waiter per case, all sharing home. */
static void
enqueue_all(struct select_state *s, struct green_task *self)
{
	struct green__waiter *home = &s->waiters[0];

	for (size_t i = 0; i < s->n; i++) {
		struct green__waiter *w = &s->waiters[i];
		green_case_t *c = &s->cases[i];
		green__waiter_init(w, self);
		w->home = home;
		w->in_select = true;
		w->index = (int)i;
		w->elem = c->elem;
		w->is_send = c->kind == GREEN_SEND;
		w->obj = s->chans[i];
		if (is_fd_case(c))
			green__fd_enqueue(s->uses[i].d, fd_events(c), w);
		else if (s->chans[i] != NULL)
			green__chan_enqueue(s->chans[i], w);
	}
}

/* Under the locks: take off the waiters a wake has not. */
static void
dequeue_all(struct select_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!s->waiters[i].listed)
			continue;
		if (is_fd_case(&s->cases[i]))
			green__fd_dequeue(s->uses[i].d, &s->waiters[i]);
		else
			green__chan_dequeue(s->chans[i], &s->waiters[i]);
	}
}

static int
select_locked(struct select_state *s, int64_t deadline)
{
	struct green_task *self = green__self();
	struct green__waiter *home = &s->waiters[0], *won;
	long idx;
	int r;

	/* a uniformly random poll order (Fisher-Yates) */
	for (size_t i = 0; i < s->n; i++) {
		size_t j = green__rand() % (i + 1);
		s->order[i] = s->order[j];
		s->order[j] = i;
	}
	lock_all(s);
	if (!chans_valid(s)) {
		unlock_all(s);
		return -EINVAL;
	}
	if ((idx = poll_cases(s)) >= 0) {
		unlock_all(s);
		return (int)idx;
	}
	if (deadline == 0) {
		unlock_all(s);
		return -ETIMEDOUT;
	}
	if (s->n == 0)
		green__waiter_init(home, self);
	enqueue_all(s, self);
	if (s->nfd > 0)
		green__io_wait_begin(green__rt);
	r = green__wait(home, GREEN_WAIT_SELECT, s->cases, unlock_all, s,
			deadline, 0);
	if (s->nfd > 0)
		green__io_wait_end(green__rt);
	/*
	 * Take the other waiters off their lists.  Only a winning waker
	 * unlists one of ours before it finishes (so we see it), or an fd
	 * event under the fd's lock; so the channels that still list ours
	 * are alive; the winner's channel may already be closed and
	 * destroyed, and is not touched again.  Descriptors live as long as
	 * the runtime.
	 */
	collect(s, true);
	lock_all(s);
	dequeue_all(s);
	won = home->won;
	unlock_all(s);
	if (won == NULL)
		return r; /* deadline or cancellation */
	s->cases[won->index].result = r;
	return won->index;
}

/* Point the arrays of s at the caller's small ones, or allocate. */
static int
state_alloc(struct select_state *s, struct green_chan **small_chans,
	    int **small_locks, struct green__waiter *small_waiters,
	    size_t *small_order, struct green_fd_use *small_uses,
	    struct pollfd *small_pfds)
{
	size_t n = s->n;

	if (n <= SMALL) {
		s->chans = small_chans;
		s->locks = small_locks;
		s->waiters = small_waiters;
		s->order = small_order;
		s->uses = small_uses;
		s->pfds = small_pfds;
		return 0;
	}
	s->chans = green__alloc(n * sizeof(*s->chans));
	s->locks = green__alloc(n * sizeof(*s->locks));
	s->waiters = green__alloc(n * sizeof(*s->waiters));
	s->order = green__alloc(n * sizeof(*s->order));
	s->uses = s->nfd ? green__alloc(n * sizeof(*s->uses)) : NULL;
	s->pfds = s->nfd ? green__alloc(n * sizeof(*s->pfds)) : NULL;
	if (!s->chans || !s->locks || !s->waiters || !s->order ||
	    (s->nfd && (!s->uses || !s->pfds)))
		return -ENOMEM;
	return 0;
}

static void
state_free(struct select_state *s)
{
	size_t n = s->n;

	if (n <= SMALL)
		return;
	green__free(s->chans, n * sizeof(*s->chans));
	green__free(s->locks, n * sizeof(*s->locks));
	green__free(s->waiters, n * sizeof(*s->waiters));
	green__free(s->order, n * sizeof(*s->order));
	if (s->nfd) {
		green__free(s->uses, n * sizeof(*s->uses));
		green__free(s->pfds, n * sizeof(*s->pfds));
	}
}

int
green_select(green_case_t *cases, size_t n, int64_t deadline)
{
	struct green_chan *small_chans[SMALL];
	int *small_locks[SMALL];
	struct green__waiter small_waiters[SMALL];
	size_t small_order[SMALL];
	struct green_fd_use small_uses[SMALL];
	struct pollfd small_pfds[SMALL];
	struct select_state s = { .cases = cases, .n = n };
	int r;

	if (deadline < -1 || n > INT32_MAX)
		return -EINVAL;
	if ((r = check_cases(cases, n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		s.nfd += is_fd_case(&cases[i]);
	if ((r = state_alloc(&s, small_chans, small_locks, small_waiters,
			     small_order, small_uses, small_pfds)) == 0 &&
	    (r = prepare_fds(&s)) == 0) {
		for (size_t i = 0; i < n; i++)
			s.chans[i] = is_fd_case(&cases[i])
					     ? NULL
					     : green__chan_of(cases[i].chan);
		collect(&s, false);
		r = select_locked(&s, deadline);
	}
	state_free(&s);
	return r;
}
