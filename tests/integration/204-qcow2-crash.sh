#!/bin/bash
# Proves the qcow2 target's write ordering survives kill -9: a 2-queue device
# with --recovery=reissue over a fresh v3 image (4 KiB clusters, so fio's
# writes keep allocating clusters, L2 tables and refcount blocks). 8 MiB of
# a pattern are written and flushed (dd conv=fsync) first; then fio writes
# at random over the rest while the daemon is SIGKILLed 10 times at
# different moments. After each kill, with no daemon holding the image,
# `qemu-img check` must find no corruption (exit 0, or 3: leaked clusters
# only) and the flushed pattern must be intact (qemu-io read -P); then
# `ublk recover` brings the device back and fio goes on. At the end fio must
# have had no error, the pattern still reads back through the device, and
# after del the image checks without corruption.
# timeout: 900
. "$(dirname "$0")/lib.sh"

command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
	skip "qemu-img/qemu-io not installed"

img=$T_WORK/crash.qcow2
qemu-img create -q -f qcow2 -o cluster_size=4096 "$img" 64M
ublk_add -t qcow2 -f "$img" -q 2 -d 32 --recovery=reissue
id=$DEV_ID
# 0x6b bytes
head -c 8M /dev/zero | tr '\0' '\153' >"$T_WORK/pattern" || fail "cannot make the pattern file"
dd if="$T_WORK/pattern" of="/dev/ublkb$id" bs=1M oflag=direct conv=fsync status=none ||
	fail "writing the flushed pattern failed"

# no corruption (leaks allowed) and the flushed pattern intact
check_after_kill() {
	local rc=0 out chk
	chk=$(qemu-img check "$img" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "kill $1: qemu-img check exit $rc: $chk"
	! grep -q '^ERROR' <<<"$chk" || fail "kill $1: qemu-img check reports errors: $chk"
	out=$(qemu-io -r -f qcow2 -c 'read -P 0x6b 0 8M' "$img" 2>&1) ||
		fail "kill $1: qemu-io read failed: $out"
	! grep -qi 'verification failed' <<<"$out" || fail "kill $1: the flushed pattern changed"
	log "kill $1: check exit $rc ($(grep -o '[0-9]* leaked clusters' <<<"$chk" || echo no leaks)), pattern intact"
}

# fio's last words, and whose error it was: the daemon's since its last
# (re)start (nr_io_err per queue) or the kernel's
fio_errors() {
	echo "$(tail -n 5 "$FIO_OUT.err"); daemon errors per queue" \
		"$(dev_json "$id" | jq -c '[.queues[].nr_io_err]'); kernel: $(dmesg | tail -n 5)"
}

dev_writes() { awk '{ print $5 }' "$(dev_sysfs "$id")/stat"; }
writes_past() { [ "$(dev_writes)" -ge "$1" ]; }

fio_bg crash "/dev/ublkb$id" --rw=randwrite --bssplit=4k/50:16k/20:64k/20:256k/10 \
	--offset=8M --size=56M --iodepth=16 --time_based --runtime=900 --rate=6m
for i in $(seq 1 10); do
	w0=$(dev_writes)
	wait_for 60 writes_past $((w0 + 20 + i * 15)) ||
		fail "fio made no progress before kill $i: $(fio_errors)"
	sleep "0.$((i * 7 % 10))"
	pid_alive "$FIO_PID" || fail "fio ended before kill $i: $(fio_errors)"
	kill_daemon "$id"
	wait_state "$id" QUIESCED 30
	check_after_kill "$i"
	ublk_recover "$id"
done
kill -INT "$FIO_PID"
fio_bg_wait 120
jq -e '[.jobs[].error] | all(. == 0)' <<<"$FIO_JSON" >/dev/null ||
	fail "fio reported errors: $(fio_errors)"
cmp -n 8M "/dev/ublkb$id" "$T_WORK/pattern" || fail "the flushed pattern reads back wrong"
ublk_del "$id"
check_after_kill final
