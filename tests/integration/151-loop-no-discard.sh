#!/bin/bash
# Proves the loop target advertises discard only where the backing store
# can do it. The backing device is a memory-backed null_blk (configfs) with
# discard off and no write-zeroes: the ublk device over it
# - shows discard_max_bytes 0, so `blkdiscard` is refused by the block
#   layer (not failed by the backing store with an I/O error), and no I/O
#   error appears in the kernel log;
# - still takes write-zeroes (`blkdiscard -z`, written out as zeroes): the
#   range reads back as zeroes, the data around it is intact;
# while a loop device over a regular file (tmpfs: holes can be punched)
# still advertises discard. On the userspace path and with --bpf.
# timeout: 300
. "$(dirname "$0")/lib.sh"

command -v blkdiscard >/dev/null || skip "blkdiscard (util-linux) is not installed"
modprobe null_blk nr_devices=0 2>/dev/null || skip "no null_blk module"
cfs=/sys/kernel/config
if [ ! -d "$cfs/nullb" ]; then
	mountpoint -q "$cfs" || mount -t configfs none "$cfs" || skip "cannot mount configfs"
fi
[ -d "$cfs/nullb" ] || skip "null_blk has no configfs interface"
nb=$cfs/nullb/ublk151
mkdir "$nb" || fail "cannot create $nb"
on_exit "echo 0 > $nb/power; rmdir $nb"
echo 64 >"$nb/size"
echo 1 >"$nb/memory_backed"
echo 0 >"$nb/discard"
echo 1 >"$nb/power"
idx=$(cat "$nb/index")
bdev=/dev/nullb$idx
[ -b "$bdev" ] || bdev=/dev/ublk151
wait_for 10 test -b "$bdev" || fail "null_blk device $bdev did not appear"
nq=/sys/block/${bdev##*/}/queue
log "backing $bdev: discard_max_bytes $(cat "$nq/discard_max_bytes"), write_zeroes_max_bytes $(cat "$nq/write_zeroes_max_bytes")"
[ "$(cat "$nq/discard_max_bytes")" = 0 ] && [ "$(cat "$nq/write_zeroes_max_bytes")" = 0 ] ||
	skip "this null_blk offers discard or write zeroes: not the device this test needs"

M=1048576
make_pattern "$T_WORK/pattern" 8
paths=(userspace)
if ublk features 2>/dev/null | grep -q '^bpf fast path: yes'; then
	paths+=(bpf)
fi
for path in "${paths[@]}"; do
	extra=()
	[ "$path" = bpf ] && extra=(--bpf)
	ublk_add -t loop -f "$bdev" -q 1 "${extra[@]}"
	dev=/dev/ublkb$DEV_ID
	q=$(dev_sysfs "$DEV_ID")/queue
	[ "$(cat "$q/discard_max_bytes")" = 0 ] ||
		fail "$dev advertises discard ($(cat "$q/discard_max_bytes") bytes) over $bdev, which has none"
	[ "$(cat "$q/write_zeroes_max_bytes")" -gt 0 ] ||
		fail "$dev does not offer write zeroes, which the loop target can always serve"
	dmesg -c >/dev/null 2>&1 || true
	rc=0
	blkdiscard -o 0 -l "$M" "$dev" 2>"$T_WORK/bd.err" || rc=$?
	[ "$rc" -ne 0 ] || fail "blkdiscard on $dev succeeded although it has no discard"
	grep -qi "not supported" "$T_WORK/bd.err" ||
		fail "blkdiscard on $dev should be refused as not supported: $(cat "$T_WORK/bd.err")"
	if dmesg | grep -q "I/O error, dev ${dev##*/}"; then
		fail "the discard reached the backing store and failed: $(dmesg | grep -m 2 'I/O error')"
	fi

	dd if="$T_WORK/pattern" of="$dev" bs=1M oflag=direct status=none || fail "writing $dev failed"
	blkdiscard -z -o $((2 * M)) -l $((3 * M)) "$dev" || fail "blkdiscard -z on $dev failed"
	cp "$T_WORK/pattern" "$T_WORK/expected"
	dd if=/dev/zero of="$T_WORK/expected" bs=1M seek=2 count=3 conv=notrunc status=none
	dd if="$dev" of="$T_WORK/readback" bs=1M count=8 iflag=direct status=none ||
		fail "reading $dev failed"
	cmp "$T_WORK/expected" "$T_WORK/readback" ||
		fail "$dev after write-zeroes of [2 MiB, 5 MiB): not zeroes there, or damage around it"
	log "$path: no discard offered over $bdev; write-zeroes zeroed 3 MiB, the rest intact"
	ublk_del "$DEV_ID"
done

# a regular file on tmpfs can punch holes: discard is offered there
make_backing "$T_WORK/backing" 16M
ublk_add -t loop -f "$T_WORK/backing"
[ "$(cat "$(dev_sysfs "$DEV_ID")/queue/discard_max_bytes")" -gt 0 ] ||
	fail "a loop device over a tmpfs file should offer discard"
ublk_del "$DEV_ID"
