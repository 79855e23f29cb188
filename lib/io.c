/*
 * io.c - blocking-style I/O calls that park only the task.
 *
 * Every call has the same shape (Go's internal/poll): make sure the fd is
 * registered with the netpoller (non-blocking, in the epoll set), try the
 * system call, and on EAGAIN wait for readiness (netpoll.c) and try again,
 * until the call succeeds, fails otherwise, or the deadline passes.  The
 * system calls are made directly (syscall.h): no errno, no libc call on
 * the task's small stack segment.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>

#include "green-internal.h"
#include "syscall.h"

#define IOV_LOCAL 16 /* iovecs copied on the stack by green_writev */

static int
io_begin(int fd, struct green_fd_use *use)
{
	struct green_fd *d;

	if (green__rt == NULL)
		return -EPERM;
	if (fd < 0)
		return -EBADF;
	if ((d = green__fd(fd)) == NULL)
		return -ENOMEM;
	return green__fd_register(d, fd, use);
}

/* One system call of an I/O operation. */
struct io_op {
	long nr;
	long a, b, c, d, e; /* arguments after the fd */
};

static long
io_try(const struct green_fd_use *use, const struct io_op *op)
{
	long r;

	do
		r = green__sys6(op->nr, use->fd, op->a, op->b, op->c, op->d,
				op->e);
	while (r == -EINTR);
	return r;
}

struct offloaded {
	const struct green_fd_use *use;
	const struct io_op *op;
};

static void *
run_offloaded(void *arg)
{
	struct offloaded *o = arg;

	return (void *)io_try(o->use, o->op);
}

/* A regular file never reports EAGAIN but may block on the disk: a task
 * has the call made on the blocking pool (offload.c). */
static long
io_offloaded(const struct green_fd_use *use, const struct io_op *op,
	     int64_t deadline)
{
	struct offloaded o = { use, op };
	void *res;
	int r = green_offload(run_offloaded, &o, &res, deadline);

	return r != 0 ? r : (long)res;
}

/* The bytes an iovec array asks for, or 0 when it cannot tell (a sum
 * past SSIZE_MAX: the call itself rejects that). */
static size_t
iov_want(const struct iovec *iov, size_t cnt)
{
	size_t sum = 0;

	for (size_t i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - sum)
			return 0;
		sum += iov[i].iov_len;
	}
	return sum;
}

/* Whether op consumes input, so that a short count may prove the input
 * drained (not a peek, which leaves it there). */
static bool
op_reads(const struct io_op *op)
{
	switch (op->nr) {
	case SYS_read:
	case SYS_readv:
		return true;
	case SYS_recvfrom:
		return !(op->c & MSG_PEEK);
	case SYS_recvmsg:
		return !(op->b & MSG_PEEK);
	default:
		return false;
	}
}

/* The bytes a read op asked for; only after it succeeded, when the kernel
 * has checked the iovecs. */
static size_t
op_want(const struct io_op *op)
{
	const struct msghdr *msg;

	switch (op->nr) {
	case SYS_readv:
		return iov_want((const struct iovec *)op->a, (size_t)op->b);
	case SYS_recvmsg:
		msg = (const struct msghdr *)op->a;
		return iov_want(msg->msg_iov, msg->msg_iovlen);
	default: /* read, recvfrom */
		return (size_t)op->b;
	}
}

/*
 * Try op until it does not need to wait, waiting for events between.
 * After a read that returned less than it asked for, the next read of the
 * fd waits for input first instead of trying (green__fd_drained).  A call
 * that must not wait (deadline 0), or a plain thread's, always tries.
 */
static long
io_run(int fd, const struct io_op *op, int events, int64_t deadline)
{
	struct green_fd_use use;
	bool reads = op_reads(op), in_task;
	long r;

	if ((r = io_begin(fd, &use)) != 0)
		return r;
	in_task = green__self() != NULL;
	if (use.nopoll && in_task)
		return io_offloaded(&use, op, deadline);
	use.drained = reads && deadline != 0 && in_task &&
		      green__fd_is_drained(&use);
	for (;;) {
		if (!use.drained) {
			r = io_try(&use, op);
			if (reads && r > 0 && (size_t)r < op_want(op))
				green__fd_drained(&use);
			if (r != -EAGAIN || use.nopoll)
				return r;
		}
		if ((r = green__fd_wait(&use, events, deadline)) != 0)
			return r;
	}
}

ssize_t
green_read(int fd, void *buf, size_t n, int64_t deadline)
{
	struct io_op op = { SYS_read, (long)buf, (long)n, 0, 0, 0 };

	return io_run(fd, &op, GREEN_READ, deadline);
}

ssize_t
green_readv(int fd, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct io_op op = { SYS_readv, (long)iov, iovcnt, 0, 0, 0 };

	return io_run(fd, &op, GREEN_READ, deadline);
}

ssize_t
green_recv(int fd, void *buf, size_t n, int flags, int64_t deadline)
{
	struct io_op op = { SYS_recvfrom, (long)buf, (long)n, flags, 0, 0 };

	return io_run(fd, &op, GREEN_READ, deadline);
}

ssize_t
green_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
	       socklen_t *len, int64_t deadline)
{
	struct io_op op = { SYS_recvfrom, (long)buf, (long)n, flags,
			    (long)sa, (long)len };

	return io_run(fd, &op, GREEN_READ, deadline);
}

ssize_t
green_recvmsg(int fd, struct msghdr *msg, int flags, int64_t deadline)
{
	struct io_op op = { SYS_recvmsg, (long)msg, flags, 0, 0, 0 };

	return io_run(fd, &op, GREEN_READ, deadline);
}

ssize_t
green_sendto(int fd, const void *buf, size_t n, int flags,
	     const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	struct io_op op = { SYS_sendto, (long)buf, (long)n,
			    flags | MSG_NOSIGNAL, (long)sa, len };

	return io_run(fd, &op, GREEN_WRITE, deadline);
}

ssize_t
green_sendmsg(int fd, const struct msghdr *msg, int flags, int64_t deadline)
{
	struct io_op op = { SYS_sendmsg, (long)msg, flags | MSG_NOSIGNAL,
			    0, 0, 0 };

	return io_run(fd, &op, GREEN_WRITE, deadline);
}

/* Write all n bytes with op (write or send), advancing the buffer. */
static ssize_t
write_all(int fd, struct io_op *op, size_t n, int64_t deadline)
{
	size_t done = 0;

	if (n > SSIZE_MAX)
		return -EINVAL;
	do {
		long r = io_run(fd, op, GREEN_WRITE, deadline);

		if (r < 0)
			return r;
		done += (size_t)r;
		op->a += r;
		op->b -= r;
	} while (done < n);
	return (ssize_t)n;
}

ssize_t
green_write(int fd, const void *buf, size_t n, int64_t deadline)
{
	struct io_op op = { SYS_write, (long)buf, (long)n, 0, 0, 0 };

	if (n == 0)
		return io_run(fd, &op, GREEN_WRITE, deadline);
	return write_all(fd, &op, n, deadline);
}

ssize_t
green_send(int fd, const void *buf, size_t n, int flags, int64_t deadline)
{
	struct io_op op = { SYS_sendto, (long)buf, (long)n,
			    flags | MSG_NOSIGNAL, 0, 0 };

	if (n == 0)
		return io_run(fd, &op, GREEN_WRITE, deadline);
	return write_all(fd, &op, n, deadline);
}

/* Drop the first n bytes of iov[0..*cnt): the vector is advanced. */
static struct iovec *
iov_skip(struct iovec *iov, int *cnt, size_t n)
{
	while (*cnt > 0 && n >= iov->iov_len) {
		n -= iov->iov_len;
		iov++;
		(*cnt)--;
	}
	if (*cnt > 0) {
		iov->iov_base = (char *)iov->iov_base + n;
		iov->iov_len -= n;
	}
	return iov;
}

ssize_t
green_writev(int fd, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct iovec local[IOV_LOCAL], *copy = local, *cur;
	size_t total = 0;
	ssize_t r = 0;
	int cnt = iovcnt;

	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	if (iovcnt > IOV_LOCAL &&
	    (copy = green__alloc((size_t)iovcnt * sizeof(*copy))) == NULL)
		return -ENOMEM;
	for (int i = 0; i < iovcnt; i++)
		copy[i] = iov[i];
	cur = copy;
	do {
		struct io_op op = { SYS_writev, (long)cur, cnt, 0, 0, 0 };
		r = io_run(fd, &op, GREEN_WRITE, deadline);
		if (r < 0)
			break;
		cur = iov_skip(cur, &cnt, (size_t)r);
	} while (cnt > 0);
	if (copy != local)
		green__free(copy, (size_t)iovcnt * sizeof(*copy));
	return r < 0 ? r : (ssize_t)total;
}

int
green_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags,
	     int64_t deadline)
{
	struct io_op op = { SYS_accept4, (long)sa, (long)len, flags, 0, 0 };

	if (green__fault(GF_ACCEPT))
		return -EMFILE; /* as when the process is out of descriptors */
	return (int)io_run(fd, &op, GREEN_READ, deadline);
}

int
green_connect(int fd, const struct sockaddr *sa, socklen_t len,
	      int64_t deadline)
{
	struct green_fd_use use;
	int err = 0;
	socklen_t errlen = sizeof(err);
	long r;

	if ((r = io_begin(fd, &use)) != 0)
		return (int)r;
	r = green__sys3(SYS_connect, fd, (long)sa, len);
	/* interrupted, the connection goes on in the background */
	if (r != -EINPROGRESS && r != -EINTR)
		return (int)r;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		/* writable means connected or failed: SO_ERROR tells */
		if (green__sys3(SYS_poll, (long)&p, 1, 0) > 0)
			break;
		if ((r = green__fd_wait(&use, GREEN_WRITE, deadline)) != 0)
			return (int)r;
	}
	r = green__sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&err,
			(long)&errlen, 0);
	return r < 0 ? (int)r : -err;
}

/* The events of revents, as GREEN_READ | GREEN_WRITE. */
static int
ready_events(short revents, int asked)
{
	int r = 0;

	if (revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
		r |= GREEN_READ;
	if (revents & (POLLOUT | POLLHUP | POLLERR))
		r |= GREEN_WRITE;
	return r & asked;
}

int
green_fdwait(int fd, int events, int64_t deadline)
{
	struct green_fd_use use;
	long r;

	if (events == 0 || (events & ~(GREEN_READ | GREEN_WRITE)))
		return -EINVAL;
	if ((r = io_begin(fd, &use)) != 0)
		return (int)r;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLRDHUP };
		if (events & GREEN_READ)
			p.events |= POLLIN;
		if (events & GREEN_WRITE)
			p.events |= POLLOUT;
		r = green__sys3(SYS_poll, (long)&p, 1, 0);
		if (r < 0 && r != -EINTR)
			return (int)r;
		if (r > 0 && (p.revents & POLLNVAL))
			return -EBADF;
		if (r > 0 && ready_events(p.revents, events) != 0)
			return ready_events(p.revents, events);
		if (use.nopoll)
			return events; /* a regular file is always ready */
		if ((r = green__fd_wait(&use, events, deadline)) != 0)
			return (int)r;
	}
}
