#!/bin/bash
# Proves a file system survives on a loop device across a delete and re-add:
# mkfs.ext4 on /dev/ublkbN (2 queues), mount, copy a generated tree (~20 MiB
# of random files of odd sizes, nested dirs, an empty file and dir, a
# symlink), umount, e2fsck clean, `ublk del`; `ublk add` again on the same
# backing file, mount, the tree compares equal (diff -r, sha256 list, type and
# size listing), umount, e2fsck clean, del.
# timeout: 600
. "$(dirname "$0")/lib.sh"

for c in mkfs.ext4 e2fsck mount umount diff sha256sum; do
	command -v "$c" >/dev/null || skip "$c is not installed"
done

backing=$T_WORK/backing
src=$T_WORK/src
mnt=$T_WORK/mnt

# the source tree
mkdir -p "$src/a" "$src/b/c" "$src/d/e/f" "$src/empty-dir"
for i in 1 2 3 4 5 6 7 8; do
	head -c $((1048576 + i * 4099)) /dev/urandom >"$src/a/big$i"
done
dirs=("$src" "$src/b" "$src/b/c" "$src/d" "$src/d/e/f")
for i in $(seq 1 120); do
	size=$(((RANDOM % 160) * 1024 + RANDOM % 1024 + 1))
	head -c "$size" /dev/urandom >"${dirs[i % ${#dirs[@]}]}/file$i"
done
: >"$src/empty-file"
echo "hello ublk" >"$src/d/hello.txt"
ln -s d/hello.txt "$src/link"
total=$(du -sm "$src" | cut -f1)
log "generated tree: $(find "$src" | wc -l) entries, ${total} MiB"

listing() {
	(cd "$1" && find . -printf '%y %s %p\n' | grep -v '^d ' | sort)
	(cd "$1" && find . -type d -printf '%p\n' | sort)
}
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
listing "$src" >"$T_WORK/listing.src"
sums "$src" >"$T_WORK/sums.src"

make_backing "$backing" 128M
ublk_add -t loop -f "$backing" -q 2 -d 64 "${T_ADD_EXTRA[@]}"
dev=/dev/ublkb$DEV_ID
mkfs.ext4 -q -F -E nodiscard "$dev" || fail "mkfs.ext4 on $dev failed"
mount_dev "$dev" "$mnt"
cp -a "$src" "$mnt/tree" || fail "copying the tree onto $dev failed"
sync
umount_dir "$mnt"
e2fsck -fn "$dev" >"$T_WORK/fsck.out" 2>&1 ||
	fail "e2fsck -fn $dev after the copy found problems: $(tail -n 20 "$T_WORK/fsck.out")"
ublk_del "$DEV_ID"

ublk_add -t loop -f "$backing" -q 2 -d 64 "${T_ADD_EXTRA[@]}"
dev=/dev/ublkb$DEV_ID
mount_dev "$dev" "$mnt"
diff -r "$src" "$mnt/tree" >"$T_WORK/diff.out" 2>&1 ||
	fail "tree read back after re-add differs: $(head -n 20 "$T_WORK/diff.out")"
listing "$mnt/tree" >"$T_WORK/listing.dst"
diff "$T_WORK/listing.src" "$T_WORK/listing.dst" >"$T_WORK/diff.out" ||
	fail "file types/sizes differ after re-add: $(head -n 20 "$T_WORK/diff.out")"
sums "$mnt/tree" >"$T_WORK/sums.dst"
diff "$T_WORK/sums.src" "$T_WORK/sums.dst" >"$T_WORK/diff.out" ||
	fail "checksums differ after re-add: $(head -n 20 "$T_WORK/diff.out")"
umount_dir "$mnt"
e2fsck -fn "$dev" >"$T_WORK/fsck.out" 2>&1 ||
	fail "e2fsck -fn $dev after re-add found problems: $(tail -n 20 "$T_WORK/fsck.out")"
ublk_del "$DEV_ID"
