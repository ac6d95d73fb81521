// SPDX-License-Identifier: MIT
/*
 * null: every request succeeds at once. Writes are dropped; reads return no
 * meaningful data (never anything but earlier writes or zeroes).
 */
#include "config.h"

#include <errno.h>

#include "json.h"
#include "ublksrv.h"

#ifdef HAVE_BPF
#include "null.skel.h"
#include "ublksrv_bpf.h"

/* bpf/null.bpf.c: the fast path; this file is the slow path it redirects to */
UBLK_BPF_SKEL_OPEN(null)
#define NULL_BPF_OPEN null_bpf_open
#else
#define NULL_BPF_OPEN NULL
#endif

#define NULL_DEF_SIZE (250ULL << 30)

static int null_init(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	if (opts->file) {
		ublk_dev_err(dev, "the null target takes no backing file");
		return -EINVAL;
	}
	dev->tgt.dev_size = opts->size ?: NULL_DEF_SIZE;
	return 0;
}

static void null_deinit(struct ublk_dev *dev)
{
	(void)dev;
}

static int null_queue_io(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod)
{
	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		ublk_complete_io(q, tag, iod->nr_sectors << 9);
		return 0;
	case UBLK_IO_OP_FLUSH:
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		ublk_complete_io(q, tag, 0);
		return 0;
	}
	return -EOPNOTSUPP;
}

static void null_io_done(struct ublk_queue *q, int tag, const struct io_uring_cqe *cqe)
{
	(void)q, (void)tag, (void)cqe;
}

static void null_dump_json(const struct ublk_dev *dev, struct json_writer *w)
{
	json_uint(w, "dev_size", dev->tgt.dev_size);
}

const struct ublk_tgt_ops null_tgt_ops = {
	.name = "null",
	.init = null_init,
	.deinit = null_deinit,
	.queue_io = null_queue_io,
	.io_done = null_io_done,
	.dump_json = null_dump_json,
	.bpf_open = NULL_BPF_OPEN,
};
