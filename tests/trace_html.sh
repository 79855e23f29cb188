#!/bin/bash
# tests/trace_html.sh - an example program traced with GREEN_TRACE on three
# workers, its green-trace report rendered by headless Chromium: the page
# loads with no network and shows one timeline lane per worker with events
# (not one per slot: the header counts the spare workers too), and the
# table of the tasks that held a worker.
#
# Run by automake's test harness, which exports top_builddir.  Exit
# status: 0 pass, 1 fail, 77 skip (no chromium, or a build without the
# tracer), 99 hard error.

set -u

builddir=${top_builddir:-.}
tool="$builddir/tools/green-trace/green-trace"
prog="$builddir/examples/sieve"
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
workers=3

if [ -z "$chromium" ]; then
	echo "trace_html.sh: SKIP: chromium not found (apt-get install chromium)"
	exit 77
fi
if ! grep -q '^#define GREEN_TRACE_BUILD 1' "$builddir/config.h"; then
	echo "trace_html.sh: SKIP: built with --disable-trace"
	exit 77
fi
[ -x "$tool" ] && [ -x "$prog" ] || { echo "trace_html.sh: build first" >&2; exit 99; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/trace_html.XXXXXX") || exit 99
trap 'rm -rf "$dir"' EXIT

# GREEN_HANDOFF=0: no spare takes over from a task that a slow build
# (ThreadSanitizer) keeps on its worker for 10 ms, so the workers with
# events are the three at most
GREEN_HANDOFF=0 GREEN_WORKERS=$workers GREEN_TRACE="$dir/t.trace" "$prog" >/dev/null ||
	{ echo "FAIL: $prog did not run"; exit 1; }
"$tool" report "$dir/t.trace" -o "$dir/report.html" ||
	{ echo "FAIL: green-trace report"; exit 1; }

# --dump-dom prints the DOM after the page loaded; no network is reachable
# from the test, so a page that needed any would show it here.
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu \
	--no-first-run --user-data-dir="$dir/profile" \
	--dump-dom "file://$dir/report.html" >"$dir/dom.html" 2>"$dir/chromium.log"
rc=$?
if [ "$rc" -ne 0 ] || [ ! -s "$dir/dom.html" ]; then
	echo "FAIL: chromium could not render the report (exit $rc):"
	tail -n 20 "$dir/chromium.log"
	exit 1
fi
lanes=$(grep -o 'class="lane"' "$dir/dom.html" | wc -l)
svgs=$(grep -o '<svg' "$dir/dom.html" | wc -l)
# A worker that found no work before the program ended may have no events
# and no lane; the report's header says how many have.
used=$(sed -n 's/.*Format version [0-9]*, \([0-9]*\) workers.*/\1/p' "$dir/dom.html")
if [ -z "$used" ] || [ "$used" -lt 1 ] || [ "$used" -gt "$workers" ]; then
	echo "FAIL: the rendered report has ${used:-no} workers with events, expected 1 to $workers"
	exit 1
fi
if [ "$lanes" -ne "$used" ]; then
	echo "FAIL: the rendered report has $lanes worker lanes, expected $used"
	exit 1
fi
if ! grep -q '<h2>Tasks that held a worker</h2>' "$dir/dom.html"; then
	echo "FAIL: the rendered report has no table of the tasks that held a worker"
	exit 1
fi
if [ "$svgs" -lt 1 ]; then
	echo "FAIL: the rendered report has no SVG"
	exit 1
fi
echo "ok: chromium rendered the report: $lanes lanes, $svgs SVG images"
