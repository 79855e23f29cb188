#!/bin/sh
# tests/fault/short.sh - make check's short pass of the fault injection
# driver (tests/fault/run.sh; the full one is make fault-check): two quick
# check programs, the first three calls at every site.
set -u
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$(mktemp -d "${TMPDIR:-/tmp}/green-fault.XXXXXX") || exit 99
FAULT_PROGS="check_tls check_task" FAULT_MAX_RUNS=3 FAULT_TIMEOUT=120 \
	FAULT_OUT=$out sh "$srcdir/tests/fault/run.sh"
rc=$?
[ "$rc" -eq 0 ] && rm -rf "$out"
exit "$rc"
