/*
 * fault.c - fault injection (fault.h), SQLite's discipline: every kernel
 * and allocator call of the runtime can be made to fail, one at a time,
 * and a driver (tests/fault/run.sh, make fault-check) runs the suites once
 * per injection point to show each failure is reported, never a crash,
 * a hang or a leak.
 *
 * GREEN_FAULT, read once when the library is loaded:
 *   SITE:N      the Nth call at SITE fails (once)
 *   SITE:N+     the Nth call at SITE and every later one fail
 *   random:SEED:P  every call at any site fails with probability P/1000
 *   count       nothing fails; the most calls made at each site by the
 *               process or any child it forked is printed when the
 *               process exits
 * SITE is one of mmap alloc epoll eventfd thread accept futex.  Calls are
 * counted per process (a forked child, such as a check test, goes on from
 * its parent's counts).  Each injected failure is announced on stderr as
 * "libgreen: injected fault: SITE call N".
 *
 * Why count includes the children: a test that forks a child to run the
 * runtime (check_misuse, check_diag) sees the child end by _exit, a signal
 * or an alarm, with no atexit of its own, and its stderr is often a pipe
 * the test reads; so each process raises the maxima on a page shared with
 * every child forked later, and whoever exits normally prints them.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fault.h"
#include "green-internal.h"
#include "splitstack.h"
#include "syscall.h"

bool green__fault_on;

static const char *const site_names[GF_NSITES] = {
	"mmap", "alloc", "epoll", "eventfd", "thread", "accept", "futex",
};

enum mode { M_OFF, M_NTH, M_FROM, M_RANDOM, M_COUNT };

static struct {
	enum mode mode;
	int site;	    /* M_NTH, M_FROM */
	unsigned long n;    /* M_NTH, M_FROM */
	unsigned permille;  /* M_RANDOM */
	_Atomic uint64_t rng; /* M_RANDOM */
	_Atomic unsigned long calls[GF_NSITES];
	/* M_COUNT: a shared page, the most calls at each site of any process
	 * forked from this one after load; NULL if it could not be mapped */
	_Atomic unsigned long *most;
} fault;

/* Write s to stderr without libc's stdio (sites run on small stacks). */
static GREEN_NO_SPLIT void
say(const char *s, size_t n)
{
	green__sys3(SYS_write, 2, (long)s, (long)n);
}

/* Append the decimal of v at p; returns the end. */
static GREEN_NO_SPLIT char *
put_ulong(char *p, unsigned long v)
{
	char tmp[24];
	int k = 0;

	do
		tmp[k++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (k > 0)
		*p++ = tmp[--k];
	return p;
}

static GREEN_NO_SPLIT void
announce(int site, unsigned long call)
{
	static const char head[] = "libgreen: injected fault: ";
	char line[96], *p = line;
	const char *name = site_names[site];

	for (size_t i = 0; head[i] != '\0'; i++)
		*p++ = head[i];
	while (*name != '\0')
		*p++ = *name++;
	for (const char *s = " call "; *s != '\0'; s++)
		*p++ = *s;
	p = put_ulong(p, call);
	*p++ = '\n';
	say(line, (size_t)(p - line));
}

/* A step of xorshift64 on the shared state (races only reorder draws). */
static GREEN_NO_SPLIT uint64_t
draw(void)
{
	/* relaxed: any interleaving of the threads' draws will do */
	uint64_t x = atomic_load_explicit(&fault.rng, memory_order_relaxed);

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	atomic_store_explicit(&fault.rng, x, memory_order_relaxed);
	return x;
}

GREEN_NO_SPLIT bool
green__fault_hit(enum green_fault_site site)
{
	/* relaxed: a count; each call gets its own number */
	unsigned long call = atomic_fetch_add_explicit(&fault.calls[site], 1,
						       memory_order_relaxed) +
			     1;
	unsigned long most;
	bool hit;

	switch (fault.mode) {
	case M_COUNT:
		if (fault.most == NULL)
			return false;
		/* relaxed: the page is read once every process is done */
		most = atomic_load_explicit(&fault.most[site],
					    memory_order_relaxed);
		while (most < call &&
		       !atomic_compare_exchange_weak_explicit(
			       &fault.most[site], &most, call,
			       memory_order_relaxed, memory_order_relaxed))
			;
		return false;
	case M_NTH:
		hit = (int)site == fault.site && call == fault.n;
		break;
	case M_FROM:
		hit = (int)site == fault.site && call >= fault.n;
		break;
	case M_RANDOM:
		hit = draw() % 1000 < fault.permille;
		break;
	default:
		hit = false;
	}
	if (hit)
		announce((int)site, call);
	return hit;
}

GREEN_NO_SPLIT void *
green__mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (green__fault(GF_MMAP)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return mmap(addr, len, prot, flags, fd, off);
}

static void
print_counts(void)
{
	fprintf(stderr, "libgreen: fault sites:");
	for (int i = 0; i < GF_NSITES; i++) {
		unsigned long n = atomic_load(&fault.calls[i]);

		if (fault.most != NULL && atomic_load(&fault.most[i]) > n)
			n = atomic_load(&fault.most[i]);
		fprintf(stderr, " %s=%lu", site_names[i], n);
	}
	fprintf(stderr, "\n");
}

static int
site_of(const char *name, size_t len)
{
	for (int i = 0; i < GF_NSITES; i++)
		if (strlen(site_names[i]) == len &&
		    strncmp(site_names[i], name, len) == 0)
			return i;
	return -1;
}

/* Parse spec into fault; false when it is not GREEN_FAULT's grammar. */
static bool
parse(const char *spec)
{
	const char *colon = strchr(spec, ':');
	unsigned long long seed;
	char *end;

	if (strcmp(spec, "count") == 0) {
		fault.mode = M_COUNT;
		return true;
	}
	if (colon == NULL)
		return false;
	if (strncmp(spec, "random:", 7) == 0) {
		seed = strtoull(spec + 7, &end, 0);
		if (*end != ':')
			return false;
		fault.permille = (unsigned)strtoul(end + 1, &end, 0);
		if (*end != '\0' || fault.permille > 1000)
			return false;
		fault.rng = seed * 0x9e3779b97f4a7c15ULL | 1;
		fault.mode = M_RANDOM;
		return true;
	}
	if ((fault.site = site_of(spec, (size_t)(colon - spec))) < 0)
		return false;
	fault.n = strtoul(colon + 1, &end, 0);
	if (fault.n == 0)
		return false;
	if (*end == '+' && end[1] == '\0')
		fault.mode = M_FROM;
	else if (*end == '\0')
		fault.mode = M_NTH;
	else
		return false;
	return true;
}

__attribute__((constructor)) static void
fault_init(void)
{
	const char *spec = getenv("GREEN_FAULT");

	if (spec == NULL || *spec == '\0')
		return;
	if (!parse(spec)) {
		fprintf(stderr,
			"libgreen: GREEN_FAULT=%s: not SITE:N, SITE:N+, "
			"random:SEED:PERMILLE or count; no faults injected\n",
			spec);
		return;
	}
	if (fault.mode == M_COUNT) {
		void *p = mmap(NULL, sizeof(*fault.most) * GF_NSITES,
			       PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		/* without the page, each process's own counts */
		fault.most = p != MAP_FAILED ? p : NULL;
		atexit(print_counts);
	}
	green__fault_on = true;
}
