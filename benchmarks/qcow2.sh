#!/bin/bash
# SPDX-License-Identifier: MIT
#
# qcow2 benchmark, one boot: ublk qcow2 (userspace path), ublk qcow2 --bpf,
# ublk loop --bpf on a raw file of the same size, and qemu-nbd + the kernel
# nbd client; with the project's module loaded (UBLK_VM_MODULE=project) also
# qcow2 on each BPF backend (qcow2-seed, qcow2-iour). Run as root in the VM:
#   tests/vm/run.sh shell 'bash benchmarks/qcow2.sh [-r REPEAT] [-t SECONDS] [-s SIZE]
#                                                   [-j JOBS] [-c "CONFIG..."]'
# -j: fio jobs per run (default 1; sw gives each its own SIZE/JOBS range);
# -c: only these configurations (default: all this kernel has)
#
# Workloads (fio, libaio, O_DIRECT on the block device):
#   rr32   4 KiB random read, qd 32, on a fully allocated image
#   rw32   4 KiB random write, qd 32, on a fresh (empty) image: allocation
#   sw     1 MiB sequential write, qd 8, on a fresh image
# Each (configuration, workload) is measured REPEAT times, configurations
# interleaved per repetition; a fresh image/device for every write run.
# Files live on the VM's tmpfs (no O_DIRECT there): qemu-nbd therefore runs
# with --cache=writeback --aio=io_uring, and ublk's qcow2 target uses the
# page cache as well (it always does).
# CPU per request, over the whole fio run (1 s ramp included) divided by the
# requests fio completed: guest = /proc/stat busy ticks of all CPUs; daemon
# = the ublk daemon's or qemu-nbd's utime + stime, all threads.
set -uo pipefail
export LC_ALL=C

REPEAT=3
JOBS=1
ONLY=
RUNTIME=5
SIZE=256M
while getopts 'r:t:s:j:c:' opt; do
	case $opt in
	r) REPEAT=$OPTARG ;;
	j) JOBS=$OPTARG ;;
	c) ONLY=$OPTARG ;;
	t) RUNTIME=$OPTARG ;;
	s) SIZE=$OPTARG ;;
	*) exit 2 ;;
	esac
done
die() {
	echo "qcow2.sh: $*" >&2
	exit 1
}
DIR=$(mktemp -d "${UBLK_TEST_DIR:-/tmp}/qcow2-bench.XXXXXX")
RES=$DIR/results
: >"$RES"
CONFIGS="qcow2 qcow2-bpf loop-bpf qemu-nbd"
# the seed backend exists only with the project's module (kernel/README)
ublk features 2>/dev/null | grep -q '^bpf backend ublk_bpf_ops: yes' &&
	CONFIGS="qcow2 qcow2-seed qcow2-iour loop-bpf qemu-nbd"
if [ -n "$ONLY" ]; then
	for c in $ONLY; do
		[[ " $CONFIGS " == *" $c "* ]] || die "-c: no configuration '$c' here (have: $CONFIGS)"
	done
	CONFIGS=$ONLY
fi
case $JOBS in '' | *[!0-9]* | 0) die "-j: '$JOBS' is not a number of jobs" ;; esac

for c in fio jq qemu-img qemu-nbd ublk; do
	command -v "$c" >/dev/null || die "$c not installed"
done
modprobe nbd 2>/dev/null
[ -e /dev/ublk-control ] || modprobe ublk_drv || die "no ublk_drv"

DEV=
PID=
# make_image CONFIG fresh|full: the file CONFIG serves
make_image() {
	local f=$DIR/$1
	rm -f "$f.qcow2" "$f.raw"
	if [ "$1" = loop-bpf ]; then
		if [ "$2" = full ]; then
			dd if=/dev/urandom of="$f.raw" bs=1M count="${SIZE%M}" status=none
		else
			truncate -s "$SIZE" "$f.raw"
		fi
		echo "$f.raw"
		return
	fi
	if [ "$2" = full ]; then
		qemu-img create -q -f qcow2 -o preallocation=full "$f.qcow2" "$SIZE"
	else
		qemu-img create -q -f qcow2 "$f.qcow2" "$SIZE"
	fi
	echo "$f.qcow2"
}

# attach CONFIG FILE: sets DEV
attach() {
	local out
	case $1 in
	qcow2) out=$(ublk add -t qcow2 -f "$2") ;;
	qcow2-bpf) out=$(ublk add -t qcow2 -f "$2" --bpf) ;;
	qcow2-seed) out=$(ublk add -t qcow2 -f "$2" --bpf=seed) ;;
	qcow2-iour) out=$(ublk add -t qcow2 -f "$2" --bpf=iouring) ;;
	loop-bpf) out=$(ublk add -t loop -f "$2" --bpf) ;;
	qemu-nbd)
		qemu-nbd -c /dev/nbd0 -f qcow2 --cache=writeback --aio=io_uring "$2" ||
			die "qemu-nbd -c failed"
		for _ in $(seq 50); do
			[ "$(cat /sys/block/nbd0/size)" -gt 0 ] && break
			sleep 0.1
		done
		DEV=/dev/nbd0
		PID=$(pgrep -n -x qemu-nbd)
		[ -r "/proc/$PID/stat" ] || die "qemu-nbd: no pid"
		return
		;;
	esac
	[[ $out =~ dev\ id\ ([0-9]+) ]] || die "ublk add ($1) failed: $out"
	DEV=/dev/ublkb${BASH_REMATCH[1]}
	PID=$(ublk list -n "${BASH_REMATCH[1]}" --json | jq -r '.[0].pid')
	[ -r "/proc/$PID/stat" ] || die "$1: no daemon pid ($PID)"
}

# busy CPU ticks of the whole guest; utime + stime ticks of process $1
guest_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
proc_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

detach() {
	if [ "$1" = qemu-nbd ]; then
		qemu-nbd -d /dev/nbd0 >/dev/null
		sleep 0.5
	else
		ublk del -a >/dev/null
	fi
}

# prints "IOPS MiB/s guest_us_per_req daemon_us_per_req"
fio_once() {
	local name=$1 dev=$2 g0 d0 g1 d1 hz
	shift 2
	hz=$(getconf CLK_TCK)
	g0=$(guest_ticks)
	d0=$(proc_ticks "$PID")
	fio --name="$name" --filename="$dev" --ioengine=libaio --direct=1 \
		--numjobs="$JOBS" --group_reporting \
		--time_based --runtime="$RUNTIME" --ramp_time=1 --output-format=json "$@" >"$DIR/fio.json" ||
		die "fio $name on $dev failed"
	g1=$(guest_ticks)
	d1=$(proc_ticks "$PID")
	jq -r --argjson g $((g1 - g0)) --argjson d $((d1 - d0)) --argjson hz "$hz" '.jobs[0] |
		(.read.total_ios + .write.total_ios) as $n |
		"\(.read.iops + .write.iops | floor) \((.read.bw_bytes + .write.bw_bytes) / 1048576 | floor) \($g * 1e6 / $hz / $n | floor) \($d * 1e6 / $hz / $n | floor)"' "$DIR/fio.json"
}

measure() {
	local cfg=$1 wl=$2 img r
	case $wl in
	rr32)
		img=$(make_image "$cfg" full)
		attach "$cfg" "$img"
		r=$(fio_once rr32 "$DEV" --rw=randread --bs=4k --iodepth=32)
		;;
	rw32)
		img=$(make_image "$cfg" fresh)
		attach "$cfg" "$img"
		r=$(fio_once rw32 "$DEV" --rw=randwrite --bs=4k --iodepth=32)
		;;
	sw)
		img=$(make_image "$cfg" fresh)
		attach "$cfg" "$img"
		r=$(fio_once sw "$DEV" --rw=write --bs=1M --iodepth=8 \
			--size=$((${SIZE%M} / JOBS))M --offset_increment=$((${SIZE%M} / JOBS))M)
		;;
	esac
	detach "$cfg"
	echo "$cfg $wl $r" >>"$RES"
	echo "$cfg $wl $r"
}

for rep in $(seq "$REPEAT"); do
	for wl in rr32 rw32 sw; do
		for cfg in $CONFIGS; do
			measure "$cfg" "$wl"
		done
	done
	echo "repetition $rep done" >&2
done

echo
echo "median (min-max) over $REPEAT runs of ${RUNTIME}s, $SIZE, $JOBS fio job(s), TCG guest;"
echo "CPU: us per request (median), guest = all CPUs, daemon = ublk / qemu-nbd:"
printf '%-10s %-6s %22s %10s %10s %10s\n' config load IOPS MiB/s guest daemon
for wl in rr32 rw32 sw; do
	for cfg in $CONFIGS; do
		awk -v c="$cfg" -v w="$wl" '$1 == c && $2 == w { print $3, $4, $5, $6 }' "$RES" |
			sort -n | awk -v c="$cfg" -v w="$wl" '
			function med(a, n,   t, i, j, x) {
				for (i = 1; i <= n; i++) t[i] = a[i]
				for (i = 2; i <= n; i++)
					for (j = i; j > 1 && t[j - 1] > t[j]; j--) { x = t[j]; t[j] = t[j - 1]; t[j - 1] = x }
				return t[int((n + 1) / 2)]
			}
			{ i[NR] = $1; m[NR] = $2; g[NR] = $3; d[NR] = $4 }
			END {
				if (!NR) { printf "%-10s %-6s n/a\n", c, w; exit }
				k = int((NR + 1) / 2)
				printf "%-10s %-6s %8d (%d-%d) %10d %10d %10d\n", c, w, i[k], i[1], i[NR],
					m[k], med(g, NR), med(d, NR)
			}'
	done
done
rm -rf "$DIR"
