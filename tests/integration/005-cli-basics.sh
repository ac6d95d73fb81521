#!/bin/bash
# Proves the device-less commands work: `ublk help` and `ublk -V` exit 0 and
# print something; `ublk features` exits 0 and lists the kernel's features by
# flag name without the UBLK_F_ prefix, including AUTO_BUF_REG and USER_COPY
# (both are in the 7.3 kernel the VM boots).
. "$(dirname "$0")/lib.sh"

for args in help -V features; do
	rc=0
	# shellcheck disable=SC2086 # $args is one word
	ublk $args >"$T_WORK/out" 2>"$T_WORK/err" || rc=$?
	[ "$rc" -eq 0 ] || fail "'ublk $args' exited $rc, expected 0; stderr: $(cat "$T_WORK/err")"
	[ -s "$T_WORK/out" ] || [ -s "$T_WORK/err" ] || fail "'ublk $args' printed nothing"
	log "ublk $args: ok ($(head -n 1 "$T_WORK/out"))"
done

features=$(ublk features)
for name in AUTO_BUF_REG USER_COPY; do
	grep -qw "$name" <<<"$features" ||
		fail "'ublk features' should list $name; it printed: $features"
done
