/*
 * morestack.S - libgreen's own split-stack entry points (x86_64).
 *
 * Code built with gcc -fsplit-stack starts each function by comparing the
 * stack pointer (less the frame, for frames of 256 bytes or more) with the
 * guard at %fs:0x70; when it is below, the prologue loads the frame size
 * into %r10 and the size of its stack arguments into %r11 and calls
 * __morestack, which must run the rest of the function on a stack with
 * room and return to the function's caller.  gold rewrites the prologue of
 * a function that calls code built without -fsplit-stack (libc) to call
 * __morestack_non_split instead, always for small frames, which must first
 * see whether the room for the frame *and* for the non-split callee is
 * there already.  doc/DECISIONS.md ("Stacks") says why libgreen supplies
 * these instead of libgcc's copies.
 *
 * This file is assembled twice:
 *  - into libgreen.so, where __green_morestack does the work: it asks
 *    green__ss_grow (splitstack.c) for a segment, calls the rest of the
 *    function there, and on its return gives the segment back through
 *    green__ss_shrink;
 *  - with GREEN_MORESTACK_ARCHIVE into libgreen-morestack.a, which the
 *    flags of libgreen.pc link into every program ahead of libgcc, so that
 *    libgcc's copies (hidden, one per module) are never linked.  There the
 *    entry points reach __green_morestack in libgreen.so through the GOT.
 *
 * Everything here runs below the guard, on the reserve that every stack
 * keeps for it (GREEN_SS_RESERVE, splitstack.h): no split-stack prologue
 * may run until the new stack is in place.
 */
#include "config.h"
#include "splitstack.h"

#ifdef GREEN_SPLIT_STACK

#ifdef GREEN_MORESTACK_ARCHIVE
#define MORESTACK_CORE	*__green_morestack@GOTPCREL(%rip)
#else
#define MORESTACK_CORE	green__morestack
#endif

	.text

/*
 * __morestack_non_split: %r10 = frame size, %r11 = stack-argument size.
 * If the current stack has room for the frame and GREEN_SS_NONSPLIT bytes
 * more, go on in place: return past the caller's "ret" into its body.
 * Otherwise ask __morestack for all of it.  %rax may hold the static chain.
 */
	.globl	__morestack_non_split
	.type	__morestack_non_split,@function
__morestack_non_split:
	.cfi_startproc
	pushq	%rax
	.cfi_adjust_cfa_offset 8
	movq	%rsp, %rax
	subq	%r10, %rax
	jb	1f			/* wrapped below zero: no room */
	subq	$GREEN_SS_NONSPLIT, %rax
	jb	1f
	cmpq	%fs:0x70, %rax
	jb	1f
	popq	%rax
	.cfi_adjust_cfa_offset -8
	incq	(%rsp)			/* skip the "ret" after the call */
	ret
1:
	.cfi_adjust_cfa_offset 8
	popq	%rax
	.cfi_adjust_cfa_offset -8
	addq	$GREEN_SS_NONSPLIT, %r10
	jmp	MORESTACK_CORE
	.cfi_endproc
	.size	__morestack_non_split,.-__morestack_non_split

/* The large code model passes both sizes in %r10, frame size in the low
 * half. */
	.globl	__morestack_large_model
	.type	__morestack_large_model,@function
__morestack_large_model:
	.cfi_startproc
	movq	%r10, %r11
	andl	$0xffffffff, %r10d
	sarq	$32, %r11
	jmp	MORESTACK_CORE
	.cfi_endproc
	.size	__morestack_large_model,.-__morestack_large_model

	.globl	__morestack
	.type	__morestack,@function
__morestack:
	.cfi_startproc
	jmp	MORESTACK_CORE
	.cfi_endproc
	.size	__morestack,.-__morestack

#ifndef GREEN_MORESTACK_ARCHIVE
/*
 * green__morestack (exported as __green_morestack for the archive's entry
 * points).  The frame, below %rbp on the old stack:
 *
 *	24(%rbp)...	the caller's stack arguments (a varargs function
 *			reads them through 24(%rbp) after the split)
 *	16(%rbp)	the caller's return address
 *	 8(%rbp)	our return address: the "ret" in the caller's prologue
 *	 0(%rbp)	saved %rbp
 *	-8..-72		%r10 %rax %rdi %rsi %rdx %rcx %r8 %r9 %r11
 *	-200..-73	%xmm0..%xmm7 (vector arguments; the C below may use
 *			them), later the return values
 *
 * %rbp stays the frame pointer while the rest of the function runs on the
 * new segment, as libgcc's __morestack keeps it, and the CFI says so: the
 * unwinder and gdb walk from the new segment back to the old one.
 */
	.globl	green__morestack
	.hidden	green__morestack
	.type	green__morestack,@function
	.globl	__green_morestack
	.type	__green_morestack,@function
green__morestack:
__green_morestack:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	pushq	%r10
	pushq	%rax
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%rcx
	pushq	%r8
	pushq	%r9
	pushq	%r11
	subq	$128, %rsp		/* 8 xmm; %rsp is 16-byte aligned */
	movdqu	%xmm0, 0(%rsp)
	movdqu	%xmm1, 16(%rsp)
	movdqu	%xmm2, 32(%rsp)
	movdqu	%xmm3, 48(%rsp)
	movdqu	%xmm4, 64(%rsp)
	movdqu	%xmm5, 80(%rsp)
	movdqu	%xmm6, 96(%rsp)
	movdqu	%xmm7, 112(%rsp)

	/* green__ss_grow(frame, argsize, args) returns the new stack
	 * pointer, the arguments copied just above it, and has set the
	 * guard and the current segment */
	movq	%r10, %rdi
	movq	%r11, %rsi
	leaq	24(%rbp), %rdx
	call	green__ss_grow

	movdqu	0(%rsp), %xmm0
	movdqu	16(%rsp), %xmm1
	movdqu	32(%rsp), %xmm2
	movdqu	48(%rsp), %xmm3
	movdqu	64(%rsp), %xmm4
	movdqu	80(%rsp), %xmm5
	movdqu	96(%rsp), %xmm6
	movdqu	112(%rsp), %xmm7
	movq	%rax, %rsp		/* onto the new segment */
	movq	-24(%rbp), %rdi
	movq	-32(%rbp), %rsi
	movq	-40(%rbp), %rdx
	movq	-48(%rbp), %rcx
	movq	-56(%rbp), %r8
	movq	-64(%rbp), %r9
	movq	8(%rbp), %r10
	incq	%r10			/* past the caller's "ret" */
	movq	-16(%rbp), %rax
	call	*%r10			/* the rest of the caller */

	/* back on the old stack: keep the return values while the segment
	 * is given back */
	leaq	-200(%rbp), %rsp
	movq	%rax, -16(%rbp)
	movq	%rdx, -24(%rbp)
	movdqu	%xmm0, 0(%rsp)
	movdqu	%xmm1, 16(%rsp)
	call	green__ss_shrink
	movdqu	0(%rsp), %xmm0
	movdqu	16(%rsp), %xmm1
	movq	-16(%rbp), %rax
	movq	-24(%rbp), %rdx
	leave
	.cfi_def_cfa %rsp, 8
	ret				/* to the caller's "ret" */
	.cfi_endproc
	.size	green__morestack,.-green__morestack

/*
 * green__libc_hop: run the libc function at %r11 on a segment of its own,
 * for libgreen's libc entry points (libcwrap-gen.S), which jump here when
 * the stack has too little room for the function.  Every argument
 * register is live and there are no stack arguments; the caller's return
 * address is on top of the stack.  The segment is the thread's spare
 * (green__ss_spare), taken and given back without a call; its header
 * records the guard and the segment to return to, as a split's does, so a
 * callback from libc that splits, a longjmp out of one, a fault report
 * and a task parked inside the call (libgreen-hook) all see an ordinary
 * segment.  Only %r10 and %r11 are free; the old stack holds the rest.
 */
	.globl	green__libc_hop
	.hidden	green__libc_hop
	.type	green__libc_hop,@function
green__libc_hop:
	.cfi_startproc
	pushq	%r11			/* the function */
	.cfi_adjust_cfa_offset 8
	movq	%fs:0, %r10
	addq	green__ss_spare@gottpoff(%rip), %r10
	movq	(%r10), %r11
	testq	%r11, %r11
	jz	3f
	movq	$0, (%r10)
1:	/* %r11: the segment's header, the top of its stack */
	movq	%fs:0x70, %r10
	movq	%r10, GREEN_SEG_OLD_GUARD(%r11)
	movq	%fs:0, %r10
	addq	green__ss_cur@gottpoff(%rip), %r10
	pushq	(%r10)
	.cfi_adjust_cfa_offset 8
	movq	%r11, (%r10)		/* the current segment */
	popq	%r10
	.cfi_adjust_cfa_offset -8
	movq	%r10, GREEN_SEG_PREV(%r11)
	testq	%r10, %r10
	jz	2f
	movq	GREEN_SEG_DEPTH(%r10), %r10
2:	addq	$GREEN_SS_SEGMENT, %r10
	movq	%r10, GREEN_SEG_DEPTH(%r11)
	movq	GREEN_SEG_LO(%r11), %r10
	addq	$GREEN_SS_RESERVE, %r10
	movq	%r10, %fs:0x70		/* its guard */
	movq	%rsp, %r10
	movq	%r11, %rsp		/* onto the segment */
	.cfi_def_cfa %r10, 16
	pushq	%r10
	/* CFA = *(rsp) + 16: the caller's frame on the old stack */
	.cfi_escape 0x0f, 0x05, 0x77, 0x00, 0x06, 0x23, 0x10
	pushq	$0			/* alignment */
	.cfi_escape 0x0f, 0x05, 0x77, 0x08, 0x06, 0x23, 0x10
	call	*(%r10)
	movq	8(%rsp), %r10
	leaq	16(%rsp), %r11		/* the segment */
	movq	%r10, %rsp		/* back: the function's slot, then
					   the caller's return address */
	.cfi_def_cfa %rsp, 16
	movq	GREEN_SEG_OLD_GUARD(%r11), %r10
	movq	%r10, %fs:0x70
	movq	GREEN_SEG_PREV(%r11), %r10
	movq	%r10, (%rsp)
	movq	%fs:0, %r10
	addq	green__ss_cur@gottpoff(%rip), %r10
	pushq	(%rsp)
	.cfi_adjust_cfa_offset 8
	popq	(%r10)			/* the current segment again */
	.cfi_adjust_cfa_offset -8
	movq	%fs:0, %r10
	addq	green__ss_spare@gottpoff(%rip), %r10
	cmpq	$0, (%r10)
	jne	4f
	movq	%r11, (%r10)		/* the spare again */
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	ret
3:	/* no spare: one from the pools, the argument registers kept */
	.cfi_adjust_cfa_offset 8
	pushq	%rax
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%rcx
	pushq	%r8
	pushq	%r9
	subq	$136, %rsp		/* 8 xmm; 16-byte aligned */
	.cfi_adjust_cfa_offset 192
	movdqu	%xmm0, 0(%rsp)
	movdqu	%xmm1, 16(%rsp)
	movdqu	%xmm2, 32(%rsp)
	movdqu	%xmm3, 48(%rsp)
	movdqu	%xmm4, 64(%rsp)
	movdqu	%xmm5, 80(%rsp)
	movdqu	%xmm6, 96(%rsp)
	movdqu	%xmm7, 112(%rsp)
	call	green__ss_hop_segment
	movq	%rax, %r11
	movdqu	0(%rsp), %xmm0
	movdqu	16(%rsp), %xmm1
	movdqu	32(%rsp), %xmm2
	movdqu	48(%rsp), %xmm3
	movdqu	64(%rsp), %xmm4
	movdqu	80(%rsp), %xmm5
	movdqu	96(%rsp), %xmm6
	movdqu	112(%rsp), %xmm7
	addq	$136, %rsp
	popq	%r9
	popq	%r8
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
	popq	%rax
	.cfi_adjust_cfa_offset -192
	jmp	1b
4:	/* a spare already: back to the pools, the return values kept */
	pushq	%rax
	pushq	%rdx
	subq	$32, %rsp		/* 2 xmm; 16-byte aligned */
	.cfi_adjust_cfa_offset 48
	movdqu	%xmm0, 0(%rsp)
	movdqu	%xmm1, 16(%rsp)
	movq	%r11, %rdi
	call	green__ss_hop_release
	movdqu	0(%rsp), %xmm0
	movdqu	16(%rsp), %xmm1
	addq	$32, %rsp
	popq	%rdx
	popq	%rax
	.cfi_adjust_cfa_offset -48
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	green__libc_hop,.-green__libc_hop
#endif /* !GREEN_MORESTACK_ARCHIVE */

	.section .note.GNU-split-stack,"",@progbits
	.section .note.GNU-no-split-stack,"",@progbits
#endif /* GREEN_SPLIT_STACK */

	.section .note.GNU-stack,"",@progbits
