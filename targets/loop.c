// SPDX-License-Identifier: MIT
/*
 * loop: serve a regular file or a block device. All backing I/O goes through
 * the queue's io_uring (fixed file 1), O_DIRECT unless --buffered_io.
 *
 * Data modes: copy reads/writes the per-tag buffer; user copy does too, and
 * moves the data between that buffer and the request in the queue thread
 * (ublk_user_copy(): before a WRITE, after a READ); auto zero copy uses
 * READ_FIXED/WRITE_FIXED on the request's own pages, registered by the
 * kernel at buffer index == tag.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ublksrv.h"

#ifdef HAVE_BPF
#include "loop.skel.h"
#include "loop_seed.skel.h"
#include "ublksrv_bpf.h"

/* bpf/loop.bpf.c: the fast path; this file is the slow path it redirects to */
UBLK_BPF_SKEL_OPEN(loop)
UBLK_BPF_SEED_SKEL_OPEN(loop)
#define LOOP_BPF_OPEN loop_bpf_open
#define LOOP_BPF_SEED_OPEN loop_bpf_seed_open
#else
#define LOOP_BPF_OPEN NULL
#define LOOP_BPF_SEED_OPEN NULL
#endif

#define LOOP_FD 0 /* index in dev->tgt.fds */

/* sub-operation in user_data: what a CQE completes */
enum {
	LOOP_OP_BACKING = 1, /* read/write/fsync/fallocate on the backing file */
	LOOP_OP_ZERO_RANGE, /* may fall back to punching a hole */
};

struct loop_opts {
	const char *file;
	bool buffered_io;
};

static int loop_parse_file(void *p, const char *arg, char *err, size_t err_len)
{
	struct loop_opts *o = p;

	if (!*arg) {
		snprintf(err, err_len, "empty file name");
		return -EINVAL;
	}
	o->file = arg;
	return 0;
}

static int loop_parse_buffered(void *p, const char *arg, char *err, size_t err_len)
{
	struct loop_opts *o = p;

	(void)arg, (void)err, (void)err_len;
	o->buffered_io = true;
	return 0;
}

static const struct ublk_tgt_opt loop_opts[] = {
	{ .name = "file",
	  .short_name = 'f',
	  .has_arg = true,
	  .arg_name = "FILE",
	  .help = "backing regular file or block device (required)",
	  .flags = UBLK_TGT_OPT_PATH | UBLK_TGT_OPT_REQUIRED,
	  .parse = loop_parse_file },
	{ .name = "buffered_io",
	  .help = "use the page cache instead of O_DIRECT",
	  .parse = loop_parse_buffered },
	{ 0 },
};

struct loop_priv {
	char file[PATH_MAX];
	bool direct_io;
	bool blkdev;
	bool discard; /* the backing store can deallocate (and read back zeroes) */
	/* identity, recorded so that recovery can refuse a replaced file */
	dev_t st_dev, st_rdev;
	ino_t st_ino;
};

static int loop_open(struct ublk_dev *dev, struct loop_priv *lo, const struct loop_opts *opts)
{
	int flags = O_RDWR | O_CLOEXEC;
	int fd;

	lo->direct_io = !opts->buffered_io;
	fd = open(opts->file, flags | (lo->direct_io ? O_DIRECT : 0));
	if (fd < 0 && errno == EINVAL && lo->direct_io) {
		/* e.g. a filesystem without O_DIRECT: behave like kernel loop */
		ublk_log(LOG_NOTICE, "%s: no O_DIRECT support, using buffered I/O", opts->file);
		lo->direct_io = false;
		fd = open(opts->file, flags);
	}
	if (fd < 0) {
		ublk_dev_err(dev, "cannot open backing file '%s': %s", opts->file, strerror(errno));
		return -errno;
	}
	return fd;
}

/*
 * A number from the sysfs queue directory of block device @rdev (a
 * partition's is its disk's), or -1.
 */
static long long loop_sysfs_queue(dev_t rdev, const char *attr)
{
	static const char *const fmt[] = { "/sys/dev/block/%u:%u/queue/%s",
					   "/sys/dev/block/%u:%u/../queue/%s" };
	char path[128];
	long long v = -1;
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		snprintf(path, sizeof(path), fmt[i], major(rdev), minor(rdev), attr);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
		break;
	}
	return v;
}

/* A power of two from 512 to 64 KiB, as a block size shift; else 0. */
static unsigned int loop_bs_shift(long long bs)
{
	if (bs < 512 || bs > 65536 || (bs & (bs - 1)))
		return 0;
	return __builtin_ctzll(bs);
}

/*
 * O_DIRECT on a regular file needs offsets and lengths aligned as its
 * filesystem says (statx STATX_DIOALIGN, Linux 6.1), else as the block
 * device under it: on 4K-sector storage a 512-byte request would fail.
 */
static unsigned int loop_file_bs_shift(int fd, const struct stat *st)
{
	struct statx stx;
	unsigned int shift;

	if (!statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		shift = loop_bs_shift(stx.stx_dio_offset_align);
		if (shift)
			return shift;
	}
	shift = loop_bs_shift(loop_sysfs_queue(st->st_dev, "logical_block_size"));
	return shift ? shift : 9;
}

/*
 * A probe beyond the end of the file: it deallocates nothing, and says
 * whether the filesystem can punch holes at all.
 */
static bool loop_file_can_punch(int fd, const struct stat *st)
{
	off_t end = (st->st_size + 65535) / 65536 * 65536;

	return !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, end, 65536) ||
	       errno != EOPNOTSUPP;
}

static int loop_size(struct ublk_dev *dev, struct loop_priv *lo, int fd)
{
	struct ublk_param_basic *b = &dev->params.basic;
	struct stat st;
	int lbs;

	if (fstat(fd, &st) < 0)
		return -errno;
	lo->st_dev = st.st_dev;
	lo->st_ino = st.st_ino;
	lo->st_rdev = st.st_rdev;
	if (S_ISREG(st.st_mode)) {
		dev->tgt.dev_size = st.st_size;
		if (lo->direct_io)
			b->logical_bs_shift = loop_file_bs_shift(fd, &st);
		lo->discard = loop_file_can_punch(fd, &st);
		return 0;
	}
	if (!S_ISBLK(st.st_mode)) {
		ublk_dev_err(dev, "backing file '%s' is not a regular file or block device",
			     lo->file);
		return -EINVAL;
	}
	lo->blkdev = true;
	if (ioctl(fd, BLKGETSIZE64, &dev->tgt.dev_size) < 0 || ioctl(fd, BLKSSZGET, &lbs) < 0)
		return -errno;
	/* O_DIRECT on the backing device needs its block size */
	b->logical_bs_shift = __builtin_ctz(lbs);
	/* a hole in a block device is a zeroing that must not fall back (fops.c) */
	lo->discard = loop_sysfs_queue(st.st_rdev, "write_zeroes_max_bytes") > 0;
	return 0;
}

/*
 * DISCARD punches a hole, so it is offered only where that works. Write
 * zeroes always is: a block device writes the zeroes if it must, a file
 * falls back to punching (loop_io_done()).
 */
static void loop_set_discard(struct ublk_dev *dev, const struct loop_priv *lo)
{
	struct ublk_params *p = &dev->params;
	__u32 lbs = 1U << p->basic.logical_bs_shift;

	if (!lo->discard && !lo->blkdev)
		return;
	p->types |= UBLK_PARAM_TYPE_DISCARD;
	/* the kernel wants a granularity even with discard off */
	p->discard.discard_granularity = lbs > 4096 ? lbs : 4096;
	p->discard.max_write_zeroes_sectors = UINT_MAX >> 9;
	if (!lo->discard)
		return;
	p->discard.max_discard_sectors = UINT_MAX >> 9;
	p->discard.max_discard_segments = 1;
}

static int loop_init(struct ublk_dev *dev, const struct ublk_dev_opts *dev_opts)
{
	const struct loop_opts *opts = dev_opts->tgt_opts;
	struct ublk_params *p = &dev->params;
	struct loop_priv *lo;
	int fd, ret;

	if (!opts || !opts->file) {
		ublk_dev_err(dev, "the loop target needs a backing file (-f FILE)");
		return -EINVAL;
	}
	lo = calloc(1, sizeof(*lo));
	if (!lo)
		return -ENOMEM;
	if (!realpath(opts->file, lo->file))
		snprintf(lo->file, sizeof(lo->file), "%s", opts->file);

	fd = loop_open(dev, lo, opts);
	if (fd < 0) {
		free(lo);
		return fd;
	}
	ret = loop_size(dev, lo, fd);
	if (ret) {
		close(fd);
		free(lo);
		return ret;
	}

	dev->tgt.fds[LOOP_FD] = fd;
	dev->tgt.nr_fds = 1;
	dev->tgt.priv = lo;

	/* we honour FLUSH with fsync and FUA with RWF_DSYNC */
	p->basic.attrs |= UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	loop_set_discard(dev, lo);
	return 0;
}

static void loop_deinit(struct ublk_dev *dev)
{
	if (!dev->tgt.priv)
		return;
	close(dev->tgt.fds[LOOP_FD]);
	free(dev->tgt.priv);
	dev->tgt.priv = NULL;
	dev->tgt.nr_fds = 0;
}

static void loop_prep_sqe(struct ublk_queue *q, struct io_uring_sqe *sqe, int tag, int sub_op)
{
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = ublk_user_data(tag, sub_op, 0, true);
	q->ios[tag].pending++;
}

/* Read or write the backing file from/to the per-tag buffer or the request. */
static void loop_queue_rw(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod,
			  bool write)
{
	struct io_uring_sqe *sqe = ublk_queue_get_sqe(q);
	unsigned int len = iod->nr_sectors << 9;
	__u64 off = iod->start_sector << 9;
	int fd = ublk_tgt_fixed_fd(LOOP_FD);

	if (q->dev->data_mode == UBLK_DATA_AUTO_ZC) {
		if (write)
			io_uring_prep_write_fixed(sqe, fd, NULL, len, off, tag);
		else
			io_uring_prep_read_fixed(sqe, fd, NULL, len, off, tag);
	} else {
		if (write)
			io_uring_prep_write(sqe, fd, q->ios[tag].buf, len, off);
		else
			io_uring_prep_read(sqe, fd, q->ios[tag].buf, len, off);
	}
	if (write && (iod->op_flags & UBLK_IO_F_FUA))
		sqe->rw_flags = RWF_DSYNC;
	loop_prep_sqe(q, sqe, tag, LOOP_OP_BACKING);
}

static int loop_queue_read_write(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod,
				 bool write)
{
	int ret;

	/* user copy: the request's data into the buffer first (a READ's: loop_io_done()) */
	if (write && q->dev->data_mode == UBLK_DATA_USER_COPY) {
		ret = ublk_user_copy(q, tag, q->ios[tag].buf, iod->nr_sectors << 9, false);
		if (ret < 0)
			return ret;
	}
	loop_queue_rw(q, tag, iod, write);
	return 1;
}

static int loop_queue_fallocate(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod,
				int mode, int sub_op)
{
	struct io_uring_sqe *sqe = ublk_queue_get_sqe(q);

	io_uring_prep_fallocate(sqe, ublk_tgt_fixed_fd(LOOP_FD), mode | FALLOC_FL_KEEP_SIZE,
				iod->start_sector << 9, (__u64)iod->nr_sectors << 9);
	loop_prep_sqe(q, sqe, tag, sub_op);
	return 1;
}

/* The device deallocates (it advertised discard): else it writes zeroes. */
static bool lo_discard(const struct ublk_queue *q)
{
	return q->dev->params.discard.max_discard_sectors;
}

static int loop_queue_io(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod)
{
	struct io_uring_sqe *sqe;

	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
		return loop_queue_read_write(q, tag, iod, false);
	case UBLK_IO_OP_WRITE:
		return loop_queue_read_write(q, tag, iod, true);
	case UBLK_IO_OP_FLUSH:
		sqe = ublk_queue_get_sqe(q);
		io_uring_prep_fsync(sqe, ublk_tgt_fixed_fd(LOOP_FD), IORING_FSYNC_DATASYNC);
		loop_prep_sqe(q, sqe, tag, LOOP_OP_BACKING);
		return 1;
	case UBLK_IO_OP_DISCARD:
		return loop_queue_fallocate(q, tag, iod, FALLOC_FL_PUNCH_HOLE, LOOP_OP_BACKING);
	case UBLK_IO_OP_WRITE_ZEROES:
		/*
		 * NOUNMAP asks to keep the blocks allocated; a block device
		 * that cannot deallocate writes the zeroes instead
		 */
		if ((iod->op_flags & UBLK_IO_F_NOUNMAP) || !lo_discard(q))
			return loop_queue_fallocate(q, tag, iod, FALLOC_FL_ZERO_RANGE,
						    LOOP_OP_ZERO_RANGE);
		return loop_queue_fallocate(q, tag, iod, FALLOC_FL_PUNCH_HOLE, LOOP_OP_BACKING);
	}
	return -EOPNOTSUPP;
}

/*
 * A short read or write (end of a truncated file): in copy mode the kernel
 * completes the prefix and requeues the rest, so report whole sectors; in
 * the other modes it ends the whole request on any non-negative result,
 * which would hand out unfilled pages: fail it.
 */
static int loop_short(const struct ublk_queue *q, const struct ublksrv_io_desc *iod, int res)
{
	__u32 op = ublksrv_get_op(iod);

	if ((op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE) ||
	    (unsigned int)res >= iod->nr_sectors << 9)
		return res;
	return q->dev->data_mode == UBLK_DATA_COPY ? res & ~511 : -EIO;
}

/* The one SQE a request has in flight at a time has completed. */
static void loop_io_done(struct ublk_queue *q, int tag, const struct io_uring_cqe *cqe)
{
	const struct ublksrv_io_desc *iod = &q->iods[tag];
	struct ublk_io *io = &q->ios[tag];
	int res = cqe->res;

	io->pending--;
	/* some filesystems (tmpfs) cannot zero a range in place */
	if (ublk_ud_op(cqe->user_data) == LOOP_OP_ZERO_RANGE && res == -EOPNOTSUPP) {
		loop_queue_fallocate(q, tag, iod, FALLOC_FL_PUNCH_HOLE, LOOP_OP_BACKING);
		return;
	}
	if (res >= 0)
		res = loop_short(q, iod, res);
	/* user copy: a full READ's data from the buffer into the request */
	if (res > 0 && q->dev->data_mode == UBLK_DATA_USER_COPY &&
	    ublksrv_get_op(iod) == UBLK_IO_OP_READ)
		res = ublk_user_copy(q, tag, io->buf, res, true);
	ublk_complete_io(q, tag, res);
}

static int loop_dump_json(const struct ublk_dev *dev, json_t *obj)
{
	const struct loop_priv *lo = dev->tgt.priv;
	json_t *file = json_string(lo->file);

	/* json_string() refuses a name that is not UTF-8 */
	if (!file)
		return -EINVAL;
	if (json_object_set_new(obj, "file", file) ||
	    json_object_set_new(obj, "dev_size", json_integer(dev->tgt.dev_size)) ||
	    json_object_set_new(obj, "direct_io", json_boolean(lo->direct_io)) ||
	    json_object_set_new(obj, "block_device", json_boolean(lo->blkdev)))
		return -ENOMEM;
	/* what `ublk recover` checks the file against (cli/recover.c) */
	if (lo->blkdev)
		return json_object_set_new(obj, "backing_rdev", json_integer(lo->st_rdev)) ?
			       -ENOMEM :
			       0;
	if (json_object_set_new(obj, "backing_dev", json_integer(lo->st_dev)) ||
	    json_object_set_new(obj, "backing_ino", json_integer(lo->st_ino)))
		return -ENOMEM;
	return 0;
}

const struct ublk_tgt_ops loop_tgt_ops = {
	.name = "loop",
	.help = "serve a regular file or a block device",
	.opts = loop_opts,
	.opts_size = sizeof(struct loop_opts),
	.init = loop_init,
	.deinit = loop_deinit,
	.queue_io = loop_queue_io,
	.io_done = loop_io_done,
	.dump_json = loop_dump_json,
	.bpf_open = LOOP_BPF_OPEN,
	.bpf_seed_open = LOOP_BPF_SEED_OPEN,
};
