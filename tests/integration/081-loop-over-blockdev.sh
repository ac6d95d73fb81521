#!/bin/bash
# Proves the loop target works over a block device, not only a regular
# file: a kernel loop device (losetup) of a 64 MiB tmpfs file serves as the
# backing "file"; the ublk device gets its size (131072 sectors), `ublk list
# --json` names it as target.file, mixed-size random writes + crc32c verify
# pass (2 queues, depth 64), and after `ublk del` a pattern written through
# the ublk device is on the loop device.
. "$(dirname "$0")/lib.sh"

command -v losetup >/dev/null || skip "losetup is not installed"
modprobe loop 2>/dev/null || true
make_backing "$T_WORK/lo.img" 64M
lo=$(losetup -f --show "$T_WORK/lo.img" 2>"$T_WORK/losetup.err") ||
	skip "cannot set up a kernel loop device: $(cat "$T_WORK/losetup.err")"
on_exit "losetup -d $lo"
log "backing block device $lo"

ublk_add -t loop -f "$lo" -q 2 -d 64
check_geometry "$DEV_ID" 2 64 131072
j=$(dev_json "$DEV_ID")
jq -e --arg f "$lo" '.target.name == "loop" and .target.file == $f' <<<"$j" >/dev/null ||
	fail "list --json should show target name loop, file $lo: $j"
fio_verify "/dev/ublkb$DEV_ID" --iodepth=64 --numjobs=2 --size=16M --offset_increment=16M

make_pattern "$T_WORK/pattern" 64
dd if="$T_WORK/pattern" of="/dev/ublkb$DEV_ID" bs=1M oflag=direct status=none ||
	fail "writing the pattern to /dev/ublkb$DEV_ID failed"
ublk_del "$DEV_ID"
dd if="$lo" of="$T_WORK/readback" bs=1M iflag=direct status=none || fail "reading $lo failed"
cmp "$T_WORK/pattern" "$T_WORK/readback" || fail "$lo does not hold the data written through the ublk device"
