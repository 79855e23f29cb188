#!/bin/bash
# tests/pkgconfig.sh - a user's program built with nothing but
#   cc prog.c $(pkg-config --cflags --libs libgreen)
# gets segmented stacks (tests/pkgconfig_target.c says how that shows).
# The generated libgreen.pc is pointed at the build tree instead of the
# install prefix; every flag in it is used as is.  Skips in builds without
# segmented stacks.  Exit status: 0 pass, 1 fail, 77 skip, 99 hard error.
set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
if [ -z "${SPLIT_CFLAGS:-}" ]; then
	echo "SKIP: this build has no segmented stacks"
	exit 77
fi
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: no pkg-config"; exit 77; }
pc="$builddir/libgreen.pc"
[ -f "$pc" ] || { echo "pkgconfig.sh: $pc not found" >&2; exit 99; }

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
# the installed libdir holds the shared library and libgreen-morestack.a,
# which the build tree keeps in two directories
libdir=$tmp/lib
mkdir "$libdir" || exit 99
ln -s "$(cd "$builddir/lib/.libs" && pwd)"/libgreen.so* "$libdir/" || exit 99
ln -s "$(cd "$builddir/lib" && pwd)/libgreen-morestack.a" "$libdir/" || exit 99
incdir=$(cd "$srcdir/include" && pwd) || exit 99
sed -e "s|^libdir=.*|libdir=$libdir|" -e "s|^includedir=.*|includedir=$incdir|" \
	"$pc" >"$tmp/libgreen.pc" || exit 99
flags=$(PKG_CONFIG_PATH="$tmp" pkg-config --cflags --libs libgreen) || {
	echo "FAIL: pkg-config cannot read libgreen.pc"
	exit 1
}
echo "flags: $flags"
# shellcheck disable=SC2086 # the flags are a word list
if ! ${CC:-cc} -O2 -o "$tmp/prog" "$srcdir/tests/pkgconfig_target.c" $flags \
	-Wl,-rpath,"$libdir" >"$tmp/cc.log" 2>&1; then
	cat "$tmp/cc.log"
	echo "FAIL: the program does not build with the .pc flags"
	exit 1
fi
if ! "$tmp/prog"; then
	echo "FAIL: 40,000 parked tasks did not run (no segmented stacks?)"
	exit 1
fi
echo "ok: built with the .pc flags alone, 40,000 tasks parked at once"
