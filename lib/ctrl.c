// SPDX-License-Identifier: MIT
/*
 * Control commands: URING_CMD on /dev/ublk-control with ioctl-encoded ops.
 * Every call is synchronous: one SQE, wait for its CQE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublksrv.h"

/* room for "/dev/ublkcN", NUL-padded, in front of the payload */
#define UBLK_CTRL_PATH_LEN 64

int ublk_ctrl_open(struct ublk_ctrl *ctrl)
{
	int ret;

	ctrl->unpriv_valid = false;
	ctrl->fd = open(UBLK_CTRL_DEV, O_RDWR | O_CLOEXEC);
	if (ctrl->fd < 0)
		return -errno;

	/* control commands carry 32 bytes of payload: 128-byte SQEs */
	ret = io_uring_queue_init(4, &ctrl->ring, IORING_SETUP_SQE128);
	if (ret < 0) {
		close(ctrl->fd);
		ctrl->fd = -1;
	}
	return ret;
}

void ublk_ctrl_close(struct ublk_ctrl *ctrl)
{
	if (ctrl->fd < 0)
		return;
	io_uring_queue_exit(&ctrl->ring);
	close(ctrl->fd);
	ctrl->fd = -1;
}

static int ublk_ctrl_submit(struct ublk_ctrl *ctrl, __u32 op, const struct ublksrv_ctrl_cmd *cmd)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	sqe = io_uring_get_sqe(&ctrl->ring);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = ctrl->fd;
	sqe->cmd_op = op;
	memcpy(sqe->cmd, cmd, sizeof(*cmd));

	ret = io_uring_submit(&ctrl->ring);
	if (ret < 0)
		return ret;
	do {
		ret = io_uring_wait_cqe(&ctrl->ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&ctrl->ring, cqe);
	return ret;
}

static bool ublk_ctrl_needs_path(const struct ublk_ctrl *ctrl, __u32 op, __u32 dev_id)
{
	if (op == UBLK_U_CMD_GET_DEV_INFO2)
		return true;
	if (op == UBLK_U_CMD_ADD_DEV || op == UBLK_U_CMD_GET_FEATURES)
		return false;
	return ctrl->unpriv_valid && ctrl->unpriv_id == dev_id;
}

/*
 * The kernel checks the caller's access to the char device at the path in
 * front of the payload, then skips it: buffer = path area + payload.
 */
static int ublk_ctrl_cmd(struct ublk_ctrl *ctrl, __u32 op, const struct ublksrv_ctrl_cmd *cmd)
{
	struct ublksrv_ctrl_cmd c = *cmd;
	char *buf;
	int ret;

	if (!ublk_ctrl_needs_path(ctrl, op, cmd->dev_id))
		return ublk_ctrl_submit(ctrl, op, cmd);
	if (cmd->len > 0xffff - UBLK_CTRL_PATH_LEN)
		return -EINVAL;
	buf = calloc(1, UBLK_CTRL_PATH_LEN + cmd->len);
	if (!buf)
		return -ENOMEM;
	snprintf(buf, UBLK_CTRL_PATH_LEN, UBLK_CDEV_PREFIX "%u", cmd->dev_id);
	if (cmd->len)
		memcpy(buf + UBLK_CTRL_PATH_LEN, (void *)(uintptr_t)cmd->addr, cmd->len);
	c.addr = (__u64)(uintptr_t)buf;
	c.len = UBLK_CTRL_PATH_LEN + cmd->len;
	c.dev_path_len = UBLK_CTRL_PATH_LEN;
	ret = ublk_ctrl_submit(ctrl, op, &c);
	if (ret >= 0 && cmd->len)
		memcpy((void *)(uintptr_t)cmd->addr, buf + UBLK_CTRL_PATH_LEN, cmd->len);
	free(buf);
	return ret;
}

static void ublk_ctrl_note(struct ublk_ctrl *ctrl, const struct ublksrv_ctrl_dev_info *info)
{
	ctrl->unpriv_valid = info->flags & UBLK_F_UNPRIVILEGED_DEV;
	ctrl->unpriv_id = info->dev_id;
}

static int ublk_ctrl_simple(struct ublk_ctrl *ctrl, __u32 op, __u32 dev_id, __u64 data)
{
	struct ublksrv_ctrl_cmd cmd = {
		.dev_id = dev_id,
		.queue_id = (__u16)-1,
		.data[0] = data,
	};

	return ublk_ctrl_cmd(ctrl, op, &cmd);
}

static int ublk_ctrl_buf(struct ublk_ctrl *ctrl, __u32 op, __u32 dev_id, __u16 q_id, void *buf,
			 __u16 len)
{
	struct ublksrv_ctrl_cmd cmd = {
		.dev_id = dev_id,
		.queue_id = q_id,
		.addr = (__u64)(uintptr_t)buf,
		.len = len,
	};

	return ublk_ctrl_cmd(ctrl, op, &cmd);
}

int ublk_ctrl_get_features(struct ublk_ctrl *ctrl, __u64 *features)
{
	return ublk_ctrl_buf(ctrl, UBLK_U_CMD_GET_FEATURES, 0, (__u16)-1, features,
			     sizeof(*features));
}

int ublk_ctrl_add_dev(struct ublk_ctrl *ctrl, struct ublksrv_ctrl_dev_info *info)
{
	int ret = ublk_ctrl_buf(ctrl, UBLK_U_CMD_ADD_DEV, info->dev_id, (__u16)-1, info,
				sizeof(*info));

	if (ret >= 0)
		ublk_ctrl_note(ctrl, info);
	return ret;
}

int ublk_ctrl_del_dev(struct ublk_ctrl *ctrl, __u32 dev_id)
{
	return ublk_ctrl_simple(ctrl, UBLK_U_CMD_DEL_DEV, dev_id, 0);
}

/*
 * GET_DEV_INFO answers EINVAL for an unprivileged device (no path given)
 * and EPERM to a user without CAP_SYS_ADMIN: GET_DEV_INFO2, which carries
 * the char device's path, works then. It is not the first choice because
 * it needs the node, which may not exist yet (or any more).
 */
int ublk_ctrl_get_info(struct ublk_ctrl *ctrl, __u32 dev_id, struct ublksrv_ctrl_dev_info *info)
{
	int ret = ublk_ctrl_buf(ctrl, UBLK_U_CMD_GET_DEV_INFO, dev_id, (__u16)-1, info,
				sizeof(*info));

	if (ret == -EINVAL || ret == -EPERM)
		ret = ublk_ctrl_buf(ctrl, UBLK_U_CMD_GET_DEV_INFO2, dev_id, (__u16)-1, info,
				    sizeof(*info));

	if (ret >= 0)
		ublk_ctrl_note(ctrl, info);
	return ret;
}

int ublk_ctrl_set_params(struct ublk_ctrl *ctrl, __u32 dev_id, const struct ublk_params *params)
{
	struct ublk_params p = *params;

	p.len = sizeof(p);
	return ublk_ctrl_buf(ctrl, UBLK_U_CMD_SET_PARAMS, dev_id, (__u16)-1, &p, sizeof(p));
}

/* The project module's UBLK_PARAM_TYPE_BPF: its struct follows ublk_params. */
int ublk_ctrl_set_params_bpf(struct ublk_ctrl *ctrl, __u32 dev_id, const struct ublk_params *params,
			     const struct ublk_param_bpf *bpf)
{
	struct {
		struct ublk_params p;
		struct ublk_param_bpf bpf;
	} __attribute__((packed)) b = { .p = *params, .bpf = *bpf };

	b.p.len = sizeof(b);
	b.p.types |= UBLK_PARAM_TYPE_BPF;
	return ublk_ctrl_buf(ctrl, UBLK_U_CMD_SET_PARAMS, dev_id, (__u16)-1, &b, sizeof(b));
}

int ublk_ctrl_get_params(struct ublk_ctrl *ctrl, __u32 dev_id, struct ublk_params *params)
{
	memset(params, 0, sizeof(*params));
	params->len = sizeof(*params);
	return ublk_ctrl_buf(ctrl, UBLK_U_CMD_GET_PARAMS, dev_id, (__u16)-1, params,
			     sizeof(*params));
}

int ublk_ctrl_get_params_bpf(struct ublk_ctrl *ctrl, __u32 dev_id, struct ublk_params *params,
			     struct ublk_param_bpf *bpf)
{
	struct {
		struct ublk_params p;
		struct ublk_param_bpf bpf;
	} __attribute__((packed)) b = { .p.len = sizeof(b) };
	int ret;

	/* a stock driver copies struct ublk_params and leaves the rest */
	ret = ublk_ctrl_buf(ctrl, UBLK_U_CMD_GET_PARAMS, dev_id, (__u16)-1, &b, sizeof(b));
	*params = b.p;
	params->len = sizeof(*params);
	*bpf = b.bpf;
	if (ret < 0 || !(params->types & UBLK_PARAM_TYPE_BPF))
		memset(bpf, 0, sizeof(*bpf));
	return ret;
}

int ublk_ctrl_start_dev(struct ublk_ctrl *ctrl, __u32 dev_id, pid_t daemon_pid)
{
	return ublk_ctrl_simple(ctrl, UBLK_U_CMD_START_DEV, dev_id, daemon_pid);
}

int ublk_ctrl_stop_dev(struct ublk_ctrl *ctrl, __u32 dev_id)
{
	return ublk_ctrl_simple(ctrl, UBLK_U_CMD_STOP_DEV, dev_id, 0);
}

/* Wait up to @timeout_ms (0: forever) for every queue to have an idle tag. */
int ublk_ctrl_quiesce_dev(struct ublk_ctrl *ctrl, __u32 dev_id, __u64 timeout_ms)
{
	return ublk_ctrl_simple(ctrl, UBLK_U_CMD_QUIESCE_DEV, dev_id, timeout_ms);
}

int ublk_ctrl_get_affinity(struct ublk_ctrl *ctrl, __u32 dev_id, __u16 q_id, cpu_set_t *set)
{
	struct ublksrv_ctrl_cmd cmd = {
		.dev_id = dev_id,
		.queue_id = (__u16)-1,
		.addr = (__u64)(uintptr_t)set,
		.len = sizeof(*set),
		.data[0] = q_id,
	};

	CPU_ZERO(set);
	return ublk_ctrl_cmd(ctrl, UBLK_U_CMD_GET_QUEUE_AFFINITY, &cmd);
}

int ublk_ctrl_start_recovery(struct ublk_ctrl *ctrl, __u32 dev_id)
{
	return ublk_ctrl_simple(ctrl, UBLK_U_CMD_START_USER_RECOVERY, dev_id, 0);
}

int ublk_ctrl_end_recovery(struct ublk_ctrl *ctrl, __u32 dev_id, pid_t daemon_pid)
{
	return ublk_ctrl_simple(ctrl, UBLK_U_CMD_END_USER_RECOVERY, dev_id, daemon_pid);
}
