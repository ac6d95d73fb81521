#!/bin/bash
# Proves user recovery with reissue loses no data: a 2-queue loop device added
# with --recovery=reissue (flags show USER_RECOVERY and USER_RECOVERY_REISSUE,
# list --json says "recovery":"reissue"); fio writes 64 MiB at random (4 KiB
# to 1 MiB, rate-limited so that the write phase lasts) with crc32c verify
# headers; in the middle of the write phase the daemon is SIGKILLed:
# - the device turns QUIESCED, `ublk list` still shows it with the state
#   file's target line, `ublk list --json` agrees; fio is blocked, not failed;
# - `ublk recover -n N` brings it back LIVE under a new daemon pid;
# - fio finishes its writes and its verify phase with exit 0, no job error,
#   all 64 MiB written and read back (0 verify errors: verify_fatal is on).
# The same again with a kill while fio reads back to verify: there the job
# verifies as it goes (verify_backlog), the reads are spread over the
# rate-limited write phase. After each recovery the io path (userspace or
# bpf) is the one the device had.
# timeout: 600
. "$(dirname "$0")/lib.sh"

make_backing "$T_WORK/backing" 64M
ublk_add -t loop -f "$T_WORK/backing" -q 2 -d 64 --recovery=reissue "${T_ADD_EXTRA[@]}"
id=$DEV_ID
flags=$(dev_flags "$id")
grep -qw USER_RECOVERY <<<"$flags" && grep -qw USER_RECOVERY_REISSUE <<<"$flags" ||
	fail "dev $id: flags should show USER_RECOVERY USER_RECOVERY_REISSUE: [$flags]"
jq -e '.recovery == "reissue"' <<<"$(dev_json "$id")" >/dev/null ||
	fail "list --json should say recovery reissue: $(dev_json "$id")"
io_path=$(dev_json "$id" | jq -r .io_path)

# completed reads ($2 = 1) or writes ($2 = 5) of dev $1 reach $3
dev_stat_ge() { [ "$(awk -v f="$2" '{ print $f }' "$(dev_sysfs "$1")/stat")" -ge "$3" ]; }

# one pass: kill during fio's phase $1 (write|verify), recover, fio completes
run_pass() {
	local phase=$1 j r0 w0 backlog=()
	r0=$(awk '{ print $1 }' "$(dev_sysfs "$id")/stat")
	w0=$(awk '{ print $5 }' "$(dev_sysfs "$id")/stat")
	[ "$phase" = verify ] && backlog=(--verify_backlog=16)
	# 64 MiB at 4 MiB/s: the write phase lasts ~16 s
	fio_bg "$phase" "/dev/ublkb$id" --rw=randwrite \
		--bssplit=4k/40:16k/20:64k/20:256k/10:1m/10 --size=64M --iodepth=16 \
		--rate=4m,4m --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--verify_state_save=0 "${backlog[@]}"
	if [ "$phase" = write ]; then
		wait_for 60 dev_stat_ge "$id" 5 $((w0 + 100)) ||
			fail "fio did not get its writes going: $(tail -n 5 "$FIO_OUT.err")"
	else
		wait_for 60 dev_stat_ge "$id" 1 $((r0 + 100)) ||
			fail "fio did not get to its verify phase: $(tail -n 5 "$FIO_OUT.err")"
	fi
	pid_alive "$FIO_PID" || fail "fio ended before the kill: $(tail -n 5 "$FIO_OUT.err")"
	kill_daemon "$id"
	wait_state "$id" QUIESCED 30
	list_ids | grep -qx "$id" || fail "'ublk list' does not show the QUIESCED dev $id"
	dev_list "$id" | grep -q '^[[:space:]]*target {"name":"loop"' ||
		fail "'ublk list -n $id' lost the target line: $(dev_list "$id")"
	j=$(dev_json "$id")
	jq -e '.state == "QUIESCED" and .target.name == "loop" and .recovery == "reissue"' \
		<<<"$j" >/dev/null || fail "list --json for QUIESCED dev $id: $j"
	sleep 2
	pid_alive "$FIO_PID" || fail "fio ended while the device was QUIESCED: $(tail -n 5 "$FIO_OUT.err")"
	ublk_recover "$id"
	# the new daemon serves the same way (with --bpf: programs on new rings)
	[ "$(dev_json "$id" | jq -r .io_path)" = "$io_path" ] ||
		fail "io path after recovery: $(dev_json "$id" | jq -r .io_path), before: $io_path"
	fio_bg_wait 240
	[ "$FIO_RC" -eq 0 ] || fail "fio exited $FIO_RC after recovery: $(tail -n 5 "$FIO_OUT.err")"
	jq -e '[.jobs[].error] | all(. == 0)' <<<"$FIO_JSON" >/dev/null ||
		fail "fio reported a job error: $(jq -c '[.jobs[] | {error}]' <<<"$FIO_JSON")"
	jq -e '.jobs[0].write.io_bytes == 67108864 and .jobs[0].read.io_bytes >= 67108864' \
		<<<"$FIO_JSON" >/dev/null ||
		fail "fio should write and verify 64 MiB: $(jq -c '.jobs[0] | {w: .write.io_bytes, r: .read.io_bytes}' <<<"$FIO_JSON")"
	log "kill in the $phase phase: fio wrote and verified 64 MiB, 0 errors"
}

run_pass write
run_pass verify
ublk_del "$id"
