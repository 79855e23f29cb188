/*
 * syscall.h - system calls made directly, returning -errno.
 *
 * libgreen's own system calls on hot paths (futexes, socket I/O, epoll) go
 * through this instead of libc: no errno (a thread-local that a task must
 * not cache across a switch, DESIGN.md section 4), and no call into code
 * built without -fsplit-stack, which the linker would make ask for 1 MiB
 * of stack first (nosplit.c).  The syscall instruction uses no stack.
 */
#ifndef GREEN_SYSCALL_H
#define GREEN_SYSCALL_H

#include <sys/syscall.h>

static inline __attribute__((always_inline)) long
green__sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define green__sys3(nr, a, b, c) green__sys6(nr, a, b, c, 0, 0, 0)

#endif /* GREEN_SYSCALL_H */
