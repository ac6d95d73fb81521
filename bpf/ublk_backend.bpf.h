/* SPDX-License-Identifier: MIT */
/*
 * The glue a target's handler is built with: the io_uring_bpf_ops queue loop
 * (default), or the seed's struct ublk_bpf_ops (-DUBLK_BPF_SEED, for the
 * project's ublk_drv module). Both give the handler the same helpers:
 * ublk_tgt_add_result(), ublk_bpf_queue_rw(), ublk_bpf_queue_fsync(), cfg.
 */
#ifdef UBLK_BPF_SEED
#include "ublk_seed.bpf.h"
#else
#include "ublk_queue.bpf.h"
#endif
