#!/bin/bash
# Proves `ublk add -t null --bpf` serves I/O in the kernel: the list shows the
# BPF path, fio random reads and writes succeed, and the program's counters
# account for at least every request fio made while the daemon served none;
# with --bpf_redirect 2 half of them reach the daemon and still complete;
# --bpf=auto picks the BPF path on this kernel.
. "$(dirname "$0")/lib.sh"

require_bpf

ublk_add -t null --size 256M --bpf
id=$DEV_ID
grep -q "io path bpf ($(bpf_backend)) data mode $(bpf_data_mode)" <<<"$DEV_OUT" ||
	fail "ublk add --bpf should report the BPF io path: $DEV_OUT"
[ "$(dev_json "$id" | jq -r .io_path)" = bpf ] || fail "list --json io_path is not bpf"

fio_run rr "/dev/ublkb$id" --rw=randrw --bs=4k --iodepth=32 --runtime=3 --time_based
assert_bpf_served_all "$id" rr
# without --bpf_poll_us the loop sleeps as soon as it runs out of work
[ "$(bpf_count "$id" nr_polls)" -eq 0 ] || fail "nr_polls is not 0 without --bpf_poll_us"
ublk_del "$id"

ublk_add -t null --size 256M --bpf --bpf_redirect 2 -q 2
id=$DEV_ID
fio_run rr2 "/dev/ublkb$id" --rw=randrw --bs=4k --iodepth=16 --numjobs=2 --runtime=3 --time_based
ios=$(fio_ios rr2)
sleep 1.5
bpf=$(bpf_count "$id" nr_io)
redir=$(bpf_count "$id" nr_redirect)
daemon=$(bpf_count "$id" nr_io_daemon)
log "fio did $ios requests; BPF served $bpf, redirected $redir, the daemon served $daemon"
[ "$redir" -gt 0 ] || fail "--bpf_redirect 2: nothing was redirected"
[ "$daemon" -eq "$redir" ] || fail "redirected $redir requests but the daemon served $daemon"
[ $((bpf + daemon)) -ge "$ios" ] || fail "BPF $bpf + daemon $daemon < fio's $ios requests"
ublk_del "$id"

ublk_add -t null --bpf=auto
[ "$(dev_json "$DEV_ID" | jq -r .io_path)" = bpf ] || fail "--bpf=auto did not pick the BPF path"
ublk_del "$DEV_ID"
