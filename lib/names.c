// SPDX-License-Identifier: MIT
/* Human names for kernel constants, as `ublk list` and `ublk features` print them. */
#include <stddef.h>

#include "ublksrv.h"

static const char *const state_names[] = {
	[UBLK_S_DEV_DEAD] = "DEAD",
	[UBLK_S_DEV_LIVE] = "LIVE",
	[UBLK_S_DEV_QUIESCED] = "QUIESCED",
	[UBLK_S_DEV_FAIL_IO] = "FAIL_IO",
};

const char *ublk_state_name(unsigned int state)
{
	if (state >= sizeof(state_names) / sizeof(state_names[0]))
		return "UNKNOWN";
	return state_names[state];
}

/* Spelled as the flag without UBLK_F_. */
static const char *const feature_names[] = {
	"SUPPORT_ZERO_COPY",
	"URING_CMD_COMP_IN_TASK",
	"NEED_GET_DATA",
	"USER_RECOVERY",
	"USER_RECOVERY_REISSUE",
	"UNPRIVILEGED_DEV",
	"CMD_IOCTL_ENCODE",
	"USER_COPY",
	"ZONED",
	"USER_RECOVERY_FAIL_IO",
	"UPDATE_SIZE",
	"AUTO_BUF_REG",
	"QUIESCE",
	"PER_IO_DAEMON",
	"BUF_REG_OFF_DAEMON",
	"BATCH_IO",
	"INTEGRITY",
	"SAFE_STOP_DEV",
	"NO_AUTO_PART_SCAN",
	"SHMEM_ZC",
	"IO_DESC_SIZE",
	[48] = "BPF_OPS", /* the project's module (kernel/), not upstream */
};

const char *ublk_feature_name(unsigned int bit)
{
	if (bit >= sizeof(feature_names) / sizeof(feature_names[0]))
		return NULL;
	return feature_names[bit];
}

const char *ublk_data_mode_name(enum ublk_data_mode mode)
{
	switch (mode) {
	case UBLK_DATA_COPY:
		return "copy";
	case UBLK_DATA_USER_COPY:
		return "user_copy";
	case UBLK_DATA_AUTO_ZC:
		return "auto_zc";
	}
	return "unknown";
}
