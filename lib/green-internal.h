/*
 * green-internal.h - the runtime's internal structures and green__ calls.
 *
 * Every name here is hidden (-fvisibility=hidden); only green.h is public.
 * Field comments say what a field is, who owns it and what protects it.
 */
#ifndef GREEN_INTERNAL_H
#define GREEN_INTERNAL_H

#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "context.h"
#include "green.h"
#include "fault.h"
#include "handle.h"

#define GREEN_MAX_WORKERS 1024
#define GREEN_MIN_STACK ((size_t)16 << 10)
#define GREEN_MAX_STACK ((size_t)1 << 30)
#define GREEN_MAX_OFFLOAD 1024 /* green_config_t.offload_threads */
#define GREEN_DEFAULT_STACK ((size_t)256 << 10)
/* Segmented stacks: the first segment's size (stack.c, splitstack.h). */
#define GREEN_MIN_SEGMENT ((size_t)1 << 10)
#define GREEN_DEFAULT_SEGMENT ((size_t)2 << 10)
#define GREEN_POOLED_SEGMENT ((size_t)64 << 10) /* larger: mapped alone */
/* The most a segmented stack may grow to (stack_max), as Go's default. */
#define GREEN_DEFAULT_STACK_MAX ((size_t)1 << 30)
#define GREEN_TASK_MAGIC 0x6772656eU /* "gren": a live or ended task */
#define GREEN_TASK_FREED 0x64656164U /* "dead": recycled task struct */

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct green_worker;

/*
 * --- spin lock: short critical sections only ------------------------------
 * A plain int so that the public sync objects can embed one (green.h).  A
 * holder may be a preempted OS thread, so a waiter that spun for long
 * yields its CPU.
 */
/* Linux 5.14's madvise: fault a range in with one call (older headers). */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Hot-path libc calls without a stack check (nosplit.c). */
void green__memcpy(void *dst, const void *src, size_t n);
void green__os_yield(void);
void green__lock(pthread_mutex_t *m);
void green__unlock(pthread_mutex_t *m);

static inline void
green__spin_lock(int *l)
{
	/* acquire: the critical section's reads see the last holder's writes */
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
		for (int i = 0; __atomic_load_n(l, __ATOMIC_RELAXED); i++) {
			if (i < 1000)
				__builtin_ia32_pause();
			else
				green__os_yield();
		}
	}
}

static inline void
green__spin_unlock(int *l)
{
	/* release: publishes the critical section's writes to the next holder */
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* --- stacks (stack.c) --------------------------------------------------- */
struct green_stack {
	void *map;		 /* fixed: mmap base, the guard page first;
				    first segment: its lowest byte */
	size_t maplen;		 /* fixed: bytes mapped, guard included;
				    0 for a pooled first segment */
	size_t size;		 /* usable bytes (above the guard page) */
	struct green_stack *next; /* link in a pool; owned by the pool */
	unsigned vg_id;		 /* valgrind's stack id (0 when not registered) */
	int kind;		 /* GREEN_STACK_FIXED or GREEN_STACK_SEGMENTED */
};

struct green_stack *green__stack_get(struct green_worker *w, int kind,
				     size_t size);
void green__stack_put(struct green_worker *w, struct green_stack *s);
void green__stack_pool_drain(struct green_worker *w);
void green__stack_global_drain(void);
void green__stack_trim(void);
void *green__stack_top(struct green_stack *s);
size_t green__stack_guard(void);
int green__stack_check(int kind, size_t size, size_t max);
size_t green__round_stack(size_t size);
int green__stack_requested(int kind);
/* Why a task that asked for the default kind has a fixed stack. */
enum green_stack_why {
	GREEN_WHY_ASKED = 0, /* segmented, or fixed as asked */
	GREEN_WHY_ENTRY,     /* entry function not split-stack code */
	GREEN_WHY_LAZY,	     /* program bound lazily (no -z now) */
	GREEN_WHY_FOREIGN,   /* libgcc's split-stack runtime linked */
	GREEN_WHY_VALGRIND,  /* running under valgrind */
	GREEN_WHY_BUILD,     /* built without split stacks */
};
int green__stack_kind(int kind, const void *entry,
		      enum green_stack_why *why);
const char *green__stack_why(enum green_stack_why why);
bool green__under_valgrind(void);
size_t green__stack_size(int kind, size_t size);
/* Split-stack bookkeeping (splitstack.c); no-ops without split stacks. */
void green__ss_prepare(struct green_worker *w, struct green_ctx *ctx,
		       struct green_stack *s);
void green__ss_chain_put(struct green_worker *w, struct green_ctx *ctx);
void green__ss_worker_fini(struct green_worker *w);
void green__ss_trim(size_t keep);
void green__ss_idle(void);
bool green__ss_entry_splits(const void *fn);
bool green__ss_lazy_binding(void);
bool green__ss_foreign_runtime(void);
void *green__ss_grow(size_t frame, size_t argsize, const void *args);
void green__ss_shrink(void);
bool green__ss_unwind_to(uintptr_t sp);

/* --- tasks (task.c) ------------------------------------------------------- */
/* Why a task waits: shown in the deadlock report (and later in traces). */
enum green_wait {
	GREEN_WAIT_NONE = 0,
	GREEN_WAIT_JOIN,
	GREEN_WAIT_SLEEP,
	GREEN_WAIT_CHAN_SEND,
	GREEN_WAIT_CHAN_RECV,
	GREEN_WAIT_SELECT,
	GREEN_WAIT_MUTEX,
	GREEN_WAIT_COND,
	GREEN_WAIT_WG,
	GREEN_WAIT_SEM,
	GREEN_WAIT_IO_READ,
	GREEN_WAIT_IO_WRITE,
	GREEN_WAIT_OFFLOAD,
	GREEN_WAIT_GROUP,	/* green_group_wait, green_group_destroy */
	GREEN_WAIT_GROUP_SLOT,	/* green_group_spawn, at the group's limit */
};

/* Bits of green_task.wake; the park result sits in the high 32 bits. */
#define WAKE_ARMED 1u  /* the task is inside a park and may be woken */
#define WAKE_PARKED 2u /* its registers are saved: a waker must queue it */
#define WAKE_WOKEN 4u  /* a waker won; the result is in the high half */
#define WAKE_BUSY 8u   /* the winner is still handing data over */
#define WAKE_NOCANCEL 16u /* this park ignores green_cancel */

struct green_task {
	struct green_ctx ctx;	  /* saved registers while not running */
	struct green_task *next;  /* queue / free-list link; owned by that list */
	_Atomic uint64_t wake;	  /* park protocol word, see park.c */
	struct green_stack *stack; /* attached at first run; owner: the task */
	void *(*fn)(void *);	  /* entry function */
	void *arg;
	void *result;		  /* fn's return value; valid once done */
	uint64_t id;		  /* unique id, >= 1 */
	_Atomic uint32_t magic;	  /* GREEN_TASK_MAGIC or GREEN_TASK_FREED */
	atomic_bool cancelled;	  /* sticky; set by green_cancel */
	_Atomic uint16_t gen;	  /* the handle's generation (handle.h) */
	int lock;		  /* spin lock: protects the join fields below */
	bool done;		  /* fn returned; under lock */
	bool detached;		  /* resources freed at exit; under lock */
	bool joining;		  /* a join is waiting; under lock */
	struct green_task *joiner; /* task waiting in green_join; under lock */
	_Atomic uint32_t *foreign_joiner; /* OS thread's futex word; under lock */
	/* Park bookkeeping, written by the task itself while it parks. */
	enum green_wait wait_reason;
	const void *wait_obj;	  /* what it waits on (report detail) */
	void (*unlock_fn)(void *); /* run by the worker after the switch */
	void *unlock_arg;
	/* Deadline timer; protected by the runtime's timer lock. */
	int64_t deadline;
	size_t heap_index;	  /* position in the timer heap, or SIZE_MAX */
	size_t stack_size;	  /* requested usable stack size */
	size_t stack_max;	  /* most a segmented stack may grow to */
	int stack_kind;		  /* GREEN_STACK_FIXED or _SEGMENTED */
	enum green_stack_why stack_why; /* why fixed (overflow report) */
	char name[32];		  /* copied from green_attr_t.name */
	/* Task groups (group.c): set at spawn, stable while the task lives. */
	struct green_group *group; /* NULL: spawned by green_spawn */
	struct green_task *gnext, *gprev; /* the group's members; its lock */
	int64_t dl_cap;		  /* the group's deadline; -1: none */
	/* The wait-for edge (cycle.c): odd wf_seq while it waits without
	 * deadline for wf_obj, of kind wf_kind (a seqlock). */
	_Atomic uint32_t wf_seq;
	_Atomic uint8_t wf_kind;
	_Atomic(const void *) wf_obj;
};

#define GREEN_LOCAL_FREE_MAX 256u /* free task structs a worker keeps */
#define GREEN_TASK_MAG (GREEN_LOCAL_FREE_MAX / 2) /* moved at a time */
struct green_task *green__task_alloc(struct green_worker *w);
int green__task_create(struct green_task **out, const green_attr_t *attr,
		       void *(*fn)(void *), void *arg, bool detached);
void green__task_start(struct green_task *t);
void green__task_discard(struct green_task *t);
void green__task_free(struct green_worker *w, struct green_task *t);
void green__task_slab_free_all(void);
void green__task_foreach(void (*fn)(struct green_task *, void *), void *arg);

/* --- task groups (group.c) ----------------------------------------------- */
struct green_group {
	int lock;		/* spin lock: the fields up to the tree's */
	uint16_t gen;		/* the handle's generation (handle.h) */
	bool cancelled;		/* sticky: no spawns, members cancelled */
	bool decided;		/* the policy's outcome is known */
	int policy;		/* GREEN_GROUP_* */
	int result;		/* what green_group_wait reports */
	unsigned limit;		/* 0: none */
	unsigned nrun;		/* its own live tasks (the limit's count) */
	size_t live;		/* live tasks in it and in nested groups */
	size_t nwait;		/* callers inside wait or a slot wait */
	int64_t deadline;	/* effective (its own or an ancestor's); -1 */
	struct green_task *members; /* its own live tasks */
	struct green__waiter *waitq_head, *waitq_tail; /* wait, destroy */
	struct green__waiter *slotq_head, *slotq_tail; /* spawns at limit */
	/* Under group.c's tree lock; parent is stable while a task of the
	 * group lives. */
	bool in_use;		/* created and not yet freed */
	bool destroying;	/* a green_group_destroy has begun */
	struct green_group *parent, *children, *sib_next, *sib_prev;
	struct green_group *free_next;
	uint64_t id;		/* unique in the process, >= 1 */
	char name[32];
};

/* The earlier of deadline and t's group deadline (-1: none). */
static inline int64_t
green__deadline_cap(const struct green_task *t, int64_t deadline)
{
	/* unsigned: -1, none, is later than any time */
	return (uint64_t)t->dl_cap < (uint64_t)deadline ? t->dl_cap : deadline;
}

void green__group_run(struct green_task *t);
void green__group_visit(const void *group, struct green_task *self, int from,
			void *walk, int max);

/* --- wait-for cycles (cycle.c) ------------------------------------------ */
int green__wf_begin(struct green_task *self, enum green_wait kind,
		    const void *obj);
void green__wf_end(struct green_task *self);
bool green__wf_closes(struct green_task *self, enum green_wait kind,
		      const void *obj);
void green__wf_visit(void *walk, struct green_task *t, int from);
void green__group_shutdown(void);

/* --- run queues (runq.c) ------------------------------------------------- */
#define GREEN_RUNQ_SIZE 256u

struct green_runq {
	_Atomic uint32_t head;	/* next slot to take; CAS by owner and thieves */
	_Atomic uint32_t tail;	/* next free slot; written by the owner only */
	_Atomic(struct green_task *) slot[GREEN_RUNQ_SIZE];
	_Atomic(struct green_task *) lifo; /* the task readied last */
};

struct green_task *green__runq_steal(struct green_worker *thief,
				     struct green_worker *victim,
				     bool take_lifo);
bool green__runq_empty(struct green_worker *w);
bool green__runq_drain(struct green_worker *w);
void green__globq_push(struct green_task *t);
struct green_task *green__globq_pop(struct green_worker *w, size_t max);
struct green_rt;
void green__globq_fini(struct green_rt *rt);

/* --- the netpoller (netpoll.c) -------------------------------------------- */
#define GREEN_POLL_EVENTS 64 /* epoll events taken per poll */

/* One per fd number; all fields under lock. */
struct green_fd {
	int lock;
	uint32_t gen;		  /* bumped by green_close */
	bool registered;	  /* in the epoll set, non-blocking */
	bool nopoll;		  /* epoll refused it (regular file) */
	bool was_blocking;	  /* O_NONBLOCK was clear before */
	bool rd_ready, wr_ready;  /* an edge came while nobody waited */
	/* whether a short read proves the input drained: 0 not known yet,
	 * 1 yes (TCP), -1 no (not TCP, or its input ended, failed or
	 * brought urgent data) */
	int8_t short_read_drains;
	uint64_t rd_edges;	  /* input events handled so far */
	/* 1 + the rd_edges a reader saw before a short read found the
	 * input drained (0: none); see green__fd_drained */
	_Atomic uint64_t rd_drained;
	/* waiters (waiter.c) for input and output: green__fd_wait's and
	 * green_select's fd cases */
	struct green__waiter *rd_head, *rd_tail, *wr_head, *wr_tail;
};

struct green_fd_chunk; /* netpoll.c */
struct green_pool;     /* offload.c */
struct green_rt;

int green__netpoll_init(struct green_rt *rt);
void green__netpoll_fini(struct green_rt *rt);
struct green_fd *green__fd(int fd);
/* What an I/O call learnt when it registered its fd. */
struct green_fd_use {
	struct green_fd *d;
	int fd;
	uint32_t gen;
	bool nopoll;
	int8_t short_read_drains; /* as d's, when registered */
	bool drained;		  /* input drained: wait before reading */
	uint64_t rd_edges;	  /* d->rd_edges before the next read */
};

int green__fd_register(struct green_fd *d, int fd, struct green_fd_use *use);
int green__fd_wait(struct green_fd_use *use, int events, int64_t deadline);
void green__fd_drained(struct green_fd_use *use);
bool green__fd_is_drained(const struct green_fd_use *use);
void green__io_wait_begin(struct green_rt *rt);
void green__io_wait_end(struct green_rt *rt);
bool green__fd_take_ready(struct green_fd *d, int events);
void green__fd_enqueue(struct green_fd *d, int events,
		       struct green__waiter *w);
void green__fd_dequeue(struct green_fd *d, struct green__waiter *w);
int green__netpoll(struct green_worker *w, int64_t deadline);
void green__netpoll_interrupt(void);
int green__offload_init(struct green_rt *rt, unsigned threads);
void green__offload_fini(struct green_rt *rt);

/* --- workers and the scheduler (sched.c) ---------------------------------- */
/* What the task that just switched away still needs done (see park.c). */
typedef void (*green_after_fn)(struct green_worker *w, struct green_task *t);

struct green_worker {
	struct green_runq q;	  /* owner pushes; thieves steal */
	struct green_ctx sched_ctx; /* the worker's own loop, on its pthread stack */
	struct green_ctx dead_ctx; /* where an ended task's last registers go */
	struct green_task *current; /* running task or NULL; owner only */
	green_after_fn after;	  /* pending post-switch action; owner only */
	struct green_task *after_task;
	struct green_stack *after_stack; /* stack of a task that just ended */
	unsigned id;		  /* index in the runtime's worker array */
	pthread_t thread;
	uint32_t tick;		  /* schedule count: global-queue fairness */
	uint32_t poll_tick;	  /* switch count: busy polling (sched.c) */
	uint32_t lifo_streak;	  /* consecutive runs from the lifo slot */
	uint32_t ring_picks;	  /* picks from the ring: its fairness (runq.c) */
	/* Hand-off (monitor.c).  The owner publishes every switch; the
	 * monitor marks a worker whose task has not switched for a while as
	 * held, and has another thread take its role. */
	_Atomic uint32_t nswitch;  /* switches so far; owner stores */
	_Atomic(struct green_task *) running; /* owner stores (release) */
	_Atomic bool held;	  /* set by the monitor, cleared by the owner */
	/* Written by the monitor before it sets held, read by the owner after
	 * it takes the mark (relaxed: held's release/acquire orders them). */
	_Atomic int64_t held_since; /* when the held task switched in, about */
	_Atomic uint8_t held_kind; /* GT_HELD_* */
	_Atomic(struct green_task *) held_task; /* the task seen holding */
	_Atomic bool member;	  /* counted in rt->nmembers: runs tasks; else
				     a spare, parked until the monitor needs it */
	_Atomic int tid;	  /* the thread's id, for /proc (monitor.c) */
	uint32_t mon_nswitch;	  /* monitor only: nswitch when last seen */
	uint32_t mon_marked;	  /* monitor only: nswitch + 1 when last
				     marked held (0: never), so one hold is
				     marked once */
	int64_t mon_seen;	  /* monitor only: when it first saw that */
	bool spinning;		  /* counted in rt->nspinning; owner only */
	bool exiting;		  /* current ended: from green__held_exit to
				     after_exit; owner only */
	uint64_t rng;		  /* xorshift state for victim choice */
	_Atomic uint32_t wakeword; /* futex: 1 = notified */
	bool on_idle_list;	  /* under rt->idle_lock */
	struct green_worker *idle_next; /* under rt->idle_lock */
	/* Pools, owner only. */
	struct green_task *free_tasks[GREEN_LOCAL_FREE_MAX]; /* task.c */
	unsigned nfree_tasks;
	struct green_stack *free_stacks;
	unsigned nfree_stacks;
	struct green_stack *free_segs; /* first segments of rt->seg_size */
	unsigned nfree_segs;
	uint64_t id_next, id_end; /* block of task ids reserved from rt */
	struct green_chan *free_chans; /* chan.c */
	unsigned nfree_chans;
	/* The stack a spawn without attributes gave its entry function last
	 * (task.c): the kind depends only on the function and the runtime */
	void *(*spawn_fn)(void *);
	int spawn_kind;
	enum green_stack_why spawn_why;
	size_t spawn_size;
	/* Task counts: written by the owner, summed only when all are idle. */
	_Atomic uint64_t nspawned, nexited;
	void *altstack;		  /* sigaltstack memory */
	size_t altstack_len;
	struct green_seg *ss_free; /* pooled stack segments (splitstack.c) */
	unsigned nss_free;
	struct green_seg *ss_defer; /* unpooled segment left by a longjmp */
	_Atomic bool polling;	  /* blocked in epoll_wait: kick by eventfd */
	/* Tracing (trace.c), owner only but tgen. */
	struct green_tbuf *tbuf;  /* this worker's event buffer */
	uint64_t tlost;		  /* events lost for want of a buffer */
	uint64_t tswitch;	  /* time of the stop a start may reuse, or 0 */
	uint64_t trun;		  /* the running task as the trace shows it */
	struct green_tbuf *tstop_buf; /* the last stop, which a START may */
	uint32_t tstop_at, tstop_end; /* join: its type byte, its end */
	uintptr_t tfuncs[64];	  /* entry functions known to be named */
	_Atomic unsigned tgen;	  /* the trace generation acknowledged */
	struct epoll_event events[GREEN_POLL_EVENTS]; /* green__netpoll's */
} __attribute__((aligned(64)));

struct green_rt {
	unsigned nworkers;	  /* workers that run tasks: the configured count */
	struct green_worker *workers; /* nslots: the workers, then the spares */
	unsigned nslots;	  /* nworkers + the most spares (monitor.c) */
	_Atomic unsigned nthreads; /* slots whose thread was started */
	_Atomic unsigned nmembers; /* workers not spare, held ones included */
	_Atomic unsigned nheld;	  /* members marked held by the monitor */
	struct green_monitor *monitor; /* monitor.c */
	int stack_kind;		  /* default kind: FIXED or SEGMENTED */
	size_t fixed_size;	  /* default fixed stack size */
	size_t seg_size;	  /* default first-segment size (pooled) */
	size_t stack_max;	  /* default stack_max */
	enum green_stack_why stack_why; /* why the default kind is fixed */
	/* Global run queue. */
	pthread_mutex_t gq_lock;
	struct green_gbatch *gq_head, *gq_tail; /* under gq_lock (runq.c) */
	struct green_gbatch *gq_free;	/* emptied batches; under gq_lock */
	unsigned ngq_free;		/* under gq_lock */
	_Atomic size_t gq_len;	  /* written under gq_lock, read without */
	/* Idle workers. */
	pthread_mutex_t idle_lock;
	struct green_worker *idle_list; /* under idle_lock */
	unsigned nidle;		  /* under idle_lock */
	_Atomic unsigned nidle_hint; /* copy of nidle readable without lock */
	_Atomic unsigned nspinning;
	/* Timers: a binary min-heap of parked tasks ordered by deadline. */
	pthread_mutex_t timer_lock;
	struct green_task **heap; /* under timer_lock */
	size_t nheap, capheap;	  /* under timer_lock */
	_Atomic int64_t timer_next; /* earliest deadline, INT64_MAX if none */
	struct green_worker *timer_waiter; /* under timer_lock */
	/* Life. */
	atomic_bool stopping;	  /* shutdown: workers exit when idle */
	_Atomic uint64_t foreign_spawned; /* tasks spawned from other threads */
	_Atomic uint64_t foreign_busy; /* foreign calls touching queues */
	_Atomic uint32_t quiet_seq; /* futex: bumped when all workers idle */
	bool deadlocked;	  /* under idle_lock */
	_Atomic uint64_t next_id;
	/* Task struct slab. */
	pthread_mutex_t slab_lock;
	struct green_task_chunk *chunks; /* under slab_lock */
	struct green_task_mag *task_mags; /* free structs; under slab_lock */
	/* The netpoller (netpoll.c). */
	int epfd, evfd;		  /* epoll set; eventfd that ends a wait */
	_Atomic(struct green_fd_chunk *) *fds; /* descriptor table, by chunk */
	pthread_mutex_t fd_lock;  /* creates chunks */
	_Atomic int io_waiters;	  /* tasks parked on an fd */
	/* The blocking pool (offload.c). */
	struct green_pool *pool;
	_Atomic int offload_waiters; /* tasks waiting for a pool job */
	/* Global stack pool (default-size stacks). */
	pthread_mutex_t stack_lock;
	struct green_stack *free_stacks; /* under stack_lock */
	size_t nfree_stacks;
	struct green_stack *free_segs;	/* under stack_lock */
	char *seg_cursor, *seg_end;	/* carving region; under stack_lock */
	struct green_region *regions;	/* every segment region; stack_lock */
};

extern struct green_rt *green__rt;

struct green_worker *green__worker(void);

/* The running task, NULL on a thread that runs none. */
static inline struct green_task *
green__self(void)
{
	struct green_worker *w = green__worker();

	return w != NULL ? w->current : NULL;
}

/* --- hand-off (monitor.c) -------------------------------------------------- */
#define GREEN_DEFAULT_SPARES 64u /* green_config_t.max_spares */
#define GREEN_MAX_SPARES 4096u

int green__monitor_start(struct green_rt *rt, const green_config_t *cfg);
void green__monitor_stop(struct green_rt *rt);
void green__monitor_free(struct green_rt *rt);
void green__monitor_kick(struct green_rt *rt);
bool green__held_return(struct green_worker *w);
void green__held_exit_report(struct green_worker *w, struct green_task *t);

/* The running task t of w ends (task exit, a hot path: inline, the report
 * out of line): a hold of its worker is reported while t is still ours,
 * and green__held_return no longer looks at it (monitor.c). */
static inline void
green__held_exit(struct green_worker *w, struct green_task *t)
{
	w->exiting = true;
	/* acquire: pairs with the monitor's release in mark_held, so the
	 * held_* fields read are the mark's */
	if (__builtin_expect(atomic_load_explicit(&w->held,
						  memory_order_acquire),
			     0))
		green__held_exit_report(w, t);
}
bool green__idle_demote(struct green_rt *rt);
int green__worker_start(struct green_rt *rt, struct green_worker *w);
void green__worker_spare_wait(struct green_worker *w);

/* Every switch of worker w, to task next or (NULL) to its loop: what the
 * monitor watches.  relaxed nswitch: a count the monitor compares with its
 * last sample; release running: the monitor reads the task's fields. */
static inline void
green__note_switch(struct green_worker *w, struct green_task *next)
{
	atomic_store_explicit(&w->running, next, memory_order_release);
	atomic_store_explicit(
		&w->nswitch,
		atomic_load_explicit(&w->nswitch, memory_order_relaxed) + 1,
		memory_order_relaxed);
}
const void *green__entry_of(void *(*fn)(void *), void *arg);
void green__wake_worker(void);
void green__worker_kick(struct green_worker *w);
void green__quiet_kick(struct green_rt *rt);
void green__schedule(struct green_worker *w, struct green_task *cur,
		     green_after_fn after);
_Noreturn void green__task_exit(struct green_task *t);
_Noreturn void green__leave(struct green_worker *w, struct green_task *t,
			    green_after_fn after);
void green__sched_prepare(struct green_worker *w, struct green_task *next);

/* --- parking (park.c) ---------------------------------------------------- */
#define GREEN_PARK_NOCANCEL 1 /* flags: green_cancel does not end this park */

int green__park(struct green_task *t, enum green_wait reason, const void *obj,
		void (*unlock)(void *), void *arg, int64_t deadline, int flags);
bool green__claim(struct green_task *t, bool cancel);
void green__finish(struct green_task *t, int result);
bool green__wake(struct green_task *t, int result);
void green__ready(struct green_task *t);
void green__after_park(struct green_worker *w, struct green_task *t);

/* --- wait lists (waiter.c): what blocks on an object, task or thread ----- */
struct green__waiter {
	struct green__waiter *next, *prev; /* under the object's lock */
	struct green_task *task;  /* NULL: an OS thread blocked on tfutex */
	_Atomic uint64_t tword;	  /* thread waiter: the park protocol word */
	_Atomic uint32_t tfutex;  /* thread waiter: 1 once finished */
	int result;		  /* thread waiter: the wake result */
	void *elem;		  /* data: send source / receive destination */
	int index;		  /* select: the case this waiter stands for */
	bool listed;		  /* on a wait list; under the object's lock */
	bool is_send;		  /* select: a send case */
	bool in_select;		  /* one of a select's waiters */
	int64_t since;		  /* mutex: when the wait began */
	void *obj;		  /* select: the channel of this case */
	/* A select's waiters share one "home" waiter: its word and futex
	 * (thread waiters) decide the one claim, and it records the case
	 * that won.  A plain wait is its own home. */
	struct green__waiter *home;
	struct green__waiter *won; /* in the home: the claimed waiter */
};

void green__waiter_init(struct green__waiter *w, struct green_task *self);
void green__waiter_rearm(struct green__waiter *w);
void green__waitq_push(struct green__waiter **head, struct green__waiter **tail,
		       struct green__waiter *w);
void green__waitq_push_front(struct green__waiter **head,
			     struct green__waiter **tail,
			     struct green__waiter *w);
void green__waitq_remove(struct green__waiter **head,
			 struct green__waiter **tail, struct green__waiter *w);
struct green__waiter *green__waitq_claim(struct green__waiter **head,
					 struct green__waiter **tail);
struct green__waiter *
green__waitq_wake(struct green__waiter **head, struct green__waiter **tail,
		  void (*fill)(struct green__waiter *, void *), void *arg,
		  int result);
bool green__waiter_claim(struct green__waiter *w);
void green__waiter_finish(struct green__waiter *w, int result);
int green__wait(struct green__waiter *w, enum green_wait reason,
		const void *obj, void (*unlock)(void *), void *arg,
		int64_t deadline, int flags);
void green__unlock_spin(void *lock);
uint32_t green__rand(void);

/* --- channels (chan.c), used by select.c ---------------------------------- */
struct green_chan {
	int lock;		  /* spin lock: everything below */
	uint16_t gen;		  /* the handle's generation (handle.h) */
	bool closed;
	size_t elem_size;
	size_t cap;		  /* 0: unbuffered */
	size_t len;		  /* values in the ring */
	size_t head;		  /* ring index of the oldest value */
	char *buf;		  /* cap * elem_size bytes */
	struct green__waiter *sendq_head, *sendq_tail;
	struct green__waiter *recvq_head, *recvq_tail;
	struct green_chan *free_next; /* while free: chan.c's lists */
};

struct green_chan *green__chan_of(const green_chan_t *h);
bool green__chan_matches(const struct green_chan *ch, const green_chan_t *h);
void green__chan_cache_drain(struct green_worker *w);
int green__chan_try_send(struct green_chan *ch, const void *elem);
int green__chan_try_recv(struct green_chan *ch, void *elem);
void green__chan_enqueue(struct green_chan *ch, struct green__waiter *w);
void green__chan_dequeue(struct green_chan *ch, struct green__waiter *w);

/* --- timers (timer.c) ---------------------------------------------------- */
void green__timer_add(struct green_task *t, int64_t deadline);
void green__timer_del(struct green_task *t);
bool green__timers_run(int64_t now);
int64_t green__timer_next(void);

/* --- allocation (alloc.c) ----------------------------------------------- */
void *green__alloc(size_t size);
void *green__calloc(size_t size);
void green__free(void *p, size_t size);

/* --- diagnostics (diag.c) ------------------------------------------------ */
void green__diag_install(void);
void green__diag_uninstall(void);
int green__diag_altstack_map(struct green_worker *w);
void green__diag_altstack_unmap(struct green_worker *w);
void green__diag_thread_init(struct green_worker *w);
void green__diag_thread_fini(struct green_worker *w);
void green__deadlock_report(void);
void green__describe_fn(void *fn, char *buf, size_t len);

/* --- futex --------------------------------------------------------------- */
int green__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline);
void green__futex_wake(_Atomic uint32_t *addr, int n);

/* --- tracing (trace.c) --------------------------------------------------- */
#include "trace-format.h"

#if GREEN_TRACE_BUILD
extern _Atomic int green__trace_on;
extern _Atomic unsigned green__trace_gen;
/* relaxed: a site that misses a start or stop by one event is harmless
 * (trace.c); the branch is predicted not taken */
#define GREEN_TRACING()                                                        \
	__builtin_expect(atomic_load_explicit(&green__trace_on,                \
					      memory_order_relaxed),           \
			 0)
#else
#define GREEN_TRACING() 0
#endif

/* Record an event of type with nargs (0-3) unsigned arguments. */
#define GREEN_TRACE(type, nargs, a0, a1, a2)                                   \
	do {                                                                   \
		if (GREEN_TRACING())                                           \
			green__trace_event((type), (nargs), (uint64_t)(a0),    \
					   (uint64_t)(a1), (uint64_t)(a2));    \
	} while (0)

void green__trace_event(int type, int nargs, uint64_t a0, uint64_t a1,
			uint64_t a2);
void green__trace_create(const struct green_task *t, uint64_t parent);
void green__trace_start(uint64_t id);
void green__fn_name(uintptr_t fn, char *buf, size_t len); /* elfsym.c */
void green__trace_safepoint_slow(struct green_worker *w);
int green__trace_init(struct green_rt *rt, const green_config_t *cfg);
void green__trace_fini(struct green_rt *rt);

/* A worker between two tasks: hand its buffer to a stopped trace. */
static inline void
green__trace_safepoint(struct green_worker *w)
{
#if GREEN_TRACE_BUILD
	/* relaxed: the slow path rereads with seq_cst */
	if (__builtin_expect(atomic_load_explicit(&w->tgen,
						  memory_order_relaxed) !=
				     atomic_load_explicit(&green__trace_gen,
							  memory_order_relaxed),
			     0))
		green__trace_safepoint_slow(w);
#else
	(void)w;
#endif
}

#endif /* GREEN_INTERNAL_H */
