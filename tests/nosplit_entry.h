/* nosplit_entry.h - task code built without -fsplit-stack (the .c says why). */
#ifndef GREEN_NOSPLIT_ENTRY_H
#define GREEN_NOSPLIT_ENTRY_H

/* Uses 96 KiB of stack and parks; returns arg when its frame survived. */
void *nosplit_big_frame(void *arg);

#include <stddef.h>

/* Uses bytes of stack; returns a checksum nosplit_expect predicts. */
unsigned nosplit_use_stack(size_t bytes, unsigned seed);
unsigned nosplit_expect(size_t bytes, unsigned seed);
/* Weighted sums with arguments on the stack; variadic: n longs. */
long nosplit_sum10(long a, long b, long c, long d, long e, long f, long g,
		   long h, long i, long j);
long nosplit_vsum(int n, ...);

#endif
