#!/bin/bash
# Proves bad input is refused cleanly: each of these exits non-zero, prints
# at least one line on stderr, and leaves no new /dev/ublk[bc]* node, no new
# device in `ublk list` and no ublk process behind:
#   loop with a missing backing file, with a path under a missing directory,
#   with a directory as backing file, with a file whose size is not a
#   multiple of 512; an unknown target type; -q 0; -d 5000 (kernel max is
#   4096); --size 1000 (not a multiple of 512); --size 0 (not silently the
#   250 GiB default); `ublk del -n 99`, `ublk list -n 99` and `ublk list -n
#   99 --json` (no such id; the last printed "[]" and exited 0).
. "$(dirname "$0")/lib.sh"

mkdir "$T_WORK/a-directory"
truncate -s 1000000 "$T_WORK/odd-size" # 1953 sectors + 64 bytes

expect_fail "missing backing file" ublk add -t loop -f "$T_WORK/no-such-file"
expect_fail "backing file under a missing directory" ublk add -t loop -f "$T_WORK/no-such-dir/file"
expect_fail "directory as backing file" ublk add -t loop -f "$T_WORK/a-directory"
expect_fail "backing file size not a multiple of 512" ublk add -t loop -f "$T_WORK/odd-size"
expect_fail "unknown target type" ublk add -t nosuch
expect_fail "zero queues" ublk add -t null -q 0
expect_fail "depth beyond the kernel limit" ublk add -t null -d 5000
expect_fail "size not a multiple of 512" ublk add -t null --size 1000
expect_fail "size 0 (not the default)" ublk add -t null --size 0
grep -q "size" "$T_WORK/.xf.err" || fail "--size 0: the error should name the size: $(cat "$T_WORK/.xf.err")"

[ ! -e /dev/ublkc99 ] || fail "/dev/ublkc99 exists before the test"
expect_fail "del of an unknown id" ublk del -n 99
expect_fail "list of an unknown id" ublk list -n 99
expect_fail "list --json of an unknown id" ublk list -n 99 --json
[ ! -s "$T_WORK/.xf.out" ] || fail "list -n 99 --json printed '$(cat "$T_WORK/.xf.out")'"
