#!/bin/bash
# Proves the loop target in its default data mode (copy through the daemon's
# buffers, no USER_COPY / AUTO_ZC flag) keeps data intact: for 1 and 2 queues
# x depths 1 and 128, fio random writes of mixed sizes (4 KiB..1 MiB, so
# requests get split) over a 32 MiB file-backed device, then crc32c
# verification of everything written.
# timeout: 600
. "$(dirname "$0")/lib.sh"

loop_verify_matrix -
