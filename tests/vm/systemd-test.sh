#!/bin/bash
# The checks of `tests/vm/run.sh systemd`, run by ublk-systemd-test.service
# in a VM whose PID 1 is systemd (tests/vm/systemd-init.sh). Boot 1 installs
# the Debian packages (tests/pkg/*.deb, built by make check) and exercises
# ublk@demo; it then reboots the VM (a real reboot: the overlay's upper
# layer is on the VM's disk); boot 2 checks that the enabled unit brought
# the device back with its data. Results: /build/out/systemd/results,
# "PASS|FAIL description" lines; boot N writes bootN-done when it finished.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C

out=/build/out/systemd
state=/var/lib/ublk-systemd-test
res=$out/results
ID=7
DEV=/dev/ublkb$ID
BACKING=/var/lib/ublk-demo/disk.img
mkdir -p "$out" "$state"
phase=$(cat "$state/phase" 2>/dev/null || echo 1)

say() { echo "systemd-test[boot $phase]: $*"; }
pass() { echo "PASS boot$phase: $*" >>"$res"; say "PASS $*"; }
failed() { echo "FAIL boot$phase: $*" >>"$res"; say "FAIL $*"; }
# check DESCRIPTION CMD...: one result line
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else failed "$desc"; fi
}
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.5
	done
}
# The end of this boot: results synced to the host, then reboot/poweroff.
finished=0
finish() {
	finished=1
	say "done, then $1"
	touch "$out/boot$phase-done"
	sync
	systemctl --no-block "$1"
	exit 0
}

# whatever stops the script early, the VM must not wait for the host's timeout
trap '[ "$finished" = 1 ] || { failed "the checks ended early"; sync; systemctl --no-block poweroff; }' EXIT

prop() { systemctl show -P "$1" ublk@demo; }
unit_active() { [ "$(systemctl is-active ublk@demo)" = active ]; }
dev_live() {
	[ -b "$DEV" ] && ublk list -n "$ID" 2>/dev/null | awk 'NR == 2 { exit $9 != "LIVE" }'
}
dev_pid() { ublk list -n "$ID" | awk 'NR == 2 { print $7 }'; }
only_demo_dev() { [ "$(echo /dev/ublkb* | xargs)" = "$DEV" ]; }
no_dev() { [ ! -e "$DEV" ] && [ ! -e "/dev/ublkc$ID" ]; }
fio_job() {
	timeout 300 fio --name=demo --filename="$DEV" --ioengine=libaio --direct=1 \
		--rw=randwrite --bssplit=4k/50:64k/30:1m/20 --size=32M --iodepth=16 \
		--verify=crc32c --verify_fatal=1 --verify_state_save=0 --randseed=1234 \
		"$@" >>"$out/fio.log" 2>&1
}
fio_write_verify() { fio_job --do_verify=1; }
fio_verify_only() { fio_job --verify_only=1; }
# a pattern beyond fio's 32 MiB, kept on the VM's disk for boot 2
pattern_write() {
	head -c 8M /dev/urandom >"$state/pattern" &&
		dd if="$state/pattern" of="$DEV" bs=1M seek=48 oflag=direct conv=fsync status=none
}
pattern_same() {
	dd if="$DEV" bs=1M skip=48 count=8 iflag=direct status=none | cmp -s - "$state/pattern"
}
journal_has() { journalctl -b -u ublk@demo --no-pager -o cat | grep -c "$1"; }
# udev applies its rules when it gets to the event: under TCG, with the
# boot's coldplug queued before it, that can take a while
ctl_perm() {
	local got

	udevadm settle --timeout=120
	got=$(stat -c '%G %a' /dev/ublk-control)
	[ "$got" = "disk 660" ] && return 0
	say "/dev/ublk-control is '$got', not 'disk 660'"
	udevadm info -q all -n /dev/ublk-control >>"$out/udev.log" 2>&1
	udevadm test /sys/class/misc/ublk-control >>"$out/udev.log" 2>&1
	return 1
}

say "starting; PID 1 is $(cat /proc/1/comm)"
check "PID 1 is systemd" test "$(cat /proc/1/comm)" = systemd
st=$(timeout 180 systemctl is-system-running --wait)
say "system state: $st"
[ "$st" = running ] || systemctl --failed --no-pager

if [ "$phase" = 1 ]; then
	: >"$out/fio.log"
	cat /proc/sys/kernel/random/boot_id >"$state/boot_id"
	mapfile -t debs < <(ls /build/src/tests/pkg/*.deb 2>/dev/null)
	check "the packages were built (tests/pkg: ${#debs[@]} .debs)" test ${#debs[@]} -ge 3
	check "dpkg -i ublk libublksrv0 libublksrv-dev" \
		dpkg -i "${debs[@]}" >>"$out/dpkg.log" 2>&1
	check "the ublk package installed /usr/bin/ublk and ublk@.service" \
		test -x /usr/bin/ublk -a -f /usr/lib/systemd/system/ublk@.service
	hash -r
	mkdir -p "${BACKING%/*}"
	truncate -s 64M "$BACKING"
	cat >/etc/ublk/demo.ini <<-INI
	[device]
	target = loop
	file = $BACKING
	id = $ID
	queues = 2
	depth = 64
	recovery = reissue
	INI

	check "systemctl enable --now ublk@demo" systemctl enable --now ublk@demo
	check "ublk@demo is active" unit_active
	check "$DEV is LIVE" wait_for 30 dev_live
	pid1=$(prop MainPID)
	check "the unit's main pid $pid1 serves the device" test "$pid1" = "$(dev_pid)"
	check "udev: /dev/ublk-control is group disk, mode 0660" ctl_perm
	check "fio writes and crc32c-verifies 32 MiB" fio_write_verify

	systemctl kill -s KILL ublk@demo
	restarted() { unit_active && [ "$(prop MainPID)" != "$pid1" ] && [ "$(prop MainPID)" != 0 ]; }
	check "SIGKILL: systemd restarts ublk@demo" wait_for 60 restarted
	check "the restart counter went up" test "$(prop NRestarts)" -ge 1
	check "the device is recovered: dev $ID LIVE again" wait_for 30 dev_live
	check "served by the new main pid" test "$(prop MainPID)" = "$(dev_pid)"
	check "no other device was created" only_demo_dev
	check "the data written before the kill verifies" fio_verify_only
	check "the journal shows the daemon's messages (dev id $ID, twice)" \
		test "$(journal_has "dev id $ID:")" -ge 2

	check "systemctl stop ublk@demo" systemctl stop ublk@demo
	check "after stop the device is gone" wait_for 30 no_dev

	# unprivileged: a user of group disk may open /dev/ublk-control
	useradd -m -G disk ublkuser 2>/dev/null
	uhome=/home/ublkuser
	as_user() { runuser -u ublkuser -- env UBLK_RUN_DIR="$uhome/run" "$@"; }
	as_user mkdir -p "$uhome/run"
	as_user truncate -s 64M "$uhome/disk.img"
	uid=$(as_user ublk add -t loop -f "$uhome/disk.img" --unprivileged -n 9 2>>"$out/unpriv.log" |
		awk 'NR == 1 && $1 == "dev" { print $3 }' | tr -d :)
	check "user ublkuser adds an unprivileged loop device ($uid)" test "$uid" = 9
	owned() { [ "$(stat -c %U "$1" 2>/dev/null)" = ublkuser ]; }
	udevadm settle --timeout=120
	check "udev gave /dev/ublkb9 and /dev/ublkc9 to ublkuser" \
		wait_for 10 eval 'owned /dev/ublkb9 && owned /dev/ublkc9'
	# The kernel keeps GD_SUPPRESS_PART_SCAN on devices served by an
	# unprivileged daemon (ublk_drv: "keep ... set permanently"): the user
	# may write a partition table, but no partition nodes ever appear.
	# an MBR with one Linux partition from sector 2048 on (no fdisk here)
	as_user python3 -c '
import struct, sys
mbr = bytearray(512)
mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 2048, 65536)
mbr[510:512] = b"\x55\xaa"
with open(sys.argv[1], "r+b", buffering=0) as f:
    f.write(mbr)
    f.flush()
' /dev/ublkb9 >>"$out/unpriv.log" 2>&1
	check "ublkuser writes a partition table on its device" test $? = 0
	mbr_sig() { dd if=/dev/ublkb9 bs=512 count=1 iflag=direct status=none | tail -c 2 | od -An -tx1; }
	check "the table is on the device" test "$(mbr_sig | xargs)" = "55 aa"
	blockdev --rereadpt /dev/ublkb9 >>"$out/unpriv.log" 2>&1
	sleep 1
	check "no partition node appears (the kernel does not scan them)" test ! -e /dev/ublkb9p1
	check "ublkuser deletes its device" as_user ublk del -n 9
	ublk del -n 9 >/dev/null 2>&1

	check "systemctl start ublk@demo (for the reboot)" systemctl start ublk@demo
	check "$DEV is LIVE again" wait_for 30 dev_live
	check "an 8 MiB pattern written at 48 MiB" pattern_write
	echo 2 >"$state/phase"
	finish reboot
fi

check "this is a new boot" test "$(cat /proc/sys/kernel/random/boot_id)" != "$(cat "$state/boot_id")"
check "after the reboot ublk@demo is active (enabled)" wait_for 60 unit_active
check "$DEV is LIVE" wait_for 30 dev_live
check "udev (at boot): /dev/ublk-control is group disk, mode 0660" ctl_perm
check "the pattern written before the reboot reads back" pattern_same
check "fio's data from boot 1 verifies" fio_verify_only
check "the journal of this boot shows the daemon's messages" \
	test "$(journal_has "dev id $ID:")" -ge 1
check "systemctl disable --now ublk@demo" systemctl disable --now ublk@demo
check "the device is gone" wait_for 30 no_dev
finish poweroff
