/*
 * group.c - task groups: structured concurrency (Trio's nurseries, Go's
 * errgroup, Java's StructuredTaskScope) on top of spawn, park and cancel.
 *
 * A group counts its live tasks, its own (nrun, what a limit bounds) and
 * those of the groups nested in it (live): a task of group g that creates a
 * group nests it in g, so every green_group_wait and green_group_destroy of
 * g waits for the whole subtree, and no task started under g outlives it.
 * A task records its group and the group's deadline at spawn; park.c cuts
 * every cancellable park at that deadline (green__deadline_cap), so no call
 * site changes.  Cancelling a group cancels its tasks (green_cancel's sticky
 * flag and wake) and then every nested group, top down.
 *
 * Locks.  Each group has a spin lock for its counts, members and wait
 * lists.  A spawn holds the locks of the group and of each ancestor, taken
 * child first, while it checks that none is cancelled and counts itself in
 * each: so a cancelled ancestor whose destroy waits for its count to drop
 * to zero never sees it rise again.  Nothing else holds two group locks at
 * once.  The tree (parent and child links, destroying, the free list) is
 * under one mutex, tree_lock, taken before any group's lock; creates,
 * cancels and destroys take it, spawns and task ends never do.
 *
 * Group structs are type-stable like channel structs (chan.c): a freed
 * group's handle still reads a group struct, whose generation no longer
 * matches (handle.h).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "green-internal.h"

#define GROUP_CHUNK 64 /* structs per chunk */

struct group_chunk {
	struct group_chunk *next;
	struct green_group groups[GROUP_CHUNK];
};

static pthread_mutex_t tree_lock = PTHREAD_MUTEX_INITIALIZER;
static struct group_chunk *chunks; /* tree_lock; kept for good */
static struct green_group *free_groups; /* tree_lock */
static uint64_t next_id = 1; /* tree_lock */

/* --- structs and handles ------------------------------------------------- */

/* Under tree_lock: a free group struct (NULL: no memory). */
static struct green_group *
group_alloc_locked(void)
{
	struct green_group *g;

	if (free_groups == NULL) {
		struct group_chunk *c = green__calloc(sizeof(*c));

		if (c == NULL)
			return NULL;
		for (size_t i = 0; i < GROUP_CHUNK; i++) {
			c->groups[i].gen = 1;
			c->groups[i].free_next = free_groups;
			free_groups = &c->groups[i];
		}
		c->next = chunks;
		chunks = c;
	}
	g = free_groups;
	free_groups = g->free_next;
	return g;
}

/* Under tree_lock and g's lock: g's handle dies and its struct is free. */
static void
group_free_locked(struct green_group *g)
{
	g->gen = green__gen_next(g->gen);
	g->in_use = false;
	g->free_next = free_groups;
	free_groups = g;
}

static green_group_t *
handle_of(const struct green_group *g)
{
	return green__handle(g, g->gen);
}

/* The struct handle h names, not yet checked (NULL: none at all). */
static struct green_group *
group_of(const green_group_t *h)
{
	if (green__handle_gen(h) == 0)
		return NULL;
	return green__handle_obj(h);
}

/* Lock the group h names; NULL (nothing locked) when there is none. */
static struct green_group *
group_lock_handle(const green_group_t *h)
{
	struct green_group *g = group_of(h);

	if (g == NULL)
		return NULL;
	green__spin_lock(&g->lock);
	if (g->gen == green__handle_gen(h) && g->in_use)
		return g;
	green__spin_unlock(&g->lock);
	return NULL;
}

/* Whether the running task self belongs to g or to a group nested in it:
 * then waiting for g would wait for itself.  The chain is stable while
 * self lives. */
static bool
inside(const struct green_task *self, const struct green_group *g)
{
	if (self == NULL)
		return false;
	for (const struct green_group *a = self->group; a; a = a->parent)
		if (a == g)
			return true;
	return false;
}

/* Under g's lock: wake every waiter on g's wait list. */
static void
wake_waiters_locked(struct green_group *g)
{
	struct green__waiter *w;

	while ((w = green__waitq_claim(&g->waitq_head, &g->waitq_tail)))
		green__waiter_finish(w, 0);
}

/* --- cancellation -------------------------------------------------------- */

/* Cancel g's own tasks and its spawns waiting for a slot. */
static void
cancel_one(struct green_group *g)
{
	struct green__waiter *w;

	green__spin_lock(&g->lock);
	g->cancelled = true;
	for (struct green_task *t = g->members; t != NULL; t = t->gnext) {
		/* seq_cst: pairs with green__park's ARMED store and flag
		 * load, as in green_cancel; t stays ours while listed */
		atomic_store(&t->cancelled, true);
		green__wake(t, -ECANCELED);
	}
	while ((w = green__waitq_claim(&g->slotq_head, &g->slotq_tail)))
		green__waiter_finish(w, -ECANCELED);
	green__spin_unlock(&g->lock);
}

/* Under tree_lock: cancel g and every group nested in it, top down, with
 * no recursion (a deep nest must not need a deep stack). */
static void
cancel_tree_locked(struct green_group *g)
{
	struct green_group *c = g;

	for (;;) {
		cancel_one(c);
		if (c->children != NULL) {
			c = c->children;
			continue;
		}
		while (c != g && c->sib_next == NULL)
			c = c->parent;
		if (c == g)
			return;
		c = c->sib_next;
	}
}

static void
cancel_tree(struct green_group *g)
{
	green__lock(&tree_lock);
	cancel_tree_locked(g);
	green__unlock(&tree_lock);
}

/* --- create -------------------------------------------------------------- */

int
green_group_create(green_group_t **out, const green_group_attr_t *attr)
{
	struct green_task *self = green__self();
	struct green_group *g, *parent;
	green_group_attr_t a = { 0 };

	if (out == NULL)
		return -EINVAL;
	if (attr != NULL)
		a = *attr;
	if (a.deadline < -1 || a.policy < GREEN_GROUP_WAIT_ALL ||
	    a.policy > GREEN_GROUP_FIRST_SUCCESS)
		return -EINVAL;
	if (green__rt == NULL)
		return -EPERM;
	parent = self != NULL ? self->group : NULL;
	green__lock(&tree_lock);
	if ((g = group_alloc_locked()) == NULL) {
		green__unlock(&tree_lock);
		return -ENOMEM;
	}
	green__spin_lock(&g->lock);
	g->cancelled = false;
	g->decided = false;
	g->policy = a.policy;
	/* FIRST_SUCCESS with no task at all has nothing to report */
	g->result = a.policy == GREEN_GROUP_FIRST_SUCCESS ? -ECHILD : 0;
	g->limit = a.limit;
	g->nrun = 0;
	g->live = 0;
	g->nwait = 0;
	g->deadline = a.deadline > 0 ? a.deadline : -1;
	g->members = NULL;
	g->waitq_head = g->waitq_tail = NULL;
	g->slotq_head = g->slotq_tail = NULL;
	g->in_use = true;
	g->destroying = false;
	g->parent = parent;
	g->children = g->sib_prev = NULL;
	g->sib_next = NULL;
	g->id = next_id++;
	memset(g->name, 0, sizeof(g->name));
	if (a.name != NULL)
		strncpy(g->name, a.name, sizeof(g->name) - 1);
	green__spin_unlock(&g->lock);
	if (parent != NULL) {
		/* nested: the parent's deadline bounds it, and a cancelled
		 * parent makes it cancelled from the start */
		green__spin_lock(&parent->lock);
		if (parent->cancelled)
			g->cancelled = true;
		g->deadline = green__deadline_cap(self, g->deadline);
		g->sib_next = parent->children;
		if (parent->children != NULL)
			parent->children->sib_prev = g;
		parent->children = g;
		green__spin_unlock(&parent->lock);
	}
	*out = handle_of(g);
	green__unlock(&tree_lock);
	return 0;
}

/* --- spawn --------------------------------------------------------------- */

/* Under g's lock: wait for a free slot (g's lock is held again on return).
 * 0: try again; else the error. */
static int
slot_wait(struct green_group *g, struct green_task *self, int64_t deadline)
{
	struct green__waiter w;
	int r;

	if (deadline == 0)
		return -ETIMEDOUT;
	green__waiter_init(&w, self);
	green__waitq_push(&g->slotq_head, &g->slotq_tail, &w);
	g->nwait++;
	r = green__wait(&w, GREEN_WAIT_GROUP_SLOT, g, green__unlock_spin,
			&g->lock, deadline, 0);
	green__spin_lock(&g->lock);
	if (r != 0)
		green__waitq_remove(&g->slotq_head, &g->slotq_tail, &w);
	if (--g->nwait == 0 && g->destroying)
		wake_waiters_locked(g); /* the destroy waits for us to leave */
	return r;
}

/* Unlock g and its ancestors up to (not including) stop. */
static void
unlock_chain(struct green_group *g, struct green_group *stop)
{
	while (g != stop) {
		struct green_group *up = g->parent;

		green__spin_unlock(&g->lock);
		g = up;
	}
}

/* Count t in g (locked, with a free slot) and in its ancestors, unless one
 * of them is cancelled.  Unlocks g. */
static int
admit_locked(struct green_group *g, struct green_task *t)
{
	struct green_group *a;

	for (a = g->parent; a != NULL; a = a->parent) {
		green__spin_lock(&a->lock);
		if (a->cancelled) {
			unlock_chain(g, a->parent);
			return -ECANCELED;
		}
	}
	for (a = g; a != NULL; a = a->parent)
		a->live++;
	g->nrun++;
	t->group = g;
	t->dl_cap = g->deadline;
	t->gprev = NULL;
	t->gnext = g->members;
	if (g->members != NULL)
		g->members->gprev = t;
	g->members = t;
	unlock_chain(g, NULL);
	return 0;
}

int
green_group_spawn(green_group_t *h, const green_attr_t *attr,
		  int (*fn)(void *), void *arg, int64_t deadline)
{
	struct green_task *self = green__self(), *t;
	struct green_group *g;
	int r;

	if (fn == NULL || deadline < -1 || group_of(h) == NULL)
		return -EINVAL;
	/* the entry is stored as a task entry and called back as what it
	 * is (green__group_run): a function pointer converts both ways */
	if ((r = green__task_create(&t, attr,
				    (void *(*)(void *))(void (*)(void))fn, arg,
				    true)) != 0)
		return r;
	if ((g = group_lock_handle(h)) == NULL) {
		r = -EINVAL;
		goto fail;
	}
	for (;;) {
		if (g->cancelled) {
			green__spin_unlock(&g->lock);
			r = -ECANCELED;
			goto fail;
		}
		if (g->limit == 0 || g->nrun < g->limit)
			break;
		if ((r = slot_wait(g, self, deadline)) != 0) {
			green__spin_unlock(&g->lock);
			goto fail;
		}
	}
	if ((r = admit_locked(g, t)) != 0)
		goto fail;
	green__task_start(t);
	return 0;
fail:
	green__task_discard(t);
	return r;
}

/* --- a task's end -------------------------------------------------------- */

/* Under g's lock: note a task's result r.  Returns whether the policy now
 * cancels the rest. */
static bool
record_locked(struct green_group *g, int r)
{
	if (g->decided)
		return false;
	if (r == 0) {
		if (g->policy != GREEN_GROUP_FIRST_SUCCESS)
			return false;
		g->decided = true;
		g->result = 0;
		return true;
	}
	g->result = r; /* FIRST_SUCCESS: the last failure, so far */
	if (g->policy == GREEN_GROUP_FIRST_SUCCESS)
		return false;
	g->decided = true;
	return g->policy == GREEN_GROUP_FIRST_ERROR;
}

/* Under a's lock: one task fewer under a.  Returns a's parent. */
static struct green_group *
leave_locked(struct green_group *a)
{
	if (--a->live == 0)
		wake_waiters_locked(a);
	return a->parent;
}

/* Run group task t's entry, then settle its result with the group. */
void
green__group_run(struct green_task *t)
{
	int (*fn)(void *) = (int (*)(void *))(void (*)(void))t->fn;
	struct green_group *g = t->group, *a;
	struct green__waiter *w;
	int r = fn(t->arg);

	green__spin_lock(&g->lock);
	if (record_locked(g, r)) {
		/* still counted in g, so g lives on meanwhile */
		green__spin_unlock(&g->lock);
		cancel_tree(g);
		green__spin_lock(&g->lock);
	}
	if (t->gprev != NULL)
		t->gprev->gnext = t->gnext;
	else
		g->members = t->gnext;
	if (t->gnext != NULL)
		t->gnext->gprev = t->gprev;
	g->nrun--;
	if ((w = green__waitq_claim(&g->slotq_head, &g->slotq_tail)))
		green__waiter_finish(w, 0);
	a = leave_locked(g);
	green__spin_unlock(&g->lock);
	/* one lock at a time: each ancestor still counts us until then */
	while (a != NULL) {
		struct green_group *up;

		green__spin_lock(&a->lock);
		up = leave_locked(a);
		green__spin_unlock(&a->lock);
		a = up;
	}
	t->group = NULL;
	t->dl_cap = -1;
}

/* --- wait, cancel, destroy ----------------------------------------------- */

/* green_group_wait's wait; g is locked, or NULL: lock the group h names.
 * Unlocks it. */
static int
group_wait_locked(struct green_group *g, const green_group_t *h,
		  struct green_task *self, int64_t deadline)
{
	struct green__waiter w;
	int r;

	if (g == NULL && (g = group_lock_handle(h)) == NULL)
		return -EINVAL;
	while (g->live > 0) {
		if (deadline == 0) {
			green__spin_unlock(&g->lock);
			return -ETIMEDOUT;
		}
		green__waiter_init(&w, self);
		green__waitq_push(&g->waitq_head, &g->waitq_tail, &w);
		g->nwait++;
		r = green__wait(&w, GREEN_WAIT_GROUP, g, green__unlock_spin,
				&g->lock, deadline, 0);
		green__spin_lock(&g->lock);
		if (r != 0)
			green__waitq_remove(&g->waitq_head, &g->waitq_tail, &w);
		if (--g->nwait == 0 && g->destroying)
			wake_waiters_locked(g);
		if (r != 0) {
			green__spin_unlock(&g->lock);
			return r;
		}
	}
	r = g->result;
	green__spin_unlock(&g->lock);
	return r;
}

int
green_group_wait(green_group_t *h, int64_t deadline)
{
	struct green_task *self = green__self();
	struct green_group *g;
	int r;

	if (deadline < -1)
		return -EINVAL;
	if ((g = group_lock_handle(h)) == NULL)
		return -EINVAL;
	if (inside(self, g)) {
		green__spin_unlock(&g->lock);
		return -EDEADLK;
	}
	if (g->live == 0 || deadline == 0 || self == NULL ||
	    green__deadline_cap(self, deadline) != -1)
		return group_wait_locked(g, h, self, deadline);
	/* a wait without end: first, does it close a cycle (cycle.c)?  Not
	 * under g's lock: the walk may visit g. */
	green__spin_unlock(&g->lock);
	if ((r = green__wf_begin(self, GREEN_WAIT_GROUP, g)) != 0)
		return r;
	r = group_wait_locked(NULL, h, self, deadline);
	green__wf_end(self);
	return r;
}

int
green_group_cancel(green_group_t *h)
{
	struct green_group *g = group_of(h);

	if (g == NULL)
		return -EINVAL;
	green__lock(&tree_lock);
	/* gen and in_use change only under tree_lock */
	if (g->gen != green__handle_gen(h) || !g->in_use) {
		green__unlock(&tree_lock);
		return -EINVAL;
	}
	cancel_tree_locked(g);
	green__unlock(&tree_lock);
	return 0;
}

/* Under tree_lock: take g out of its parent's list of children. */
static void
unlink_locked(struct green_group *g)
{
	if (g->sib_prev != NULL)
		g->sib_prev->sib_next = g->sib_next;
	else if (g->parent != NULL)
		g->parent->children = g->sib_next;
	if (g->sib_next != NULL)
		g->sib_next->sib_prev = g->sib_prev;
	g->sib_next = g->sib_prev = NULL;
	g->parent = NULL;
}

/*
 * Under tree_lock, once nothing runs under g: free g and the groups nested
 * in it that nobody destroyed (their creators ended without).  One that
 * another caller is destroying, or still waiting on, right now is cut loose
 * instead, as a root: its struct lives until it is destroyed (its tasks
 * have all ended, and no new one can start: it is cancelled).
 */
static void
free_tree_locked(struct green_group *g)
{
	unlink_locked(g);
	while (g != NULL) {
		struct green_group *c = g->children, *next;

		if (c != NULL) {
			bool busy;

			green__spin_lock(&c->lock);
			busy = c->destroying || c->nwait > 0;
			if (busy)
				unlink_locked(c);
			green__spin_unlock(&c->lock);
			if (!busy)
				g = c; /* descend: free the deepest first */
			continue;
		}
		next = g->parent;
		unlink_locked(g);
		green__spin_lock(&g->lock);
		group_free_locked(g);
		green__spin_unlock(&g->lock);
		g = next;
	}
}

int
green_group_destroy(green_group_t *h)
{
	struct green_task *self = green__self();
	struct green_group *g = group_of(h);
	struct green__waiter w;

	if (g == NULL)
		return -EINVAL;
	green__lock(&tree_lock);
	if (g->gen != green__handle_gen(h) || !g->in_use || g->destroying) {
		green__unlock(&tree_lock);
		return -EINVAL;
	}
	if (inside(self, g)) {
		green__unlock(&tree_lock);
		return -EDEADLK;
	}
	g->destroying = true;
	cancel_tree_locked(g);
	green__unlock(&tree_lock);
	/* no child outlives the group: wait however long they take, and for
	 * the callers still inside a wait to leave */
	green__spin_lock(&g->lock);
	while (g->live > 0 || g->nwait > 0) {
		green__waiter_init(&w, self);
		green__waitq_push(&g->waitq_head, &g->waitq_tail, &w);
		green__wait(&w, GREEN_WAIT_GROUP, g, green__unlock_spin,
			    &g->lock, -1, GREEN_PARK_NOCANCEL);
		green__spin_lock(&g->lock);
	}
	green__spin_unlock(&g->lock);
	green__lock(&tree_lock);
	free_tree_locked(g);
	green__unlock(&tree_lock);
	return 0;
}

/* cycle.c's walk: visit what a wait for group g waits for, from node
 * from: self when it is inside g, and at most max of g's own live tasks
 * (newest first; the lock is held meanwhile, so not all of a big group). */
void
green__group_visit(const void *group, struct green_task *self, int from,
		   void *walk, int max)
{
	struct green_group *g = (struct green_group *)group;
	struct green_task *t;

	green__spin_lock(&g->lock);
	if (inside(self, g))
		green__wf_visit(walk, self, from);
	for (t = g->members; t != NULL && max-- > 0; t = t->gnext)
		green__wf_visit(walk, t, from);
	green__spin_unlock(&g->lock);
}

/* --- the calling task's group -------------------------------------------- */

green_group_t *
green_group_self(void)
{
	struct green_task *self = green__self();

	return self != NULL && self->group != NULL ? handle_of(self->group)
						   : NULL;
}

int64_t
green_deadline(void)
{
	struct green_task *self = green__self();

	return self != NULL ? self->dl_cap : -1;
}

/*
 * At green_shutdown, when no task is left: every group still in use is
 * freed, so its handle is stale (-EINVAL) from now on, like the handles of
 * the runtime's tasks and channels.
 */
void
green__group_shutdown(void)
{
	green__lock(&tree_lock);
	for (struct group_chunk *c = chunks; c != NULL; c = c->next)
		for (size_t i = 0; i < GROUP_CHUNK; i++) {
			struct green_group *g = &c->groups[i];

			if (!g->in_use)
				continue;
			g->parent = g->children = NULL;
			g->sib_next = g->sib_prev = NULL;
			green__spin_lock(&g->lock);
			group_free_locked(g);
			green__spin_unlock(&g->lock);
		}
	green__unlock(&tree_lock);
}
