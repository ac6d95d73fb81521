// SPDX-License-Identifier: MIT
/* Unit test for cli/parse.c: numbers, sizes and `ublk add` options. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "targets.h"

#include "check.h"

/*
 * The targets the parser knows: the built-in null and loop, and a test
 * target whose private options the test can look into.
 */
struct test_opts {
	const char *path;
	unsigned long long count;
	char order[16]; /* one letter per callback, in call order */
};

static void record(struct test_opts *o, char c)
{
	size_t n = strlen(o->order);

	if (n + 1 < sizeof(o->order))
		o->order[n] = c;
}

static int test_path(void *p, const char *arg, char *err, size_t len)
{
	(void)err, (void)len;
	((struct test_opts *)p)->path = arg;
	record(p, 'p');
	return 0;
}

static int test_count(void *p, const char *arg, char *err, size_t len)
{
	struct test_opts *o = p;

	record(p, 'c');
	if (ublk_parse_uint(arg, 10, &o->count)) {
		snprintf(err, len, "'%s' is not 0 to 10", arg);
		return -EINVAL;
	}
	return 0;
}

static int test_flag(void *p, const char *arg, char *err, size_t len)
{
	(void)err, (void)len;
	record(p, arg ? '?' : 'f');
	return 0;
}

static const struct ublk_tgt_opt test_opts_table[] = {
	{ .name = "path",
	  .short_name = 'p',
	  .has_arg = true,
	  .arg_name = "P",
	  .help = "a path",
	  .flags = UBLK_TGT_OPT_PATH,
	  .parse = test_path },
	{ .name = "count",
	  .has_arg = true,
	  .arg_name = "N",
	  .help = "a number",
	  .parse = test_count },
	/* the same name as null's: fine, both take an argument */
	{ .name = "size", .has_arg = true, .arg_name = "S", .help = "a size", .parse = test_count },
	{ .name = "flag", .help = "a flag", .parse = test_flag },
	{ 0 },
};

/* not const: test_clash() swaps its table */
static struct ublk_tgt_ops test_tgt = {
	.name = "test",
	.opts = test_opts_table,
	.opts_size = sizeof(struct test_opts),
};

const struct ublk_tgt_ops *const ublk_tgt_list[] = { &null_tgt_ops, &loop_tgt_ops, &test_tgt,
						     NULL };

const struct ublk_tgt_ops *ublk_find_tgt(const char *name)
{
	int i;

	for (i = 0; name && ublk_tgt_list[i]; i++)
		if (!strcmp(ublk_tgt_list[i]->name, name))
			return ublk_tgt_list[i];
	return NULL;
}

static const struct test_opts *topts(const struct add_args *a)
{
	static const struct test_opts none;

	return a->opts.tgt == &test_tgt && a->opts.tgt_opts ? a->opts.tgt_opts : &none;
}

#define MAX_ARGS 32

/*
 * parse_add_args() on "add" followed by the NULL-terminated arguments.
 * err is cleared first so that a stale message cannot pass for a new one.
 */
static void *last_tgt_opts;

static int parse(struct add_args *a, char *err, size_t err_len, ...)
{
	char *argv[MAX_ARGS + 1];
	const char *s;
	va_list ap;
	int argc = 0, ret;

	argv[argc++] = "add";
	va_start(ap, err_len);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (argc == MAX_ARGS) {
			fprintf(stderr, "parse-test: too many arguments\n");
			exit(2);
		}
		argv[argc++] = (char *)s;
	}
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	/* the previous call's target options (a is reused uninitialised) */
	free(last_tgt_opts);
	ret = parse_add_args(argc, argv, a, err, err_len);
	last_tgt_opts = a->tgt_opts;
	return ret;
}

#define PARSE(a, ...) parse(a, err, sizeof(err), __VA_ARGS__, (char *)NULL)

/* The call failed (-EINVAL, or -ERANGE) and err mentions @needle. */
#define CHECK_ERR(ret, needle)                                                                   \
	do {                                                                                     \
		CHECK((ret) < 0);                                                                \
		CHECK(err[0] != '\0');                                                           \
		if (!strstr(err, needle)) {                                                      \
			fprintf(stderr, "%s:%d: FAILED: '%s' not in '%s'\n", __FILE__, __LINE__, \
				needle, err);                                                    \
			failures++;                                                              \
		}                                                                                \
	} while (0)

static void test_parse_uint(void)
{
	unsigned long long v;

	v = 7;
	CHECK(ublk_parse_uint("0", 10, &v) == 0 && v == 0);
	CHECK(ublk_parse_uint("42", 100, &v) == 0 && v == 42);
	CHECK(ublk_parse_uint("1048575", (1 << 20) - 1, &v) == 0 && v == 1048575);
	CHECK(ublk_parse_uint("0x10", 100, &v) == 0 && v == 16);
	CHECK(ublk_parse_uint("0X1f", 100, &v) == 0 && v == 31);
	CHECK(ublk_parse_uint("0xffff", 0xffff, &v) == 0 && v == 0xffff);

	/* the maximum is inclusive, one past it is out of range */
	CHECK(ublk_parse_uint("65535", 0xffff, &v) == 0 && v == 65535);
	v = 7;
	CHECK(ublk_parse_uint("65536", 0xffff, &v) == -ERANGE && v == 7);
	CHECK(ublk_parse_uint("0x10000", 0xffff, &v) == -ERANGE && v == 7);
	CHECK(ublk_parse_uint("1", 0, &v) == -ERANGE && v == 7);
	CHECK(ublk_parse_uint("0", 0, &v) == 0 && v == 0);
	CHECK(ublk_parse_uint("18446744073709551615", ~0ULL, &v) == 0 && v == ~0ULL);
	CHECK(ublk_parse_uint("0xffffffffffffffff", ~0ULL, &v) == 0 && v == ~0ULL);

	/* overflow of unsigned long long */
	v = 7;
	CHECK(ublk_parse_uint("18446744073709551616", ~0ULL, &v) < 0 && v == 7);
	CHECK(ublk_parse_uint("99999999999999999999999", ~0ULL, &v) < 0 && v == 7);
	CHECK(ublk_parse_uint("0x10000000000000000", ~0ULL, &v) < 0 && v == 7);

	/* negative and signed */
	CHECK(ublk_parse_uint("-1", ~0ULL, &v) == -EINVAL && v == 7);
	CHECK(ublk_parse_uint("-0", ~0ULL, &v) == -EINVAL && v == 7);
	CHECK(ublk_parse_uint("+1", ~0ULL, &v) == -EINVAL && v == 7);

	/* leading and trailing junk, empty */
	CHECK(ublk_parse_uint(NULL, ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("x1", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("abc", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("1x", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("1 ", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("1\n", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("1.0", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("1e3", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("4K", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("0x", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint("0xg", ~0ULL, &v) == -EINVAL);
	CHECK(v == 7);
}

static void test_parse_size(void)
{
	unsigned long long v;

	CHECK(ublk_parse_size("0", &v) == 0 && v == 0);
	CHECK(ublk_parse_size("512", &v) == 0 && v == 512);
	CHECK(ublk_parse_size("18446744073709551615", &v) == 0 && v == ~0ULL);

	/* suffixes are powers of 1024, with optional B or iB */
	CHECK(ublk_parse_size("1K", &v) == 0 && v == 1ULL << 10);
	CHECK(ublk_parse_size("3M", &v) == 0 && v == 3ULL << 20);
	CHECK(ublk_parse_size("2G", &v) == 0 && v == 2ULL << 30);
	CHECK(ublk_parse_size("5T", &v) == 0 && v == 5ULL << 40);
	CHECK(ublk_parse_size("4KiB", &v) == 0 && v == 4ULL << 10);
	CHECK(ublk_parse_size("4KB", &v) == 0 && v == 4ULL << 10);
	CHECK(ublk_parse_size("1MiB", &v) == 0 && v == 1ULL << 20);
	CHECK(ublk_parse_size("1GB", &v) == 0 && v == 1ULL << 30);
	CHECK(ublk_parse_size("1TiB", &v) == 0 && v == 1ULL << 40);
	CHECK(ublk_parse_size("0G", &v) == 0 && v == 0);

	/* lower-case suffix letters */
	CHECK(ublk_parse_size("4k", &v) == 0 && v == 4ULL << 10);
	CHECK(ublk_parse_size("4m", &v) == 0 && v == 4ULL << 20);
	CHECK(ublk_parse_size("4g", &v) == 0 && v == 4ULL << 30);
	CHECK(ublk_parse_size("4t", &v) == 0 && v == 4ULL << 40);
	CHECK(ublk_parse_size("4kiB", &v) == 0 && v == 4ULL << 10);
	CHECK(ublk_parse_size("4gB", &v) == 0 && v == 4ULL << 30);

	/* bad suffixes and junk */
	v = 7;
	CHECK(ublk_parse_size(NULL, &v) == -EINVAL);
	CHECK(ublk_parse_size("", &v) == -EINVAL);
	CHECK(ublk_parse_size("K", &v) == -EINVAL);
	CHECK(ublk_parse_size("1P", &v) == -EINVAL);
	CHECK(ublk_parse_size("1E", &v) == -EINVAL);
	CHECK(ublk_parse_size("1X", &v) == -EINVAL);
	CHECK(ublk_parse_size("1B", &v) == -EINVAL);
	CHECK(ublk_parse_size("1KK", &v) == -EINVAL);
	CHECK(ublk_parse_size("1Ki", &v) == -EINVAL);
	CHECK(ublk_parse_size("1KiBx", &v) == -EINVAL);
	CHECK(ublk_parse_size("1KBB", &v) == -EINVAL);
	CHECK(ublk_parse_size("1K ", &v) == -EINVAL);
	CHECK(ublk_parse_size("1.5G", &v) == -EINVAL);
	CHECK(ublk_parse_size("0x10", &v) == -EINVAL);
	CHECK(ublk_parse_size("x1", &v) == -EINVAL);
	CHECK(ublk_parse_size("-1", &v) == -EINVAL);
	CHECK(ublk_parse_size("-1K", &v) == -EINVAL);
	CHECK(ublk_parse_size("+1", &v) == -EINVAL);
	CHECK(v == 7);

	/* overflow: of the number itself, and of the shift */
	CHECK(ublk_parse_size("18446744073709551616", &v) < 0);
	CHECK(ublk_parse_size("16777215T", &v) == 0 && v == 16777215ULL << 40);
	v = 7;
	CHECK(ublk_parse_size("16777216T", &v) == -ERANGE && v == 7);
	CHECK(ublk_parse_size("17179869183G", &v) == 0 && v == 17179869183ULL << 30);
	v = 7;
	CHECK(ublk_parse_size("17179869184G", &v) == -ERANGE && v == 7);
	CHECK(ublk_parse_size("18014398509481984K", &v) == -ERANGE && v == 7);
	CHECK(ublk_parse_size("18014398509481983K", &v) == 0 && v == 18014398509481983ULL << 10);
}

/* What the built-in targets made of their options, seen through their init. */
static __u64 null_size(const struct add_args *a)
{
	struct ublk_dev dev;

	memset(&dev, 0, sizeof(dev));
	CHECK(a->opts.tgt == &null_tgt_ops);
	if (a->opts.tgt != &null_tgt_ops || null_tgt_ops.init(&dev, &a->opts))
		return 0;
	return dev.tgt.dev_size;
}

/* @file is opened (a missing one names itself), O_DIRECT unless @buffered. */
static void check_loop(const struct add_args *a, const char *file, bool buffered)
{
	char tmp[] = "/tmp/ublk-parse-test.XXXXXX", *text;
	struct add_args b;
	struct ublk_dev dev;
	char err[256];
	json_t *obj;
	int fd;

	CHECK(a->opts.tgt == &loop_tgt_ops);
	if (a->opts.tgt != &loop_tgt_ops)
		return;
	memset(&dev, 0, sizeof(dev));
	CHECK(loop_tgt_ops.init(&dev, &a->opts) < 0 && strstr(dev.errmsg, file));
	/* the same options on a file that exists */
	fd = mkstemp(tmp);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	CHECK(PARSE(&b, "-t", "loop", "-f", tmp, buffered ? "--buffered_io" : "-q1") == 0);
	memset(&dev, 0, sizeof(dev));
	obj = json_object();
	/* tmpfs refuses O_DIRECT: the target falls back to buffered I/O */
	if (loop_tgt_ops.init(&dev, &b.opts) == 0) {
		CHECK(loop_tgt_ops.dump_json(&dev, obj) == 0);
		text = json_dumps(json_object_get(obj, "file"), JSON_ENCODE_ANY);
		CHECK(text && strstr(text, tmp));
		free(text);
		if (buffered)
			CHECK(json_is_false(json_object_get(obj, "direct_io")));
		loop_tgt_ops.deinit(&dev);
	} else {
		CHECK(0 && "loop init on a temporary file");
	}
	json_decref(obj);
	unlink(tmp);
}

static void test_defaults(void)
{
	struct add_args a;
	char err[256];

	CHECK(PARSE(&a, "-t", "null") == 0);
	CHECK(a.type && !strcmp(a.type, "null"));
	CHECK(a.opts.tgt == &null_tgt_ops);
	CHECK(a.opts.tgt_opts != NULL && a.opts.tgt_opts == a.tgt_opts);
	CHECK(a.nr_paths == 0);
	CHECK(a.opts.dev_id == -1);
	CHECK(a.opts.nr_queues == UBLK_DEF_QUEUES && a.opts.nr_queues == 1);
	CHECK(a.opts.depth == UBLK_DEF_DEPTH && a.opts.depth == 128);
	CHECK(a.opts.max_io_bytes == UBLK_DEF_IO_BYTES);
	CHECK(a.opts.data_mode == UBLK_DATA_COPY);
	CHECK(a.opts.extra_flags == 0);
	CHECK(null_size(&a) == 250ULL << 30); /* --size 0: the default */
	CHECK(!a.opts.foreground);
	CHECK(!a.foreground);
	CHECK(err[0] == '\0');
}

static void test_options(void)
{
	struct add_args a;
	char err[256];

	/* short options */
	CHECK(PARSE(&a, "-t", "loop", "-n", "5", "-q", "4", "-d", "64", "-f", "/img",
		    "--usercopy") == 0);
	CHECK(!strcmp(a.type, "loop"));
	CHECK(a.opts.dev_id == 5);
	CHECK(a.opts.nr_queues == 4);
	CHECK(a.opts.depth == 64);
	CHECK(a.nr_paths == 1 && !strcmp(a.paths[0], "/img"));
	CHECK(a.opts.data_mode == UBLK_DATA_USER_COPY);
	CHECK(!a.foreground);
	check_loop(&a, "/img", false);

	/* long options, both "--opt value" and "--opt=value" */
	CHECK(PARSE(&a, "--type", "null", "--number=7", "--queues", "2", "--depth=32", "--size",
		    "1G", "--max_io_size", "1M", "--foreground") == 0);
	CHECK(!strcmp(a.type, "null"));
	CHECK(a.opts.dev_id == 7);
	CHECK(a.opts.nr_queues == 2);
	CHECK(a.opts.depth == 32);
	CHECK(null_size(&a) == 1ULL << 30);
	CHECK(a.opts.max_io_bytes == 1U << 20);
	CHECK(a.foreground);
	CHECK(PARSE(&a, "--type=loop", "--file=/x", "--buffered_io") == 0);
	check_loop(&a, "/x", true);
	/* target options before -t, and -fFILE */
	CHECK(PARSE(&a, "--buffered_io", "-f/y", "-t", "loop") == 0);
	check_loop(&a, "/y", true);
	CHECK(a.opts.data_mode == UBLK_DATA_COPY);

	/* attached short arguments and clusters */
	CHECK(PARSE(&a, "-tloop", "-n0", "-zq3", "-d0x10") == 0);
	CHECK(!strcmp(a.type, "loop"));
	CHECK(a.opts.dev_id == 0);
	CHECK(a.opts.nr_queues == 3);
	CHECK(a.opts.depth == 16);
	CHECK(a.opts.data_mode == UBLK_DATA_AUTO_ZC);

	/* every spelling of the data modes */
	CHECK(PARSE(&a, "-t", "loop", "--user_copy") == 0 &&
	      a.opts.data_mode == UBLK_DATA_USER_COPY);
	CHECK(PARSE(&a, "-t", "loop", "--usercopy") == 0 &&
	      a.opts.data_mode == UBLK_DATA_USER_COPY);
	CHECK(PARSE(&a, "-t", "loop", "-z") == 0 && a.opts.data_mode == UBLK_DATA_AUTO_ZC);
	CHECK(PARSE(&a, "-t", "loop", "--zero_copy") == 0 && a.opts.data_mode == UBLK_DATA_AUTO_ZC);
	CHECK(PARSE(&a, "-t", "loop", "--auto_zc") == 0 && a.opts.data_mode == UBLK_DATA_AUTO_ZC);
	/* repeating the same mode is fine */
	CHECK(PARSE(&a, "-t", "loop", "--user_copy", "--usercopy") == 0 &&
	      a.opts.data_mode == UBLK_DATA_USER_COPY);
	CHECK(PARSE(&a, "-t", "loop", "-z", "--auto_zc") == 0 &&
	      a.opts.data_mode == UBLK_DATA_AUTO_ZC);

	/* limits */
	CHECK(PARSE(&a, "-t", "null", "-n", "1048575", "-q", "65535", "-d", "65535",
		    "--max_io_size", "32M") == 0);
	CHECK(a.opts.dev_id == 1048575);
	CHECK(a.opts.nr_queues == 65535 && a.opts.depth == 65535);
	CHECK(a.opts.max_io_bytes == 32U << 20);
	/* 0 is refused, not taken as "the 250 GiB default" */
	CHECK(PARSE(&a, "-t", "null", "--size", "0") != 0);
	CHECK(PARSE(&a, "-t", "null", "--size", "1T") == 0 && null_size(&a) == 1ULL << 40);

	/* the last of a repeated option wins */
	CHECK(PARSE(&a, "-t", "null", "-t", "loop", "-q", "2", "-q", "3", "-f", "/a") == 0);
	CHECK(!strcmp(a.type, "loop") && a.opts.nr_queues == 3);
	CHECK(PARSE(&a, "-t", "null", "--size", "1G", "--size", "2G") == 0 &&
	      null_size(&a) == 2ULL << 30);

	/* options after "--" are arguments */
	CHECK(PARSE(&a, "-t", "null", "--") == 0);

	/* GNU getopt permutes: options may follow a stray argument */
	CHECK_ERR(PARSE(&a, "stray", "-t", "null"), "stray");
}

static void test_errors(void)
{
	struct add_args a;
	char err[256];

	CHECK_ERR(PARSE(&a, "-q", "2"), "-t");
	CHECK_ERR(PARSE(&a, "-f", "/img"), "missing target type");

	CHECK_ERR(PARSE(&a, "-t", "loop", "--usercopy", "-z"), "exclude");
	CHECK_ERR(PARSE(&a, "-t", "loop", "-z", "--usercopy"), "exclude");
	CHECK_ERR(PARSE(&a, "-t", "loop", "--user_copy", "--auto_zc"), "exclude");
	/* ublksrv's -u takes a number: "-uz" is -u with "z" */
	CHECK_ERR(PARSE(&a, "-t", "loop", "-uz"), "-u/--uring_comp");

	CHECK_ERR(PARSE(&a, "-t", "null", "-q", "abc"), "-q");
	CHECK(strstr(err, "abc") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "-q", "65536"), "-q");
	CHECK(strstr(err, "range") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "-q", ""), "-q");
	CHECK_ERR(PARSE(&a, "-t", "null", "-d", "4x"), "-d");
	CHECK(strstr(err, "4x") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "-d", "65536"), "-d");
	CHECK_ERR(PARSE(&a, "-t", "null", "-n", "-1"), "-n");
	CHECK(strstr(err, "-1") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "-n", "1048576"), "-n");
	CHECK(strstr(err, "range") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "--number=-5"), "-n");

	CHECK_ERR(PARSE(&a, "-t", "null", "--size", "1Q"), "--size");
	CHECK(strstr(err, "1Q") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "--size", "1000"),
		  "--size: '1000' is not a multiple of 512");
	/* a target's option given to another target */
	CHECK_ERR(PARSE(&a, "-t", "null", "-f", "/img"), "'-f' is not one of the null target's");
	CHECK_ERR(PARSE(&a, "-t", "loop", "-f", "/img", "--size", "1G"),
		  "'--size' is not one of the loop target's");
	CHECK_ERR(PARSE(&a, "-t", "null", "--buffered_io"), "--buffered_io");
	CHECK_ERR(PARSE(&a, "-t", "loop", "--file="), "--file: empty file name");
	CHECK_ERR(PARSE(&a, "-t", "nosuch"),
		  "unknown target type 'nosuch' (known: null loop test)");
	CHECK_ERR(PARSE(&a, "-f", "/img"), "missing target type");
	CHECK_ERR(PARSE(&a, "-t", "null", "--size", "-1"), "--size");
	CHECK_ERR(PARSE(&a, "-t", "null", "--size", "16777216T"), "--size");
	CHECK_ERR(PARSE(&a, "-t", "null", "--max_io_size", "33M"), "--max_io_size");
	CHECK_ERR(PARSE(&a, "-t", "null", "--max_io_size", "32M1"), "--max_io_size");
	CHECK_ERR(PARSE(&a, "-t", "null", "--max_io_size", "junk"), "--max_io_size");

	CHECK_ERR(PARSE(&a, "-t", "null", "--bogus"), "--bogus");
	CHECK(strstr(err, "unknown option") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "-x"), "-x");
	CHECK(strstr(err, "unknown option") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "--size"), "--size");
	CHECK(strstr(err, "needs an argument") != NULL);
	CHECK_ERR(PARSE(&a, "-t"), "-t");
	CHECK(strstr(err, "needs an argument") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "-q"), "-q");
	CHECK(strstr(err, "needs an argument") != NULL);
	/* a flag given an argument */
	CHECK_ERR(PARSE(&a, "-t", "null", "--foreground=yes"), "--foreground");

	CHECK_ERR(PARSE(&a, "-t", "null", "extra"), "unexpected argument");
	CHECK(strstr(err, "extra") != NULL);
	CHECK_ERR(PARSE(&a, "-t", "null", "--", "-q"), "unexpected argument");
}

static void test_help(void)
{
	struct add_args a;
	char err[256];

	CHECK(PARSE(&a, "--help") == 1);
	CHECK(PARSE(&a, "-h") == 1);
	CHECK(PARSE(&a, "-t", "null", "-h") == 1);
	CHECK(PARSE(&a, "-h", "-t", "null") == 1);
}

static void test_repeat(void)
{
	struct add_args a;
	char err[256];

	/* state from one call (getopt's position, our fields) must not leak */
	CHECK(PARSE(&a, "-t", "loop", "--usercopy", "-q", "4", "--foreground") == 0);
	CHECK(PARSE(&a, "-t", "null") == 0);
	CHECK(!strcmp(a.type, "null"));
	CHECK(a.opts.data_mode == UBLK_DATA_COPY);
	CHECK(a.opts.nr_queues == 1 && !a.foreground);

	/* stop in the middle of a cluster; the rest must be forgotten */
	CHECK(PARSE(&a, "-t", "loop", "-n", "x", "-uz") < 0);
	CHECK(PARSE(&a, "-t", "loop", "-uq", "abc") < 0);
	CHECK(PARSE(&a, "-t", "loop") == 0);
	CHECK(a.opts.data_mode == UBLK_DATA_COPY);
	CHECK(a.opts.nr_queues == 1);
	CHECK(PARSE(&a, "-hu") == 1);
	CHECK(PARSE(&a, "-t", "loop") == 0);
	CHECK(a.opts.data_mode == UBLK_DATA_COPY);

	/* and the same call twice gives the same answer */
	CHECK(PARSE(&a, "-t", "null", "-q", "2") == 0 && a.opts.nr_queues == 2);
	CHECK(PARSE(&a, "-t", "null", "-q", "2") == 0 && a.opts.nr_queues == 2);
	CHECK_ERR(PARSE(&a, "-t", "null", "-x"), "-x");
	CHECK_ERR(PARSE(&a, "-t", "null", "-x"), "-x");
}

/* regressions: inputs that once slipped through */
static void test_regressions(void)
{
	unsigned long long v;
	struct add_args a;
	char err[256];

	/*
	 * a space after the digits once matched strchr()'s NUL terminator
	 * as a fifth suffix, 2^50
	 */
	v = 7;
	CHECK(ublk_parse_size("1 ", &v) == -EINVAL && v == 7);
	CHECK(ublk_parse_size("1 B", &v) == -EINVAL);
	CHECK(PARSE(&a, "-t", "null", "--size", "2 ") < 0);

	/*
	 * strtoull() skips leading blanks and then negates: " -1" was 2^64-1
	 */
	v = 7;
	CHECK(ublk_parse_size(" -1", &v) == -EINVAL && v == 7);
	CHECK(ublk_parse_size(" -512", &v) == -EINVAL);
	CHECK(ublk_parse_uint(" -1", ~0ULL, &v) == -EINVAL);
	CHECK(ublk_parse_uint(" -0", ~0ULL, &v) == -EINVAL);
	CHECK(PARSE(&a, "-t", "null", "--size", " -512") < 0);

	/*
	 * an unknown option inside a cluster: getopt has not advanced optind,
	 * so argv[optind - 1] named the argument before it
	 */
	CHECK(PARSE(&a, "-t", "null", "-xu") < 0);
	CHECK(strstr(err, "-x") != NULL);
}

static void test_recovery(void)
{
	const __u64 rec = UBLK_F_USER_RECOVERY, reissue = UBLK_F_USER_RECOVERY_REISSUE,
		    fail_io = UBLK_F_USER_RECOVERY_FAIL_IO;
	struct add_args a;
	char err[256];

	/* ublksrv's spelling */
	CHECK(PARSE(&a, "-t", "null", "-r", "1") == 0 && a.opts.extra_flags == rec);
	CHECK(PARSE(&a, "-t", "null", "-r", "1", "-i", "1") == 0 &&
	      a.opts.extra_flags == (rec | reissue));
	CHECK(PARSE(&a, "-t", "null", "-r1", "-e1") == 0 && a.opts.extra_flags == (rec | fail_io));
	CHECK(PARSE(&a, "-t", "null", "-r", "0") == 0 && a.opts.extra_flags == 0);
	CHECK(PARSE(&a, "-t", "null", "--recovery_enable=1", "--recovery_reissue=1") == 0 &&
	      a.opts.extra_flags == (rec | reissue));
	/* the spelled-out modes */
	CHECK(PARSE(&a, "-t", "null", "--recovery=requeue") == 0 && a.opts.extra_flags == rec);
	CHECK(PARSE(&a, "-t", "null", "--recovery", "reissue") == 0 &&
	      a.opts.extra_flags == (rec | reissue));
	CHECK(PARSE(&a, "-t", "null", "--recovery=fail-io") == 0 &&
	      a.opts.extra_flags == (rec | fail_io));
	CHECK(PARSE(&a, "-t", "null", "--recovery=reissue", "--recovery=off") == 0 &&
	      a.opts.extra_flags == 0);
	/* the last word about each flag wins */
	CHECK(PARSE(&a, "-t", "null", "--recovery=reissue", "-i", "0") == 0 &&
	      a.opts.extra_flags == rec);
	CHECK(!strcmp(recovery_name(rec | reissue), "reissue"));
	CHECK(!strcmp(recovery_name(0), "off"));

	/* as in ublksrv, -i 1 and -e 1 alone imply -r 1 */
	CHECK(PARSE(&a, "-t", "null", "-i", "1") == 0 && a.opts.extra_flags == (rec | reissue));
	CHECK(PARSE(&a, "-t", "null", "-e", "1") == 0 && a.opts.extra_flags == (rec | fail_io));
	/* and ublksrv's long spellings */
	CHECK(PARSE(&a, "-t", "null", "--user_recovery", "1", "--user_recovery_reissue=1") == 0 &&
	      a.opts.extra_flags == (rec | reissue));
	CHECK(PARSE(&a, "-t", "null", "--user_recovery_fail_io", "1") == 0 &&
	      a.opts.extra_flags == (rec | fail_io));
	CHECK_ERR(PARSE(&a, "-t", "null", "-r", "1", "-i", "1", "-e", "1"), "exclude");
	CHECK_ERR(PARSE(&a, "-t", "null", "-r", "2"), "-r");
	CHECK_ERR(PARSE(&a, "-t", "null", "-r", "yes"), "0 or 1");
	CHECK_ERR(PARSE(&a, "-t", "null", "--recovery=maybe"), "maybe");
	CHECK_ERR(PARSE(&a, "-t", "null", "--recovery="), "--recovery");
}

/* ublksrv's `ublk add` spellings, with ublksrv's meaning */
static void test_ublksrv_options(void)
{
	struct add_args a;
	char err[256];

	/* -u N and -g N: accepted, no effect */
	CHECK(PARSE(&a, "-t", "null", "-u", "1", "-g", "1") == 0 &&
	      a.opts.data_mode == UBLK_DATA_COPY && a.opts.extra_flags == 0);
	CHECK(PARSE(&a, "-t", "null", "--uring_comp", "0", "--need_get_data=0") == 0 &&
	      a.opts.data_mode == UBLK_DATA_COPY);
	CHECK_ERR(PARSE(&a, "-t", "null", "-u"), "-u");
	CHECK_ERR(PARSE(&a, "-t", "null", "-g", "yes"), "-g/--need_get_data");
	/* --usercopy is user copy, -z/--zerocopy zero copy */
	CHECK(PARSE(&a, "-t", "null", "--usercopy") == 0 &&
	      a.opts.data_mode == UBLK_DATA_USER_COPY);
	CHECK(PARSE(&a, "-t", "null", "--zerocopy") == 0 && a.opts.data_mode == UBLK_DATA_AUTO_ZC);
	/* --max_io_buf_bytes N is --max_io_size */
	CHECK(PARSE(&a, "-t", "null", "--max_io_buf_bytes", "1048576") == 0 &&
	      a.opts.max_io_bytes == 1U << 20);
	CHECK_ERR(PARSE(&a, "-t", "null", "--max_io_buf_bytes", "64M"), "--max_io_buf_bytes");
	/* --debug_mask: hex, checked */
	CHECK(PARSE(&a, "-t", "null", "--debug_mask=0x3") == 0);
	CHECK(PARSE(&a, "-t", "null", "--debug_mask", "ff") == 0);
	CHECK_ERR(PARSE(&a, "-t", "null", "--debug_mask", "0xzz"), "--debug_mask");
	CHECK_ERR(PARSE(&a, "-t", "null", "--debug_mask", "0x"), "--debug_mask");
	CHECK_ERR(PARSE(&a, "-t", "null", "--debug_mask", "123456789"), "--debug_mask");
	/* batch I/O: a clear refusal */
	CHECK_ERR(PARSE(&a, "-t", "null", "-b"), "batch");
	CHECK_ERR(PARSE(&a, "-t", "null", "--batch-io"), "BATCH_IO");
	/* the unprivileged flag, as ublksrv spells it */
	CHECK(PARSE(&a, "-t", "null", "--unprivileged") == 0 &&
	      a.opts.extra_flags == UBLK_F_UNPRIVILEGED_DEV);
}

static void test_bpf_unprivileged(void)
{
	struct add_args a;
	char err[256];

	CHECK(PARSE(&a, "-t", "null") == 0 && a.opts.bpf == UBLK_BPF_OFF);
	CHECK(PARSE(&a, "-t", "null", "--bpf") == 0 && a.opts.bpf == UBLK_BPF_ON);
	CHECK(PARSE(&a, "-t", "null", "--bpf=on") == 0 && a.opts.bpf == UBLK_BPF_ON);
	CHECK(PARSE(&a, "-t", "null", "--bpf=auto") == 0 && a.opts.bpf == UBLK_BPF_AUTO);
	CHECK(PARSE(&a, "-t", "null", "--bpf=off") == 0 && a.opts.bpf == UBLK_BPF_OFF);
	/* the mode is optional, so a separate word is not it */
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf", "auto"), "unexpected argument 'auto'");
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf=yes"), "--bpf");
	CHECK(PARSE(&a, "-t", "null", "--bpf", "--bpf_redirect", "3", "--bpf_eagain", "--bpf_split",
		    "64k") == 0 &&
	      a.opts.bpf_redirect_every == 3 && a.opts.bpf_eagain &&
	      a.opts.bpf_split_bytes == 65536);
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf_redirect", "3"), "need --bpf");
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf", "--bpf_split", "1000"), "multiple of 512");
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf", "--bpf_eagain"), "--bpf_redirect");
	CHECK(PARSE(&a, "-t", "null", "--bpf=iouring", "--bpf_poll_us", "50") == 0 &&
	      a.opts.bpf_poll_us == 50);
	CHECK(PARSE(&a, "-t", "null", "--bpf", "--bpf_poll_us", "10000") == 0 &&
	      a.opts.bpf_poll_us == 10000);
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf", "--bpf_poll_us", "10001"), "in range");
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf_poll_us", "5"), "--bpf_poll_us needs --bpf");
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf=seed", "--bpf_poll_us", "5"), "not --bpf=seed");
	CHECK_ERR(PARSE(&a, "-t", "null", "--bpf", "--unprivileged"), "--unprivileged");
	CHECK(PARSE(&a, "-t", "null", "--bpf=auto", "--unprivileged") == 0 &&
	      a.opts.bpf == UBLK_BPF_OFF);
	CHECK(PARSE(&a, "-t", "null", "--unprivileged") == 0 &&
	      a.opts.extra_flags == UBLK_F_UNPRIVILEGED_DEV);
	/* the kernel refuses user copy and zero copy for such devices */
	CHECK_ERR(PARSE(&a, "-t", "loop", "--unprivileged", "--usercopy"), "--unprivileged");
	CHECK_ERR(PARSE(&a, "-t", "loop", "-z", "--unprivileged"), "--unprivileged");
}

/* The test target: callbacks run in command-line order, whatever -t's place. */
static void test_tgt_opts(void)
{
	struct add_args a;
	char err[256];

	CHECK(PARSE(&a, "--flag", "-p", "a", "-t", "test", "--count=3", "--path=b", "--flag") == 0);
	CHECK(!strcmp(topts(&a)->order, "fpcpf"));
	CHECK(topts(&a)->path && !strcmp(topts(&a)->path, "b") && topts(&a)->count == 3);
	CHECK(a.nr_paths == 2 && !strcmp(a.paths[0], "a") && !strcmp(a.paths[1], "b"));
	/* the callback's message, after the option's name */
	CHECK_ERR(PARSE(&a, "-t", "test", "--count", "11"), "--count: '11' is not 0 to 10");
	CHECK_ERR(PARSE(&a, "-t", "test", "--flag=x"), "--flag");
	CHECK_ERR(PARSE(&a, "-t", "test", "--count"), "needs an argument");
	CHECK_ERR(PARSE(&a, "-t", "null", "--count", "1"), "not one of the null target's");
	/* the shared name goes to the chosen target's callback */
	CHECK(PARSE(&a, "-t", "test", "--size", "4") == 0 && topts(&a)->count == 4);
	/* recover replays the stored arguments: same input, same options */
	CHECK(PARSE(&a, "-t", "test", "--count=1", "--count=2", "-pz") == 0);
	CHECK(!strcmp(topts(&a)->order, "ccp") && topts(&a)->count == 2);
	CHECK(PARSE(&a, "-t", "test", "--count=1", "--count=2", "-pz") == 0);
	CHECK(!strcmp(topts(&a)->order, "ccp") && topts(&a)->count == 2);
}

/* Option tables that getopt could not parse unambiguously are refused. */
static void test_clash(void)
{
	static const struct ublk_tgt_opt flag_size[] = {
		{ .name = "size", .help = "x", .parse = test_flag }, { 0 }
	};
	static const struct ublk_tgt_opt generic_name[] = {
		{ .name = "queues", .has_arg = true, .help = "x", .parse = test_count }, { 0 }
	};
	static const struct ublk_tgt_opt generic_letter[] = { { .name = "x",
								.short_name = 'q',
								.has_arg = true,
								.help = "x",
								.parse = test_count },
							      { 0 } };
	static const struct ublk_tgt_opt other_f[] = {
		{ .name = "x", .short_name = 'f', .help = "x", .parse = test_flag }, { 0 }
	};
	struct add_args a;
	char err[256];

	test_tgt.opts = flag_size;
	CHECK_ERR(PARSE(&a, "-t", "null"), "--size clashes");
	test_tgt.opts = generic_name;
	CHECK_ERR(PARSE(&a, "-t", "null"), "--queues clashes");
	test_tgt.opts = generic_letter;
	CHECK_ERR(PARSE(&a, "-t", "null"), "-q clashes");
	test_tgt.opts = other_f;
	CHECK_ERR(PARSE(&a, "-t", "null"), "-f clashes");
	test_tgt.opts = test_opts_table;
	CHECK(PARSE(&a, "-t", "null") == 0);
}

int main(void)
{
	test_recovery();
	test_ublksrv_options();
	test_bpf_unprivileged();
	test_parse_uint();
	test_parse_size();
	test_defaults();
	test_options();
	test_errors();
	test_help();
	test_repeat();
	test_regressions();
	test_tgt_opts();
	test_clash();
	free(last_tgt_opts);
	if (failures) {
		fprintf(stderr, "parse-test: %d check(s) failed\n", failures);
		return 1;
	}
	printf("parse-test: all checks passed\n");
	return 0;
}
