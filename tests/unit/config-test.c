// SPDX-License-Identifier: MIT
/*
 * Unit test for cli/config.c: ini files become `ublk add` options, and every
 * bad file is refused with an error naming file, line, section and key.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#include "check.h"

static char dir[] = "/tmp/config-test.XXXXXX";
static char ini[256], backing[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
}

/* Load @text as a config; "@F" in it stands for the backing file. */
static int load(const char *text, struct config *cfg, char *err, size_t len)
{
	char buf[16384], *out = buf;
	const char *p;

	for (p = text; *p && out < buf + sizeof(buf) - 300; p++) {
		if (p[0] == '@' && p[1] == 'F') {
			out += sprintf(out, "%s", backing);
			p++;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
	write_file(ini, buf);
	err[0] = '\0';
	return config_load(ini, cfg, err, len);
}

/* @text loads, and its options are exactly the NULL-terminated list. */
static void expect_args(int line, const char *text, ...)
{
	struct config cfg;
	char err[512];
	const char *want;
	va_list ap;
	int i = 0;

	if (load(text, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s:%d: FAILED: unexpected error: %s\n", __FILE__, line, err);
		failures++;
		return;
	}
	va_start(ap, text);
	while ((want = va_arg(ap, const char *))) {
		char buf[512];

		snprintf(buf, sizeof(buf), want, backing);
		if (i >= cfg.args.n || strcmp(cfg.args.v[i], buf)) {
			fprintf(stderr, "%s:%d: FAILED: option %d is '%s', expected '%s'\n",
				__FILE__, line, i, i < cfg.args.n ? cfg.args.v[i] : "(none)", buf);
			failures++;
		}
		i++;
	}
	va_end(ap);
	if (i != cfg.args.n) {
		fprintf(stderr, "%s:%d: FAILED: %d options, expected %d\n", __FILE__, line,
			cfg.args.n, i);
		failures++;
	}
	config_free(&cfg);
}

#define EXPECT_ARGS(text, ...) expect_args(__LINE__, text, __VA_ARGS__, (char *)NULL)

/* @text is refused with an error starting "INI:LINE: " containing @needles. */
static void expect_err(int line, const char *text, int err_line, const char *n1, const char *n2)
{
	struct config cfg;
	char err[512], prefix[300];

	if (!load(text, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s:%d: FAILED: accepted a bad config\n", __FILE__, line);
		failures++;
		config_free(&cfg);
		return;
	}
	if (err_line)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", ini, err_line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", ini);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, n1) || (n2 && !strstr(err, n2))) {
		fprintf(stderr,
			"%s:%d: FAILED: error '%s' should start with '%s' and contain '%s'%s%s\n",
			__FILE__, line, err, prefix, n1, n2 ? " and " : "", n2 ? n2 : "");
		failures++;
	}
}

#define EXPECT_ERR(text, line, n1, n2) expect_err(__LINE__, text, line, n1, n2)

static void test_good(void)
{
	EXPECT_ARGS("[device]\ntarget = null\n", "--type=null");
	EXPECT_ARGS("[device]\ntarget=loop\nfile=@F\nqueues=2\ndepth=128\nid=7\n"
		    "recovery=reissue\nbpf=auto\n",
		    "--type=loop", "--file=%s", "--number=7", "--queues=2", "--depth=128",
		    "--recovery=reissue", "--bpf=auto");
	/* comments, blanks, case of keys and section, quotes, inline comments */
	EXPECT_ARGS("; a comment\n# another\n\n  [Device]  \n"
		    "  Target = \"loop\" ; the type\n"
		    "FILE = '@F'\n"
		    "data_mode = zero_copy\nbuffered_io = yes\n",
		    "--type=loop", "--file=%s", "--buffered_io", "--zero_copy");
	EXPECT_ARGS("[device]\ntarget=null\nsize=1G\nmax_io_size=1M\n"
		    "data_mode=user_copy\nunprivileged=false\nrecovery=off\n",
		    "--type=null", "--size=1G", "--max_io_size=1048576", "--user_copy",
		    "--recovery=off");
	EXPECT_ARGS("[device]\ntarget=null\ndata_mode=copy\n"
		    "unprivileged=on\nbpf=off\nrecovery=fail-io\n",
		    "--type=null", "--recovery=fail-io", "--bpf=off", "--unprivileged");
	/* qcow2: an image and a flag of its own */
	EXPECT_ARGS("[device]\ntarget=qcow2\nfile=@F\nread-only=yes\nbpf=on\n", "--type=qcow2",
		    "--file=%s", "--read-only", "--bpf=on");
	/* limits, inclusive */
	EXPECT_ARGS("[device]\ntarget=null\nqueues=32\ndepth=4096\nid=1048575\n", "--type=null",
		    "--number=1048575", "--queues=32", "--depth=4096");
	EXPECT_ARGS("[device]\r\ntarget=null\r\nqueues=1\r\n", "--type=null", "--queues=1");
}

static void test_id(void)
{
	struct config cfg;
	char err[512];

	CHECK(load("[device]\ntarget=null\nid=12\n", &cfg, err, sizeof(err)) == 0);
	CHECK(cfg.dev_id == 12);
	config_free(&cfg);
	CHECK(load("[device]\ntarget=null\n", &cfg, err, sizeof(err)) == 0);
	CHECK(cfg.dev_id == -1);
	config_free(&cfg);
}

static void test_structure(void)
{
	EXPECT_ERR("", 0, "no [device] section", NULL);
	EXPECT_ERR("; only a comment\n", 0, "no [device] section", NULL);
	EXPECT_ERR("target=null\n[device]\n", 1, "outside a section", "target");
	EXPECT_ERR("[device]\ntarget=null\n[other]\nx=1\n", 3, "unknown section [other]", NULL);
	EXPECT_ERR("[device]\ntarget=null\n[device]\n", 3, "given twice", "line 1");
	EXPECT_ERR("[device\ntarget=null\n", 1, "malformed section", NULL);
	EXPECT_ERR("[device] x\ntarget=null\n", 1, "malformed section", NULL);
	EXPECT_ERR("[device]\ntarget null\n", 2, "expected 'key = value'", NULL);
	EXPECT_ERR("[device]\n= null\n", 2, "without a key", NULL);
	EXPECT_ERR("[device]\ntarget=null\nqueues=1 \\\n", 3, "continued", NULL);
}

static void test_keys(void)
{
	EXPECT_ERR("[device]\ntarget=null\nqueue=2\n", 3, "[device] queue: unknown key",
		   "known keys: target");
	EXPECT_ERR("[device]\ntarget=null\nqueues=2\n\nQueues=3\n", 5,
		   "[device] queues: given twice", "first on line 3");
	EXPECT_ERR("[device]\nqueues=2\n", 1, "[device]: missing required key 'target'", NULL);
	EXPECT_ERR("\n[device]\ntarget=loop\nqueues=2\n", 2,
		   "[device]: missing required key 'file'", "required by the loop target");
	EXPECT_ERR("[device]\ntarget=null\nfile=@F\n", 3, "[device] file",
		   "not used by the null target (only by loop, qcow2)");
	/* the targets' keys are known keys, listed after the generic ones */
	EXPECT_ERR("[device]\ntarget=null\nsizes=1G\n", 3, "[device] sizes: unknown key",
		   "unprivileged, size, file, buffered_io, read-only)");
	EXPECT_ERR("[device]\ntarget=loop\nfile=@F\nsize=1G\n", 4, "[device] size",
		   "not used by the loop target");
	EXPECT_ERR("[device]\ntarget=null\nbuffered_io=yes\n", 3, "[device] buffered_io",
		   "not used by the null target");
	EXPECT_ERR("[device]\ntarget=null\nqueues=\n", 3, "[device] queues", "empty");
}

static void test_values(void)
{
	EXPECT_ERR("[device]\ntarget=nosuch\n", 2, "[device] target = 'nosuch'", "unknown target");
	EXPECT_ERR("[device]\ntarget=null\nqueues=0\n", 3, "[device] queues = '0'", "1 to 32");
	EXPECT_ERR("[device]\ntarget=null\nqueues=33\n", 3, "[device] queues = '33'", "1 to 32");
	EXPECT_ERR("[device]\ntarget=null\nqueues=-1\n", 3, "[device] queues = '-1'",
		   "not a number");
	EXPECT_ERR("[device]\ntarget=null\nqueues=two\n", 3, "[device] queues = 'two'",
		   "not a number");
	EXPECT_ERR("[device]\ntarget=null\ndepth=4097\n", 3, "[device] depth = '4097'",
		   "1 to 4096");
	EXPECT_ERR("[device]\ntarget=null\nid=1048576\n", 3, "[device] id", "0 to 1048575");
	EXPECT_ERR("[device]\ntarget=null\nsize=1000\n", 3, "[device] size = '1000'",
		   "multiple of 512");
	EXPECT_ERR("[device]\ntarget=null\nsize=1Q\n", 3, "[device] size = '1Q'", "not a size");
	EXPECT_ERR("[device]\ntarget=loop\nfile=@F\nbuffered_io=2\n", 4,
		   "[device] buffered_io = '2'", "not a boolean");
	EXPECT_ERR("[device]\ntarget=null\nmax_io_size=64M\n", 3, "[device] max_io_size",
		   "4096 to 33554432");
	EXPECT_ERR("[device]\ntarget=null\nmax_io_size=6000\n", 3, "[device] max_io_size",
		   "multiple of 4096");
	EXPECT_ERR("[device]\ntarget=null\ndata_mode=fast\n", 3, "[device] data_mode = 'fast'",
		   "copy, user_copy, zero_copy");
	EXPECT_ERR("[device]\ntarget=null\nrecovery=yes\n", 3, "[device] recovery = 'yes'",
		   "off, requeue, reissue, fail-io");
	EXPECT_ERR("[device]\ntarget=null\nbpf=maybe\n", 3, "[device] bpf = 'maybe'",
		   "off, on, auto");
	EXPECT_ERR("[device]\ntarget=null\nunprivileged=maybe\n", 3,
		   "[device] unprivileged = 'maybe'", "not a boolean");
	EXPECT_ERR("[device]\ntarget=loop\nfile=relative.img\n", 3,
		   "[device] file = 'relative.img'", "absolute path");
	EXPECT_ERR("[device]\ntarget=loop\nfile=/nonexistent/x.img\n", 3,
		   "[device] file = '/nonexistent/x.img'", "No such file");
	EXPECT_ERR("[device]\ntarget=loop\nfile=/tmp\n", 3, "[device] file = '/tmp'",
		   "not a regular file");
}

static void test_file(void)
{
	struct config cfg;
	char err[512], path[300];

	snprintf(path, sizeof(path), "%s/missing.ini", dir);
	CHECK(config_load(path, &cfg, err, sizeof(err)) < 0);
	CHECK(strstr(err, path) == err && strstr(err, "No such file"));

	{
		char big[6000];

		memset(big, 'x', sizeof(big));
		memcpy(big, "[device]\ntarget=null\n#", 22);
		big[sizeof(big) - 1] = '\0';
		EXPECT_ERR(big, 3, "longer than", NULL);
	}
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(ini, sizeof(ini), "%s/dev.ini", dir);
	snprintf(backing, sizeof(backing), "%s/backing.img", dir);
	write_file(backing, "");

	test_good();
	test_id();
	test_structure();
	test_keys();
	test_values();
	test_file();

	unlink(ini);
	unlink(backing);
	rmdir(dir);
	if (failures) {
		fprintf(stderr, "config-test: %d check(s) failed\n", failures);
		return 1;
	}
	printf("config-test: all checks passed\n");
	return 0;
}
