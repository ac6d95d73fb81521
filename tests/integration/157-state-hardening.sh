#!/bin/bash
# Proves the state files are written and trusted with care:
# - a recoverable device whose state cannot be recorded (its directory
#   cannot be created, or is writable by others) is not added: `ublk add
#   --recovery=reissue` fails with one line and leaves nothing behind; a
#   device without recovery is still added (its state is a convenience);
# - the state file is written without a fixed temporary name: a symlink
#   planted at N.json.tmp is not followed (its target stays untouched);
# - `ublk recover` refuses a backing file that was replaced (same name,
#   another inode: cp + mv) with a message saying so, and leaves the device
#   QUIESCED; it recovers once the original file is back in place.
# timeout: 300
. "$(dirname "$0")/lib.sh"

run_dir=${UBLK_RUN_DIR:-/run/ublksrvd}

UBLK_RUN_DIR=$T_WORK/missing/dir expect_fail "recoverable device without a state file" \
	ublk add -t null --recovery=reissue
grep -q "cannot record the state" "$T_WORK/.xf.err" ||
	fail "the refusal should say the state cannot be recorded: $(cat "$T_WORK/.xf.err")"
mkdir -m 0777 "$T_WORK/open"
chmod 0777 "$T_WORK/open"
UBLK_RUN_DIR=$T_WORK/open expect_fail "recoverable device, state directory open to all" \
	ublk add -t null --recovery=reissue
UBLK_RUN_DIR=$T_WORK/missing/dir ublk_add -t null
log "without recovery the device is added without a state file"
ublk_del "$DEV_ID"

# a planted symlink at the old fixed temporary name
mkdir -p "$run_dir"
echo untouched >"$T_WORK/victim"
ublk_add -t null -n 5 --recovery=reissue
ln -sf "$T_WORK/victim" "$run_dir/5.json.tmp"
on_exit "rm -f $run_dir/5.json.tmp"
dd if=/dev/zero of=/dev/ublkb5 bs=4k count=1 oflag=direct status=none
sleep 2.5 # the daemon rewrites its state file when its counters change
[ "$(cat "$T_WORK/victim")" = untouched ] || fail "the state was written through a planted symlink"
jq -e '.dev_id == 5' "$run_dir/5.json" >/dev/null || fail "no valid state file for dev 5"
ublk_del 5

# a replaced backing file
make_backing "$T_WORK/backing" 16M
make_pattern "$T_WORK/pattern" 4
ublk_add -t loop -f "$T_WORK/backing" --recovery=reissue
id=$DEV_ID
dd if="$T_WORK/pattern" of="/dev/ublkb$id" bs=1M oflag=direct status=none || fail "write failed"
kill_daemon "$id"
wait_state "$id" QUIESCED 30
mv "$T_WORK/backing" "$T_WORK/backing.orig"
cp "$T_WORK/backing.orig" "$T_WORK/backing"
rc=0
ublk recover -n "$id" >/dev/null 2>"$T_WORK/rec.err" </dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "recover accepted a replaced backing file"
grep -q "replaced" "$T_WORK/rec.err" || fail "the refusal should say the file was replaced: $(cat "$T_WORK/rec.err")"
log "refused: $(head -n 1 "$T_WORK/rec.err")"
[ "$(dev_state "$id")" = QUIESCED ] || fail "dev $id is $(dev_state "$id") after the refusal"
mv "$T_WORK/backing.orig" "$T_WORK/backing"
ublk_recover "$id"
dd if="/dev/ublkb$id" of="$T_WORK/rd" bs=1M count=4 iflag=direct status=none || fail "read failed"
cmp "$T_WORK/pattern" "$T_WORK/rd" || fail "the data did not survive"
ublk_del "$id"
