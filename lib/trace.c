/*
 * trace.c - the execution tracer: compact binary events per worker,
 * written to a file by a background thread (format: trace-format.h,
 * green-trace(5); reader: green-trace(1)).
 *
 * Go's tracer since 1.21 is the model: per-P buffers, no locks on the hot
 * path, a cheap timestamp.  Each worker owns one buffer and appends events
 * to it; a full buffer goes to the writer thread's queue and the worker
 * takes a fresh one.  Threads that are not workers (the blocking pool,
 * plain threads readying tasks) share one buffer under a lock.  When
 * tracing is off, an event site costs one load and a branch predicted not
 * taken (GREEN_TRACING in green-internal.h).
 *
 * Stopping without stopping the workers: green_trace_stop turns tracing
 * off and bumps a generation; each worker hands its buffer over at its
 * next safe point (after a switch, or in its idle loop: the stopper kicks
 * idle workers), and the stopper waits for every worker's
 * acknowledgement before the writer drains and the file is closed.
 *
 * Compact events (format version 3): a worker remembers which task the
 * reader will know to be running (its last recorded START), writes PARK
 * and READY by that task without naming it, and joins a START to the stop
 * just before it (event_put, start_write).
 *
 * Time: the TSC, converted to CLOCK_MONOTONIC nanoseconds with a factor
 * measured at start (constant_tsc machines; otherwise clock_gettime).
 * Timestamps never go backwards within a buffer (a thread that moves to
 * another CPU may read a TSC a few cycles behind): each is at least the
 * previous one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "green-internal.h"
#include "syscall.h"
#include "trace-format.h"

#define TBUF_SIZE (64u << 10)
#define TBUF_SLACK 256u	 /* room for any event but FUNC's long names */
#define TBUF_MAX 512u	 /* buffers in flight (32 MiB) before loss */
/* The writer is woken when this many buffers wait (a futex wake of
 * another CPU costs tens of microseconds on a VM: waking it per buffer
 * was 4% of a traced skynet), and otherwise looks every WRITER_PERIOD_MS. */
#define WRITER_BATCH 8u
#define WRITER_PERIOD_MS 20
#define FUNC_SLOTS 4096u /* entry functions named so far (then: unnamed) */
#define FUNC_CACHE 64u	 /* per worker: functions it knows are named */

struct green_tbuf {
	struct green_tbuf *next; /* writer queue / free list */
	uint32_t source;
	uint32_t len;
	uint64_t base, last; /* ns: the block's base, the last event's time */
	uint8_t data[TBUF_SIZE];
};

struct green_tracer {
	int fd;
	pthread_t writer;
	pthread_mutex_t lock;	/* everything below but the clock */
	pthread_cond_t cond;	/* the writer's queue has work, or stop */
	struct green_tbuf *queue_head, *queue_tail;
	unsigned queued;	/* buffers in the queue */
	struct green_tbuf *free;
	unsigned nbufs;		/* allocated */
	bool stop;		/* the writer drains and exits */
	int error;		/* first write error, -errno */
	struct green_tbuf *other; /* non-worker threads; under lock */
	uint64_t other_lost;
	uintptr_t funcs[FUNC_SLOTS]; /* named entry functions; under lock */
	/* the clock: ns = ns0 + (tsc - tsc0) * mult >> 32 */
	uint64_t tsc0, ns0, mult;
	bool use_tsc;
};

/* seq_cst writes (start, stop), relaxed reads at event sites: a site that
 * misses the change records one event more or less, which the protocol
 * above tolerates. */
_Atomic int green__trace_on;
_Atomic unsigned green__trace_gen; /* bumped by stop: safe points ack it */
/* Published by start with a release store after it is complete, read
 * with acquire at event sites; freed only after every worker acked a
 * stop, and under trace_ctl, which other threads' events hold. */
static _Atomic(struct green_tracer *) tracer;
/* Start, stop, and every event of a thread that is not a worker. */
static pthread_mutex_t trace_ctl = PTHREAD_MUTEX_INITIALIZER;

/* --- the clock --------------------------------------------------------------------- */

#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE uint64_t
rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static __attribute__((noinline)) uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The TSC counts at a constant rate, in every power state. */
static bool
tsc_is_constant(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool constant = false, nonstop = false;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
}

/* Measure the TSC against CLOCK_MONOTONIC over ~5 ms. */
static void
clock_calibrate(struct green_tracer *tr)
{
	uint64_t t1, n1;

	tr->use_tsc = tsc_is_constant();
	tr->ns0 = mono_ns();
	tr->tsc0 = rdtsc();
	if (!tr->use_tsc)
		return;
	do {
		n1 = mono_ns();
		t1 = rdtsc();
	} while (n1 - tr->ns0 < 5000000);
	if (t1 <= tr->tsc0) {
		tr->use_tsc = false;
		return;
	}
	tr->mult = (uint64_t)(((unsigned __int128)(n1 - tr->ns0) << 32) /
			      (t1 - tr->tsc0));
}

/* The time by the TSC (tr->use_tsc only). */
static ALWAYS_INLINE uint64_t
tsc_now(const struct green_tracer *tr)
{
	return tr->ns0 +
	       (uint64_t)(((unsigned __int128)(rdtsc() - tr->tsc0) * tr->mult) >>
			  32);
}

static inline uint64_t
trace_now(const struct green_tracer *tr)
{
	return tr->use_tsc ? tsc_now(tr) : mono_ns();
}

/* --- encoding ------------------------------------------------------------------------ */

static ALWAYS_INLINE uint8_t *
put_u(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A string of at most max bytes (no libc: see above). */
static ALWAYS_INLINE uint8_t *
put_s(uint8_t *p, const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	p = put_u(p, n);
	for (size_t i = 0; i < n; i++)
		*p++ = (uint8_t)s[i];
	return p;
}

/* Start an event of type in b: its type byte and time delta. */
static ALWAYS_INLINE uint8_t *
event_begin_at(struct green_tbuf *b, int type, uint64_t now)
{
	uint8_t *p = b->data + b->len;

	if (b->len == 0)
		b->base = b->last = now;
	if (now < b->last)
		now = b->last; /* never backwards within a block */
	*p++ = (uint8_t)type;
	p = put_u(p, now - b->last);
	b->last = now;
	return p;
}

static inline uint8_t *
event_begin(struct green_tracer *tr, struct green_tbuf *b, int type)
{
	return event_begin_at(b, type, trace_now(tr));
}

/*
 * Announce that the worker will soon write the buffer line PREFETCH_AHEAD
 * bytes past p.  The buffers are recycled after the writer thread, on
 * another CPU, has read them for write(2): their lines are shared with
 * that CPU, and each first store to one waited for the other CPU to give
 * it up.  A prefetch for writing starts that hand-over early (traced
 * ping-pong: 1.40x -> 1.23x of untraced; a plain read prefetch did
 * nothing).  PREFETCHW is a no-op on x86 CPUs without it.
 */
#define PREFETCH_AHEAD 512u

static ALWAYS_INLINE void
buf_prefetch(const struct green_tbuf *b)
{
	uint32_t at = b->len + PREFETCH_AHEAD;

	if (at >= TBUF_SIZE)
		return;
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(b->data[at]));
#else
	__builtin_prefetch(&b->data[at], 1, 3);
#endif
}

/* --- buffers and the writer -------------------------------------------------------- */

/* Under tr->lock: a fresh buffer for source, or NULL (too many in
 * flight: the writer cannot keep up, or no memory). */
static struct green_tbuf *
buf_get(struct green_tracer *tr, uint32_t source)
{
	struct green_tbuf *b = tr->free;

	if (b != NULL) {
		tr->free = b->next;
	} else if (tr->nbufs < TBUF_MAX && !green__fault(GF_ALLOC) &&
		   (b = malloc(sizeof(*b))) != NULL) {
		tr->nbufs++;
	} else {
		return NULL;
	}
	b->next = NULL;
	b->source = source;
	b->len = 0;
	return b;
}

/* Under tr->lock: queue b for the writer (an empty one is recycled). */
static void
buf_queue(struct green_tracer *tr, struct green_tbuf *b)
{
	if (b == NULL)
		return;
	if (b->len == 0) {
		b->next = tr->free;
		tr->free = b;
		return;
	}
	b->next = NULL;
	if (tr->queue_tail != NULL)
		tr->queue_tail->next = b;
	else
		tr->queue_head = b;
	tr->queue_tail = b;
	if (++tr->queued >= WRITER_BATCH)
		pthread_cond_signal(&tr->cond);
}

static int
write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p = (const char *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int
write_block(int fd, const struct green_tbuf *b)
{
	uint8_t h[GREEN_TRACE_BLOCK_HEADER_SIZE];
	int r;

	put_le32(h, GREEN_TRACE_BLOCK_MAGIC);
	put_le32(h + 4, b->len);
	put_le32(h + 8, b->source);
	put_le64(h + 12, b->base);
	if ((r = write_all(fd, h, sizeof(h))) != 0)
		return r;
	return write_all(fd, b->data, b->len);
}

/* Under tr->lock: wait for a batch of buffers, a stop, or the period. */
static void
writer_wait(struct green_tracer *tr)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += WRITER_PERIOD_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&tr->cond, &tr->lock, &ts);
}

/* The writer thread: write queued blocks until told to stop and the
 * queue is empty. */
static void *
writer_main(void *arg)
{
	struct green_tracer *tr = arg;

	pthread_mutex_lock(&tr->lock);
	for (;;) {
		struct green_tbuf *b = tr->queue_head;
		if (b == NULL) {
			if (tr->stop)
				break;
			writer_wait(tr);
			continue;
		}
		tr->queue_head = b->next;
		if (tr->queue_head == NULL)
			tr->queue_tail = NULL;
		tr->queued--;
		pthread_mutex_unlock(&tr->lock);
		int r = tr->error == 0 ? write_block(tr->fd, b) : 0;
		pthread_mutex_lock(&tr->lock);
		if (r != 0 && tr->error == 0)
			tr->error = r;
		b->next = tr->free;
		tr->free = b;
	}
	pthread_mutex_unlock(&tr->lock);
	return NULL;
}

/* --- events from workers -------------------------------------------------------------- */

/* The worker's full (or missing) buffer goes to the writer; a fresh one
 * comes back, or NULL (lost). */
static __attribute__((noinline)) struct green_tbuf *
worker_refill(struct green_tracer *tr, struct green_worker *w)
{
	struct green_tbuf *b = w->tbuf;

	green__lock(&tr->lock);
	buf_queue(tr, b);
	w->tbuf = b = buf_get(tr, w->id);
	green__unlock(&tr->lock);
	w->tstop_buf = NULL;
	if (b != NULL && w->tlost != 0) {
		uint8_t *p = event_begin(tr, b, GT_LOST);
		p = put_u(p, w->tlost);
		b->len = (uint32_t)(p - b->data);
		w->tlost = 0;
	}
	return b;
}

/* The worker's buffer with room for an event, or NULL (lost). */
static inline struct green_tbuf *
worker_buf(struct green_tracer *tr, struct green_worker *w)
{
	struct green_tbuf *b = w->tbuf;

	if (b != NULL && b->len + TBUF_SLACK <= TBUF_SIZE)
		return b;
	return worker_refill(tr, w);
}

/* A thread that is not a worker: the shared buffer, with trace_ctl held
 * (event_end releases it), or NULL. */
static __attribute__((noinline)) struct green_tbuf *
other_buf(struct green_tracer **trp)
{
	struct green_tracer *tr;
	struct green_tbuf *b;

	pthread_mutex_lock(&trace_ctl);
	tr = *trp = atomic_load_explicit(&tracer, memory_order_relaxed);
	if (tr == NULL || !atomic_load(&green__trace_on)) {
		pthread_mutex_unlock(&trace_ctl);
		return NULL;
	}
	b = tr->other;
	if (b == NULL || b->len + TBUF_SLACK > TBUF_SIZE) {
		pthread_mutex_lock(&tr->lock);
		buf_queue(tr, b);
		tr->other = b = buf_get(tr, GREEN_TRACE_SOURCE_OTHER);
		pthread_mutex_unlock(&tr->lock);
	}
	if (b == NULL) {
		tr->other_lost++;
		pthread_mutex_unlock(&trace_ctl);
	}
	return b;
}

static __attribute__((noinline)) void
other_unlock(void)
{
	pthread_mutex_unlock(&trace_ctl);
}

/* The buffer an event of this thread goes to, or NULL (tracing is off or
 * the event is lost). */
static inline struct green_tbuf *
event_buf(struct green_tracer **trp, struct green_worker **wp)
{
	struct green_worker *w = green__worker();
	struct green_tracer *tr;
	struct green_tbuf *b;

	*wp = w;
	if (w == NULL)
		return other_buf(trp);
	/* acquire: pairs with start's release; see tracer */
	tr = *trp = atomic_load_explicit(&tracer, memory_order_acquire);
	if (tr == NULL)
		return NULL;
	if ((b = worker_buf(tr, w)) == NULL) {
		/* the reader cannot know what runs until the next START */
		w->tlost++;
		w->trun = 0;
		w->tstop_buf = NULL;
	}
	return b;
}

static inline void
event_end(struct green_worker *w, struct green_tbuf *b, uint8_t *p)
{
	b->len = (uint32_t)(p - b->data);
	if (w == NULL)
		other_unlock();
}

/*
 * The fast path of an event on a worker, shared by the event functions
 * below: the worker's buffer when it has room and the TSC is the clock,
 * else NULL (the slow path sorts out the rest).
 *
 * The event functions are no_split_stack and on their fast path call only
 * green__worker (no_split_stack, no frame): they run near the end of a
 * task's small first segment (at the bottom of channel and scheduler
 * calls), where a split-stack prologue switched to another segment and
 * back for each event, which cost as much as recording it (perf, skynet
 * traced).  Their frames are under 64 bytes (-fstack-usage), which the
 * reserve below the guard holds (splitstack.h).
 */
static ALWAYS_INLINE struct green_tbuf *
fast_buf(struct green_worker *w, struct green_tracer **trp)
{
	struct green_tracer *tr;
	struct green_tbuf *b;

	if (w == NULL)
		return NULL;
	/* acquire: pairs with start's release; see tracer */
	tr = *trp = atomic_load_explicit(&tracer, memory_order_acquire);
	if (tr == NULL || !tr->use_tsc || (b = w->tbuf) == NULL ||
	    b->len + TBUF_SLACK > TBUF_SIZE)
		return NULL;
	return b;
}

/*
 * What the reader will know of worker w after an event of type was
 * written to b at offset at: the running task (w->trun, for the compact
 * events), and where the last stop is, which the next START may join
 * (w->tstop_*).  The reader follows the same rules (tools/green-trace).
 */
static ALWAYS_INLINE void
event_noted(struct green_worker *w, struct green_tbuf *b, int type,
	    uint32_t at, uint64_t a0)
{
	switch (type) {
	case GT_START:
		w->trun = a0;
		w->tstop_buf = NULL;
		break;
	case GT_PARK:
	case GT_PARK_RUNNING:
	case GT_YIELD:
	case GT_EXIT:
		/* a stop is followed at once by the next task's start: one
		 * clock read serves both (green__trace_start) */
		w->trun = 0;
		w->tswitch = b->last;
		w->tstop_buf = b;
		w->tstop_at = at;
		w->tstop_end = b->len;
		break;
	default:
		break;
	}
}

/* Write an event with up to three arguments to b at time now. */
static ALWAYS_INLINE void
event_write(struct green_worker *w, struct green_tbuf *b, int type,
	    uint64_t now, int nargs, uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint32_t at = b->len;
	uint8_t *p = event_begin_at(b, type, now);

	if (nargs > 0)
		p = put_u(p, a0);
	if (nargs > 1)
		p = put_u(p, a1);
	if (nargs > 2)
		p = put_u(p, a2);
	b->len = (uint32_t)(p - b->data);
	buf_prefetch(b);
	if (w != NULL)
		event_noted(w, b, type, at, a0);
}

/*
 * Write an event in its compact form where it has one: PARK and READY by
 * the task the reader knows to be running on w (trace-format.h).
 */
static ALWAYS_INLINE void
event_put(struct green_worker *w, struct green_tbuf *b, int type,
	  uint64_t now, int nargs, uint64_t a0, uint64_t a1, uint64_t a2)
{
	if (w != NULL && w->trun != 0) {
		if (type == GT_PARK && a0 == w->trun) {
			event_write(w, b, GT_PARK_RUNNING, now, 1, a1, 0, 0);
			return;
		}
		if (type == GT_READY && a1 == w->trun && a2 == w->id) {
			event_write(w, b, GT_READY_BY_RUNNING, now, 1, a0, 0, 0);
			return;
		}
	}
	event_write(w, b, type, now, nargs, a0, a1, a2);
}

static __attribute__((noinline)) void
event_slow(int type, int nargs, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct green_tracer *tr;
	struct green_worker *w;
	struct green_tbuf *b = event_buf(&tr, &w);

	if (b == NULL)
		return;
	event_put(w, b, type, trace_now(tr), nargs, a0, a1, a2);
	if (w == NULL)
		other_unlock();
}

GREEN_NO_SPLIT void
green__trace_event(int type, int nargs, uint64_t a0, uint64_t a1,
		   uint64_t a2)
{
	struct green_worker *w = green__worker();
	struct green_tracer *tr;
	struct green_tbuf *b = fast_buf(w, &tr);

	if (b == NULL)
		event_slow(type, nargs, a0, a1, a2);
	else
		event_put(w, b, type, tsc_now(tr), nargs, a0, a1, a2);
}

/* Whether a START on w's buffer b can join the stop just written (no
 * event since): its type byte gains GT_SWITCHED and the id follows. */
static ALWAYS_INLINE bool
start_joins_stop(const struct green_worker *w, const struct green_tbuf *b)
{
	return w->tstop_buf == b && w->tstop_end == b->len;
}

/* Write START of task id to worker w's buffer b, joined to the stop just
 * written if there is one, else as an event of its own at that stop's
 * time, or now (the clock read only then: by the TSC when tsc, else by
 * trace_now). */
static ALWAYS_INLINE void
start_write(struct green_worker *w, struct green_tbuf *b, uint64_t id,
	    const struct green_tracer *tr, bool tsc)
{
	uint8_t *p;

	if (start_joins_stop(w, b)) {
		b->data[w->tstop_at] |= GT_SWITCHED;
		p = put_u(b->data + b->len, id);
	} else {
		uint64_t now = w->tswitch;

		if (now == 0)
			now = tsc ? tsc_now(tr) : trace_now(tr);
		p = put_u(event_begin_at(b, GT_START, now), id);
	}
	b->len = (uint32_t)(p - b->data);
	buf_prefetch(b);
	w->tswitch = 0;
	w->tstop_buf = NULL;
	w->trun = id;
}

static __attribute__((noinline)) void
start_slow(uint64_t id)
{
	struct green_tracer *tr;
	struct green_worker *w;
	struct green_tbuf *b = event_buf(&tr, &w);

	if (b == NULL)
		return;
	start_write(w, b, id, tr, false);
}

/*
 * The task id starts on this worker, switched to from a task that has just
 * recorded its stop: that stop's time is this start's (the switch between
 * takes nanoseconds; a clock read takes ten).  Only ever called on a
 * worker (switch_away).
 */
GREEN_NO_SPLIT void
green__trace_start(uint64_t id)
{
	struct green_worker *w = green__worker();
	struct green_tracer *tr;
	struct green_tbuf *b = fast_buf(w, &tr);

	if (b == NULL)
		start_slow(id);
	else
		start_write(w, b, id, tr, true);
}

/* Under tr->lock: whether fn is newly seen (and so must be named). */
static bool
func_first_seen(struct green_tracer *tr, uintptr_t fn)
{
	size_t i = (fn >> 4) % FUNC_SLOTS;

	for (size_t k = 0; k < FUNC_SLOTS; k++, i = (i + 1) % FUNC_SLOTS) {
		if (tr->funcs[i] == fn)
			return false;
		if (tr->funcs[i] == 0) {
			tr->funcs[i] = fn;
			return true;
		}
	}
	return false; /* table full: later functions stay unnamed */
}

/* Name fn in the trace the first time any thread creates a task with it
 * (a FUNC event in the "other" block, before the CREATE that uses it).
 * The tracer comes from event_buf, which holds trace_ctl for a thread that
 * is not a worker: green_trace_stop cannot free it meanwhile. */
static __attribute__((noinline, cold)) void
func_name(uintptr_t fn)
{
	char name[TBUF_SLACK - 32]; /* the event fits the slack */
	struct green_tracer *tr;
	struct green_worker *w;
	struct green_tbuf *b = event_buf(&tr, &w);
	bool first;
	uint8_t *p;

	if (b == NULL)
		return;
	green__lock(&tr->lock);
	first = func_first_seen(tr, fn);
	green__unlock(&tr->lock);
	if (!first) {
		if (w == NULL)
			other_unlock();
		return;
	}
	green__fn_name(fn, name, sizeof(name));
	p = event_begin(tr, b, GT_FUNC);
	p = put_u(p, fn);
	p = put_s(p, name, sizeof(name) - 1);
	event_end(w, b, p);
}

/* Write CREATE of t to b at time now: it also means READY (format
 * version 2), so no READY follows. */
static ALWAYS_INLINE void
create_write(struct green_tbuf *b, const struct green_task *t,
	     uint64_t parent, uint64_t now)
{
	uint8_t *p = event_begin_at(b, GT_CREATE, now);

	p = put_u(p, t->id);
	p = put_u(p, parent);
	p = put_u(p, (uintptr_t)t->fn);
	p = put_s(p, t->name, sizeof(t->name) - 1);
	b->len = (uint32_t)(p - b->data);
	buf_prefetch(b);
}

static __attribute__((noinline)) void
create_slow(const struct green_task *t, uint64_t parent)
{
	struct green_tracer *tr =
		atomic_load_explicit(&tracer, memory_order_acquire);
	struct green_worker *w = green__worker();
	uintptr_t fn = (uintptr_t)t->fn;
	struct green_tbuf *b;

	if (tr == NULL)
		return;
	/* a worker remembers the last functions it saw named */
	if (w == NULL || w->tfuncs[(fn >> 4) % FUNC_CACHE] != fn) {
		func_name(fn);
		if (w != NULL)
			w->tfuncs[(fn >> 4) % FUNC_CACHE] = fn;
	}
	if ((b = event_buf(&tr, &w)) == NULL)
		return;
	create_write(b, t, parent, trace_now(tr));
	if (w == NULL)
		other_unlock();
}

/* Task t is created by task parent (0: none) and is ready at once: one
 * CREATE event says both (the reader reports the READY). */
GREEN_NO_SPLIT void
green__trace_create(const struct green_task *t, uint64_t parent)
{
	struct green_worker *w = green__worker();
	uintptr_t fn = (uintptr_t)t->fn;
	struct green_tracer *tr;
	struct green_tbuf *b = fast_buf(w, &tr);

	if (b == NULL || w->tfuncs[(fn >> 4) % FUNC_CACHE] != fn)
		create_slow(t, parent);
	else
		create_write(b, t, parent, tsc_now(tr));
}

/* --- safe points, start and stop ------------------------------------------------------- */

/* At a safe point of w (no event in progress): a stopped trace takes the
 * worker's buffer. */
void
green__trace_safepoint_slow(struct green_worker *w)
{
	struct green_tracer *tr =
		atomic_load_explicit(&tracer, memory_order_acquire);
	unsigned gen = atomic_load(&green__trace_gen);

	if (tr != NULL) {
		green__lock(&tr->lock);
		buf_queue(tr, w->tbuf);
		green__unlock(&tr->lock);
	}
	w->tbuf = NULL;
	w->tswitch = 0;
	w->trun = 0;
	w->tstop_buf = NULL;
	w->tlost = 0; /* counted in the trace that lost them, or never */
	for (size_t i = 0; i < sizeof(w->tfuncs) / sizeof(w->tfuncs[0]); i++)
		w->tfuncs[i] = 0;
	/* seq_cst: the stopper reads the acks after bumping the gen */
	atomic_store(&w->tgen, gen);
}

static int
write_header(struct green_tracer *tr, unsigned workers)
{
	uint8_t h[GREEN_TRACE_HEADER_SIZE];

	memcpy(h, GREEN_TRACE_MAGIC, 8);
	put_le32(h + 8, GREEN_TRACE_VERSION);
	put_le32(h + 12, GREEN_TRACE_HEADER_SIZE);
	put_le64(h + 16, tr->ns0);
	put_le32(h + 24, workers);
	put_le32(h + 28, (uint32_t)getpid());
	return write_all(tr->fd, h, sizeof(h));
}

static void
tracer_free(struct green_tracer *tr)
{
	struct green_tbuf *b;

	while ((b = tr->free) != NULL) {
		tr->free = b->next;
		free(b);
	}
	pthread_mutex_destroy(&tr->lock);
	pthread_cond_destroy(&tr->cond);
	free(tr);
}

/* A condition variable whose timed waits use CLOCK_MONOTONIC. */
static int
cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int r;

	if ((r = pthread_condattr_init(&a)) != 0)
		return -r;
	r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return -r;
}

/* With trace_ctl held. */
static int
trace_start(struct green_rt *rt, const char *path)
{
	struct green_tracer *tr;
	int r;

	if (!GREEN_TRACE_BUILD)
		return -ENOTSUP; /* configure --disable-trace */
	if (path == NULL || *path == '\0')
		return -EINVAL;
	if (green__fault(GF_ALLOC) || (tr = calloc(1, sizeof(*tr))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&tr->lock, NULL);
	if ((r = cond_init_monotonic(&tr->cond)) != 0) {
		pthread_mutex_destroy(&tr->lock);
		free(tr);
		return r;
	}
	tr->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (tr->fd < 0) {
		r = -errno;
		tracer_free(tr);
		return r;
	}
	clock_calibrate(tr);
	if ((r = write_header(tr, rt->nslots)) != 0 ||
	    (r = green__fault(GF_THREAD)
			 ? -EAGAIN
			 : -pthread_create(&tr->writer, NULL, writer_main,
					   tr)) != 0) {
		close(tr->fd);
		tracer_free(tr);
		return r;
	}
	/* release: see tracer */
	atomic_store_explicit(&tracer, tr, memory_order_release);
	atomic_store(&green__trace_on, 1);
	return 0;
}

/* Wait until every worker has passed a safe point since the stop. */
static void
await_workers(struct green_rt *rt, unsigned gen)
{
	struct green_worker *self = green__worker();

	if (self != NULL)
		green__trace_safepoint_slow(self);
	for (;;) {
		bool all = true;
		/* spares too: a parked spare's loop passes a safe point
		 * when kicked (green__worker_spare_wait) */
		for (unsigned i = 0; i < atomic_load(&rt->nthreads); i++) {
			struct green_worker *w = &rt->workers[i];
			if (atomic_load(&w->tgen) != gen) {
				all = false;
				green__worker_kick(w);
			}
		}
		if (all)
			return;
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
}

/* With trace_ctl held. */
static int
trace_stop(struct green_rt *rt)
{
	struct green_tracer *tr =
		atomic_load_explicit(&tracer, memory_order_relaxed);
	unsigned gen;
	int r;

	if (tr == NULL)
		return -ESRCH;
	atomic_store(&green__trace_on, 0);
	gen = atomic_fetch_add(&green__trace_gen, 1) + 1;
	await_workers(rt, gen);
	pthread_mutex_lock(&tr->lock);
	buf_queue(tr, tr->other);
	tr->other = NULL;
	if (tr->other_lost != 0 && (tr->other = buf_get(tr, GREEN_TRACE_SOURCE_OTHER)) != NULL) {
		uint8_t *p = event_begin(tr, tr->other, GT_LOST);
		p = put_u(p, tr->other_lost);
		tr->other->len = (uint32_t)(p - tr->other->data);
		buf_queue(tr, tr->other);
		tr->other = NULL;
	}
	tr->stop = true;
	pthread_cond_signal(&tr->cond);
	pthread_mutex_unlock(&tr->lock);
	pthread_join(tr->writer, NULL);
	atomic_store(&tracer, NULL);
	r = tr->error;
	if (close(tr->fd) != 0 && r == 0)
		r = -errno;
	tracer_free(tr);
	return r;
}

/*
 * green_init: trace from the start when cfg->trace_path or GREEN_TRACE
 * names a file.  A bad cfg->trace_path fails green_init; a bad GREEN_TRACE
 * is reported and the program runs untraced.
 */
int
green__trace_init(struct green_rt *rt, const green_config_t *cfg)
{
	const char *env = getenv("GREEN_TRACE");
	const char *path = cfg != NULL ? cfg->trace_path : NULL;
	int r;

	if (path == NULL && (env == NULL || *env == '\0'))
		return 0;
	pthread_mutex_lock(&trace_ctl);
	r = trace_start(rt, path != NULL ? path : env);
	pthread_mutex_unlock(&trace_ctl);
	if (r != 0 && path == NULL) {
		fprintf(stderr, "libgreen: GREEN_TRACE=%s: %s; not tracing\n",
			env, green_strerror(r));
		r = 0;
	}
	return r;
}

/* green_shutdown, with every task gone and the workers still up. */
void
green__trace_fini(struct green_rt *rt)
{
	pthread_mutex_lock(&trace_ctl);
	if (atomic_load(&tracer) != NULL) {
		int r = trace_stop(rt);
		if (r != 0)
			fprintf(stderr, "libgreen: writing the trace: %s\n",
				green_strerror(r));
	}
	pthread_mutex_unlock(&trace_ctl);
}

int
green_trace_start(const char *path)
{
	struct green_rt *rt = green__rt;
	int r;

	if (path == NULL)
		return -EINVAL;
	pthread_mutex_lock(&trace_ctl);
	if (rt == NULL)
		r = -EPERM;
	else if (atomic_load(&tracer) != NULL)
		r = -EBUSY;
	else
		r = trace_start(rt, path);
	pthread_mutex_unlock(&trace_ctl);
	return r;
}

int
green_trace_stop(void)
{
	struct green_rt *rt = green__rt;
	int r;

	pthread_mutex_lock(&trace_ctl);
	r = rt == NULL ? -EPERM : trace_stop(rt);
	pthread_mutex_unlock(&trace_ctl);
	return r;
}
