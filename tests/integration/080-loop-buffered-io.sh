#!/bin/bash
# Proves the loop target with --buffered_io (backing file opened without
# O_DIRECT) keeps data intact: 2 queues, depth 64, mixed-size random writes +
# crc32c verify over 32 MiB; after `ublk del` a pattern written through the
# device is in the backing file.
. "$(dirname "$0")/lib.sh"

backing=$T_WORK/backing
make_backing "$backing" 32M
ublk_add -t loop -f "$backing" -q 2 -d 64 --buffered_io
fio_verify "/dev/ublkb$DEV_ID" --iodepth=64 --numjobs=2 --size=16M --offset_increment=16M

make_pattern "$T_WORK/pattern" 32
dd if="$T_WORK/pattern" of="/dev/ublkb$DEV_ID" bs=1M oflag=direct status=none ||
	fail "writing the pattern to /dev/ublkb$DEV_ID failed"
ublk_del "$DEV_ID"
cmp "$T_WORK/pattern" "$backing" || fail "with --buffered_io the backing file does not hold the data written"
