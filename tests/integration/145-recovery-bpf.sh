#!/bin/bash
# 140-recovery-reissue-verify on loop --bpf: kill -9 of the daemon during
# fio's write and verify phases, `ublk recover` attaches the BPF programs to
# the new daemon's rings (io path bpf again), and fio completes with 0
# verify errors.
# timeout: 600
# shellcheck disable=SC2034 # read by 140-recovery-reissue-verify.sh
T_ADD_EXTRA=(--bpf)
. "$(dirname "$0")/lib.sh"
require_bpf
. "$(dirname "$0")/140-recovery-reissue-verify.sh"
