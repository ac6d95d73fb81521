#!/bin/bash
# Proves the qcow2 target and qemu agree on images both ways, for cluster
# sizes 64 KiB (v3, 1 queue), 4 KiB (v2 / compat 0.10, 2 queues) and 2 MiB
# (v3, 2 queues), the 4 KiB one in zero copy mode (-z: the daemon moves
# library-produced data through a memfd with READ_FIXED): patterns qemu-io wrote read back identically through
# /dev/ublkbN (cmp against a raw file that got the same qemu-io commands);
# fio random writes with crc32c verification through ublk; after a clean
# del, `qemu-img check` reports no errors and no leaks and `qemu-img compare`
# finds the image identical to what the device returned.
# timeout: 600
. "$(dirname "$0")/lib.sh"

command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
	skip "qemu-img/qemu-io not installed"

# qemu_patterns FMT FILE: the same writes into a qcow2 image or a raw reference
qemu_patterns() {
	qemu-io -f "$1" -c 'write -P 0xa5 0 1M' -c 'write -P 0x5a 5M 132k' \
		-c 'write -P 0x11 40M 3M' -c 'write -z 41M 64k' -c 'write -P 0x77 63M 1M' \
		"$2" >/dev/null || fail "qemu-io on $2 failed"
}

# check_image IMG DUMP: clean check, and qemu reads what the device returned
check_image() {
	local out
	out=$(qemu-img check "$1" 2>&1) || fail "qemu-img check $1 (exit $?): $out"
	grep -q "No errors were found" <<<"$out" || fail "qemu-img check $1: $out"
	qemu-img compare -f qcow2 -F raw "$1" "$2" >/dev/null ||
		fail "qemu-img compare: $1 differs from what /dev/ublkb read"
	log "qemu-img check clean, compare identical: $1"
}

one() {
	local cs=$1 compat=$2 q=$3 img=$T_WORK/t.qcow2 ref=$T_WORK/ref.raw per
	shift 3
	log "cluster $cs compat $compat queues $q $*"
	rm -f "$img" "$ref"
	qemu-img create -q -f qcow2 -o "cluster_size=$cs,compat=$compat" "$img" 64M
	truncate -s 64M "$ref"
	qemu_patterns qcow2 "$img"
	qemu_patterns raw "$ref"
	ublk_add -t qcow2 -f "$img" -q "$q" "$@"
	check_geometry "$DEV_ID" "$q" 128 $((64 << 11))
	cmp "/dev/ublkb$DEV_ID" "$ref" || fail "what qemu-io wrote reads back differently"
	per=$((32 / q))
	fio_verify "/dev/ublkb$DEV_ID" --numjobs="$q" --size="${per}M" --offset_increment="${per}M"
	dd if="/dev/ublkb$DEV_ID" of="$T_WORK/dump.raw" bs=1M iflag=direct status=none ||
		fail "reading the device back failed"
	# what fio did not touch is still qemu's
	cmp -i 40M:40M "$T_WORK/dump.raw" "$ref" || fail "data past fio's range changed"
	ublk_del "$DEV_ID"
	check_image "$img" "$T_WORK/dump.raw"
}

one 65536 1.1 1
one 4096 0.10 2 -z
one 2M 1.1 2
