// SPDX-License-Identifier: MIT
/*
 * null: every request succeeds at once. Writes are dropped; reads return no
 * meaningful data (never anything but earlier writes or zeroes).
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>

#include "ublksrv.h"

#ifdef HAVE_BPF
#include "null.skel.h"
#include "null_seed.skel.h"
#include "ublksrv_bpf.h"

/* bpf/null.bpf.c: the fast path; this file is the slow path it redirects to */
UBLK_BPF_SKEL_OPEN(null)
UBLK_BPF_SEED_SKEL_OPEN(null)
#define NULL_BPF_OPEN null_bpf_open
#define NULL_BPF_SEED_OPEN null_bpf_seed_open
#else
#define NULL_BPF_OPEN NULL
#define NULL_BPF_SEED_OPEN NULL
#endif

#define NULL_DEF_SIZE (250ULL << 30)

struct null_opts {
	__u64 size; /* bytes; 0: NULL_DEF_SIZE */
};

static int null_parse_size(void *p, const char *arg, char *err, size_t err_len)
{
	struct null_opts *o = p;
	unsigned long long v;

	if (ublk_parse_size(arg, &v)) {
		snprintf(err, err_len, "'%s' is not a size", arg);
		return -EINVAL;
	}
	if (v % 512) {
		snprintf(err, err_len, "'%s' is not a multiple of 512 bytes", arg);
		return -EINVAL;
	}
	/* 0 would read as "not given", the 250 GiB default */
	if (!v) {
		snprintf(err, err_len, "the size must not be 0");
		return -EINVAL;
	}
	o->size = v;
	return 0;
}

static const struct ublk_tgt_opt null_opts[] = {
	{ .name = "size",
	  .has_arg = true,
	  .arg_name = "SIZE",
	  .help = "device size, K/M/G/T suffixes (default 250G)",
	  .parse = null_parse_size },
	{ 0 },
};

static int null_init(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	const struct null_opts *o = opts->tgt_opts;

	dev->tgt.dev_size = o && o->size ? o->size : NULL_DEF_SIZE;
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

static int null_dump_json(const struct ublk_dev *dev, json_t *obj)
{
	return json_object_set_new(obj, "dev_size", json_integer(dev->tgt.dev_size)) ? -ENOMEM : 0;
}

const struct ublk_tgt_ops null_tgt_ops = {
	.name = "null",
	.help = "every request succeeds at once, nothing is stored",
	.opts = null_opts,
	.opts_size = sizeof(struct null_opts),
	.init = null_init,
	.deinit = null_deinit,
	.queue_io = null_queue_io,
	.io_done = null_io_done,
	.dump_json = null_dump_json,
	.bpf_open = NULL_BPF_OPEN,
	.bpf_seed_open = NULL_BPF_SEED_OPEN,
};
