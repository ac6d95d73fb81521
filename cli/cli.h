/* SPDX-License-Identifier: MIT */
/* The `ublk` command's subcommands and their shared helpers. */
#ifndef UBLK_CLI_H
#define UBLK_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "ublksrv.h"

#define ADD_MAX_PATHS 8

struct add_args {
	struct ublk_dev_opts opts; /* opts.tgt and opts.tgt_opts set by parsing */
	const char *type;
	bool foreground;
	void *tgt_opts; /* malloc'ed, opts.tgt->opts_size bytes */
	/* values of UBLK_TGT_OPT_PATH options, pointers into argv */
	int nr_paths;
	const char *paths[ADD_MAX_PATHS];
};

/* strvec.c: a NULL-terminated vector of malloc'ed strings */
struct strvec {
	char **v;
	int n, cap;
};

void strvec_init(struct strvec *sv);
void strvec_free(struct strvec *sv);
int strvec_push(struct strvec *sv, const char *s);
int strvec_pushf(struct strvec *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* parse.c: pure parsing, no side effects, unit-tested */
/*
 * `ublk add` options into @a, the target's through its ublk_tgt_opt table:
 * 0, 1 for --help, or -errno with one line in @err. Call add_args_free()
 * afterwards whatever it returned.
 */
int parse_add_args(int argc, char **argv, struct add_args *a, char *err, size_t err_len);
void add_args_free(struct add_args *a);
/* UBLK_F_USER_RECOVERY* for a --recovery / ini recovery= word; -EINVAL */
int parse_recovery(const char *s, __u64 *flags);
/* the --recovery word for UBLK_F_USER_RECOVERY* @flags */
const char *recovery_name(__u64 flags);
int parse_bpf(const char *s, enum ublk_bpf_mode *out, enum ublk_bpf_backend *backend);

/*
 * config.c: a device config file (/etc/ublk/NAME.ini) as `ublk add`
 * options. Errors ("FILE:LINE: [device] KEY = 'VALUE': why") go to @err.
 */
struct config {
	struct strvec args; /* "--type=loop", "--file=/img", ... */
	int dev_id; /* id=, or -1 */
};

int config_load(const char *path, struct config *cfg, char *err, size_t err_len);
void config_free(struct config *cfg);

int cmd_add(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_owner(int argc, char **argv);

/*
 * Serve @opts (create, or take over with @recover): in this process, or in
 * a daemon once the device is LIVE. Returns the command's exit status.
 */
int serve_dev(const struct ublk_dev_opts *opts, bool foreground, bool recover);

/* recover.c: the `ublk add` arguments stored in device @dev_id's state file */
int recover_state_args(__u32 dev_id, struct strvec *args, char *err, size_t err_len);

/* del.c: delete one device as `ublk del -n` does; exit status */
int del_one(struct ublk_ctrl *ctrl, __u32 dev_id, bool keep_recoverable);

/* notify.c: send @msg to systemd if $NOTIFY_SOCKET is set; 0 or -errno */
int notify_systemd(const char *msg);

/* list.c: print device @dev_id as `ublk list -n` does; 0 or -errno */
int list_print_dev(struct ublk_ctrl *ctrl, __u32 dev_id, bool verbose);
/* ids of all ublk devices, sorted; returns how many, or -errno */
int list_dev_ids(__u32 *ids, int max);

/* common.c: what every subcommand shares */

/* device ids: the kernel has UBLK_MINORS (1 << 20) of them */
#define CLI_MAX_DEV_ID ((1U << 20) - 1)
/* cli_getopt()/cli_parse() saw -h/--help */
#define CLI_HELP 1
#define CLI_MAX_OPTS 128 /* ublk add: generic + every target's */

/* A subcommand's options; --help/-h is added to every one. */
struct cli_opts {
	const char *shortopts; /* getopt's, without ':' and 'h' */
	const struct option *longopts;
	/* one option: 0, or -errno with one line in @err */
	int (*handle)(void *ctx, int opt, const char *arg, char *err, size_t err_len);
	void *ctx;
};

/* Parse options with o->handle; 0, CLI_HELP, or -errno with @err set. */
int cli_getopt(const struct cli_opts *o, int argc, char **argv, char *err, size_t err_len);
/* cli_getopt() for `ublk CMD`: prints @usage for --help, errors on stderr */
int cli_parse(const struct cli_opts *o, const char *cmd, void (*usage)(void), int argc,
	      char **argv);
/* -n DEV_ID: 0..CLI_MAX_DEV_ID, everywhere */
int parse_dev_id(const char *arg, __u32 *id, char *err, size_t err_len);
/* open /dev/ublk-control, printing a clear message on failure */
int cli_open_ctrl(struct ublk_ctrl *ctrl, const char *cmd);
/* UBLK_F_* bit's name; unknown bits are BIT<n>; ublksrv's list says AUTO_ZC */
const char *cli_flag_name(unsigned int bit, bool ublksrv_spelling, char *buf, size_t len);
/* each set bit's name, between @before and @after */
void cli_print_flags(__u64 flags, const char *before, const char *after, bool ublksrv_spelling);

void usage_add(void);

#endif
