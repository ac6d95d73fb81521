#!/bin/bash
# Proves a SIGKILLed daemon (device without recovery) is handled: the kernel
# notices, `ublk list -n N` still exits 0 and reports state DEAD (from the
# kernel; or the device has disappeared by itself), `ublk list` and
# `ublk list --json` agree, I/O to the device (if its node still exists) fails
# instead of hanging, and `ublk del -n N` then succeeds and removes the nodes.
# Done twice: an idle null device, and a loop device with fio I/O in flight
# (fio must end within 30 s of the kill).
. "$(dirname "$0")/lib.sh"

T_STATE=
dead_or_gone() {
	local out
	if dev_nodes_gone "$1"; then
		T_STATE=GONE
	elif out=$(ublk list -n "$1" 2>&1); then
		T_STATE=$(awk 'NR == 2 { print $9 }' <<<"$out")
		[ "$T_STATE" = DEAD ]
	else
		T_STATE="'ublk list -n $1' failed while the device exists: $out"
		return 1
	fi
}

# after_kill ID PID: the checks once the daemon PID of device ID was killed
after_kill() {
	local id=$1 pid=$2 rc j ids
	wait_pid_exit "$pid" 30 || fail "daemon $pid still alive 30 s after SIGKILL"
	wait_for 30 dead_or_gone "$id" ||
		fail "dev $id: 30 s after the daemon was killed, state is '$T_STATE', expected DEAD"
	if [ "$T_STATE" = GONE ]; then
		log "dev $id disappeared by itself after the daemon was killed"
		return 0
	fi
	log "dev $id is DEAD after the daemon was killed"
	ids=$(list_ids)
	grep -qx "$id" <<<"$ids" || fail "'ublk list' does not show the dead dev $id"
	j=$(dev_json "$id")
	jq -e '.state == "DEAD"' <<<"$j" >/dev/null || fail "list --json should say state DEAD for dev $id: $j"
	if [ -b "/dev/ublkb$id" ]; then
		rc=0
		timeout 20 dd if="/dev/ublkb$id" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null || rc=$?
		[ "$rc" -ne 124 ] || fail "a read from /dev/ublkb$id of the dead device hangs"
		log "read from the dead /dev/ublkb$id: exit $rc"
	fi
	ublk_del "$id"
}

# 1. idle null device
ublk_add -t null -q 2
log "killing daemon $DEV_PID of idle dev $DEV_ID"
kill -KILL "$DEV_PID"
after_kill "$DEV_ID" "$DEV_PID"

# 2. loop device with I/O in flight
make_backing "$T_WORK/backing" 64M
ublk_add -t loop -f "$T_WORK/backing" -q 2 -d 64
id=$DEV_ID
pid=$DEV_PID
fio --name=load --filename="/dev/ublkb$id" --ioengine="$T_FIO_ENGINE" --direct=1 --thread \
	--rw=randrw --bs=4k --iodepth=32 --numjobs=2 --time_based --runtime=60 \
	>"$T_WORK/fio.out" 2>&1 &
fio_pid=$!
bg_register "$fio_pid"
wait_for 30 dev_busy "$id" || fail "fio did not get going on /dev/ublkb$id: $(tail -n 5 "$T_WORK/fio.out")"
pid_alive "$fio_pid" || fail "fio ended early: $(tail -n 10 "$T_WORK/fio.out")"
log "killing daemon $pid of busy dev $id"
kill -KILL "$pid"
wait_pid_exit "$fio_pid" 30 || fail "fio still running 30 s after the daemon of its device was killed"
fio_rc=0
wait "$fio_pid" || fio_rc=$?
bg_forget "$fio_pid"
log "fio ended with exit $fio_rc"
after_kill "$id" "$pid"
