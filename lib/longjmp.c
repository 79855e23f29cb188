/*
 * longjmp.c - longjmp out of deep frames of a segmented stack.
 *
 * The segment in use and the stack guard are thread-local words that only
 * __morestack and its return path update (splitstack.c).  A longjmp from
 * frames on a later segment back to an earlier one skips those returns: the
 * words would go on describing the later segment, the code that runs after
 * the jump would check its stack against a guard in another mapping and
 * could run off the bottom of a small first segment into its neighbour, and
 * the skipped segments would never go back to the pool.
 *
 * So libgreen interposes longjmp, _longjmp, siglongjmp and __longjmp_chk
 * (the _FORTIFY_SOURCE variant): each gives back the segments above the one
 * that holds the target stack pointer and restores that one's guard
 * (green__ss_unwind_to), then jumps with libc's own function.  Where the
 * jump crosses segments, __longjmp_chk's check (target above the current
 * stack pointer) does not hold for segments at unrelated addresses, so
 * plain longjmp does the jump.  Threads and tasks with no segment in use
 * (fixed stacks, the workers' loops) are left alone.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include "green-internal.h"

#ifdef GREEN_SPLIT_STACK

typedef void (*jump_fn)(struct __jmp_buf_tag *, int)
	__attribute__((noreturn));

#define JB_RSP 6 /* glibc x86_64: the saved stack pointer's slot */

/* glibc stores the stack pointer mangled: rol(sp ^ guard, 17), with the
 * pointer guard at %fs:0x30 (sysdeps/unix/sysv/linux/x86_64/sysdep.h). */
static GREEN_NO_SPLIT uintptr_t
saved_sp(struct __jmp_buf_tag *env)
{
	uintptr_t v = (uintptr_t)env->__jmpbuf[JB_RSP], guard;

	__asm__("movq %%fs:0x30, %0" : "=r"(guard));
	return ((v >> 17) | (v << 47)) ^ guard;
}

static jump_fn
real(const char *name)
{
	jump_fn fn = (jump_fn)dlsym(RTLD_NEXT, name);

	if (fn == NULL)
		abort(); /* no libc below us: nothing sane to do */
	return fn;
}

/* relaxed: each pointer is resolved to the same value by every thread */
static _Atomic(jump_fn) libc_longjmp, libc_siglongjmp, libc__longjmp,
	libc_longjmp_chk;

static jump_fn
lookup(_Atomic(jump_fn) *slot, const char *name)
{
	jump_fn fn = atomic_load_explicit(slot, memory_order_relaxed);

	if (fn == NULL) {
		fn = real(name);
		atomic_store_explicit(slot, fn, memory_order_relaxed);
	}
	return fn;
}

__attribute__((visibility("default"), noreturn)) void
longjmp(struct __jmp_buf_tag env[1], int val)
{
	jump_fn fn = lookup(&libc_longjmp, "longjmp");

	green__ss_unwind_to(saved_sp(env));
	fn(env, val);
}

__attribute__((visibility("default"), noreturn)) void
_longjmp(struct __jmp_buf_tag env[1], int val)
{
	jump_fn fn = lookup(&libc__longjmp, "_longjmp");

	green__ss_unwind_to(saved_sp(env));
	fn(env, val);
}

__attribute__((visibility("default"), noreturn)) void
siglongjmp(struct __jmp_buf_tag env[1], int val)
{
	jump_fn fn = lookup(&libc_siglongjmp, "siglongjmp");

	green__ss_unwind_to(saved_sp(env));
	fn(env, val);
}

void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
	__attribute__((visibility("default"), noreturn));

void
__longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
	jump_fn chk = lookup(&libc_longjmp_chk, "__longjmp_chk");
	jump_fn plain = lookup(&libc_siglongjmp, "siglongjmp");

	if (green__ss_unwind_to(saved_sp(env)))
		plain(env, val); /* across segments: see the top of the file */
	chk(env, val);
}

#endif /* GREEN_SPLIT_STACK */
