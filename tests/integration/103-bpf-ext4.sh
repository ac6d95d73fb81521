#!/bin/bash
# 040-ext4 on loop --bpf: mkfs.ext4, mount, copy a tree, e2fsck, del, re-add,
# compare. Whatever the file system sends (flushes, FUA, discards) is served
# by BPF or redirected.
# timeout: 600
# shellcheck disable=SC2034 # read by 040-ext4.sh
T_ADD_EXTRA=(--bpf)
. "$(dirname "$0")/lib.sh"
require_bpf
. "$(dirname "$0")/040-ext4.sh"
