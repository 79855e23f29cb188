/*
 * cycle.c - wait-for cycles caught as they form.
 *
 * A task that is about to wait with no deadline for something a task can
 * only give it (a task's end in green_join, a mutex a task holds, the end
 * of a group's tasks) first publishes that edge, then walks the edges from
 * what it waits for.  If the walk comes back to the task, the wait would
 * never end: the call fails with -EDEADLK, and a diagnostic names every
 * task of the cycle and what each waits for.  The global deadlock report
 * (diag.c) still covers what this does not: waits with a deadline (a
 * deadline ends the cycle), channels, condition variables and threads.
 *
 * An edge is published as a seqlock episode: the task writes kind and
 * object, then makes wf_seq odd (seq_cst); the wait's end makes it even.
 * Two tasks that close a cycle at the same time both publish before they
 * walk, and seq_cst orders the two stores against the two loads (Dekker's
 * argument): at least one of them sees the other's edge, so the cycle
 * never goes unseen; both may see it, and both then fail, which leaves no
 * one waiting.  The walk reads other tasks' edges without their locks, so
 * a cycle it finds is checked again before it is reported: every task of
 * it still in the same episode (wf_seq unchanged) and not yet woken, every
 * mutex still held by the same task.  The first pass read every episode
 * before the second read any, so all of them overlapped: at that instant
 * each task waited, without deadline, for the next, and none of them can
 * end its wait for the others.  Nothing is reported on a stale edge.
 *
 * The walk first follows the chain of single edges (join, mutex) in
 * place: usually the task waited for is running, and that is one read.
 * When the chain comes back to the walker, forks at a group or runs long,
 * a breadth-first search over at most WF_MAX tasks (on the heap, not on a
 * task's small stack) decides and finds the path: a task waits for one
 * task (join, mutex) or for every live task of a group (its own, not
 * those of nested groups, which are found through the task that waits for
 * them; the newest WF_MAX of them); a waiter inside the group it waits
 * for is a cycle at once.  A cycle the budget does not reach is left to
 * the global report.
 *
 * A mutex is the user's memory: its owner is read only while the task
 * that waits for it is seen in the same episode before and after (a
 * mutex with a waiter cannot be destroyed), so a stale edge is dropped
 * rather than followed.
 */
#include <errno.h>
#include <stdio.h>

#include "green-internal.h"

#define WF_MAX 256  /* tasks one search looks at, at most */
#define WF_CHAIN 16 /* single edges followed in place before searching */

/* A task the walk reached, and through which task. */
struct wf_node {
	struct green_task *t;
	uint32_t seq;	      /* its episode, as first read */
	enum green_wait kind; /* what it waits for ... */
	const void *obj;      /* ... and which */
	struct green_task *next; /* the task it waits for, on the path */
	int from;	      /* index of the node that waits for it; -1 */
};

struct wf_walk {
	struct green_task *self;
	struct wf_node n[WF_MAX];
	int count;
	int found; /* the node that waits for self, or -1 */
};

/* --- publishing an edge --------------------------------------------------- */

/*
 * The running task self begins a wait for obj (a task for
 * GREEN_WAIT_JOIN, a green_mutex_t for GREEN_WAIT_MUTEX, a group for
 * GREEN_WAIT_GROUP).  Returns -EDEADLK (after the diagnostic, with the
 * episode ended) when the wait closes a cycle, else 0: then the caller ends
 * the episode with green__wf_end once the wait is over.
 */
int
green__wf_begin(struct green_task *self, enum green_wait kind,
		const void *obj)
{
	/* relaxed: only self writes its edge */
	uint32_t s = atomic_load_explicit(&self->wf_seq, memory_order_relaxed);

	atomic_store_explicit(&self->wf_kind, (uint8_t)kind,
			      memory_order_relaxed);
	atomic_store_explicit(&self->wf_obj, obj, memory_order_relaxed);
	/* seq_cst store (an xchg): the episode, and before it (release)
	 * kind and obj, is visible before this task's seq_cst loads of
	 * anyone's count (see the top) */
	atomic_store(&self->wf_seq, s + 1);
	if (green__wf_closes(self, kind, obj))
		return -EDEADLK;
	return 0;
}

void
green__wf_end(struct green_task *self)
{
	/* release: a walker that sees the even count sees the wait over;
	 * relaxed load: only self writes it */
	atomic_store_explicit(
		&self->wf_seq,
		atomic_load_explicit(&self->wf_seq, memory_order_relaxed) + 1,
		memory_order_release);
}

/* --- reading edges -------------------------------------------------------- */

/* t's episode: its kind and object, when t waits without deadline now.
 * Returns false when it does not (or changed while we read). */
static bool
read_edge(struct green_task *t, uint32_t *seq, enum green_wait *kind,
	  const void **obj)
{
	/* seq_cst: after the walker's own publishing store (Dekker, see
	 * the top); acquire with it: kind and obj are the episode's */
	uint32_t s = atomic_load(&t->wf_seq);

	if ((s & 1) == 0)
		return false;
	*kind = atomic_load_explicit(&t->wf_kind, memory_order_relaxed);
	*obj = atomic_load_explicit(&t->wf_obj, memory_order_relaxed);
	/* acquire fence: the fields are read before the count again (a
	 * seqlock reader; a mov on x86) */
	atomic_thread_fence(memory_order_acquire);
	*seq = s;
	return atomic_load_explicit(&t->wf_seq, memory_order_relaxed) == s;
}

/* The task that holds mutex m now, or NULL: none, a plain thread, or a
 * task that ended with it held (its handle is stale; handle.h). */
static struct green_task *
mutex_owner(const green_mutex_t *m)
{
	/* acquire: pairs with mutex_take's release (sync.c) */
	void *h = __atomic_load_n(&m->_owner, __ATOMIC_ACQUIRE);
	struct green_task *t = green__handle_obj(h);

	if (t == NULL ||
	    atomic_load_explicit(&t->gen, memory_order_relaxed) !=
		    green__handle_gen(h))
		return NULL;
	return t;
}

/* The task t (in episode seq) waits for through a join or a mutex; NULL
 * when none, or when t's episode ended meanwhile. */
static struct green_task *
single_next(struct green_task *t, uint32_t seq, enum green_wait kind,
	    const void *obj)
{
	struct green_task *next;

	if (kind == GREEN_WAIT_JOIN)
		return (struct green_task *)obj;
	next = mutex_owner(obj);
	return atomic_load(&t->wf_seq) == seq ? next : NULL;
}

/* --- the walk ------------------------------------------------------------- */

/* Add task t, waited for by node from, unless seen already or not waiting;
 * notes when t is the walker. */
static void
visit(struct wf_walk *wk, struct green_task *t, int from)
{
	struct wf_node *n;

	if (t == NULL || wk->found >= 0)
		return;
	if (t == wk->self) {
		wk->found = from;
		return;
	}
	for (int i = 0; i < wk->count; i++)
		if (wk->n[i].t == t)
			return;
	if (wk->count == WF_MAX)
		return;
	n = &wk->n[wk->count];
	if (!read_edge(t, &n->seq, &n->kind, &n->obj))
		return;
	n->t = t;
	n->from = from;
	n->next = NULL;
	wk->count++;
}

/* Visit what node i waits for. */
static void
expand(struct wf_walk *wk, int i)
{
	const struct wf_node *n = &wk->n[i];

	switch (n->kind) {
	case GREEN_WAIT_JOIN:
		visit(wk, (struct green_task *)n->obj, i);
		break;
	case GREEN_WAIT_MUTEX:
		visit(wk, single_next(n->t, n->seq, n->kind, n->obj), i);
		break;
	case GREEN_WAIT_GROUP:
		green__group_visit(n->obj, wk->self, i, wk, WF_MAX);
		break;
	default:
		break;
	}
}

/* group.c's callback: member t of the group node from waits for. */
void
green__wf_visit(void *walk, struct green_task *t, int from)
{
	visit(walk, t, from);
}

/* Whether node i still waits as first read, for the task after it. */
static bool
still(const struct wf_walk *wk, int i, struct green_task *next)
{
	const struct wf_node *n = &wk->n[i];

	if (atomic_load(&n->t->wf_seq) != n->seq ||
	    (atomic_load(&n->t->wake) & WAKE_WOKEN))
		return false;
	return n->kind != GREEN_WAIT_MUTEX || mutex_owner(n->obj) == next;
}

/* The path from self's node (0) to the node that waits for self. */
static bool
confirm(struct wf_walk *wk)
{
	struct green_task *next = wk->self;

	for (int i = wk->found; i >= 0; i = wk->n[i].from) {
		wk->n[i].next = next;
		next = wk->n[i].t;
	}
	for (int i = wk->found; i >= 0; i = wk->n[i].from)
		if (!still(wk, i, wk->n[i].next))
			return false;
	return true;
}

static void
describe(const struct wf_node *n, char *buf, size_t size)
{
	char fn[128];

	green__describe_fn((void *)n->t->fn, fn, sizeof(fn));
	switch (n->kind) {
	case GREEN_WAIT_JOIN:
		snprintf(buf, size, "task %llu \"%s\" (entry %s) joins task %llu",
			 (unsigned long long)n->t->id, n->t->name, fn,
			 (unsigned long long)n->next->id);
		break;
	case GREEN_WAIT_MUTEX:
		snprintf(buf, size,
			 "task %llu \"%s\" (entry %s) waits for mutex %p, held "
			 "by task %llu",
			 (unsigned long long)n->t->id, n->t->name, fn, n->obj,
			 (unsigned long long)n->next->id);
		break;
	default:
		snprintf(buf, size,
			 "task %llu \"%s\" (entry %s) waits for group %llu "
			 "\"%s\", task %llu of which is in the cycle",
			 (unsigned long long)n->t->id, n->t->name, fn,
			 (unsigned long long)((const struct green_group *)n->obj)
				 ->id,
			 ((const struct green_group *)n->obj)->name,
			 (unsigned long long)n->next->id);
		break;
	}
}

static void
report(const struct wf_walk *wk)
{
	char line[384];

	fprintf(stderr, "libgreen: deadlock: this wait would close a cycle, "
			"so it fails with EDEADLK:\n");
	for (int i = wk->found; i >= 0; i = wk->n[i].from) {
		describe(&wk->n[i], line, sizeof(line));
		fprintf(stderr, "  %s\n", line);
	}
}

/* The breadth-first search: whether self's episode closes a cycle. */
static bool
search(struct green_task *self)
{
	struct wf_walk *wk = green__alloc(sizeof(*wk));
	bool found;

	if (wk == NULL)
		return false; /* no memory: left to the global report */
	wk->self = self;
	wk->count = 0;
	wk->found = -1;
	/* node 0 is the walker, its edge as published */
	wk->n[0].t = self;
	wk->n[0].from = -1;
	if (!read_edge(self, &wk->n[0].seq, &wk->n[0].kind, &wk->n[0].obj))
		return false;
	wk->count = 1;
	for (int i = 0; i < wk->count && wk->found < 0; i++)
		expand(wk, i);
	found = wk->found >= 0 && confirm(wk);
	if (found)
		report(wk);
	green__free(wk, sizeof(*wk));
	return found;
}

/*
 * Whether the episode self just began, waiting for obj of kind, closes a
 * cycle; if so, reports it and ends the episode.
 */
bool
green__wf_closes(struct green_task *self, enum green_wait kind,
		 const void *obj)
{
	struct green_task *t = self;
	uint32_t seq = atomic_load_explicit(&self->wf_seq,
					    memory_order_relaxed);

	for (int step = 0; step < WF_CHAIN; step++) {
		/* self's own edge is known; the others' are read */
		if (step > 0 && !read_edge(t, &seq, &kind, &obj))
			return false; /* the chain ends at a task that runs */
		if (kind != GREEN_WAIT_JOIN && kind != GREEN_WAIT_MUTEX)
			break; /* a group: search */
		if ((t = single_next(t, seq, kind, obj)) == NULL)
			return false;
		if (t == self)
			break; /* a cycle, unless stale: search confirms */
	}
	if (!search(self))
		return false;
	green__wf_end(self);
	return true;
}
