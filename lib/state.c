// SPDX-License-Identifier: MIT
/* Per-device state files: /run/ublksrvd/N.json. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "priv.h"

#define UBLK_STATE_MAX (1 << 20)

const char *ublk_run_dir(void)
{
	const char *dir = getenv("UBLK_RUN_DIR");

	return dir && *dir ? dir : UBLK_RUN_DIR;
}

static void ublk_state_path(__u32 dev_id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%u.json", ublk_run_dir(), dev_id);
}

static void ublk_json_cpus(struct json_writer *w, const cpu_set_t *set)
{
	int cpu;

	json_arr_begin(w, "affinity");
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, set))
			json_int(w, NULL, cpu);
	json_arr_end(w);
}

/* Requests served per path: the proof of where the I/O went. */
static void ublk_json_queue_stats(struct json_writer *w, const struct ublk_queue *q)
{
	struct ublk_bpf_stats st;

	json_uint(w, "nr_io_daemon", q->nr_io);
	json_uint(w, "nr_io_err", q->nr_io_err);
	if (!ublk_bpf_queue_stats(q, &st))
		return;
	json_obj_begin(w, "bpf");
	json_uint(w, "nr_io", st.nr_bpf);
	json_uint(w, "nr_redirect", st.nr_redirect);
	json_uint(w, "nr_retry", st.nr_retry);
	json_uint(w, "nr_split", st.nr_split);
	json_obj_end(w);
}

static void ublk_state_json(const struct ublk_dev *dev, struct json_writer *w)
{
	int i;

	json_obj_begin(w, NULL);
	json_uint(w, "dev_id", dev->info.dev_id);
	json_int(w, "pid", getpid());
	json_uint(w, "nr_queues", dev->info.nr_hw_queues);
	json_uint(w, "depth", dev->info.queue_depth);
	json_uint(w, "max_io_bytes", dev->info.max_io_buf_bytes);
	json_uint(w, "flags", dev->info.flags);
	json_str(w, "io_path", dev->bpf ? "bpf" : "userspace");
	if (dev->bpf)
		json_str(w, "bpf_backend", "io_uring_bpf_ops");
	json_str(w, "bpf", ublk_bpf_mode_name(dev->bpf_mode));
	if (dev->bpf_note[0])
		json_str(w, "bpf_note", dev->bpf_note);
	json_str(w, "data_mode", ublk_data_mode_name(dev->data_mode));
	json_arr_begin(w, "queues");
	for (i = 0; i < dev->nr_queues_started; i++) {
		const struct ublk_queue *q = &dev->queues[i];

		json_obj_begin(w, NULL);
		json_int(w, "q_id", q->q_id);
		json_int(w, "tid", q->tid);
		ublk_json_cpus(w, &q->affinity);
		ublk_json_queue_stats(w, q);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_obj_begin(w, "target");
	json_str(w, "name", dev->ops->name);
	dev->ops->dump_json(dev, w);
	json_obj_end(w);
	/* what `ublk recover` parses to serve the device again */
	json_arr_begin(w, "add_args");
	for (i = 0; i < dev->nr_args; i++)
		json_str(w, NULL, dev->args[i]);
	json_arr_end(w);
	json_obj_end(w);
}

static int ublk_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	size_t len = strlen(text);
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
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
	struct json_writer w;
	char path[PATH_MAX];
	const char *text;
	int ret;

	if (mkdir(ublk_run_dir(), 0755) < 0 && errno != EEXIST)
		return -errno;
	json_writer_init(&w);
	ublk_state_json(dev, &w);
	text = json_writer_finish(&w);
	if (!text) {
		json_writer_free(&w);
		return -ENOMEM;
	}
	ublk_state_path(dev->info.dev_id, path, sizeof(path));
	ret = ublk_write_file(path, text);
	json_writer_free(&w);
	return ret;
}

char *ublk_state_read(__u32 dev_id)
{
	char path[PATH_MAX], *buf;
	ssize_t n;
	int fd;

	ublk_state_path(dev_id, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(UBLK_STATE_MAX + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	n = read(fd, buf, UBLK_STATE_MAX);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	/* written by us, but read as root: trust nothing that does not parse */
	if (memchr(buf, '\0', n) || json_validate(buf)) {
		free(buf);
		errno = EINVAL;
		return NULL;
	}
	return buf;
}

int ublk_state_remove(__u32 dev_id)
{
	char path[PATH_MAX];

	ublk_state_path(dev_id, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
