#!/bin/sh
# Build the qcow2 fuzzer with clang + libFuzzer and run it for a bounded time
# on a copy of the seed corpus. make check runs it for 20 s; by hand:
#   tests/fuzz/run.sh 3600        (seconds; crashes land in qcow2-fuzz.d/)
# Exit 77 (skip) only when clang cannot build a libFuzzer binary at all.
secs=${1:-${QCOW2_FUZZ_SECONDS:-20}}
srcdir=${srcdir:-$(dirname "$0")/../..}
CLANG=${CLANG:-clang}
out=qcow2-fuzz.d
mkdir -p "$out" || exit 1
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -I. -I$srcdir/targets"
libs="-lz"
if echo '#include <zstd.h>' | $CLANG -E -x c - >/dev/null 2>&1; then
	flags="$flags -DHAVE_ZSTD=1"
	libs="$libs -lzstd"
fi
probe=$out/probe.c
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' > $probe
if ! $CLANG -fsanitize=fuzzer $probe -o $out/probe 2>/dev/null; then
	echo "SKIP: $CLANG cannot build libFuzzer targets"
	rm -f $probe
	exit 77
fi
rm -f $probe $out/probe
# the library sources read config.h: an empty one keeps the fuzzer standalone
mkdir -p $out/inc && : > $out/inc/config.h
$CLANG $flags -I$out/inc "$srcdir"/tests/fuzz/qcow2-fuzz.c "$srcdir"/targets/qcow2/header.c \
	"$srcdir"/targets/qcow2/meta.c "$srcdir"/targets/qcow2/io.c $libs -o $out/qcow2-fuzz || exit 1
rm -rf $out/corpus && mkdir -p $out/corpus && cp "$srcdir"/tests/fuzz/corpus/* $out/corpus/ || exit 1
$out/qcow2-fuzz -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
	-artifact_prefix=$out/qcow2-fuzz-crash- $out/corpus 2>$out/fuzz.log
rc=$?
grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs)' $out/fuzz.log | tail -2
[ $rc -eq 0 ] || tail -40 $out/fuzz.log
exit $rc
