/*
 * check_model.c - model-based testing of channels, select and the
 * synchronisation objects: a seeded random driver against a sequential
 * reference model.
 *
 * A driver task runs a random sequence of operations (xorshift64*, seeded
 * per run) on a few channels (unbuffered and buffered, int elements, now
 * and then destroyed and created again), one mutex, semaphore, wait group
 * and condition variable, and on "parties": tasks it spawns that each make
 * one blocking call (send, receive, select, semaphore acquire, mutex lock,
 * condition wait, wait-group wait) with no deadline or a short one, and
 * that it may cancel.
 *
 * The reference model is sequential: buffered values in order, closed
 * flags, the parked parties of every channel in FIFO order, the mutex's
 * lock and lockers, the permits, the counter, the condition's waiters.
 * What the runtime decides for itself (which ready case a select takes,
 * when a party reaches its call, when a deadline fires, which waiter an
 * unlock or a signal serves, when a cancellation lands) the model does not
 * guess: it keeps the SET of states the system may be in.  Before each
 * driver operation the set is closed under the parties' own steps; the
 * operation's result must be one that some state allows, and only the
 * states that allow it are kept.  A party's result, once it reports one,
 * is checked the same way.  An empty set is a failure: nothing the model
 * allows explains what happened.  A driver call with a short deadline is a
 * party too (the driver's own), as it can be met by parties while it
 * waits.
 *
 * On one worker, a task that has been spawned or woken has run by the time
 * the driver's green_yield() loop returns, so after each operation the set
 * is narrowed to the states where nothing runnable is left behind (deadlines
 * excepted: timers fire when they fire).  On two workers nothing is assumed
 * about timing: "parked" and "not there yet" are both kept until a result
 * tells them apart.  Liveness is checked by quiescing: within QUIESCE_NS
 * the system must reach a state the model calls stable (every live party
 * parked with nothing that can wake it).  Each sequence ends by releasing
 * (or cancelling) every party and joining it, draining and destroying the
 * channels, and a ledger check: every value a send delivered was received
 * exactly once or dropped with its channel's buffer.
 *
 * Every failure names the seed, the worker count, the step and the
 * operation, with the recent history and a state the model held.
 * MODEL_SEED=N [MODEL_STEPS=N] runs that one sequence (CK_RUN_CASE=
 * model_1_worker or model_2_workers picks the worker count); on one worker
 * the replay is exact up to timers.  MODEL_SEEDS=N runs seeds
 * MODEL_SEED_BASE (1) to MODEL_SEED_BASE + N - 1.  Seeds that found a bug
 * are kept in tests/model-seeds.txt and replayed first.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"

#ifndef MODEL_SEEDS_FILE
#define MODEL_SEEDS_FILE "tests/model-seeds.txt"
#endif

/* "Promptly": generous bounds for liveness, never for correctness. */
#define QUIESCE_NS (GREEN_SEC(5) * TEST_TIMEOUT_MULT)
#define JOIN_NS (GREEN_SEC(5) * TEST_TIMEOUT_MULT)

/* The make check pass; instrumented (TEST_SLOW), a twentieth of the steps
 * as TEST_SCALE gives, in 4 sequences rather than one. */
#define DEF_SEEDS (TEST_SLOW ? 4 : 20)
#define DEF_STEPS (TEST_SLOW ? 500 : 2000)

#define NCH 4	   /* channel slots */
#define MAXCAP 4   /* largest buffer */
#define NP 6	   /* parties alive at once */
#define PD NP	   /* the party slot of the driver's own blocking call */
#define NPS (NP + 1)
#define QM 16	   /* entries in one channel wait list */
#define MAXC 4	   /* select cases */
#define NSTALE 4   /* destroyed channel handles kept for misuse */
#define SCAP 50000 /* states: more is a failure of the test's design */
#define SPAWN_SMAX 48
#define HIST 24
#define NOVAL 0x7eadbeef /* what a receive buffer holds before the call */

/* --- the reference model --------------------------------------------------- */

enum { K_SEND = 1, K_RECV, K_SELECT, K_SEM, K_LOCK, K_COND, K_WG };
enum { P_FREE, P_PEND, P_PARK, P_DONE };

/* An entry of a channel's wait list: a party, and its select case (-1). */
struct qe {
	int8_t p, c;
};

struct mch {
	uint8_t live, closed, cap, len, ns, nr, pad0, pad1;
	int32_t buf[MAXCAP];
	struct qe sq[QM], rq[QM]; /* parked senders, receivers (FIFO) */
};

/*
 * A party in one state.  st: P_PEND (its next call not made yet), P_PARK
 * (blocked in it), P_DONE (returned, not yet seen by the driver).  ph: the
 * condition party's phase: 0 lock, 1 wait, 2 lock again, 3 unlock.
 * linger: channels whose lists may still hold a stale entry of the party
 * (a select's losing cases, a waiter that timed out or was cancelled) until
 * it runs: green_chan_destroy says -EBUSY meanwhile.
 */
struct mp {
	uint8_t st, ph, canc, tmo, linger, pad0, pad1, pad2;
	int32_t r, v, cres, r1, r3;
};

struct ms {
	struct mch ch[NCH];
	struct mp p[NPS];
	int32_t sem, wg;
	uint8_t mlocked, mdead, sdead, cdead, nml, nsq, nwq, ncq;
	int8_t ml[NPS]; /* parked lockers (a set) */
	int8_t sq[NPS]; /* semaphore waiters (FIFO) */
	int8_t wq[NPS]; /* wait-group waiters (a set) */
	int8_t cq[NPS]; /* condition waiters (a set) */
};

/* No padding: states are compared and hashed as bytes. */
_Static_assert(sizeof(struct mch) == 8 + 4 * MAXCAP + 4 * QM, "mch padded");
_Static_assert(sizeof(struct mp) == 28, "mp padded");
_Static_assert(sizeof(struct ms) == NCH * sizeof(struct mch) +
					   NPS * sizeof(struct mp) + 16 +
					   4 * NPS,
	       "ms padded");
_Static_assert(sizeof(struct ms) % 8 == 0, "ms size");

/* What a call returned: r, and for a select the case's result; v is the
 * value received where the caller kept it, else 0 (values start at 1). */
struct out {
	int r, cres, v;
};

/* --- the driver's side of parties ------------------------------------------ */

struct pcase {
	int kind; /* GREEN_SEND, GREEN_RECV, or 99 (misuse) */
	int ch;	  /* slot, -1: a NULL channel */
	int val;
	bool elem; /* a receive keeps the value */
};

struct party {
	bool live;
	int kind;
	bool shortdl;
	int64_t deadline;
	int ch, val;
	bool elem;
	int ncase;
	struct pcase cs[MAXC];
	green_chan_t *h;
	green_case_t gc[MAXC];
	int gv[MAXC];
	int got;
	green_task_t *task;
	atomic_int arrived, done;
	bool cancelled;
	int r, cres, r1, r3; /* the results, once done */
	int spawned_at;
};

static struct party P[NPS];
static atomic_uint progress; /* bumped by parties: settle() watches it */
static green_mutex_t M;
static green_sem_t SEM;
static green_wg_t WG;
static green_cond_t CV;

/* --- driver operations ------------------------------------------------------ */

enum {
	D_SEND = 1,
	D_RECV,
	D_SELECT,
	D_CLOSE,
	D_LEN,
	D_CAP,
	D_DESTROY,
	D_CREATE,
	D_STALE,
	D_MISUSE,
	D_TRYLOCK,
	D_LOCK,
	D_UNLOCK,
	D_MDESTROY,
	D_MINIT,
	D_SEMACQ,
	D_SEMREL,
	D_SEMDESTROY,
	D_SEMINIT,
	D_WGADD,
	D_WGWAIT,
	D_SIGNAL,
	D_BROADCAST,
	D_CONDWAIT,
	D_CDESTROY,
	D_CINIT,
	D_SPAWN,
	D_CANCEL,
	D_QUIESCE,
	D_SLEEP,
};

struct dop {
	int kind;
	int ch;
	int val;
	bool elem;
	bool shortdl;  /* else deadline 0 */
	int64_t dlns;  /* the short deadline, from the call */
	int n;	       /* wg amount, sem count, capacity, variant */
	int p;	       /* party */
	bool nosettle; /* the next operation follows at once */
	int ncase;
	struct pcase cs[MAXC];
};

/* --- state sets -------------------------------------------------------------- */

struct sset {
	struct ms *v;
	size_t n, cap;
	uint32_t *ht; /* index + 1; 0: empty */
	size_t hcap;  /* a power of two, or 0 */
};

struct succ {
	struct ms s;
	struct out o;
};

static struct {
	struct succ *v;
	size_t n, cap;
} SV; /* successors being enumerated */

/* --- the run ----------------------------------------------------------------- */

static struct run {
	uint64_t seed, rng;
	unsigned workers;
	int step, nsteps;
	green_chan_t *H[NCH];
	green_chan_t *stale[NSTALE];
	int nstale;
	green_task_t *stale_task;
	int next_val;
	struct sset S, T;
	uint8_t *seen; /* values received (ledger) */
	size_t seen_cap;
	long accepted, received, discarded;
	int64_t last_switch;
	int distrust; /* steps for which the 1-worker narrowing is off */
	bool failed;
	bool trace; /* MODEL_TRACE: every operation on stderr */
	bool cond_spurious; /* MODEL_COND_SPURIOUS: allow them */
	char hist[HIST][320];
	int nhist;
	const char *what; /* the operation in progress, for failures */
	char whatbuf[160];
} R;

/* Result classes of the outcome tables (MODEL_VERBOSE=1). */
enum { C_OK, C_EPIPE, C_ETIMEDOUT, C_ECANCELED, C_EINVAL, C_EBUSY, C_EPERM,
       C_OTHER, NCLS };

static struct {
	long seeds, steps, ops, checks, party_checks, spawns, cancels;
	long quiesces, narrowed, narrow_empty, states_max, corpus;
	long open; /* checks where the model allowed more than one outcome */
	long drv[D_SLEEP + 1][NCLS], party[K_WG + 1][NCLS];
} ST;

static int
out_class(struct out o)
{
	int r = o.r >= 0 ? o.cres : o.r;

	switch (r) {
	case 0:
		return C_OK;
	case -EPIPE:
		return C_EPIPE;
	case -ETIMEDOUT:
		return C_ETIMEDOUT;
	case -ECANCELED:
		return C_ECANCELED;
	case -EINVAL:
		return C_EINVAL;
	case -EBUSY:
		return C_EBUSY;
	case -EPERM:
		return C_EPERM;
	default:
		return r > 0 ? C_OK : C_OTHER;
	}
}

static char failmsg[8192];

static void __attribute__((noreturn)) model_bug(const char *what)
{
	fprintf(stderr, "check_model: internal error: %s (seed %llu step %d)\n",
		what, (unsigned long long)R.seed, R.step);
	abort();
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL)
		model_bug("out of memory");
	return q;
}

/* --- random numbers: xorshift64* ------------------------------------------ */

static uint64_t
rng_next(void)
{
	uint64_t x = R.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	R.rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned
rnd(unsigned n)
{
	return (unsigned)((rng_next() >> 32) % n);
}

static bool
chance(unsigned percent)
{
	return rnd(100) < percent;
}

/* --- state sets --------------------------------------------------------------- */

static uint64_t
ms_hash(const struct ms *s)
{
	uint64_t h = 0x9E3779B97F4A7C15ULL, x;

	for (size_t i = 0; i < sizeof(*s); i += 8) {
		memcpy(&x, (const char *)s + i, 8);
		h = (h ^ x) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	return h;
}

static void
sset_rehash(struct sset *S, size_t hcap)
{
	free(S->ht);
	S->ht = xrealloc(NULL, hcap * sizeof(*S->ht));
	memset(S->ht, 0, hcap * sizeof(*S->ht));
	S->hcap = hcap;
	for (size_t k = 0; k < S->n; k++) {
		size_t i = ms_hash(&S->v[k]) & (hcap - 1);
		while (S->ht[i] != 0)
			i = (i + 1) & (hcap - 1);
		S->ht[i] = (uint32_t)(k + 1);
	}
}

static bool
sset_add(struct sset *S, const struct ms *s)
{
	size_t i;

	if ((S->n + 1) * 2 > S->hcap)
		sset_rehash(S, S->hcap ? S->hcap * 2 : 64);
	i = ms_hash(s) & (S->hcap - 1);
	while (S->ht[i] != 0) {
		if (memcmp(&S->v[S->ht[i] - 1], s, sizeof(*s)) == 0)
			return false;
		i = (i + 1) & (S->hcap - 1);
	}
	if (S->n == S->cap) {
		S->cap = S->cap ? S->cap * 2 : 64;
		S->v = xrealloc(S->v, S->cap * sizeof(*S->v));
	}
	memcpy(&S->v[S->n], s, sizeof(*s));
	S->ht[i] = (uint32_t)++S->n;
	return true;
}

static void
sset_clear(struct sset *S)
{
	S->n = 0;
	if (S->hcap > 4096) {
		free(S->ht);
		S->ht = NULL;
		S->hcap = 0;
	} else if (S->hcap != 0) {
		memset(S->ht, 0, S->hcap * sizeof(*S->ht));
	}
}

static void
sset_swap(struct sset *a, struct sset *b)
{
	struct sset t = *a;

	*a = *b;
	*b = t;
}

/* Append a successor: a copy of s with result r. */
static struct succ *
emit(const struct ms *s, int r)
{
	struct succ *e;

	if (SV.n == SV.cap) {
		SV.cap = SV.cap ? SV.cap * 2 : 256;
		SV.v = xrealloc(SV.v, SV.cap * sizeof(*SV.v));
	}
	e = &SV.v[SV.n++];
	memcpy(&e->s, s, sizeof(*s));
	e->o.r = r;
	e->o.cres = 0;
	e->o.v = 0;
	return e;
}

/* --- model primitives ---------------------------------------------------------- */

static void
q_push(struct qe *q, uint8_t *n, int p, int c)
{
	if (*n >= QM)
		model_bug("wait list overflow");
	q[*n].p = (int8_t)p;
	q[*n].c = (int8_t)c;
	(*n)++;
}

static void
q_del(struct qe *q, uint8_t *n, int i)
{
	memmove(&q[i], &q[i + 1], (size_t)(*n - i - 1) * sizeof(*q));
	(*n)--;
	q[*n].p = 0;
	q[*n].c = 0;
}

static void
set_add(int8_t *a, uint8_t *n, int p)
{
	int i = *n;

	while (i > 0 && a[i - 1] > p) {
		a[i] = a[i - 1];
		i--;
	}
	a[i] = (int8_t)p;
	(*n)++;
}

static void
fifo_add(int8_t *a, uint8_t *n, int p)
{
	a[(*n)++] = (int8_t)p;
}

static void
arr_del(int8_t *a, uint8_t *n, int p)
{
	for (int i = 0; i < *n; i++) {
		if (a[i] != p)
			continue;
		memmove(&a[i], &a[i + 1], (size_t)(*n - i - 1));
		(*n)--;
		a[*n] = 0;
		return;
	}
}

/* The value a parked sender's entry offers. */
static int
entry_val(int p, int c)
{
	return c < 0 ? P[p].val : P[p].cs[c].val;
}

/*
 * Take p off every list.  The entry (wc, wcase) is the one a waker took;
 * any other channel entry stays listed in the runtime until p runs, which
 * the model remembers in linger.
 */
static void
unlist(struct ms *s, int p, int wc, int wcase)
{
	bool taken = false;

	for (int c = 0; c < NCH; c++) {
		struct mch *h = &s->ch[c];
		for (int k = 0; k < 2; k++) {
			struct qe *q = k ? h->rq : h->sq;
			uint8_t *n = k ? &h->nr : &h->ns;
			for (int i = 0; i < *n;) {
				if (q[i].p != p) {
					i++;
					continue;
				}
				if (!taken && c == wc && q[i].c == wcase)
					taken = true;
				else
					s->p[p].linger |= (uint8_t)(1u << c);
				q_del(q, n, i);
			}
		}
	}
	arr_del(s->ml, &s->nml, p);
	arr_del(s->sq, &s->nsq, p);
	arr_del(s->wq, &s->nwq, p);
	arr_del(s->cq, &s->ncq, p);
}

/* Party p's channel call completes through its entry (wc, wcase). */
static void
chan_done(struct ms *s, int p, int wc, int wcase, int res, int v)
{
	const struct party *d = &P[p];
	struct mp *m = &s->p[p];

	unlist(s, p, wc, wcase);
	m->st = P_DONE;
	if (d->kind == K_SELECT) {
		m->r = wcase;
		m->cres = res;
		m->v = res == 0 && d->cs[wcase].kind == GREEN_RECV &&
				       d->cs[wcase].elem
			       ? v
			       : 0;
	} else {
		m->r = res;
		m->v = res == 0 && d->kind == K_RECV && d->elem ? v : 0;
	}
}

/* Party p returns by itself (an arrival that did not block). */
static void
self_done(struct ms *s, int p, int r, int cres, int v)
{
	struct mp *m = &s->p[p];

	m->st = P_DONE;
	m->r = r;
	m->cres = cres;
	m->v = v;
}

/*
 * A send of v on channel c that does not wait: emits each possible outcome
 * (o.r: 0 or -EPIPE) and returns how many; 0 when the send would wait.  A
 * waiting receiver is served in FIFO order; when the first is a select
 * with several receive cases on c, any of those cases may fire.
 */
static int
send_emit(const struct ms *s, int c, int v)
{
	const struct mch *h = &s->ch[c];
	struct succ *e;

	if (h->closed) {
		emit(s, -EPIPE);
		return 1;
	}
	if (h->nr > 0) {
		int q = h->rq[0].p, n = 0;

		if (h->len != 0)
			model_bug("a parked receiver and buffered values");
		for (int i = 0; i < h->nr; i++) {
			if (h->rq[i].p != q)
				continue;
			e = emit(s, 0);
			chan_done(&e->s, q, c, h->rq[i].c, 0, v);
			n++;
		}
		return n;
	}
	if (h->len < h->cap) {
		e = emit(s, 0);
		e->s.ch[c].buf[e->s.ch[c].len++] = v;
		return 1;
	}
	return 0;
}

/* A receive from c that does not wait: o.r 0 (o.v the value) or -EPIPE. */
static int
recv_emit(const struct ms *s, int c)
{
	const struct mch *h = &s->ch[c];
	struct succ *e;
	struct mch *x;

	if (h->ns > 0) {
		int q = h->sq[0].p, n = 0;

		if (h->cap != 0 && h->len != h->cap)
			model_bug("a parked sender and room in the buffer");
		for (int i = 0; i < h->ns; i++) {
			int ev;

			if (h->sq[i].p != q)
				continue;
			ev = entry_val(q, h->sq[i].c);
			e = emit(s, 0);
			x = &e->s.ch[c];
			if (x->cap == 0) {
				e->o.v = ev;
			} else {
				/* the oldest value out, the sender's in last */
				e->o.v = x->buf[0];
				memmove(x->buf, x->buf + 1,
					(size_t)(x->cap - 1) * sizeof(x->buf[0]));
				x->buf[x->cap - 1] = ev;
			}
			chan_done(&e->s, q, c, h->sq[i].c, 0, 0);
			n++;
		}
		return n;
	}
	if (h->len > 0) {
		e = emit(s, 0);
		x = &e->s.ch[c];
		e->o.v = x->buf[0];
		memmove(x->buf, x->buf + 1,
			(size_t)(x->len - 1) * sizeof(x->buf[0]));
		x->len--;
		x->buf[x->len] = 0;
		return 1;
	}
	if (h->closed) {
		emit(s, -EPIPE);
		return 1;
	}
	return 0;
}

/* Close: every party waiting on c fires with -EPIPE; a select with several
 * cases on c may fire any of them. */
static void
close_rec(const struct ms *t, int c, const int8_t *ps, int np, int k)
{
	struct qe ent[2 * QM];
	int ne = 0, p;

	if (k == np) {
		emit(t, 0);
		return;
	}
	p = ps[k];
	for (int i = 0; i < t->ch[c].nr; i++)
		if (t->ch[c].rq[i].p == p)
			ent[ne++] = t->ch[c].rq[i];
	for (int i = 0; i < t->ch[c].ns; i++)
		if (t->ch[c].sq[i].p == p)
			ent[ne++] = t->ch[c].sq[i];
	for (int i = 0; i < ne; i++) {
		struct ms u;

		memcpy(&u, t, sizeof(u));
		chan_done(&u, p, c, ent[i].c, -EPIPE, 0);
		close_rec(&u, c, ps, np, k + 1);
	}
}

static void
close_emit(const struct ms *s, int c)
{
	struct ms t;
	int8_t ps[NPS];
	int np = 0;

	if (s->ch[c].closed) {
		emit(s, -EPIPE);
		return;
	}
	memcpy(&t, s, sizeof(t));
	t.ch[c].closed = 1;
	for (int k = 0; k < 2; k++) {
		const struct qe *q = k ? s->ch[c].sq : s->ch[c].rq;
		int n = k ? s->ch[c].ns : s->ch[c].nr;
		for (int i = 0; i < n; i++) {
			bool dup = false;
			for (int j = 0; j < np; j++)
				dup |= ps[j] == q[i].p;
			if (!dup)
				ps[np++] = q[i].p;
		}
	}
	close_rec(&t, c, ps, np, 0);
}

/*
 * A select that does not wait: every ready case, each outcome (o.r the
 * case, o.cres its result, o.v the value kept).  Returns how many.
 */
static int
select_emit(const struct ms *s, const struct pcase *cs, int n)
{
	int tot = 0;

	for (int i = 0; i < n; i++) {
		size_t a = SV.n;
		int k;

		if (cs[i].ch < 0)
			continue;
		k = cs[i].kind == GREEN_SEND ? send_emit(s, cs[i].ch, cs[i].val)
					     : recv_emit(s, cs[i].ch);
		for (size_t j = a; j < SV.n; j++) {
			struct out *o = &SV.v[j].o;
			o->cres = o->r;
			o->r = i;
			if (cs[i].kind != GREEN_RECV || !cs[i].elem ||
			    o->cres != 0)
				o->v = 0;
		}
		tot += k;
	}
	return tot;
}

static bool
is_locker(int p, const struct mp *m)
{
	return m->st == P_PARK &&
	       (P[p].kind == K_LOCK ||
		(P[p].kind == K_COND && (m->ph == 0 || m->ph == 2)));
}

static bool
can_time_out(int p, const struct mp *m)
{
	return m->st == P_PARK && P[p].shortdl &&
	       (P[p].kind != K_COND || m->ph == 1);
}

/* Locking again in green_cond_wait cannot be cancelled. */
static bool
can_cancel(int p, const struct mp *m)
{
	return m->st == P_PARK && m->canc && !(P[p].kind == K_COND && m->ph == 2);
}

/* Party p makes its next call (P_PEND). */
static void
arrive_emit(const struct ms *s, int p)
{
	const struct party *d = &P[p];
	const struct mp *m = &s->p[p];
	size_t a = SV.n;
	struct succ *e;
	int n;

	switch (d->kind) {
	case K_SEND:
		n = send_emit(s, d->ch, d->val);
		for (size_t j = a; j < SV.n; j++)
			self_done(&SV.v[j].s, p, SV.v[j].o.r, 0, 0);
		if (n == 0) {
			e = emit(s, 0);
			q_push(e->s.ch[d->ch].sq, &e->s.ch[d->ch].ns, p, -1);
			e->s.p[p].st = P_PARK;
		}
		break;
	case K_RECV:
		n = recv_emit(s, d->ch);
		for (size_t j = a; j < SV.n; j++)
			self_done(&SV.v[j].s, p, SV.v[j].o.r, 0,
				  d->elem ? SV.v[j].o.v : 0);
		if (n == 0) {
			e = emit(s, 0);
			q_push(e->s.ch[d->ch].rq, &e->s.ch[d->ch].nr, p, -1);
			e->s.p[p].st = P_PARK;
		}
		break;
	case K_SELECT:
		n = select_emit(s, d->cs, d->ncase);
		for (size_t j = a; j < SV.n; j++)
			self_done(&SV.v[j].s, p, SV.v[j].o.r, SV.v[j].o.cres,
				  SV.v[j].o.v);
		if (n == 0) {
			e = emit(s, 0);
			for (int i = 0; i < d->ncase; i++) {
				struct mch *x;
				if (d->cs[i].ch < 0)
					continue;
				x = &e->s.ch[d->cs[i].ch];
				if (d->cs[i].kind == GREEN_SEND)
					q_push(x->sq, &x->ns, p, i);
				else
					q_push(x->rq, &x->nr, p, i);
			}
			e->s.p[p].st = P_PARK;
		}
		break;
	case K_SEM:
		if (s->sdead) { /* the driver's own call only */
			emit(s, 0)->s.p[p].st = P_DONE;
			SV.v[SV.n - 1].s.p[p].r = -EINVAL;
			break;
		}
		e = emit(s, 0);
		if (s->sem > 0) {
			e->s.sem--;
			self_done(&e->s, p, 0, 0, 0);
		} else {
			fifo_add(e->s.sq, &e->s.nsq, p);
			e->s.p[p].st = P_PARK;
		}
		break;
	case K_LOCK:
		if (s->mdead) { /* the driver's own call only */
			emit(s, 0)->s.p[p].st = P_DONE;
			SV.v[SV.n - 1].s.p[p].r = -EINVAL;
			break;
		}
		e = emit(s, 0);
		if (!s->mlocked) {
			e->s.mlocked = 1;
			self_done(&e->s, p, 0, 0, 0);
		} else {
			set_add(e->s.ml, &e->s.nml, p);
			e->s.p[p].st = P_PARK;
		}
		break;
	case K_WG:
		e = emit(s, 0);
		if (s->wg == 0) {
			self_done(&e->s, p, 0, 0, 0);
		} else {
			set_add(e->s.wq, &e->s.nwq, p);
			e->s.p[p].st = P_PARK;
		}
		break;
	case K_COND:
		e = emit(s, 0);
		if (m->ph == 0) { /* green_mutex_lock(&M, GREEN_FOREVER) */
			if (!s->mlocked) {
				e->s.mlocked = 1;
				e->s.p[p].ph = 1;
			} else {
				set_add(e->s.ml, &e->s.nml, p);
				e->s.p[p].st = P_PARK;
			}
		} else if (m->ph == 1) { /* green_cond_wait */
			if (!s->mlocked) {
				e->s.p[p].r1 = -EPERM;
				e->s.p[p].ph = 3;
			} else {
				e->s.mlocked = 0;
				set_add(e->s.cq, &e->s.ncq, p);
				e->s.p[p].st = P_PARK;
			}
		} else { /* green_mutex_unlock */
			e->s.p[p].r3 = s->mlocked ? 0 : -EPERM;
			e->s.mlocked = 0;
			e->s.p[p].st = P_DONE;
		}
		break;
	default:
		model_bug("party kind");
	}
	/* cancelled before its call: the call may also fail at once
	 * (green_cancel(3): "every ... later blocking call") */
	if (m->canc && m->ph == 0) {
		e = emit(s, 0);
		self_done(&e->s, p, -ECANCELED, 0, 0);
	}
}

/* A parked party's deadline passes (err -ETIMEDOUT) or its cancellation
 * lands (-ECANCELED). */
static void
leave_emit(const struct ms *s, int p, int err)
{
	struct succ *e = emit(s, 0);
	struct ms *t = &e->s;
	struct mp *m = &t->p[p];

	unlist(t, p, -1, -1);
	if (err == -ETIMEDOUT && R.workers == 1)
		m->tmo = 1; /* only the 1-worker narrowing asks */
	if (P[p].kind == K_COND && m->ph == 1) {
		/* green_cond_wait fails, after locking again */
		m->r1 = err;
		m->ph = 2;
		set_add(t->ml, &t->nml, p);
		return;
	}
	m->st = P_DONE;
	m->r = err;
	m->cres = 0;
	m->v = 0;
}

/* A parked locker takes the unlocked mutex. */
static void
acquire_emit(const struct ms *s, int p)
{
	struct succ *e = emit(s, 0);
	struct mp *m = &e->s.p[p];

	e->s.mlocked = 1;
	arr_del(e->s.ml, &e->s.nml, p);
	if (P[p].kind == K_LOCK) {
		m->st = P_DONE;
		m->r = 0;
	} else {
		m->st = P_PEND;
		m->ph = m->ph == 0 ? 1 : 3;
	}
}

static void
wake_cond(struct ms *t, int q)
{
	struct mp *m = &t->p[q];

	arr_del(t->cq, &t->ncq, q);
	m->r1 = 0;
	m->ph = 2;
	m->st = P_PARK;
	set_add(t->ml, &t->nml, q);
}

/* Every step some party can take by itself in s. */
static void
env_emit(const struct ms *s)
{
	for (int p = 0; p < NPS; p++) {
		const struct mp *m = &s->p[p];

		if (m->st == P_PEND) {
			arrive_emit(s, p);
		} else if (m->st == P_PARK) {
			if (can_time_out(p, m))
				leave_emit(s, p, -ETIMEDOUT);
			if (can_cancel(p, m))
				leave_emit(s, p, -ECANCELED);
			if (is_locker(p, m) && !s->mlocked)
				acquire_emit(s, p);
			/* MODEL_COND_SPURIOUS: green_cond_wait(3) allows a
			 * wake-up nobody signalled; libgreen has none */
			if (R.cond_spurious && P[p].kind == K_COND && m->ph == 1)
				wake_cond(&emit(s, 0)->s, p);
		}
	}
}

/* No party can take a step by itself: everyone left waits for the driver. */
static bool
stable(const struct ms *s)
{
	for (int p = 0; p < NPS; p++) {
		const struct mp *m = &s->p[p];

		if (m->st == P_PEND || m->st == P_DONE)
			return false;
		if (m->st == P_PARK &&
		    (can_time_out(p, m) || can_cancel(p, m) ||
		     (is_locker(p, m) && !s->mlocked)))
			return false;
	}
	return true;
}

/* One worker, after settle(): whatever was runnable has run; only a
 * deadline may still be on its way. */
static bool
settled(const struct ms *s)
{
	for (int p = 0; p < NPS; p++) {
		const struct mp *m = &s->p[p];

		if (m->st == P_PEND)
			return false;
		if (m->st == P_DONE && !m->tmo)
			return false;
		if (m->st == P_PARK &&
		    (can_cancel(p, m) || (is_locker(p, m) && !s->mlocked)))
			return false;
	}
	return true;
}

static void
destroy_emit(const struct ms *s, int c)
{
	const struct mch *h = &s->ch[c];
	bool linger = false;
	struct succ *e;

	for (int p = 0; p < NPS; p++)
		if (s->p[p].st != P_FREE && (s->p[p].linger & (1u << c)))
			linger = true;
	if (h->ns != 0 || h->nr != 0) {
		emit(s, -EBUSY);
		return;
	}
	if (linger)
		emit(s, -EBUSY);
	e = emit(s, 0);
	memset(&e->s.ch[c], 0, sizeof(e->s.ch[c]));
	for (int p = 0; p < NPS; p++)
		e->s.p[p].linger &= (uint8_t)~(1u << c);
}

/* A driver operation that does not wait (deadline 0), in state s. */
static void
apply_emit(const struct ms *s, const struct dop *op)
{
	struct succ *e;
	size_t a = SV.n;

	switch (op->kind) {
	case D_SEND:
		if (send_emit(s, op->ch, op->val) == 0)
			emit(s, -ETIMEDOUT);
		break;
	case D_RECV:
		if (recv_emit(s, op->ch) == 0)
			emit(s, -ETIMEDOUT);
		if (!op->elem)
			for (size_t j = a; j < SV.n; j++)
				SV.v[j].o.v = 0;
		break;
	case D_SELECT:
		if (select_emit(s, op->cs, op->ncase) == 0)
			emit(s, -ETIMEDOUT);
		break;
	case D_CLOSE:
		close_emit(s, op->ch);
		break;
	case D_LEN:
		emit(s, s->ch[op->ch].len);
		break;
	case D_CAP:
		emit(s, s->ch[op->ch].cap);
		break;
	case D_DESTROY:
		destroy_emit(s, op->ch);
		break;
	case D_CREATE:
		e = emit(s, 0);
		memset(&e->s.ch[op->ch], 0, sizeof(e->s.ch[op->ch]));
		e->s.ch[op->ch].live = 1;
		e->s.ch[op->ch].cap = (uint8_t)op->n;
		break;
	case D_STALE:
	case D_MISUSE:
		emit(s, -EINVAL);
		break;
	case D_TRYLOCK:
	case D_LOCK:
		if (s->mdead)
			emit(s, -EINVAL);
		else if (s->mlocked)
			emit(s, op->kind == D_TRYLOCK ? -EBUSY : -ETIMEDOUT);
		else
			emit(s, 0)->s.mlocked = 1;
		break;
	case D_UNLOCK:
		if (s->mdead)
			emit(s, -EINVAL);
		else if (!s->mlocked)
			emit(s, -EPERM);
		else
			emit(s, 0)->s.mlocked = 0; /* lockers compete (env) */
		break;
	case D_MDESTROY:
		if (s->mdead)
			emit(s, -EINVAL);
		else if (s->mlocked || s->nml != 0)
			emit(s, -EBUSY);
		else
			emit(s, 0)->s.mdead = 1;
		break;
	case D_MINIT:
		e = emit(s, 0);
		e->s.mdead = 0;
		e->s.mlocked = 0;
		break;
	case D_SEMACQ:
		if (s->sdead)
			emit(s, -EINVAL);
		else if (s->sem > 0)
			emit(s, 0)->s.sem--;
		else
			emit(s, -ETIMEDOUT);
		break;
	case D_SEMREL:
		if (s->sdead) {
			emit(s, -EINVAL);
		} else if (s->nsq > 0) { /* to the longest waiter */
			int q = s->sq[0];
			e = emit(s, 0);
			unlist(&e->s, q, -1, -1);
			self_done(&e->s, q, 0, 0, 0);
		} else {
			emit(s, 0)->s.sem++;
		}
		break;
	case D_SEMDESTROY:
		if (s->sdead)
			emit(s, -EINVAL);
		else if (s->nsq != 0)
			emit(s, -EBUSY);
		else
			emit(s, 0)->s.sdead = 1;
		break;
	case D_SEMINIT:
		e = emit(s, 0);
		e->s.sdead = 0;
		e->s.sem = op->n;
		break;
	case D_WGADD:
		if ((long)s->wg + op->n < 0) {
			emit(s, -EINVAL);
			break;
		}
		e = emit(s, 0);
		e->s.wg += op->n;
		while (e->s.wg == 0 && e->s.nwq > 0) {
			int q = e->s.wq[0];
			unlist(&e->s, q, -1, -1);
			self_done(&e->s, q, 0, 0, 0);
		}
		break;
	case D_WGWAIT:
		emit(s, s->wg == 0 ? 0 : -ETIMEDOUT);
		break;
	case D_SIGNAL:
		if (s->cdead) {
			emit(s, -EINVAL);
		} else if (s->ncq == 0) {
			emit(s, 0); /* not remembered */
		} else { /* one waiter, any */
			for (int i = 0; i < s->ncq; i++)
				wake_cond(&emit(s, 0)->s, s->cq[i]);
		}
		break;
	case D_BROADCAST:
		if (s->cdead) {
			emit(s, -EINVAL);
			break;
		}
		e = emit(s, 0);
		while (e->s.ncq > 0)
			wake_cond(&e->s, e->s.cq[0]);
		break;
	case D_CONDWAIT:
		if (s->cdead || s->mdead)
			emit(s, -EINVAL);
		else if (!s->mlocked)
			emit(s, -EPERM);
		else
			emit(s, -ETIMEDOUT);
		break;
	case D_CDESTROY:
		if (s->cdead)
			emit(s, -EINVAL);
		else if (s->ncq != 0)
			emit(s, -EBUSY);
		else
			emit(s, 0)->s.cdead = 1;
		break;
	case D_CINIT:
		emit(s, 0)->s.cdead = 0;
		break;
	default:
		model_bug("driver op kind");
	}
}

/* --- descriptions ------------------------------------------------------------- */

static const char *
errname(int r)
{
	static char buf[4][24];
	static int k;

	switch (r) {
	case -EINVAL:
		return "-EINVAL";
	case -EPIPE:
		return "-EPIPE";
	case -ETIMEDOUT:
		return "-ETIMEDOUT";
	case -ECANCELED:
		return "-ECANCELED";
	case -EBUSY:
		return "-EBUSY";
	case -EPERM:
		return "-EPERM";
	default:
		k = (k + 1) % 4;
		snprintf(buf[k], sizeof(buf[k]), "%d", r);
		return buf[k];
	}
}

static const char *kind_names[] = { "?",	"send", "recv", "select",
				    "sem-acquire", "mutex-lock", "cond-wait",
				    "wg-wait" };

static int
describe_cases(char *b, size_t n, const struct pcase *cs, int nc)
{
	int k = snprintf(b, n, "{");

	for (int i = 0; i < nc && (size_t)k < n; i++) {
		char ch[16] = "NULL";
		if (cs[i].ch >= 0)
			snprintf(ch, sizeof(ch), "ch%d", cs[i].ch);
		if (cs[i].kind == GREEN_SEND)
			k += snprintf(b + k, n - (size_t)k, "%ssend %s v=%d",
				      i ? ", " : "", ch, cs[i].val);
		else
			k += snprintf(b + k, n - (size_t)k, "%srecv %s %s",
				      i ? ", " : "", ch, cs[i].elem ? "&v" : "NULL");
	}
	if ((size_t)k < n)
		k += snprintf(b + k, n - (size_t)k, "}");
	return k;
}

static void
describe_party(char *b, size_t n, int p)
{
	const struct party *d = &P[p];
	int k = snprintf(b, n, "%s%d %s", p == PD ? "driver-call" : "party",
			 p == PD ? 0 : p, kind_names[d->kind]);

	if ((size_t)k >= n)
		return;
	switch (d->kind) {
	case K_SEND:
		k += snprintf(b + k, n - (size_t)k, " ch%d v=%d", d->ch, d->val);
		break;
	case K_RECV:
		k += snprintf(b + k, n - (size_t)k, " ch%d %s", d->ch,
			      d->elem ? "&v" : "NULL");
		break;
	case K_SELECT:
		k += snprintf(b + k, n - (size_t)k, " ");
		if ((size_t)k < n)
			k += describe_cases(b + k, n - (size_t)k, d->cs, d->ncase);
		break;
	default:
		break;
	}
	if ((size_t)k < n)
		snprintf(b + k, n - (size_t)k, " %s", d->shortdl ? "short" : "forever");
}

static void
describe_op(char *b, size_t n, const struct dop *op)
{
	static const char *names[] = {
		"?",	       "send",	      "recv",	       "select",
		"close",       "len",	      "cap",	       "destroy",
		"create",      "stale",	      "misuse",	       "mutex-trylock",
		"mutex-lock",  "mutex-unlock", "mutex-destroy", "mutex-init",
		"sem-acquire", "sem-release", "sem-destroy",   "sem-init",
		"wg-add",      "wg-wait",     "cond-signal",   "cond-broadcast",
		"cond-wait",   "cond-destroy", "cond-init",    "spawn",
		"cancel",      "quiesce",     "sleep",
	};
	int k = snprintf(b, n, "%s%s", op->nosettle ? "(then at once) " : "",
			 names[op->kind]);

	switch (op->kind) {
	case D_SEND:
		snprintf(b + k, n - (size_t)k, " ch%d v=%d%s", op->ch, op->val,
			 op->shortdl ? " short" : " dl=0");
		break;
	case D_RECV:
		snprintf(b + k, n - (size_t)k, " ch%d %s%s", op->ch,
			 op->elem ? "&v" : "NULL", op->shortdl ? " short" : " dl=0");
		break;
	case D_SELECT:
		k += snprintf(b + k, n - (size_t)k, " ");
		k += describe_cases(b + k, n - (size_t)k, op->cs, op->ncase);
		if ((size_t)k < n)
			snprintf(b + k, n - (size_t)k, "%s",
				 op->shortdl ? " short" : " dl=0");
		break;
	case D_CLOSE:
	case D_LEN:
	case D_CAP:
	case D_DESTROY:
		snprintf(b + k, n - (size_t)k, " ch%d", op->ch);
		break;
	case D_CREATE:
		snprintf(b + k, n - (size_t)k, " ch%d cap=%d", op->ch, op->n);
		break;
	case D_STALE:
	case D_MISUSE:
		snprintf(b + k, n - (size_t)k, " #%d", op->n);
		break;
	case D_LOCK:
	case D_SEMACQ:
		snprintf(b + k, n - (size_t)k, "%s", op->shortdl ? " short" : " dl=0");
		break;
	case D_SEMINIT:
	case D_WGADD:
		snprintf(b + k, n - (size_t)k, " %d", op->n);
		break;
	case D_SPAWN:
		snprintf(b + k, n - (size_t)k, ": ");
		describe_party(b + k + 2, n - (size_t)k - 2, op->p);
		break;
	case D_CANCEL:
		snprintf(b + k, n - (size_t)k, " party%d", op->p);
		break;
	default:
		break;
	}
}

static int
describe_out(char *b, size_t n, const struct dop *op, struct out o)
{
	if (op != NULL && op->kind == D_SELECT && o.r >= 0)
		return snprintf(b, n, "case %d result %s v=%d", o.r,
				errname(o.cres), o.v);
	if (o.v != 0)
		return snprintf(b, n, "%s v=%d", errname(o.r), o.v);
	return snprintf(b, n, "%s", errname(o.r));
}

static int
describe_state(char *b, size_t n, const struct ms *s)
{
	int k = 0;

#define PUT(...)                                                               \
	do {                                                                   \
		if ((size_t)k < n)                                             \
			k += snprintf(b + k, n - (size_t)k, __VA_ARGS__);      \
	} while (0)
	for (int c = 0; c < NCH; c++) {
		const struct mch *h = &s->ch[c];
		if (!h->live) {
			PUT("  ch%d: destroyed\n", c);
			continue;
		}
		PUT("  ch%d: cap %d%s buf [", c, h->cap, h->closed ? " closed" : "");
		for (int i = 0; i < h->len; i++)
			PUT("%s%d", i ? " " : "", h->buf[i]);
		PUT("] senders [");
		for (int i = 0; i < h->ns; i++)
			PUT(" p%d/%d", h->sq[i].p, h->sq[i].c);
		PUT(" ] receivers [");
		for (int i = 0; i < h->nr; i++)
			PUT(" p%d/%d", h->rq[i].p, h->rq[i].c);
		PUT(" ]\n");
	}
	PUT("  mutex %s%s, lockers", s->mdead ? "destroyed " : "",
	    s->mlocked ? "locked" : "unlocked");
	for (int i = 0; i < s->nml; i++)
		PUT(" p%d", s->ml[i]);
	PUT("; sem %s%d, waiters", s->sdead ? "destroyed " : "", s->sem);
	for (int i = 0; i < s->nsq; i++)
		PUT(" p%d", s->sq[i]);
	PUT("; wg %d, waiters", s->wg);
	for (int i = 0; i < s->nwq; i++)
		PUT(" p%d", s->wq[i]);
	PUT("; cond%s waiters", s->cdead ? " destroyed," : "");
	for (int i = 0; i < s->ncq; i++)
		PUT(" p%d", s->cq[i]);
	PUT("\n");
	for (int p = 0; p < NPS; p++) {
		static const char *st[] = { "free", "not yet called", "parked",
					    "returned" };
		const struct mp *m = &s->p[p];
		if (m->st == P_FREE)
			continue;
		PUT("  p%d: %s ph%d%s%s r=%s cres=%s v=%d r1=%s r3=%s\n", p,
		    st[m->st], m->ph, m->canc ? " cancelled" : "",
		    m->tmo ? " timed-out" : "", errname(m->r), errname(m->cres),
		    m->v, errname(m->r1), errname(m->r3));
	}
#undef PUT
	return k;
}

static void
history_add(const char *what, const char *res)
{
	snprintf(R.hist[R.nhist % HIST], sizeof(R.hist[0]), "%5d %s -> %s",
		 R.step, what, res);
	if (R.trace)
		fprintf(stderr, "seed %llu: %s\n", (unsigned long long)R.seed,
			R.hist[R.nhist % HIST]);
	R.nhist++;
}

/* Record a failure: where, what, the history, one state of the model. */
static bool __attribute__((format(printf, 1, 2)))
mfail(const char *fmt, ...)
{
	va_list ap;
	int k;
	size_t n = sizeof(failmsg);

	if (R.failed)
		return false;
	R.failed = true;
	k = snprintf(failmsg, n,
		     "check_model: seed %llu, %u worker(s), step %d of %d "
		     "(re-run: MODEL_SEED=%llu MODEL_STEPS=%d CK_RUN_CASE=%s)\n",
		     (unsigned long long)R.seed, R.workers, R.step, R.nsteps,
		     (unsigned long long)R.seed, R.nsteps,
		     R.workers == 1 ? "model_1_worker" : "model_2_workers");
	if (R.what != NULL && (size_t)k < n)
		k += snprintf(failmsg + k, n - (size_t)k, "operation: %s\n", R.what);
	va_start(ap, fmt);
	if ((size_t)k < n)
		k += vsnprintf(failmsg + k, n - (size_t)k, fmt, ap);
	va_end(ap);
	if ((size_t)k < n)
		k += snprintf(failmsg + k, n - (size_t)k, "\nrecent operations:\n");
	for (int i = R.nhist > HIST ? R.nhist - HIST : 0; i < R.nhist; i++)
		if ((size_t)k < n)
			k += snprintf(failmsg + k, n - (size_t)k, "%s\n",
				      R.hist[i % HIST]);
	for (int p = 0; p < NP; p++) {
		char d[160];
		if (!P[p].live || (size_t)k >= n)
			continue;
		describe_party(d, sizeof(d), p);
		k += snprintf(failmsg + k, n - (size_t)k,
			      "live: %s (spawned at step %d, arrived %d, done %d)\n",
			      d, P[p].spawned_at, atomic_load(&P[p].arrived),
			      atomic_load(&P[p].done));
	}
	if (R.S.n > 0 && (size_t)k < n) {
		k += snprintf(failmsg + k, n - (size_t)k,
			      "a state the model held before (of %zu):\n", R.S.n);
		if ((size_t)k < n)
			describe_state(failmsg + k, n - (size_t)k, &R.S.v[0]);
	}
	fprintf(stderr, "%s\n", failmsg);
	return false;
}

/* --- ledger: every delivered value received once -------------------------- */

static bool
ledger_recv(int v)
{
	if (v <= 0 || v >= R.next_val)
		return mfail("received %d, a value never sent", v);
	if ((size_t)v >= R.seen_cap) {
		size_t n = R.seen_cap ? R.seen_cap : 1024;
		while (n <= (size_t)v)
			n *= 2;
		R.seen = xrealloc(R.seen, n);
		memset(R.seen + R.seen_cap, 0, n - R.seen_cap);
		R.seen_cap = n;
	}
	if (R.seen[v])
		return mfail("value %d received twice", v);
	R.seen[v] = 1;
	return true;
}

/* A party's (or the driver's call's) result enters the ledger. */
static bool
ledger_party(int p)
{
	const struct party *d = &P[p];

	switch (d->kind) {
	case K_SEND:
		R.accepted += d->r == 0;
		break;
	case K_RECV:
		if (d->r == 0) {
			R.received++;
			if (d->elem)
				return ledger_recv(d->got);
		}
		break;
	case K_SELECT:
		if (d->r >= 0 && d->cres == 0) {
			if (d->cs[d->r].kind == GREEN_SEND) {
				R.accepted++;
			} else {
				R.received++;
				if (d->cs[d->r].elem)
					return ledger_recv(d->gv[d->r]);
			}
		}
		break;
	default:
		break;
	}
	return true;
}

/* --- checking ------------------------------------------------------------------ */

static bool
any_live(void)
{
	for (int p = 0; p < NPS; p++)
		if (P[p].live)
			return true;
	return false;
}

/* Close the set under the parties' own steps. */
static bool
closure(void)
{
	if (!any_live())
		return true;
	for (size_t i = 0; i < R.S.n; i++) {
		SV.n = 0;
		env_emit(&R.S.v[i]);
		for (size_t k = 0; k < SV.n; k++)
			sset_add(&R.S, &SV.v[k].s);
		if (R.S.n > SCAP)
			return mfail("the model's state set exploded (%zu states): "
				    "a limit of the test, not a finding",
				    R.S.n);
	}
	if ((long)R.S.n > ST.states_max)
		ST.states_max = (long)R.S.n;
	return true;
}

/* What party p reported, as the model records it. */
static struct out
party_out(int p)
{
	const struct party *d = &P[p];
	struct out o = { d->r, 0, 0 };

	switch (d->kind) {
	case K_RECV:
		if (d->r == 0 && d->elem)
			o.v = d->got;
		break;
	case K_SELECT:
		if (d->r >= 0 && d->r < d->ncase) {
			o.cres = d->cres;
			if (d->cres == 0 && d->cs[d->r].kind == GREEN_RECV &&
			    d->cs[d->r].elem)
				o.v = d->gv[d->r];
		}
		break;
	case K_COND:
		o.cres = d->r == 0 ? d->r1 : 0;
		o.v = d->r == 0 ? d->r3 : 0;
		break;
	default:
		break;
	}
	return o;
}

static struct out
model_party_out(const struct mp *m, int p)
{
	struct out o = { m->r, m->cres, m->v };

	if (P[p].kind == K_COND) {
		o.cres = m->r == 0 ? m->r1 : 0;
		o.v = m->r == 0 ? m->r3 : 0;
	}
	return o;
}

static bool
out_eq(struct out a, struct out b)
{
	return a.r == b.r && a.cres == b.cres && a.v == b.v;
}

static int
describe_party_out(char *b, size_t n, int p, struct out o)
{
	if (P[p].kind == K_COND && o.r == 0)
		return snprintf(b, n, "lock 0, wait %s, unlock %s",
				errname(o.cres), errname(o.v));
	if (P[p].kind == K_SELECT && o.r >= 0)
		return snprintf(b, n, "case %d result %s v=%d", o.r,
				errname(o.cres), o.v);
	if (o.v != 0)
		return snprintf(b, n, "%s v=%d", errname(o.r), o.v);
	return snprintf(b, n, "%s", errname(o.r));
}

/* Party p returned: keep the states where it returned just that, and free
 * its slot there. */
static bool
check_party(int p)
{
	struct out got = party_out(p), allowed[16];
	int na = 0;
	bool pending = false;

	ST.party_checks++;
	ST.checks++;
	sset_clear(&R.T);
	for (size_t i = 0; i < R.S.n; i++) {
		struct ms u;
		const struct mp *m = &R.S.v[i].p[p];
		struct out o;

		if (m->st != P_DONE) {
			pending = true;
			continue;
		}
		o = model_party_out(m, p);
		if (!out_eq(o, got)) {
			bool dup = false;
			for (int j = 0; j < na; j++)
				dup |= out_eq(allowed[j], o);
			if (!dup && na < 16)
				allowed[na++] = o;
			continue;
		}
		memcpy(&u, &R.S.v[i], sizeof(u));
		memset(&u.p[p], 0, sizeof(u.p[p]));
		sset_add(&R.T, &u);
	}
	if (R.T.n != 0) {
		ST.open += na > 0 || pending;
		ST.party[P[p].kind][out_class(got)]++;
	}
	if (R.T.n == 0) {
		char d[160], g[96], al[1024];
		int k = 0;

		describe_party(d, sizeof(d), p);
		describe_party_out(g, sizeof(g), p, got);
		al[0] = '\0';
		for (int j = 0; j < na && (size_t)k < sizeof(al); j++) {
			k += snprintf(al + k, sizeof(al) - (size_t)k, "%s{", j ? " " : "");
			if ((size_t)k < sizeof(al))
				k += describe_party_out(al + k, sizeof(al) - (size_t)k, p,
							allowed[j]);
			if ((size_t)k < sizeof(al))
				k += snprintf(al + k, sizeof(al) - (size_t)k, "}");
		}
		return mfail("%s returned %s; the model allows %s%s%s", d, g,
			    na ? al : "", na && pending ? " or " : "",
			    pending ? "that it has not returned yet" : "");
	}
	sset_swap(&R.S, &R.T);
	return true;
}

/* The driver's call op returned got: keep the states that allow it. */
static bool
check_op(const struct dop *op, struct out got)
{
	struct out allowed[16];
	int na = 0;

	ST.checks++;
	sset_clear(&R.T);
	for (size_t i = 0; i < R.S.n; i++) {
		SV.n = 0;
		apply_emit(&R.S.v[i], op);
		for (size_t k = 0; k < SV.n; k++) {
			struct out o = SV.v[k].o;
			bool dup = false;
			if (out_eq(o, got)) {
				sset_add(&R.T, &SV.v[k].s);
				continue;
			}
			for (int j = 0; j < na; j++)
				dup |= out_eq(allowed[j], o);
			if (!dup && na < 16)
				allowed[na++] = o;
		}
	}
	if (R.T.n != 0) {
		ST.open += na > 0;
		ST.drv[op->kind][out_class(got)]++;
	}
	if (R.T.n == 0) {
		char g[96], al[1024];
		int k = 0;

		describe_out(g, sizeof(g), op, got);
		al[0] = '\0';
		for (int j = 0; j < na && (size_t)k < sizeof(al); j++) {
			k += snprintf(al + k, sizeof(al) - (size_t)k, "%s{", j ? " " : "");
			if ((size_t)k < sizeof(al))
				k += describe_out(al + k, sizeof(al) - (size_t)k, op,
						  allowed[j]);
			if ((size_t)k < sizeof(al))
				k += snprintf(al + k, sizeof(al) - (size_t)k, "}");
		}
		return mfail("got %s; the model allows %s", g, al);
	}
	sset_swap(&R.S, &R.T);
	return true;
}

/* Take in every party that has returned: check, join, free its slot. */
static bool
observe(void)
{
	if (!closure())
		return false;
	for (int p = 0; p < NP; p++) {
		struct party *d = &P[p];
		int r;

		if (!d->live || !atomic_load_explicit(&d->done, memory_order_acquire))
			continue;
		if (!check_party(p) || !ledger_party(p))
			return false;
		{
			char dd[160], g[96];
			describe_party(dd, sizeof(dd), p);
			describe_party_out(g, sizeof(g), p, party_out(p));
			history_add(dd, g);
		}
		r = green_join(d->task, NULL, green_now() + JOIN_NS);
		if (r != 0)
			return mfail("green_join of party%d that said it is done: %s",
				    p, errname(r));
		R.stale_task = d->task;
		d->task = NULL;
		d->live = false;
	}
	return true;
}

/* Yield until the parties stop making progress (one worker: everything
 * runnable runs before the driver again). */
static void
settle(void)
{
	unsigned prev = atomic_load(&progress);
	int same = 0;

	for (int i = 0; i < 256 && same < 3; i++) {
		unsigned cur;
		green_yield();
		cur = atomic_load(&progress);
		if (cur == prev) {
			same++;
		} else {
			same = 0;
			prev = cur;
		}
	}
}

static bool
no_done(const struct ms *s)
{
	for (int p = 0; p < NPS; p++)
		if (s->p[p].st == P_DONE)
			return false;
	return true;
}

/*
 * Liveness: within QUIESCE_NS the parties that are still out must be in a
 * state the model calls stable, with no party the model says has returned
 * still missing.  Nothing is narrowed by it.
 */
static bool
quiesce(void)
{
	int64_t end = green_now() + QUIESCE_NS;

	ST.quiesces++;
	for (;;) {
		if (!observe())
			return false;
		for (size_t i = 0; i < R.S.n; i++)
			if (no_done(&R.S.v[i]) && stable(&R.S.v[i]))
				return true;
		if (green_now() > end)
			return mfail("liveness: after %lld ms no party has moved "
				    "and the model has no state in which all of "
				    "them wait (a lost wake-up, or a call that "
				    "returned and left its party blocked)",
				    (long long)(QUIESCE_NS / 1000000));
		green_sleep(green_now() + GREEN_USEC(300));
		R.last_switch = green_now();
	}
}

/* After each operation.  One worker: narrow to the settled states, unless
 * the driver ran long enough for the monitor to hand its worker off. */
static bool
post_op(void)
{
	int64_t t0 = green_now();
	bool trust;

	if (R.workers != 1) {
		green_yield();
		return true;
	}
	if (t0 - R.last_switch > GREEN_MSEC(3))
		R.distrust = 4;
	trust = R.distrust == 0 && !TEST_VALGRIND;
	if (R.distrust > 0)
		R.distrust--;
	settle();
	R.last_switch = green_now();
	if (!observe())
		return false;
	if (!trust)
		return true;
	sset_clear(&R.T);
	for (size_t i = 0; i < R.S.n; i++)
		if (settled(&R.S.v[i]))
			sset_add(&R.T, &R.S.v[i]);
	if (R.T.n == 0) {
		ST.narrow_empty++;
		return quiesce();
	}
	ST.narrowed++;
	sset_swap(&R.S, &R.T);
	return true;
}

/* Add party p (not yet called) to every state. */
static void
model_add_party(int p)
{
	sset_clear(&R.T);
	for (size_t i = 0; i < R.S.n; i++) {
		struct ms u;
		memcpy(&u, &R.S.v[i], sizeof(u));
		memset(&u.p[p], 0, sizeof(u.p[p]));
		u.p[p].st = P_PEND;
		sset_add(&R.T, &u);
	}
	sset_swap(&R.S, &R.T);
}

/* --- parties --------------------------------------------------------------------- */

static void
party_prepare(struct party *d)
{
	d->h = d->ch >= 0 ? R.H[d->ch] : NULL;
	for (int i = 0; i < d->ncase; i++) {
		const struct pcase *c = &d->cs[i];
		d->gv[i] = c->kind == GREEN_SEND ? c->val : NOVAL;
		d->gc[i] = (green_case_t){
			.kind = c->kind,
			.chan = c->ch >= 0 ? R.H[c->ch] : NULL,
			.elem = c->kind == GREEN_SEND || c->elem ? &d->gv[i] : NULL,
			.result = 12345,
		};
	}
	d->got = NOVAL;
	d->r = d->cres = d->r1 = d->r3 = 0;
}

/* The one blocking call of a party (or of the driver, for PD). */
static void
party_call(struct party *d)
{
	switch (d->kind) {
	case K_SEND:
		d->r = green_chan_send(d->h, &d->val, d->deadline);
		break;
	case K_RECV:
		d->r = green_chan_recv(d->h, d->elem ? &d->got : NULL, d->deadline);
		break;
	case K_SELECT:
		d->r = green_select(d->gc, (size_t)d->ncase, d->deadline);
		d->cres = d->r >= 0 && d->r < d->ncase ? d->gc[d->r].result : 0;
		break;
	case K_SEM:
		d->r = green_sem_acquire(&SEM, d->deadline);
		break;
	case K_LOCK:
		d->r = green_mutex_lock(&M, d->deadline);
		break;
	case K_WG:
		d->r = green_wg_wait(&WG, d->deadline);
		break;
	case K_COND:
		d->r = green_mutex_lock(&M, GREEN_FOREVER);
		if (d->r == 0) {
			atomic_fetch_add(&progress, 1);
			d->r1 = green_cond_wait(&CV, &M, d->deadline);
			atomic_fetch_add(&progress, 1);
			d->r3 = green_mutex_unlock(&M);
		}
		break;
	}
}

static void *
party_main(void *arg)
{
	struct party *d = arg;

	atomic_fetch_add(&progress, 1);
	atomic_store(&d->arrived, 1);
	party_call(d);
	atomic_fetch_add(&progress, 1);
	atomic_store_explicit(&d->done, 1, memory_order_release);
	return NULL;
}

/* --- the generator ------------------------------------------------------------------ */

static int
pick_live_chan(void)
{
	int live[NCH], n = 0;

	for (int c = 0; c < NCH; c++)
		if (R.H[c] != NULL)
			live[n++] = c;
	return n ? live[rnd((unsigned)n)] : -1;
}

static int
pick_case_chan(void)
{
	return chance(12) ? -1 : pick_live_chan();
}

static void
gen_cases(struct pcase *cs, int n)
{
	for (int i = 0; i < n; i++) {
		cs[i].kind = chance(50) ? GREEN_SEND : GREEN_RECV;
		cs[i].ch = pick_case_chan();
		cs[i].val = cs[i].kind == GREEN_SEND ? R.next_val++ : 0;
		cs[i].elem = chance(80);
	}
}

static const struct ms *
rep(void)
{
	return &R.S.v[0]; /* what every state agrees on: objects' life, wg */
}

/* Whether any live party may still be about to call, on channel c (-1:
 * any object). */
static bool
may_call_on(int c)
{
	for (int p = 0; p < NP; p++) {
		const struct party *d = &P[p];
		bool uses = d->ch == c;
		if (!d->live)
			continue;
		for (int i = 0; i < d->ncase; i++)
			uses |= d->cs[i].ch == c;
		if (!uses)
			continue;
		for (size_t i = 0; i < R.S.n; i++)
			if (R.S.v[i].p[p].st == P_PEND)
				return true;
	}
	return false;
}

static bool
party_of_kind_live(int k1, int k2)
{
	for (int p = 0; p < NP; p++)
		if (P[p].live && (P[p].kind == k1 || P[p].kind == k2))
			return true;
	return false;
}

/* Entries parties could put on channel c's lists, with d added. */
static bool
room_on_lists(const struct party *d)
{
	for (int c = 0; c < NCH; c++) {
		int n = 0;
		for (int p = 0; p <= NP; p++) {
			const struct party *x = p == NP ? d : &P[p];
			if (p < NP && !x->live)
				continue;
			if (x->kind == K_SEND || x->kind == K_RECV)
				n += x->ch == c;
			if (x->kind == K_SELECT)
				for (int i = 0; i < x->ncase; i++)
					n += x->cs[i].ch == c;
		}
		if (n > QM - MAXC) /* room for the driver's own call */
			return false;
	}
	return true;
}

/* Describe a new party in slot p; false if none fits now. */
static bool
gen_party(int p)
{
	struct party *d = &P[p];
	const struct ms *s = rep();
	unsigned w = rnd(100);

	d->ch = -1;
	d->ncase = 0;
	d->val = 0;
	d->elem = false;
	if (w < 22)
		d->kind = K_SEND;
	else if (w < 44)
		d->kind = K_RECV;
	else if (w < 70)
		d->kind = K_SELECT;
	else if (w < 80)
		d->kind = K_SEM;
	else if (w < 89)
		d->kind = K_LOCK;
	else if (w < 95)
		d->kind = K_COND;
	else
		d->kind = K_WG;
	switch (d->kind) {
	case K_SEND:
	case K_RECV:
		if ((d->ch = pick_live_chan()) < 0)
			return false;
		d->val = d->kind == K_SEND ? R.next_val++ : 0;
		d->elem = chance(80);
		break;
	case K_SELECT:
		d->ncase = 1 + (int)rnd(3);
		gen_cases(d->cs, d->ncase);
		break;
	case K_SEM:
		if (s->sdead)
			return false;
		break;
	case K_LOCK:
		if (s->mdead)
			return false;
		break;
	case K_COND:
		if (s->mdead || s->cdead)
			return false;
		break;
	default:
		break;
	}
	if (d->kind == K_LOCK || d->kind == K_COND) {
		/* the mutex's phases multiply the states: a few at a time */
		int n = 0;
		for (int q = 0; q < NP; q++)
			n += P[q].live && (P[q].kind == K_LOCK || P[q].kind == K_COND);
		if (n >= 3)
			return false;
	}
	d->shortdl = chance(35);
	return room_on_lists(d);
}

/* An operation on what party p waits for: wakes it, or races with its
 * deadline or cancellation.  False if there is none. */
static bool
gen_poke(int p, struct dop *op)
{
	const struct party *d = &P[p];
	const struct ms *s = rep();
	int ch = d->ch, kind = d->kind == K_RECV ? GREEN_SEND : GREEN_RECV;

	if (d->kind == K_SELECT) {
		int i = d->ncase ? (int)rnd((unsigned)d->ncase) : 0;
		if (d->ncase == 0 || d->cs[i].ch < 0)
			return false;
		ch = d->cs[i].ch;
		kind = d->cs[i].kind == GREEN_RECV ? GREEN_SEND : GREEN_RECV;
	}
	switch (d->kind) {
	case K_SEND:
	case K_RECV:
	case K_SELECT:
		if (R.H[ch] == NULL)
			return false;
		op->ch = ch;
		op->kind = kind == GREEN_SEND ? D_SEND : D_RECV;
		op->val = kind == GREEN_SEND ? R.next_val++ : 0;
		op->elem = true;
		return true;
	case K_SEM:
		op->kind = D_SEMREL;
		return true;
	case K_LOCK:
		op->kind = D_UNLOCK;
		return true;
	case K_COND:
		op->kind = chance(70) ? D_SIGNAL : D_UNLOCK;
		return true;
	default:
		if (s->wg <= 0)
			return false;
		op->kind = D_WGADD;
		op->n = -s->wg;
		return true;
	}
}

/* A channel that a party the model says has returned (in every state) may
 * still list (a select's other cases, a waiter that timed out or was
 * cancelled), or -1. */
static int
lingering_chan(void)
{
	for (int p = 0; p < NP; p++) {
		unsigned linger = 0xff;
		if (!P[p].live)
			continue;
		for (size_t i = 0; i < R.S.n && linger != 0; i++) {
			const struct mp *m = &R.S.v[i].p[p];
			linger = m->st == P_DONE ? linger & m->linger : 0;
		}
		for (int c = 0; c < NCH; c++)
			if ((linger & (1u << c)) && R.H[c] != NULL &&
			    !may_call_on(c))
				return c;
	}
	return -1;
}

/* Choose the next operation. */
static void
gen_op(struct dop *op)
{
	const struct ms *s = rep();
	int lc;

	/* destroy a channel a party may still list: -EBUSY or 0 */
	if ((lc = lingering_chan()) >= 0 && chance(50)) {
		memset(op, 0, sizeof(*op));
		op->kind = D_DESTROY;
		op->ch = lc;
		return;
	}

	for (;;) {
		unsigned w = rnd(1000);
		int c = pick_live_chan();

		memset(op, 0, sizeof(*op));
		op->ch = c;
		/* too many possibilities (two workers: parties that may or may
		 * not have reached their calls, in every order): cancel one */
		if (R.S.n > SPAWN_SMAX * 16) {
			int live[NP], n = 0;
			for (int p = 0; p < NP; p++)
				if (P[p].live && !P[p].cancelled)
					live[n++] = p;
			if (n > 0) {
				op->kind = D_CANCEL;
				op->p = live[rnd((unsigned)n)];
			} else {
				op->kind = D_SLEEP;
				op->dlns = GREEN_MSEC(1);
			}
			return;
		}
		/* a destroyed object comes back soon */
		if ((s->mdead || s->sdead || s->cdead) && chance(8)) {
			if (s->mdead && !party_of_kind_live(K_LOCK, K_COND))
				op->kind = D_MINIT;
			else if (s->sdead && !party_of_kind_live(K_SEM, K_SEM))
				op->kind = D_SEMINIT;
			else if (s->cdead && !party_of_kind_live(K_COND, K_COND))
				op->kind = D_CINIT;
			else
				continue;
			op->n = (int)rnd(3);
			return;
		}
		op->shortdl = chance(6);
		op->dlns = GREEN_USEC(200 + rnd(800));
		if (w < 110) {
			if (c < 0)
				continue;
			op->kind = D_SEND;
			op->val = R.next_val++;
		} else if (w < 220) {
			if (c < 0)
				continue;
			op->kind = D_RECV;
			op->elem = chance(80);
		} else if (w < 320) {
			op->kind = D_SELECT;
			op->ncase = chance(3) ? 0 : 1 + (int)rnd(MAXC);
			gen_cases(op->cs, op->ncase);
			if (op->ncase == 0 && op->shortdl)
				op->dlns = GREEN_USEC(50);
		} else if (w < 332) {
			if (c < 0)
				continue;
			op->kind = D_CLOSE;
		} else if (w < 352) {
			if (c < 0)
				continue;
			op->kind = D_LEN;
		} else if (w < 362) {
			if (c < 0)
				continue;
			op->kind = D_CAP;
		} else if (w < 385) {
			/* destroy: a closed channel (room for a new one), or
			 * one with parties parked on it (-EBUSY) */
			int cand[NCH], n = 0;
			bool busy = chance(50);
			for (int k = 0; k < NCH; k++)
				if (R.H[k] != NULL &&
				    (busy ? s->ch[k].ns + s->ch[k].nr > 0
					  : s->ch[k].closed))
					cand[n++] = k;
			if (n > 0)
				c = cand[rnd((unsigned)n)];
			else if (!chance(15))
				continue;
			if (c < 0 || may_call_on(c))
				continue;
			op->kind = D_DESTROY;
			op->ch = c;
		} else if (w < 410) {
			int dead[NCH], n = 0;
			for (int k = 0; k < NCH; k++)
				if (R.H[k] == NULL)
					dead[n++] = k;
			if (n == 0)
				continue;
			op->kind = D_CREATE;
			op->ch = dead[rnd((unsigned)n)];
			op->n = (int)rnd(MAXCAP + 1);
		} else if (w < 418) {
			op->kind = D_STALE;
			op->n = (int)rnd(9);
			if (op->n < 7 && R.nstale == 0)
				continue;
			if (op->n >= 7 && R.stale_task == NULL)
				continue;
		} else if (w < 424) {
			op->kind = D_MISUSE;
			op->n = (int)rnd(12);
			if (op->n <= 4 && c < 0)
				continue;
		} else if (w < 450) {
			op->kind = D_TRYLOCK;
		} else if (w < 470) {
			op->kind = D_LOCK;
		} else if (w < 510) {
			op->kind = D_UNLOCK;
		} else if (w < 514) {
			if (party_of_kind_live(K_LOCK, K_COND))
				continue;
			op->kind = s->mdead ? D_MINIT : D_MDESTROY;
		} else if (w < 544) {
			op->kind = D_SEMACQ;
		} else if (w < 574) {
			op->kind = D_SEMREL;
		} else if (w < 577) {
			if (party_of_kind_live(K_SEM, K_SEM))
				continue;
			op->kind = s->sdead ? D_SEMINIT : D_SEMDESTROY;
			op->n = (int)rnd(3);
		} else if (w < 597) {
			op->kind = D_WGADD;
			op->n = s->wg > 2 ? -1 : chance(75) ? 1 : 2;
		} else if (w < 617) {
			op->kind = D_WGADD;
			op->n = chance(75) ? -1 : -2;
		} else if (w < 627) {
			op->kind = D_WGWAIT;
			op->shortdl = false;
		} else if (w < 647) {
			op->kind = D_SIGNAL;
		} else if (w < 657) {
			op->kind = D_BROADCAST;
		} else if (w < 662) {
			if (party_of_kind_live(K_LOCK, K_COND))
				continue;
			op->kind = D_CONDWAIT;
		} else if (w < 665) {
			if (party_of_kind_live(K_COND, K_COND))
				continue;
			op->kind = s->cdead ? D_CINIT : D_CDESTROY;
		} else if (w < 900) {
			int p;
			for (p = 0; p < NP && P[p].live; p++)
				;
			if (p == NP || R.S.n > SPAWN_SMAX || !gen_party(p))
				continue;
			op->kind = D_SPAWN;
			op->p = p;
			return;
		} else if (w < 950) {
			/* poke a live party: wake it, or race with its
			 * deadline or its cancellation */
			int live[NP], n = 0;
			for (int p = 0; p < NP; p++)
				if (P[p].live)
					live[n++] = p;
			if (n == 0 || !gen_poke(live[rnd((unsigned)n)], op))
				continue;
		} else if (w < 980) {
			int live[NP], n = 0;
			for (int p = 0; p < NP; p++)
				if (P[p].live)
					live[n++] = p;
			if (n == 0)
				continue;
			op->kind = D_CANCEL;
			op->p = live[rnd((unsigned)n)];
			op->nosettle = chance(50);
			return;
		} else if (w < 988) {
			op->kind = D_QUIESCE;
		} else {
			op->kind = D_SLEEP;
			op->dlns = GREEN_USEC(100 + rnd(2000));
			return;
		}
		/* now and then the next operation follows at once, before
		 * what this one woke has run */
		op->nosettle = chance(12);
		return;
	}
}

/* --- executing operations --------------------------------------------------------- */

/* A driver call with a short deadline: the driver is a party meanwhile
 * (slot PD), as parties arriving may meet it. */
static bool
blocking_op(const struct dop *op, struct out *got)
{
	struct party *d = &P[PD];
	char g[96];

	memset(d->cs, 0, sizeof(d->cs));
	d->ch = op->ch;
	d->val = op->val;
	d->elem = op->elem;
	d->ncase = 0;
	d->shortdl = true;
	switch (op->kind) {
	case D_SEND:
		d->kind = K_SEND;
		break;
	case D_RECV:
		d->kind = K_RECV;
		break;
	case D_SELECT:
		d->kind = K_SELECT;
		d->ncase = op->ncase;
		memcpy(d->cs, op->cs, sizeof(d->cs));
		break;
	case D_LOCK:
		d->kind = K_LOCK;
		break;
	case D_SEMACQ:
		d->kind = K_SEM;
		break;
	default:
		model_bug("blocking op kind");
	}
	if (!closure())
		return false;
	party_prepare(d);
	model_add_party(PD);
	d->live = true;
	d->deadline = green_now() + op->dlns;
	party_call(d);
	R.last_switch = green_now();
	*got = party_out(PD);
	if (!closure() || !check_party(PD))
		return false;
	d->live = false;
	describe_party_out(g, sizeof(g), PD, *got);
	history_add(R.what, g);
	return ledger_party(PD);
}

static struct out
exec_stale(const struct dop *op)
{
	struct out o = { 0, 0, 0 };
	green_chan_t *h = R.nstale ? R.stale[rnd((unsigned)R.nstale)] : NULL;
	int v = 1;
	green_case_t gc[2];
	int c = pick_live_chan();

	switch (op->n) {
	case 0:
		o.r = green_chan_send(h, &v, 0);
		break;
	case 1:
		o.r = green_chan_recv(h, &v, 0);
		break;
	case 2:
		o.r = green_chan_close(h);
		break;
	case 3:
		o.r = (int)green_chan_len(h);
		break;
	case 4:
		o.r = (int)green_chan_cap(h);
		break;
	case 5:
		o.r = green_chan_destroy(h);
		break;
	case 6:
		/* a stale case next to a live one: nothing is performed */
		gc[0] = (green_case_t){ .kind = GREEN_RECV, .chan = c >= 0 ? R.H[c] : NULL };
		gc[1] = (green_case_t){ .kind = GREEN_RECV, .chan = h };
		o.r = green_select(gc, 2, 0);
		break;
	case 7:
		o.r = green_cancel(R.stale_task);
		break;
	default:
		o.r = green_join(R.stale_task, NULL, 0);
		break;
	}
	return o;
}

static struct out
exec_misuse(const struct dop *op)
{
	struct out o = { 0, 0, 0 };
	int v = 1;
	green_sem_t scratch;
	green_case_t gc[2];
	green_chan_t *h = op->ch >= 0 ? R.H[op->ch] : NULL;

	switch (op->n) {
	case 0:
		o.r = green_chan_send(h, NULL, 0);
		break;
	case 1:
		o.r = green_chan_recv(h, &v, -2);
		break;
	case 2:
		o.r = green_chan_send(h, &v, -5);
		break;
	case 3: /* an unknown kind next to a (maybe) ready case */
		gc[0] = (green_case_t){ .kind = GREEN_RECV, .chan = h };
		gc[1] = (green_case_t){ .kind = 99, .chan = h };
		o.r = green_select(gc, 2, 0);
		break;
	case 4: /* a send case without a value */
		gc[0] = (green_case_t){ .kind = GREEN_RECV, .chan = h };
		gc[1] = (green_case_t){ .kind = GREEN_SEND, .chan = h };
		o.r = green_select(gc, 2, 0);
		break;
	case 5:
		o.r = green_sem_acquire(&SEM, -2);
		break;
	case 6:
		o.r = green_mutex_lock(&M, -2);
		break;
	case 7:
		o.r = green_wg_wait(&WG, -2);
		break;
	case 8:
		o.r = green_cond_wait(&CV, &M, -2);
		break;
	case 9:
		o.r = green_cancel(NULL);
		break;
	case 10:
		o.r = green_wg_add(NULL, 1);
		break;
	default:
		o.r = green_sem_init(&scratch, -1);
		break;
	}
	return o;
}

/* Run op (deadline 0, or short through blocking_op), check it, ledger. */
static bool
run_op(const struct dop *op)
{
	struct out o = { 0, 0, 0 };
	int v = NOVAL;
	char g[96];

	ST.ops++;
	if (op->shortdl &&
	    (op->kind == D_SEND || op->kind == D_RECV || op->kind == D_SELECT ||
	     op->kind == D_LOCK || op->kind == D_SEMACQ))
		return blocking_op(op, &o) && post_op();
	switch (op->kind) {
	case D_SEND:
		o.r = green_chan_send(R.H[op->ch], &op->val, 0);
		break;
	case D_RECV:
		o.r = green_chan_recv(R.H[op->ch], op->elem ? &v : NULL, 0);
		if (o.r == 0 && op->elem)
			o.v = v;
		break;
	case D_SELECT: {
		green_case_t gc[MAXC];
		int gv[MAXC];
		for (int i = 0; i < op->ncase; i++) {
			const struct pcase *c = &op->cs[i];
			gv[i] = c->kind == GREEN_SEND ? c->val : NOVAL;
			gc[i] = (green_case_t){
				.kind = c->kind,
				.chan = c->ch >= 0 ? R.H[c->ch] : NULL,
				.elem = c->kind == GREEN_SEND || c->elem ? &gv[i] : NULL,
				.result = 12345,
			};
		}
		o.r = green_select(gc, (size_t)op->ncase, 0);
		if (o.r >= 0 && o.r < op->ncase) {
			o.cres = gc[o.r].result;
			if (o.cres == 0 && op->cs[o.r].kind == GREEN_RECV &&
			    op->cs[o.r].elem)
				o.v = gv[o.r];
		}
		break;
	}
	case D_CLOSE:
		o.r = green_chan_close(R.H[op->ch]);
		break;
	case D_LEN:
		o.r = (int)green_chan_len(R.H[op->ch]);
		break;
	case D_CAP:
		o.r = (int)green_chan_cap(R.H[op->ch]);
		break;
	case D_DESTROY:
		o.r = green_chan_destroy(R.H[op->ch]);
		break;
	case D_CREATE:
		o.r = green_chan_create(&R.H[op->ch], sizeof(int), (size_t)op->n);
		break;
	case D_STALE:
		o = exec_stale(op);
		break;
	case D_MISUSE:
		o = exec_misuse(op);
		break;
	case D_TRYLOCK:
		o.r = green_mutex_trylock(&M);
		break;
	case D_LOCK:
		o.r = green_mutex_lock(&M, 0);
		break;
	case D_UNLOCK:
		o.r = green_mutex_unlock(&M);
		break;
	case D_MDESTROY:
		o.r = green_mutex_destroy(&M);
		break;
	case D_MINIT:
		o.r = green_mutex_init(&M);
		break;
	case D_SEMACQ:
		o.r = green_sem_acquire(&SEM, 0);
		break;
	case D_SEMREL:
		o.r = green_sem_release(&SEM);
		break;
	case D_SEMDESTROY:
		o.r = green_sem_destroy(&SEM);
		break;
	case D_SEMINIT:
		o.r = green_sem_init(&SEM, op->n);
		break;
	case D_WGADD:
		o.r = op->n == -1 ? green_wg_done(&WG) : green_wg_add(&WG, op->n);
		break;
	case D_WGWAIT:
		o.r = green_wg_wait(&WG, 0);
		break;
	case D_SIGNAL:
		o.r = green_cond_signal(&CV);
		break;
	case D_BROADCAST:
		o.r = green_cond_broadcast(&CV);
		break;
	case D_CONDWAIT:
		o.r = green_cond_wait(&CV, &M, 0);
		break;
	case D_CDESTROY:
		o.r = green_cond_destroy(&CV);
		break;
	case D_CINIT:
		o.r = green_cond_init(&CV);
		break;
	default:
		model_bug("run_op kind");
	}
	describe_out(g, sizeof(g), op, o);
	history_add(R.what, g);
	if (!check_op(op, o))
		return false;
	/* the ledger and the driver's handles */
	switch (op->kind) {
	case D_SEND:
		R.accepted += o.r == 0;
		break;
	case D_RECV:
		if (o.r == 0) {
			R.received++;
			if (op->elem && !ledger_recv(o.v))
				return false;
		}
		break;
	case D_SELECT:
		if (o.r >= 0 && o.cres == 0) {
			if (op->cs[o.r].kind == GREEN_SEND) {
				R.accepted++;
			} else {
				R.received++;
				if (op->cs[o.r].elem && !ledger_recv(o.v))
					return false;
			}
		}
		break;
	case D_DESTROY:
		if (o.r == 0) {
			R.stale[R.nstale < NSTALE ? R.nstale++ : (int)rnd(NSTALE)] =
				R.H[op->ch];
			R.H[op->ch] = NULL;
		}
		break;
	default:
		break;
	}
	return op->nosettle || post_op();
}

static bool
spawn_party(int p)
{
	struct party *d = &P[p];
	int r;

	party_prepare(d);
	d->deadline = d->shortdl ? green_now() + GREEN_USEC(1000 + rnd(2000))
				 : GREEN_FOREVER;
	atomic_store(&d->arrived, 0);
	atomic_store(&d->done, 0);
	d->cancelled = false;
	d->spawned_at = R.step;
	model_add_party(p);
	d->live = true;
	history_add(R.what, "spawned");
	r = green_spawn(&d->task, NULL, party_main, d);
	if (r != 0) {
		d->live = false;
		return mfail("green_spawn: %s", errname(r));
	}
	ST.spawns++;
	if (R.workers != 1) {
		/* let it reach its call: not needed for correctness, it only
		 * makes "parked" the likely case */
		int64_t end = green_now() + GREEN_MSEC(50);
		while (!atomic_load(&d->arrived) && green_now() < end)
			green_yield();
	}
	return post_op();
}

static bool
cancel_party(int p, bool nosettle)
{
	int r = green_cancel(P[p].task);

	P[p].cancelled = true;
	ST.cancels++;
	history_add(R.what, errname(r));
	if (r != 0)
		return mfail("green_cancel of a live party: %s", errname(r));
	sset_clear(&R.T);
	for (size_t i = 0; i < R.S.n; i++) {
		struct ms u;
		memcpy(&u, &R.S.v[i], sizeof(u));
		if (u.p[p].st != P_FREE)
			u.p[p].canc = 1;
		sset_add(&R.T, &u);
	}
	sset_swap(&R.S, &R.T);
	return nosettle || post_op();
}

static bool
do_op(struct dop *op)
{
	describe_op(R.whatbuf, sizeof(R.whatbuf), op);
	R.what = R.whatbuf;
	switch (op->kind) {
	case D_SPAWN:
		return spawn_party(op->p);
	case D_CANCEL:
		return cancel_party(op->p, op->nosettle);
	case D_QUIESCE:
		history_add(R.what, "");
		return quiesce();
	case D_SLEEP:
		history_add(R.what, "");
		green_sleep(green_now() + op->dlns);
		R.last_switch = green_now();
		return post_op();
	case D_DESTROY: {
		/* what the buffer held is dropped: the ledger counts it */
		struct dop len = *op;
		int n;
		len.kind = D_LEN;
		len.nosettle = true; /* as if one call */
		describe_op(R.whatbuf, sizeof(R.whatbuf), &len);
		if (!run_op(&len))
			return false;
		n = (int)green_chan_len(R.H[op->ch]);
		describe_op(R.whatbuf, sizeof(R.whatbuf), op);
		if (!run_op(op))
			return false;
		if (R.H[op->ch] == NULL)
			R.discarded += n;
		return true;
	}
	default:
		return run_op(op);
	}
}

/* A few checked operations, built by hand. */
static bool
op_simple(int kind, int ch, int n)
{
	struct dop op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	op.ch = ch;
	op.n = n;
	op.elem = true;
	return do_op(&op);
}

/* --- one sequence -------------------------------------------------------------------- */

/* After a failure: unblock and reap what is left, best effort, so that the
 * runtime can shut down. */
static void
emergency_cleanup(void)
{
	for (int p = 0; p < NP; p++)
		if (P[p].live)
			green_cancel(P[p].task);
	for (int c = 0; c < NCH; c++)
		if (R.H[c] != NULL)
			green_chan_close(R.H[c]);
	green_cond_broadcast(&CV);
	for (int i = 0; i < 2 * NP; i++) {
		green_sem_release(&SEM);
		green_mutex_unlock(&M);
		green_sleep(green_now() + GREEN_MSEC(1));
	}
	for (int i = 0; i < 1000 && green_wg_done(&WG) == 0; i++)
		;
	for (int p = 0; p < NP; p++) {
		if (!P[p].live)
			continue;
		for (int i = 0; i < 20; i++) {
			if (green_join(P[p].task, NULL,
				       green_now() + GREEN_MSEC(100)) == 0)
				break;
			green_mutex_unlock(&M);
			green_cond_broadcast(&CV);
			green_sem_release(&SEM);
		}
		P[p].live = false;
	}
	for (int c = 0; c < NCH; c++)
		if (R.H[c] != NULL)
			green_chan_destroy(R.H[c]);
}

/* End of a sequence: release (or cancel) every party and join it, drain
 * and destroy the channels, check the ledger. */
static bool
finish_seed(void)
{
	bool cancel_all = chance(30);
	int64_t end;

	R.step = R.nsteps;
	R.what = "end of sequence";
	if (!observe())
		return false;
	for (int p = 0; p < NP; p++) {
		/* a select whose cases are all NULL only a cancellation ends */
		bool stuck = P[p].kind == K_SELECT;
		for (int i = 0; i < P[p].ncase; i++)
			stuck &= P[p].cs[i].ch < 0;
		if (P[p].live && (cancel_all || stuck)) {
			struct dop op = { .kind = D_CANCEL, .p = p };
			if (!do_op(&op))
				return false;
		}
	}
	end = green_now() + QUIESCE_NS;
	while (any_live()) {
		if (!observe())
			return false;
		if (!any_live())
			break;
		if (green_now() > end)
			return mfail("liveness: parties still blocked %lld ms after "
				    "their channels were closed, the semaphore "
				    "released, the wait group zeroed, the "
				    "condition broadcast and the mutex unlocked",
				    (long long)(QUIESCE_NS / 1000000));
		for (int c = 0; c < NCH; c++)
			if (R.H[c] != NULL && !rep()->ch[c].closed &&
			    !op_simple(D_CLOSE, c, 0))
				return false;
		if (!rep()->cdead && !op_simple(D_BROADCAST, -1, 0))
			return false;
		if (!rep()->sdead)
			for (int p = 0; p < NP; p++)
				if (P[p].live && P[p].kind == K_SEM &&
				    !op_simple(D_SEMREL, -1, 0))
					return false;
		if (rep()->wg > 0 && !op_simple(D_WGADD, -1, -rep()->wg))
			return false;
		if (!rep()->mdead && !op_simple(D_UNLOCK, -1, 0))
			return false;
		green_sleep(green_now() + GREEN_USEC(200));
		R.last_switch = green_now();
	}
	/* drain, then destroy */
	for (int c = 0; c < NCH; c++) {
		if (R.H[c] == NULL)
			continue;
		for (int i = 0; i <= MAXCAP + 1; i++) {
			struct dop op;
			int len = (int)rep()->ch[c].len;
			memset(&op, 0, sizeof(op));
			op.kind = D_RECV;
			op.ch = c;
			op.elem = chance(80);
			if (!do_op(&op))
				return false;
			if (len == 0)
				break;
		}
		if (!op_simple(D_DESTROY, c, 0))
			return false;
		if (R.H[c] != NULL)
			return mfail("channel %d could not be destroyed at the end", c);
	}
	if (rep()->mdead && !op_simple(D_MINIT, -1, 0))
		return false;
	if (rep()->mlocked && !op_simple(D_UNLOCK, -1, 0))
		return false;
	R.what = "ledger";
	if (R.accepted != R.received + R.discarded)
		return mfail("ledger: %ld values delivered by sends, %ld received, "
			    "%ld dropped with destroyed buffers",
			    R.accepted, R.received, R.discarded);
	return true;
}

static bool
run_seed(uint64_t seed, int steps)
{
	struct ms init;

	memset(&R.H, 0, sizeof(R.H));
	R.seed = seed;
	R.rng = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	if (R.rng == 0)
		R.rng = 1;
	for (int i = 0; i < 4; i++)
		rng_next();
	R.step = 0;
	R.nsteps = steps;
	R.nstale = 0;
	R.stale_task = NULL;
	R.next_val = 1;
	R.accepted = R.received = R.discarded = 0;
	if (R.seen != NULL)
		memset(R.seen, 0, R.seen_cap);
	R.nhist = 0;
	R.distrust = 0;
	R.what = "start of sequence";
	R.last_switch = green_now();
	memset(P, 0, sizeof(P));
	memset(&init, 0, sizeof(init));

	init.sem = (int32_t)rnd(3);
	if (green_mutex_init(&M) != 0 || green_sem_init(&SEM, init.sem) != 0 ||
	    green_wg_init(&WG) != 0 || green_cond_init(&CV) != 0)
		return mfail("initialising the sync objects");
	for (int c = 0; c < NCH; c++) {
		int cap = (int)rnd(MAXCAP + 1);
		if (c == NCH - 1 && chance(50))
			continue; /* three channels, or four */
		if (green_chan_create(&R.H[c], sizeof(int), (size_t)cap) != 0)
			return mfail("green_chan_create");
		init.ch[c].live = 1;
		init.ch[c].cap = (uint8_t)cap;
	}
	sset_clear(&R.S);
	sset_add(&R.S, &init);
	ST.seeds++;
	for (R.step = 0; R.step < steps; R.step++) {
		struct dop op;
		if (!observe())
			goto failed;
		gen_op(&op);
		if (!do_op(&op))
			goto failed;
		ST.steps++;
	}
	if (finish_seed())
		return true;
failed:
	emergency_cleanup();
	return false;
}

/* --- the runs ---------------------------------------------------------------------------- */

static long
env_long(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return def;
	n = strtol(v, &end, 0);
	return *end == '\0' && n > 0 ? n : def;
}

struct plan {
	unsigned workers;
	bool ok;
};

/* Seeds of tests/model-seeds.txt: "seed [steps [workers]]" per line. */
static bool
run_corpus(unsigned workers)
{
	const char *path = getenv("MODEL_SEEDS_FILE");
	char line[256];
	FILE *f;
	bool ok = true;

	if (path == NULL)
		path = MODEL_SEEDS_FILE;
	if ((f = fopen(path, "r")) == NULL)
		return true; /* not there (an installed test, say): nothing */
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		unsigned long long seed;
		int steps = DEF_STEPS, w = 0;
		if (line[0] == '#' || sscanf(line, "%llu %d %d", &seed, &steps, &w) < 1)
			continue;
		if (w != 0 && (unsigned)w != workers)
			continue;
		ST.corpus++;
		ok = run_seed(seed, steps);
	}
	fclose(f);
	return ok;
}

static void *
driver_main(void *arg)
{
	struct plan *pl = arg;
	long one = env_long("MODEL_SEED", 0);
	long seeds = env_long("MODEL_SEEDS", DEF_SEEDS);
	long steps = env_long("MODEL_STEPS", DEF_STEPS);
	long base = env_long("MODEL_SEED_BASE", 1);

	R.workers = pl->workers;
	R.trace = getenv("MODEL_TRACE") != NULL;
	R.cond_spurious = getenv("MODEL_COND_SPURIOUS") != NULL;
	pl->ok = true;
	if (one != 0) {
		pl->ok = run_seed((uint64_t)one, (int)steps);
		return NULL;
	}
	if (!run_corpus(pl->workers)) {
		pl->ok = false;
		return NULL;
	}
	for (long i = 0; i < seeds && pl->ok; i++)
		pl->ok = run_seed((uint64_t)(base + i), (int)steps);
	return NULL;
}

static void
print_tables(void)
{
	static const char *cls[] = { "ok",	 "EPIPE", "ETIMEDOUT", "ECANCELED",
				     "EINVAL", "EBUSY", "EPERM",     "other" };
	static const char *drv[] = {
		"?",	       "send",	      "recv",	       "select",
		"close",       "len",	      "cap",	       "destroy",
		"create",      "stale",	      "misuse",	       "mutex-trylock",
		"mutex-lock",  "mutex-unlock", "mutex-destroy", "mutex-init",
		"sem-acquire", "sem-release", "sem-destroy",   "sem-init",
		"wg-add",      "wg-wait",     "cond-signal",   "cond-broadcast",
		"cond-wait",   "cond-destroy", "cond-init",
	};

	printf("driver calls (deadline 0), then parties and the driver's "
	       "calls with a short deadline, by result:\n%-16s", "");
	for (int c = 0; c < NCLS; c++)
		printf(" %9s", cls[c]);
	printf("\n");
	for (int k = 1; k <= D_CINIT; k++) {
		printf("%-16s", drv[k]);
		for (int c = 0; c < NCLS; c++)
			printf(" %9ld", ST.drv[k][c]);
		printf("\n");
	}
	for (int k = 1; k <= K_WG; k++) {
		printf("%-16s", kind_names[k]);
		for (int c = 0; c < NCLS; c++)
			printf(" %9ld", ST.party[k][c]);
		printf("\n");
	}
	printf("checks with more than one allowed outcome: %ld\n", ST.open);
}

static void
run_model(unsigned workers)
{
	struct plan pl = { workers, false };
	int64_t t0 = green_now();
	int err;

	memset(&ST, 0, sizeof(ST));
	R.failed = false;
	failmsg[0] = '\0';
	run_task(driver_main, &pl, &err);
	ck_assert_msg(err == 0, "spawn/join of the driver: %s", green_strerror(err));
	printf("check_model: %u worker(s): %ld seeds (%ld from the corpus), "
	       "%ld steps, %ld driver operations, %ld parties (%ld cancels), "
	       "%ld outcomes checked (%ld of them party results), %ld "
	       "quiescences, set narrowed %ld times (%ld fell back), at most "
	       "%ld states; %.2f s\n",
	       workers, ST.seeds, ST.corpus, ST.steps, ST.ops, ST.spawns,
	       ST.cancels, ST.checks, ST.party_checks, ST.quiesces, ST.narrowed,
	       ST.narrow_empty, ST.states_max, (double)(green_now() - t0) / 1e9);
	if (getenv("MODEL_VERBOSE") != NULL)
		print_tables();
	fflush(stdout);
	ck_assert_msg(pl.ok && !R.failed, "%s", failmsg);
}

static void
setup1(void)
{
	init_workers(1);
}

static void
setup2(void)
{
	init_workers(2);
}

static void
teardown(void)
{
	shutdown_runtime();
}

START_TEST(test_model_1_worker)
{
	run_model(1);
}
END_TEST

START_TEST(test_model_2_workers)
{
	run_model(2);
}
END_TEST

static Suite *
model_suite(void)
{
	Suite *s = suite_create("model");
	long seeds = env_long("MODEL_SEEDS", DEF_SEEDS);
	long steps = env_long("MODEL_STEPS", DEF_STEPS);
	/* about 1 ms a step is already slow; more is a hang */
	long work = (seeds + 8) * (steps + 200) / 1000;
	int timeout = (int)((60 + work) * TEST_TIMEOUT_MULT * (TEST_SLOW ? 5 : 1));
	TCase *tc;

	tc = add_tcase(s, "model_1_worker", setup1, teardown, timeout);
	tcase_add_test(tc, test_model_1_worker);
	tc = add_tcase(s, "model_2_workers", setup2, teardown, timeout);
	tcase_add_test(tc, test_model_2_workers);
	return s;
}

int
main(void)
{
	return run_suite(model_suite());
}
