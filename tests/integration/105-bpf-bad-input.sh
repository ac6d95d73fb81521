#!/bin/bash
# Proves bad BPF options are refused cleanly (non-zero exit, a message on
# stderr, nothing left behind): --bpf=bogus, --bpf with --usercopy (the BPF path is
# zero copy), debug knobs without --bpf, --bpf_split not a multiple of 512 or
# so small a request would need more than 128 pieces, --bpf_eagain without
# --bpf_redirect; a program the kernel refuses to load (fault injection:
# UBLK_TEST_BPF_BREAK declares the program a socket filter, so the
# struct_ops map cannot use it); root without capabilities (setpriv: "CAP_BPF
# is missing"). --bpf=auto with --usercopy falls back to the
# userspace path, works, and `ublk list` says why.
. "$(dirname "$0")/lib.sh"

require_bpf

make_backing "$T_WORK/backing" 16M
f=$T_WORK/backing
expect_fail "--bpf=bogus" ublk add -t loop -f "$f" --bpf=bogus
expect_fail "--bpf with --usercopy" ublk add -t loop -f "$f" --bpf --usercopy
expect_fail "--bpf_redirect without --bpf" ublk add -t loop -f "$f" --bpf_redirect 2
expect_fail "--bpf_split 1000" ublk add -t loop -f "$f" --bpf --bpf_split 1000
expect_fail "--bpf_split 2k" ublk add -t loop -f "$f" --bpf --bpf_split 2k
expect_fail "--bpf_eagain alone" ublk add -t loop -f "$f" --bpf --bpf_eagain
expect_fail "BPF load failure" env UBLK_TEST_BPF_BREAK=1 ublk add -t loop -f "$f" --bpf
grep -q 'BPF program' "$T_WORK/.xf.err" ||
	fail "a load failure should be named: $(cat "$T_WORK/.xf.err")"
expect_fail "BPF load failure, 2 queues" env UBLK_TEST_BPF_BREAK=1 ublk add -t null -q 2 --bpf

# root without capabilities: the probe names what is missing, before any
# device exists
if command -v setpriv >/dev/null; then
	expect_fail "--bpf without capabilities" \
		setpriv --bounding-set=-all --inh-caps=-all ublk add -t null --bpf
	grep -q 'CAP_BPF is missing' "$T_WORK/.xf.err" ||
		fail "missing capabilities should be named: $(cat "$T_WORK/.xf.err")"
fi

ublk_add -t loop -f "$f" --bpf=auto --usercopy
grep -q 'io path userspace' <<<"$DEV_OUT" || fail "--bpf=auto --usercopy should use the userspace path: $DEV_OUT"
grep -q 'bpf not used: .*--usercopy' <<<"$DEV_OUT" || fail "--bpf=auto --usercopy should say why BPF is not used: $DEV_OUT"
fio_verify "/dev/ublkb$DEV_ID" --size=8M
ublk_del "$DEV_ID"
