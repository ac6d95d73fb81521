#!/bin/bash
# Build the project in a Debian 13 root filesystem and run it on a kernel
# with ublk (Debian 7.3) in a virtme-ng VM.
#
#   tests/vm/run.sh test [NAME...]    unit tests, then integration tests in the VM
#                                     (NAME: run only these tests/integration/NAME.sh)
#   tests/vm/run.sh demo              serve a ublk loop device in the VM and use it
#   tests/vm/run.sh bench [ARG...]    benchmarks/run.sh ARG... in the VM
#   tests/vm/run.sh soak [MIN [PATH...]]  tests/soak/soak.sh: MIN minutes (30) of fio
#                                     verify with kill -9/SIGTERM + recover, per path
#   tests/vm/run.sh shell 'CMD'       run CMD in the VM (cwd /build/src, ublk on PATH)
#   tests/vm/run.sh systemd           build the Debian packages, boot the VM with
#                                     systemd as PID 1, install them, check ublk@
#                                     (restart + recovery, stop, reboot, udev, journal)
#   tests/vm/run.sh test-module [NAME...]   "test" with UBLK_VM_MODULE=project
#
# Needs root (debootstrap, chroot, mounts); re-executes itself with sudo.
# The last line of "test" and "systemd" is "N passed, N failed, N skipped";
# the exit status is 0 iff nothing failed and at least one test passed.
#
# Environment:
#   UBLK_VM_TIMEOUT=3600     seconds the VM may run before it is killed
#   UBLK_VM_CPUS=2, UBLK_VM_MEMORY=2G
#   UBLK_VM_KVM=1            try KVM (probed with a short boot), else TCG
#   UBLK_VM_KERNEL=/boot/vmlinuz-...   kernel inside the root (default: newest)
#   UBLK_VM_VERBOSE=0|1      kernel warnings and oopses on the VM's console
#                            (default: 1 for test, where it goes to vm.log);
#                            the whole kernel log is in out/kmsg.log anyway
#   UBLK_VM_VNG_OPTS="..."   extra vng options (e.g. "--append ublk.foo=1")
#   UBLK_VM_JOBS=N           make -jN (default: number of CPUs)
#   UBLK_VM_CONFIGURE="..."  extra ./configure arguments
#   UBLK_VM_CACHE=/var/cache/ublk-vm   where mkroot.sh keeps root filesystems
#   UBLK_TEST_TIMEOUT=300    default per-test timeout (a test may say "# timeout: N")
#   UBLK_SOAK_KILL_EVERY=60, UBLK_SOAK_TERM_EVERY=300   soak: seconds between stops
#   UBLK_VM_MODULE=stock|project|rebuilt   ublk_drv in the VM: Debian's (default),
#                            the project's (kernel/, with struct ublk_bpf_ops),
#                            or the unmodified driver rebuilt by kernel/build.sh
#                            --stock; the module is built whenever the root has
#                            the kernel's headers and source (kernel/README)
#   UBLK_VM_ROOT=DIR         use this complete root as is, do not run mkroot.sh
#   UBLK_VM_SLOT=NAME        build and run in $root/build-NAME (mounted on /build
#                            in a mount namespace of its own), so that runs from
#                            several work trees do not wait for each other
#
# Logs: $root/build/out/ ($root/build-NAME/out/ with a slot) (build.log, check.log, vm.log, kmsg.log,
# syslog.log, logs/NAME.log: a test's output, then the kernel's and the
# daemons' messages during it), where $root is the path mkroot.sh prints.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
mode=${1:-}
[ $# -gt 0 ] && shift

usage() {
	sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

case $mode in
test-module) mode=test; export UBLK_VM_MODULE=project ;;
esac
case $mode in
test|demo|bench|soak|systemd) ;;
shell)	[ $# -gt 0 ] || usage ;;
*)	usage ;;
esac

if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "vm: must run as root" >&2; exit 1; }
	keep=$(compgen -e | grep '^UBLK_' | paste -sd, || true)
	exec sudo ${keep:+--preserve-env="$keep"} -- "${BASH_SOURCE[0]}" "$mode" "$@"
fi

slot=${UBLK_VM_SLOT:-}
case $slot in
*[!A-Za-z0-9_-]*) echo "vm: UBLK_VM_SLOT: letters, digits, - and _ only" >&2; exit 2 ;;
esac
# A slot mounts its own build directory on $root/build: private mounts.
if [ -n "$slot" ] && [ -z "${UBLK_VM_IN_NS:-}" ]; then
	exec env UBLK_VM_IN_NS=1 unshare -m --propagation private -- \
		"${BASH_SOURCE[0]}" "$mode" "$@"
fi

cache=${UBLK_VM_CACHE:-/var/cache/ublk-vm}
vm_timeout=${UBLK_VM_TIMEOUT:-$([ "$mode" = systemd ] && echo 900 || echo 3600)}
cpus=${UBLK_VM_CPUS:-2}
memory=${UBLK_VM_MEMORY:-2G}
jobs=${UBLK_VM_JOBS:-$(nproc)}
module=${UBLK_VM_MODULE:-stock}
case $module in
stock|project|rebuilt) ;;
*) echo "vm: UBLK_VM_MODULE: stock, project or rebuilt, not '$module'" >&2; exit 2 ;;
esac
verbose=${UBLK_VM_VERBOSE:-$([ "$mode" = test ] && echo 1 || echo 0)}
chroot_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

root=
out=
mounts=()
vmpid=

summary_done=0

log() { echo "vm: $*"; }

summary() {
	echo "$1 passed, $2 failed, $3 skipped"
	summary_done=1
}

# Print why we stopped; "test" always ends with a summary line.
fail() {
	log "$*"
	case $mode in test|systemd) summary 0 1 0 ;; esac
	exit 1
}

# Last lines of a log file, indented.
show_tail() {
	local n=$1 f=$2

	[ -s "$f" ] || { echo "    (no output: $f)"; return 0; }
	echo "    --- last $n lines of $f ---"
	tail -n "$n" "$f" | sed 's/^/    /'
}

# Why a test failed: its last words, then the summary guest.sh appended
# (verdict, first kernel warning, the daemons' errors).
show_failure() {
	local f=$1

	[ -s "$f" ] || { echo "    (no output: $f)"; return 0; }
	echo "    --- $f: last lines, then the harness's summary ---"
	awk '/^### harness:/ { exit } { print }' "$f" | tail -n 20 | sed 's/^/    /'
	sed -n '/^### harness: summary:/,$p' "$f" | sed 's/^/    /'
}

cleanup() {
	local rc=$? i

	if [ -n "$vmpid" ]; then
		kill -TERM "$vmpid" 2>/dev/null || true
		wait "$vmpid" 2>/dev/null || true
	fi
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -R "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true
	done
	# Whatever went wrong, "test" ends with a summary line and fails.
	if { [ "$mode" = test ] || [ "$mode" = systemd ]; } && [ "$summary_done" = 0 ]; then
		log "stopped unexpectedly (exit status $rc)"
		summary 0 1 0
		[ "$rc" != 0 ] || exit 1
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

bind_into_root() {
	local d

	for d in proc sys dev; do
		mount --rbind "/$d" "$root/$d"
		mounts+=("$root/$d")
		# Do not let unmounting the copy propagate back to the host.
		mount --make-rslave "$root/$d"
	done
}

in_root() {
	chroot "$root" env -i PATH="$chroot_path" HOME=/root LANG=C.UTF-8 \
		TERM=dumb "$@" </dev/null
}

# The files git would commit (tracked plus untracked-not-ignored, minus
# deleted), NUL-separated, relative to $src.
list_sources() {
	local f

	if git -c safe.directory="$src" -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
		git -c safe.directory="$src" -C "$src" ls-files -z --cached --others \
			--exclude-standard |
		while IFS= read -r -d '' f; do
			if [ -e "$src/$f" ] || [ -L "$src/$f" ]; then
				printf '%s\0' "$f"
			fi
		done
	else
		# No git: everything but VCS metadata and what .gitignore names.
		(cd "$src" && tar --exclude-vcs --exclude-vcs-ignores -cf - . |
			tar -tf - | grep -v '/$' | tr '\n' '\0')
	fi
}

# A fresh copy of the work tree in $root/build/src: nothing stale survives.
copy_sources() {
	local dst=$root/build/src

	rm -rf --one-file-system "$dst"
	mkdir -p "$dst"
	list_sources | (cd "$src" && tar --null --no-recursion -T - -cf -) |
		tar -C "$dst" -xf -
	[ -f "$dst/configure.ac" ] || fail "no configure.ac in $src"
}

build() {
	local t0=$SECONDS

	log "building (log: $out/build.log)"
	# shellcheck disable=SC2016 # expanded in the chroot
	if ! in_root bash -c 'set -e; cd /build/src
		if [ -x autogen.sh ]; then ./autogen.sh; else autoreconf -fi; fi
		./configure $0
		make -j"$1"' "${UBLK_VM_CONFIGURE:-}" "$jobs" >"$out/build.log" 2>&1; then
		show_tail 40 "$out/build.log"
		fail "build failed"
	fi
	[ -x "$root/build/src/ublk" ] || fail "build did not produce ./ublk"
	log "build done in $((SECONDS - t0)) s"
	build_module
}

# The guest's kernel release: the newest /lib/modules in the root.
guest_kver() {
	find "$root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V |
		tail -n 1
}

# kernel/build.sh in the root: the module is built whenever it can be (a
# broken patch shows early), but only a run that loads it fails on it.
build_module() {
	local kver t0=$SECONDS opt=

	kver=$(guest_kver)
	if [ ! -d "$root/usr/src/linux-headers-$kver" ] ||
		! compgen -G "$root/usr/src/linux-source-*.tar.*" >/dev/null; then
		[ "$module" = stock ] && return 0
		fail "UBLK_VM_MODULE=$module: the root lacks linux-headers-$kver or linux-source"
	fi
	[ "$module" = rebuilt ] && opt=--stock
	if in_root /build/src/kernel/build.sh -k "$kver" -o /build/src/kernel/build \
		$opt >"$out/module-build.log" 2>&1; then
		log "module built in $((SECONDS - t0)) s (log: $out/module-build.log)"
		return 0
	fi
	show_tail 30 "$out/module-build.log"
	[ "$module" = stock ] || fail "the ublk_drv module build failed"
	log "warning: the ublk_drv module build failed (not used by this run)"
}

unit_pass=0 unit_fail=0 unit_skip=0

# make check in the chroot (host kernel, no ublk); counts from test-suite.log.
unit_tests() {
	local rc=0 f trs counts

	log "make check (log: $out/check.log)"
	in_root make -C /build/src -j"$jobs" check >"$out/check.log" 2>&1 || rc=$?

	counts=$(find "$root/build/src" -name test-suite.log -exec awk '
		/^# (PASS|XFAIL):/ { p += $3 }
		/^# (FAIL|XPASS|ERROR):/ { f += $3 }
		/^# SKIP:/ { s += $3 }
		END { print p + 0, f + 0, s + 0 }' {} +)
	read -r unit_pass unit_fail unit_skip <<<"${counts:-0 0 0}"
	echo "unit tests: $unit_pass passed, $unit_fail failed, $unit_skip skipped"

	while IFS= read -r -d '' trs; do
		if grep -Eq '^:test-result: (FAIL|XPASS|ERROR)' "$trs"; then
			f=${trs%.trs}.log
			echo "FAIL unit ${f#"$root/build/src/"}"
			show_tail 30 "$f"
		fi
	done < <(find "$root/build/src" -name '*.trs' -print0 | sort -z)

	if [ "$rc" != 0 ] && [ "$unit_fail" = 0 ]; then
		echo "FAIL make check (exit status $rc)"
		show_tail 30 "$out/check.log"
		unit_fail=1
	fi
	return 0
}

# Boot the VM and run guest.sh MODE; $1 = where the VM's output goes
# (a file, or "-" for the terminal and vm.log).
kvm_opts=(--disable-kvm)
vm() {
	local dest=$1 kernel rc=0
	local -a opts cmd=(-- /build/src/tests/vm/guest.sh "$mode")

	kernel=${UBLK_VM_KERNEL:-$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' \
		-printf '/boot/%f\n' | sort -V | tail -n 1)}
	[ -n "$kernel" ] || fail "no kernel in $root/boot"
	kernel=/${kernel#/}
	opts=(--run "$kernel" "${kvm_opts[@]}" --name ublk-vm --cpus "$cpus"
		--memory "$memory" --rwdir=/build/out --cwd /build/src)
	# --verbose keeps the console, also adds "debug": quieten that again,
	# so that warnings and oopses (a panic too) are all that is printed.
	if [ "$verbose" = 1 ]; then
		opts+=(--verbose --append loglevel=4 --append udev.log_level=err)
	fi
	# systemd: its own PID 1 (the initramfs takes the first init=) and a
	# disk for the root overlay's upper layer, so a reboot keeps it
	if [ "$mode" = systemd ]; then
		opts+=(--append init=/build/src/tests/vm/systemd-init.sh
			--disk /build/out/vda.img)
		cmd=()
	fi
	# shellcheck disable=SC2206 # word splitting wanted
	opts+=(${UBLK_VM_VNG_OPTS:-})

	# qemu reopens /proc/self/fd/1 and 2: with a regular file there it
	# would write from offset 0 and clobber itself, so always a pipe.
	# timeout puts the VM in a process group of its own; the EXIT trap
	# stops it if we are interrupted.
	if [ "$dest" = - ]; then
		timeout -k 30 "$vm_timeout" chroot "$root" env -i PATH="$chroot_path" \
			HOME=/root LANG=C.UTF-8 TERM=dumb \
			vng "${opts[@]}" "${cmd[@]}" \
			</dev/null > >(tee "$out/vm.log") 2>&1 &
	else
		timeout -k 30 "$vm_timeout" chroot "$root" env -i PATH="$chroot_path" \
			HOME=/root LANG=C.UTF-8 TERM=dumb \
			vng "${opts[@]}" "${cmd[@]}" \
			</dev/null > >(cat >"$dest") 2>&1 &
	fi
	vmpid=$!
	wait "$vmpid" || rc=$?
	vmpid=
	wait	# for the output pipe
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		log "VM killed after ${vm_timeout} s (UBLK_VM_TIMEOUT)"
	fi
	return "$rc"
}

# UBLK_VM_KVM=1: use KVM if a trivial boot finishes quickly (a PVM
# /dev/kvm hangs a stock guest in early boot).
probe_kvm() {
	local saved_mode=$mode saved_timeout=$vm_timeout

	[ "${UBLK_VM_KVM:-0}" = 1 ] || return 0
	if [ ! -w /dev/kvm ]; then
		log "UBLK_VM_KVM=1 but /dev/kvm is not usable; using TCG"
		return 0
	fi
	kvm_opts=()
	mode=probe vm_timeout=${UBLK_VM_KVM_PROBE_TIMEOUT:-60}
	if vm "$out/kvm-probe.log" && [ -f "$out/probe-ok" ]; then
		log "KVM works, using it"
	else
		log "KVM probe failed or timed out; using TCG"
		kvm_opts=(--disable-kvm)
	fi
	mode=$saved_mode vm_timeout=$saved_timeout
}

# Parameters for guest.sh (it cannot see our environment).
write_guest_env() {
	{
		printf 'UBLK_TEST_TIMEOUT=%q\n' "${UBLK_TEST_TIMEOUT:-300}"
		printf 'export UBLK_SOAK_KILL_EVERY=%q UBLK_SOAK_TERM_EVERY=%q\n' \
			"${UBLK_SOAK_KILL_EVERY:-60}" "${UBLK_SOAK_TERM_EVERY:-300}"
		printf 'UBLK_VM_MODULE=%q\n' "$module"
		printf 'GUEST_ARGS=('
		[ $# -gt 0 ] && printf ' %q' "$@"
		printf ' )\n'
	} >"$out/guest.env"
}

# The integration tests guest.sh should run: executable
# tests/integration/*.sh, or those named on the command line.
planned_tests() {
	local t name a

	for t in "$root"/build/src/tests/integration/*.sh; do
		[ -f "$t" ] || continue
		[ -x "$t" ] || continue
		name=$(basename "$t" .sh)
		if [ $# -gt 0 ]; then
			for a in "$@"; do
				[ "$(basename "$a" .sh)" = "$name" ] && echo "$name"
			done
		else
			echo "$name"
		fi
	done | sort -u
}

# Host side of "test": unit counts, integration results, failed tails,
# and the summary line last.
report() {
	local pass=0 failed=0 skip=0 res=$out/results r name cur planned a

	if [ ! -f "$out/guest-done" ] && [ ! -s "$res" ]; then
		if [ -s "$out/guest-error" ]; then
			log "VM setup failed: $(cat "$out/guest-error")"
		else
			log "the VM produced no results"
		fi
		show_tail 40 "$out/vm.log"
		summary 0 1 0
		return 1
	fi
	touch "$res"

	echo "integration tests:"
	while read -r r name; do
		echo "$r $name"
		case $r in
		PASS) pass=$((pass + 1)) ;;
		SKIP) skip=$((skip + 1)) ;;
		*)    failed=$((failed + 1)) ;;
		esac
	done <"$res"

	# Whatever was planned but has no result: the VM died, or a bug.
	cur=$(cat "$out/current" 2>/dev/null || true)
	planned=$(planned_tests "$@")
	for a in "$@"; do
		grep -qx "$(basename "$a" .sh)" <<<"$planned" || {
			echo "FAIL $a (no such test)"
			failed=$((failed + 1))
		}
	done
	for name in $planned; do
		awk -v n="$name" '$2 == n { f = 1 } END { exit !f }' "$res" &&
			continue
		if [ "$name" = "$cur" ]; then
			echo "FAIL $name (the VM died or timed out during this test)"
		else
			echo "FAIL $name (did not run)"
		fi
		failed=$((failed + 1))
	done
	if [ ! -f "$out/guest-done" ]; then
		log "the VM did not finish the test run"
		show_tail 40 "$out/vm.log"
	fi
	[ -n "$planned" ] || log "there are no integration tests"

	while read -r r name; do
		if [ "$r" = FAIL ]; then
			show_failure "$out/logs/$name.log"
		fi
	done <"$res"
	if [ -n "$cur" ] && [ -f "$out/logs/$cur.log" ]; then
		show_tail 30 "$out/logs/$cur.log"
	fi

	pass=$((pass + unit_pass))
	failed=$((failed + unit_fail))
	skip=$((skip + unit_skip))
	[ "$failed" != 0 ] && log "logs: $out"
	summary "$pass" "$failed" "$skip"
	[ "$failed" = 0 ] && [ "$pass" -gt 0 ]
}

# Host side of "systemd": the packages, a fresh disk, one VM run (it
# reboots itself once), then the guest's result lines and the summary.
systemd_run() {
	local res=$out/systemd/results pass fail b t0=$SECONDS

	log "building the Debian packages (log: $out/deb.log)"
	in_root env top_srcdir=/build/src top_builddir=/build/src \
		/build/src/tests/unit/deb-build.sh >"$out/deb.log" 2>&1 ||
		{ show_tail 30 "$out/deb.log"; fail "the Debian packages did not build"; }
	in_root bash -c 'truncate -s 2G /build/out/vda.img &&
		mkfs.ext4 -q -F /build/out/vda.img' || fail "cannot make the VM's disk"
	mkdir -p "$out/systemd"
	log "booting with systemd as PID 1 (log: $out/vm.log)"
	vm "$out/vm.log" || true
	log "VM finished in $((SECONDS - t0)) s"
	rm -f "$out/vda.img"
	touch "$res"
	cat "$res"
	pass=$(grep -c '^PASS' "$res" || true)
	fail=$(grep -c '^FAIL' "$res" || true)
	for b in 1 2; do
		if [ ! -f "$out/systemd/boot$b-done" ]; then
			echo "FAIL boot $b did not finish its checks"
			fail=$((fail + 1))
		fi
	done
	if [ "$fail" != 0 ]; then
		show_tail 40 "$out/vm.log"
		log "logs: $out, $out/systemd"
	fi
	summary "$pass" "$fail" 0
	[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
}

main() {
	local t0 rc=0

	mkdir -p "$cache"
	exec 9>"$cache/run${slot:+-$slot}.lock"
	if ! flock -n 9; then
		log "waiting for another run.sh${slot:+ in slot $slot} to finish"
		flock 9
	fi

	t0=$SECONDS
	log "preparing the root filesystem (log: $cache/mkroot.log)"
	if [ -n "${UBLK_VM_ROOT:-}" ]; then
		# a root of one's own, as is: no mkroot.sh, no waiting for it
		root=$UBLK_VM_ROOT
		[ -f "$root/.ublk-root-complete" ] ||
			fail "UBLK_VM_ROOT=$root is not a complete root (no .ublk-root-complete)"
	else
		exec 8>"$cache/mkroot.lock"
		flock 8
		if ! root=$("$here/mkroot.sh" 2>"$cache/mkroot.log"); then
			show_tail 30 "$cache/mkroot.log"
			fail "mkroot.sh failed"
		fi
		exec 8>&-
	fi
	[ -d "$root" ] || fail "mkroot.sh printed no root ($root)"
	log "root $root ($((SECONDS - t0)) s)"
	if [ -n "$slot" ]; then
		mkdir -p "$root/build" "$root/build-$slot"
		mount --bind "$root/build-$slot" "$root/build"
		mounts+=("$root/build")
		log "slot $slot: $root/build-$slot"
	fi

	out=$root/build/out
	rm -rf --one-file-system "$out"
	mkdir -p "$out/logs"
	copy_sources
	bind_into_root
	build

	case $mode in
	test)
		unit_tests
		probe_kvm
		write_guest_env "$@"
		log "running integration tests in the VM (log: $out/vm.log)"
		t0=$SECONDS
		vm "$out/vm.log" || true
		log "VM finished in $((SECONDS - t0)) s"
		report "$@"
		;;
	systemd)
		systemd_run
		;;
	*)
		probe_kvm
		write_guest_env "$@"
		# kublk, the benchmark's peer, from the root's kernel source: here at
		# native speed (seconds) rather than in the TCG guest (minutes of xz);
		# benchmarks/run.sh finds it in its output directory.
		if [ "$mode" = bench ] && ! in_root /build/src/benchmarks/build-kublk.sh \
			/build/out/bench/kublk >"$out/kublk-build.log" 2>&1; then
			log "kublk build failed, the guest will try again: $(tail -n 1 "$out/kublk-build.log")"
		fi
		# The VM shares the host's CPUs: say how busy they were.
		[ "$mode" = bench ] || [ "$mode" = soak ] && log "host load before: $(uptime)"
		vm - || rc=$?
		if [ "$mode" = bench ]; then
			log "host load after: $(uptime)"
			log "bench report and raw results: $out/bench"
		fi
		if [ -f "$out/status" ]; then
			rc=$(cat "$out/status")
		elif [ "$rc" = 0 ]; then
			rc=1	# the guest never got to write its status
		fi
		exit "$rc"
		;;
	esac
}

main "$@"
