#!/bin/bash
# Proves `ublk recover` refuses what it cannot do, clearly and harmlessly:
# - a device added without recovery, daemon SIGKILLed: state DEAD; recover
#   exits 1 saying the device was created without user recovery; the device
#   is still DEAD and `ublk del` removes it;
# - a LIVE device with recovery: recover exits 1 ("LIVE"), the device stays
#   LIVE with the same daemon;
# - no such device; no -n; a QUIESCED device whose state file is missing,
#   corrupt (line and column named), has a key twice or add_args of the
#   wrong type: exit 1 naming the problem, the device stays QUIESCED and
#   recovers once the state file is back;
# - a QUIESCED device nobody recovers can still be deleted: `ublk del`
#   removes it, and a read waiting on it fails instead of hanging;
# - a loop device added with a relative backing file path recovers from
#   another working directory (the state file holds the absolute path).
. "$(dirname "$0")/lib.sh"

# expect_refused DESC PATTERN CMD...: exit 1 within 60 s, stderr matches PATTERN
expect_refused() {
	local desc=$1 pat=$2 rc=0
	shift 2
	timeout 60 "$@" >"$T_WORK/r.out" 2>"$T_WORK/r.err" </dev/null || rc=$?
	[ "$rc" -eq 1 ] || fail "$desc: '$*' exited $rc, expected 1; stderr: $(cat "$T_WORK/r.err")"
	grep -qE -- "$pat" "$T_WORK/r.err" ||
		fail "$desc: stderr should match '$pat': $(cat "$T_WORK/r.err")"
	log "ok: $desc: $(head -n 1 "$T_WORK/r.err")"
}

# without recovery
ublk_add -t null
id=$DEV_ID
kill_daemon "$id"
wait_state "$id" DEAD 30
expect_refused "recover without recovery" "without user recovery.*DEAD.*ublk del" \
	ublk recover -n "$id"
[ "$(dev_state "$id")" = DEAD ] || fail "dev $id is $(dev_state "$id") after the refused recover"
ublk_del "$id"

# LIVE
ublk_add -t null --recovery=requeue
id=$DEV_ID
pid=$DEV_PID
expect_refused "recover of a LIVE device" "LIVE" ublk recover -n "$id"
[ "$(dev_state "$id")" = LIVE ] && [ "$(dev_pid "$id")" = "$pid" ] && pid_alive "$pid" ||
	fail "dev $id changed after the refused recover: $(dev_line "$id" 2)"

expect_refused "recover of a missing device" "does not exist" ublk recover -n 999
expect_refused "recover without -n" "-n DEV_ID" ublk recover

# QUIESCED with a bad state file
state=${UBLK_RUN_DIR:-/run/ublksrvd}/$id.json
cp "$state" "$T_WORK/state.json"
kill_daemon "$id"
wait_state "$id" QUIESCED 30
rm "$state"
expect_refused "recover without state file" "state file.*missing" ublk recover -n "$id"
echo '{"dev_id": 1, "add_args": ["-t", ' >"$state"
expect_refused "recover with a corrupt state file" "state file $state: line [0-9]+ column [0-9]+" \
	ublk recover -n "$id"
# a key given twice: refused (jansson's JSON_REJECT_DUPLICATES), and list says so
sed 's/^{/{"add_args":["-t","null","--queues=7"],/' "$T_WORK/state.json" >"$state"
expect_refused "recover with a key given twice" "state file $state: line 1 column [0-9]+: duplicate object key" \
	ublk recover -n "$id"
ublk list -n "$id" >/dev/null 2>"$T_WORK/list.err" || fail "ublk list with a bad state file failed"
grep -q "duplicate object key" "$T_WORK/list.err" || fail "ublk list: $(cat "$T_WORK/list.err")"
jq '.add_args = "-t null"' "$T_WORK/state.json" >"$state"
expect_refused "state file add_args of the wrong type" "add_args: not an array" ublk recover -n "$id"
jq '.add_args = ["-t", "null", "--queues=7"]' "$T_WORK/state.json" >"$state"
expect_refused "state file options not matching the device" "queues" ublk recover -n "$id"
jq '.add_args = ["-t", "null", "--bogus"]' "$T_WORK/state.json" >"$state"
expect_refused "state file with a bad option" "bad add_args.*--bogus" ublk recover -n "$id"
[ "$(dev_state "$id")" = QUIESCED ] || fail "dev $id is $(dev_state "$id") after refused recovers"
cp "$T_WORK/state.json" "$state"
ublk_recover "$id"
ublk_del "$id"

# QUIESCED, then deleted instead of recovered
ublk_add -t null --recovery=reissue
id=$DEV_ID
kill_daemon "$id"
wait_state "$id" QUIESCED 30
dd if="/dev/ublkb$id" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null &
dd_pid=$!
bg_register "$dd_pid"
sleep 1
pid_alive "$dd_pid" || fail "a read of the QUIESCED dev $id did not wait"
ublk_del "$id"
wait_pid_exit "$dd_pid" 30 || fail "a read of the deleted QUIESCED device still hangs"
rc=0
wait "$dd_pid" || rc=$?
bg_forget "$dd_pid"
[ "$rc" -ne 0 ] || fail "a read of the QUIESCED device succeeded after its deletion"
log "QUIESCED dev $id deleted; the waiting read failed (exit $rc)"

# relative backing file, recovered from elsewhere
make_backing "$T_WORK/rel.img" 16M
(cd "$T_WORK" && ublk_add -t loop -f rel.img -r 1 -i 1)
id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$T_WORK/.add.out")
jq -e --arg f "$T_WORK/rel.img" '.add_args | index(["-f", $f]) != null' \
	"${UBLK_RUN_DIR:-/run/ublksrvd}/$id.json" >/dev/null ||
	fail "the state file should hold the absolute path: $(jq -c .add_args "${UBLK_RUN_DIR:-/run/ublksrvd}/$id.json")"
kill_daemon "$id"
wait_state "$id" QUIESCED 30
(cd / && ublk_recover "$id")
ublk_del "$id"
