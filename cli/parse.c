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
	OPT_RECOVERY,
	OPT_BPF,
	OPT_BPF_REDIRECT,
	OPT_BPF_SPLIT,
	OPT_BPF_EAGAIN,
	OPT_UNPRIVILEGED,
};

#define RECOVERY_FLAGS \
	(UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_USER_RECOVERY_FAIL_IO)

static const struct {
	const char *name;
	__u64 flags;
} recovery_modes[] = {
	{ "off", 0 },
	{ "requeue", UBLK_F_USER_RECOVERY },
	{ "reissue", UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE },
	{ "fail-io", UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_FAIL_IO },
};

int parse_recovery(const char *s, __u64 *flags)
{
	size_t i;

	for (i = 0; s && i < sizeof(recovery_modes) / sizeof(recovery_modes[0]); i++) {
		if (!strcmp(s, recovery_modes[i].name)) {
			*flags = recovery_modes[i].flags;
			return 0;
		}
	}
	return -EINVAL;
}

const char *recovery_name(__u64 flags)
{
	size_t i;

	for (i = 0; i < sizeof(recovery_modes) / sizeof(recovery_modes[0]); i++)
		if ((flags & RECOVERY_FLAGS) == recovery_modes[i].flags)
			return recovery_modes[i].name;
	return "invalid";
}

/* --bpf[=on|off|auto], bpf= in a config file; a bare --bpf means on */
int parse_bpf(const char *s, enum ublk_bpf_mode *out)
{
	static const enum ublk_bpf_mode modes[] = { UBLK_BPF_OFF, UBLK_BPF_ON, UBLK_BPF_AUTO };
	unsigned int i;

	if (!s) {
		*out = UBLK_BPF_ON;
		return 0;
	}
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(s, ublk_bpf_mode_name(modes[i]))) {
			*out = modes[i];
			return 0;
		}
	}
	return -EINVAL;
}

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
	{ "recovery", required_argument, NULL, OPT_RECOVERY },
	{ "recovery_enable", required_argument, NULL, 'r' },
	{ "recovery_reissue", required_argument, NULL, 'i' },
	{ "recovery_fail_io", required_argument, NULL, 'e' },
	{ "bpf", optional_argument, NULL, OPT_BPF },
	{ "bpf_redirect", required_argument, NULL, OPT_BPF_REDIRECT },
	{ "bpf_split", required_argument, NULL, OPT_BPF_SPLIT },
	{ "bpf_eagain", no_argument, NULL, OPT_BPF_EAGAIN },
	{ "unprivileged", no_argument, NULL, OPT_UNPRIVILEGED },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int set_mode(struct add_args *a, enum ublk_data_mode mode, char *err, size_t err_len)
{
	if (a->opts.data_mode != UBLK_DATA_COPY && a->opts.data_mode != mode) {
		snprintf(err, err_len, "-u (user copy) and -z (zero copy) exclude each other");
		return -EINVAL;
	}
	a->opts.data_mode = mode;
	return 0;
}

static int parse_num_opt(const char *name, const char *arg, unsigned long long max,
			 unsigned long long *out, char *err, size_t err_len)
{
	int ret = parse_uint(arg, max, out);

	if (ret)
		snprintf(err, err_len, "%s: '%s' is not a number%s", name, arg,
			 ret == -ERANGE ? " in range" : "");
	return ret;
}

/*
 * ublksrv's -r 1 / -i 1 / -e 1 (each 0 or 1) and --recovery=MODE, in the
 * order given: the last word about each flag wins.
 */
static int set_recovery_bit(const char *name, const char *arg, __u64 bit, __u64 *flags, char *err,
			    size_t err_len)
{
	unsigned long long v;

	if (parse_uint(arg, 1, &v)) {
		snprintf(err, err_len, "%s: '%s' is not 0 or 1", name, arg);
		return -EINVAL;
	}
	if (v)
		*flags |= bit;
	else
		*flags &= ~bit;
	return 0;
}

static int check_recovery(__u64 flags, char *err, size_t err_len)
{
	if ((flags & (UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_USER_RECOVERY_FAIL_IO)) &&
	    !(flags & UBLK_F_USER_RECOVERY)) {
		snprintf(err, err_len, "-i 1 and -e 1 need user recovery (-r 1)");
		return -EINVAL;
	}
	if ((flags & UBLK_F_USER_RECOVERY_REISSUE) && (flags & UBLK_F_USER_RECOVERY_FAIL_IO)) {
		snprintf(err, err_len, "-i 1 (reissue) and -e 1 (fail I/O) exclude each other");
		return -EINVAL;
	}
	return 0;
}

/* The debug knobs only mean something on the BPF path. */
static int check_bpf_args(struct add_args *a, char *err, size_t err_len)
{
	struct ublk_dev_opts *o = &a->opts;

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
	/* BPF needs CAP_BPF and zero copy, an unprivileged device has neither */
	if ((o->extra_flags & UBLK_F_UNPRIVILEGED_DEV) && o->bpf == UBLK_BPF_ON) {
		snprintf(
			err, err_len,
			"--unprivileged excludes --bpf (the BPF path needs CAP_BPF and zero copy)");
		return -EINVAL;
	}
	if (o->extra_flags & UBLK_F_UNPRIVILEGED_DEV)
		o->bpf = UBLK_BPF_OFF;
	return 0;
}

static int parse_add_opt(int opt, struct add_args *a, __u64 *rec, char *err, size_t err_len)
{
	unsigned long long v = 0;
	int ret = 0;

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
				 optarg),
				ret = -EINVAL;
		a->opts.max_io_bytes = v;
		break;
	case OPT_BUFFERED_IO:
		a->opts.buffered_io = true;
		break;
	case OPT_FOREGROUND:
		a->foreground = true;
		break;
	case 'r':
		ret = set_recovery_bit("-r", optarg, UBLK_F_USER_RECOVERY, rec, err, err_len);
		break;
	case 'i':
		ret = set_recovery_bit("-i", optarg, UBLK_F_USER_RECOVERY_REISSUE, rec, err,
				       err_len);
		break;
	case 'e':
		ret = set_recovery_bit("-e", optarg, UBLK_F_USER_RECOVERY_FAIL_IO, rec, err,
				       err_len);
		break;
	case OPT_RECOVERY:
		ret = parse_recovery(optarg, rec);
		if (ret)
			snprintf(err, err_len,
				 "--recovery: '%s' is not off, requeue, reissue or fail-io",
				 optarg);
		break;
	case OPT_BPF:
		ret = parse_bpf(optarg, &a->opts.bpf);
		if (ret)
			snprintf(err, err_len, "--bpf: '%s' is not on, off or auto", optarg);
		break;
	case OPT_BPF_REDIRECT:
		ret = parse_num_opt("--bpf_redirect", optarg, 1U << 30, &v, err, err_len);
		a->opts.bpf_redirect_every = v;
		break;
	case OPT_BPF_SPLIT:
		ret = parse_size(optarg, &v);
		if (ret || v > (1U << 25))
			snprintf(err, err_len, "--bpf_split: '%s' is not a size up to 32M", optarg),
				ret = -EINVAL;
		a->opts.bpf_split_bytes = v;
		break;
	case OPT_BPF_EAGAIN:
		a->opts.bpf_eagain = true;
		break;
	case OPT_UNPRIVILEGED:
		a->opts.extra_flags |= UBLK_F_UNPRIVILEGED_DEV;
		break;
	}
	return ret;
}

int parse_add_args(int argc, char **argv, struct add_args *a, char *err, size_t err_len)
{
	__u64 rec = 0;
	int opt, ret = 0;

	memset(a, 0, sizeof(*a));
	ublk_dev_opts_init(&a->opts);
	if (err_len)
		err[0] = '\0';
	optind = 0; /* GNU: full re-initialisation, so tests can call us again */
	opterr = 0;
	while (!ret &&
	       (opt = getopt_long(argc, argv, ":t:n:q:d:f:uzr:i:e:h", add_options, NULL)) != -1) {
		if (opt == 'h')
			return 1;
		if (opt == ':') {
			snprintf(err, err_len, "option '%s' needs an argument", argv[optind - 1]);
			return -EINVAL;
		}
		if (opt == '?') {
			/* inside a cluster (-xu) optind has not moved on yet */
			if (!strncmp(argv[optind - 1], "--", 2))
				snprintf(err, err_len, "unknown option '%s'", argv[optind - 1]);
			else
				snprintf(err, err_len, "unknown option '-%c'", optopt);
			return -EINVAL;
		}
		ret = parse_add_opt(opt, a, &rec, err, err_len);
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
	ret = check_recovery(rec, err, err_len);
	if (ret)
		return ret;
	if ((a->opts.extra_flags & UBLK_F_UNPRIVILEGED_DEV) &&
	    a->opts.data_mode != UBLK_DATA_COPY) {
		snprintf(
			err, err_len,
			"--unprivileged excludes -u and -z (the kernel refuses them for unprivileged devices)");
		return -EINVAL;
	}
	a->opts.extra_flags |= rec;
	return check_bpf_args(a, err, err_len);
}
