/* SPDX-License-Identifier: MIT */
/*
 * The ublk queue loop, in BPF: shared by every target's program.
 *
 * A target's program includes this file and defines
 *
 *	static __u64 ublk_tgt_queue_io(ublk_bpf_ctx_t *ring,
 *				       const struct ublksrv_io_desc *iod,
 *				       __u16 tag, __u32 offset);
 *	static void ublk_tgt_release(__u16 tag, __s32 res);
 *
 * queue_io starts (the rest of) request @tag at byte @offset with the
 * ublk_bpf_queue_*() helpers below and returns ublk_bpf_return(QUEUED |
 * REDIRECT | CONTINUE, bytes): see include/ublk_bpf.h for the contract.
 * release runs when BPF commits a request it owned.
 *
 * One program instance serves one queue ring (io_uring_bpf_ops binds one
 * ring), so the globals below are that queue's and need no locking: the
 * program runs in the queue thread's io_uring_enter(), under the ring lock.
 */
#ifndef UBLK_QUEUE_BPF_H
#define UBLK_QUEUE_BPF_H

#include "kernel.h"

#define UBLK_BPF_CQE_BATCH 64 /* CQEs per loop_step: bounds the loop */

const volatile struct ublk_bpf_cfg cfg;
struct ublk_bpf_shared shared;

/*
 * The CQ is shared with the kernel's completion side. x86 (the only
 * __TARGET_ARCH built) orders loads with loads and stores with stores, so
 * volatile accesses and a compiler barrier give acquire/release; other
 * architectures need BPF load-acquire/store-release (LLVM >= 20).
 */
static __always_inline __u32 ublk_bpf_load_acquire(__u32 *p)
{
	__u32 v = *(volatile __u32 *)p;

	asm volatile("" ::: "memory");
	return v;
}

static __always_inline void ublk_bpf_store_release(__u32 *p, __u32 v)
{
	asm volatile("" ::: "memory");
	*(volatile __u32 *)p = v;
}

static __u32 sq_nr; /* SQEs written at slots 0..sq_nr-1, not submitted */
static __u32 nr_started; /* requests seen, for cfg.redirect_every */
static __u64 last_work_ns; /* when a step last found work, for cfg.poll_ns */

/* what a handler's helpers take: here the ring (the seed's: the request) */
typedef struct iou_ctx ublk_bpf_ctx_t;

static __u64 ublk_tgt_queue_io(ublk_bpf_ctx_t *ring, const struct ublksrv_io_desc *iod, __u16 tag,
			       __u32 offset);
static void ublk_tgt_release(__u16 tag, __s32 res);

static __always_inline struct ublk_bpf_tag *ublk_bpf_tag(__u32 tag)
{
	if (tag >= cfg.depth)
		return NULL;
	/* the mask, not the test, bounds the index the compiler computes */
	return &shared.tags[tag & (UBLK_BPF_MAX_DEPTH - 1)];
}

static __always_inline int ublk_bpf_fail(__s32 err)
{
	if (!shared.error)
		shared.error = err;
	return -1;
}

/* Submit what was written; with IORING_SETUP_SQ_REWIND that is slots 0..n. */
static __always_inline int ublk_bpf_flush(struct iou_ctx *ring)
{
	__u32 nr = sq_nr;
	int ret;

	if (!nr)
		return 0;
	sq_nr = 0;
	ret = bpf_io_uring_submit_sqes(ring, nr);
	if (ret != (int)nr)
		return ublk_bpf_fail(ret < 0 ? ret : -EAGAIN);
	return 0;
}

/* A zeroed SQE, or NULL if the ring cannot take one (shared.error says). */
static __always_inline struct io_uring_sqe *ublk_bpf_get_sqe(struct iou_ctx *ring)
{
	struct io_uring_sqe *sqes;
	__u32 i;

	if (sq_nr >= cfg.sq_entries && ublk_bpf_flush(ring))
		return NULL;
	sqes = (void *)bpf_io_uring_get_region(ring, IOU_REGION_SQ, cfg.sq_region_size);
	if (!sqes) {
		ublk_bpf_fail(-EFAULT);
		return NULL;
	}
	i = sq_nr;
	if (i >= cfg.sq_entries) {
		ublk_bpf_fail(-ENOSPC);
		return NULL;
	}
	sq_nr = i + 1;
	__builtin_memset(&sqes[i], 0, sizeof(sqes[i]));
	return &sqes[i];
}

static __always_inline __u64 ublk_bpf_tgt_ud(__u16 tag, __u8 op)
{
	return tag | (__u64)op << 16 | UBLK_UD_TGT | UBLK_UD_BPF;
}

static __always_inline __u64 ublk_bpf_piece_ud(__u32 buf_off, __u32 len)
{
	return ((__u64)(buf_off >> 9) & UBLK_UD_PIECE_MASK) << UBLK_UD_PIECE_OFF_SHIFT |
	       ((__u64)(len >> 9) & UBLK_UD_PIECE_MASK) << UBLK_UD_PIECE_LEN_SHIFT;
}

/* An SQE of backing I/O for request @tag on fixed file @fd, or NULL. */
static __always_inline struct io_uring_sqe *ublk_bpf_tgt_sqe(struct iou_ctx *ring, __u16 tag,
							     __u8 opcode, __u32 fd)
{
	struct ublk_bpf_tag *t = ublk_bpf_tag(tag);
	struct io_uring_sqe *sqe;

	if (!t)
		return NULL;
	sqe = ublk_bpf_get_sqe(ring);
	if (!sqe)
		return NULL;
	sqe->opcode = opcode;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->fd = fd;
	sqe->user_data = ublk_bpf_tgt_ud(tag, opcode);
	t->pending++;
	return sqe;
}

/*
 * Backing I/O on the request's own pages: the kernel registered them at
 * fixed buffer index @tag (UBLK_F_AUTO_BUF_REG); @buf_off is the offset in
 * the request, @pos the offset in fixed file @fd.
 */
static __always_inline int ublk_bpf_queue_rw(struct iou_ctx *ring, __u16 tag, __u8 opcode, __u32 fd,
					     __u64 pos, __u32 len, __u32 buf_off, __u32 rw_flags)
{
	struct io_uring_sqe *sqe = ublk_bpf_tgt_sqe(ring, tag, opcode, fd);

	if (!sqe)
		return -EBUSY;
	sqe->user_data |= ublk_bpf_piece_ud(buf_off, len);
	sqe->off = pos;
	sqe->addr = buf_off;
	sqe->len = len;
	sqe->rw_flags = rw_flags;
	sqe->buf_index = tag;
	return 0;
}

static __always_inline int ublk_bpf_queue_fsync(struct iou_ctx *ring, __u16 tag, __u32 fd,
						__u32 fsync_flags)
{
	struct io_uring_sqe *sqe = ublk_bpf_tgt_sqe(ring, tag, IORING_OP_FSYNC, fd);

	if (!sqe)
		return -EBUSY;
	sqe->fsync_flags = fsync_flags;
	return 0;
}

/* Account an error to request @tag: the first one wins. */
static __always_inline void ublk_bpf_add_result(__u16 tag, __s32 res)
{
	struct ublk_bpf_tag *t = ublk_bpf_tag(tag);

	if (!t || t->res < 0 || res >= 0)
		return;
	t->res = res;
}

/*
 * A piece that did less than asked (end of a truncated file, short write)
 * fails the request: with zero copy the kernel ends the whole request on
 * any non-negative result (ublk_end_request), so a short count would hand
 * out pages that were never filled.
 */
static __always_inline void ublk_bpf_piece_done(__u16 tag, __u64 ud, __s32 res)
{
	__u32 len = ((ud >> UBLK_UD_PIECE_LEN_SHIFT) & UBLK_UD_PIECE_MASK) << 9;

	if (res < 0)
		ublk_bpf_add_result(tag, res);
	else if (len && (__u32)res < len)
		ublk_bpf_add_result(tag, -EIO);
}

/* What to commit: the first error, else the whole request. */
static __always_inline __s32 ublk_bpf_result(const struct ublk_bpf_tag *t)
{
	return t->res < 0 ? t->res : (__s32)t->total;
}

/* The handlers' name for it: the seed backend needs the context. */
static __always_inline void ublk_tgt_add_result(ublk_bpf_ctx_t *ring, __u16 tag, __s32 res)
{
	(void)ring;
	ublk_bpf_add_result(tag, res);
}

/*
 * A per-request index for a handler's own per-request state (an array map
 * of cfg.depth entries): one instance serves one queue, so the tag.
 */
static __always_inline __u32 ublk_tgt_io_slot(ublk_bpf_ctx_t *ring, __u16 tag)
{
	(void)ring;
	return tag;
}

/* The same command the daemon sends (lib/queue.c): result, next fetch. */
static __always_inline void ublk_bpf_commit(struct iou_ctx *ring, __u16 tag, __s32 res)
{
	struct io_uring_sqe *sqe = ublk_bpf_get_sqe(ring);
	struct ublksrv_io_cmd *cmd;
	struct ublk_auto_buf_reg reg = { .index = tag };

	ublk_tgt_release(tag, res);
	if (!sqe) {
		/* a request we cannot commit would hang: stop the queue */
		ublk_bpf_fail(-ENOSPC);
		return;
	}
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->fd = 0; /* /dev/ublkcN */
	sqe->cmd_op = UBLK_U_IO_COMMIT_AND_FETCH_REQ;
	sqe->addr = ublk_auto_buf_reg_to_sqe_addr(&reg);
	sqe->user_data = tag | (__u64)_IOC_NR(UBLK_U_IO_COMMIT_AND_FETCH_REQ) << 16;
	cmd = (void *)&sqe->addr3;
	cmd->q_id = cfg.q_id;
	cmd->tag = tag;
	cmd->result = res;
	cmd->addr = 0;
	shared.nr_bpf++;
}

static __always_inline void ublk_bpf_maybe_commit(struct iou_ctx *ring, __u16 tag)
{
	struct ublk_bpf_tag *t = ublk_bpf_tag(tag);

	if (t && t->queued && !t->pending) {
		t->queued = 0;
		if (shared.nr_inflight)
			shared.nr_inflight--;
		ublk_bpf_commit(ring, tag, ublk_bpf_result(t));
	}
}

/*
 * The target's handler, as a global function: verified once, not once per
 * piece of a request that is split with CONTINUE.
 */
__noinline __u64 ublk_bpf_queue_piece(struct iou_ctx *ring __arg_trusted,
				      const struct ublksrv_io_desc *iod, __u32 tag, __u32 offset)
{
	if (!ring || !iod)
		return ublk_bpf_return(UBLK_BPF_IO_REDIRECT, 0);
	return ublk_tgt_queue_io(ring, iod, tag, offset);
}

/*
 * Run the target's handler over request @tag until it is all queued.
 * Returns 1 if the daemon must have it (REDIRECT), else 0.
 */
static __always_inline int ublk_bpf_start(struct iou_ctx *ring, __u16 tag)
{
	struct ublk_bpf_tag *t = ublk_bpf_tag(tag);
	struct ublksrv_io_desc iod;
	__u32 offset = 0, total, i;
	__u8 retry;

	if (!t)
		return 1;
	/* draining without quiesce: the request stays with the kernel */
	if (shared.draining == UBLK_BPF_DRAIN_DROP)
		return 0;
	retry = t->retry;
	t->retry = 0;
	if (bpf_copy_from_user(&iod, sizeof(iod), (void *)(cfg.iods + tag * sizeof(iod))))
		return 1;
	if (!retry && cfg.redirect_every && ++nr_started % cfg.redirect_every == 0) {
		shared.redirect_reason = UBLK_BPF_REDIR_DEBUG;
		shared.nr_redirect++;
		return 1;
	}

	total = iod.nr_sectors << 9;
	t->res = 0;
	t->pending = 0;
	t->queued = 0;
	t->total = total;
	shared.nr_inflight++;
	for (i = 0; i < UBLK_BPF_MAX_PIECES; i++) {
		__u64 ret = ublk_bpf_queue_piece(ring, &iod, tag, offset);
		__u32 bytes = ublk_bpf_bytes(ret);

		switch (ublk_bpf_disp(ret)) {
		case UBLK_BPF_IO_QUEUED:
			t->queued = 1;
			break;
		case UBLK_BPF_IO_REDIRECT:
			if (!offset && !t->pending) {
				shared.redirect_reason = UBLK_BPF_REDIR_TARGET;
				shared.nr_redirect++;
				shared.nr_inflight--; /* the daemon's now */
				return 1;
			}
			ublk_bpf_add_result(tag, -EIO);
			t->queued = 1;
			break;
		case UBLK_BPF_IO_CONTINUE:
			shared.nr_split++;
			if (!bytes || bytes & 511 || bytes > total - offset) {
				ublk_bpf_add_result(tag, -EIO);
				t->queued = 1;
				break;
			}
			offset += bytes;
			if (offset == total)
				t->queued = 1;
			break;
		default:
			ublk_bpf_add_result(tag, -EIO);
			t->queued = 1;
			break;
		}
		if (t->queued)
			break;
	}
	if (!t->queued) { /* more pieces than we allow */
		ublk_bpf_add_result(tag, -EIO);
		t->queued = 1;
	}
	ublk_bpf_maybe_commit(ring, tag);
	return 0;
}

/*
 * One CQE. A global function: the verifier checks it once, not once per
 * iteration of the CQE loop. Returns 1 if the daemon must handle this CQE.
 */
__noinline int ublk_bpf_on_cqe(struct iou_ctx *ring __arg_trusted, __u64 ud, __s32 res)
{
	__u16 tag = ud & 0xffff;
	struct ublk_bpf_tag *t;

	if (!ring)
		return 1;
	if (ud & UBLK_UD_STOP)
		return 1;
	t = ublk_bpf_tag(tag);
	if (!t)
		return 1; /* the daemon reports a bad tag */

	if (ud & UBLK_UD_TGT) {
		if (!(ud & UBLK_UD_BPF))
			return 1; /* I/O the daemon queued */
		if (t->pending)
			t->pending--;
		ublk_bpf_piece_done(tag, ud, res);
		ublk_bpf_maybe_commit(ring, tag);
		return 0;
	}
	if (((ud >> 16) & 0xff) == UBLK_UD_OP_RETRY) {
		shared.nr_retry++;
		t->retry = 1;
		return ublk_bpf_start(ring, tag);
	}
	/* FETCH or COMMIT_AND_FETCH completed */
	if (res == UBLK_IO_RES_OK)
		return ublk_bpf_start(ring, tag);
	if (res == UBLK_IO_RES_ABORT) {
		shared.nr_aborted++;
		return 0;
	}
	return 1; /* unexpected: the daemon logs it */
}

static __always_inline int ublk_bpf_stop(__u32 reason)
{
	shared.stop_reason = reason;
	return IOU_LOOP_STOP;
}

/*
 * Sleep until one more CQE, unless some are already waiting; within
 * cfg.poll_ns of the last step that found work, do not sleep at all: the
 * kernel runs its task work and calls us again, so a request that arrives
 * meanwhile needs no wake-up (cq_wait_idx at or below the CQ tail). Not
 * while backing I/O is in flight: it may need an io-wq worker bound to
 * this CPU, which polling would keep from running.
 */
static __always_inline __u32 ublk_bpf_wait_idx(__u32 head, __u32 worked)
{
	__u64 now;

	if (!cfg.poll_ns)
		return head + 1;
	now = bpf_ktime_get_ns();
	if (worked)
		last_work_ns = now;
	if (shared.nr_inflight || now - last_work_ns >= cfg.poll_ns)
		return head + 1;
	shared.nr_polls++;
	return head;
}

SEC("struct_ops.s/loop_step")
int BPF_PROG(ublk_loop_step, struct iou_ctx *ring, struct iou_loop_params *lp)
{
	struct ublk_ring_hdr *cq;
	__u32 head, tail, i, n;
	__u8 *rings;

	shared.nr_steps++;
	shared.stop_reason = UBLK_BPF_STOP_NONE;
	rings = bpf_io_uring_get_region(ring, IOU_REGION_CQ, cfg.cq_region_size);
	if (!rings) {
		ublk_bpf_fail(-EFAULT);
		return ublk_bpf_stop(UBLK_BPF_STOP_ERROR);
	}

	/* what the daemon queued while it had the ring goes first */
	n = shared.user_sqes;
	shared.user_sqes = 0;
	if (n && n <= cfg.sq_entries && bpf_io_uring_submit_sqes(ring, n) != (int)n) {
		ublk_bpf_fail(-EAGAIN);
		return ublk_bpf_stop(UBLK_BPF_STOP_ERROR);
	}

	if (cfg.cq_head_off > cfg.cq_region_size - sizeof(*cq))
		return ublk_bpf_stop(UBLK_BPF_STOP_ERROR);
	cq = (void *)(rings + cfg.cq_head_off);
	head = cq->head;
	tail = ublk_bpf_load_acquire(&cq->tail);
	for (i = 0; i < UBLK_BPF_CQE_BATCH && head != tail; i++) {
		__u32 idx = head & (cfg.cq_entries - 1);
		struct io_uring_cqe *cqe;
		__u64 off = cfg.cqes_off + (__u64)idx * sizeof(*cqe);

		if (off > cfg.cq_region_size - sizeof(*cqe))
			break;
		cqe = (void *)(rings + off);
		if (ublk_bpf_on_cqe(ring, cqe->user_data, cqe->res)) {
			shared.stop_reason = UBLK_BPF_STOP_REDIRECT;
			break;
		}
		head++;
	}
	ublk_bpf_store_release(&cq->head, head);

	if (ublk_bpf_flush(ring) || shared.error)
		return ublk_bpf_stop(UBLK_BPF_STOP_ERROR);
	if (shared.stop_reason == UBLK_BPF_STOP_REDIRECT)
		return IOU_LOOP_STOP;
	if (shared.nr_aborted >= cfg.depth)
		return ublk_bpf_stop(UBLK_BPF_STOP_EXIT);
	if (shared.draining && !shared.nr_inflight && !shared.daemon_inflight)
		return ublk_bpf_stop(UBLK_BPF_STOP_EXIT);
	lp->cq_wait_idx = ublk_bpf_wait_idx(head, i || n);
	return IOU_LOOP_CONTINUE;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops ublk_ops = {
	.loop_step = (void *)ublk_loop_step,
};

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#endif /* UBLK_QUEUE_BPF_H */
