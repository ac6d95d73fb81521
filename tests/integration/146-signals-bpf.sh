#!/bin/bash
# 144-signals with --bpf: SIGTERM/SIGINT stop a BPF-served device cleanly;
# with recovery the program drains (starts nothing new, finishes what it
# holds), the device stays QUIESCED, `ublk recover` brings it back and fio
# verifies with 0 errors.
# timeout: 400
# shellcheck disable=SC2034 # read by 144-signals.sh
T_ADD_EXTRA=(--bpf)
. "$(dirname "$0")/lib.sh"
require_bpf
. "$(dirname "$0")/144-signals.sh"
