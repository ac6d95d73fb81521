#!/bin/bash
# Proves FLUSH and FUA reach the backing store: the loop target over a
# kernel loop device (which has a volatile write cache: its file can
# fsync), on the userspace path and with --bpf.
# - fio writes 64 sequential 64 KiB blocks with an fsync after every 4: the
#   kernel loop device's flush counter (field 16 of its sysfs stat) rises by
#   at least the number of fsyncs fio reports (15 or 16), one per fsync;
# - fio writes 32 blocks with O_SYNC at depth 1 (FUA writes on the ublk
#   device, RWF_DSYNC on the backing device, which turns each into a write
#   and a flush): the counter rises by at least 32.
# Without the flush (or FUA) forwarded, the counter would not move.
# timeout: 300
. "$(dirname "$0")/lib.sh"

command -v losetup >/dev/null || skip "losetup is not installed"
modprobe loop 2>/dev/null || true
make_backing "$T_WORK/lo.img" 64M
lo=$(losetup -f --show "$T_WORK/lo.img" 2>"$T_WORK/losetup.err") ||
	skip "cannot set up a kernel loop device: $(cat "$T_WORK/losetup.err")"
on_exit "losetup -d $lo"
lo_stat=/sys/block/${lo##*/}/stat
[ "$(awk '{ print NF }' "$lo_stat")" -ge 17 ] || skip "no flush counter in $lo_stat"
[ "$(cat "/sys/block/${lo##*/}/queue/write_cache")" = "write back" ] ||
	skip "$lo has no volatile write cache: flushes would not be sent"
flushes() { awk '{ print $16 }' "$lo_stat"; }

paths=(userspace)
if ublk features 2>/dev/null | grep -q '^bpf fast path: yes'; then
	paths+=(bpf)
fi
for path in "${paths[@]}"; do
	extra=()
	[ "$path" = bpf ] && extra=(--bpf)
	ublk_add -t loop -f "$lo" -q 1 "${extra[@]}"
	dev=/dev/ublkb$DEV_ID
	[ "$(cat "$(dev_sysfs "$DEV_ID")/queue/write_cache")" = "write back" ] ||
		fail "$dev does not advertise a volatile write cache"
	f0=$(flushes)
	T_FIO_ENGINE=psync fio_run fsync "$dev" --rw=write --bs=64k --size=4M --fsync=4
	f1=$(flushes)
	syncs=$(sed -n '/^{/,$p' "$T_WORK/.fio-fsync.out" | jq '.jobs[0].sync.total_ios // 0')
	[ "$syncs" -ge 15 ] || fail "$path: fio reports $syncs fsyncs, expected about 16"
	[ $((f1 - f0)) -ge "$syncs" ] ||
		fail "$path: $syncs fsyncs on $dev gave $((f1 - f0)) flushes on $lo"
	T_FIO_ENGINE=psync fio_run fua "$dev" --rw=write --bs=64k --size=2M --offset=8M --sync=1
	f2=$(flushes)
	[ $((f2 - f1)) -ge 32 ] ||
		fail "$path: 32 O_SYNC writes on $dev gave $((f2 - f1)) flushes on $lo"
	log "$path: $syncs fsyncs: $((f1 - f0)) flushes on $lo; O_SYNC writes: $((f2 - f1)) flushes"
	ublk_del "$DEV_ID"
done
