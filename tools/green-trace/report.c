/*
 * report.c - `green-trace report`: one self-contained HTML file (inline CSS,
 * inline SVG, no script, nothing fetched) with a timeline of the run
 * slices (a lane per worker slot with events), histograms of scheduling
 * latency and blocking time, and the summary's tables.
 *
 * Two passes over the trace: the first computes the figures and the time
 * range, the second lays the slices out on the timeline.  The timeline is
 * bounded whatever the trace's size: slices narrower than a pixel merge
 * with their neighbours less than a pixel away into one rect, at most
 * MERGE_MAX pixels wide, whose opacity shows how busy it was; so a lane
 * holds at most about two rects per pixel of width, and a lane's rects
 * are capped besides (RECT_BUDGET).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "gt.h"
#include "model.h"
#include "out.h"

#define PLOT_W 1600 /* timeline width in px */
#define LABEL_W 80  /* lane labels */
#define LANE_H 18
#define LANE_GAP 4
#define AXIS_H 24
#define RECT_BUDGET 262144 /* rects over all lanes */
#define MERGE_MAX 2.0	   /* px: merged rects stay narrow, to show change */
#define HIST_H 120
#define HIST_BAR_MAX 40

#define NS(v) gt_fmt_ns((v), (char[32]){0}, 32)

/* A rect on the timeline: one slice, or several merged. */
struct rect {
	double x0, x1;
	uint64_t task, busy_ns, longest;
	const struct gt_func *func; /* of the longest slice */
	uint32_t slices;
};

struct lane {
	struct rect *v, pend;
	size_t n, cap;
	bool has_pend;
	uint64_t dropped;
};

struct timeline {
	struct gt_model *m;
	struct lane *lanes;
	uint32_t nlanes; /* one per worker slot */
	uint32_t nrows;	 /* drawn: the slots with events */
	size_t max_rects; /* per lane */
	uint64_t t0;
	double scale; /* px per ns */
};

/* --- layout (second pass) --------------------------------------------------- */

static int
push(struct timeline *tl, struct lane *l, const struct rect *r)
{
	if (l->n == tl->max_rects) {
		l->dropped += r->slices;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct rect *v;

		if (cap > tl->max_rects)
			cap = tl->max_rects;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return gt_model_error(tl->m, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

static int
flush(struct timeline *tl, struct lane *l)
{
	if (!l->has_pend)
		return 0;
	l->has_pend = false;
	return push(tl, l, &l->pend);
}

static int
on_slice(void *ctx, const struct gt_slice *s)
{
	struct timeline *tl = ctx;
	uint64_t len = s->end - s->start;
	struct rect r = {
		.x0 = (double)(s->start - tl->t0) * tl->scale,
		.task = s->task, .busy_ns = len, .longest = len,
		.func = s->func, .slices = 1,
	};
	struct lane *l;

	if (s->worker >= tl->nlanes) /* "other" threads run no tasks */
		return 0;
	l = &tl->lanes[s->worker];
	r.x1 = r.x0 + (double)len * tl->scale;
	if (r.x1 - r.x0 >= 1) {
		if (flush(tl, l) != 0)
			return -1;
		return push(tl, l, &r);
	}
	if (l->has_pend && r.x0 - l->pend.x1 < 1 && r.x0 >= l->pend.x0 &&
	    r.x1 - l->pend.x0 <= MERGE_MAX) {
		struct rect *p = &l->pend;

		if (r.x1 > p->x1)
			p->x1 = r.x1;
		p->slices++;
		p->busy_ns += len;
		if (len > p->longest) {
			p->longest = len;
			p->func = s->func;
			p->task = s->task;
		}
		return 0;
	}
	if (flush(tl, l) != 0)
		return -1;
	l->pend = r;
	l->has_pend = true;
	return 0;
}

static int
layout(struct timeline *tl, const struct gt_model *m1,
       const struct gt_input *in, char *err, size_t errlen)
{
	uint64_t d = gt_model_duration(m1);
	uint32_t used = gt_model_workers_used(m1);
	size_t per = RECT_BUDGET / (used ? used : 1);

	tl->nlanes = m1->hdr.workers;
	tl->nrows = used;
	tl->max_rects = per < 256 ? 256 : per > 2 * PLOT_W + 2 ? 2 * PLOT_W + 2
								: per;
	tl->t0 = gt_model_origin(m1);
	tl->scale = (double)PLOT_W / (double)(d ? d : 1);
	tl->lanes = calloc(tl->nlanes ? tl->nlanes : 1, sizeof(*tl->lanes));
	if (tl->lanes == NULL) {
		snprintf(err, errlen, "out of memory");
		return 1;
	}
	tl->m->hooks = (struct gt_hooks){.ctx = tl, .slice = on_slice};
	if (gt_model_run(tl->m, in, err, errlen) != 0)
		return 1;
	for (uint32_t i = 0; i < tl->nlanes; i++) {
		if (flush(tl, &tl->lanes[i]) != 0)
			return 1;
	}
	return 0;
}

static void
timeline_free(struct timeline *tl)
{
	for (uint32_t i = 0; tl->lanes != NULL && i < tl->nlanes; i++)
		free(tl->lanes[i].v);
	free(tl->lanes);
}

/* --- timeline output ---------------------------------------------------------- */

/* A stable colour per function. */
static unsigned
hue(const struct gt_func *f)
{
	uint64_t x = f->addr * 0x9e3779b97f4a7c15ull;

	return (unsigned)(x >> 40) % 360;
}

static void
put_rect(FILE *out, const struct rect *r, double scale)
{
	char fb[32];
	double w = r->x1 - r->x0 < 1 ? 1 : r->x1 - r->x0;

	fprintf(out, "<rect x=\"%.2f\" y=\"0\" width=\"%.2f\" height=\"%d\"",
		LABEL_W + r->x0, w, LANE_H);
	if (r->func->unknown)
		fputs(" fill=\"#999\"", out);
	else
		fprintf(out, " fill=\"hsl(%u,60%%,50%%)\"", hue(r->func));
	if (r->slices > 1) {
		/* the share of the rect's width spent running */
		double busy = (double)r->busy_ns * scale / w;

		fprintf(out, " fill-opacity=\"%.2f\"",
			busy < 0.2 ? 0.2 : busy > 1 ? 1 : busy);
	}
	fputs("><title>", out);
	if (r->slices == 1) {
		fprintf(out, "task %" PRIu64 " ", r->task);
		gt_put_html(out, gt_func_label(r->func, fb, sizeof(fb)));
		fprintf(out, " %s", NS(r->busy_ns));
	} else {
		fprintf(out, "%" PRIu32 " slices, %s running; longest: task %" PRIu64 " ",
			r->slices, NS(r->busy_ns), r->task);
		gt_put_html(out, gt_func_label(r->func, fb, sizeof(fb)));
	}
	fputs("</title></rect>\n", out);
}

static void
put_axis(FILE *out, const struct timeline *tl, uint64_t d)
{
	int y = (int)tl->nrows * (LANE_H + LANE_GAP);

	fprintf(out, "<g class=\"axis\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
		LABEL_W, y + 2, LABEL_W + PLOT_W, y + 2);
	for (int i = 0; i <= 8; i++) {
		int x = LABEL_W + PLOT_W * i / 8;

		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\">%s</text>\n",
			x, y + 18, i == 0 ? "start" : i == 8 ? "end" : "middle",
			NS(d / 8 * (uint64_t)i));
	}
	fputs("</g>\n", out);
}

static void
put_timeline(FILE *out, const struct timeline *tl, uint64_t d)
{
	int h = (int)tl->nrows * (LANE_H + LANE_GAP) + AXIS_H;
	uint64_t dropped = 0;
	int y = 0;

	fprintf(out, "<h2>Timeline</h2>\n<svg class=\"timeline\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		LABEL_W + PLOT_W, h, LABEL_W + PLOT_W, h);
	for (uint32_t i = 0; i < tl->nlanes; i++) {
		const struct lane *l = &tl->lanes[i];

		if (!tl->m->workers[i].used) /* a spare slot */
			continue;
		fprintf(out, "<g class=\"lane\" data-worker=\"%" PRIu32 "\" transform=\"translate(0,%d)\">\n",
			i, y);
		y += LANE_H + LANE_GAP;
		fprintf(out, "<text x=\"4\" y=\"13\">worker %" PRIu32 "</text>\n", i);
		fprintf(out, "<rect class=\"bg\" x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\"/>\n",
			LABEL_W, PLOT_W, LANE_H);
		for (size_t j = 0; j < l->n; j++)
			put_rect(out, &l->v[j], tl->scale);
		fputs("</g>\n", out);
		dropped += l->dropped;
	}
	put_axis(out, tl, d);
	fputs("</svg>\n", out);
	fputs("<p class=\"note\">Each rect is a run slice, coloured by function; slices narrower than a pixel are merged (hover for details).", out);
	if (dropped > 0)
		fprintf(out, " %" PRIu64 " slices were left out to bound the file size.", dropped);
	fputs("</p>\n", out);
}

/* --- histograms ------------------------------------------------------------------ */

/* A bar per power of two, from the lowest to the highest one used. */
static void
put_hist(FILE *out, const char *title, const struct gt_hist *h)
{
	uint64_t oct[GT_HIST_OCTAVES], top = 0;
	int lo = -1, hi = -1, bar, w;

	fprintf(out, "<h3>%s</h3>\n", title);
	if (h->n == 0) {
		fputs("<p>No samples.</p>\n", out);
		return;
	}
	gt_hist_octaves(h, oct);
	for (int k = 0; k < GT_HIST_OCTAVES; k++) {
		if (oct[k] == 0)
			continue;
		if (lo < 0)
			lo = k;
		hi = k;
		if (oct[k] > top)
			top = oct[k];
	}
	bar = 640 / (hi - lo + 1);
	bar = bar > HIST_BAR_MAX ? HIST_BAR_MAX : bar;
	w = bar * (hi - lo + 1);
	fprintf(out, "<p>%" PRIu64 " samples, p50 %s, p99 %s, max %s</p>\n",
		h->n, NS(gt_hist_quantile(h, 0.5)),
		NS(gt_hist_quantile(h, 0.99)), NS(h->max));
	fprintf(out, "<svg class=\"hist\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		w + 80, HIST_H + 40, w + 80, HIST_H + 40);
	for (int k = lo; k <= hi; k++) {
		/* out[k]: [2^(k-1), 2^k), out[0]: 0 */
		uint64_t low = k ? (uint64_t)1 << (k - 1) : 0;
		int bh = (int)((double)oct[k] / (double)top * HIST_H);
		int x = (k - lo) * bar;

		fprintf(out, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"><title>&#8805; %s: %" PRIu64 "</title></rect>\n",
			x + 1, HIST_H - bh, bar - 2 > 1 ? bar - 2 : 1, bh,
			NS(low), oct[k]);
		if ((k - lo) % 4 == 0)
			fprintf(out, "<text x=\"%d\" y=\"%d\">%s</text>\n",
				x, HIST_H + 16, NS(low));
	}
	fprintf(out, "<text x=\"0\" y=\"%d\">log scale: one bar per power of two (ns); height: count (max %" PRIu64 ")</text>\n",
		HIST_H + 34, top);
	fputs("</svg>\n", out);
}

/* --- tables --------------------------------------------------------------------- */

static void
td_ns(FILE *out, uint64_t ns)
{
	fprintf(out, "<td>%s</td>", NS(ns));
}

static void
put_func_row(FILE *out, const struct gt_func *f)
{
	const struct gt_hist *l = &f->latency;
	char fb[32];

	fputs("<tr><td class=\"name\">", out);
	gt_put_html(out, gt_func_label(f, fb, sizeof(fb)));
	fprintf(out, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td>", f->tasks,
		f->slices);
	td_ns(out, f->run_ns);
	td_ns(out, f->tasks ? f->run_ns / f->tasks : 0);
	fprintf(out, "<td>%" PRIu64 "</td>", l->n);
	td_ns(out, gt_hist_quantile(l, 0.5));
	td_ns(out, gt_hist_quantile(l, 0.99));
	td_ns(out, l->max);
	fputs("</tr>\n", out);
}

static void
put_blocking_rows(FILE *out, const struct gt_func *f)
{
	char fb[32];

	for (unsigned why = 1; why <= GT_WHY_MAX + 1; why++) {
		const struct gt_hist *h = f->blocking[why % (GT_WHY_MAX + 1)];

		if (h == NULL || h->n == 0)
			continue;
		fputs("<tr><td class=\"name\">", out);
		gt_put_html(out, gt_func_label(f, fb, sizeof(fb)));
		fprintf(out, "</td><td>%s</td><td>%" PRIu64 "</td>",
			why <= GT_WHY_MAX ? gt_why_name(why) : "other", h->n);
		td_ns(out, h->sum);
		td_ns(out, gt_hist_quantile(h, 0.5));
		td_ns(out, gt_hist_quantile(h, 0.99));
		td_ns(out, h->max);
		fputs("</tr>\n", out);
	}
}

static int
put_func_tables(FILE *out, struct gt_model *m)
{
	size_t n;
	const struct gt_func **v = gt_model_funcs(m, &n);

	if (v == NULL)
		return gt_model_error(m, "out of memory");
	fputs("<h2>Functions</h2>\n<table><tr><th>function</th><th>tasks</th><th>slices</th><th>run total</th><th>run mean/task</th><th>latency n</th><th>p50</th><th>p99</th><th>max</th></tr>\n", out);
	for (size_t i = 0; i < n; i++)
		put_func_row(out, v[i]);
	fputs("</table>\n<h2>Blocking by reason</h2>\n<table><tr><th>function</th><th>reason</th><th>count</th><th>total</th><th>p50</th><th>p99</th><th>max</th></tr>\n", out);
	for (size_t i = 0; i < n; i++)
		put_blocking_rows(out, v[i]);
	fputs("</table>\n", out);
	free(v);
	return 0;
}

static void
put_worker_row(FILE *out, const struct gt_model *m, const struct gt_worker *w,
	       const char *label)
{
	uint64_t d = gt_model_duration(m);

	fprintf(out, "<tr><td>%s</td><td>%.1f%%</td><td>%" PRIu64 "</td>", label,
		d ? 100.0 * (double)w->busy_ns / (double)d : 0.0, w->slices);
	td_ns(out, w->busy_ns);
	fprintf(out, "<td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td></tr>\n",
		w->steal_events, w->steal_tasks, w->parks);
}

static void
put_worker_table(FILE *out, const struct gt_model *m)
{
	char label[16];

	fputs("<h2>Workers</h2>\n<table><tr><th>worker</th><th>utilisation</th><th>slices</th><th>busy</th><th>steals</th><th>tasks stolen</th><th>parks</th></tr>\n", out);
	for (uint32_t i = 0; i < m->hdr.workers; i++) {
		if (!m->workers[i].used)
			continue;
		put_worker_row(out, m, &m->workers[i],
			       gt_source_label(i, label, sizeof(label)));
	}
	if (m->workers[m->hdr.workers].used)
		put_worker_row(out, m, &m->workers[m->hdr.workers], "other");
	fputs("</table>\n", out);
}

static void
put_top_table(FILE *out, const struct gt_model *m)
{
	uint64_t o = gt_model_origin(m);
	char fb[32];

	fputs("<h2>Longest run slices</h2>\n<table><tr><th>task</th><th>function</th><th>worker</th><th>start</th><th>length</th><th>ended</th></tr>\n", out);
	for (unsigned i = 0; i < m->ntop; i++) {
		const struct gt_slice *s = &m->top[i];

		fprintf(out, "<tr><td>%" PRIu64 "</td><td class=\"name\">", s->task);
		gt_put_html(out, gt_func_label(s->func, fb, sizeof(fb)));
		if (s->worker == GREEN_TRACE_SOURCE_OTHER)
			fputs("</td><td>other</td>", out);
		else
			fprintf(out, "</td><td>%" PRIu32 "</td>", s->worker);
		fprintf(out, "<td>+%s</td>", NS(s->start - o));
		td_ns(out, s->end - s->start);
		fprintf(out, "<td>%s%s%s</td></tr>\n",
			s->end_type ? gt_event_name(s->end_type) : "(open)",
			s->end_type == GT_PARK ? " " : "",
			s->end_type == GT_PARK ? gt_why_name(s->why) : "");
	}
	fputs("</table>\n", out);
}

static void
put_hold_row(FILE *out, const struct gt_model *m, const struct gt_hold *h)
{
	char fb[32], w[16], start[40];

	fprintf(out, "<tr><td>%" PRIu64 "</td><td class=\"name\">", h->task);
	gt_put_html(out, h->task_name ? h->task_name : "");
	fputs("</td><td class=\"name\">", out);
	gt_put_html(out, gt_func_label(h->func, fb, sizeof(fb)));
	fprintf(out, "</td><td>%s</td><td>%s</td>",
		gt_source_label(h->worker, w, sizeof(w)),
		gt_hold_start(m, h, start, sizeof(start)));
	td_ns(out, h->ns);
	fprintf(out, "<td class=\"name\">%s</td></tr>\n", gt_held_name(h->kind));
}

static void
put_hold_table(FILE *out, const struct gt_model *m)
{
	if (m->hdr.version < 4) /* such files cannot record holds */
		return;
	fputs("<h2>Tasks that held a worker</h2>\n", out);
	if (m->nholds == 0) {
		fputs("<p>None.</p>\n", out);
		return;
	}
	fputs("<p class=\"note\">The runtime's monitor saw these tasks keep their worker without switching, and had another thread take over its role; longest first.</p>\n", out);
	fputs("<table><tr><th>task</th><th>name</th><th>function</th><th>worker</th><th>start</th><th>held</th><th>doing</th></tr>\n", out);
	for (unsigned i = 0; i < m->nholds; i++)
		put_hold_row(out, m, &m->holds[i]);
	fputs("</table>\n", out);
	if (m->holds_total > m->nholds)
		fprintf(out, "<p class=\"note\">%" PRIu64 " shorter holds are not shown.</p>\n",
			m->holds_total - m->nholds);
}

/* --- the page ---------------------------------------------------------------------- */

static const char style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
	"h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}h3{font-size:1em}"
	"table{border-collapse:collapse;font-variant-numeric:tabular-nums}"
	"th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}"
	"td.name,th{text-align:left}th{background:#f0f0f0}"
	"svg text{font:11px sans-serif;fill:#333}"
	"svg .bg{fill:#f4f4f4}svg .axis line{stroke:#888}"
	"svg .bar{fill:#4a7fb5}.note{color:#666;font-size:12px}"
	".scroll{overflow-x:auto}";

static void
put_head(FILE *out, const struct gt_model *m, const char *name)
{
	const struct gt_header *h = &m->hdr;
	char wb[64];

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>green-trace report: ", out);
	gt_put_html(out, name);
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>green-trace report: ", style);
	gt_put_html(out, name);
	fprintf(out, "</h1>\n<p>Format version %" PRIu32 ", %s, pid %" PRIu32
		", duration %s, %" PRIu64 " events in %" PRIu64 " blocks.",
		h->version, gt_model_workers_label(m, wb, sizeof(wb)), h->pid,
		NS(gt_model_duration(m)),
		m->events, h->blocks);
	if (m->lost > 0)
		fprintf(out, " <strong>%" PRIu64 " events were lost.</strong>", m->lost);
	fputs("</p>\n", out);
}

int
gt_report(const struct gt_input *in, FILE *out, char *err, size_t errlen)
{
	struct gt_model m1 = {0}, m2 = {0};
	struct timeline tl = {.m = &m2};
	const char *name = in->name ? in->name : in->path ? in->path : "<memory>";
	int rc = gt_model_run(&m1, in, err, errlen);

	if (rc == 0)
		rc = layout(&tl, &m1, in, err, errlen);
	if (rc == 0) {
		put_head(out, &m1, name);
		fputs("<div class=\"scroll\">\n", out);
		put_timeline(out, &tl, gt_model_duration(&m1));
		fputs("</div>\n<h2>Histograms</h2>\n", out);
		put_hist(out, "Scheduling latency (ready to running)", &m1.latency);
		put_hist(out, "Blocking time (park to ready)", &m1.blocking);
		rc = put_func_tables(out, &m1) != 0;
		put_worker_table(out, &m1);
		put_hold_table(out, &m1);
		put_top_table(out, &m1);
		fputs("</body>\n</html>\n", out);
		if (rc == 0)
			rc = gt_check_output(out, err, errlen);
	}
	timeline_free(&tl);
	gt_model_free(&m2);
	gt_model_free(&m1);
	return rc;
}
