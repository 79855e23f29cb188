/*
 * nosplit_entry.c - task code built WITHOUT -fsplit-stack (see Makefile.am),
 * as a user's object compiled without libgreen.pc's flags would be.  Its
 * functions have no stack check: on a small first segment they would run
 * off its end.  libgreen must notice and give such an entry a fixed stack.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "green.h"
#include "nosplit_entry.h"

/* Fill 96 KiB of frame, park in the middle, and check it is intact. */
void *
nosplit_big_frame(void *arg)
{
	volatile unsigned char buf[96 << 10];
	uintptr_t seed = (uintptr_t)arg;
	size_t bad = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(seed + i * 7);
	green_sleep(green_now() + GREEN_MSEC(2));
	for (size_t i = 0; i < sizeof(buf); i++)
		bad += buf[i] != (unsigned char)(seed + i * 7);
	return (void *)(uintptr_t)(bad == 0 ? seed : 0);
}

/*
 * Use bytes of stack (a frame of that size, written from its far end) and
 * return a checksum of what was written, which the caller can predict:
 * nosplit_expect(bytes, seed).  Called directly from split-stack code,
 * the linker makes the caller ask for room first; through a pointer, not.
 */
unsigned
nosplit_use_stack(size_t bytes, unsigned seed)
{
	volatile unsigned char buf[bytes];
	unsigned sum = 0;

	for (size_t i = bytes; i-- > 0;)
		buf[i] = (unsigned char)(seed + i);
	for (size_t i = 0; i < bytes; i++)
		sum = sum * 31 + buf[i];
	return sum;
}

unsigned
nosplit_expect(size_t bytes, unsigned seed)
{
	unsigned sum = 0;

	for (size_t i = 0; i < bytes; i++)
		sum = sum * 31 + (unsigned char)(seed + i);
	return sum;
}

/* Stack arguments: the last four of these are passed on the stack. */
long
nosplit_sum10(long a, long b, long c, long d, long e, long f, long g, long h,
	      long i, long j)
{
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h +
	       9 * i + 10 * j;
}

/* A variadic function: n longs, most of them on the stack. */
long
nosplit_vsum(int n, ...)
{
	va_list ap;
	long sum = 0;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		sum += (i + 1) * va_arg(ap, long);
	va_end(ap);
	return sum;
}
