#!/bin/bash
# Proves `ublk add -t null --size SIZE` parses plain bytes and the K/M/G/T
# suffixes (powers of 1024): `ublk list` shows 1 queue of depth 32 (as
# asked) and dev_capacity = SIZE/512 sectors, and the kernel's block device
# has exactly SIZE bytes.
. "$(dirname "$0")/lib.sh"

command -v blockdev >/dev/null || skip "blockdev (util-linux) is not installed"

for spec in 1048576:1048576 4096K:4194304 64M:67108864 1G:1073741824 1T:1099511627776; do
	size=${spec%%:*}
	bytes=${spec#*:}
	ublk_add -t null -q 1 -d 32 --size "$size"
	check_geometry "$DEV_ID" 1 32 $((bytes / 512))
	got=$(blockdev --getsize64 "/dev/ublkb$DEV_ID")
	[ "$got" = "$bytes" ] ||
		fail "--size $size: /dev/ublkb$DEV_ID has $got bytes, expected $bytes"
	ublk_del "$DEV_ID"
done
