/*
 * task.c - task life: spawn, run, exit, join, detach, cancel.
 *
 * Task structs are type-stable: they come from chunks that are never
 * unmapped, recycled through per-worker free lists (Go's gFree).  That
 * keeps spawn off the allocator's slow paths, lets the deadlock report and
 * debuggers walk every task, and lets every call that takes a handle
 * recognise one that was joined, even once its struct runs another task,
 * or one of a runtime that was shut down (handle.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "green-internal.h"
#include "runq.h"
#include "sanitizer.h"

#define FIRST_CHUNK_TASKS 64
#define HUGE_PAGE ((size_t)2 << 20)
#define ID_BLOCK 64

/*
 * Chunks double from 64 tasks up to 2 MiB, mapped directly and faulted in
 * with one MADV_POPULATE_WRITE: a million live tasks then cost ~120 calls
 * instead of ~60,000 page faults (a fault costs more than a spawn).  Not
 * MADV_HUGEPAGE, which they had: with THP's defrag "madvise" a huge-page
 * fault may compact memory first, and a million detached spawns on one
 * worker took 130-190 or 480-770 ns/task from run to run with the same
 * faults (issue 15's bimodal first round); populated 4 KiB pages take
 * 170-250, every run.  Where the call is missing (before Linux 5.14) the
 * pages fault one by one.
 */
struct green_task_chunk {
	struct green_task_chunk *next;
	size_t bytes;	  /* size of this mapping */
	size_t ntasks;
	struct green_task tasks[];
};

/*
 * Chunks are never unmapped: green_shutdown gives their pages back
 * (MADV_DONTNEED, which leaves zeros) and keeps the mappings here for the
 * next runtime, so a task handle outlives its runtime harmlessly: its
 * struct still reads, as zero, which no handle matches (handle.h).
 */
static pthread_mutex_t retained_lock = PTHREAD_MUTEX_INITIALIZER;
static struct green_task_chunk *retained; /* under retained_lock */
static uint16_t chunk_gen;		  /* under retained_lock */

static struct green_task_chunk *
chunk_map(size_t ntasks)
{
	size_t bytes = sizeof(struct green_task_chunk) +
		       ntasks * sizeof(struct green_task);
	struct green_task_chunk *c;
	char *p;
	uintptr_t a;

	if (bytes < HUGE_PAGE / 2) {
		bytes = (bytes + 4095) & ~(size_t)4095;
		if ((p = green__mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
			return NULL;
		c = (void *)p;
	} else {
		/* map twice the size to align the start to a huge page */
		bytes = HUGE_PAGE;
		p = green__mmap(NULL, 2 * HUGE_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
		if (a > (uintptr_t)p)
			munmap(p, a - (uintptr_t)p);
		munmap((char *)a + HUGE_PAGE,
		       (uintptr_t)p + 2 * HUGE_PAGE - a - HUGE_PAGE);
		c = (void *)a;
	}
	c->bytes = bytes;
	c->ntasks = (bytes - sizeof(*c)) / sizeof(struct green_task);
	return c;
}

/* A chunk of about ntasks structs, all free, of a generation no handle
 * of its structs had before. */
static struct green_task_chunk *
chunk_alloc(size_t ntasks)
{
	struct green_task_chunk *c;
	uint16_t gen;

	green__lock(&retained_lock);
	if ((c = retained) != NULL)
		retained = c->next;
	chunk_gen = green__gen_next(chunk_gen);
	gen = chunk_gen;
	green__unlock(&retained_lock);
	if (c == NULL && (c = chunk_map(ntasks)) == NULL)
		return NULL;
	madvise(c, c->bytes, MADV_POPULATE_WRITE);
	for (size_t i = 0; i < c->ntasks; i++) {
		atomic_store_explicit(&c->tasks[i].gen, gen,
				      memory_order_relaxed);
		atomic_store_explicit(&c->tasks[i].magic, GREEN_TASK_FREED,
				      memory_order_relaxed);
	}
	return c;
}

/* At shutdown: c's pages go back to the system, its mapping is kept. */
static void
chunk_release(struct green_task_chunk *c)
{
	size_t bytes = c->bytes, ntasks = c->ntasks;

	madvise(c, bytes, MADV_DONTNEED);
	c->bytes = bytes;
	c->ntasks = ntasks;
	green__lock(&retained_lock);
	c->next = retained;
	retained = c;
	green__unlock(&retained_lock);
}

/*
 * Free task structs move between workers in magazines (Bonwick's), arrays
 * of pointers: a worker's own free list is such an array, and it gives or
 * takes half of it at a time as one magazine under slab_lock, without
 * touching the structs.  (Lists linked through the structs were walked one
 * cache miss per struct, under the lock, when a worker that frees what
 * another spawns handed them back: 18% of a two-worker spawn loop.)
 */
struct green_task_mag {
	struct green_task_mag *next;
	unsigned n;
	struct green_task *t[GREEN_TASK_MAG];
};

/* Under slab_lock: put t in the first magazine, or in new one (false: no
 * memory). */
static bool
mag_put_locked(struct green_rt *rt, struct green_task *t)
{
	struct green_task_mag *m = rt->task_mags;

	if (m == NULL || m->n == GREEN_TASK_MAG) {
		if ((m = green__alloc(sizeof(*m))) == NULL)
			return false;
		m->n = 0;
		m->next = rt->task_mags;
		rt->task_mags = m;
	}
	m->t[m->n++] = t;
	return true;
}

/* Under slab_lock: a new chunk; all its tasks but the first go to
 * magazines (NULL: no memory).  noinline: its mmap would give its caller's
 * prologue the 64 KiB demand of a libc call (nosplit.c). */
static __attribute__((noinline, cold)) struct green_task *
chunk_new(struct green_rt *rt)
{
	size_t want = rt->chunks != NULL ? 2 * rt->chunks->ntasks
					 : FIRST_CHUNK_TASKS;
	struct green_task_chunk *c = chunk_alloc(want);
	size_t i;

	if (c == NULL)
		return NULL;
	c->next = rt->chunks;
	rt->chunks = c;
	for (i = 1; i < c->ntasks; i++)
		if (!mag_put_locked(rt, &c->tasks[i]))
			break; /* the rest stay unused: still type-stable */
	return &c->tasks[0];
}

/* Under slab_lock: one task from the magazines, else a new chunk. */
static struct green_task *
slab_take_locked(struct green_rt *rt)
{
	struct green_task_mag *m = rt->task_mags;
	struct green_task *t;

	if (m == NULL)
		return chunk_new(rt);
	t = m->t[--m->n];
	if (m->n == 0) {
		rt->task_mags = m->next;
		green__free(m, sizeof(*m));
	}
	return t;
}

/* A task struct for w (NULL: a thread that is not a worker). */
struct green_task *
green__task_alloc(struct green_worker *w)
{
	struct green_rt *rt = green__rt;
	struct green_task_mag *m = NULL;
	struct green_task *t;

	if (w != NULL && w->nfree_tasks > 0)
		return w->free_tasks[--w->nfree_tasks];
	green__lock(&rt->slab_lock);
	if (w != NULL && (m = rt->task_mags) != NULL)
		rt->task_mags = m->next; /* a worker takes a whole one */
	t = m == NULL ? slab_take_locked(rt) : NULL;
	green__unlock(&rt->slab_lock);
	if (m != NULL) {
		/* never empty: slab_take_locked frees emptied ones;
		 * green__memcpy: a libc call here would have the linker
		 * give this function's prologue a 64 KiB demand (nosplit.c) */
		green__memcpy(w->free_tasks, m->t, m->n * sizeof(m->t[0]));
		w->nfree_tasks = m->n - 1;
		t = m->t[m->n - 1];
		green__free(m, sizeof(*m));
	}
	return t;
}

/* t's handle dies: a join or detach calls this under t's lock, before t
 * is freed, so a green_cancel that checked the handle under the lock wakes
 * t, never the task its struct serves next.  green__task_free calls it
 * again (for a detached task, the first call since it ended). */
static void
handle_end(struct green_task *t)
{
	/* relaxed: only t's owner writes it; readers check it again under
	 * t's lock, or after the acquire of magic (task_of) */
	atomic_store_explicit(
		&t->gen,
		green__gen_next(atomic_load_explicit(&t->gen,
						     memory_order_relaxed)),
		memory_order_relaxed);
}

void
green__task_free(struct green_worker *w, struct green_task *t)
{
	struct green_rt *rt = green__rt;
	struct green_task_mag *m;

	handle_end(t);
	/* release: a racing (invalid) join sees FREED, not half a task */
	atomic_store_explicit(&t->magic, GREEN_TASK_FREED, memory_order_release);
	if (w != NULL && w->nfree_tasks < GREEN_LOCAL_FREE_MAX) {
		w->free_tasks[w->nfree_tasks++] = t;
		return;
	}
	if (w != NULL && (m = green__alloc(sizeof(*m))) != NULL) {
		/* full: the older half goes back as one magazine (the two
		 * halves do not overlap: GREEN_TASK_MAG is half) */
		green__memcpy(m->t, w->free_tasks, sizeof(m->t));
		m->n = GREEN_TASK_MAG;
		green__memcpy(w->free_tasks, w->free_tasks + GREEN_TASK_MAG,
			      GREEN_TASK_MAG * sizeof(w->free_tasks[0]));
		w->nfree_tasks -= GREEN_TASK_MAG;
		w->free_tasks[w->nfree_tasks++] = t;
		green__lock(&rt->slab_lock);
		m->next = rt->task_mags;
		rt->task_mags = m;
		green__unlock(&rt->slab_lock);
		return;
	}
	green__lock(&rt->slab_lock);
	/* no memory for a magazine: the struct stays unused, still
	 * type-stable (a chunk's; green_shutdown frees it) */
	mag_put_locked(rt, t);
	green__unlock(&rt->slab_lock);
}

/* Call fn on every task struct ever allocated (live or free). */
void
green__task_foreach(void (*fn)(struct green_task *, void *), void *arg)
{
	struct green_rt *rt = green__rt;

	green__lock(&rt->slab_lock);
	for (struct green_task_chunk *c = rt->chunks; c != NULL; c = c->next)
		for (size_t i = 0; i < c->ntasks; i++)
			fn(&c->tasks[i], arg);
	green__unlock(&rt->slab_lock);
}

void
green__task_slab_free_all(void)
{
	struct green_rt *rt = green__rt;
	struct green_task_chunk *c;

	struct green_task_mag *m;

	while ((c = rt->chunks) != NULL) {
		rt->chunks = c->next;
		chunk_release(c);
	}
	while ((m = rt->task_mags) != NULL) {
		rt->task_mags = m->next;
		green__free(m, sizeof(*m));
	}
	for (unsigned i = 0; i < atomic_load(&rt->nthreads); i++)
		rt->workers[i].nfree_tasks = 0;
}

static uint64_t
next_id(struct green_rt *rt, struct green_worker *w)
{
	if (w == NULL)
		return atomic_fetch_add(&rt->next_id, 1);
	if (w->id_next == w->id_end) {
		/* a block at a time: no shared cache line per spawn */
		w->id_next = atomic_fetch_add(&rt->next_id, ID_BLOCK);
		w->id_end = w->id_next + ID_BLOCK;
	}
	return w->id_next++;
}

/* Copy a task name, truncated to fit (no libc call: see nosplit.c). */
static void
name_copy(char dst[32], const char *src)
{
	size_t i = 0;

	if (src != NULL)
		for (; i < 31 && src[i] != '\0'; i++)
			dst[i] = src[i];
	dst[i] = '\0';
}

/* The handle for t (handle.h). */
static green_task_t *
handle_of(const struct green_task *t)
{
	/* relaxed: t's own generation, stable while t lives */
	return green__handle(t, atomic_load_explicit(&t->gen,
						     memory_order_relaxed));
}

static void stack_init(struct green_rt *rt, struct green_worker *w,
		       struct green_task *t, const green_attr_t *attr,
		       void *(*fn)(void *), void *arg);

static void
task_init(struct green_rt *rt, struct green_worker *w, struct green_task *t,
	  const green_attr_t *attr, void *(*fn)(void *), void *arg,
	  bool detached)
{
	t->ctx.sp = NULL;
	t->next = NULL;
	atomic_store_explicit(&t->wake, 0, memory_order_relaxed);
	t->stack = NULL;
	t->fn = fn;
	t->arg = arg;
	t->result = NULL;
	t->id = next_id(rt, w);
	atomic_store_explicit(&t->cancelled, false, memory_order_relaxed);
	/* t->lock is 0 (free structs are unlocked), and a stale join may
	 * hold it for a moment: not written here */
	t->done = false;
	t->detached = detached;
	t->joining = false;
	t->joiner = NULL;
	t->foreign_joiner = NULL;
	t->wait_reason = GREEN_WAIT_NONE;
	t->wait_obj = NULL;
	t->heap_index = SIZE_MAX;
	t->group = NULL;
	t->dl_cap = -1;
	if (attr == NULL && w != NULL && fn == w->spawn_fn) {
		t->stack_kind = w->spawn_kind;
		t->stack_why = w->spawn_why;
		t->stack_size = w->spawn_size;
		t->stack_max = rt->stack_max;
		t->name[0] = '\0';
	} else {
		stack_init(rt, w, t, attr, fn, arg);
	}
	/* release: the fields above are complete before the task is seen
	 * as live (queues publish it again with their own release) */
	atomic_store_explicit(&t->magic, GREEN_TASK_MAGIC, memory_order_release);
}

/* task_init's slow path: t's stack and name from attr, remembered in w
 * for the next spawn of fn without attributes. */
static void
stack_init(struct green_rt *rt, struct green_worker *w, struct green_task *t,
	   const green_attr_t *attr, void *(*fn)(void *), void *arg)
{
	int asked;

	/* a size asked for one kind means nothing for the other */
	asked = attr != NULL ? attr->stack_kind : GREEN_STACK_DEFAULT;
	t->stack_kind = green__stack_kind(asked, green__entry_of(fn, arg),
					  &t->stack_why);
	asked = green__stack_requested(asked);
	t->stack_max = attr != NULL && attr->stack_max != 0 ? attr->stack_max
							     : rt->stack_max;
	t->stack_size = green__stack_size(
		t->stack_kind, attr != NULL && t->stack_kind == asked
				       ? attr->stack_size
				       : 0);
	name_copy(t->name, attr != NULL ? attr->name : NULL);
	if (attr == NULL && w != NULL) {
		w->spawn_fn = fn;
		w->spawn_kind = t->stack_kind;
		w->spawn_why = t->stack_why;
		w->spawn_size = t->stack_size;
	}
}

/*
 * A new task for fn(arg), not yet runnable: start it with green__task_start
 * or give it back with green__task_discard.  A detached task frees itself
 * at its end.
 */
int
green__task_create(struct green_task **out, const green_attr_t *attr,
		   void *(*fn)(void *), void *arg, bool detached)
{
	struct green_rt *rt = green__rt;
	struct green_worker *w;
	struct green_task *t;
	int err;

	if (fn == NULL)
		return -EINVAL;
	if (attr != NULL &&
	    (err = green__stack_check(attr->stack_kind, attr->stack_size,
				      attr->stack_max)))
		return err;
	if (rt == NULL || atomic_load(&rt->stopping))
		return -EPERM;
	w = green__worker();
	if (w == NULL) {
		/* seq_cst: the deadlock check sees us busy before it could
		 * see an empty queue */
		atomic_fetch_add(&rt->foreign_busy, 1);
	}
	t = green__task_alloc(w);
	if (t == NULL) {
		if (w == NULL)
			atomic_fetch_sub(&rt->foreign_busy, 1);
		return -ENOMEM;
	}
	task_init(rt, w, t, attr, fn, arg, detached);
	*out = t;
	return 0;
}

/* Make a task from green__task_create runnable. */
void
green__task_start(struct green_task *t)
{
	struct green_rt *rt = green__rt;
	struct green_worker *w = green__worker();

	if (GREEN_TRACING()) {
		uint64_t parent = w != NULL && w->current != NULL
					  ? w->current->id
					  : 0;
		green__trace_create(t, parent);
	}
	if (w != NULL) {
		/* relaxed: only this worker writes it; read at quiescence */
		atomic_store_explicit(&w->nspawned, w->nspawned + 1,
				      memory_order_relaxed);
		green__runq_push(w, t);
		/* unlike a wake-up, a spawn is new work that may run in
		 * parallel: offer it to an idle worker at once (Go's newproc) */
		green__wake_worker();
	} else {
		atomic_fetch_add(&rt->foreign_spawned, 1);
		green__globq_push(t);
		green__wake_worker();
		atomic_fetch_sub(&rt->foreign_busy, 1);
	}
}

/* Give back a task from green__task_create that never started. */
void
green__task_discard(struct green_task *t)
{
	struct green_worker *w = green__worker();

	green__task_free(w, t);
	if (w == NULL)
		atomic_fetch_sub(&green__rt->foreign_busy, 1);
}

int
green_spawn(green_task_t **tp, const green_attr_t *attr, void *(*fn)(void *),
	    void *arg)
{
	struct green_task *t;
	int err;

	if ((err = green__task_create(&t, attr, fn, arg, tp == NULL)) != 0)
		return err;
	if (tp != NULL)
		*tp = handle_of(t);
	green__task_start(t);
	return 0;
}

static void
after_exit(struct green_worker *w, struct green_task *t)
{
	w->exiting = false;
	san_ctx_destroy(&w->dead_ctx);
	green__ss_chain_put(w, &w->dead_ctx);
	green__stack_put(w, w->after_stack);
	w->after_stack = NULL;
	if (t != NULL)
		green__task_free(w, t);
}

/* The running task t returned from its entry function. */
_Noreturn void
green__task_exit(struct green_task *t)
{
	struct green_worker *w = green__worker();
	bool detached;

	w->after_stack = t->stack;
	t->stack = NULL;
	/* the last registers go to dead_ctx, which keeps the sanitizers'
	 * view of this context until after_exit releases it */
	w->dead_ctx = t->ctx;
	t->ctx.sp = NULL;
	GREEN_TRACE(GT_EXIT, 1, t->id, 0, 0);
	green__held_exit(w, t);
	green__spin_lock(&t->lock);
	t->done = true;
	detached = t->detached;
	/* wake under the lock: the joiner unlists itself under it, so this
	 * is still the park we mean (park.c) */
	if (t->joiner != NULL)
		green__wake(t->joiner, 0);
	if (t->foreign_joiner != NULL) {
		atomic_store(t->foreign_joiner, 1);
		green__futex_wake(t->foreign_joiner, 1);
	}
	green__spin_unlock(&t->lock);
	/* t may be freed by its joiner from here on */
	atomic_store_explicit(&w->nexited, w->nexited + 1, memory_order_relaxed);
	green__leave(w, detached ? t : NULL, after_exit);
}

/* Under t->lock, returns with it held: block this OS thread for t. */
static int
join_foreign(struct green_task *t, int64_t deadline)
{
	_Atomic uint32_t woken = 0;
	int r = 0;

	t->foreign_joiner = &woken;
	green__spin_unlock(&t->lock);
	while (atomic_load(&woken) == 0 && r == 0)
		r = green__futex_wait(&woken, 0, deadline);
	green__spin_lock(&t->lock);
	t->foreign_joiner = NULL;
	return r;
}

/* Whether t is still the task that handle h named. */
static bool
handle_matches(const struct green_task *t, const green_task_t *h)
{
	/* acquire: pairs with task_init's release, so the fields read after
	 * this are the task's; relaxed gen: written before that release or
	 * before the FREED store (task_free) */
	return atomic_load_explicit(&t->magic, memory_order_acquire) ==
		       GREEN_TASK_MAGIC &&
	       atomic_load_explicit(&t->gen, memory_order_relaxed) ==
		       green__handle_gen(h);
}

/* The task handle h names, or NULL: h is NULL, or was given up (joined or
 * detached), or belongs to a runtime that was shut down.  Task
 * structs are never unmapped, so reading one is always safe. */
static struct green_task *
task_of(const green_task_t *h)
{
	struct green_task *t = green__handle_obj(h);

	if (t == NULL || green__handle_gen(h) == 0 || !handle_matches(t, h))
		return NULL;
	return t;
}

int
green_join(green_task_t *h, void **result, int64_t deadline)
{
	struct green_worker *w = green__worker();
	struct green_task *self = w != NULL ? w->current : NULL;
	struct green_task *t;
	int r = 0;

	if (green__rt == NULL)
		return -EPERM;
	if ((t = task_of(h)) == NULL || deadline < -1)
		return -EINVAL;
	if (t == self)
		return -EDEADLK;
	green__spin_lock(&t->lock);
	/* a racing join or detach may have freed it since task_of */
	if (!handle_matches(t, h) || t->detached || t->joining) {
		green__spin_unlock(&t->lock);
		return -EINVAL;
	}
	if (!t->done) {
		if (deadline == 0) {
			green__spin_unlock(&t->lock);
			return -ETIMEDOUT;
		}
		if (self != NULL && green__deadline_cap(self, deadline) == -1 &&
		    green__wf_begin(self, GREEN_WAIT_JOIN, t) != 0) {
			/* t waits, through others, for this task (cycle.c) */
			green__spin_unlock(&t->lock);
			return -EDEADLK;
		}
		t->joining = true;
		if (self != NULL) {
			t->joiner = self;
			r = green__park(self, GREEN_WAIT_JOIN, t,
					green__unlock_spin, &t->lock, deadline,
					0);
			green__spin_lock(&t->lock);
			t->joiner = NULL;
			if (green__deadline_cap(self, deadline) == -1)
				green__wf_end(self);
		} else {
			r = join_foreign(t, deadline);
		}
		t->joining = false;
		if (!t->done) {
			green__spin_unlock(&t->lock);
			return r != 0 ? r : -ETIMEDOUT;
		}
	}
	if (result != NULL)
		*result = t->result;
	handle_end(t);
	green__spin_unlock(&t->lock);
	/* the worker may have changed while we were parked */
	w = green__worker();
	green__task_free(w, t);
	return 0;
}

int
green_detach(green_task_t *h)
{
	struct green_task *t;
	bool done;

	if (green__rt == NULL)
		return -EPERM;
	if ((t = task_of(h)) == NULL)
		return -EINVAL;
	green__spin_lock(&t->lock);
	if (!handle_matches(t, h) || t->detached || t->joining) {
		green__spin_unlock(&t->lock);
		return -EINVAL;
	}
	t->detached = true;
	done = t->done;
	/* the caller gives the handle up (green_detach(3)) */
	handle_end(t);
	green__spin_unlock(&t->lock);
	if (done)
		green__task_free(green__worker(), t);
	return 0;
}

int
green_cancel(green_task_t *h)
{
	struct green_task *t;

	if (green__rt == NULL)
		return -EPERM;
	if ((t = task_of(h)) == NULL)
		return -EINVAL;
	/* under t's lock, which its joiner takes before it frees t: the
	 * task we check is the one we wake */
	green__spin_lock(&t->lock);
	if (!handle_matches(t, h)) {
		green__spin_unlock(&t->lock);
		return -EINVAL;
	}
	/* seq_cst: pairs with green__park's ARMED store and flag load */
	atomic_store(&t->cancelled, true);
	green__wake(t, -ECANCELED);
	green__spin_unlock(&t->lock);
	return 0;
}

green_task_t *
green_self(void)
{
	struct green_worker *w = green__worker();

	return w != NULL && w->current != NULL ? handle_of(w->current) : NULL;
}

uint64_t
green_task_id(const green_task_t *h)
{
	const struct green_task *t = task_of(h);

	return t != NULL ? t->id : 0;
}
