#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Where the time goes on the BPF path: run inside the VM
# (`tests/vm/run.sh shell benchmarks/profile.sh`). For null_blk, ublk null
# (userspace, zero copy), ublk null --bpf=iouring and, with the project's
# module loaded, --bpf=seed: 4k randread qd32 for a few seconds under
# `perf record -a -g`, the top kernel+user symbols, and for BPF the
# program's own run count and run time (bpf_stats). Scheduler none on every
# device, as in benchmarks/run.sh.
# Output: /build/out/profile/ (or $1).
set -uo pipefail
export LC_ALL=C
out=${1:-/build/out/profile}
secs=${PROFILE_SECONDS:-6}
mkdir -p "$out"

# fio runs 2 * secs; perf samples the middle secs (perf starts slowly under TCG)
profile() {
	local name=$1 dev=$2 iops
	# as in benchmarks/run.sh: no I/O scheduler on any device
	echo none >"/sys/block/${dev#/dev/}/queue/scheduler"
	fio --name=p --filename="$dev" --rw=randread --bs=4k --iodepth=32 --direct=1 \
		--ioengine=io_uring --time_based --runtime=$((2 * secs)) \
		--output-format=json --output="/tmp/$name.fio" &
	local fio_pid=$!
	sleep $((secs / 2))
	perf record -q -a -g -o "/tmp/$name.data" -- sleep "$secs" >/dev/null 2>&1
	wait "$fio_pid"
	iops=$(jq -r '.jobs[0].read.iops | floor' "/tmp/$name.fio")
	echo "$name: $iops IOPS (4k randread qd32, under perf)" | tee -a "$out/summary.txt"
	perf report -i "/tmp/$name.data" --no-children --sort comm,sym --stdio 2>/dev/null |
		grep '%' | grep -v '^#' | grep -v -- '--' | head -40 >"$out/$name.txt"
}

modprobe null_blk nr_devices=1 queue_mode=2 irqmode=0 gb=1 2>/dev/null || true
if [ -b /dev/nullb0 ]; then
	profile null_blk /dev/nullb0
	rmmod null_blk || true
fi

ublk add -t null --size 1G -z >/dev/null
profile ublk-null-z /dev/ublkb0
ublk del -n 0

# profile_bpf NAME ADD_ARGS...: a BPF null device under perf, then bpf_stats
# (how often each struct_ops program ran and for how long) and the counters
profile_bpf() {
	local name=$1
	shift
	ublk add -t null --size 1G "$@" >/dev/null
	profile "$name" /dev/ublkb0
	bpftool prog show 2>/dev/null | grep -A1 '^[0-9]*: struct_ops' >>"$out/summary.txt"
	sleep 1.2
	ublk list -n 0 | grep 'io:' >>"$out/summary.txt"
	ublk del -n 0
}
sysctl -q kernel.bpf_stats_enabled=1
profile_bpf ublk-null-bpf --bpf=iouring
# the seed backend, where the project's ublk_drv is loaded (kernel/)
if ublk features | grep -q '^bpf backend ublk_bpf_ops: yes'; then
	profile_bpf ublk-null-seed --bpf=seed
fi
sysctl -q kernel.bpf_stats_enabled=0
cat "$out/summary.txt"
