/*
 * splitstack.c - segmented stacks: the segments a growing task takes, and
 * the split-stack ABI that libgreen supplies in place of libgcc's.
 *
 * A task starts on a small first segment (stack.c).  When a function needs
 * more room than is left above the guard, its prologue calls __morestack
 * (arch/<cpu>/morestack.S), which calls green__ss_grow here for a segment,
 * runs the rest of the function on it, and calls green__ss_shrink when the
 * function returns.  A segment is one mapping of SEG_MAP bytes: a guard
 * page, then the stack, then its header (struct green_seg) at the top.
 * Segments are pooled (a few per worker, the rest in a process-wide pool)
 * and never unmapped while tasks run, so a split costs a list pop, not an
 * mmap, page faults and a TLB shootdown; an idle runtime trims the pool.
 *
 * The guard page is what makes a call into code built without -fsplit-
 * stack safe: such a call gets GREEN_SS_NONSPLIT bytes (the linker and
 * __morestack_non_split ask for them), and one that uses more faults on the
 * guard page, which diag.c reports naming the task, instead of running into
 * another task's memory.  Each segment is two memory mappings, the guard
 * page and the stack (see guard_page).
 *
 * grow and shrink run below the guard, on the reserve every stack keeps
 * (GREEN_SS_RESERVE): they and everything they call are no_split_stack or
 * libc, and they use little stack (checked with -fstack-usage).
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "green-internal.h"
#include "syscall.h"

#ifdef GREEN_SPLIT_STACK

#define PAGE ((size_t)4096)	      /* x86_64 Linux's base page */
#define SEG_MAP ((size_t)GREEN_SS_SEGMENT)
#define SEG_HEAD ((sizeof(struct green_seg) + 15) & ~(size_t)15)
#define SEG_USABLE (SEG_MAP - PAGE - SEG_HEAD)
#define SEG_SLACK ((size_t)4 << 10)   /* for the callees of a split frame */
#define WORKER_SEGS 8		      /* pooled segments kept per worker */
#define GLOBAL_KEEP 64		      /* kept by an idle process */

__thread struct green_seg *green__ss_cur
	__attribute__((tls_model("initial-exec")));
/* A segment kept for green__libc_hop (morestack.S), which takes and gives
 * it back without a call. */
__thread struct green_seg *green__ss_spare
	__attribute__((tls_model("initial-exec")));

_Static_assert(offsetof(struct green_seg, prev) == GREEN_SEG_PREV, "asm");
_Static_assert(offsetof(struct green_seg, old_guard) == GREEN_SEG_OLD_GUARD,
	       "asm");
_Static_assert(offsetof(struct green_seg, lo) == GREEN_SEG_LO, "asm");
_Static_assert(offsetof(struct green_seg, depth) == GREEN_SEG_DEPTH, "asm");

/* The process-wide pool: segments outlive a runtime (a foreign thread may
 * split at any time), so it is not part of struct green_rt. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct green_seg *pool;	/* under pool_lock */
static size_t npool;		/* under pool_lock */

/* An alloca block of __morestack_allocate_stack_space. */
struct green_dyn {
	struct green_dyn *next;
};

/* --- segments ------------------------------------------------------------ */

/*
 * The guard page is PROT_NONE, a mapping of its own.  Not MADV_GUARD_INSTALL
 * (Linux 6.13), which would keep a segment one mapping: gdb's gcore then
 * cannot read the segment at all, and a core dump loses the stacks of tasks
 * parked on segments (tests/gdb.sh).
 */
static GREEN_NO_SPLIT bool
guard_page(void *page)
{
	return mprotect(page, PAGE, PROT_NONE) == 0;
}

/* A new segment of maplen bytes (a guard page included), or NULL. */
static GREEN_NO_SPLIT struct green_seg *
seg_map(size_t maplen, bool alone)
{
	char *map = green__mmap(NULL, maplen, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct green_seg *s;

	if (map == MAP_FAILED)
		return NULL;
	if (!guard_page(map)) {
		munmap(map, maplen);
		return NULL;
	}
	s = (struct green_seg *)(map + maplen - SEG_HEAD);
	s->lo = map + PAGE;
	s->maplen = maplen;
	s->alone = alone;
	s->next = NULL;
	return s;
}

static GREEN_NO_SPLIT void
seg_unmap(struct green_seg *s)
{
	munmap(s->lo - PAGE, s->maplen);
}

/* A pooled segment: the worker's, the process's, or a new one. */
static GREEN_NO_SPLIT struct green_seg *
seg_get(struct green_worker *w)
{
	struct green_seg *s;

	if (w != NULL && (s = w->ss_free) != NULL) {
		w->ss_free = s->next;
		w->nss_free--;
		return s;
	}
	green__lock(&pool_lock);
	if ((s = pool) != NULL) {
		pool = s->next;
		npool--;
	}
	green__unlock(&pool_lock);
	return s != NULL ? s : seg_map(SEG_MAP, false);
}

static GREEN_NO_SPLIT void
seg_put(struct green_worker *w, struct green_seg *s)
{
	if (s->alone) {
		seg_unmap(s);
		return;
	}
	if (w != NULL && w->nss_free < WORKER_SEGS) {
		s->next = w->ss_free;
		w->ss_free = s;
		w->nss_free++;
		return;
	}
	green__lock(&pool_lock);
	s->next = pool;
	pool = s;
	npool++;
	green__unlock(&pool_lock);
}

/* alloca blocks of segments given back where no libc call may be made
 * (below a guard, in shrink and longjmp); freed by dyn_reap */
static __thread struct green_dyn *dyn_pending
	__attribute__((tls_model("initial-exec")));

/* Free a list of alloca blocks: split-stack code, with a stack of its own
 * (free may hop onto a segment). */
static void
dyn_free(struct green_dyn *d)
{
	while (d != NULL) {
		struct green_dyn *next = d->next;
		free(d);
		d = next;
	}
}

static void
dyn_reap(void)
{
	struct green_dyn *d = dyn_pending;

	dyn_pending = NULL;
	dyn_free(d);
}

/* Take s's alloca blocks off it, to dyn_pending. */
static GREEN_NO_SPLIT void
dyn_defer(struct green_seg *s)
{
	struct green_dyn *d = s->dynamic;

	while (d != NULL) {
		struct green_dyn *next = d->next;
		d->next = dyn_pending;
		dyn_pending = d;
		d = next;
	}
	s->dynamic = NULL;
}

/* Give back s, whose function has returned or will never run again. */
static GREEN_NO_SPLIT void
seg_release(struct green_worker *w, struct green_seg *s)
{
	dyn_defer(s);
	seg_put(w, s);
}

/* --- the fatal ends of a split ------------------------------------------- */

enum grow_failure { GROW_LIMIT, GROW_NOMEM };

struct grow_report {
	enum grow_failure why;
	size_t depth; /* bytes the stack would have had */
	size_t limit;
};

/* Runs on a stack of its own (run_on): the task's is exhausted. */
static _Noreturn void
grow_fatal(void *arg)
{
	const struct grow_report *r = arg;
	struct green_worker *w = green__worker();
	struct green_task *t = w != NULL ? w->current : NULL;
	char fn[128] = "?", line[512];
	int n;

	if (t != NULL)
		green__describe_fn((void *)t->fn, fn, sizeof(fn));
	if (r->why == GROW_LIMIT)
		n = snprintf(line, sizeof(line),
			     "libgreen: task %llu \"%s\" (entry %s) exceeded "
			     "its stack limit of %zu bytes (stack_max) on "
			     "worker %u: unbounded recursion?\n",
			     t != NULL ? (unsigned long long)t->id : 0ULL,
			     t != NULL ? t->name : "", fn, r->limit,
			     w != NULL ? w->id : 0);
	else
		n = snprintf(line, sizeof(line),
			     "libgreen: out of memory: no stack segment to "
			     "grow task %llu \"%s\" (entry %s) to %zu bytes\n",
			     t != NULL ? (unsigned long long)t->id : 0ULL,
			     t != NULL ? t->name : "", fn, r->depth);
	if (n > 0)
		(void)green__sys3(SYS_write, STDERR_FILENO, (long)line,
				  (size_t)n < sizeof(line) ? (size_t)n
							   : sizeof(line) - 1);
	signal(SIGABRT, SIG_DFL);
	abort();
}

/* The stack a fatal report runs on when the worker has no alternate signal
 * stack (or this is not a worker): one report ends the process. */
static char emergency_stack[32 << 10] __attribute__((aligned(16)));

static _Noreturn GREEN_NO_SPLIT void
grow_fail(struct green_worker *w, struct grow_report *r)
{
	char *top = w != NULL && w->altstack != NULL
			    ? (char *)w->altstack + w->altstack_len
			    : emergency_stack + sizeof(emergency_stack);

	/* a zero guard: nothing on the report's path splits again */
	green__ss_set_guard(NULL);
	__asm__ volatile("movq %0, %%rsp\n\t"
			 "call *%1\n\t"
			 "ud2"
			 :
			 : "r"(top), "r"(grow_fatal), "D"(r)
			 : "memory");
	__builtin_unreachable();
}

/* --- grow and shrink (called by morestack.S) ------------------------------ */

/* The stack the running context had before its first split, and its limit. */
static GREEN_NO_SPLIT void
base_of(struct green_worker *w, size_t *base, size_t *limit)
{
	struct green_task *t = w != NULL ? w->current : NULL;

	*base = t != NULL && t->stack != NULL ? t->stack->size : 0;
	*limit = t != NULL ? t->stack_max : GREEN_DEFAULT_STACK_MAX;
}

/*
 * A segment for a frame of frame bytes with argsize bytes of stack
 * arguments at args: returns the stack pointer to run the frame at, the
 * arguments copied just above it, with the guard and the current segment
 * set for the new segment.
 */
GREEN_NO_SPLIT void *
green__ss_grow(size_t frame, size_t argsize, const void *args)
{
	struct green_worker *w = green__worker();
	struct green_seg *cur = green__ss_cur, *s;
	size_t need = frame + argsize + GREEN_SS_RESERVE + SEG_SLACK;
	size_t base, limit, size;
	struct grow_report r;
	uintptr_t *to;
	const uintptr_t *from = args;

	base_of(w, &base, &limit);
	if (need <= SEG_USABLE) {
		s = seg_get(w);
		size = SEG_USABLE;
	} else {
		size = (need + SEG_HEAD + PAGE - 1) & ~(PAGE - 1);
		s = size <= limit ? seg_map(size + PAGE, true) : NULL;
		size -= SEG_HEAD;
	}
	r.depth = (cur != NULL ? cur->depth : base) + size;
	r.limit = limit;
	if (r.depth > limit || s == NULL) {
		r.why = r.depth > limit ? GROW_LIMIT : GROW_NOMEM;
		grow_fail(w, &r);
	}
	s->prev = cur;
	s->old_guard = green__ss_guard();
	s->depth = r.depth;
	s->dynamic = NULL;
	green__ss_cur = s;
	green__ss_set_guard(s->lo + GREEN_SS_RESERVE);
	to = (uintptr_t *)((char *)s - ((argsize + 15) & ~(size_t)15));
	for (size_t i = 0; i < argsize / sizeof(*to); i++)
		to[i] = from[i];
	return to;
}

/* green__libc_hop's slow paths: a segment when the thread has no spare,
 * and the way back to the pools when it has one already. */
GREEN_NO_SPLIT struct green_seg *
green__ss_hop_segment(void)
{
	struct green_worker *w = green__worker();
	struct green_seg *s = seg_get(w);

	if (s == NULL) {
		struct grow_report r = { GROW_NOMEM, SEG_USABLE, 0 };
		grow_fail(w, &r);
	}
	s->dynamic = NULL;
	return s;
}

GREEN_NO_SPLIT void
green__ss_hop_release(struct green_seg *s)
{
	seg_release(green__worker(), s);
}

/* The function that split has returned: back to the segment below. */
GREEN_NO_SPLIT void
green__ss_shrink(void)
{
	struct green_seg *s = green__ss_cur;

	green__ss_cur = s->prev;
	green__ss_set_guard(s->old_guard);
	seg_release(green__worker(), s);
}

/*
 * After a longjmp to sp: give back every segment above the one that holds
 * sp and restore that one's guard.  Returns whether sp is on another
 * segment than the current one.  The segment in use now is still run on
 * until the jump: it goes to this worker's own cache, which nothing but
 * this thread takes from, or, if it has a mapping of its own, waits in the
 * worker's deferred slot until the next longjmp or the worker's end.
 */
GREEN_NO_SPLIT bool
green__ss_unwind_to(uintptr_t sp)
{
	struct green_worker *w = green__worker();
	struct green_seg *s = green__ss_cur, *prev;

	if (s == NULL || (sp >= (uintptr_t)s->lo && sp <= (uintptr_t)s))
		return false;
	for (; s != NULL; s = prev) {
		if (sp >= (uintptr_t)s->lo && sp <= (uintptr_t)s)
			break;
		prev = s->prev;
		green__ss_set_guard(s->old_guard);
		if (s != green__ss_cur || w == NULL) {
			seg_release(w, s);
		} else if (s->alone) {
			if (w->ss_defer != NULL)
				seg_release(w, w->ss_defer);
			w->ss_defer = s;
		} else {
			dyn_defer(s);
			s->next = w->ss_free;
			w->ss_free = s;
			w->nss_free++;
		}
	}
	green__ss_cur = s;
	return true;
}

/* --- contexts -------------------------------------------------------------- */

/* A new task's context: its first segment's guard, no segments yet. */
void
green__ss_prepare(struct green_worker *w, struct green_ctx *ctx,
		  struct green_stack *s)
{
	char *top = green__stack_top(s);

	(void)w;
	ctx->ss.seg = NULL;
	ctx->ss.dynamic = NULL;
	/* a fixed stack never splits: its overflow meets the guard page,
	 * which diag.c reports */
	ctx->ss.guard = s->kind == GREEN_STACK_SEGMENTED
				? top - s->size + GREEN_SS_RESERVE
				: NULL;
}

/* A context that will never run again (an ended or abandoned task). */
void
green__ss_chain_put(struct green_worker *w, struct green_ctx *ctx)
{
	struct green_seg *s = ctx->ss.seg, *prev;

	for (; s != NULL; s = prev) {
		prev = s->prev;
		seg_release(w, s);
	}
	ctx->ss.seg = NULL;
	dyn_free(ctx->ss.dynamic);
	ctx->ss.dynamic = NULL;
	dyn_reap();
}

void
green__ss_worker_fini(struct green_worker *w)
{
	struct green_seg *s;

	if (w->ss_defer != NULL)
		seg_release(NULL, w->ss_defer);
	w->ss_defer = NULL;
	if (green__ss_spare != NULL)
		seg_release(NULL, green__ss_spare);
	green__ss_spare = NULL;
	dyn_reap();
	while ((s = w->ss_free) != NULL) {
		w->ss_free = s->next;
		seg_put(NULL, s);
	}
	w->nss_free = 0;
}

/* Unmap pooled segments beyond keep (every worker idle, or shutdown). */
void
green__ss_trim(size_t keep)
{
	struct green_seg *s, *excess = NULL;

	green__lock(&pool_lock);
	while (npool > keep) {
		s = pool;
		pool = s->next;
		npool--;
		s->next = excess;
		excess = s;
	}
	green__unlock(&pool_lock);
	while ((s = excess) != NULL) {
		excess = s->next;
		seg_unmap(s);
	}
}

void
green__ss_idle(void)
{
	green__ss_trim(GLOBAL_KEEP);
}

/* --- the rest of the ABI that -fsplit-stack code links against ----------- */

/*
 * gcc calls this for alloca and variable-length arrays that do not fit
 * above the guard.  The block lives as long as the segment in use (or, on
 * the base stack, the task), as with libgcc; after that it is freed at the
 * thread's next call here, or when a task ends on it.
 */
__attribute__((visibility("default"))) void *
__morestack_allocate_stack_space(size_t size)
{
	struct green_worker *w = green__worker();
	struct green_dyn *d, **list;

	dyn_reap(); /* blocks of segments given back since */
	d = green__fault(GF_ALLOC) ? NULL : malloc(sizeof(*d) + size + 15);
	if (d == NULL) {
		struct grow_report r = { GROW_NOMEM, size, 0 };
		grow_fail(w, &r);
	}
	if (green__ss_cur != NULL)
		list = &green__ss_cur->dynamic;
	else if (w != NULL && w->current != NULL)
		list = &w->current->ctx.ss.dynamic;
	else
		list = NULL; /* a thread of ours never gets here: zero guard */
	d->next = list != NULL ? *list : NULL;
	if (list != NULL)
		*list = d;
	return (void *)(((uintptr_t)(d + 1) + 15) & ~(uintptr_t)15);
}

/*
 * gcc links code built with -fsplit-stack with --wrap=pthread_create, for
 * libgcc to set each new thread's guard.  Our threads run with a zero
 * guard: split-stack code outside tasks never splits and uses the thread's
 * own stack, as code built without -fsplit-stack would.  Linked with the
 * wrap (a static libgreen), libc's function is __real_pthread_create;
 * without it (libtool links libgreen.so so), the weak reference stays NULL
 * and pthread_create is libc's.
 */
extern int __real_pthread_create(pthread_t *, const pthread_attr_t *,
				 void *(*)(void *), void *)
	__attribute__((weak));

struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static GREEN_NO_SPLIT void *
thread_start(void *p)
{
	struct thread_start st;

	green__ss_set_guard(NULL);
	st = *(struct thread_start *)p;
	free(p);
	return st.fn(st.arg);
}

__attribute__((visibility("default"))) int
__wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr,
		      void *(*fn)(void *), void *arg)
{
	struct thread_start *st = malloc(sizeof(*st));
	int err;

	if (st == NULL)
		return EAGAIN;
	st->fn = fn;
	st->arg = arg;
	err = __real_pthread_create != NULL
		      ? __real_pthread_create(th, attr, thread_start, st)
		      : pthread_create(th, attr, thread_start, st);
	if (err != 0)
		free(st);
	return err;
}

/*
 * Whether libgcc's split-stack runtime ran in this process: its start-up
 * code gives the main thread (and its pthread_create wrapper each thread) a
 * guard; ours never does.  A program linked without libgreen.pc's flags
 * (libgreen-morestack.a ahead of libgcc) has libgcc's __morestack, which
 * cannot grow our tasks.
 */
bool
green__ss_foreign_runtime(void)
{
	return green__ss_guard() != NULL;
}

/*
 * Whether the program binds its PLT entries lazily.  A task's first call
 * through a lazy entry into libgreen (split-stack code, so the call is not
 * rewritten to ask for more stack) runs the dynamic linker's resolver on
 * the task's small segment, which it overflows.  Programs linked with the
 * flags from libgreen.pc (-z now) or run with LD_BIND_NOW are bound at
 * start-up; others get fixed stacks by default.
 */
static int
lazy_main_program(struct dl_phdr_info *info, size_t size, void *arg)
{
	bool *lazy = arg;

	(void)size;
	*lazy = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const ElfW(Dyn) *d;
		if (ph->p_type != PT_DYNAMIC)
			continue;
		*lazy = true;
		d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		for (; d->d_tag != DT_NULL; d++)
			if ((d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_BIND_NOW)) ||
			    (d->d_tag == DT_FLAGS_1 && (d->d_un.d_val & DF_1_NOW)))
				*lazy = false;
	}
	return 1; /* the first object is the main program */
}

bool
green__ss_lazy_binding(void)
{
	const char *now = getenv("LD_BIND_NOW");
	bool lazy = false;

	if (now != NULL && *now != '\0')
		return false;
	dl_iterate_phdr(lazy_main_program, &lazy);
	return lazy;
}

/*
 * Whether the code at fn starts with gcc's split-stack prologue: after an
 * optional endbr64, a compare of %rsp (or of %r10/%r11 = %rsp - frame) with
 * %fs:0x70, or gold's rewrite of that compare into "stc; nopl" for a caller
 * of non-split code.  A function built without -fsplit-stack has neither.
 */
bool
green__ss_entry_splits(const void *fn)
{
	static const unsigned char endbr[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	static const unsigned char stc_nop[] = { 0xf9, 0x0f, 0x1f, 0x84, 0x00 };
	const unsigned char *p = fn;

	if (memcmp(p, endbr, sizeof(endbr)) == 0)
		p += sizeof(endbr);
	if (memcmp(p, stc_nop, sizeof(stc_nop)) == 0)
		return true;
	/* lea disp8/disp32(%rsp),%r10 or %r11 before the compare */
	if (p[0] == 0x4c && p[1] == 0x8d && (p[3] == 0x24) &&
	    (p[2] == 0x54 || p[2] == 0x5c || p[2] == 0x94 || p[2] == 0x9c))
		p += p[2] >= 0x80 ? 8 : 5;
	/* cmp %fs:0x70,%reg: 64 REX.W 3b modrm(sib) 25 70 00 00 00 */
	return p[0] == 0x64 && (p[1] == 0x48 || p[1] == 0x4c) && p[2] == 0x3b &&
	       p[4] == 0x25 && p[5] == 0x70 && p[6] == 0 && p[7] == 0 &&
	       p[8] == 0;
}

#else /* !GREEN_SPLIT_STACK: one stack kind, nothing to track */

void
green__ss_prepare(struct green_worker *w, struct green_ctx *ctx,
		  struct green_stack *s)
{
	(void)w, (void)ctx, (void)s;
}

void
green__ss_chain_put(struct green_worker *w, struct green_ctx *ctx)
{
	(void)w, (void)ctx;
}

void
green__ss_worker_fini(struct green_worker *w)
{
	(void)w;
}

void
green__ss_trim(size_t keep)
{
	(void)keep;
}

void
green__ss_idle(void)
{
}

bool
green__ss_foreign_runtime(void)
{
	return false;
}

bool
green__ss_entry_splits(const void *fn)
{
	(void)fn;
	return false;
}

bool
green__ss_lazy_binding(void)
{
	return false;
}

#endif /* GREEN_SPLIT_STACK */
