/*
 * libcwrap.c - the variadic ones among libgreen's split-aware libc entry
 * points (lib/libc.list, "va"; the others are assembly made by
 * lib/libcwrap.sh).
 *
 * An entry point that switches stacks must copy its stack arguments, and a
 * variadic function's are of unknown size; so each of these is ordinary
 * split-stack code that collects its arguments in a va_list and calls the
 * v-form's entry point, which runs libc's function with room for it.  The
 * va_list points into this frame and the caller's, both of which stay
 * where they are.
 */
#undef _FORTIFY_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "green-internal.h"

/* In the shared library only, as the assembly (lib/libcwrap.sh). */
#if defined(GREEN_SPLIT_STACK) && defined(PIC)

#define EXPORT __attribute__((visibility("default")))

/* The v-forms' entry points (libcwrap-gen.S). */
int green__wrap_vprintf(const char *, va_list);
int green__wrap_vfprintf(FILE *, const char *, va_list);
int green__wrap_vsprintf(char *, const char *, va_list);
int green__wrap_vsnprintf(char *, size_t, const char *, va_list);
int green__wrap_vasprintf(char **, const char *, va_list);
int green__wrap_vdprintf(int, const char *, va_list);
int green__wrap___isoc99_vsscanf(const char *, const char *, va_list);
int green__wrap___isoc99_vfscanf(FILE *, const char *, va_list);
int green__wrap___isoc99_vscanf(const char *, va_list);
int green__wrap___vprintf_chk(int, const char *, va_list);
int green__wrap___vfprintf_chk(FILE *, int, const char *, va_list);
int green__wrap___vsprintf_chk(char *, int, size_t, const char *, va_list);
int green__wrap___vsnprintf_chk(char *, size_t, int, size_t, const char *,
				va_list);
int green__wrap___vasprintf_chk(char **, int, const char *, va_list);
int green__wrap___vdprintf_chk(int, int, const char *, va_list);

/* The body of every wrapper: va_start after LAST, return CALL. */
#define FORWARD(last, call)                                                    \
	do {                                                                   \
		va_list ap;                                                    \
		int r;                                                         \
		va_start(ap, last);                                            \
		r = call;                                                      \
		va_end(ap);                                                    \
		return r;                                                      \
	} while (0)

EXPORT int
printf(const char *fmt, ...)
{
	FORWARD(fmt, green__wrap_vprintf(fmt, ap));
}

EXPORT int
fprintf(FILE *f, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap_vfprintf(f, fmt, ap));
}

EXPORT int
sprintf(char *s, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap_vsprintf(s, fmt, ap));
}

EXPORT int
snprintf(char *s, size_t n, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap_vsnprintf(s, n, fmt, ap));
}

EXPORT int
asprintf(char **s, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap_vasprintf(s, fmt, ap));
}

EXPORT int
dprintf(int fd, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap_vdprintf(fd, fmt, ap));
}

/* glibc's headers name sscanf and friends so in C99 and later. */
int __isoc99_sscanf(const char *s, const char *fmt, ...);
int __isoc99_fscanf(FILE *f, const char *fmt, ...);
int __isoc99_scanf(const char *fmt, ...);

EXPORT int
__isoc99_sscanf(const char *s, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___isoc99_vsscanf(s, fmt, ap));
}

EXPORT int
__isoc99_fscanf(FILE *f, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___isoc99_vfscanf(f, fmt, ap));
}

EXPORT int
__isoc99_scanf(const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___isoc99_vscanf(fmt, ap));
}

/* What -D_FORTIFY_SOURCE turns the printf family into. */
int __printf_chk(int, const char *, ...);
int __fprintf_chk(FILE *, int, const char *, ...);
int __sprintf_chk(char *, int, size_t, const char *, ...);
int __snprintf_chk(char *, size_t, int, size_t, const char *, ...);
int __asprintf_chk(char **, int, const char *, ...);
int __dprintf_chk(int, int, const char *, ...);

EXPORT int
__printf_chk(int flag, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___vprintf_chk(flag, fmt, ap));
}

EXPORT int
__fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___vfprintf_chk(f, flag, fmt, ap));
}

EXPORT int
__sprintf_chk(char *s, int flag, size_t slen, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___vsprintf_chk(s, flag, slen, fmt, ap));
}

EXPORT int
__snprintf_chk(char *s, size_t n, int flag, size_t slen, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___vsnprintf_chk(s, n, flag, slen, fmt, ap));
}

EXPORT int
__asprintf_chk(char **s, int flag, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___vasprintf_chk(s, flag, fmt, ap));
}

EXPORT int
__dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	FORWARD(fmt, green__wrap___vdprintf_chk(fd, flag, fmt, ap));
}

#endif /* GREEN_SPLIT_STACK && PIC */
