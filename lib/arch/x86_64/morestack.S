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
#include "argregs.h"

#ifdef GREEN_SPLIT_STACK

#ifdef GREEN_MORESTACK_ARCHIVE
#define MORESTACK_CORE	*__green_morestack@GOTPCREL(%rip)
#else
#define MORESTACK_CORE	__morestack
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


/*
 * Indirect calls.  Code built with libgreen.pc's flags calls through a
 * function pointer by way of these (gcc -mindirect-branch=thunk-extern
 * -mindirect-branch-register), because the linker cannot see the target
 * and so cannot make the caller ask for room for code built without
 * -fsplit-stack.  With GREEN_SS_NONSPLIT bytes above the guard the call
 * goes on at once.  Otherwise the target decides: split-stack code (its
 * prologue checks itself), one of libgreen's libc entry points, or a PLT
 * entry leading to either, is jumped to; anything else runs on a segment
 * of its own through __green_ithunk_hop.  Only %r11 (the target) and %r10
 * (saved) are touched; the stack arguments stay where they are.
 */
#ifdef GREEN_MORESTACK_ARCHIVE
#define ITHUNK_HOP	*__green_ithunk_hop@GOTPCREL(%rip)
#else
#define ITHUNK_HOP	green__ithunk_hop
#endif

.macro	thunk reg
	.globl	__x86_indirect_thunk_\reg
	.hidden	__x86_indirect_thunk_\reg
	.type	__x86_indirect_thunk_\reg,@function
__x86_indirect_thunk_\reg:
	.cfi_startproc
	movq	%\reg, %r11
	jmp	green__ithunk
	.cfi_endproc
	.size	__x86_indirect_thunk_\reg,.-__x86_indirect_thunk_\reg
.endm

	thunk rax
	thunk rbx
	thunk rcx
	thunk rdx
	thunk rsi
	thunk rdi
	thunk rbp
	thunk r8
	thunk r9
	thunk r10
	thunk r12
	thunk r13
	thunk r14
	thunk r15

/* Whether the code at %r11 checks its own stack: jump to \go if so, to
 * \plt if it is a PLT entry, else to \no.  Uses %r10. */
.macro	classify go, plt, no
	movq	%r11, %r10
	cmpl	$0xfa1e0ff3, (%r10)	/* endbr64 */
	jne	.Lprologue\@
	addq	$4, %r10
.Lprologue\@:
	cmpb	$0x64, (%r10)		/* cmp %fs:0x70,%rsp */
	jne	.Lstc\@
	cmpw	$0x3b48, 1(%r10)
	je	\go
	jmp	\no
.Lstc\@:
	cmpl	$0x841f0ff9, (%r10)	/* gold's stc; nopl */
	je	\go
	cmpl	$0x24548d4c, (%r10)	/* lea disp8(%rsp),%r10 */
	je	.Llea8\@
	cmpl	$0x245c8d4c, (%r10)	/* lea disp8(%rsp),%r11 */
	je	.Llea8\@
	cmpl	$0x24948d4c, (%r10)	/* lea disp32(%rsp),%r10 */
	je	.Llea32\@
	cmpl	$0x249c8d4c, (%r10)	/* lea disp32(%rsp),%r11 */
	je	.Llea32\@
	cmpl	$0x49e38949, (%r10)	/* libc entry point: mov %rsp,%r11 */
	jne	.Lplt\@
	cmpw	$0xeb81, 4(%r10)	/* sub $N,%r11 */
	je	\go
	jmp	\no
.Llea8\@:
	addq	$5, %r10
	jmp	.Lcmp\@
.Llea32\@:
	addq	$8, %r10
.Lcmp\@:
	cmpb	$0x64, (%r10)		/* then cmp %fs:0x70,%r10 or %r11 */
	jne	\no
	cmpw	$0x3b4c, 1(%r10)
	je	\go
	jmp	\no
.Lplt\@:
	cmpb	$0xf2, (%r10)		/* bnd prefix */
	jne	.Ljmp\@
	incq	%r10
.Ljmp\@:
	cmpw	$0x25ff, (%r10)		/* jmp *disp32(%rip) */
	je	\plt
	jmp	\no
.endm

	.globl	__x86_indirect_thunk_r11
	.hidden	__x86_indirect_thunk_r11
	.type	__x86_indirect_thunk_r11,@function
	.hidden	green__ithunk
__x86_indirect_thunk_r11:
green__ithunk:
	.cfi_startproc
	pushq	%r10
	.cfi_adjust_cfa_offset 8
	movq	%rsp, %r10
	subq	$(GREEN_SS_NONSPLIT + 8), %r10
	jb	1f
	cmpq	%fs:0x70, %r10
	jb	1f
0:	popq	%r10			/* room, or a target that checks */
	.cfi_remember_state
	.cfi_adjust_cfa_offset -8
	jmp	*%r11
	.cfi_restore_state
1:	classify 0b, 2f, 9f
2:	/* a PLT entry (%r10 at its jmp): the function it leads to */
	movslq	2(%r10), %r11
	leaq	6(%r10,%r11), %r11
	movq	(%r11), %r11
	classify 0b, 9f, 9f
9:	popq	%r10			/* code without a stack check */
	.cfi_adjust_cfa_offset -8
	jmp	ITHUNK_HOP
	.cfi_endproc
	.size	__x86_indirect_thunk_r11,.-__x86_indirect_thunk_r11

#ifdef GREEN_MORESTACK_ARCHIVE
	.globl	__morestack
	.type	__morestack,@function
__morestack:
	.cfi_startproc
	jmp	MORESTACK_CORE
	.cfi_endproc
	.size	__morestack,.-__morestack
#else
/* The core's name for the archive's entry points (through the GOT). */
	.globl	__green_morestack
	.type	__green_morestack,@function
__green_morestack:
	.cfi_startproc
	jmp	__morestack
	.cfi_endproc
	.size	__green_morestack,.-__green_morestack
#endif

#ifndef GREEN_MORESTACK_ARCHIVE
/*
 * __morestack, the core (in libgreen.so; __green_morestack above leads
 * here from the archive's entry points).  It must be named so: gdb walks
 * a backtrace from a segment back to the stack before only through a frame
 * of a function called __morestack (gdb's frame.c), as it does for
 * libgcc's.  The frame, below %rbp on the old stack:
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
	.globl	__morestack
	.type	__morestack,@function
__morestack:
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
	save_xmm_args

	/* green__ss_grow(frame, argsize, args) returns the new stack
	 * pointer, the arguments copied just above it, and has set the
	 * guard and the current segment */
	movq	%r10, %rdi
	movq	%r11, %rsi
	leaq	24(%rbp), %rdx
	call	green__ss_grow

	restore_xmm_args
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
	.size	__morestack,.-__morestack

#endif /* !GREEN_MORESTACK_ARCHIVE */

	.section .note.GNU-split-stack,"",@progbits
	.section .note.GNU-no-split-stack,"",@progbits
#endif /* GREEN_SPLIT_STACK */

	.section .note.GNU-stack,"",@progbits
