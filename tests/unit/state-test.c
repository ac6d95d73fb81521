// SPDX-License-Identifier: MIT
/*
 * Unit test for lib/state.c: the state file a daemon writes (exact text and
 * key order, as docs/json-schema.md documents it), and the reader refusing
 * what it must: duplicate keys, bad syntax (with line and column), wrong
 * types of the fields readers rely on, oversized and missing files, and
 * files it must not trust (symlinks, other owners, writable by others).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ublksrv.h"

#include "check.h"

static char dir[] = "/tmp/ublk-state-test.XXXXXX";

/* ublk_state_parse() refuses @text with an error containing every needle. */
#define CHECK_BAD(text, ...)                                                                   \
	do {                                                                                   \
		const char *needles_[] = { __VA_ARGS__, NULL };                                \
		char err_[256] = "";                                                           \
		json_t *j_ = ublk_state_parse(text, "F.json", err_, sizeof(err_));             \
		CHECK(j_ == NULL && errno == EINVAL);                                          \
		json_decref(j_);                                                               \
		for (int i_ = 0; needles_[i_]; i_++) {                                         \
			if (!strstr(err_, needles_[i_])) {                                     \
				fprintf(stderr, "%s:%d: FAILED: '%s' not in '%s'\n", __FILE__, \
					__LINE__, needles_[i_], err_);                         \
				failures++;                                                    \
			}                                                                      \
		}                                                                              \
	} while (0)

static void test_parse_errors(void)
{
	/* duplicate keys: the second could silently win with another library */
	CHECK_BAD("{\"dev_id\":1,\"dev_id\":2}", "F.json: ", "line 1", "duplicate");
	CHECK_BAD("{\"target\":{\"name\":\"loop\",\"file\":\"/a\",\"file\":\"/b\"}}", "duplicate");
	/* syntax errors name line and column */
	CHECK_BAD("{\n\"dev_id\": 1,\n\"pid\": }\n", "F.json: line 3 column 8");
	CHECK_BAD("{\"dev_id\":1", "F.json: line 1 column 11");
	CHECK_BAD("", "F.json: line 1 column 0");
	CHECK_BAD("{}\n{}", "F.json: line 2", "end of file expected");
	/* the shape readers rely on */
	CHECK_BAD("[1,2]", "F.json: not a JSON object");
	CHECK_BAD("{\"dev_id\":\"1\"}", "F.json: dev_id: not an integer");
	CHECK_BAD("{\"pid\":1.5}", "pid: not an integer");
	CHECK_BAD("{\"io_path\":true}", "io_path: not a string");
	CHECK_BAD("{\"queues\":{}}", "queues: not an array");
	CHECK_BAD("{\"queues\":[{},3]}", "queues[1]: not an object");
	CHECK_BAD("{\"target\":[]}", "target: not an object");
	CHECK_BAD("{\"target\":{\"file\":\"/a\"}}", "target.name: not a string");
	CHECK_BAD("{\"add_args\":\"-t null\"}", "add_args: not an array");
	CHECK_BAD("{\"add_args\":[\"-t\",null]}", "add_args[1]: not a string");
	/* not UTF-8 */
	CHECK_BAD("{\"bpf_note\":\"\xff\"}", "line 1");
}

static void test_parse_ok(void)
{
	char err[256] = "";
	json_t *j;

	/* unknown fields are allowed: newer writers may add some */
	j = ublk_state_parse("{\"dev_id\":3,\"new_field\":[1],\"add_args\":[]}", "F", err,
			     sizeof(err));
	CHECK(j && !err[0]);
	CHECK(json_integer_value(json_object_get(j, "dev_id")) == 3);
	json_decref(j);
}

static int fake_dump(const struct ublk_dev *dev, json_t *obj)
{
	return json_object_set_new(obj, "dev_size", json_integer(dev->tgt.dev_size));
}

static const struct ublk_tgt_ops fake_tgt = { .name = "fake", .dump_json = fake_dump };

/* What a daemon writes: compact, fields in the documented order. */
static void test_write_read(void)
{
	static const char *const args[] = { "-t", "fake", "--file=/x y/\"q\"" };
	struct ublk_queue q = { .q_id = 0, .tid = 42 };
	struct ublk_dev dev = { 0 };
	char path[PATH_MAX], text[2048], want[2048], err[256];
	json_t *j;
	FILE *f;
	size_t n;

	dev.info.dev_id = 7;
	dev.info.nr_hw_queues = 1;
	dev.info.queue_depth = 64;
	dev.info.max_io_buf_bytes = 524288;
	dev.info.flags = 0x42;
	dev.ops = &fake_tgt;
	dev.tgt.dev_size = 1ULL << 40;
	dev.data_mode = UBLK_DATA_USER_COPY;
	dev.bpf_mode = UBLK_BPF_AUTO;
	snprintf(dev.bpf_note, sizeof(dev.bpf_note), "no BTF");
	CPU_ZERO(&q.affinity);
	CPU_SET(1, &q.affinity);
	CPU_SET(3, &q.affinity);
	q.nr_io = 5;
	dev.queues = &q;
	dev.nr_queues_started = 1;
	dev.args = args;
	dev.nr_args = 3;
	CHECK(ublk_state_write(&dev) == 0);

	snprintf(path, sizeof(path), "%s/7.json", dir);
	f = fopen(path, "r");
	CHECK(f != NULL);
	n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = '\0';
	snprintf(want, sizeof(want),
		 "{\"dev_id\":7,\"pid\":%d,\"nr_queues\":1,\"depth\":64,\"max_io_bytes\":524288,"
		 "\"flags\":66,\"io_path\":\"userspace\",\"bpf\":\"auto\",\"bpf_note\":\"no BTF\","
		 "\"data_mode\":\"user_copy\",\"queues\":[{\"q_id\":0,\"tid\":42,"
		 "\"affinity\":[1,3],\"nr_io_daemon\":5,\"nr_io_err\":0}],"
		 "\"target\":{\"name\":\"fake\",\"dev_size\":1099511627776},"
		 "\"add_args\":[\"-t\",\"fake\",\"--file=/x y/\\\"q\\\"\"]}\n",
		 (int)getpid());
	CHECK(!strcmp(text, want));
	if (strcmp(text, want))
		fprintf(stderr, "got  %swant %s", text, want);

	j = ublk_state_load(7, err, sizeof(err));
	CHECK(j != NULL);
	CHECK(!strcmp(json_string_value(json_array_get(json_object_get(j, "add_args"), 2)),
		      "--file=/x y/\"q\""));
	json_decref(j);

	/* a damaged file: named, with line and column */
	f = fopen(path, "w");
	CHECK(f && fputs("{\"dev_id\":7,\n\"dev_id\":7}\n", f) >= 0);
	if (f)
		fclose(f);
	err[0] = '\0';
	CHECK(ublk_state_load(7, err, sizeof(err)) == NULL && errno == EINVAL);
	CHECK(strstr(err, path) && strstr(err, "line 2") && strstr(err, "duplicate"));

	CHECK(ublk_state_remove(7) == 0);
	CHECK(ublk_state_load(7, err, sizeof(err)) == NULL && errno == ENOENT);
	CHECK(ublk_state_remove(7) == 0); /* already gone: fine */
}

/* A file over the size limit is refused as a whole, not read in part. */
static void test_too_large(void)
{
	char path[PATH_MAX], err[256] = "";
	FILE *f;
	long i;

	snprintf(path, sizeof(path), "%s/8.json", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"bpf_note\":\"", f);
	for (i = 0; i < (1L << 20); i++)
		fputc('x', f);
	fputs("\"}", f);
	fclose(f);
	CHECK(ublk_state_load(8, err, sizeof(err)) == NULL && errno == EINVAL);
	CHECK(strstr(err, "larger than") != NULL);
	unlink(path);
}

/* A minimal valid state at @path, mode @mode. */
static void put_state(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"dev_id\":9}\n", f);
	fclose(f);
	CHECK(chmod(path, mode) == 0);
}

/*
 * Root replays a state file's arguments: the reader takes only regular
 * files of its own user (or root) that nobody else may write, in a
 * directory nobody else may write; the writer never follows a planted
 * name and leaves no temporary file behind.
 */
static void test_trust(void)
{
	char path[PATH_MAX], other[PATH_MAX], tmp[PATH_MAX + 8], err[256], buf[64] = "";
	struct ublk_dev dev = { 0 };
	json_t *j;
	FILE *f;
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/9.json", dir);
	snprintf(other, sizeof(other), "%s/other", dir);

	put_state(path, 0644);
	j = ublk_state_load(9, err, sizeof(err));
	CHECK(j != NULL);
	json_decref(j);

	put_state(path, 0664);
	CHECK(ublk_state_load(9, err, sizeof(err)) == NULL && strstr(err, "writable by others"));

	unlink(path);
	put_state(other, 0644);
	CHECK(symlink(other, path) == 0);
	CHECK(ublk_state_load(9, err, sizeof(err)) == NULL && strstr(err, "symbolic link"));
	unlink(path);

	if (!geteuid()) {
		put_state(path, 0644);
		CHECK(chown(path, 65534, 65534) == 0);
		CHECK(ublk_state_load(9, err, sizeof(err)) == NULL &&
		      strstr(err, "owned by another user"));
		unlink(path);
	}

	put_state(path, 0644);
	CHECK(chmod(dir, 0777) == 0);
	CHECK(ublk_state_load(9, err, sizeof(err)) == NULL && strstr(err, "writable by others"));
	CHECK(chmod(dir, 0700) == 0);
	unlink(path);

	/* the old fixed temporary name, planted as a symlink, is not followed */
	snprintf(tmp, sizeof(tmp), "%s/9.json.tmp", dir);
	CHECK(symlink(other, tmp) == 0);
	dev.info.dev_id = 9;
	dev.ops = &fake_tgt;
	CHECK(ublk_state_write(&dev) == 0);
	j = ublk_state_load(9, err, sizeof(err));
	CHECK(j != NULL);
	json_decref(j);
	d = opendir(dir);
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	CHECK(n == 3); /* 9.json, other, 9.json.tmp: no new temporary file */
	f = fopen(other, "r");
	CHECK(f && fgets(buf, sizeof(buf), f));
	CHECK(!strcmp(buf, "{\"dev_id\":9}\n")); /* not written through the symlink */
	if (f)
		fclose(f);
	unlink(tmp);
	unlink(other);
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	setenv("UBLK_RUN_DIR", dir, 1);
	test_parse_errors();
	test_parse_ok();
	test_write_read();
	test_too_large();
	test_trust();
	rmdir(dir);
	if (failures)
		fprintf(stderr, "state-test: %d failure(s)\n", failures);
	return failures != 0;
}
