// SPDX-License-Identifier: MIT
/*
 * qcow2 target: serve a qcow2 image (docs/qcow2.md). Metadata lives in the
 * daemon (the library in this folder) under one lock shared by the queues;
 * reads and writes of plain allocated clusters go through the queue's
 * io_uring at their host offset, split at cluster boundaries and merged
 * where host clusters are contiguous. Everything else (allocation, copy on
 * write, backing files, compressed clusters, zeroing) is done synchronously
 * under the lock. Copy data mode only: the slow path needs the bytes.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qcow2.h"
#include "ublksrv.h"

#ifdef HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "qcow2.skel.h"
#include "qcow2_seed.skel.h"
#include "ublksrv_bpf.h"

/*
 * bpf/qcow2.bpf.c, built for either backend: mapped clusters; this file
 * is the slow path and the map's writer
 */
UBLK_BPF_SKEL_OPEN(qcow2)
UBLK_BPF_SEED_SKEL_OPEN(qcow2)
#endif

/* One program instance's counters (its .bss). */
struct qcow2_bpf_ctr {
	__u64 *hit, *miss, *too_big;
};

#define QCOW2_FD 0 /* index in dev->tgt.fds */
#define QCOW2_MAP_ENTRIES 65536 /* cluster map: ~5 MiB of kernel memory */

/* Why the BPF program sent a request to the daemon (first cluster not mapped). */
enum {
	QCOW2_REDIR_UNMAPPED, /* plain and exclusive, just not in the map yet */
	QCOW2_REDIR_ALLOCATING, /* a write needing a new cluster (or a copy) */
	QCOW2_REDIR_COMPRESSED,
	QCOW2_REDIR_BACKING,
	QCOW2_REDIR_ZERO, /* a read of zeroes: zero flag, or nothing anywhere */
	QCOW2_REDIR_OTHER, /* discard, write zeroes, shared clusters, too big */
	QCOW2_NR_CAUSES
};

static const char *const qcow2_cause_names[QCOW2_NR_CAUSES] = {
	"unmapped", "allocating", "compressed", "backing", "zero", "other",
};

struct qcow2_tgt {
	struct qcow2_image *img;
	pthread_mutex_t lock; /* the image's metadata and the counters */
	bool read_only;
	bool zc; /* data in the request's pages (fixed buffer == tag) */
	unsigned int depth;
	__u32 max_io;
	__u32 *expect; /* per queue and tag: bytes the SQEs must return */
	int scratch_fd; /* zero copy: bytes the library produced, see below */
	/* requests by path, for `ublk list` */
	__u64 nr_direct, nr_meta, nr_flush;
	/* BPF fast path: the cluster map all queues share, -1 without BPF */
	int map_fd;
	__u32 map_entries;
	__u64 *handed_back; /* per queue and tag: the request handed back, or 0 */
	__u64 nr_redir[QCOW2_NR_CAUSES], nr_hand_back;
	/* each queue's program's counters (the seed backend's one program: [0]) */
	struct qcow2_bpf_ctr ctr[UBLK_MAX_QUEUES];
};

/*
 * Zero copy has no buffer of ours: what the library reads (backing file,
 * compressed cluster) goes to a memfd slot of the tag, and READ_FIXED
 * moves it into the request. Zeroes come from a hole past all slots.
 */
#define SCRATCH_FD 1

/* A run of request bytes at contiguous file offsets, not yet queued. */
struct run {
	int fd; /* QCOW2_FD or SCRATCH_FD */
	__u64 pos;
	__u32 len;
	__u32 buf_off; /* in the request */
};

static int qcow2_open_image(struct ublk_dev *dev, struct qcow2_tgt *t, const char *file)
{
	char err[QCOW2_ERRLEN];

	t->img = qcow2_open(file, t->read_only, err, sizeof(err));
	if (!t->img) {
		ublk_dev_err(dev, "%s", err);
		return -EINVAL;
	}
	if (t->img->size % 512 || !t->img->size) {
		ublk_dev_err(dev, "%s: virtual size %llu is not a non-zero multiple of 512", file,
			     (unsigned long long)t->img->size);
		return -EINVAL;
	}
	return 0;
}

static void qcow2_set_params(struct ublk_dev *dev, struct qcow2_tgt *t)
{
	struct ublk_params *p = &dev->params;
	__u32 cs = t->img->cluster_size;

	dev->tgt.dev_size = t->img->size;
	/* we honour FLUSH with fdatasync and FUA with RWF_DSYNC / a sync */
	p->basic.attrs |= UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	if (t->read_only) {
		p->basic.attrs |= UBLK_ATTR_READ_ONLY;
		return;
	}
	p->types |= UBLK_PARAM_TYPE_DISCARD;
	p->discard.discard_granularity = cs < 4096 ? 4096 : cs;
	p->discard.max_discard_sectors = UINT_MAX >> 9;
	p->discard.max_write_zeroes_sectors = UINT_MAX >> 9;
	p->discard.max_discard_segments = 1;
}

static void qcow2_free_tgt(struct qcow2_tgt *t)
{
	qcow2_close(t->img);
	if (t->scratch_fd >= 0)
		close(t->scratch_fd);
	if (t->map_fd >= 0)
		close(t->map_fd);
	pthread_mutex_destroy(&t->lock);
	free(t->expect);
	free(t->handed_back);
	free(t);
}

static int qcow2_tgt_init(struct ublk_dev *dev, const char *file, bool read_only)
{
	struct qcow2_tgt *t;
	int ret;

	if (dev->data_mode == UBLK_DATA_USER_COPY) {
		ublk_dev_err(dev, "the qcow2 target serves copy and zero copy modes, not -u");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->scratch_fd = -1;
	t->map_fd = -1;
	t->map_entries = QCOW2_MAP_ENTRIES;
	t->read_only = read_only;
	t->zc = dev->data_mode == UBLK_DATA_AUTO_ZC;
	t->depth = dev->info.queue_depth;
	t->max_io = dev->info.max_io_buf_bytes;
	t->expect = calloc((size_t)dev->info.nr_hw_queues * t->depth, sizeof(*t->expect));
	t->handed_back = calloc((size_t)dev->info.nr_hw_queues * t->depth, sizeof(*t->handed_back));
	ret = t->expect && t->handed_back ? qcow2_open_image(dev, t, file) : -ENOMEM;
	if (!ret && t->zc) {
		/* sparse: the slots of every tag, then the hole zeroes come from */
		off_t len = ((off_t)dev->info.nr_hw_queues * t->depth + 1) * t->max_io;

		t->scratch_fd = memfd_create("qcow2-scratch", MFD_CLOEXEC);
		ret = t->scratch_fd < 0 || ftruncate(t->scratch_fd, len) ? -errno : 0;
	}
	if (ret) {
		qcow2_free_tgt(t);
		return ret;
	}
	qcow2_set_params(dev, t);
	dev->tgt.fds[QCOW2_FD] = t->img->fd;
	dev->tgt.fds[SCRATCH_FD] = t->scratch_fd;
	dev->tgt.nr_fds = t->zc ? 2 : 1;
	dev->tgt.priv = t;
	return 0;
}

struct qcow2_opts {
	const char *file;
	bool read_only;
};

static int qcow2_parse_file(void *p, const char *arg, char *err, size_t err_len)
{
	if (!*arg) {
		snprintf(err, err_len, "empty file name");
		return -EINVAL;
	}
	((struct qcow2_opts *)p)->file = arg;
	return 0;
}

static int qcow2_parse_ro(void *p, const char *arg, char *err, size_t err_len)
{
	(void)arg, (void)err, (void)err_len;
	((struct qcow2_opts *)p)->read_only = true;
	return 0;
}

static const struct ublk_tgt_opt qcow2_opts[] = {
	{ .name = "file",
	  .short_name = 'f',
	  .has_arg = true,
	  .arg_name = "IMAGE",
	  .help = "qcow2 image, version 2 or 3 (required)",
	  .flags = UBLK_TGT_OPT_PATH | UBLK_TGT_OPT_REQUIRED,
	  .parse = qcow2_parse_file },
	{ .name = "read-only",
	  .help = "open the image (and its backing chain) read-only",
	  .parse = qcow2_parse_ro },
	{ 0 },
};

static int qcow2_init(struct ublk_dev *dev, const struct ublk_dev_opts *dev_opts)
{
	const struct qcow2_opts *opts = dev_opts->tgt_opts;

	if (!opts || !opts->file) {
		ublk_dev_err(dev, "the qcow2 target needs an image (-f FILE)");
		return -EINVAL;
	}
	return qcow2_tgt_init(dev, opts->file, opts->read_only);
}

static void qcow2_deinit(struct ublk_dev *dev)
{
	if (!dev->tgt.priv)
		return;
	qcow2_free_tgt(dev->tgt.priv);
	dev->tgt.priv = NULL;
	dev->tgt.nr_fds = 0;
}

static __u32 *expect_of(struct ublk_queue *q, int tag)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;

	return &t->expect[q->q_id * t->depth + tag];
}

static __u64 scratch_pos(struct ublk_queue *q, int tag, __u32 buf_off)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;

	return ((__u64)q->q_id * t->depth + tag) * t->max_io + buf_off;
}

static __u64 zero_pos(struct ublk_queue *q, __u32 buf_off)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;

	/* past every queue's slots: a hole, never written */
	return (__u64)q->dev->info.nr_hw_queues * t->depth * t->max_io + buf_off;
}

#ifdef HAVE_BPF
/* A failed update only costs a later redirect: nothing to report. */
static void map_set(struct qcow2_tgt *t, __u64 off, __u64 host)
{
	__u64 key = off >> t->img->cluster_bits;

	if (t->map_fd >= 0)
		bpf_map_update_elem(t->map_fd, &key, &host, BPF_ANY);
}

/*
 * Before clusters of [off, off + len) stop being plain and exclusive: by
 * key for a short range, else by walking the (bounded) map.
 */
static void map_forget(struct qcow2_tgt *t, __u64 off, __u64 len)
{
	__u64 first = off >> t->img->cluster_bits, last = (off + len - 1) >> t->img->cluster_bits;
	__u64 key, next, *keys, *prev = NULL;
	__u32 n = 0, i;

	if (t->map_fd < 0 || !len)
		return;
	if (last - first < t->map_entries) {
		for (key = first; key <= last; key++)
			bpf_map_delete_elem(t->map_fd, &key);
		return;
	}
	keys = malloc(sizeof(*keys) * t->map_entries);
	if (!keys) {
		/* cannot be selective: forget everything */
		while (!bpf_map_get_next_key(t->map_fd, NULL, &key))
			bpf_map_delete_elem(t->map_fd, &key);
		return;
	}
	while (n < t->map_entries && !bpf_map_get_next_key(t->map_fd, prev, &next)) {
		if (next >= first && next <= last)
			keys[n++] = next;
		key = next;
		prev = &key;
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(t->map_fd, &keys[i]);
	free(keys);
}
#else
static void map_set(struct qcow2_tgt *t, __u64 off, __u64 host)
{
	(void)t, (void)off, (void)host;
}

static void map_forget(struct qcow2_tgt *t, __u64 off, __u64 len)
{
	(void)t, (void)off, (void)len;
}
#endif

static void queue_run(struct ublk_queue *q, int tag, struct run *r, bool write, bool fua)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;
	struct io_uring_sqe *sqe;
	char *buf = (char *)q->ios[tag].buf + r->buf_off;
	int fd = ublk_tgt_fixed_fd(r->fd);

	if (!r->len)
		return;
	sqe = ublk_queue_get_sqe(q);
	if (t->zc && write)
		io_uring_prep_write_fixed(sqe, fd, (void *)(uintptr_t)r->buf_off, r->len, r->pos,
					  tag);
	else if (t->zc)
		io_uring_prep_read_fixed(sqe, fd, (void *)(uintptr_t)r->buf_off, r->len, r->pos,
					 tag);
	else if (write)
		io_uring_prep_write(sqe, fd, buf, r->len, r->pos);
	else
		io_uring_prep_read(sqe, fd, buf, r->len, r->pos);
	if (fua)
		sqe->rw_flags = RWF_DSYNC;
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = ublk_user_data(tag, 1, 0, true);
	q->ios[tag].pending++;
	*expect_of(q, tag) += r->len;
	r->len = 0;
}

/* Add [pos, pos + len) of file @fd at @buf_off to the run, or start a new one. */
static void add_run(struct ublk_queue *q, int tag, struct run *r, int fd, __u64 pos, __u32 len,
		    __u32 buf_off, bool write, bool fua)
{
	if (r->len && r->fd == fd && r->pos + r->len == pos && r->buf_off + r->len == buf_off) {
		r->len += len;
		return;
	}
	queue_run(q, tag, r, write, fua);
	r->fd = fd;
	r->pos = pos;
	r->len = len;
	r->buf_off = buf_off;
}

/*
 * Whether [off, off + len) of one cluster can go to the host file directly:
 * allocated and plain, exclusive for a write, inside the file for a read
 * (a sparse tail reads as zeroes through the library).
 */
static bool direct(struct qcow2_image *img, const struct qcow2_mapping *m, __u64 off, __u32 len,
		   bool write)
{
	__u64 host = m->host_off + (off & (img->cluster_size - 1));

	if (m->kind != QCOW2_NORMAL)
		return false;
	if (write)
		return m->writable;
	return host + len <= img->file_size;
}

/* Zero copy, a read the library serves: through the tag's scratch slot. */
static int zc_read_slow(struct ublk_queue *q, int tag, struct run *r, const struct qcow2_mapping *m,
			__u64 off, __u32 len, __u32 buf_off)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;
	__u64 pos = scratch_pos(q, tag, buf_off);
	char *tmp;
	int ret;

	if (m->kind == QCOW2_ZERO || (m->kind == QCOW2_UNALLOCATED && !t->img->backing)) {
		add_run(q, tag, r, SCRATCH_FD, zero_pos(q, buf_off), len, buf_off, false, false);
		return 0;
	}
	tmp = malloc(len);
	if (!tmp)
		return -ENOMEM;
	ret = qcow2_read(t->img, tmp, len, off);
	if (!ret && pwrite(t->scratch_fd, tmp, len, pos) != (ssize_t)len)
		ret = -EIO;
	free(tmp);
	if (!ret)
		add_run(q, tag, r, SCRATCH_FD, pos, len, buf_off, false, false);
	return ret;
}

/* One cluster's part of a request: queue it, or serve it now. */
static int qcow2_segment(struct ublk_queue *q, int tag, struct run *r, __u32 buf_off, __u64 off,
			 __u32 len, bool write, bool fua)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;
	struct qcow2_image *img = t->img;
	char *buf = (char *)q->ios[tag].buf + buf_off;
	__u64 in = off & (img->cluster_size - 1);
	uint64_t host;
	struct qcow2_mapping m;
	int ret;

	ret = qcow2_map(img, off, &m);
	if (ret)
		return ret;
	if (direct(img, &m, off, len, write)) {
		t->nr_direct++;
		if (m.writable)
			map_set(t, off, m.host_off);
		add_run(q, tag, r, QCOW2_FD, m.host_off + in, len, buf_off, write, fua);
		return 0;
	}
	t->nr_meta++;
	if (!t->zc) {
		queue_run(q, tag, r, write, fua);
		return write ? qcow2_write(img, buf, len, off) : qcow2_read(img, buf, len, off);
	}
	if (!write)
		return zc_read_slow(q, tag, r, &m, off, len, buf_off);
	/* the old contents are copied up first; the new data follows it */
	ret = qcow2_prepare_write(img, off, &host);
	if (ret)
		return ret;
	map_set(t, off, host);
	add_run(q, tag, r, QCOW2_FD, host + in, len, buf_off, write, fua);
	return 0;
}

static int cause_of(const struct qcow2_tgt *t, const struct qcow2_mapping *m)
{
	switch (m->kind) {
	case QCOW2_COMPRESSED:
		return QCOW2_REDIR_COMPRESSED;
	case QCOW2_ZERO:
		return QCOW2_REDIR_ZERO;
	case QCOW2_UNALLOCATED:
		return t->img->backing ? QCOW2_REDIR_BACKING : QCOW2_REDIR_ZERO;
	case QCOW2_NORMAL:
		break;
	}
	return m->writable ? QCOW2_REDIR_UNMAPPED : QCOW2_REDIR_OTHER;
}

/*
 * A request the BPF program redirected: map every cluster it can (writes:
 * allocate / copy up first). True if all are mapped now and the request has
 * not been handed back before: then BPF serves it (-EAGAIN). A request that
 * comes back again (an entry evicted meanwhile) is served here.
 */
static bool bpf_prepare_rw(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod,
			   bool write)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;
	struct qcow2_image *img = t->img;
	__u64 off = iod->start_sector << 9, end = off + ((__u64)iod->nr_sectors << 9);
	__u64 *back = &t->handed_back[q->q_id * t->depth + tag];
	__u64 sig = iod->start_sector << 8 ^ (__u64)iod->nr_sectors << 40 ^ ublksrv_get_op(iod) ^ 1;
	__u64 nr_cl = ((end - 1) >> img->cluster_bits) - (off >> img->cluster_bits) + 1;
	bool all = true;
	int cause = -1, c;
	struct qcow2_mapping m;
	uint64_t host;

	for (off &= ~(img->cluster_size - 1); off < end && all; off += img->cluster_size) {
		if (qcow2_map(img, off, &m))
			return false;
		c = cause_of(t, &m);
		if (cause < 0 || (cause == QCOW2_REDIR_UNMAPPED && c != cause))
			cause = c;
		if (m.kind == QCOW2_NORMAL && m.writable)
			host = m.host_off;
		else if (!write || qcow2_prepare_write(img, off, &host))
			all = false;
		if (all)
			map_set(t, off, host);
	}
	if (write && cause != QCOW2_REDIR_UNMAPPED && cause != QCOW2_REDIR_OTHER)
		cause = QCOW2_REDIR_ALLOCATING;
	if (cause >= 0)
		t->nr_redir[cause]++;
	/* the same request again: BPF missed after all, serve it here */
	if (!all || *back == sig || nr_cl > UBLK_BPF_MAX_PIECES) {
		*back = 0;
		return false;
	}
	*back = sig;
	t->nr_hand_back++;
	return true;
}

static int qcow2_rw(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod, bool write)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;
	struct qcow2_image *img = t->img;
	__u64 off = iod->start_sector << 9, end = off + ((__u64)iod->nr_sectors << 9), n;
	bool fua = write && (iod->op_flags & UBLK_IO_F_FUA);
	struct run r = { 0 };
	__u32 buf_off = 0;
	int ret = 0;

	if (write && t->read_only)
		return -EROFS;
	*expect_of(q, tag) = 0;
	pthread_mutex_lock(&t->lock);
	if (t->map_fd >= 0 && bpf_prepare_rw(q, tag, iod, write)) {
		pthread_mutex_unlock(&t->lock);
		return -EAGAIN;
	}
	for (; off < end && !ret; off += n, buf_off += n) {
		n = img->cluster_size - (off & (img->cluster_size - 1));
		n = n < end - off ? n : end - off;
		ret = qcow2_segment(q, tag, &r, buf_off, off, n, write, fua);
	}
	/* what the library wrote for a FUA request is durable before we answer */
	if (!ret && fua)
		ret = qcow2_flush(img);
	pthread_mutex_unlock(&t->lock);
	if (!ret)
		queue_run(q, tag, &r, write, fua);
	if (ret && !q->ios[tag].pending)
		return ret;
	if (ret)
		q->ios[tag].result = ret;
	if (q->ios[tag].pending)
		return q->ios[tag].pending;
	ublk_complete_io(q, tag, iod->nr_sectors << 9);
	return 0;
}

static int qcow2_zeroes(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod,
			bool discard)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;
	__u64 off = iod->start_sector << 9, len = (__u64)iod->nr_sectors << 9;
	int ret;

	if (t->read_only)
		return -EROFS;
	pthread_mutex_lock(&t->lock);
	t->nr_meta++;
	if (t->map_fd >= 0)
		t->nr_redir[QCOW2_REDIR_OTHER]++;
	map_forget(t, off, len);
	if (discard)
		ret = qcow2_discard(t->img, len, off);
	else
		ret = qcow2_zero(t->img, len, off, !(iod->op_flags & UBLK_IO_F_NOUNMAP));
	if (!ret && (iod->op_flags & UBLK_IO_F_FUA))
		ret = qcow2_flush(t->img);
	pthread_mutex_unlock(&t->lock);
	if (ret)
		return ret;
	ublk_complete_io(q, tag, 0);
	return 0;
}

static int qcow2_queue_io(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;
	struct io_uring_sqe *sqe;

	q->ios[tag].result = 0;
	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
		return qcow2_rw(q, tag, iod, false);
	case UBLK_IO_OP_WRITE:
		return qcow2_rw(q, tag, iod, true);
	case UBLK_IO_OP_FLUSH:
		/* metadata writes are synchronous: they are all in the file */
		__atomic_add_fetch(&t->nr_flush, 1, __ATOMIC_RELAXED);
		*expect_of(q, tag) = 0;
		sqe = ublk_queue_get_sqe(q);
		io_uring_prep_fsync(sqe, ublk_tgt_fixed_fd(QCOW2_FD), IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_user_data(tag, 2, 0, true);
		q->ios[tag].pending++;
		return 1;
	case UBLK_IO_OP_DISCARD:
		return qcow2_zeroes(q, tag, iod, true);
	case UBLK_IO_OP_WRITE_ZEROES:
		return qcow2_zeroes(q, tag, iod, false);
	}
	return -EOPNOTSUPP;
}

static void qcow2_io_done(struct ublk_queue *q, int tag, const struct io_uring_cqe *cqe)
{
	const struct ublksrv_io_desc *iod = &q->iods[tag];
	struct ublk_io *io = &q->ios[tag];
	__u32 *expect = expect_of(q, tag);

	io->pending--;
	if (cqe->res < 0 && io->result >= 0)
		io->result = cqe->res;
	else if (cqe->res > 0 && ublk_ud_op(cqe->user_data) == 1)
		*expect -= (__u32)cqe->res < *expect ? (__u32)cqe->res : *expect;
	if (io->pending)
		return;
	/* a short read or write of a host range is an I/O error */
	if (io->result >= 0 && *expect)
		io->result = -EIO;
	if (io->result >= 0 && ublksrv_get_op(iod) != UBLK_IO_OP_FLUSH)
		io->result = iod->nr_sectors << 9;
	ublk_complete_io(q, tag, io->result);
}

#ifdef HAVE_BPF
/* Plain exclusive clusters known at start, up to half the map. */
static void map_prefill(struct qcow2_tgt *t)
{
	struct qcow2_image *img = t->img;
	__u64 span = img->cluster_size << img->l2_bits, off, n = 0;
	struct qcow2_mapping m;
	__u32 i;

	for (i = 0; i < img->l1_size && n < t->map_entries / 2; i++) {
		if (!(img->l1[i] & QCOW2_OFFSET_MASK))
			continue;
		for (off = i * span; off < (i + 1) * span && off < img->size;
		     off += img->cluster_size) {
			if (qcow2_map(img, off, &m) || m.kind != QCOW2_NORMAL || !m.writable)
				continue;
			map_set(t, off, m.host_off);
			if (++n >= t->map_entries / 2)
				break;
		}
	}
}

/* What the daemon sets and reads in either build of bpf/qcow2.bpf.c. */
struct qcow2_bpf_vars {
	__u32 *cluster_bits;
	struct bpf_map *clusters, *hosts;
	struct qcow2_bpf_ctr ctr;
};

#define QCOW2_BPF_VARS(k)                                                            \
	(struct qcow2_bpf_vars)                                                      \
	{                                                                            \
		&(k)->rodata->cluster_bits, (k)->maps.clusters, (k)->maps.hosts,     \
		{                                                                    \
			&(k)->bss->nr_hit, &(k)->bss->nr_miss, &(k)->bss->nr_too_big \
		}                                                                    \
	}

/*
 * Before load: one hosts entry per request the instance serves; the first
 * instance sizes the cluster map, the others share its fd.
 */
static int qcow2_bpf_setup(struct qcow2_tgt *t, const struct qcow2_bpf_vars *v, __u32 nr_reqs)
{
	int ret;

	*v->cluster_bits = t->img->cluster_bits;
	ret = bpf_map__set_max_entries(v->hosts, nr_reqs);
	if (ret)
		return ret;
	if (t->map_fd >= 0)
		return bpf_map__reuse_fd(v->clusters, t->map_fd);
	return bpf_map__set_max_entries(v->clusters, t->map_entries);
}

/* Loaded and attached, no request yet: take the counters and the map, fill it. */
static int qcow2_bpf_take(struct qcow2_tgt *t, const struct qcow2_bpf_vars *v, int q_id)
{
	t->ctr[q_id] = v->ctr;
	if (t->map_fd >= 0)
		return 0;
	t->map_fd = dup(bpf_map__fd(v->clusters));
	if (t->map_fd < 0)
		return -errno;
	pthread_mutex_lock(&t->lock);
	map_prefill(t);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* io_uring_bpf_ops: a program per queue. */
static int qcow2_bpf_prepare(struct ublk_queue *q, struct ublk_bpf_skel *s)
{
	struct qcow2_tgt *t = q->dev->tgt.priv;

	return qcow2_bpf_setup(t, &QCOW2_BPF_VARS((struct qcow2_bpf *)s->skel), t->depth);
}

static int qcow2_bpf_ready(struct ublk_queue *q, struct ublk_bpf_skel *s)
{
	return qcow2_bpf_take(q->dev->tgt.priv, &QCOW2_BPF_VARS((struct qcow2_bpf *)s->skel),
			      q->q_id);
}

/* ublk_bpf_ops: one program for every queue of the device. */
static int qcow2_bpf_seed_prepare(struct ublk_dev *dev, struct ublk_bpf_skel *s)
{
	struct qcow2_tgt *t = dev->tgt.priv;

	return qcow2_bpf_setup(t, &QCOW2_BPF_VARS((struct qcow2_seed_bpf *)s->skel),
			       dev->info.nr_hw_queues * t->depth);
}

static int qcow2_bpf_seed_ready(struct ublk_dev *dev, struct ublk_bpf_skel *s)
{
	return qcow2_bpf_take(dev->tgt.priv, &QCOW2_BPF_VARS((struct qcow2_seed_bpf *)s->skel), 0);
}

#define QCOW2_BPF_OPEN qcow2_bpf_open
#define QCOW2_BPF_PREPARE qcow2_bpf_prepare
#define QCOW2_BPF_READY qcow2_bpf_ready
#define QCOW2_BPF_SEED_OPEN qcow2_bpf_seed_open
#define QCOW2_BPF_SEED_PREPARE qcow2_bpf_seed_prepare
#define QCOW2_BPF_SEED_READY qcow2_bpf_seed_ready
#else
#define QCOW2_BPF_OPEN NULL
#define QCOW2_BPF_PREPARE NULL
#define QCOW2_BPF_READY NULL
#define QCOW2_BPF_SEED_OPEN NULL
#define QCOW2_BPF_SEED_PREPARE NULL
#define QCOW2_BPF_SEED_READY NULL
#endif

/* The fast path's counters: BPF's per queue, the daemon's by cause. */
static int qcow2_dump_bpf(const struct ublk_dev *dev, struct qcow2_tgt *t, json_t *obj)
{
	__u64 hit = 0, miss = 0, big = 0;
	json_t *b, *causes;
	int i;

	if (t->map_fd < 0)
		return 0;
	for (i = 0; i < dev->info.nr_hw_queues && i < UBLK_MAX_QUEUES; i++) {
		const struct qcow2_bpf_ctr *c = &t->ctr[i];

		if (!c->hit)
			continue;
		hit += __atomic_load_n(c->hit, __ATOMIC_RELAXED);
		miss += __atomic_load_n(c->miss, __ATOMIC_RELAXED);
		big += __atomic_load_n(c->too_big, __ATOMIC_RELAXED);
	}
	b = json_object();
	causes = json_object();
	if (!b || !causes || json_object_set_new(obj, "bpf_map", b)) {
		json_decref(b);
		json_decref(causes);
		return -ENOMEM;
	}
	for (i = 0; i < QCOW2_NR_CAUSES; i++)
		if (json_object_set_new(causes, qcow2_cause_names[i], json_integer(t->nr_redir[i])))
			return -ENOMEM;
	if (json_object_set_new(b, "entries_max", json_integer(t->map_entries)) ||
	    json_object_set_new(b, "hits", json_integer(hit)) ||
	    json_object_set_new(b, "misses", json_integer(miss)) ||
	    json_object_set_new(b, "too_big", json_integer(big)) ||
	    json_object_set_new(b, "redirects", causes) ||
	    json_object_set_new(b, "hand_backs", json_integer(t->nr_hand_back)))
		return -ENOMEM;
	return 0;
}

static int qcow2_dump_json(const struct ublk_dev *dev, json_t *obj)
{
	struct qcow2_tgt *t = dev->tgt.priv;
	struct qcow2_image *img = t->img;
	json_t *file, *backing;
	int ret = 0;

	/* json_string() refuses a name that is not UTF-8 */
	file = json_string(img->path);
	backing = json_string(img->backing ? img->backing->path : "");
	if (!file || !backing) {
		json_decref(file);
		json_decref(backing);
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	if (json_object_set_new(obj, "file", file) ||
	    json_object_set_new(obj, "dev_size", json_integer(dev->tgt.dev_size)) ||
	    json_object_set_new(obj, "qcow2_version", json_integer(img->version)) ||
	    json_object_set_new(obj, "cluster_size", json_integer(img->cluster_size)) ||
	    json_object_set_new(obj, "backing_file", backing) ||
	    json_object_set_new(obj, "read_only", json_boolean(t->read_only)) ||
	    json_object_set_new(obj, "requests_direct", json_integer(t->nr_direct)) ||
	    json_object_set_new(obj, "requests_metadata", json_integer(t->nr_meta)) ||
	    json_object_set_new(obj, "clusters_allocated", json_integer(img->nr_alloc)) ||
	    json_object_set_new(obj, "l2_cache_misses", json_integer(img->nr_l2_miss)))
		ret = -ENOMEM;
	if (!ret)
		ret = qcow2_dump_bpf(dev, t, obj);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

const struct ublk_tgt_ops qcow2_tgt_ops = {
	.name = "qcow2",
	.help = "serve a qcow2 image (metadata in the daemon)",
	.opts = qcow2_opts,
	.opts_size = sizeof(struct qcow2_opts),
	.init = qcow2_init,
	.deinit = qcow2_deinit,
	.queue_io = qcow2_queue_io,
	.io_done = qcow2_io_done,
	.dump_json = qcow2_dump_json,
	.bpf_open = QCOW2_BPF_OPEN,
	.bpf_prepare = QCOW2_BPF_PREPARE,
	.bpf_ready = QCOW2_BPF_READY,
	.bpf_seed_open = QCOW2_BPF_SEED_OPEN,
	.bpf_seed_prepare = QCOW2_BPF_SEED_PREPARE,
	.bpf_seed_ready = QCOW2_BPF_SEED_READY,
};
