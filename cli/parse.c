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
	return 0;
}
