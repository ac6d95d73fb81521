#!/bin/bash
# Proves fail-io recovery reports errors instead of corrupting silently: a
# loop device added with -r 1 -e 1 (ublksrv's spelling; list --json says
# "recovery":"fail-io"); fio writes sequentially (psync, 64 KiB, crc32c
# verify headers, rate-limited); the daemon is SIGKILLed mid-way:
# - the device turns FAIL_IO (not QUIESCED, not DEAD) and fio ends within
#   30 s with an I/O error (exit non-zero, error EIO in its report);
# - a read of the device fails at once instead of hanging;
# - `ublk recover -n N` brings it back LIVE; every byte fio had reported
#   written (a prefix, sequential writes at depth 1) verifies with
#   fio --verify_only, and the device takes new writes that read back.
# timeout: 400
. "$(dirname "$0")/lib.sh"

make_backing "$T_WORK/backing" 64M
ublk_add -t loop -f "$T_WORK/backing" -q 1 -d 32 -r 1 -e 1
id=$DEV_ID
dev=/dev/ublkb$id
grep -qw USER_RECOVERY_FAIL_IO <<<"$(dev_flags "$id")" ||
	fail "dev $id: flags should show USER_RECOVERY_FAIL_IO: [$(dev_flags "$id")]"
jq -e '.recovery == "fail-io"' <<<"$(dev_json "$id")" >/dev/null ||
	fail "list --json should say recovery fail-io: $(dev_json "$id")"

T_FIO_ENGINE=psync
fio_bg write "$dev" --rw=write --bs=64k --size=64M --rate=4m \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0
writes() { awk '{ print $5 }' "$(dev_sysfs "$id")/stat"; }
w0=$(writes)
t_written() { [ "$(writes)" -ge $((w0 + 50)) ]; }
wait_for 60 t_written || fail "fio did not get its writes going: $(tail -n 5 "$FIO_OUT.err")"
pid_alive "$FIO_PID" || fail "fio ended before the kill: $(tail -n 5 "$FIO_OUT.err")"
kill_daemon "$id"
wait_state "$id" FAIL_IO 30

fio_bg_wait 30
[ "$FIO_RC" -ne 0 ] || fail "fio exited 0 although the daemon was killed mid-way"
written=$(jq -r '.jobs[0].write.io_bytes' <<<"$FIO_JSON")
err=$(jq -r '.jobs[0].error' <<<"$FIO_JSON")
[ "$err" = 5 ] || fail "fio should report EIO (5), reports error '$err': $(tail -n 5 "$FIO_OUT.err")"
[ "$written" -gt 0 ] && [ "$written" -lt 67108864 ] ||
	fail "fio reports $written bytes written, expected part of 64 MiB"
log "fio ended with exit $FIO_RC, error $err (EIO) after $written bytes written"

rc=0
timeout 20 dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null || rc=$?
[ "$rc" -ne 124 ] || fail "a read of the FAIL_IO device hangs"
[ "$rc" -ne 0 ] || fail "a read of the FAIL_IO device succeeded"
log "read of the FAIL_IO device: exit $rc"

ublk_recover "$id"
# what fio reported written is intact (the same job, name and all: verify only)
fio_run write "$dev" --rw=write --bs=64k --size="$written" --verify=crc32c \
	--verify_only --verify_fatal=1 --verify_state_save=0
jq -e ".jobs[0].read.io_bytes == $written" <<<"$(sed -n '/^{/,$p' "$T_WORK/.fio-write.out")" \
	>/dev/null || fail "the verify-only pass should read $written bytes"
log "all $written bytes fio had written verify after recovery"
fio_run after "$dev" --rw=randwrite --bs=4k --size=4M --offset=32M --verify=crc32c \
	--do_verify=1 --verify_fatal=1 --verify_state_save=0
ublk_del "$id"
