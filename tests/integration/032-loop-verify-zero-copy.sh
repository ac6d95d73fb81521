#!/bin/bash
# Proves the loop target in zero-copy mode (-z: UBLK_F_AUTO_BUF_REG, the
# request's pages registered as an io_uring buffer for the backing I/O)
# keeps data intact, same matrix as 030 (1/2 queues x depth 1/128,
# mixed-size random writes + crc32c verify); the flags line of `ublk list`
# shows AUTO_ZC; --zero_copy is accepted as the long form.
# timeout: 600
. "$(dirname "$0")/lib.sh"

has_feature AUTO_BUF_REG || skip "the kernel does not offer AUTO_BUF_REG"

make_backing "$T_WORK/backing" 16M
ublk_add -t loop -f "$T_WORK/backing" --zero_copy
grep -qw AUTO_ZC <<<"$(dev_flags "$DEV_ID")" ||
	fail "ublk add --zero_copy: flags line should show AUTO_ZC, shows [$(dev_flags "$DEV_ID")]"
ublk_del "$DEV_ID"

loop_verify_matrix AUTO_ZC -z
