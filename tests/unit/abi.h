/* SPDX-License-Identifier: MIT */
/*
 * Sizes, offsets and constants of the ublk ABI, collected once from our
 * include/ublk_cmd.h and once from the kernel's <linux/ublk_cmd.h>.
 */
#ifndef ABI_TEST_H
#define ABI_TEST_H

#include <stddef.h>

struct abi_item {
	const char *name;
	unsigned long long value;
};

/* X(name, expression): the same list is expanded in both files */
#define ABI_ITEMS(X)                                                                             \
	X("sizeof ctrl_cmd", sizeof(struct ublksrv_ctrl_cmd))                                    \
	X("ctrl_cmd.addr", offsetof(struct ublksrv_ctrl_cmd, addr))                              \
	X("ctrl_cmd.data", offsetof(struct ublksrv_ctrl_cmd, data))                              \
	X("ctrl_cmd.dev_path_len", offsetof(struct ublksrv_ctrl_cmd, dev_path_len))              \
	X("sizeof dev_info", sizeof(struct ublksrv_ctrl_dev_info))                               \
	X("dev_info.io_desc_size", offsetof(struct ublksrv_ctrl_dev_info, io_desc_size))         \
	X("dev_info.max_io_buf_bytes", offsetof(struct ublksrv_ctrl_dev_info, max_io_buf_bytes)) \
	X("dev_info.ublksrv_pid", offsetof(struct ublksrv_ctrl_dev_info, ublksrv_pid))           \
	X("dev_info.flags", offsetof(struct ublksrv_ctrl_dev_info, flags))                       \
	X("dev_info.owner_uid", offsetof(struct ublksrv_ctrl_dev_info, owner_uid))               \
	X("sizeof io_desc", sizeof(struct ublksrv_io_desc))                                      \
	X("io_desc.start_sector", offsetof(struct ublksrv_io_desc, start_sector))                \
	X("io_desc.addr", offsetof(struct ublksrv_io_desc, addr))                                \
	X("sizeof io_cmd", sizeof(struct ublksrv_io_cmd))                                        \
	X("io_cmd.result", offsetof(struct ublksrv_io_cmd, result))                              \
	X("io_cmd.addr", offsetof(struct ublksrv_io_cmd, addr))                                  \
	X("sizeof params", sizeof(struct ublk_params))                                           \
	X("params.basic", offsetof(struct ublk_params, basic))                                   \
	X("params.discard", offsetof(struct ublk_params, discard))                               \
	X("params.devt", offsetof(struct ublk_params, devt))                                     \
	X("params.zoned", offsetof(struct ublk_params, zoned))                                   \
	X("params.dma", offsetof(struct ublk_params, dma))                                       \
	X("params.seg", offsetof(struct ublk_params, seg))                                       \
	X("params.integrity", offsetof(struct ublk_params, integrity))                           \
	X("basic.dev_sectors", offsetof(struct ublk_param_basic, dev_sectors))                   \
	X("basic.virt_boundary_mask", offsetof(struct ublk_param_basic, virt_boundary_mask))     \
	X("discard.max_discard_segments",                                                        \
	  offsetof(struct ublk_param_discard, max_discard_segments))                             \
	X("sizeof auto_buf_reg", sizeof(struct ublk_auto_buf_reg))                               \
	X("CMD_ADD_DEV", UBLK_U_CMD_ADD_DEV)                                                     \
	X("CMD_DEL_DEV", UBLK_U_CMD_DEL_DEV)                                                     \
	X("CMD_START_DEV", UBLK_U_CMD_START_DEV)                                                 \
	X("CMD_STOP_DEV", UBLK_U_CMD_STOP_DEV)                                                   \
	X("CMD_SET_PARAMS", UBLK_U_CMD_SET_PARAMS)                                               \
	X("CMD_GET_PARAMS", UBLK_U_CMD_GET_PARAMS)                                               \
	X("CMD_GET_DEV_INFO", UBLK_U_CMD_GET_DEV_INFO)                                           \
	X("CMD_GET_DEV_INFO2", UBLK_U_CMD_GET_DEV_INFO2)                                         \
	X("CMD_GET_FEATURES", UBLK_U_CMD_GET_FEATURES)                                           \
	X("CMD_GET_QUEUE_AFFINITY", UBLK_U_CMD_GET_QUEUE_AFFINITY)                               \
	X("CMD_START_USER_RECOVERY", UBLK_U_CMD_START_USER_RECOVERY)                             \
	X("CMD_END_USER_RECOVERY", UBLK_U_CMD_END_USER_RECOVERY)                                 \
	X("CMD_DEL_DEV_ASYNC", UBLK_U_CMD_DEL_DEV_ASYNC)                                         \
	X("CMD_QUIESCE_DEV", UBLK_U_CMD_QUIESCE_DEV)                                             \
	X("IO_FETCH_REQ", UBLK_U_IO_FETCH_REQ)                                                   \
	X("IO_COMMIT_AND_FETCH_REQ", UBLK_U_IO_COMMIT_AND_FETCH_REQ)                             \
	X("IO_REGISTER_IO_BUF", UBLK_U_IO_REGISTER_IO_BUF)                                       \
	X("IO_UNREGISTER_IO_BUF", UBLK_U_IO_UNREGISTER_IO_BUF)                                   \
	X("IO_RES_ABORT", (unsigned long long)UBLK_IO_RES_ABORT)                                 \
	X("F_USER_COPY", UBLK_F_USER_COPY)                                                       \
	X("F_AUTO_BUF_REG", UBLK_F_AUTO_BUF_REG)                                                 \
	X("F_USER_RECOVERY", UBLK_F_USER_RECOVERY)                                               \
	X("F_USER_RECOVERY_REISSUE", UBLK_F_USER_RECOVERY_REISSUE)                               \
	X("F_USER_RECOVERY_FAIL_IO", UBLK_F_USER_RECOVERY_FAIL_IO)                               \
	X("F_UNPRIVILEGED_DEV", UBLK_F_UNPRIVILEGED_DEV)                                         \
	X("F_CMD_IOCTL_ENCODE", UBLK_F_CMD_IOCTL_ENCODE)                                         \
	X("F_NO_AUTO_PART_SCAN", UBLK_F_NO_AUTO_PART_SCAN)                                       \
	X("F_IO_DESC_SIZE", UBLK_F_IO_DESC_SIZE)                                                 \
	X("IO_F_FUA", UBLK_IO_F_FUA)                                                             \
	X("IO_F_NOUNMAP", UBLK_IO_F_NOUNMAP)                                                     \
	X("IO_OP_WRITE_ZEROES", UBLK_IO_OP_WRITE_ZEROES)                                         \
	X("IO_BUF_OFFSET", UBLKSRV_IO_BUF_OFFSET)                                                \
	X("QID_OFF", UBLK_QID_OFF)                                                               \
	X("MAX_QUEUE_DEPTH", UBLK_MAX_QUEUE_DEPTH)

#define ABI_ITEM(n, v) { n, (unsigned long long)(v) },

extern const struct abi_item abi_ours[], abi_kernel[];
extern const int abi_kernel_available;

#endif
