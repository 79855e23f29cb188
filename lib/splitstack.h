/*
 * splitstack.h - the split-stack state of a context, swapped on every switch.
 *
 * Code built with gcc -fsplit-stack starts each function by comparing the
 * stack pointer with a guard word in the thread control block (%fs:0x70 on
 * x86_64) and calls __morestack when it is below; libgcc then chains a new
 * segment.  libgcc keeps the rest of the state in three thread-local
 * variables (generic-morestack.c) that it exports with default visibility
 * precisely so that every module of a process shares one copy:
 *
 *   __morestack_segments         the segments libgcc allocated (a chain)
 *   __morestack_current_segment  the one in use, NULL on the first segment
 *   __morestack_initial_sp       top and length of the first segment, used
 *                                to recompute the guard on return to it
 *
 * A task is a context with its own copy of these words and the guard, as in
 * gccgo (libgo/runtime/proc.c).  libgcc's own __splitstack_getcontext and
 * __splitstack_setcontext do this in two calls (~6 ns per switch); the words
 * are swapped inline here instead.  The swap runs in no_split_stack code: from
 * the moment the guard of the next context is loaded until the stack pointer
 * is, no split-stack prologue may run.
 *
 * The layout of __morestack_initial_sp is libgcc's (struct initial_sp); only
 * its first two fields are touched.  The words are reached through the GOT
 * (initial-exec TLS), so the executable's copy wins when it has one.
 */
#ifndef GREEN_SPLITSTACK_H
#define GREEN_SPLITSTACK_H

#include "config.h"

#include <stddef.h>

#ifdef GREEN_SPLIT_STACK

/* libgcc's BACKOFF (config/i386/morestack.S): the guard libgcc computes for
 * a stack sits this far above its lowest usable byte. */
#define GREEN_SS_BACKOFF 0xe00

/* The reserve below a first segment's guard: room for __morestack itself
 * (~290 B), a caller frame that gcc lets through unchecked (< 256 B) and
 * the no_split_stack switch path.  DESIGN.md section 5 measured 552 B. */
#define GREEN_SS_RESERVE 768

struct green_ss {
	void *segments; /* libgcc's chain for this context, or NULL */
	void *current;	/* segment in use; NULL: on the first segment */
	void *guard;	/* %fs:0x70 */
	void *sp;	/* __morestack_initial_sp.sp: first segment's top */
	size_t len;	/* __morestack_initial_sp.len (see green__ss_init) */
};

struct green__ss_initial_sp {
	void *sp;
	size_t len;
	/* libgcc's struct continues: a sigset_t, flags, spare words */
};

extern __thread void *__morestack_segments
	__attribute__((tls_model("initial-exec")));
extern __thread void *__morestack_current_segment
	__attribute__((tls_model("initial-exec")));
extern __thread struct green__ss_initial_sp __morestack_initial_sp
	__attribute__((tls_model("initial-exec")));

void __splitstack_block_signals(int *next, int *old);
void __splitstack_releasecontext(void *context[10]);

static inline __attribute__((always_inline, no_split_stack)) void *
green__ss_guard(void)
{
	void *g;

	__asm__ volatile("movq %%fs:0x70, %0" : "=r"(g));
	return g;
}

static inline __attribute__((always_inline, no_split_stack)) void
green__ss_set_guard(void *g)
{
	__asm__ volatile("movq %0, %%fs:0x70" : : "r"(g) : "memory");
}

/*
 * Save the running context's split-stack words in *from, load *to's.  When
 * from stands on its first segment and to (a segmented context) has no
 * chain, from's chain simply stays in the thread's words: it passes to to,
 * so one warm chain serves the tasks a worker runs in turn.
 */
static inline __attribute__((always_inline, no_split_stack)) void
green__ss_swap(struct green_ss *from, const struct green_ss *to)
{
	void *current = __morestack_current_segment;

	from->current = current;
	from->guard = green__ss_guard();
	from->sp = __morestack_initial_sp.sp;
	from->len = __morestack_initial_sp.len;
	if (current == NULL && to->segments == NULL && to->guard != NULL) {
		from->segments = NULL;
	} else {
		from->segments = __morestack_segments;
		__morestack_segments = to->segments;
	}
	__morestack_current_segment = to->current;
	__morestack_initial_sp.sp = to->sp;
	__morestack_initial_sp.len = to->len;
	green__ss_set_guard(to->guard);
}

#define GREEN_NO_SPLIT __attribute__((no_split_stack))

#else /* !GREEN_SPLIT_STACK */

#define GREEN_NO_SPLIT

#endif /* GREEN_SPLIT_STACK */

#endif /* GREEN_SPLITSTACK_H */
