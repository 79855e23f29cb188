/*
 * futex.c - the one way an OS thread of the runtime sleeps.
 *
 * The system call is made directly (syscall.h): these functions are
 * no_split_stack (a worker calls them on hot paths, see nosplit.c), and a
 * raw syscall instruction uses no stack at all.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include "green-internal.h"
#include "syscall.h"

static inline __attribute__((always_inline)) long
sys_futex(void *addr, int op, uint32_t val, const struct timespec *ts,
	  uint32_t val3)
{
	return green__sys6(SYS_futex, (long)addr, op, (long)val, (long)ts, 0,
			   (long)val3);
}

/*
 * Sleep while *addr == val, until woken or until the absolute
 * CLOCK_MONOTONIC deadline (-1: none).  Returns 0 or -ETIMEDOUT; spurious
 * returns are possible, callers re-check their condition.
 */
GREEN_NO_SPLIT int
green__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;

	if (green__fault(GF_FUTEX))
		return 0; /* a spurious wake-up: callers check again */
	if (deadline >= 0) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
	if (sys_futex(addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val, tsp,
		      FUTEX_BITSET_MATCH_ANY) == -ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

GREEN_NO_SPLIT void
green__futex_wake(_Atomic uint32_t *addr, int n)
{
	sys_futex(addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, (uint32_t)n, NULL, 0);
}
