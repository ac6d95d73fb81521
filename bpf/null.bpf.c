// SPDX-License-Identifier: MIT
/* null target, fast path: every request completes at once, in full. */
#include "ublk_backend.bpf.h"

static __u64 ublk_tgt_queue_io(ublk_bpf_ctx_t *ring, const struct ublksrv_io_desc *iod, __u16 tag,
			       __u32 offset)
{
	(void)ring;
	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		ublk_tgt_add_result(ring, tag, (iod->nr_sectors << 9) - offset);
		return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
	case UBLK_IO_OP_FLUSH:
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
	default:
		/* the daemon says what it does not support */
		return ublk_bpf_return(UBLK_BPF_IO_REDIRECT, 0);
	}
}

static void ublk_tgt_release(__u16 tag, __s32 res)
{
	(void)tag;
	(void)res;
}
