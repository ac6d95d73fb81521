#!/bin/bash
# Runs inside the VM started by run.sh:  guest.sh test|demo|bench|shell|probe
#
# /build/src (read-only) holds the built tree, /build/out is shared with the
# host. Results go to files there, never to stdout only: kernel messages may
# be mixed into the console.
#
# test:  every executable tests/integration/*.sh, in order, each under
#        timeout (UBLK_TEST_TIMEOUT, or a "# timeout: N" line in the test),
#        with a fresh tmpfs in $UBLK_TEST_DIR and ublk on PATH.
#        0 = PASS, 77 = SKIP, else FAIL; a test also fails if it leaves a
#        ublk device behind or the kernel logs a warning or an oops.
#        out/results: "PASS|FAIL|SKIP name" lines; out/logs/name.log.
set -euo pipefail

src=/build/src
out=/build/out
scratch=/tmp/ublk-test
mode=${1:-}

export PATH=$src:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
export UBLK_TEST_DIR=$scratch

UBLK_TEST_TIMEOUT=300
UBLK_VM_MODULE=stock
GUEST_ARGS=()
# shellcheck source=/dev/null
[ -f "$out/guest.env" ] && . "$out/guest.env"

say() { echo "guest: $*"; }

# Setup failures go to a file the host reads.
die() {
	say "$*" >&2
	echo "$*" >"$out/guest-error"
	echo 1 >"$out/status"
	exit 1
}

load_module() {
	local i

	modprobe "$@" || return 1
	[ "$1" = ublk_drv ] || return 0
	for ((i = 0; i < 50; i++)); do
		[ -c /dev/ublk-control ] && return 0
		sleep 0.1
	done
	return 1
}

wait_control() {
	local i

	for ((i = 0; i < 50; i++)); do
		[ -c /dev/ublk-control ] && return 0
		sleep 0.1
	done
	return 1
}

# UBLK_VM_MODULE=project|rebuilt: replace Debian's ublk_drv with the one
# kernel/build.sh built. Without module BTF, registering struct_ops "works"
# and does nothing: check it is there, and that it has our struct.
swap_in_module() {
	local ko=$src/kernel/build/ublk_drv.ko

	[ -f "$ko" ] || die "UBLK_VM_MODULE=$UBLK_VM_MODULE: $ko was not built"
	if [ -d /sys/module/ublk_drv ]; then
		rmmod ublk_drv || die "cannot unload Debian's ublk_drv"
	fi
	insmod "$ko" || die "insmod $ko failed"
	wait_control || die "the project's ublk_drv gives no /dev/ublk-control"
	[ -f /sys/kernel/btf/ublk_drv ] ||
		die "the project's ublk_drv has no BTF (/sys/kernel/btf/ublk_drv)"
	# the whole dump first: grep -q quitting early would fail the pipe
	if [ "$UBLK_VM_MODULE" = project ] &&
		! grep -q "STRUCT 'ublk_bpf_ops'" <<<"$(bpftool btf dump file /sys/kernel/btf/ublk_drv)"; then
		die "/sys/kernel/btf/ublk_drv has no struct ublk_bpf_ops"
	fi
	export UBLK_DRV_KO=$ko
	say "ublk_drv: $ko ($UBLK_VM_MODULE), taint $(cat /sys/module/ublk_drv/taint)"
}

# Back to Debian's module; unloading ours must work once no device is left
# (a dead daemon's struct_ops map lets go of the module after an RCU grace
# period or so: give it a few seconds).
swap_out_module() {
	local i

	clean_ublk >/dev/null 2>&1 || true
	for ((i = 0; i < 50; i++)); do
		rmmod ublk_drv 2>/dev/null && break
		sleep 0.2
	done
	if [ -d /sys/module/ublk_drv ]; then
		say "FAIL: rmmod of the project's ublk_drv: $(rmmod ublk_drv 2>&1)"
		return 1
	fi
	modprobe ublk_drv && wait_control
}

# A fresh, empty tmpfs on $scratch.
fresh_scratch() {
	if mountpoint -q "$scratch"; then
		umount -R "$scratch" 2>/dev/null || umount -R -l "$scratch"
	fi
	mkdir -p "$scratch"
	mount -t tmpfs -o mode=1777,size=75% ublk-test "$scratch"
}

ublk_devices() {
	compgen -G '/dev/ublk[bc][0-9]*' || true
}

# PIDs of ublk servers, by executable or command name (no forks: this
# runs after every test, and forks are slow under TCG).
ublk_pids() {
	local p comm

	for p in /proc/[0-9]*; do
		comm=
		read -r comm 2>/dev/null <"$p/comm" || continue
		case $comm in
		ublk|lt-ublk) echo "${p#/proc/}"; continue ;;
		esac
		[ "$p/exe" -ef "$src/ublk" ] && echo "${p#/proc/}"
	done
	return 0
}

# Remove whatever ublk state a test left: devices, then servers.
clean_ublk() {
	local p n

	timeout 30 ublk del -a || true
	for p in $(ublk_pids); do
		kill -9 "$p" 2>/dev/null || true
	done
	sleep 1
	timeout 30 ublk del -a || true
	# Nodes without a device behind them (mknod'ed, or a dying device).
	for n in $(ublk_devices); do
		n=${n#/dev/}
		[ -e "/sys/class/block/$n" ] || [ -e "/sys/class/ublk-char/$n" ] ||
			rm -f "/dev/$n"
	done
}

# Kernel messages that fail a test.
kwarn='WARNING:|BUG:|Oops|general protection fault|Call Trace:|blocked for more than|UBSAN|KASAN'

# The syslog bytes after offset $1: what the daemons logged during a test.
syslog_since() {
	[ -f "$out/syslog.log" ] && tail -c "+$(($1 + 1))" "$out/syslog.log"
}

# A failed test's log ends with why, in a few lines (run.sh shows them):
# the harness's verdict, the first kernel warning, the daemons' errors.
log_summary() {
	local note=$1 klog=$2 dlog=$3

	echo "### harness: summary: FAIL: $note"
	grep -E -m 1 -B 1 -A 24 "$kwarn" "$klog" 2>/dev/null | sed 's/^/kernel: /'
	grep -E 'daemon\.(err|warn)' "$dlog" 2>/dev/null | tail -n 10 | sed 's/^/daemon: /'
}

run_one() {
	local t=$1 name tmo rc=0 pid verdict note='' left i klog dlog sl0 t0=$SECONDS

	name=$(basename "$t" .sh)
	tmo=$(sed -n 's/^# *timeout: *\([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
	tmo=${tmo:-$UBLK_TEST_TIMEOUT}
	klog=$out/logs/$name.kmsg
	dlog=$out/logs/$name.syslog
	sl0=$(stat -c %s "$out/syslog.log" 2>/dev/null || echo 0)

	echo "$name" >"$out/current"
	fresh_scratch
	dmesg -C || true
	say "running $name (timeout ${tmo} s)"

	# timeout makes a process group of its own: killing it afterwards
	# takes the test's stray background processes with it.
	(cd "$scratch" && exec timeout -k 10 "$tmo" "$t") \
		>"$out/logs/$name.log" 2>&1 </dev/null &
	pid=$!
	wait "$pid" || rc=$?

	case $rc in
	0)	verdict=PASS ;;
	77)	verdict=SKIP ;;
	124|137) verdict=FAIL note="timed out after ${tmo} s" ;;
	*)	verdict=FAIL note="exit status $rc" ;;
	esac

	# Give a server that is still tearing down a moment.
	for ((i = 0; i < 30; i++)); do
		left=$(ublk_devices)
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		verdict=FAIL
		note="${note:+$note; }left a device behind: $(echo "$left" | xargs)"
		{
			echo "### harness: devices left: $(echo "$left" | xargs)"
			timeout 10 ublk list 2>&1 || true
		} >>"$out/logs/$name.log"
	fi
	kill -9 -- "-$pid" 2>/dev/null || true
	if [ -n "$left" ] || [ -n "$(ublk_pids)" ]; then
		clean_ublk >>"$out/logs/$name.log" 2>&1
	fi
	if mountpoint -q "$scratch"; then
		umount -R "$scratch" 2>/dev/null || umount -R -l "$scratch" || true
	fi

	dmesg -c >"$klog" 2>&1 || true
	if grep -Eq "$kwarn" "$klog"; then
		verdict=FAIL
		note="${note:+$note; }kernel warning or oops (see below)"
	fi
	if [ -s "$klog" ]; then
		{ echo "### harness: kernel messages during the test:"; cat "$klog"; } \
			>>"$out/logs/$name.log"
	fi
	syslog_since "$sl0" >"$dlog" || true
	if [ -s "$dlog" ]; then
		{ echo "### harness: daemon log (syslog) during the test:"; cat "$dlog"; } \
			>>"$out/logs/$name.log"
	fi
	if [ "$verdict" = FAIL ]; then
		log_summary "$note" "$klog" "$dlog" >>"$out/logs/$name.log"
	elif [ -n "$note" ]; then
		echo "### harness: $verdict: $note" >>"$out/logs/$name.log"
	fi
	rm -f "$klog" "$dlog"

	echo "$verdict $name" >>"$out/results"
	rm -f "$out/current"
	say "$verdict $name ($((SECONDS - t0)) s)${note:+: $note}"
	[ "$verdict" != FAIL ]
}

selected() {
	local name=$1 a

	[ ${#GUEST_ARGS[@]} = 0 ] && return 0
	for a in "${GUEST_ARGS[@]}"; do
		[ "$(basename "$a" .sh)" = "$name" ] && return 0
	done
	return 1
}

do_test() {
	local t failed=0

	: >"$out/results"
	for t in "$src"/tests/integration/*.sh; do
		[ -f "$t" ] || continue
		[ -x "$t" ] || continue
		selected "$(basename "$t" .sh)" || continue
		run_one "$t" || failed=1
	done
	return $failed
}

# Serve a loop device with ublk, write, read back, put a file system on it.
demo_dev=
demo_step() { echo; echo "==> $*"; }

# shellcheck disable=SC2317 # called from the EXIT trap
demo_cleanup() {
	mountpoint -q "$scratch/mnt" && umount "$scratch/mnt"
	[ -n "$demo_dev" ] && [ -e "$demo_dev" ] && timeout 30 ublk del -a
	return 0
}

do_demo() {
	local img=$scratch/backing.img before id i rc=0

	fresh_scratch
	trap demo_cleanup EXIT
	demo_step "kernel $(uname -r), $(nproc) CPUs"
	ls -l /dev/ublk-control
	truncate -s 256M "$img"
	before=$(ublk_devices)

	# The server may keep its stdout: a file, not a pipe, or we would wait.
	demo_step "ublk add -t loop -f $img --bpf"
	ublk add -t loop -f "$img" --bpf >"$scratch/add.log" 2>&1 ||
		{ cat "$scratch/add.log"; return 1; }
	cat "$scratch/add.log"
	for ((i = 0; i < 100; i++)); do
		demo_dev=$(comm -13 <(echo "$before" | sort) \
			<(ublk_devices | sort) | grep '^/dev/ublkb' | head -n 1 || true)
		[ -n "$demo_dev" ] && [ -b "$demo_dev" ] && break
		sleep 0.1
	done
	[ -b "$demo_dev" ] || { echo "no new /dev/ublkb* appeared"; return 1; }
	id=${demo_dev#/dev/ublkb}
	echo "device: $demo_dev ($(blockdev --getsize64 "$demo_dev") bytes)"

	demo_step "ublk list"
	ublk list

	demo_step "write 16 MiB with O_DIRECT, read back, compare"
	head -c 16M /dev/urandom >"$scratch/pattern"
	dd if="$scratch/pattern" of="$demo_dev" bs=1M oflag=direct conv=fsync \
		status=none
	dd if="$demo_dev" of="$scratch/readback" bs=1M count=16 iflag=direct \
		status=none
	cmp "$scratch/pattern" "$scratch/readback"
	cmp -n 16M "$scratch/pattern" "$img"
	echo "data OK (device and backing file)"

	demo_step "mkfs.ext4, mount, write a file, umount, fsck"
	mkfs.ext4 -q -F "$demo_dev"
	mkdir -p "$scratch/mnt"
	mount "$demo_dev" "$scratch/mnt"
	cp "$scratch/pattern" "$scratch/mnt/file"
	df -h "$scratch/mnt" | tail -n 1
	umount "$scratch/mnt"
	mount -o ro "$demo_dev" "$scratch/mnt"
	cmp "$scratch/pattern" "$scratch/mnt/file"
	umount "$scratch/mnt"
	e2fsck -fn "$demo_dev" >"$scratch/fsck.log" 2>&1 ||
		{ cat "$scratch/fsck.log"; return 1; }
	echo "file system OK"

	demo_step "ublk list -n $id (requests served by BPF vs the daemon)"
	sleep 1.2 # the daemon refreshes its state file every second
	ublk list -n "$id"

	demo_step "ublk del -n $id"
	ublk del -n "$id" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "ublk del -n $id: exit status $rc, trying ublk del -a"
		ublk del -a
	fi
	for ((i = 0; i < 50; i++)); do
		[ -e "$demo_dev" ] || break
		sleep 0.1
	done
	[ ! -e "$demo_dev" ] || { echo "$demo_dev still exists"; return 1; }
	demo_dev=
	echo "device removed"
}

case $mode in
probe)
	touch "$out/probe-ok"
	exit 0
	;;
test|demo|bench|shell|soak) ;;
*)
	die "unknown mode '$mode'"
	;;
esac

# The whole kernel log, as it happens (the console shows warnings at most).
dmesg --follow --decode >"$out/kmsg.log" 2>&1 &
# The daemons log to syslog once detached: keep it, run_one files it by test.
rm -f "$out/syslog.log"
[ -S /dev/log ] || busybox syslogd -n -s 0 -O "$out/syslog.log" &

case $UBLK_VM_MODULE in
stock)
	load_module ublk_drv || die "modprobe ublk_drv: no /dev/ublk-control"
	;;
project|rebuilt)
	swap_in_module
	;;
*)
	die "UBLK_VM_MODULE: unknown value '$UBLK_VM_MODULE'"
	;;
esac
[ -x "$src/ublk" ] || die "$src/ublk is missing"
cd "$src"

rc=0
case $mode in
test)
	do_test || rc=$?
	touch "$out/guest-done"
	;;
demo)
	# Not in an "if": that would switch off set -e inside do_demo.
	set +e
	(set -e; do_demo)
	rc=$?
	set -e
	if [ "$rc" = 0 ]; then
		echo; echo "DEMO PASSED: ublk loop device served, verified and removed"
	else
		echo; echo "DEMO FAILED (exit status $rc, see above)"
	fi
	;;
bench)
	load_module null_blk nr_devices=0 || die "modprobe null_blk failed"
	[ -x benchmarks/run.sh ] || die "benchmarks/run.sh is missing"
	fresh_scratch
	mkdir -p "$out/bench"
	UBLK_BENCH_OUT=$out/bench benchmarks/run.sh "${GUEST_ARGS[@]}" || rc=$?
	;;
shell)
	fresh_scratch
	bash -c "${GUEST_ARGS[*]}" || rc=$?
	;;
soak)
	fresh_scratch
	tests/soak/soak.sh "${GUEST_ARGS[@]}" || rc=$?
	;;
esac
if [ "$UBLK_VM_MODULE" != stock ] && ! swap_out_module; then
	[ "$mode" = test ] && echo "FAIL rmmod-project-module" >>"$out/results"
	[ "$rc" = 0 ] && rc=1
fi
echo "$rc" >"$out/status"
exit "$rc"
