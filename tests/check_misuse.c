/*
 * check_misuse.c - the misuse matrix: the public calls of green.h given a
 * bad handle (NULL, destroyed, closed, joined, detached, from a runtime
 * that was shut down, or one whose memory a new object has taken over) or
 * made where they do not belong (a plain thread, no runtime), each result
 * compared with what the call's man page, or API.md's conventions, say.
 *
 * One table per object kind.  A row is
 *
 *	{ what the misuse is, where the call runs,
 *	  the function that makes it (and its argument), the result expected }
 *
 * where the result is a negative errno value, 0 for a call documented to be
 * harmless, or the count or handle a call documented to work returns.  A
 * row's function sets its scene up, makes the one call and returns what
 * the call returned; when the call also disturbed a valid object (a
 * channel or task created after the stale one, a mutex that must still be
 * locked), it returns R_DAMAGED instead, and its stderr says how.
 *
 * Every row runs in a child process of its own (run_forked), which starts
 * the runtime it needs: a misuse the library does not catch may crash,
 * corrupt the heap or hang, and that must show as that row's mismatch (an
 * alarm ends a hung child), not take the runner down or spill into the next
 * row.  Calls that could block take deadline 0 where the row allows it, so
 * that even a misbehaving library returns.  One test per table runs every
 * row and fails once, listing all the rows that did not match (on stderr
 * too, in full).  MISUSE_VERBOSE set in the environment prints every row's
 * result, matched or not.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "testutil.h"

#define NWORKERS 2
/* Seconds a row's child may run before SIGALRM ends it as hung. */
#define ROW_ALARM (10 * TEST_TIMEOUT_MULT)
/* A table's test: every row quick, or ended by its alarm. */
#define TIMEOUT (600 * TEST_TIMEOUT_MULT)
/* Deadline of the waits that only bound a misbehaving library. */
#define PROMPT GREEN_SEC(5)

#define I64 sizeof(int64_t)
#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

/* Row results that are not the call's own: above any count a row sees. */
#define R_SETUP 1000001L   /* a call that sets the scene up failed */
#define R_DAMAGED 1000002L /* the misuse disturbed a valid object */
#define R_VALUE 1000003L   /* the call succeeded with the wrong data */

/* Where a row's call runs (in the row's own child process). */
enum where {
	IN_TASK,   /* a task of a runtime with NWORKERS workers */
	IN_TASK_1, /* a task of a runtime with one worker: the struct of a
		      task that ends is what the next spawn gets */
	IN_THREAD, /* a plain pthread while such a runtime runs */
	BARE,	   /* the child's main thread, no runtime: a row that needs
		      one starts (and shuts down) its own */
};

struct row {
	const char *what;
	enum where where;
	long (*call)(int arg);
	int arg;
	long want;
};

/* --- what a row's function reports besides its result ------------------ */

static long __attribute__((format(printf, 2, 3)))
report(long code, const char *fmt, ...)
{
	va_list ap;

	fputs("detail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* Run a call that sets the scene up; a failure ends the row R_SETUP. */
#define SETUP(call)                                                            \
	do {                                                                   \
		long r_ = (call);                                              \
		if (r_ != 0)                                                   \
			return report(R_SETUP, "%s = %ld", #call, r_);         \
	} while (0)

static const green_config_t cfg = { .workers = NWORKERS };
static const green_config_t cfg1 = { .workers = 1 };

static void *
ret_arg(void *arg)
{
	return arg;
}

/*
 * The second object of the aliasing rows is a task that waits (parked) at
 * a gate until the row opens it, then returns B_RESULT; cancelled, or not
 * let through within PROMPT, it returns the error instead.  Every row runs
 * in a fresh child, so the gate starts closed.
 */
#define B_RESULT 2
/* Time a started task is given to park at the gate.  A slow machine makes
 * the rows that rely on it weaker (a cancel that reached B may go unseen),
 * never wrong. */
#define SETTLE GREEN_MSEC(5)
static green_sem_t gate = GREEN_SEM_INITIALIZER(0);
static atomic_int gate_reached;

static void *
gated(void *arg)
{
	int r;

	(void)arg;
	atomic_store(&gate_reached, 1);
	r = green_sem_acquire(&gate, green_now() + PROMPT);
	return r == 0 ? (void *)B_RESULT : (void *)(intptr_t)r;
}

/* Spawn a gated task and let it get parked at the gate. */
static long
spawn_gated(green_task_t **t)
{
	SETUP(green_spawn(t, NULL, gated, NULL));
	if (!wait_flag(&gate_reached, PROMPT))
		return report(R_SETUP, "the gated task did not start");
	green_sleep(green_now() + SETTLE);
	return 0;
}

/* --- channels ----------------------------------------------------------- */

enum {
	C_SEND,
	C_RECV,
	C_CLOSE,
	C_LEN,
	C_CAP,
	C_DESTROY,
	C_SEL_SEND, /* green_select, one GREEN_SEND case */
	C_SEL_RECV, /* green_select, one GREEN_RECV case */
	C_OPS = 0xff,
	/* flags of the destroyed- and closed-channel rows */
	UNBUF = 0x100,	      /* an unbuffered channel (else capacity 2) */
	CLOSE_FIRST = 0x200,  /* closed before it was destroyed */
	WITH_VALUES = 0x400,  /* closed with 7 and 8 buffered (capacity 3) */
	RECV_FIRST = 0x800,   /* receive 7 and 8 before the call */
};

/* One call on ch, never blocking.  A select that fired reports its case's
 * result (what a send or receive on ch would have returned). */
static long
chan_call(green_chan_t *ch, int op)
{
	int64_t v = 7;
	green_case_t c = { .chan = ch, .elem = &v };
	int r;

	switch (op) {
	case C_SEND:
		return green_chan_send(ch, &v, 0);
	case C_RECV:
		return green_chan_recv(ch, &v, 0);
	case C_CLOSE:
		return green_chan_close(ch);
	case C_LEN:
		return green_chan_len(ch);
	case C_CAP:
		return green_chan_cap(ch);
	case C_DESTROY:
		return green_chan_destroy(ch);
	case C_SEL_SEND:
	case C_SEL_RECV:
		c.kind = op == C_SEL_SEND ? GREEN_SEND : GREEN_RECV;
		r = green_select(&c, 1, 0);
		return r == 0 ? c.result : r;
	}
	return report(R_SETUP, "unknown channel op %d", op);
}

static long
null_chan(int op)
{
	return chan_call(NULL, op);
}

static long
chan_create_null(int cap)
{
	return green_chan_create(NULL, I64, (size_t)cap);
}

static long
select_null_cases(int n)
{
	return green_select(NULL, (size_t)n, 0);
}

/* A channel destroyed (closed first with CLOSE_FIRST), then the call. */
static long
destroyed_chan(int arg)
{
	green_chan_t *ch;

	SETUP(green_chan_create(&ch, I64, arg & UNBUF ? 0 : 2));
	if (arg & CLOSE_FIRST)
		SETUP(green_chan_close(ch));
	SETUP(green_chan_destroy(ch));
	return chan_call(ch, arg & C_OPS);
}

/*
 * Channel B (capacity 2) after a call on stale A: still empty, open and
 * working.  Returns r, or R_DAMAGED.
 */
static long
chan_intact(green_chan_t *b, long r)
{
	int64_t v = 42, got = 0;
	ssize_t n;
	int e;

	if ((n = green_chan_len(b)) != 0)
		return report(R_DAMAGED, "call on A = %ld; then len(B) = %zd",
			      r, n);
	if ((n = green_chan_cap(b)) != 2)
		return report(R_DAMAGED, "call on A = %ld; then cap(B) = %zd",
			      r, n);
	if ((e = green_chan_send(b, &v, 0)) != 0)
		return report(R_DAMAGED, "call on A = %ld; then send(B) = %d",
			      r, e);
	if ((e = green_chan_recv(b, &got, 0)) != 0 || got != 42)
		return report(R_DAMAGED,
			      "call on A = %ld; then recv(B) = %d, value %lld",
			      r, e, (long long)got);
	if ((e = green_chan_destroy(b)) != 0)
		return report(R_DAMAGED,
			      "call on A = %ld; then destroy(B) = %d", r, e);
	return r;
}

/* A created and destroyed, B created (most likely in A's memory), then the
 * call on A; B must be unaffected. */
static long
alias_chan(int op)
{
	green_chan_t *a, *b;
	long r;

	SETUP(green_chan_create(&a, I64, 2));
	SETUP(green_chan_destroy(a));
	SETUP(green_chan_create(&b, I64, 2));
	if (a != b)
		report(0, "note: B did not get A's memory");
	r = chan_call(a, op);
	return chan_intact(b, r);
}

/* A closed channel (empty, or holding 7 and 8), then the call; then it
 * must still be destroyable. */
static long
closed_chan(int arg)
{
	green_chan_t *ch;
	int64_t v;
	int op = arg & C_OPS, e;
	long r;

	SETUP(green_chan_create(&ch, I64,
				arg & UNBUF ? 0 : arg & WITH_VALUES ? 3 : 2));
	if (arg & WITH_VALUES) {
		v = 7;
		SETUP(green_chan_send(ch, &v, 0));
		v = 8;
		SETUP(green_chan_send(ch, &v, 0));
	}
	SETUP(green_chan_close(ch));
	if (arg & RECV_FIRST) {
		for (int64_t want = 7; want <= 8; want++) {
			v = 0;
			e = green_chan_recv(ch, &v, 0);
			if (e != 0 || v != want)
				return report(R_VALUE,
					      "buffered recv = %d, value %lld "
					      "(want 0, %lld)",
					      e, (long long)v, (long long)want);
		}
	}
	if ((arg & WITH_VALUES) && !(arg & RECV_FIRST) &&
	    (op == C_RECV || op == C_SEL_RECV)) {
		/* the first value must come out, in order */
		green_case_t c = { .kind = GREEN_RECV, .chan = ch, .elem = &v };

		v = 0;
		r = op == C_RECV ? green_chan_recv(ch, &v, 0)
				 : green_select(&c, 1, 0);
		if (op == C_SEL_RECV && r == 0)
			r = c.result;
		if (r == 0 && v != 7)
			return report(R_VALUE, "received %lld, want 7",
				      (long long)v);
	} else {
		r = chan_call(ch, op);
	}
	if (op != C_DESTROY && (e = green_chan_destroy(ch)) != 0)
		return report(R_DAMAGED, "call = %ld; then destroy = %d", r,
			      e);
	return r;
}

static const struct row chan_rows[] = {
	/* NULL (a NULL chan in a select case is valid: never ready) */
	{ "create with NULL handle pointer", IN_TASK, chan_create_null, 2,
	  -EINVAL },
	{ "send on NULL", IN_TASK, null_chan, C_SEND, -EINVAL },
	{ "recv on NULL", IN_TASK, null_chan, C_RECV, -EINVAL },
	{ "close NULL", IN_TASK, null_chan, C_CLOSE, -EINVAL },
	{ "len of NULL", IN_TASK, null_chan, C_LEN, -EINVAL },
	{ "cap of NULL", IN_TASK, null_chan, C_CAP, -EINVAL },
	{ "destroy NULL", IN_TASK, null_chan, C_DESTROY, -EINVAL },
	{ "select with NULL cases, n 1", IN_TASK, select_null_cases, 1,
	  -EINVAL },

	/* destroyed (API.md: a destroyed handle is detected, -EINVAL) */
	{ "send on destroyed", IN_TASK, destroyed_chan, C_SEND, -EINVAL },
	{ "recv on destroyed", IN_TASK, destroyed_chan, C_RECV, -EINVAL },
	{ "close destroyed", IN_TASK, destroyed_chan, C_CLOSE, -EINVAL },
	{ "len of destroyed", IN_TASK, destroyed_chan, C_LEN, -EINVAL },
	{ "cap of destroyed", IN_TASK, destroyed_chan, C_CAP, -EINVAL },
	{ "destroy twice", IN_TASK, destroyed_chan, C_DESTROY, -EINVAL },
	{ "select send on destroyed", IN_TASK, destroyed_chan, C_SEL_SEND,
	  -EINVAL },
	{ "select recv on destroyed", IN_TASK, destroyed_chan, C_SEL_RECV,
	  -EINVAL },
	{ "send on destroyed unbuffered", IN_TASK, destroyed_chan,
	  C_SEND | UNBUF, -EINVAL },
	{ "recv on destroyed unbuffered", IN_TASK, destroyed_chan,
	  C_RECV | UNBUF, -EINVAL },
	{ "send on closed then destroyed (not -EPIPE)", IN_TASK,
	  destroyed_chan, C_SEND | CLOSE_FIRST, -EINVAL },
	{ "recv on closed then destroyed (not -EPIPE)", IN_TASK,
	  destroyed_chan, C_RECV | CLOSE_FIRST, -EINVAL },
	{ "close closed then destroyed (not -EPIPE)", IN_TASK, destroyed_chan,
	  C_CLOSE | CLOSE_FIRST, -EINVAL },
	{ "destroy closed then destroyed", IN_TASK, destroyed_chan,
	  C_DESTROY | CLOSE_FIRST, -EINVAL },

	/* destroyed A, B created since (A's memory); B must stay intact */
	{ "send on stale A, B intact", IN_TASK, alias_chan, C_SEND, -EINVAL },
	{ "recv on stale A, B intact", IN_TASK, alias_chan, C_RECV, -EINVAL },
	{ "close stale A, B intact", IN_TASK, alias_chan, C_CLOSE, -EINVAL },
	{ "len of stale A, B intact", IN_TASK, alias_chan, C_LEN, -EINVAL },
	{ "cap of stale A, B intact", IN_TASK, alias_chan, C_CAP, -EINVAL },
	{ "destroy stale A, B intact", IN_TASK, alias_chan, C_DESTROY,
	  -EINVAL },
	{ "select send on stale A, B intact", IN_TASK, alias_chan, C_SEL_SEND,
	  -EINVAL },
	{ "select recv on stale A, B intact", IN_TASK, alias_chan, C_SEL_RECV,
	  -EINVAL },

	/* closed: still a valid handle until destroyed */
	{ "send on closed", IN_TASK, closed_chan, C_SEND, -EPIPE },
	{ "recv on closed and drained", IN_TASK, closed_chan, C_RECV, -EPIPE },
	{ "close twice", IN_TASK, closed_chan, C_CLOSE, -EPIPE },
	{ "len of closed", IN_TASK, closed_chan, C_LEN, 0 },
	{ "cap of closed", IN_TASK, closed_chan, C_CAP, 2 },
	{ "destroy closed", IN_TASK, closed_chan, C_DESTROY, 0 },
	{ "select send on closed: case fires, -EPIPE", IN_TASK, closed_chan,
	  C_SEL_SEND, -EPIPE },
	{ "select recv on closed and drained: case fires, -EPIPE", IN_TASK,
	  closed_chan, C_SEL_RECV, -EPIPE },
	{ "send on closed unbuffered", IN_TASK, closed_chan, C_SEND | UNBUF,
	  -EPIPE },
	{ "recv on closed unbuffered", IN_TASK, closed_chan, C_RECV | UNBUF,
	  -EPIPE },
	{ "send on closed with room in its buffer", IN_TASK, closed_chan,
	  C_SEND | WITH_VALUES, -EPIPE },
	{ "recv on closed with values: the first value", IN_TASK, closed_chan,
	  C_RECV | WITH_VALUES, 0 },
	{ "select recv on closed with values: the first value", IN_TASK,
	  closed_chan, C_SEL_RECV | WITH_VALUES, 0 },
	{ "recv on closed after its 2 values", IN_TASK, closed_chan,
	  C_RECV | WITH_VALUES | RECV_FIRST, -EPIPE },
	{ "len of closed with 2 values", IN_TASK, closed_chan,
	  C_LEN | WITH_VALUES, 2 },
	{ "cap of closed with values", IN_TASK, closed_chan,
	  C_CAP | WITH_VALUES, 3 },
	{ "close closed with values", IN_TASK, closed_chan,
	  C_CLOSE | WITH_VALUES, -EPIPE },
	{ "destroy closed with values", IN_TASK, closed_chan,
	  C_DESTROY | WITH_VALUES, 0 },
};

/* --- tasks -------------------------------------------------------------- */

enum {
	T_JOIN, /* deadline 0: never blocks, even on a stale handle */
	T_DETACH,
	T_CANCEL,
	T_ID,
	T_OPS = 0xff,
	/* flags of the old-runtime rows */
	OLD_JOINED = 0x100, /* A was joined before the shutdown */
	OLD_REINIT = 0x200, /* a new runtime (with a task B) runs at the call */
};

static long
task_call(green_task_t *t, int op)
{
	void *res = NULL;

	switch (op) {
	case T_JOIN:
		return green_join(t, &res, 0);
	case T_DETACH:
		return green_detach(t);
	case T_CANCEL:
		return green_cancel(t);
	case T_ID:
		return (long)green_task_id(t);
	}
	return report(R_SETUP, "unknown task op %d", op);
}

/* Open the gate and join the gated task B: it must end as if nothing had
 * happened.  Returns r, or R_DAMAGED. */
static long
task_intact(green_task_t *b, long r)
{
	void *res = NULL;
	int e;

	green_sem_release(&gate);
	e = green_join(b, &res, green_now() + PROMPT);
	if (e != 0 || res != (void *)B_RESULT)
		return report(R_DAMAGED,
			      "call on A = %ld; then join(B) = %d, B's result "
			      "%ld (want 0, %d)",
			      r, e, (long)(intptr_t)res, B_RESULT);
	return r;
}

static long
null_task(int op)
{
	return task_call(NULL, op);
}

static long
spawn_null_fn(int with_handle)
{
	green_task_t *t = NULL;

	return green_spawn(with_handle ? &t : NULL, NULL, NULL, NULL);
}

/* Spawn A and join it: A's handle is stale. */
static long
spawn_joined(green_task_t **a)
{
	void *res = NULL;

	SETUP(green_spawn(a, NULL, ret_arg, (void *)1));
	SETUP(green_join(*a, &res, green_now() + PROMPT));
	if (res != (void *)1)
		return report(R_SETUP, "A's result %p", res);
	return 0;
}

static long
joined_task(int op)
{
	green_task_t *a;

	SETUP(spawn_joined(&a));
	return task_call(a, op);
}

/* A joined, B spawned since (most likely in A's struct) and waiting, then
 * the call on A; B must be unaffected. */
static long
alias_task(int op)
{
	green_task_t *a, *b;

	SETUP(spawn_joined(&a));
	SETUP(spawn_gated(&b));
	if (a != b)
		report(0, "note: B did not get A's struct");
	return task_intact(b, task_call(a, op));
}

/* A detached while it still runs (waiting at the gate), then the call. */
static long
detached_task(int op)
{
	green_task_t *a;
	long r;

	SETUP(spawn_gated(&a));
	SETUP(green_detach(a));
	r = task_call(a, op);
	green_sem_release(&gate); /* A ends on its own */
	return r;
}

/* A detached and (most likely) ended, B spawned since, then the call on A;
 * B must be unaffected. */
static long
detached_alias(int op)
{
	green_task_t *a, *b;

	SETUP(green_spawn(&a, NULL, ret_arg, NULL));
	SETUP(green_detach(a));
	/* let A end and free its struct; A's end is not required */
	green_sleep(green_now() + GREEN_MSEC(10));
	SETUP(spawn_gated(&b));
	if (a != b)
		report(0, "note: B did not get A's struct");
	return task_intact(b, task_call(a, op));
}

/*
 * A spawned in a runtime that was then shut down (A joined first with
 * OLD_JOINED, else ended unjoined), then the call on A: with no runtime, or
 * in a new one (OLD_REINIT) where B waits and must be unaffected.
 */
static long
old_runtime(int arg)
{
	green_task_t *a, *b;
	long r;
	int e;

	SETUP(green_init(&cfg));
	if (arg & OLD_JOINED)
		SETUP(spawn_joined(&a));
	else
		SETUP(green_spawn(&a, NULL, ret_arg, NULL));
	SETUP(green_shutdown()); /* waits for A to end */
	if (!(arg & OLD_REINIT))
		return task_call(a, arg & T_OPS);
	SETUP(green_init(&cfg));
	SETUP(spawn_gated(&b));
	r = task_intact(b, task_call(a, arg & T_OPS));
	if ((e = green_shutdown()) != 0)
		return report(R_DAMAGED, "call on A = %ld; green_shutdown = %d",
			      r, e);
	return r;
}

static const struct row task_rows[] = {
	/* NULL */
	{ "spawn NULL fn", IN_TASK, spawn_null_fn, 1, -EINVAL },
	{ "spawn NULL fn, detached (NULL handle pointer)", IN_TASK,
	  spawn_null_fn, 0, -EINVAL },
	{ "join NULL", IN_TASK, null_task, T_JOIN, -EINVAL },
	{ "detach NULL", IN_TASK, null_task, T_DETACH, -EINVAL },
	{ "cancel NULL", IN_TASK, null_task, T_CANCEL, -EINVAL },
	{ "task_id of NULL: 0", IN_TASK, null_task, T_ID, 0 },

	/* joined (API.md: a task handle after its join is detected) */
	{ "join twice", IN_TASK, joined_task, T_JOIN, -EINVAL },
	{ "detach joined", IN_TASK, joined_task, T_DETACH, -EINVAL },
	{ "cancel joined", IN_TASK, joined_task, T_CANCEL, -EINVAL },
	{ "task_id of joined: 0 (undocumented)", IN_TASK, joined_task, T_ID,
	  0 },

	/* joined A, B spawned since (A's struct); B must stay intact */
	{ "join stale A, B intact", IN_TASK, alias_task, T_JOIN, -EINVAL },
	{ "detach stale A, B intact", IN_TASK, alias_task, T_DETACH, -EINVAL },
	{ "cancel stale A, B intact", IN_TASK, alias_task, T_CANCEL, -EINVAL },
	{ "task_id of stale A: 0, not B's (undocumented)", IN_TASK, alias_task,
	  T_ID, 0 },

	/* detached */
	{ "join detached (still running)", IN_TASK, detached_task, T_JOIN,
	  -EINVAL },
	{ "detach twice (still running)", IN_TASK, detached_task, T_DETACH,
	  -EINVAL },
	{ "cancel detached (undocumented; handle invalid after detach)",
	  IN_TASK, detached_task, T_CANCEL, -EINVAL },
	{ "join detached and ended, B intact", IN_TASK_1, detached_alias,
	  T_JOIN, -EINVAL },
	{ "detach detached and ended, B intact", IN_TASK_1, detached_alias,
	  T_DETACH, -EINVAL },
	{ "cancel detached and ended, B intact", IN_TASK_1, detached_alias,
	  T_CANCEL, -EINVAL },

	/* from a runtime that was shut down, in a new runtime */
	{ "join joined A of an old runtime, B intact", BARE, old_runtime,
	  T_JOIN | OLD_JOINED | OLD_REINIT, -EINVAL },
	{ "detach joined A of an old runtime, B intact", BARE, old_runtime,
	  T_DETACH | OLD_JOINED | OLD_REINIT, -EINVAL },
	{ "cancel joined A of an old runtime, B intact", BARE, old_runtime,
	  T_CANCEL | OLD_JOINED | OLD_REINIT, -EINVAL },
	{ "join unjoined A of an old runtime, B intact", BARE, old_runtime,
	  T_JOIN | OLD_REINIT, -EINVAL },
	{ "detach unjoined A of an old runtime, B intact", BARE, old_runtime,
	  T_DETACH | OLD_REINIT, -EINVAL },
	{ "cancel unjoined A of an old runtime, B intact", BARE, old_runtime,
	  T_CANCEL | OLD_REINIT, -EINVAL },
	/* ... and with no runtime since: -EPERM, "No runtime is running" */
	{ "join A of an old runtime, no runtime now", BARE, old_runtime,
	  T_JOIN, -EPERM },
	{ "detach A of an old runtime, no runtime now", BARE, old_runtime,
	  T_DETACH, -EPERM },
	{ "cancel A of an old runtime, no runtime now", BARE, old_runtime,
	  T_CANCEL, -EPERM },
	{ "join joined A of an old runtime, no runtime now", BARE,
	  old_runtime, T_JOIN | OLD_JOINED, -EPERM },
};

/* --- a plain thread, and no runtime -------------------------------------- */

static long
ctx_spawn(int with_handle)
{
	green_task_t *t;
	void *res = NULL;
	int r;

	if (!with_handle)
		return green_spawn(NULL, NULL, ret_arg, NULL);
	r = green_spawn(&t, NULL, ret_arg, (void *)5);
	if (r != 0)
		return r;
	r = green_join(t, &res, green_now() + PROMPT);
	if (r != 0 || res != (void *)5)
		return report(R_VALUE, "join = %d, result %p", r, res);
	return 0;
}

/* join a task that is still running (at the gate), deadline 0 */
static long
ctx_join_running(int unused)
{
	green_task_t *t;

	(void)unused;
	SETUP(spawn_gated(&t));
	return task_intact(t, green_join(t, NULL, 0));
}

static long
ctx_yield(int unused)
{
	(void)unused;
	green_yield();
	return 0;
}

static long
ctx_self(int unused)
{
	(void)unused;
	return (long)(intptr_t)green_self();
}

enum { SL_ZERO, SL_SOON, SL_FOREVER };

static long
ctx_sleep(int kind)
{
	switch (kind) {
	case SL_ZERO:
		return green_sleep(0);
	case SL_SOON:
		return green_sleep(green_now() + GREEN_MSEC(1));
	case SL_FOREVER:
		return green_sleep(GREEN_FOREVER);
	}
	return report(R_SETUP, "unknown sleep %d", kind);
}

static long
ctx_worker_id(int unused)
{
	(void)unused;
	return green_worker_id();
}

static long
ctx_shutdown(int unused)
{
	(void)unused;
	return green_shutdown();
}

enum { X_SEND_ROOM, X_SEND_NONE, X_RECV_EMPTY, X_SELECT_RECV };

/* Channel calls, deadline 0 (channels work without a runtime). */
static long
ctx_chan(int op)
{
	green_chan_t *ch;
	int64_t v = 3, got = 0;
	green_case_t c = { .kind = GREEN_RECV, .elem = &got };
	long r = 0;

	SETUP(green_chan_create(&ch, I64, op == X_SEND_NONE ? 0 : 1));
	c.chan = ch;
	switch (op) {
	case X_SEND_ROOM:
		r = green_chan_send(ch, &v, 0);
		if (r == 0 && (green_chan_recv(ch, &got, 0) != 0 || got != 3))
			r = report(R_VALUE, "received %lld, want 3",
				   (long long)got);
		break;
	case X_SEND_NONE:
		r = green_chan_send(ch, &v, 0);
		break;
	case X_RECV_EMPTY:
		r = green_chan_recv(ch, &got, 0);
		break;
	case X_SELECT_RECV:
		r = green_select(&c, 1, 0);
		break;
	}
	SETUP(green_chan_destroy(ch));
	return r;
}

enum { Y_MUTEX_FREE, Y_MUTEX_HELD, Y_SEM, Y_WG, Y_COND };

/* Synchronisation calls, deadline 0 (they work without a runtime). */
static long
ctx_sync(int op)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	green_cond_t c = GREEN_COND_INITIALIZER;
	green_sem_t s = GREEN_SEM_INITIALIZER(0);
	green_wg_t wg = GREEN_WG_INITIALIZER;
	long r;
	int e;

	switch (op) {
	case Y_MUTEX_FREE:
		r = green_mutex_lock(&m, 0);
		if (r == 0)
			SETUP(green_mutex_unlock(&m));
		return r;
	case Y_MUTEX_HELD:
		SETUP(green_mutex_trylock(&m));
		r = green_mutex_lock(&m, 0);
		SETUP(green_mutex_unlock(&m));
		return r;
	case Y_SEM:
		return green_sem_acquire(&s, 0);
	case Y_WG:
		SETUP(green_wg_add(&wg, 1));
		return green_wg_wait(&wg, 0);
	case Y_COND:
		SETUP(green_mutex_lock(&m, 0));
		r = green_cond_wait(&c, &m, 0);
		if ((e = green_mutex_trylock(&m)) != -EBUSY)
			return report(R_DAMAGED,
				      "cond_wait = %ld; then trylock = %d "
				      "(want -EBUSY: locked again)",
				      r, e);
		SETUP(green_mutex_unlock(&m));
		return r;
	}
	return report(R_SETUP, "unknown sync op %d", op);
}

static void *
ret_seven(void *arg)
{
	(void)arg;
	return (void *)7;
}

enum { Z_READ, Z_FDWAIT, Z_SELECT_FD, Z_CLOSE, Z_OFFLOAD };

/* I/O calls on the read end of an empty pipe, deadline 0. */
static long
ctx_io(int op)
{
	int fds[2];
	char b;
	void *res = NULL;
	green_case_t c = { .kind = GREEN_FD_READ };
	long r = 0;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return report(R_SETUP, "pipe2: %s", strerror(errno));
	c.fd = fds[0];
	switch (op) {
	case Z_READ:
		r = green_read(fds[0], &b, 1, 0);
		break;
	case Z_FDWAIT:
		r = green_fdwait(fds[0], GREEN_READ, 0);
		break;
	case Z_SELECT_FD:
		r = green_select(&c, 1, 0);
		break;
	case Z_CLOSE:
		r = green_close(fds[0]);
		if (r == 0 && fcntl(fds[0], F_GETFD) != -1)
			r = report(R_VALUE, "the fd is still open");
		fds[0] = -1;
		break;
	case Z_OFFLOAD:
		r = green_offload(ret_seven, NULL, &res, 0);
		if (r == 0 && res != (void *)7)
			r = report(R_VALUE, "offload result %p", res);
		break;
	}
	if (fds[0] >= 0)
		green_close(fds[0]);
	green_close(fds[1]);
	return r;
}

static long
ctx_join_null(int unused)
{
	(void)unused;
	return green_join(NULL, NULL, 0);
}

static long
ctx_cancel_self(int unused)
{
	(void)unused;
	return green_cancel(green_self());
}

static long
ctx_task_id_self(int unused)
{
	(void)unused;
	return (long)green_task_id(green_self());
}

static const struct row context_rows[] = {
	/* a plain thread while the runtime runs */
	{ "thread: spawn, then join it", IN_THREAD, ctx_spawn, 1, 0 },
	{ "thread: spawn detached", IN_THREAD, ctx_spawn, 0, 0 },
	{ "thread: join a running task, deadline 0", IN_THREAD,
	  ctx_join_running, 0, -ETIMEDOUT },
	{ "thread: join NULL", IN_THREAD, ctx_join_null, 0, -EINVAL },
	{ "thread: yield (sched_yield)", IN_THREAD, ctx_yield, 0, 0 },
	{ "thread: self is NULL", IN_THREAD, ctx_self, 0, 0 },
	{ "thread: task_id(self()) is 0", IN_THREAD, ctx_task_id_self, 0, 0 },
	{ "thread: cancel(self()), i.e. NULL", IN_THREAD, ctx_cancel_self, 0,
	  -EINVAL },
	{ "thread: sleep(0)", IN_THREAD, ctx_sleep, SL_ZERO, 0 },
	{ "thread: sleep(now + 1 ms)", IN_THREAD, ctx_sleep, SL_SOON, 0 },
	{ "thread: sleep(GREEN_FOREVER)", IN_THREAD, ctx_sleep, SL_FOREVER,
	  -EINVAL },
	{ "thread: worker_id", IN_THREAD, ctx_worker_id, 0, -EPERM },
	{ "thread: chan send with room, deadline 0", IN_THREAD, ctx_chan,
	  X_SEND_ROOM, 0 },
	{ "thread: chan send, no receiver, deadline 0", IN_THREAD, ctx_chan,
	  X_SEND_NONE, -ETIMEDOUT },
	{ "thread: chan recv empty, deadline 0", IN_THREAD, ctx_chan,
	  X_RECV_EMPTY, -ETIMEDOUT },
	{ "thread: select recv empty, deadline 0", IN_THREAD, ctx_chan,
	  X_SELECT_RECV, -ETIMEDOUT },
	{ "thread: mutex_lock free, deadline 0", IN_THREAD, ctx_sync,
	  Y_MUTEX_FREE, 0 },
	{ "thread: mutex_lock held, deadline 0", IN_THREAD, ctx_sync,
	  Y_MUTEX_HELD, -ETIMEDOUT },
	{ "thread: sem_acquire no permit, deadline 0", IN_THREAD, ctx_sync,
	  Y_SEM, -ETIMEDOUT },
	{ "thread: wg_wait counter 1, deadline 0", IN_THREAD, ctx_sync, Y_WG,
	  -ETIMEDOUT },
	{ "thread: cond_wait deadline 0, mutex locked again", IN_THREAD,
	  ctx_sync, Y_COND, -ETIMEDOUT },
	{ "thread: read empty pipe, deadline 0", IN_THREAD, ctx_io, Z_READ,
	  -ETIMEDOUT },
	{ "thread: fdwait empty pipe, deadline 0", IN_THREAD, ctx_io,
	  Z_FDWAIT, -ETIMEDOUT },
	{ "thread: select fd case, deadline 0", IN_THREAD, ctx_io,
	  Z_SELECT_FD, -ETIMEDOUT },
	{ "thread: offload runs fn in the thread", IN_THREAD, ctx_io,
	  Z_OFFLOAD, 0 },

	/* no runtime: before green_init */
	{ "no runtime: spawn", BARE, ctx_spawn, 1, -EPERM },
	{ "no runtime: spawn detached", BARE, ctx_spawn, 0, -EPERM },
	{ "no runtime: join NULL (undocumented order: -EPERM)", BARE,
	  ctx_join_null, 0, -EPERM },
	{ "no runtime: yield (sched_yield)", BARE, ctx_yield, 0, 0 },
	{ "no runtime: self is NULL", BARE, ctx_self, 0, 0 },
	{ "no runtime: task_id(self()) is 0", BARE, ctx_task_id_self, 0, 0 },
	{ "no runtime: sleep(0)", BARE, ctx_sleep, SL_ZERO, 0 },
	{ "no runtime: sleep(now + 1 ms)", BARE, ctx_sleep, SL_SOON, 0 },
	{ "no runtime: sleep(GREEN_FOREVER)", BARE, ctx_sleep, SL_FOREVER,
	  -EINVAL },
	{ "no runtime: worker_id", BARE, ctx_worker_id, 0, -EPERM },
	{ "no runtime: shutdown", BARE, ctx_shutdown, 0, -EPERM },
	{ "no runtime: chan send with room, deadline 0", BARE, ctx_chan,
	  X_SEND_ROOM, 0 },
	{ "no runtime: chan send, no receiver, deadline 0", BARE, ctx_chan,
	  X_SEND_NONE, -ETIMEDOUT },
	{ "no runtime: chan recv empty, deadline 0", BARE, ctx_chan,
	  X_RECV_EMPTY, -ETIMEDOUT },
	{ "no runtime: select recv empty, deadline 0", BARE, ctx_chan,
	  X_SELECT_RECV, -ETIMEDOUT },
	{ "no runtime: mutex_lock free, deadline 0", BARE, ctx_sync,
	  Y_MUTEX_FREE, 0 },
	{ "no runtime: mutex_lock held, deadline 0", BARE, ctx_sync,
	  Y_MUTEX_HELD, -ETIMEDOUT },
	{ "no runtime: sem_acquire no permit, deadline 0", BARE, ctx_sync,
	  Y_SEM, -ETIMEDOUT },
	{ "no runtime: wg_wait counter 1, deadline 0", BARE, ctx_sync, Y_WG,
	  -ETIMEDOUT },
	{ "no runtime: cond_wait deadline 0, mutex locked again", BARE,
	  ctx_sync, Y_COND, -ETIMEDOUT },
	{ "no runtime: read", BARE, ctx_io, Z_READ, -EPERM },
	{ "no runtime: fdwait", BARE, ctx_io, Z_FDWAIT, -EPERM },
	{ "no runtime: select fd case", BARE, ctx_io, Z_SELECT_FD, -EPERM },
	{ "no runtime: close just closes", BARE, ctx_io, Z_CLOSE, 0 },
	{ "no runtime: offload", BARE, ctx_io, Z_OFFLOAD, -EPERM },
};

/* --- caller-allocated synchronisation objects ---------------------------- */

enum {
	/* NULL where the object goes */
	N_MUTEX_INIT,
	N_MUTEX_DESTROY,
	N_MUTEX_LOCK,
	N_MUTEX_TRYLOCK,
	N_MUTEX_UNLOCK,
	N_COND_INIT,
	N_COND_DESTROY,
	N_COND_WAIT_C, /* NULL cond, locked mutex */
	N_COND_WAIT_M, /* valid cond, NULL mutex */
	N_COND_SIGNAL,
	N_COND_BROADCAST,
	N_WG_INIT,
	N_WG_ADD,
	N_WG_DONE,
	N_WG_WAIT,
	N_SEM_INIT,
	N_SEM_DESTROY,
	N_SEM_ACQUIRE,
	N_SEM_RELEASE,
};

static long
null_sync(int op)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	green_cond_t c = GREEN_COND_INITIALIZER;
	long r;

	switch (op) {
	case N_MUTEX_INIT:
		return green_mutex_init(NULL);
	case N_MUTEX_DESTROY:
		return green_mutex_destroy(NULL);
	case N_MUTEX_LOCK:
		return green_mutex_lock(NULL, 0);
	case N_MUTEX_TRYLOCK:
		return green_mutex_trylock(NULL);
	case N_MUTEX_UNLOCK:
		return green_mutex_unlock(NULL);
	case N_COND_INIT:
		return green_cond_init(NULL);
	case N_COND_DESTROY:
		return green_cond_destroy(NULL);
	case N_COND_WAIT_C:
		SETUP(green_mutex_lock(&m, 0));
		r = green_cond_wait(NULL, &m, 0);
		SETUP(green_mutex_unlock(&m));
		return r;
	case N_COND_WAIT_M:
		return green_cond_wait(&c, NULL, 0);
	case N_COND_SIGNAL:
		return green_cond_signal(NULL);
	case N_COND_BROADCAST:
		return green_cond_broadcast(NULL);
	case N_WG_INIT:
		return green_wg_init(NULL);
	case N_WG_ADD:
		return green_wg_add(NULL, 1);
	case N_WG_DONE:
		return green_wg_done(NULL);
	case N_WG_WAIT:
		return green_wg_wait(NULL, 0);
	case N_SEM_INIT:
		return green_sem_init(NULL, 1);
	case N_SEM_DESTROY:
		return green_sem_destroy(NULL);
	case N_SEM_ACQUIRE:
		return green_sem_acquire(NULL, 0);
	case N_SEM_RELEASE:
		return green_sem_release(NULL);
	}
	return report(R_SETUP, "unknown op %d", op);
}

enum { D_LOCK, D_TRYLOCK, D_UNLOCK, D_DESTROY, D_REINIT_LOCK,
       D_REINIT_TRYLOCK };

/* A mutex initialised and destroyed, then the call. */
static long
destroyed_mutex(int op)
{
	green_mutex_t m;
	long r;

	SETUP(green_mutex_init(&m));
	SETUP(green_mutex_destroy(&m));
	switch (op) {
	case D_LOCK:
		return green_mutex_lock(&m, 0);
	case D_TRYLOCK:
		return green_mutex_trylock(&m);
	case D_UNLOCK:
		return green_mutex_unlock(&m);
	case D_DESTROY:
		return green_mutex_destroy(&m);
	case D_REINIT_LOCK:
	case D_REINIT_TRYLOCK:
		if ((r = green_mutex_init(&m)) != 0)
			return r;
		r = op == D_REINIT_LOCK ? green_mutex_lock(&m, 0)
					: green_mutex_trylock(&m);
		if (r == 0)
			SETUP(green_mutex_unlock(&m));
		return r;
	}
	return report(R_SETUP, "unknown op %d", op);
}

enum { DC_WAIT, DC_SIGNAL, DC_BROADCAST, DC_DESTROY, DC_REINIT_SIGNAL,
       DC_REINIT_WAIT };

/* A condition variable initialised and destroyed, then the call. */
static long
destroyed_cond(int op)
{
	green_cond_t c;
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	long r;
	int e;

	SETUP(green_cond_init(&c));
	SETUP(green_cond_destroy(&c));
	switch (op) {
	case DC_SIGNAL:
		return green_cond_signal(&c);
	case DC_BROADCAST:
		return green_cond_broadcast(&c);
	case DC_DESTROY:
		return green_cond_destroy(&c);
	case DC_REINIT_SIGNAL:
		if ((r = green_cond_init(&c)) != 0)
			return r;
		return green_cond_signal(&c);
	case DC_REINIT_WAIT:
		if ((r = green_cond_init(&c)) != 0)
			return r;
		/* fall through */
	case DC_WAIT:
		SETUP(green_mutex_lock(&m, 0));
		r = green_cond_wait(&c, &m, 0);
		/* failed or timed out, it returns with m locked */
		if ((e = green_mutex_trylock(&m)) != -EBUSY)
			return report(R_DAMAGED,
				      "cond_wait = %ld; then trylock(m) = %d "
				      "(want -EBUSY: still locked)",
				      r, e);
		SETUP(green_mutex_unlock(&m));
		return r;
	}
	return report(R_SETUP, "unknown op %d", op);
}

enum { DS_ACQUIRE, DS_RELEASE, DS_DESTROY, DS_REINIT_ACQUIRE };

/* A semaphore initialised with a permit and destroyed, then the call. */
static long
destroyed_sem(int op)
{
	green_sem_t s;
	long r;

	SETUP(green_sem_init(&s, 1));
	SETUP(green_sem_destroy(&s));
	switch (op) {
	case DS_ACQUIRE:
		return green_sem_acquire(&s, 0);
	case DS_RELEASE:
		return green_sem_release(&s);
	case DS_DESTROY:
		return green_sem_destroy(&s);
	case DS_REINIT_ACQUIRE:
		if ((r = green_sem_init(&s, 1)) != 0)
			return r;
		return green_sem_acquire(&s, 0);
	}
	return report(R_SETUP, "unknown op %d", op);
}

static void *
lock_it(void *arg)
{
	return (void *)(intptr_t)green_mutex_lock(arg, 0);
}

enum { M_UNLOCK_UNLOCKED, M_UNLOCK_OTHERS, M_DESTROY_LOCKED,
       M_COND_WAIT_UNLOCKED, M_WG_DONE_ZERO, M_WG_ADD_BELOW_ZERO };

/* The other misuses the pages name. */
static long
sync_misuse(int op)
{
	green_mutex_t m = GREEN_MUTEX_INITIALIZER;
	green_cond_t c = GREEN_COND_INITIALIZER;
	green_wg_t wg = GREEN_WG_INITIALIZER;
	green_task_t *t;
	void *res = (void *)1;
	long r;
	int e;

	switch (op) {
	case M_UNLOCK_UNLOCKED:
		return green_mutex_unlock(&m);
	case M_UNLOCK_OTHERS:
		/* another task locks it; a mutex has no owner */
		SETUP(green_spawn(&t, NULL, lock_it, &m));
		SETUP(green_join(t, &res, green_now() + PROMPT));
		SETUP((long)(intptr_t)res);
		r = green_mutex_unlock(&m);
		if (r == 0 && (e = green_mutex_trylock(&m)) != 0)
			return report(R_DAMAGED,
				      "unlock = 0; then trylock = %d", e);
		return r;
	case M_DESTROY_LOCKED:
		SETUP(green_mutex_lock(&m, 0));
		r = green_mutex_destroy(&m);
		if ((e = green_mutex_trylock(&m)) != -EBUSY)
			return report(R_DAMAGED,
				      "destroy = %ld; then trylock = %d "
				      "(want -EBUSY: left as it was)",
				      r, e);
		SETUP(green_mutex_unlock(&m));
		return r;
	case M_COND_WAIT_UNLOCKED:
		r = green_cond_wait(&c, &m, 0);
		if ((e = green_mutex_trylock(&m)) != 0)
			return report(R_DAMAGED,
				      "cond_wait = %ld; then trylock = %d "
				      "(want 0: left unlocked)",
				      r, e);
		return r;
	case M_WG_DONE_ZERO:
		return green_wg_done(&wg);
	case M_WG_ADD_BELOW_ZERO:
		SETUP(green_wg_add(&wg, 1));
		return green_wg_add(&wg, -2);
	}
	return report(R_SETUP, "unknown op %d", op);
}

static const struct row sync_rows[] = {
	/* NULL */
	{ "mutex_init NULL", IN_TASK, null_sync, N_MUTEX_INIT, -EINVAL },
	{ "mutex_destroy NULL", IN_TASK, null_sync, N_MUTEX_DESTROY, -EINVAL },
	{ "mutex_lock NULL", IN_TASK, null_sync, N_MUTEX_LOCK, -EINVAL },
	{ "mutex_trylock NULL", IN_TASK, null_sync, N_MUTEX_TRYLOCK, -EINVAL },
	{ "mutex_unlock NULL", IN_TASK, null_sync, N_MUTEX_UNLOCK, -EINVAL },
	{ "cond_init NULL", IN_TASK, null_sync, N_COND_INIT, -EINVAL },
	{ "cond_destroy NULL", IN_TASK, null_sync, N_COND_DESTROY, -EINVAL },
	{ "cond_wait NULL cond", IN_TASK, null_sync, N_COND_WAIT_C, -EINVAL },
	{ "cond_wait NULL mutex", IN_TASK, null_sync, N_COND_WAIT_M, -EINVAL },
	{ "cond_signal NULL", IN_TASK, null_sync, N_COND_SIGNAL, -EINVAL },
	{ "cond_broadcast NULL", IN_TASK, null_sync, N_COND_BROADCAST,
	  -EINVAL },
	{ "wg_init NULL", IN_TASK, null_sync, N_WG_INIT, -EINVAL },
	{ "wg_add NULL", IN_TASK, null_sync, N_WG_ADD, -EINVAL },
	{ "wg_done NULL", IN_TASK, null_sync, N_WG_DONE, -EINVAL },
	{ "wg_wait NULL", IN_TASK, null_sync, N_WG_WAIT, -EINVAL },
	{ "sem_init NULL", IN_TASK, null_sync, N_SEM_INIT, -EINVAL },
	{ "sem_destroy NULL", IN_TASK, null_sync, N_SEM_DESTROY, -EINVAL },
	{ "sem_acquire NULL", IN_TASK, null_sync, N_SEM_ACQUIRE, -EINVAL },
	{ "sem_release NULL", IN_TASK, null_sync, N_SEM_RELEASE, -EINVAL },

	/* destroyed: rejected until initialised again */
	{ "mutex_lock destroyed", IN_TASK, destroyed_mutex, D_LOCK, -EINVAL },
	{ "mutex_trylock destroyed", IN_TASK, destroyed_mutex, D_TRYLOCK,
	  -EINVAL },
	{ "mutex_unlock destroyed", IN_TASK, destroyed_mutex, D_UNLOCK,
	  -EINVAL },
	{ "mutex_destroy twice", IN_TASK, destroyed_mutex, D_DESTROY,
	  -EINVAL },
	{ "mutex destroyed, init again: lock", IN_TASK, destroyed_mutex,
	  D_REINIT_LOCK, 0 },
	{ "mutex destroyed, init again: trylock", IN_TASK, destroyed_mutex,
	  D_REINIT_TRYLOCK, 0 },
	{ "cond_wait destroyed (mutex stays locked)", IN_TASK, destroyed_cond,
	  DC_WAIT, -EINVAL },
	{ "cond_signal destroyed", IN_TASK, destroyed_cond, DC_SIGNAL,
	  -EINVAL },
	{ "cond_broadcast destroyed", IN_TASK, destroyed_cond, DC_BROADCAST,
	  -EINVAL },
	{ "cond_destroy twice", IN_TASK, destroyed_cond, DC_DESTROY, -EINVAL },
	{ "cond destroyed, init again: signal", IN_TASK, destroyed_cond,
	  DC_REINIT_SIGNAL, 0 },
	{ "cond destroyed, init again: wait deadline 0", IN_TASK,
	  destroyed_cond, DC_REINIT_WAIT, -ETIMEDOUT },
	{ "sem_acquire destroyed (it had a permit)", IN_TASK, destroyed_sem,
	  DS_ACQUIRE, -EINVAL },
	{ "sem_release destroyed", IN_TASK, destroyed_sem, DS_RELEASE,
	  -EINVAL },
	{ "sem_destroy twice", IN_TASK, destroyed_sem, DS_DESTROY, -EINVAL },
	{ "sem destroyed, init(1) again: acquire", IN_TASK, destroyed_sem,
	  DS_REINIT_ACQUIRE, 0 },

	/* the other misuses the pages name */
	{ "mutex_unlock not locked", IN_TASK, sync_misuse, M_UNLOCK_UNLOCKED,
	  -EPERM },
	{ "mutex_unlock of one another task locked (no owner)", IN_TASK,
	  sync_misuse, M_UNLOCK_OTHERS, 0 },
	{ "mutex_destroy locked (left locked)", IN_TASK, sync_misuse,
	  M_DESTROY_LOCKED, -EBUSY },
	{ "cond_wait with the mutex unlocked", IN_TASK, sync_misuse,
	  M_COND_WAIT_UNLOCKED, -EPERM },
	{ "wg_done with counter 0", IN_TASK, sync_misuse, M_WG_DONE_ZERO,
	  -EINVAL },
	{ "wg_add below 0", IN_TASK, sync_misuse, M_WG_ADD_BELOW_ZERO,
	  -EINVAL },
};

/* --- file descriptors ----------------------------------------------------- */

enum {
	F_READ,
	F_WRITE,
	F_READV,
	F_WRITEV,
	F_RECV,
	F_SEND,
	F_RECVFROM,
	F_SENDTO,
	F_RECVMSG,
	F_SENDMSG,
	F_ACCEPT,
	F_CONNECT,
	F_FDWAIT,
	F_SELECT,
	F_CLOSE,
	F_OPS = 0xff,
	CLOSED_FD = 0x100, /* a pipe's read end, used, then green_close'd */
};

/* One call on fd, deadline 0. */
static long
fd_call(int fd, int op)
{
	char b[4] = "abc";
	struct iovec iov = { b, sizeof(b) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sa);
	green_case_t c = { .kind = GREEN_FD_READ, .fd = fd };
	int r;

	switch (op) {
	case F_READ:
		return green_read(fd, b, sizeof(b), 0);
	case F_WRITE:
		return green_write(fd, b, sizeof(b), 0);
	case F_READV:
		return green_readv(fd, &iov, 1, 0);
	case F_WRITEV:
		return green_writev(fd, &iov, 1, 0);
	case F_RECV:
		return green_recv(fd, b, sizeof(b), 0, 0);
	case F_SEND:
		return green_send(fd, b, sizeof(b), 0, 0);
	case F_RECVFROM:
		return green_recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&sa,
				      &len, 0);
	case F_SENDTO:
		return green_sendto(fd, b, sizeof(b), 0,
				    (const struct sockaddr *)&sa, sizeof(sa), 0);
	case F_RECVMSG:
		return green_recvmsg(fd, &msg, 0, 0);
	case F_SENDMSG:
		return green_sendmsg(fd, &msg, 0, 0);
	case F_ACCEPT:
		return green_accept(fd, NULL, NULL, 0, 0);
	case F_CONNECT:
		return green_connect(fd, (const struct sockaddr *)&sa,
				     sizeof(sa), 0);
	case F_FDWAIT:
		return green_fdwait(fd, GREEN_READ, 0);
	case F_SELECT:
		r = green_select(&c, 1, 0);
		return r == 0 ? c.result : r;
	case F_CLOSE:
		return green_close(fd);
	}
	return report(R_SETUP, "unknown fd op %d", op);
}

/* fd -1, or a descriptor libgreen knew and green_close closed. */
static long
bad_fd(int arg)
{
	int fds[2];
	char b;
	long r;

	if (!(arg & CLOSED_FD))
		return fd_call(-1, arg & F_OPS);
	if (pipe2(fds, O_CLOEXEC) != 0)
		return report(R_SETUP, "pipe2: %s", strerror(errno));
	/* libgreen takes the fd over (non-blocking, polled) */
	r = green_read(fds[0], &b, 1, 0);
	if (r != -ETIMEDOUT)
		return report(R_SETUP, "green_read(empty pipe) = %ld", r);
	SETUP(green_close(fds[0]));
	r = fd_call(fds[0], arg & F_OPS);
	green_close(fds[1]);
	return r;
}

static long
offload_null_fn(int unused)
{
	(void)unused;
	return green_offload(NULL, NULL, NULL, 0);
}

static const struct row fd_rows[] = {
	{ "read fd -1", IN_TASK, bad_fd, F_READ, -EBADF },
	{ "write fd -1", IN_TASK, bad_fd, F_WRITE, -EBADF },
	{ "readv fd -1", IN_TASK, bad_fd, F_READV, -EBADF },
	{ "writev fd -1", IN_TASK, bad_fd, F_WRITEV, -EBADF },
	{ "recv fd -1", IN_TASK, bad_fd, F_RECV, -EBADF },
	{ "send fd -1", IN_TASK, bad_fd, F_SEND, -EBADF },
	{ "recvfrom fd -1", IN_TASK, bad_fd, F_RECVFROM, -EBADF },
	{ "sendto fd -1", IN_TASK, bad_fd, F_SENDTO, -EBADF },
	{ "recvmsg fd -1", IN_TASK, bad_fd, F_RECVMSG, -EBADF },
	{ "sendmsg fd -1", IN_TASK, bad_fd, F_SENDMSG, -EBADF },
	{ "accept fd -1", IN_TASK, bad_fd, F_ACCEPT, -EBADF },
	{ "connect fd -1", IN_TASK, bad_fd, F_CONNECT, -EBADF },
	{ "fdwait fd -1", IN_TASK, bad_fd, F_FDWAIT, -EBADF },
	{ "select fd case fd -1", IN_TASK, bad_fd, F_SELECT, -EBADF },
	{ "close fd -1", IN_TASK, bad_fd, F_CLOSE, -EBADF },
	{ "read closed fd", IN_TASK, bad_fd, F_READ | CLOSED_FD, -EBADF },
	{ "fdwait closed fd", IN_TASK, bad_fd, F_FDWAIT | CLOSED_FD, -EBADF },
	{ "select fd case on closed fd", IN_TASK, bad_fd,
	  F_SELECT | CLOSED_FD, -EBADF },
	{ "close closed fd", IN_TASK, bad_fd, F_CLOSE | CLOSED_FD, -EBADF },
	{ "offload NULL fn", IN_TASK, offload_null_fn, 0, -EINVAL },
};

/* --- running the rows ------------------------------------------------------ */

/* The child's line that carries the row's result. */
#define RESULT_TAG "misuse-result: "

/* Child exit statuses other than 0 (the row ran, the runtime shut down). */
enum { EXIT_INIT = 2, EXIT_RUN = 3, EXIT_SHUTDOWN = 4 };

static void *
row_in_task(void *arg)
{
	const struct row *r = arg;

	return (void *)(intptr_t)r->call(r->arg);
}

/* In the row's child: run the call where the row says, print its result. */
static int
row_child(void *arg)
{
	const struct row *r = arg;
	void *res = NULL;
	long got;
	int e;

	alarm(ROW_ALARM);
	if (r->where == BARE) {
		got = r->call(r->arg);
	} else {
		if ((e = green_init(r->where == IN_TASK_1 ? &cfg1 : &cfg)) !=
		    0) {
			fprintf(stderr, "green_init = %d\n", e);
			return EXIT_INIT;
		}
		if (r->where != IN_THREAD) {
			res = run_task(row_in_task, (void *)r, &e);
		} else {
			pthread_t th;

			e = pthread_create(&th, NULL, row_in_task, (void *)r);
			if (e == 0)
				e = -pthread_join(th, &res);
		}
		if (e != 0) {
			fprintf(stderr, "running the row: %d\n", e);
			return EXIT_RUN;
		}
		got = (long)(intptr_t)res;
	}
	fprintf(stderr, RESULT_TAG "%ld\n", got);
	if (r->where != BARE && (e = green_shutdown()) != 0) {
		fprintf(stderr, "green_shutdown = %d\n", e);
		return EXIT_SHUTDOWN;
	}
	return 0;
}

static const struct {
	int code;
	const char *name;
} errnames[] = {
	{ EINVAL, "EINVAL" },	  { EPIPE, "EPIPE" },
	{ EPERM, "EPERM" },	  { EBUSY, "EBUSY" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { ECANCELED, "ECANCELED" },
	{ EDEADLK, "EDEADLK" },	  { EBADF, "EBADF" },
	{ ENOMEM, "ENOMEM" },	  { EAGAIN, "EAGAIN" },
	{ EOVERFLOW, "EOVERFLOW" }, { ENOTSUP, "ENOTSUP" },
	{ ENOTSOCK, "ENOTSOCK" },   { EFAULT, "EFAULT" },
	{ ESRCH, "ESRCH" },
};

/* A row result as the report shows it. */
static const char *
show(long v, char *buf, size_t len)
{
	switch (v) {
	case R_SETUP:
		return "a setup call failed";
	case R_DAMAGED:
		return "a valid object damaged";
	case R_VALUE:
		return "wrong data";
	}
	for (size_t i = 0; i < NROWS(errnames); i++)
		if (v == -errnames[i].code) {
			snprintf(buf, len, "-%s", errnames[i].name);
			return buf;
		}
	snprintf(buf, len, "%ld", v);
	return buf;
}

/* The child's stderr without the result line, on one line, shortened. */
static void
excerpt(const char *out, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	while (*out != '\0' && n + 1 < len) {
		const char *eol = strchrnul(out, '\n');
		int l = (int)(eol - out);

		if (strncmp(out, RESULT_TAG, strlen(RESULT_TAG)) != 0 && l > 0)
			n += (size_t)snprintf(buf + n, len - n, "%s%.*s",
					      n > 0 ? " | " : "", l, out);
		out = *eol != '\0' ? eol + 1 : eol;
	}
	if (n >= len - 1 && len > 4)
		strcpy(buf + len - 4, "...");
}

/*
 * Run one row in its child.  Returns true when it matched; else writes
 * what happened instead to why.
 */
static bool
run_row(const struct row *r, char *why, size_t len)
{
	char out[4096], tail[320], a[32], b[32], st[96];
	const char *tag;
	int status = 0;
	long got = 0;
	bool have;

	if (run_forked(row_child, (void *)r, &status, out, sizeof(out)) != 0) {
		snprintf(why, len, "the child could not be run: %s",
			 strerror(errno));
		return false;
	}
	tag = strstr(out, RESULT_TAG);
	have = tag != NULL &&
	       sscanf(tag + strlen(RESULT_TAG), "%ld", &got) == 1;
	excerpt(out, tail, sizeof(tail));
	if (getenv("MISUSE_VERBOSE") != NULL)
		fprintf(stderr, "row \"%s\": %s%s%s\n", r->what,
			have ? show(got, b, sizeof(b)) : "no result",
			tail[0] != '\0' ? "; stderr: " : "", tail);
	if (have && got == r->want && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		return true;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(st, sizeof(st), "hung: killed after %d s",
			 ROW_ALARM);
	else
		describe_status(status, st, sizeof(st));
	if (!have)
		snprintf(why, len, "expected %s, got no result: child %s%s%s",
			 show(r->want, a, sizeof(a)), st,
			 tail[0] != '\0' ? "; stderr: " : "", tail);
	else
		snprintf(why, len, "expected %s, got %s%s%s%s%s",
			 show(r->want, a, sizeof(a)), show(got, b, sizeof(b)),
			 WIFEXITED(status) && WEXITSTATUS(status) == 0
				 ? ""
				 : "; then the child ",
			 WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ""
								       : st,
			 tail[0] != '\0' ? "; stderr: " : "", tail);
	return false;
}

/* Run every row of a table; fail once, listing each row that mismatched. */
static void
run_table(const char *table, const struct row *rows, size_t n)
{
	size_t cap = 64 * 1024, used = 0, bad = 0;
	char *list = malloc(cap);

	ck_assert_ptr_nonnull(list);
	list[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char why[1024];

		if (run_row(&rows[i], why, sizeof(why)))
			continue;
		bad++;
		if (used < cap)
			used += (size_t)snprintf(list + used, cap - used,
						 "\n  %s: %s", rows[i].what,
						 why);
	}
	if (bad != 0) {
		/* check may cut a long message: the whole list goes to
		 * stderr first */
		fprintf(stderr, "misuse %s: %zu of %zu rows mismatch:%s\n",
			table, bad, n, list);
		fflush(stderr);
	}
	ck_assert_msg(bad == 0, "%zu of %zu %s rows mismatch:%s", bad, n,
		      table, list);
	free(list);
}

START_TEST(test_misuse_chan)
{
	run_table("chan", chan_rows, NROWS(chan_rows));
}
END_TEST

START_TEST(test_misuse_task)
{
	run_table("task", task_rows, NROWS(task_rows));
}
END_TEST

START_TEST(test_misuse_context)
{
	run_table("context", context_rows, NROWS(context_rows));
}
END_TEST

START_TEST(test_misuse_sync)
{
	run_table("sync", sync_rows, NROWS(sync_rows));
}
END_TEST

START_TEST(test_misuse_fd)
{
	run_table("fd", fd_rows, NROWS(fd_rows));
}
END_TEST

static Suite *
misuse_suite(void)
{
	Suite *s = suite_create("misuse");
	TCase *tc;

	/* no fixture runtime: each row's child starts its own */
	tc = add_tcase(s, "misuse", NULL, NULL, TIMEOUT);
	tcase_add_test(tc, test_misuse_chan);
	tcase_add_test(tc, test_misuse_task);
	tcase_add_test(tc, test_misuse_context);
	tcase_add_test(tc, test_misuse_sync);
	tcase_add_test(tc, test_misuse_fd);
	return s;
}

int
main(void)
{
	return run_suite(misuse_suite());
}
