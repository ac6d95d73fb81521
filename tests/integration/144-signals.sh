#!/bin/bash
# Proves SIGTERM/SIGINT stop a daemon gracefully:
# - without recovery: SIGTERM to the daemon of a loop device with a write in
#   flight (dd, O_DIRECT, 16 MiB) removes the device within 30 s, the daemon
#   exits, its state file is gone, and the write either completed (then the
#   data is in the backing file) or failed with an error; SIGINT to an idle
#   null device removes it too;
# - with recovery (reissue): SIGTERM while fio writes with verify leaves the
#   device QUIESCED (not deleted), the state file stays, fio waits; `ublk
#   recover` brings it back and fio completes its writes and verify phase
#   with 0 errors.
# timeout: 400
. "$(dirname "$0")/lib.sh"

run_dir=${UBLK_RUN_DIR:-/run/ublksrvd}

# SIGTERM, no recovery, write in flight
make_backing "$T_WORK/backing" 64M
make_pattern "$T_WORK/pattern" 16
ublk_add -t loop -f "$T_WORK/backing" -q 2 "${T_ADD_EXTRA[@]}"
id=$DEV_ID
pid=$DEV_PID
[ -f "$run_dir/$id.json" ] || fail "no state file $run_dir/$id.json"
dd if="$T_WORK/pattern" of="/dev/ublkb$id" bs=1M oflag=direct status=none \
	2>"$T_WORK/dd.err" &
dd_pid=$!
bg_register "$dd_pid"
t_writing() { [ "$(awk '{ print $5 }' "$(dev_sysfs "$id")/stat")" -gt 2 ]; }
wait_for 30 t_writing || true
log "SIGTERM to daemon $pid of dev $id"
kill -TERM "$pid"
wait_for 30 dev_nodes_gone "$id" || fail "dev $id still exists 30 s after SIGTERM"
wait_pid_exit "$pid" 10 || fail "daemon $pid alive after its device was removed"
[ ! -e "$run_dir/$id.json" ] || fail "state file $run_dir/$id.json left behind"
wait_pid_exit "$dd_pid" 30 || fail "dd still running 30 s after the device was removed"
rc=0
wait "$dd_pid" || rc=$?
bg_forget "$dd_pid"
if [ "$rc" -eq 0 ]; then
	cmp -n 16M "$T_WORK/pattern" "$T_WORK/backing" ||
		fail "dd reported success but the backing file does not hold its data"
	log "the write in flight completed and is in the backing file"
else
	log "the write in flight failed with an error (exit $rc): $(head -n 1 "$T_WORK/dd.err")"
fi
list_ids | grep -qx "$id" && fail "'ublk list' still shows dev $id"

# SIGINT, idle
ublk_add -t null "${T_ADD_EXTRA[@]}"
id=$DEV_ID
pid=$DEV_PID
kill -INT "$pid"
wait_for 30 dev_nodes_gone "$id" || fail "dev $id still exists 30 s after SIGINT"
wait_pid_exit "$pid" 10 || fail "daemon $pid alive after SIGINT"

# SIGTERM with recovery: kept QUIESCED, recovered, no data lost
make_backing "$T_WORK/backing2" 32M
ublk_add -t loop -f "$T_WORK/backing2" -q 2 -d 32 --recovery=reissue "${T_ADD_EXTRA[@]}"
id=$DEV_ID
pid=$DEV_PID
fio_bg keep "/dev/ublkb$id" --rw=randwrite --bssplit=4k/50:64k/30:256k/20 \
	--size=32M --iodepth=16 --rate=4m,4m --verify=crc32c --do_verify=1 \
	--verify_fatal=1 --verify_state_save=0
wait_for 30 t_writing || fail "fio did not start writing: $(tail -n 5 "$FIO_OUT.err")"
log "SIGTERM to daemon $pid of dev $id (recovery=reissue)"
kill -TERM "$pid"
wait_pid_exit "$pid" 30 || fail "daemon $pid alive 30 s after SIGTERM"
wait_state "$id" QUIESCED 30
[ -f "$run_dir/$id.json" ] || fail "the state file of the kept dev $id is gone"
pid_alive "$FIO_PID" || fail "fio ended while the device was kept: $(tail -n 5 "$FIO_OUT.err")"
ublk_recover "$id"
fio_bg_wait 240
[ "$FIO_RC" -eq 0 ] || fail "fio exited $FIO_RC after recovery: $(tail -n 5 "$FIO_OUT.err")"
jq -e '.jobs[0].error == 0 and .jobs[0].write.io_bytes == 33554432 and .jobs[0].read.io_bytes == 33554432' \
	<<<"$FIO_JSON" >/dev/null || fail "fio should write and verify 32 MiB: $(jq -c '.jobs[0] | {error, w: .write.io_bytes, r: .read.io_bytes}' <<<"$FIO_JSON")"
log "fio wrote and verified 32 MiB across SIGTERM + recover"
ublk_del "$id"
