/*
 * check_trace_reader.c - green-trace: the reader, the figures of the
 * summary, the Chrome export, the HTML report, and every class of
 * malformed input.
 *
 * Traces are written by the small writer below (header, blocks, LEB128),
 * independently of the reader, into memory or into files in a temporary
 * directory.  The writer records what it wrote, so the decoded events can
 * be compared field by field, file offsets included.
 *
 * With GT_WRITE_SEEDS=DIR in the environment the runner also writes its
 * synthetic traces into DIR (seeds for tests/fuzz) and exits.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gt.h"
#include "hist.h"
#include "map.h"
#include "model.h"
#include "reader.h"
#include "trace-format.h"

#define T0 1000000u /* the header's start time in the handcrafted traces */
#define ERRLEN 1024

static char tmpdir[256];

/* --- the writer -------------------------------------------------------------- */

/* The writer also runs outside the tests (GT_WRITE_SEEDS), where check's
 * assertions cannot report: it aborts instead (check reports the signal). */
#define NEED(c)                                                            \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,    \
				__LINE__, #c);                             \
			abort();                                           \
		}                                                          \
	} while (0)

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void
put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		NEED(b->p != NULL);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void
put_u8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

static void
put_u32(struct buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		put_u8(b, (v >> (8 * i)) & 0xff);
}

static void
put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void
put_varint(struct buf *b, uint64_t v)
{
	do {
		put_u8(b, (v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
}

static void
put_header(struct buf *b, uint32_t version, uint32_t size, uint32_t workers)
{
	put(b, GREEN_TRACE_MAGIC, 8);
	put_u32(b, version);
	put_u32(b, size);
	put_u64(b, T0);
	put_u32(b, workers);
	put_u32(b, 4242); /* pid */
	for (uint32_t i = GREEN_TRACE_HEADER_SIZE; i < size; i++)
		put_u8(b, 0xee); /* fields of a later version */
}

/* What was written, for comparison with what is read. */
struct expect {
	uint64_t ts, offset;
	uint32_t source;
	uint8_t type, nargs;
	uint64_t arg[3];
	const char *str;
	const void *blk; /* the block being written; NULL once placed */
	size_t seq;	 /* order of writing: events at one time and offset */
};

#define MAX_EXPECT 512
static struct expect expect[MAX_EXPECT];
static size_t nexpect;

struct blk {
	struct buf ev;
	uint32_t source;
	uint64_t base, last;
	size_t first; /* its first entry in expect[] */
};

static void
blk_begin(struct blk *k, uint32_t source, uint64_t base)
{
	memset(k, 0, sizeof(*k));
	k->source = source;
	k->base = k->last = base;
	k->first = nexpect;
}

/* One event; fmt: 'u' a uint64_t argument, 's' a string. */
static void
ev(struct blk *k, unsigned type, uint64_t ts, const char *fmt, ...)
{
	struct expect *e = &expect[nexpect];
	va_list ap;

	NEED(nexpect < MAX_EXPECT);
	NEED(ts >= k->last);
	memset(e, 0, sizeof(*e));
	e->ts = ts;
	e->offset = k->ev.n; /* within the payload, fixed by blk_end */
	e->source = k->source;
	e->type = (uint8_t)type;
	e->blk = k;
	e->seq = nexpect;
	put_u8(&k->ev, type);
	put_varint(&k->ev, ts - k->last);
	k->last = ts;
	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt == 'u') {
			uint64_t v = va_arg(ap, uint64_t);

			e->arg[e->nargs++] = v;
			put_varint(&k->ev, v);
		} else {
			const char *s = va_arg(ap, const char *);

			e->str = s;
			put_varint(&k->ev, strlen(s));
			put(&k->ev, s, strlen(s));
		}
	}
	va_end(ap);
	nexpect++;
}

static void
blk_end(struct buf *file, struct blk *k)
{
	/* blocks may be written at the same time (interleaved()) */
	for (size_t i = k->first; i < nexpect; i++) {
		if (expect[i].blk == k) {
			expect[i].offset += file->n + GREEN_TRACE_BLOCK_HEADER_SIZE;
			expect[i].blk = NULL;
		}
	}
	put_u32(file, GREEN_TRACE_BLOCK_MAGIC);
	put_u32(file, (uint32_t)k->ev.n);
	put_u32(file, k->source);
	put_u64(file, k->base);
	put(file, k->ev.p, k->ev.n);
	free(k->ev.p);
}

#define U(x) ((uint64_t)(x))

static void
e_ready(struct blk *k, uint64_t ts, uint64_t id, uint64_t by, uint64_t w)
{
	ev(k, GT_READY, ts, "uuu", id, by, w);
}

/* The version handcrafted() writes: the reader must give the same events
 * for both (since version 2 a CREATE also means READY). */
static uint32_t craft_version = GREEN_TRACE_VERSION;

/* Task id created outside a task on k's source, and ready: version 1
 * writes the READY, version 2 only expects it (at the CREATE's offset). */
static void
e_create(struct blk *k, uint64_t ts, uint64_t id, uint64_t fn, const char *n)
{
	struct expect *e;

	ev(k, GT_CREATE, ts, "uuus", id, U(0), fn, n);
	if (craft_version < 2) {
		e_ready(k, ts, id, 0, k->source);
		return;
	}
	NEED(nexpect < MAX_EXPECT);
	e = &expect[nexpect++];
	*e = expect[nexpect - 2];
	e->seq = nexpect - 1;
	e->type = GT_READY;
	e->nargs = 3;
	e->arg[0] = id;
	e->arg[1] = 0;
	e->arg[2] = k->source;
	e->str = NULL;
}

static void
e_task(struct blk *k, unsigned type, uint64_t ts, uint64_t id)
{
	ev(k, type, ts, "u", id);
}

static void
e_park(struct blk *k, uint64_t ts, uint64_t id, uint64_t why)
{
	ev(k, GT_PARK, ts, "uu", id, why);
}

/* --- the handcrafted trace ------------------------------------------------- */

/*
 * Two functions on two workers plus a non-worker thread; worker 0's events
 * are in two blocks and the blocks of the sources interleave in the file.
 *
 *   alpha (tasks 1, 2): slices 1000 + 2000 + 400 + 1000 = 4400 ns;
 *     latencies 90, 180, 300, 100; blocked chan-recv 1100, sleep 1000
 *   beta (task 3): slices 3000 + 500; latencies 1170, 100 (after a yield)
 *   worker 0 busy 4500 of 5000 ns (90%), worker 1 3400 (68%), one steal
 *   of 2 tasks, one worker park
 */
static void
handcrafted(struct buf *f)
{
	struct blk w0a, w0b, w1, other;

	nexpect = 0;
	put_header(f, craft_version, GREEN_TRACE_HEADER_SIZE, 2);
	blk_begin(&w0a, 0, T0);
	ev(&w0a, GT_FUNC, T0, "us", U(0x1000), "alpha");
	ev(&w0a, GT_FUNC, T0, "us", U(0x2000), "beta");
	e_create(&w0a, T0 + 10, 1, 0x1000, "a1");
	e_create(&w0a, T0 + 20, 2, 0x1000, "a2");
	e_create(&w0a, T0 + 30, 3, 0x2000, "b3");
	e_task(&w0a, GT_START, T0 + 100, 1);
	e_park(&w0a, T0 + 1100, 1, GT_WHY_CHAN_RECV);
	blk_end(f, &w0a);

	blk_begin(&w1, 1, T0 + 150);
	ev(&w1, GT_STEAL, T0 + 150, "uu", U(0), U(2));
	e_task(&w1, GT_START, T0 + 200, 2);
	e_ready(&w1, T0 + 2200, 1, 2, 1);
	e_task(&w1, GT_EXIT, T0 + 2200, 2);
	e_task(&w1, GT_START, T0 + 2500, 1);
	e_park(&w1, T0 + 2900, 1, GT_WHY_SLEEP);
	e_task(&w1, GT_START, T0 + 4000, 1);
	e_task(&w1, GT_EXIT, T0 + 5000, 1);
	ev(&w1, GT_WORKER_PARK, T0 + 5000, "");
	blk_end(f, &w1);

	blk_begin(&w0b, 0, T0 + 1150);
	e_task(&w0b, GT_START, T0 + 1200, 3);
	e_task(&w0b, GT_YIELD, T0 + 4200, 3);
	e_task(&w0b, GT_START, T0 + 4300, 3);
	e_task(&w0b, GT_EXIT, T0 + 4800, 3);
	blk_end(f, &w0b);

	blk_begin(&other, GREEN_TRACE_SOURCE_OTHER, T0 + 3000);
	e_ready(&other, T0 + 3900, 1, 0, GREEN_TRACE_SOURCE_OTHER);
	blk_end(f, &other);
}

/* Three workers, several blocks each, interleaved in the file so that
 * file order and time order differ; every timestamp distinct. */
static void
interleaved(struct buf *f)
{
	struct blk k[3];
	uint64_t t = T0;

	nexpect = 0;
	/* version 1: its CREATEs have no READY */
	put_header(f, 1, GREEN_TRACE_HEADER_SIZE, 3);
	for (int round = 0; round < 4; round++) {
		/* sources in a different order every round */
		for (int j = 0; j < 3; j++) {
			uint32_t s = (uint32_t)((j + round) % 3);

			blk_begin(&k[s], s, t + s);
		}
		for (int i = 0; i < 5; i++) {
			for (uint32_t s = 0; s < 3; s++) {
				uint64_t id = 100 * s + (uint64_t)round * 10 + (uint64_t)i + 1;

				ev(&k[s], GT_CREATE, t + 3 * (uint64_t)i * 7 + s + 1, "uuus",
				   id, U(0), U(0x40 + s), i % 2 ? "" : "name");
			}
		}
		for (int j = 0; j < 3; j++)
			blk_end(f, &k[(j + round) % 3]);
		t += 1000;
	}
}

static int
by_time(const void *a, const void *b)
{
	const struct expect *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct gt_input
mem(const struct buf *b)
{
	return (struct gt_input){.buf = b->p, .len = b->n, .name = "mem"};
}

static char *
tmp_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	NEED(f != NULL);
	NEED(fwrite(p, 1, n, f) == n);
	NEED(fclose(f) == 0);
}

static char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = {0};
	char chunk[4096];
	size_t n;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		put(&b, chunk, n);
	fclose(f);
	put_u8(&b, 0);
	*len = b.n - 1;
	return (char *)b.p;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* The output of a subcommand for the trace that build writes,
 * NUL-terminated (caller frees). */
static char *
render(void (*build)(struct buf *),
       int (*cmd)(const struct gt_input *, FILE *, char *, size_t))
{
	struct buf f = {0};
	struct gt_input in;
	char err[ERRLEN], *text;
	size_t len;
	FILE *out = fopen(tmp_path("render.out"), "w");

	ck_assert_ptr_nonnull(out);
	build(&f);
	in = mem(&f);
	ck_assert_msg(cmd(&in, out, err, sizeof(err)) == 0, "%s", err);
	fclose(out);
	free(f.p);
	text = read_all(tmp_path("render.out"), &len);
	unlink(tmp_path("render.out"));
	return text;
}

/* The lines of text from the one starting with heading to the next
 * empty line (caller frees). */
static char *
section(const char *text, const char *heading)
{
	const char *p = strstr(text, heading), *end;

	ck_assert_msg(p != NULL, "no section '%s' in:\n%s", heading, text);
	end = strstr(p, "\n\n");
	return strndup(p, end ? (size_t)(end - p + 1) : strlen(p));
}

/* --- reader ------------------------------------------------------------------ */

static void
check_sequence(const struct gt_input *in)
{
	char err[ERRLEN];
	struct gt_reader *r = gt_reader_open(in, err, sizeof(err));
	struct gt_event e;
	size_t i = 0;
	int rc;

	ck_assert_msg(r != NULL, "%s", err);
	qsort(expect, nexpect, sizeof(expect[0]), by_time);
	while ((rc = gt_reader_next(r, &e, err, sizeof(err))) > 0) {
		const struct expect *x = &expect[i];

		ck_assert_uint_lt(i, nexpect);
		ck_assert_uint_eq(e.ts, x->ts);
		ck_assert_uint_eq(e.offset, x->offset);
		ck_assert_uint_eq(e.source, x->source);
		ck_assert_uint_eq(e.type, x->type);
		ck_assert_uint_eq(e.nargs, x->nargs);
		for (unsigned a = 0; a < x->nargs; a++)
			ck_assert_uint_eq(e.arg[a], x->arg[a]);
		if (x->str != NULL) {
			ck_assert_uint_eq(e.str_len, strlen(x->str));
			ck_assert(memcmp(e.str, x->str, e.str_len) == 0);
		} else {
			ck_assert_uint_eq(e.str_len, 0);
		}
		i++;
	}
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(i, nexpect);
	gt_reader_close(r);
}

START_TEST(test_merge_order)
{
	struct buf f = {0}, again = {0};
	struct gt_input in;

	interleaved(&f);
	in = mem(&f);
	check_sequence(&in);
	/* the same through a file */
	interleaved(&again); /* expect[] again, unsorted */
	free(again.p);
	write_file(tmp_path("interleaved.bin"), f.p, f.n);
	in = (struct gt_input){.path = tmp_path("interleaved.bin")};
	check_sequence(&in);
	unlink(tmp_path("interleaved.bin"));
	free(f.p);
}
END_TEST

/* The trace that build writes, read back event by event. */
static void
check_built(void (*build)(struct buf *))
{
	struct buf f = {0};
	struct gt_input in;

	build(&f);
	in = mem(&f);
	check_sequence(&in);
	free(f.p);
}

/* The handcrafted trace written in version, read back event by event. */
static void
check_handcrafted(uint32_t version)
{
	craft_version = version;
	check_built(handcrafted);
	craft_version = GREEN_TRACE_VERSION;
}

START_TEST(test_handcrafted_sequence)
{
	check_handcrafted(GREEN_TRACE_VERSION);
}
END_TEST

/* The same trace in version 1, where each CREATE has its own READY. */
START_TEST(test_version_1_sequence)
{
	check_handcrafted(1);
}
END_TEST

/* --- version 3's compact events -------------------------------------------- */

/* Write an event as raw bytes: the type byte as given (compact types,
 * GT_SWITCHED), the delta, n varints; no expectation.  Returns the
 * event's offset in the block's payload. */
static size_t
wire(struct blk *k, unsigned type_byte, uint64_t ts, int n, ...)
{
	size_t at = k->ev.n;
	va_list ap;

	NEED(ts >= k->last);
	put_u8(&k->ev, type_byte);
	put_varint(&k->ev, ts - k->last);
	k->last = ts;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		put_varint(&k->ev, va_arg(ap, uint64_t));
	va_end(ap);
	return at;
}

/* Expect the event type(args) at time ts from the record at payload
 * offset at of block k. */
static void
want(struct blk *k, size_t at, unsigned type, uint64_t ts, int n, ...)
{
	struct expect *e = &expect[nexpect];
	va_list ap;

	NEED(nexpect < MAX_EXPECT);
	memset(e, 0, sizeof(*e));
	e->ts = ts;
	e->offset = at;
	e->source = k->source;
	e->type = (uint8_t)type;
	e->blk = k;
	e->seq = nexpect;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		e->arg[e->nargs++] = va_arg(ap, uint64_t);
	va_end(ap);
	nexpect++;
}

/*
 * One worker's compact events over two blocks (the running task carries
 * over), every stop kind with a START joined to it, and a loss, read back
 * as the full events a version 2 file would hold.
 */
static void
compact(struct buf *f)
{
	struct blk a, b;
	size_t at;

	nexpect = 0;
	put_header(f, 3, GREEN_TRACE_HEADER_SIZE, 1);
	blk_begin(&a, 0, T0);
	at = wire(&a, GT_START, T0 + 10, 1, U(1));
	want(&a, at, GT_START, T0 + 10, 1, U(1));
	at = wire(&a, GT_READY_BY_RUNNING, T0 + 20, 1, U(2));
	want(&a, at, GT_READY, T0 + 20, 3, U(2), U(1), U(0));
	at = wire(&a, GT_PARK_RUNNING | GT_SWITCHED, T0 + 30, 2,
		  U(GT_WHY_CHAN_RECV), U(2));
	want(&a, at, GT_PARK, T0 + 30, 2, U(1), U(GT_WHY_CHAN_RECV));
	want(&a, at, GT_START, T0 + 30, 1, U(2));
	at = wire(&a, GT_READY_BY_RUNNING, T0 + 40, 1, U(1));
	want(&a, at, GT_READY, T0 + 40, 3, U(1), U(2), U(0));
	blk_end(f, &a);

	blk_begin(&b, 0, T0 + 50);
	at = wire(&b, GT_EXIT | GT_SWITCHED, T0 + 60, 2, U(2), U(1));
	want(&b, at, GT_EXIT, T0 + 60, 1, U(2));
	want(&b, at, GT_START, T0 + 60, 1, U(1));
	at = wire(&b, GT_YIELD | GT_SWITCHED, T0 + 70, 2, U(1), U(300));
	want(&b, at, GT_YIELD, T0 + 70, 1, U(1));
	want(&b, at, GT_START, T0 + 70, 1, U(300));
	at = wire(&b, GT_PARK | GT_SWITCHED, T0 + 80, 3, U(300),
		  U(GT_WHY_SLEEP), U(1));
	want(&b, at, GT_PARK, T0 + 80, 2, U(300), U(GT_WHY_SLEEP));
	want(&b, at, GT_START, T0 + 80, 1, U(1));
	at = wire(&b, GT_LOST, T0 + 90, 1, U(5));
	want(&b, at, GT_LOST, T0 + 90, 1, U(5));
	at = wire(&b, GT_START, T0 + 100, 1, U(4));
	want(&b, at, GT_START, T0 + 100, 1, U(4));
	at = wire(&b, GT_PARK_RUNNING, T0 + 110, 1, U(GT_WHY_MUTEX));
	want(&b, at, GT_PARK, T0 + 110, 2, U(4), U(GT_WHY_MUTEX));
	blk_end(f, &b);
}

START_TEST(test_compact_events)
{
	check_built(compact);
}
END_TEST

/* A larger header is skipped; blocks larger than the reader's window and
 * strings that straddle its refills decode exactly. */
START_TEST(test_large_blocks)
{
	struct buf f = {0};
	struct blk k;
	char name[GREEN_TRACE_STRING_MAX + 1];
	struct gt_input in;
	uint64_t t = T0;

	nexpect = 0;
	put_header(&f, GREEN_TRACE_VERSION, 48, 1);
	for (int b = 0; b < 3; b++) {
		blk_begin(&k, 0, t);
		for (int i = 0; i < 100; i++) {
			size_t len = (size_t)(i * 997 + b * 31) % sizeof(name);

			memset(name, 'a' + i % 26, len);
			name[len] = '\0';
			ev(&k, GT_FUNC, t += (uint64_t)i * 1000003, "us",
			   U(i + 1), strdup(name));
		}
		blk_end(&f, &k);
	}
	ck_assert_uint_gt(f.n, 3 * 100 * 1000);
	in = mem(&f);
	check_sequence(&in);
	for (size_t i = 0; i < nexpect; i++)
		free((char *)expect[i].str);
	free(f.p);
}
END_TEST

START_TEST(test_empty_trace)
{
	struct buf f = {0};
	struct gt_input in;
	char err[ERRLEN];
	struct gt_reader *r;
	struct gt_event e;

	put_header(&f, GREEN_TRACE_VERSION, GREEN_TRACE_HEADER_SIZE, 4);
	/* an empty block is fine too */
	put_u32(&f, GREEN_TRACE_BLOCK_MAGIC);
	put_u32(&f, 0);
	put_u32(&f, 3);
	put_u64(&f, T0);
	in = mem(&f);
	r = gt_reader_open(&in, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(gt_reader_header(r)->workers, 4);
	ck_assert_uint_eq(gt_reader_header(r)->pid, 4242);
	ck_assert_uint_eq(gt_reader_header(r)->start, T0);
	ck_assert_uint_eq(gt_reader_header(r)->blocks, 1);
	ck_assert_int_eq(gt_reader_next(r, &e, err, sizeof(err)), 0);
	gt_reader_close(r);
	free(f.p);
}
END_TEST

/* --- summary figures ------------------------------------------------------------ */

static const struct gt_func *
func_named(const struct gt_func **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i]->name != NULL && strcmp(v[i]->name, name) == 0)
			return v[i];
	}
	ck_abort_msg("no function %s", name);
	return NULL;
}

static void
check_top(const struct gt_slice *s, uint64_t task, uint32_t worker,
	  uint64_t start, uint64_t len, unsigned end)
{
	ck_assert_uint_eq(s->task, task);
	ck_assert_uint_eq(s->worker, worker);
	ck_assert_uint_eq(s->start, T0 + start);
	ck_assert_uint_eq(s->end - s->start, len);
	ck_assert_uint_eq(s->end_type, end);
}

START_TEST(test_summary_figures)
{
	struct buf f = {0};
	struct gt_model m = {0};
	struct gt_input in;
	char err[ERRLEN];
	const struct gt_func **v, *a, *b;
	size_t n;

	handcrafted(&f);
	in = mem(&f);
	ck_assert_msg(gt_model_run(&m, &in, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(gt_model_duration(&m), 5000);
	v = gt_model_funcs(&m, &n);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(n, 2); /* every task's CREATE is in the trace */
	a = func_named(v, n, "alpha");
	b = func_named(v, n, "beta");
	ck_assert_ptr_eq(v[0], a); /* by run time */
	ck_assert_uint_eq(a->tasks, 2);
	ck_assert_uint_eq(a->slices, 4);
	ck_assert_uint_eq(a->run_ns, 4400);
	ck_assert_uint_eq(a->latency.n, 4);
	ck_assert_uint_eq(gt_hist_quantile(&a->latency, 0.5), 100);
	ck_assert_uint_eq(gt_hist_quantile(&a->latency, 0.99), 300);
	ck_assert_uint_eq(a->latency.max, 300);
	ck_assert_ptr_nonnull(a->blocking[GT_WHY_CHAN_RECV]);
	ck_assert_uint_eq(a->blocking[GT_WHY_CHAN_RECV]->n, 1);
	ck_assert_uint_eq(a->blocking[GT_WHY_CHAN_RECV]->max, 1100);
	ck_assert_ptr_nonnull(a->blocking[GT_WHY_SLEEP]);
	ck_assert_uint_eq(gt_hist_quantile(a->blocking[GT_WHY_SLEEP], 0.5), 1000);
	ck_assert_ptr_null(a->blocking[GT_WHY_MUTEX]);
	ck_assert_uint_eq(b->tasks, 1);
	ck_assert_uint_eq(b->slices, 2);
	ck_assert_uint_eq(b->run_ns, 3500);
	ck_assert_uint_eq(gt_hist_quantile(&b->latency, 0.5), 100);
	ck_assert_uint_eq(b->latency.max, 1170);
	free(v);

	ck_assert_uint_eq(m.workers[0].busy_ns, 4500);
	ck_assert_uint_eq(m.workers[1].busy_ns, 3400);
	ck_assert_uint_eq(m.workers[1].steal_events, 1);
	ck_assert_uint_eq(m.workers[1].steal_tasks, 2);
	ck_assert_uint_eq(m.workers[1].parks, 1);
	ck_assert_uint_eq(m.workers[0].parks, 0);
	ck_assert_uint_eq(m.tasks.n, 0); /* all exited: nothing kept */

	ck_assert_uint_eq(m.ntop, 6);
	check_top(&m.top[0], 3, 0, 1200, 3000, GT_YIELD);
	check_top(&m.top[1], 2, 1, 200, 2000, GT_EXIT);
	check_top(&m.top[2], 1, 0, 100, 1000, GT_PARK);
	ck_assert_uint_eq(m.top[2].why, GT_WHY_CHAN_RECV);
	check_top(&m.top[3], 1, 1, 4000, 1000, GT_EXIT);
	check_top(&m.top[4], 3, 0, 4300, 500, GT_EXIT);
	check_top(&m.top[5], 1, 1, 2500, 400, GT_PARK);
	gt_model_free(&m);
	free(f.p);
}
END_TEST

START_TEST(test_summary_text)
{
	char *text = render(handcrafted, gt_summary);

	ck_assert_ptr_nonnull(strstr(text, "2 workers"));
	ck_assert_ptr_nonnull(strstr(text, "duration 5.000 us"));
	ck_assert_ptr_nonnull(strstr(text, "alpha\n    tasks 2, slices 4, run total 4.400 us, run mean 2.200 us/task"));
	ck_assert_ptr_nonnull(strstr(text, "beta\n    tasks 1, slices 2, run total 3.500 us"));
	ck_assert_ptr_nonnull(strstr(text, "blocked chan-recv        1x"));
	ck_assert_ptr_nonnull(strstr(text, "  0          90.0%"));
	ck_assert_ptr_nonnull(strstr(text, "  1          68.0%"));
	ck_assert_ptr_nonnull(strstr(text, "  3          0       +1.200 us    3.000 us   yield            beta"));
	ck_assert_ptr_nonnull(strstr(text, "park chan-recv"));
	free(text);
}
END_TEST

/* --- the Chrome export -------------------------------------------------------- */

/* A small JSON validator (RFC 8259 grammar; UTF-8 is not checked). */
static const char *json_value(const char *p, int depth);

static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	return p;
}

static const char *
json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p++ != '\\')
			continue;
		if (*p == 'u') {
			for (int i = 1; i <= 4; i++) {
				if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
					return NULL;
			}
			p += 5;
		} else if (*p && strchr("\"\\/bfnrt", *p)) {
			p++;
		} else {
			return NULL;
		}
	}
	return p + 1;
}

static const char *
json_digits(const char *p)
{
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *
json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if ((p = json_digits(p)) == NULL)
		return NULL;
	if (*p == '.' && (p = json_digits(p + 1)) == NULL)
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		p = json_digits(p);
	}
	return p;
}

static const char *
json_items(const char *p, int depth, char close, bool keys)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			if ((p = json_string(json_ws(p))) == NULL)
				return NULL;
			if (*(p = json_ws(p)) != ':')
				return NULL;
			p++;
		}
		if ((p = json_value(p, depth + 1)) == NULL)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *
json_value(const char *p, int depth)
{
	p = json_ws(p);
	if (depth > 64)
		return NULL;
	switch (*p) {
	case '{':
		return json_items(p, depth, '}', true);
	case '[':
		return json_items(p, depth, ']', false);
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	default:
		return json_number(p);
	}
}

static bool
json_valid(const char *text)
{
	const char *end = json_value(text, 0);

	return end != NULL && *json_ws(end) == '\0';
}

START_TEST(test_json_validator)
{
	ck_assert(json_valid("{\"a\":[1,-2.5e3,true,null,\"x\\u00e9\"]}"));
	ck_assert(!json_valid("{\"a\":[1,]}"));
	ck_assert(!json_valid("{\"a\":1"));
	ck_assert(!json_valid("{\"a\":\"\x01\"}"));
	ck_assert(!json_valid("[01x]"));
}
END_TEST

/* Every "id":N of ph s has one of ph f, and the other way round. */
static void
check_flows(const char *json, size_t expect_pairs)
{
	size_t ns = 0, nf = 0;
	uint64_t ids_s[64] = {0}, ids_f[64] = {0};

	for (const char *p = json; (p = strstr(p, "{\"ph\":\"")) != NULL; p++) {
		char ph = p[7];
		const char *id = strstr(p, "\"id\":");
		const char *end = strchr(p, '}');

		if ((ph != 's' && ph != 'f') || id == NULL || id > end)
			continue;
		if (ph == 's') {
			ck_assert_uint_lt(ns, 64);
			ids_s[ns++] = strtoull(id + 5, NULL, 10);
		} else {
			ck_assert_uint_lt(nf, 64);
			ck_assert_ptr_nonnull(strstr(p, "\"bp\":\"e\""));
			ids_f[nf++] = strtoull(id + 5, NULL, 10);
		}
	}
	ck_assert_uint_eq(ns, expect_pairs);
	ck_assert_uint_eq(nf, expect_pairs);
	for (size_t i = 0; i < ns; i++) {
		size_t match = 0;

		for (size_t j = 0; j < nf; j++)
			match += ids_f[j] == ids_s[i];
		ck_assert_msg(match == 1, "flow %" PRIu64 " ends %zu times",
			      ids_s[i], match);
	}
}

START_TEST(test_chrome_export)
{
	struct buf f = {0};
	struct gt_input in;
	char err[ERRLEN], *json, cmd[1200];
	size_t len;
	const char *path = tmp_path("out.json");
	FILE *out = fopen(path, "w");

	ck_assert_ptr_nonnull(out);
	handcrafted(&f);
	in = mem(&f);
	ck_assert_msg(gt_chrome(&in, out, err, sizeof(err)) == 0, "%s", err);
	fclose(out);
	json = read_all(path, &len);
	ck_assert_msg(json_valid(json), "invalid JSON:\n%s", json);
	ck_assert_ptr_nonnull(strstr(json, "\"displayTimeUnit\":\"ns\""));
	/* a lane per worker, and one for the other threads (which exist) */
	ck_assert_uint_eq(count(json, "\"name\":\"thread_name\""), 3);
	ck_assert_uint_eq(count(json, "{\"name\":\"worker 0\"}"), 1);
	ck_assert_uint_eq(count(json, "{\"name\":\"worker 1\"}"), 1);
	ck_assert_uint_eq(count(json, "{\"name\":\"other threads\"}"), 1);
	/* 6 run slices; 5 READYs, each followed by its START */
	ck_assert_uint_eq(count(json, "\"ph\":\"X\""), 6);
	check_flows(json, 5);
	/* the longest slice, in microseconds with nanosecond decimals */
	ck_assert_ptr_nonnull(strstr(json, "\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":1.200,\"dur\":3.000,\"cat\":\"task\",\"name\":\"beta\",\"args\":{\"task\":3,\"name\":\"b3\",\"end\":\"yield\"}"));
	ck_assert_ptr_nonnull(strstr(json, "\"reason\":\"chan-recv\""));
	if (system("command -v python3 >/dev/null 2>&1") == 0) {
		snprintf(cmd, sizeof(cmd),
			 "python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding=\"utf-8\"))' '%s'",
			 path);
		ck_assert_msg(system(cmd) == 0, "python3's json rejects %s", path);
	} else {
		fprintf(stderr, "note: python3 not found; JSON checked by the built-in validator only\n");
	}
	free(json);
	unlink(path);
	free(f.p);
}
END_TEST

/* Names with quotes, control characters and invalid UTF-8 stay valid JSON. */
START_TEST(test_chrome_escaping)
{
	struct buf f = {0};
	struct blk k;
	struct gt_input in;
	char err[ERRLEN], *json;
	size_t len;
	const char *path = tmp_path("esc.json");
	FILE *out = fopen(path, "w");

	ck_assert_ptr_nonnull(out);
	nexpect = 0;
	put_header(&f, GREEN_TRACE_VERSION, GREEN_TRACE_HEADER_SIZE, 1);
	blk_begin(&k, 0, T0);
	ev(&k, GT_FUNC, T0, "us", U(7), "q\"b\\s\n\x01\xff\xc3(</script>");
	e_create(&k, T0, 9, 7, "t\"\t\xe2\x82\xac");
	e_task(&k, GT_START, T0 + 1, 9);
	e_task(&k, GT_EXIT, T0 + 2, 9);
	blk_end(&f, &k);
	in = mem(&f);
	ck_assert_msg(gt_chrome(&in, out, err, sizeof(err)) == 0, "%s", err);
	fclose(out);
	json = read_all(path, &len);
	ck_assert_msg(json_valid(json), "invalid JSON:\n%s", json);
	ck_assert_ptr_nonnull(strstr(json, "\"name\":\"q\\\"b\\\\s\\u000a\\u0001\\ufffd\\ufffd(</script>\""));
	ck_assert_ptr_nonnull(strstr(json, "\"name\":\"t\\\"\\u0009\xe2\x82\xac\""));
	free(json);
	unlink(path);
	free(f.p);
}
END_TEST

/* --- the HTML report ------------------------------------------------------------ */

static void
check_report(const struct buf *f, uint32_t workers)
{
	struct gt_input in = mem(f);
	char err[ERRLEN], *html;
	size_t len;
	const char *path = tmp_path("report.html");
	FILE *out = fopen(path, "w");

	ck_assert_ptr_nonnull(out);
	ck_assert_msg(gt_report(&in, out, err, sizeof(err)) == 0, "%s", err);
	fclose(out);
	html = read_all(path, &len);
	ck_assert_uint_eq(count(html, "class=\"lane\""), workers);
	for (uint32_t i = 0; i < workers; i++) {
		char lane[64];

		snprintf(lane, sizeof(lane), "<g class=\"lane\" data-worker=\"%" PRIu32 "\"", i);
		ck_assert_uint_eq(count(html, lane), 1);
	}
	ck_assert_ptr_null(strstr(html, "http://"));
	ck_assert_ptr_null(strstr(html, "https://"));
	ck_assert_ptr_null(strstr(html, "<script src"));
	ck_assert_ptr_null(strstr(html, "<link"));
	ck_assert_ptr_null(strstr(html, "@import"));
	ck_assert_ptr_null(strstr(html, "url("));
	ck_assert_ptr_nonnull(strstr(html, "<!DOCTYPE html>"));
	ck_assert_ptr_nonnull(strstr(html, "</html>"));
	ck_assert_uint_eq(count(html, "<svg class=\"timeline\""), 1);
	/* bounded: at most two rects per pixel per lane, plus a few */
	ck_assert_uint_lt(len, (size_t)workers * 2 * 1602 * 200 + 200000);
	free(html);
	unlink(path);
}

START_TEST(test_report_html)
{
	struct buf f = {0};
	char *html;

	handcrafted(&f);
	check_report(&f, 2);
	free(f.p);
	/* the content: six rects (wider than a pixel), tables, histograms */
	html = render(handcrafted, gt_report);
	ck_assert_uint_eq(count(html, "<title>task "), 6);
	ck_assert_ptr_nonnull(strstr(html, "Scheduling latency"));
	ck_assert_ptr_nonnull(strstr(html, "Blocking time"));
	ck_assert_ptr_nonnull(strstr(html, "<td>chan-recv</td>"));
	ck_assert_ptr_nonnull(strstr(html, "<td>90.0%</td>"));
	free(html);
}
END_TEST

/* Many tiny slices: merged, the file stays small. */
START_TEST(test_report_downsampled)
{
	struct buf f = {0};
	struct blk k;
	uint64_t t = T0;

	nexpect = 0;
	put_header(&f, GREEN_TRACE_VERSION, GREEN_TRACE_HEADER_SIZE, 3);
	for (uint32_t w = 0; w < 3; w++) {
		t = T0;
		for (int b = 0; b < 4; b++) {
			blk_begin(&k, w, t);
			for (int i = 0; i < 5000 / 4; i++) {
				uint64_t id = w * 100000 + (uint64_t)b * 10000 + (uint64_t)i + 1;

				/* the expect[] record is not needed here */
				nexpect = 0;
				e_task(&k, GT_START, t += 10, id);
				e_task(&k, GT_EXIT, t += 5 + (uint64_t)i % 7, id);
			}
			blk_end(&f, &k);
		}
	}
	check_report(&f, 3);
	free(f.p);
}
END_TEST

/* --- version 4's holds ------------------------------------------------------ */

/*
 * Two workers in six slots (four spares) and a spare, slot 4, that took
 * over meanwhile; slots 2, 3 and 5 never ran.  Task 7 (spin, "hot") held
 * worker 0 running for 2.5 ms from +100 ns; task 9, created before the
 * trace, held worker 1 blocked for 1.0001 ms, from 50 ns before the
 * trace; task 8 (spin, unnamed) held the spare running for 40 us.
 */
static void
holds(struct buf *f)
{
	struct blk w0, w1, spare;

	nexpect = 0;
	put_header(f, 4, GREEN_TRACE_HEADER_SIZE, 6);
	blk_begin(&w0, 0, T0);
	ev(&w0, GT_FUNC, T0, "us", U(0x3000), "spin");
	e_create(&w0, T0 + 10, 7, 0x3000, "hot");
	e_create(&w0, T0 + 20, 8, 0x3000, "");
	e_task(&w0, GT_START, T0 + 100, 7);
	ev(&w0, GT_HELD, T0 + 2500100, "uuu", U(7), U(2500000),
	   U(GT_HELD_RUNNING));
	e_task(&w0, GT_EXIT, T0 + 2500100, 7);
	blk_end(f, &w0);

	blk_begin(&w1, 1, T0);
	e_task(&w1, GT_START, T0 + 50, 9);
	ev(&w1, GT_HELD, T0 + 1000050, "uuu", U(9), U(1000100),
	   U(GT_HELD_BLOCKED));
	e_park(&w1, T0 + 1000050, 9, GT_WHY_SLEEP);
	blk_end(f, &w1);

	blk_begin(&spare, 4, T0 + 200);
	e_task(&spare, GT_START, T0 + 200, 8);
	ev(&spare, GT_HELD, T0 + 40200, "uuu", U(8), U(40000),
	   U(GT_HELD_RUNNING));
	e_task(&spare, GT_EXIT, T0 + 40200, 8);
	blk_end(f, &spare);
}

/* Slot 4 is above the two workers but below the six slots: a spare's
 * block, read like any; the events come back field by field. */
START_TEST(test_holds_sequence)
{
	check_built(holds);
	ck_assert_str_eq(gt_event_name(GT_HELD), "held");
	ck_assert_str_eq(gt_held_name(GT_HELD_BLOCKED),
			 "blocked in a system call");
}
END_TEST

START_TEST(test_holds_model)
{
	struct buf f = {0};
	struct gt_model m = {0};
	struct gt_input in;
	char err[ERRLEN];
	const struct gt_hold *h = m.holds;

	holds(&f);
	in = mem(&f);
	ck_assert_msg(gt_model_run(&m, &in, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(m.holds_total, 3);
	ck_assert_uint_eq(m.nholds, 3);
	ck_assert_uint_eq(h[0].task, 7);
	ck_assert_uint_eq(h[0].ns, 2500000);
	ck_assert_uint_eq(h[0].end, T0 + 2500100);
	ck_assert_uint_eq(h[0].kind, GT_HELD_RUNNING);
	ck_assert_uint_eq(h[0].worker, 0);
	ck_assert_str_eq(h[0].func->name, "spin");
	ck_assert_str_eq(h[0].task_name, "hot");
	ck_assert_uint_eq(h[1].task, 9);
	ck_assert(h[1].func->unknown);
	ck_assert_ptr_null(h[1].task_name);
	ck_assert_uint_eq(h[1].kind, GT_HELD_BLOCKED);
	ck_assert_uint_eq(h[2].task, 8);
	ck_assert_uint_eq(h[2].worker, 4);
	ck_assert_ptr_null(h[2].task_name); /* an empty name is none */
	/* the spares that never ran have no events */
	ck_assert_uint_eq(gt_model_workers_used(&m), 3);
	ck_assert(m.workers[4].used);
	ck_assert(!m.workers[2].used && !m.workers[3].used);
	ck_assert(!m.workers[5].used && !m.workers[6].used);
	/* a hold is no slice: task 9's is in its run slice */
	ck_assert_uint_eq(m.workers[1].slices, 1);
	gt_model_free(&m);
	free(f.p);
}
END_TEST

START_TEST(test_holds_summary)
{
	char *text = render(holds, gt_summary), *sec;

	ck_assert_ptr_nonnull(strstr(text, "version 4, 3 workers (+3 unused slots), pid"));
	sec = section(text, "tasks that held a worker (3, longest first)\n");
	ck_assert_str_eq(sec,
		"tasks that held a worker (3, longest first)\n"
		"  task       worker  start        held       doing                    function \"task name\"\n"
		"  7          0       +100 ns      2.500 ms   running                  spin \"hot\"\n"
		"  9          1       -50 ns       1.000 ms   blocked in a system call (unknown)\n"
		"  8          4       +200 ns      40.00 us   running                  spin\n");
	free(sec);
	/* a row per worker slot with events: 0, 1 and the spare 4 */
	sec = section(text, "workers\n");
	ck_assert_uint_eq(count(sec, "\n"), 5);
	ck_assert_ptr_nonnull(strstr(sec, "\n  4       "));
	ck_assert_ptr_null(strstr(sec, "\n  2 "));
	free(sec);
	free(text);
}
END_TEST

/* More holds than the summary lists, of 1 to 25 ms in a scrambled order. */
static void
many_holds(struct buf *f)
{
	struct blk k;
	uint64_t t = T0;

	nexpect = 0;
	put_header(f, 4, GREEN_TRACE_HEADER_SIZE, 1);
	blk_begin(&k, 0, T0);
	for (uint64_t i = 0; i < GT_TOP_HOLDS + 5; i++) {
		uint64_t ms = i * 7 % (GT_TOP_HOLDS + 5) + 1;

		e_task(&k, GT_START, t += 10, i + 1);
		t += ms * 1000000;
		ev(&k, GT_HELD, t, "uuu", i + 1, ms * 1000000, U(GT_HELD_RUNNING));
		e_task(&k, GT_YIELD, t, i + 1);
	}
	blk_end(f, &k);
}

/* The longest, in order, and a count of the others. */
START_TEST(test_holds_capped)
{
	struct buf f = {0};
	struct gt_model m = {0};
	struct gt_input in;
	char err[ERRLEN], *text, *sec;

	many_holds(&f);
	in = mem(&f);
	ck_assert_msg(gt_model_run(&m, &in, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(m.holds_total, GT_TOP_HOLDS + 5);
	ck_assert_uint_eq(m.nholds, GT_TOP_HOLDS);
	for (unsigned i = 0; i < GT_TOP_HOLDS; i++)
		ck_assert_uint_eq(m.holds[i].ns, (GT_TOP_HOLDS + 5 - i) * 1000000ull);
	gt_model_free(&m);
	free(f.p);
	text = render(many_holds, gt_summary);
	sec = section(text, "tasks that held a worker (25, longest first)\n");
	ck_assert_uint_eq(count(sec, "\n"), 2 + GT_TOP_HOLDS + 1);
	ck_assert_ptr_nonnull(strstr(sec, "  25.00 ms "));
	ck_assert_ptr_null(strstr(sec, "  5.000 ms "));
	ck_assert_ptr_nonnull(strstr(sec, "\n  (5 shorter holds not shown)\n"));
	free(sec);
	free(text);
}
END_TEST

/* A version 4 trace without holds says so; older ones have no section. */
START_TEST(test_holds_none)
{
	char *text = render(handcrafted, gt_summary);

	ck_assert_ptr_nonnull(strstr(text, "\ntasks that held a worker (0, longest first)\n  none\n"));
	free(text);
	craft_version = 3;
	text = render(handcrafted, gt_summary);
	craft_version = GREEN_TRACE_VERSION;
	ck_assert_ptr_null(strstr(text, "held a worker"));
	ck_assert_ptr_nonnull(strstr(text, "version 3, 2 workers, pid"));
	free(text);
}
END_TEST

START_TEST(test_holds_report)
{
	char *html = render(holds, gt_report);

	ck_assert_ptr_nonnull(strstr(html, "Format version 4, 3 workers (+3 unused slots), pid"));
	/* lanes for the worker slots with events only */
	ck_assert_uint_eq(count(html, "class=\"lane\""), 3);
	ck_assert_uint_eq(count(html, "<g class=\"lane\" data-worker=\"4\" transform=\"translate(0,44)\">"), 1);
	ck_assert_ptr_null(strstr(html, "data-worker=\"2\""));
	ck_assert_uint_eq(count(html, "<tr><td>4</td><td>"), 1); /* Workers */
	ck_assert_ptr_null(strstr(html, "<tr><td>2</td><td>"));
	ck_assert_ptr_nonnull(strstr(html, "<h2>Tasks that held a worker</h2>"));
	ck_assert_ptr_nonnull(strstr(html, "<tr><td>7</td><td class=\"name\">hot</td><td class=\"name\">spin</td><td>0</td><td>+100 ns</td><td>2.500 ms</td><td class=\"name\">running</td></tr>\n<tr><td>9</td><td class=\"name\"></td><td class=\"name\">(unknown)</td><td>1</td><td>-50 ns</td><td>1.000 ms</td><td class=\"name\">blocked in a system call</td></tr>\n<tr><td>8</td>"));
	free(html);
	/* and "None." in a version 4 trace without holds */
	html = render(handcrafted, gt_report);
	ck_assert_ptr_nonnull(strstr(html, "<h2>Tasks that held a worker</h2>\n<p>None.</p>"));
	free(html);
}
END_TEST

START_TEST(test_holds_chrome)
{
	char *json = render(holds, gt_chrome);

	ck_assert_msg(json_valid(json), "invalid JSON:\n%s", json);
	ck_assert_uint_eq(count(json, "\"name\":\"thread_name\""), 3);
	ck_assert_uint_eq(count(json, "{\"name\":\"worker 4\"}"), 1);
	ck_assert_ptr_null(strstr(json, "{\"name\":\"worker 2\"}"));
	ck_assert_uint_eq(count(json, "\"ph\":\"i\""), 3);
	ck_assert_ptr_nonnull(strstr(json, "{\"ph\":\"i\",\"pid\":1,\"tid\":0,\"ts\":2500.100,\"s\":\"t\",\"cat\":\"held\",\"name\":\"held (running)\",\"args\":{\"task\":7,\"function\":\"spin\",\"name\":\"hot\",\"held_us\":2500.000}}"));
	ck_assert_ptr_nonnull(strstr(json, "\"name\":\"held (blocked in a system call)\""));
	free(json);
}
END_TEST

/* --- malformed input ------------------------------------------------------------- */

struct bad {
	const char *name, *what;
	uint64_t offset;
};

/* A header for `workers` workers, then a block header. */
static void
bad_start(struct buf *f, uint32_t len, uint32_t source)
{
	put_header(f, GREEN_TRACE_VERSION, GREEN_TRACE_HEADER_SIZE, 2);
	put_u32(f, GREEN_TRACE_BLOCK_MAGIC);
	put_u32(f, len);
	put_u32(f, source);
	put_u64(f, T0);
}

/* Offsets: the header is 32 bytes, the first block header 32..51, its
 * first event at 52. */
static void
check_bad(const struct buf *f, const char *file, const char *what,
	  uint64_t offset)
{
	char err[ERRLEN], want[600];
	const char *path = tmp_path(file);
	struct gt_input in = {.path = path};
	struct gt_reader *r;
	struct gt_event e;
	int rc = 0;
	FILE *out = fopen("/dev/null", "w");

	write_file(path, f->p, f->n);
	r = gt_reader_open(&in, err, sizeof(err));
	if (r != NULL) {
		while ((rc = gt_reader_next(r, &e, err, sizeof(err))) > 0)
			;
		/* an error sticks */
		ck_assert_int_eq(gt_reader_next(r, &e, err, sizeof(err)), rc);
		gt_reader_close(r);
	}
	ck_assert_msg(r == NULL || rc < 0, "%s: accepted", file);
	snprintf(want, sizeof(want), "%s: byte %" PRIu64 ": ", path, offset);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0 || strstr(err, want),
		      "%s: got '%s', want '%s...'", file, err, want);
	ck_assert_msg(strstr(err, what) != NULL, "%s: got '%s', want '%s'",
		      file, err, what);
	/* the subcommands fail the same way */
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(gt_summary(&in, out, err, sizeof(err)), 1);
	ck_assert_ptr_nonnull(strstr(err, want));
	ck_assert_int_eq(gt_chrome(&in, out, err, sizeof(err)), 1);
	ck_assert_int_eq(gt_report(&in, out, err, sizeof(err)), 1);
	fclose(out);
	unlink(path);
}

START_TEST(test_bad_header)
{
	struct buf f = {0};
	char what[128];

	put(&f, "GRNTRACX", 8);
	put(&f, (char[24]){0}, 24);
	check_bad(&f, "magic.bin", "bad magic", 0);
	f.n = 0;
	put_header(&f, GREEN_TRACE_VERSION + 1, GREEN_TRACE_HEADER_SIZE, 2);
	snprintf(what, sizeof(what), "unsupported version %u (this reader knows versions 1 to %u)",
		 GREEN_TRACE_VERSION + 1, GREEN_TRACE_VERSION);
	check_bad(&f, "version.bin", what, 8);
	f.n = 0;
	put_header(&f, 0, GREEN_TRACE_HEADER_SIZE, 2);
	check_bad(&f, "version0.bin", "unsupported version 0", 8);
	f.n = 0;
	put_header(&f, GREEN_TRACE_VERSION, GREEN_TRACE_HEADER_SIZE, 2);
	f.n = 20;
	check_bad(&f, "short-header.bin", "truncated header: 20 of 32", 0);
	f.n = 0;
	put_header(&f, GREEN_TRACE_VERSION, 16, 2);
	put(&f, (char[16]){0}, 16);
	check_bad(&f, "header-size.bin", "header size 16", 12);
	f.n = 0;
	put_header(&f, GREEN_TRACE_VERSION, GREEN_TRACE_HEADER_SIZE, 100000);
	check_bad(&f, "workers.bin", "100000 workers", 24);
	f.n = 0;
	check_bad(&f, "empty.bin", "truncated header: 0 of 32", 0);
	free(f.p);
}
END_TEST

START_TEST(test_bad_blocks)
{
	struct buf f = {0};

	put_header(&f, GREEN_TRACE_VERSION, GREEN_TRACE_HEADER_SIZE, 2);
	put(&f, "GBLK\0\0\0\0\0\0", 10);
	check_bad(&f, "short-block-header.bin", "truncated block header: 10 of 20", 32);
	f.n = 0;
	bad_start(&f, 100, 0);
	put(&f, "\x02\x00\x01", 3);
	check_bad(&f, "short-block.bin", "truncated block: 100 bytes of events declared, 3 present", 32);
	f.n = 0;
	bad_start(&f, GREEN_TRACE_BLOCK_MAX + 1, 0);
	check_bad(&f, "block-max.bin", "block length 16777217 exceeds", 36);
	f.n = 0;
	bad_start(&f, 0, 2);
	check_bad(&f, "source.bin", "block source 2 is not a worker", 40);
	f.n = 0;
	bad_start(&f, 3, 1);
	put(&f, "\x02\x00\x01", 3);
	put(&f, "GBLX", 4);
	put(&f, (char[16]){0}, 16);
	check_bad(&f, "block-magic.bin", "bad block magic", 55);
	free(f.p);
}
END_TEST

START_TEST(test_bad_events)
{
	struct buf f = {0};
	static const unsigned char long_varint[] = {
		0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01};
	static const unsigned char overflow[] = {
		0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0x01};

	bad_start(&f, 6, 0);
	put(&f, "\x02\x00\x01\x4d\x00\x01", 6); /* START, then type 77 */
	check_bad(&f, "type.bin", "unknown event type 77", 55);
	f.n = 0;
	bad_start(&f, 1, 0);
	put(&f, "\x00", 1);
	check_bad(&f, "type0.bin", "unknown event type 0", 52);
	f.n = 0;
	bad_start(&f, sizeof(long_varint), 0);
	put(&f, long_varint, sizeof(long_varint));
	check_bad(&f, "long-varint.bin", "varint longer than 10 bytes", 53);
	f.n = 0;
	bad_start(&f, sizeof(overflow), 0);
	put(&f, overflow, sizeof(overflow));
	check_bad(&f, "overflow.bin", "varint overflows", 53);
	f.n = 0;
	/* FUNC: type, delta, address, then a length of 4097 */
	bad_start(&f, 6, 0);
	put(&f, "\x0e\x00\x05\x81\x20x", 6);
	check_bad(&f, "string-max.bin", "string length 4097 exceeds the limit of 4096", 55);
	f.n = 0;
	bad_start(&f, 7, 0);
	put(&f, "\x0e\x00\x05\x0a" "abc", 7);
	check_bad(&f, "string-end.bin", "string of 10 bytes runs past the end of its block", 55);
	f.n = 0;
	/* a START, then a PARK missing its reason */
	bad_start(&f, 6, 0);
	put(&f, "\x02\x00\x01\x04\x05\x01", 6);
	check_bad(&f, "event-end.bin", "event runs past the end of its block", 55);
	free(f.p);
}
END_TEST

/* A bad file of one block of the given events, from version on. */
static void
check_bad_events(uint32_t version, uint32_t source, const char *events,
		 size_t len, const char *file, const char *what,
		 uint64_t offset)
{
	struct buf f = {0};

	put_header(&f, version, GREEN_TRACE_HEADER_SIZE, 2);
	put_u32(&f, GREEN_TRACE_BLOCK_MAGIC);
	put_u32(&f, (uint32_t)len);
	put_u32(&f, source);
	put_u64(&f, T0);
	put(&f, events, len);
	check_bad(&f, file, what, offset);
	free(f.p);
}

/* Version 3's compact events need a running task; only stops switch, and
 * to a task; version 2 knows neither.  Events start at byte 52. */
START_TEST(test_bad_compact)
{
	const char *none = "no task is known to run on this source";

	check_bad_events(3, 0, "\x10\x00\x04", 3, "park-first.bin", none, 52);
	/* START 1, PARK 1 (no switch), READY_BY_RUNNING */
	check_bad_events(3, 0, "\x02\x00\x01\x04\x00\x01\x04\x11\x00\x02", 10,
			 "after-stop.bin", none, 59);
	/* START 1, LOST, READY_BY_RUNNING */
	check_bad_events(3, 0, "\x02\x00\x01\x0f\x00\x01\x11\x00\x02", 9,
			 "after-lost.bin", none, 58);
	check_bad_events(3, GREEN_TRACE_SOURCE_OTHER, "\x11\x00\x02", 3,
			 "other.bin", none, 52);
	/* START 1, READY with the switch bit */
	check_bad_events(3, 0, "\x02\x00\x01\x86\x00\x02\x01\x00\x05", 9,
			 "switch-ready.bin",
			 "a ready event cannot switch to another task", 55);
	/* START 1, PARK_RUNNING switching to task 0 */
	check_bad_events(3, 0, "\x02\x00\x01\x90\x00\x04\x00", 7,
			 "switch-0.bin", "switch to task id 0", 58);
	/* START 1, PARK_RUNNING switching, its id cut off by the block end */
	check_bad_events(3, 0, "\x02\x00\x01\x90\x00\x04", 6,
			 "switch-end.bin", "event runs past the end of its block", 55);
	check_bad_events(2, 0, "\x10\x00\x04", 3, "v2-compact.bin",
			 "unknown event type 16", 52);
	check_bad_events(2, 0, "\x02\x00\x01\x84\x00\x01\x04\x02", 8,
			 "v2-switch.bin", "unknown event type 132", 55);
}
END_TEST

/* A HELD (type 18: id, ns, kind) with a kind out of 1..2, or in a file
 * older than version 4.  Events start at byte 52; the kind is at 56. */
START_TEST(test_bad_held)
{
	check_bad_events(4, 0, "\x12\x00\x01\x05\x03", 5, "held-kind.bin",
			 "held event of task 1 has unknown kind 3 (known: 1 to 2)",
			 56);
	check_bad_events(4, 0, "\x12\x00\x01\x05\x00", 5, "held-kind0.bin",
			 "unknown kind 0", 56);
	/* a kind that needs two bytes, after a two-byte duration */
	check_bad_events(4, 1, "\x12\x00\x01\x80\x01\x80\x01", 7,
			 "held-kind128.bin", "unknown kind 128", 57);
	check_bad_events(3, 0, "\x12\x00\x01\x05\x01", 5, "v3-held.bin",
			 "unknown event type 18", 52);
	check_bad_events(2, 0, "\x12\x00\x01\x05\x01", 5, "v2-held.bin",
			 "unknown event type 18", 52);
	/* a stop may switch; a HELD may not */
	check_bad_events(4, 0, "\x92\x00\x01\x05\x01\x02", 6,
			 "held-switch.bin", "a held event cannot switch", 52);
}
END_TEST

START_TEST(test_bad_time)
{
	struct buf f = {0};
	struct blk k;

	nexpect = 0;
	put_header(&f, GREEN_TRACE_VERSION, GREEN_TRACE_HEADER_SIZE, 2);
	blk_begin(&k, 0, T0 + 500);
	e_task(&k, GT_START, T0 + 600, 1);
	blk_end(&f, &k); /* 32..54 */
	blk_begin(&k, 1, T0);
	e_task(&k, GT_START, T0 + 10, 2);
	blk_end(&f, &k); /* 55..77: another source may be earlier */
	blk_begin(&k, 0, T0 + 100);
	e_task(&k, GT_EXIT, T0 + 100, 1);
	blk_end(&f, &k); /* 78..100: its event at 98 goes back */
	check_bad(&f, "backwards.bin", "time goes backwards by 500 ns", 98);
	/* a delta that overflows the time */
	f.n = 0;
	bad_start(&f, 13, 0);
	put(&f, "\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01", 12);
	put(&f, "\x00", 1);
	check_bad(&f, "time-overflow.bin", "time overflows", 53);
	free(f.p);
}
END_TEST

/* A valid trace cut anywhere: a trace again at block boundaries, an error
 * everywhere else, never a crash. */
START_TEST(test_truncation_sweep)
{
	struct buf f = {0};
	FILE *null = fopen("/dev/null", "w");
	bool boundary[4096] = {false};
	uint64_t off = GREEN_TRACE_HEADER_SIZE;

	ck_assert_ptr_nonnull(null);
	handcrafted(&f);
	ck_assert_uint_lt(f.n, sizeof(boundary));
	while (off <= f.n) {
		boundary[off] = true;
		if (off + GREEN_TRACE_BLOCK_HEADER_SIZE > f.n)
			break;
		off += GREEN_TRACE_BLOCK_HEADER_SIZE +
		       (f.p[off + 4] | f.p[off + 5] << 8 | f.p[off + 6] << 16);
	}
	for (size_t len = 0; len <= f.n; len++) {
		struct gt_input in = {.buf = f.p, .len = len, .name = "cut"};
		char err[ERRLEN] = "";
		int rs = gt_summary(&in, null, err, sizeof(err));
		int rc = gt_chrome(&in, null, err, sizeof(err));
		int rr = gt_report(&in, null, err, sizeof(err));

		ck_assert_msg(rs == !boundary[len], "length %zu: summary %d (%s)",
			      len, rs, err);
		ck_assert_int_eq(rc, rs);
		ck_assert_int_eq(rr, rs);
		if (rs != 0)
			ck_assert_msg(strncmp(err, "cut: byte ", 10) == 0, "%s", err);
	}
	fclose(null);
	free(f.p);
}
END_TEST

/* --- building blocks ------------------------------------------------------------ */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_hist_precision)
{
	enum { N = 20000 };
	static uint64_t v[N];
	struct gt_hist h = {0};
	uint64_t x = 88172645463325252ull;
	static const double qs[] = {0.01, 0.25, 0.5, 0.9, 0.99, 0.999};

	for (int i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v[i] = x >> (x % 60); /* spread over many magnitudes */
		ck_assert_int_eq(gt_hist_add(&h, v[i]), 0);
	}
	qsort(v, N, sizeof(v[0]), cmp_u64);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t exact = v[(size_t)(qs[i] * N + 0.999999) - 1];
		uint64_t got = gt_hist_quantile(&h, qs[i]);
		double rel = exact ? ((double)got - (double)exact) / (double)exact : (double)got;

		ck_assert_msg(rel < 0.01 && rel > -0.01,
			      "q %.3f: %" PRIu64 " for %" PRIu64, qs[i], got, exact);
	}
	ck_assert_uint_eq(gt_hist_quantile(&h, 1), v[N - 1]);
	ck_assert_uint_eq(h.min, v[0]);
	gt_hist_free(&h);
}
END_TEST

START_TEST(test_map)
{
	struct gt_map m = {0};
	static char vals[3000];

	for (uint64_t k = 0; k < 3000; k++)
		ck_assert_int_eq(gt_map_put(&m, k * 7919, &vals[k]), 0);
	for (uint64_t k = 0; k < 3000; k += 2)
		ck_assert_ptr_eq(gt_map_del(&m, k * 7919), &vals[k]);
	ck_assert_uint_eq(m.n, 1500);
	for (uint64_t k = 0; k < 3000; k++)
		ck_assert_ptr_eq(gt_map_get(&m, k * 7919), k % 2 ? &vals[k] : NULL);
	ck_assert_ptr_null(gt_map_del(&m, 1));
	gt_map_free(&m);
}
END_TEST

/* --- seeds for the fuzzer ---------------------------------------------------------- */

static int
write_seeds(const char *dir)
{
	struct buf f = {0};
	char path[1024];

	handcrafted(&f);
	snprintf(path, sizeof(path), "%s/handcrafted.bin", dir);
	write_file(path, f.p, f.n);
	f.n = 0;
	interleaved(&f);
	snprintf(path, sizeof(path), "%s/interleaved.bin", dir);
	write_file(path, f.p, f.n);
	f.n = 0;
	compact(&f);
	snprintf(path, sizeof(path), "%s/compact.bin", dir);
	write_file(path, f.p, f.n);
	f.n = 0;
	holds(&f);
	snprintf(path, sizeof(path), "%s/holds.bin", dir);
	write_file(path, f.p, f.n);
	free(f.p);
	return 0;
}

/* --- runner --------------------------------------------------------------------------- */

static void
remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			unlink(tmp_path(e->d_name));
	}
	closedir(d);
	rmdir(tmpdir);
}

static Suite *
suite(void)
{
	Suite *s = suite_create("trace_reader");
	TCase *tc = tcase_create("reader");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_merge_order);
	tcase_add_test(tc, test_handcrafted_sequence);
	tcase_add_test(tc, test_version_1_sequence);
	tcase_add_test(tc, test_compact_events);
	tcase_add_test(tc, test_large_blocks);
	tcase_add_test(tc, test_empty_trace);
	tcase_add_test(tc, test_summary_figures);
	tcase_add_test(tc, test_summary_text);
	tcase_add_test(tc, test_json_validator);
	tcase_add_test(tc, test_chrome_export);
	tcase_add_test(tc, test_chrome_escaping);
	tcase_add_test(tc, test_report_html);
	tcase_add_test(tc, test_report_downsampled);
	tcase_add_test(tc, test_holds_sequence);
	tcase_add_test(tc, test_holds_model);
	tcase_add_test(tc, test_holds_summary);
	tcase_add_test(tc, test_holds_capped);
	tcase_add_test(tc, test_holds_none);
	tcase_add_test(tc, test_holds_report);
	tcase_add_test(tc, test_holds_chrome);
	tcase_add_test(tc, test_bad_header);
	tcase_add_test(tc, test_bad_blocks);
	tcase_add_test(tc, test_bad_events);
	tcase_add_test(tc, test_bad_compact);
	tcase_add_test(tc, test_bad_held);
	tcase_add_test(tc, test_bad_time);
	tcase_add_test(tc, test_truncation_sweep);
	tcase_add_test(tc, test_hist_precision);
	tcase_add_test(tc, test_map);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char *seeds = getenv("GT_WRITE_SEEDS");
	const char *base = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	if (seeds != NULL)
		return write_seeds(seeds);
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_trace_XXXXXX",
		 base && *base ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_tmpdir();
	return failed ? 1 : 0;
}
