#!/bin/bash
# Proves the seed backend (struct ublk_bpf_ops, called from ublk_queue_rq()
# by the project's ublk_drv, kernel/): with that module loaded, --bpf=seed
# serves null and loop devices with every request fio made completed by BPF
# and none seen by the daemon; the loop data verifies (crc32c) and the
# backing file holds what was written; `ublk list` names the backend;
# --bpf=iouring still serves on the same kernel; rmmod is refused while a
# device exists; a program the kernel refuses, or a module without BTF,
# fails `add` with one line.
# Without the module, --bpf=seed fails with one line naming ublk_bpf_ops
# and leaves nothing behind (the only case that can run there).
# timeout: 600
. "$(dirname "$0")/lib.sh"

require_bpf

f=$T_WORK/backing
if ! ublk features | grep -q '^bpf backend ublk_bpf_ops: yes'; then
	make_backing "$f" 8M
	expect_fail "--bpf=seed without the module" ublk add -t loop -f "$f" --bpf=seed
	grep -q 'ublk_bpf_ops' "$T_WORK/.xf.err" ||
		fail "the error should name ublk_bpf_ops: $(cat "$T_WORK/.xf.err")"
	[ "$(wc -l <"$T_WORK/.xf.err")" -eq 1 ] ||
		fail "expected one line on stderr: $(cat "$T_WORK/.xf.err")"
	log "no project module: only the refusal of --bpf=seed was tested"
	exit 0
fi

# null: every request completes in BPF, in the submitter's context
ublk_add -t null --size 256M --bpf=seed
id=$DEV_ID
grep -q 'io path bpf (ublk_bpf_ops) data mode copy' <<<"$DEV_OUT" ||
	fail "ublk add --bpf=seed should report the seed backend: $DEV_OUT"
[ "$(dev_json "$id" | jq -r .bpf_backend)" = ublk_bpf_ops ] ||
	fail "list --json bpf_backend is not ublk_bpf_ops"
grep -qw BPF_OPS <<<"$(dev_flags "$id")" || fail "--bpf=seed without the BPF_OPS flag"
# the kernel's view of the binding (GET_PARAMS): ops id = device id
[ "$(dev_json "$id" | jq -r .bpf_ops_id)" = "$id" ] ||
	fail "list --json bpf_ops_id is not $id: $(dev_json "$id" | jq -c .)"
grep -q "bpf ops id $id\$" <<<"$(ublk list -n "$id")" || fail "ublk list does not show bpf ops id $id"
fio_run rr "/dev/ublkb$id" --rw=randrw --bs=4k --iodepth=32 --runtime=3 --time_based
assert_bpf_served_all "$id" rr

# the module is in use while a device exists
if rmmod ublk_drv 2>"$T_WORK/rmmod.err"; then
	fail "rmmod ublk_drv succeeded with dev $id alive"
fi
log "ok: rmmod refused with a device: $(head -n 1 "$T_WORK/rmmod.err")"
[ -b "/dev/ublkb$id" ] || fail "/dev/ublkb$id is gone after the refused rmmod"
ublk_del "$id"

# loop, 2 queues: verified I/O on the request's own pages, by kiocb
make_backing "$f" 64M
ublk_add -t loop -f "$f" --bpf=seed -q 2
id=$DEV_ID
fio_verify "/dev/ublkb$id" --iodepth=32 --numjobs=2 --size=32M --offset_increment=32M
assert_bpf_served_all "$id" verify
make_pattern "$T_WORK/pattern" 8
dd if="$T_WORK/pattern" of="/dev/ublkb$id" bs=1M seek=4 oflag=direct status=none
ublk_del "$id"
cmp -n 8M "$T_WORK/pattern" <(dd if="$f" bs=1M skip=4 count=8 status=none) ||
	fail "the backing file does not hold what was written through BPF"

# both backends on one kernel
ublk_add -t null --size 256M --bpf=iouring
id=$DEV_ID
[ "$(dev_json "$id" | jq -r .bpf_backend)" = io_uring_bpf_ops ] ||
	fail "--bpf=iouring: bpf_backend is not io_uring_bpf_ops"
[ "$(dev_json "$id" | jq 'has("bpf_ops_id")')" = false ] ||
	fail "--bpf=iouring: the kernel should have no ublk_bpf_ops binding for dev $id"
fio_run rr2 "/dev/ublkb$id" --rw=randread --bs=4k --iodepth=16 --runtime=2 --time_based
assert_bpf_served_all "$id" rr2
ublk_del "$id"

make_backing "$f" 8M
expect_fail "seed program refused" env UBLK_TEST_BPF_BREAK=1 ublk add -t loop -f "$f" --bpf=seed
grep -q 'cannot load the loop BPF program (ublk_bpf_ops)' "$T_WORK/.xf.err" ||
	fail "the error should say the program could not be loaded: $(cat "$T_WORK/.xf.err")"

# The module's BTF missing (a module built without it, or a kernel without
# CONFIG_DEBUG_INFO_BTF_MODULES): hide /sys/kernel/btf/ublk_drv in a mount
# namespace of its own, keep vmlinux's; --bpf=seed must refuse in one line.
[ -r /sys/kernel/btf/ublk_drv ] || fail "the project module has no BTF (/sys/kernel/btf/ublk_drv)"
mkdir "$T_WORK/btf"
cp /sys/kernel/btf/vmlinux "$T_WORK/btf/vmlinux"
expect_fail "--bpf=seed without the module's BTF" unshare -m sh -c \
	"mount --bind '$T_WORK/btf' /sys/kernel/btf && exec ublk add -t loop -f '$f' --bpf=seed"
grep -q 'no BTF has struct ublk_bpf_ops' "$T_WORK/.xf.err" ||
	fail "the error should say the BTF is missing: $(cat "$T_WORK/.xf.err")"
[ "$(wc -l <"$T_WORK/.xf.err")" -eq 1 ] ||
	fail "expected one line on stderr: $(cat "$T_WORK/.xf.err")"
