// SPDX-License-Identifier: MIT
/* Command-line parsing for `ublk add`, kept free of side effects for tests. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* decimal, or hex with 0x; no sign, no blanks, no octal surprises */
int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;
	int base = 10;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		if (!isxdigit((unsigned char)s[2]))
			return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || end == s)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* bytes, with an optional K/M/G/T suffix (powers of 1024) */
int parse_size(const char *s, unsigned long long *out)
{
	static const char suffixes[] = "KMGT";
	unsigned long long v;
	const char *p;
	char *end;
	int shift;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (!*end) {
		*out = v;
		return 0;
	}
	p = isalpha((unsigned char)end[0]) ? strchr(suffixes, toupper(end[0])) : NULL;
	if (!p || (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B")))
		return -EINVAL;
	shift = 10 * (p - suffixes + 1);
	if (v > (~0ULL >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

enum {
	OPT_SIZE = 0x100,
	OPT_BUFFERED_IO,
	OPT_FOREGROUND,
	OPT_MAX_IO,
	OPT_BPF,
	OPT_BPF_REDIRECT,
	OPT_BPF_SPLIT,
	OPT_BPF_EAGAIN,
};

static const struct option add_options[] = {
	{ "type", required_argument, NULL, 't' },
	{ "number", required_argument, NULL, 'n' },
	{ "queues", required_argument, NULL, 'q' },
	{ "depth", required_argument, NULL, 'd' },
	{ "file", required_argument, NULL, 'f' },
	{ "user_copy", no_argument, NULL, 'u' },
	{ "usercopy", no_argument, NULL, 'u' },
	{ "zero_copy", no_argument, NULL, 'z' },
	{ "auto_zc", no_argument, NULL, 'z' },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "max_io_size", required_argument, NULL, OPT_MAX_IO },
	{ "buffered_io", no_argument, NULL, OPT_BUFFERED_IO },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "bpf", optional_argument, NULL, OPT_BPF },
	{ "bpf_redirect", required_argument, NULL, OPT_BPF_REDIRECT },
	{ "bpf_split", required_argument, NULL, OPT_BPF_SPLIT },
	{ "bpf_eagain", no_argument, NULL, OPT_BPF_EAGAIN },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int set_mode(struct add_args *a, enum ublk_data_mode mode, char *err,
		    size_t err_len)
{
	if (a->opts.data_mode != UBLK_DATA_COPY && a->opts.data_mode != mode) {
		snprintf(err, err_len, "-u (user copy) and -z (zero copy) exclude each other");
		return -EINVAL;
	}
	a->opts.data_mode = mode;
	return 0;
}

static int parse_num_opt(const char *name, const char *arg,
			 unsigned long long max, unsigned long long *out,
			 char *err, size_t err_len)
{
	int ret = parse_uint(arg, max, out);

	if (ret)
		snprintf(err, err_len, "%s: '%s' is not a number%s", name, arg,
			 ret == -ERANGE ? " in range" : "");
	return ret;
}

static int parse_bpf_mode(const char *arg, enum ublk_bpf_mode *mode, char *err,
			  size_t err_len)
{
	if (!arg || !strcmp(arg, "on"))
		*mode = UBLK_BPF_ON;
	else if (!strcmp(arg, "auto"))
		*mode = UBLK_BPF_AUTO;
	else if (!strcmp(arg, "off"))
		*mode = UBLK_BPF_OFF;
	else {
		snprintf(err, err_len, "--bpf: '%s' is not on, off or auto", arg);
		return -EINVAL;
	}
	return 0;
}

/* The debug knobs only mean something on the BPF path. */
static int check_bpf_args(const struct add_args *a, char *err, size_t err_len)
{
	const struct ublk_dev_opts *o = &a->opts;

	if (o->bpf == UBLK_BPF_OFF &&
	    (o->bpf_redirect_every || o->bpf_split_bytes || o->bpf_eagain)) {
		snprintf(err, err_len, "--bpf_redirect, --bpf_split and --bpf_eagain need --bpf");
		return -EINVAL;
	}
	if (o->bpf_split_bytes % 512) {
		snprintf(err, err_len, "--bpf_split: %u is not a multiple of 512",
			 o->bpf_split_bytes);
		return -EINVAL;
	}
	if (o->bpf_eagain && !o->bpf_redirect_every) {
		snprintf(err, err_len, "--bpf_eagain needs --bpf_redirect N");
		return -EINVAL;
	}
	return 0;
}

int parse_add_args(int argc, char **argv, struct add_args *a, char *err,
		   size_t err_len)
{
	unsigned long long v = 0;
	int opt, ret = 0;

	memset(a, 0, sizeof(*a));
	ublk_dev_opts_init(&a->opts);
	optind = 0; /* GNU: full re-initialisation, so tests can call us again */
	opterr = 0;
	while (!ret && (opt = getopt_long(argc, argv, ":t:n:q:d:f:uzh", add_options,
					  NULL)) != -1) {
		switch (opt) {
		case 't':
			a->type = optarg;
			break;
		case 'n':
			ret = parse_num_opt("-n", optarg, (1 << 20) - 1, &v, err, err_len);
			a->opts.dev_id = v;
			break;
		case 'q':
			ret = parse_num_opt("-q", optarg, 0xffff, &v, err, err_len);
			a->opts.nr_queues = v;
			break;
		case 'd':
			ret = parse_num_opt("-d", optarg, 0xffff, &v, err, err_len);
			a->opts.depth = v;
			break;
		case 'f':
			a->opts.file = optarg;
			break;
		case 'u':
			ret = set_mode(a, UBLK_DATA_USER_COPY, err, err_len);
			break;
		case 'z':
			ret = set_mode(a, UBLK_DATA_AUTO_ZC, err, err_len);
			break;
		case OPT_SIZE:
			ret = parse_size(optarg, &v);
			if (ret)
				snprintf(err, err_len, "--size: '%s' is not a size", optarg);
			a->opts.size = v;
			break;
		case OPT_MAX_IO:
			ret = parse_size(optarg, &v);
			if (ret || v > (1U << 25))
				snprintf(err, err_len, "--max_io_size: '%s' is not a size up to 32M",
					 optarg), ret = -EINVAL;
			a->opts.max_io_bytes = v;
			break;
		case OPT_BUFFERED_IO:
			a->opts.buffered_io = true;
			break;
		case OPT_FOREGROUND:
			a->foreground = true;
			break;
		case OPT_BPF:
			ret = parse_bpf_mode(optarg, &a->opts.bpf, err, err_len);
			break;
		case OPT_BPF_REDIRECT:
			ret = parse_num_opt("--bpf_redirect", optarg, 1U << 30, &v,
					    err, err_len);
			a->opts.bpf_redirect_every = v;
			break;
		case OPT_BPF_SPLIT:
			ret = parse_size(optarg, &v);
			if (ret || v > (1U << 25))
				snprintf(err, err_len, "--bpf_split: '%s' is not a size up to 32M",
					 optarg), ret = -EINVAL;
			a->opts.bpf_split_bytes = v;
			break;
		case OPT_BPF_EAGAIN:
			a->opts.bpf_eagain = true;
			break;
		case 'h':
			return 1;
		case ':':
			snprintf(err, err_len, "option '%s' needs an argument", argv[optind - 1]);
			return -EINVAL;
		default:
			/* inside a cluster (-xu) optind has not moved on yet */
			if (!strncmp(argv[optind - 1], "--", 2))
				snprintf(err, err_len, "unknown option '%s'", argv[optind - 1]);
			else
				snprintf(err, err_len, "unknown option '-%c'", optopt);
			return -EINVAL;
		}
	}
	if (ret)
		return ret;
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!a->type) {
		snprintf(err, err_len, "missing target type (-t TYPE)");
		return -EINVAL;
	}
	return check_bpf_args(a, err, err_len);
}
