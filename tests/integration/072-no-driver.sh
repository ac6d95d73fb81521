#!/bin/bash
# Proves `ublk add` without the kernel driver fails with a useful message:
# with no ublk device present, `rmmod ublk_drv`; `ublk add -t null` then exits
# non-zero, says on stderr that /dev/ublk-control or the ublk_drv module is
# missing, and creates nothing. `modprobe ublk_drv` afterwards brings the
# driver back (the project's module if the harness loaded it; also done by the cleanup trap on any failure), and a null
# device can again be added and deleted.
. "$(dirname "$0")/lib.sh"

for c in rmmod modprobe; do
	command -v "$c" >/dev/null || skip "$c is not installed"
done
[ -e /sys/module/ublk_drv/initstate ] || skip "ublk_drv is built into the kernel, cannot be unloaded"
present=$(ublk_nodes)
[ -z "$present" ] || fail "ublk devices exist before the test: $(xargs <<<"$present")"

driver_back() {
	if [ ! -e /dev/ublk-control ]; then
		load_ublk_drv || log "loading ublk_drv failed"
		wait_for 10 test -e /dev/ublk-control || log "/dev/ublk-control did not come back"
	fi
}
on_exit driver_back

# retry a little: a daemon of the previous test may still be closing its fds
wait_for 10 rmmod ublk_drv 2>/dev/null ||
	fail "rmmod ublk_drv failed for 10 s although no ublk device exists ($(rmmod ublk_drv 2>&1); /proc/modules: $(grep -w ublk_drv /proc/modules || true))"
wait_for 10 test ! -e /dev/ublk-control || fail "/dev/ublk-control still exists after rmmod ublk_drv"

rc=0
timeout 60 ublk add -t null >"$T_WORK/out" 2>"$T_WORK/err" </dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "'ublk add -t null' succeeded without ublk_drv: $(cat "$T_WORK/out")"
[ "$rc" -ne 124 ] || fail "'ublk add -t null' hung without ublk_drv"
[ -s "$T_WORK/err" ] || fail "'ublk add -t null' exited $rc without ublk_drv but printed nothing on stderr"
grep -qE 'ublk-control|ublk_drv' "$T_WORK/err" ||
	fail "the error should name /dev/ublk-control or ublk_drv; stderr was: $(cat "$T_WORK/err")"
[ -z "$(ublk_nodes)" ] || fail "device nodes appeared: $(ublk_nodes | xargs)"
log "ok: exit $rc: $(head -n 1 "$T_WORK/err")"

load_ublk_drv || fail "loading ublk_drv failed (${UBLK_DRV_KO:-modprobe})"
wait_for 10 test -e /dev/ublk-control || fail "/dev/ublk-control did not come back after modprobe"
ublk_add -t null
ublk_del "$DEV_ID"
