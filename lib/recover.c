// SPDX-License-Identifier: MIT
/*
 * User recovery: a new daemon takes over a device whose daemon died.
 *
 * With UBLK_F_USER_RECOVERY the kernel keeps the device when the char device
 * is released without STOP_DEV: QUIESCED (requests wait; with _REISSUE the
 * ones the dead daemon held are issued again) or FAIL_IO (requests fail).
 * START_USER_RECOVERY resets the queues, the new daemon FETCHes every tag,
 * END_USER_RECOVERY waits for those FETCHes and makes the device LIVE.
 *
 * Nothing here deletes the device: a failed attempt leaves it recoverable.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"

/* flags whose meaning the old and the new daemon must agree on */
#define UBLK_RECOVER_MATCH_FLAGS                                             \
	(UBLK_F_USER_COPY | UBLK_F_AUTO_BUF_REG | UBLK_F_SUPPORT_ZERO_COPY | \
	 UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_USER_RECOVERY_FAIL_IO)

/* START_USER_RECOVERY says EBUSY until the dead daemon's files are closed */
#define UBLK_RECOVER_WAIT_MS 10000

static int ublk_recover_check_state(struct ublk_dev *dev, const struct ublksrv_ctrl_dev_info *k)
{
	if (!(k->flags & UBLK_F_USER_RECOVERY)) {
		ublk_dev_err(
			dev,
			"device %u was created without user recovery (ublk add -r 1 or --recovery): it cannot be recovered, only deleted (ublk del -n %u)",
			k->dev_id, k->dev_id);
		return -EINVAL;
	}
	if (k->state == UBLK_S_DEV_LIVE) {
		ublk_dev_err(dev, "device %u is LIVE, served by pid %d: nothing to recover",
			     k->dev_id, k->ublksrv_pid);
		return -EBUSY;
	}
	if (k->state != UBLK_S_DEV_QUIESCED && k->state != UBLK_S_DEV_FAIL_IO) {
		ublk_dev_err(dev,
			     "device %u is %s, not QUIESCED or FAIL_IO: it cannot be recovered",
			     k->dev_id, ublk_state_name(k->state));
		return -EINVAL;
	}
	return 0;
}

/* The options must describe the kernel's device, or requests get misread. */
static int ublk_recover_check_geometry(struct ublk_dev *dev, const struct ublksrv_ctrl_dev_info *k)
{
	const struct ublksrv_ctrl_dev_info *w = &dev->info;
	__u64 kf = k->flags & UBLK_RECOVER_MATCH_FLAGS;
	__u64 wf = w->flags & UBLK_RECOVER_MATCH_FLAGS;

	if (k->nr_hw_queues != w->nr_hw_queues || k->queue_depth != w->queue_depth) {
		ublk_dev_err(dev,
			     "device %u has %u queues of depth %u, the options say %u of depth %u",
			     k->dev_id, k->nr_hw_queues, k->queue_depth, w->nr_hw_queues,
			     w->queue_depth);
		return -EINVAL;
	}
	if (k->max_io_buf_bytes != w->max_io_buf_bytes) {
		ublk_dev_err(dev, "device %u has max I/O size %u, the options say %u", k->dev_id,
			     k->max_io_buf_bytes, w->max_io_buf_bytes);
		return -EINVAL;
	}
	if (kf != wf) {
		ublk_dev_err(
			dev,
			"device %u has flags 0x%llx, the options give 0x%llx (data mode or recovery mode differ)",
			k->dev_id, (unsigned long long)kf, (unsigned long long)wf);
		return -EINVAL;
	}
	return 0;
}

/* The target must still have the size the block layer knows. */
static int ublk_recover_check_size(struct ublk_dev *dev)
{
	struct ublk_params kp;
	int ret;

	ret = ublk_ctrl_get_params(&dev->ctrl, dev->info.dev_id, &kp);
	if (ret < 0) {
		ublk_dev_err(dev, "GET_PARAMS failed: %s", strerror(-ret));
		return ret;
	}
	if (kp.basic.dev_sectors != dev->tgt.dev_size >> 9) {
		ublk_dev_err(dev, "device %u has %llu sectors, the %s target now has %llu",
			     dev->info.dev_id, (unsigned long long)kp.basic.dev_sectors,
			     dev->ops->name, (unsigned long long)(dev->tgt.dev_size >> 9));
		return -EINVAL;
	}
	dev->params = kp;
	return 0;
}

static int ublk_recover_start(struct ublk_dev *dev)
{
	int ret, waited = 0;

	for (;;) {
		ret = ublk_ctrl_start_recovery(&dev->ctrl, dev->info.dev_id);
		if (ret != -EBUSY || waited >= UBLK_RECOVER_WAIT_MS)
			break;
		usleep(100 * 1000);
		waited += 100;
	}
	if (ret == -EBUSY)
		ublk_dev_err(dev, "START_USER_RECOVERY: device %u is still held by its old daemon",
			     dev->info.dev_id);
	else if (ret < 0)
		ublk_dev_err(dev, "START_USER_RECOVERY failed: %s", strerror(-ret));
	return ret;
}

static int ublk_recover_get_info(struct ublk_dev *dev, __u32 dev_id,
				 struct ublksrv_ctrl_dev_info *k)
{
	int ret = ublk_ctrl_get_info(&dev->ctrl, dev_id, k);

	if (ret == -ENODEV)
		ublk_dev_err(dev, "device %u does not exist", dev_id);
	else if (ret < 0)
		ublk_dev_err(dev, "GET_DEV_INFO failed: %s", strerror(-ret));
	return ret;
}

/*
 * The device says how its data moves (its flags), whatever a probe of
 * this daemon's abilities would choose today: a device created on the
 * userspace path stays there; one bound to the seed's ublk_bpf_ops
 * (UBLK_F_BPF_OPS) is served by that backend again; one created with zero
 * copy and no ops (the io_uring backend needs it) keeps it, on the
 * userspace path if BPF cannot be used now and the options allowed that
 * (--bpf=auto).
 */
static void ublk_recover_follow_flags(struct ublk_dev_opts *o, __u64 flags)
{
	if (flags & UBLK_F_USER_COPY)
		o->data_mode = UBLK_DATA_USER_COPY;
	else if (flags & UBLK_F_AUTO_BUF_REG)
		o->data_mode = UBLK_DATA_AUTO_ZC;
	else
		o->data_mode = UBLK_DATA_COPY;
	if (o->bpf == UBLK_BPF_OFF)
		return;
	if (flags & UBLK_F_BPF_OPS)
		o->bpf_backend = UBLK_BPF_BACKEND_SEED;
	else if (flags & UBLK_F_AUTO_BUF_REG)
		o->bpf_backend = UBLK_BPF_BACKEND_IOURING;
	else
		o->bpf = UBLK_BPF_OFF;
}

/* The kernel's flags of device @dev_id, before the device is set up. */
static int ublk_recover_peek_flags(struct ublk_dev *dev, int dev_id, __u64 *flags)
{
	struct ublksrv_ctrl_dev_info k;
	struct ublk_ctrl ctrl;
	int ret;

	if (dev_id < 0)
		return 0;
	ret = ublk_ctrl_open(&ctrl);
	if (ret)
		return 0; /* ublk_dev_setup() says why */
	ret = ublk_ctrl_get_info(&ctrl, dev_id, &k);
	ublk_ctrl_close(&ctrl);
	if (ret == -ENODEV) {
		ublk_dev_err(dev, "device %d does not exist", dev_id);
		return ret;
	}
	if (!ret)
		*flags = k.flags;
	return 0;
}

int ublk_dev_recover(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	struct ublk_dev_opts o = *opts;
	struct ublksrv_ctrl_dev_info k;
	__u64 flags = 0;
	int ret;

	ret = ublk_recover_peek_flags(dev, opts->dev_id, &flags);
	if (ret)
		return ret;
	if (flags)
		ublk_recover_follow_flags(&o, flags);
	ret = ublk_dev_setup(dev, &o);
	if (ret && o.bpf == UBLK_BPF_ON && !strncmp(dev->errmsg, "--bpf:", 6)) {
		char why[sizeof(dev->errmsg)];

		snprintf(why, sizeof(why), "%s", dev->errmsg);
		ublk_dev_err(
			dev,
			"device %d was created with --bpf=on and this daemon cannot serve it in BPF (%.160s); recover where the fast path works, or delete it",
			opts->dev_id, why);
	}
	if (ret)
		return ret;
	opts = &o;
	if (opts->dev_id < 0) {
		ublk_dev_err(dev, "recovery needs a device id");
		ret = -EINVAL;
		goto close_ctrl;
	}
	ret = ublk_recover_get_info(dev, opts->dev_id, &k);
	if (ret)
		goto close_ctrl;
	ret = ublk_recover_check_state(dev, &k);
	if (!ret)
		ret = ublk_recover_check_geometry(dev, &k);
	if (ret)
		goto close_ctrl;
	dev->info = k;

	ret = ublk_dev_init_tgt(dev, opts);
	if (ret)
		goto close_ctrl;
	/* from here on, ublk_dev_destroy() undoes everything but the device */
	dev->keep = true;
	ret = ublk_recover_check_size(dev);
	if (!ret)
		ret = ublk_recover_start(dev);
	if (!ret)
		ret = ublk_dev_start_queues(dev);
	if (ret)
		goto fail;

	/* waits until every queue has FETCHed all its tags */
	ret = ublk_ctrl_end_recovery(&dev->ctrl, dev->info.dev_id, getpid());
	if (ret < 0) {
		ublk_dev_err(dev, "END_USER_RECOVERY failed: %s", strerror(-ret));
		goto fail;
	}
	dev->keep = false;
	ublk_ctrl_get_info(&dev->ctrl, dev->info.dev_id, &dev->info);
	return 0;

fail:
	ublk_dev_destroy(dev);
	return ret;
close_ctrl:
	ublk_ctrl_close(&dev->ctrl);
	return ret;
}
