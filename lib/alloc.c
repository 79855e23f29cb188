/*
 * alloc.c - every runtime allocation goes through here.
 *
 * With jemalloc we call mallocx/sdallocx: names only jemalloc defines, so
 * whichever malloc wins symbol lookup in the process does not matter, and
 * sized deallocation skips the size lookup.  libgreen is never built with
 * LTO across jemalloc (DESIGN.md section 4).
 */
#include <stdlib.h>
#include <string.h>

#include "green-internal.h"

/*
 * With segmented stacks the callers' names are split-aware entry points
 * (arch/x86_64/allocwrap.S) that run these bodies where a libc call has
 * its room.
 */
#ifdef GREEN_SPLIT_STACK
#define green__alloc green__alloc_body
#define green__calloc green__calloc_body
#define green__free green__free_body
void *green__alloc_body(size_t size);
void *green__calloc_body(size_t size);
void green__free_body(void *p, size_t size);
#endif

#ifdef GREEN_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

void *
green__alloc(size_t size)
{
	if (green__fault(GF_ALLOC))
		return NULL;
	return mallocx(size ? size : 1, 0);
}

void *
green__calloc(size_t size)
{
	if (green__fault(GF_ALLOC))
		return NULL;
	return mallocx(size ? size : 1, MALLOCX_ZERO);
}

void
green__free(void *p, size_t size)
{
	if (p != NULL)
		sdallocx(p, size ? size : 1, 0);
}
#else
void *
green__alloc(size_t size)
{
	if (green__fault(GF_ALLOC))
		return NULL;
	return malloc(size ? size : 1);
}

void *
green__calloc(size_t size)
{
	if (green__fault(GF_ALLOC))
		return NULL;
	return calloc(1, size ? size : 1);
}

void
green__free(void *p, size_t size)
{
	(void)size;
	free(p);
}
#endif
