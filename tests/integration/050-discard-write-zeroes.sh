#!/bin/bash
# Proves discard and write-zeroes on a loop device: fill 32 MiB with random
# data; `blkdiscard` two MiB-aligned ranges (one at the very end of the
# device) and `blkdiscard -z` two ranges (one MiB-aligned, one only 4 KiB
# aligned); each range then reads back as zeroes through the device (O_DIRECT),
# everything outside the ranges is intact, and after `ublk del` the backing
# file holds exactly the same image.
. "$(dirname "$0")/lib.sh"

command -v blkdiscard >/dev/null || skip "blkdiscard (util-linux) is not installed"

backing=$T_WORK/backing
pattern=$T_WORK/pattern
expected=$T_WORK/expected
readback=$T_WORK/readback
M=1048576

make_backing "$backing" 32M
make_pattern "$pattern" 32
cp "$pattern" "$expected"

ublk_add -t loop -f "$backing" -q 2
id=$DEV_ID
dev=/dev/ublkb$id
q=$(dev_sysfs "$id")/queue
log "discard_max_bytes $(cat "$q/discard_max_bytes") discard_granularity $(cat "$q/discard_granularity") write_zeroes_max_bytes $(cat "$q/write_zeroes_max_bytes" 2>/dev/null || echo '?')"
[ "$(cat "$q/discard_max_bytes")" -gt 0 ] ||
	fail "$dev does not advertise discard (discard_max_bytes is 0)"

dd if="$pattern" of="$dev" bs=1M oflag=direct status=none || fail "filling $dev failed"

# "how offset length"
ranges=(
	"discard $((4 * M)) $((4 * M))"
	"discard $((28 * M)) $((4 * M))"
	"zeroout $((12 * M)) $((3 * M))"
	"zeroout $((20 * M + 4096)) $((68 * 1024))"
)
for r in "${ranges[@]}"; do
	read -r how off len <<<"$r"
	if [ "$how" = discard ]; then
		blkdiscard -o "$off" -l "$len" "$dev" || fail "blkdiscard -o $off -l $len $dev failed"
	else
		blkdiscard -z -o "$off" -l "$len" "$dev" || fail "blkdiscard -z -o $off -l $len $dev failed"
	fi
	dd if=/dev/zero of="$expected" bs=64k seek="$off" count="$len" \
		oflag=seek_bytes iflag=count_bytes conv=notrunc status=none
done

dd if="$dev" of="$readback" bs=1M iflag=direct status=none || fail "reading $dev failed"
for r in "${ranges[@]}"; do
	read -r how off len <<<"$r"
	cmp -i "$off:0" -n "$len" "$readback" /dev/zero >/dev/null ||
		fail "$how range offset $off length $len does not read back as zeroes: $(cmp -i "$off:0" -n "$len" "$readback" /dev/zero 2>&1)"
done
cmp "$expected" "$readback" ||
	fail "device contents outside the discarded/zeroed ranges changed (cmp with the expected image above)"
log "device reads back the expected image"

ublk_del "$id"
cmp "$expected" "$backing" ||
	fail "backing file differs from the expected image (cmp above)"
