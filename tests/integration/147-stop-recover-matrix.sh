#!/bin/bash
# Proves a stop of a recoverable device hands the application no error it
# should not see, whatever the recovery mode, the signal and the io path.
# For each io path (userspace, --bpf) and recovery mode (reissue, requeue,
# fail-io), one loop device (2 queues, depth 32), stopped twice while fio
# writes with crc32c verify headers: once by SIGTERM, once by kill -9, each
# time followed by `ublk recover`.
# - reissue (TERM and KILL) and requeue (TERM): fio runs across the stop and
#   the recovery (it waits, it is not failed; with SIGTERM it may also finish
#   while the daemon serves what it holds) and ends with exit 0, all 32 MiB
#   written and read back, 0 verify errors. A graceful stop must not
#   fail a request in any mode that queues I/O during the outage.
# - fail-io (TERM and KILL), requeue (KILL: the kernel fails what the dead
#   daemon held, there is no reissue): errors are allowed during the outage
#   only. fio writes sequentially at depth 1; it may end with EIO (and only
#   EIO); every byte it reported written verifies after recovery
#   (--verify_only), and writes after the recovery read back with 0 errors.
# The daemon must exit within 30 s of the SIGTERM and the device must be in
# the mode's outage state (QUIESCED or FAIL_IO), not deleted.
# timeout: 900
. "$(dirname "$0")/lib.sh"

writes() { awk '{ print $5 }' "$(dev_sysfs "$1")/stat"; }
t_writes_ge() { [ "$(writes "$1")" -ge "$2" ]; }

# stop_dev ID SIG STATE: signal the daemon, wait for it and for STATE
stop_dev() {
	local id=$1 sig=$2 state=$3 pid
	pid=$(dev_pid "$id")
	log "SIG$sig to daemon $pid of dev $id"
	kill -"$sig" "$pid"
	wait_pid_exit "$pid" 30 || fail "daemon $pid alive 30 s after SIG$sig"
	wait_state "$id" "$state" 30
}

# clean_pass ID SIG STATE: fio must not see the stop at all
clean_pass() {
	local id=$1 sig=$2 state=$3 w0
	w0=$(writes "$id")
	# no rate limit: the queues are full when the signal comes
	fio_bg "c$sig" "/dev/ublkb$id" --rw=randwrite \
		--bssplit=4k/40:16k/20:64k/20:256k/10:1m/10 --size=32M --iodepth=64 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0
	wait_for 60 t_writes_ge "$id" $((w0 + 64)) ||
		fail "fio did not get its writes going: $(tail -n 5 "$FIO_OUT.err")"
	pid_alive "$FIO_PID" || fail "fio ended before the stop: $(tail -n 5 "$FIO_OUT.err")"
	stop_dev "$id" "$sig" "$state"
	# a graceful stop serves what it holds: fio may have finished meanwhile
	if ! pid_alive "$FIO_PID"; then
		[ "$sig" = TERM ] ||
			fail "fio ended during the outage (SIG$sig): $(tail -n 5 "$FIO_OUT.err")"
		log "SIG$sig: fio finished before the device was quiesced"
	fi
	ublk_recover "$id"
	fio_bg_wait 300
	[ "$FIO_RC" -eq 0 ] ||
		fail "SIG$sig: fio exited $FIO_RC: $(grep -m 3 -i err "$FIO_OUT.err" || tail -n 3 "$FIO_OUT.err")"
	jq -e '.jobs[0].error == 0 and .jobs[0].write.io_bytes == 33554432 and .jobs[0].read.io_bytes >= 33554432' \
		<<<"$FIO_JSON" >/dev/null ||
		fail "SIG$sig: fio should write and verify 32 MiB: $(jq -c '.jobs[0] | {error, w: .write.io_bytes, r: .read.io_bytes}' <<<"$FIO_JSON")"
	log "SIG$sig: fio wrote and verified 32 MiB across stop + recover, 0 errors"
}

# outage_pass ID SIG STATE: errors allowed while the daemon is gone only
outage_pass() {
	local id=$1 sig=$2 state=$3 w0 written err dev=/dev/ublkb$1
	w0=$(writes "$id")
	T_FIO_ENGINE=psync fio_bg "o$sig" "$dev" --rw=write --bs=64k --size=16M \
		--rate=4m --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0
	wait_for 60 t_writes_ge "$id" $((w0 + 50)) ||
		fail "fio did not get its writes going: $(tail -n 5 "$FIO_OUT.err")"
	stop_dev "$id" "$sig" "$state"
	ublk_recover "$id"
	fio_bg_wait 300
	written=$(jq -r '.jobs[0].write.io_bytes' <<<"$FIO_JSON")
	err=$(jq -r '.jobs[0].error' <<<"$FIO_JSON")
	if [ "$FIO_RC" -ne 0 ]; then
		[ "$err" = 5 ] || fail "SIG$sig: fio failed with error '$err', only EIO may happen"
	else
		[ "$written" = 16777216 ] || fail "SIG$sig: fio exited 0 after $written bytes"
	fi
	[ "$written" -gt 0 ] || fail "SIG$sig: fio wrote nothing"
	# what fio reported written is intact (same job name: verify only)
	T_FIO_ENGINE=psync fio_run "o$sig" "$dev" --rw=write --bs=64k --size="$written" \
		--verify=crc32c --verify_only --verify_fatal=1 --verify_state_save=0
	fio_run "after$sig" "$dev" --rw=randwrite --bs=4k --size=4M --offset=48M \
		--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0
	log "SIG$sig: fio exit $FIO_RC (error $err), $written bytes written verify; new writes verify"
}

run_dev() {
	local path=$1 mode=$2 extra=() id state=QUIESCED sig
	[ "$path" = bpf ] && extra=(--bpf)
	[ "$mode" = fail-io ] && state=FAIL_IO
	make_backing "$T_WORK/backing" 64M
	ublk_add -t loop -f "$T_WORK/backing" -q 2 -d 32 --recovery="$mode" "${extra[@]}"
	id=$DEV_ID
	[ "$(dev_json "$id" | jq -r .io_path)" = "$path" ] ||
		fail "dev $id: io path $(dev_json "$id" | jq -r .io_path), expected $path"
	for sig in TERM KILL; do
		log "== $path, recovery $mode, SIG$sig"
		if [ "$mode" = fail-io ] || { [ "$mode" = requeue ] && [ "$sig" = KILL ]; }; then
			outage_pass "$id" "$sig" "$state"
		else
			clean_pass "$id" "$sig" "$state"
		fi
	done
	ublk_del "$id"
}

paths=(userspace)
if ublk features 2>/dev/null | grep -q '^bpf fast path: yes'; then
	paths+=(bpf)
elif printf '%s\n' 7.3 "$(uname -r | sed 's/[-+].*//')" | sort -V -C; then
	fail "kernel $(uname -r) should offer the BPF fast path"
else
	log "no BPF fast path on this kernel: the userspace path only"
fi
for path in "${paths[@]}"; do
	for mode in requeue reissue fail-io; do
		run_dev "$path" "$mode"
	done
done
