/*
 * fault.h - fault injection: libgreen's kernel and allocator calls fail on
 * a schedule set by GREEN_FAULT (fault.c, libgreen(7) ENVIRONMENT).
 *
 * A site asks green__fault(GF_...) just before its call and fails as the
 * call would have when it says true.  Off (GREEN_FAULT unset), that is a
 * load of a flag written once at load time and a branch predicted not
 * taken.  The functions are no_split_stack: sites include the segment
 * allocator, which runs below a segment's guard.
 */
#ifndef GREEN_FAULT_H
#define GREEN_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum green_fault_site {
	GF_MMAP,    /* mmap of stacks, segments, task chunks, alt stacks */
	GF_ALLOC,   /* green__alloc/green__calloc and the tracer's buffers */
	GF_EPOLL,   /* epoll_create1, epoll_ctl */
	GF_EVENTFD, /* the netpoller's eventfd */
	GF_THREAD,  /* pthread_create of workers, monitor, pool, writer */
	GF_ACCEPT,  /* accept4 (green_accept) */
	GF_FUTEX,   /* a futex wait returns at once (a spurious wake-up) */
	GF_NSITES
};

extern bool green__fault_on; /* GREEN_FAULT is set; written before main */

bool green__fault_hit(enum green_fault_site site);

/* Whether this call at site is to fail. */
static inline __attribute__((always_inline)) bool
green__fault(enum green_fault_site site)
{
	return __builtin_expect(green__fault_on, 0) && green__fault_hit(site);
}

/* mmap, or MAP_FAILED with errno ENOMEM when a fault is due. */
void *green__mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);

#endif
