/*
 * runq.h - the owner's side of a worker's run queue, inline: the push and
 * the pops every switch makes (a call each was a fifth of a yield).  The
 * queue's design and its memory-ordering argument are at the top of
 * runq.c; thieves and the global queue live there too.
 */
#ifndef GREEN_RUNQ_H
#define GREEN_RUNQ_H

#include "green-internal.h"

#define RUNQ_FAIR_PERIOD 16 /* every n-th pick from a ring takes the oldest */

static inline __attribute__((always_inline)) struct green_task *
slot_load(struct green_runq *q, uint32_t i)
{
	return atomic_load_explicit(&q->slot[i % GREEN_RUNQ_SIZE],
				    memory_order_relaxed);
}

static inline __attribute__((always_inline)) void
slot_store(struct green_runq *q, uint32_t i, struct green_task *t)
{
	atomic_store_explicit(&q->slot[i % GREEN_RUNQ_SIZE], t,
			      memory_order_relaxed);
}

bool green__runq_push_overflow(struct green_worker *w, struct green_task *t,
			       uint32_t head, uint32_t tail);

/* Owner only: put t at the tail of w's ring. */
static inline __attribute__((always_inline)) void
green__runq_push(struct green_worker *w, struct green_task *t)
{
	struct green_runq *q = &w->q;

	for (;;) {
		/* acquire: see thieves' head moves before reusing slots */
		uint32_t head = atomic_load_explicit(&q->head,
						     memory_order_acquire);
		uint32_t tail = atomic_load_explicit(&q->tail,
						     memory_order_relaxed);

		if (tail - head < GREEN_RUNQ_SIZE) {
			slot_store(q, tail, t);
			/* release: publishes the slot to takers */
			atomic_store_explicit(&q->tail, tail + 1,
					      memory_order_release);
			return;
		}
		if (green__runq_push_overflow(w, t, head, tail))
			return;
	}
}

/* Owner only: take the oldest task, from the head (as a thief does). */
static inline __attribute__((always_inline)) struct green_task *
ring_pop_oldest(struct green_runq *q)
{
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
	/* relaxed: only the owner writes tail */
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

	while (head != tail) {
		struct green_task *t = slot_load(q, head);

		/* acq_rel: our slot read happens before the slot is freed */
		if (atomic_compare_exchange_weak_explicit(&q->head, &head,
							  head + 1,
							  memory_order_acq_rel,
							  memory_order_acquire))
			return t;
	}
	return NULL;
}

/* Owner only: take the newest task, from the tail (Chase-Lev's take). */
static inline __attribute__((always_inline)) struct green_task *
ring_pop_newest(struct green_runq *q)
{
	/* relaxed: only the owner writes tail */
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	/* relaxed: head only grows, so a stale head equal to tail still
	 * means empty; the fence below orders the load that decides */
	uint32_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	struct green_task *t;

	if (head == tail)
		return NULL;
	tail--;
	/* seq_cst store and load: our tail store before our head load in
	 * the total order, against a thief's head load before its tail load
	 * (see the top of runq.c; an xchg on x86) */
	atomic_store(&q->tail, tail);
	head = atomic_load(&q->head);
	if ((int32_t)(tail - head) < 0) {
		/* thieves emptied the ring meanwhile */
		atomic_store_explicit(&q->tail, tail + 1,
				      memory_order_release);
		return NULL;
	}
	t = slot_load(q, tail);
	if (tail != head)
		return t; /* a thief can take at most the task at head */
	/* the last task: a thief may be after it too; the CAS decides */
	if (!atomic_compare_exchange_strong_explicit(&q->head, &head,
						     head + 1,
						     memory_order_seq_cst,
						     memory_order_relaxed))
		t = NULL;
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	return t;
}

/*
 * Owner only: the next task, the newest (oldest: the oldest).  The LIFO slot
 * goes first, but at most three times in a row, so a ping-pong pair cannot
 * starve the ring (Tokio's cap).  Every RUNQ_FAIR_PERIOD-th pick from the
 * ring takes the oldest, so no task waits behind new work for ever.
 */
static inline __attribute__((always_inline)) struct green_task *
green__runq_pop(struct green_worker *w, bool oldest)
{
	struct green_task *t;

	if (w->lifo_streak < 3 &&
	    atomic_load_explicit(&w->q.lifo, memory_order_relaxed) != NULL) {
		/* acquire: pairs with the release in green__ready / steal */
		t = atomic_exchange_explicit(&w->q.lifo, NULL,
					     memory_order_acquire);
		if (t != NULL) {
			w->lifo_streak++;
			return t;
		}
	}
	w->lifo_streak = 0;
	if (++w->ring_picks % RUNQ_FAIR_PERIOD == 0)
		oldest = true;
	t = oldest ? ring_pop_oldest(&w->q) : ring_pop_newest(&w->q);
	if (t != NULL)
		return t;
	return atomic_exchange_explicit(&w->q.lifo, NULL, memory_order_acquire);
}

#endif /* GREEN_RUNQ_H */
