/* x86_64: lay out a new context for green__switch (see switch.S). */
#include "config.h"

#include <stdint.h>

#include "context.h"

void green__ctx_start(void);

void
green__ctx_make(struct green_ctx *ctx, void *top, void (*entry)(void))
{
	/*
	 * From the saved sp upwards: r15 r14 r13 r12 rbx rbp, then the
	 * address green__switch returns to.  After that ret, rsp is the
	 * aligned top minus 16, so green__ctx_start calls with rsp % 16 == 0.
	 */
	uintptr_t aligned = (uintptr_t)top & ~(uintptr_t)15;
	void **sp = (void **)(aligned - 72);

	for (int i = 0; i < 6; i++)
		sp[i] = 0;
	sp[3] = (void *)entry; /* popped into r12 */
	sp[6] = (void *)green__ctx_start;
	sp[7] = 0;
	sp[8] = 0;
	ctx->sp = sp;
}
