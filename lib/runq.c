/*
 * runq.c - per-worker run queues and the global queue.
 *
 * Each worker owns a fixed ring of GREEN_RUNQ_SIZE tasks, a work-stealing
 * deque (Chase and Lev; Cilk's and Rayon's order): the owner pushes at the
 * tail and runs the newest task from the tail; thieves take the oldest, one
 * at a time, from the head with a CAS, half the ring in all.  A fork-join
 * program (skynet, fib) so runs depth first: a worker finishes the subtree
 * it just spawned while it is hot in cache, and a million-task tree needs
 * as many live tasks as it is deep, not as it is wide, while a thief takes
 * the biggest piece of work there is.  Fairness: a yield runs the oldest
 * task instead (round robin among yielders), and so does every
 * RUNQ_FAIR_PERIOD-th pick, so a stream of new work delays a waiting task by
 * at most that factor; it is never starved.  No resizing, so no memory
 * reclamation problem.  When the ring is full, its older half moves to the
 * global queue.  Beside the ring, a LIFO slot holds the task woken last
 * (green__ready), so a message passed between two tasks stays hot in
 * cache; a spawned task goes to the ring's tail, where it is as much the
 * next to run (the newest) and stealable at once.
 *
 * The global queue is a FIFO of batches, arrays of task pointers: a ring's
 * overflow moves as one batch, and a worker takes tasks back by copying
 * pointers.  (It was a list linked through the tasks: taking 128 back
 * walked 128 task structures, one cache miss each, 8-17% of skynet.)
 *
 * Memory ordering (Le, Pop, Cohen and Zappa Nardelli, "Correct and
 * efficient work-stealing for weak memory models", PPoPP 2013): the owner
 * writes a slot (relaxed) and then publishes it with a release store of
 * tail; a taker loads tail with acquire before it reads a slot, and claims
 * it with a CAS on head.  Taking the newest, the owner lowers tail and then
 * loads head, both seq_cst; a thief loads head and then tail, both seq_cst
 * (C11 fences would do, but ThreadSanitizer does not model them): of two
 * that want the same last task, at least one sees the other's move, and
 * that one backs off or races the other with a CAS on head.  Thieves take one task per CAS, because a claim
 * of several could reach past a tail the owner has lowered since.  A slot
 * is written again only after head has moved past it; the owner loads head
 * with acquire so it never overwrites a slot a thief is still copying (the
 * thief's CAS that moved head is ordered after its slot read).
 */
#include <stdio.h>
#include <stdlib.h>

#include "green-internal.h"
#include "runq.h"

/* The tasks a batch holds: half a ring and the task that overflowed it. */
#define GBATCH_TASKS (GREEN_RUNQ_SIZE / 2 + 1)
#define GBATCH_KEEP 64 /* emptied batches kept for reuse */

struct green_gbatch {
	struct green_gbatch *next;
	uint32_t head; /* the next task to take */
	uint32_t n;    /* tasks in t */
	struct green_task *t[GBATCH_TASKS];
};

/* An empty batch: one kept for reuse, or a new one (NULL: no memory). */
static struct green_gbatch *
batch_get(void)
{
	struct green_rt *rt = green__rt;
	struct green_gbatch *b;

	green__lock(&rt->gq_lock);
	if ((b = rt->gq_free) != NULL) {
		rt->gq_free = b->next;
		rt->ngq_free--;
	}
	green__unlock(&rt->gq_lock);
	if (b == NULL)
		b = green__alloc(sizeof(*b));
	if (b != NULL)
		b->head = b->n = 0;
	return b;
}

/* Under gq_lock: keep b for reuse; returns it when it is to be freed
 * (after the unlock). */
static struct green_gbatch *
batch_release_locked(struct green_rt *rt, struct green_gbatch *b)
{
	if (rt->ngq_free < GBATCH_KEEP) {
		b->next = rt->gq_free;
		rt->gq_free = b;
		rt->ngq_free++;
		return NULL;
	}
	return b;
}

static void
batch_put(struct green_gbatch *b)
{
	struct green_rt *rt = green__rt;

	green__lock(&rt->gq_lock);
	b = batch_release_locked(rt, b);
	green__unlock(&rt->gq_lock);
	if (b != NULL)
		green__free(b, sizeof(*b));
}

/* Under gq_lock: append b to the queue. */
static void
batch_append_locked(struct green_rt *rt, struct green_gbatch *b)
{
	b->next = NULL;
	if (rt->gq_tail != NULL)
		rt->gq_tail->next = b;
	else
		rt->gq_head = b;
	rt->gq_tail = b;
	/* relaxed: a hint for lock-free emptiness checks; the lock orders
	 * the queue itself */
	atomic_store_explicit(&rt->gq_len, rt->gq_len + (b->n - b->head),
			      memory_order_relaxed);
}

/* Ring full: move half of it plus t to the global queue, as one batch.
 * Returns false when a thief took some meanwhile (then there is room
 * again). */
__attribute__((noinline, cold)) bool
green__runq_push_overflow(struct green_worker *w, struct green_task *t, uint32_t head,
	      uint32_t tail)
{
	struct green_runq *q = &w->q;
	struct green_rt *rt = green__rt;
	uint32_t n = (tail - head) / 2;
	struct green_gbatch *b = batch_get();
	struct green_task *first;

	if (b == NULL) {
		/* no memory for a batch: the ring keeps its tasks */
		green__globq_push(t);
		return true;
	}
	/* acq_rel: claims the slots like a thief, after reading them */
	first = slot_load(q, head);
	if (!atomic_compare_exchange_strong_explicit(&q->head, &head, head + n,
						     memory_order_acq_rel,
						     memory_order_relaxed)) {
		batch_put(b);
		return false;
	}
	b->t[0] = first;
	for (uint32_t i = 1; i < n; i++)
		b->t[i] = slot_load(q, head + i);
	b->t[n] = t;
	b->n = n + 1;
	green__lock(&rt->gq_lock);
	batch_append_locked(rt, b);
	green__unlock(&rt->gq_lock);
	return true;
}

/*
 * Owner only, on a worker that has become a spare: move its ring and LIFO
 * slot to the global queue, oldest first.  Returns whether it moved any.
 */
bool
green__runq_drain(struct green_worker *w)
{
	struct green_task *t;
	bool any = false;

	while ((t = ring_pop_oldest(&w->q)) != NULL) {
		green__globq_push(t);
		any = true;
	}
	/* acquire: pairs with the release in green__ready */
	if ((t = atomic_exchange_explicit(&w->q.lifo, NULL,
					  memory_order_acquire)) != NULL) {
		green__globq_push(t);
		any = true;
	}
	return any;
}

bool
green__runq_empty(struct green_worker *w)
{
	uint32_t head = atomic_load_explicit(&w->q.head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&w->q.tail, memory_order_acquire);

	return head == tail &&
	       atomic_load_explicit(&w->q.lifo, memory_order_acquire) == NULL;
}

/*
 * Thief: take the oldest task of victim's ring (Chase-Lev's steal).  Returns
 * NULL when the ring is empty; *lost is set when another taker won the race
 * for the task (try again).
 */
static struct green_task *
steal_one(struct green_runq *q, bool *lost)
{
	/* seq_cst loads: our head load before our tail load in the total
	 * order, against the owner's tail store before its head load (see
	 * the top of the file); they also acquire the slots published below
	 * tail */
	uint32_t head = atomic_load(&q->head);
	uint32_t tail = atomic_load(&q->tail);
	struct green_task *t;

	*lost = false;
	if ((int32_t)(tail - head) <= 0)
		return NULL;
	t = slot_load(q, head);
	if (!atomic_compare_exchange_strong_explicit(&q->head, &head, head + 1,
						     memory_order_seq_cst,
						     memory_order_relaxed)) {
		*lost = true;
		return NULL;
	}
	return t;
}

/*
 * Thief: move up to half of victim's ring, the oldest tasks, into the
 * thief's own (empty) ring and return one task to run.  With take_lifo (the
 * thief's last round, some microseconds after the first, as Go waits
 * ~3 us), an empty ring lets the thief take the victim's LIFO slot: its task
 * would otherwise wait until the victim's current task parks.
 */
struct green_task *
green__runq_steal(struct green_worker *thief, struct green_worker *victim,
		  bool take_lifo)
{
	struct green_runq *vq = &victim->q, *tq = &thief->q;
	/* acquire: see the top of the file; a hint for the share only */
	uint32_t len = atomic_load_explicit(&vq->tail, memory_order_acquire) -
		       atomic_load_explicit(&vq->head, memory_order_acquire);
	uint32_t want = len > GREEN_RUNQ_SIZE ? 1 : len - len / 2;
	/* relaxed: the thief owns its ring, which is empty */
	uint32_t ttail = atomic_load_explicit(&tq->tail, memory_order_relaxed);
	uint32_t n = 0;
	struct green_task *t;

	while (n < want) {
		bool lost;

		if ((t = steal_one(vq, &lost)) != NULL)
			slot_store(tq, ttail + n++, t);
		else if (!lost)
			break;
	}
	if (n > 0) {
		GREEN_TRACE(GT_STEAL, 2, victim->id, n, 0);
		/* keep the newest to run now, publish the others */
		t = slot_load(tq, ttail + n - 1);
		if (n > 1)
			/* release: publishes the slots to takers */
			atomic_store_explicit(&tq->tail, ttail + n - 1,
					      memory_order_release);
		return t;
	}
	if (take_lifo &&
	    atomic_load_explicit(&victim->q.lifo, memory_order_relaxed) != NULL) {
		/* acquire: pairs with the release in green__ready */
		t = atomic_exchange_explicit(&victim->q.lifo, NULL,
					     memory_order_acquire);
		if (t != NULL)
			GREEN_TRACE(GT_STEAL, 2, victim->id, 1, 0);
		return t;
	}
	return NULL;
}

static _Noreturn __attribute__((noinline, cold)) void
globq_oom(const struct green_task *t)
{
	fprintf(stderr,
		"libgreen: out of memory: task %llu \"%s\" could not be "
		"queued to run\n",
		(unsigned long long)t->id, t->name);
	abort();
}

/*
 * Append t (a wake-up or a spawn from a thread that is no worker) to the
 * global queue: into the last batch while it has room, else a new one.
 */
void
green__globq_push(struct green_task *t)
{
	struct green_rt *rt = green__rt;
	struct green_gbatch *b, *spare = NULL;

	for (;;) {
		green__lock(&rt->gq_lock);
		b = rt->gq_tail;
		if (b != NULL && b->n < GBATCH_TASKS) {
			b->t[b->n++] = t;
			/* relaxed: see batch_append_locked */
			atomic_store_explicit(&rt->gq_len, rt->gq_len + 1,
					      memory_order_relaxed);
		} else if (spare != NULL) {
			spare->t[0] = t;
			spare->n = 1;
			batch_append_locked(rt, spare);
			spare = NULL;
		} else {
			green__unlock(&rt->gq_lock);
			if ((spare = batch_get()) == NULL)
				globq_oom(t);
			continue;
		}
		green__unlock(&rt->gq_lock);
		if (spare != NULL)
			batch_put(spare);
		return;
	}
}

/* Owner only: how many more tasks w's ring can take. */
static uint32_t
ring_room(struct green_runq *q)
{
	/* acquire: see thieves' head moves before reusing slots */
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

	return GREEN_RUNQ_SIZE - (tail - head);
}

/* Owner only: append t[0..k) to the ring, which has room for them. */
static void
ring_append(struct green_runq *q, struct green_task *const *t, uint32_t k)
{
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

	for (uint32_t i = 0; i < k; i++)
		slot_store(q, tail + i, t[i]);
	/* release: publishes the slots to takers */
	atomic_store_explicit(&q->tail, tail + k, memory_order_release);
}

/*
 * Take up to max tasks from the global queue: return the first; the rest
 * (a fair share, Go's globrunqget, from the first batch, as many as the
 * ring has room for) go straight into w's ring.
 */
struct green_task *
green__globq_pop(struct green_worker *w, size_t max)
{
	struct green_rt *rt = green__rt;
	struct green_gbatch *b, *emptied = NULL;
	struct green_task *t;
	size_t len, n, room;

	if (atomic_load_explicit(&rt->gq_len, memory_order_relaxed) == 0)
		return NULL;
	green__lock(&rt->gq_lock);
	b = rt->gq_head;
	if (b == NULL) {
		green__unlock(&rt->gq_lock);
		return NULL;
	}
	len = atomic_load_explicit(&rt->gq_len, memory_order_relaxed);
	n = len / rt->nworkers + 1;
	if (n > max)
		n = max;
	if (n > GREEN_RUNQ_SIZE / 2)
		n = GREEN_RUNQ_SIZE / 2;
	if (n > b->n - b->head)
		n = b->n - b->head;
	room = ring_room(&w->q);
	if (n > room + 1)
		n = room + 1;
	t = b->t[b->head];
	ring_append(&w->q, &b->t[b->head + 1], (uint32_t)n - 1);
	b->head += (uint32_t)n;
	if (b->head == b->n) {
		rt->gq_head = b->next;
		if (rt->gq_head == NULL)
			rt->gq_tail = NULL;
		emptied = batch_release_locked(rt, b);
	}
	/* relaxed: see batch_append_locked */
	atomic_store_explicit(&rt->gq_len, len - n, memory_order_relaxed);
	green__unlock(&rt->gq_lock);
	if (emptied != NULL)
		green__free(emptied, sizeof(*emptied));
	return t;
}

/* At shutdown (every worker stopped): free the batches. */
void
green__globq_fini(struct green_rt *rt)
{
	struct green_gbatch *b;

	while ((b = rt->gq_free) != NULL) {
		rt->gq_free = b->next;
		green__free(b, sizeof(*b));
	}
	rt->ngq_free = 0;
	while ((b = rt->gq_head) != NULL) {
		rt->gq_head = b->next;
		green__free(b, sizeof(*b));
	}
	rt->gq_tail = NULL;
}
