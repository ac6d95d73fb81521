/* SPDX-License-Identifier: MIT */
/* The targets built into the `ublk` command. */
#ifndef UBLK_TARGETS_H
#define UBLK_TARGETS_H

#include "ublksrv.h"

extern const struct ublk_tgt_ops null_tgt_ops;
extern const struct ublk_tgt_ops loop_tgt_ops;
extern const struct ublk_tgt_ops qcow2_tgt_ops;

/* NULL-terminated, in the order `ublk help` lists them. */
extern const struct ublk_tgt_ops *const ublk_tgt_list[];

const struct ublk_tgt_ops *ublk_find_tgt(const char *name);

#endif
