/*
 * model.c - the task state machine behind every subcommand (see model.h).
 *
 * It is lenient about what a recorder may legitimately leave out: a trace
 * starts while tasks already exist, so a task may START without CREATE,
 * READY or PARK; such gaps give no sample rather than an error.  Only the
 * reader rejects input.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "out.h"

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

int
gt_model_error(struct gt_model *m, const char *fmt, ...)
{
	va_list ap;

	if (!m->failed && m->err != NULL && m->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(m->err, m->errlen, fmt, ap);
		va_end(ap);
	}
	m->failed = 1;
	return -1;
}

static int
oom(struct gt_model *m)
{
	return gt_model_error(m, "out of memory");
}

/* A copy of a trace string as a C string: NUL bytes become '?'. */
static char *
copy_str(const char *s, uint32_t len)
{
	char *c = malloc((size_t)len + 1);

	if (c == NULL)
		return NULL;
	for (uint32_t i = 0; i < len; i++)
		c[i] = s[i] ? s[i] : '?';
	c[len] = '\0';
	return c;
}

/* --- functions and tasks ---------------------------------------------------- */

static struct gt_func *
func_get(struct gt_model *m, uint64_t addr)
{
	struct gt_func *f = gt_map_get(&m->funcs, addr);

	if (f != NULL)
		return f;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->addr = addr;
	if (gt_map_put(&m->funcs, addr, f) != 0) {
		free(f);
		return NULL;
	}
	return f;
}

static void
func_free(struct gt_func *f)
{
	free(f->name);
	gt_hist_free(&f->latency);
	for (unsigned i = 0; i <= GT_WHY_MAX; i++) {
		if (f->blocking[i] != NULL) {
			gt_hist_free(f->blocking[i]);
			free(f->blocking[i]);
		}
	}
}

/* The task, created (with an unknown function) on first sight. */
static struct gt_task *
task_get(struct gt_model *m, uint64_t id)
{
	struct gt_task *t = gt_map_get(&m->tasks, id);

	if (t != NULL)
		return t;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->id = id;
	t->func = &m->unknown;
	if (gt_map_put(&m->tasks, id, t) != 0) {
		free(t);
		return NULL;
	}
	m->unknown.tasks++;
	return t;
}

static void
task_free(struct gt_task *t)
{
	free(t->name);
	free(t);
}

static int
on_create(struct gt_model *m, const struct gt_event *ev)
{
	struct gt_task *t = task_get(m, ev->arg[0]);
	struct gt_func *f = func_get(m, ev->arg[2]);
	char *name = NULL;

	if (t == NULL || f == NULL)
		return oom(m);
	if (ev->str_len > 0 && (name = copy_str(ev->str, ev->str_len)) == NULL)
		return oom(m);
	free(t->name);
	t->name = name;
	t->func->tasks--;
	t->func = f;
	f->tasks++;
	return 0;
}

static int
on_func(struct gt_model *m, const struct gt_event *ev)
{
	struct gt_func *f = func_get(m, ev->arg[0]);
	char *name;

	if (f == NULL || (name = copy_str(ev->str, ev->str_len)) == NULL)
		return oom(m);
	free(f->name);
	f->name = name;
	return 0;
}

/* --- samples ------------------------------------------------------------------ */

static int
add_blocking(struct gt_model *m, struct gt_task *t, uint64_t ns)
{
	uint64_t why = t->park_why <= GT_WHY_MAX ? t->park_why : 0;
	struct gt_hist **h = &t->func->blocking[why];

	if (*h == NULL && (*h = calloc(1, sizeof(**h))) == NULL)
		return oom(m);
	if (gt_hist_add(*h, ns) != 0 || gt_hist_add(&m->blocking, ns) != 0)
		return oom(m);
	return 0;
}

static void
add_top(struct gt_model *m, const struct gt_slice *s)
{
	uint64_t len = s->end - s->start;
	unsigned i = m->ntop;

	if (i == GT_TOP_SLICES) {
		if (len <= m->top[i - 1].end - m->top[i - 1].start)
			return;
		i--;
	} else {
		m->ntop++;
	}
	/* Insertion sort, longest first; ties keep the earlier slice. */
	for (; i > 0 && len > m->top[i - 1].end - m->top[i - 1].start; i--)
		m->top[i] = m->top[i - 1];
	m->top[i] = *s;
	m->top[i].task_name = NULL; /* not kept past the callback */
}

/* The task stops running at ev (end_type 0: the trace ends). */
static int
end_slice(struct gt_model *m, struct gt_task *t, uint32_t source,
	  uint64_t ts, uint8_t end_type, uint64_t why)
{
	struct gt_slice s = {
		.task = t->id, .func = t->func, .task_name = t->name,
		.worker = t->worker, .start = t->start_ts, .end = ts,
		.end_type = end_type, .why = why,
	};
	struct gt_worker *w = gt_model_worker(m, t->worker);

	if (!t->running)
		return 0;
	t->running = false;
	/* An end on another worker than the start: a gap in the trace. */
	if (source != t->worker || w == NULL || ts < t->start_ts)
		return 0;
	t->func->slices++;
	t->func->run_ns = sat_add(t->func->run_ns, ts - t->start_ts);
	w->busy_ns = sat_add(w->busy_ns, ts - t->start_ts);
	w->slices++;
	add_top(m, &s);
	return m->hooks.slice ? m->hooks.slice(m->hooks.ctx, &s) : 0;
}

/* --- task events ------------------------------------------------------------- */

static int
on_ready(struct gt_model *m, struct gt_task *t, const struct gt_event *ev)
{
	if (t->parked && add_blocking(m, t, ev->ts - t->park_ts) != 0)
		return -1;
	t->parked = false;
	t->ready = true;
	t->ready_ts = ev->ts;
	if (m->hooks.ready == NULL)
		return 0;
	t->flow = ++m->next_flow;
	return m->hooks.ready(m->hooks.ctx, ev, t->flow);
}

static int
on_start(struct gt_model *m, struct gt_task *t, const struct gt_event *ev)
{
	uint64_t flow = t->flow;

	if (t->ready) {
		uint64_t ns = ev->ts - t->ready_ts;

		if (gt_hist_add(&t->func->latency, ns) != 0 ||
		    gt_hist_add(&m->latency, ns) != 0)
			return oom(m);
	}
	/* Started again without an end: the slice's end is not in the trace,
	 * so it is dropped rather than guessed. */
	t->ready = t->parked = false;
	t->flow = 0;
	t->running = true;
	t->start_ts = ev->ts;
	t->worker = ev->source;
	if (flow != 0 && m->hooks.start != NULL)
		return m->hooks.start(m->hooks.ctx, ev, flow);
	return 0;
}

static int
on_stop(struct gt_model *m, struct gt_task *t, const struct gt_event *ev)
{
	uint64_t why = ev->type == GT_PARK ? ev->arg[1] : 0;

	if (end_slice(m, t, ev->source, ev->ts, ev->type, why) != 0)
		return -1;
	switch (ev->type) {
	case GT_YIELD: /* still runnable: waits for the scheduler again */
		t->ready = true;
		t->ready_ts = ev->ts;
		break;
	case GT_PARK:
		t->parked = true;
		t->park_ts = ev->ts;
		t->park_why = why;
		break;
	default: /* GT_EXIT */
		task_free(gt_map_del(&m->tasks, t->id));
		break;
	}
	return 0;
}

static int
task_event(struct gt_model *m, const struct gt_event *ev)
{
	struct gt_task *t;

	if (ev->arg[0] == 0) /* "none": not a task */
		return 0;
	if (ev->type == GT_CREATE)
		return on_create(m, ev);
	if ((t = task_get(m, ev->arg[0])) == NULL)
		return oom(m);
	switch (ev->type) {
	case GT_READY:
		return on_ready(m, t, ev);
	case GT_START:
		return on_start(m, t, ev);
	default:
		return on_stop(m, t, ev);
	}
}

/* --- holds ----------------------------------------------------------------------- */

/* Keep h among the longest (its name copied); m->holds stays sorted,
 * longest first, ties keeping the earlier hold. */
static int
keep_hold(struct gt_model *m, const struct gt_hold *h)
{
	unsigned i = m->nholds;
	char *name = NULL;

	if (i == GT_TOP_HOLDS && h->ns <= m->holds[i - 1].ns)
		return 0;
	if (h->task_name != NULL && (name = strdup(h->task_name)) == NULL)
		return oom(m);
	if (i == GT_TOP_HOLDS)
		free(m->holds[--i].task_name);
	else
		m->nholds++;
	for (; i > 0 && h->ns > m->holds[i - 1].ns; i--)
		m->holds[i] = m->holds[i - 1];
	m->holds[i] = *h;
	m->holds[i].task_name = name;
	return 0;
}

/* The task is not created if unknown: a hold is no sign of its life
 * worth counting under "(unknown)". */
static int
on_held(struct gt_model *m, const struct gt_event *ev)
{
	const struct gt_task *t = gt_map_get(&m->tasks, ev->arg[0]);
	struct gt_hold h = {
		.task = ev->arg[0], .func = t ? t->func : &m->unknown,
		.task_name = t ? t->name : NULL, .worker = ev->source,
		.end = ev->ts, .ns = ev->arg[1], .kind = ev->arg[2],
	};

	m->holds_total++;
	if (keep_hold(m, &h) != 0)
		return -1;
	return m->hooks.held ? m->hooks.held(m->hooks.ctx, &h) : 0;
}

/* --- the pass ------------------------------------------------------------------ */

static int
on_event(struct gt_model *m, const struct gt_event *ev)
{
	struct gt_worker *w = gt_model_worker(m, ev->source);

	if (!m->any)
		m->first_ts = ev->ts;
	m->any = true;
	m->last_ts = ev->ts;
	m->events++;
	m->by_type[ev->type]++;
	if (w != NULL)
		w->events++;
	switch (ev->type) {
	case GT_CREATE:
	case GT_READY:
	case GT_START:
	case GT_YIELD:
	case GT_PARK:
	case GT_EXIT:
		return task_event(m, ev);
	case GT_FUNC:
		return on_func(m, ev);
	case GT_STEAL:
		if (w != NULL) {
			w->steal_events++;
			w->steal_tasks = sat_add(w->steal_tasks, ev->arg[1]);
		}
		return 0;
	case GT_WORKER_PARK:
		if (w != NULL)
			w->parks++;
		return 0;
	case GT_LOST:
		m->lost = sat_add(m->lost, ev->arg[0]);
		return 0;
	case GT_HELD:
		return on_held(m, ev);
	default:
		return 0;
	}
}

/* Close the slices still open when the trace ends. */
static int
finish(struct gt_model *m)
{
	struct gt_task *t;
	size_t pos = 0;

	while ((t = gt_map_next(&m->tasks, &pos, NULL)) != NULL) {
		if (t->running &&
		    end_slice(m, t, t->worker, m->last_ts, 0, 0) != 0)
			return -1;
	}
	return 0;
}

static int
model_init(struct gt_model *m, const struct gt_reader *r)
{
	const struct gt_header *h = gt_reader_header(r);

	m->hdr = *h;
	m->unknown.unknown = true;
	m->workers = calloc((size_t)h->workers + 1, sizeof(*m->workers));
	if (m->workers == NULL)
		return oom(m);
	for (uint32_t i = 0; i < h->workers; i++)
		m->workers[i].used = gt_reader_has_events(r, i);
	m->workers[h->workers].used =
		gt_reader_has_events(r, GREEN_TRACE_SOURCE_OTHER);
	return 0;
}

int
gt_model_run(struct gt_model *m, const struct gt_input *in, char *err,
	     size_t errlen)
{
	struct gt_reader *r;
	struct gt_event ev;
	int rc;

	m->err = err;
	m->errlen = errlen;
	if ((r = gt_reader_open(in, err, errlen)) == NULL)
		return 1;
	if (model_init(m, r) != 0 ||
	    (m->hooks.begin != NULL &&
	     m->hooks.begin(m->hooks.ctx, &m->hdr) != 0)) {
		gt_reader_close(r);
		return 1;
	}
	while ((rc = gt_reader_next(r, &ev, err, errlen)) > 0) {
		if (on_event(m, &ev) != 0)
			break;
	}
	gt_reader_close(r);
	if (rc < 0)
		m->failed = 1;
	else if (!m->failed)
		finish(m);
	return m->failed ? 1 : 0;
}

void
gt_model_free(struct gt_model *m)
{
	void *v;
	size_t pos = 0;

	while ((v = gt_map_next(&m->tasks, &pos, NULL)) != NULL)
		task_free(v);
	pos = 0;
	while ((v = gt_map_next(&m->funcs, &pos, NULL)) != NULL) {
		func_free(v);
		free(v);
	}
	gt_map_free(&m->tasks);
	gt_map_free(&m->funcs);
	func_free(&m->unknown);
	gt_hist_free(&m->latency);
	gt_hist_free(&m->blocking);
	for (unsigned i = 0; i < m->nholds; i++)
		free(m->holds[i].task_name);
	m->nholds = 0;
	free(m->workers);
	m->workers = NULL;
}

/* --- queries ------------------------------------------------------------------- */

uint64_t
gt_model_origin(const struct gt_model *m)
{
	return m->any && m->first_ts < m->hdr.start ? m->first_ts : m->hdr.start;
}

uint64_t
gt_model_duration(const struct gt_model *m)
{
	uint64_t o = gt_model_origin(m);

	return m->any && m->last_ts > o ? m->last_ts - o : 0;
}

struct gt_worker *
gt_model_worker(struct gt_model *m, uint32_t source)
{
	if (m->workers == NULL)
		return NULL;
	if (source == GREEN_TRACE_SOURCE_OTHER)
		return &m->workers[m->hdr.workers];
	return source < m->hdr.workers ? &m->workers[source] : NULL;
}

uint32_t
gt_model_workers_used(const struct gt_model *m)
{
	uint32_t n = 0;

	for (uint32_t i = 0; m->workers != NULL && i < m->hdr.workers; i++)
		n += m->workers[i].used;
	return n;
}

const char *
gt_model_workers_label(const struct gt_model *m, char *buf, size_t len)
{
	uint32_t used = gt_model_workers_used(m);

	if (used == m->hdr.workers)
		snprintf(buf, len, "%" PRIu32 " workers", used);
	else
		snprintf(buf, len, "%" PRIu32 " workers (+%" PRIu32
			 " unused slots)", used, m->hdr.workers - used);
	return buf;
}

const char *
gt_source_label(uint32_t source, char *buf, size_t len)
{
	if (source == GREEN_TRACE_SOURCE_OTHER)
		snprintf(buf, len, "other");
	else
		snprintf(buf, len, "%" PRIu32, source);
	return buf;
}

const char *
gt_hold_start(const struct gt_model *m, const struct gt_hold *h, char *buf,
	      size_t len)
{
	uint64_t end = h->end - gt_model_origin(m);
	char ns[32];

	/* a hold may have begun before the trace did */
	if (h->ns <= end)
		snprintf(buf, len, "+%s", gt_fmt_ns(end - h->ns, ns, sizeof(ns)));
	else
		snprintf(buf, len, "-%s", gt_fmt_ns(h->ns - end, ns, sizeof(ns)));
	return buf;
}

const char *
gt_func_label(const struct gt_func *f, char *buf, size_t len)
{
	if (f->name != NULL)
		return f->name;
	if (f->unknown)
		return "(unknown)";
	snprintf(buf, len, "0x%" PRIx64, f->addr);
	return buf;
}

static int
by_run_time(const void *a, const void *b)
{
	const struct gt_func *x = *(const struct gt_func *const *)a;
	const struct gt_func *y = *(const struct gt_func *const *)b;

	if (x->run_ns != y->run_ns)
		return x->run_ns < y->run_ns ? 1 : -1;
	if (x->unknown != y->unknown)
		return x->unknown ? 1 : -1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

const struct gt_func **
gt_model_funcs(const struct gt_model *m, size_t *n)
{
	const struct gt_func **v = malloc((m->funcs.n + 1) * sizeof(*v));
	struct gt_func *f;
	size_t pos = 0;

	*n = 0;
	if (v == NULL)
		return NULL;
	while ((f = gt_map_next(&m->funcs, &pos, NULL)) != NULL)
		v[(*n)++] = f;
	if (m->unknown.tasks > 0 || m->unknown.slices > 0)
		v[(*n)++] = &m->unknown;
	qsort(v, *n, sizeof(*v), by_run_time);
	return v;
}
