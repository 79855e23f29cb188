/*
 * timer.c - deadlines of parked tasks.
 *
 * One binary min-heap of parked tasks, ordered by deadline, under one lock.
 * A task parks at one place at a time, so the heap entry lives in the task
 * (heap_index).  Expired entries are woken by a worker: the one idle worker
 * that waits with the earliest deadline as its futex timeout (the place
 * where epoll_wait will sit), or a busy worker every 61 scheduling ticks.
 * timer_next mirrors the earliest deadline so the busy check is one load.
 */
#include <errno.h>
#include <time.h>

#include "green-internal.h"

static bool
earlier(struct green_task *a, struct green_task *b)
{
	return a->deadline < b->deadline;
}

static void
heap_set(struct green_rt *rt, size_t i, struct green_task *t)
{
	rt->heap[i] = t;
	t->heap_index = i;
}

static void
sift_up(struct green_rt *rt, size_t i)
{
	struct green_task *t = rt->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!earlier(t, rt->heap[parent]))
			break;
		heap_set(rt, i, rt->heap[parent]);
		i = parent;
	}
	heap_set(rt, i, t);
}

static void
sift_down(struct green_rt *rt, size_t i)
{
	struct green_task *t = rt->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= rt->nheap)
			break;
		if (c + 1 < rt->nheap && earlier(rt->heap[c + 1], rt->heap[c]))
			c++;
		if (!earlier(rt->heap[c], t))
			break;
		heap_set(rt, i, rt->heap[c]);
		i = c;
	}
	heap_set(rt, i, t);
}

static void
publish_next(struct green_rt *rt)
{
	/* relaxed: a hint for the busy workers' check; the lock orders the
	 * heap, and a stale value only delays the check by a tick */
	atomic_store_explicit(&rt->timer_next,
			      rt->nheap ? rt->heap[0]->deadline : INT64_MAX,
			      memory_order_relaxed);
}

static void
heap_remove(struct green_rt *rt, size_t i)
{
	struct green_task *last = rt->heap[--rt->nheap];

	rt->heap[i]->heap_index = SIZE_MAX;
	if (i < rt->nheap) {
		heap_set(rt, i, last);
		sift_down(rt, i);
		sift_up(rt, last->heap_index);
	}
}

/* Returns true on error (out of memory). */
static bool
heap_grow(struct green_rt *rt)
{
	size_t cap = rt->capheap ? rt->capheap * 2 : 64;
	struct green_task **h = green__alloc(cap * sizeof(*h));

	if (h == NULL)
		return true;
	for (size_t i = 0; i < rt->nheap; i++)
		h[i] = rt->heap[i];
	green__free(rt->heap, rt->capheap * sizeof(*h));
	rt->heap = h;
	rt->capheap = cap;
	return false;
}

/* Arm t's deadline; t is parking (its wake word is ARMED). */
void
green__timer_add(struct green_task *t, int64_t deadline)
{
	struct green_rt *rt = green__rt;
	struct green_worker *kick = NULL;
	bool need_worker = false;

	t->heap_index = SIZE_MAX;
	if (deadline <= green_now()) {
		green__wake(t, -ETIMEDOUT);
		return;
	}
	t->deadline = deadline;
	green__lock(&rt->timer_lock);
	if (rt->nheap == rt->capheap && heap_grow(rt)) {
		green__unlock(&rt->timer_lock);
		green__wake(t, -ENOMEM);
		return;
	}
	rt->heap[rt->nheap] = t;
	sift_up(rt, rt->nheap++);
	if (rt->heap[0] == t) {
		publish_next(rt);
		if (rt->timer_waiter != NULL)
			kick = rt->timer_waiter;
		else
			need_worker = true;
	}
	green__unlock(&rt->timer_lock);
	if (kick != NULL) {
		/* the waiter re-reads the earliest deadline */
		green__worker_kick(kick);
	} else if (need_worker) {
		green__wake_worker();
	}
}

/* Disarm t's deadline if it is still armed. */
void
green__timer_del(struct green_task *t)
{
	struct green_rt *rt = green__rt;

	green__lock(&rt->timer_lock);
	if (t->heap_index != SIZE_MAX) {
		heap_remove(rt, t->heap_index);
		publish_next(rt);
	}
	green__unlock(&rt->timer_lock);
}

/* Wake every task whose deadline is <= now.  Returns true if any. */
bool
green__timers_run(int64_t now)
{
	struct green_rt *rt = green__rt;
	bool any = false;

	if (atomic_load_explicit(&rt->timer_next, memory_order_relaxed) > now)
		return false;
	green__lock(&rt->timer_lock);
	while (rt->nheap > 0 && rt->heap[0]->deadline <= now) {
		struct green_task *t = rt->heap[0];
		heap_remove(rt, 0);
		/* under the lock: t cannot have left this park yet */
		any |= green__wake(t, -ETIMEDOUT);
	}
	publish_next(rt);
	green__unlock(&rt->timer_lock);
	return any;
}

/* The earliest deadline, or -1 when no timer is armed. */
int64_t
green__timer_next(void)
{
	int64_t d = atomic_load_explicit(&green__rt->timer_next,
					 memory_order_relaxed);
	return d == INT64_MAX ? -1 : d;
}

/* no_split_stack: the clock is read through the vDSO, in under 100 bytes of
 * stack (nosplit.c). */
GREEN_NO_SPLIT int64_t
green_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An OS thread sleeps (kept out of green_sleep: see nosplit.c). */
static __attribute__((noinline)) int
thread_sleep(int64_t deadline)
{
	struct timespec ts;

	ts.tv_sec = deadline / 1000000000;
	ts.tv_nsec = deadline % 1000000000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
	return 0;
}

int
green_sleep(int64_t deadline)
{
	struct green_worker *w = green__worker();
	struct green_task *self;
	int r;

	if (deadline < -1)
		return -EINVAL;
	if (w == NULL || w->current == NULL) {
		/* outside a task: block this OS thread */
		if (deadline == -1)
			return -EINVAL;
		return thread_sleep(deadline);
	}
	self = w->current;
	r = green__park(self, GREEN_WAIT_SLEEP, NULL, NULL, NULL, deadline,
			0);
	/* its own deadline is the sleep's end; its group's is an error */
	if (r == -ETIMEDOUT && green__deadline_cap(self, deadline) == deadline)
		return 0;
	return r;
}
