/* SPDX-License-Identifier: MIT */
/* The `ublk` command's subcommands and their shared helpers. */
#ifndef UBLK_CLI_H
#define UBLK_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "ublksrv.h"

struct add_args {
	struct ublk_dev_opts opts;
	const char *type;
	bool foreground;
};

/* parse.c: pure parsing, no side effects, unit-tested */
int parse_uint(const char *s, unsigned long long max, unsigned long long *out);
int parse_size(const char *s, unsigned long long *out);
int parse_add_args(int argc, char **argv, struct add_args *a, char *err,
		   size_t err_len);

int cmd_add(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_features(int argc, char **argv);

/* list.c: print device @dev_id as `ublk list -n` does; 0 or -errno */
int list_print_dev(struct ublk_ctrl *ctrl, __u32 dev_id, bool verbose);
/* ids of all ublk devices, sorted; returns how many, or -errno */
int list_dev_ids(__u32 *ids, int max);

/* open /dev/ublk-control, printing a clear message on failure */
int cli_open_ctrl(struct ublk_ctrl *ctrl, const char *cmd);

void usage_add(void);

#endif
