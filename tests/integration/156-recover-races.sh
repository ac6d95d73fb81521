#!/bin/bash
# Proves recovery survives the races around it, on a loop device with
# --recovery=reissue holding 4 MiB of random data, its daemon killed:
# - two `ublk recover -n N` at once: exactly one succeeds, the other exits
#   non-zero with a message, and the device is LIVE under one daemon;
# - a recovering daemon killed at once, and after 0.1, 0.3 and 1 s (during
#   or just after its recovery): each time the device is left QUIESCED or
#   LIVE under that (dead) daemon until the kernel notices, never deleted,
#   and a later `ublk recover` brings it back;
# every time the data reads back intact.
# timeout: 400
. "$(dirname "$0")/lib.sh"

make_backing "$T_WORK/backing" 16M
make_pattern "$T_WORK/pattern" 4
ublk_add -t loop -f "$T_WORK/backing" -q 2 --recovery=reissue "${T_ADD_EXTRA[@]}"
id=$DEV_ID
dd if="$T_WORK/pattern" of="/dev/ublkb$id" bs=1M oflag=direct status=none || fail "write failed"
check_data() {
	dd if="/dev/ublkb$id" of="$T_WORK/rd" bs=1M count=4 iflag=direct status=none ||
		fail "reading dev $id failed"
	cmp "$T_WORK/pattern" "$T_WORK/rd" || fail "dev $id: data damaged ($1)"
}

kill_daemon "$id"
wait_state "$id" QUIESCED 30
ublk recover -n "$id" >"$T_WORK/r1.out" 2>"$T_WORK/r1.err" </dev/null &
r1=$!
ublk recover -n "$id" >"$T_WORK/r2.out" 2>"$T_WORK/r2.err" </dev/null &
r2=$!
bg_register "$r1"
bg_register "$r2"
rc1=0 rc2=0
wait "$r1" || rc1=$?
wait "$r2" || rc2=$?
bg_forget "$r1"
bg_forget "$r2"
[ $((rc1 == 0)) -ne $((rc2 == 0)) ] ||
	fail "two concurrent recovers: exits $rc1 and $rc2, expected one success: $(cat "$T_WORK/r1.err" "$T_WORK/r2.err")"
loser=$T_WORK/r1.err
[ "$rc1" -eq 0 ] && loser=$T_WORK/r2.err
[ -s "$loser" ] || fail "the recover that lost said nothing"
wait_state "$id" LIVE 10
[ "$(pgrep -xc 'ublk|lt-ublk')" -eq 1 ] || fail "more than one daemon: $(pgrep -xa 'ublk|lt-ublk')"
log "concurrent recovers: one won, the other said: $(head -n 1 "$loser")"
check_data "concurrent recovers"

for delay in 0 0.1 0.3 1; do
	kill_daemon "$id"
	wait_state "$id" QUIESCED 30
	ublk recover -n "$id" --foreground >/dev/null 2>"$T_WORK/rf.err" </dev/null &
	rf=$!
	bg_register "$rf"
	sleep "$delay"
	kill -KILL "$rf" 2>/dev/null || true
	wait "$rf" 2>/dev/null || true
	bg_forget "$rf"
	list_ids | grep -qx "$id" || fail "dev $id is gone after a recovery killed after $delay s"
	# QUIESCED, or LIVE until the kernel has seen the daemon go
	wait_state "$id" QUIESCED 30
	ublk_recover "$id"
	check_data "recovery killed after $delay s"
	log "recovery killed after $delay s: device kept, recovered again"
done
ublk_del "$id"
