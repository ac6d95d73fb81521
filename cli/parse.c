// SPDX-License-Identifier: MIT
/* Command-line parsing for `ublk add`, kept free of side effects for tests. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "targets.h"

/*
 * The generic options' letters (ublksrv's), every other letter is a
 * target's; cli_getopt() adds the leading ':' and 'h'.
 */
#define GENERIC_SHORT "t:n:q:d:u:g:zbr:i:e:"
#define GENERIC_SHORT_LEN (sizeof(GENERIC_SHORT) - 1)

enum {
	OPT_FOREGROUND = 0x100,
	OPT_MAX_IO,
	OPT_RECOVERY,
	OPT_BPF,
	OPT_BPF_REDIRECT,
	OPT_BPF_SPLIT,
	OPT_BPF_EAGAIN,
	OPT_BPF_POLL,
	OPT_UNPRIVILEGED,
	OPT_USER_COPY,
	OPT_MAX_IO_BUF,
	OPT_DEBUG_MASK,
	OPT_TGT_BASE = 0x1000, /* + index in tgt_refs */
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

/*
 * --bpf[=on|off|auto|iouring|seed], bpf= in a config file; a bare --bpf
 * means on; iouring and seed mean on, with that backend only.
 */
int parse_bpf(const char *s, enum ublk_bpf_mode *out, enum ublk_bpf_backend *backend)
{
	static const enum ublk_bpf_mode modes[] = { UBLK_BPF_OFF, UBLK_BPF_ON, UBLK_BPF_AUTO };
	unsigned int i;

	*backend = UBLK_BPF_BACKEND_AUTO;
	if (!s) {
		*out = UBLK_BPF_ON;
		return 0;
	}
	if (!strcmp(s, "iouring") || !strcmp(s, "seed")) {
		*out = UBLK_BPF_ON;
		*backend = *s == 'i' ? UBLK_BPF_BACKEND_IOURING : UBLK_BPF_BACKEND_SEED;
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

static const struct option generic_options[] = {
	{ "type", required_argument, NULL, 't' },
	{ "number", required_argument, NULL, 'n' },
	{ "queues", required_argument, NULL, 'q' },
	{ "depth", required_argument, NULL, 'd' },
	/* ublksrv's -u and -g: legacy, see parse_add_opt() */
	{ "uring_comp", required_argument, NULL, 'u' },
	{ "need_get_data", required_argument, NULL, 'g' },
	{ "usercopy", no_argument, NULL, OPT_USER_COPY },
	{ "user_copy", no_argument, NULL, OPT_USER_COPY }, /* kublk's spelling */
	{ "zerocopy", no_argument, NULL, 'z' },
	{ "zero_copy", no_argument, NULL, 'z' },
	{ "auto_zc", no_argument, NULL, 'z' },
	{ "batch-io", no_argument, NULL, 'b' },
	{ "max_io_size", required_argument, NULL, OPT_MAX_IO },
	{ "max_io_buf_bytes", required_argument, NULL, OPT_MAX_IO_BUF },
	{ "debug_mask", required_argument, NULL, OPT_DEBUG_MASK },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "recovery", required_argument, NULL, OPT_RECOVERY },
	{ "recovery_enable", required_argument, NULL, 'r' },
	{ "recovery_reissue", required_argument, NULL, 'i' },
	{ "recovery_fail_io", required_argument, NULL, 'e' },
	{ "user_recovery", required_argument, NULL, 'r' },
	{ "user_recovery_reissue", required_argument, NULL, 'i' },
	{ "user_recovery_fail_io", required_argument, NULL, 'e' },
	{ "bpf", optional_argument, NULL, OPT_BPF },
	{ "bpf_redirect", required_argument, NULL, OPT_BPF_REDIRECT },
	{ "bpf_split", required_argument, NULL, OPT_BPF_SPLIT },
	{ "bpf_eagain", no_argument, NULL, OPT_BPF_EAGAIN },
	{ "bpf_poll_us", required_argument, NULL, OPT_BPF_POLL },
	{ "unprivileged", no_argument, NULL, OPT_UNPRIVILEGED },
	{ NULL, 0, NULL, 0 },
};

static int set_mode(struct add_args *a, enum ublk_data_mode mode, char *err, size_t err_len)
{
	if (a->opts.data_mode != UBLK_DATA_COPY && a->opts.data_mode != mode) {
		snprintf(err, err_len, "--usercopy and -z (zero copy) exclude each other");
		return -EINVAL;
	}
	a->opts.data_mode = mode;
	return 0;
}

static int parse_num_opt(const char *name, const char *arg, unsigned long long max,
			 unsigned long long *out, char *err, size_t err_len)
{
	int ret = ublk_parse_uint(arg, max, out);

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

	if (ublk_parse_uint(arg, 1, &v)) {
		snprintf(err, err_len, "%s: '%s' is not 0 or 1", name, arg);
		return -EINVAL;
	}
	if (v)
		*flags |= bit;
	else
		*flags &= ~bit;
	return 0;
}

/* As in ublksrv, -i 1 and -e 1 imply -r 1. */
static int check_recovery(__u64 *flags, char *err, size_t err_len)
{
	if (*flags & (UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_USER_RECOVERY_FAIL_IO))
		*flags |= UBLK_F_USER_RECOVERY;
	if ((*flags & UBLK_F_USER_RECOVERY_REISSUE) && (*flags & UBLK_F_USER_RECOVERY_FAIL_IO)) {
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
	if (o->bpf_poll_us && o->bpf == UBLK_BPF_OFF) {
		snprintf(err, err_len, "--bpf_poll_us needs --bpf");
		return -EINVAL;
	}
	/* the seed backend's program runs in the submitter: nothing polls */
	if (o->bpf_poll_us && o->bpf_backend == UBLK_BPF_BACKEND_SEED) {
		snprintf(err, err_len, "--bpf_poll_us is for --bpf=iouring, not --bpf=seed");
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

/*
 * ublksrv's -u/--uring_comp N and -g/--need_get_data N, accepted so that its
 * scripts run: the kernel completes every command in task context whatever
 * URING_CMD_COMP_IN_TASK says, and this server has every tag's buffer ready
 * before the request comes, so it never needs UBLK_IO_NEED_GET_DATA.
 */
static int legacy_opt(int opt, const char *arg, char *err, size_t err_len)
{
	unsigned long long v;

	if (ublk_parse_uint(arg, ~0U, &v)) {
		snprintf(err, err_len, "%s: '%s' is not a number",
			 opt == 'u' ? "-u/--uring_comp" : "-g/--need_get_data", arg);
		return -EINVAL;
	}
	return 0;
}

/*
 * ublksrv's --debug_mask: hex, 0x optional. Checked and otherwise ignored:
 * this server has no debug message classes to switch on.
 */
static int parse_debug_mask(const char *arg, char *err, size_t err_len)
{
	const char *p = arg;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (!*p || strlen(p) > 8 || strspn(p, "0123456789abcdefABCDEF") != strlen(p)) {
		snprintf(err, err_len, "--debug_mask: '%s' is not a 32-bit hex mask", arg);
		return -EINVAL;
	}
	return 0;
}

static int parse_add_opt(int opt, struct add_args *a, __u64 *rec, char *err, size_t err_len)
{
	unsigned long long v = 0;
	__u32 id = 0;
	int ret = 0;

	switch (opt) {
	case 't':
		a->type = optarg;
		break;
	case 'n':
		ret = parse_dev_id(optarg, &id, err, err_len);
		a->opts.dev_id = id;
		break;
	case 'q':
		ret = parse_num_opt("-q", optarg, 0xffff, &v, err, err_len);
		a->opts.nr_queues = v;
		break;
	case 'd':
		ret = parse_num_opt("-d", optarg, 0xffff, &v, err, err_len);
		a->opts.depth = v;
		break;
	case 'u':
	case 'g':
		ret = legacy_opt(opt, optarg, err, err_len);
		break;
	case OPT_USER_COPY:
		ret = set_mode(a, UBLK_DATA_USER_COPY, err, err_len);
		break;
	case 'z':
		ret = set_mode(a, UBLK_DATA_AUTO_ZC, err, err_len);
		break;
	case 'b':
		snprintf(
			err, err_len,
			"-b/--batch-io: batch I/O (UBLK_F_BATCH_IO) is not implemented by this server");
		ret = -EOPNOTSUPP;
		break;
	case OPT_MAX_IO:
	case OPT_MAX_IO_BUF:
		ret = ublk_parse_size(optarg, &v);
		if (ret || v > (1U << 25))
			snprintf(err, err_len, "%s: '%s' is not a size up to 32M",
				 opt == OPT_MAX_IO ? "--max_io_size" : "--max_io_buf_bytes",
				 optarg),
				ret = -EINVAL;
		a->opts.max_io_bytes = v;
		break;
	case OPT_DEBUG_MASK:
		ret = parse_debug_mask(optarg, err, err_len);
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
		ret = parse_bpf(optarg, &a->opts.bpf, &a->opts.bpf_backend);
		if (ret)
			snprintf(err, err_len, "--bpf: '%s' is not on, off, auto, iouring or seed",
				 optarg);
		break;
	case OPT_BPF_REDIRECT:
		ret = parse_num_opt("--bpf_redirect", optarg, 1U << 30, &v, err, err_len);
		a->opts.bpf_redirect_every = v;
		break;
	case OPT_BPF_SPLIT:
		ret = ublk_parse_size(optarg, &v);
		if (ret || v > (1U << 25))
			snprintf(err, err_len, "--bpf_split: '%s' is not a size up to 32M", optarg),
				ret = -EINVAL;
		a->opts.bpf_split_bytes = v;
		break;
	case OPT_BPF_EAGAIN:
		a->opts.bpf_eagain = true;
		break;
	case OPT_BPF_POLL:
		ret = parse_num_opt("--bpf_poll_us", optarg, UBLK_BPF_MAX_POLL_US, &v, err,
				    err_len);
		a->opts.bpf_poll_us = v;
		break;
	case OPT_UNPRIVILEGED:
		a->opts.extra_flags |= UBLK_F_UNPRIVILEGED_DEV;
		break;
	}
	return ret;
}

/*
 * Every target's options, so that they may come before -t: getopt sees
 * them all, and those of the chosen target are applied after the loop, in
 * command-line order (`ublk recover` replays the arguments: same result).
 */
#define MAX_TGT_OPTS 64
#define NR_GENERIC (int)(sizeof(generic_options) / sizeof(generic_options[0]) - 1)

struct opt_table {
	struct option longopts[NR_GENERIC + MAX_TGT_OPTS + 1];
	const struct ublk_tgt_opt *refs[MAX_TGT_OPTS]; /* first target declaring it */
	char shortopts[128];
};

static int table_add(struct opt_table *t, int *n, const struct ublk_tgt_opt *o, char *err,
		     size_t err_len)
{
	int i;

	for (i = 0; i < NR_GENERIC + *n; i++) {
		const struct option *l = &t->longopts[i];

		if (strcmp(l->name, o->name))
			continue;
		/* two targets may share a name if getopt can treat them alike */
		if (i < NR_GENERIC || (l->has_arg == required_argument) != o->has_arg) {
			snprintf(err, err_len, "target option --%s clashes with another option",
				 o->name);
			return -EINVAL;
		}
		return 0;
	}
	if (*n == MAX_TGT_OPTS) {
		snprintf(err, err_len, "too many target options");
		return -EINVAL;
	}
	t->refs[*n] = o;
	t->longopts[NR_GENERIC + *n] =
		(struct option){ o->name, o->has_arg ? required_argument : no_argument, NULL,
				 OPT_TGT_BASE + *n };
	(*n)++;
	return 0;
}

static int table_add_short(struct opt_table *t, const struct ublk_tgt_opt *o, char *err,
			   size_t err_len)
{
	size_t len = strlen(t->shortopts);
	char *p;

	if (!o->short_name)
		return 0;
	p = strchr(t->shortopts, o->short_name);
	if (p && (p[1] == ':') == o->has_arg && p - t->shortopts >= (ptrdiff_t)GENERIC_SHORT_LEN)
		return 0;
	if (p || len + 3 > sizeof(t->shortopts) || !isalnum((unsigned char)o->short_name)) {
		snprintf(err, err_len, "target option -%c clashes with another option",
			 o->short_name);
		return -EINVAL;
	}
	t->shortopts[len++] = o->short_name;
	if (o->has_arg)
		t->shortopts[len++] = ':';
	t->shortopts[len] = '\0';
	return 0;
}

static int build_table(struct opt_table *t, char *err, size_t err_len)
{
	const struct ublk_tgt_opt *o;
	int i, n = 0, ret = 0;

	memcpy(t->longopts, generic_options, sizeof(generic_options));
	snprintf(t->shortopts, sizeof(t->shortopts), "%s", GENERIC_SHORT);
	for (i = 0; !ret && ublk_tgt_list[i]; i++) {
		for (o = ublk_tgt_list[i]->opts; !ret && o && o->name; o++) {
			ret = table_add(t, &n, o, err, err_len);
			if (!ret)
				ret = table_add_short(t, o, err, err_len);
		}
	}
	t->longopts[NR_GENERIC + n] = (struct option){ NULL, 0, NULL, 0 };
	return ret;
}

/* A target option as given, to apply once the target is known. */
struct tgt_arg {
	int code; /* short letter, or OPT_TGT_BASE + i */
	const char *arg;
};

static const struct ublk_tgt_opt *find_tgt_opt(const struct ublk_tgt_ops *tgt,
					       const struct opt_table *t, int code)
{
	const struct ublk_tgt_opt *o;

	for (o = tgt->opts; o && o->name; o++) {
		if (code < OPT_TGT_BASE && o->short_name == code)
			return o;
		if (code >= OPT_TGT_BASE && !strcmp(o->name, t->refs[code - OPT_TGT_BASE]->name))
			return o;
	}
	return NULL;
}

static void opt_spelling(const struct opt_table *t, int code, char *buf, size_t len)
{
	if (code < OPT_TGT_BASE)
		snprintf(buf, len, "-%c", code);
	else
		snprintf(buf, len, "--%s", t->refs[code - OPT_TGT_BASE]->name);
}

static int apply_tgt_args(struct add_args *a, const struct opt_table *t, const struct tgt_arg *ta,
			  int n, char *err, size_t err_len)
{
	const struct ublk_tgt_ops *tgt = a->opts.tgt;
	const struct ublk_tgt_opt *o;
	char name[80], why[256];
	int i, ret;

	for (i = 0; i < n; i++) {
		opt_spelling(t, ta[i].code, name, sizeof(name));
		o = find_tgt_opt(tgt, t, ta[i].code);
		if (!o) {
			snprintf(err, err_len, "option '%s' is not one of the %s target's", name,
				 tgt->name);
			return -EINVAL;
		}
		why[0] = '\0';
		ret = o->parse(a->tgt_opts, ta[i].arg, why, sizeof(why));
		if (ret) {
			snprintf(err, err_len, "%s: %s", name, why[0] ? why : strerror(-ret));
			return ret < 0 ? ret : -EINVAL;
		}
		if ((o->flags & UBLK_TGT_OPT_PATH) && a->nr_paths < ADD_MAX_PATHS)
			a->paths[a->nr_paths++] = ta[i].arg;
	}
	return 0;
}

static int set_target(struct add_args *a, char *err, size_t err_len)
{
	size_t n = 0;
	int i;

	if (!a->type) {
		snprintf(err, err_len, "missing target type (-t TYPE)");
		return -EINVAL;
	}
	a->opts.tgt = ublk_find_tgt(a->type);
	if (!a->opts.tgt) {
		n = snprintf(err, err_len, "unknown target type '%s' (known:", a->type);
		for (i = 0; ublk_tgt_list[i] && n < err_len; i++)
			n += snprintf(err + n, err_len - n, " %s", ublk_tgt_list[i]->name);
		if (n < err_len)
			snprintf(err + n, err_len - n, ")");
		return -EINVAL;
	}
	a->tgt_opts = calloc(1, a->opts.tgt->opts_size ?: 1);
	if (!a->tgt_opts) {
		snprintf(err, err_len, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	a->opts.tgt_opts = a->tgt_opts;
	return 0;
}

struct parse_ctx {
	struct add_args *a;
	struct tgt_arg *ta;
	int nr_ta;
	__u64 rec;
};

/* a generic option now, a target's once the target is known */
static int add_opt(void *ctx, int opt, const char *arg, char *err, size_t err_len)
{
	struct parse_ctx *c = ctx;

	if (opt >= OPT_TGT_BASE || (opt < 0x100 && !strchr(GENERIC_SHORT, opt))) {
		c->ta[c->nr_ta++] = (struct tgt_arg){ opt, arg };
		return 0;
	}
	return parse_add_opt(opt, c->a, &c->rec, err, err_len);
}

void add_args_free(struct add_args *a)
{
	free(a->tgt_opts);
	a->tgt_opts = NULL;
	a->opts.tgt_opts = NULL;
}

int parse_add_args(int argc, char **argv, struct add_args *a, char *err, size_t err_len)
{
	struct opt_table t;
	struct parse_ctx c;
	struct cli_opts o;
	struct tgt_arg *ta;
	__u64 rec;
	int ret;

	memset(a, 0, sizeof(*a));
	ublk_dev_opts_init(&a->opts);
	if (err_len)
		err[0] = '\0';
	ret = build_table(&t, err, err_len);
	if (ret)
		return ret;
	ta = calloc(argc + 1, sizeof(*ta));
	if (!ta)
		return -ENOMEM;
	c = (struct parse_ctx){ .a = a, .ta = ta };
	o = (struct cli_opts){ t.shortopts, t.longopts, add_opt, &c };
	ret = cli_getopt(&o, argc, argv, err, err_len) ?:
		      set_target(a, err, err_len)      ?:
		      apply_tgt_args(a, &t, ta, c.nr_ta, err, err_len);
	free(ta);
	if (ret)
		return ret;
	rec = c.rec;
	ret = check_recovery(&rec, err, err_len);
	if (ret)
		return ret;
	if ((a->opts.extra_flags & UBLK_F_UNPRIVILEGED_DEV) &&
	    a->opts.data_mode != UBLK_DATA_COPY) {
		snprintf(
			err, err_len,
			"--unprivileged excludes --usercopy and -z (the kernel refuses them for unprivileged devices)");
		return -EINVAL;
	}
	a->opts.extra_flags |= rec;
	return check_bpf_args(a, err, err_len);
}
