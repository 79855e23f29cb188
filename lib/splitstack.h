/*
 * splitstack.h - segmented stacks: the guard, the segment chain of a
 * context, and the constants the assembly shares (arch/<cpu>/morestack.S).
 *
 * Code built with gcc -fsplit-stack starts each function by comparing the
 * stack pointer with a guard word in the thread control block (%fs:0x70 on
 * x86_64) and calls __morestack when it is below.  libgreen supplies
 * __morestack itself (morestack.S, splitstack.c; doc/DECISIONS.md
 * "Stacks"): it takes a segment from a pool, records in the segment's
 * header the guard to restore and the segment it grew from, and runs the
 * rest of the function there; when that returns, the segment goes back to
 * the pool and the old guard is restored.  So a context's split-stack
 * state is two words: the guard and the segment it stands on (NULL on its
 * base stack: the task's first segment).  They are swapped inline on every
 * switch, in no_split_stack code: from the load of the next guard until the
 * load of its stack pointer, no split-stack prologue may run.
 */
#ifndef GREEN_SPLITSTACK_H
#define GREEN_SPLITSTACK_H

/* The reserve below every guard: room for __morestack's frame (216 B) and
 * green__ss_grow's, for a caller frame that gcc lets through unchecked
 * (< 256 B), and for the no_split_stack switch path. */
#define GREEN_SS_RESERVE 768

/* What a call into code built without -fsplit-stack is given: the linker
 * (--split-stack-adjust-size) and __morestack_non_split ask for this much
 * room beyond the caller's frame.  The guarantee of libgreen(7). */
#define GREEN_SS_NONSPLIT 65536

/* A pooled segment's mapping, its guard page included (splitstack.c). */
#define GREEN_SS_SEGMENT (132 << 10)
/* Offsets in struct green_seg, for the assembly (checked in splitstack.c). */
#define GREEN_SEG_PREV 0
#define GREEN_SEG_OLD_GUARD 8
#define GREEN_SEG_LO 16
#define GREEN_SEG_DEPTH 24

#ifndef __ASSEMBLER__

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef GREEN_SPLIT_STACK

/*
 * The header of a segment, at its top; the stack grows down from it.  A
 * segment is a pooled mapping with a guard page below (splitstack.c), so a
 * non-split callee that outruns GREEN_SS_NONSPLIT faults there, and the
 * fault is reported with the task (diag.c).
 */
struct green_seg {
	struct green_seg *prev; /* the segment this one grew from; NULL:
				   the context's base stack */
	void *old_guard;	/* the guard to restore on return from it */
	char *lo;		/* lowest usable byte (above the guard page) */
	size_t depth;		/* bytes of stack of the context, this
				   segment included (stack_max) */
	struct green_seg *next; /* link in a pool */
	struct green_dyn *dynamic; /* __morestack_allocate_stack_space's */
	size_t maplen;		/* the mapping, guard page included */
	bool alone;		/* not pooled: unmapped when given back */
};

/* A context's split-stack words while it is switched out. */
struct green_ss {
	void *guard;		  /* %fs:0x70 */
	struct green_seg *seg;	  /* the segment in use; NULL: base stack */
	struct green_dyn *dynamic; /* alloca blocks of the base stack */
};

extern __thread struct green_seg *green__ss_cur
	__attribute__((tls_model("initial-exec")));

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

/* Save the running context's words in *from, load *to's. */
static inline __attribute__((always_inline, no_split_stack)) void
green__ss_swap(struct green_ss *from, const struct green_ss *to)
{
	from->guard = green__ss_guard();
	from->seg = green__ss_cur;
	green__ss_cur = to->seg;
	green__ss_set_guard(to->guard);
}

#define GREEN_NO_SPLIT __attribute__((no_split_stack))

#else /* !GREEN_SPLIT_STACK */

#define GREEN_NO_SPLIT

#endif /* GREEN_SPLIT_STACK */

#endif /* !__ASSEMBLER__ */

#endif /* GREEN_SPLITSTACK_H */
