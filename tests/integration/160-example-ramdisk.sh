#!/bin/bash
# Proves a server written outside the tree against the installed libublksrv
# works: examples/ublk-ramdisk, built by `make check` (tests/unit/
# example-build.sh) with pkg-config against `make install DESTDIR=...`,
# serves a 64 MiB device that passes fio crc32c verification, and SIGTERM
# deletes the device and ends the server.
. "$(dirname "$0")/lib.sh"

bin=/build/src/examples/ublk-ramdisk
[ -x "$bin" ] || fail "$bin is missing: tests/unit/example-build.sh did not build it"
ldd "$bin" | grep -q 'libublksrv.so.*example-inst' ||
	fail "$bin does not use the installed libublksrv: $(ldd "$bin" | grep ublk)"

"$bin" 64 >"$T_WORK/out" 2>"$T_WORK/err" &
pid=$!
bg_register "$pid"
has_id() { grep -q '^dev_id [0-9]*$' "$T_WORK/out"; }
wait_for 30 has_id || fail "ublk-ramdisk did not come up: $(cat "$T_WORK/err")"
id=$(awk '{ print $2 }' "$T_WORK/out")
[ -b "/dev/ublkb$id" ] || fail "/dev/ublkb$id is not a block device"
size=$(blockdev --getsize64 "/dev/ublkb$id")
[ "$size" = $((64 << 20)) ] || fail "/dev/ublkb$id has $size bytes, not 64 MiB"
log "ublk-ramdisk serves /dev/ublkb$id"

fio_verify "/dev/ublkb$id" --size=64M

kill -TERM "$pid"
wait_pid_exit "$pid" 30 || fail "ublk-ramdisk still running 30 s after SIGTERM"
wait "$pid" || fail "ublk-ramdisk exited with status $? after SIGTERM"
bg_forget "$pid"
wait_for 10 dev_nodes_gone "$id" || fail "/dev/ublkb$id still exists after SIGTERM"
log "SIGTERM deleted dev $id"
