#!/bin/sh
# lib/libcwrap.sh - make libgreen's split-aware libc entry points.
#
# Usage: libcwrap.sh asm|map LIST LIBC [MAP]
#   asm  prints the x86_64 assembly of an entry point for every "leaf" and
#        "call" function of LIST (lib/libc.list);
#   map  prints the version script MAP (lib/libgreen.map) with every
#        function of LIST added to its global names.
# LIBC is the C library the build links (cc -print-file-name=libc.so.6):
# each entry point reaches libc's own function by its default symbol
# version there (NAME@GLIBC_x.y), which libgreen.so's NAME@@LIBGREEN_0
# does not match, so it never calls itself, and no symbol is looked up at
# run time.  The room check is not the prologue gcc writes (lea, cmp), so
# gold leaves it alone: it would add its adjust size to a split-stack
# function's lea because the function calls non-split code.  A function
# LIST names that LIBC lacks fails the build.  The
# static libgreen.a has none of them (see the assembly's head).
set -eu

mode=$1 list=$2 libc=$3

entries() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list"
}

case $mode in
map)
	map=$4
	names=$(entries | awk '{ printf "\t\t%s;\\n", $1 }')
	# the names go right after "global:"
	awk -v names="$names" '
		{ print }
		/^[[:space:]]*global:/ && !done {
			print "\t\t/* split-aware libc entry points (lib/libc.list) */"
			printf "%s", names
			done = 1
		}' "$map"
	exit 0
	;;
asm) ;;
*)
	echo "libcwrap.sh: unknown mode '$mode'" >&2
	exit 2
	;;
esac

# The default version of each function: the one objdump -T prints without
# parentheses.
versions=$(objdump -T "$libc" | awk '
	$2 ~ /^[gw]$/ || $3 ~ /^[gw]$/ {
		name = $NF; ver = $(NF - 1)
		if (ver !~ /^\(/ && ver ~ /^GLIBC_/) print name, ver
	}')

cat <<'EOF'
/* Made by lib/libcwrap.sh from lib/libc.list: do not edit. */
#include "config.h"
#include "splitstack.h"

/* Only in the shared library (libtool defines PIC for it): a program
 * linked with libgreen.a has no symbol versions of its own, so its
 * NAME@GLIBC_x.y would bind to its own NAME. */
#if defined(GREEN_SPLIT_STACK) && defined(PIC)
	.text
EOF

entries | while read -r name need; do
	case $need in
	leaf) bytes=256 ;;
	call) bytes=GREEN_SS_NONSPLIT ;;
	va) continue ;;
	*)
		echo "libcwrap.sh: $list: '$name' has need '$need'" >&2
		exit 1
		;;
	esac
	ver=$(printf '%s\n' "$versions" | awk -v n="$name" '$1 == n { print $2; exit }')
	if [ -z "$ver" ]; then
		echo "libcwrap.sh: $libc has no default version of $name" >&2
		exit 1
	fi
	cat <<EOF

	.symver green__libc_$name, $name@$ver
	.globl	$name
	.type	$name,@function
	.globl	green__wrap_$name
	.hidden	green__wrap_$name
	.type	green__wrap_$name,@function
	.p2align 4
$name:
green__wrap_$name:
	.cfi_startproc
	movq	%rsp, %r11
	subq	\$$bytes, %r11
	cmpq	%fs:0x70, %r11
	jb	2f
	jmp	green__libc_$name@PLT
2:	movq	green__libc_$name@GOTPCREL(%rip), %r11
	jmp	green__libc_hop
	.cfi_endproc
	.size	$name,.-$name
	.size	green__wrap_$name,.-green__wrap_$name
EOF
done

cat <<'EOF'

	.section .note.GNU-split-stack,"",@progbits
	.section .note.GNU-no-split-stack,"",@progbits
#endif /* GREEN_SPLIT_STACK && PIC */
	.section .note.GNU-stack,"",@progbits
EOF
