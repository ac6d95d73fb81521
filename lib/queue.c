// SPDX-License-Identifier: MIT
/*
 * One hardware queue: its thread, its io_uring and the FETCH/COMMIT cycle.
 *
 * The ring is created by the thread that uses it (SINGLE_ISSUER and
 * DEFER_TASKRUN bind it to that task), and the kernel requires every
 * COMMIT_AND_FETCH for a tag to come from the task that fetched it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "priv.h"

/*
 * Never NULL: a full SQ is flushed to the kernel, and the CQ is sized for
 * every operation that can be in flight, so the flush cannot be refused.
 */
struct io_uring_sqe *ublk_queue_get_sqe(struct ublk_queue *q)
{
	struct io_uring_sqe *sqe;
	int ret;

	if (q->bpf)
		return ublk_bpf_get_sqe(q);
	sqe = io_uring_get_sqe(&q->ring);
	if (sqe)
		return sqe;
	ret = io_uring_submit(&q->ring);
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) {
		ublk_err("queue %d: SQ full and submit failed: %s", q->q_id, strerror(-ret));
		abort();
	}
	return sqe;
}

static void ublk_queue_cmd(struct ublk_queue *q, int tag, __u32 cmd_op, int res)
{
	struct io_uring_sqe *sqe = ublk_queue_get_sqe(q);
	struct ublksrv_io_cmd *cmd;

	/* fixed file 0 is /dev/ublkcN */
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, 0, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->cmd_op = cmd_op;
	sqe->user_data = ublk_user_data(tag, _IOC_NR(cmd_op), 0, false);

	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	memset(cmd, 0, sizeof(*cmd));
	cmd->q_id = q->q_id;
	cmd->tag = tag;
	cmd->result = res;

	switch (q->dev->data_mode) {
	case UBLK_DATA_COPY:
		cmd->addr = (__u64)(uintptr_t)q->ios[tag].buf;
		break;
	case UBLK_DATA_AUTO_ZC: {
		/* the request's pages land at fixed buffer index == tag */
		struct ublk_auto_buf_reg reg = { .index = tag };

		sqe->addr = ublk_auto_buf_reg_to_sqe_addr(&reg);
		break;
	}
	case UBLK_DATA_USER_COPY:
		break;
	}
	q->cmd_inflight++;
}

/* A queue logs its first failed requests; after that they are only counted. */
#define UBLK_IO_ERR_LOGGED 10

static void ublk_log_io_err(const struct ublk_queue *q, int tag, int res)
{
	static const char *const names[] = {
		"read", "write", "flush", "discard", "write same", "write zeroes",
	};
	const struct ublksrv_io_desc *iod = &q->iods[tag];
	__u8 op = ublksrv_get_op(iod);

	ublk_err("queue %d: %s of %u sectors at sector %llu failed: %s%s", q->q_id,
		 op < sizeof(names) / sizeof(names[0]) ? names[op] : "request", iod->nr_sectors,
		 (unsigned long long)iod->start_sector, res ? strerror(-res) : "nothing read",
		 q->nr_io_err == UBLK_IO_ERR_LOGGED ? " (further errors are only counted)" : "");
}

/* What the kernel fails: an error, or a read that read nothing (EOF). */
static inline bool ublk_io_failed(const struct ublk_queue *q, int tag, int res)
{
	return res < 0 || (!res && ublksrv_get_op(&q->iods[tag]) == UBLK_IO_OP_READ);
}

void ublk_complete_io(struct ublk_queue *q, int tag, int res)
{
	struct ublk_io *io = &q->ios[tag];

	if (io->flags & UBLK_IO_IN_TGT) {
		io->flags &= ~UBLK_IO_IN_TGT;
		q->tgt_inflight--;
	}
	if (ublk_io_failed(q, tag, res) && ++q->nr_io_err <= UBLK_IO_ERR_LOGGED)
		ublk_log_io_err(q, tag, res);
	ublk_queue_cmd(q, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, res);
}

static void ublk_handle_io(struct ublk_queue *q, int tag)
{
	struct ublk_io *io = &q->ios[tag];
	int ret;

	q->nr_io++;
	io->result = 0;
	io->pending = 0;
	io->flags |= UBLK_IO_IN_TGT;
	q->tgt_inflight++;

	if (ublk_bpf_debug_hand_back(q) || ublk_bpf_seed_debug_hand_back(q, tag))
		ret = -EAGAIN;
	else
		ret = q->dev->ops->queue_io(q, tag, &q->iods[tag]);
	if (ret == -EAGAIN && (q->bpf || q->dev->bpf_seed)) {
		/* prepared: let the BPF handler serve it after all */
		io->flags &= ~UBLK_IO_IN_TGT;
		q->tgt_inflight--;
		if (q->bpf)
			ublk_bpf_hand_back(q, tag);
		else /* the module runs queue_io_cmd_daemon on this commit */
			ublk_queue_cmd(q, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, -EAGAIN);
		return;
	}
	if (ret < 0)
		ublk_complete_io(q, tag, ret);
}

void ublk_handle_cqe(struct ublk_queue *q, const struct io_uring_cqe *cqe)
{
	unsigned int tag = ublk_ud_tag(cqe->user_data);

	if (cqe->user_data == UBLK_UD_STOP) {
		if (__atomic_load_n(&q->dev->draining, __ATOMIC_ACQUIRE))
			q->draining = true;
		else
			q->stopping = true;
		return;
	}
	if (tag >= (unsigned int)q->depth) {
		ublk_err("queue %d: CQE with bad tag %u", q->q_id, tag);
		return;
	}
	if (ublk_ud_is_tgt(cqe->user_data)) {
		if (q->dev->ops->io_done)
			q->dev->ops->io_done(q, tag, cqe);
		return;
	}

	q->cmd_inflight--;
	/*
	 * Quiesced, every request we get is one the kernel handed out before
	 * and must be served; draining without quiesce drops it (the kernel
	 * reissues it with REISSUE).
	 */
	if (cqe->res == UBLK_IO_RES_OK && (!q->draining || q->dev->quiesced)) {
		ublk_handle_io(q, tag);
		return;
	}
	if (cqe->res == UBLK_IO_RES_OK)
		return;
	/* ABORT: the device is going away; anything else is a bug of ours */
	if (cqe->res != UBLK_IO_RES_ABORT)
		ublk_err("queue %d tag %u: io command failed: %s", q->q_id, tag,
			 strerror(-cqe->res));
	q->ios[tag].flags |= UBLK_IO_FREE;
}

/*
 * Draining and the target holds nothing: commit the last results. A
 * request the kernel dispatched before it was quiesced may still sit in
 * deferred task work: run it, and go on serving if it brought a CQE.
 */
static bool ublk_queue_drained(struct ublk_queue *q)
{
	io_uring_submit(&q->ring);
	if (!q->dev->quiesced)
		return true;
	io_uring_get_events(&q->ring);
	return !io_uring_cq_ready(&q->ring);
}

/*
 * Fault injection for the tests (UBLK_TEST_QUEUE_FAIL_AFTER=N): a queue
 * gives up as on an io_uring error once it served N requests (unless the
 * device is already being let go of).
 */
static void ublk_queue_fault_init(struct ublk_queue *q)
{
	const char *env = getenv("UBLK_TEST_QUEUE_FAIL_AFTER");

	if (env)
		q->fail_after = strtoull(env, NULL, 10);
}

bool ublk_queue_fault(struct ublk_queue *q)
{
	struct ublk_bpf_stats st = {};
	__u64 nr_served;

	if (!q->fail_after || q->draining)
		return false;
	/* what the daemon served, and BPF on either backend */
	ublk_bpf_queue_stats(q, &st);
	nr_served = q->nr_io + st.nr_bpf;
	if (nr_served < q->fail_after)
		return false;
	ublk_err("queue %d: injected failure after %llu requests", q->q_id,
		 (unsigned long long)nr_served);
	q->failed = true;
	return true;
}

static void ublk_queue_loop(struct ublk_queue *q)
{
	while (!q->stopping && (q->cmd_inflight || q->tgt_inflight)) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;
		int ret;

		if (q->draining && !q->tgt_inflight && ublk_queue_drained(q))
			break;
		ret = io_uring_submit_and_wait(&q->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			ublk_err("queue %d: io_uring_enter: %s", q->q_id, strerror(-ret));
			q->failed = true;
			break;
		}
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			ublk_handle_cqe(q, cqe);
			n++;
		}
		io_uring_cq_advance(&q->ring, n);
		if (ublk_queue_fault(q))
			break;
	}
}

static int ublk_queue_map_iods(struct ublk_queue *q)
{
	size_t page = sysconf(_SC_PAGESIZE);
	size_t max_len = ublk_round_up(UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc), page);
	void *p;

	q->iods_len = ublk_round_up(q->depth * sizeof(struct ublksrv_io_desc), page);
	p = mmap(NULL, q->iods_len, PROT_READ, MAP_SHARED | MAP_POPULATE, q->dev->cdev_fd,
		 UBLKSRV_CMD_BUF_OFFSET + q->q_id * max_len);
	if (p == MAP_FAILED)
		return -errno;
	q->iods = p;
	return 0;
}

/*
 * Anonymous memory is zero-filled, so a target that does not fill a READ
 * buffer (null) returns zeroes, never stale daemon memory; pages are only
 * allocated once touched.
 */
static int ublk_queue_alloc_bufs(struct ublk_queue *q)
{
	size_t bytes = q->dev->info.max_io_buf_bytes;
	int i;

	if (q->dev->data_mode == UBLK_DATA_AUTO_ZC)
		return io_uring_register_buffers_sparse(&q->ring, q->depth);

	q->bufs_len = bytes * q->depth;
	q->bufs = mmap(NULL, q->bufs_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (q->bufs == MAP_FAILED) {
		q->bufs = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < q->depth; i++)
		q->ios[i].buf = (char *)q->bufs + i * bytes;
	return 0;
}

static int ublk_queue_register_files(struct ublk_queue *q)
{
	const struct ublk_tgt *tgt = &q->dev->tgt;
	int fds[1 + UBLK_MAX_TGT_FDS];
	int i;

	fds[0] = q->dev->cdev_fd;
	for (i = 0; i < tgt->nr_fds; i++)
		fds[ublk_tgt_fixed_fd(i)] = tgt->fds[i];
	return io_uring_register_files(&q->ring, fds, 1 + tgt->nr_fds);
}

/*
 * Every queue thread is bound to one CPU of the set the kernel suggests
 * (queue q takes the q-th, so that queues spread out), as kublk does: the
 * thread and its io-wq workers then stay where the wake-ups go instead of
 * being moved between CPUs per request (docs/benchmarks.md has the
 * measurement). A BPF queue thread also needs it: it spends its life in
 * the program, which is sleepable, migration disabled yet preemptible,
 * and Linux 7.3 once warned in set_task_cpu() when the load balancer
 * moved such a task; a thread bound to one CPU is never a candidate.
 */
static void ublk_queue_pin_one_cpu(struct ublk_queue *q)
{
	int n = CPU_COUNT(&q->affinity), i, cpu, pick;

	if (n <= 1)
		return;
	pick = q->q_id % n;
	for (cpu = 0, i = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &q->affinity) || i++ != pick)
			continue;
		CPU_ZERO(&q->affinity);
		CPU_SET(cpu, &q->affinity);
		return;
	}
}

static int ublk_queue_init(struct ublk_queue *q)
{
	struct ublk_dev *dev = q->dev;
	struct io_uring_params p = {
		.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
		/* checked against UBLK_MAX_CQ_ENTRIES when the options were */
		.cq_entries = q->depth * ublk_cqes_per_tag(dev->info.max_io_buf_bytes,
							   dev->bpf ? dev->bpf_split_bytes : 0),
	};
	struct io_uring_sqe *sqe;
	int ret, i;

	q->tid = gettid();
	ublk_queue_fault_init(q);
	ublk_queue_pin_one_cpu(q);
	if (CPU_COUNT(&q->affinity))
		pthread_setaffinity_np(pthread_self(), sizeof(q->affinity), &q->affinity);
	/* we sit under the page cache's writeback: don't recurse into it */
	prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);

	q->ios = calloc(q->depth, sizeof(*q->ios));
	if (!q->ios)
		return -ENOMEM;
	if (ublk_dev_bpf_ring(q->dev)) {
		ret = ublk_bpf_queue_init(q);
		if (ret < 0)
			return ret;
		p.flags |= ublk_bpf_ring_flags();
	}
	ret = io_uring_queue_init_params(2 * q->depth, &q->ring, &p);
	if (ret < 0)
		return ret;
	q->cq_off_head = p.cq_off.head;
	q->cq_off_cqes = p.cq_off.cqes;
	ret = ublk_queue_register_files(q);
	if (ret < 0)
		return ret;
	ret = ublk_queue_map_iods(q);
	if (ret < 0)
		return ret;
	ret = ublk_queue_alloc_bufs(q);
	if (ret < 0)
		return ret;

	for (i = 0; i < q->depth; i++)
		ublk_queue_cmd(q, i, UBLK_U_IO_FETCH_REQ, -1);

	sqe = ublk_queue_get_sqe(q);
	io_uring_prep_read(sqe, q->stop_evfd, &q->stop_buf, sizeof(q->stop_buf), 0);
	sqe->user_data = UBLK_UD_STOP;

	if (!q->bpf) {
		ret = io_uring_submit(&q->ring);
		return ret < 0 ? ret : 0;
	}
	ret = ublk_bpf_submit_direct(q);
	if (ret < 0)
		return ret;
	return ublk_bpf_queue_attach(q);
}

static void ublk_queue_deinit(struct ublk_queue *q)
{
	ublk_bpf_queue_exit(q);
	/* closing the ring cancels any FETCH still pending */
	if (q->ring.ring_fd > 0)
		io_uring_queue_exit(&q->ring);
	/* DEL_DEV waits for this mapping to go */
	if (q->iods)
		munmap((void *)q->iods, q->iods_len);
	q->iods = NULL;
	if (q->bufs)
		munmap(q->bufs, q->bufs_len);
	q->bufs = NULL;
	free(q->ios);
	q->ios = NULL;
}

/*
 * A failed queue reports its exit but keeps its ring until the device thread
 * has acted: QUIESCE_DEV cancels the ring's FETCHes, and the ring's exit
 * cancelling them at the same time makes ublk_drv WARN (io->cmd != cmd).
 */
static void ublk_queue_report_failure(struct ublk_queue *q)
{
	eventfd_t v;

	eventfd_write(q->dev->exit_evfd, 1);
	while (eventfd_read(q->dev->release_evfd, &v) && errno == EINTR)
		;
}

void *ublk_queue_thread(void *arg)
{
	struct ublk_queue *q = arg;
	struct ublk_dev *dev = q->dev;

	q->err = ublk_queue_init(q);
	eventfd_write(dev->ready_evfd, 1);
	if (!q->err && q->bpf)
		ublk_bpf_queue_loop(q);
	else if (!q->err)
		ublk_queue_loop(q);
	if (q->failed)
		ublk_queue_report_failure(q);
	ublk_queue_deinit(q);
	if (!q->failed)
		eventfd_write(dev->exit_evfd, 1);
	return NULL;
}
