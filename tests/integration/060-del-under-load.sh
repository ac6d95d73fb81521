#!/bin/bash
# Proves `ublk del` of a busy device neither hangs nor leaks: with fio doing
# random read/write (2 jobs, iodepth 32, 60 s time_based) on a 2-queue loop
# device, `ublk del -n N` returns 0 within 30 s, fio then ends within 30 s
# with a non-zero exit and an I/O error (its device is gone; an exit 0
# would mean requests were lost silently), both device nodes are gone and
# the daemon has exited.
. "$(dirname "$0")/lib.sh"

make_backing "$T_WORK/backing" 64M
ublk_add -t loop -f "$T_WORK/backing" -q 2 -d 64 "${T_ADD_EXTRA[@]}"
id=$DEV_ID
pid=$DEV_PID
dev=/dev/ublkb$id

fio --name=load --filename="$dev" --ioengine="$T_FIO_ENGINE" --direct=1 --thread \
	--rw=randrw --bs=4k --iodepth=32 --numjobs=2 --time_based --runtime=60 \
	>"$T_WORK/fio.out" 2>&1 &
fio_pid=$!
bg_register "$fio_pid"

# wait until I/O is really flowing (completed reads in /sys/block/*/stat)
wait_for 30 dev_busy "$id" || fail "fio did not get going on $dev: $(dev_ios "$id") I/Os done; fio: $(tail -n 5 "$T_WORK/fio.out")"
sleep 2
pid_alive "$fio_pid" || fail "fio ended before the del: $(tail -n 10 "$T_WORK/fio.out")"
log "fio running, $(dev_ios "$id") I/Os done; deleting dev $id"

start=$SECONDS
rc=0
timeout 30 ublk del -n "$id" >/dev/null 2>"$T_WORK/del.err" || rc=$?
[ "$rc" -ne 124 ] || fail "'ublk del -n $id' under load did not return within 30 s"
[ "$rc" -eq 0 ] || fail "'ublk del -n $id' under load exited $rc: $(cat "$T_WORK/del.err")"
log "del returned after $((SECONDS - start)) s"

wait_pid_exit "$fio_pid" 30 || fail "fio still running 30 s after the del of its device"
fio_rc=0
wait "$fio_pid" || fio_rc=$?
bg_forget "$fio_pid"
# its device vanished 40 s before its run time was up: it must say so
[ "$fio_rc" -ne 0 ] || fail "fio exited 0 although its device was deleted under it"
grep -qiE 'Input/output error|No such device|No such file|error=' "$T_WORK/fio.out" ||
	fail "fio exited $fio_rc without an I/O error: $(tail -n 5 "$T_WORK/fio.out")"
log "fio ended with exit $fio_rc: $(grep -m1 -iE 'Input/output error|No such device|No such file|error=' "$T_WORK/fio.out")"

assert_dev_deleted "$id" "$pid"
