#!/bin/bash
# Life cycle of a null device and the `ublk list` output contract:
# - `ublk add -t null -q 2 -d 64 --size 1G` returns with the device LIVE and its
#   nodes present, and prints exactly what `ublk list -n N` prints;
# - text format: line 1 geometry; line 2 `max rq size B daemon pid PID state S`
#   (PID = word 7 is a live ublk process, S = word 9 is LIVE); then one flags
#   line; then one `queue Q: tid TID affinity(...)` line per queue, TID being a
#   thread of PID; then a `target {JSON}` line with "name":"null";
# - `ublk list` and `ublk list -v` show the device; `ublk list --json` agrees
#   (dev_id, state, nr_queues, depth, pid, target.name, queues[].tid);
# - `ublk del -n N` removes both nodes and ends the daemon;
# - two devices added without -n (default size) get distinct kernel-chosen ids,
#   told by the first output line, and `ublk del -a` removes both.
. "$(dirname "$0")/lib.sh"

ublk_add -t null -q 2 -d 64 --size 1G
id=$DEV_ID
pid=$DEV_PID
# the per-queue "io:" counter lines move with every request (udev probes
# the new disk), everything else must be the same
text=$(dev_list "$id" | grep -v $'^\t\tio: ')
[ "$(grep -v $'^\t\tio: ' <<<"$DEV_OUT")" = "$text" ] || fail "output of 'ublk add' differs from 'ublk list -n $id':
--- add:
$DEV_OUT
--- list -n $id:
$text"
log "ublk list -n $id:"$'\n'"$text"

# line 1: geometry
line1=$(sed -n 1p <<<"$text")
re='^dev id ([0-9]+): nr_hw_queues ([0-9]+) queue_depth ([0-9]+) block size ([0-9]+) dev_capacity ([0-9]+)[[:space:]]*$'
[[ $line1 =~ $re ]] || fail "line 1 should match '$re', is '$line1'"
bs=${BASH_REMATCH[4]}
case $bs in
512 | 1024 | 2048 | 4096) ;;
*) fail "line 1: block size should be 512..4096, is '$bs'" ;;
esac
check_geometry "$id" 2 64 2097152

# line 2: max rq size, daemon pid (word 7), state (word 9)
line2=$(sed -n 2p <<<"$text")
re='^[[:space:]]+max rq size ([0-9]+) daemon pid ([0-9]+) state ([A-Z_]+)[[:space:]]*$'
[[ $line2 =~ $re ]] || fail "line 2 should match '$re', is '$line2'"
[ "${BASH_REMATCH[1]}" -gt 0 ] || fail "line 2: max rq size is 0"
[ "$(awk '{ print $7 }' <<<"$line2")" = "$pid" ] || fail "line 2: word 7 is not the pid"
[ "$(awk '{ print $9 }' <<<"$line2")" = LIVE ] || fail "line 2: word 9 should be LIVE: '$line2'"
pid_alive "$pid" || fail "daemon pid $pid from line 2 is not a running process"
comm=$(cat "/proc/$pid/comm")
exe=$(readlink "/proc/$pid/exe" || true)
ublk_exe=$(readlink -f "$(command -v ublk)")
[[ $comm == ublk || $comm == lt-ublk || $exe == "$ublk_exe" ]] ||
	fail "daemon pid $pid is not a ublk process: comm '$comm', exe '$exe' (ublk is $ublk_exe)"

# flags line, queue lines, target line, in that order
flags_ln=$(grep -nE '^[[:space:]]+flags 0x[0-9a-fA-F]+ +\[.*\][[:space:]]*$' <<<"$text" | cut -d: -f1 | xargs)
[[ $flags_ln =~ ^[0-9]+$ ]] || fail "expected exactly one 'flags 0x... [ ... ]' line, found at lines '$flags_ln'"
[ "$flags_ln" -gt 2 ] || fail "flags line should come after line 2"
nq=$(grep -cE '^[[:space:]]+queue [0-9]+:' <<<"$text" || true)
[ "$nq" -eq 2 ] || fail "expected 2 queue lines, found $nq"
prev=$flags_ln
tids=()
for q in 0 1; do
	re="^[[:space:]]+queue $q: tid ([0-9]+) affinity\\([^)]*\\)[[:space:]]*\$"
	ln=$(grep -nE "$re" <<<"$text" | cut -d: -f1 | xargs)
	[[ $ln =~ ^[0-9]+$ ]] || fail "expected one line matching '$re'"
	[ "$ln" -gt "$prev" ] || fail "queue $q line (line $ln) is out of order"
	prev=$ln
	line=$(sed -n "${ln}p" <<<"$text")
	[[ $line =~ $re ]]
	tid=${BASH_REMATCH[1]}
	[ -d "/proc/$pid/task/$tid" ] || fail "queue $q: tid $tid is not a thread of daemon pid $pid"
	tids+=("$tid")
done
target_ln=$(grep -nE '^[[:space:]]*target \{' <<<"$text" | cut -d: -f1 | xargs)
[[ $target_ln =~ ^[0-9]+$ ]] || fail "expected exactly one 'target {JSON}' line"
[ "$target_ln" -gt "$prev" ] || fail "target line should come after the queue lines"
target=$(sed -n "${target_ln}p" <<<"$text" | sed -E 's/^[[:space:]]*target //')
jq -e '.name == "null"' <<<"$target" >/dev/null ||
	fail "target JSON should be valid with \"name\":\"null\": '$target'"

# plain and verbose list
ids=$(list_ids)
grep -qx "$id" <<<"$ids" || fail "'ublk list' does not show dev $id (shows: $(xargs <<<"$ids"))"
verbose=$(ublk list -v) || fail "'ublk list -v' failed"
grep -q "^dev id $id:" <<<"$verbose" || fail "'ublk list -v' does not show dev $id"

# json
j=$(dev_json "$id")
[ -n "$j" ] || fail "'ublk list --json' has no object with dev_id $id"
jcheck() {
	jq -e --arg pid "$pid" "$1" <<<"$j" >/dev/null || fail "list --json: expected $1, got $j"
}
jcheck '.state == "LIVE"'
jcheck '(.nr_queues | tostring) == "2"'
jcheck '(.depth | tostring) == "64"'
# shellcheck disable=SC2016 # $pid is a jq variable
jcheck '(.pid | tostring) == $pid'
jcheck '.target.name == "null"'
jcheck '(.queues | length) == 2'
jtids=$(jq -r '.queues[].tid' <<<"$j" | xargs)
[ "$jtids" = "${tids[*]}" ] || fail "list --json queue tids [$jtids] differ from the text [${tids[*]}]"

ublk_del "$id"

# two devices with kernel-chosen ids, removed by del -a
ublk_add -t null
id_a=$DEV_ID
pid_a=$DEV_PID
sectors=$(dev_line "$id_a" 1 | awk '{ print $12 }')
[ "$sectors" -gt 0 ] || fail "null device without --size has dev_capacity '$sectors'"
log "default null size: $sectors sectors"
ublk_add -t null
id_b=$DEV_ID
pid_b=$DEV_PID
[ "$id_a" != "$id_b" ] || fail "two devices got the same id $id_a"
rc=0
timeout 60 ublk del -a >/dev/null 2>"$T_WORK/err" || rc=$?
[ "$rc" -eq 0 ] || fail "'ublk del -a' exited $rc: $(cat "$T_WORK/err")"
assert_dev_deleted "$id_a" "$pid_a"
assert_dev_deleted "$id_b" "$pid_b"
