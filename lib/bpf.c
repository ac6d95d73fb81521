// SPDX-License-Identifier: MIT
/*
 * BPF fast path, userspace side: probe what the kernel offers, load one
 * program instance per queue ring, and run the queue thread as the slow path
 * of an io_uring_bpf_ops loop (include/ublk_bpf.h has the protocol).
 *
 * The queue thread sleeps in io_uring_enter(), where the program serves
 * requests; the call returns only when the program redirects a CQE to us,
 * the queue is done, or the program failed.
 */
#include "config.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "priv.h"
#include "ublksrv_bpf.h"

const char *ublk_bpf_mode_name(enum ublk_bpf_mode mode)
{
	switch (mode) {
	case UBLK_BPF_OFF:
		return "off";
	case UBLK_BPF_ON:
		return "on";
	case UBLK_BPF_AUTO:
		return "auto";
	}
	return "?";
}

#ifdef HAVE_BPF
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#ifndef IORING_SETUP_SQ_REWIND
#define IORING_SETUP_SQ_REWIND (1U << 20) /* Linux 7.0; liburing 2.9 lacks it */
#endif

#define UBLK_BPF_RING_FLAGS (IORING_SETUP_NO_SQARRAY | IORING_SETUP_SQ_REWIND)

struct ublk_bpf_queue {
	struct ublk_bpf_skel skel;
	struct bpf_link *link;
	unsigned int user_nr; /* SQEs we wrote at slots 0..user_nr-1 */
};

static bool ublk_has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

/* struct_ops needs CAP_BPF; reading descriptors from user memory CAP_PERFMON */
int ublk_bpf_check_caps(char *why, size_t len)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {};
	bool admin;

	if (syscall(SYS_capget, &hdr, d) < 0) {
		snprintf(why, len, "capget: %s", strerror(errno));
		return -errno;
	}
	admin = ublk_has_cap(d, CAP_SYS_ADMIN);
	if (!admin && !ublk_has_cap(d, CAP_BPF)) {
		snprintf(why, len, "CAP_BPF is missing");
		return -EPERM;
	}
	if (!admin && !ublk_has_cap(d, CAP_PERFMON)) {
		snprintf(why, len, "CAP_PERFMON is missing");
		return -EPERM;
	}
	return 0;
}

static int ublk_bpf_check_btf(char *why, size_t len)
{
	static const char *const funcs[] = { "bpf_io_uring_submit_sqes",
					     "bpf_io_uring_get_region" };
	struct btf *btf = btf__load_vmlinux_btf();
	int ret = 0;
	size_t i;

	if (!btf) {
		snprintf(why, len, "the kernel's BTF (/sys/kernel/btf/vmlinux) is not readable");
		return -ENOENT;
	}
	if (btf__find_by_name_kind(btf, "io_uring_bpf_ops", BTF_KIND_STRUCT) < 0) {
		snprintf(
			why, len,
			"the kernel has no io_uring_bpf_ops (Linux >= 7.3 with CONFIG_IO_URING_BPF_OPS)");
		ret = -EOPNOTSUPP;
	}
	for (i = 0; !ret && i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		if (btf__find_by_name_kind(btf, funcs[i], BTF_KIND_FUNC) < 0) {
			snprintf(why, len, "the kernel lacks the kfunc %s", funcs[i]);
			ret = -EOPNOTSUPP;
		}
	}
	btf__free(btf);
	return ret;
}

/* The ring setup the program needs: SQ_REWIND is new in Linux 7.0. */
static int ublk_bpf_check_ring(char *why, size_t len)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			 UBLK_BPF_RING_FLAGS,
	};
	struct io_uring ring;
	int ret = io_uring_queue_init_params(2, &ring, &p);

	if (ret < 0) {
		snprintf(why, len, "io_uring does not take IORING_SETUP_SQ_REWIND: %s",
			 strerror(-ret));
		return ret;
	}
	io_uring_queue_exit(&ring);
	return 0;
}

int ublk_bpf_probe(__u64 features, char *why, size_t len)
{
	int ret;

	if (!(features & UBLK_F_AUTO_BUF_REG)) {
		snprintf(why, len, "the ublk driver lacks UBLK_F_AUTO_BUF_REG (zero copy)");
		return -EOPNOTSUPP;
	}
	ret = ublk_bpf_check_caps(why, len);
	if (!ret)
		ret = ublk_bpf_check_btf(why, len);
	if (!ret)
		ret = ublk_bpf_check_ring(why, len);
	return ret;
}

unsigned int ublk_bpf_ring_flags(void)
{
	return UBLK_BPF_RING_FLAGS;
}

/*
 * libbpf's warnings go to our log, one line each; of a verifier log (which
 * runs to thousands of lines) only the last lines, where the reason is,
 * unless UBLK_BPF_VERBOSE is set.
 */
int ublk_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static const int keep = 4;
	bool verbose = getenv("UBLK_BPF_VERBOSE");
	char *msg, *line, *save = NULL;
	int n = 0, skip = 0;

	if (level != LIBBPF_WARN && !verbose)
		return 0;
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	if (!verbose && strstr(msg, "BEGIN PROG LOAD LOG")) {
		for (line = msg; (line = strchr(line, '\n')); line++)
			n++;
		skip = n > keep + 1 ? n - keep - 1 : 0;
	}
	for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (skip-- > 0)
			continue;
		ublk_log(LOG_WARNING, "%s", line);
	}
	free(msg);
	return 0;
}

int ublk_bpf_queue_init(struct ublk_queue *q)
{
	q->bpf = calloc(1, sizeof(*q->bpf));
	return q->bpf ? 0 : -ENOMEM;
}

static void ublk_bpf_fill_cfg(struct ublk_queue *q, struct ublk_bpf_cfg *cfg)
{
	const struct ublk_dev *dev = q->dev;

	cfg->iods = (__u64)(uintptr_t)q->iods;
	cfg->cq_head_off = q->cq_off_head;
	cfg->cqes_off = q->cq_off_cqes;
	cfg->cq_entries = q->ring.cq.ring_entries;
	cfg->sq_entries = q->ring.sq.ring_entries;
	cfg->cq_region_size = q->cq_off_cqes + (__u64)cfg->cq_entries * sizeof(struct io_uring_cqe);
	cfg->sq_region_size = (__u64)cfg->sq_entries * sizeof(struct io_uring_sqe);
	cfg->q_id = q->q_id;
	cfg->depth = q->depth;
	cfg->redirect_every = dev->bpf_redirect_every;
	cfg->split_bytes = dev->bpf_split_bytes;
	cfg->tgt_fd = ublk_tgt_fixed_fd(0);
	cfg->poll_ns = dev->bpf_poll_us * 1000ULL;
}

/*
 * Fault injection for the tests (105-bpf-bad-input): the program declared
 * as a socket filter cannot serve a struct_ops map, so the load fails for
 * real and the daemon goes down its real error path.
 */
static void ublk_bpf_test_break(struct ublk_bpf_skel *s)
{
	struct bpf_program *prog;

	if (!getenv("UBLK_TEST_BPF_BREAK"))
		return;
	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_type(prog, BPF_PROG_TYPE_SOCKET_FILTER);
}

/*
 * With a target's hooks, prepare, load, attach and ready run for one queue
 * at a time: the first queue's map exists (and has an fd) before the next
 * queue's bpf_prepare may reuse it.
 */
static pthread_mutex_t ublk_bpf_hook_lock = PTHREAD_MUTEX_INITIALIZER;

static int ublk_bpf_hook(struct ublk_queue *q,
			 int (*hook)(struct ublk_queue *, struct ublk_bpf_skel *), const char *what)
{
	int ret;

	if (!hook)
		return 0;
	q->errmsg[0] = '\0';
	ret = hook(q, &q->bpf->skel);
	if (ret && !q->errmsg[0])
		snprintf(q->errmsg, sizeof(q->errmsg), "the %s target's BPF %s hook failed: %s",
			 q->dev->ops->name, what, strerror(ret < 0 ? -ret : EINVAL));
	return ret < 0 ? ret : ret ? -EINVAL : 0;
}

static int ublk_bpf_load_attach(struct ublk_queue *q)
{
	struct ublk_bpf_queue *b = q->bpf;
	struct ublk_bpf_skel *s = &b->skel;
	int ret;

	ret = ublk_bpf_hook(q, q->dev->ops->bpf_prepare, "prepare");
	if (ret)
		return ret;
	ret = s->load(s->skel);
	if (ret) {
		snprintf(
			q->errmsg, sizeof(q->errmsg),
			"cannot load the %s BPF program: %s (see the log for the verifier's reason)",
			q->dev->ops->name, strerror(-ret));
		return ret;
	}
	b->link = bpf_map__attach_struct_ops(s->ops);
	if (!b->link) {
		ret = -errno;
		snprintf(q->errmsg, sizeof(q->errmsg),
			 "cannot attach the BPF program to queue %d's ring: %s", q->q_id,
			 strerror(-ret));
		return ret;
	}
	return ublk_bpf_hook(q, q->dev->ops->bpf_ready, "ready");
}

/* Load the target's program for this queue's ring and attach it. */
int ublk_bpf_queue_attach(struct ublk_queue *q)
{
	const struct ublk_tgt_ops *ops = q->dev->ops;
	struct ublk_bpf_skel *s = &q->bpf->skel;
	bool serial = ops->bpf_prepare || ops->bpf_ready;
	int ret;

	libbpf_set_print(ublk_libbpf_print);
	ret = ops->bpf_open(s);
	if (ret) {
		snprintf(q->errmsg, sizeof(q->errmsg), "cannot open the %s BPF program: %s",
			 ops->name, strerror(-ret));
		return ret;
	}
	ublk_bpf_fill_cfg(q, s->cfg);
	*s->ring_fd = q->ring.ring_fd;
	ublk_bpf_test_break(s);
	if (serial)
		pthread_mutex_lock(&ublk_bpf_hook_lock);
	ret = ublk_bpf_load_attach(q);
	if (serial)
		pthread_mutex_unlock(&ublk_bpf_hook_lock);
	return ret;
}

void ublk_bpf_queue_exit(struct ublk_queue *q)
{
	struct ublk_bpf_queue *b = q->bpf;

	if (!b)
		return;
	/* detach first: the ring goes back to plain io_uring_enter() */
	if (b->link)
		bpf_link__destroy(b->link);
	if (b->skel.skel)
		b->skel.destroy(b->skel.skel);
	free(b);
	q->bpf = NULL;
}

/*
 * Before the program is attached and while it has stopped, we own SQ slots
 * 0..: the ring rewinds to slot 0 on every submission.
 */
struct io_uring_sqe *ublk_bpf_get_sqe(struct ublk_queue *q)
{
	struct ublk_bpf_queue *b = q->bpf;
	struct io_uring_sqe *sqe;

	if (b->user_nr >= q->ring.sq.ring_entries) {
		/* the SQ holds 2 * depth, we write at most depth + 1 at once */
		ublk_err("queue %d: BPF mode SQ overflow", q->q_id);
		abort();
	}
	sqe = &q->ring.sq.sqes[b->user_nr++];
	memset(sqe, 0, sizeof(*sqe));
	return sqe;
}

/* Submit our SQEs directly: only before the program is attached. */
int ublk_bpf_submit_direct(struct ublk_queue *q)
{
	unsigned int nr = q->bpf->user_nr;
	int ret;

	q->bpf->user_nr = 0;
	ret = io_uring_enter(q->ring.ring_fd, nr, 0, 0, NULL);
	if (ret < 0)
		return ret;
	return ret == (int)nr ? 0 : -EAGAIN;
}

/* Hand request @tag back to the program (the seed's -EAGAIN convention). */
void ublk_bpf_hand_back(struct ublk_queue *q, int tag)
{
	struct io_uring_sqe *sqe = ublk_bpf_get_sqe(q);

	io_uring_prep_nop(sqe);
	sqe->user_data = ublk_user_data(tag, UBLK_UD_OP_RETRY, 0, false);
}

/* The debug knob: hand back what the program redirected only for testing. */
bool ublk_bpf_debug_hand_back(struct ublk_queue *q)
{
	return q->bpf && q->dev->bpf_eagain &&
	       q->bpf->skel.shared->redirect_reason == UBLK_BPF_REDIR_DEBUG;
}

/* The CQE at the head is ours: handle exactly that one, then give it back. */
static void ublk_bpf_take_cqe(struct ublk_queue *q)
{
	struct io_uring_cq *cq = &q->ring.cq;
	unsigned int head = *cq->khead;
	struct io_uring_cqe cqe;

	if (head == io_uring_smp_load_acquire(cq->ktail))
		return;
	cqe = cq->cqes[head & cq->ring_mask];
	ublk_handle_cqe(q, &cqe);
	q->bpf->skel.shared->redirect_reason = UBLK_BPF_REDIR_NONE;
	io_uring_smp_store_release(cq->khead, head + 1);
}

void ublk_bpf_queue_loop(struct ublk_queue *q)
{
	struct ublk_bpf_shared *sh = q->bpf->skel.shared;

	while (!q->stopping) {
		__u64 steps = sh->nr_steps;
		int ret;

		sh->user_sqes = q->bpf->user_nr;
		q->bpf->user_nr = 0;
		/* leaving the device for recovery: the program winds down */
		sh->daemon_inflight = q->tgt_inflight;
		if (q->draining)
			sh->draining =
				q->dev->quiesced ? UBLK_BPF_DRAIN_QUIESCED : UBLK_BPF_DRAIN_DROP;
		ret = io_uring_enter(q->ring.ring_fd, 0, 0, 0, NULL);
		if (ret < 0 && ret != -EINTR) {
			ublk_err("queue %d: io_uring_enter (BPF loop): %s", q->q_id,
				 strerror(-ret));
			q->failed = true;
			return;
		}
		/*
		 * Attached, every enter runs the program at least once; else
		 * it returns at once and this loop would spin: the link was
		 * detached from outside (bpftool), nothing serves the ring.
		 */
		if (ret >= 0 && sh->nr_steps == steps) {
			ublk_err("queue %d: the BPF program no longer runs (its link was detached)",
				 q->q_id);
			q->failed = true;
			return;
		}
		if (ublk_queue_fault(q))
			return;
		switch (sh->stop_reason) {
		case UBLK_BPF_STOP_REDIRECT:
			ublk_bpf_take_cqe(q);
			break;
		case UBLK_BPF_STOP_EXIT:
			return;
		case UBLK_BPF_STOP_ERROR:
			ublk_err("queue %d: BPF program stopped: %s", q->q_id,
				 strerror(-sh->error));
			q->failed = true;
			return;
		default:
			break;
		}
	}
}

bool ublk_bpf_queue_stats(const struct ublk_queue *q, struct ublk_bpf_stats *st)
{
	const struct ublk_bpf_shared *sh;

	if (q->dev && q->dev->bpf_seed)
		return ublk_bpf_seed_stats(q, st);
	if (!q->bpf || !q->bpf->skel.shared)
		return false;
	sh = q->bpf->skel.shared;
	st->nr_bpf = sh->nr_bpf;
	st->nr_redirect = sh->nr_redirect;
	st->nr_retry = sh->nr_retry;
	st->nr_split = sh->nr_split;
	st->nr_polls = sh->nr_polls;
	return true;
}

#else /* !HAVE_BPF */

int ublk_bpf_probe(__u64 features, char *why, size_t len)
{
	(void)features;
	snprintf(why, len, "this build has no BPF support (configured with --disable-bpf)");
	return -EOPNOTSUPP;
}

int ublk_bpf_check_caps(char *why, size_t len)
{
	(void)why, (void)len;
	return 0;
}

unsigned int ublk_bpf_ring_flags(void)
{
	return 0;
}

int ublk_bpf_queue_init(struct ublk_queue *q)
{
	(void)q;
	return -EOPNOTSUPP;
}

int ublk_bpf_queue_attach(struct ublk_queue *q)
{
	(void)q;
	return -EOPNOTSUPP;
}

void ublk_bpf_queue_exit(struct ublk_queue *q)
{
	(void)q;
}

struct io_uring_sqe *ublk_bpf_get_sqe(struct ublk_queue *q)
{
	(void)q;
	abort();
}

int ublk_bpf_submit_direct(struct ublk_queue *q)
{
	(void)q;
	return -EOPNOTSUPP;
}

void ublk_bpf_hand_back(struct ublk_queue *q, int tag)
{
	(void)q, (void)tag;
}

bool ublk_bpf_debug_hand_back(struct ublk_queue *q)
{
	(void)q;
	return false;
}

void ublk_bpf_queue_loop(struct ublk_queue *q)
{
	(void)q;
}

bool ublk_bpf_queue_stats(const struct ublk_queue *q, struct ublk_bpf_stats *st)
{
	(void)q, (void)st;
	return false;
}
#endif /* HAVE_BPF */
