// SPDX-License-Identifier: GPL-2.0
/*
 * struct ublk_bpf_ops: serve ublk requests in BPF, from ublk_queue_rq(), in
 * the submitter's context, so that the fast path never wakes the daemon.
 * Written for this project after the 2025 RFC's description ("ublk: add
 * struct_ops support"). ublk-bpf.patch includes this file into ublk_drv.c,
 * so that it sees the driver's private types; kernel/README has the design.
 *
 * A request BPF takes (QUEUED or CONTINUE) belongs to this file until it
 * completes: the ublk_io of its tag is untouched (the daemon's FETCH stays
 * armed), so the driver's cancel/abort paths, which act on ublk_io state,
 * never see it, and nothing it waits for depends on the daemon: it ends
 * when its backing I/O ends. A callback that returns REDIRECT before
 * anything was queued hands the request to the normal path unchanged.
 */
#include <linux/bpf.h>
#include <linux/bpf_verifier.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/filter.h>
#include <linux/file.h>
#include <linux/wait_bit.h>

/* A callback's return value: the disposition in the top 4 bits (RFC). */
enum ublk_bpf_disposition {
	UBLK_BPF_IO_QUEUED = 0,
	UBLK_BPF_IO_REDIRECT = 1,
	UBLK_BPF_IO_CONTINUE = 2,
};

#define UBLK_BPF_DISP_SHIFT 60
#define UBLK_BPF_MAX_CALLS 128 /* callback calls (CONTINUEs) per request */

/* ublk_bpf_aio_rw() flags */
#define UBLK_BPF_RW_FUA (1U << 0)

struct ublk_bpf_io;

struct ublk_bpf_ops {
	/* the id a device names in its UBLK_PARAM_TYPE_BPF parameter */
	u32 id;
	/* a file of the registering task: captured (fget) at registration */
	s32 backing_fd;
	/* from ublk_queue_rq(), not sleepable */
	u64 (*queue_io_cmd)(struct ublk_bpf_io *io, u32 offset);
	/* the daemon committed -EAGAIN: its context, sleepable */
	u64 (*queue_io_cmd_daemon)(struct ublk_bpf_io *io, u32 offset);
	/* a request BPF took completes; not sleepable */
	void (*release_io_cmd)(struct ublk_bpf_io *io);
};

/* One registered ops: what reg() captured, and who is using it. */
struct ublk_bpf_slot {
	struct ublk_bpf_ops ops;
	struct file *file;
	refcount_t users;
	struct rcu_head rcu;
};

static DEFINE_XARRAY(ublk_bpf_slots);

/*
 * Off only to measure what BLK_MQ_F_BLOCKING costs (kernel/README): devices
 * added then cannot do backing-file I/O from BPF (the kfuncs fail it).
 */
static bool bpf_blocking = true;
module_param(bpf_blocking, bool, 0644);
MODULE_PARM_DESC(bpf_blocking, "BPF devices' queues may sleep (needed for file I/O; default Y)");

/* One backing-file I/O of a request; the first is in the pdu. */
struct ublk_bpf_aio {
	struct kiocb iocb;
	struct ublk_bpf_io *io;
	u32 len;
};

/* The blk-mq pdu of a request on a device with UBLK_F_BPF_OPS. */
struct ublk_bpf_io {
	u32 ops_id;
	atomic_t ref; /* 1 while callbacks run, + 1 per backing I/O */
	atomic_t bytes; /* completed */
	int err; /* first error, 0 if none */
	u32 offset; /* bytes queued so far: the next callback's offset */
	bool aio_used; /* the embedded aio is taken */
	bool daemon; /* a hand-back (-EAGAIN): sleepable context */
	/* what a kfunc asked for during one callback, done after it returns */
	bool rw_pending, fsync_pending, fsync_data;
	u32 rw_offset, rw_len, rw_flags;
	u64 rw_pos;
	struct bio_vec *bvec; /* requests of several bios: all their bvecs */
	struct work_struct work; /* hand-backs from atomic context */
	struct ublk_bpf_aio aio;
};

static inline struct request *ublk_bpf_req(struct ublk_bpf_io *io)
{
	return blk_mq_rq_from_pdu(io);
}

static inline bool ublk_dev_bpf(const struct ublk_device *ub)
{
	return ub->dev_info.flags & UBLK_F_BPF_OPS;
}

static struct ublk_bpf_slot *ublk_bpf_slot_get(u32 id)
{
	struct ublk_bpf_slot *slot;

	rcu_read_lock();
	slot = xa_load(&ublk_bpf_slots, id);
	if (slot && !refcount_inc_not_zero(&slot->users))
		slot = NULL;
	rcu_read_unlock();
	return slot;
}

static void ublk_bpf_slot_put(struct ublk_bpf_slot *slot)
{
	if (refcount_dec_and_test(&slot->users))
		wake_up_var(&slot->users);
}

static void ublk_bpf_set_err(struct ublk_bpf_io *io, int err)
{
	cmpxchg(&io->err, 0, err);
}

/* The request is done: tell the program, then blk-mq. */
static void ublk_bpf_complete(struct ublk_bpf_io *io)
{
	struct request *req = ublk_bpf_req(io);
	struct ublk_bpf_slot *slot = ublk_bpf_slot_get(io->ops_id);
	blk_status_t sts = BLK_STS_OK;
	int err = READ_ONCE(io->err);

	if (slot) {
		if (slot->ops.release_io_cmd)
			slot->ops.release_io_cmd(io);
		ublk_bpf_slot_put(slot);
	}
	kfree(io->bvec);
	io->bvec = NULL;

	/* a read or write is done only in full (a short one hit EOF) */
	if (!err && blk_rq_has_data(req) &&
	    atomic_read(&io->bytes) != blk_rq_bytes(req))
		err = -EIO;
	if (err)
		sts = errno_to_blk_status(err);
	if (in_task())
		ublk_end_request(req, sts);
	else
		blk_mq_end_request(req, sts);
}

static void ublk_bpf_put(struct ublk_bpf_io *io)
{
	if (atomic_dec_and_test(&io->ref))
		ublk_bpf_complete(io);
}

static void ublk_bpf_aio_done(struct kiocb *iocb, long ret)
{
	struct ublk_bpf_aio *aio = container_of(iocb, struct ublk_bpf_aio, iocb);
	struct ublk_bpf_io *io = aio->io;

	if (iocb->ki_flags & IOCB_WRITE)
		kiocb_end_write(iocb);
	if (ret < 0)
		ublk_bpf_set_err(io, ret);
	else if (ret != aio->len)
		ublk_bpf_set_err(io, -EIO);
	else
		atomic_add(ret, &io->bytes);
	fput(iocb->ki_filp);
	if (aio != &io->aio)
		kfree(aio);
	ublk_bpf_put(io);
}

/* An iterator over the request's pages, as the loop driver builds it. */
static int ublk_bpf_iter(struct ublk_bpf_io *io, struct iov_iter *iter, int dir)
{
	struct request *req = ublk_bpf_req(io);
	unsigned int nr = blk_rq_nr_bvec(req);
	struct req_iterator ri;
	struct bio_vec bv, *p;

	if (req->bio == req->biotail) {
		iov_iter_bvec(iter, dir,
			      __bvec_iter_bvec(req->bio->bi_io_vec, req->bio->bi_iter),
			      nr, blk_rq_bytes(req));
		iter->iov_offset = req->bio->bi_iter.bi_offset;
		return 0;
	}
	if (!io->bvec) {
		/* bios may start inside a bvec (splits): walk, do not copy */
		io->bvec = kmalloc_array(nr, sizeof(*io->bvec), GFP_NOIO);
		if (!io->bvec)
			return -ENOMEM;
		p = io->bvec;
		rq_for_each_bvec(bv, req, ri)
			*p++ = bv;
	}
	iov_iter_bvec(iter, dir, io->bvec, nr, blk_rq_bytes(req));
	iter->iov_offset = 0;
	return 0;
}

/* Start the backing I/O a callback asked for, on the request's pages. */
static void ublk_bpf_submit_rw(struct ublk_bpf_io *io, struct file *file)
{
	struct request *req = ublk_bpf_req(io);
	bool write = req_op(req) == REQ_OP_WRITE;
	int dir = write ? ITER_SOURCE : ITER_DEST;
	struct ublk_bpf_aio *aio = &io->aio;
	struct iov_iter iter;
	ssize_t ret;

	if (write && !(file->f_mode & FMODE_WRITE)) {
		ublk_bpf_set_err(io, -EBADF);
		return;
	}
	if (io->aio_used) {
		aio = kmalloc(sizeof(*aio), GFP_NOIO);
		if (!aio) {
			ublk_bpf_set_err(io, -ENOMEM);
			return;
		}
	}
	io->aio_used = true;
	ret = ublk_bpf_iter(io, &iter, dir);
	if (ret) {
		ublk_bpf_set_err(io, ret);
		if (aio != &io->aio)
			kfree(aio);
		return;
	}
	iov_iter_advance(&iter, io->rw_offset);
	iov_iter_truncate(&iter, io->rw_len);

	init_sync_kiocb(&aio->iocb, get_file(file));
	aio->iocb.ki_pos = io->rw_pos;
	aio->iocb.ki_ioprio = req_get_ioprio(req);
	aio->iocb.ki_complete = ublk_bpf_aio_done;
	if (io->rw_flags & UBLK_BPF_RW_FUA)
		aio->iocb.ki_flags |= IOCB_DSYNC;
	aio->io = io;
	aio->len = io->rw_len;
	atomic_inc(&io->ref);
	if (write) {
		aio->iocb.ki_flags |= IOCB_WRITE;
		kiocb_start_write(&aio->iocb);
		ret = file->f_op->write_iter(&aio->iocb, &iter);
	} else {
		ret = file->f_op->read_iter(&aio->iocb, &iter);
	}
	if (ret != -EIOCBQUEUED)
		ublk_bpf_aio_done(&aio->iocb, ret);
}

static void __ublk_bpf_do_pending(struct ublk_bpf_io *io, struct file *file)
{
	struct request *req = ublk_bpf_req(io);
	int ret;

	if ((io->rw_pending || io->fsync_pending) && !io->daemon &&
	    !(req->q->tag_set->flags & BLK_MQ_F_BLOCKING)) {
		io->rw_pending = io->fsync_pending = false;
		ublk_bpf_set_err(io, -EOPNOTSUPP);
		return;
	}

	if (io->rw_pending) {
		io->rw_pending = false;
		if (!file)
			ublk_bpf_set_err(io, -EBADF);
		else
			ublk_bpf_submit_rw(io, file);
	}
	if (io->fsync_pending) {
		io->fsync_pending = false;
		ret = file ? vfs_fsync(file, io->fsync_data) : -EBADF;
		if (ret)
			ublk_bpf_set_err(io, ret);
	}
}

/*
 * What the kfuncs recorded during one callback: do it now, may sleep.
 * ublk_queue_rqs() may run inside the flush of the submitter's plug, on
 * the plug's own list: a bio for a backing block device plugged there
 * would be dispatched as one of our requests. Submit unplugged; the
 * plug's cached time goes first (the scheduler resets it through
 * current->plug while PF_BLOCK_TS is set).
 */
static void ublk_bpf_do_pending(struct ublk_bpf_io *io, struct file *file)
{
	struct blk_plug *plug = current->plug;

	if (plug)
		blk_plug_invalidate_ts();
	current->plug = NULL;
	__ublk_bpf_do_pending(io, file);
	current->plug = plug;
}

/* One callback call; the file is referenced for the pending work. */
static u64 ublk_bpf_call(struct ublk_bpf_io *io, struct file **filep)
{
	struct ublk_bpf_slot *slot = ublk_bpf_slot_get(io->ops_id);
	u64 (*cb)(struct ublk_bpf_io *io, u32 offset) = NULL;
	u64 ret = (u64)UBLK_BPF_IO_REDIRECT << UBLK_BPF_DISP_SHIFT;

	*filep = NULL;
	if (!slot)
		return ret;
	if (io->daemon)
		cb = slot->ops.queue_io_cmd_daemon;
	if (!cb)
		cb = slot->ops.queue_io_cmd;
	if (cb) {
		ret = cb(io, io->offset);
		if (slot->file && (io->rw_pending || io->fsync_pending))
			*filep = get_file(slot->file);
	}
	ublk_bpf_slot_put(slot);
	return ret;
}

static void ublk_bpf_io_init(struct ublk_bpf_io *io, u32 ops_id, bool daemon)
{
	io->ops_id = ops_id;
	atomic_set(&io->ref, 1);
	atomic_set(&io->bytes, 0);
	io->err = 0;
	io->offset = 0;
	io->aio_used = false;
	io->daemon = daemon;
	io->rw_pending = false;
	io->fsync_pending = false;
	io->bvec = NULL;
}

/*
 * Run the callbacks for a request until it is queued in full. Returns false
 * if it goes to the daemon (REDIRECT before anything was queued): the
 * request is then untouched.
 */
static bool ublk_bpf_run(struct ublk_bpf_io *io)
{
	struct request *req = ublk_bpf_req(io);
	u32 total = blk_rq_bytes(req), bytes;
	struct file *file;
	unsigned int calls;
	u64 ret;

	for (calls = 0; calls < UBLK_BPF_MAX_CALLS; calls++) {
		ret = ublk_bpf_call(io, &file);
		bytes = (u32)ret;
		switch (ret >> UBLK_BPF_DISP_SHIFT) {
		case UBLK_BPF_IO_REDIRECT:
			if (file)
				fput(file);
			io->rw_pending = io->fsync_pending = false;
			/* both sides cannot own parts of one request */
			if (!io->offset && !io->aio_used && !atomic_read(&io->bytes) &&
			    !io->err)
				return false;
			ublk_bpf_set_err(io, -EIO);
			goto out;
		case UBLK_BPF_IO_QUEUED:
			ublk_bpf_do_pending(io, file);
			goto out_put;
		case UBLK_BPF_IO_CONTINUE:
			ublk_bpf_do_pending(io, file);
			if (!bytes || (bytes & 511) || bytes > total - io->offset) {
				ublk_bpf_set_err(io, -EIO);
				goto out_put;
			}
			io->offset += bytes;
			if (io->offset == total)
				goto out_put;
			break;
		default:
			pr_err_ratelimited("ublk_bpf_ops %u: bad return value %llx\n",
					   io->ops_id, ret);
			ublk_bpf_do_pending(io, file);
			ublk_bpf_set_err(io, -EIO);
			goto out_put;
		}
		if (file)
			fput(file);
	}
	ublk_bpf_set_err(io, -EIO);
	goto out;
out_put:
	if (file)
		fput(file);
out:
	ublk_bpf_put(io);
	return true;
}

/* ublk_queue_rq(), ublk_queue_rqs(): true if BPF took the request. */
static bool ublk_bpf_queue_rq(struct ublk_queue *ubq, struct request *req)
{
	struct ublk_device *ub = ubq->dev;
	struct ublk_bpf_io *io;

	if (likely(!READ_ONCE(ub->bpf_bound)))
		return false;
	io = blk_mq_rq_to_pdu(req);
	ublk_bpf_io_init(io, ub->bpf_ops_id, false);
	return ublk_bpf_run(io);
}

/*
 * Handed back, then redirected (e.g. a map entry the daemon filled was
 * evicted meanwhile): the request goes round again, through queue_rq,
 * where BPF may take it or the daemon serves it itself.
 */
static void ublk_bpf_redirect_again(struct request *req)
{
	blk_mq_requeue_request(req, true);
}

static void ublk_bpf_hand_back_work(struct work_struct *work)
{
	struct ublk_bpf_io *io = container_of(work, struct ublk_bpf_io, work);

	if (!ublk_bpf_run(io))
		ublk_bpf_redirect_again(ublk_bpf_req(io));
}

/*
 * The daemon committed -EAGAIN ("BPF, take it from here"): run the daemon
 * callback in the daemon's context, or from a work item when this is
 * reached where it cannot sleep. False: not ours, complete as usual.
 */
static bool ublk_bpf_hand_back(struct request *req)
{
	struct ublk_queue *ubq = req->mq_hctx->driver_data;
	struct ublk_device *ub = ubq->dev;
	struct ublk_bpf_io *io;

	if (!ublk_dev_bpf(ub) || !READ_ONCE(ub->bpf_bound))
		return false;
	io = blk_mq_rq_to_pdu(req);
	ublk_bpf_io_init(io, ub->bpf_ops_id, true);
	if (!preemptible()) {
		INIT_WORK(&io->work, ublk_bpf_hand_back_work);
		queue_work(system_unbound_wq, &io->work);
		return true;
	}
	if (!ublk_bpf_run(io))
		ublk_bpf_redirect_again(req);
	return true;
}

/* ADD_DEV: what a BPF device needs from its tag set. */
static int ublk_bpf_init_tag_set(struct ublk_device *ub)
{
	if (!ublk_dev_bpf(ub))
		return 0;
	if (ub->dev_info.flags & (UBLK_F_BATCH_IO | UBLK_F_ZONED)) {
		pr_warn("ublk%d: UBLK_F_BPF_OPS does not go with batch I/O or zoned\n",
			ub->dev_info.dev_id);
		return -EINVAL;
	}
	ub->tag_set.cmd_size = sizeof(struct ublk_bpf_io);
	/* backing file I/O is submitted from ->queue_rq() and may sleep */
	if (bpf_blocking)
		ub->tag_set.flags |= BLK_MQ_F_BLOCKING;
	return 0;
}

/* SET_PARAMS: struct ublk_param_bpf follows struct ublk_params. */
static int ublk_bpf_set_param(struct ublk_device *ub, const void __user *argp,
			      u32 len)
{
	struct ublk_param_bpf p;

	WRITE_ONCE(ub->bpf_bound, false);
	if (!(ub->params.types & UBLK_PARAM_TYPE_BPF))
		return 0;
	if (!ublk_dev_bpf(ub) || len < sizeof(struct ublk_params) + sizeof(p))
		return -EINVAL;
	if (copy_from_user(&p, argp + sizeof(struct ublk_params), sizeof(p)))
		return -EFAULT;
	if (p.flags || p.reserved)
		return -EINVAL;
	ub->bpf_ops_id = p.ops_id;
	WRITE_ONCE(ub->bpf_bound, true);
	return 0;
}

/* GET_PARAMS: the binding, after struct ublk_params, if the buffer has room. */
static int ublk_bpf_get_param(struct ublk_device *ub, void __user *argp, u32 len)
{
	struct ublk_param_bpf p = { .ops_id = ub->bpf_ops_id };

	if (!(ub->params.types & UBLK_PARAM_TYPE_BPF) ||
	    len < sizeof(struct ublk_params) + sizeof(p))
		return 0;
	if (copy_to_user(argp + sizeof(struct ublk_params), &p, sizeof(p)))
		return -EFAULT;
	return 0;
}

/* ---------------------------------------------------------------- kfuncs */

__bpf_kfunc_start_defs();

/*
 * Fill @desc (a struct ublksrv_io_desc) from the request: op and flags,
 * start sector, sectors; addr is 0 (the data is the request's pages).
 */
__bpf_kfunc int ublk_bpf_get_iod(struct ublk_bpf_io *io, void *desc, u32 desc__sz)
{
	struct request *req = ublk_bpf_req(io);
	struct ublksrv_io_desc iod = {};

	if (desc__sz != sizeof(iod))
		return -EINVAL;
	switch (req_op(req)) {
	case REQ_OP_READ:
		iod.op_flags = UBLK_IO_OP_READ;
		break;
	case REQ_OP_WRITE:
		iod.op_flags = UBLK_IO_OP_WRITE;
		break;
	case REQ_OP_FLUSH:
		iod.op_flags = UBLK_IO_OP_FLUSH;
		break;
	case REQ_OP_DISCARD:
		iod.op_flags = UBLK_IO_OP_DISCARD;
		break;
	case REQ_OP_WRITE_ZEROES:
		iod.op_flags = UBLK_IO_OP_WRITE_ZEROES;
		break;
	default:
		return -EOPNOTSUPP;
	}
	iod.op_flags |= ublk_req_build_flags(req);
	iod.nr_sectors = blk_rq_sectors(req);
	iod.start_sector = blk_rq_pos(req);
	memcpy(desc, &iod, sizeof(iod));
	return 0;
}

/* The request's tag and queue, for per-request state in maps. */
__bpf_kfunc u32 ublk_bpf_get_tag(struct ublk_bpf_io *io)
{
	struct request *req = ublk_bpf_req(io);

	return req->mq_hctx->queue_num << 16 | req->tag;
}

/*
 * Account @res for the request: bytes done, or an error (the first one
 * wins). It completes when the callback returns QUEUED and every backing
 * I/O it queued is done.
 */
__bpf_kfunc void ublk_bpf_complete_io(struct ublk_bpf_io *io, int res)
{
	if (res < 0)
		ublk_bpf_set_err(io, res < -MAX_ERRNO ? -EIO : res);
	else
		atomic_add(res, &io->bytes);
}

/*
 * Queue backing-file I/O for this request: @len bytes at file position
 * @pos, from/to the request's data at byte @offset (the request's own
 * pages: zero copy). One per callback call; it starts when the callback
 * returns.
 */
__bpf_kfunc int ublk_bpf_aio_rw(struct ublk_bpf_io *io, u32 offset, u32 len,
				  u64 pos, u32 flags)
{
	struct request *req = ublk_bpf_req(io);

	if (req_op(req) != REQ_OP_READ && req_op(req) != REQ_OP_WRITE)
		return -EINVAL;
	if (io->rw_pending)
		return -EBUSY;
	if (!len || (len | offset | pos) & 511 || flags & ~UBLK_BPF_RW_FUA ||
	    offset > blk_rq_bytes(req) || len > blk_rq_bytes(req) - offset ||
	    pos > LLONG_MAX - len)
		return -EINVAL;
	io->rw_offset = offset;
	io->rw_len = len;
	io->rw_pos = pos;
	io->rw_flags = flags;
	io->rw_pending = true;
	return 0;
}

/* Queue an fsync of the backing file (fdatasync if @datasync). */
__bpf_kfunc int ublk_bpf_aio_fsync(struct ublk_bpf_io *io, u32 datasync)
{
	if (io->fsync_pending)
		return -EBUSY;
	io->fsync_data = datasync;
	io->fsync_pending = true;
	return 0;
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(ublk_bpf_kfunc_ids)
BTF_ID_FLAGS(func, ublk_bpf_get_iod)
BTF_ID_FLAGS(func, ublk_bpf_get_tag)
BTF_ID_FLAGS(func, ublk_bpf_complete_io)
BTF_ID_FLAGS(func, ublk_bpf_aio_rw)
BTF_ID_FLAGS(func, ublk_bpf_aio_fsync)
BTF_KFUNCS_END(ublk_bpf_kfunc_ids)

static const struct btf_kfunc_id_set ublk_bpf_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &ublk_bpf_kfunc_ids,
};

/* ------------------------------------------------------------- struct_ops */

static bool ublk_bpf_ops_valid_access(int off, int size, enum bpf_access_type type,
				      const struct bpf_prog *prog,
				      struct bpf_insn_access_aux *info)
{
	return bpf_tracing_btf_ctx_access(off, size, type, prog, info);
}

/* Programs change nothing of ours but through the kfuncs. */
static int ublk_bpf_ops_struct_access(struct bpf_verifier_log *log,
				      const struct bpf_reg_state *reg, int off, int size)
{
	return -EACCES;
}

static const struct bpf_verifier_ops ublk_bpf_verifier_ops = {
	.get_func_proto = bpf_base_func_proto,
	.is_valid_access = ublk_bpf_ops_valid_access,
	.btf_struct_access = ublk_bpf_ops_struct_access,
};

static int ublk_bpf_ops_init(struct btf *btf)
{
	return 0;
}

/* Only the daemon-context callback may sleep. */
static int ublk_bpf_ops_check_member(const struct btf_type *t,
				     const struct btf_member *member,
				     const struct bpf_prog *prog)
{
	u32 moff = __btf_member_bit_offset(t, member) / 8;

	if (moff == offsetof(struct ublk_bpf_ops, queue_io_cmd_daemon))
		return 0;
	return prog->sleepable ? -EINVAL : 0;
}

static int ublk_bpf_ops_init_member(const struct btf_type *t,
				    const struct btf_member *member,
				    void *kdata, const void *udata)
{
	const struct ublk_bpf_ops *uops = udata;
	struct ublk_bpf_ops *kops = kdata;
	u32 moff = __btf_member_bit_offset(t, member) / 8;

	switch (moff) {
	case offsetof(struct ublk_bpf_ops, id):
		kops->id = uops->id;
		return 1;
	case offsetof(struct ublk_bpf_ops, backing_fd):
		kops->backing_fd = uops->backing_fd;
		return 1;
	}
	return 0;
}

static int ublk_bpf_ops_reg(void *kdata, struct bpf_link *link)
{
	struct ublk_bpf_ops *ops = kdata;
	struct ublk_bpf_slot *slot;
	int ret;

	slot = kzalloc(sizeof(*slot), GFP_KERNEL);
	if (!slot)
		return -ENOMEM;
	slot->ops = *ops;
	refcount_set(&slot->users, 1);
	if (ops->backing_fd >= 0) {
		slot->file = fget(ops->backing_fd);
		ret = -EBADF;
		if (!slot->file || !(slot->file->f_mode & FMODE_READ) ||
		    !slot->file->f_op->read_iter || !slot->file->f_op->write_iter)
			goto fail;
	}
	ret = xa_insert(&ublk_bpf_slots, ops->id, slot, GFP_KERNEL);
	if (!ret)
		return 0;
fail:
	if (slot->file)
		fput(slot->file);
	kfree(slot);
	return ret;
}

static void ublk_bpf_ops_unreg(void *kdata, struct bpf_link *link)
{
	struct ublk_bpf_ops *ops = kdata;
	struct ublk_bpf_slot *slot = xa_erase(&ublk_bpf_slots, ops->id);

	if (!slot)
		return;
	/* callbacks run under a slot reference: wait for the last one */
	ublk_bpf_slot_put(slot);
	wait_var_event(&slot->users, !refcount_read(&slot->users));
	if (slot->file)
		fput(slot->file);
	kfree_rcu(slot, rcu);
}

static u64 ublk_bpf_queue_io_cmd_stub(struct ublk_bpf_io *io, u32 offset)
{
	return (u64)UBLK_BPF_IO_REDIRECT << UBLK_BPF_DISP_SHIFT;
}

static u64 ublk_bpf_queue_io_cmd_daemon_stub(struct ublk_bpf_io *io, u32 offset)
{
	return (u64)UBLK_BPF_IO_REDIRECT << UBLK_BPF_DISP_SHIFT;
}

static void ublk_bpf_release_io_cmd_stub(struct ublk_bpf_io *io)
{
}

static struct ublk_bpf_ops ublk_bpf_ops_stubs = {
	.queue_io_cmd = ublk_bpf_queue_io_cmd_stub,
	.queue_io_cmd_daemon = ublk_bpf_queue_io_cmd_daemon_stub,
	.release_io_cmd = ublk_bpf_release_io_cmd_stub,
};

static struct bpf_struct_ops ublk_bpf_struct_ops = {
	.verifier_ops = &ublk_bpf_verifier_ops,
	.init = ublk_bpf_ops_init,
	.check_member = ublk_bpf_ops_check_member,
	.init_member = ublk_bpf_ops_init_member,
	.reg = ublk_bpf_ops_reg,
	.unreg = ublk_bpf_ops_unreg,
	.cfi_stubs = &ublk_bpf_ops_stubs,
	.name = "ublk_bpf_ops",
	.owner = THIS_MODULE,
};

static int __init ublk_bpf_init(void)
{
	int ret;

	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_STRUCT_OPS, &ublk_bpf_kfunc_set);
	if (!ret)
		ret = register_bpf_struct_ops(&ublk_bpf_struct_ops, ublk_bpf_ops);
	if (ret)
		pr_err("ublk: cannot register struct ublk_bpf_ops: %d\n", ret);
	return ret;
}
