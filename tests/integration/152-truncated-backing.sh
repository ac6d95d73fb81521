#!/bin/bash
# Proves a backing file truncated under a running loop device never yields
# wrong data: 16 MiB of random data are written through the device, then
# the file is cut to 6 MiB + 5096 bytes (inside a 4 KiB piece, not on a
# sector boundary). With O_DIRECT reads of the device:
# - everything before the cut reads back as written (64 KiB requests);
# - a 64 KiB request across the cut fails (its valid prefix ends at the
#   cut, the rest is past the end of the file) instead of returning data;
# - a request wholly past the cut fails;
# and after the file is extended again the device reads the old data
# before the cut and zeroes after it. On the userspace path, and with --bpf
# splitting every request into 4 KiB pieces (--bpf_split 4k: the request
# across the cut has a short piece in its middle, the pieces after it read
# nothing). No kernel warning. `ublk list` counts the daemon's failures.
# timeout: 300
. "$(dirname "$0")/lib.sh"

M=1048576
cut=$((6 * M + 5096))
make_pattern "$T_WORK/pattern" 16

# rd OFF LEN: O_DIRECT read of the device into $T_WORK/rd (64 KiB blocks)
rd() {
	dd if="/dev/ublkb$DEV_ID" of="$T_WORK/rd" bs=64k skip=$(($1 / 65536)) \
		count=$(($2 / 65536)) iflag=direct status=none 2>"$T_WORK/rd.err"
}

# same OFF LEN FILE: bytes OFF..OFF+LEN of FILE equal $T_WORK/rd
same() { cmp -s -n "$2" <(tail -c +$(($1 + 1)) "$3") "$T_WORK/rd"; }

# `ublk list` counts at least N failed requests (udev's probes may add some)
list_says_failed() {
	ublk list -n "$DEV_ID" | awk -v n="$1" '/io: daemon .* failed/ && $NF >= n { f = 1 } END { exit !f }'
}

run_path() {
	local path=$1 extra=()
	[ "$path" = bpf ] && extra=(--bpf --bpf_split 4k --max_io_size 256k)
	[ "$path" = zero-copy ] && extra=(-z)
	make_backing "$T_WORK/backing" 16M
	ublk_add -t loop -f "$T_WORK/backing" -q 1 "${extra[@]}"
	dd if="$T_WORK/pattern" of="/dev/ublkb$DEV_ID" bs=1M oflag=direct status=none ||
		fail "writing the pattern failed"
	truncate -s "$cut" "$T_WORK/backing"

	rd 0 $((6 * M)) || fail "$path: reading before the cut failed: $(cat "$T_WORK/rd.err")"
	same 0 $((6 * M)) "$T_WORK/pattern" || fail "$path: the data before the cut is wrong"
	if rd $((6 * M)) 65536; then
		fail "$path: a read across the end of the truncated file succeeded"
	fi
	if rd $((8 * M)) 65536; then
		fail "$path: a read past the end of the truncated file succeeded"
	fi
	# the daemon failed both: `ublk list` counts them
	[ "$path" = bpf ] || wait_for 5 list_says_failed 2 ||
		fail "$path: ublk list should count 2 failed requests or more: $(ublk list -n "$DEV_ID")"

	truncate -s 16M "$T_WORK/backing"
	head -c "$cut" "$T_WORK/pattern" >"$T_WORK/expected"
	truncate -s 16M "$T_WORK/expected"
	rd 0 $((16 * M)) || fail "$path: reading the re-extended file failed: $(cat "$T_WORK/rd.err")"
	same 0 $((16 * M)) "$T_WORK/expected" ||
		fail "$path: after re-extending: not the old data before the cut and zeroes after"
	if [ "$path" = bpf ]; then
		sleep 1.5 # the daemon refreshes its counters every second
		[ "$(bpf_count "$DEV_ID" nr_split)" -gt 0 ] || fail "bpf: no request was split"
	fi
	log "$path: reads before the cut exact, across and past it failed, re-extended file exact"
	ublk_del "$DEV_ID"
}

run_path userspace
run_path zero-copy
if ublk features 2>/dev/null | grep -q '^bpf fast path: yes'; then
	run_path bpf
fi
