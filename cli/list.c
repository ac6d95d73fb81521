// SPDX-License-Identifier: MIT
/*
 * `ublk list`: the kernel's view (GET_DEV_INFO, GET_PARAMS) merged with the
 * daemon's state file. The text format is ublksrv's, because scripts parse
 * it: pid is word 7 and state word 9 of the second line.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

int list_dev_ids(__u32 *ids, int max)
{
	struct dirent *de;
	unsigned int id;
	int n = 0;
	DIR *d;

	d = opendir("/sys/class/ublk-char");
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (n < max && (de = readdir(d)))
		if (sscanf(de->d_name, "ublkc%u", &id) == 1)
			ids[n++] = id;
	closedir(d);
	qsort(ids, n, sizeof(*ids), cmp_u32);
	return n;
}

/* ublksrv spells auto buffer registration AUTO_ZC in this line */
static const char *flag_name(unsigned int bit)
{
	if ((1ULL << bit) == UBLK_F_AUTO_BUF_REG)
		return "AUTO_ZC";
	return ublk_feature_name(bit);
}

static void print_flags(__u64 flags)
{
	unsigned int bit;

	printf("\tflags 0x%llx [ ", (unsigned long long)flags);
	for (bit = 0; bit < 64; bit++) {
		if (!(flags & (1ULL << bit)))
			continue;
		if (flag_name(bit))
			printf("%s ", flag_name(bit));
		else
			printf("BIT%u ", bit);
	}
	printf("]\n");
}

static void print_cpus(const char *state, int q)
{
	char path[64];
	long long cpu;
	int i, n;

	snprintf(path, sizeof(path), "queues[%d].affinity", q);
	n = json_array_len(state, path);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "queues[%d].affinity[%d]", q, i);
		if (!json_get_int(state, path, &cpu))
			printf("%lld ", cpu);
	}
}

static long long get_count(const char *state, int q, const char *field)
{
	char path[64];
	long long v;

	snprintf(path, sizeof(path), "queues[%d].%s", q, field);
	return json_get_int(state, path, &v) ? -1 : v;
}

/* Where each queue's requests were served: BPF, or the daemon. */
static void print_queue_stats(const char *state, int q)
{
	long long daemon = get_count(state, q, "nr_io_daemon");
	long long bpf = get_count(state, q, "bpf.nr_io");

	if (bpf >= 0)
		printf("\t\tio: bpf %lld redirected %lld retried %lld split %lld daemon %lld\n",
		       bpf, get_count(state, q, "bpf.nr_redirect"),
		       get_count(state, q, "bpf.nr_retry"), get_count(state, q, "bpf.nr_split"),
		       daemon);
	else if (daemon >= 0)
		printf("\t\tio: daemon %lld\n", daemon);
}

static void print_state(const char *state)
{
	char path[64], mode[32], io_path[32], buf[160];
	const char *raw;
	long long tid;
	size_t len;
	int q, n;

	if (!json_get_str(state, "io_path", io_path, sizeof(io_path)) &&
	    !json_get_str(state, "data_mode", mode, sizeof(mode))) {
		printf("\tio path %s", io_path);
		if (!json_get_str(state, "bpf_backend", buf, sizeof(buf)))
			printf(" (%s)", buf);
		printf(" data mode %s\n", mode);
	}
	if (!json_get_str(state, "bpf_note", buf, sizeof(buf)))
		printf("\tbpf not used: %s\n", buf);
	n = json_array_len(state, "queues");
	for (q = 0; q < n; q++) {
		snprintf(path, sizeof(path), "queues[%d].tid", q);
		if (json_get_int(state, path, &tid))
			continue;
		printf("\tqueue %d: tid %lld affinity(", q, tid);
		print_cpus(state, q);
		printf(")\n");
		print_queue_stats(state, q);
	}
	if (!json_get_raw(state, "target", &raw, &len))
		printf("\ttarget %.*s\n", (int)len, raw);
}

static int get_dev(struct ublk_ctrl *ctrl, __u32 dev_id, struct ublksrv_ctrl_dev_info *info,
		   struct ublk_params *p)
{
	int ret = ublk_ctrl_get_info(ctrl, dev_id, info);

	if (ret < 0)
		return ret;
	ret = ublk_ctrl_get_params(ctrl, dev_id, p);
	if (ret < 0)
		memset(p, 0, sizeof(*p));
	return 0;
}

int list_print_dev(struct ublk_ctrl *ctrl, __u32 dev_id, bool verbose)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	char *state;
	int ret;

	ret = get_dev(ctrl, dev_id, &info, &p);
	if (ret < 0)
		return ret;
	printf("dev id %u: nr_hw_queues %u queue_depth %u block size %u dev_capacity %llu\n",
	       info.dev_id, info.nr_hw_queues, info.queue_depth, 1U << p.basic.logical_bs_shift,
	       (unsigned long long)p.basic.dev_sectors);
	printf("\tmax rq size %u daemon pid %d state %s\n", info.max_io_buf_bytes, info.ublksrv_pid,
	       ublk_state_name(info.state));
	print_flags(info.flags);
	if (verbose && (p.types & UBLK_PARAM_TYPE_DEVT))
		printf("\tublkc: %u:%u ublkb: %u:%u owner: %u:%u\n", p.devt.char_major,
		       p.devt.char_minor, p.devt.disk_major, p.devt.disk_minor, info.owner_uid,
		       info.owner_gid);
	state = ublk_state_read(dev_id);
	if (state) {
		print_state(state);
		free(state);
	}
	return 0;
}

static void json_dev(struct json_writer *w, const struct ublksrv_ctrl_dev_info *info,
		     const struct ublk_params *p, const char *state)
{
	char buf[192];
	const char *raw;
	unsigned int bit;
	size_t len;

	json_obj_begin(w, NULL);
	json_uint(w, "dev_id", info->dev_id);
	json_str(w, "state", ublk_state_name(info->state));
	json_uint(w, "nr_queues", info->nr_hw_queues);
	json_uint(w, "depth", info->queue_depth);
	json_uint(w, "block_size", 1U << p->basic.logical_bs_shift);
	json_uint(w, "dev_capacity", p->basic.dev_sectors);
	json_uint(w, "max_io_bytes", info->max_io_buf_bytes);
	json_int(w, "pid", info->ublksrv_pid);
	json_uint(w, "flags", info->flags);
	json_arr_begin(w, "flag_names");
	for (bit = 0; bit < 64; bit++)
		if ((info->flags & (1ULL << bit)) && ublk_feature_name(bit))
			json_str(w, NULL, ublk_feature_name(bit));
	json_arr_end(w);
	json_str(w, "recovery", recovery_name(info->flags));
	if (state && !json_get_str(state, "io_path", buf, sizeof(buf)))
		json_str(w, "io_path", buf);
	if (state && !json_get_str(state, "bpf_backend", buf, sizeof(buf)))
		json_str(w, "bpf_backend", buf);
	if (state && !json_get_str(state, "bpf_note", buf, sizeof(buf)))
		json_str(w, "bpf_note", buf);
	if (state && !json_get_str(state, "data_mode", buf, sizeof(buf)))
		json_str(w, "data_mode", buf);
	if (state && !json_get_raw(state, "queues", &raw, &len)) {
		char *copy = strndup(raw, len);

		json_raw(w, "queues", copy);
		free(copy);
	}
	if (state && !json_get_raw(state, "target", &raw, &len)) {
		char *copy = strndup(raw, len);

		json_raw(w, "target", copy);
		free(copy);
	}
	json_obj_end(w);
}

static int list_json(struct ublk_ctrl *ctrl, const __u32 *ids, int n)
{
	struct json_writer w;
	const char *text;
	int i;

	json_writer_init(&w);
	json_arr_begin(&w, NULL);
	for (i = 0; i < n; i++) {
		struct ublksrv_ctrl_dev_info info;
		struct ublk_params p;
		char *state;

		if (get_dev(ctrl, ids[i], &info, &p))
			continue;
		state = ublk_state_read(ids[i]);
		json_dev(&w, &info, &p, state);
		free(state);
	}
	json_arr_end(&w);
	text = json_writer_finish(&w);
	if (text)
		printf("%s\n", text);
	json_writer_free(&w);
	return text ? 0 : 1;
}

static void usage_list(void)
{
	printf("usage: ublk list [-n DEV_ID] [-v] [--json]\n"
	       "  -n, --number DEV_ID  only this device\n"
	       "  -v, --verbose        also print device numbers and owner\n"
	       "      --json           one JSON array of device objects\n");
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool verbose = false, json = false, one = false;
	unsigned long long id = 0;
	struct ublk_ctrl ctrl;
	__u32 ids[1024];
	int opt, n, i, ret = 0;

	while ((opt = getopt_long(argc, argv, "n:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_uint(optarg, ~0U, &id)) {
				fprintf(stderr, "ublk list: -n: '%s' is not a device id\n", optarg);
				return 1;
			}
			one = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_list();
			return 0;
		default:
			fprintf(stderr, "ublk list: bad option (see 'ublk list --help')\n");
			return 1;
		}
	}
	if (cli_open_ctrl(&ctrl, "list"))
		return 1;
	if (one) {
		ids[0] = id;
		n = 1;
	} else {
		n = list_dev_ids(ids, sizeof(ids) / sizeof(ids[0]));
	}
	if (json) {
		ret = list_json(&ctrl, ids, n < 0 ? 0 : n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		int err = list_print_dev(&ctrl, ids[i], verbose);

		if (err == -ENODEV && one) {
			fprintf(stderr, "ublk list: device %u does not exist\n", ids[i]);
			ret = 1;
		} else if (err && err != -ENODEV) {
			fprintf(stderr, "ublk list: device %u: %s\n", ids[i], strerror(-err));
			ret = 1;
		}
	}
out:
	ublk_ctrl_close(&ctrl);
	return ret;
}
