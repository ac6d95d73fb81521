// SPDX-License-Identifier: MIT
/* Command-line parsing for `ublk add`, kept free of side effects for tests. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
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

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (!*end) {
		*out = v;
		return 0;
	}
	p = strchr(suffixes, end[0] & ~0x20);
	if (!p || !end[0] || (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B")))
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
		case 'h':
			return 1;
		case ':':
			snprintf(err, err_len, "option '%s' needs an argument", argv[optind - 1]);
			return -EINVAL;
		default:
			snprintf(err, err_len, "unknown option '%s'", argv[optind - 1]);
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
	return 0;
}
