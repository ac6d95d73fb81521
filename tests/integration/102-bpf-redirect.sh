#!/bin/bash
# Proves REDIRECT, -EAGAIN and CONTINUE keep data intact on loop --bpf:
# every 3rd request to the daemon (which serves it); the same with the
# daemon handing each back to BPF (-EAGAIN); requests split by BPF at 64 KiB
# boundaries (CONTINUE); all three together at depth 1 and 128 on 2 queues;
# each time crc32c verify passes and the counters show the path was taken.
# DISCARD and WRITE_ZEROES are always the daemon's: they read back as zeroes
# and count as redirected.
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

# DISCARD / WRITE_ZEROES: BPF redirects them, the daemon punches / zeroes
make_backing "$T_WORK/backing" 8M
ublk_add -t loop -f "$T_WORK/backing" --bpf
dev=/dev/ublkb$DEV_ID
head -c 8M /dev/urandom >"$T_WORK/data"
dd if="$T_WORK/data" of="$dev" bs=1M oflag=direct status=none
blkdiscard -o 1M -l 1M "$dev"
blkdiscard -z -o 4M -l 1M "$dev"
dd if="$dev" of="$T_WORK/back" bs=1M iflag=direct status=none
cmp -n 1M "$T_WORK/data" "$T_WORK/back" || fail "data before the discarded range changed"
cmp -s <(head -c 1M /dev/zero) <(dd if="$T_WORK/back" bs=1M skip=1 count=1 status=none) ||
	fail "the discarded range does not read back as zeroes"
cmp -s <(head -c 1M /dev/zero) <(dd if="$T_WORK/back" bs=1M skip=4 count=1 status=none) ||
	fail "the write-zeroes range does not read back as zeroes"
cmp -s <(dd if="$T_WORK/data" bs=1M skip=5 status=none) <(dd if="$T_WORK/back" bs=1M skip=5 status=none) ||
	fail "data after the zeroed range changed"
sleep 1.5
redir=$(bpf_count "$DEV_ID" nr_redirect)
[ "$redir" -ge 2 ] || fail "discard and write-zeroes should have been redirected ($redir)"
ublk_del "$DEV_ID"
