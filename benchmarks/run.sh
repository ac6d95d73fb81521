#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ublk benchmark: kernel block drivers, the kernel's own ublk server (kublk)
# and our ublk targets, side by side, in one boot, with the same settings.
# Runs as root inside a VM whose kernel has ublk_drv (normally through
# `tests/vm/run.sh bench [ARG...]`, which runs /build/src/benchmarks/run.sh
# ARG... with `ublk` on PATH). Prints a report on stdout; exits 0 if every
# measurement that was attempted succeeded (a configuration whose setup fails,
# e.g. `ublk add` rejecting an option, is reported as "n/a (reason)" and does
# not fail the run).
#
#   benchmarks/run.sh [-r REPEAT] [-t SECONDS] [-s SIZE] [-w WORKLOADS]
#                     [-q QUEUES] [-d DEPTH] [-S SCHED] [-c CPUS] [-k KUBLK]
#                     [-p POLL_US] [-a UBLK_ARGS] [-o DIR] [PATTERN...]
#
#   -r REPEAT     runs per (configuration, workload); median and min-max (3)
#   -t SECONDS    measured seconds per fio run, after a 1 s ramp (3)
#   -s SIZE       device size, and size of the loop backing file on tmpfs (256M)
#   -w WORKLOADS  which workloads (all: "rr32 rr32x2 rr1 sw", see TESTS)
#   -q QUEUES     hardware queues of every ublk device, kublk's and
#                 null_blk's too (1)
#   -d DEPTH      queue depth of every ublk device and of null_blk (128)
#   -S SCHED      I/O scheduler set on every device ("none"); "default"
#                 keeps each driver's own choice
#   -c CPUS       pin fio to these CPUs (fio --cpus_allowed; default: not pinned)
#   -k KUBLK      the kublk binary; default: build it from the kernel source
#                 tarball in /usr/src (benchmarks/build-kublk.sh); "off": none
#   -p POLL_US    --bpf_poll_us of the "poll" configurations (100)
#   -a UBLK_ARGS  extra arguments for every `ublk add` (e.g. "-q 2": ours at 2
#                 queues, kublk still at -q)
#   -o DIR        directory for the report and raw results ($UBLK_BENCH_OUT,
#                 else a new /tmp/ublk-bench.*)
#   PATTERN       only configurations whose label matches one of these
#                 extended regexps (default: all)
#
# The defaults (24 configurations x 4 workloads x 3 repetitions) take about
# 50 minutes in a 2-vCPU TCG guest.
#
# Method. All devices are set up first and stay live; then, for each
# repetition, for each workload, every configuration is measured back to back,
# so slow drift of the (TCG) host hits all configurations alike. Each fio run
# is bracketed by /proc/stat (whole guest: user+nice+system+irq+softirq) and
# /proc/PID/stat (the daemon: utime+stime, which covers all its threads,
# io_uring workers included) snapshots taken inside the run (see measure());
# CPU time is divided by the fio-sized I/Os the device moved in that window.
# fio's JSON gives IOPS, latency and MiB/s.
set -uo pipefail
export LC_ALL=C		# "." in $EPOCHREALTIME and in numbers

RUNTIME=3
REPEAT=3
SIZE=256M
TESTS_WANTED="rr32 rr32x2 rr1 sw"
QUEUES=1
DEPTH=128
SCHED=none
FIO_CPUS=
KUBLK=
UBLK_EXTRA=
# kublk's requests are at most 1 MiB (UBLK_IO_MAX_BYTES), ours 512 KiB by
# default: the same for both, or a 1 MiB write is one request against two
UBLK_SAME="--max_io_size 1M"
POLL_US=100
OUT=${UBLK_BENCH_OUT:-}

usage() {
	sed -n '/^#   benchmarks/,/^#  *extended regexps/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}
while getopts 'r:t:s:w:q:d:S:c:k:p:a:o:h' opt; do
	case $opt in
	r)	REPEAT=$OPTARG ;;
	t)	RUNTIME=$OPTARG ;;
	s)	SIZE=$OPTARG ;;
	w)	TESTS_WANTED=$OPTARG ;;
	q)	QUEUES=$OPTARG ;;
	d)	DEPTH=$OPTARG ;;
	S)	SCHED=$OPTARG ;;
	c)	FIO_CPUS=$OPTARG ;;
	k)	KUBLK=$OPTARG ;;
	p)	POLL_US=$OPTARG ;;
	a)	UBLK_EXTRA=$OPTARG ;;
	o)	OUT=$OPTARG ;;
	*)	usage ;;
	esac
done
shift $((OPTIND - 1))

# Configurations: "label | group | kind | arguments | peers". kind is nullb
# (null_blk via configfs), kloop (losetup --direct-io=on on the backing
# file), kublk (`kublk add ARGUMENTS`), ublk (`ublk add ARGUMENTS`) or
# ublk-unpinned (the same, then every daemon thread allowed on every CPU
# again: how ublk ran before it bound queue threads to one CPU; measured in
# docs/benchmarks.md, no default row now: add one to compare again); @FILE@
# is the tmpfs backing file, @SIZE@ the size, @Q@ and @D@ the queues and
# depth, @POLL@ the --bpf_poll_us window (-p). The first configuration of
# a group is the baseline of the first ratio table; peers (comma-separated
# labels) are compared in the second: each of our modes against kublk's
# corresponding mode, --bpf against our userspace zero copy too, and the
# polling loop against the sleeping one. A configuration whose setup fails (e.g.
# `ublk add` does not know an option) is reported as "n/a (reason)".
# --bpf=seed needs the project's ublk_drv (kernel/; `UBLK_VM_MODULE=project
# tests/vm/run.sh bench`): on a stock kernel its rows say n/a.
CONFIGS=(
	"null_blk           | null | nullb |"
	"kublk null         | null | kublk | -t null -q @Q@ -d @D@"
	"kublk null --auto_zc | null | kublk | -t null -q @Q@ -d @D@ --auto_zc"
	"kublk null -u      | null | kublk | -t null -q @Q@ -d @D@ -u"
	"kublk null -b      | null | kublk | -t null -q @Q@ -d @D@ -b"
	"ublk null          | null | ublk  | -t null --size @SIZE@ -q @Q@ -d @D@ | kublk null"
	"ublk null -q 2     | null | ublk  | -t null --size @SIZE@ -q 2 -d @D@ | ublk null"
	"ublk null --usercopy | null | ublk | -t null --size @SIZE@ -q @Q@ -d @D@ --usercopy | kublk null -u"
	"ublk null -z       | null | ublk  | -t null --size @SIZE@ -q @Q@ -d @D@ -z | kublk null --auto_zc"
	"ublk null --bpf=iouring | null | ublk | -t null --size @SIZE@ -q @Q@ -d @D@ --bpf=iouring | kublk null --auto_zc, ublk null -z"
	"ublk null --bpf=iouring poll | null | ublk | -t null --size @SIZE@ -q @Q@ -d @D@ --bpf=iouring --bpf_poll_us @POLL@ | kublk null --auto_zc, ublk null -z, ublk null --bpf=iouring"
	"ublk null --bpf=seed | null | ublk | -t null --size @SIZE@ -q @Q@ -d @D@ --bpf=seed | kublk null --auto_zc, ublk null -z"
	"kernel loop        | loop | kloop |"
	"kublk loop         | loop | kublk | -t loop -q @Q@ -d @D@ @FILE@"
	"kublk loop --auto_zc | loop | kublk | -t loop -q @Q@ -d @D@ --auto_zc @FILE@"
	"kublk loop -u      | loop | kublk | -t loop -q @Q@ -d @D@ -u @FILE@"
	"kublk loop -b      | loop | kublk | -t loop -q @Q@ -d @D@ -b @FILE@"
	"ublk loop          | loop | ublk  | -t loop -f @FILE@ -q @Q@ -d @D@ | kublk loop"
	"ublk loop -q 2     | loop | ublk  | -t loop -f @FILE@ -q 2 -d @D@ | ublk loop"
	"ublk loop --usercopy | loop | ublk | -t loop -f @FILE@ -q @Q@ -d @D@ --usercopy | kublk loop -u"
	"ublk loop -z       | loop | ublk  | -t loop -f @FILE@ -q @Q@ -d @D@ -z | kublk loop --auto_zc"
	"ublk loop --bpf=iouring | loop | ublk | -t loop -f @FILE@ -q @Q@ -d @D@ --bpf=iouring | kublk loop --auto_zc, ublk loop -z"
	"ublk loop --bpf=iouring poll | loop | ublk | -t loop -f @FILE@ -q @Q@ -d @D@ --bpf=iouring --bpf_poll_us @POLL@ | kublk loop --auto_zc, ublk loop -z, ublk loop --bpf=iouring"
	"ublk loop --bpf=seed | loop | ublk | -t loop -f @FILE@ -q @Q@ -d @D@ --bpf=seed | kublk loop --auto_zc, ublk loop -z"
)

# Workloads: "name | fio arguments | metric | bytes per I/O". Metrics: iops,
# lat (mean total latency, usec; p99 too), bw (MiB/s); read or write side is
# taken from the rw mode. fio's batching is written out, not left implied.
FIO_BATCH="--iodepth_batch_submit=1 --iodepth_batch_complete_min=1"
TESTS=(
	"rr32   | --rw=randread --bs=4k --iodepth=32 --numjobs=1 | iops | 4096"
	"rr32x2 | --rw=randread --bs=4k --iodepth=32 --numjobs=2 | iops | 4096"
	"rr1    | --rw=randread --bs=4k --iodepth=1 --numjobs=1 --lat_percentiles=1 | lat | 4096"
	"sw     | --rw=write --bs=1M --iodepth=8 --numjobs=1 | bw | 1048576"
)

# ---------------------------------------------------------------- helpers

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }
trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

[ "$(id -u)" = 0 ] || die "must run as root"
for t in fio jq awk; do
	command -v $t >/dev/null || die "$t is not installed"
done
if ! command -v ublk >/dev/null; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	[ -x "$here/../ublk" ] || die "ublk is not on PATH (nor at $here/../ublk)"
	PATH=$(cd "$here/.." && pwd):$PATH
fi
UBLK=$(command -v ublk)

case $RUNTIME in ''|*[!0-9]*|0|1) die "-t: seconds must be an integer >= 2" ;; esac
case $REPEAT in ''|*[!0-9]*|0) die "-r: must be a positive integer" ;; esac
size_bytes=$(numfmt --from=iec "${SIZE%B}" 2>/dev/null) || die "-s: bad size '$SIZE'"
size_mb=$((size_bytes >> 20))
[ "$size_mb" -ge 16 ] || die "-s: size must be at least 16M"
case $QUEUES in ''|*[!0-9]*|0) die "-q: must be a positive integer" ;; esac
case $DEPTH in ''|*[!0-9]*|0) die "-d: must be a positive integer" ;; esac
[ "$QUEUES" -le 64 ] || die "-q: at most 64 queues"
[ "$DEPTH" -le 4096 ] || die "-d: at most 4096"
case $SCHED in ''|*[!a-z0-9_-]*) die "-S: '$SCHED' is not a scheduler name" ;; esac
case $FIO_CPUS in *[!0-9,-]*) die "-c: '$FIO_CPUS' is not a CPU list" ;; esac

if [ -z "$OUT" ]; then
	OUT=$(mktemp -d /tmp/ublk-bench.XXXXXX)
fi
mkdir -p "$OUT/raw" || die "cannot create $OUT/raw"
RESULTS=$OUT/results.tsv
: >"$RESULTS"

# State for cleanup.
SCRATCH=
NULLB_DIR=
LOOPDEV=
UBLK_IDS=()
KUBLK_IDS=()

cleanup() {
	local id out
	for id in "${UBLK_IDS[@]}"; do
		out=$("$UBLK" del -n "$id" 2>&1) || say "ublk del -n $id failed: $out"
	done
	for id in "${KUBLK_IDS[@]}"; do
		out=$("$KUBLK" del -n "$id" 2>&1) || say "kublk del -n $id failed: $out"
	done
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>/dev/null
	if [ -n "$NULLB_DIR" ] && [ -d "$NULLB_DIR" ]; then
		echo 0 >"$NULLB_DIR/power" 2>/dev/null
		rmdir "$NULLB_DIR" 2>/dev/null
	fi
	if [ -n "$SCRATCH" ]; then
		umount "$SCRATCH" 2>/dev/null && rmdir "$SCRATCH"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

HZ=$(getconf CLK_TCK)

# "%.3g" without exponents
fmt() {
	awk -v v="$1" 'BEGIN {
		if (v == "" || v == "-") { print "-"; exit }
		a = v < 0 ? -v : v
		if (a >= 100) printf "%.0f\n", v
		else if (a >= 10) printf "%.1f\n", v
		else printf "%.2f\n", v }'
}

# ---------------------------------------------------------------- setup

[ -c /dev/ublk-control ] || modprobe ublk_drv 2>/dev/null
for _ in $(seq 50); do [ -c /dev/ublk-control ] && break; sleep 0.1; done
[ -c /dev/ublk-control ] || die "no /dev/ublk-control (modprobe ublk_drv failed)"

SCRATCH=$(mktemp -d /tmp/ublk-bench-scratch.XXXXXX)
mount -t tmpfs -o size=$((size_mb + 64))m ublk-bench "$SCRATCH" || { rmdir "$SCRATCH"; SCRATCH=; die "cannot mount a tmpfs"; }
BACKING=$SCRATCH/backing.img
# A written file, not a sparse one: reads must hit real pages.
dd if=/dev/zero of="$BACKING" bs=1M count="$size_mb" status=none || die "cannot write $BACKING"

# Setup functions run in this shell: on success they set DEV (and PID for a
# ublk daemon), on failure WHY, and return 1.
setup_nullb() {
	local cfs=/sys/kernel/config idx
	[ -d /sys/module/null_blk ] || modprobe null_blk nr_devices=0 || { WHY="modprobe null_blk failed"; return 1; }
	mountpoint -q $cfs || mount -t configfs none $cfs 2>/dev/null
	[ -d $cfs/nullb ] || { WHY="no null_blk configfs ($cfs/nullb)"; return 1; }
	mkdir $cfs/nullb/nullb_bench || { WHY="cannot create $cfs/nullb/nullb_bench"; return 1; }
	NULLB_DIR=$cfs/nullb/nullb_bench
	# like a ublk device: same queues and depth; complete in the submitter
	if ! { echo "$size_mb" >"$NULLB_DIR/size" &&
		echo "$QUEUES" >"$NULLB_DIR/submit_queues" &&
		echo "$DEPTH" >"$NULLB_DIR/hw_queue_depth" &&
		echo 0 >"$NULLB_DIR/irqmode" &&
		echo 1 >"$NULLB_DIR/power"; }; then
		WHY="cannot configure null_blk"
		return 1
	fi
	idx=$(cat "$NULLB_DIR/index")
	for _ in $(seq 50); do
		# the disk is named after the configfs directory on newer kernels
		for DEV in /dev/nullb_bench "/dev/nullb$idx"; do
			[ -b "$DEV" ] && return 0
		done
		sleep 0.1
	done
	WHY="null_blk device node did not appear"
	return 1
}

setup_kloop() {
	local out dio
	[ -c /dev/loop-control ] || modprobe loop 2>/dev/null
	out=$(losetup --direct-io=on --show -f "$BACKING" 2>&1) || { WHY="losetup: $out"; return 1; }
	LOOPDEV=$out
	DEV=$LOOPDEV
	dio=$(cat "/sys/block/${DEV#/dev/}/loop/dio" 2>/dev/null)
	[ "$dio" = 1 ] || { WHY="loop device did not enable direct I/O (dio=$dio)"; return 1; }
}

# `ublk add` or `kublk add` (tool $1, expanded arguments $2): both print
# "dev id N: ..." and, on a later line, "... daemon pid P ...".
setup_server() {
	local tool=$1 args=$2 out id name
	name=$(basename "$tool")
	if [ "$name" = kublk ] && [ -z "$KUBLK_OK" ]; then
		WHY=$KUBLK_WHY
		return 1
	fi
	# shellcheck disable=SC2086
	out=$("$tool" add $args 2>&1) || {
		WHY=$(tail -n 1 <<<"$out")	# "ublk add: unknown option '--bpf' ..."
		WHY=${WHY:-$name add $args failed}
		return 1
	}
	id=$(awk '$1 == "dev" && $2 == "id" { sub(":", "", $3); print $3; exit }' <<<"$out")
	case $id in ''|*[!0-9]*) WHY="$name add $args: unexpected output: $out"; return 1 ;; esac
	if [ "$name" = kublk ]; then KUBLK_IDS+=("$id"); else UBLK_IDS+=("$id"); fi
	PID=$(awk '{ for (i = 1; i < NF; i++) if ($i == "daemon" && $(i + 1) == "pid") { print $(i + 2); exit } }' <<<"$out")
	case $PID in ''|*[!0-9]*) WHY="$name add $args: no daemon pid in: $out"; return 1 ;; esac
	DEV=/dev/ublkb$id
	for _ in $(seq 50); do [ -b "$DEV" ] && break; sleep 0.1; done
	[ -b "$DEV" ] || { WHY="$DEV does not exist"; return 1; }
	kill -0 "$PID" 2>/dev/null || { WHY="daemon $PID is not running"; return 1; }
}

# The same scheduler on every device (-S), the driver's own default kept
# in SCHED_DEF for the report.
set_sched() {
	local f=/sys/block/${1#/dev/}/queue/scheduler cur
	read -r cur <"$f" || { WHY="cannot read $f"; return 1; }
	SCHED_DEF=${cur#*[}
	SCHED_DEF=${SCHED_DEF%%]*}
	[ "$SCHED" = default ] && return 0
	echo "$SCHED" >"$f" 2>/dev/null
	read -r cur <"$f"
	[[ $cur == *"[$SCHED]"* ]] || { WHY="cannot set scheduler $SCHED on $1 ($cur)"; return 1; }
}

# every thread of daemon $1 (io-wq workers included) on every CPU
unpin() {
	taskset -a -p -c "0-$(($(nproc) - 1))" "$1" >/dev/null 2>&1 ||
		{ WHY="taskset -a -p $1 failed"; return 1; }
}

# "tid:cpus" of every thread of daemon $1, from /proc (no forks)
threads_cpus() {
	local t l s=
	for t in /proc/"$1"/task/*; do
		while read -r l; do
			[[ $l == Cpus_allowed_list:* ]] || continue
			s+=" $(<"$t/comm"):${l##*[[:space:]]}"
		done <"$t/status"
	done
	echo "${s# }"
}

# ---------------------------------------------------------------- kublk

KUBLK_OK='' KUBLK_WHY=''
case $KUBLK in
off)	KUBLK_WHY="kublk not wanted (-k off)" ;;
"")	# the build takes about 2 minutes under TCG, most of it in xz
	say "building kublk from the kernel source tarball"
	# (tests/vm/run.sh builds it there beforehand, outside the VM)
	if KUBLK=$("$(dirname "${BASH_SOURCE[0]}")/build-kublk.sh" "$OUT/kublk" 2>"$OUT/kublk-build.err"); then
		KUBLK_OK=1
	else
		KUBLK_WHY="kublk build failed: $(tail -n 1 "$OUT/kublk-build.err")"
		KUBLK=kublk
	fi ;;
*)	if [ -x "$KUBLK" ]; then KUBLK_OK=1; else KUBLK_WHY="-k: $KUBLK is not executable"; fi ;;
esac
[ -n "$KUBLK_WHY" ] && say "$KUBLK_WHY"

# ---------------------------------------------------------------- header

virt=$(systemd-detect-virt 2>/dev/null || true)
case $virt in
qemu)	accel="QEMU TCG (software CPU emulation, no KVM)" ;;
kvm)	accel="KVM" ;;
none|"")	accel="no hypervisor detected" ;;
*)	accel=$virt ;;
esac
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
start=$(date +%s)

{
	echo "# ublk benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel:    $(uname -r) $(uname -v)"
	echo "machine:   $(nproc) CPUs ($cpu_model), $mem RAM, $accel"
	echo "guest load before: $(cat /proc/loadavg)"
	echo "tools:     $("$UBLK" -V 2>/dev/null | head -n1), $(fio --version), kublk: ${KUBLK_OK:+built from $(ls /usr/src/linux-source-*.tar.* 2>/dev/null | tail -n 1)}${KUBLK_WHY}"
	echo "settings (the same for every device):"
	echo "  I/O scheduler   ${SCHED} (each device's own default is listed under Configurations)"
	echo "  queues, depth   ${QUEUES} hardware queue(s) of depth ${DEPTH} (ublk, kublk, null_blk;"
	echo "                  kernel loop: its own single queue)"
	echo "  fio             ioengine=io_uring direct=1 --thread, ${FIO_BATCH}, norandommap,"
	echo "                  1 s ramp + ${RUNTIME} s time-based, CPUs: ${FIO_CPUS:-not pinned}"
	echo "  devices         ${SIZE}; loop: one ${SIZE} file on tmpfs (written, not sparse), O_DIRECT"
	echo "  requests        at most 1 MiB on ublk and kublk devices (ublk: ${UBLK_SAME})"
	echo "  ublk extra      '${UBLK_EXTRA}'; \"poll\" rows: --bpf_poll_us ${POLL_US}"
	echo "method:    $REPEAT repetitions; in each, every configuration runs each workload back to"
	echo "           back; ratios are taken within a repetition. CPU over a $((RUNTIME - 1)) s window inside"
	echo "           each run: guest = /proc/stat user+nice+system+irq+softirq of all CPUs,"
	echo "           daemon = /proc/PID/stat utime+stime (all threads), divided by the fio-sized"
	echo "           I/Os the device completed in the window (/sys/block/DEV/stat)"
	echo "workloads: rr32 = 4k randread iodepth 32 (IOPS); rr32x2 = the same with 2 jobs;"
	echo "           rr1 = 4k randread iodepth 1 (mean and p99 completion+submission latency, usec);"
	echo "           sw = 1M sequential write iodepth 8 (MiB/s)"
} | tee "$OUT/header.txt"
echo

# ---------------------------------------------------------------- devices

# one configuration's arguments with the placeholders filled in
expand() {
	local a=$1
	a=${a//@FILE@/$BACKING}
	a=${a//@SIZE@/$SIZE}
	a=${a//@Q@/$QUEUES}
	a=${a//@D@/$DEPTH}
	a=${a//@POLL@/$POLL_US}
	printf '%s' "$a"
}

# One entry per configuration; a configuration that could not be set up
# keeps its row, with the reason in whys[] and no device.
labels=() groups=() devs=() pids=() whys=() hows=() peers=() sdefs=() places=()
for line in "${CONFIGS[@]}"; do
	IFS='|' read -r label group kind args peer <<<"$line"
	label=$(trim "$label"); group=$(trim "$group"); kind=$(trim "$kind")
	args=$(expand "$(trim "$args")"); peer=$(trim "$peer")
	if [ $# -gt 0 ]; then
		match=0
		for p in "$@"; do [[ $label =~ $p ]] && match=1; done
		[ $match = 1 ] || continue
	fi
	DEV='' PID='' WHY='' SCHED_DEF='' place=''
	case $kind in
	nullb)	setup_nullb ;;
	kloop)	setup_kloop ;;
	ublk)	setup_server "$UBLK" "$args $UBLK_SAME${UBLK_EXTRA:+ $UBLK_EXTRA}" ;;
	ublk-unpinned)
		setup_server "$UBLK" "$args $UBLK_SAME${UBLK_EXTRA:+ $UBLK_EXTRA}" && unpin "$PID" ;;
	kublk)	setup_server "$KUBLK" "$args" ;;
	*)	WHY="unknown kind '$kind'"; false ;;
	esac && set_sched "$DEV" ||
		{ echo "n/a $label: $WHY" | tee -a "$OUT/skipped.txt"; DEV='' PID=''; }
	if [ -n "$DEV" ]; then
		# the CPU window counts I/Os from the device's statistics
		echo 1 >"/sys/block/${DEV#/dev/}/queue/iostats" 2>/dev/null
		nq=$(compgen -G "/sys/block/${DEV#/dev/}/mq/*" | wc -l)
		read -r nr <"/sys/block/${DEV#/dev/}/queue/nr_requests"
		place="$nq hw queue(s), nr_requests $nr${PID:+; threads (comm:CPUs) $(threads_cpus "$PID")}"
		echo "ready $label: $DEV${PID:+ (daemon pid $PID)}"
	fi
	case $kind in
	nullb)	how="null_blk (configfs): size ${size_mb}M, submit_queues $QUEUES, hw_queue_depth $DEPTH, irqmode 0" ;;
	kloop)	how="losetup --direct-io=on -f $BACKING" ;;
	ublk)	how="ublk add $args $UBLK_SAME${UBLK_EXTRA:+ $UBLK_EXTRA}" ;;
	ublk-unpinned)	how="ublk add $args $UBLK_SAME${UBLK_EXTRA:+ $UBLK_EXTRA}; taskset -a -p -c 0-$(($(nproc) - 1)) PID" ;;
	*)	how="kublk add $args" ;;
	esac
	labels+=("$label"); groups+=("$group"); devs+=("$DEV"); pids+=("$PID"); whys+=("$WHY")
	hows+=("$how"); peers+=("$peer"); sdefs+=("${SCHED_DEF:--}"); places+=("$place")
done
[ ${#labels[@]} -gt 0 ] || die "no configuration matches '$*'"

tests=()
for line in "${TESTS[@]}"; do
	IFS='|' read -r name _ _ _ <<<"$line"
	name=$(trim "$name")
	[[ " $TESTS_WANTED " == *" $name "* ]] && tests+=("$line")
done
[ ${#tests[@]} -gt 0 ] || die "BENCH_TESTS='$TESTS_WANTED' selects no workload"

nready=0
for d in "${devs[@]}"; do [ -n "$d" ] && nready=$((nready + 1)); done
nruns=$((REPEAT * ${#tests[@]} * nready))
# measured: fio start-up and teardown add about 3.5 s per run under TCG
say "$nruns fio runs of 1+${RUNTIME} s; expect about $((nruns * (RUNTIME + 4) / 60 + 1)) min under TCG"
echo

# ---------------------------------------------------------------- runs

# Snapshot, with bash builtins only (a fork costs 0.1-0.3 s under TCG and
# would skew the snapshot): S_T time (s), S_G guest busy CPU ticks (user +
# nice + system + irq + softirq), S_D utime+stime of daemon $2 (all threads;
# 0 without one), S_B sectors read + written by device $1.
snap() {
	local f l
	S_T=$EPOCHREALTIME
	read -ra f </proc/stat
	S_G=$((f[1] + f[2] + f[3] + f[6] + f[7]))
	S_D=0
	if [ -n "$2" ] && read -r l <"/proc/$2/stat"; then
		l=${l##*) }		# comm may contain spaces; fields restart at "state"
		read -ra f <<<"$l"
		S_D=$((f[11] + f[12]))
	fi
	read -ra f <"/sys/block/${1#/dev/}/stat"
	S_B=$((f[2] + f[6]))
}

# Per thread of daemon $1, into file $2: "tid kind run_ns switches", kind =
# main (the process's first thread), iowq (io_uring's io-wq workers) or
# queue (every other thread: the queue threads). Builtins only.
tsnap() {
	local t comm run kind l v n out=
	for t in /proc/"$1"/task/*; do
		read -r comm <"$t/comm" 2>/dev/null || continue
		read -r run _ <"$t/schedstat" 2>/dev/null || continue
		v='' n=''
		while read -r l; do
			case $l in
			voluntary_ctxt_switches:*) v=${l##*[[:space:]]} ;;
			nonvoluntary_ctxt_switches:*) n=${l##*[[:space:]]} ;;
			esac
		done <"$t/status" 2>/dev/null
		# gone meanwhile (io-wq workers come and go): not 0 switches
		[ -n "$v" ] && [ -n "$n" ] || continue
		case $comm in
		iou-wrk-*)	kind=iowq ;;
		*)	kind=queue; [ "${t##*/}" = "$1" ] && kind=main ;;
		esac
		out+="${t##*/} $kind $run $((v + n))"$'\n'
	done
	printf '%s' "$out" >"$2"
}

# One fio run on device $1 (daemon pid $2, may be empty), fio arguments $3,
# JSON to $4. fio starts, ramps for 1 s, then measures for RUNTIME s. The CPU
# window starts once I/O is flowing and the ramp is over and ends about 1 s
# before fio stops, so fio's own start-up and teardown (seconds of CPU under
# TCG) stay out of it; the bytes moved in that window come from the device's
# /sys/block stat. --thread: fio's default fork mode spends ~3 s per run
# setting up shared memory under TCG. Sets W_SECS W_BYTES W_GUEST W_DAEMON
# (the window) and FIO_RC.
measure() {
	local dev=$1 pid=$2 fioargs=$3 json=$4 fpid s0 i t0 g0 d0 b0
	snap "$dev" ""
	s0=$S_B
	# shellcheck disable=SC2086
	timeout -k 10 $((RUNTIME * 4 + 120)) \
		fio --name=bench --filename="$dev" --ioengine=io_uring --direct=1 \
		$fioargs $FIO_BATCH ${FIO_CPUS:+--cpus_allowed=$FIO_CPUS} \
		--time_based --ramp_time=1 --runtime="$RUNTIME" --norandommap --randrepeat=0 --group_reporting --thread \
		--output-format=json --output="$json" >"$json.log" 2>&1 &
	fpid=$!
	for ((i = 0; i < 1200; i++)); do	# up to 2 min for fio to start
		snap "$dev" ""
		[ "$S_B" != "$s0" ] && break
		kill -0 $fpid 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	snap "$dev" "$pid"
	[ -n "$pid" ] && tsnap "$pid" "$json.t0"
	t0=$S_T g0=$S_G d0=$S_D b0=$S_B
	sleep $((RUNTIME - 1))
	snap "$dev" "$pid"
	[ -n "$pid" ] && tsnap "$pid" "$json.t1"
	wait $fpid
	FIO_RC=$?
	W_BYTES=$(((S_B - b0) * 512))
	read -r W_SECS W_GUEST W_DAEMON < <(awk -v t0="$t0" -v t1="$S_T" -v g0="$g0" -v g1="$S_G" \
		-v d0="$d0" -v d1="$S_D" -v hz="$HZ" -v daemon="$pid" 'BEGIN {
		printf "%.2f %.2f ", t1 - t0, (g1 - g0) / hz
		if (daemon != "") printf "%.2f\n", (d1 - d0) / hz; else print "-" }')
}

fio --version >/dev/null		# the first exec from the shared root is slow

printf 'label\ttest\trep\tmetric\tvalue\tp99_us\tfio_bytes\tfio_bw_MiBps\twindow_s\twindow_bytes\tguest_cpu_s\tdaemon_cpu_s\tio_bytes\n' >"$RESULTS"
printf 'label\ttest\trep\tmain_us\tqueue_us\tiowq_us\tswitches\n' >"$OUT/threads.tsv"
failed=0
run=0
for ((rep = 1; rep <= REPEAT; rep++)); do
	for tline in "${tests[@]}"; do
		IFS='|' read -r tname fioargs metric bs <<<"$tline"
		tname=$(trim "$tname"); metric=$(trim "$metric"); bs=$(trim "$bs")
		for i in "${!labels[@]}"; do
			label=${labels[$i]} dev=${devs[$i]} pid=${pids[$i]}
			[ -n "$dev" ] || continue	# n/a
			run=$((run + 1))
			json=$OUT/raw/$(tr ' ' '_' <<<"$label" | tr -cd 'A-Za-z0-9_.-')-$tname-$rep.json
			if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
				echo "FAIL $label $tname #$rep: daemon $pid is gone"
				failed=$((failed + 1))
				continue
			fi
			measure "$dev" "$pid" "$fioargs" "$json"
			# the side (read or write) that moved data
			if [ "$FIO_RC" != 0 ] || ! vals=$(jq -er --arg m "$metric" '
				[.jobs[] | .read, .write | select(.io_bytes > 0)] as $d
				| ($d | map(.io_bytes) | add) as $bytes
				| ($d | map(.bw_bytes) | add / 1048576) as $bw
				| (if $m == "iops" then ($d | map(.iops) | add)
				   elif $m == "lat" then ($d | map(.lat_ns.mean) | add / length / 1000)
				   else $bw end) as $v
				| ($d | map(.lat_ns.percentile["99.000000"] // empty)) as $p
				| (if ($p | length) > 0 then ($p | max / 1000) else "-" end) as $p99
				| select($bytes > 0)
				| "\($v)\t\($p99)\t\($bytes)\t\($bw)"' "$json" 2>/dev/null); then
				echo "FAIL $label $tname #$rep: fio exit $FIO_RC: $(tail -n 2 "$json.log" | paste -sd' ')"
				failed=$((failed + 1))
				continue
			fi
			IFS=$'\t' read -r value p99 bytes bw <<<"$vals"
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\n' "$label" "$tname" "$rep" \
				"$metric" "$value" "$p99" "$bytes" "$bw" "$W_SECS" "$W_BYTES" "$W_GUEST" "$W_DAEMON" \
				"$bs" >>"$RESULTS"
			# where the daemon's time went, per I/O: threads.tsv
			if [ -n "$pid" ] && [ -s "$json.t0" ] && [ -s "$json.t1" ]; then
				awk -v l="$label" -v t="$tname" -v r="$rep" -v ios="$((W_BYTES / bs))" '
				FNR == NR { run[$1] = $3; sw[$1] = $4; next }
				{ k = $2; c[k] += ($3 - run[$1]) / 1000; s += $4 - sw[$1] }
				END {
					if (ios <= 0) exit
					printf "%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.2f\n", l, t, r,
						c["main"] / ios, c["queue"] / ios, c["iowq"] / ios, s / ios
				}' "$json.t0" "$json.t1" >>"$OUT/threads.tsv"
			fi
			# the window's bytes should match fio's bandwidth over the window
			check=$(awk -v wb="$W_BYTES" -v bw="$bw" -v s="$W_SECS" 'BEGIN {
				e = bw * 1048576 * s; if (e > 0 && (wb / e < 0.8 || wb / e > 1.25)) printf " (window bytes %.2fx fio bw)", wb / e }')
			printf 'run %3d/%d  %-20s %-6s #%d  %s=%s  cpu in %ss: guest %ss, daemon %s  %s MiB%s\n' \
				"$run" "$nruns" "$label" "$tname" "$rep" "$metric" "$(fmt "$value")" "$W_SECS" \
				"$W_GUEST" "$W_DAEMON" "$((W_BYTES >> 20))" "$check"
		done
	done
done
echo

# ---------------------------------------------------------------- report

# "median [min-max]" over the repetitions of (label $1, test $2) of: what=$3
# value (the metric), p99 (usec), gcpu or dcpu (guest or daemon CPU usec
# per fio I/O); "-" if none. With a baseline label $4: of the ratio
# label/baseline within each repetition, as "0.41x [0.23-0.78]".
summ() {
	awk -F'\t' -v l="$1" -v t="$2" -v what="$3" -v base="${4:-}" '
	function f(v,  a) {
		a = v < 0 ? -v : v
		if (a >= 100) return sprintf("%.0f", v)
		if (a >= 10) return sprintf("%.1f", v)
		return sprintf("%.2f", v)
	}
	NR > 1 && $2 == t && ($1 == l || $1 == base) {
		if (what == "value") v = $5
		else if (what == "p99") { if ($6 == "-") next; v = $6 }
		else {
			c = what == "gcpu" ? $11 : $12
			if (c == "-" || $10 <= 0 || $13 <= 0) next
			v = c * 1e6 / ($10 / $13)
		}
		if ($1 == l) mine[$3] = v
		else theirs[$3] = v
	}
	END {
		for (r in mine) {
			if (base == "") x[n++] = mine[r]
			else if (theirs[r] > 0) x[n++] = mine[r] / theirs[r]
		}
		if (!n) { print "-"; exit }
		for (i = 1; i < n; i++)		# insertion sort
			for (j = i; j > 0 && x[j - 1] > x[j]; j--) { s = x[j]; x[j] = x[j - 1]; x[j - 1] = s }
		m = n % 2 ? x[int(n / 2)] : (x[n / 2 - 1] + x[n / 2]) / 2
		u = base == "" ? "" : "x"
		if (n == 1) print f(m) u
		else printf "%s%s [%s-%s]\n", f(m), u, f(x[0]), f(x[n - 1])
	}' "$RESULTS"
}

# A row of the report: the label, then its cells (SPEC = test:what each), or
# "n/a (reason)" for a configuration that could not be set up.
row() {
	local i=$1 spec
	shift
	printf "%-${w}s" "${labels[$i]}"
	if [ -n "${whys[$i]}" ]; then
		printf "  n/a (%s)\n" "${whys[$i]}"
		return
	fi
	for spec in "$@"; do
		printf "  %${c}s" "$(summ "${labels[$i]}" "${spec%%:*}" "${spec#*:}")"
	done
	echo
}

# A ratio row: label $1 against baseline $2, cells SPEC...
ratio_row() {
	local l=$1 base=$2 spec
	shift 2
	printf "%-${w}s  %-${w}s" "$l" "$base"
	for spec in "$@"; do
		printf "  %${c}s" "$(summ "$l" "${spec%%:*}" "${spec#*:}" "$base")"
	done
	echo
}

heads() {
	local h
	printf "%-${w}s" "$1"
	shift
	for h in "$@"; do printf "  %${c}s" "$h"; done
	echo
}

is_ready() {
	local j
	for j in "${!labels[@]}"; do
		[ "${labels[$j]}" = "$1" ] && [ -z "${whys[$j]}" ] && return 0
	done
	return 1
}

report() {
	local i l w=14 c=18 base spec p
	local ratio_specs=(rr32:value rr32x2:value rr1:value rr1:p99 sw:value rr32:gcpu rr32:dcpu
		rr1:dcpu sw:dcpu)
	for l in "${labels[@]}"; do [ "${#l}" -gt "$w" ] && w=${#l}; done

	echo "Configurations (scheduler: default of the driver -> used)"
	for i in "${!labels[@]}"; do
		printf "%-${w}s  %s\n" "${labels[$i]}" "${hows[$i]}"
		[ -n "${places[$i]}" ] &&
			printf "%-${w}s    scheduler %s -> %s; %s\n" "" "${sdefs[$i]}" "$SCHED" "${places[$i]}"
	done
	echo

	echo "Throughput and latency: median [min-max] of $REPEAT runs"
	heads "configuration" "4k rr qd32 IOPS" "qd32 2 jobs IOPS" "4k qd1 lat us" "4k qd1 p99 us" \
		"1M sw qd8 MiB/s"
	for i in "${!labels[@]}"; do
		row "$i" rr32:value rr32x2:value rr1:value rr1:p99 sw:value
	done
	echo
	echo "CPU usec per I/O (4 KiB for 4k, 1 MiB for 1M): median [min-max];"
	echo "guest = whole VM (fio included), daemon = the ublk server process alone"
	heads "configuration" "4k qd32 guest" "4k qd32 daemon" "4k qd1 guest" "4k qd1 daemon" \
		"1M sw guest" "1M sw daemon"
	for i in "${!labels[@]}"; do
		row "$i" rr32:gcpu rr32:dcpu rr1:gcpu rr1:dcpu sw:gcpu sw:dcpu
	done
	echo
	echo "Daemon threads: CPU usec per I/O (schedstat run time) of the main thread, the"
	echo "queue thread(s) and io_uring's io-wq workers, and context switches per I/O of"
	echo "all of them together; median of $REPEAT runs"
	heads "configuration" "qd1 main" "qd1 queue" "qd1 io-wq" "qd1 switches" \
		"qd32 queue" "qd32 io-wq" "qd32 switches"
	for i in "${!labels[@]}"; do
		[ -z "${whys[$i]}" ] && [ -n "${pids[$i]}" ] || continue
		printf "%-${w}s" "${labels[$i]}"
		for spec in rr1:4 rr1:5 rr1:6 rr1:7 rr32:5 rr32:6 rr32:7; do
			printf "  %${c}s" "$(awk -F'\t' -v l="${labels[$i]}" -v t="${spec%%:*}" -v f="${spec#*:}" '
				NR > 1 && $1 == l && $2 == t { x[n++] = $f }
				END {
					if (!n) { print "-"; exit }
					for (i = 1; i < n; i++)
						for (j = i; j > 0 && x[j - 1] > x[j]; j--) { s = x[j]; x[j] = x[j - 1]; x[j - 1] = s }
					print n % 2 ? x[int(n / 2)] : (x[n / 2 - 1] + x[n / 2]) / 2
				}' "$OUT/threads.tsv")"
		done
		echo
	done
	echo
	echo "Ratios, median [min-max] of the ratios within each repetition (measured back"
	echo "to back, so host drift cancels). Higher is better for IOPS and MiB/s, lower"
	echo "for latency and CPU."
	echo
	echo "Against the kernel's driver (first configuration of each group):"
	heads "configuration" "" "4k qd32 IOPS" "2 jobs IOPS" "4k qd1 lat" "4k qd1 p99" "1M sw MiB/s" \
		"CPU/IO 4k qd32" "CPU/IO 1M sw" | sed "s/^\(.\{$w\}\)  \( *\)/\1  baseline\2/"
	for i in "${!labels[@]}"; do
		l=${labels[$i]}
		if [ "$i" = 0 ] || [ "${groups[$i]}" != "${groups[$((i - 1))]}" ]; then
			base=$l
		fi
		[ -z "${whys[$i]}" ] || continue
		[ "$l" != "$base" ] || continue
		ratio_row "$l" "$base" rr32:value rr32x2:value rr1:value rr1:p99 sw:value rr32:gcpu sw:gcpu
	done
	echo
	echo "Against peers (kublk's corresponding mode; --bpf also against our zero copy);"
	echo "CPU/IO here is the daemon's:"
	heads "configuration" "" "4k qd32 IOPS" "2 jobs IOPS" "4k qd1 lat" "4k qd1 p99" "1M sw MiB/s" \
		"guest CPU 4k qd32" "daemon CPU qd32" "daemon CPU qd1" "daemon CPU 1M sw" |
		sed "s/^\(.\{$w\}\)  \( *\)/\1  peer\2/"
	for i in "${!labels[@]}"; do
		[ -z "${whys[$i]}" ] && [ -n "${peers[$i]}" ] || continue
		IFS=, read -ra ps <<<"${peers[$i]}"
		for p in "${ps[@]}"; do
			p=$(trim "$p")
			is_ready "$p" || continue
			ratio_row "${labels[$i]}" "$p" "${ratio_specs[@]}"
		done
	done
}

{ cat "$OUT/header.txt"; echo; report; } >"$OUT/report.txt"
echo "Raw results (one line per fio run; full fio JSON in $OUT/raw):"
column -t -s $'\t' "$RESULTS" 2>/dev/null || cat "$RESULTS"
echo
# the summary last: the start of the console output may be lost in kernel noise
cat "$OUT/report.txt"
[ -s "$OUT/skipped.txt" ] && { echo; cat "$OUT/skipped.txt"; }
echo
echo "bench: $run runs, $failed failed, $(( $(date +%s) - start )) s; results in $OUT"
[ "$failed" = 0 ]
