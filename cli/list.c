// SPDX-License-Identifier: MIT
/*
 * `ublk list`: the kernel's view (GET_DEV_INFO, GET_PARAMS) merged with the
 * daemon's state file. The text format is ublksrv's, because scripts parse
 * it: pid is word 7 and state word 9 of the second line.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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

static void print_flags(__u64 flags)
{
	printf("\tflags 0x%llx [ ", (unsigned long long)flags);
	cli_print_flags(flags, "", " ", true);
	printf("]\n");
}

/* The state's types were checked by ublk_state_load(): missing means -1. */
static long long get_int(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static const char *get_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void print_cpus(const json_t *q)
{
	const json_t *cpu;
	size_t i;

	json_array_foreach(json_object_get(q, "affinity"), i, cpu) if (json_is_integer(cpu))
		printf("%lld ", (long long)json_integer_value(cpu));
}

/* Where each queue's requests were served: BPF, or the daemon; failures. */
static void print_queue_stats(const json_t *q)
{
	long long daemon = get_int(q, "nr_io_daemon"), err = get_int(q, "nr_io_err");
	const json_t *bpf = json_object_get(q, "bpf");

	if (get_int(bpf, "nr_io") >= 0)
		printf("\t\tio: bpf %lld redirected %lld retried %lld split %lld daemon %lld",
		       get_int(bpf, "nr_io"), get_int(bpf, "nr_redirect"), get_int(bpf, "nr_retry"),
		       get_int(bpf, "nr_split"), daemon);
	else if (daemon >= 0)
		printf("\t\tio: daemon %lld", daemon);
	else
		return;
	if (err > 0)
		printf(" failed %lld", err);
	printf("\n");
}

static void print_state(const json_t *state)
{
	const char *io_path = get_str(state, "io_path"), *mode = get_str(state, "data_mode");
	const json_t *q, *tgt;
	char *text;
	size_t i;

	if (io_path && mode) {
		printf("\tio path %s", io_path);
		if (get_str(state, "bpf_backend"))
			printf(" (%s)", get_str(state, "bpf_backend"));
		printf(" data mode %s\n", mode);
	}
	if (get_str(state, "bpf_note"))
		printf("\tbpf not used: %s\n", get_str(state, "bpf_note"));
	json_array_foreach(json_object_get(state, "queues"), i, q)
	{
		if (get_int(q, "tid") < 0)
			continue;
		printf("\tqueue %zu: tid %lld affinity(", i, get_int(q, "tid"));
		print_cpus(q);
		printf(")\n");
		print_queue_stats(q);
	}
	tgt = json_object_get(state, "target");
	text = tgt ? json_dumps(tgt, JSON_COMPACT) : NULL;
	if (text)
		printf("\ttarget %s\n", text);
	free(text);
}

static int get_dev(struct ublk_ctrl *ctrl, __u32 dev_id, struct ublksrv_ctrl_dev_info *info,
		   struct ublk_params *p, struct ublk_param_bpf *bpf)
{
	int ret = ublk_ctrl_get_info(ctrl, dev_id, info);

	if (ret < 0)
		return ret;
	ret = ublk_ctrl_get_params_bpf(ctrl, dev_id, p, bpf);
	if (ret < 0)
		memset(p, 0, sizeof(*p));
	return 0;
}

int list_print_dev(struct ublk_ctrl *ctrl, __u32 dev_id, bool verbose)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_param_bpf bpf;
	struct ublk_params p;
	char err[256];
	json_t *state;
	int ret;

	ret = get_dev(ctrl, dev_id, &info, &p, &bpf);
	if (ret < 0)
		return ret;
	printf("dev id %u: nr_hw_queues %u queue_depth %u block size %u dev_capacity %llu\n",
	       info.dev_id, info.nr_hw_queues, info.queue_depth, 1U << p.basic.logical_bs_shift,
	       (unsigned long long)p.basic.dev_sectors);
	printf("\tmax rq size %u daemon pid %d state %s\n", info.max_io_buf_bytes, info.ublksrv_pid,
	       ublk_state_name(info.state));
	print_flags(info.flags);
	if (p.types & UBLK_PARAM_TYPE_BPF)
		printf("\tbpf ops id %u\n", bpf.ops_id);
	if (verbose && (p.types & UBLK_PARAM_TYPE_DEVT))
		printf("\tublkc: %u:%u ublkb: %u:%u owner: %u:%u\n", p.devt.char_major,
		       p.devt.char_minor, p.devt.disk_major, p.devt.disk_minor, info.owner_uid,
		       info.owner_gid);
	state = ublk_state_load(dev_id, err, sizeof(err));
	if (state)
		print_state(state);
	else if (errno != ENOENT)
		fprintf(stderr, "ublk list: %s\n", err);
	json_decref(state);
	return 0;
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
	return json_object_set_new(obj, key, v) ? -ENOMEM : 0;
}

/* state fields copied as they are, in the documented order */
static const char *const state_keys[] = { "io_path",   "bpf_backend", "bpf_note",
					  "data_mode", "queues",      "target" };

static json_t *flag_names(__u64 flags)
{
	json_t *names = json_array();
	unsigned int bit;

	for (bit = 0; names && bit < 64; bit++) {
		if (!(flags & (1ULL << bit)) || !ublk_feature_name(bit))
			continue;
		if (json_array_append_new(names, json_string(ublk_feature_name(bit)))) {
			json_decref(names);
			return NULL;
		}
	}
	return names;
}

/* The kernel's fields, then the state file's (docs/json-schema.md order). */
static json_t *json_dev(const struct ublksrv_ctrl_dev_info *info, const struct ublk_params *p,
			const struct ublk_param_bpf *bpf, const json_t *state)
{
	json_t *obj, *v;
	size_t i;

	obj = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:o, s:s}", "dev_id",
			(json_int_t)info->dev_id, "state", ublk_state_name(info->state),
			"nr_queues", (json_int_t)info->nr_hw_queues, "depth",
			(json_int_t)info->queue_depth, "block_size",
			(json_int_t)1 << p->basic.logical_bs_shift, "dev_capacity",
			(json_int_t)p->basic.dev_sectors, "max_io_bytes",
			(json_int_t)info->max_io_buf_bytes, "pid", (int)info->ublksrv_pid, "flags",
			(json_int_t)info->flags, "flag_names", flag_names(info->flags), "recovery",
			recovery_name(info->flags));
	if (obj && (p->types & UBLK_PARAM_TYPE_BPF) &&
	    set_new(obj, "bpf_ops_id", json_integer(bpf->ops_id))) {
		json_decref(obj);
		return NULL;
	}
	for (i = 0; obj && i < sizeof(state_keys) / sizeof(state_keys[0]); i++) {
		v = json_object_get(state, state_keys[i]);
		if (v && set_new(obj, state_keys[i], json_incref(v))) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

/* @one: the caller named the device, which must exist (as without --json) */
static int list_json(struct ublk_ctrl *ctrl, const __u32 *ids, int n, bool one)
{
	json_t *arr = json_array(), *state;
	char err[256], *text = NULL;
	int i, ret = arr ? 0 : -ENOMEM;

	for (i = 0; !ret && i < n; i++) {
		struct ublksrv_ctrl_dev_info info;
		struct ublk_param_bpf bpf;
		struct ublk_params p;
		int gret = get_dev(ctrl, ids[i], &info, &p, &bpf);

		if (gret && one) {
			fprintf(stderr, "ublk list: device %u %s\n", ids[i],
				gret == -ENODEV ? "does not exist" : strerror(-gret));
			json_decref(arr);
			return 1;
		}
		if (gret)
			continue;
		state = ublk_state_load(ids[i], err, sizeof(err));
		if (!state && errno != ENOENT)
			fprintf(stderr, "ublk list: %s\n", err);
		ret = json_array_append_new(arr, json_dev(&info, &p, &bpf, state)) ? -ENOMEM : 0;
		json_decref(state);
	}
	if (!ret)
		text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!text) {
		fprintf(stderr, "ublk list: %s\n", strerror(ENOMEM));
		return 1;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}

static void usage_list(void)
{
	printf("usage: ublk list [-n DEV_ID] [-v] [--json]\n"
	       "  -n, --number DEV_ID  only this device\n"
	       "  -v, --verbose        also print device numbers and owner\n"
	       "      --json           one JSON array of device objects\n");
}

struct list_args {
	__u32 id;
	bool one, verbose, json;
};

static int list_opt(void *ctx, int opt, const char *arg, char *err, size_t err_len)
{
	struct list_args *a = ctx;

	switch (opt) {
	case 'n':
		a->one = true;
		return parse_dev_id(arg, &a->id, err, err_len);
	case 'v':
		a->verbose = true;
		return 0;
	case 'j':
		a->json = true;
		return 0;
	}
	return -EINVAL;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct list_args a = { 0 };
	const struct cli_opts o = { "n:v", opts, list_opt, &a };
	struct ublk_ctrl ctrl;
	__u32 ids[1024];
	int n, i, ret;

	ret = cli_parse(&o, "list", usage_list, argc, argv);
	if (ret)
		return ret == CLI_HELP ? 0 : 1;
	if (cli_open_ctrl(&ctrl, "list"))
		return 1;
	if (a.one) {
		ids[0] = a.id;
		n = 1;
	} else {
		n = list_dev_ids(ids, sizeof(ids) / sizeof(ids[0]));
	}
	if (a.json) {
		ret = list_json(&ctrl, ids, n < 0 ? 0 : n, a.one);
		goto out;
	}
	for (i = 0; i < n; i++) {
		int err = list_print_dev(&ctrl, ids[i], a.verbose);

		if (err == -ENODEV && a.one) {
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
