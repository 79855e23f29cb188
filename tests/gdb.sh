#!/bin/bash
# tests/gdb.sh - the gdb extension (tools/gdb/libgreen-gdb.py) lists tasks
# and unwinds parked ones, in a live process and in a core dump, with
# libgreen linked shared and (when libgreen.a was built) statically.
#
# Run by automake's test harness, which exports top_srcdir and top_builddir.
# Builds tests/gdb_target.c with ${CC:-cc}; GDB names the debugger (gdb).
# Exit status: 0 pass, 1 fail, 77 skip (no usable gdb, no ptrace, not
# x86-64), 99 hard error.

set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
GDB=${GDB:-gdb}
ext="$srcdir/tools/gdb/libgreen-gdb.py"
target_src="$srcdir/tests/gdb_target.c"
so="$builddir/lib/.libs/libgreen.so"
la="$builddir/lib/libgreen.la"
archive="$builddir/lib/.libs/libgreen.a"
limit=120 # seconds for any one gdb run

skip() {
	echo "gdb.sh: SKIP: $*"
	exit 77
}

# A sanitizer build's library needs the sanitizer runtime, and gdb on an
# instrumented process shows the sanitizer's frames: the extension is
# checked in the normal build.
if grep -Eq '^#define GREEN_(A|T)SAN 1' "$builddir/config.h" 2>/dev/null; then
	echo "gdb.sh: SKIP: sanitizer build"
	exit 77
fi

hard() {
	echo "gdb.sh: ERROR: $*" >&2
	exit 99
}

command -v "$GDB" >/dev/null 2>&1 || skip "no gdb ($GDB) in PATH"
command -v timeout >/dev/null 2>&1 || skip "no timeout(1) to bound gdb"
case $(uname -m) in
x86_64) ;;
*) skip "green-bt knows the x86-64 context switch only" ;;
esac
if ! timeout 60 "$GDB" -nx -batch -ex 'python import gdb.unwinder' \
	</dev/null >/dev/null 2>&1; then
	skip "$GDB has no Python support (or no gdb.unwinder)"
fi
[ -e "$so" ] || hard "$so not found; build the library first"
[ -f "$ext" ] || hard "$ext not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/green-gdb.XXXXXX") || hard "mktemp failed"
pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

# --- build the targets ---------------------------------------------------
# A private copy of the shared library: a rebuild of lib/ while the test
# runs must not pull the debug info from under the process or the core.
real=$(readlink -f "$so") || hard "cannot resolve $so"
cp "$real" "$tmp/libgreen.so.0" || hard "cannot copy $real"
# built as users build: with segmented stacks when the library has them
cflags="-g -O0 -I$srcdir/include ${SPLIT_CFLAGS:-} ${SPLIT_LDFLAGS:-}"
# shellcheck disable=SC2086 # CC and the flags are word lists
# with libgreen's split-stack entry points, as libgreen.pc links them
morestack=
if [ -n "${SPLIT_CFLAGS:-}" ]; then
	morestack="$builddir/lib/libgreen-morestack.a"
fi
# shellcheck disable=SC2086 # CC and the flags are word lists
${CC:-cc} $cflags -o "$tmp/target-shared" "$target_src" \
	"$tmp/libgreen.so.0" $morestack -Wl,-rpath,"$tmp" -pthread \
	>"$tmp/cc-shared.log" 2>&1 || {
	cat "$tmp/cc-shared.log"
	hard "cannot build the shared target"
}
variants=shared
if [ -f "$archive" ] && [ -f "$la" ]; then
	# the libraries libtool would add: dependency_libs of libgreen.la
	deps=$(sed -n "s/^dependency_libs='\(.*\)'$/\1/p" "$la")
	# shellcheck disable=SC2086
	if ${CC:-cc} $cflags -o "$tmp/target-static" "$target_src" \
		"$archive" $deps -pthread >"$tmp/cc-static.log" 2>&1; then
		variants="shared static"
	else
		cat "$tmp/cc-static.log"
		hard "cannot build the static target"
	fi
fi

fail=0
bad() {
	echo "FAIL [$1]: $2"
	fail=1
}

# gdb options common to every run: no init files, no network, no pager.
gdb_opts=(-nx -batch -iex 'set debuginfod enabled off' -iex 'set pagination off'
	-iex 'set width 0' -iex 'set confirm off')

# Run commands as separate -ex options (an error in one does not stop the
# others), with a marker line before each so that the log can be cut up.
gdb_cmds() {
	local c
	cmds=(-ex "source $ext")
	for c in "$@"; do
		cmds+=(-ex "echo @@@ $c\\n" -ex "$c")
	done
	cmds+=(-ex "echo @@@ end\\n")
}

# The output of command $2 in log $1.
section() {
	awk -v want="@@@ $2" '
		$0 == want { on = 1; next }
		/^@@@ / { on = 0 }
		on' "$1"
}

# check LABEL LOG: the listing and the three backtraces are right.
check() {
	local label=$1 log=$2 list out n
	if grep -q 'Python Exception\|Traceback' "$log"; then
		bad "$label" "Python error in gdb:"
		grep -A5 'Python Exception\|Traceback' "$log" | sed 's/^/    /'
	fi
	list=$(section "$log" "info green-tasks")
	if ! printf '%s\n' "$list" | grep -q '^ *Id  *Name  *State  *Entry'; then
		bad "$label" "info green-tasks printed no header"
	fi
	# Id "name" state entry, one line each
	printf '%s\n' "$list" | grep -Eq \
		"^[ *] +$id_sleeper  \"sleeper\" +parked: sleep forever +sleeper_entry\$" ||
		bad "$label" "sleeper not listed as parked in sleep forever"
	printf '%s\n' "$list" | grep -Eq \
		"^[ *] +$id_joiner  \"joiner\" +parked: join \\(task $id_sleeper \"sleeper\"\\) +joiner_entry\$" ||
		bad "$label" "joiner not listed as parked in join of the sleeper"
	printf '%s\n' "$list" | grep -Eq \
		"^[ *] +$id_receiver  \"receiver\" +parked: chan recv \\(chan 0x[0-9a-f]+, cap 0, len 0\\) +receiver_entry\$" ||
		bad "$label" "receiver not listed as parked in chan recv"
	printf '%s\n' "$list" | grep -q '^3 tasks (3 parked) on 2 workers$' ||
		bad "$label" "wrong task count line"

	# green-bt of the sleeper: green_sleep, parked_leaf, parked_middle,
	# sleeper_entry, in this order, from frame #0 on.
	out=$(section "$log" "green-bt $id_sleeper")
	n=$(printf '%s\n' "$out" | awk '
		/^#/ && / in green_sleep / { s = NR }
		/^#/ && / parked_leaf \(/ && s { l = NR }
		/^#/ && / parked_middle \(/ && l { m = NR }
		/^#/ && / sleeper_entry \(/ && m { e = NR }
		END { print (s && l && m && e) ? "ok" : "no" }')
	if [ "$n" != ok ]; then
		bad "$label" "green-bt $id_sleeper lacks green_sleep < parked_leaf < parked_middle < sleeper_entry:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
	printf '%s\n' "$out" | grep -q '^#0 ' ||
		bad "$label" "green-bt $id_sleeper does not start at #0"
	printf '%s\n' "$out" | grep -q 'Backtrace stopped' &&
		bad "$label" "green-bt $id_sleeper stopped early"

	out=$(section "$log" "green-bt $id_joiner")
	if ! printf '%s\n' "$out" | grep -q ' in green_join ' ||
		! printf '%s\n' "$out" | grep -q ' joiner_entry ('; then
		bad "$label" "green-bt $id_joiner lacks green_join / joiner_entry"
	fi
	out=$(section "$log" "green-bt receiver")
	printf '%s\n' "$out" | grep -q ' receiver_entry (' ||
		bad "$label" "green-bt receiver (by name) lacks receiver_entry"

	# a frame count counts the task's frames only
	out=$(section "$log" "green-bt $id_sleeper 2")
	[ "$(printf '%s\n' "$out" | grep -c '^#')" -eq 2 ] ||
		bad "$label" "green-bt $id_sleeper 2 did not show 2 frames"

	out=$(section "$log" "green-bt 999999")
	printf '%s\n' "$out" | grep -q 'libgreen: no task with id 999999' ||
		bad "$label" "green-bt 999999 gave no clear error"

	# the selected thread's own backtrace is untouched afterwards
	out=$(section "$log" "bt")
	printf '%s\n' "$out" | grep -q 'parked_leaf' &&
		bad "$label" "plain bt still shows the task after green-bt"
	if [ "$fail" = 0 ]; then
		echo "ok: $label"
	fi
}

for v in $variants; do
	prog="$tmp/target-$v"
	rm -f "$tmp/core" "$tmp/out"

	# --- a live process: attach ------------------------------------------
	# Small thread stacks and one malloc arena keep the core dump small.
	(
		ulimit -s 256 2>/dev/null
		# the target gives up by itself after 120 s
		MALLOC_ARENA_MAX=1 exec "$prog" >"$tmp/out" 2>&1
	) &
	pid=$!
	for _ in $(seq 200); do
		grep -q '^READY' "$tmp/out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	ready=$(grep '^READY' "$tmp/out")
	if [ -z "$ready" ]; then
		cat "$tmp/out"
		hard "[$v] the target did not get ready"
	fi
	# READY pid=P sleeper=ID joiner=ID receiver=ID
	tpid=$(printf '%s\n' "$ready" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')
	id_sleeper=$(printf '%s\n' "$ready" | sed -n 's/.* sleeper=\([0-9]*\).*/\1/p')
	id_joiner=$(printf '%s\n' "$ready" | sed -n 's/.* joiner=\([0-9]*\).*/\1/p')
	id_receiver=$(printf '%s\n' "$ready" | sed -n 's/.* receiver=\([0-9]*\).*/\1/p')

	gdb_cmds "info green-tasks" "green-bt $id_sleeper" "green-bt $id_joiner" \
		"green-bt receiver" "green-bt $id_sleeper 2" "bt" "green-bt 999999" \
		"gcore $tmp/core"
	timeout -k 5 "$limit" "$GDB" "${gdb_opts[@]}" -p "$tpid" "${cmds[@]}" \
		</dev/null >"$tmp/live.log" 2>&1
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	if ! grep -q '^@@@ info green-tasks' "$tmp/live.log" ||
		grep -q 'ptrace: Operation not permitted\|Could not attach' "$tmp/live.log"; then
		sed 's/^/    /' "$tmp/live.log" | head -20
		skip "[$v] gdb cannot attach here (ptrace not permitted?)"
	fi
	check "$v live" "$tmp/live.log"

	# --- the core dump that gcore wrote -------------------------------------
	if [ ! -s "$tmp/core" ]; then
		bad "$v core" "gcore wrote no core file"
		sed 's/^/    /' "$tmp/live.log" | tail -20
		continue
	fi
	gdb_cmds "info green-tasks" "green-bt $id_sleeper" "green-bt $id_joiner" \
		"green-bt receiver" "green-bt $id_sleeper 2" "bt" "green-bt 999999"
	timeout -k 5 "$limit" "$GDB" "${gdb_opts[@]}" "$prog" "$tmp/core" \
		"${cmds[@]}" </dev/null >"$tmp/core.log" 2>&1
	check "$v core" "$tmp/core.log"

	if [ "$fail" != 0 ]; then
		for f in live core; do
			echo "--- gdb output ($v $f) ---"
			sed 's/^/    /' "$tmp/$f.log"
		done
		break
	fi
done

exit "$fail"
