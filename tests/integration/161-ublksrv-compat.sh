#!/bin/bash
# Proves scripts written for ublksrv's `ublk` run unchanged: each command
# line below is spelled as ublksrv spells it (targets/ublksrv_tgt.cpp's
# `ublk add` options and the loop target's), with ublksrv's meaning:
# - -u/--uring_comp N and -g/--need_get_data N are accepted (no effect: the
#   kernel always completes in task context, and this server has every
#   tag's buffer ready, so it never needs UBLK_IO_NEED_GET_DATA); -u is NOT
#   user copy, --usercopy is; --user_copy (kublk's spelling) is too;
# - -z/--zerocopy is zero copy (AUTO_BUF_REG), --max_io_buf_bytes N sets the
#   largest request, --debug_mask 0xN is accepted, --unprivileged works for
#   root, --buffered_io is the loop target's page-cache mode;
# - -r 1, -i 1, -e 1 (and the --user_recovery* spellings) give user
#   recovery; -i 1 or -e 1 alone imply it, as in ublksrv;
# - -b/--batch-io fails with one line saying why and leaves nothing behind.
# Every device comes up LIVE with the flags asked for, serves fio I/O
# (crc32c-verified on loop devices, also after a kill -9 and `ublk
# recover`) and goes away with `ublk del -n` / `ublk del -a`.
# timeout: 900
. "$(dirname "$0")/lib.sh"

img=$T_WORK/backing
has_flag() { grep -qw -- "$2" <<<"$(dev_flags "$1")"; }
want_flag() { has_flag "$1" "$2" || fail "dev $1: flags [$(dev_flags "$1")] lack $2"; }
no_flag() { ! has_flag "$1" "$2" || fail "dev $1: flags [$(dev_flags "$1")] show $2"; }
max_rq() { dev_line "$1" 2 | awk '{ print $4 }'; }
null_io() { fio_run null "/dev/ublkb$1" --rw=randrw --bs=4k --size=16M --iodepth=16; }

# ---- null target
ublk_add -t null -n 40 -q 2 -d 64 -u 1 -g 1 --debug_mask=0x3
check_geometry 40 2 64
no_flag 40 USER_COPY
no_flag 40 NEED_GET_DATA
null_io 40
ublk_del 40

ublk_add -t null --number 41 --queues 1 --depth 32 --uring_comp 0 --need_get_data 0 \
	--debug_mask 0
check_geometry 41 1 32
null_io 41
ublk_del 41

# root's --unprivileged: accepted; the kernel clears the flag for a creator
# with CAP_SYS_ADMIN, so it is an ordinary device (130 tests a real user)
ublk_add -t null -n 42 --unprivileged
null_io 42
ublk_del 42

ublk_add -t null -n 43 --usercopy
want_flag 43 USER_COPY
null_io 43
ublk_del 43

ublk_add -t null -n 44 -z
want_flag 44 AUTO_ZC
null_io 44
ublk_del 44

for b in -b --batch-io; do
	expect_fail "ublk add $b" ublk add -t null -n 45 "$b"
	grep -qi 'batch' "$T_WORK/.xf.err" || fail "ublk add $b: the error does not say batch: $(cat "$T_WORK/.xf.err")"
done

# ---- loop target, data verified
loop_verify() {
	make_backing "$img" 64M
	ublk_add -t loop "$@"
	fio_verify "/dev/ublkb$DEV_ID"
}

loop_verify -f "$img" -n 50 -q 2 -d 128 -r 1 -i 1 --buffered_io
want_flag 50 USER_RECOVERY
want_flag 50 USER_RECOVERY_REISSUE
kill_daemon 50
wait_state 50 QUIESCED 30
ublk_recover 50
fio_run reverify /dev/ublkb50 --rw=randwrite --bssplit=4k/40:16k/20:64k/20:256k/10:1m/10 \
	--size=32M --iodepth=32 --verify=crc32c --verify_only=1 --verify_fatal=1 \
	--verify_state_save=0
ublk_del 50

loop_verify --file "$img" --number 51 --user_recovery 1 --user_recovery_fail_io 1 \
	--max_io_buf_bytes 1048576
want_flag 51 USER_RECOVERY_FAIL_IO
[ "$(max_rq 51)" = 1048576 ] || fail "dev 51: max rq size is '$(max_rq 51)', not 1048576"
ublk_del 51

loop_verify -f "$img" -n 52 -e 1
want_flag 52 USER_RECOVERY
want_flag 52 USER_RECOVERY_FAIL_IO
ublk_del 52

loop_verify -f "$img" -n 53 --usercopy
want_flag 53 USER_COPY
ublk_del 53

loop_verify -f "$img" -n 54 --zerocopy
want_flag 54 AUTO_ZC
ublk_del 54

loop_verify -f "$img" -n 55 --user_copy
want_flag 55 USER_COPY
ublk_del 55

# -u 1 is ublksrv's uring_comp: a plain copy-mode device, not user copy
loop_verify -f "$img" -n 56 -u 1 -q 2
no_flag 56 USER_COPY
no_flag 56 AUTO_ZC

# ---- the other commands, as scripts use them
make_backing "$T_WORK/b2" 16M
ublk_add -t null -n 57
ids=$(list_ids | xargs)
[ "$ids" = "56 57" ] || fail "'ublk list' shows devices [$ids], expected [56 57]"
ublk list -n 57 | head -n 1 | grep -q '^dev id 57: nr_hw_queues 1 queue_depth ' ||
	fail "'ublk list -n 57' line 1: $(ublk list -n 57 | head -n 1)"
ublk features | grep -q '^ublk driver features 0x' ||
	fail "'ublk features': $(ublk features | head -n 1)"
ublk help >/dev/null || fail "'ublk help' failed"
ublk del -a || fail "'ublk del -a' failed"
wait_for 10 dev_nodes_gone 56 && wait_for 10 dev_nodes_gone 57 ||
	fail "after 'ublk del -a' nodes remain: $(ublk_nodes | xargs)"
[ -z "$(list_ids)" ] || fail "after 'ublk del -a' 'ublk list' shows [$(list_ids | xargs)]"
log "every ublksrv-style command line worked"
