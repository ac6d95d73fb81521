#!/bin/bash
# Proves adding a device with an id already in use fails without disturbing
# the device that has it: with a loop device -n 5 holding a random pattern,
# `ublk add -t null -n 5` and `ublk add -t loop -n 5 -f OTHER` exit non-zero
# with a message and leave nothing behind; device 5 is still LIVE with the
# same daemon, its data is intact and it still takes writes; it then deletes
# cleanly.
. "$(dirname "$0")/lib.sh"

[ ! -e /dev/ublkc5 ] || fail "/dev/ublkc5 exists before the test"
backing=$T_WORK/backing
pattern=$T_WORK/pattern
make_backing "$backing" 16M
make_backing "$T_WORK/other" 16M
make_pattern "$pattern" 16

ublk_add -t loop -n 5 -f "$backing"
[ "$DEV_ID" = 5 ] || fail "'ublk add -n 5' created dev $DEV_ID"
pid=$DEV_PID
dd if="$pattern" of=/dev/ublkb5 bs=1M oflag=direct status=none || fail "writing /dev/ublkb5 failed"

expect_fail "id 5 busy (null)" ublk add -t null -n 5
expect_fail "id 5 busy (loop)" ublk add -t loop -n 5 -f "$T_WORK/other"

[[ -b /dev/ublkb5 && -c /dev/ublkc5 ]] || fail "device 5's nodes are gone after the failed adds"
state=$(dev_state 5)
[ "$state" = LIVE ] || fail "device 5 state is '$state' after the failed adds, expected LIVE"
[ "$(dev_pid 5)" = "$pid" ] || fail "device 5 daemon pid changed from $pid to $(dev_pid 5)"
pid_alive "$pid" || fail "device 5 daemon $pid died"
dd if=/dev/ublkb5 of="$T_WORK/readback" bs=1M iflag=direct status=none || fail "reading /dev/ublkb5 failed"
cmp "$pattern" "$T_WORK/readback" || fail "device 5 data changed after the failed adds"

# still writable: overwrite the first MiB with the pattern's last MiB
dd if="$pattern" of=/dev/ublkb5 bs=1M skip=15 count=1 oflag=direct status=none ||
	fail "writing /dev/ublkb5 after the failed adds failed"
dd if=/dev/ublkb5 of="$T_WORK/readback" bs=1M count=1 iflag=direct status=none
cmp -i $((15 * 1048576)):0 -n 1048576 "$pattern" "$T_WORK/readback" ||
	fail "write to device 5 after the failed adds did not read back"

ublk_del 5
