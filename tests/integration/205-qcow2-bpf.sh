#!/bin/bash
# Proves qcow2 --bpf keeps data intact and serves mapped clusters in BPF, on
# the backend --bpf picks (the seed's with the project's module loaded):
# a 64 KiB-cluster v3 image (2 queues) with qemu-io patterns reads back
# identically; fio random writes with crc32c verify allocate clusters (the
# daemon allocates on redirect, fills the cluster map and hands requests
# back); a second verify pass over the now allocated range is served mostly
# by BPF (map hits > redirects); DISCARD through blkdiscard reads back as
# zeroes (the daemon drops the map entries first). After del, `qemu-img
# check` is clean and `qemu-img compare` finds what the device read.
# Then a compressed image over a qcow2 base reads back identically with
# --bpf (every such cluster is a redirect, by cause).
# timeout: 600
. "$(dirname "$0")/lib.sh"

require_bpf
command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
	skip "qemu-img/qemu-io not installed"

img=$T_WORK/b.qcow2
ref=$T_WORK/ref.raw
patterns() {
	qemu-io -f "$1" -c 'write -P 0xa5 0 1M' -c 'write -P 0x5a 40M 3M' -c 'write -z 41M 64k' \
		"$2" >/dev/null || fail "qemu-io on $2 failed"
}
map() { sleep 1.5 && dev_json "$DEV_ID" | jq ".target.bpf_map.$1"; }

qemu-img create -q -f qcow2 -o cluster_size=65536 "$img" 64M
truncate -s 64M "$ref"
patterns qcow2 "$img"
patterns raw "$ref"
ublk_add -t qcow2 -f "$img" -q 2 --bpf
grep -q "io path bpf ($(bpf_backend))" <<<"$DEV_OUT" ||
	fail "qcow2 --bpf should be served by $(bpf_backend): $DEV_OUT"
assert_bpf_flags "$DEV_ID"
dev_json "$DEV_ID" | jq -e '.target.bpf_map.entries_max > 0' >/dev/null ||
	fail "list --json has no target.bpf_map: $(dev_json "$DEV_ID")"
cmp "/dev/ublkb$DEV_ID" "$ref" || fail "what qemu-io wrote reads back differently"

fio_verify "/dev/ublkb$DEV_ID" --numjobs=2 --size=16M --offset_increment=16M --iodepth=16
back=$(map hand_backs)
alloc=$(map redirects.allocating)
log "after the allocating pass: $alloc allocating redirects, $back hand-backs"
[ "$alloc" -gt 0 ] && [ "$back" -gt 0 ] || fail "no allocation redirects / hand-backs: $(dev_json "$DEV_ID" | jq -c .target.bpf_map)"
h0=$(map hits)
m0=$(map misses)
fio_run reread "/dev/ublkb$DEV_ID" --rw=randread --bs=4k --size=32M --iodepth=16 \
	--number_ios=2000
h1=$(map hits)
m1=$(map misses)
log "re-read of allocated clusters: $((h1 - h0)) map hits, $((m1 - m0)) misses"
[ $((h1 - h0)) -gt $((m1 - m0)) ] || fail "BPF did not serve the allocated clusters: $(dev_json "$DEV_ID" | jq -c .target.bpf_map)"

blkdiscard -o 1M -l 2M "/dev/ublkb$DEV_ID" || fail "blkdiscard failed"
cmp -n 2M -i 1M:0 "/dev/ublkb$DEV_ID" /dev/zero || fail "discarded range does not read as zeroes"
dd if="/dev/ublkb$DEV_ID" of="$T_WORK/dump.raw" bs=1M iflag=direct status=none ||
	fail "reading the device back failed"
log "bpf map: $(dev_json "$DEV_ID" | jq -c .target.bpf_map)"
ublk_del "$DEV_ID"
out=$(qemu-img check "$img" 2>&1) || fail "qemu-img check (exit $?): $out"
qemu-img compare -f qcow2 -F raw "$img" "$T_WORK/dump.raw" >/dev/null ||
	fail "qemu-img compare: the image differs from what the device read"

# compressed over a backing file: redirects by cause, identical data.
# The top holds the first 4 MiB (compressed by qemu-io), the rest is the base's.
make_pattern "$T_WORK/base.raw" 8
qemu-img convert -f raw -O qcow2 "$T_WORK/base.raw" "$T_WORK/base.qcow2"
qemu-img create -q -f qcow2 -b "$T_WORK/base.qcow2" -F qcow2 "$T_WORK/c.qcow2" 8M
qemu-io -f qcow2 -c 'write -c -P 0x61 0 4M' "$T_WORK/c.qcow2" >/dev/null ||
	fail "qemu-io compressed write failed"
cp "$T_WORK/base.raw" "$T_WORK/cref.raw"
qemu-io -f raw -c 'write -P 0x61 0 4M' "$T_WORK/cref.raw" >/dev/null || fail "qemu-io failed"
ublk_add -t qcow2 -f "$T_WORK/c.qcow2" --bpf
cmp "/dev/ublkb$DEV_ID" "$T_WORK/cref.raw" || fail "compressed + backing reads back differently"
log "bpf map: $(dev_json "$DEV_ID" | jq -c .target.bpf_map)"
[ "$(map redirects.compressed)" -gt 0 ] && [ "$(map redirects.backing)" -gt 0 ] ||
	fail "redirect causes not counted: $(dev_json "$DEV_ID" | jq -c .target.bpf_map)"
ublk_del "$DEV_ID"
