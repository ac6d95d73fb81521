#!/bin/sh
# libublksrv.so exports exactly its documented API: the non-inline functions
# include/ublksrv.h declares, each listed in lib/libublksrv.map, versioned,
# and nothing else (no json_*, no internal ublk_* helpers).
set -eu
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
so=$builddir/lib/.libs/libublksrv.so
fail=0

if [ ! -e "$so" ]; then
	echo "exports: $so not built (configured with --disable-shared?)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declarations in the header: "type name(" at the start of a line.
grep -oE '^[a-z][^(]*[ *]ublk_[a-z0-9_]+\(' "$srcdir/include/ublksrv.h" |
	grep -v '^static inline' | grep -oE 'ublk_[a-z0-9_]+\($' | tr -d '(' |
	sort -u >"$tmp/header"
# The version script's global names.
sed -n '/global:/,/local:/p' "$srcdir/lib/libublksrv.map" |
	grep -oE '^[[:space:]]*[a-z_][a-z0-9_]*;' | tr -d ' \t;' | sort -u >"$tmp/map"
# What the shared object really exports (functions and data), and how.
nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' | sort -u >"$tmp/nm"
sed 's/@.*//' "$tmp/nm" | sort -u >"$tmp/exported"

[ -s "$tmp/header" ] || { echo "exports: no declarations found in ublksrv.h"; exit 1; }
if ! diff -u "$tmp/header" "$tmp/map"; then
	echo "exports: include/ublksrv.h and lib/libublksrv.map disagree (- header, + map)"
	fail=1
fi
if ! diff -u "$tmp/map" "$tmp/exported"; then
	echo "exports: $so exports something else than the map (- map, + nm -D)"
	fail=1
fi
if grep -v '@@UBLKSRV_' "$tmp/nm"; then
	echo "exports: the symbols above carry no UBLKSRV_ version"
	fail=1
fi
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case $soname in
libublksrv.so.[0-9]*) ;;
*) echo "exports: SONAME is '$soname', not libublksrv.so.N"; fail=1 ;;
esac
[ "$fail" = 0 ] && echo "exports: $(wc -l <"$tmp/map") functions, SONAME $soname"
exit "$fail"
