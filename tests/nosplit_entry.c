/*
 * nosplit_entry.c - task code built WITHOUT -fsplit-stack (see Makefile.am),
 * as a user's object compiled without libgreen.pc's flags would be.  Its
 * functions have no stack check: on a small first segment they would run
 * off its end.  libgreen must notice and give such an entry a fixed stack.
 */
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
