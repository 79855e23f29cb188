/*
 * chrome.c - `green-trace export --format=chrome`: the Chrome trace-event
 * JSON format, object form, which Perfetto and chrome://tracing open.
 *
 * One pass, streamed: every run slice becomes a complete event ("X") when
 * it ends, on the lane (tid) of its worker; every READY starts a flow
 * ("s") that ends ("f", bound to the enclosing slice) at the START it
 * caused; every hold (GT_HELD) is an instant ("i") at its end on its
 * worker's lane.  Lanes are named for the worker slots with events only
 * (since version 4 most slots are spares).  Times are microseconds from
 * the header's start time, with three decimals so no nanosecond is lost.
 */
#include <inttypes.h>
#include <stdbool.h>

#include "gt.h"
#include "model.h"
#include "out.h"

#define PID 1

struct chrome {
	FILE *out;
	struct gt_model *m;
	uint64_t origin;
	bool begun;
};

/* The lane of a source: workers 0..N-1, then "other threads". */
static uint64_t
tid_of(const struct chrome *c, uint32_t source)
{
	return source == GREEN_TRACE_SOURCE_OTHER ? c->m->hdr.workers : source;
}

/* A time relative to the origin, signed: events may precede the header's
 * start time if the recorder's clocks disagree. */
static void
put_ts(const struct chrome *c, uint64_t ts)
{
	if (ts < c->origin) {
		putc('-', c->out);
		gt_put_us(c->out, c->origin - ts);
	} else {
		gt_put_us(c->out, ts - c->origin);
	}
}

static void
event_head(const struct chrome *c, const char *ph, uint32_t source,
	   uint64_t ts)
{
	fprintf(c->out, ",\n{\"ph\":\"%s\",\"pid\":%d,\"tid\":%" PRIu64
		",\"ts\":", ph, PID, tid_of(c, source));
	put_ts(c, ts);
}

static int
on_slice(void *ctx, const struct gt_slice *s)
{
	struct chrome *c = ctx;
	char buf[32];

	event_head(c, "X", s->worker, s->start);
	fputs(",\"dur\":", c->out);
	gt_put_us(c->out, s->end - s->start);
	fputs(",\"cat\":\"task\",\"name\":", c->out);
	gt_put_json(c->out, gt_func_label(s->func, buf, sizeof(buf)));
	fprintf(c->out, ",\"args\":{\"task\":%" PRIu64 ",\"name\":", s->task);
	gt_put_json(c->out, s->task_name ? s->task_name : "");
	fprintf(c->out, ",\"end\":\"%s\"",
		s->end_type ? gt_event_name(s->end_type) : "trace end");
	if (s->end_type == GT_PARK)
		fprintf(c->out, ",\"reason\":\"%s\"", gt_why_name(s->why));
	fputs("}}", c->out);
	return 0;
}

static int
on_flow(struct chrome *c, const struct gt_event *ev, uint64_t flow,
	const char *ph)
{
	event_head(c, ph, ev->source, ev->ts);
	fprintf(c->out,
		",\"cat\":\"ready\",\"name\":\"ready\",\"id\":%" PRIu64 "%s}",
		flow, *ph == 'f' ? ",\"bp\":\"e\"" : "");
	return 0;
}

static int
on_ready(void *ctx, const struct gt_event *ev, uint64_t flow)
{
	return on_flow(ctx, ev, flow, "s");
}

static int
on_start(void *ctx, const struct gt_event *ev, uint64_t flow)
{
	return on_flow(ctx, ev, flow, "f");
}

/* An instant at the end, when the task let go: its run slice covers the
 * hold already, and a slice of the hold's own would misnest with it where
 * the monitor's start falls before the slice's START. */
static int
on_held(void *ctx, const struct gt_hold *h)
{
	struct chrome *c = ctx;
	char buf[32];

	event_head(c, "i", h->worker, h->end);
	fprintf(c->out,
		",\"s\":\"t\",\"cat\":\"held\",\"name\":\"held (%s)\""
		",\"args\":{\"task\":%" PRIu64 ",\"function\":",
		gt_held_name(h->kind), h->task);
	gt_put_json(c->out, gt_func_label(h->func, buf, sizeof(buf)));
	fputs(",\"name\":", c->out);
	gt_put_json(c->out, h->task_name ? h->task_name : "");
	fputs(",\"held_us\":", c->out);
	gt_put_us(c->out, h->ns);
	fputs("}}", c->out);
	return 0;
}

static void
lane_meta(FILE *out, uint64_t tid, const char *name)
{
	fprintf(out,
		",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%" PRIu64
		",\"name\":\"thread_name\",\"args\":{\"name\":\"%s\"}}",
		PID, tid, name);
	fprintf(out,
		",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%" PRIu64
		",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%" PRIu64
		"}}",
		PID, tid, tid);
}

/* The metadata: needs only the header and the index (which worker slots
 * have events), so it is written up front. */
static int
preamble(void *ctx, const struct gt_header *h)
{
	struct chrome *c = ctx;
	FILE *out = c->out;
	char name[32];

	c->origin = h->start;
	fprintf(out,
		"{\"displayTimeUnit\":\"ns\",\"otherData\":{\"version\":%" PRIu32
		",\"workers\":%" PRIu32 ",\"pid\":%" PRIu32
		",\"start_ns\":%" PRIu64 "},\n\"traceEvents\":[\n",
		h->version, h->workers, h->pid, h->start);
	fprintf(out,
		"{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\","
		"\"args\":{\"name\":\"libgreen pid %" PRIu32 "\"}}",
		PID, h->pid);
	for (uint32_t i = 0; i < h->workers; i++) {
		if (!c->m->workers[i].used)
			continue;
		snprintf(name, sizeof(name), "worker %" PRIu32, i);
		lane_meta(out, i, name);
	}
	if (c->m->workers[h->workers].used)
		lane_meta(out, h->workers, "other threads");
	c->begun = true;
	return 0;
}

int
gt_chrome(const struct gt_input *in, FILE *out, char *err, size_t errlen)
{
	struct gt_model m = {0};
	struct chrome c = {.out = out, .m = &m};
	int rc;

	m.hooks = (struct gt_hooks){
		.ctx = &c, .begin = preamble, .slice = on_slice,
		.ready = on_ready, .start = on_start, .held = on_held,
	};
	rc = gt_model_run(&m, in, err, errlen);
	/* Close the JSON even after an error: what was read is usable. */
	if (c.begun)
		fputs("\n]}\n", out);
	gt_model_free(&m);
	if (rc == 0)
		rc = gt_check_output(out, err, errlen);
	return rc;
}
