/* SPDX-License-Identifier: MIT */
/*
 * The seed backend's glue: the target's handler as a struct ublk_bpf_ops
 * (RFC 004), which the project's ublk_drv module (kernel/) calls from
 * ublk_queue_rq(), in the context of whoever submitted the request. No
 * ring and no daemon: the handler's helpers become the module's kfuncs,
 * which queue backing-file I/O on the request's own pages; the module
 * completes the request when that I/O is done.
 *
 * A target's program is built a second time with -DUBLK_BPF_SEED (see
 * ublk_backend.bpf.h); its ublk_tgt_queue_io() and ublk_tgt_release() are
 * unchanged. The programs of all queues of a device are one instance:
 * counters are per queue and updated atomically (requests of one queue
 * are submitted from any CPU).
 */
#ifndef UBLK_SEED_BPF_H
#define UBLK_SEED_BPF_H

#include "kernel.h"

/*
 * kernel/ublk_bpf.c: the request, opaque. An empty struct, not a forward
 * declaration: libbpf does not match a pointer to a FWD with the kernel's
 * pointer to STRUCT when it checks the kfuncs' prototypes.
 */
struct ublk_bpf_io {};

struct ublk_bpf_ops {
	__u32 id;
	__s32 backing_fd;
	__u64 (*queue_io_cmd)(struct ublk_bpf_io *io, __u32 offset);
	__u64 (*queue_io_cmd_daemon)(struct ublk_bpf_io *io, __u32 offset);
	void (*release_io_cmd)(struct ublk_bpf_io *io);
};

extern int ublk_bpf_get_iod(struct ublk_bpf_io *io, void *desc, __u32 desc__sz) __ksym;
extern __u32 ublk_bpf_get_tag(struct ublk_bpf_io *io) __ksym;
extern void ublk_bpf_complete_io(struct ublk_bpf_io *io, int res) __ksym;
extern int ublk_bpf_aio_rw(struct ublk_bpf_io *io, __u32 offset, __u32 len, __u64 pos,
			   __u32 flags) __ksym;
extern int ublk_bpf_aio_fsync(struct ublk_bpf_io *io, __u32 datasync) __ksym;

typedef struct ublk_bpf_io ublk_bpf_ctx_t;

const volatile struct ublk_bpf_cfg cfg;
struct ublk_bpf_seed_shared seed;

static __u64 ublk_tgt_queue_io(ublk_bpf_ctx_t *io, const struct ublksrv_io_desc *iod, __u16 tag,
			       __u32 offset);
static void ublk_tgt_release(__u16 tag, __s32 res);

/* ---- the helpers a handler uses ---- */

static __always_inline void ublk_tgt_add_result(ublk_bpf_ctx_t *io, __u16 tag, __s32 res)
{
	(void)tag;
	ublk_bpf_complete_io(io, res);
}

/*
 * Backing I/O on the request's pages: the module knows the file (captured
 * when the ops were registered) and the direction (the request's), so the
 * io_uring opcode and fixed-file index mean nothing here.
 */
static __always_inline int ublk_bpf_queue_rw(ublk_bpf_ctx_t *io, __u16 tag, __u8 opcode, __u32 fd,
					     __u64 pos, __u32 len, __u32 buf_off, __u32 rw_flags)
{
	(void)tag, (void)opcode, (void)fd;
	/* RWF_DSYNC: a FUA write */
	return ublk_bpf_aio_rw(io, buf_off, len, pos, rw_flags & 0x2 ? UBLK_BPF_RW_FUA : 0);
}

static __always_inline int ublk_bpf_queue_fsync(ublk_bpf_ctx_t *io, __u16 tag, __u32 fd,
						__u32 fsync_flags)
{
	(void)tag, (void)fd;
	return ublk_bpf_aio_fsync(io, fsync_flags & IORING_FSYNC_DATASYNC);
}

/*
 * A per-request index for a handler's own per-request state (an array map
 * of nr_queues * cfg.depth entries): one instance serves every queue, and
 * requests run concurrently on any CPU.
 */
static __always_inline __u32 ublk_tgt_io_slot(ublk_bpf_ctx_t *io, __u16 tag)
{
	return (ublk_bpf_get_tag(io) >> 16) * cfg.depth + tag;
}

/* ---- the struct_ops ---- */

static __always_inline struct ublk_bpf_seed_queue *ublk_seed_queue(__u32 q_id)
{
	return &seed.q[q_id & (UBLK_BPF_SEED_MAX_QUEUES - 1)];
}

static __always_inline __u64 ublk_seed_redirect(struct ublk_bpf_seed_queue *sq)
{
	__sync_fetch_and_add(&sq->nr_redirect, 1);
	return ublk_bpf_return(UBLK_BPF_IO_REDIRECT, 0);
}

/*
 * One handler call. The debug knob (cfg.redirect_every) sends every Nth
 * new request to the daemon and marks its tag, so that --bpf_eagain can
 * hand exactly those back; a handed-back request is never redirected by it.
 * The module loops over CONTINUE, so this is small enough to inline.
 */
static __always_inline __u64 ublk_seed_call(struct ublk_bpf_io *io, __u32 offset, __u32 retry)
{
	struct ublksrv_io_desc iod;
	struct ublk_bpf_seed_queue *sq;
	__u32 qt, tag;
	__u64 ret;

	qt = ublk_bpf_get_tag(io);
	tag = qt & 0xffff;
	sq = ublk_seed_queue(qt >> 16);
	if (ublk_bpf_get_iod(io, &iod, sizeof(iod)))
		return ublk_seed_redirect(sq);
	if (!offset && !retry && cfg.redirect_every &&
	    (__sync_fetch_and_add(&sq->nr_started, 1) + 1) % cfg.redirect_every == 0) {
		sq->debug_redirect[tag & (UBLK_BPF_MAX_DEPTH - 1)] = 1;
		return ublk_seed_redirect(sq);
	}
	ret = ublk_tgt_queue_io(io, &iod, tag, offset);
	switch (ublk_bpf_disp(ret)) {
	case UBLK_BPF_IO_REDIRECT:
		if (!offset)
			__sync_fetch_and_add(&sq->nr_redirect, 1);
		break;
	case UBLK_BPF_IO_CONTINUE:
		__sync_fetch_and_add(&sq->nr_split, 1);
		break;
	default:
		break;
	}
	return ret;
}

/* ublk_queue_rq(): not sleepable */
SEC("struct_ops/queue_io_cmd")
__u64 BPF_PROG(ublk_seed_queue_io_cmd, struct ublk_bpf_io *io, __u32 offset)
{
	return ublk_seed_call(io, offset, 0);
}

/* The daemon committed -EAGAIN: its context, sleepable. */
SEC("struct_ops.s/queue_io_cmd_daemon")
__u64 BPF_PROG(ublk_seed_queue_io_cmd_daemon, struct ublk_bpf_io *io, __u32 offset)
{
	if (!offset)
		__sync_fetch_and_add(&ublk_seed_queue(ublk_bpf_get_tag(io) >> 16)->nr_retry, 1);
	return ublk_seed_call(io, offset, 1);
}

/* A request BPF owned is done. */
SEC("struct_ops/release_io_cmd")
void BPF_PROG(ublk_seed_release_io_cmd, struct ublk_bpf_io *io)
{
	__u32 qt = ublk_bpf_get_tag(io);

	__sync_fetch_and_add(&ublk_seed_queue(qt >> 16)->nr_bpf, 1);
	ublk_tgt_release(qt & 0xffff, 0);
}

/* id and backing_fd are set by the daemon before it attaches this. */
SEC(".struct_ops.link")
struct ublk_bpf_ops ublk_seed_ops = {
	.backing_fd = -1,
	.queue_io_cmd = (void *)ublk_seed_queue_io_cmd,
	.queue_io_cmd_daemon = (void *)ublk_seed_queue_io_cmd_daemon,
	.release_io_cmd = (void *)ublk_seed_release_io_cmd,
};

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#endif /* UBLK_SEED_BPF_H */
