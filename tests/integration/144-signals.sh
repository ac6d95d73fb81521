#!/bin/bash
# Proves SIGTERM/SIGINT stop a daemon gracefully:
# - without recovery: SIGTERM to the daemon of a loop device while a writer
#   streams to it (dd, O_DIRECT, fed 1 MiB every 0.3 s, still running at the
#   signal) removes the device within 30 s, the daemon exits, its state file
#   is gone, the writer fails with an error, and the 2 MiB it had written
#   before the signal are in the backing file; SIGINT to an idle null device
#   removes it too;
# - with recovery (reissue): SIGTERM while fio writes with verify leaves the
#   device QUIESCED (not deleted), the state file stays, fio waits; `ublk
#   recover` brings it back and fio completes its writes and verify phase
#   with 0 errors.
# timeout: 400
. "$(dirname "$0")/lib.sh"

run_dir=${UBLK_RUN_DIR:-/run/ublksrvd}

# SIGTERM, no recovery, a write stream in flight: dd gets 1 MiB every 0.3 s
# from a pipe, so it is still writing when the signal comes
make_backing "$T_WORK/backing" 64M
make_pattern "$T_WORK/pattern" 16
ublk_add -t loop -f "$T_WORK/backing" -q 2 "${T_ADD_EXTRA[@]}"
id=$DEV_ID
pid=$DEV_PID
[ -f "$run_dir/$id.json" ] || fail "no state file $run_dir/$id.json"
for i in $(seq 0 15); do
	dd if="$T_WORK/pattern" bs=1M skip="$i" count=1 status=none
	sleep 0.3
done | dd of="/dev/ublkb$id" bs=1M iflag=fullblock oflag=direct status=none \
	2>"$T_WORK/dd.err" &
dd_pid=$!
bg_register "$dd_pid"
t_written_mib() { [ "$(awk '{ print $7 }' "$(dev_sysfs "$id")/stat")" -ge $(($1 * 2048)) ]; }
wait_for 30 t_written_mib 2 || fail "the writer did not get 2 MiB through: $(cat "$T_WORK/dd.err")"
pid_alive "$dd_pid" || fail "the writer ended before the signal: $(cat "$T_WORK/dd.err")"
log "SIGTERM to daemon $pid of dev $id, writer running"
kill -TERM "$pid"
wait_for 30 dev_nodes_gone "$id" || fail "dev $id still exists 30 s after SIGTERM"
wait_pid_exit "$pid" 10 || fail "daemon $pid alive after its device was removed"
[ ! -e "$run_dir/$id.json" ] || fail "state file $run_dir/$id.json left behind"
wait_pid_exit "$dd_pid" 30 || fail "dd still running 30 s after the device was removed"
rc=0
wait "$dd_pid" || rc=$?
bg_forget "$dd_pid"
[ "$rc" -ne 0 ] || fail "the writer exited 0 although its device went away mid-stream"
log "the writer failed with an error (exit $rc): $(head -n 1 "$T_WORK/dd.err")"
# what completed before the signal is on the backing store
cmp -n 2M "$T_WORK/pattern" "$T_WORK/backing" ||
	fail "the first 2 MiB, written before the SIGTERM, are not in the backing file"
list_ids | grep -qx "$id" && fail "'ublk list' still shows dev $id"

# SIGINT, idle
ublk_add -t null "${T_ADD_EXTRA[@]}"
id=$DEV_ID
pid=$DEV_PID
kill -INT "$pid"
wait_for 30 dev_nodes_gone "$id" || fail "dev $id still exists 30 s after SIGINT"
wait_pid_exit "$pid" 10 || fail "daemon $pid alive after SIGINT"

# SIGTERM with recovery: kept QUIESCED, recovered, no data lost
t_writing() { [ "$(awk '{ print $5 }' "$(dev_sysfs "$id")/stat")" -gt 2 ]; }
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
