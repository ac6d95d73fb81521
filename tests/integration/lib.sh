# shellcheck shell=bash
# Shared helpers for the ublk integration tests (tests/integration/NNN-*.sh).
#
# Every test starts with:
#     . "$(dirname "$0")/lib.sh"
# This file is not a test: keep it NON-executable (the VM harness runs every
# executable *.sh in this directory).
#
# What it provides:
#   log / fail / skip           messages on stderr; fail exits 1, skip exits 77
#   T_WORK                      per-test scratch dir under $UBLK_TEST_DIR
#   cleanup trap (EXIT)         kills registered background pids, unmounts
#                               registered mounts, `ublk del -a`, runs the
#                               registered hooks (last first), removes T_WORK
#   bg_register/bg_forget PID, mount_dev, umount_dir, on_exit CMD
#   wait_for SECS CMD...        poll CMD until it succeeds or SECS pass
#   pid_alive / wait_pid_exit   (zombies count as exited)
#   ublk_add ARGS... / ublk_del ID   checked add/del (set DEV_ID, DEV_PID, DEV_OUT)
#   dev_state ID / dev_pid ID / dev_line ID N / dev_flags ID / dev_json ID
#   dev_sysfs ID / dev_ios ID / dev_busy ID
#   check_geometry ID Q D [SECTORS]
#   has_feature NAME            `ublk features` lists NAME
#   expect_fail DESC CMD...     CMD must fail cleanly (see below)
#   make_backing FILE SIZE / make_pattern FILE MIB
#   fio_run NAME DEV OPTS... / fio_verify DEV OPTS...
#   loop_verify_matrix FLAG ADD_OPTS...
#   T_ADD_EXTRA                 array of extra `ublk add` options for tests
#                               that other tests reuse (040, 060 with --bpf)
#   require_bpf                 skip unless the kernel can run the BPF path
#   bpf_count ID FIELD          sum over queues of a counter in `ublk list --json`
#   assert_bpf_served_all ID FIO_NAME   BPF served all of fio's requests
#   wait_state ID STATE SECS    `ublk list -n ID` shows STATE within SECS
#   kill_daemon ID              SIGKILL the daemon of ID, wait for it to exit
#   ublk_recover ID             checked `ublk recover -n ID` (sets DEV_PID)
#   fio_bg NAME DEV OPTS...     fio in the background (sets FIO_PID)
#   fio_bg_wait SECS            wait for it: FIO_RC, FIO_JSON

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	echo "lib.sh is sourced by the tests, it is not a test itself" >&2
	exit 0
fi

# a test that runs another (103 runs 040) sources this twice: once is enough
[[ -z "${T_LIB_LOADED:-}" ]] || return 0
T_LIB_LOADED=1

set -euo pipefail
set -E
shopt -s inherit_errexit

T_NAME=${0##*/}
T_NAME=${T_NAME%.sh}
T_FIO_ENGINE=${UBLK_TEST_FIO_ENGINE:-libaio}
T_PIDS=()
T_MOUNTS=()
T_HOOKS=()
T_WORK=
T_XF_PROCS=
[[ -v T_ADD_EXTRA ]] || T_ADD_EXTRA=()
# set by ublk_add, read by the tests
DEV_ID=
DEV_PID=
# shellcheck disable=SC2034
DEV_OUT=

log() { printf '[%s] %s\n' "$T_NAME" "$*" >&2; }
fail() {
	printf '[%s] FAIL: %s\n' "$T_NAME" "$*" >&2
	exit 1
}
skip() {
	printf '[%s] SKIP: %s\n' "$T_NAME" "$*" >&2
	exit 77
}

# Unexpected failures of plain commands (set -e) get a line saying which one.
t_on_err() {
	printf '[%s] FAIL: command failed (exit %s) at %s line %s: %s\n' \
		"$T_NAME" "$1" "${BASH_SOURCE[1]##*/}" "$2" "$3" >&2
}
trap 't_on_err $? $LINENO "$BASH_COMMAND"' ERR

# ---------------------------------------------------------------- cleanup

# bg_register PID: a background process to kill at exit.
bg_register() { T_PIDS+=("$1"); }

# bg_forget PID: it has been reaped (`wait`), do not kill it at exit.
bg_forget() {
	local p keep=()
	for p in "${T_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	T_PIDS=("${keep[@]}")
}

# on_exit CMD: a command string (eval'd) to run at exit, after `ublk del -a`.
on_exit() { T_HOOKS+=("$1"); }

# mount_dev DEV DIR [mount options...]: mount and remember to unmount at exit.
mount_dev() {
	local dev=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	mount "$@" "$dev" "$dir" || fail "mount $* $dev $dir failed"
	T_MOUNTS+=("$dir")
}

# umount_dir DIR: unmount now (and forget it).
umount_dir() {
	local dir=$1 m keep=()
	umount "$dir" || fail "umount $dir failed"
	for m in "${T_MOUNTS[@]}"; do
		[ "$m" = "$dir" ] || keep+=("$m")
	done
	T_MOUNTS=("${keep[@]}")
}

t_cleanup() {
	local rc=$? pid i m
	set +e
	trap - ERR
	for pid in "${T_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for ((i = ${#T_MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${T_MOUNTS[i]}
		if mountpoint -q "$m"; then
			timeout 60 umount "$m" || timeout 30 umount -l "$m" ||
				log "cleanup: cannot unmount $m"
		fi
	done
	if [ -e /dev/ublk-control ] && command -v ublk >/dev/null; then
		if ! timeout 60 ublk del -a >"${T_WORK:-/tmp}/.cleanup-del.log" 2>&1; then
			log "cleanup: 'ublk del -a' failed: $(cat "${T_WORK:-/tmp}/.cleanup-del.log")"
		fi
	fi
	# background processes were killed above; reap them if they are gone
	# (a process stuck in ublk I/O may only go away after the del)
	for pid in "${T_PIDS[@]}"; do
		if wait_pid_exit "$pid" 10; then
			{ wait "$pid"; } 2>/dev/null
		else
			log "cleanup: background pid $pid did not exit"
		fi
	done
	for ((i = ${#T_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${T_HOOKS[i]}" || log "cleanup: '${T_HOOKS[i]}' failed"
	done
	[ -n "$T_WORK" ] && rm -rf --one-file-system "$T_WORK"
	case $rc in
	0) log "PASS" ;;
	77) ;;
	*) log "FAIL (exit $rc)" ;;
	esac
	exit "$rc"
}
trap t_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# ---------------------------------------------------------------- waiting

# wait_for SECS CMD [ARGS...]: run CMD every 0.2 s until it succeeds (return 0)
# or SECS seconds pass (return 1).
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while true; do
		if "$@"; then
			return 0
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			return 1
		fi
		sleep 0.2
	done
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
pid_gone() { ! pid_alive "$1"; }

# wait_pid_exit PID SECS
wait_pid_exit() { wait_for "$2" pid_gone "$1"; }

# ---------------------------------------------------------------- ublk queries

# ublk_nodes: the /dev/ublkb* and /dev/ublkc* nodes that exist, one a line.
ublk_nodes() {
	local nodes=()
	shopt -s nullglob
	nodes=(/dev/ublkb* /dev/ublkc*)
	shopt -u nullglob
	if [ ${#nodes[@]} -gt 0 ]; then
		printf '%s\n' "${nodes[@]}" | sort
	fi
}

dev_nodes_gone() { [ ! -e "/dev/ublkb$1" ] && [ ! -e "/dev/ublkc$1" ]; }

# list_ids: ids of the devices `ublk list` shows (fails if `ublk list` fails).
list_ids() {
	local out
	out=$(ublk list 2>&1) || fail "'ublk list' failed: $out"
	sed -n 's/^dev id \([0-9][0-9]*\):.*/\1/p' <<<"$out" | sort -n
}

# ublk_pids: pids of running processes named ublk (lt-ublk: libtool build).
ublk_pids() { pgrep -x 'ublk|lt-ublk' || true; }

# dev_list ID: `ublk list -n ID` (fails the test if it fails).
dev_list() {
	local out
	out=$(ublk list -n "$1" 2>&1) || fail "'ublk list -n $1' failed: $out"
	printf '%s\n' "$out"
}

# dev_line ID N: line N of `ublk list -n ID`.
dev_line() { dev_list "$1" | sed -n "$2p"; }

# dev_state ID: STATE, word 9 of line 2 of `ublk list -n ID`.
dev_state() { dev_list "$1" | awk 'NR == 2 { print $9 }'; }

# dev_pid ID: daemon PID, word 7 of line 2 of `ublk list -n ID`.
dev_pid() { dev_list "$1" | awk 'NR == 2 { print $7 }'; }

# dev_flags ID: the names between [ ] on the flags line.
dev_flags() {
	dev_list "$1" | sed -n 's/^[[:space:]]*flags 0x[0-9a-fA-F]* *\[\(.*\)\][[:space:]]*$/\1/p'
}

# dev_json ID: the object of device ID in `ublk list --json` (empty if absent).
dev_json() {
	local out
	out=$(ublk list --json 2>&1) || fail "'ublk list --json' failed: $out"
	jq -c --arg id "$1" '.[] | select((.dev_id | tostring) == $id)' <<<"$out" ||
		fail "'ublk list --json' is not a JSON array of devices: $out"
}

# check_geometry ID Q D [SECTORS]: line 1 of `ublk list -n ID` shows them.
check_geometry() {
	local id=$1 q=$2 d=$3 sectors=${4:-} line w
	line=$(dev_line "$id" 1)
	read -ra w <<<"$line"
	[[ ${#w[@]} -ge 12 && "${w[0]} ${w[1]} ${w[2]}" == "dev id $id:" ]] ||
		fail "dev $id: unexpected line 1 of 'ublk list -n $id': '$line'"
	[[ ${w[3]} == nr_hw_queues && ${w[4]} == "$q" ]] ||
		fail "dev $id: expected nr_hw_queues $q, line 1 is '$line'"
	[[ ${w[5]} == queue_depth && ${w[6]} == "$d" ]] ||
		fail "dev $id: expected queue_depth $d, line 1 is '$line'"
	if [ -n "$sectors" ]; then
		[[ ${w[10]} == dev_capacity && ${w[11]} == "$sectors" ]] ||
			fail "dev $id: expected dev_capacity $sectors, line 1 is '$line'"
	fi
}

# dev_sysfs ID: /sys/block/<disk> of /dev/ublkbID.
dev_sysfs() {
	local disk
	disk=$(readlink -f "/dev/ublkb$1")
	echo "/sys/block/${disk##*/}"
}

# dev_ios ID: reads + writes completed on /dev/ublkbID (from its sysfs stat).
dev_ios() {
	local f
	f=$(dev_sysfs "$1")/stat
	awk '{ print $1 + $5 }' "$f" 2>/dev/null || echo 0
}
dev_busy() { [ "$(dev_ios "$1")" -gt 1000 ]; }

# has_feature NAME: `ublk features` lists NAME (as a word).
has_feature() {
	local out
	out=$(ublk features 2>&1) || fail "'ublk features' failed: $out"
	grep -qw -- "$1" <<<"$out"
}

# require_bpf: the BPF fast path must be available. Linux 7.3 has what it
# needs, so there a "no" is a failure of ours; older kernels skip.
require_bpf() {
	local out rel
	out=$(ublk features 2>&1) || fail "'ublk features' failed: $out"
	grep -q '^bpf fast path: yes' <<<"$out" && return 0
	rel=$(uname -r)
	if printf '%s\n' 7.3 "${rel%%[-+]*}" | sort -V -C; then
		fail "kernel $rel should offer the BPF fast path: $(grep '^bpf' <<<"$out")"
	fi
	skip "no BPF fast path on kernel $rel: $(grep '^bpf fast' <<<"$out")"
}

# bpf_backend: the backend a plain --bpf picks on this kernel
# (ublk_bpf_ops with the project's module, else io_uring_bpf_ops).
bpf_backend() {
	ublk features 2>/dev/null | sed -n 's/^bpf fast path: yes (\([a-z_]*\),.*/\1/p'
}

# bpf_data_mode: the data mode --bpf gives a device: io_uring_bpf_ops needs
# zero copy; the seed's daemon keeps the default (copy).
bpf_data_mode() {
	if [ "$(bpf_backend)" = io_uring_bpf_ops ]; then echo auto_zc; else echo copy; fi
}

# assert_bpf_flags ID: device ID has the flag its BPF backend needs
# (io_uring_bpf_ops: AUTO_ZC, the seed: BPF_OPS).
assert_bpf_flags() {
	local want=BPF_OPS
	[ "$(bpf_backend)" = io_uring_bpf_ops ] && want=AUTO_ZC
	grep -qw "$want" <<<"$(dev_flags "$1")" || fail "--bpf without $want: $(dev_flags "$1")"
}

# bpf_count ID FIELD: FIELD (nr_io, nr_redirect, nr_retry, nr_split of the
# BPF program, or nr_io_daemon) summed over the queues, as `ublk list --json`
# reports it (the daemon refreshes its state file every second).
bpf_count() {
	local field=$2
	if [ "$field" = nr_io_daemon ]; then
		dev_json "$1" | jq '[.queues[].nr_io_daemon] | add'
	else
		dev_json "$1" | jq --arg f "$field" '[.queues[].bpf[$f]] | add'
	fi
}

# dev_reqs ID: requests the block layer completed on /dev/ublkbID since it
# was created: reads, writes, discards and flushes of its sysfs stat.
dev_reqs() { awk '{ print $1 + $5 + $12 + $16 }' "$(dev_sysfs "$1")/stat"; }

# assert_bpf_served_all ID FIO_NAME: on device ID (on the BPF path since it
# was added), BPF served exactly as many requests as the block layer
# completed, which include every request of the last fio_run FIO_NAME, and
# the daemon served none.
assert_bpf_served_all() {
	local id=$1 ios reqs bpf daemon
	ios=$(fio_ios "$2")
	sleep 1.5 # the daemon refreshes its state file every second
	reqs=$(dev_reqs "$id")
	bpf=$(bpf_count "$id" nr_io)
	daemon=$(bpf_count "$id" nr_io_daemon)
	log "fio $2 did $ios requests; the device completed $reqs; BPF served $bpf, the daemon $daemon"
	[ "$reqs" -ge "$ios" ] || fail "the device completed $reqs requests, fio $2 made $ios"
	[ "$bpf" -eq "$reqs" ] || fail "BPF served $bpf requests, the device completed $reqs"
	[ "$daemon" -eq 0 ] || fail "the daemon served $daemon plain requests on the BPF path"
}

# ---------------------------------------------------------------- add / del

# ublk_add ARGS...: `ublk add ARGS` must succeed (within 120 s) with a LIVE
# device whose nodes exist when it returns. Sets DEV_ID (from the first output
# line), DEV_PID, DEV_OUT (what add printed).
# Output goes to files, not a pipe: the daemon may keep inherited fds open.
ublk_add() {
	local out=$T_WORK/.add.out err=$T_WORK/.add.err rc=0 first state
	timeout 120 ublk add "$@" >"$out" 2>"$err" || rc=$?
	if [ "$rc" -eq 124 ]; then
		fail "'ublk add $*' did not return within 120 s; stderr: $(cat "$err")"
	elif [ "$rc" -ne 0 ]; then
		fail "'ublk add $*' failed (exit $rc); stderr: $(cat "$err")"
	fi
	# shellcheck disable=SC2034 # read by the tests
	DEV_OUT=$(cat "$out")
	first=$(head -n 1 "$out")
	if [[ $first =~ ^dev\ id\ ([0-9]+): ]]; then
		DEV_ID=${BASH_REMATCH[1]}
	else
		fail "'ublk add $*': first output line should be 'dev id N: ...', got '$first'"
	fi
	[ -b "/dev/ublkb$DEV_ID" ] ||
		fail "'ublk add $*' returned but /dev/ublkb$DEV_ID is not a block device"
	[ -c "/dev/ublkc$DEV_ID" ] ||
		fail "'ublk add $*' returned but /dev/ublkc$DEV_ID is not a char device"
	state=$(dev_state "$DEV_ID")
	[ "$state" = LIVE ] ||
		fail "'ublk add $*' returned but dev $DEV_ID state is '$state', expected LIVE"
	DEV_PID=$(dev_pid "$DEV_ID")
	[[ $DEV_PID =~ ^[1-9][0-9]*$ ]] ||
		fail "dev $DEV_ID: daemon pid (word 7 of list line 2) is '$DEV_PID'"
	log "added dev $DEV_ID (daemon pid $DEV_PID): ublk add $*"
}

# assert_dev_deleted ID PID: nodes gone, daemon exited, not in `ublk list`.
assert_dev_deleted() {
	local id=$1 pid=$2
	# the nodes are removed synchronously by the kernel's DEL_DEV
	dev_nodes_gone "$id" ||
		fail "after del of dev $id, nodes remain: $(ublk_nodes | grep -E "ublk[bc]$id\$" | xargs)"
	# small grace for the daemon's final exit after it released the device
	wait_pid_exit "$pid" 5 ||
		fail "after del of dev $id, daemon pid $pid is still running ($(cat "/proc/$pid/comm" 2>/dev/null))"
	local ids
	ids=$(list_ids)
	if grep -qx "$id" <<<"$ids"; then
		fail "after del of dev $id, 'ublk list' still shows it"
	fi
}

# ublk_del ID: `ublk del -n ID` must succeed within 60 s and remove the device.
ublk_del() {
	local id=$1 pid rc=0 err=$T_WORK/.del.err
	pid=$(dev_pid "$id")
	timeout 60 ublk del -n "$id" >/dev/null 2>"$err" || rc=$?
	if [ "$rc" -eq 124 ]; then
		fail "'ublk del -n $id' did not return within 60 s"
	elif [ "$rc" -ne 0 ]; then
		fail "'ublk del -n $id' failed (exit $rc): $(cat "$err")"
	fi
	assert_dev_deleted "$id" "$pid"
	log "deleted dev $id"
}

# expect_fail DESC CMD [ARGS...]: CMD must exit non-zero (without hanging:
# 60 s), print at least one line on stderr, and leave no new /dev/ublk[bc]*
# node, no new device in `ublk list` and no new ublk process behind.
expect_fail() {
	local desc=$1 rc=0 before_nodes before_ids after_ids extra
	shift
	local out=$T_WORK/.xf.out err=$T_WORK/.xf.err
	before_nodes=$(ublk_nodes)
	before_ids=$(list_ids)
	T_XF_PROCS=$(ublk_pids)
	timeout 60 "$@" >"$out" 2>"$err" </dev/null || rc=$?
	if [ "$rc" -eq 0 ]; then
		fail "$desc: '$*' succeeded (exit 0), expected an error; stdout: $(head -n 3 "$out")"
	elif [ "$rc" -eq 124 ]; then
		fail "$desc: '$*' did not return within 60 s"
	fi
	[ -s "$err" ] || fail "$desc: '$*' exited $rc but printed nothing on stderr"
	if ! wait_for 3 t_nodes_are "$before_nodes"; then
		fail "$desc: '$*' left device nodes behind: before [$(xargs <<<"$before_nodes")], after [$(ublk_nodes | xargs)]"
	fi
	after_ids=$(list_ids)
	[ "$after_ids" = "$before_ids" ] ||
		fail "$desc: 'ublk list' ids changed: before [$(xargs <<<"$before_ids")], after [$(xargs <<<"$after_ids")]"
	if ! wait_for 5 t_no_new_procs; then
		extra=$(t_new_procs | xargs)
		fail "$desc: '$*' left ublk processes behind: pids $extra"
	fi
	log "ok: $desc: exit $rc: $(head -n 1 "$err")"
}
t_nodes_are() { [ "$(ublk_nodes)" = "$1" ]; }
t_new_procs() { comm -13 <(printf '%s\n' "$T_XF_PROCS" | sort) <(ublk_pids | sort); }
t_no_new_procs() {
	local new
	new=$(t_new_procs)
	[ -z "$new" ]
}

# ---------------------------------------------------------------- data

# make_backing FILE SIZE: a fresh zero-filled (sparse) file; SIZE as truncate(1).
make_backing() {
	rm -f "$1"
	truncate -s "$2" "$1"
}

# make_pattern FILE MIB: MIB MiB of random data.
make_pattern() {
	dd if=/dev/urandom of="$1" bs=1M count="$2" status=none
}

# fio_run NAME DEV [fio options...]: one fio job (json output, O_DIRECT,
# threads) on DEV; fails unless fio exits 0, reports no job error and did I/O.
# Later options override earlier ones.
fio_run() {
	local name=$1 dev=$2 rc=0
	shift 2
	local out=$T_WORK/.fio-$name.out err=$T_WORK/.fio-$name.err json
	timeout "${FIO_TIMEOUT:-240}" fio --name="$name" --filename="$dev" \
		--ioengine="$T_FIO_ENGINE" --direct=1 --thread --group_reporting \
		--output-format=json --output="$out" "$@" 2>"$err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		log "fio stderr (tail):"
		tail -n 20 "$err" >&2
		sed '/^{/,$d' "$out" | tail -n 10 >&2
		[ "$rc" -ne 124 ] || fail "fio '$name' on $dev timed out; options: $*"
		fail "fio '$name' on $dev failed (exit $rc); options: $*"
	fi
	# fio may print notes before the JSON document
	json=$(sed -n '/^{/,$p' "$out")
	jq -e '[.jobs[].error] | all(. == 0)' <<<"$json" >/dev/null ||
		fail "fio '$name' on $dev reported job errors: $(jq -c '[.jobs[] | {jobname, error}]' <<<"$json" 2>&1)"
	jq -e '[.jobs[] | .read.io_bytes + .write.io_bytes] | add > 0' <<<"$json" >/dev/null ||
		fail "fio '$name' on $dev did no I/O"
	log "fio $name ok: $(jq -r '[.jobs[] | "read \(.read.io_bytes / 1048576 | floor) MiB \(.read.iops | floor) IOPS, write \(.write.io_bytes / 1048576 | floor) MiB \(.write.iops | floor) IOPS"] | join("; ")' <<<"$json" 2>/dev/null)"
}

# fio_ios NAME: requests the last fio_run NAME completed (all jobs, r+w).
fio_ios() {
	sed -n '/^{/,$p' "$T_WORK/.fio-$1.out" |
		jq '[.jobs[] | .read.total_ios + .write.total_ios] | add'
}

# fio_verify DEV [fio options...]: random writes of mixed sizes (4 KiB..1 MiB)
# over 32 MiB, then read back and crc32c-verify everything written. Options
# given override the defaults (size, iodepth, numjobs, offset_increment...).
fio_verify() {
	local dev=$1
	shift
	fio_run verify "$dev" --rw=randwrite \
		--bssplit=4k/40:16k/20:64k/20:256k/10:1m/10 \
		--size=32M --iodepth=32 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		"$@"
}

# loop_verify_matrix FLAG [ublk add data-mode options...]: for 1 and 2 queues
# and depths 1 and 128, a loop device on a 32 MiB file with the given options
# passes fio_verify (one job per queue, each on its own half). FLAG is the
# name the flags line of `ublk list` must show (USER_COPY, AUTO_ZC), or "-"
# for the default copy mode, where neither of those may appear.
loop_verify_matrix() {
	local flag=$1 q d flags per
	shift
	for q in 1 2; do
		for d in 1 128; do
			make_backing "$T_WORK/backing" 32M
			ublk_add -t loop -f "$T_WORK/backing" -q "$q" -d "$d" "$@"
			check_geometry "$DEV_ID" "$q" "$d" 65536
			flags=$(dev_flags "$DEV_ID")
			if [ "$flag" = - ]; then
				if grep -qwE 'USER_COPY|AUTO_ZC' <<<"$flags"; then
					fail "dev $DEV_ID (default copy mode): flags line shows [$flags]"
				fi
			else
				grep -qw -- "$flag" <<<"$flags" ||
					fail "dev $DEV_ID (ublk add $*): flags line should show $flag, shows [$flags]"
			fi
			per=$((32 / q))
			fio_verify "/dev/ublkb$DEV_ID" --iodepth="$d" --numjobs="$q" \
				--size="${per}M" --offset_increment="${per}M"
			ublk_del "$DEV_ID"
		done
	done
}

# ---------------------------------------------------------------- recovery

# wait_state ID STATE SECS: `ublk list -n ID` shows STATE within SECS.
t_state_is() { [ "$(dev_state "$1")" = "$2" ]; }
wait_state() {
	wait_for "$3" t_state_is "$1" "$2" ||
		fail "dev $1: state is '$(dev_state "$1")' after $3 s, expected $2"
}

# kill_daemon ID: SIGKILL the daemon of device ID and wait for it to be gone.
kill_daemon() {
	local pid
	pid=$(dev_pid "$1")
	[[ $pid =~ ^[1-9][0-9]*$ ]] && pid_alive "$pid" ||
		fail "dev $1: no live daemon to kill (pid '$pid')"
	log "kill -9 daemon $pid of dev $1"
	kill -KILL "$pid"
	wait_pid_exit "$pid" 30 || fail "daemon $pid alive 30 s after SIGKILL"
}

# ublk_recover ID: `ublk recover -n ID` must succeed (120 s) and leave the
# device LIVE with a new live daemon, which it sets DEV_PID to.
ublk_recover() {
	local id=$1 old rc=0 out=$T_WORK/.recover.out err=$T_WORK/.recover.err
	old=$(dev_pid "$id")
	timeout 120 ublk recover -n "$id" >"$out" 2>"$err" </dev/null || rc=$?
	[ "$rc" -eq 0 ] ||
		fail "'ublk recover -n $id' failed (exit $rc): $(cat "$err")"
	head -n 1 "$out" | grep -q "^dev id $id:" ||
		fail "'ublk recover -n $id' should print 'dev id $id: ...', printed '$(head -n 1 "$out")'"
	[ "$(dev_state "$id")" = LIVE ] ||
		fail "after 'ublk recover -n $id' the state is $(dev_state "$id")"
	DEV_PID=$(dev_pid "$id")
	[ "$DEV_PID" != "$old" ] && pid_alive "$DEV_PID" ||
		fail "after recovery dev $id has daemon pid '$DEV_PID' (old $old)"
	log "recovered dev $id: new daemon pid $DEV_PID"
}

# fio_bg NAME DEV [fio options...]: start one fio job (as fio_run) in the
# background; FIO_PID, FIO_OUT name it for fio_bg_wait.
FIO_PID=
FIO_OUT=
fio_bg() {
	local name=$1 dev=$2
	shift 2
	FIO_OUT=$T_WORK/.fio-$name.out
	fio --name="$name" --filename="$dev" --ioengine="$T_FIO_ENGINE" \
		--direct=1 --thread --group_reporting --output-format=json \
		--output="$FIO_OUT" "$@" 2>"$FIO_OUT.err" &
	FIO_PID=$!
	bg_register "$FIO_PID"
}

# fio_bg_wait SECS: wait for the fio of fio_bg; FIO_RC its exit status,
# FIO_JSON its JSON report (empty if it printed none).
FIO_RC=
FIO_JSON=
fio_bg_wait() {
	wait_pid_exit "$FIO_PID" "$1" || fail "fio still running after $1 s: $(tail -n 5 "$FIO_OUT.err")"
	FIO_RC=0
	wait "$FIO_PID" || FIO_RC=$?
	bg_forget "$FIO_PID"
	FIO_JSON=$(sed -n '/^{/,$p' "$FIO_OUT")
}

# load_ublk_drv: load the ublk driver the run uses: the project's module
# when the harness swapped it in ($UBLK_DRV_KO), else the distribution's.
load_ublk_drv() {
	if [ -n "${UBLK_DRV_KO:-}" ]; then
		insmod "$UBLK_DRV_KO"
	else
		modprobe ublk_drv
	fi
}

# ---------------------------------------------------------------- preflight

command -v ublk >/dev/null || fail "ublk is not on PATH"
for t_cmd in jq fio dd cmp truncate timeout pgrep; do
	command -v "$t_cmd" >/dev/null || skip "$t_cmd is not installed"
done
unset t_cmd
if [ ! -e /dev/ublk-control ]; then
	log "/dev/ublk-control missing, loading ublk_drv"
	load_ublk_drv 2>/dev/null || true
	wait_for 10 test -e /dev/ublk-control || fail "/dev/ublk-control missing (ublk_drv not loaded)"
fi
T_WORK=$(mktemp -d "${UBLK_TEST_DIR:-/tmp}/$T_NAME.XXXXXX")
