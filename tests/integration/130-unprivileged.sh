#!/bin/bash
# Proves unprivileged devices (UBLK_F_UNPRIVILEGED_DEV) on this kernel:
# with /dev/ublk-control open to all and the project's udev rule (nodes of
# an unprivileged device go to its creator, via `ublk owner`):
# - user A (uid 65534, no capabilities) adds a null device with
#   --unprivileged: it is LIVE, its daemon runs as A, the kernel records A as
#   owner (`ublk owner`, `ublk list -v`), the nodes belong to A and A can
#   write and read the block device; a partition root adds to it (BLKPG)
#   is A's too;
# - user B (uid 65533) can neither list nor delete it nor open its block
#   device: each fails with a permission error and the device stays LIVE;
# - without --unprivileged, A's add is refused with a clear message;
# - A deletes its device: nodes gone, daemon exited;
# - root's devices (added with or without --unprivileged) are not A's:
#   `ublk owner` fails for them.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || skip "setpriv is not installed"
command -v udevadm >/dev/null && pgrep -x systemd-udevd >/dev/null ||
	skip "no udevd running: the nodes of an unprivileged device would stay root's"
has_feature UNPRIVILEGED_DEV || skip "the kernel lacks UBLK_F_UNPRIVILEGED_DEV"

ublk_bin=$(command -v ublk)
src=$(dirname "$ublk_bin")
rules=$src/utils/60-ublk.rules
[ -f "$rules" ] || skip "no built udev rule at $rules"
# the rule, naming this ublk, with the control device open to all
mkdir -p /etc/udev/rules.d
sed -e "s|/[^ \"]*/ublk owner|$ublk_bin owner|" \
	-e 's|^KERNEL=="ublk-control".*|#&|' -e 's|^#\(KERNEL=="ublk-control".*0666.*\)|\1|' \
	"$rules" >/etc/udev/rules.d/60-ublk.rules
on_exit "rm -f /etc/udev/rules.d/60-ublk.rules; udevadm control --reload; chmod 0600 /dev/ublk-control; chgrp root /dev/ublk-control"
udevadm control --reload
udevadm trigger --action=change --settle /dev/ublk-control
[ "$(stat -c %a /dev/ublk-control)" = 666 ] ||
	fail "the rule should open /dev/ublk-control to all: $(stat -c '%U:%G %a' /dev/ublk-control)"

# The users run ublk (and setpriv, busybox) in a chroot on a tmpfs under
# /run, with /dev, /proc and /sys bound in: the VM's root directory is the
# host's root file system directory, which may be closed to other users.
U=$(mktemp -d /run/ublk-unpriv.XXXXXX)
chmod 0755 "$U"
t_unpriv_cleanup() {
	local m
	for m in dev sys proc; do
		mountpoint -q "$U/$m" && { umount -R "$U/$m" || umount -R -l "$U/$m"; }
	done
	for m in dev sys proc; do
		mountpoint -q "$U/$m" && { log "cleanup: $U/$m still mounted, keeping $U"; return 0; }
	done
	rm -rf --one-file-system "$U"
}
on_exit t_unpriv_cleanup
mkdir -p "$U/bin" "$U/dev" "$U/proc" "$U/sys" "$U/run-a" "$U/run-b"
busybox=$(command -v busybox) || skip "busybox is not installed"
for b in "$ublk_bin" "$(command -v setpriv)"; do
	cp "$b" "$U/bin/"
	for lib in $(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }'); do
		cp -L --parents "$lib" "$U/"
	done
done
cp "$busybox" "$U/bin/busybox"
chmod -R a+rX "$U"
chown 65534:65534 "$U/run-a"
chown 65533:65533 "$U/run-b"
mount --rbind /dev "$U/dev"
mount --make-rslave "$U/dev"
mount --rbind /sys "$U/sys"
mount --make-rslave "$U/sys"
mount -t proc proc "$U/proc"
# as UID CMD...: CMD as user UID without capabilities, in the chroot
as() {
	local uid=$1 dir=/run-a
	shift
	[ "$uid" = 65534 ] || dir=/run-b
	UBLK_RUN_DIR=$dir chroot "$U" /bin/setpriv --reuid="$uid" --regid="$uid" \
		--clear-groups --inh-caps=-all "$@"
}
ublk_a() { as 65534 /bin/ublk "$@"; }
ublk_b() { as 65533 /bin/ublk "$@"; }
bb=/bin/busybox
as 65534 "$bb" true || fail "cannot run programs as uid 65534 in the chroot $U"

# A without --unprivileged: refused
rc=0
ublk_a add -t null >"$T_WORK/a0.out" 2>"$T_WORK/a0.err" || rc=$?
[ "$rc" -eq 1 ] || fail "an unprivileged add without --unprivileged exited $rc: $(cat "$T_WORK/a0.err")"
grep -q "unprivileged" "$T_WORK/a0.err" || fail "refusal should mention --unprivileged: $(cat "$T_WORK/a0.err")"
log "ok: A without --unprivileged: $(cat "$T_WORK/a0.err")"

# A adds its device
rc=0
ublk_a add -t null --size 64M --unprivileged >"$T_WORK/a.out" 2>"$T_WORK/a.err" || rc=$?
[ "$rc" -eq 0 ] || fail "user A's 'ublk add --unprivileged' failed (exit $rc): $(cat "$T_WORK/a.err")"
id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$T_WORK/a.out" | head -n 1)
[ -n "$id" ] || fail "no 'dev id N:' in A's add output: $(cat "$T_WORK/a.out")"
pid=$(dev_pid "$id")
[ "$(dev_state "$id")" = LIVE ] || fail "A's dev $id is $(dev_state "$id")"
[ "$(stat -c %u "/proc/$pid")" = 65534 ] || fail "A's daemon $pid runs as uid $(stat -c %u "/proc/$pid")"
grep -qw UNPRIVILEGED_DEV <<<"$(dev_flags "$id")" || fail "dev $id lacks UNPRIVILEGED_DEV: $(dev_flags "$id")"
[ "$(ublk owner -n "$id")" = "65534 65534" ] || fail "ublk owner -n $id: $(ublk owner -n "$id" 2>&1)"
dev_list "$id" >/dev/null
ublk list -v -n "$id" | grep -q "owner: 65534:65534" || fail "list -v should show owner 65534:65534: $(ublk list -v -n "$id")"
udevadm settle
[ "$(stat -c %u "/dev/ublkc$id") $(stat -c %u "/dev/ublkb$id")" = "65534 65534" ] ||
	fail "the nodes of dev $id should be A's: $(ls -l "/dev/ublkc$id" "/dev/ublkb$id")"
as 65534 "$bb" dd if=/dev/zero of="/dev/ublkb$id" bs=4k count=16 conv=fsync 2>/dev/null ||
	fail "A cannot write its block device"
ublk_a list -n "$id" >/dev/null 2>"$T_WORK/al.err" || fail "A cannot list its device: $(cat "$T_WORK/al.err")"
log "A's dev $id: LIVE, daemon uid 65534, nodes A's, A does I/O"

# a partition of A's device is A's too (root adds it: the kernel does not
# scan the partitions of a device an unprivileged daemon serves)
# addpart DEV N START LEN: BLKPG_ADD_PARTITION (util-linux's addpart may be missing)
add_part() {
	python3 - "$@" <<'PY'
import ctypes, fcntl, os, sys
class Part(ctypes.Structure):
    _fields_ = [("start", ctypes.c_longlong), ("length", ctypes.c_longlong),
                ("pno", ctypes.c_int), ("devname", ctypes.c_char * 64),
                ("volname", ctypes.c_char * 64)]
class Arg(ctypes.Structure):
    _fields_ = [("op", ctypes.c_int), ("flags", ctypes.c_int),
                ("datalen", ctypes.c_int), ("data", ctypes.c_void_p)]
dev, pno, start, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
part = Part(start * 512, length * 512, pno, b"", b"")
arg = Arg(1, 0, ctypes.sizeof(part), ctypes.addressof(part))  # BLKPG_ADD_PARTITION
fd = os.open(dev, os.O_RDONLY)
fcntl.ioctl(fd, 0x1269, arg)  # BLKPG
PY
}
if command -v python3 >/dev/null; then
	add_part "/dev/ublkb$id" 1 2048 16384 || fail "adding partition 1 to /dev/ublkb$id failed"
	udevadm settle
	[ -b "/dev/ublkb${id}p1" ] || fail "no /dev/ublkb${id}p1 after addpart"
	[ "$(stat -c %u "/dev/ublkb${id}p1")" = 65534 ] ||
		fail "the partition of A's device should be A's: $(ls -l "/dev/ublkb${id}p1")"
	as 65534 "$bb" dd if=/dev/zero of="/dev/ublkb${id}p1" bs=4k count=4 conv=fsync 2>/dev/null ||
		fail "A cannot write the partition of its device"
	log "A's partition /dev/ublkb${id}p1 is A's"
else
	log "no python3: the partition check is not run"
fi

# B can touch nothing
b_refused() {
	local rc=0
	"$@" >"$T_WORK/b.out" 2>"$T_WORK/b.err" || rc=$?
	[ "$rc" -ne 0 ] || fail "user B could run '$*' on A's device"
	grep -qiE "permission denied|not permitted" "$T_WORK/b.err" ||
		fail "B's '$*' should fail with a permission error: $(cat "$T_WORK/b.err")"
	log "ok: B refused: $(head -n 1 "$T_WORK/b.err")"
}
b_refused ublk_b list -n "$id"
b_refused ublk_b del -n "$id"
b_refused as 65533 "$bb" dd if="/dev/ublkb$id" of=/dev/null bs=4k count=1
[ "$(dev_state "$id")" = LIVE ] && pid_alive "$pid" || fail "A's device changed after B's attempts"

# A deletes it
ublk_a del -n "$id" 2>"$T_WORK/ad.err" || fail "A cannot delete its device: $(cat "$T_WORK/ad.err")"
assert_dev_deleted "$id" "$pid"

# root's devices are not A's
ublk_add -t null --unprivileged
ublk owner -n "$DEV_ID" >/dev/null 2>&1 && fail "ublk owner claims root's dev $DEV_ID is unprivileged"
udevadm settle
[ "$(stat -c %u "/dev/ublkc$DEV_ID")" = 0 ] || fail "the rule gave root's /dev/ublkc$DEV_ID away: $(ls -l "/dev/ublkc$DEV_ID")"
rc=0
ublk_a del -n "$DEV_ID" 2>"$T_WORK/ar.err" || rc=$?
[ "$rc" -ne 0 ] || fail "A deleted root's device"
ublk_del "$DEV_ID"
