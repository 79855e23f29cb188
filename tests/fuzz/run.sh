#!/bin/sh
# tests/fuzz/run.sh - fuzz the green-trace reader and subcommands with
# clang's libFuzzer, under AddressSanitizer and UndefinedBehaviorSanitizer,
# for a bounded time (FUZZ_SECONDS, default 20).
#
# Run by automake's test harness (which exports top_srcdir and
# top_builddir) or by hand from the source tree.  The corpus starts from
# tests/fuzz/corpus/ plus the synthetic traces of tests/check_trace_reader
# when that is built; it grows in a temporary directory, so the source tree
# is never written.  Findings are copied to tests/fuzz/ in the build tree.
# Exit status: 0 no finding, 1 a finding, 77 skip (no clang with libFuzzer),
# 99 hard error.

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
clang=${CLANG:-clang}
seconds=${FUZZ_SECONDS:-20}

work=$(mktemp -d "${TMPDIR:-/tmp}/green-trace-fuzz.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

# 1. A compiler that can build libFuzzer harnesses?
printf '%s\n' '#include <stddef.h>' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$work/probe.c"
if ! command -v "$clang" >/dev/null 2>&1 ||
	! "$clang" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" >/dev/null 2>&1; then
	echo "fuzz: SKIP, clang with libFuzzer not found"
	exit 77
fi

# 2. The harness, with the tool's sources (all but main.c).
tool=$srcdir/tools/green-trace
set --
for f in "$tool"/*.c; do
	[ "$(basename "$f")" = main.c ] || set -- "$@" "$f"
done
if ! "$clang" -std=gnu11 -g -O1 -D_GNU_SOURCE \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$srcdir/lib" -I"$tool" "$srcdir/tests/fuzz/fuzz_trace_reader.c" "$@" \
	-o "$work/fuzz"; then
	echo "fuzz: ERROR, the harness does not build"
	exit 99
fi

# 3. The corpus.
mkdir "$work/corpus" || exit 99
for f in "$srcdir"/tests/fuzz/corpus/*; do
	[ -f "$f" ] && cp "$f" "$work/corpus/"
done
if [ -x "$builddir/tests/check_trace_reader" ]; then
	GT_WRITE_SEEDS="$work/corpus" "$builddir/tests/check_trace_reader" ||
		echo "fuzz: note: tests/check_trace_reader wrote no seeds"
fi

# 4. Fuzz.  A finding stops the run with a non-zero status.
echo "fuzz: running for $seconds s"
"$work/fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" \
	"$work/corpus"
rc=$?
if [ "$rc" -ne 0 ]; then
	mkdir -p "$builddir/tests/fuzz"
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -f "$f" ] && cp "$f" "$builddir/tests/fuzz/" &&
			echo "fuzz: finding saved as $builddir/tests/fuzz/$(basename "$f")"
	done
	echo "fuzz: FAIL (libFuzzer exit $rc)"
	exit 1
fi
echo "fuzz: PASS"
exit 0
