/*
 * x86_64 System V context switch.
 *
 * green__switch(from, to): rdi = from, rsi = to.  The callee-saved
 * registers rbp, rbx, r12-r15 go on the running stack, rsp goes to
 * from->sp; then rsp comes from to->sp and the same registers are popped.
 * The return address already on each stack is the resume point.
 *
 * A new context (green__ctx_make in C) holds six zero registers, the
 * address of green__ctx_start, and below the 16-byte aligned top the entry
 * function in the slot that green__ctx_start pops into rax.
 */
	.text
	.globl	green__switch
	.hidden	green__switch
	.type	green__switch,@function
	.p2align 4
green__switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	green__switch,.-green__switch

/*
 * First code a new context runs.  r12 holds the entry function (placed by
 * green__ctx_make); rsp is 16-byte aligned here, as the call needs.  The
 * return address is marked undefined so unwinders stop at this frame.
 */
	.globl	green__ctx_start
	.hidden	green__ctx_start
	.type	green__ctx_start,@function
	.p2align 4
green__ctx_start:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	callq	*%r12
	ud2
	.cfi_endproc
	.size	green__ctx_start,.-green__ctx_start

	/* Non-executable stack; and this code needs no split-stack prologue
	 * (it calls nothing that grows the stack), so say both. */
	.section .note.GNU-stack,"",@progbits
	.section .note.GNU-split-stack,"",@progbits
	.section .note.GNU-no-split-stack,"",@progbits
