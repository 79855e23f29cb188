/*
 * netpoll.c - the netpoller: tasks wait for file descriptors here.
 *
 * Go's shape (runtime/netpoll_epoll.go): one epoll instance; each fd is
 * registered once, edge-triggered for input and output, the first time a
 * libgreen call uses it; a descriptor per fd holds the tasks waiting to
 * read and to write.  An I/O call tries its system call first and waits
 * only on EAGAIN (io.c).  Readiness that arrives while nobody waits is kept
 * as a flag, so an edge is never lost between a failed try and the park.
 *
 * Who polls: the idle worker that holds the waiter role (sched.c) blocks in
 * epoll_wait with the earliest timer as its timeout; an eventfd in the same
 * epoll set wakes it when work arrives.  Busy workers also poll without
 * blocking every GLOBAL_QUEUE_PERIOD schedules while tasks wait for I/O, so
 * CPU-bound tasks never starve it.
 *
 * Each event carries the fd and the generation of its descriptor;
 * green_close bumps the generation, so a readiness reported for a closed
 * fd never reaches a task using a new fd with the same number.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "green-internal.h"
#include "syscall.h"

#define FD_CHUNK 1024	/* descriptors per chunk of the table */
#define FD_CHUNKS 4096	/* so fds below 4 Mi are served */
#define EVFD_TAG UINT64_MAX

struct green_fd_chunk {
	struct green_fd fd[FD_CHUNK];
};

int
green__netpoll_init(struct green_rt *rt)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EVFD_TAG };

	rt->fds = green__calloc(FD_CHUNKS * sizeof(*rt->fds));
	if (rt->fds == NULL)
		return -ENOMEM;
	rt->epfd = green__fault(GF_EPOLL) ? (errno = EMFILE, -1)
					  : epoll_create1(EPOLL_CLOEXEC);
	rt->evfd = rt->epfd < 0		  ? -1
		   : green__fault(GF_EVENTFD) ? (errno = EMFILE, -1)
					      : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rt->epfd < 0 || rt->evfd < 0 ||
	    (green__fault(GF_EPOLL) ? (errno = ENOMEM, -1)
				    : epoll_ctl(rt->epfd, EPOLL_CTL_ADD,
						rt->evfd, &ev)) != 0) {
		int err = -errno;
		green__netpoll_fini(rt);
		return err;
	}
	pthread_mutex_init(&rt->fd_lock, NULL);
	return 0;
}

void
green__netpoll_fini(struct green_rt *rt)
{
	if (rt->fds != NULL) {
		for (size_t i = 0; i < FD_CHUNKS; i++)
			green__free(rt->fds[i], sizeof(struct green_fd_chunk));
		green__free(rt->fds, FD_CHUNKS * sizeof(*rt->fds));
		rt->fds = NULL;
	}
	if (rt->epfd >= 0)
		green__sys3(SYS_close, rt->epfd, 0, 0);
	if (rt->evfd >= 0)
		green__sys3(SYS_close, rt->evfd, 0, 0);
	rt->epfd = rt->evfd = -1;
	pthread_mutex_destroy(&rt->fd_lock);
}

/* The descriptor of fd, created when missing; NULL: out of range or
 * memory. */
struct green_fd *
green__fd(int fd)
{
	struct green_rt *rt = green__rt;
	struct green_fd_chunk *c;
	size_t i = (size_t)fd / FD_CHUNK;

	if (fd < 0 || i >= FD_CHUNKS)
		return NULL;
	/* acquire: pairs with the release below; the chunk is zeroed */
	c = atomic_load_explicit(&rt->fds[i], memory_order_acquire);
	if (c == NULL) {
		green__lock(&rt->fd_lock);
		c = atomic_load_explicit(&rt->fds[i], memory_order_relaxed);
		if (c == NULL) {
			c = green__calloc(sizeof(*c));
			atomic_store_explicit(&rt->fds[i], c,
					      memory_order_release);
		}
		green__unlock(&rt->fd_lock);
		if (c == NULL)
			return NULL;
	}
	return &c->fd[fd % FD_CHUNK];
}

/*
 * Make fd non-blocking and add it to the epoll set, once per generation,
 * and fill *use for the calls that follow.  Returns 0, or -errno (-EBADF
 * for a closed fd).  A regular file cannot be polled (EPERM); it is marked
 * so and never waits.
 */
int
green__fd_register(struct green_fd *d, int fd, struct green_fd_use *use)
{
	struct green_rt *rt = green__rt;
	struct epoll_event ev;
	long fl;
	int r = 0;

	green__spin_lock(&d->lock);
	if (d->registered)
		goto out;
	fl = green__sys3(SYS_fcntl, fd, F_GETFL, 0);
	if (fl < 0) {
		r = (int)fl;
		goto out;
	}
	if (!(fl & O_NONBLOCK)) {
		r = (int)green__sys3(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK);
		if (r < 0)
			goto out;
	}
	d->was_blocking = !(fl & O_NONBLOCK);
	/* EPOLLPRI: urgent data, after which a short read proves nothing */
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
	ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)d->gen << 32;
	r = green__fault(GF_EPOLL)
		    ? -ENOMEM
		    : (int)green__sys6(SYS_epoll_ctl, rt->epfd, EPOLL_CTL_ADD,
				       fd, (long)&ev, 0, 0);
	if (r == -EEXIST) /* registered under a duplicate of this file */
		r = (int)green__sys6(SYS_epoll_ctl, rt->epfd, EPOLL_CTL_MOD,
				     fd, (long)&ev, 0, 0);
	if (r == -EPERM) {
		d->nopoll = true; /* a regular file: always ready */
		r = 0;
	}
	if (r == 0) {
		d->registered = true;
		d->rd_ready = d->wr_ready = false;
		d->short_read_drains = 0;
		/* relaxed: a hint is checked against rd_edges, never trusted
		 * alone (green__fd_drained) */
		atomic_store_explicit(&d->rd_drained, 0, memory_order_relaxed);
	}
out:
	use->d = d;
	use->fd = fd;
	use->gen = d->gen;
	use->nopoll = d->nopoll;
	use->short_read_drains = d->short_read_drains;
	use->rd_edges = d->rd_edges;
	use->drained = false;
	green__spin_unlock(&d->lock);
	return r;
}

/* Whether a short read since use's registration call saw the input
 * drained, with no input event since (green__fd_drained). */
bool
green__fd_is_drained(const struct green_fd_use *use)
{
	/* relaxed: green__fd_wait rechecks rd_edges under the lock */
	return use->short_read_drains > 0 &&
	       atomic_load_explicit(&use->d->rd_drained,
				    memory_order_relaxed) == use->rd_edges + 1;
}

/*
 * A read on use's fd has just returned less than it asked for: on a TCP
 * socket that means the input was drained at that moment (Tokio draws the
 * same conclusion).  Remember it, so that the next read waits for an input
 * event instead of making a system call that would fail with EAGAIN.
 *
 * Why that is safe: use->rd_edges was read before the short read.  Input
 * that arrives after the short read brings an epoll event, handled after
 * it, which makes rd_edges larger; so while rd_edges still equals the
 * remembered count, any input there is has an event still to come, and a
 * reader that waits is woken by it (green__fd_wait checks the count and
 * lists the waiter under the descriptor's lock, where events are handled).
 * A stale hint from another reader, or from before the fd was registered
 * again, can only cost a read: it never matches a newer count wrongly.
 * Unix stream sockets are left out (a read stops short at a change of
 * sender credentials), and so is a TCP socket once its input has ended,
 * failed, or brought urgent data (a read stops short of the end, the
 * error or the urgent mark, and no event follows).
 */
void
green__fd_drained(struct green_fd_use *use)
{
	struct green_fd *d = use->d;

	if (use->short_read_drains == 0) {
		int proto = 0;
		socklen_t len = sizeof(proto);
		long r = green__sys6(SYS_getsockopt, use->fd, SOL_SOCKET,
				     SO_PROTOCOL, (long)&proto, (long)&len, 0);

		int8_t v = r == 0 && proto == IPPROTO_TCP ? 1 : -1;

		green__spin_lock(&d->lock);
		if (d->gen == use->gen && d->short_read_drains == 0)
			d->short_read_drains = v;
		use->short_read_drains =
			d->gen == use->gen ? d->short_read_drains : -1;
		green__spin_unlock(&d->lock);
	}
	if (use->short_read_drains > 0)
		/* relaxed: the hint only ever selects a waiter that
		 * rechecks rd_edges under the lock */
		atomic_store_explicit(&d->rd_drained, use->rd_edges + 1,
				      memory_order_relaxed);
}

static void
no_data(struct green__waiter *w, void *arg)
{
	(void)w;
	(void)arg;
}

/* Under d->lock: wake every waiter of one list with result; returns
 * whether one woke.  Waiters whose wait ended another way stay listed for
 * their owners to take off (waiter.c). */
static bool
wake_list(struct green__waiter **head, struct green__waiter **tail,
	  int result)
{
	bool woke = false;

	while (green__waitq_wake(head, tail, no_data, NULL, result) != NULL)
		woke = true;
	return woke;
}

/* A timeout in ms for poll(2) and epoll_wait(2) until the absolute
 * deadline: -1 for none, 0 once it has passed, else rounded up. */
static long
ms_until(int64_t deadline)
{
	int64_t now;

	if (deadline < 0)
		return -1;
	now = green_now();
	if (deadline <= now)
		return 0;
	if ((deadline - now) / 1000000 >= INT32_MAX)
		return INT32_MAX;
	return (long)((deadline - now + 999999) / 1000000);
}

/* A plain thread waits with poll(2). */
static int
thread_wait(int fd, int events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = (short)events };
	long ms, r;

	for (;;) {
		ms = ms_until(deadline);
		if (ms == 0)
			return -ETIMEDOUT;
		r = green__sys3(SYS_poll, (long)&p, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0 && deadline >= 0)
			continue; /* re-check the clock */
		if (r < 0 && r != -EINTR)
			return (int)r;
	}
}

/*
 * Under d->lock: consume readiness for events (GREEN_READ, GREEN_WRITE)
 * that came while nobody waited; returns whether there was some.
 */
bool
green__fd_take_ready(struct green_fd *d, int events)
{
	bool r = ((events & GREEN_READ) && d->rd_ready) ||
		 ((events & GREEN_WRITE) && d->wr_ready);

	if (r && (events & GREEN_READ))
		d->rd_ready = false;
	if (r && (events & GREEN_WRITE))
		d->wr_ready = false;
	return r;
}

/* Under d->lock: list w as waiting for one of GREEN_READ, GREEN_WRITE. */
void
green__fd_enqueue(struct green_fd *d, int events, struct green__waiter *w)
{
	w->is_send = events == GREEN_WRITE; /* which list, for dequeue */
	if (w->is_send)
		green__waitq_push(&d->wr_head, &d->wr_tail, w);
	else
		green__waitq_push(&d->rd_head, &d->rd_tail, w);
}

/* Under d->lock: take w off its list if a wake has not. */
void
green__fd_dequeue(struct green_fd *d, struct green__waiter *w)
{
	if (w->is_send)
		green__waitq_remove(&d->wr_head, &d->wr_tail, w);
	else
		green__waitq_remove(&d->rd_head, &d->rd_tail, w);
}

/*
 * Wait until the fd of use may be ready for one of events (GREEN_READ,
 * GREEN_WRITE), the deadline passes or the task is cancelled.  Returns 0
 * (try again), -ETIMEDOUT, -ECANCELED or -EBADF (closed by green_close).
 */
int
green__fd_wait(struct green_fd_use *use, int events, int64_t deadline)
{
	struct green_rt *rt = green__rt;
	struct green_fd *d = use->d;
	struct green_task *t = green__self();
	struct green__waiter rq, wq;
	int r;

	if (t == NULL)
		return thread_wait(use->fd,
				   (events & GREEN_READ ? POLLIN : 0) |
					   (events & GREEN_WRITE ? POLLOUT : 0),
				   deadline);
	if (deadline == 0)
		return -ETIMEDOUT;
	green__waiter_init(&rq, t);
	green__waiter_init(&wq, t);
	green__spin_lock(&d->lock);
	if (d->gen != use->gen || !d->registered) {
		green__spin_unlock(&d->lock);
		return -EBADF;
	}
	if (use->drained) {
		/* the caller skipped its read on the hint: an input event
		 * since means there may be input; one before is stale */
		use->drained = false;
		if (d->rd_edges != use->rd_edges) {
			use->rd_edges = d->rd_edges;
			green__spin_unlock(&d->lock);
			return 0;
		}
		d->rd_ready = false;
	}
	/* an edge that came after the caller's failed try */
	if (green__fd_take_ready(d, events)) {
		use->rd_edges = d->rd_edges;
		green__spin_unlock(&d->lock);
		return 0;
	}
	if (events & GREEN_READ)
		green__fd_enqueue(d, GREEN_READ, &rq);
	if (events & GREEN_WRITE)
		green__fd_enqueue(d, GREEN_WRITE, &wq);
	green__io_wait_begin(rt);
	r = green__park(t,
			events & GREEN_READ ? GREEN_WAIT_IO_READ
					    : GREEN_WAIT_IO_WRITE,
			d, green__unlock_spin, &d->lock, deadline, 0);
	green__io_wait_end(rt);
	green__spin_lock(&d->lock);
	green__fd_dequeue(d, &rq);
	green__fd_dequeue(d, &wq);
	use->rd_edges = d->rd_edges; /* before the read that follows */
	green__spin_unlock(&d->lock);
	return r;
}

/* A task or thread is about to wait for an fd: the first such waiter
 * wakes an idle worker to take the polling role.  seq_cst: an idle worker
 * deciding whether to poll sees the count (sched.c). */
void
green__io_wait_begin(struct green_rt *rt)
{
	if (atomic_fetch_add(&rt->io_waiters, 1) == 0)
		green__wake_worker();
}

void
green__io_wait_end(struct green_rt *rt)
{
	atomic_fetch_sub(&rt->io_waiters, 1);
}

/* One event: hand readiness to the waiters, or keep it as a flag. */
static void
fd_event(struct green_rt *rt, uint64_t data, uint32_t events)
{
	int fd = (int)(uint32_t)data;
	uint32_t gen = (uint32_t)(data >> 32);
	struct green_fd *d = green__fd(fd);
	bool rd = events &
		  (EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLHUP | EPOLLERR);
	bool wr = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);

	(void)rt;
	if (d == NULL)
		return;
	green__spin_lock(&d->lock);
	if (d->gen == gen && d->registered) {
		if (rd)
			d->rd_edges++;
		/* the end of input, an error or urgent data: a read may
		 * stop short of them, and they never bring another event */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI))
			d->short_read_drains = -1;
		if (rd && !wake_list(&d->rd_head, &d->rd_tail, 0))
			d->rd_ready = true;
		if (wr && !wake_list(&d->wr_head, &d->wr_tail, 0))
			d->wr_ready = true;
	}
	green__spin_unlock(&d->lock);
}

/*
 * Poll: wait until the absolute deadline (-1: none, 0: do not wait) for
 * events, and ready the tasks they concern.  Returns the number of fd
 * events handled.
 */
int
green__netpoll(struct green_worker *w, int64_t deadline)
{
	struct green_rt *rt = green__rt;
	long n;
	int handled = 0;

	/* deadline 0 is "do not wait": ms_until(0) is 0 too */
	if (deadline != 0)
		GREEN_TRACE(GT_NETPOLL_WAIT, 1,
			    deadline < 0 ? 0xffffffffu : (uint64_t)ms_until(deadline),
			    0, 0);
	n = green__sys6(SYS_epoll_wait, rt->epfd, (long)w->events,
			GREEN_POLL_EVENTS, ms_until(deadline), 0, 0);
	for (long i = 0; i < n; i++) {
		struct epoll_event *ev = &w->events[i];
		if (ev->data.u64 == EVFD_TAG) {
			uint64_t v;
			/* a kick for the blocking poller: only it drains the
			 * eventfd (level-triggered), or a busy worker's poll
			 * could swallow it and leave the poller asleep */
			if (deadline != 0)
				green__sys3(SYS_read, rt->evfd, (long)&v,
					    sizeof(v));
			continue;
		}
		fd_event(rt, ev->data.u64, ev->events);
		handled++;
	}
	if (deadline != 0 || handled > 0)
		GREEN_TRACE(GT_NETPOLL_WAKE, 1, handled, 0, 0);
	return handled;
}

/* Interrupt a worker blocked in green__netpoll. */
void
green__netpoll_interrupt(void)
{
	uint64_t one = 1;

	green__sys3(SYS_write, green__rt->evfd, (long)&one, sizeof(one));
}

/*
 * Close fd: waiters get -EBADF, pending readiness is forgotten, events
 * still queued for it are ignored (the generation moved on).
 */
int
green_close(int fd)
{
	struct green_rt *rt = green__rt;
	struct green_fd *d = rt != NULL ? green__fd(fd) : NULL;
	long r;

	if (fd < 0)
		return -EBADF;
	if (d != NULL) {
		green__spin_lock(&d->lock);
		if (d->registered) {
			green__sys6(SYS_epoll_ctl, rt->epfd, EPOLL_CTL_DEL, fd,
				    0, 0, 0);
			d->registered = false;
			d->nopoll = false;
			d->rd_ready = d->wr_ready = false;
			d->gen++;
			wake_list(&d->rd_head, &d->rd_tail, -EBADF);
			wake_list(&d->wr_head, &d->wr_tail, -EBADF);
		}
		green__spin_unlock(&d->lock);
	}
	/* Linux releases the fd even when close reports EINTR: never retry */
	r = green__sys3(SYS_close, fd, 0, 0);
	return r == -EINTR ? 0 : (int)r;
}
