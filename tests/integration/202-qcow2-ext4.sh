#!/bin/bash
# Proves a file system survives on a qcow2 device across del and re-add:
# mkfs.ext4 (with discard: zero clusters) on a fresh 4 KiB-cluster v3 image,
# 2 queues, mount, copy a generated tree, umount, del; `qemu-img check`
# clean; add again, mount, the tree compares equal, umount, del, check clean.
# timeout: 600
. "$(dirname "$0")/lib.sh"

command -v qemu-img >/dev/null || skip "qemu-img not installed"
for c in mkfs.ext4 e2fsck mount umount diff; do
	command -v "$c" >/dev/null || skip "$c is not installed"
done

img=$T_WORK/fs.qcow2
src=$T_WORK/src
mnt=$T_WORK/mnt
mkdir -p "$src/a/b" "$src/c"
for i in $(seq 1 40); do
	head -c $(((RANDOM % 300) * 1024 + RANDOM % 1024 + 1)) /dev/urandom >"$src/a/f$i"
	head -c $((RANDOM % 5000 + 1)) /dev/urandom >"$src/a/b/s$i"
done
head -c 5M /dev/urandom >"$src/c/big"

check_clean() {
	local out
	out=$(qemu-img check "$img" 2>&1) || fail "qemu-img check (exit $?): $out"
	grep -q "No errors were found" <<<"$out" || fail "qemu-img check: $out"
	log "qemu-img check clean"
}

qemu-img create -q -f qcow2 -o cluster_size=4096 "$img" 128M
ublk_add -t qcow2 -f "$img" -q 2 -d 64
mkfs.ext4 -q -F "/dev/ublkb$DEV_ID" || fail "mkfs.ext4 failed"
mount_dev "/dev/ublkb$DEV_ID" "$mnt"
cp -a "$src" "$mnt/tree" || fail "copy failed"
rm -f "$mnt/tree/c/big" && cp -a "$src/c/big" "$mnt/tree/c/big" || fail "re-copy failed"
fstrim "$mnt" 2>/dev/null || log "fstrim not supported here"
umount_dir "$mnt"
e2fsck -fn "/dev/ublkb$DEV_ID" >/dev/null 2>&1 || fail "e2fsck found errors"
ublk_del "$DEV_ID"
check_clean

ublk_add -t qcow2 -f "$img" -q 1
mount_dev "/dev/ublkb$DEV_ID" "$mnt"
diff -r "$src" "$mnt/tree" || fail "the tree differs after del and re-add"
umount_dir "$mnt"
ublk_del "$DEV_ID"
check_clean
