#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ublk benchmark: kernel block drivers vs ublk targets, side by side, in one
# boot. Runs as root inside a VM whose kernel has ublk_drv (normally through
# `tests/vm/run.sh bench [ARG...]`, which runs /build/src/benchmarks/run.sh
# ARG... with `ublk` on PATH). Prints a report on stdout; exits 0 if every
# measurement that was attempted succeeded (a configuration whose setup fails,
# e.g. `ublk add` rejecting an option, is reported as "n/a (reason)" and does
# not fail the run).
#
#   benchmarks/run.sh [-r REPEAT] [-t SECONDS] [-s SIZE] [-w WORKLOADS]
#                     [-a UBLK_ARGS] [-o DIR] [PATTERN...]
#
#   -r REPEAT     runs per (configuration, workload); median and min-max (3)
#   -t SECONDS    measured seconds per fio run, after a 1 s ramp (3)
#   -s SIZE       device size, and size of the loop backing file on tmpfs (256M)
#   -w WORKLOADS  which workloads, e.g. "rr32 sw" (all: "rr32 rr32x2 rr1 sw", see TESTS)
#   -a UBLK_ARGS  extra arguments for every `ublk add` (e.g. "-q 2")
#   -o DIR        directory for the report and raw results ($UBLK_BENCH_OUT,
#                 else a new /tmp/ublk-bench.*)
#   PATTERN       only configurations whose label matches one of these
#                 extended regexps (default: all)
#
# The defaults (7 configurations x 3 workloads x 3 repetitions) take about
# 8.5 minutes of fio in a 2-vCPU TCG guest on a busy host, 10 minutes of VM
# time with the boot.
#
# Method. All devices are set up first and stay live; then, for each
# repetition, for each workload, every configuration is measured back to back,
# so slow drift of the (TCG) host hits all configurations alike. Each fio run
# is bracketed by /proc/stat (whole guest: user+nice+system+irq+softirq) and
# /proc/PID/stat (ublk daemon: utime+stime, which covers all its threads)
# snapshots taken inside the run (see measure()); CPU seconds are divided by
# the GiB moved in that window. fio's JSON gives IOPS, latency and MiB/s.
set -uo pipefail
export LC_ALL=C		# "." in $EPOCHREALTIME and in numbers

RUNTIME=3
REPEAT=3
SIZE=256M
TESTS_WANTED="rr32 rr32x2 rr1 sw"
UBLK_EXTRA=
OUT=${UBLK_BENCH_OUT:-}

usage() {
	sed -n '/^#   benchmarks/,/^#  *extended regexps/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}
while getopts 'r:t:s:w:a:o:h' opt; do
	case $opt in
	r)	REPEAT=$OPTARG ;;
	t)	RUNTIME=$OPTARG ;;
	s)	SIZE=$OPTARG ;;
	w)	TESTS_WANTED=$OPTARG ;;
	a)	UBLK_EXTRA=$OPTARG ;;
	o)	OUT=$OPTARG ;;
	*)	usage ;;
	esac
done
shift $((OPTIND - 1))

# Configurations: "label | group | kind | arguments". kind is nullb (null_blk
# via configfs), kloop (losetup --direct-io=on on the backing file) or ublk
# (`ublk add ARGUMENTS`; @FILE@ is the tmpfs backing file, @SIZE@ the size).
# The first configuration of a group is the baseline of the ratio table.
# Adding a column is one line here. A configuration whose setup fails (e.g.
# `ublk add` does not know an option yet) is reported as "n/a (reason)".
# --bpf=seed needs the project's ublk_drv (kernel/; `UBLK_VM_MODULE=project
# tests/vm/run.sh bench`): on a stock kernel its rows say n/a.
CONFIGS=(
	"null_blk     | null | nullb |"
	"ublk null    | null | ublk  | -t null --size @SIZE@"
	"ublk null -z | null | ublk  | -t null --size @SIZE@ -z"
	"ublk null --bpf=iouring | null | ublk | -t null --size @SIZE@ --bpf=iouring"
	"ublk null --bpf=seed | null | ublk | -t null --size @SIZE@ --bpf=seed"
	"kernel loop  | loop | kloop |"
	"ublk loop    | loop | ublk  | -t loop -f @FILE@"
	"ublk loop -u | loop | ublk  | -t loop -f @FILE@ -u"
	"ublk loop -z | loop | ublk  | -t loop -f @FILE@ -z"
	"ublk loop --bpf=iouring | loop | ublk | -t loop -f @FILE@ --bpf=iouring"
	"ublk loop --bpf=seed | loop | ublk | -t loop -f @FILE@ --bpf=seed"
)

# Workloads: "name | fio arguments | metric". Metrics: iops, lat (mean total
# latency, usec), bw (MiB/s); read or write side is taken from the rw mode.
TESTS=(
	"rr32 | --rw=randread --bs=4k --iodepth=32 --numjobs=1 | iops"
	"rr32x2 | --rw=randread --bs=4k --iodepth=32 --numjobs=2 | iops"
	"rr1  | --rw=randread --bs=4k --iodepth=1 --numjobs=1  | lat"
	"sw   | --rw=write --bs=1M --iodepth=8 --numjobs=1     | bw"
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

cleanup() {
	local id out
	for id in "${UBLK_IDS[@]}"; do
		out=$("$UBLK" del -n "$id" 2>&1) || say "ublk del -n $id failed: $out"
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
	# like a ublk device: one queue of depth 128; complete in the submitter
	if ! { echo "$size_mb" >"$NULLB_DIR/size" &&
		echo 1 >"$NULLB_DIR/submit_queues" &&
		echo 128 >"$NULLB_DIR/hw_queue_depth" &&
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

setup_ublk() {
	local args=$1 out id
	args=${args//@FILE@/$BACKING}
	args=${args//@SIZE@/$SIZE}
	# shellcheck disable=SC2086
	out=$("$UBLK" add $args $UBLK_EXTRA 2>&1) || {
		WHY=$(tail -n 1 <<<"$out")	# "ublk add: unknown option '--bpf' ..."
		WHY=${WHY:-ublk add $args $UBLK_EXTRA failed}
		return 1
	}
	id=$(awk 'NR == 1 && $1 == "dev" && $2 == "id" { sub(":", "", $3); print $3 }' <<<"$out")
	case $id in ''|*[!0-9]*) WHY="ublk add $args: unexpected output: $out"; return 1 ;; esac
	UBLK_IDS+=("$id")
	PID=$(awk 'NR == 2 { print $7 }' <<<"$out")
	case $PID in ''|*[!0-9]*) WHY="ublk add $args: no daemon pid in: $out"; return 1 ;; esac
	DEV=/dev/ublkb$id
	[ -b "$DEV" ] || { WHY="$DEV does not exist"; return 1; }
	kill -0 "$PID" 2>/dev/null || { WHY="daemon $PID is not running"; return 1; }
}

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
	echo "tools:     $("$UBLK" -V 2>/dev/null | head -n1), $(fio --version)"
	echo "method:    fio ioengine=io_uring direct=1, 1 s ramp + ${RUNTIME} s time-based runs, $REPEAT repetitions"
	echo "           interleaved across configurations; ${SIZE} devices (loop: ${SIZE} file on tmpfs);"
	echo "           ublk extra arguments: '${UBLK_EXTRA}'; CPU sampled over a $((RUNTIME - 1)) s window inside"
	echo "           each run (/proc/stat user+nice+system+irq+softirq; daemon /proc/PID/stat utime+stime)"
	echo "           divided by the bytes the device moved in that window (/sys/block/DEV/stat)"
	echo "workloads: rr32 = 4k randread iodepth 32 (IOPS); rr32x2 = the same with 2 jobs;"
	echo "           rr1 = 4k randread iodepth 1 (mean latency, usec); sw = 1M sequential"
	echo "           write iodepth 8 (MiB/s)"
} | tee "$OUT/header.txt"
echo

# ---------------------------------------------------------------- devices

# One entry per configuration; a configuration that could not be set up
# keeps its row, with the reason in whys[] and no device.
labels=() groups=() devs=() pids=() whys=() hows=()
for line in "${CONFIGS[@]}"; do
	IFS='|' read -r label group kind args <<<"$line"
	label=$(trim "$label"); group=$(trim "$group"); kind=$(trim "$kind"); args=$(trim "$args")
	if [ $# -gt 0 ]; then
		match=0
		for p in "$@"; do [[ $label =~ $p ]] && match=1; done
		[ $match = 1 ] || continue
	fi
	DEV='' PID='' WHY=''
	case $kind in
	nullb)	setup_nullb ;;
	kloop)	setup_kloop ;;
	ublk)	setup_ublk "$args" ;;
	*)	WHY="unknown kind '$kind'"; false ;;
	esac || { echo "n/a $label: $WHY" | tee -a "$OUT/skipped.txt"; DEV='' PID=''; }
	if [ -n "$DEV" ]; then
		# the CPU window counts bytes from the device's I/O statistics
		echo 1 >"/sys/block/${DEV#/dev/}/queue/iostats" 2>/dev/null
		echo "ready $label: $DEV${PID:+ (daemon pid $PID)}"
	fi
	case $kind in
	nullb)	how="null_blk (configfs): size ${size_mb}M, submit_queues 1, hw_queue_depth 128, irqmode 0" ;;
	kloop)	how="losetup --direct-io=on -f $BACKING" ;;
	*)	how="ublk add $args${UBLK_EXTRA:+ $UBLK_EXTRA}" ;;
	esac
	how=${how//@FILE@/$BACKING}
	how=${how//@SIZE@/$SIZE}
	labels+=("$label"); groups+=("$group"); devs+=("$DEV"); pids+=("$PID"); whys+=("$WHY")
	hows+=("$how")
done
[ ${#labels[@]} -gt 0 ] || die "no configuration matches '$*'"

tests=()
for line in "${TESTS[@]}"; do
	IFS='|' read -r name _ _ <<<"$line"
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
		$fioargs --time_based --ramp_time=1 --runtime="$RUNTIME" \
		--norandommap --randrepeat=0 --group_reporting --thread \
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
	t0=$S_T g0=$S_G d0=$S_D b0=$S_B
	sleep $((RUNTIME - 1))
	snap "$dev" "$pid"
	wait $fpid
	FIO_RC=$?
	W_BYTES=$(((S_B - b0) * 512))
	read -r W_SECS W_GUEST W_DAEMON < <(awk -v t0="$t0" -v t1="$S_T" -v g0="$g0" -v g1="$S_G" \
		-v d0="$d0" -v d1="$S_D" -v hz="$HZ" -v daemon="$pid" 'BEGIN {
		printf "%.2f %.2f ", t1 - t0, (g1 - g0) / hz
		if (daemon != "") printf "%.2f\n", (d1 - d0) / hz; else print "-" }')
}

fio --version >/dev/null		# the first exec from the shared root is slow

printf 'label\ttest\trep\tmetric\tvalue\tfio_bytes\tfio_bw_MiBps\twindow_s\twindow_bytes\tguest_cpu_s\tdaemon_cpu_s\n' >"$RESULTS"
failed=0
run=0
for ((rep = 1; rep <= REPEAT; rep++)); do
	for tline in "${tests[@]}"; do
		IFS='|' read -r tname fioargs metric <<<"$tline"
		tname=$(trim "$tname"); metric=$(trim "$metric")
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
				| select($bytes > 0)
				| "\($v)\t\($bytes)\t\($bw)"' "$json" 2>/dev/null); then
				echo "FAIL $label $tname #$rep: fio exit $FIO_RC: $(tail -n 2 "$json.log" | paste -sd' ')"
				failed=$((failed + 1))
				continue
			fi
			IFS=$'\t' read -r value bytes bw <<<"$vals"
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\n' "$label" "$tname" "$rep" \
				"$metric" "$value" "$bytes" "$bw" "$W_SECS" "$W_BYTES" "$W_GUEST" "$W_DAEMON" >>"$RESULTS"
			# the window's bytes should match fio's bandwidth over the window
			check=$(awk -v wb="$W_BYTES" -v bw="$bw" -v s="$W_SECS" 'BEGIN {
				e = bw * 1048576 * s; if (e > 0 && (wb / e < 0.8 || wb / e > 1.25)) printf " (window bytes %.2fx fio bw)", wb / e }')
			printf 'run %3d/%d  %-16s %-4s #%d  %s=%s  cpu in %ss: guest %ss, daemon %s  %s MiB%s\n' \
				"$run" "$nruns" "$label" "$tname" "$rep" "$metric" "$(fmt "$value")" "$W_SECS" \
				"$W_GUEST" "$W_DAEMON" "$((W_BYTES >> 20))" "$check"
		done
	done
done
echo

# ---------------------------------------------------------------- report

# "median [min-max]" over the repetitions of (label $1, test $2) of: what=$3
# value (the metric), gcpu (guest CPU s/GiB) or dcpu (daemon CPU s/GiB); "-"
# if none. With a baseline label $4: of the ratio label/baseline within each
# repetition, as "0.41x [0.23-0.78]".
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
		else {
			c = what == "gcpu" ? $10 : $11
			if (c == "-" || $9 <= 0) next
			v = c / ($9 / 1073741824)
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

report() {
	local i l w=14 c=20 base spec
	for l in "${labels[@]}"; do [ "${#l}" -gt "$w" ] && w=${#l}; done

	echo "Configurations"
	for i in "${!labels[@]}"; do
		printf "%-${w}s  %s\n" "${labels[$i]}" "${hows[$i]}"
	done
	echo

	echo "Throughput and latency: median [min-max] of $REPEAT runs"
	printf "%-${w}s  %${c}s  %${c}s  %${c}s  %${c}s\n" "configuration" "4k rr qd32 IOPS" \
		"4k qd32 2 jobs IOPS" "4k rr qd1 lat us" "1M sw qd8 MiB/s"
	for i in "${!labels[@]}"; do
		row "$i" rr32:value rr32x2:value rr1:value sw:value
	done
	echo
	echo "CPU seconds per GiB moved: median [min-max]; guest = whole VM, daemon = ublk server"
	printf "%-${w}s  %${c}s  %${c}s  %${c}s  %${c}s\n" "configuration" "4k qd32 guest" "4k qd32 daemon" "1M sw guest" "1M sw daemon"
	for i in "${!labels[@]}"; do
		row "$i" rr32:gcpu rr32:dcpu sw:gcpu sw:dcpu
	done
	echo
	echo "Relative to the first configuration of each group: median [min-max] of the"
	echo "ratios within each repetition (measured back to back, so host drift cancels)"
	printf "%-${w}s  %-12s  %${c}s  %${c}s  %${c}s  %${c}s  %${c}s  %${c}s\n" "configuration" \
		"baseline" "4k qd32 IOPS" "2 jobs IOPS" "4k qd1 lat" "1M sw MiB/s" "CPU/GiB 4k qd32" \
		"CPU/GiB 1M sw"
	for i in "${!labels[@]}"; do
		l=${labels[$i]}
		if [ "$i" = 0 ] || [ "${groups[$i]}" != "${groups[$((i - 1))]}" ]; then
			base=$l
		fi
		[ -z "${whys[$i]}" ] || continue
		[ "$l" != "$base" ] || continue
		printf "%-${w}s  %-12s" "$l" "$base"
		for spec in rr32:value rr32x2:value rr1:value sw:value rr32:gcpu sw:gcpu; do
			printf "  %${c}s" "$(summ "$l" "${spec%%:*}" "${spec#*:}" "$base")"
		done
		echo
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
