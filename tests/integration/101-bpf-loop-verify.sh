#!/bin/bash
# Proves loop --bpf keeps data intact with the I/O served in BPF: for 1 and 2
# queues and depths 1 and 128, mixed-size random writes + crc32c verify,
# then the counters show BPF served at least every request fio made and the
# daemon none (plain reads and writes never leave the kernel); the same
# with the io_uring loop polling after work (--bpf_poll_us), which it counts.
# timeout: 600
. "$(dirname "$0")/lib.sh"

require_bpf

for q in 1 2; do
	for d in 1 128; do
		make_backing "$T_WORK/backing" 32M
		ublk_add -t loop -f "$T_WORK/backing" -q "$q" -d "$d" --bpf
		check_geometry "$DEV_ID" "$q" "$d" 65536
		assert_bpf_flags "$DEV_ID"
		per=$((32 / q))
		fio_verify "/dev/ublkb$DEV_ID" --iodepth="$d" --numjobs="$q" \
			--size="${per}M" --offset_increment="${per}M"
		assert_bpf_served_all "$DEV_ID" verify
		ublk_del "$DEV_ID"
	done
done

# --bpf_poll_us: the io_uring loop polls after work instead of sleeping; the
# same verify with 2 queues, and the steps that polled are counted
if ublk features | grep -q '^bpf backend io_uring_bpf_ops: yes'; then
	make_backing "$T_WORK/backing" 32M
	ublk_add -t loop -f "$T_WORK/backing" -q 2 -d 64 --bpf=iouring --bpf_poll_us 200
	fio_verify "/dev/ublkb$DEV_ID" --iodepth=8 --numjobs=2 --size=16M --offset_increment=16M
	assert_bpf_served_all "$DEV_ID" verify
	polls=$(bpf_count "$DEV_ID" nr_polls)
	log "--bpf_poll_us 200: $polls loop steps polled"
	[ "$polls" -gt 0 ] || fail "--bpf_poll_us 200: no loop step polled"
	ublk_del "$DEV_ID"
else
	log "no io_uring_bpf_ops backend on this kernel: --bpf_poll_us not tested"
fi
