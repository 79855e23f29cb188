#!/bin/bash
# tests/prologue.sh - the functions on libgreen's hot paths keep gcc's small
# split-stack prologue.  A libc call inlined into one of them (memcpy, mmap)
# makes the linker rewrite its prologue to demand libc's 64 KiB reserve
# ("stc", or a frame of 64 KiB and more): then every call from a task on its
# small first segment grows a segment (doc/DECISIONS.md, "Stacks").  The
# allocator calls are split-aware entry points (arch/x86_64/allocwrap.S).
#
# Run by automake's test harness, which exports top_builddir.  Exit
# status: 0 pass, 1 fail, 77 skip (a build without segmented stacks), 99
# hard error.

set -u

builddir=${top_builddir:-.}
so="$builddir/lib/.libs/libgreen.so"

if ! grep -q '^#define GREEN_SPLIT_STACK 1' "$builddir/config.h"; then
	echo "prologue.sh: SKIP: built without segmented stacks"
	exit 77
fi
[ -e "$so" ] || { echo "prologue.sh: build the library first" >&2; exit 99; }
dis=$(objdump -d --no-show-raw-insn "$so") || exit 99

hot="green_spawn green_yield green_join green_chan_send green_chan_recv
green_select green_mutex_lock green_mutex_unlock green_wg_done green_sleep
green__task_alloc green__task_free green__task_exit green__ready green__park
green__schedule green__leave green__wake green__waitq_wake green__stack_get
green__stack_put green__sched_prepare green__alloc green__calloc green__free"
# (the run queue's owner side and find_local are inline in these: lib/runq.h)

fail=0
for f in $hot; do
	first=$(printf '%s\n' "$dis" |
		awk -v fn="<$f>:" '$2 == fn { getline; print; exit }')
	if [ -z "$first" ]; then
		echo "FAIL: $f not found in $so"
		fail=1
	elif printf '%s\n' "$first" | grep -Eq 'stc|lea +-0x[1-9a-f][0-9a-f]{4,}\(%rsp\)'; then
		echo "FAIL: $f demands libc's reserve: $first"
		fail=1
	fi
done
[ "$fail" -eq 0 ] && echo "ok: $(wc -w <<<"$hot") hot functions keep the small prologue"
exit "$fail"
