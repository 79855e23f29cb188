/*
 * stack.c - task stacks.
 *
 * Fixed stacks: one mmap per stack, the lowest page made PROT_NONE as a
 * guard, pages committed lazily by the kernel on first touch.  A first
 * touch costs ~12 us on this machine class, so stacks are reused warm: each
 * worker keeps a small LIFO cache of default-size stacks, backed by a global
 * pool; only beyond both are stacks unmapped.  A task gets its stack when it
 * first runs and gives it back when it ends, so a spawned task that has not
 * run yet costs only its struct.
 *
 * Segmented stacks (built with -fsplit-stack, see splitstack.h): a task's
 * first segment is a small slice of a large region, carved on demand and
 * pooled like fixed stacks, never mapped per task; its struct green_stack
 * sits at its top.  Segments libgcc adds when the task grows are handled
 * in splitstack.c.  A first segment of a size other than the runtime's
 * default is mapped alone, like a fixed stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "green-internal.h"

/*
 * valgrind: each stack is registered for as long as it is mapped, so
 * memcheck knows a jump of the stack pointer into it is a switch, not a huge
 * frame.  The client requests cost a few instructions on a real CPU.
 */
#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#define STACK_REGISTER(lo, hi) VALGRIND_STACK_REGISTER(lo, hi)
#define STACK_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#else
#define STACK_REGISTER(lo, hi) 0u
#define STACK_DEREGISTER(id) ((void)(id))
#endif

#define WORKER_CACHE 64	 /* default-size stacks kept per worker */
#define GLOBAL_POOL 65536 /* and in the global pool, while tasks run */
#define GLOBAL_KEEP 1024  /* what an idle runtime keeps of it */
#define WORKER_SEG_CACHE 256 /* first segments kept per worker */

static size_t page_size;

/* Whether the process runs under valgrind, which cannot follow segmented
 * stacks: the runtime then defaults to fixed ones. */
bool
green__under_valgrind(void)
{
#ifdef HAVE_VALGRIND_VALGRIND_H
	return RUNNING_ON_VALGRIND != 0;
#else
	return false;
#endif
}

static __attribute__((noinline)) size_t
page_size_init(void)
{
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	return page_size;
}

size_t
green__stack_guard(void)
{
	return page_size != 0 ? page_size : page_size_init();
}

/* A requested stack size rounded up to whole pages. */
size_t
green__round_stack(size_t size)
{
	size_t page = green__stack_guard();

	return (size + page - 1) & ~(page - 1);
}

#define SEG_REGION ((size_t)2 << 20) /* first segments are carved from these */
/* A page after the last first segment of a region, or after a first
 * segment mapped alone, that is never used: an indirect call into code
 * without a stack check copies up to 256 bytes of stack arguments from
 * above its caller's frame (morestack.S), which may reach past the top. */
#define FIRST_SEG_SLACK ((size_t)4096)

struct green_region {
	void *base;
	struct green_region *next;
};

/* A stack kind, size and maximum from green_config_t or green_attr_t: 0
 * or -E.  A maximum smaller than the stack itself cannot be met. */
int
green__stack_check(int kind, size_t size, size_t max)
{
	size_t min = GREEN_MIN_STACK;

	switch (kind) {
	case GREEN_STACK_DEFAULT:
		/* the size is checked against the kind it resolves to */
		if (green__stack_requested(kind) == GREEN_STACK_SEGMENTED)
			min = GREEN_MIN_SEGMENT;
		break;
	case GREEN_STACK_FIXED:
		break;
	case GREEN_STACK_SEGMENTED:
#ifndef GREEN_SPLIT_STACK
		return -ENOTSUP;
#endif
		min = GREEN_MIN_SEGMENT;
		break;
	default:
		return -EINVAL;
	}
	if (size != 0 && (size < min || size > GREEN_MAX_STACK))
		return -EINVAL;
	if (max != 0 && (max < min || (size != 0 && max < size)))
		return -EINVAL;
	return 0;
}

/* The kind asked for: GREEN_STACK_DEFAULT is the runtime's default (the
 * build's before green_init). */
int
green__stack_requested(int kind)
{
	struct green_rt *rt = green__rt;

	if (kind != GREEN_STACK_DEFAULT)
		return kind;
	if (rt != NULL)
		return rt->stack_kind;
	return GREEN_SPLIT_DEFAULT ? GREEN_STACK_SEGMENTED : GREEN_STACK_FIXED;
}

/*
 * The kind a task gets: the one asked for, except that an entry function
 * that is not split-stack code gets a fixed stack (on a small first
 * segment it could not grow), and under valgrind every task does.  *why
 * (may be NULL) says why a task asked for the default got a fixed stack:
 * its overflow report repeats it (diag.c).
 */
int
green__stack_kind(int kind, const void *entry, enum green_stack_why *why)
{
	struct green_rt *rt = green__rt;
	enum green_stack_why w = GREEN_WHY_ASKED;

	if (kind == GREEN_STACK_DEFAULT && rt != NULL)
		w = rt->stack_why;
	kind = green__stack_requested(kind);
	if (kind == GREEN_STACK_SEGMENTED) {
		w = GREEN_WHY_ASKED;
		if (entry != NULL && !green__ss_entry_splits(entry))
			w = GREEN_WHY_ENTRY;
		else if (green__under_valgrind())
			w = GREEN_WHY_VALGRIND;
		if (w != GREEN_WHY_ASKED)
			kind = GREEN_STACK_FIXED;
	}
	if (why != NULL)
		*why = w;
	return kind;
}

const char *
green__stack_why(enum green_stack_why why)
{
	switch (why) {
	case GREEN_WHY_ENTRY:
		return "its entry function was built without -fsplit-stack: "
		       "compile with the flags of `pkg-config --cflags "
		       "libgreen`";
	case GREEN_WHY_LAZY:
		return "the program binds symbols lazily: link with the flags "
		       "of `pkg-config --libs libgreen` (-z now)";
	case GREEN_WHY_FOREIGN:
		return "the program has libgcc's __morestack: link with the "
		       "flags of `pkg-config --libs libgreen` "
		       "(-lgreen-morestack)";
	case GREEN_WHY_VALGRIND:
		return "valgrind cannot follow segmented stacks";
	case GREEN_WHY_BUILD:
		return "this libgreen was built without segmented stacks";
	case GREEN_WHY_ASKED:
		break;
	}
	return "a fixed stack was asked for (stack_kind)";
}

/* The usable size for a stack of kind, given a requested size or 0. */
size_t
green__stack_size(int kind, size_t size)
{
	struct green_rt *rt = green__rt;

	if (kind == GREEN_STACK_SEGMENTED)
		return size == 0 ? rt->seg_size
				 : (size + 63) & ~(size_t)63;
	return green__round_stack(size == 0 ? rt->fixed_size : size);
}

/* A stack of size usable bytes with a guard page below, and slack bytes
 * after it (FIRST_SEG_SLACK for a first segment, else 0). */
static struct green_stack *
stack_map(size_t size, size_t slack)
{
	size_t guard = green__stack_guard();
	size_t len = ((size + guard - 1) & ~(guard - 1)) + guard;
	struct green_stack *s;
	void *map;

	map = green__mmap(NULL, len + slack, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map, guard, PROT_NONE) != 0) {
		munmap(map, len + slack);
		return NULL;
	}
	s = green__alloc(sizeof(*s));
	if (s == NULL) {
		munmap(map, len + slack);
		return NULL;
	}
	s->map = map;
	s->maplen = len + slack;
	s->size = len - guard;
	s->next = NULL;
	s->vg_id = STACK_REGISTER((char *)map + guard, (char *)map + len);
	s->kind = GREEN_STACK_FIXED;
	return s;
}

static void
stack_unmap(struct green_stack *s)
{
	STACK_DEREGISTER(s->vg_id);
	munmap(s->map, s->maplen);
	green__free(s, sizeof(*s));
}

void *
green__stack_top(struct green_stack *s)
{
	if (s->maplen == 0)
		return s; /* a pooled first segment: the header is its top */
	return (char *)s->map + green__stack_guard() + s->size;
}

/*
 * Fault in the pages of first segments POPULATE bytes at a time, as the
 * carving reaches them: a task's first segment is the first memory it
 * touches, and on this machine class a page fault costs ~10 us, more than
 * a spawn.  skynet took 8,000 faults carving first segments, one per
 * 4 KiB page.  MADV_POPULATE_WRITE (Linux 5.14) does a chunk in one call;
 * where it is missing, the pages fault one by one as before.  (A huge page
 * per region made skynet 20% faster and a million parked spawns up to 4x
 * slower and erratic: compaction for 2 MiB pages.)
 */
#define POPULATE ((size_t)256 << 10)

/* Populate the chunk that starts inside [seg, seg + size), if any, up to
 * end. */
static void
populate(char *seg, size_t size, char *end)
{
	uintptr_t s = (uintptr_t)seg;
	uintptr_t b = (s + POPULATE - 1) & ~(uintptr_t)(POPULATE - 1);

	if (b < s + size && b < (uintptr_t)end)
		madvise((void *)b,
			(uintptr_t)end - b < POPULATE ? (uintptr_t)end - b
						       : POPULATE,
			MADV_POPULATE_WRITE);
}

/* Under stack_lock: a new first segment of rt->seg_size bytes.  noinline:
 * its mmap stays off the path that reuses pooled segments (nosplit.c). */
static __attribute__((noinline)) struct green_stack *
seg_carve(struct green_rt *rt)
{
	struct green_stack *s;
	char *seg;

	if (rt->seg_end - rt->seg_cursor < (ptrdiff_t)rt->seg_size) {
		struct green_region *r = green__alloc(sizeof(*r));
		void *map = MAP_FAILED;
		if (r != NULL)
			map = green__mmap(NULL, SEG_REGION + FIRST_SEG_SLACK,
				   PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				   -1, 0);
		if (map == MAP_FAILED) {
			green__free(r, sizeof(*r));
			return NULL;
		}
		r->base = map;
		r->next = rt->regions;
		rt->regions = r;
		rt->seg_cursor = map;
		rt->seg_end = (char *)map + SEG_REGION;
	}
	seg = rt->seg_cursor;
	populate(seg, rt->seg_size, rt->seg_end);
	rt->seg_cursor += rt->seg_size;
	s = (struct green_stack *)(seg + rt->seg_size) - 1;
	s->map = seg;
	s->maplen = 0;
	s->size = (size_t)((char *)s - seg);
	s->next = NULL;
	s->vg_id = 0;
	s->kind = GREEN_STACK_SEGMENTED;
	return s;
}

/* A first segment of the default size: the worker's cache, the global
 * pool, or carved. */
static struct green_stack *
seg_get(struct green_worker *w)
{
	struct green_rt *rt = green__rt;
	struct green_stack *s;

	if (w != NULL && (s = w->free_segs) != NULL) {
		w->free_segs = s->next;
		w->nfree_segs--;
		return s;
	}
	green__lock(&rt->stack_lock);
	if ((s = rt->free_segs) != NULL)
		rt->free_segs = s->next;
	else
		s = seg_carve(rt);
	green__unlock(&rt->stack_lock);
	return s;
}

static void
seg_put(struct green_worker *w, struct green_stack *s)
{
	struct green_rt *rt = green__rt;

	if (w != NULL && w->nfree_segs < WORKER_SEG_CACHE) {
		s->next = w->free_segs;
		w->free_segs = s;
		w->nfree_segs++;
		return;
	}
	green__lock(&rt->stack_lock);
	s->next = rt->free_segs;
	rt->free_segs = s;
	green__unlock(&rt->stack_lock);
}

/*
 * Returns a stack of kind with size usable bytes (from green__stack_size),
 * or NULL when out of memory.
 */
struct green_stack *
green__stack_get(struct green_worker *w, int kind, size_t size)
{
	struct green_rt *rt = green__rt;
	struct green_stack *s;

	if (kind == GREEN_STACK_SEGMENTED) {
		if (size == rt->seg_size && size <= GREEN_POOLED_SEGMENT)
			return seg_get(w);
		if ((s = stack_map(size, FIRST_SEG_SLACK)) != NULL)
			s->kind = GREEN_STACK_SEGMENTED;
		return s;
	}
	if (size != rt->fixed_size)
		return stack_map(size, 0);
	if ((s = w->free_stacks) != NULL) {
		w->free_stacks = s->next;
		w->nfree_stacks--;
		return s;
	}
	green__lock(&rt->stack_lock);
	if ((s = rt->free_stacks) != NULL) {
		rt->free_stacks = s->next;
		rt->nfree_stacks--;
	}
	green__unlock(&rt->stack_lock);
	return s != NULL ? s : stack_map(size, 0);
}

void
green__stack_put(struct green_worker *w, struct green_stack *s)
{
	struct green_rt *rt = green__rt;

	if (s->maplen == 0) {
		seg_put(w, s);
		return;
	}
	if (s->kind != GREEN_STACK_FIXED || s->size != rt->fixed_size) {
		stack_unmap(s);
		return;
	}
	if (w != NULL && w->nfree_stacks < WORKER_CACHE) {
		s->next = w->free_stacks;
		w->free_stacks = s;
		w->nfree_stacks++;
		return;
	}
	green__lock(&rt->stack_lock);
	if (rt->nfree_stacks < GLOBAL_POOL) {
		s->next = rt->free_stacks;
		rt->free_stacks = s;
		rt->nfree_stacks++;
		s = NULL;
	}
	green__unlock(&rt->stack_lock);
	if (s != NULL)
		stack_unmap(s);
}

void
green__stack_pool_drain(struct green_worker *w)
{
	struct green_stack *s;

	while ((s = w->free_stacks) != NULL) {
		w->free_stacks = s->next;
		stack_unmap(s);
	}
	w->nfree_stacks = 0;
	w->free_segs = NULL; /* their regions are unmapped with the pool */
	w->nfree_segs = 0;
}

/*
 * Unmap pooled stacks beyond GLOBAL_KEEP.  Called when every worker is
 * idle: an munmap in a multi-threaded process interrupts every CPU that
 * runs one of its threads (TLB shootdown), which a busy runtime feels.
 */
void
green__stack_trim(void)
{
	struct green_rt *rt = green__rt;
	struct green_stack *s, *excess = NULL;

	green__lock(&rt->stack_lock);
	while (rt->nfree_stacks > GLOBAL_KEEP) {
		s = rt->free_stacks;
		rt->free_stacks = s->next;
		rt->nfree_stacks--;
		s->next = excess;
		excess = s;
	}
	green__unlock(&rt->stack_lock);
	while ((s = excess) != NULL) {
		excess = s->next;
		stack_unmap(s);
	}
	green__ss_idle();
}

void
green__stack_global_drain(void)
{
	struct green_rt *rt = green__rt;
	struct green_stack *s;

	struct green_region *r;

	while ((s = rt->free_stacks) != NULL) {
		rt->free_stacks = s->next;
		stack_unmap(s);
	}
	rt->nfree_stacks = 0;
	while ((r = rt->regions) != NULL) {
		rt->regions = r->next;
		munmap(r->base, SEG_REGION + FIRST_SEG_SLACK);
		green__free(r, sizeof(*r));
	}
	rt->free_segs = NULL;
	rt->seg_cursor = rt->seg_end = NULL;
	green__ss_trim(0);
}
