#!/bin/bash
# Proves REDIRECT, -EAGAIN and CONTINUE keep data intact on loop --bpf:
# every 3rd request to the daemon (which serves it); the same with the
# daemon handing each back to BPF (-EAGAIN); requests split by BPF at 64 KiB
# boundaries (CONTINUE); all three together at depth 1 and 128 on 2 queues;
# each time crc32c verify passes and the counters show the path was taken.
# DISCARD and WRITE_ZEROES are always the daemon's: they read back as zeroes
# and count as redirected, also when the daemon hands them back first.
# timeout: 600
. "$(dirname "$0")/lib.sh"

require_bpf

# run_case "DESC" ADD_OPTS...: verify, then print "bpf redirect retry split daemon"
run_case() {
	local desc=$1
	shift
	make_backing "$T_WORK/backing" 32M
	ublk_add -t loop -f "$T_WORK/backing" "$@"
	fio_verify "/dev/ublkb$DEV_ID" --iodepth=32 --numjobs=2 --size=16M --offset_increment=16M
	sleep 1.5
	C_BPF=$(bpf_count "$DEV_ID" nr_io)
	C_REDIR=$(bpf_count "$DEV_ID" nr_redirect)
	C_RETRY=$(bpf_count "$DEV_ID" nr_retry)
	C_SPLIT=$(bpf_count "$DEV_ID" nr_split)
	C_DAEMON=$(bpf_count "$DEV_ID" nr_io_daemon)
	log "$desc: bpf $C_BPF redirected $C_REDIR retried $C_RETRY split $C_SPLIT daemon $C_DAEMON"
	ublk_del "$DEV_ID"
}

run_case redirect -q 2 --bpf --bpf_redirect 3
[ "$C_REDIR" -gt 0 ] && [ "$C_DAEMON" -eq "$C_REDIR" ] && [ "$C_RETRY" -eq 0 ] ||
	fail "redirect: expected redirected = daemon > 0, no retries"

run_case eagain -q 2 --bpf --bpf_redirect 3 --bpf_eagain
[ "$C_REDIR" -gt 0 ] && [ "$C_RETRY" -eq "$C_REDIR" ] ||
	fail "eagain: every redirected request should have come back (retried = redirected > 0)"

run_case split -q 2 --bpf --bpf_split 64k
[ "$C_SPLIT" -gt 0 ] && [ "$C_REDIR" -eq 0 ] || fail "split: expected splits and no redirects"

for d in 1 128; do
	run_case "all, depth $d" -q 2 -d "$d" --bpf --bpf_redirect 2 --bpf_eagain --bpf_split 16k
	[ "$C_REDIR" -gt 0 ] && [ "$C_RETRY" -gt 0 ] && [ "$C_SPLIT" -gt 0 ] ||
		fail "all knobs: every path should have been taken"
done

# DISCARD / WRITE_ZEROES: BPF redirects them, the daemon punches / zeroes.
# With --bpf_redirect 2 --bpf_eagain some are handed back first, and BPF
# redirects them again: they must go round to the daemon, not fail.
zero_ranges() {
	local dev=/dev/ublkb$DEV_ID i
	head -c 8M /dev/urandom >"$T_WORK/data"
	cp "$T_WORK/data" "$T_WORK/ref"
	dd if="$T_WORK/data" of="$dev" bs=1M oflag=direct status=none
	for i in 0 1 2 3; do
		blkdiscard -o $((i * 2))M -l 512K "$dev" || fail "$1: blkdiscard $i failed"
		blkdiscard -z -o $((i * 2 + 1))M -l 512K "$dev" || fail "$1: blkdiscard -z $i failed"
		dd if=/dev/zero of="$T_WORK/ref" bs=512K seek=$((i * 4)) count=1 conv=notrunc status=none
		dd if=/dev/zero of="$T_WORK/ref" bs=512K seek=$((i * 4 + 2)) count=1 conv=notrunc status=none
	done
	dd if="$dev" of="$T_WORK/back" bs=1M iflag=direct status=none
	cmp "$T_WORK/ref" "$T_WORK/back" || fail "$1: discarded / zeroed ranges read back wrong"
	sleep 1.5
	C_REDIR=$(bpf_count "$DEV_ID" nr_redirect)
	C_RETRY=$(bpf_count "$DEV_ID" nr_retry)
	log "$1: redirected $C_REDIR retried $C_RETRY"
}

make_backing "$T_WORK/backing" 8M
ublk_add -t loop -f "$T_WORK/backing" --bpf
zero_ranges "discard"
[ "$C_REDIR" -ge 8 ] || fail "discard and write-zeroes should have been redirected ($C_REDIR)"
ublk_del "$DEV_ID"

make_backing "$T_WORK/backing" 8M
ublk_add -t loop -f "$T_WORK/backing" --bpf --bpf_redirect 2 --bpf_eagain
zero_ranges "discard, handed back"
[ "$C_RETRY" -gt 0 ] || fail "discard, handed back: nothing was handed back"
ublk_del "$DEV_ID"
