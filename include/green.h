/*
 * green.h - the public API of libgreen, Go-style tasks for C.
 *
 * Conventions (see libgreen(7)):
 *  - Calls return 0 (or a count) on success and a negative errno value on
 *    failure; they never leave a code in errno.  green_strerror() names it.
 *  - Time is int64_t nanoseconds of CLOCK_MONOTONIC (green_now()).  Every
 *    call that can block takes an absolute deadline as its last argument:
 *    -1 waits forever, 0 never blocks (-ETIMEDOUT at once when not ready).
 *  - green_cancel(t) makes every current and later blocking call of t
 *    return -ECANCELED.
 *  - A call that needs a running runtime or a task context and has none
 *    returns -EPERM, unless its page says it blocks the calling OS thread.
 */
#ifndef GREEN_H
#define GREEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GREEN_EXPORT __attribute__((visibility("default")))
#else
#define GREEN_EXPORT
#endif

#define GREEN_VERSION_MAJOR 0
#define GREEN_VERSION_MINOR 1

/* Deadline helpers: relative durations in ns, add them to green_now(). */
#define GREEN_USEC(n) ((int64_t)(n) * 1000)
#define GREEN_MSEC(n) ((int64_t)(n) * 1000000)
#define GREEN_SEC(n) ((int64_t)(n) * 1000000000)
#define GREEN_FOREVER ((int64_t)-1)

/* Stack kinds for green_config_t.stack_kind and green_attr_t.stack_kind. */
#define GREEN_STACK_DEFAULT 0	/* the build's default kind */
#define GREEN_STACK_FIXED 1	/* mmap + guard page, pooled */
#define GREEN_STACK_SEGMENTED 2 /* small first segment, grows (-fsplit-stack) */

typedef struct green_task green_task_t; /* opaque: see green_spawn(3) */

/* Runtime configuration; zero-initialised fields mean "default". */
typedef struct green_config {
	unsigned workers;	  /* 0: GREEN_WORKERS, else online CPUs */
	int stack_kind;		  /* GREEN_STACK_*; 0: build default */
	size_t stack_size;	  /* 0: default stack size */
	const char *trace_path;	  /* trace from the start into this file
				     (green_trace_start(3)); NULL: GREEN_TRACE */
	unsigned offload_threads; /* green_offload pool; 0: default (16) */
	size_t stack_max;	  /* most a segmented stack may grow to;
				     0: default (1 GiB) */
	unsigned max_spares;	  /* most threads beyond `workers` that take
				     over from workers held by one task (a
				     long loop, an unhooked blocking call);
				     0: default (64) */
} green_config_t;

/* Task attributes; zero-initialised fields mean "default". */
typedef struct green_attr {
	int stack_kind;	  /* GREEN_STACK_*; 0: the runtime's default */
	size_t stack_size; /* 0: the runtime's default */
	const char *name;  /* copied; shown in diagnostics (31 chars kept) */
	size_t stack_max;  /* most its segmented stack may grow to; 0: the
			      runtime's (green_config_t.stack_max) */
} green_attr_t;

/* Runtime. */
GREEN_EXPORT int green_init(const green_config_t *cfg);
GREEN_EXPORT int green_shutdown(void);
GREEN_EXPORT int green_run(void (*fn)(void *), void *arg,
			   const green_config_t *cfg);

/* Tasks. */
GREEN_EXPORT int green_spawn(green_task_t **t, const green_attr_t *attr,
			     void *(*fn)(void *), void *arg);
GREEN_EXPORT int green_join(green_task_t *t, void **result, int64_t deadline);
GREEN_EXPORT int green_detach(green_task_t *t);
GREEN_EXPORT int green_cancel(green_task_t *t);
GREEN_EXPORT void green_yield(void);
GREEN_EXPORT green_task_t *green_self(void);
GREEN_EXPORT uint64_t green_task_id(const green_task_t *t);
GREEN_EXPORT int green_worker_id(void);
GREEN_EXPORT int64_t green_now(void);
GREEN_EXPORT int green_sleep(int64_t deadline);

/* --- Task groups: structured concurrency (green_group_create(3)) --- */

typedef struct green_group green_group_t; /* opaque */

/* green_group_attr_t.policy */
#define GREEN_GROUP_WAIT_ALL 0	    /* run every task; report the first failure */
#define GREEN_GROUP_FIRST_ERROR 1   /* cancel the rest when one task fails */
#define GREEN_GROUP_FIRST_SUCCESS 2 /* cancel the rest when one succeeds */

/* Group attributes; zero-initialised fields mean "default". */
typedef struct green_group_attr {
	unsigned limit;	  /* 0: none; else at most limit tasks run at once */
	int64_t deadline; /* 0 or -1: none; else every blocking call of
			     the group's tasks (and of groups nested in
			     them) returns -ETIMEDOUT at this time at the
			     latest */
	int policy;	  /* GREEN_GROUP_* */
	const char *name; /* copied; shown in diagnostics (31 chars kept) */
} green_group_attr_t;

GREEN_EXPORT int green_group_create(green_group_t **g,
				    const green_group_attr_t *attr);
GREEN_EXPORT int green_group_spawn(green_group_t *g, const green_attr_t *attr,
				   int (*fn)(void *), void *arg,
				   int64_t deadline);
GREEN_EXPORT int green_group_wait(green_group_t *g, int64_t deadline);
GREEN_EXPORT int green_group_cancel(green_group_t *g);
GREEN_EXPORT int green_group_destroy(green_group_t *g);
GREEN_EXPORT green_group_t *green_group_self(void);
GREEN_EXPORT int64_t green_deadline(void);

/* --- Channels and select (green_chan_create(3), green_select(3)) --- */

typedef struct green_chan green_chan_t; /* opaque */

/* green_case_t.kind */
#define GREEN_SEND 1	 /* send *elem on chan */
#define GREEN_RECV 2	 /* receive into elem (NULL: discard) from chan */
#define GREEN_FD_READ 3	 /* fd readable (or hung up, or in error) */
#define GREEN_FD_WRITE 4 /* fd writable (or hung up, or in error) */

typedef struct green_case {
	int kind;	    /* GREEN_SEND, GREEN_RECV, GREEN_FD_READ, ... */
	green_chan_t *chan; /* NULL: never ready (Go's nil channel) */
	void *elem;	    /* send source / receive destination */
	int fd;		    /* GREEN_FD_* cases */
	int result;	    /* out: 0, or -EPIPE when chan is closed */
} green_case_t;

GREEN_EXPORT int green_chan_create(green_chan_t **ch, size_t elem_size,
				   size_t capacity);
GREEN_EXPORT int green_chan_send(green_chan_t *ch, const void *elem,
				 int64_t deadline);
GREEN_EXPORT int green_chan_recv(green_chan_t *ch, void *elem,
				 int64_t deadline);
GREEN_EXPORT int green_chan_close(green_chan_t *ch);
GREEN_EXPORT int green_chan_destroy(green_chan_t *ch);
GREEN_EXPORT ssize_t green_chan_len(const green_chan_t *ch);
GREEN_EXPORT ssize_t green_chan_cap(const green_chan_t *ch);
GREEN_EXPORT int green_select(green_case_t *cases, size_t n, int64_t deadline);

/* --- Synchronisation: park the task, never the thread --- */
/* Caller-allocated; the fields are private.  Zero-initialised (or the
 * GREEN_*_INITIALIZER constant) is a valid unlocked / empty object. */

struct green__waiter; /* private */

typedef struct green_mutex {
	int _lock;
	int _locked;
	struct green__waiter *_head, *_tail;
	void *_owner;
} green_mutex_t;
#define GREEN_MUTEX_INITIALIZER {0, 0, 0, 0, 0}

typedef struct green_cond {
	int _lock;
	struct green__waiter *_head, *_tail;
} green_cond_t;
#define GREEN_COND_INITIALIZER {0, 0, 0}

typedef struct green_wg {
	int _lock;
	long _count;
	struct green__waiter *_head, *_tail;
} green_wg_t;
#define GREEN_WG_INITIALIZER {0, 0, 0, 0}

typedef struct green_sem {
	int _lock;
	long _count;
	struct green__waiter *_head, *_tail;
} green_sem_t;
#define GREEN_SEM_INITIALIZER(n) {0, (n), 0, 0}

GREEN_EXPORT int green_mutex_init(green_mutex_t *m);
GREEN_EXPORT int green_mutex_destroy(green_mutex_t *m);
GREEN_EXPORT int green_mutex_lock(green_mutex_t *m, int64_t deadline);
GREEN_EXPORT int green_mutex_trylock(green_mutex_t *m);
GREEN_EXPORT int green_mutex_unlock(green_mutex_t *m);

GREEN_EXPORT int green_cond_init(green_cond_t *c);
GREEN_EXPORT int green_cond_destroy(green_cond_t *c);
GREEN_EXPORT int green_cond_wait(green_cond_t *c, green_mutex_t *m,
				 int64_t deadline);
GREEN_EXPORT int green_cond_signal(green_cond_t *c);
GREEN_EXPORT int green_cond_broadcast(green_cond_t *c);

GREEN_EXPORT int green_wg_init(green_wg_t *wg);
GREEN_EXPORT int green_wg_add(green_wg_t *wg, long n);
GREEN_EXPORT int green_wg_done(green_wg_t *wg);
GREEN_EXPORT int green_wg_wait(green_wg_t *wg, int64_t deadline);

GREEN_EXPORT int green_sem_init(green_sem_t *s, long count);
GREEN_EXPORT int green_sem_destroy(green_sem_t *s);
GREEN_EXPORT int green_sem_acquire(green_sem_t *s, int64_t deadline);
GREEN_EXPORT int green_sem_release(green_sem_t *s);

/*
 * I/O: blocking-style calls that park only the task (the worker runs
 * others meanwhile).  The fd is made non-blocking the first time a green_*
 * call uses it; close it with green_close.  From a plain thread they block
 * that thread.  Reads return what is there (0 at end of file); green_write,
 * green_writev and green_send write everything or fail.
 */
#define GREEN_READ 1  /* green_fdwait: readable */
#define GREEN_WRITE 2 /* green_fdwait: writable */

GREEN_EXPORT ssize_t green_read(int fd, void *buf, size_t n, int64_t deadline);
GREEN_EXPORT ssize_t green_write(int fd, const void *buf, size_t n,
				 int64_t deadline);
GREEN_EXPORT ssize_t green_readv(int fd, const struct iovec *iov, int iovcnt,
				 int64_t deadline);
GREEN_EXPORT ssize_t green_writev(int fd, const struct iovec *iov, int iovcnt,
				  int64_t deadline);
GREEN_EXPORT ssize_t green_recv(int fd, void *buf, size_t n, int flags,
				int64_t deadline);
GREEN_EXPORT ssize_t green_send(int fd, const void *buf, size_t n, int flags,
				int64_t deadline);
GREEN_EXPORT ssize_t green_recvfrom(int fd, void *buf, size_t n, int flags,
				    struct sockaddr *sa, socklen_t *len,
				    int64_t deadline);
GREEN_EXPORT ssize_t green_sendto(int fd, const void *buf, size_t n, int flags,
				  const struct sockaddr *sa, socklen_t len,
				  int64_t deadline);
GREEN_EXPORT ssize_t green_recvmsg(int fd, struct msghdr *msg, int flags,
				   int64_t deadline);
GREEN_EXPORT ssize_t green_sendmsg(int fd, const struct msghdr *msg, int flags,
				   int64_t deadline);
GREEN_EXPORT int green_accept(int fd, struct sockaddr *sa, socklen_t *len,
			      int flags, int64_t deadline);
GREEN_EXPORT int green_connect(int fd, const struct sockaddr *sa, socklen_t len,
			       int64_t deadline);
GREEN_EXPORT int green_fdwait(int fd, int events, int64_t deadline);
GREEN_EXPORT int green_close(int fd);
/* Run fn(arg) on the blocking pool while the task parks. */
GREEN_EXPORT int green_offload(void *(*fn)(void *), void *arg, void **result,
			       int64_t deadline);

/* Errors. */
GREEN_EXPORT const char *green_strerror(int err);

/* --- Tracing (green_trace_start(3), green-trace(1)) --- */
GREEN_EXPORT int green_trace_start(const char *path);
GREEN_EXPORT int green_trace_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* GREEN_H */
