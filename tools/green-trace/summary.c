/*
 * summary.c - `green-trace summary`: the model's figures as plain text.
 *
 * Sections: the header, the entry functions (tasks, run time, scheduling
 * latency, blocking by reason), the workers (those with events: since
 * version 4 most slots are spares), the tasks that held a worker (version
 * 4), the longest run slices.
 * Durations are printed for people (gt_fmt_ns); quantiles come from the
 * log-linear histograms, so they are within 1% of the exact value.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "gt.h"
#include "model.h"
#include "out.h"

#define NS(v) gt_fmt_ns((v), (char[32]){0}, 32)

static void
print_header(FILE *out, const struct gt_model *m, const char *name)
{
	const struct gt_header *h = &m->hdr;
	char wb[64];

	fputs("trace ", out);
	gt_put_text(out, name);
	fprintf(out,
		"\n  version %" PRIu32 ", %s, pid %" PRIu32
		", start %" PRIu64 " ns (CLOCK_MONOTONIC)\n",
		h->version, gt_model_workers_label(m, wb, sizeof(wb)), h->pid,
		h->start);
	fprintf(out,
		"  duration %s, %" PRIu64 " events in %" PRIu64
		" blocks, %" PRIu64 " bytes\n",
		NS(gt_model_duration(m)), m->events, h->blocks, h->file_size);
	if (m->lost > 0)
		fprintf(out, "  warning: %" PRIu64 " events were lost\n",
			m->lost);
}

static void
print_blocking(FILE *out, const struct gt_func *f)
{
	for (unsigned why = 1; why <= GT_WHY_MAX + 1; why++) {
		/* the unknown reasons ([0]) last */
		const struct gt_hist *h = f->blocking[why % (GT_WHY_MAX + 1)];

		if (h == NULL || h->n == 0)
			continue;
		fprintf(out, "    blocked %-9s %8" PRIu64 "x  total %-10s",
			why <= GT_WHY_MAX ? gt_why_name(why) : "other", h->n,
			NS(h->sum));
		fprintf(out, " p50 %-10s", NS(gt_hist_quantile(h, 0.5)));
		fprintf(out, " p99 %-10s", NS(gt_hist_quantile(h, 0.99)));
		fprintf(out, " max %s\n", NS(h->max));
	}
}

static void
print_func(FILE *out, const struct gt_func *f)
{
	char buf[32];
	const struct gt_hist *l = &f->latency;

	fputs("  ", out);
	gt_put_text(out, gt_func_label(f, buf, sizeof(buf)));
	fprintf(out, "\n    tasks %" PRIu64 ", slices %" PRIu64, f->tasks,
		f->slices);
	fprintf(out, ", run total %s", NS(f->run_ns));
	fprintf(out, ", run mean %s/task\n",
		NS(f->tasks ? f->run_ns / f->tasks : 0));
	if (l->n > 0) {
		fprintf(out, "    latency   %8" PRIu64 "x  p50 %-10s", l->n,
			NS(gt_hist_quantile(l, 0.5)));
		fprintf(out, " p99 %-10s", NS(gt_hist_quantile(l, 0.99)));
		fprintf(out, " max %s\n", NS(l->max));
	}
	print_blocking(out, f);
}

static int
print_funcs(FILE *out, struct gt_model *m)
{
	size_t n;
	const struct gt_func **v = gt_model_funcs(m, &n);

	if (v == NULL)
		return gt_model_error(m, "out of memory");
	fprintf(out, "\nfunctions (%zu, by run time)\n", n);
	for (size_t i = 0; i < n; i++)
		print_func(out, v[i]);
	free(v);
	return 0;
}

static void
print_worker(FILE *out, const struct gt_model *m, const struct gt_worker *w,
	     const char *label)
{
	uint64_t d = gt_model_duration(m);

	fprintf(out, "  %-7s %7.1f%%  %8" PRIu64 "  %-10s", label,
		d ? 100.0 * (double)w->busy_ns / (double)d : 0.0, w->slices,
		NS(w->busy_ns));
	fprintf(out, " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
		w->steal_events, w->steal_tasks, w->parks);
}

static void
print_workers(FILE *out, const struct gt_model *m)
{
	char label[16];

	fprintf(out, "\nworkers\n  %-7s %8s  %8s  %-10s %8s %8s %8s\n",
		"worker", "util", "slices", "busy", "steals", "stolen",
		"parks");
	for (uint32_t i = 0; i < m->hdr.workers; i++) {
		if (!m->workers[i].used)
			continue;
		print_worker(out, m, &m->workers[i],
			     gt_source_label(i, label, sizeof(label)));
	}
	if (m->workers[m->hdr.workers].used)
		print_worker(out, m, &m->workers[m->hdr.workers], "other");
}

/* How a slice ended, as text: "yield", "park chan-recv", ... */
static const char *
slice_end(const struct gt_slice *s, char *buf, size_t len)
{
	if (s->end_type == GT_PARK)
		snprintf(buf, len, "park %s", gt_why_name(s->why));
	else
		snprintf(buf, len, "%s",
			 s->end_type ? gt_event_name(s->end_type) : "(open)");
	return buf;
}

static void
print_top(FILE *out, const struct gt_model *m)
{
	uint64_t o = gt_model_origin(m);

	fprintf(out, "\nlongest run slices\n  %-10s %-7s %-12s %-10s %-16s %s\n",
		"task", "worker", "start", "length", "ended", "function");
	for (unsigned i = 0; i < m->ntop; i++) {
		const struct gt_slice *s = &m->top[i];
		char w[16], end[32], fb[32];

		fprintf(out, "  %-10" PRIu64 " %-7s +%-11s", s->task,
			gt_source_label(s->worker, w, sizeof(w)),
			NS(s->start - o));
		fprintf(out, " %-10s %-16s ", NS(s->end - s->start),
			slice_end(s, end, sizeof(end)));
		gt_put_text(out, gt_func_label(s->func, fb, sizeof(fb)));
		putc('\n', out);
	}
}

static void
print_hold(FILE *out, const struct gt_model *m, const struct gt_hold *h)
{
	char w[16], start[40], fb[32];

	fprintf(out, "  %-10" PRIu64 " %-7s %-12s %-10s %-24s ", h->task,
		gt_source_label(h->worker, w, sizeof(w)),
		gt_hold_start(m, h, start, sizeof(start)), NS(h->ns),
		gt_held_name(h->kind));
	gt_put_text(out, gt_func_label(h->func, fb, sizeof(fb)));
	if (h->task_name != NULL) {
		fputs(" \"", out);
		gt_put_text(out, h->task_name);
		putc('"', out);
	}
	putc('\n', out);
}

static void
print_holds(FILE *out, const struct gt_model *m)
{
	if (m->hdr.version < 4) /* such files cannot record holds */
		return;
	fprintf(out, "\ntasks that held a worker (%" PRIu64 ", longest first)\n",
		m->holds_total);
	if (m->nholds == 0) {
		fputs("  none\n", out);
		return;
	}
	fprintf(out, "  %-10s %-7s %-12s %-10s %-24s %s\n", "task", "worker",
		"start", "held", "doing", "function \"task name\"");
	for (unsigned i = 0; i < m->nholds; i++)
		print_hold(out, m, &m->holds[i]);
	if (m->holds_total > m->nholds)
		fprintf(out, "  (%" PRIu64 " shorter holds not shown)\n",
			m->holds_total - m->nholds);
}

int
gt_summary(const struct gt_input *in, FILE *out, char *err, size_t errlen)
{
	struct gt_model m = {0};
	int rc = gt_model_run(&m, in, err, errlen);

	if (rc == 0) {
		print_header(out, &m, in->name ? in->name
				      : in->path ? in->path
						 : "<memory>");
		rc = print_funcs(out, &m) != 0;
		if (rc == 0) {
			print_workers(out, &m);
			print_holds(out, &m);
			print_top(out, &m);
			rc = gt_check_output(out, err, errlen);
		}
	}
	gt_model_free(&m);
	return rc;
}
