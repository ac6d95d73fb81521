#!/bin/bash
# Proves malformed qcow2 images are refused at `ublk add` with one line and
# nothing left behind (no node, no device, no process), using the corpus the
# unit test generator writes (tests/unit/qcow2-hostile DIR: truncated header,
# bad magic/version, cluster_bits out of range, huge sizes, L1/L2/refcount
# offsets past EOF or unaligned, refcount table in the header, unknown or
# unsupported features, corrupt/dirty bits, backing loops...); images whose
# only fault is an L2 entry are served, and reading that cluster fails with
# an I/O error instead of returning wrong data. The valid image of the corpus
# is served and reads its data. Also: a raw file and a missing file.
# Through `ublk add` one image of each kind (every `ublk add` costs seconds
# under TCG); tests/unit/qcow2-hostile checks the whole corpus.
# timeout: 600
. "$(dirname "$0")/lib.sh"

gen=$(dirname "$0")/../unit/qcow2-hostile
[ -x "$gen" ] || fail "$gen not built (make check builds it)"
corpus=$T_WORK/corpus
mkdir -p "$corpus"
"$gen" "$corpus" >"$T_WORK/corpus.txt" || fail "the corpus generator failed"

# one of each kind: header field, size, table offset, table entry, feature,
# backing chain, bad L2 entry
pick='^(truncated|cluster-bits-22|huge-size|encrypted|l1-past-eof|rt-in-header|l2-unaligned|refblock-past-eof|unknown-incompat|corrupt-bit|dirty-lazy|extended-l2|loop-b|backing-missing|data-unaligned|compressed-garbage)\.qcow2$'
n=0
while read -r name verdict _; do
	grep -qE "$pick" <<<"$name" || continue
	case $verdict in
	refused:)
		expect_fail "$name" ublk add -t qcow2 -f "$corpus/$name"
		n=$((n + 1))
		;;
	read/write:)
		ublk_add -t qcow2 -f "$corpus/$name"
		if dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; then
			fail "$name: reading the bad cluster succeeded"
		fi
		ublk_del "$DEV_ID"
		n=$((n + 1))
		;;
	esac
done <"$T_WORK/corpus.txt"
[ "$n" -eq 16 ] || fail "$n corpus images were tried, expected 16"

ublk_add -t qcow2 -f "$corpus/valid.qcow2"
[ "$(head -c 1 "/dev/ublkb$DEV_ID" | od -An -tx1 | tr -d ' ')" = 5c ] ||
	fail "the valid image does not read its data"
ublk_del "$DEV_ID"

make_backing "$T_WORK/raw" 16M
expect_fail "raw file" ublk add -t qcow2 -f "$T_WORK/raw"
expect_fail "missing file" ublk add -t qcow2 -f "$T_WORK/missing.qcow2"
expect_fail "no file" ublk add -t qcow2
log "$n corpus images handled"
