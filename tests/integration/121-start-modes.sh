#!/bin/bash
# Proves `ublk start --config FILE` (what ublk@.service runs) handles every
# state the device can be in, serving in the foreground each time:
# - no device with the file's id: it adds one (LIVE, the file's geometry);
# - LIVE, served by a running daemon: it refuses (exit 1, "LIVE"), and the
#   device and its daemon are untouched;
# - DEAD (daemon killed, no recovery in the file): it deletes the dead
#   device and adds a new one;
# - QUIESCED (recovery=requeue, daemon killed): it recovers the device with
#   the state file's options, the data written before survives;
# - SIGTERM to a `start` daemon with recovery keeps the device QUIESCED, and
#   the next `start` recovers it.
. "$(dirname "$0")/lib.sh"

cfg=$T_WORK/s.ini
make_backing "$T_WORK/backing" 16M
write_cfg() {
	printf '[device]\ntarget = loop\nfile = %s\nid = 41\nqueues = 2\n%s\n' \
		"$T_WORK/backing" "$1" >"$cfg"
}

# start_bg: `ublk start` in the background; waits for LIVE; SVC_PID
SVC_PID=
start_bg() {
	ublk start --config "$cfg" >"$T_WORK/start.out" 2>"$T_WORK/start.err" </dev/null &
	SVC_PID=$!
	bg_register "$SVC_PID"
	# not dev_state: that fails the test while the device is being replaced
	t_served() {
		local l
		l=$(ublk list -n 41 2>/dev/null | awk 'NR == 2 { print $7, $9 }') || return 1
		[ "$l" = "$SVC_PID LIVE" ] && [ -b /dev/ublkb41 ]
	}
	wait_for 60 t_served || fail "ublk start did not serve dev 41: $(cat "$T_WORK/start.err")"
}
reap() {
	wait_pid_exit "$SVC_PID" 30 || fail "ublk start $SVC_PID still running"
	wait "$SVC_PID" 2>/dev/null || true
	bg_forget "$SVC_PID"
}

write_cfg ""
start_bg
check_geometry 41 2 128 32768
log "start added dev 41 (pid $SVC_PID)"

rc=0
timeout 60 ublk start --config "$cfg" >/dev/null 2>"$T_WORK/e.err" </dev/null || rc=$?
[ "$rc" -eq 1 ] && grep -q LIVE "$T_WORK/e.err" ||
	fail "start of a LIVE device should fail saying LIVE: exit $rc: $(cat "$T_WORK/e.err")"
[ "$(dev_pid 41)" = "$SVC_PID" ] && pid_alive "$SVC_PID" || fail "the refused start disturbed dev 41"
log "ok: start refused for the LIVE device: $(cat "$T_WORK/e.err")"

kill -KILL "$SVC_PID"
reap
wait_state 41 DEAD 30
start_bg
grep -q "DEAD without recovery: deleting it" "$T_WORK/start.err" ||
	fail "start should say it replaces the DEAD device: $(cat "$T_WORK/start.err")"
log "start replaced the DEAD dev 41 (pid $SVC_PID)"
ublk_del 41
reap

write_cfg "recovery = requeue"
start_bg
make_pattern "$T_WORK/pattern" 2
dd if="$T_WORK/pattern" of=/dev/ublkb41 bs=1M oflag=direct status=none
kill -KILL "$SVC_PID"
reap
wait_state 41 QUIESCED 30
start_bg
cmp -n 2M "$T_WORK/pattern" /dev/ublkb41 || fail "data written before the crash is gone"
log "start recovered the QUIESCED dev 41 (pid $SVC_PID), data intact"

kill -TERM "$SVC_PID"
reap
wait_state 41 QUIESCED 30
start_bg
log "after SIGTERM the device was kept, start recovered it (pid $SVC_PID)"
ublk_del 41
reap
