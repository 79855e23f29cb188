/*
 * diag.c - the runtime's reports: stack overflow and deadlock.
 *
 * Overflow: a fixed stack's lowest page is PROT_NONE.  A task that runs
 * into it faults; the SIGSEGV handler runs on the worker's alternate signal
 * stack (the task's own is exhausted), names the task and aborts: never
 * silent corruption.  Any other fatal signal in a task (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT) is reported with the task, its entry function
 * and its worker, then passed on to the handler that was installed before
 * ours, or to the default action.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "green-internal.h"
#include "syscall.h"

#define ALTSTACK_SIZE ((size_t)64 << 10)
/* How far below the guard page a fault still counts as an overflow: a
 * frame larger than a page can jump over the guard. */
#define BELOW_GUARD_SLACK ((uintptr_t)1 << 20)

/* The fatal signals we report on, and the actions we replaced. */
static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
#define NFATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
static struct sigaction old_action[NFATAL];

static struct sigaction *
old_for(int sig)
{
	for (size_t i = 0; i < NFATAL; i++)
		if (fatal_signals[i] == sig)
			return &old_action[i];
	return NULL;
}

void
green__describe_fn(void *fn, char *buf, size_t len)
{
	green__fn_name((uintptr_t)fn, buf, len);
}

static bool
in_overflow_zone(struct green_stack *s, uintptr_t addr)
{
	uintptr_t lo = (uintptr_t)s->map;
	uintptr_t guard_end = lo + green__stack_guard();

	if (s->maplen == 0)
		return false; /* a pooled first segment has no guard page */

	return addr < guard_end &&
	       (lo < BELOW_GUARD_SLACK || addr >= lo - BELOW_GUARD_SLACK);
}

/* Whether addr is in (or just below) the guard page of the segment the
 * thread runs on (splitstack.c): a call into non-split code outran it. */
static bool
in_segment_guard(uintptr_t addr)
{
#ifdef GREEN_SPLIT_STACK
	struct green_seg *s = green__ss_cur;
	uintptr_t lo;

	if (s == NULL)
		return false;
	lo = (uintptr_t)s->lo;
	return addr < lo && lo - addr <= BELOW_GUARD_SLACK;
#else
	(void)addr;
	return false;
#endif
}

static void
report_overflow(struct green_worker *w, struct green_task *t, void *addr,
		bool segment)
{
	char fn[128], line[768];
	int n;

	green__describe_fn((void *)t->fn, fn, sizeof(fn));
	if (segment)
		n = snprintf(line, sizeof(line),
			     "libgreen: task %llu \"%s\" (entry %s) overflowed "
			     "a stack segment at %p on worker %u: a call into "
			     "code built without -fsplit-stack used more than "
			     "the %d bytes it is given (libgreen(7), STACKS)\n",
			     (unsigned long long)t->id, t->name, fn, addr,
			     w->id, GREEN_SS_NONSPLIT);
	else
		n = snprintf(line, sizeof(line),
			     "libgreen: task %llu \"%s\" (entry %s) overflowed "
			     "its %zu-byte fixed stack at %p on worker %u; it "
			     "has a fixed stack because %s\n",
			     (unsigned long long)t->id, t->name, fn,
			     t->stack->size, addr, w->id,
			     green__stack_why(t->stack_why));
	if (n > 0)
		(void)green__sys3(SYS_write, STDERR_FILENO, (long)line,
			     (size_t)n < sizeof(line) ? (size_t)n
						      : sizeof(line) - 1);
}

static void
pass_on(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *old = old_for(sig);

	if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction != NULL) {
		old->sa_sigaction(sig, si, uc);
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
	} else {
		/* returning re-executes the faulting instruction, which
		 * now meets the default action */
		signal(sig, SIG_DFL);
	}
}

/* " of group N \"name\"" for a task of a group, else "" (into buf). */
static const char *
group_label(const struct green_task *t, char *buf, size_t size)
{
	const struct green_group *g = t->group;

	if (g == NULL)
		return "";
	snprintf(buf, size, " of group %llu \"%s\"", (unsigned long long)g->id,
		 g->name);
	return buf;
}

/* Name the task a fatal signal hit, before the default action runs. */
static void
report_crash(struct green_worker *w, struct green_task *t, int sig)
{
	char fn[128], grp[64], line[512];
	int n;

	green__describe_fn((void *)t->fn, fn, sizeof(fn));
	n = snprintf(line, sizeof(line),
		     "libgreen: fatal signal %d (%s) in task %llu \"%s\"%s "
		     "(entry %s) on worker %u\n",
		     sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
		     (unsigned long long)t->id, t->name,
		     group_label(t, grp, sizeof(grp)), fn, w->id);
	if (n > 0)
		(void)green__sys3(SYS_write, STDERR_FILENO, (long)line,
			     (size_t)n < sizeof(line) ? (size_t)n
						      : sizeof(line) - 1);
}

static void
on_fault(int sig, siginfo_t *si, void *uc)
{
	struct green_worker *w = green__worker();
	struct green_task *t = w != NULL ? w->current : NULL;

	if (t != NULL && t->stack != NULL &&
	    (sig == SIGSEGV || sig == SIGBUS)) {
		ucontext_t *ctx = uc;
		uintptr_t sp = (uintptr_t)ctx->uc_mcontext.gregs[REG_RSP];
		bool seg = in_segment_guard((uintptr_t)si->si_addr);
		if (seg || in_overflow_zone(t->stack, (uintptr_t)si->si_addr) ||
		    in_overflow_zone(t->stack, sp)) {
			report_overflow(w, t, si->si_addr, seg);
			signal(SIGABRT, SIG_DFL);
			abort();
		}
	}
	if (t != NULL)
		report_crash(w, t, sig);
	/* a handler that returns from SIGABRT makes abort() restore the
	 * default action and raise again */
	pass_on(sig, si, uc);
}

void
green__diag_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i], &sa, &old_action[i]);
}

void
green__diag_uninstall(void)
{
	for (size_t i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i], &old_action[i], NULL);
}

/*
 * Map worker w's alternate signal stack, before its thread starts (the
 * caller, green_init or the monitor, can still fail the start).  A worker
 * without one could not report a stack overflow: the fault would meet the
 * default action on the overflowed stack and end the process without a
 * word (make fault-check found this with the mmap failed).  Returns 0 or
 * -ENOMEM.
 */
int
green__diag_altstack_map(struct green_worker *w)
{
	void *p = green__mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -ENOMEM;
	w->altstack = p;
	w->altstack_len = ALTSTACK_SIZE;
	return 0;
}

/* Unmap w's alternate signal stack: its thread did not start. */
void
green__diag_altstack_unmap(struct green_worker *w)
{
	munmap(w->altstack, w->altstack_len);
	w->altstack = NULL;
}

/* On w's thread: install the stack green__diag_altstack_map mapped. */
void
green__diag_thread_init(struct green_worker *w)
{
	stack_t ss;

	ss.ss_sp = w->altstack;
	ss.ss_size = w->altstack_len;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) != 0) /* not for a 64 KiB stack */
		green__diag_altstack_unmap(w);
}

void
green__diag_thread_fini(struct green_worker *w)
{
	stack_t ss;

	if (w->altstack == NULL)
		return;
	memset(&ss, 0, sizeof(ss));
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	green__diag_altstack_unmap(w);
}

static const char *
wait_reason(enum green_wait r)
{
	switch (r) {
	case GREEN_WAIT_JOIN:
		return "join";
	case GREEN_WAIT_SLEEP:
		return "sleep forever";
	case GREEN_WAIT_CHAN_SEND:
		return "chan send";
	case GREEN_WAIT_CHAN_RECV:
		return "chan recv";
	case GREEN_WAIT_SELECT:
		return "select";
	case GREEN_WAIT_MUTEX:
		return "mutex";
	case GREEN_WAIT_COND:
		return "cond";
	case GREEN_WAIT_WG:
		return "wait group";
	case GREEN_WAIT_SEM:
		return "semaphore";
	case GREEN_WAIT_IO_READ:
		return "fd read";
	case GREEN_WAIT_IO_WRITE:
		return "fd write";
	case GREEN_WAIT_OFFLOAD:
		return "offload";
	case GREEN_WAIT_GROUP:
		return "group wait";
	case GREEN_WAIT_GROUP_SLOT:
		return "group slot";
	case GREEN_WAIT_NONE:
		break;
	}
	return "running";
}

static void
report_task(struct green_task *t, void *arg)
{
	char fn[128], grp[64], detail[64] = "";

	(void)arg;
	if (atomic_load_explicit(&t->magic, memory_order_acquire) !=
		    GREEN_TASK_MAGIC ||
	    t->done)
		return;
	green__describe_fn((void *)t->fn, fn, sizeof(fn));
	if (t->wait_reason == GREEN_WAIT_JOIN && t->wait_obj != NULL)
		snprintf(detail, sizeof(detail), " (task %llu)",
			 (unsigned long long)((const struct green_task *)
						      t->wait_obj)
				 ->id);
	else if (t->wait_reason == GREEN_WAIT_GROUP && t->wait_obj != NULL)
		snprintf(detail, sizeof(detail), " (group %llu)",
			 (unsigned long long)((const struct green_group *)
						      t->wait_obj)
				 ->id);
	fprintf(stderr, "  task %llu \"%s\"%s (entry %s): %s%s\n",
		(unsigned long long)t->id, t->name,
		group_label(t, grp, sizeof(grp)), fn,
		wait_reason(t->wait_reason), detail);
}

/* Every worker is parked, no timer is armed and tasks are left. */
void
green__deadlock_report(void)
{
	fprintf(stderr, "libgreen: deadlock: all tasks are asleep and nothing "
			"can wake them\n");
	green__task_foreach(report_task, NULL);
}
