#!/bin/bash
# Proves a file system survives a daemon crash in the middle of being made:
# mkfs.ext4 (direct I/O, no lazy init: it writes for a while) runs on a loop device
# added with --recovery=reissue; the daemon is SIGKILLed while mkfs writes;
# `ublk recover -n N` brings the device back and mkfs completes with exit 0;
# then the file system is written again (mount, copy 8 MiB of files, umount)
# and `e2fsck -fn` finds it clean, and the files read back intact.
# timeout: 600
. "$(dirname "$0")/lib.sh"

for c in mkfs.ext4 e2fsck mount umount; do
	command -v "$c" >/dev/null || skip "$c is not installed"
done

make_backing "$T_WORK/backing" 512M
ublk_add -t loop -f "$T_WORK/backing" -q 2 -d 64 --recovery=reissue
id=$DEV_ID
dev=/dev/ublkb$id
pid=$DEV_PID
stat_file=$(dev_sysfs "$id")/stat
# W: completed writes, read without forking: the kill must land while mkfs runs
W=0
read_writes() {
	local _r _rm _rs _rt
	read -r _r _rm _rs _rt W _ <"$stat_file"
}
read_writes
w0=$W

mkfs.ext4 -F -q -D -i 4096 -I 1024 -J size=64 \
	-E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$dev" \
	>"$T_WORK/mkfs.out" 2>&1 &
mkfs_pid=$!
bg_register "$mkfs_pid"
end=$((SECONDS + 60))
while read_writes && [ "$W" -lt $((w0 + 8)) ] && [ "$SECONDS" -lt "$end" ]; do
	:
done
kill -KILL "$pid"
read_writes
log "killed daemon $pid after $((W - w0)) writes of mkfs"
pid_alive "$mkfs_pid" || skip "mkfs.ext4 finished before the kill (too fast to test here)"
wait_pid_exit "$pid" 30 || fail "daemon $pid alive 30 s after SIGKILL"
wait_state "$id" QUIESCED 30
ublk_recover "$id"
wait_pid_exit "$mkfs_pid" 300 || fail "mkfs.ext4 still running 300 s after recovery"
rc=0
wait "$mkfs_pid" || rc=$?
bg_forget "$mkfs_pid"
[ "$rc" -eq 0 ] || fail "mkfs.ext4 exited $rc after recovery: $(cat "$T_WORK/mkfs.out")"
log "mkfs.ext4 completed after the daemon was killed and the device recovered"

mkdir -p "$T_WORK/src"
for i in 1 2 3 4 5 6 7 8; do
	head -c $((1048576 - i * 513)) /dev/urandom >"$T_WORK/src/f$i"
done
mount_dev "$dev" "$T_WORK/mnt"
cp -r "$T_WORK/src" "$T_WORK/mnt/"
umount_dir "$T_WORK/mnt"
e2fsck -fn "$dev" >"$T_WORK/fsck.out" 2>&1 || fail "e2fsck -fn is not clean: $(cat "$T_WORK/fsck.out")"
log "e2fsck -fn clean"
mount_dev "$dev" "$T_WORK/mnt" -o ro
diff -r "$T_WORK/src" "$T_WORK/mnt/src" || fail "files differ after the round trip"
umount_dir "$T_WORK/mnt"
ublk_del "$id"
