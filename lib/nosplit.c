/*
 * nosplit.c - the calls into libc on hot paths, made without a stack check.
 *
 * With segmented stacks, a split-stack function that calls libc directly is
 * rewritten by the linker to ask for 1 MiB of stack first (libgcc's
 * __morestack_non_split): on a task's small first segment every such call
 * would switch to another segment and back.  The functions here are
 * no_split_stack, so their callers are not rewritten; they run on the
 * reserve below the segment's guard (GREEN_SS_RESERVE, splitstack.h).
 * That is safe only for libc functions whose stack use is small and known:
 * each one here was measured with a painted stack (doc/DECISIONS.md) and
 * uses under 100 bytes.  Everything else in libc is called from ordinary
 * split-stack code, on cold paths.
 */
#include <sched.h>
#include <string.h>

#include "green-internal.h"

GREEN_NO_SPLIT void
green__memcpy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

GREEN_NO_SPLIT void
green__os_yield(void)
{
	sched_yield();
}

GREEN_NO_SPLIT void
green__lock(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
}

GREEN_NO_SPLIT void
green__unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}
