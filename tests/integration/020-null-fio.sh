#!/bin/bash
# Proves the null target serves I/O for every queue/depth combination of
# 1 and 2 queues x depths 1, 32 and 128: `ublk list` shows the geometry asked
# for, and short fio runs (4 KiB random reads, random writes of 4-256 KiB,
# one job per queue at iodepth = queue depth) finish with no error. The null
# target stores nothing, so there is no data verification here.
# timeout: 400
. "$(dirname "$0")/lib.sh"

for q in 1 2; do
	for d in 1 32 128; do
		ublk_add -t null -q "$q" -d "$d" --size 1G
		check_geometry "$DEV_ID" "$q" "$d" 2097152
		dev=/dev/ublkb$DEV_ID
		fio_run "randread-q$q-d$d" "$dev" --rw=randread --bs=4k \
			--iodepth="$d" --numjobs="$q" --time_based --runtime=3
		fio_run "randwrite-q$q-d$d" "$dev" --rw=randwrite --bsrange=4k-256k \
			--iodepth="$d" --numjobs="$q" --time_based --runtime=3
		ublk_del "$DEV_ID"
	done
done
