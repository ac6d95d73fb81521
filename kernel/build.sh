#!/bin/bash
# Build ublk_drv.ko for a Debian kernel from that kernel's own driver source
# (package linux-source-X.Y) plus this directory's change (ublk-bpf.patch,
# ublk_bpf.c, ublk_bpf_abi.h), with module BTF.
#
#   kernel/build.sh [-k KVER] [-o OUTDIR] [--stock]
#
#   -k KVER    kernel release to build for (default: uname -r)
#   -o OUTDIR  where the source is extracted and the module built
#              (default: kernel/build next to this script)
#   --stock    build the unmodified driver (to compare, or to bisect)
#
# Needs linux-headers-KVER, linux-source-X.Y (/usr/src/linux-source-X.Y.tar.*),
# gcc, make, pahole and /proc mounted (objtool). Prints the .ko path.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kver=$(uname -r)
out=$here/build
stock=0

die() { echo "kernel/build.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	-k) kver=${2:?-k needs a kernel release}; shift 2 ;;
	-o) out=${2:?-o needs a directory}; shift 2 ;;
	--stock) stock=1; shift ;;
	*) die "unknown argument '$1' (see the comment at the top)" ;;
	esac
done

kdir=/lib/modules/$kver/build
[ -d "$kdir" ] || kdir=/usr/src/linux-headers-$kver
[ -f "$kdir/Makefile" ] || die "no headers for $kver (install linux-headers-$kver)"
[ -f "$kdir/vmlinux" ] || die "$kdir/vmlinux is missing: no module BTF without it"
command -v pahole >/dev/null || die "pahole is missing: no module BTF without it"
[ -r /proc/self/stat ] || die "/proc is not mounted (objtool needs it)"

# 7.3.4+deb13-amd64 -> 7.3
series=$(echo "$kver" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
tarball=$(find /usr/src -maxdepth 1 -name "linux-source-$series.tar.*" | head -n 1)
[ -n "$tarball" ] || die "no /usr/src/linux-source-$series.tar.* (install linux-source-$series)"

mkdir -p "$out"
stamp="$tarball $(stat -c %Y "$tarball")"
if [ "$(cat "$out/.source" 2>/dev/null)" != "$stamp" ]; then
	rm -f "$out/ublk_drv.orig.c"
	tar -xf "$tarball" -O "linux-source-$series/drivers/block/ublk_drv.c" \
		>"$out/ublk_drv.orig.c" || die "cannot extract ublk_drv.c from $tarball"
	echo "$stamp" >"$out/.source"
fi

cp "$out/ublk_drv.orig.c" "$out/ublk_drv.c"
if [ "$stock" = 0 ]; then
	patch -s -p1 -d "$out" <"$here/ublk-bpf.patch" ||
		die "ublk-bpf.patch does not apply to $tarball's ublk_drv.c"
	cp "$here/ublk_bpf.c" "$here/ublk_bpf_abi.h" "$out/"
fi
printf 'obj-m := ublk_drv.o\nccflags-y += -I$(src)\n' >"$out/Kbuild"

make -s -C "$kdir" M="$out" modules >&2 || die "the module build failed"
echo "$out/ublk_drv.ko"
