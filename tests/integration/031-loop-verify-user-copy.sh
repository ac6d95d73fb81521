#!/bin/bash
# Proves the loop target in user-copy mode (UBLK_F_USER_COPY) keeps data
# intact, same matrix as 030 (1/2 queues x depth 1/128, mixed-size random
# writes + crc32c verify); the flags line of `ublk list` shows USER_COPY; the
# spellings --usercopy (ublksrv) and --user_copy (kublk) are both accepted.
# timeout: 600
. "$(dirname "$0")/lib.sh"

has_feature USER_COPY || skip "the kernel does not offer USER_COPY"

for opt in --user_copy --usercopy; do
	make_backing "$T_WORK/backing" 16M
	ublk_add -t loop -f "$T_WORK/backing" "$opt"
	grep -qw USER_COPY <<<"$(dev_flags "$DEV_ID")" ||
		fail "ublk add $opt: flags line should show USER_COPY, shows [$(dev_flags "$DEV_ID")]"
	ublk_del "$DEV_ID"
done

loop_verify_matrix USER_COPY --usercopy
