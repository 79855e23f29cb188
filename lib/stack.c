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
 * The interface (get a stack of a size, put it back, its top) is what
 * segmented stacks will implement too.
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

static size_t page_size;

size_t
green__stack_guard(void)
{
	if (page_size == 0)
		page_size = (size_t)sysconf(_SC_PAGESIZE);
	return page_size;
}

/* A requested stack size rounded up to whole pages. */
size_t
green__round_stack(size_t size)
{
	size_t page = green__stack_guard();

	return (size + page - 1) & ~(page - 1);
}

/* A stack kind and size from green_config_t or green_attr_t: 0 or -E. */
int
green__stack_check(int kind, size_t size)
{
	if (kind == GREEN_STACK_SEGMENTED)
		return -ENOTSUP; /* not built yet */
	if (kind != GREEN_STACK_DEFAULT && kind != GREEN_STACK_FIXED)
		return -EINVAL;
	if (size != 0 && (size < GREEN_MIN_STACK || size > GREEN_MAX_STACK))
		return -EINVAL;
	return 0;
}

static struct green_stack *
stack_map(size_t size)
{
	size_t guard = green__stack_guard();
	size_t len = ((size + guard - 1) & ~(guard - 1)) + guard;
	struct green_stack *s;
	void *map;

	map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map, guard, PROT_NONE) != 0) {
		munmap(map, len);
		return NULL;
	}
	s = green__alloc(sizeof(*s));
	if (s == NULL) {
		munmap(map, len);
		return NULL;
	}
	s->map = map;
	s->maplen = len;
	s->size = len - guard;
	s->next = NULL;
	s->vg_id = STACK_REGISTER((char *)map + guard, (char *)map + len);
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
	return (char *)s->map + s->maplen;
}

/*
 * Returns a stack of size usable bytes (a multiple of the page size), or
 * NULL when out of memory.
 */
struct green_stack *
green__stack_get(struct green_worker *w, size_t size)
{
	struct green_rt *rt = green__rt;
	struct green_stack *s;

	if (size != rt->stack_size)
		return stack_map(size);
	if ((s = w->free_stacks) != NULL) {
		w->free_stacks = s->next;
		w->nfree_stacks--;
		return s;
	}
	pthread_mutex_lock(&rt->stack_lock);
	if ((s = rt->free_stacks) != NULL) {
		rt->free_stacks = s->next;
		rt->nfree_stacks--;
	}
	pthread_mutex_unlock(&rt->stack_lock);
	return s != NULL ? s : stack_map(size);
}

void
green__stack_put(struct green_worker *w, struct green_stack *s)
{
	struct green_rt *rt = green__rt;

	if (s->size != rt->stack_size) {
		stack_unmap(s);
		return;
	}
	if (w != NULL && w->nfree_stacks < WORKER_CACHE) {
		s->next = w->free_stacks;
		w->free_stacks = s;
		w->nfree_stacks++;
		return;
	}
	pthread_mutex_lock(&rt->stack_lock);
	if (rt->nfree_stacks < GLOBAL_POOL) {
		s->next = rt->free_stacks;
		rt->free_stacks = s;
		rt->nfree_stacks++;
		s = NULL;
	}
	pthread_mutex_unlock(&rt->stack_lock);
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

	pthread_mutex_lock(&rt->stack_lock);
	while (rt->nfree_stacks > GLOBAL_KEEP) {
		s = rt->free_stacks;
		rt->free_stacks = s->next;
		rt->nfree_stacks--;
		s->next = excess;
		excess = s;
	}
	pthread_mutex_unlock(&rt->stack_lock);
	while ((s = excess) != NULL) {
		excess = s->next;
		stack_unmap(s);
	}
}

void
green__stack_global_drain(void)
{
	struct green_rt *rt = green__rt;
	struct green_stack *s;

	while ((s = rt->free_stacks) != NULL) {
		rt->free_stacks = s->next;
		stack_unmap(s);
	}
	rt->nfree_stacks = 0;
}
