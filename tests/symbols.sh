#!/bin/bash
# tests/symbols.sh - libgreen.so exports only public green_* names and has a
# libgreen.so.* SONAME.  Run by automake's test harness, which exports
# top_builddir.  Exit status: 0 pass, 1 fail, 99 hard error.

set -u

builddir=${top_builddir:-.}
so="$builddir/lib/.libs/libgreen.so"

if [ ! -e "$so" ]; then
	echo "symbols.sh: $so not found; build the library first" >&2
	exit 99
fi

fail=0

# Version nodes from the version script (LIBGREEN_0 ...) show up in the
# dynamic symbol table as absolute symbols; they are not leaks.
if ! verdefs=$(readelf -V -W "$so"); then
	echo "symbols.sh: readelf -V failed on $so" >&2
	exit 99
fi
verdefs=$(printf '%s\n' "$verdefs" | awk '
	/^Version definition section/ { on = 1; next }
	/^Version/ { on = 0 }
	on && /Name:/ && !/Flags: BASE/ { print $NF }')

if ! syms=$(nm -D --defined-only "$so"); then
	echo "symbols.sh: nm -D failed on $so" >&2
	exit 99
fi
# Lines are "VALUE TYPE NAME[@[@]VERSION]".
list=$(printf '%s\n' "$syms" | awk -v verdefs="$verdefs" '
	BEGIN { n = split(verdefs, v, "\n"); for (i = 1; i <= n; i++) isver[v[i]] = 1 }
	NF >= 3 {
		name = $3; sub(/@.*/, "", name)
		if ($2 == "A" && (name in isver))
			next
		print $2, name
	}')

if [ -z "$list" ]; then
	echo "FAIL: $so exports no symbols"
	fail=1
else
	# Lower-case types are local symbols (initial-exec TLS variables
	# show up so).  The split-stack ABI that libgreen supplies in place
	# of libgcc's is exported on purpose (lib/libgreen.map): the core
	# that libgreen-morestack.a jumps to, and what -fsplit-stack code
	# calls.  The longjmp family is interposed to keep the segment words
	# right across segments (lib/longjmp.c).
	# The split-aware libc entry points of lib/libc.list are exported in
	# builds with segmented stacks.
	libc=
	if [ -n "${SPLIT_CFLAGS:-}" ]; then
		libc=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' \
			"${top_srcdir:-.}/lib/libc.list" | awk '{ print $1 }')
	fi
	leaks=$(printf '%s\n' "$list" | awk -v libc="$libc" '
		BEGIN { n = split(libc, l, "\n"); for (i = 1; i <= n; i++) wrapped[l[i]] = 1 }
		$1 ~ /^[A-Z]$/ && $2 !~ /^green_[a-z]/ && !($2 in wrapped) &&
		$2 !~ /^(__green_morestack|__green_ithunk_hop|__morestack_allocate_stack_space|__wrap_pthread_create)$/ &&
		$2 !~ /^(_?longjmp|siglongjmp|__longjmp_chk)$/')
	if [ -n "$leaks" ]; then
		echo "FAIL: $so exports symbols outside the public green_* API (type name):"
		printf '%s\n' "$leaks" | sed 's/^/  /'
		fail=1
	else
		echo "ok: $(printf '%s\n' "$list" | wc -l) exported symbols, all green_[a-z]* or libgcc's split-stack state"
	fi
fi

soname=$(readelf -d -W "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
case $soname in
libgreen.so*)
	echo "ok: SONAME $soname"
	;;
"")
	echo "FAIL: $so has no SONAME"
	fail=1
	;;
*)
	echo "FAIL: $so has SONAME '$soname', expected libgreen.so.*"
	fail=1
	;;
esac

# libgreen-hook exports exactly the libc calls it interposes, unversioned
# (lib/libgreen-hook.map; libgreen-hook(3) lists the same calls).
hook="$builddir/lib/.libs/libgreen-hook.so"
want="accept accept4 close connect fcntl fcntl64 nanosleep poll read readv recv recvfrom recvmsg send sendmsg sendto sleep usleep write writev"
if [ ! -e "$hook" ]; then
	echo "FAIL: $hook not found"
	fail=1
else
	got=$(nm -D --defined-only "$hook" | awk '$2 ~ /^[A-Z]$/ && $2 != "A" { print $3 }' | sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" != "$want" ]; then
		echo "FAIL: $hook exports '$got', expected '$want'"
		fail=1
	else
		echo "ok: libgreen-hook exports the $(echo "$want" | wc -w) interposed calls, no more"
	fi
	for call in $want; do
		grep -q "$call" "${top_srcdir:-.}/man/man3/libgreen-hook.3" ||
			{ echo "FAIL: libgreen-hook(3) does not name $call"; fail=1; }
	done
fi

exit "$fail"
