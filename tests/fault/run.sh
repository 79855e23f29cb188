#!/bin/sh
# tests/fault/run.sh - fault injection over the check suites, SQLite's way:
# every check program runs once per injection point, with one of
# libgreen's kernel or allocator calls failing (GREEN_FAULT, lib/fault.c).
#
# For each program and each site (mmap alloc epoll eventfd thread accept
# futex), a first run with GREEN_FAULT=count learns how many calls a test
# makes there (the most of any one process, children a test forked itself
# included); then the program runs with GREEN_FAULT=SITE:N for N = 1 ..
# FAULT_DENSE and on at doubling steps up to that count.  Each test of a
# check program is a process of its own, so every test meets the fault at
# its own Nth call.  A run is classified:
#   hang    a test timed out, or the program outlived FAULT_TIMEOUT
#   crash   a test died of a signal, and nothing said "libgreen: " first
#           (an abort with a libgreen diagnostic naming the failure, where
#           no caller exists to return it to, is the documented outcome)
#   leak    (FAULT_WRAP only) valgrind found a leak or a memory error
#   ...     and the same of a child a test forked itself (run_forked in
#           tests/testutil.h, which says "fault-child: hang", "fault-child:
#           crash" or "fault-child: leak" under GREEN_FAULT)
#   ok      anything else: a test may fail, since a call it expected to
#           succeed reported the injected error
# Prints the count of injection points and of runs survived; exit status
# 1 when any run hung or crashed (its output is kept in FAULT_OUT).
#
# Environment: FAULT_PROGS (default: the check programs named below;
# check_trace_reader starts no runtime), FAULT_SITES, FAULT_DENSE
# (default 8), FAULT_MAX_RUNS per program and site (default 14),
# FAULT_TIMEOUT seconds per run (default 300: above the suites' own test
# timeouts, which report a hung test by name), FAULT_OUT (default
# fault-out in the build directory), FAULT_WRAP (a command the runs go
# through, such as "./libtool --mode=execute valgrind --error-exitcode=99
# --leak-check=full --errors-for-leak-kinds=definite" in a build
# configured --disable-split-stack: exit status 99 then counts as a leak or
# memory error, and so does a check test that exited with it, or any
# nonzero valgrind error summary).

set -u
builddir=${top_builddir:-.}
progs=${FAULT_PROGS:-"check_task check_sched check_handoff check_tls check_chan check_sync check_stack check_io check_hook check_trace check_nonsplit check_misuse check_diag"}
sites=${FAULT_SITES:-"mmap alloc epoll eventfd thread accept futex"}
dense=${FAULT_DENSE:-8}
maxruns=${FAULT_MAX_RUNS:-14}
limit=${FAULT_TIMEOUT:-300}
out=${FAULT_OUT:-$builddir/fault-out}
mkdir -p "$out" || exit 99

points=0 runs=0 survived=0 bad=0

# The most calls any one process of program $1 made at each site:
# "site=count" words.
counts() {
	GREEN_FAULT=count timeout "$limit" \
		"$builddir/tests/$1" 2>&1 >/dev/null |
		sed -n 's/^libgreen: fault sites: //p' |
		tr ' ' '\n' | awk -F= 'NF == 2 && $2 > m[$1] { m[$1] = $2 }
			END { for (s in m) print s "=" m[s] }'
}

# Kill what is left of run $1: a check test is a process group of its
# own, which a timeout of its runner does not reach.
reap() {
	for e in /proc/[0-9]*/environ; do
		if grep -qz "^GREEN_FAULT_RUN=$1\$" "$e" 2>/dev/null; then
			pid=${e#/proc/}
			kill -KILL "${pid%/environ}" 2>/dev/null
		fi
	done
}

# The Ns to try for a site with $1 calls.
schedule() {
	awk -v n="$1" -v dense="$dense" -v max="$maxruns" 'BEGIN {
		k = 0
		for (i = 1; i <= n && k < max; i = (i < dense ? i + 1 : i * 2)) {
			print i; k++
		}
	}'
}

# Classify one run's output file $1 and exit status $2.
classify() {
	if [ "$2" -eq 124 ] || [ "$2" -eq 137 ] ||
		grep -q -e 'Test timeout expired' -e '^fault-child: hang' "$1"
	then
		echo hang
	elif [ -n "${FAULT_WRAP:-}" ] && { [ "$2" -eq 99 ] ||
		grep -q -e 'ERROR SUMMARY: [1-9]' -e '^fault-child: leak' \
			-e 'Early exit with return value 99' "$1"; }; then
		echo leak
	elif grep -q '^fault-child: crash' "$1"; then
		echo crash
	elif grep -q 'Received signal' "$1" &&
		! grep -v -e '^libgreen: injected fault' \
			-e '^libgreen: fault sites' "$1" | grep -q '^libgreen: '; then
		echo crash
	elif [ "$2" -gt 128 ]; then
		echo crash
	else
		echo ok
	fi
}

for p in $progs; do
	if [ ! -x "$builddir/tests/$p" ]; then
		echo "fault: $p not built" >&2
		exit 99
	fi
	c=$(counts "$p")
	for s in $sites; do
		n=$(printf '%s\n' "$c" | sed -n "s/^$s=//p")
		[ -n "$n" ] && [ "$n" -gt 0 ] || continue
		for i in $(schedule "$n"); do
			points=$((points + 1))
			f=$out/$p.$s.$i
			GREEN_FAULT_RUN=$$.$points GREEN_FAULT=$s:$i \
				timeout -s KILL "$limit" ${FAULT_WRAP:-} \
				"$builddir/tests/$p" >"$f" 2>&1
			rc=$?
			reap "$$.$points"
			runs=$((runs + 1))
			verdict=$(classify "$f" "$rc")
			if [ "$verdict" = ok ]; then
				survived=$((survived + 1))
				rm -f "$f"
			else
				bad=$((bad + 1))
				echo "fault: $verdict: $p with GREEN_FAULT=$s:$i (output: $f)"
			fi
		done
	done
done
echo "fault: $points injection points, $runs runs, $survived survived, $bad hung, crashed or leaked"
[ "$bad" -eq 0 ]
