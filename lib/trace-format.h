/*
 * trace-format.h - the green-trace file format, version 4: shared by the
 * recorder in libgreen (trace.c) and the green-trace reader (tools/).
 * The normative description is green-trace(5); this header only names its
 * constants.
 *
 * A file is a header, then blocks.  All fixed-width integers are
 * little-endian.
 *
 *   header (32 bytes)
 *     0  char[8]  magic "GRNTRACE"
 *     8  u32      version (GREEN_TRACE_VERSION)
 *    12  u32      header size in bytes (32; a reader skips what it does
 *                 not know of a larger header)
 *    16  u64      start: CLOCK_MONOTONIC ns when recording began
 *    24  u32      worker slots in the runtime: its workers and the spares
 *                 that may take over from stuck ones (since version 4)
 *    28  u32      pid of the recording process
 *
 *   block (20-byte header, then `length` bytes of events)
 *     0  u32      magic "GBLK" (GREEN_TRACE_BLOCK_MAGIC)
 *     4  u32      length of the events that follow, in bytes (<= 16 MiB)
 *     8  u32      source: a worker index, or GREEN_TRACE_SOURCE_OTHER for
 *                 threads that are not workers (offload pool, the
 *                 recorder itself, plain threads)
 *    12  u64      base: CLOCK_MONOTONIC ns that the first event's delta is
 *                 counted from
 *
 * Within a block every event is: one type byte (since version 3 its high
 * bit may be GT_SWITCHED, see there), an unsigned LEB128 delta
 * in ns from the previous event of the block (the first: from base), then
 * the type's arguments, each an unsigned LEB128 varint ("u") or a string
 * ("s": a varint length <= 4096, then that many bytes, no NUL).  The
 * events of one block, and the blocks of one source in file order, are in
 * time order; blocks of different sources interleave (merge them by time).
 *
 * Task ids are green_task_id() values (never 0); 0 means "none".
 */
#ifndef GREEN_TRACE_FORMAT_H
#define GREEN_TRACE_FORMAT_H

#define GREEN_TRACE_MAGIC "GRNTRACE"
#define GREEN_TRACE_VERSION 4u
/* the oldest version a reader still reads (1: CREATE is followed by its
 * own READY event; since 2 a CREATE also means READY, see GT_CREATE;
 * since 3 the compact events below and GT_SWITCHED; since 4 GT_HELD, and
 * sources up to the header's worker count, which counts the spare workers
 * that may take over from stuck ones) */
#define GREEN_TRACE_VERSION_MIN 1u
#define GREEN_TRACE_HEADER_SIZE 32u
#define GREEN_TRACE_BLOCK_MAGIC 0x4b4c4247u /* "GBLK" as little-endian u32 */
#define GREEN_TRACE_BLOCK_HEADER_SIZE 20u
#define GREEN_TRACE_BLOCK_MAX (16u << 20)
#define GREEN_TRACE_STRING_MAX 4096u
#define GREEN_TRACE_SOURCE_OTHER 0xffffffffu

/* Event types and their arguments (after the type byte and the delta). */
enum green_trace_event {
	/* task: id, parent id (0: spawned outside a task), entry function
	 * address (named by a FUNC event), name (s, may be empty).  Since
	 * version 2 the task is ready at the same time, readied by the parent
	 * on this block's source: no READY event is written for it (the
	 * reader reports one) */
	GT_CREATE = 1,
	/* task starts running on this block's worker: id */
	GT_START = 2,
	/* the running task stops, still runnable (green_yield): id */
	GT_YIELD = 3,
	/* the running task stops to wait: id, reason (GT_WHY_*) */
	GT_PARK = 4,
	/* the running task returned: id */
	GT_EXIT = 5,
	/* task made runnable: id, by task (0: not a task), by worker
	 * (GREEN_TRACE_SOURCE_OTHER: not a worker) */
	GT_READY = 6,
	/* this block's worker took tasks from another: victim worker, count */
	GT_STEAL = 7,
	/* this block's worker found nothing to run and sleeps (no args) */
	GT_WORKER_PARK = 8,
	/* this block's worker wakes from that sleep (no args) */
	GT_WORKER_UNPARK = 9,
	/* this block's worker blocks in epoll_wait: timeout in ms
	 * (0xffffffff: no timeout) */
	GT_NETPOLL_WAIT = 10,
	/* a poll returned: events handled */
	GT_NETPOLL_WAKE = 11,
	/* a task's green_offload call: id; BEGIN is recorded when the
	 * function starts on a pool thread, END when it has returned */
	GT_OFFLOAD_BEGIN = 12,
	GT_OFFLOAD_END = 13,
	/* the name of an entry function: address, name (s) */
	GT_FUNC = 14,
	/* events were lost (a buffer could not be had): count */
	GT_LOST = 15,
	GT_EVENT_MAX_V2 = 15,
	/*
	 * Since version 3, compact forms of the two commonest events, for a
	 * worker's running task: the task of this block's worker's last
	 * START, if no PARK, YIELD, EXIT or LOST of this source has come
	 * since (the reader reports the full events).
	 */
	/* the running task parks: reason (PARK: id = the running task) */
	GT_PARK_RUNNING = 16,
	/* the running task made task id runnable: id (READY: by the running
	 * task, on this block's worker) */
	GT_READY_BY_RUNNING = 17,
	GT_EVENT_MAX_V3 = 17,
	/*
	 * (version 4) task id held this block's worker without switching
	 * for a long time and has just let go of it: id, how long in ns,
	 * what it did meanwhile (GT_HELD_*).  Written by that worker when
	 * the task next switches (parks, yields or ends), so the event's
	 * time is the end of the hold.  Meanwhile the runtime's monitor had
	 * another thread take over the worker's role (hand-off).
	 */
	GT_HELD = 18,
	GT_EVENT_MAX = 18,
};

/* GT_HELD kinds: what the thread was doing when the monitor looked */
enum green_trace_held {
	GT_HELD_RUNNING = 1, /* on the CPU: a long loop */
	GT_HELD_BLOCKED = 2, /* asleep in a system call libgreen does not
				hook (sleep(3) unhooked, flock, waitpid) */
	GT_HELD_MAX = 2,
};

/*
 * Since version 3, a stop (GT_YIELD, GT_PARK, GT_PARK_RUNNING, GT_EXIT)
 * whose type byte has this bit has one more varint after its arguments:
 * the id of the task that starts on this block's worker at the same time
 * (the reader reports that START after the stop).
 */
#define GT_SWITCHED 0x80u

/* GT_PARK reasons */
enum green_trace_why {
	GT_WHY_JOIN = 1,
	GT_WHY_SLEEP = 2,
	GT_WHY_CHAN_SEND = 3,
	GT_WHY_CHAN_RECV = 4,
	GT_WHY_SELECT = 5,
	GT_WHY_MUTEX = 6,
	GT_WHY_COND = 7,
	GT_WHY_WG = 8,
	GT_WHY_SEM = 9,
	GT_WHY_IO_READ = 10,
	GT_WHY_IO_WRITE = 11,
	GT_WHY_OFFLOAD = 12,
	GT_WHY_GROUP = 13,
	GT_WHY_GROUP_SLOT = 14,
	GT_WHY_MAX = 14,
};

#endif
