#!/bin/bash
# Proves a queue failure does not delete a recoverable device. The daemon of
# a 2-queue loop device with --recovery=reissue is made to fail the queue
# that first serves 300 requests (UBLK_TEST_QUEUE_FAIL_AFTER, fault
# injection: the queue gives up as on an io_uring_enter error) while fio
# writes with crc32c verify headers:
# - the daemon logs why ("queue N: injected failure", then "a queue failed:
#   leaving the device for recovery") and exits;
# - the device is QUIESCED, not deleted, and fio waits;
# - `ublk recover` serves it again and fio ends with exit 0, all 16 MiB
#   written and read back, 0 verify errors.
# On the userspace path and on the BPF path (there, every 8th request goes
# to the daemon, which is where the failure is injected).
# A device without recovery is still stopped and deleted by such a failure.
# timeout: 600
. "$(dirname "$0")/lib.sh"

writes() { awk '{ print $5 }' "$(dev_sysfs "$1")/stat"; }
t_writes_ge() { [ "$(writes "$1")" -ge "$2" ]; }
t_live() { [ -b "/dev/ublkb$1" ] && [ "$(dev_state "$1")" = LIVE ]; }
t_log_has() { grep -q -- "$2" "$1"; }

# serve_fg LOG ARGS...: `ublk add ARGS --foreground` with queue 0 failing
# after 300 requests; sets FG_PID, DEV_ID (the first free id: 0)
serve_fg() {
	local log=$1
	shift
	UBLK_TEST_QUEUE_FAIL_AFTER=300 ublk add -n 0 "$@" --foreground >"$log" 2>&1 &
	FG_PID=$!
	bg_register "$FG_PID"
	DEV_ID=0
	wait_for 60 t_live 0 || fail "ublk add $* --foreground: no LIVE dev 0: $(cat "$log")"
}

run_path() {
	local path=$1 extra=() log=$T_WORK/daemon-$1.log id
	[ "$path" = bpf ] && extra=(--bpf --bpf_redirect 8)
	make_backing "$T_WORK/backing" 64M
	serve_fg "$log" -t loop -f "$T_WORK/backing" -q 2 -d 32 --recovery=reissue "${extra[@]}"
	id=$DEV_ID
	[ "$(dev_json "$id" | jq -r .io_path)" = "$path" ] || fail "dev $id is not on the $path path"
	fio_bg "$path" "/dev/ublkb$id" --rw=randwrite --bssplit=4k/50:64k/30:256k/20 \
		--size=16M --iodepth=32 --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--verify_state_save=0
	wait_pid_exit "$FG_PID" 120 || fail "the daemon did not exit after the injected failure: $(cat "$log")"
	bg_forget "$FG_PID"
	t_log_has "$log" "queue [0-9]*: injected failure" ||
		fail "the daemon did not fail as injected: $(cat "$log")"
	t_log_has "$log" "a queue failed: leaving the device for recovery" ||
		fail "the daemon does not say why it left the device: $(cat "$log")"
	wait_state "$id" QUIESCED 30
	pid_alive "$FIO_PID" || fail "fio ended during the outage: $(tail -n 5 "$FIO_OUT.err")"
	log "$path: $(grep -m 1 'a queue failed' "$log")"
	ublk_recover "$id"
	fio_bg_wait 300
	[ "$FIO_RC" -eq 0 ] || fail "fio exited $FIO_RC: $(tail -n 5 "$FIO_OUT.err")"
	jq -e '.jobs[0].error == 0 and .jobs[0].write.io_bytes == 16777216 and .jobs[0].read.io_bytes >= 16777216' \
		<<<"$FIO_JSON" >/dev/null ||
		fail "fio should write and verify 16 MiB: $(jq -c '.jobs[0] | {error, w: .write.io_bytes, r: .read.io_bytes}' <<<"$FIO_JSON")"
	log "$path: device kept after the queue failure, recovered, 16 MiB verified"
	ublk_del "$id"
}

run_path userspace
if ublk features 2>/dev/null | grep -q '^bpf fast path: yes'; then
	run_path bpf
else
	log "no BPF fast path on this kernel: the userspace path only"
fi

# no recovery: the failure stops and deletes the device
log_nr=$T_WORK/daemon-norec.log
serve_fg "$log_nr" -t null -q 1
dd if=/dev/zero of=/dev/ublkb0 bs=4k count=2000 oflag=direct status=none 2>/dev/null || true
wait_pid_exit "$FG_PID" 60 || fail "the daemon of a device without recovery did not exit"
bg_forget "$FG_PID"
wait_for 10 dev_nodes_gone 0 || fail "the device without recovery was not deleted"
t_log_has "$log_nr" "a queue failed: stopping the device" ||
	fail "no reason logged: $(cat "$log_nr")"
log "without recovery the failed device is stopped and deleted"
