#!/bin/bash
# Proves smaller daemon duties:
# - the daemon `ublk add` forks keeps none of its caller's files above
#   stderr (the file this shell opened as fd 7 is open nowhere in it);
# - a BPF queue of the io_uring_bpf_ops backend (--bpf=iouring: its loop
#   runs in the daemon's thread) whose struct_ops link is detached from
#   outside (bpftool link detach) does not spin: on the next request its daemon gives the
#   queue up (within 30 s), and the recoverable device is kept QUIESCED (not
#   deleted, not LIVE with nobody serving it); `ublk recover` serves it
#   again with BPF, the pending read completes with the right data, and
#   data written before reads back.
# timeout: 300
. "$(dirname "$0")/lib.sh"

exec 7>"$T_WORK/fd7"
ublk_add -t null
for fd in /proc/"$DEV_PID"/fd/*; do
	[ "$(readlink "$fd")" != "$T_WORK/fd7" ] ||
		fail "daemon $DEV_PID inherited its caller's fd 7 (as ${fd##*/})"
done
exec 7>&-
log "the daemon closed the caller's fds"
ublk_del "$DEV_ID"

require_bpf
command -v bpftool >/dev/null || skip "bpftool is not installed"
make_backing "$T_WORK/backing" 16M
make_pattern "$T_WORK/pattern" 4
ublk_add -t loop -f "$T_WORK/backing" -q 1 --bpf=iouring --recovery=reissue
id=$DEV_ID
pid=$DEV_PID
dd if="$T_WORK/pattern" of="/dev/ublkb$id" bs=1M oflag=direct status=none || fail "write failed"
links=$(bpftool -j link show | jq '[.[] | select(.type == "struct_ops") | .id]')
[ "$(jq length <<<"$links")" -eq 1 ] || fail "expected one struct_ops link, bpftool shows $links"
link=$(jq '.[0]' <<<"$links")
bpftool link detach id "$link" || fail "bpftool link detach id $link failed"
log "detached link $link of dev $id"
# a request wakes the queue thread, which finds the program gone
dd if="/dev/ublkb$id" of="$T_WORK/rd0" bs=4k count=1 iflag=direct status=none &
dd_pid=$!
bg_register "$dd_pid"
wait_pid_exit "$pid" 30 || fail "daemon $pid still runs 30 s after its link was detached (spinning?)"
wait_state "$id" QUIESCED 30
ublk_recover "$id"
wait_pid_exit "$dd_pid" 30 || fail "the read issued after the detach did not complete after recovery"
wait "$dd_pid" || fail "the read issued after the detach failed (reissue mode must not fail it)"
bg_forget "$dd_pid"
cmp -n 4096 "$T_WORK/pattern" "$T_WORK/rd0" || fail "the read after the detach returned wrong data"
[ "$(dev_json "$id" | jq -r .io_path)" = bpf ] || fail "recovered dev $id is not on the BPF path"
dd if="/dev/ublkb$id" of="$T_WORK/rd" bs=1M count=4 iflag=direct status=none || fail "read failed"
cmp "$T_WORK/pattern" "$T_WORK/rd" || fail "the data did not survive"
log "detached link: queue given up, device kept, recovered with BPF, data intact"
ublk_del "$id"
