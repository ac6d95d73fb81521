/* SPDX-License-Identifier: MIT */
/*
 * The few kernel types and kfuncs the queue loop needs, declared by hand.
 *
 * Why not a vmlinux.h: the build host's kernel is usually not the one that
 * runs the program (here: a Debian 12 host builds for a 7.3 guest), so a
 * vmlinux.h would have to be checked in (tens of thousands of lines) or
 * dumped from a BTF file the build cannot count on. The program only touches
 * UAPI structures (SQEs, CQEs, ublk descriptors: from the UAPI headers) and
 * one kernel field, iou_loop_params.cq_wait_idx, which is CO-RE relocated;
 * libbpf checks the struct_ops type and the kfuncs against the running
 * kernel's BTF at load time, so a mismatch is a clear load error, not a
 * silent miscompile.
 */
#ifndef UBLK_BPF_KERNEL_H
#define UBLK_BPF_KERNEL_H

#include <linux/types.h>
#include <linux/errno.h>
#include <liburing/io_uring.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ublk_cmd.h"
#include "ublk_bpf.h"

/* io_uring/loop.h, io_uring/bpf-ops.h (Linux 7.3): the ring, opaque */
struct iou_ctx {};

struct iou_loop_params {
	__u32 cq_wait_idx;
} __attribute__((preserve_access_index));

enum {
	IOU_LOOP_CONTINUE = 0,
	IOU_LOOP_STOP = 1,
};

enum {
	IOU_REGION_MEM = 0,
	IOU_REGION_CQ = 1,
	IOU_REGION_SQ = 2,
};

struct io_uring_bpf_ops {
	int (*loop_step)(struct iou_ctx *ctx, struct iou_loop_params *lp);
	__u32 ring_fd;
	void *priv;
};

/* io_uring/bpf-ops.c */
extern int bpf_io_uring_submit_sqes(struct iou_ctx *ctx, __u32 nr) __ksym;
extern __u8 *bpf_io_uring_get_region(struct iou_ctx *ctx, __u32 region_id,
				     const unsigned long rdwr_buf_size) __ksym;

/* struct io_rings starts with the SQ's then the CQ's head and tail */
struct ublk_ring_hdr {
	__u32 head;
	__u32 tail;
};

#endif /* UBLK_BPF_KERNEL_H */
