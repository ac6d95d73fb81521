#!/bin/bash
# Proves a loop device at both limits at once, the kernel's largest queue
# depth (4096, UBLK_MAX_QUEUE_DEPTH) and the daemon's largest request
# (--max_io_size 32M; ublksrv's --max_io_buf_bytes spelling too), works
# with zero copy (-z) and with --bpf -z (that part is skipped, and the log
# says so, where the kernel has no BPF path); copy mode, which needs a
# buffer of the largest request per tag (128 GiB here), is refused with one
# line naming the need and the RAM where it does not fit, and served at
# depth 4096 with 128 KiB requests (512 MiB of buffers), every tag used:
# - `ublk add` refuses one step past either limit (-d 4097, 32 MiB + 4 KiB)
#   cleanly, leaving nothing behind;
# - the kernel took both: `ublk list` and `ublk list --json` show depth 4096
#   and 32 MiB; sysfs shows max_hw_sectors_kb 32768, max_sectors_kb at the
#   block layer's default cap (4096) until raised to 32768, and nr_requests
#   256 (2 x min(depth, 128)) under the mq-deadline a one-queue device gets,
#   4096 once it has no I/O scheduler;
# - 32 MiB direct writes reach the daemon as 32 MiB requests (sysfs stat:
#   one request per write, two where the bios do not end on the limit; the
#   default 4 MiB cap would make eight), eight at once, three passes over
#   the device, each read back with crc32c verify: the kernel hands out its
#   4096 tags in turn, so each pass reaches buffers not used before, and the
#   daemon must survive that in a 2 GiB VM;
# - a 64 MiB direct write is split by the block layer into (at least) two
#   requests and verifies;
# - 4 KiB random writes at iodepth 4096 (4 jobs x 1024) verify, with more
#   than 512 requests seen in flight at once (sysfs inflight): more than a
#   depth of 128 or a scheduler's 256 could hold. The daemon is stopped
#   (SIGSTOP) while fio fills the queue, so the count shows what the kernel
#   holds, not how fast this host runs fio against the daemon.
# Zero copy and --bpf go first, copy mode last (before the fix it was
# OOM-killed in a 2 GiB VM: its resident buffers grew with every new tag).
# timeout: 480
. "$(dirname "$0")/lib.sh"

DEPTH=4096             # UBLK_MAX_QUEUE_DEPTH (include/ublk_cmd.h)
BIG=$((32 << 20))      # the daemon's largest --max_io_size (lib/dev.c)
COPY_MAX=$((128 << 10)) # copy mode: 4096 x 128 KiB = 512 MiB of buffers
MAX=$BIG
MAX_KB=$((MAX >> 10))
SIZE_MB=256            # the backing file (on the test dir's tmpfs)
INFLIGHT_MIN=512       # what the 4 KiB run must have had in flight at once

# ---------------------------------------------------------------- limits

expect_fail "depth one past UBLK_MAX_QUEUE_DEPTH" \
	ublk add -t null -q 1 -d $((DEPTH + 1))
expect_fail "--max_io_size one page past 32 MiB" \
	ublk add -t null -q 1 --max_io_size $((MAX_KB + 4))K
expect_fail "--max_io_buf_bytes one page past 32 MiB" \
	ublk add -t null -q 1 --max_io_buf_bytes $((BIG + 4096))
expect_fail "both limits, each one step past" \
	ublk add -t null -q 1 -d $((DEPTH + 1)) --max_io_size $((BIG + 4096))

# ---------------------------------------------------------------- helpers

# stat fields of the last added device: writes completed, sectors written
dev_stat() { awk -v f="$1" '{ print $f }' "$(dev_sysfs "$DEV_ID")/stat"; }

# inflight_sampler FILE: write the largest reads + writes in flight seen on
# the last added device to FILE, until killed
inflight_sampler() {
	local f out=$1 max=0 r w
	f=$(dev_sysfs "$DEV_ID")/inflight
	echo 0 >"$out"
	while read -r r w <"$f"; do
		if ((r + w > max)); then
			max=$((r + w))
			echo "$max" >"$out"
		fi
		sleep 0.05
	done
}
# inflight_over N: more than N requests of the last added device in flight
inflight_over() {
	local r w
	read -r r w <"$(dev_sysfs "$DEV_ID")/inflight"
	((r + w > $1))
}

# hold_daemon: stop the daemon once fio has requests in flight, until more
# than INFLIGHT_MIN wait in the kernel (at most 20 s), then let it go on; a
# ublk request waits for its daemon, it does not time out. Nothing in here
# may fail the test: the daemon must not be left stopped.
hold_daemon() {
	wait_for 10 inflight_over 0 || true
	kill -STOP "$DEV_PID"
	wait_for 20 inflight_over "$INFLIGHT_MIN" || true
	kill -CONT "$DEV_PID"
}

SAMPLER=
sampler_start() {
	inflight_sampler "$1" &
	SAMPLER=$!
	bg_register "$SAMPLER"
}
sampler_stop() {
	kill "$SAMPLER" 2>/dev/null || true
	wait "$SAMPLER" 2>/dev/null || true
	bg_forget "$SAMPLER"
}

fio_opts_verify=(--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0)

# check_dev MODE: the limits the kernel took for the last added device, and
# the three fio runs on it
check_dev() {
	local mode=$1 q json sched nr w0 s0 w1 s1 fw max hwm
	q=$(dev_sysfs "$DEV_ID")/queue
	check_geometry "$DEV_ID" 1 "$DEPTH" $((SIZE_MB << 11))
	json=$(dev_json "$DEV_ID")
	jq -e --argjson d "$DEPTH" --argjson m "$MAX" \
		'.depth == $d and .max_io_bytes == $m and .nr_queues == 1' <<<"$json" >/dev/null ||
		fail "$mode: 'ublk list --json' should show depth $DEPTH, max_io_bytes $MAX: $json"
	dev_line "$DEV_ID" 2 | grep -qw "max rq size $MAX" ||
		fail "$mode: 'ublk list' line 2 should show max rq size $MAX: $(dev_line "$DEV_ID" 2)"

	[ "$(cat "$q/max_hw_sectors_kb")" = "$MAX_KB" ] ||
		fail "$mode: max_hw_sectors_kb is $(cat "$q/max_hw_sectors_kb"), expected $MAX_KB"
	# the block layer caps the soft limit at BLK_DEF_MAX_SECTORS_CAP (4 MiB)
	# unless the driver or the user sets it: ublk does not
	local cap=$((MAX_KB < 4096 ? MAX_KB : 4096))
	[ "$(cat "$q/max_sectors_kb")" = "$cap" ] ||
		fail "$mode: max_sectors_kb is $(cat "$q/max_sectors_kb"), expected the default cap $cap"
	# more than max_hw_sectors_kb is clamped to it (7.3 takes the write)
	(echo $((2 * MAX_KB)) >"$q/max_sectors_kb") 2>/dev/null || true
	[ "$(cat "$q/max_sectors_kb")" = "$MAX_KB" ] ||
		fail "$mode: max_sectors_kb is $(cat "$q/max_sectors_kb") after writing $((2 * MAX_KB)), expected max_hw_sectors_kb $MAX_KB"
	echo "$MAX_KB" >"$q/max_sectors_kb"
	[ "$(cat "$q/max_sectors_kb")" = "$MAX_KB" ] ||
		fail "$mode: max_sectors_kb is $(cat "$q/max_sectors_kb") after writing $MAX_KB"

	# With an I/O scheduler (a one-queue device gets mq-deadline unless udev
	# says otherwise) the block layer gives nr_requests
	# 2 * min(depth, BLKDEV_DEFAULT_RQ = 128) = 256 scheduler tags, and no
	# more requests than that reach the driver; with none, the driver's tags
	# are the limit: nr_requests is the depth.
	sched=$(sed 's/.*\[\(.*\)\].*/\1/' "$q/scheduler")
	nr=$(cat "$q/nr_requests")
	log "$mode: scheduler $sched, nr_requests $nr, max_hw_sectors_kb $(cat "$q/max_hw_sectors_kb")"
	if [ "$sched" != none ]; then
		[ "$nr" = 256 ] || fail "$mode: with scheduler $sched nr_requests is $nr, expected 256"
		echo none >"$q/scheduler"
		nr=$(cat "$q/nr_requests")
	fi
	[ "$nr" = "$DEPTH" ] || fail "$mode: without a scheduler nr_requests is $nr, expected $DEPTH"

	# largest-size writes, 2 jobs x 4 in flight (fio holds bs x iodepth per
	# job: 256 MiB at 32 MiB, a 2 GiB VM has no room for much more), three
	# times over the device, each pass read back and verified
	w0=$(dev_stat 5)
	s0=$(dev_stat 7)
	sampler_start "$T_WORK/inflight-big"
	fio_run big "/dev/ublkb$DEV_ID" --rw=write --bs="$MAX" --iodepth=4 --numjobs=2 \
		--size=$((SIZE_MB / 2))M --offset_increment=$((SIZE_MB / 2))M --loops=3 \
		"${fio_opts_verify[@]}"
	sampler_stop
	log "$mode: daemon memory after the $MAX_KB KiB runs: $(grep -E '^(VmHWM|VmRSS|RssAnon)' "/proc/$DEV_PID/status" 2>/dev/null | tr -s ' \t\n' ' ')"
	w1=$(dev_stat 5)
	s1=$(dev_stat 7)
	fw=$(sed -n '/^{/,$p' "$T_WORK/.fio-big.out" | jq '[.jobs[].write.total_ios] | add')
	log "$mode: fio wrote $fw x $MAX_KB KiB; the device completed $((w1 - w0)) writes of $(((s1 - s0) / 2048)) MiB; up to $(cat "$T_WORK/inflight-big") in flight"
	[ $((s1 - s0)) -eq $((fw * MAX / 512)) ] ||
		fail "$mode: fio wrote $((fw * MAX_KB)) KiB, the device $(((s1 - s0) / 2)) KiB"
	((w1 - w0 >= fw && w1 - w0 <= 2 * fw)) ||
		fail "$mode: $fw writes of $MAX_KB KiB became $((w1 - w0)) requests, expected one or two each"

	# twice the largest request: the block layer splits it
	w0=$(dev_stat 5)
	fio_run split "/dev/ublkb$DEV_ID" --rw=write --bs=$((2 * MAX)) --iodepth=1 \
		--size=$((SIZE_MB / 2))M --offset=$((SIZE_MB / 4))M "${fio_opts_verify[@]}"
	w1=$(dev_stat 5)
	fw=$(sed -n '/^{/,$p' "$T_WORK/.fio-split.out" | jq '[.jobs[].write.total_ios] | add')
	((w1 - w0 >= 2 * fw && w1 - w0 <= 3 * fw)) ||
		fail "$mode: $fw writes of 64 MiB became $((w1 - w0)) requests, expected two (or three) each"
	log "$mode: $fw writes of 64 MiB were split into $((w1 - w0)) requests and verify"

	# 4 KiB random writes, 4 jobs x 1024 = the whole depth
	sampler_start "$T_WORK/inflight-4k"
	fio_bg deep "/dev/ublkb$DEV_ID" --rw=randwrite --bs=4k --iodepth=1024 --numjobs=4 \
		--iodepth_batch_submit=256 --size=16M --offset_increment=$((SIZE_MB / 4))M \
		"${fio_opts_verify[@]}"
	# the seed backend does the I/O in the submitter's ublk_queue_rq():
	# requests complete before the next one is queued, nothing piles up
	seed=false
	[ "$mode" = bpf ] && [ "$(bpf_backend)" = ublk_bpf_ops ] && seed=true
	$seed || hold_daemon
	fio_bg_wait 240
	sampler_stop
	[ "$FIO_RC" -eq 0 ] || fail "$mode: fio deep failed (exit $FIO_RC): $(tail -n 5 "$FIO_OUT.err")"
	jq -e '([.jobs[].error] | all(. == 0)) and ([.jobs[].write.io_bytes] | add > 0)' \
		<<<"$FIO_JSON" >/dev/null || fail "$mode: fio deep reported errors or did no I/O"
	max=$(cat "$T_WORK/inflight-4k")
	log "$mode: 4 KiB at iodepth 4 x 1024: up to $max requests in flight"
	if $seed; then
		log "$mode: ublk_bpf_ops serves in the submitter: no in-flight bound"
	else
		[ "$max" -gt "$INFLIGHT_MIN" ] ||
			fail "$mode: at most $max requests in flight at iodepth 4096, expected more than $INFLIGHT_MIN"
	fi

	hwm=$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$DEV_PID/status" 2>/dev/null || true)
	log "$mode: daemon peak RSS ${hwm:-?}"
	pid_alive "$DEV_PID" || fail "$mode: the daemon (pid $DEV_PID) is gone"
	[ "$(dev_state "$DEV_ID")" = LIVE ] || fail "$mode: state $(dev_state "$DEV_ID") after the runs"
}

# ---------------------------------------------------------------- devices

# Copy mode last: its daemon holds a buffer of the largest request per tag,
# and every tag the kernel hands a request to stays resident.
modes=(zero-copy)
if ublk features 2>/dev/null | grep -q '^bpf fast path: yes'; then
	modes+=(bpf)
else
	log "SKIPPING the --bpf part: $(ublk features 2>&1 | grep '^bpf fast' || echo 'no BPF fast path')"
fi
modes+=(copy)

for mode in "${modes[@]}"; do
	make_backing "$T_WORK/backing" "${SIZE_MB}M"
	case $mode in
	copy)
		ram=$(awk '/^MemTotal:/ { print $2 * 1024 }' /proc/meminfo)
		if ((DEPTH * BIG > ram)); then
			expect_fail "copy mode, $DEPTH x 32 MiB of buffers, $((ram >> 20)) MiB of RAM" \
				ublk add -t loop -f "$T_WORK/backing" -q 1 -d "$DEPTH" --max_io_size 32M
			grep -q "copy mode needs a buffer of the largest request per tag: .* more than the $((ram >> 20)) MiB of RAM" \
				"$T_WORK/.xf.err" || fail "copy mode: the refusal should name the need and the RAM: $(cat "$T_WORK/.xf.err")"
		fi
		MAX=$COPY_MAX MAX_KB=$((COPY_MAX >> 10))
		ublk_add -t loop -f "$T_WORK/backing" -q 1 -d "$DEPTH" --max_io_size "$MAX_KB"K
		;;
	zero-copy) ublk_add -t loop -f "$T_WORK/backing" -q 1 -d "$DEPTH" -z --max_io_buf_bytes "$MAX" ;;
	# -z: the seed backend (project module) would otherwise keep copy mode
	bpf) ublk_add -t loop -f "$T_WORK/backing" -q 1 -d "$DEPTH" --max_io_size "$MAX" --bpf -z ;;
	esac
	check_dev "$mode"
	ublk_del "$DEV_ID"
done
