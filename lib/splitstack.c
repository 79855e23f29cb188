/*
 * splitstack.c - segmented stacks: a context's split-stack words and the
 * segments libgcc adds to a growing task.
 *
 * A task starts on a small first segment (stack.c).  When a function needs
 * more room than is left above the guard, its prologue calls libgcc's
 * __morestack, which takes the next segment of the context's chain (or maps
 * one) and runs the function there; when it returns, the segment stays on the
 * chain for the next split.  The guard of a first segment is placed
 * GREEN_SS_RESERVE bytes above its bottom, for __morestack's own frames.
 *
 * Chains are the expensive part (16 KiB and more each, a fresh mmap costs
 * page faults), so they are shared rather than owned: a task that switches
 * away while on its first segment passes its chain to the next task if that
 * one has none (green__ss_swap); otherwise the worker keeps it as its spare
 * and lends it to the next task it starts or resumes.  So a parked task costs its first segment only, unless it parked
 * while grown, and a burst of recursing tasks reuses one warm chain per
 * worker.  A chain that grew beyond SPARE_MAX is released instead of kept.
 *
 * Nothing here runs between the load of a guard and the stack switch: that
 * is green__ss_swap in sched.c's no_split_stack switch path.
 */
#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "green-internal.h"

#ifdef GREEN_SPLIT_STACK

/* The largest chain a worker keeps: one segment for a call into non-split
 * code, which libgcc's __morestack_non_split sizes at 1 MiB plus the frame
 * (only its touched pages are resident). */
#define SPARE_MAX ((size_t)2 << 20)

/* The head of libgcc's struct stack_segment (generic-morestack.c). */
struct ss_segment {
	struct ss_segment *prev;
	struct ss_segment *next;
	size_t size;
};

static size_t
chain_bytes(void *chain)
{
	size_t n = 0;

	for (struct ss_segment *s = chain; s != NULL; s = s->next)
		n += s->size;
	return n;
}

static __attribute__((noinline)) void
chain_release(void *chain)
{
	void *ctx[10] = { chain };

	/* munmaps the segments and frees alloca blocks hung on them; this is
	 * split-stack code, so it may run on a small segment */
	__splitstack_releasecontext(ctx);
}

/* Keep chain as the worker's spare, or release it. */
static void
chain_keep(struct green_worker *w, void *chain)
{
	if (chain == NULL)
		return;
	if (w != NULL && w->ss_spare == NULL && chain_bytes(chain) <= SPARE_MAX)
		w->ss_spare = chain;
	else
		chain_release(chain);
}

/* A new task's context: its first segment's words, and the worker's spare
 * chain to borrow (green__ss_lend). */
void
green__ss_prepare(struct green_worker *w, struct green_ctx *ctx,
		  struct green_stack *s)
{
	char *top = green__stack_top(s);
	char *base = (char *)top - s->size;

	ctx->ss.segments = NULL;
	ctx->ss.current = NULL;
	ctx->ss.sp = top;
	if (s->kind == GREEN_STACK_SEGMENTED) {
		ctx->ss.guard = base + GREEN_SS_RESERVE;
		/* libgcc recomputes the guard on return from a split as
		 * sp - len + BACKOFF: make that base + RESERVE */
		ctx->ss.len = s->size + GREEN_SS_BACKOFF - GREEN_SS_RESERVE;
	} else {
		/* a fixed stack never splits: its overflow meets the guard
		 * page, which diag.c reports */
		ctx->ss.guard = NULL;
		ctx->ss.len = s->size;
	}
	green__ss_lend(w, ctx);
}

/* A context that will never run again (an ended or abandoned task). */
void
green__ss_chain_put(struct green_worker *w, struct green_ctx *ctx)
{
	void *chain = ctx->ss.segments;

	ctx->ss.segments = NULL;
	ctx->ss.current = NULL;
	chain_keep(w, chain);
}

void
green__ss_worker_init(struct green_worker *w)
{
	int no = 0;

	(void)w;
	/* a split that blocks and unblocks every signal costs four
	 * rt_sigprocmask calls; workers block asynchronous signals anyway,
	 * and the synchronous ones run on the alternate signal stack */
	__splitstack_block_signals(&no, NULL);
}

void
green__ss_worker_fini(struct green_worker *w)
{
	chain_keep(NULL, w->ss_spare);
	w->ss_spare = NULL;
}

/*
 * Whether the program binds its PLT entries lazily.  A task's first call
 * through a lazy entry into libgreen (split-stack code, so the call is not
 * rewritten to ask for more stack) runs the dynamic linker's resolver on
 * the task's small segment, which it overflows.  Programs linked with the
 * flags from libgreen.pc (-z now) or run with LD_BIND_NOW are bound at
 * start-up; others get fixed stacks by default.
 */
static int
lazy_main_program(struct dl_phdr_info *info, size_t size, void *arg)
{
	bool *lazy = arg;

	(void)size;
	*lazy = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const ElfW(Dyn) *d;
		if (ph->p_type != PT_DYNAMIC)
			continue;
		*lazy = true;
		d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		for (; d->d_tag != DT_NULL; d++)
			if ((d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_BIND_NOW)) ||
			    (d->d_tag == DT_FLAGS_1 && (d->d_un.d_val & DF_1_NOW)))
				*lazy = false;
	}
	return 1; /* the first object is the main program */
}

bool
green__ss_lazy_binding(void)
{
	const char *now = getenv("LD_BIND_NOW");
	bool lazy = false;

	if (now != NULL && *now != '\0')
		return false;
	dl_iterate_phdr(lazy_main_program, &lazy);
	return lazy;
}

/*
 * Whether the code at fn starts with gcc's split-stack prologue: after an
 * optional endbr64, a compare of %rsp (or of %r10/%r11 = %rsp - frame) with
 * %fs:0x70, or gold's rewrite of that compare into "stc; nopl" for a caller
 * of non-split code.  A function built without -fsplit-stack has neither.
 */
bool
green__ss_entry_splits(const void *fn)
{
	static const unsigned char endbr[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	static const unsigned char stc_nop[] = { 0xf9, 0x0f, 0x1f, 0x84, 0x00 };
	const unsigned char *p = fn;

	if (memcmp(p, endbr, sizeof(endbr)) == 0)
		p += sizeof(endbr);
	if (memcmp(p, stc_nop, sizeof(stc_nop)) == 0)
		return true;
	/* lea disp8/disp32(%rsp),%r10 or %r11 before the compare */
	if (p[0] == 0x4c && p[1] == 0x8d && (p[3] == 0x24) &&
	    (p[2] == 0x54 || p[2] == 0x5c || p[2] == 0x94 || p[2] == 0x9c))
		p += p[2] >= 0x80 ? 8 : 5;
	/* cmp %fs:0x70,%reg: 64 REX.W 3b modrm(sib) 25 70 00 00 00 */
	return p[0] == 0x64 && (p[1] == 0x48 || p[1] == 0x4c) && p[2] == 0x3b &&
	       p[4] == 0x25 && p[5] == 0x70 && p[6] == 0 && p[7] == 0 &&
	       p[8] == 0;
}

#else /* !GREEN_SPLIT_STACK: one stack kind, nothing to track */

void
green__ss_prepare(struct green_worker *w, struct green_ctx *ctx,
		  struct green_stack *s)
{
	(void)w, (void)ctx, (void)s;
}

void
green__ss_chain_put(struct green_worker *w, struct green_ctx *ctx)
{
	(void)w, (void)ctx;
}

void
green__ss_worker_init(struct green_worker *w)
{
	(void)w;
}

void
green__ss_worker_fini(struct green_worker *w)
{
	(void)w;
}

bool
green__ss_entry_splits(const void *fn)
{
	(void)fn;
	return false;
}

bool
green__ss_lazy_binding(void)
{
	return false;
}

#endif /* GREEN_SPLIT_STACK */
