/*
 * argregs.h - saving the vector argument registers around a call into C,
 * for the assembly that runs before or after a function's own code
 * (morestack.S, hop.S).  The caller makes 128 bytes of room at (%rsp).
 */
#ifndef GREEN_ARGREGS_H
#define GREEN_ARGREGS_H

.macro	save_xmm_args
	movdqu	%xmm0, 0(%rsp)
	movdqu	%xmm1, 16(%rsp)
	movdqu	%xmm2, 32(%rsp)
	movdqu	%xmm3, 48(%rsp)
	movdqu	%xmm4, 64(%rsp)
	movdqu	%xmm5, 80(%rsp)
	movdqu	%xmm6, 96(%rsp)
	movdqu	%xmm7, 112(%rsp)
.endm

.macro	restore_xmm_args
	movdqu	0(%rsp), %xmm0
	movdqu	16(%rsp), %xmm1
	movdqu	32(%rsp), %xmm2
	movdqu	48(%rsp), %xmm3
	movdqu	64(%rsp), %xmm4
	movdqu	80(%rsp), %xmm5
	movdqu	96(%rsp), %xmm6
	movdqu	112(%rsp), %xmm7
.endm

#endif /* GREEN_ARGREGS_H */
