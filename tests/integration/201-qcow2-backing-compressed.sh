#!/bin/bash
# Proves backing chains and compressed clusters are served correctly:
# - a qcow2 top over a qcow2 base and over a raw base (the top larger than
#   the base): the device reads base data where the top has none, zeroes
#   past the base; fio crc32c-verified writes copy clusters up (COW); after
#   del the top is `qemu-img check` clean, identical to what the device read,
#   and the base files are unchanged;
# - images made by `qemu-img convert -c` (zlib, and zstd): read back
#   identical to the raw source; writes over compressed clusters reallocate
#   them; check clean and compare identical after del.
# The raw-base and zlib cases run in zero copy mode (-z).
# timeout: 600
. "$(dirname "$0")/lib.sh"

command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
	skip "qemu-img/qemu-io not installed"

check_image() {
	local out
	out=$(qemu-img check "$1" 2>&1) || fail "qemu-img check $1 (exit $?): $out"
	grep -q "No errors were found" <<<"$out" || fail "qemu-img check $1: $out"
	qemu-img compare -f qcow2 -F raw "$1" "$2" >/dev/null ||
		fail "qemu-img compare: $1 differs from what /dev/ublkb read"
	log "qemu-img check clean, compare identical: $1"
}

# serve IMG REF: the device reads REF, survives verified writes, checks clean
serve() {
	local img=$1 ref=$2 q=$3
	shift 3
	ublk_add -t qcow2 -f "$img" -q "$q" "$@"
	cmp "/dev/ublkb$DEV_ID" "$ref" || fail "$img reads back differently from $ref"
	fio_verify "/dev/ublkb$DEV_ID" --size=16M --offset=4M --iodepth=16
	dd if="/dev/ublkb$DEV_ID" of="$T_WORK/dump.raw" bs=1M iflag=direct status=none ||
		fail "reading the device back failed"
	ublk_del "$DEV_ID"
	check_image "$img" "$T_WORK/dump.raw"
}

backing() {
	local fmt=$1 zc=$2 base=$T_WORK/base.$1 top=$T_WORK/top.qcow2 ref=$T_WORK/ref.raw
	log "backing $fmt"
	rm -f "$base" "$top" "$ref"
	make_pattern "$ref" 24
	qemu-img convert -f raw -O "$fmt" "$ref" "$base" || fail "convert to $fmt failed"
	truncate -s 32M "$ref"
	cp "$base" "$T_WORK/base.orig"
	qemu-img create -q -f qcow2 -o cluster_size=65536 -b "$base" -F "$fmt" "$top" 32M
	qemu-io -f qcow2 -c 'write -P 0x3c 1M 64k' "$top" >/dev/null || fail "qemu-io failed"
	qemu-io -f raw -c 'write -P 0x3c 1M 64k' "$ref" >/dev/null || fail "qemu-io failed"
	serve "$top" "$ref" 2 ${zc:+"$zc"}
	cmp "$base" "$T_WORK/base.orig" || fail "the $fmt base file changed"
}

compressed() {
	local ctype=$1 zc=$2 img=$T_WORK/c.qcow2 ref=$T_WORK/c.raw
	log "compressed $ctype"
	rm -f "$img" "$ref"
	# compressible: 24 MiB of text (numbers)
	seq 1000001 4145728 >"$ref" # 8 bytes a line: 24 MiB
	qemu-img convert -c -f raw -O qcow2 -o "compression_type=$ctype" "$ref" "$img" ||
		fail "qemu-img convert -c ($ctype) failed"
	qemu-img info "$img" | grep -q "compression type: $ctype" ||
		fail "qemu-img made no $ctype image: $(qemu-img info "$img")"
	serve "$img" "$ref" 1 ${zc:+"$zc"}
}

backing qcow2 ""
backing raw -z
compressed zlib -z
compressed zstd ""
