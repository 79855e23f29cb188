/*
 * context.h - the portable face of lib/arch/<cpu>/switch.S.
 *
 * A context is one saved stack pointer: green__switch() pushes the
 * callee-saved registers on the current stack, stores the stack pointer in
 * *from, loads to->sp and pops the registers saved there.  No signal mask,
 * no syscall.  The floating-point control words (MXCSR, x87 CW) are not
 * saved: every task runs with the process's default FP environment (see
 * doc/DECISIONS.md).
 */
#ifndef GREEN_CONTEXT_H
#define GREEN_CONTEXT_H

#include <stddef.h>

#include "splitstack.h"

struct green_ctx {
	void *sp; /* saved stack pointer; NULL until the context is made */
#ifdef GREEN_SPLIT_STACK
	struct green_ss ss; /* split-stack words while switched out */
#endif
#if defined(GREEN_ASAN) || defined(GREEN_TSAN)
	/* What the sanitizers must be told about each switch (sanitizer.h). */
	void *stack_lo;	  /* lowest usable address of this context's stack */
	size_t stack_len; /* its size */
	void *asan_fake;  /* ASan's fake stack while switched out */
	void *tsan_fiber; /* TSan's fiber for this context */
#endif
};

/* Save the running context in *from and resume *to. */
void green__switch(struct green_ctx *from, struct green_ctx *to);

/*
 * Prepare *ctx so that the first green__switch() to it calls entry() on the
 * stack whose highest address is top.  entry() must never return.
 */
void green__ctx_make(struct green_ctx *ctx, void *top, void (*entry)(void));

#endif /* GREEN_CONTEXT_H */
