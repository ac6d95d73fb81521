// SPDX-License-Identifier: MIT
/*
 * loop target, fast path: reads, writes and flushes of the backing file
 * (fixed file cfg.tgt_fd) straight from and into the request's pages.
 * DISCARD and WRITE_ZEROES go to the daemon (fallocate, with its tmpfs
 * fallback), and so does anything new.
 */
#include "ublk_backend.bpf.h"

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif

/* Bytes from @pos to the next multiple of cfg.split_bytes (debug knob). */
static __always_inline __u32 loop_piece(__u64 pos, __u32 len)
{
	__u32 chunk = cfg.split_bytes, room;

	if (!chunk)
		return len;
	room = chunk - pos % chunk;
	return len < room ? len : room;
}

static __u64 ublk_tgt_queue_io(ublk_bpf_ctx_t *ring, const struct ublksrv_io_desc *iod, __u16 tag,
			       __u32 offset)
{
	__u32 op = ublksrv_get_op(iod), total = iod->nr_sectors << 9, len;
	__u64 pos = (iod->start_sector << 9) + offset;
	__u32 rw_flags = 0;
	__u8 opcode;

	switch (op) {
	case UBLK_IO_OP_READ:
		opcode = IORING_OP_READ_FIXED;
		break;
	case UBLK_IO_OP_WRITE:
		opcode = IORING_OP_WRITE_FIXED;
		if (iod->op_flags & UBLK_IO_F_FUA)
			rw_flags = RWF_DSYNC;
		break;
	case UBLK_IO_OP_FLUSH:
		if (ublk_bpf_queue_fsync(ring, tag, cfg.tgt_fd, IORING_FSYNC_DATASYNC))
			ublk_tgt_add_result(ring, tag, -EIO);
		return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
	default:
		return ublk_bpf_return(UBLK_BPF_IO_REDIRECT, 0);
	}

	len = loop_piece(pos, total - offset);
	if (ublk_bpf_queue_rw(ring, tag, opcode, cfg.tgt_fd, pos, len, offset, rw_flags)) {
		ublk_tgt_add_result(ring, tag, -EIO);
		return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
	}
	if (offset + len < total)
		return ublk_bpf_return(UBLK_BPF_IO_CONTINUE, len);
	return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
}

static void ublk_tgt_release(__u16 tag, __s32 res)
{
	(void)tag;
	(void)res;
}
