/*
 * model.h - what the subcommands share: one pass over a trace that follows
 * every task through its states and derives run slices, scheduling
 * latencies and blocking times.
 *
 *   run slice     START of a task -> its YIELD, PARK or EXIT on the same
 *                 worker (a slice still open at the end of the trace is
 *                 closed at the last event, marked open)
 *   latency       READY (or YIELD, which leaves the task runnable) -> the
 *                 task's next START
 *   blocking      PARK -> the task's next READY, by park reason
 *   holds         HELD events (version 4): a task kept its worker so
 *                 long that the runtime's monitor noticed; the longest
 *                 are kept
 *
 * Per-task state lives in a map keyed by task id and is dropped at EXIT, so
 * memory is O(live tasks + functions), plus the reader's.  Subcommands
 * that stream output (chrome, report) hook the callbacks.
 */
#ifndef GT_MODEL_H
#define GT_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "map.h"
#include "reader.h"

#define GT_TOP_SLICES 10
#define GT_TOP_HOLDS 20

/* A task entry function. */
struct gt_func {
	uint64_t addr;
	char *name; /* from GT_FUNC; NULL: unnamed */
	bool unknown; /* the tasks whose CREATE the trace does not hold */
	uint64_t tasks, slices, run_ns;
	struct gt_hist latency;
	/* by reason; [0] holds reasons this tool does not know */
	struct gt_hist *blocking[GT_WHY_MAX + 1];
};

struct gt_task {
	uint64_t id;
	struct gt_func *func;
	char *name; /* NULL: none */
	uint64_t ready_ts, park_ts, park_why, start_ts;
	uint64_t flow; /* the flow id of its pending READY, 0: none */
	uint32_t worker;
	bool ready, parked, running;
};

struct gt_worker {
	uint64_t busy_ns, slices, steal_events, steal_tasks, parks;
	uint64_t events;
	/* the source has events (known before the first): since version 4
	 * most worker slots are spares that never ran, and are not shown */
	bool used;
};

struct gt_slice {
	uint64_t task;
	const struct gt_func *func;
	const char *task_name; /* valid during the callback only */
	uint32_t worker;       /* a source: GREEN_TRACE_SOURCE_OTHER too */
	uint64_t start, end;
	uint8_t end_type; /* GT_YIELD, GT_PARK, GT_EXIT; 0: open at the end */
	uint64_t why;	  /* GT_PARK's reason */
};

/* A GT_HELD: the task held the worker for ns up to end, the event's time
 * (the hold may have begun before the trace did). */
struct gt_hold {
	uint64_t task;
	const struct gt_func *func;
	/* NULL: none; owned by the model in gt_model.holds, valid during
	 * the callback only in a hook */
	char *task_name;
	uint32_t worker; /* a source */
	uint64_t end, ns;
	uint64_t kind; /* GT_HELD_* */
};

struct gt_model;

/* Callbacks return 0, or -1 after gt_model_error (which stops the pass). */
struct gt_hooks {
	void *ctx;
	/* the header is read: before any other hook */
	int (*begin)(void *ctx, const struct gt_header *h);
	int (*slice)(void *ctx, const struct gt_slice *s);
	/* a READY, with a fresh flow id; start: the START it caused */
	int (*ready)(void *ctx, const struct gt_event *ev, uint64_t flow);
	int (*start)(void *ctx, const struct gt_event *ev, uint64_t flow);
	int (*held)(void *ctx, const struct gt_hold *h);
};

struct gt_model {
	struct gt_header hdr;
	struct gt_hooks hooks;
	struct gt_map funcs; /* address -> struct gt_func */
	struct gt_map tasks; /* id -> struct gt_task */
	struct gt_func unknown;
	struct gt_worker *workers; /* hdr.workers + 1: the last is "other" */
	struct gt_hist latency, blocking; /* all functions */
	struct gt_slice top[GT_TOP_SLICES]; /* longest first */
	unsigned ntop;
	struct gt_hold holds[GT_TOP_HOLDS]; /* longest first */
	unsigned nholds;
	uint64_t holds_total; /* all GT_HELD events, kept or not */
	uint64_t first_ts, last_ts;
	uint64_t events, by_type[GT_EVENT_MAX + 1], lost;
	uint64_t next_flow;
	bool any;
	char *err;
	size_t errlen;
	int failed;
};

/* Run a whole pass: 0, or 1 with a message in err (a bad trace, memory,
 * or a hook's error).  The model keeps its figures until gt_model_free. */
int gt_model_run(struct gt_model *m, const struct gt_input *in, char *err,
		 size_t errlen);
void gt_model_free(struct gt_model *m);
__attribute__((format(printf, 2, 3))) int gt_model_error(struct gt_model *m,
							 const char *fmt, ...);

/* The start of the trace (header start, or the first event if earlier)
 * and its duration up to the last event. */
uint64_t gt_model_origin(const struct gt_model *m);
uint64_t gt_model_duration(const struct gt_model *m);
/* The worker slot of a source; NULL if none. */
struct gt_worker *gt_model_worker(struct gt_model *m, uint32_t source);
/* The worker slots with events (the "other" source not counted). */
uint32_t gt_model_workers_used(const struct gt_model *m);
/* "2 workers", or "2 workers (+64 unused slots)" when some worker slots
 * have no events (since version 4 the header counts the spares). */
const char *gt_model_workers_label(const struct gt_model *m, char *buf,
				   size_t len);
/* A source as a worker column shows it: "3" or "other". */
const char *gt_source_label(uint32_t source, char *buf, size_t len);
/* When the hold began, from the start of the trace: "+1.200 ms", or
 * "-300 us" for a hold that began before the trace. */
const char *gt_hold_start(const struct gt_model *m, const struct gt_hold *h,
			  char *buf, size_t len);
/* The function's name, or "0x..." for an unnamed address. */
const char *gt_func_label(const struct gt_func *f, char *buf, size_t len);
/* Functions sorted by run time, longest first (caller frees the array);
 * NULL only when out of memory.  The unknown function is included if it
 * has tasks. */
const struct gt_func **gt_model_funcs(const struct gt_model *m, size_t *n);

#endif
