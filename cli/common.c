// SPDX-License-Identifier: MIT
/*
 * What the subcommands share: one option loop (same errors, same --help),
 * one device id range, the control device opened with one set of messages,
 * and feature bits printed by name.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_open_ctrl(struct ublk_ctrl *ctrl, const char *cmd)
{
	int ret = ublk_ctrl_open(ctrl);

	if (ret == -ENOENT)
		fprintf(stderr,
			"ublk %s: %s does not exist: load the ublk_drv kernel module (modprobe ublk_drv)\n",
			cmd, UBLK_CTRL_DEV);
	else if (ret < 0)
		fprintf(stderr, "ublk %s: cannot open %s: %s\n", cmd, UBLK_CTRL_DEV,
			strerror(-ret));
	return ret;
}

int parse_dev_id(const char *arg, __u32 *id, char *err, size_t err_len)
{
	unsigned long long v;

	if (ublk_parse_uint(arg, CLI_MAX_DEV_ID, &v)) {
		snprintf(err, err_len, "-n: '%s' is not a device id (range 0 to %u)", arg,
			 CLI_MAX_DEV_ID);
		return -EINVAL;
	}
	*id = v;
	return 0;
}

/* @longopts with --help appended, in @out (CLI_MAX_OPTS entries) */
static int with_help(const struct option *longopts, struct option *out)
{
	int n = 0;

	while (longopts && longopts[n].name) {
		if (n == CLI_MAX_OPTS - 2)
			return -E2BIG;
		out[n] = longopts[n];
		n++;
	}
	out[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	out[n] = (struct option){ NULL, 0, NULL, 0 };
	return 0;
}

int cli_getopt(const struct cli_opts *o, int argc, char **argv, char *err, size_t err_len)
{
	struct option longopts[CLI_MAX_OPTS];
	char shortopts[160];
	int opt, ret;

	if (with_help(o->longopts, longopts)) {
		snprintf(err, err_len, "too many options (a bug)");
		return -E2BIG;
	}
	snprintf(shortopts, sizeof(shortopts), ":%sh", o->shortopts);
	optind = 0; /* GNU: full re-initialisation, so tests can parse again */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (opt == 'h')
			return CLI_HELP;
		if (opt == ':') {
			snprintf(err, err_len, "option '%s' needs an argument", argv[optind - 1]);
			return -EINVAL;
		}
		if (opt == '?') {
			/* inside a cluster (-xu) optind has not moved on yet */
			if (optind <= argc && !strncmp(argv[optind - 1], "--", 2))
				snprintf(err, err_len, "unknown option '%s'", argv[optind - 1]);
			else
				snprintf(err, err_len, "unknown option '-%c'", optopt);
			return -EINVAL;
		}
		ret = o->handle(o->ctx, opt, optarg, err, err_len);
		if (ret)
			return ret;
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int cli_parse(const struct cli_opts *o, const char *cmd, void (*usage)(void), int argc, char **argv)
{
	char err[512] = "";
	int ret = cli_getopt(o, argc, argv, err, sizeof(err));

	if (ret == CLI_HELP) {
		usage();
		return CLI_HELP;
	}
	if (ret)
		fprintf(stderr, "ublk %s: %s (see 'ublk %s --help')\n", cmd, err, cmd);
	return ret;
}

const char *cli_flag_name(unsigned int bit, bool ublksrv_spelling, char *buf, size_t len)
{
	/* ublksrv's `ublk list` spells auto buffer registration AUTO_ZC */
	if (ublksrv_spelling && (1ULL << bit) == UBLK_F_AUTO_BUF_REG)
		return "AUTO_ZC";
	if (ublk_feature_name(bit))
		return ublk_feature_name(bit);
	snprintf(buf, len, "BIT%u", bit);
	return buf;
}

void cli_print_flags(__u64 flags, const char *before, const char *after, bool ublksrv_spelling)
{
	unsigned int bit;
	char buf[16];

	for (bit = 0; bit < 64; bit++)
		if (flags & (1ULL << bit))
			printf("%s%s%s", before,
			       cli_flag_name(bit, ublksrv_spelling, buf, sizeof(buf)), after);
}
