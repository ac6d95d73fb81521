#!/bin/bash
# Proves the loop target really uses its backing file, in each data mode
# (default copy, user copy --usercopy, zero copy -z):
# - a random pattern written through /dev/ublkbN with O_DIRECT is, after
#   `ublk del`, byte for byte in the backing file;
# - a random pattern put in the file before `ublk add` is read back through
#   /dev/ublkbN with O_DIRECT.
# `ublk list --json` names the file as target.file.
# timeout: 400
. "$(dirname "$0")/lib.sh"

backing=$T_WORK/backing
pattern=$T_WORK/pattern
readback=$T_WORK/readback

modes=("copy:" "user-copy:--usercopy")
if has_feature AUTO_BUF_REG; then
	modes+=("zero-copy:-z")
else
	log "kernel lacks AUTO_BUF_REG: zero-copy mode not tested"
fi

for m in "${modes[@]}"; do
	name=${m%%:*}
	opts=()
	[ -z "${m#*:}" ] || opts=("${m#*:}")

	# device -> file
	make_backing "$backing" 16M
	make_pattern "$pattern" 16
	ublk_add -t loop -f "$backing" -q 2 "${opts[@]}"
	j=$(dev_json "$DEV_ID")
	jq -e --arg f "$backing" --arg rf "$(realpath "$backing")" \
		'.target.name == "loop" and (.target.file == $f or .target.file == $rf)' <<<"$j" >/dev/null ||
		fail "$name: list --json should show target name loop, file $backing: $j"
	dd if="$pattern" of="/dev/ublkb$DEV_ID" bs=64k oflag=direct status=none ||
		fail "$name: writing the pattern to /dev/ublkb$DEV_ID failed"
	ublk_del "$DEV_ID"
	cmp "$pattern" "$backing" ||
		fail "$name: data written through the device is not what the backing file holds"
	log "$name: device -> file ok"

	# file -> device
	make_pattern "$pattern" 16
	cp "$pattern" "$backing"
	ublk_add -t loop -f "$backing" -q 2 "${opts[@]}"
	dd if="/dev/ublkb$DEV_ID" of="$readback" bs=1M iflag=direct status=none ||
		fail "$name: reading /dev/ublkb$DEV_ID failed"
	ublk_del "$DEV_ID"
	cmp "$pattern" "$readback" ||
		fail "$name: data read through the device differs from the backing file's"
	log "$name: file -> device ok"
done
