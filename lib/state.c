// SPDX-License-Identifier: MIT
/* Per-device state files: /run/ublksrvd/N.json. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "priv.h"

#define UBLK_STATE_MAX (1 << 20)

/*
 * Root's devices: /run/ublksrvd. A user's (unprivileged devices) go where
 * that user alone can write: $XDG_RUNTIME_DIR/ublksrvd, else
 * /run/user/UID/ublksrvd. UBLK_RUN_DIR overrides both.
 */
const char *ublk_run_dir(void)
{
	static char user_dir[PATH_MAX];
	const char *dir = getenv("UBLK_RUN_DIR"), *xdg;

	if (dir && *dir)
		return dir;
	if (!geteuid())
		return UBLK_RUN_DIR;
	xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof(user_dir) - 16)
		snprintf(user_dir, sizeof(user_dir), "%s/ublksrvd", xdg);
	else
		snprintf(user_dir, sizeof(user_dir), "/run/user/%u/ublksrvd", geteuid());
	return user_dir;
}

/*
 * Files we trust belong to us or to root and are not writable by others:
 * root's `ublk recover` replays the arguments in a state file.
 */
static const char *ublk_state_unsafe(const struct stat *st)
{
	if (st->st_uid && st->st_uid != geteuid())
		return "owned by another user";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by others";
	return NULL;
}

/* The run directory must be ours (or root's), a real directory, not open to all. */
static int ublk_state_check_dir(const char *dir, char *why, size_t len)
{
	const char *bad;
	struct stat st;

	if (lstat(dir, &st) < 0)
		return -errno;
	bad = !S_ISDIR(st.st_mode) ? "not a directory" : ublk_state_unsafe(&st);
	if (bad) {
		snprintf(why, len, "%s is %s", dir, bad);
		return -EPERM;
	}
	return 0;
}

static void ublk_state_path(__u32 dev_id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%u.json", ublk_run_dir(), dev_id);
}

/* jansson's integers are signed 64-bit: our counters never get near 2^63 */
static int obj_set(json_t *obj, const char *key, json_t *val)
{
	return json_object_set_new(obj, key, val) ? -ENOMEM : 0;
}

static int ublk_json_cpus(json_t *obj, const cpu_set_t *set)
{
	json_t *arr = json_array();
	int cpu;

	if (!arr)
		return -ENOMEM;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, set) && json_array_append_new(arr, json_integer(cpu))) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	return obj_set(obj, "affinity", arr);
}

/* Requests served per path: the proof of where the I/O went. */
static int ublk_json_queue_stats(json_t *obj, const struct ublk_queue *q)
{
	struct ublk_bpf_stats st = {};
	int ret;

	ret = obj_set(obj, "nr_io_daemon", json_integer(q->nr_io));
	ret = ret ?: obj_set(obj, "nr_io_err", json_integer(q->nr_io_err));
	if (ret || !ublk_bpf_queue_stats(q, &st))
		return ret;
	return obj_set(obj, "bpf",
		       json_pack("{s:I, s:I, s:I, s:I, s:I}", "nr_io", (json_int_t)st.nr_bpf,
				 "nr_redirect", (json_int_t)st.nr_redirect, "nr_retry",
				 (json_int_t)st.nr_retry, "nr_split", (json_int_t)st.nr_split,
				 "nr_polls", (json_int_t)st.nr_polls));
}

static json_t *ublk_json_queue(const struct ublk_queue *q)
{
	json_t *obj = json_pack("{s:i, s:i}", "q_id", q->q_id, "tid", (int)q->tid);

	if (obj && !ublk_json_cpus(obj, &q->affinity) && !ublk_json_queue_stats(obj, q))
		return obj;
	json_decref(obj);
	return NULL;
}

static int ublk_json_queues(json_t *obj, const struct ublk_dev *dev)
{
	json_t *arr = json_array();
	int i;

	if (!arr)
		return -ENOMEM;
	for (i = 0; i < dev->nr_queues_started; i++) {
		if (json_array_append_new(arr, ublk_json_queue(&dev->queues[i]))) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	return obj_set(obj, "queues", arr);
}

static int ublk_json_target(json_t *obj, const struct ublk_dev *dev)
{
	json_t *tgt = json_pack("{s:s}", "name", dev->ops->name);
	int ret;

	if (!tgt)
		return -ENOMEM;
	/* optional: a target from outside the tree may have nothing to add */
	ret = dev->ops->dump_json ? dev->ops->dump_json(dev, tgt) : 0;
	if (ret) {
		json_decref(tgt);
		return ret;
	}
	return obj_set(obj, "target", tgt);
}

/* what `ublk recover` parses to serve the device again */
static int ublk_json_args(json_t *obj, const struct ublk_dev *dev)
{
	json_t *arr = json_array();
	int i;

	if (!arr)
		return -ENOMEM;
	for (i = 0; i < dev->nr_args; i++) {
		/* json_string() refuses text that is not UTF-8 */
		if (json_array_append_new(arr, json_string(dev->args[i]))) {
			json_decref(arr);
			return -EINVAL;
		}
	}
	return obj_set(obj, "add_args", arr);
}

/* The key order is the documented one (docs/json-schema.md). */
static json_t *ublk_state_json(const struct ublk_dev *dev)
{
	json_t *obj;
	int ret;

	obj = json_pack("{s:I, s:i, s:I, s:I, s:I, s:I, s:s}", "dev_id",
			(json_int_t)dev->info.dev_id, "pid", (int)getpid(), "nr_queues",
			(json_int_t)dev->info.nr_hw_queues, "depth",
			(json_int_t)dev->info.queue_depth, "max_io_bytes",
			(json_int_t)dev->info.max_io_buf_bytes, "flags",
			(json_int_t)dev->info.flags, "io_path", dev->bpf ? "bpf" : "userspace");
	if (!obj)
		return NULL;
	ret = dev->bpf ? obj_set(obj, "bpf_backend",
				 json_string(ublk_bpf_backend_name(dev->bpf_backend))) :
			 0;
	ret = ret ?: obj_set(obj, "bpf", json_string(ublk_bpf_mode_name(dev->bpf_mode)));
	if (!ret && dev->bpf_note[0])
		ret = obj_set(obj, "bpf_note", json_string(dev->bpf_note));
	ret = ret ?: obj_set(obj, "data_mode", json_string(ublk_data_mode_name(dev->data_mode)));
	ret = ret ?: ublk_json_queues(obj, dev);
	ret = ret ?: ublk_json_target(obj, dev);
	ret = ret ?: ublk_json_args(obj, dev);
	if (ret) {
		json_decref(obj);
		errno = -ret;
		return NULL;
	}
	return obj;
}

/*
 * A fresh temporary file next to @path, never an existing one (O_EXCL,
 * O_NOFOLLOW): a fixed name could be a planted symlink.
 */
static int ublk_open_tmp(const char *path, char *tmp, size_t len)
{
	unsigned int rnd;
	int i, fd;

	for (i = 0; i < 100; i++) {
		if (getentropy(&rnd, sizeof(rnd)))
			rnd = (unsigned int)getpid() * 2654435761U + i;
		snprintf(tmp, len, "%s.%08x.tmp", path, rnd);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

static int ublk_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 16];
	size_t len = strlen(text);
	int fd, ret = 0;

	fd = ublk_open_tmp(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	/* the umask does not decide who may read it */
	if (fchmod(fd, 0644) < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		ret = -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	/* rename: readers never see a half-written file */
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int ublk_state_write(const struct ublk_dev *dev)
{
	char path[PATH_MAX], why[PATH_MAX + 64], *text;
	json_t *obj;
	int ret;

	/* a user's directory is for that user alone */
	if (mkdir(ublk_run_dir(), geteuid() ? 0700 : 0755) < 0 && errno != EEXIST)
		return -errno;
	ret = ublk_state_check_dir(ublk_run_dir(), why, sizeof(why));
	if (ret) {
		ublk_log(LOG_ERR, "state file not written: %s", why);
		return ret;
	}
	errno = ENOMEM;
	obj = ublk_state_json(dev);
	if (!obj)
		return -errno;
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text)
		return -ENOMEM;
	ublk_state_path(dev->info.dev_id, path, sizeof(path));
	ret = ublk_write_file(path, text);
	free(text);
	return ret;
}

/* ---- reading ------------------------------------------------------------ */

static void *state_err(char *err, size_t len, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void *state_err(char *err, size_t len, const char *name, const char *fmt, ...)
{
	int n = snprintf(err, len, "%s: ", name);
	va_list ap;

	if (n >= 0 && (size_t)n < len) {
		va_start(ap, fmt);
		vsnprintf(err + n, len - n, fmt, ap);
		va_end(ap);
	}
	errno = EINVAL;
	return NULL;
}

/* Fields we write and readers rely on: name, jansson type, array items' type. */
static const struct {
	const char *key;
	json_type type, item;
} state_fields[] = {
	{ "dev_id", JSON_INTEGER, 0 },	     { "pid", JSON_INTEGER, 0 },
	{ "nr_queues", JSON_INTEGER, 0 },    { "depth", JSON_INTEGER, 0 },
	{ "max_io_bytes", JSON_INTEGER, 0 }, { "flags", JSON_INTEGER, 0 },
	{ "io_path", JSON_STRING, 0 },	     { "bpf_backend", JSON_STRING, 0 },
	{ "bpf", JSON_STRING, 0 },	     { "bpf_note", JSON_STRING, 0 },
	{ "data_mode", JSON_STRING, 0 },     { "queues", JSON_ARRAY, JSON_OBJECT },
	{ "target", JSON_OBJECT, 0 },	     { "add_args", JSON_ARRAY, JSON_STRING },
};

static const char *type_name(json_type t)
{
	static const char *const names[] = {
		[JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string",  [JSON_INTEGER] = "an integer",
		[JSON_REAL] = "a number",    [JSON_TRUE] = "a boolean",
		[JSON_FALSE] = "a boolean",  [JSON_NULL] = "null",
	};

	return names[t];
}

static const char *check_fields(const json_t *root, char *where, size_t len)
{
	const json_t *v, *item;
	size_t i, j;

	for (i = 0; i < sizeof(state_fields) / sizeof(state_fields[0]); i++) {
		v = json_object_get(root, state_fields[i].key);
		snprintf(where, len, "%s", state_fields[i].key);
		if (v && json_typeof(v) != state_fields[i].type)
			return type_name(state_fields[i].type);
		if (!v || state_fields[i].type != JSON_ARRAY)
			continue;
		json_array_foreach(v, j, item)
		{
			snprintf(where, len, "%s[%zu]", state_fields[i].key, j);
			if (json_typeof(item) != state_fields[i].item)
				return type_name(state_fields[i].item);
		}
	}
	v = json_object_get(root, "target");
	snprintf(where, len, "target.name");
	if (v && !json_is_string(json_object_get(v, "name")))
		return "a string";
	return NULL;
}

json_t *ublk_state_parse(const char *text, const char *name, char *err, size_t err_len)
{
	const char *want;
	json_error_t e;
	char where[64];
	json_t *root;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (!root)
		return state_err(err, err_len, name, "line %d column %d: %s", e.line, e.column,
				 e.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return state_err(err, err_len, name, "not a JSON object");
	}
	want = check_fields(root, where, sizeof(where));
	if (want) {
		json_decref(root);
		return state_err(err, err_len, name, "%s: not %s", where, want);
	}
	return root;
}

static json_t *ublk_state_load_from(const char *dir, __u32 dev_id, char *err, size_t err_len)
{
	char path[PATH_MAX], why[PATH_MAX + 64], *buf;
	struct stat st;
	json_t *root;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%u.json", dir, dev_id);
	/* no symlink, no FIFO to block on; then only a file we may trust */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		n = errno;
		state_err(err, err_len, path, "%s", n == ELOOP ? "a symbolic link" : strerror(n));
		errno = n;
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode) || ublk_state_unsafe(&st)) {
		close(fd);
		return state_err(err, err_len, path, "not trusted: %s",
				 S_ISREG(st.st_mode) ? ublk_state_unsafe(&st) :
						       "not a regular file");
	}
	if (ublk_state_check_dir(dir, why, sizeof(why))) {
		close(fd);
		return state_err(err, err_len, path, "not trusted: %s", why);
	}
	buf = malloc(UBLK_STATE_MAX + 1);
	n = buf ? read(fd, buf, UBLK_STATE_MAX + 1) : -1;
	close(fd);
	if (n < 0) {
		n = buf ? errno : ENOMEM;
		free(buf);
		state_err(err, err_len, path, "%s", strerror(n));
		errno = n;
		return NULL;
	}
	if (n > UBLK_STATE_MAX) {
		free(buf);
		return state_err(err, err_len, path, "larger than %d bytes", UBLK_STATE_MAX);
	}
	buf[n] = '\0';
	/* written by us, but read as root: trust nothing that does not parse */
	if (memchr(buf, '\0', n))
		root = state_err(err, err_len, path, "NUL byte in the file");
	else
		root = ublk_state_parse(buf, path, err, err_len);
	free(buf);
	return root;
}

/* A user also sees root's devices' state, which root's daemons write. */
json_t *ublk_state_load(__u32 dev_id, char *err, size_t err_len)
{
	const char *env = getenv("UBLK_RUN_DIR");
	json_t *root = ublk_state_load_from(ublk_run_dir(), dev_id, err, err_len);

	if (root || errno != ENOENT || !geteuid() || (env && *env))
		return root;
	return ublk_state_load_from(UBLK_RUN_DIR, dev_id, err, err_len);
}

int ublk_state_remove(__u32 dev_id)
{
	char path[PATH_MAX];

	ublk_state_path(dev_id, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
