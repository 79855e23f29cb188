/*
 * reader.c - the streaming green-trace(5) reader (see reader.h).
 *
 * Two passes.  gt_reader_open validates the header and every block header,
 * seeking over the payloads, and links each source's blocks into a list in
 * file order.  gt_reader_next then runs a k-way merge: every source holds a
 * window on its current block, decodes one event ahead (its "head"), and a
 * binary min-heap of sources ordered by (head time, head file offset) picks
 * the next event.  The source whose event was returned last is advanced only
 * on the following call, so the string of a returned event, which points
 * into that source's window, stays valid until then.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader.h"

/* A source's window on its block.  It must hold the longest possible event
 * (see EVENT_BYTES_MAX); larger windows mean fewer seeks. */
#define GT_WINDOW (64u << 10)
#define VARINT_MAX 10
/* type byte, delta, at most three varints and a string (length + bytes) */
#define EVENT_BYTES_MAX (1 + VARINT_MAX * 5 + GREEN_TRACE_STRING_MAX)
#define NONE SIZE_MAX
#define PROGRESS_MIN (64ull << 20) /* files smaller than this report none */
#define PROGRESS_STEPS 20	   /* a line every 5% */

_Static_assert(GT_WINDOW >= EVENT_BYTES_MAX, "a window holds any event");

struct block {
	uint64_t off;  /* file offset of the block header */
	uint64_t base; /* its base time */
	uint32_t len;  /* payload bytes */
	size_t next;   /* the source's next block, or NONE */
};

struct source {
	uint32_t id;
	size_t first, last; /* block list, in file order */
	uint32_t max_len;   /* longest payload: sizes the window */
	size_t block;	    /* the block being decoded, NONE when done */
	uint64_t pos;	    /* next file offset to read into the window */
	uint64_t end;	    /* file offset just past the block's payload */
	unsigned char *win;
	size_t wcap, wlen, wpos; /* window capacity, bytes held, next byte */
	uint64_t win_off;	 /* file offset of win[0] */
	uint64_t ts;		 /* time of the last event decoded */
	bool have_ts;
	bool ready_next; /* head is a CREATE that also means READY (v2) */
	uint64_t start_next; /* head is a stop followed by this START (v3) */
	uint64_t running;    /* the task of the last START, until it stops */
	struct gt_event head;
};

struct gt_reader {
	FILE *f;
	char name[256];
	struct gt_header hdr;
	struct block *blocks;
	size_t nblocks, capblocks;
	struct source *src; /* workers + 1 slots; the last is OTHER */
	size_t nsrc;
	struct source **heap;
	size_t nheap;
	bool started, failed;
	char errmsg[768];
	/* progress */
	bool progress;
	uint64_t consumed;
	unsigned step;
};

/* Argument layouts: 'u' a varint, 's' a string. */
static const char *const layout[GT_EVENT_MAX + 1] = {
	[GT_CREATE] = "uuus",	 [GT_START] = "u",	 [GT_YIELD] = "u",
	[GT_PARK] = "uu",	 [GT_EXIT] = "u",	 [GT_READY] = "uuu",
	[GT_STEAL] = "uu",	 [GT_WORKER_PARK] = "",	 [GT_WORKER_UNPARK] = "",
	[GT_NETPOLL_WAIT] = "u", [GT_NETPOLL_WAKE] = "u", [GT_OFFLOAD_BEGIN] = "u",
	[GT_OFFLOAD_END] = "u",	 [GT_FUNC] = "us",	 [GT_LOST] = "u",
	[GT_PARK_RUNNING] = "u", [GT_READY_BY_RUNNING] = "u",
	[GT_HELD] = "uuu",
};

static const char *const event_names[GT_EVENT_MAX + 1] = {
	[GT_CREATE] = "create",
	[GT_START] = "start",
	[GT_YIELD] = "yield",
	[GT_PARK] = "park",
	[GT_EXIT] = "exit",
	[GT_READY] = "ready",
	[GT_STEAL] = "steal",
	[GT_WORKER_PARK] = "worker-park",
	[GT_WORKER_UNPARK] = "worker-unpark",
	[GT_NETPOLL_WAIT] = "netpoll-wait",
	[GT_NETPOLL_WAKE] = "netpoll-wake",
	[GT_OFFLOAD_BEGIN] = "offload-begin",
	[GT_OFFLOAD_END] = "offload-end",
	[GT_FUNC] = "func",
	[GT_LOST] = "lost",
	[GT_PARK_RUNNING] = "park-running",
	[GT_READY_BY_RUNNING] = "ready-by-running",
	[GT_HELD] = "held",
};

static const char *const why_names[GT_WHY_MAX + 1] = {
	[GT_WHY_JOIN] = "join",		  [GT_WHY_SLEEP] = "sleep",
	[GT_WHY_CHAN_SEND] = "chan-send", [GT_WHY_CHAN_RECV] = "chan-recv",
	[GT_WHY_SELECT] = "select",	  [GT_WHY_MUTEX] = "mutex",
	[GT_WHY_COND] = "cond",		  [GT_WHY_WG] = "wg",
	[GT_WHY_SEM] = "sem",		  [GT_WHY_IO_READ] = "io-read",
	[GT_WHY_IO_WRITE] = "io-write",	  [GT_WHY_OFFLOAD] = "offload",
	[GT_WHY_GROUP] = "group",	  [GT_WHY_GROUP_SLOT] = "group-slot",
};

const char *
gt_event_name(unsigned type)
{
	return type <= GT_EVENT_MAX && event_names[type] ? event_names[type]
							  : "?";
}

const char *
gt_why_name(uint64_t why)
{
	return why <= GT_WHY_MAX && why_names[why] ? why_names[why] : "?";
}

const char *
gt_held_name(uint64_t kind)
{
	switch (kind) {
	case GT_HELD_RUNNING:
		return "running";
	case GT_HELD_BLOCKED:
		return "blocked in a system call";
	default:
		return "?";
	}
}

/* --- errors ---------------------------------------------------------------- */

/* Record "NAME: byte OFF: message"; the reader fails from now on. */
__attribute__((format(printf, 3, 4))) static int
fail_at(struct gt_reader *r, uint64_t off, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->errmsg, sizeof(r->errmsg), "%s: byte %" PRIu64 ": %s",
		 r->name, off, msg);
	r->failed = true;
	return -1;
}

__attribute__((format(printf, 2, 3))) static int
fail(struct gt_reader *r, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->errmsg, sizeof(r->errmsg), "%s: %s", r->name, msg);
	r->failed = true;
	return -1;
}

static void
copy_err(const struct gt_reader *r, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", r->errmsg);
}

/* --- raw file access --------------------------------------------------------- */

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Read exactly n bytes at off; the caller has checked they are in the file,
 * so a short read is an I/O error (or the file shrank under us). */
static int
read_at(struct gt_reader *r, uint64_t off, void *buf, size_t n)
{
	if (off > (uint64_t)INT64_MAX ||
	    fseeko(r->f, (off_t)off, SEEK_SET) != 0)
		return fail_at(r, off, "cannot seek: %s", strerror(errno));
	if (n > 0 && fread(buf, 1, n, r->f) != n) {
		if (ferror(r->f))
			return fail_at(r, off, "read error: %s",
				       strerror(errno));
		return fail_at(r, off, "unexpected end of file");
	}
	return 0;
}

static int
open_input(struct gt_reader *r, const struct gt_input *in)
{
	struct stat st;

	if (in->path == NULL) {
		r->hdr.file_size = in->len;
		if (in->len == 0)
			return 0; /* fmemopen refuses empty buffers */
		r->f = fmemopen((void *)in->buf, in->len, "r");
		if (r->f == NULL)
			return fail(r, "fmemopen: %s", strerror(errno));
		return 0;
	}
	r->f = fopen(in->path, "rb");
	if (r->f == NULL)
		return fail(r, "%s", strerror(errno));
	if (fstat(fileno(r->f), &st) != 0)
		return fail(r, "fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(r, "not a regular file (the reader needs to seek)");
	r->hdr.file_size = (uint64_t)st.st_size;
	return 0;
}

/* --- pass one: header and block index ----------------------------------------- */

static int
read_header(struct gt_reader *r)
{
	unsigned char h[GREEN_TRACE_HEADER_SIZE];
	uint64_t size = r->hdr.file_size;
	size_t have = size < sizeof(h) ? (size_t)size : sizeof(h);

	if (have > 0 && read_at(r, 0, h, have) != 0)
		return -1;
	if (have < 8 || memcmp(h, GREEN_TRACE_MAGIC, 8) != 0) {
		if (have < 8 && memcmp(h, GREEN_TRACE_MAGIC, have) == 0)
			return fail_at(r, 0,
				       "truncated header: %zu of %u bytes",
				       have, GREEN_TRACE_HEADER_SIZE);
		return fail_at(r, 0, "bad magic (not a green-trace file)");
	}
	if (have >= 12 && (le32(h + 8) < GREEN_TRACE_VERSION_MIN ||
			   le32(h + 8) > GREEN_TRACE_VERSION))
		return fail_at(r, 8,
			       "unsupported version %" PRIu32
			       " (this reader knows versions %u to %u)",
			       le32(h + 8), GREEN_TRACE_VERSION_MIN,
			       GREEN_TRACE_VERSION);
	if (have < sizeof(h))
		return fail_at(r, 0, "truncated header: %zu of %u bytes", have,
			       GREEN_TRACE_HEADER_SIZE);
	r->hdr.version = le32(h + 8);
	r->hdr.header_size = le32(h + 12);
	r->hdr.start = le64(h + 16);
	r->hdr.workers = le32(h + 24);
	r->hdr.pid = le32(h + 28);
	if (r->hdr.header_size < GREEN_TRACE_HEADER_SIZE)
		return fail_at(r, 12, "header size %" PRIu32 " is below %u",
			       r->hdr.header_size, GREEN_TRACE_HEADER_SIZE);
	if (r->hdr.header_size > size)
		return fail_at(r, 12,
			       "truncated header: header size %" PRIu32
			       ", file has %" PRIu64 " bytes",
			       r->hdr.header_size, size);
	if (r->hdr.workers > GT_WORKERS_MAX)
		return fail_at(r, 24,
			       "%" PRIu32 " workers (this reader allows %u)",
			       r->hdr.workers, GT_WORKERS_MAX);
	return 0;
}

static struct source *
source_of(struct gt_reader *r, uint32_t id)
{
	if (id == GREEN_TRACE_SOURCE_OTHER)
		return &r->src[r->hdr.workers];
	return id < r->hdr.workers ? &r->src[id] : NULL;
}

static int
add_block(struct gt_reader *r, struct source *s, const struct block *b)
{
	if (r->nblocks == r->capblocks) {
		size_t cap = r->capblocks ? r->capblocks * 2 : 64;
		struct block *nb;

		if (cap > SIZE_MAX / sizeof(*nb))
			return fail(r, "out of memory for the block index");
		nb = realloc(r->blocks, cap * sizeof(*nb));
		if (nb == NULL)
			return fail(r, "out of memory for the block index");
		r->blocks = nb;
		r->capblocks = cap;
	}
	r->blocks[r->nblocks] = *b;
	if (s->first == NONE)
		s->first = r->nblocks;
	else
		r->blocks[s->last].next = r->nblocks;
	s->last = r->nblocks++;
	if (b->len > s->max_len)
		s->max_len = b->len;
	return 0;
}

/* Validate the block header at off; store it and return its total size. */
static int
index_block(struct gt_reader *r, uint64_t off, uint64_t *total)
{
	unsigned char h[GREEN_TRACE_BLOCK_HEADER_SIZE];
	uint64_t left = r->hdr.file_size - off;
	struct block b = {.off = off, .next = NONE};
	struct source *s;
	uint32_t src;

	if (left < sizeof(h))
		return fail_at(r, off,
			       "truncated block header: %" PRIu64 " of %u bytes",
			       left, GREEN_TRACE_BLOCK_HEADER_SIZE);
	if (read_at(r, off, h, sizeof(h)) != 0)
		return -1;
	if (le32(h) != GREEN_TRACE_BLOCK_MAGIC)
		return fail_at(r, off, "bad block magic 0x%08" PRIx32,
			       le32(h));
	b.len = le32(h + 4);
	src = le32(h + 8);
	b.base = le64(h + 12);
	if (b.len > GREEN_TRACE_BLOCK_MAX)
		return fail_at(r, off + 4,
			       "block length %" PRIu32 " exceeds the limit of %u",
			       b.len, GREEN_TRACE_BLOCK_MAX);
	s = source_of(r, src);
	if (s == NULL)
		return fail_at(r, off + 8,
			       "block source %" PRIu32
			       " is not a worker (the trace has %" PRIu32
			       " worker slots)",
			       src, r->hdr.workers);
	if (b.len > left - sizeof(h))
		return fail_at(r, off,
			       "truncated block: %" PRIu32
			       " bytes of events declared, %" PRIu64
			       " present (file ends at byte %" PRIu64 ")",
			       b.len, left - sizeof(h), r->hdr.file_size);
	if (src == GREEN_TRACE_SOURCE_OTHER)
		r->hdr.other = true;
	r->hdr.events_bytes += b.len;
	*total = sizeof(h) + (uint64_t)b.len;
	return add_block(r, s, &b);
}

static int
build_index(struct gt_reader *r)
{
	uint64_t off = r->hdr.header_size, total = 0;

	r->nsrc = (size_t)r->hdr.workers + 1;
	r->src = calloc(r->nsrc, sizeof(*r->src));
	r->heap = calloc(r->nsrc, sizeof(*r->heap));
	if (r->src == NULL || r->heap == NULL)
		return fail(r, "out of memory");
	for (size_t i = 0; i < r->nsrc; i++) {
		r->src[i].id = i + 1 == r->nsrc ? GREEN_TRACE_SOURCE_OTHER
						: (uint32_t)i;
		r->src[i].first = r->src[i].last = r->src[i].block = NONE;
	}
	while (off < r->hdr.file_size) {
		if (index_block(r, off, &total) != 0)
			return -1;
		off += total;
	}
	r->hdr.blocks = r->nblocks;
	return 0;
}

struct gt_reader *
gt_reader_open(const struct gt_input *in, char *err, size_t errlen)
{
	struct gt_reader *r = calloc(1, sizeof(*r));
	const char *name = in->name ? in->name
			   : in->path ? in->path
				      : "<memory>";

	if (r == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (open_input(r, in) != 0 || read_header(r) != 0 ||
	    build_index(r) != 0) {
		copy_err(r, err, errlen);
		gt_reader_close(r);
		return NULL;
	}
	r->progress = r->hdr.file_size > PROGRESS_MIN && isatty(STDERR_FILENO);
	return r;
}

const struct gt_header *
gt_reader_header(const struct gt_reader *r)
{
	return &r->hdr;
}

bool
gt_reader_has_events(const struct gt_reader *r, uint32_t source)
{
	if (source == GREEN_TRACE_SOURCE_OTHER)
		source = r->hdr.workers;
	else if (source >= r->hdr.workers)
		return false;
	/* a payload holds at least one event, or fails to decode */
	return r->src[source].max_len > 0;
}

void
gt_reader_close(struct gt_reader *r)
{
	if (r == NULL)
		return;
	if (r->f != NULL)
		fclose(r->f);
	for (size_t i = 0; r->src != NULL && i < r->nsrc; i++)
		free(r->src[i].win);
	free(r->src);
	free(r->heap);
	free(r->blocks);
	free(r);
}

/* --- pass two: decoding ----------------------------------------------------- */

static void
report_progress(struct gt_reader *r, uint64_t bytes)
{
	unsigned step;

	r->consumed += bytes;
	if (!r->progress || r->hdr.events_bytes == 0)
		return;
	step = (unsigned)(r->consumed * PROGRESS_STEPS / r->hdr.events_bytes);
	if (step > r->step) {
		r->step = step;
		fprintf(stderr, "green-trace: %s: %u%%\n", r->name,
			step * (100 / PROGRESS_STEPS));
	}
}

static int
start_block(struct gt_reader *r, struct source *s, size_t bi)
{
	const struct block *b = &r->blocks[bi];
	size_t want = b->len < GT_WINDOW ? b->len : GT_WINDOW;

	s->block = bi;
	s->pos = s->win_off = b->off + GREEN_TRACE_BLOCK_HEADER_SIZE;
	s->end = s->pos + b->len;
	s->wlen = s->wpos = 0;
	s->head.ts = b->base; /* the first delta counts from here */
	if (want > s->wcap) {
		/* Windows only grow, to the source's longest block or
		 * GT_WINDOW: O(sources x GT_WINDOW) in all. */
		size_t cap = s->max_len < GT_WINDOW ? s->max_len : GT_WINDOW;
		unsigned char *w = realloc(s->win, cap);

		if (w == NULL)
			return fail(r, "out of memory");
		s->win = w;
		s->wcap = cap;
	}
	return 0;
}

/* Make at least min(need, rest of block) bytes available in the window. */
static int
fill(struct gt_reader *r, struct source *s, size_t need)
{
	size_t avail = s->wlen - s->wpos, n;

	if (avail >= need || s->pos == s->end)
		return 0;
	memmove(s->win, s->win + s->wpos, avail);
	s->win_off += s->wpos;
	s->wlen = avail;
	s->wpos = 0;
	n = s->wcap - s->wlen;
	if (n > s->end - s->pos)
		n = (size_t)(s->end - s->pos);
	if (read_at(r, s->pos, s->win + s->wlen, n) != 0)
		return -1;
	s->wlen += n;
	s->pos += n;
	report_progress(r, n);
	return 0;
}

enum { V_OK, V_END, V_LONG, V_OVERFLOW };

/* Unsigned LEB128: at most 10 bytes, the tenth holding only bit 63. */
static int
get_varint(const unsigned char **pp, const unsigned char *lim, uint64_t *v)
{
	const unsigned char *p = *pp;
	uint64_t x = 0;

	for (unsigned i = 0; i < VARINT_MAX; i++) {
		unsigned b;

		if (p == lim)
			return V_END;
		b = *p++;
		if (i == VARINT_MAX - 1) {
			if (b & 0x80)
				return V_LONG;
			if (b > 1)
				return V_OVERFLOW;
		}
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*pp = p;
			*v = x;
			return V_OK;
		}
	}
	return V_LONG; /* not reached */
}

struct cursor {
	struct gt_reader *r;
	struct source *s;
	const unsigned char *p, *lim;
	uint64_t evoff; /* the event's file offset */
};

static uint64_t
cur_off(const struct cursor *c)
{
	return c->s->win_off + (uint64_t)(c->p - c->s->win);
}

static int
varint(struct cursor *c, uint64_t *v)
{
	uint64_t off = cur_off(c);

	switch (get_varint(&c->p, c->lim, v)) {
	case V_OK:
		return 0;
	case V_END:
		return fail_at(c->r, c->evoff,
			       "event runs past the end of its block");
	case V_LONG:
		return fail_at(c->r, off, "varint longer than %d bytes",
			       VARINT_MAX);
	default:
		return fail_at(c->r, off, "varint overflows 64 bits");
	}
}

static int
string(struct cursor *c, struct gt_event *ev)
{
	uint64_t off = cur_off(c), len;

	if (varint(c, &len) != 0)
		return -1;
	if (len > GREEN_TRACE_STRING_MAX)
		return fail_at(c->r, off,
			       "string length %" PRIu64 " exceeds the limit of %u",
			       len, GREEN_TRACE_STRING_MAX);
	if (len > (uint64_t)(c->lim - c->p))
		return fail_at(c->r, off,
			       "string of %" PRIu64
			       " bytes runs past the end of its block",
			       len);
	ev->str = (const char *)c->p;
	ev->str_len = (uint32_t)len;
	c->p += len;
	return 0;
}

/* The arguments of ev's type; off[i]: the file offset of arg[i]. */
static int
decode_args(struct cursor *c, struct gt_event *ev, uint64_t *off)
{
	for (const char *a = layout[ev->type]; *a; a++) {
		if (*a == 's') {
			if (string(c, ev) != 0)
				return -1;
			continue;
		}
		off[ev->nargs] = cur_off(c);
		if (varint(c, &ev->arg[ev->nargs++]) != 0)
			return -1;
	}
	return 0;
}

/* A HELD's kinds are fixed by version 4 (a new one needs a new version,
 * as a new type does), so another value is a malformed file; park
 * reasons, by contrast, may be shown as unknown (green-trace(5)). */
static int
check_held(struct gt_reader *r, const struct gt_event *ev, const uint64_t *off)
{
	if (ev->type != GT_HELD ||
	    (ev->arg[2] >= GT_HELD_RUNNING && ev->arg[2] <= GT_HELD_MAX))
		return 0;
	return fail_at(r, off[2],
		       "held event of task %" PRIu64 " has unknown kind %" PRIu64
		       " (known: %u to %u)",
		       ev->arg[0], ev->arg[2], GT_HELD_RUNNING, GT_HELD_MAX);
}

/* The event types a file of the reader's version may hold: a later
 * type in an older file is as unknown as any, its length included. */
static unsigned
type_max(const struct gt_reader *r)
{
	if (r->hdr.version >= 4)
		return GT_EVENT_MAX;
	return r->hdr.version == 3 ? GT_EVENT_MAX_V3 : GT_EVENT_MAX_V2;
}

static bool
is_stop(unsigned type)
{
	return type == GT_YIELD || type == GT_PARK || type == GT_PARK_RUNNING ||
	       type == GT_EXIT;
}

/* Turn a compact event (version 3) into the full one, with the task that
 * runs on the source (trace-format.h). */
static int
expand_compact(struct gt_reader *r, struct source *s, struct gt_event *ev)
{
	uint64_t a0 = ev->arg[0];

	if (ev->type != GT_PARK_RUNNING && ev->type != GT_READY_BY_RUNNING)
		return 0;
	if (s->running == 0)
		return fail_at(r, ev->offset,
			       "%s event, but no task is known to run on "
			       "this source",
			       gt_event_name(ev->type));
	if (ev->type == GT_PARK_RUNNING) {
		ev->type = GT_PARK;
		ev->nargs = 2;
		ev->arg[0] = s->running;
		ev->arg[1] = a0;
	} else {
		ev->type = GT_READY;
		ev->nargs = 3;
		ev->arg[1] = s->running;
		ev->arg[2] = s->id;
	}
	return 0;
}

/* Follow the task running on the source: a START names it, a stop or a
 * loss makes it unknown. */
static void
track_running(struct source *s, const struct gt_event *ev)
{
	if (ev->type == GT_START)
		s->running = ev->arg[0];
	else if (is_stop(ev->type) || ev->type == GT_LOST)
		s->running = 0;
}

/* Decode the event at the window position into s->head. */
static int
decode(struct gt_reader *r, struct source *s)
{
	struct gt_event *ev = &s->head;
	struct cursor c = {.r = r, .s = s};
	uint64_t delta, doff, ts, next = 0, argoff[GT_ARGS_MAX];
	unsigned raw;
	bool switched;

	if (fill(r, s, EVENT_BYTES_MAX) != 0)
		return -1;
	c.p = s->win + s->wpos;
	c.lim = s->win + s->wlen;
	c.evoff = cur_off(&c);
	ts = ev->ts;
	memset(ev, 0, sizeof(*ev));
	ev->offset = c.evoff;
	ev->source = s->id;
	raw = *c.p++;
	switched = r->hdr.version >= 3 && (raw & GT_SWITCHED) != 0;
	ev->type = (uint8_t)(switched ? raw & ~GT_SWITCHED : raw);
	if (ev->type == 0 || ev->type > type_max(r))
		return fail_at(r, c.evoff, "unknown event type %u", raw);
	if (switched && !is_stop(ev->type))
		return fail_at(r, c.evoff,
			       "a %s event cannot switch to another task "
			       "(type byte %u)",
			       gt_event_name(ev->type), raw);
	doff = cur_off(&c);
	if (varint(&c, &delta) != 0)
		return -1;
	if (delta > UINT64_MAX - ts)
		return fail_at(r, doff, "time overflows 64 bits");
	ev->ts = ts + delta;
	if (decode_args(&c, ev, argoff) != 0 || check_held(r, ev, argoff) != 0)
		return -1;
	if (switched) {
		uint64_t noff = cur_off(&c);

		if (varint(&c, &next) != 0)
			return -1;
		if (next == 0)
			return fail_at(r, noff, "switch to task id 0");
	}
	if (s->have_ts && ev->ts < s->ts)
		return fail_at(r, c.evoff,
			       "time goes backwards by %" PRIu64
			       " ns within source %s",
			       s->ts - ev->ts,
			       s->id == GREEN_TRACE_SOURCE_OTHER ? "other"
								 : "worker");
	if (expand_compact(r, s, ev) != 0)
		return -1;
	track_running(s, ev);
	if (next != 0)
		s->running = next;
	s->start_next = next;
	s->ts = ev->ts;
	s->have_ts = true;
	s->wpos = (size_t)(c.p - s->win);
	return 0;
}

/* Since version 3 a stop may carry the START that follows it: turn
 * s->head, the stop just returned, into that START (same time and
 * offset). */
static void
start_after_switch(struct source *s)
{
	struct gt_event *ev = &s->head;

	memset(ev->arg, 0, sizeof(ev->arg));
	ev->type = GT_START;
	ev->nargs = 1;
	ev->arg[0] = s->start_next;
	s->start_next = 0;
}

/* Since version 2 a CREATE means READY too: turn s->head, the CREATE just
 * returned, into that READY (same time and offset; by the parent, on the
 * block's source), as a version 1 file would have it next. */
static void
ready_after_create(struct source *s)
{
	struct gt_event *ev = &s->head;
	uint64_t id = ev->arg[0], parent = ev->arg[1];

	memset(ev->arg, 0, sizeof(ev->arg));
	ev->type = GT_READY;
	ev->nargs = 3;
	ev->arg[0] = id;
	ev->arg[1] = parent;
	ev->arg[2] = s->id;
	ev->str = NULL;
	ev->str_len = 0;
	s->ready_next = false;
}

/* Decode the source's next event into s->head: 1, 0 at its end, -1. */
static int
advance(struct gt_reader *r, struct source *s)
{
	if (s->ready_next) {
		ready_after_create(s);
		return 1;
	}
	if (s->start_next != 0) {
		start_after_switch(s);
		return 1;
	}
	for (;;) {
		size_t next;

		if (s->block == NONE)
			return 0;
		if (s->wpos < s->wlen || s->pos < s->end) {
			if (decode(r, s) != 0)
				return -1;
			s->ready_next = s->head.type == GT_CREATE &&
					r->hdr.version >= 2;
			return 1;
		}
		next = r->blocks[s->block].next;
		if (next == NONE) {
			s->block = NONE;
			return 0;
		}
		if (start_block(r, s, next) != 0)
			return -1;
	}
}

static bool
before(const struct source *a, const struct source *b)
{
	if (a->head.ts != b->head.ts)
		return a->head.ts < b->head.ts;
	return a->head.offset < b->head.offset;
}

static void
sift_down(struct gt_reader *r, size_t i)
{
	struct source **h = r->heap;

	for (;;) {
		size_t m = i, lc = 2 * i + 1, rc = lc + 1;
		struct source *t;

		if (lc < r->nheap && before(h[lc], h[m]))
			m = lc;
		if (rc < r->nheap && before(h[rc], h[m]))
			m = rc;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Decode every source's first event and heapify. */
static int
start_merge(struct gt_reader *r)
{
	r->started = true;
	for (size_t i = 0; i < r->nsrc; i++) {
		struct source *s = &r->src[i];
		int rc;

		if (s->first == NONE)
			continue;
		if (start_block(r, s, s->first) != 0)
			return -1;
		rc = advance(r, s);
		if (rc < 0)
			return -1;
		if (rc > 0)
			r->heap[r->nheap++] = s;
	}
	for (size_t i = r->nheap / 2; i-- > 0;)
		sift_down(r, i);
	return 0;
}

/* Replace the root's event (returned by the previous call) by its next. */
static int
advance_root(struct gt_reader *r)
{
	int rc = advance(r, r->heap[0]);

	if (rc < 0)
		return -1;
	if (rc == 0)
		r->heap[0] = r->heap[--r->nheap];
	sift_down(r, 0);
	return 0;
}

int
gt_reader_next(struct gt_reader *r, struct gt_event *ev, char *err,
	       size_t errlen)
{
	int rc = 0;

	if (!r->failed) {
		if (!r->started)
			rc = start_merge(r);
		else if (r->nheap > 0)
			rc = advance_root(r);
	}
	if (r->failed || rc != 0) {
		copy_err(r, err, errlen);
		return -1;
	}
	if (r->nheap == 0)
		return 0;
	*ev = r->heap[0]->head;
	return 1;
}
