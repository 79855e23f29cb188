/*
 * hook.c - libgreen-hook: libc's blocking calls park the task instead of
 * the worker.
 *
 * Built as its own library (opt-in: link -lgreen-hook, or LD_PRELOAD it),
 * on top of the public API only, like any library a user could write.
 * Each interposed call asks one question first: is the caller a task?  If
 * not, it is libc's call (found with dlsym(RTLD_NEXT) at load time).  In a
 * task it becomes the green_* call that parks only the task.
 *
 * The netpoller keeps the fds it serves in non-blocking mode, so the hook
 * keeps the mode each fd has in its owner's eyes (a table of one byte per
 * fd): fcntl(F_GETFL) reports that view, fcntl(F_SETFL) records it, a call
 * on an fd its owner made non-blocking fails with EAGAIN as before, and a
 * call from a plain thread on an fd that is non-blocking only for the
 * netpoller's sake waits in poll(2), as the blocking call would have.
 *
 * Built without -fsplit-stack (Makefile.am), like the libc it replaces: a
 * split caller makes room for it as for any libc call, so it may call libc
 * (errno, malloc) freely.  In a split function, each such call would make
 * the linker force a new segment on every call, even on a fixed stack.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "green.h"
#include "syscall.h"

#define HOOK_EXPORT __attribute__((visibility("default")))

/* --- libc's own calls ---------------------------------------------------------- */

static struct {
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
			    socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*close)(int);
	unsigned (*sleep)(unsigned);
	int (*usleep)(useconds_t);
	int (*nanosleep)(const struct timespec *, struct timespec *);
	int (*fcntl)(int, int, ...);
} libc;

static void *
next_symbol(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL)
		abort(); /* a libc without read(2): nothing sane is left */
	return p;
}

/* Resolve every libc call before main, on the main thread's stack; or
 * at the first call, if another library's constructor calls one first. */
__attribute__((constructor)) static void
hook_init(void)
{
	libc.read = next_symbol("read");
	libc.write = next_symbol("write");
	libc.readv = next_symbol("readv");
	libc.writev = next_symbol("writev");
	libc.recv = next_symbol("recv");
	libc.recvfrom = next_symbol("recvfrom");
	libc.recvmsg = next_symbol("recvmsg");
	libc.send = next_symbol("send");
	libc.sendto = next_symbol("sendto");
	libc.sendmsg = next_symbol("sendmsg");
	libc.accept = next_symbol("accept");
	libc.accept4 = next_symbol("accept4");
	libc.connect = next_symbol("connect");
	libc.poll = next_symbol("poll");
	libc.close = next_symbol("close");
	libc.sleep = next_symbol("sleep");
	libc.usleep = next_symbol("usleep");
	libc.nanosleep = next_symbol("nanosleep");
	libc.fcntl = next_symbol("fcntl");
}

/* libc's function name (resolved on first use if need be). */
#define LIBC(name) (libc.name != NULL ? libc.name : (hook_init(), libc.name))

/* --- the owner's view of each fd ------------------------------------------------ */

enum view {
	VIEW_UNKNOWN = 0, /* the hook has not served this fd in a task */
	VIEW_BLOCKING,	  /* blocking for its owner; maybe not in the kernel */
	VIEW_NONBLOCK,	  /* its owner set O_NONBLOCK */
};

#define VIEW_CHUNK 4096
#define VIEW_CHUNKS 1024 /* fds below 4 Mi; beyond, calls pass through */

static _Atomic(_Atomic unsigned char *) views[VIEW_CHUNKS];

/* The view byte of fd, allocated on first need; NULL when out of range
 * (or out of memory, which leaves the fd to libc's semantics). */
static _Atomic unsigned char *
view_slot(int fd, bool create)
{
	size_t i = (size_t)fd / VIEW_CHUNK;
	_Atomic unsigned char *c, *fresh, *expected = NULL;

	if (fd < 0 || i >= VIEW_CHUNKS)
		return NULL;
	/* acquire: pairs with the release of the CAS below (a zeroed
	 * chunk) */
	c = atomic_load_explicit(&views[i], memory_order_acquire);
	if (c != NULL || !create)
		return c != NULL ? &c[fd % VIEW_CHUNK] : NULL;
	fresh = calloc(VIEW_CHUNK, 1);
	if (fresh == NULL)
		return NULL;
	/* release: the zeroes come first; a loser frees its chunk */
	if (atomic_compare_exchange_strong_explicit(&views[i], &expected, fresh,
						    memory_order_acq_rel,
						    memory_order_acquire))
		c = fresh;
	else {
		free(fresh);
		c = expected;
	}
	return &c[fd % VIEW_CHUNK];
}

static enum view
view_get(int fd)
{
	_Atomic unsigned char *v = view_slot(fd, false);

	/* relaxed: the byte is the fd owner's state; calls on one fd are
	 * ordered by the owner's own synchronisation, as with fcntl */
	return v != NULL ? atomic_load_explicit(v, memory_order_relaxed)
			 : VIEW_UNKNOWN;
}

static void
view_set(int fd, enum view view)
{
	_Atomic unsigned char *v = view_slot(fd, view != VIEW_UNKNOWN);

	/* relaxed: see view_get */
	if (v != NULL)
		atomic_store_explicit(v, (unsigned char)view,
				      memory_order_relaxed);
}

/*
 * The view of fd for a call in a task, learnt from the kernel the first
 * time (before libgreen sets O_NONBLOCK).  Returns the view, or -errno.
 */
static int
task_view(int fd)
{
	enum view v = view_get(fd);
	long fl;

	if (v != VIEW_UNKNOWN)
		return v;
	fl = green__sys3(SYS_fcntl, fd, F_GETFL, 0);
	if (fl < 0)
		return (int)fl;
	v = (fl & O_NONBLOCK) ? VIEW_NONBLOCK : VIEW_BLOCKING;
	view_set(fd, v);
	return v;
}

/* --- results -------------------------------------------------------------------- */

static bool
in_task(void)
{
	return green_self() != NULL;
}

/* A libgreen result (count or -errno) as libc returns it. */
static long
as_libc(long r)
{
	if (r >= 0)
		return r;
	errno = (int)-r;
	return -1;
}

/*
 * The deadline of a call in a task on fd: -1 for a blocking view, 0 for a
 * non-blocking one or a call with MSG_DONTWAIT (whose "not ready",
 * -ETIMEDOUT, becomes EAGAIN).  Sets *deadline, or returns -errno.
 */
static int
task_deadline(int fd, int flags, int64_t *deadline)
{
	int v = task_view(fd);

	if (v < 0)
		return v;
	*deadline = v == VIEW_NONBLOCK || (flags & MSG_DONTWAIT) ? 0 : -1;
	return 0;
}

static long
nonblock_result(long r, int64_t deadline)
{
	return r == -ETIMEDOUT && deadline == 0 ? -EAGAIN : r;
}

/*
 * A plain thread's call on an fd that the netpoller made non-blocking
 * behind its owner's back: wait in poll(2) on EAGAIN, as the blocking call
 * would have waited.  Returns whether to try again.
 */
static bool
thread_retry(int fd, short events, int flags, long r)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
	    (flags & MSG_DONTWAIT) || view_get(fd) != VIEW_BLOCKING)
		return false;
	while (LIBC(poll)(&p, 1, -1) < 0 && errno == EINTR)
		;
	return true;
}

/* --- reads and writes ------------------------------------------------------------- */

/*
 * Each call: in a task, the green_* call with the fd's deadline (flags:
 * the call's MSG_* flags, which libgreen's calls pass on, less
 * MSG_DONTWAIT, which the deadline stands for); in a plain thread, libc's,
 * retried after poll(2) where needed.
 */
#define IO_CALL(fd, events, flags, task_call, libc_call)                       \
	do {                                                                   \
		int64_t deadline;                                              \
		long r_;                                                       \
		if (in_task()) {                                               \
			r_ = task_deadline((fd), (flags), &deadline);          \
			if (r_ == 0)                                           \
				r_ = nonblock_result((task_call), deadline);   \
			return as_libc(r_);                                    \
		}                                                              \
		do                                                             \
			r_ = (libc_call);                                      \
		while (thread_retry((fd), (events), (flags), r_));             \
		return r_;                                                     \
	} while (0)

#define NO_WAIT(flags) ((flags) & ~MSG_DONTWAIT)

HOOK_EXPORT ssize_t
read(int fd, void *buf, size_t n)
{
	IO_CALL(fd, POLLIN, 0, green_read(fd, buf, n, deadline),
		LIBC(read)(fd, buf, n));
}

/* green_write writes everything or fails; so does a blocking write(2)
 * unless a signal interrupts it, which cannot happen to a parked task. */
HOOK_EXPORT ssize_t
write(int fd, const void *buf, size_t n)
{
	IO_CALL(fd, POLLOUT, 0, green_write(fd, buf, n, deadline),
		LIBC(write)(fd, buf, n));
}

HOOK_EXPORT ssize_t
readv(int fd, const struct iovec *iov, int iovcnt)
{
	IO_CALL(fd, POLLIN, 0, green_readv(fd, iov, iovcnt, deadline),
		LIBC(readv)(fd, iov, iovcnt));
}

HOOK_EXPORT ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	IO_CALL(fd, POLLOUT, 0, green_writev(fd, iov, iovcnt, deadline),
		LIBC(writev)(fd, iov, iovcnt));
}

HOOK_EXPORT ssize_t
recv(int fd, void *buf, size_t n, int flags)
{
	IO_CALL(fd, POLLIN, flags,
		green_recv(fd, buf, n, NO_WAIT(flags), deadline),
		LIBC(recv)(fd, buf, n, flags));
}

HOOK_EXPORT ssize_t
recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
	 socklen_t *len)
{
	IO_CALL(fd, POLLIN, flags,
		green_recvfrom(fd, buf, n, NO_WAIT(flags), sa, len, deadline),
		LIBC(recvfrom)(fd, buf, n, flags, sa, len));
}

HOOK_EXPORT ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	IO_CALL(fd, POLLIN, flags,
		green_recvmsg(fd, msg, NO_WAIT(flags), deadline),
		LIBC(recvmsg)(fd, msg, flags));
}

HOOK_EXPORT ssize_t
send(int fd, const void *buf, size_t n, int flags)
{
	IO_CALL(fd, POLLOUT, flags,
		green_send(fd, buf, n, NO_WAIT(flags), deadline),
		LIBC(send)(fd, buf, n, flags));
}

HOOK_EXPORT ssize_t
sendto(int fd, const void *buf, size_t n, int flags,
       const struct sockaddr *sa, socklen_t len)
{
	IO_CALL(fd, POLLOUT, flags,
		green_sendto(fd, buf, n, NO_WAIT(flags), sa, len, deadline),
		LIBC(sendto)(fd, buf, n, flags, sa, len));
}

HOOK_EXPORT ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	IO_CALL(fd, POLLOUT, flags,
		green_sendmsg(fd, msg, NO_WAIT(flags), deadline),
		LIBC(sendmsg)(fd, msg, flags));
}

/* --- connections ----------------------------------------------------------------- */

/* The new fd of an accept in a task is non-blocking in the kernel (the
 * netpoller serves it): record the mode its owner asked for. */
static int
task_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int64_t deadline;
	long r = task_deadline(fd, 0, &deadline);

	if (r != 0)
		return (int)as_libc(r);
	r = nonblock_result(green_accept(fd, sa, len, flags, deadline),
			    deadline);
	if (r >= 0)
		view_set((int)r, (flags & SOCK_NONBLOCK) ? VIEW_NONBLOCK
							 : VIEW_BLOCKING);
	return (int)as_libc(r);
}

HOOK_EXPORT int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	long r;

	if (in_task())
		return task_accept(fd, sa, len, 0);
	do
		r = LIBC(accept)(fd, sa, len);
	while (thread_retry(fd, POLLIN, 0, r));
	return (int)r;
}

HOOK_EXPORT int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	long r;

	if (in_task())
		return task_accept(fd, sa, len, flags);
	do
		r = LIBC(accept4)(fd, sa, len, flags);
	while (thread_retry(fd, POLLIN, 0, r));
	return (int)r;
}

/* A non-blocking connect answers EINPROGRESS, and its owner waits for
 * the fd to become writable (poll, below). */
static int
task_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int v = task_view(fd);

	if (v < 0)
		return (int)as_libc(v);
	if (v == VIEW_NONBLOCK)
		return (int)as_libc(
			green__sys3(SYS_connect, fd, (long)sa, (long)len));
	return (int)as_libc(green_connect(fd, sa, len, -1));
}

/* A plain thread's connect on an fd the netpoller made non-blocking
 * waits for the outcome, as the blocking connect would. */
static int
thread_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int r = LIBC(connect)(fd, sa, len), err = 0;
	socklen_t errlen = sizeof(err);

	if (r == 0 || errno != EINPROGRESS || view_get(fd) != VIEW_BLOCKING)
		return r;
	while (LIBC(poll)(&p, 1, -1) < 0 && errno == EINTR)
		;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0)
		return -1;
	return (int)as_libc(-err);
}

HOOK_EXPORT int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return in_task() ? task_connect(fd, sa, len)
			 : thread_connect(fd, sa, len);
}

/* green_close wakes the fd's waiters and forgets it in the netpoller;
 * the fd's view is forgotten too, for the next file to get the number. */
HOOK_EXPORT int
close(int fd)
{
	view_set(fd, VIEW_UNKNOWN);
	return (int)as_libc(green_close(fd));
}

/* --- poll ------------------------------------------------------------------------ */

/* poll(2) that does not block: fills the revents. */
static int
poll_now(struct pollfd *fds, nfds_t n)
{
	long r;

	do
		r = green__sys3(SYS_poll, (long)fds, (long)n, 0);
	while (r == -EINTR);
	return (int)r;
}

/*
 * In a task: poll once without blocking; if nothing is ready, wait in
 * green_select on one case per fd and direction (channel-free), then poll
 * again.  An entry asking for neither POLLIN nor POLLOUT (POLLPRI alone,
 * say) waits for nothing: a read case would fire on ordinary data that
 * this poll does not report, and spin.  Its events still show in the
 * polls before and after each wait.
 */
static int
task_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int64_t deadline = timeout < 0 ? -1 : green_now() + GREEN_MSEC(timeout);
	green_case_t small[8], *cases = small;
	size_t ncases = 0;
	int r;

	if ((r = poll_now(fds, n)) != 0 || timeout == 0)
		return (int)as_libc(r);
	for (nfds_t i = 0; i < n; i++)
		if (fds[i].fd >= 0)
			ncases += !!(fds[i].events & POLLIN) +
				  !!(fds[i].events & POLLOUT);
	if (ncases > sizeof(small) / sizeof(small[0]) &&
	    (cases = malloc(ncases * sizeof(*cases))) == NULL)
		return (int)as_libc(-ENOMEM);
	ncases = 0;
	for (nfds_t i = 0; i < n; i++) {
		if (fds[i].fd < 0)
			continue;
		if (fds[i].events & POLLIN)
			cases[ncases++] = (green_case_t){
				.kind = GREEN_FD_READ, .fd = fds[i].fd };
		if (fds[i].events & POLLOUT)
			cases[ncases++] = (green_case_t){
				.kind = GREEN_FD_WRITE, .fd = fds[i].fd };
	}
	/* a wake says "maybe": poll tells; wait again if it was not */
	while ((r = green_select(cases, ncases, deadline)) >= 0 &&
	       (r = poll_now(fds, n)) == 0)
		;
	if (r == -ETIMEDOUT)
		r = poll_now(fds, n); /* 0, or what came at the last moment */
	else if (r == -ECANCELED)
		r = -EINTR;
	if (cases != small)
		free(cases);
	return (int)as_libc(r);
}

HOOK_EXPORT int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (in_task())
		return task_poll(fds, n, timeout);
	return LIBC(poll)(fds, n, timeout);
}

/* --- sleeping --------------------------------------------------------------------- */

/* Sleep the task for ns; returns 0, or the ns left when cancelled. */
static int64_t
task_sleep(int64_t ns)
{
	int64_t end = green_now() + ns;

	if (green_sleep(end) == 0)
		return 0;
	ns = end - green_now();
	return ns > 0 ? ns : 1;
}

HOOK_EXPORT int
nanosleep(const struct timespec *req, struct timespec *rem)
{
	int64_t left;

	if (!in_task())
		return LIBC(nanosleep)(req, rem);
	if (req == NULL || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L ||
	    req->tv_sec < 0)
		return (int)as_libc(req == NULL ? -EFAULT : -EINVAL);
	/* beyond ~292 years: as good as forever */
	left = req->tv_sec > INT64_MAX / 1000000000L - 1
		       ? INT64_MAX / 2
		       : (int64_t)req->tv_sec * 1000000000L + req->tv_nsec;
	if ((left = task_sleep(left)) == 0)
		return 0;
	if (rem != NULL) {
		rem->tv_sec = left / 1000000000L;
		rem->tv_nsec = left % 1000000000L;
	}
	return (int)as_libc(-EINTR); /* cancelled: as a signal would */
}

HOOK_EXPORT int
usleep(useconds_t us)
{
	if (!in_task())
		return LIBC(usleep)(us);
	return task_sleep(GREEN_USEC(us)) == 0 ? 0 : (int)as_libc(-EINTR);
}

HOOK_EXPORT unsigned
sleep(unsigned s)
{
	int64_t left;

	if (!in_task())
		return LIBC(sleep)(s);
	left = task_sleep(GREEN_SEC(s));
	return (unsigned)((left + GREEN_SEC(1) - 1) / GREEN_SEC(1));
}

/* --- fcntl: the owner's O_NONBLOCK ---------------------------------------------- */

/*
 * F_GETFL reports, and F_SETFL records, the O_NONBLOCK of the owner's
 * view of an fd the hook serves, while the kernel's flag stays set for the
 * netpoller.  Every other command, and every fd the hook has not served,
 * is the system's.  The call is made directly, in tasks and threads alike.
 */
static int
hook_fcntl(int fd, int cmd, unsigned long arg)
{
	enum view v = view_get(fd);
	long r;

	if (v != VIEW_UNKNOWN && cmd == F_SETFL) {
		view_set(fd, (arg & O_NONBLOCK) ? VIEW_NONBLOCK : VIEW_BLOCKING);
		arg |= O_NONBLOCK;
	}
	r = green__sys3(SYS_fcntl, fd, cmd, (long)arg);
	if (v == VIEW_BLOCKING && cmd == F_GETFL && r >= 0)
		r &= ~(long)O_NONBLOCK;
	return (int)as_libc(r);
}

HOOK_EXPORT int
fcntl(int fd, int cmd, ...)
{
	unsigned long arg;
	va_list ap;

	/* every fcntl argument is an int or a pointer, or none (read all
	 * the same, as libc's own fcntl does): one register */
	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return hook_fcntl(fd, cmd, arg);
}

/* glibc's name for the same call with 64-bit locks, which x86-64's
 * fcntl always has */
HOOK_EXPORT int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));
