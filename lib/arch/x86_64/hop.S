/*
 * hop.S - run a function without a stack check on a segment of its own.
 *
 * The callers: libgreen's libc entry points (libcwrap-gen.S), when the
 * stack has too little room for the libc function, and the indirect-call
 * thunks (morestack.S), when the target has no stack check and the room
 * is short.  Every argument register is live; the caller's return address
 * is on top of the stack; the function is in %r11.
 *
 * The segment is the thread's spare (green__ss_spare, splitstack.c), taken
 * and given back without a call.  Its header records the guard and the
 * segment to return to, as a split's does, so a callback that splits, a
 * longjmp out of one, a fault report, and a task parked inside the call
 * (libgreen-hook) all see an ordinary segment.
 *
 * The body is named __morestack (a local symbol of this file): gdb walks a
 * backtrace from a segment back to the stack before only through a frame
 * of a function called so (gdb's frame.c).
 */
#include "config.h"
#include "splitstack.h"
#include "argregs.h"

#if defined(GREEN_SPLIT_STACK) && !defined(GREEN_MORESTACK_ARCHIVE)

/* For a call through a pointer: the stack arguments, if any, are of
 * unknown size; the first ITHUNK_ARGS bytes above the return address are
 * copied, or fewer when the old stack is a segment whose top is nearer
 * (first segments have a readable page after the last: stack.c). */
#define ITHUNK_ARGS 256

	.text

/* libc entry points: their functions take no stack arguments. */
	.globl	green__libc_hop
	.hidden	green__libc_hop
	.type	green__libc_hop,@function
green__libc_hop:
	.cfi_startproc
	pushq	%r11			/* the function */
	.cfi_adjust_cfa_offset 8
	pushq	$0			/* bytes of arguments to copy */
	.cfi_adjust_cfa_offset 8
	jmp	__morestack
	.cfi_endproc
	.size	green__libc_hop,.-green__libc_hop

/* The thunks (exported as __green_ithunk_hop for libgreen-morestack.a). */
	.globl	green__ithunk_hop
	.hidden	green__ithunk_hop
	.type	green__ithunk_hop,@function
	.globl	__green_ithunk_hop
	.type	__green_ithunk_hop,@function
green__ithunk_hop:
__green_ithunk_hop:
	.cfi_startproc
	pushq	%r11
	.cfi_adjust_cfa_offset 8
	pushq	$ITHUNK_ARGS
	.cfi_adjust_cfa_offset 8
	jmp	__morestack
	.cfi_endproc
	.size	green__ithunk_hop,.-green__ithunk_hop

/*
 * The old stack: 0(%r10) bytes to copy, 8(%r10) the function, 16(%r10)
 * the caller's return address, 24(%r10) its stack arguments.  On the
 * segment: its header at the top, below it the old stack pointer and the
 * caller's %rbp (%rbp points there while the function runs), then the
 * copied arguments.  Only %r10 and %r11 are free until the registers are
 * saved.
 */
	.type	__morestack,@function
__morestack:
	.cfi_startproc
	.cfi_def_cfa_offset 24
	movq	green__ss_spare@gottpoff(%rip), %r10
	movq	%fs:(%r10), %r11
	testq	%r11, %r11
	jz	.Lrefill
	movq	$0, %fs:(%r10)
.Lhave:	/* %r11: the segment's header, the top of its stack */
	movq	%fs:0x70, %r10
	movq	%r10, GREEN_SEG_OLD_GUARD(%r11)
	movq	green__ss_cur@gottpoff(%rip), %r10
	pushq	%fs:(%r10)
	.cfi_adjust_cfa_offset 8
	movq	%r11, %fs:(%r10)	/* the current segment */
	popq	%r10
	.cfi_adjust_cfa_offset -8
	movq	%r10, GREEN_SEG_PREV(%r11)
	testq	%r10, %r10
	jz	1f
	movq	GREEN_SEG_DEPTH(%r10), %r10
1:	addq	$GREEN_SS_SEGMENT, %r10
	movq	%r10, GREEN_SEG_DEPTH(%r11)
	movq	GREEN_SEG_LO(%r11), %r10
	addq	$GREEN_SS_RESERVE, %r10
	movq	%r10, %fs:0x70		/* its guard */

	movq	%rsp, %r10
	movq	%r11, %rsp		/* onto the segment */
	.cfi_def_cfa %r10, 24
	pushq	%r10
	pushq	%rbp
	movq	%rsp, %rbp
	/* CFA = *(rbp + 8) + 24; the caller's %rbp is at 0(%rbp) */
	.cfi_escape 0x0f, 0x05, 0x76, 0x08, 0x06, 0x23, 0x18
	.cfi_escape 0x10, 0x06, 0x02, 0x76, 0x00
	subq	(%r10), %rsp		/* room for the arguments */
	cmpq	$0, (%r10)
	je	3f
	movq	%rsi, -8(%rsp)		/* below the stack pointer: nothing */
	movq	%rdi, -16(%rsp)		/* else runs on this segment yet */
	movq	%rcx, -24(%rsp)
	leaq	24(%r10), %rsi
	movq	GREEN_SEG_PREV(%r11), %rcx
	testq	%rcx, %rcx
	jz	2f
	subq	%rsi, %rcx		/* up to the top of that segment */
	cmpq	(%r10), %rcx
	jbe	4f
2:	movq	(%r10), %rcx
4:	shrq	$3, %rcx
	movq	%rsp, %rdi
	rep movsq
	movq	-8(%rsp), %rsi
	movq	-16(%rsp), %rdi
	movq	-24(%rsp), %rcx
3:	call	*8(%r10)

	movq	%rbp, %rsp
	popq	%rbp
	popq	%r10			/* the old stack pointer */
	movq	%rsp, %r11		/* the segment's header */
	movq	%r10, %rsp		/* back */
	.cfi_def_cfa %rsp, 24
	.cfi_same_value %rbp
	movq	GREEN_SEG_OLD_GUARD(%r11), %r10
	movq	%r10, %fs:0x70
	movq	green__ss_cur@gottpoff(%rip), %r10
	pushq	GREEN_SEG_PREV(%r11)
	.cfi_adjust_cfa_offset 8
	popq	%fs:(%r10)		/* the current segment again */
	.cfi_adjust_cfa_offset -8
	movq	green__ss_spare@gottpoff(%rip), %r10
	cmpq	$0, %fs:(%r10)
	jne	.Lrelease
	movq	%r11, %fs:(%r10)	/* the spare again */
	addq	$16, %rsp
	.cfi_adjust_cfa_offset -16
	ret

.Lrelease:
	/* a spare already: back to the pools, the return values kept */
	.cfi_adjust_cfa_offset 16
	pushq	%rax
	pushq	%rdx
	subq	$40, %rsp		/* 2 xmm; 16-byte aligned */
	.cfi_adjust_cfa_offset 56
	movdqu	%xmm0, 0(%rsp)
	movdqu	%xmm1, 16(%rsp)
	movq	%r11, %rdi
	call	green__ss_hop_release
	movdqu	0(%rsp), %xmm0
	movdqu	16(%rsp), %xmm1
	addq	$40, %rsp
	popq	%rdx
	popq	%rax
	.cfi_adjust_cfa_offset -56
	addq	$16, %rsp
	.cfi_adjust_cfa_offset -16
	ret

.Lrefill:
	/* no spare: one from the pools, the argument registers kept */
	.cfi_adjust_cfa_offset 16
	pushq	%rax
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%rcx
	pushq	%r8
	pushq	%r9
	subq	$128, %rsp		/* 8 xmm; 16-byte aligned */
	.cfi_adjust_cfa_offset 184
	save_xmm_args
	call	green__ss_hop_segment
	movq	%rax, %r11
	restore_xmm_args
	addq	$128, %rsp
	popq	%r9
	popq	%r8
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
	popq	%rax
	.cfi_adjust_cfa_offset -184
	jmp	.Lhave
	.cfi_endproc
	.size	__morestack,.-__morestack

	.section .note.GNU-split-stack,"",@progbits
	.section .note.GNU-no-split-stack,"",@progbits
#endif

	.section .note.GNU-stack,"",@progbits
