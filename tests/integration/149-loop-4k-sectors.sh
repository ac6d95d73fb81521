#!/bin/bash
# Proves the loop target works over 4K-sector storage: a kernel loop device
# with 4096-byte logical sectors (losetup --sector-size 4096), used
# - directly as the backing block device, and
# - through an ext4 filesystem on it, with a backing file there (O_DIRECT:
#   the file's direct I/O alignment is 4096),
# on the userspace path and with --bpf. Each time the ublk device's logical
# block size is the backing store's (read from the loop device's sysfs,
# not from ublk), and requests of exactly that size work: random writes of one
# logical block each plus mixed sizes, read back with crc32c verify.
# timeout: 600
. "$(dirname "$0")/lib.sh"

command -v losetup >/dev/null || skip "losetup is not installed"
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is not installed"
modprobe loop 2>/dev/null || true
make_backing "$T_WORK/lo.img" 192M
lo=$(losetup -f --show --sector-size 4096 "$T_WORK/lo.img" 2>"$T_WORK/losetup.err") ||
	skip "cannot set up a 4K-sector kernel loop device: $(cat "$T_WORK/losetup.err")"
on_exit "losetup -d $lo"
lo_lbs=$(cat "/sys/block/${lo##*/}/queue/logical_block_size")
[ "$lo_lbs" = 4096 ] || fail "$lo has logical block size $lo_lbs, asked for 4096"
log "backing block device $lo, logical block size $lo_lbs"

paths=(userspace)
if ublk features 2>/dev/null | grep -q '^bpf fast path: yes'; then
	paths+=(bpf)
fi

# check_dev WANT_LBS: the last added device has logical block size WANT_LBS
# and serves one-block writes and mixed sizes with verify
check_dev() {
	local want=$1 q lbs
	q=$(dev_sysfs "$DEV_ID")/queue
	lbs=$(cat "$q/logical_block_size")
	[ "$lbs" = "$want" ] ||
		fail "dev $DEV_ID: logical block size $lbs, the backing store needs $want"
	fio_run blocks "/dev/ublkb$DEV_ID" --rw=randwrite --bs="$lbs" --size=4M \
		--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0
	fio_verify "/dev/ublkb$DEV_ID" --size=16M --offset=8M
	log "dev $DEV_ID: logical block size $lbs; $lbs-byte and mixed writes verify"
}

for path in "${paths[@]}"; do
	extra=()
	[ "$path" = bpf ] && extra=(--bpf)
	ublk_add -t loop -f "$lo" -q 2 "${extra[@]}"
	check_dev "$lo_lbs"
	ublk_del "$DEV_ID"
done

mkfs.ext4 -q -F "$lo" || fail "mkfs.ext4 $lo failed"
mount_dev "$lo" "$T_WORK/mnt"
make_backing "$T_WORK/mnt/backing" 64M
log "backing file on ext4 on $lo"
for path in "${paths[@]}"; do
	extra=()
	[ "$path" = bpf ] && extra=(--bpf)
	ublk_add -t loop -f "$T_WORK/mnt/backing" -q 2 "${extra[@]}"
	jq -e '.target.direct_io == true' <<<"$(dev_json "$DEV_ID")" >/dev/null ||
		fail "dev $DEV_ID does not use O_DIRECT on its file: $(dev_json "$DEV_ID")"
	check_dev "$lo_lbs"
	ublk_del "$DEV_ID"
done
