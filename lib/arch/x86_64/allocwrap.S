/*
 * allocwrap.S - libgreen's own allocation calls, split-aware.
 *
 * green__alloc, green__calloc and green__free (alloc.c) call the
 * allocator, which is not built with -fsplit-stack, so the linker gives
 * their prologues libc's GREEN_SS_NONSPLIT demand: called from a task on
 * its small first segment (green_chan_create, green_chan_destroy, a run
 * queue's batch), each call grew a segment.  These entry points do what
 * the libc entry points do (libcwrap-gen.S): with the room, jump to the C
 * body; without, run it on the thread's spare segment (hop.S).
 */
#include "config.h"
#include "splitstack.h"

#if defined(GREEN_SPLIT_STACK) && !defined(GREEN_MORESTACK_ARCHIVE)

/* The body's own frame above the demand, with room to spare. */
#define ALLOC_ROOM (GREEN_SS_NONSPLIT + 512)

	.text

.macro	ALLOC_ENTRY name
	.globl	\name
	.hidden	\name
	.type	\name,@function
	.p2align 4
\name:
	.cfi_startproc
	movq	%rsp, %r11
	subq	$ALLOC_ROOM, %r11
	cmpq	%fs:0x70, %r11
	jb	2f
	jmp	\name\()_body
2:	leaq	\name\()_body(%rip), %r11
	jmp	green__libc_hop
	.cfi_endproc
	.size	\name,.-\name
.endm

	ALLOC_ENTRY green__alloc
	ALLOC_ENTRY green__calloc
	ALLOC_ENTRY green__free

/* split-stack code, as far as the linker is concerned: calls into these
 * entry points are not rewritten (and they have no stack check: the
 * no-split note) */
	.section .note.GNU-split-stack,"",@progbits
	.section .note.GNU-no-split-stack,"",@progbits
#endif

	.section .note.GNU-stack,"",@progbits
