// SPDX-License-Identifier: MIT
/*
 * Device life cycle: create (target init, ADD_DEV, SET_PARAMS), start (queue
 * threads, START_DEV), run (until stopped), destroy (join, DEL_DEV).
 *
 * Every step undoes itself on failure so that bad input never leaves a
 * half-created device behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "priv.h"

void ublk_dev_opts_init(struct ublk_dev_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->dev_id = -1;
	opts->nr_queues = UBLK_DEF_QUEUES;
	opts->depth = UBLK_DEF_DEPTH;
	opts->max_io_bytes = UBLK_DEF_IO_BYTES;
	opts->data_mode = UBLK_DATA_COPY;
}

void ublk_dev_err(struct ublk_dev *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dev->errmsg, sizeof(dev->errmsg), fmt, ap);
	va_end(ap);
}

static int ublk_dev_check_opts(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	if (opts->nr_queues < 1 || opts->nr_queues > UBLK_MAX_QUEUES) {
		ublk_dev_err(dev, "number of queues must be 1 to %d, not %u", UBLK_MAX_QUEUES,
			     opts->nr_queues);
		return -EINVAL;
	}
	if (opts->depth < 1 || opts->depth > UBLK_MAX_QUEUE_DEPTH) {
		ublk_dev_err(dev, "queue depth must be 1 to %d, not %u", UBLK_MAX_QUEUE_DEPTH,
			     opts->depth);
		return -EINVAL;
	}
	if (opts->max_io_bytes < 4096 || opts->max_io_bytes > (1U << 25) ||
	    opts->max_io_bytes % 4096) {
		ublk_dev_err(dev, "max I/O size must be a multiple of 4096 up to 32 MiB");
		return -EINVAL;
	}
	if (opts->bpf_split_bytes &&
	    opts->max_io_bytes / opts->bpf_split_bytes + 1 > UBLK_BPF_MAX_PIECES) {
		ublk_dev_err(
			dev,
			"--bpf_split %u is too small: a %u-byte request could need more than %d pieces",
			opts->bpf_split_bytes, opts->max_io_bytes, UBLK_BPF_MAX_PIECES);
		return -EINVAL;
	}
	if (opts->bpf_split_bytes &&
	    (__u64)opts->depth * ublk_cqes_per_tag(opts->max_io_bytes, opts->bpf_split_bytes) >
		    UBLK_MAX_CQ_ENTRIES) {
		ublk_dev_err(
			dev,
			"--bpf_split %u with depth %u: the pieces in flight would not fit a ring's CQ (%u entries)",
			opts->bpf_split_bytes, opts->depth, UBLK_MAX_CQ_ENTRIES);
		return -EINVAL;
	}
	if (opts->bpf_poll_us > UBLK_BPF_MAX_POLL_US) {
		ublk_dev_err(dev, "--bpf_poll_us %u: at most %d", opts->bpf_poll_us,
			     UBLK_BPF_MAX_POLL_US);
		return -EINVAL;
	}
	if (opts->dev_id < -1 || opts->dev_id >= (1 << 20)) {
		ublk_dev_err(dev, "device id %d out of range", opts->dev_id);
		return -EINVAL;
	}
	return 0;
}

static __u64 ublk_mode_flags(enum ublk_data_mode mode)
{
	switch (mode) {
	case UBLK_DATA_USER_COPY:
		return UBLK_F_USER_COPY;
	case UBLK_DATA_AUTO_ZC:
		return UBLK_F_AUTO_BUF_REG;
	case UBLK_DATA_COPY:
		break;
	}
	return 0;
}

static int ublk_dev_open_ctrl(struct ublk_dev *dev, __u64 *features)
{
	int ret = ublk_ctrl_open(&dev->ctrl);

	if (ret == -ENOENT) {
		ublk_dev_err(
			dev,
			"%s does not exist: load the ublk_drv kernel module (modprobe ublk_drv)",
			UBLK_CTRL_DEV);
		return ret;
	}
	if (ret < 0) {
		ublk_dev_err(dev, "cannot open %s: %s", UBLK_CTRL_DEV, strerror(-ret));
		return ret;
	}
	ret = ublk_ctrl_get_features(&dev->ctrl, features);
	if (ret < 0) {
		ublk_dev_err(dev, "GET_FEATURES failed: %s (kernel too old?)", strerror(-ret));
		ublk_ctrl_close(&dev->ctrl);
	}
	return ret < 0 ? ret : 0;
}

static int ublk_dev_check_features(struct ublk_dev *dev, __u64 features, __u64 wanted)
{
	__u64 missing = wanted & ~features;
	unsigned int bit;

	if (!missing)
		return 0;
	bit = __builtin_ctzll(missing);
	ublk_dev_err(dev, "the running kernel's ublk driver lacks UBLK_F_%s",
		     ublk_feature_name(bit) ?: "?");
	return -EOPNOTSUPP;
}

static int ublk_dev_check_size(struct ublk_dev *dev)
{
	__u64 lbs = 1ULL << dev->params.basic.logical_bs_shift;

	if (!dev->tgt.dev_size) {
		ublk_dev_err(dev, "device size is zero");
		return -EINVAL;
	}
	if (dev->tgt.dev_size % lbs) {
		ublk_dev_err(dev, "size %llu is not a multiple of the logical block size %llu",
			     (unsigned long long)dev->tgt.dev_size, (unsigned long long)lbs);
		return -EINVAL;
	}
	return 0;
}

static void ublk_dev_set_basic_params(struct ublk_dev *dev)
{
	struct ublk_param_basic *b = &dev->params.basic;

	dev->params.types |= UBLK_PARAM_TYPE_BASIC;
	b->dev_sectors = dev->tgt.dev_size >> 9;
	b->max_sectors = dev->info.max_io_buf_bytes >> 9;
	if (b->physical_bs_shift < b->logical_bs_shift)
		b->physical_bs_shift = b->logical_bs_shift;
	if (!b->io_min_shift)
		b->io_min_shift = b->physical_bs_shift;
	if (!b->io_opt_shift)
		b->io_opt_shift = b->physical_bs_shift;
}

/* QUIESCE_DEV waits for an idle tag on every queue: a stuck target may not give one */
#define UBLK_QUIESCE_WAIT_MS 10000
#define UBLK_QUIESCE_TRIES 6

/* How long udev may take to hand an unprivileged device's nodes over. */
#define UBLK_UNPRIV_WAIT_MS 5000

static bool ublk_dev_unpriv(const struct ublk_dev *dev)
{
	return dev->info.flags & UBLK_F_UNPRIVILEGED_DEV;
}

/*
 * An unprivileged device's commands are checked against its char device,
 * which is root's until udev gives it to the owner (60-ublk.rules).
 */
static int ublk_dev_set_params(struct ublk_dev *dev)
{
	int ret, waited = 0;

	struct ublk_param_bpf bpf = { .ops_id = dev->info.dev_id };

	for (;;) {
		if (dev->info.flags & UBLK_F_BPF_OPS)
			ret = ublk_ctrl_set_params_bpf(&dev->ctrl, dev->info.dev_id, &dev->params,
						       &bpf);
		else
			ret = ublk_ctrl_set_params(&dev->ctrl, dev->info.dev_id, &dev->params);
		if (!ublk_dev_unpriv(dev) || (ret != -EACCES && ret != -ENOENT) ||
		    waited >= UBLK_UNPRIV_WAIT_MS)
			return ret;
		usleep(10000);
		waited += 10;
	}
}

static int ublk_dev_add(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	int ret;

	dev->info.dev_id = opts->dev_id < 0 ? (__u32)-1 : (__u32)opts->dev_id;
	ret = ublk_ctrl_add_dev(&dev->ctrl, &dev->info);
	if (ret == -EEXIST) {
		ublk_dev_err(dev, "device id %d is already in use", opts->dev_id);
		return ret;
	}
	if (ret == -EPERM && !(opts->extra_flags & UBLK_F_UNPRIVILEGED_DEV)) {
		ublk_dev_err(dev,
			     "ADD_DEV: permission denied (needs CAP_SYS_ADMIN, or --unprivileged)");
		return ret;
	}
	if (ret < 0) {
		ublk_dev_err(dev, "ADD_DEV failed: %s", strerror(-ret));
		return ret;
	}

	ublk_dev_set_basic_params(dev);
	ret = ublk_dev_set_params(dev);
	if (ret == -EACCES && ublk_dev_unpriv(dev)) {
		ublk_dev_err(
			dev,
			"SET_PARAMS: %s%u is not accessible: is the udev rule for unprivileged devices (60-ublk.rules) installed?",
			UBLK_CDEV_PREFIX, dev->info.dev_id);
		ublk_ctrl_del_dev(&dev->ctrl, dev->info.dev_id);
	} else if (ret < 0) {
		ublk_dev_err(dev, "SET_PARAMS failed: %s", strerror(-ret));
		ublk_ctrl_del_dev(&dev->ctrl, dev->info.dev_id);
	}
	return ret;
}

/* Why the BPF fast path cannot serve this device, or 0 if it can. */
static int ublk_dev_bpf_unavailable(struct ublk_dev *dev, const struct ublk_dev_opts *opts,
				    __u64 features, char *why, size_t len)
{
	int ret;

	if (!dev->ops->bpf_open) {
		snprintf(why, len, "the %s target has no BPF program", dev->ops->name);
		return -EOPNOTSUPP;
	}
	/* one contract for both backends, though only io_uring's needs it */
	if (opts->data_mode == UBLK_DATA_USER_COPY) {
		snprintf(why, len, "the BPF path is zero copy; it excludes --usercopy");
		return -EINVAL;
	}
	if (opts->bpf_backend == UBLK_BPF_BACKEND_SEED && !dev->ops->bpf_seed_open) {
		snprintf(why, len, "the %s target has no BPF program for ublk_bpf_ops",
			 dev->ops->name);
		return -EOPNOTSUPP;
	}
	/* the seed's hook is the whole point; where it exists, it serves */
	if (opts->bpf_backend != UBLK_BPF_BACKEND_IOURING && dev->ops->bpf_seed_open) {
		ret = ublk_bpf_seed_probe(features, why, len);
		if (!ret || opts->bpf_backend == UBLK_BPF_BACKEND_SEED) {
			dev->bpf_backend = UBLK_BPF_BACKEND_SEED;
			return ret;
		}
	}
	dev->bpf_backend = UBLK_BPF_BACKEND_IOURING;
	return ublk_bpf_probe(features, why, len);
}

/*
 * --bpf=on: the fast path or an error; --bpf=auto: the fast path if the
 * kernel has it, else the userspace path, saying why (`ublk list` shows it).
 */
static int ublk_dev_choose_path(struct ublk_dev *dev, const struct ublk_dev_opts *opts,
				__u64 features)
{
	char why[160];
	int ret;

	dev->bpf_mode = opts->bpf;
	dev->bpf_redirect_every = opts->bpf_redirect_every;
	dev->bpf_split_bytes = opts->bpf_split_bytes;
	dev->bpf_eagain = opts->bpf_eagain;
	dev->bpf_poll_us = opts->bpf_poll_us;
	if (opts->bpf == UBLK_BPF_OFF)
		return 0;
	ret = ublk_dev_bpf_unavailable(dev, opts, features, why, sizeof(why));
	if (ret && opts->bpf == UBLK_BPF_ON) {
		ublk_dev_err(dev, "--bpf: %s", why);
		return ret;
	}
	if (ret) {
		snprintf(dev->bpf_note, sizeof(dev->bpf_note), "%s", why);
		ublk_log(LOG_NOTICE, "BPF fast path not used: %s", why);
		return 0;
	}
	dev->bpf = true;
	/* the seed's daemon serves redirects in any data mode */
	if (dev->bpf_backend == UBLK_BPF_BACKEND_IOURING)
		dev->data_mode = UBLK_DATA_AUTO_ZC;
	return 0;
}

/*
 * Copy and user copy give every tag a buffer of the largest request, and
 * the kernel hands tags out in turn, so all of them end up resident under
 * load: refuse what could not fit in RAM rather than be OOM-killed later.
 */
static int ublk_dev_check_bufs(struct ublk_dev *dev)
{
	__u64 need =
		(__u64)dev->info.nr_hw_queues * dev->info.queue_depth * dev->info.max_io_buf_bytes;
	struct sysinfo si;

	if (dev->data_mode == UBLK_DATA_AUTO_ZC || sysinfo(&si))
		return 0;
	if (need <= (__u64)si.totalram * si.mem_unit)
		return 0;
	ublk_dev_err(
		dev,
		"%s mode needs a buffer of the largest request per tag: %u queues x depth %u x %u bytes = %llu MiB, more than the %llu MiB of RAM; lower -q, -d or --max_io_size, or use -z",
		ublk_data_mode_name(dev->data_mode), dev->info.nr_hw_queues, dev->info.queue_depth,
		dev->info.max_io_buf_bytes, (unsigned long long)(need >> 20),
		(unsigned long long)((__u64)si.totalram * si.mem_unit >> 20));
	return -ENOMEM;
}

/* What create and recover share: opts checked, dev->info filled, ctrl open. */
int ublk_dev_setup(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	__u64 features = 0;
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->cdev_fd = dev->ready_evfd = dev->exit_evfd = dev->release_evfd = dev->ctrl.fd = -1;

	dev->ops = opts->tgt;
	if (!dev->ops) {
		ublk_dev_err(dev, "no target given");
		return -EINVAL;
	}
	/* a target from outside the tree may leave the optional hooks NULL */
	if (!dev->ops->init || !dev->ops->queue_io) {
		ublk_dev_err(dev, "target %s has no init() or queue_io()",
			     dev->ops->name ?: "(unnamed)");
		return -EINVAL;
	}
	ret = ublk_dev_check_opts(dev, opts);
	if (ret)
		return ret;

	dev->nr_args = opts->nr_args;
	dev->args = opts->args;
	dev->data_mode = opts->data_mode;
	dev->info.nr_hw_queues = opts->nr_queues;
	dev->info.queue_depth = opts->depth;
	dev->info.max_io_buf_bytes = opts->max_io_bytes;
	dev->params.basic.logical_bs_shift = 9;

	ret = ublk_dev_open_ctrl(dev, &features);
	if (ret)
		return ret;
	ret = ublk_dev_choose_path(dev, opts, features);
	ret = ret ?: ublk_dev_check_bufs(dev);
	if (ret) {
		ublk_ctrl_close(&dev->ctrl);
		return ret;
	}
	dev->info.flags =
		UBLK_F_CMD_IOCTL_ENCODE | ublk_mode_flags(dev->data_mode) | opts->extra_flags;
	/* a graceful stop of a recoverable device needs the kernel's quiesce */
	if (opts->extra_flags & UBLK_F_USER_RECOVERY)
		dev->info.flags |= UBLK_F_QUIESCE;
	if (dev->bpf && dev->bpf_backend == UBLK_BPF_BACKEND_SEED)
		dev->info.flags |= UBLK_F_BPF_OPS;
	ret = ublk_dev_check_features(dev, features, dev->info.flags);
	if (ret)
		ublk_ctrl_close(&dev->ctrl);
	return ret;
}

int ublk_dev_init_tgt(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	int ret = dev->ops->init(dev, opts);

	if (ret) {
		if (!dev->errmsg[0])
			ublk_dev_err(dev, "%s target setup failed: %s", dev->ops->name,
				     strerror(-ret));
		return ret;
	}
	ret = ublk_dev_check_size(dev);
	if (ret)
		ublk_tgt_deinit(dev);
	return ret;
}

int ublk_dev_create(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	int ret;

	ret = ublk_dev_setup(dev, opts);
	if (ret)
		return ret;
	ret = ublk_dev_init_tgt(dev, opts);
	if (ret)
		goto close_ctrl;
	ret = ublk_dev_add(dev, opts);
	if (ret)
		goto deinit;
	return 0;

deinit:
	ublk_tgt_deinit(dev);
close_ctrl:
	ublk_ctrl_close(&dev->ctrl);
	return ret;
}

/* devtmpfs (or udev) creates the node shortly after ADD_DEV */
static int ublk_open_cdev(struct ublk_dev *dev)
{
	char path[64];
	int i;

	snprintf(path, sizeof(path), UBLK_CDEV_PREFIX "%u", dev->info.dev_id);
	for (i = 0; i < 500; i++) {
		dev->cdev_fd = open(path, O_RDWR | O_CLOEXEC);
		if (dev->cdev_fd >= 0)
			return 0;
		if (errno != ENOENT && !(errno == EACCES && ublk_dev_unpriv(dev)))
			break;
		usleep(10000);
	}
	ublk_dev_err(dev, "cannot open %s: %s", path, strerror(errno));
	return -errno;
}

static int ublk_dev_spawn_queues(struct ublk_dev *dev)
{
	sigset_t all, old;
	int i, ret = 0;

	dev->queues = calloc(dev->info.nr_hw_queues, sizeof(*dev->queues));
	if (!dev->queues)
		return -ENOMEM;

	/* queue threads never take signals: the main thread handles them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < dev->info.nr_hw_queues; i++) {
		struct ublk_queue *q = &dev->queues[i];

		q->dev = dev;
		q->q_id = i;
		q->depth = dev->info.queue_depth;
		q->stop_evfd = eventfd(0, EFD_CLOEXEC);
		if (q->stop_evfd < 0) {
			ret = -errno;
			break;
		}
		ublk_ctrl_get_affinity(&dev->ctrl, dev->info.dev_id, i, &q->affinity);
		ret = -pthread_create(&q->thread, NULL, ublk_queue_thread, q);
		if (ret) {
			close(q->stop_evfd);
			break;
		}
		dev->nr_queues_started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		ublk_dev_err(dev, "cannot start queue thread: %s", strerror(-ret));
	return ret;
}

static int ublk_dev_wait_ready(struct ublk_dev *dev)
{
	int ready = 0, i;
	eventfd_t v;

	while (ready < dev->nr_queues_started) {
		if (eventfd_read(dev->ready_evfd, &v) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ready += v;
	}
	for (i = 0; i < dev->nr_queues_started; i++) {
		int err = dev->queues[i].err;

		if (err && dev->queues[i].errmsg[0]) {
			ublk_dev_err(dev, "queue %d: %s", i, dev->queues[i].errmsg);
			return err;
		}
		if (err) {
			ublk_dev_err(dev, "queue %d setup failed: %s", i, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Open the char device and start the queue threads, which FETCH every tag. */
int ublk_dev_start_queues(struct ublk_dev *dev)
{
	int ret;

	ret = ublk_open_cdev(dev);
	if (ret)
		return ret;
	if (dev->bpf && dev->bpf_backend == UBLK_BPF_BACKEND_SEED) {
		ret = ublk_bpf_seed_attach(dev);
		if (ret)
			return ret;
	}
	dev->ready_evfd = eventfd(0, EFD_CLOEXEC);
	dev->exit_evfd = eventfd(0, EFD_CLOEXEC);
	dev->release_evfd = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	if (dev->ready_evfd < 0 || dev->exit_evfd < 0 || dev->release_evfd < 0) {
		ublk_dev_err(dev, "eventfd: %s", strerror(errno));
		return -errno;
	}
	ret = ublk_dev_spawn_queues(dev);
	if (ret)
		return ret;
	return ublk_dev_wait_ready(dev);
}

int ublk_dev_start(struct ublk_dev *dev)
{
	int ret;

	ret = ublk_dev_start_queues(dev);
	if (ret)
		goto fail;

	/* waits for the partition scan, which our queue threads serve */
	ret = ublk_ctrl_start_dev(&dev->ctrl, dev->info.dev_id, getpid());
	if (ret < 0) {
		ublk_dev_err(dev, "START_DEV failed: %s", strerror(-ret));
		goto fail;
	}
	ublk_ctrl_get_info(&dev->ctrl, dev->info.dev_id, &dev->info);
	return 0;
fail:
	ublk_dev_destroy(dev);
	return ret;
}

/* Counters change while we serve: keep the state file `ublk list` reads fresh. */
static void ublk_dev_refresh_state(struct ublk_dev *dev)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < dev->nr_queues_started; i++) {
		struct ublk_bpf_stats st = {};
		const struct ublk_queue *q = &dev->queues[i];

		ublk_bpf_queue_stats(q, &st);
		sum += q->nr_io + q->nr_io_err + st.nr_bpf + st.nr_redirect + st.nr_retry +
		       st.nr_split + st.nr_polls;
	}
	if (sum == dev->stats_sum)
		return;
	dev->stats_sum = sum;
	ublk_state_write(dev);
}

/*
 * Let go of a device with user recovery, without failing a request: the
 * kernel's QUIESCE_DEV stops handing out requests (they wait in its
 * requeue list, or fail in FAIL_IO mode) and aborts the idle FETCHes; the
 * queue threads serve every request they already have, commit it and exit.
 * Released like this, the device becomes QUIESCED (or FAIL_IO) for `ublk
 * recover` with nothing outstanding, so nothing is failed.
 */
static int ublk_dev_quiesce(struct ublk_dev *dev)
{
	int ret, i;

	for (i = 0; i < UBLK_QUIESCE_TRIES; i++) {
		ret = ublk_ctrl_quiesce_dev(&dev->ctrl, dev->info.dev_id, UBLK_QUIESCE_WAIT_MS);
		if (ret != -EBUSY)
			break;
		ublk_info("dev %u: quiesce: the queues are still busy, waiting", dev->info.dev_id);
	}
	if (ret < 0)
		ublk_err("dev %u: QUIESCE_DEV failed: %s", dev->info.dev_id, strerror(-ret));
	return ret;
}

/*
 * A device created without UBLK_F_QUIESCE (by an older ublk) can only be
 * let go of by dropping the requests that arrive meanwhile: the kernel
 * reissues them with REISSUE, else it fails them.
 */
static void ublk_dev_drain(struct ublk_dev *dev, bool quiesced)
{
	int i;

	if (!quiesced && !(dev->info.flags & UBLK_F_USER_RECOVERY_REISSUE))
		ublk_err("dev %u: no UBLK_F_QUIESCE: requests in flight will fail",
			 dev->info.dev_id);
	dev->keep = true;
	dev->quiesced = quiesced;
	__atomic_store_n(&dev->draining, true, __ATOMIC_RELEASE);
	for (i = 0; i < dev->nr_queues_started; i++)
		eventfd_write(dev->queues[i].stop_evfd, 1);
}

static void ublk_dev_on_signal(struct ublk_dev *dev, int signo)
{
	bool quiesced = false;

	if (ublk_dev_recoverable(dev)) {
		ublk_info("dev %u: signal %d, leaving the device for recovery", dev->info.dev_id,
			  signo);
		if (dev->info.flags & UBLK_F_QUIESCE)
			quiesced = !ublk_dev_quiesce(dev);
		ublk_dev_drain(dev, quiesced);
		return;
	}
	ublk_info("dev %u: signal %d, stopping", dev->info.dev_id, signo);
	ublk_ctrl_stop_dev(&dev->ctrl, dev->info.dev_id);
}

/*
 * A queue thread exited. If it gave up on an error (logged), the device
 * cannot be served as it is: a recoverable one is let go of as on SIGTERM,
 * for `ublk recover`; any other is stopped (and deleted).
 */
static void ublk_dev_on_queue_exit(struct ublk_dev *dev)
{
	bool failed = false;
	int i;

	for (i = 0; i < dev->nr_queues_started; i++)
		failed |= __atomic_load_n(&dev->queues[i].failed, __ATOMIC_ACQUIRE);
	/* no failure: the device was stopped (ublk del), its FETCHes aborted */
	if (!failed) {
		ublk_ctrl_stop_dev(&dev->ctrl, dev->info.dev_id);
		return;
	}
	if (ublk_dev_recoverable(dev)) {
		ublk_err(
			"dev %u: a queue failed: leaving the device for recovery (ublk recover -n %u)",
			dev->info.dev_id, dev->info.dev_id);
		ublk_dev_drain(dev, (dev->info.flags & UBLK_F_QUIESCE) && !ublk_dev_quiesce(dev));
		return;
	}
	/*
	 * Not STOP_DEV here: it waits for the requests the failed queue held,
	 * which only fail once we release the char device. The other queues
	 * exit, the release stops the device and destroy deletes it.
	 */
	ublk_err("dev %u: a queue failed: stopping the device", dev->info.dev_id);
	for (i = 0; i < dev->nr_queues_started; i++)
		eventfd_write(dev->queues[i].stop_evfd, 1);
}

/* Acted on the failure (or stop): failed queues may close their rings now. */
static void ublk_dev_release_failed(struct ublk_dev *dev)
{
	eventfd_write(dev->release_evfd, dev->nr_queues_started);
}

int ublk_dev_run(struct ublk_dev *dev)
{
	struct pollfd pfd[2];
	bool stopping = false;
	int exited = 0, sfd, n;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;

	pfd[0] = (struct pollfd){ .fd = dev->exit_evfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	while (exited < dev->nr_queues_started) {
		struct signalfd_siginfo si;
		eventfd_t v;

		n = poll(pfd, 2, UBLK_STATE_REFRESH_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			ublk_dev_refresh_state(dev);
			continue;
		}
		if ((pfd[1].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si) &&
		    !stopping) {
			stopping = true;
			ublk_dev_on_signal(dev, si.ssi_signo);
			ublk_dev_release_failed(dev);
		}
		if ((pfd[0].revents & POLLIN) && !eventfd_read(dev->exit_evfd, &v)) {
			exited += v;
			if (!stopping) {
				stopping = true;
				ublk_dev_on_queue_exit(dev);
				ublk_dev_release_failed(dev);
			}
		}
	}
	close(sfd);
	return 0;
}

static void ublk_dev_join_queues(struct ublk_dev *dev)
{
	int i;

	for (i = 0; i < dev->nr_queues_started; i++)
		eventfd_write(dev->queues[i].stop_evfd, 1);
	ublk_dev_release_failed(dev);
	for (i = 0; i < dev->nr_queues_started; i++) {
		pthread_join(dev->queues[i].thread, NULL);
		close(dev->queues[i].stop_evfd);
	}
	dev->nr_queues_started = 0;
	free(dev->queues);
	dev->queues = NULL;
}

static void ublk_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void ublk_dev_destroy(struct ublk_dev *dev)
{
	int ret;

	if (dev->ctrl.fd < 0)
		return;
	ublk_dev_join_queues(dev);
	/* from here on the module sends requests to no BPF (nor daemon) */
	ublk_bpf_seed_detach(dev);
	/* DEL_DEV waits until the char device is released */
	ublk_close_fd(&dev->cdev_fd);
	ublk_close_fd(&dev->ready_evfd);
	ublk_close_fd(&dev->exit_evfd);
	ublk_close_fd(&dev->release_evfd);
	ublk_tgt_deinit(dev);

	if (dev->keep) {
		ublk_ctrl_close(&dev->ctrl);
		return;
	}
	ret = ublk_ctrl_del_dev(&dev->ctrl, dev->info.dev_id);
	if (ret < 0 && ret != -ENODEV)
		ublk_err("dev %u: DEL_DEV failed: %s", dev->info.dev_id, strerror(-ret));
	ublk_ctrl_close(&dev->ctrl);
}
