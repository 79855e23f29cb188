/*
 * libcstack.c - how much stack common libc calls use, measured.
 *
 * With segmented stacks, split-stack code that calls libc (built without
 * -fsplit-stack) first makes sure a fixed amount of stack is free: libgcc's
 * __morestack_non_split asks for 1 MiB for small callers, and the linker's
 * --split-stack-adjust-size sets it for the others.  This program is the
 * measurement behind libgreen's choice (doc/DECISIONS.md): it runs each
 * call on a thread whose stack it painted, and reports how deep the call
 * wrote, less what an empty thread writes.  Lower bounds: a call can take
 * paths this one did not.
 *
 *   RESULT libc_stack_<name> <bytes> B
 */
#define _GNU_SOURCE 1
#include <locale.h>
#include <pthread.h>
#include <netdb.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STACK (2 << 20)
#define PAINT 0xa5

static void (*measured)(void);

static void *
run_measured(void *arg)
{
	(void)arg;
	if (measured != NULL)
		measured();
	return NULL;
}

/* Bytes of a painted thread stack that fn wrote, thread start included. */
static size_t
stack_used(void (*fn)(void))
{
	unsigned char *stack = aligned_alloc(4096, STACK);
	pthread_attr_t attr;
	pthread_t t;
	size_t i = 0;

	if (stack == NULL)
		abort();
	memset(stack, PAINT, STACK);
	measured = fn;
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstack(&attr, stack, STACK) != 0 ||
	    pthread_create(&t, &attr, run_measured, NULL) != 0 ||
	    pthread_join(t, NULL) != 0)
		abort();
	pthread_attr_destroy(&attr);
	while (i < STACK && stack[i] == PAINT)
		i++;
	free(stack);
	return STACK - i;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static char text[512];
static int ints[100000];

static void
call_snprintf_int(void)
{
	snprintf(text, sizeof(text), "%d %s", 42, "x");
}

static void
call_snprintf_double(void)
{
	snprintf(text, sizeof(text), "%.20f", 4.2);
}

static void
call_snprintf_long_double(void)
{
	snprintf(text, sizeof(text), "%Lf", 1e300L);
}

static void
call_strtod(void)
{
	if (strtod("1.2345678901234567890e-300", NULL) == 0)
		abort();
}

static void
call_qsort(void)
{
	qsort(ints, sizeof(ints) / sizeof(ints[0]), sizeof(ints[0]), cmp_int);
}

static void
call_getaddrinfo(void)
{
	struct addrinfo *ai;

	if (getaddrinfo("localhost", "80", NULL, &ai) == 0)
		freeaddrinfo(ai);
}

static void
call_regex(void)
{
	regex_t re;

	if (regcomp(&re, "a(b|c)*d[0-9]+", REG_EXTENDED) == 0) {
		regexec(&re, "abcbcd123", 0, NULL, 0);
		regfree(&re);
	}
}

static void
call_strftime(void)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(text, sizeof(text), "%c %Z", &tm);
}

static void
call_fopen(void)
{
	FILE *f = fopen("/etc/hostname", "r");

	if (f != NULL) {
		if (fgets(text, sizeof(text), f) == NULL)
			text[0] = '\0';
		fclose(f);
	}
}

static void
call_setlocale(void)
{
	setlocale(LC_ALL, "C.UTF-8");
}

static const struct {
	const char *name;
	void (*fn)(void);
} calls[] = {
	{ "snprintf_int", call_snprintf_int },
	{ "snprintf_double", call_snprintf_double },
	{ "snprintf_long_double_1e300", call_snprintf_long_double },
	{ "strtod", call_strtod },
	{ "qsort_100000", call_qsort },
	{ "getaddrinfo_localhost", call_getaddrinfo },
	{ "regcomp_regexec", call_regex },
	{ "localtime_strftime", call_strftime },
	{ "fopen_fgets", call_fopen },
	{ "setlocale", call_setlocale },
};

int
main(void)
{
	size_t base = stack_used(NULL);

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		ints[i] = rand();
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		size_t used;
		calls[i].fn(); /* binds lazy symbols, loads locale data */
		used = stack_used(calls[i].fn);
		printf("RESULT libc_stack_%s %zu B%s\n", calls[i].name,
		       used - base,
		       used == STACK ? " (at least: the whole stack)" : "");
	}
	return 0;
}
