#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the kernel's own ublk server, kublk (tools/testing/selftests/ublk),
# from the distribution's kernel source tarball, as a peer for the
# benchmark. Nothing of it is kept in this tree: it is compiled at run time
# in a scratch directory.
#
#   benchmarks/build-kublk.sh OUTDIR [TARBALL]
#
# TARBALL defaults to the newest /usr/src/linux-source-*.tar.{xz,bz2,gz}
# (Debian's linux-source package). Prints the path of the binary on stdout;
# on failure, one line on stderr and exit status 1. The uapi ublk_cmd.h
# comes from the same tarball, so kublk matches the kernel it was shipped
# with, not the installed headers.
set -uo pipefail

die() { echo "build-kublk: $*" >&2; exit 1; }

out=${1:-}
[ -n "$out" ] || die "usage: build-kublk.sh OUTDIR [TARBALL]"
tarball=${2:-$(ls -1 /usr/src/linux-source-*.tar.* 2>/dev/null | sort -V | tail -n 1)}
[ -n "$tarball" ] && [ -f "$tarball" ] || die "no kernel source tarball in /usr/src (package linux-source-X.Y)"
command -v gcc >/dev/null || die "gcc is not installed"

if [ -x "$out/kublk" ] && [ "$out/kublk" -nt "$tarball" ]; then
	echo "$out/kublk"
	exit 0
fi
mkdir -p "$out" || die "cannot create $out"
top=$(tar -tf "$tarball" 2>/dev/null | head -n 1)
top=${top%%/*}
[ -n "$top" ] || die "cannot list $tarball"
# one pass over the (large) archive for both paths
tar -xf "$tarball" -C "$out" --wildcards "$top/tools/testing/selftests/ublk/*" \
	"$top/include/uapi/linux/ublk_cmd.h" 2>"$out/extract.log" ||
	die "cannot extract the ublk selftests from $tarball: $(tail -n 1 "$out/extract.log")"
src=$out/$top/tools/testing/selftests/ublk
mkdir -p "$out/include/linux"
cp "$out/$top/include/uapi/linux/ublk_cmd.h" "$out/include/linux/" || die "no ublk_cmd.h in $tarball"
# metadata_size.c is a separate program with its own main()
srcs=()
for f in "$src"/*.c; do
	[ "${f##*/}" = metadata_size.c ] || srcs+=("${f##*/}")
done
[ ${#srcs[@]} -gt 0 ] || die "no kublk sources in $src"
(cd "$src" && gcc -O3 -D_GNU_SOURCE -I"$out/include" "${srcs[@]}" -o "$out/kublk" \
	-lpthread -lm -luring) >"$out/build.log" 2>&1 ||
	die "gcc failed (log: $out/build.log): $(grep -m1 error "$out/build.log")"
echo "$out/kublk"
