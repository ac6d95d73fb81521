/* SPDX-License-Identifier: MIT */
/* Library internals shared between lib/ files; not installed. */
#ifndef UBLKSRV_PRIV_H
#define UBLKSRV_PRIV_H

#include <syslog.h>

#include "ublksrv.h"

#define ublk_err(...)  ublk_log(LOG_ERR, __VA_ARGS__)
#define ublk_info(...) ublk_log(LOG_INFO, __VA_ARGS__)

void *ublk_queue_thread(void *arg);

/* dev.c: the steps ublk_dev_create/start and ublk_dev_recover share */
int ublk_dev_setup(struct ublk_dev *dev, const struct ublk_dev_opts *opts);
int ublk_dev_init_tgt(struct ublk_dev *dev, const struct ublk_dev_opts *opts);
int ublk_dev_start_queues(struct ublk_dev *dev);

static inline size_t ublk_round_up(size_t v, size_t align)
{
	return (v + align - 1) / align * align;
}

#endif
