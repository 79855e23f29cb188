/*
 * sanitizer.h - tell AddressSanitizer and ThreadSanitizer about context
 * switches (./configure --enable-sanitizer=address|thread).  In a normal
 * build every hook is empty and vanishes.
 *
 * ASan: before a switch, __sanitizer_start_switch_fiber names the stack we
 * go to and keeps the departing context's fake stack (NULL when the
 * context never comes back: ASan then frees it); the resumed side calls
 * __sanitizer_finish_switch_fiber with the fake stack it kept, or NULL on a
 * context's first entry.  TSan: every task stack is a fiber, every worker's
 * own stack is its thread's fiber; __tsan_switch_to_fiber runs just before
 * the switch and synchronises (the resumed side may touch what the old one
 * wrote, on the same OS thread).
 */
#ifndef GREEN_SANITIZER_H
#define GREEN_SANITIZER_H

#include <stdbool.h>

#include "context.h"

#ifdef GREEN_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef GREEN_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/*
 * A context runs on [lo, lo + len): record it for the switch hooks.  A
 * pooled or re-mapped stack still carries the poison of the frames that
 * last ran on it (a task never returns from its first frames): clear it.
 */
static inline void
san_ctx_stack(struct green_ctx *c, void *lo, size_t len, bool new_fiber)
{
#if defined(GREEN_ASAN) || defined(GREEN_TSAN)
	c->stack_lo = lo;
	c->stack_len = len;
	c->asan_fake = NULL;
#endif
#ifdef GREEN_ASAN
	if (new_fiber)
		__asan_unpoison_memory_region(lo, len);
#endif
#ifdef GREEN_TSAN
	c->tsan_fiber = new_fiber ? __tsan_create_fiber(0)
				  : __tsan_get_current_fiber();
#endif
	(void)c, (void)lo, (void)len, (void)new_fiber;
}

/* The context c is gone for good (its task ended or was abandoned). */
static inline void
san_ctx_destroy(struct green_ctx *c)
{
#ifdef GREEN_TSAN
	if (c->tsan_fiber != NULL)
		__tsan_destroy_fiber(c->tsan_fiber);
	c->tsan_fiber = NULL;
#endif
	(void)c;
}

/* Right before switching from *from (never resumed if dying) to *to. */
static inline void
san_switch(struct green_ctx *from, struct green_ctx *to, bool dying)
{
#ifdef GREEN_ASAN
	__sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake,
				       to->stack_lo, to->stack_len);
#endif
#ifdef GREEN_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	(void)from, (void)to, (void)dying;
}

/* First thing after a switch lands in c (NULL: c's first entry). */
static inline void
san_resumed(struct green_ctx *c)
{
#ifdef GREEN_ASAN
	__sanitizer_finish_switch_fiber(c != NULL ? c->asan_fake : NULL, NULL,
					NULL);
#endif
	(void)c;
}

#endif /* GREEN_SANITIZER_H */
