/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The userspace ABI this project's ublk_drv adds to Linux's ublk_cmd.h.
 * Project-private, like the RFC it follows: the bits sit far above what
 * upstream has allocated, so a stock driver ignores (masks off) them and a
 * server can tell the two apart. include/ublk_bpf.h repeats these values
 * for userspace; keep them equal.
 */
#ifndef UBLK_BPF_ABI_H
#define UBLK_BPF_ABI_H

#include <linux/types.h>

/*
 * ADD_DEV: requests may be served by a struct ublk_bpf_ops (in the
 * submitter's context). GET_FEATURES advertises it.
 */
#define UBLK_F_BPF_OPS (1ULL << 48)

/*
 * SET_PARAMS: struct ublk_param_bpf follows struct ublk_params in the
 * buffer (header len covers both); needs UBLK_F_BPF_OPS.
 */
#define UBLK_PARAM_TYPE_BPF (1U << 16)

struct ublk_param_bpf {
	__u32 ops_id; /* the struct ublk_bpf_ops with this id serves */
	__u32 flags; /* none yet: must be 0 */
	__u64 reserved; /* must be 0 */
};

#endif
