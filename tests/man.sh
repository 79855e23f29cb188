#!/bin/bash
# tests/man.sh - every exported function has a man page, and the pages lint
# clean.  Run by automake's test harness, which exports top_srcdir,
# top_builddir and MANDOC (empty when configure found no mandoc).
# Exit status: 0 pass, 1 fail, 77 skip (no mandoc), 99 hard error.

set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
so="$builddir/lib/.libs/libgreen.so"

if [ ! -e "$so" ]; then
	echo "man.sh: $so not found; build the library first" >&2
	exit 99
fi

# 1. Every exported function needs man/man3/<name>.3 (a .so stub will do).
if ! syms=$(nm -D --defined-only "$so"); then
	echo "man.sh: nm -D failed on $so" >&2
	exit 99
fi
# The split-stack ABI (__green_morestack, __green_ithunk_hop,
# __morestack_allocate_stack_space,
# __wrap_pthread_create) is exported for code that -fsplit-stack and the
# linker generate, not for people (lib/libgreen.map); libgreen(7) describes
# it.  The longjmp family is libc's API, interposed (lib/longjmp.c).
# The libc functions of lib/libc.list are libc's API (libgreen exports
# split-aware entry points for them), documented by libc's pages.
libc=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "${top_srcdir:-.}/lib/libc.list" | awk '{ print $1 }')
funcs=$(printf '%s\n' "$syms" | awk -v libc="$libc" '
	BEGIN { n = split(libc, l, "\n"); for (i = 1; i <= n; i++) wrapped[l[i]] = 1 }
	{ name = $3; sub(/@.*/, "", name) }
	$2 == "T" && !(name in wrapped) && $3 !~ /^(__green_morestack|__green_ithunk_hop|__morestack_allocate_stack_space|__wrap_pthread_create)(@|$)/ && $3 !~ /^(_?longjmp|siglongjmp|__longjmp_chk)(@|$)/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
if [ -z "$funcs" ]; then
	echo "man.sh: $so exports no functions" >&2
	exit 1
fi
missing=0
for fn in $funcs; do
	if [ ! -f "$srcdir/man/man3/$fn.3" ]; then
		echo "FAIL: exported function $fn has no man page man/man3/$fn.3"
		missing=1
	fi
done
if [ "$missing" -ne 0 ]; then
	exit 1
fi
echo "ok: $(printf '%s\n' "$funcs" | wc -l) exported functions all have pages"

# 2. Lint every page.  Needs mandoc; groff is checked too when installed.
if [ -z "${MANDOC:-}" ] || ! command -v "$MANDOC" >/dev/null 2>&1; then
	echo "SKIP: mandoc not found (MANDOC='${MANDOC:-}'); install mandoc and rerun configure to lint the man pages"
	exit 77
fi
have_groff=1
if ! command -v groff >/dev/null 2>&1; then
	echo "note: groff not found; checking with mandoc only"
	have_groff=0
fi

# Run from man/ so that ".so man3/x.3" stubs resolve.
cd "$srcdir/man" || exit 99
shopt -s nullglob
pages=(man1/*.1 man3/*.3 man5/*.5 man7/*.7)
if [ "${#pages[@]}" -eq 0 ]; then
	echo "FAIL: no man pages under $srcdir/man"
	exit 1
fi
bad=0
for p in "${pages[@]}"; do
	# An alias stub is one ".so man3/target.3" line (STYLE.md).  mandoc
	# warns that .so is fragile, so check that its target exists instead;
	# the target is linted in its own right.
	if [ "$(grep -cv '^\.so ' "$p")" -eq 0 ] && [ "$(wc -l <"$p")" -eq 1 ]; then
		target=$(sed -n 's/^\.so  *//p' "$p")
		if [ ! -f "$target" ]; then
			echo "FAIL: $p is a .so stub for $target, which does not exist"
			bad=1
		fi
		continue
	fi
	out=$("$MANDOC" -T lint -W warning "$p" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
		echo "FAIL: mandoc -T lint -W warning $p (exit $rc):"
		printf '%s\n' "$out"
		bad=1
	fi
	if [ "$have_groff" -eq 1 ]; then
		out=$(groff -ww -z -mandoc "$p" 2>&1 >/dev/null)
		if [ -n "$out" ]; then
			echo "FAIL: groff -ww -z -mandoc $p:"
			printf '%s\n' "$out"
			bad=1
		fi
	fi
done
if [ "$bad" -ne 0 ]; then
	exit 1
fi
echo "ok: ${#pages[@]} man pages lint clean"
exit 0
