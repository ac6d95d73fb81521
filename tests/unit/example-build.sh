#!/bin/sh
# A server outside the tree builds against the INSTALLED library: `make
# install` into a staging directory, then examples/ramdisk.c is compiled
# with nothing but what pkg-config says about ublksrv.pc there. The binary
# is kept (examples/ublk-ramdisk, rpath into the staging directory) for the
# VM test 160-example-ramdisk.
set -eu
srcdir=${top_srcdir:-.}
builddir=$(cd "${top_builddir:-.}" && pwd)
stage=$builddir/tests/unit/example-inst
out=$builddir/examples/ublk-ramdisk
fail=0

rm -rf "$stage" "$out"
mkdir -p "$stage" "$builddir/examples"
${MAKE:-make} -C "$builddir" install DESTDIR="$stage" >"$stage.log" 2>&1 ||
	{ cat "$stage.log"; echo "example: make install failed"; exit 1; }

pcfile=$(find "$stage" -name ublksrv.pc | head -n 1)
[ -n "$pcfile" ] || { echo "example: no ublksrv.pc installed"; exit 1; }
export PKG_CONFIG_PATH=${pcfile%/*}
export PKG_CONFIG_SYSROOT_DIR=$stage

# A directory ublksrv.pc names, in the stage (pkgconf adds the sysroot to
# --variable, pkg-config does not).
staged_var() {
	v=$(pkg-config --variable="$1" ublksrv)
	case $v in
	"$stage"/*) echo "$v" ;;
	*) echo "$stage$v" ;;
	esac
}

# Only the documented headers are installed.
incdir=$(staged_var includedir)/ublk
headers=$(cd "$incdir" && ls | sort | xargs)
if [ "$headers" != "ublk_bpf.h ublk_cmd.h ublksrv.h ublksrv_bpf.h" ]; then
	echo "example: installed headers are '$headers'"
	fail=1
fi

cflags=$(pkg-config --cflags ublksrv)
libs=$(pkg-config --libs ublksrv)
pkg-config --static --libs ublksrv >/dev/null ||
	{ echo "example: pkg-config --static cannot resolve ublksrv's private deps"; fail=1; }
libdir=$(staged_var libdir)
# shellcheck disable=SC2086 # flags are words
${CC:-cc} -std=gnu11 -Wall -Wextra -Werror $cflags -o "$out" \
	"$srcdir/examples/ramdisk.c" $libs -Wl,-rpath,"$libdir" ||
	{ echo "example: building examples/ramdisk.c against the installed library failed"; exit 1; }

# It links the shared library by its SONAME, and resolves from the stage.
readelf -d "$out" | grep -q 'NEEDED.*\[libublksrv\.so\.[0-9]*\]' ||
	{ echo "example: $out does not need libublksrv.so.N"; fail=1; }
ldd "$out" | grep -q "libublksrv.so.* => $libdir/" ||
	{ ldd "$out"; echo "example: $out does not resolve libublksrv from $libdir"; fail=1; }
# Bad input is refused before any device is touched (no kernel ublk here).
if "$out" 0 2>/dev/null; then
	echo "example: ublk-ramdisk 0 was accepted"
	fail=1
fi
[ "$fail" = 0 ] && echo "example: built $out against $stage ($libs)"
exit "$fail"
