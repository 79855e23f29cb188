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
#endif /* !GREEN_MORESTACK_ARCHIVE */

	.section .note.GNU-split-stack,"",@progbits
	.section .note.GNU-no-split-stack,"",@progbits
#endif /* GREEN_SPLIT_STACK */

	.section .note.GNU-stack,"",@progbits
