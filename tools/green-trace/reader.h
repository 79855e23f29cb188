/*
 * reader.h - a streaming reader of green-trace(5) files.
 *
 * gt_reader_open reads the header and walks the block headers once (seeking
 * over the payloads) to build an index of the blocks; gt_reader_next then
 * merges the sources by time, decoding each source's blocks through a small
 * window of its own.  Memory is O(blocks) for the index plus
 * O(sources x GT_WINDOW), never O(file), and no size read from the file
 * makes the reader allocate more than the format's limits allow.
 *
 * Every malformed input gives an error message of the form
 * "NAME: byte OFFSET: what is wrong", OFFSET being the file position of
 * the faulty field.
 */
#ifndef GT_READER_H
#define GT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace-format.h"

/* The reader refuses headers claiming more worker slots than this (the
 * library itself has at most 1024 workers and 4096 spares). */
#define GT_WORKERS_MAX 8192u
/* Arguments that are varints: at most three per event (GT_CREATE, GT_READY). */
#define GT_ARGS_MAX 3

/* Where a trace comes from: a file, or a buffer in memory (path NULL). */
struct gt_input {
	const char *path;
	const void *buf;
	size_t len;
	const char *name; /* for messages; defaults to path or "<memory>" */
};

struct gt_header {
	uint32_t version;
	uint32_t header_size;
	uint64_t start; /* CLOCK_MONOTONIC ns when recording began */
	uint32_t workers; /* worker slots: since version 4 spares too */
	uint32_t pid;
	uint64_t file_size;
	uint64_t blocks;
	uint64_t events_bytes; /* sum of the block payload lengths */
	bool other;	       /* some block has source GREEN_TRACE_SOURCE_OTHER */
};

struct gt_event {
	uint64_t ts;	 /* absolute CLOCK_MONOTONIC ns */
	uint64_t offset; /* file offset of the event's type byte */
	uint32_t source; /* worker index or GREEN_TRACE_SOURCE_OTHER */
	uint8_t type;	 /* GT_* */
	uint8_t nargs;	 /* varint arguments in arg[] */
	uint64_t arg[GT_ARGS_MAX];
	/* The string argument of GT_CREATE and GT_FUNC: not NUL-terminated,
	 * valid until the next gt_reader_next call. */
	const char *str;
	uint32_t str_len;
};

struct gt_reader;

/* NULL on error, with a message in err.  Progress lines go to stderr for
 * files over 64 MiB when stderr is a terminal. */
struct gt_reader *gt_reader_open(const struct gt_input *in, char *err,
				 size_t errlen);
const struct gt_header *gt_reader_header(const struct gt_reader *r);
/* 1: *ev holds the next event in time order; 0: end of trace; -1: error,
 * message in err (and every later call fails the same way). */
int gt_reader_next(struct gt_reader *r, struct gt_event *ev, char *err,
		   size_t errlen);
void gt_reader_close(struct gt_reader *r);
/* Whether the source (a worker index or GREEN_TRACE_SOURCE_OTHER) has
 * events: known from the index, before any is read.  Since version 4
 * most worker slots are spares that never ran, and have none. */
bool gt_reader_has_events(const struct gt_reader *r, uint32_t source);

/* The name of a GT_* type, of a GT_WHY_* reason and of a GT_HELD_* kind
 * ("?" if unknown). */
const char *gt_event_name(unsigned type);
const char *gt_why_name(uint64_t why);
const char *gt_held_name(uint64_t kind);

#endif
