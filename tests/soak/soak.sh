#!/bin/bash
# Soak run (tests/vm/run.sh soak [MINUTES [PATH...]], not part of "test"):
# for each io path (userspace, bpf; default both), MINUTES minutes (default
# 30) of mixed fio with crc32c verify on a 2-queue loop device with
# --recovery=reissue, while its daemon is killed with SIGKILL and recovered
# every UBLK_SOAK_KILL_EVERY seconds (default 60) and stopped with SIGTERM
# and recovered every UBLK_SOAK_TERM_EVERY seconds (default 300).
# fio runs back to back: each run writes 32 MiB at random (4 KiB to 1 MiB
# blocks, iodepth 32 over 2 jobs) and reads all of it back; a run that fails
# counts as a verify error. One result line per path:
#   soak PATH: M min, N stops (K kill -9, T SIGTERM), R fio runs, E verify errors, W kernel warnings
# and the exit status is 0 iff every path has 0 verify errors and 0 kernel
# warnings (WARNING, BUG, Oops, hung task in the kernel log).
set -uo pipefail

minutes=${1:-30}
shift || true
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=(userspace bpf)
kill_every=${UBLK_SOAK_KILL_EVERY:-60}
term_every=${UBLK_SOAK_TERM_EVERY:-300}
work=$(mktemp -d "${UBLK_TEST_DIR:-/tmp}/soak.XXXXXX")
rc=0

say() { printf '[soak] %s\n' "$*" >&2; }

dev_state() { ublk list -n "$1" 2>/dev/null | awk 'NR == 2 { print $9 }'; }
dev_pid() { ublk list -n "$1" 2>/dev/null | awk 'NR == 2 { print $7 }'; }
wait_state() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(dev_state "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

# stop ID SIG: signal the daemon, wait for QUIESCED, recover
stop_recover() {
	local id=$1 sig=$2 pid
	pid=$(dev_pid "$id")
	kill -"$sig" "$pid" || return 1
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	wait_state "$id" QUIESCED || { say "dev $id not QUIESCED after SIG$sig"; return 1; }
	ublk recover -n "$id" >/dev/null 2>"$work/recover.err" </dev/null ||
		{ say "recover failed: $(cat "$work/recover.err")"; return 1; }
}

soak_path() {
	local path=$1 extra=() id end next_kill next_term now
	local stops=0 kills=0 terms=0 runs=0 errors=0 warns fio_pid
	[ "$path" = bpf ] && extra=(--bpf)
	truncate -s 64M "$work/backing"
	dmesg -C 2>/dev/null || true
	ublk add -t loop -f "$work/backing" -q 2 -d 64 --recovery=reissue "${extra[@]}" \
		>"$work/add.out" 2>&1 </dev/null || { say "add failed: $(cat "$work/add.out")"; return 1; }
	id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$work/add.out" | head -n 1)
	end=$((SECONDS + minutes * 60))
	next_kill=$((SECONDS + kill_every))
	next_term=$((SECONDS + term_every))
	fio_pid=
	while [ "$SECONDS" -lt "$end" ]; do
		if [ -z "$fio_pid" ]; then
			fio --name=soak --filename="/dev/ublkb$id" --ioengine=libaio --direct=1 \
				--rw=randwrite --bssplit=4k/40:16k/20:64k/20:256k/10:1m/10 \
				--size=32M --numjobs=2 --offset_increment=32M --iodepth=32 \
				--verify=crc32c --do_verify=1 --verify_fatal=1 \
				--verify_state_save=0 --group_reporting \
				>"$work/fio.out" 2>&1 &
			fio_pid=$!
		fi
		if ! kill -0 "$fio_pid" 2>/dev/null; then
			runs=$((runs + 1))
			if ! wait "$fio_pid"; then
				errors=$((errors + 1))
				say "$path: fio run $runs failed: $(grep -m 3 -iE 'error|verify' "$work/fio.out")"
			fi
			fio_pid=
			continue
		fi
		now=$SECONDS
		if [ "$now" -ge "$next_term" ]; then
			stop_recover "$id" TERM || { errors=$((errors + 1)); break; }
			terms=$((terms + 1))
			next_term=$((now + term_every))
			next_kill=$((now + kill_every))
		elif [ "$now" -ge "$next_kill" ]; then
			stop_recover "$id" KILL || { errors=$((errors + 1)); break; }
			kills=$((kills + 1))
			next_kill=$((now + kill_every))
		fi
		sleep 0.5
	done
	if [ -n "$fio_pid" ]; then
		wait "$fio_pid" || { errors=$((errors + 1)); say "$path: last fio run failed"; }
		runs=$((runs + 1))
	fi
	ublk del -n "$id" >/dev/null 2>&1 || say "del of dev $id failed"
	stops=$((kills + terms))
	warns=$(dmesg 2>/dev/null | grep -cE 'WARNING|BUG|Oops|hung_task|blocked for more than' || true)
	echo "soak $path: $minutes min, $stops stops ($kills kill -9, $terms SIGTERM), $runs fio runs, $errors verify errors, $warns kernel warnings"
	[ "$errors" -eq 0 ] && [ "$warns" -eq 0 ]
}

for path in "${paths[@]}"; do
	soak_path "$path" || rc=1
done
rm -rf --one-file-system "$work"
exit "$rc"
