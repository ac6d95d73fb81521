#!/bin/bash
# 060-del-under-load with the BPF program attached: `ublk del` of a busy
# loop --bpf device returns, fio ends, the daemon exits, the nodes are gone.
# shellcheck disable=SC2034 # read by 060-del-under-load.sh
T_ADD_EXTRA=(--bpf)
. "$(dirname "$0")/lib.sh"
require_bpf
. "$(dirname "$0")/060-del-under-load.sh"
