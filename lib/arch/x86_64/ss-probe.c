/*
 * ss-probe.c - configure's proof that the linker handles split stacks.
 *
 * Built with -fsplit-stack and linked with ss-probe-callee.c, which is not:
 * a linker that knows split stacks rewrites caller()'s prologue (gold: into
 * "stc; nopl", lld: a compare of %rsp minus the adjust size), so that
 * callee() is called only with enough stack.  GNU ld leaves the plain
 * compare of %rsp with %fs:0x70.  Exit status 0: rewritten and it runs.
 */
#include <string.h>

int callee(int);

__attribute__((noinline)) int
caller(int n)
{
	return callee(n) + 1;
}

int
main(void)
{
	static const unsigned char plain[] = { 0x64, 0x48, 0x3b, 0x24, 0x25,
					       0x70, 0,	   0,	 0 };
	const unsigned char *p = (const unsigned char *)caller;

	if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		p += 4; /* endbr64 */
	if (memcmp(p, plain, sizeof(plain)) == 0)
		return 1;
	return caller(1) == 3 ? 0 : 2;
}
