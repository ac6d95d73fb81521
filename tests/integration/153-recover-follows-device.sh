#!/bin/bash
# Proves `ublk recover` serves a device the way it was created, not the way
# a probe of the recovering daemon would choose. A daemon cannot use the BPF
# fast path when it cannot read the kernel's BTF: commands run with
# /sys/kernel/btf/vmlinux hidden (a bind mount of /dev/null in a mount
# namespace of their own) stand for such a daemon.
# 1. --bpf=auto added without BPF (userspace path, copy mode), recovered by
#    a daemon that could use BPF: recovered on the userspace path, copy mode.
# 2. --bpf=auto added with BPF (zero copy with io_uring_bpf_ops, copy with
#    the seed backend), recovered by a daemon that cannot use BPF: recovered
#    on the userspace path in that data mode.
# 3. --bpf=on added with BPF, recovered by a daemon that cannot use BPF:
#    refused with a line saying the device needs the BPF fast path; the
#    device stays QUIESCED, and a daemon that can use BPF recovers it.
# Each time data written before the kill reads back after the recovery.
# timeout: 400
. "$(dirname "$0")/lib.sh"

require_bpf
[ -r /sys/kernel/btf/vmlinux ] || skip "no /sys/kernel/btf/vmlinux"
command -v unshare >/dev/null || skip "unshare is not installed"

# no_btf CMD...: CMD with the kernel's BTF hidden
no_btf() {
	unshare -m -- sh -c 'mount --bind /dev/null /sys/kernel/btf/vmlinux && exec "$@"' sh "$@"
}
no_btf true || skip "cannot hide /sys/kernel/btf/vmlinux in a mount namespace"

io_path() { dev_json "$1" | jq -r .io_path; }
data_mode() { dev_json "$1" | jq -r .data_mode; }

# add_no_btf ARGS...: ublk add ARGS without BTF; sets DEV_ID
add_no_btf() {
	local out=$T_WORK/.add.out
	no_btf ublk add "$@" >"$out" 2>"$T_WORK/.add.err" </dev/null ||
		fail "ublk add $* (no BTF) failed: $(cat "$T_WORK/.add.err")"
	[[ $(head -n 1 "$out") =~ ^dev\ id\ ([0-9]+): ]] || fail "ublk add $*: $(cat "$out")"
	DEV_ID=${BASH_REMATCH[1]}
	wait_state "$DEV_ID" LIVE 10
}

# recover_no_btf ID: ublk recover without BTF must succeed
recover_no_btf() {
	no_btf ublk recover -n "$1" >"$T_WORK/.rec.out" 2>"$T_WORK/.rec.err" </dev/null ||
		fail "ublk recover -n $1 (no BTF) failed: $(cat "$T_WORK/.rec.err")"
	wait_state "$1" LIVE 10
}

# write_then_kill ID: a pattern on the device, then kill -9 of its daemon
write_then_kill() {
	dd if="$T_WORK/pattern" of="/dev/ublkb$1" bs=1M oflag=direct status=none ||
		fail "writing dev $1 failed"
	kill_daemon "$1"
	wait_state "$1" QUIESCED 30
}

check_data() {
	dd if="/dev/ublkb$1" of="$T_WORK/rd" bs=1M count=8 iflag=direct status=none ||
		fail "reading dev $1 failed"
	cmp "$T_WORK/pattern" "$T_WORK/rd" || fail "dev $1: the data did not survive the recovery"
}

make_pattern "$T_WORK/pattern" 8
make_backing "$T_WORK/backing" 16M

log "1: added without BPF, recovered with BPF available"
add_no_btf -t loop -f "$T_WORK/backing" --bpf=auto --recovery=reissue
id=$DEV_ID
[ "$(io_path "$id")" = userspace ] || fail "without BTF the device should be on the userspace path"
write_then_kill "$id"
ublk_recover "$id"
[ "$(io_path "$id")/$(data_mode "$id")" = userspace/copy ] ||
	fail "recovered as $(io_path "$id")/$(data_mode "$id"), created as userspace/copy"
check_data "$id"
ublk_del "$id"

log "2: added with BPF (auto), recovered without"
ublk_add -t loop -f "$T_WORK/backing" --bpf=auto --recovery=reissue
id=$DEV_ID
[ "$(io_path "$id")" = bpf ] || fail "the device should be on the BPF path"
# zero copy with io_uring_bpf_ops; the seed backend keeps copy
mode=$(bpf_data_mode)
[ "$(data_mode "$id")" = "$mode" ] || fail "--bpf=auto gave data mode $(data_mode "$id"), not $mode"
write_then_kill "$id"
recover_no_btf "$id"
[ "$(io_path "$id")/$(data_mode "$id")" = "userspace/$mode" ] ||
	fail "recovered as $(io_path "$id")/$(data_mode "$id"), expected userspace/$mode"
check_data "$id"
ublk_del "$id"

log "3: added with --bpf=on, recovery without BPF refused"
ublk_add -t loop -f "$T_WORK/backing" --bpf=on --recovery=reissue
id=$DEV_ID
write_then_kill "$id"
rc=0
no_btf ublk recover -n "$id" >/dev/null 2>"$T_WORK/rec.err" </dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "recovery of a --bpf=on device without BPF succeeded"
grep -q "^ublk recover: .*--bpf=on.*BPF" "$T_WORK/rec.err" ||
	fail "the refusal should say the device needs BPF (--bpf=on): $(cat "$T_WORK/rec.err")"
log "refused: $(grep -m 1 'bpf=on' "$T_WORK/rec.err")"
[ "$(dev_state "$id")" = QUIESCED ] || fail "after the refused recovery dev $id is $(dev_state "$id")"
ublk_recover "$id"
[ "$(io_path "$id")" = bpf ] || fail "recovered with BPF available: io path $(io_path "$id")"
check_data "$id"
ublk_del "$id"
