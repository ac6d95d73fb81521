// SPDX-License-Identifier: MIT
/*
 * `ublk recover -n N`: serve again a device whose daemon died (state
 * QUIESCED or FAIL_IO, created with user recovery), with the options that
 * created it. They come from the state file, where `ublk add` stored its
 * arguments as given: parsing them again restores every option, including
 * ones added after this file was written.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define RECOVER_MAX_ARGS 256
#define RECOVER_MAX_ARG (PATH_MAX + 64)

static int state_err(char *err, size_t len, __u32 dev_id, const char *why)
{
	snprintf(err, len, "state file %s/%u.json: %s", ublk_run_dir(), dev_id, why);
	return -EINVAL;
}

static int copy_args(const json_t *state, __u32 dev_id, struct strvec *args, char *err,
		     size_t err_len)
{
	const json_t *list = json_object_get(state, "add_args"), *v;
	size_t i;
	int ret;

	/* ublk_state_load() checked that it is an array of strings */
	if (!list)
		return state_err(err, err_len, dev_id,
				 "no add_args (not written by this version of ublk)");
	if (json_array_size(list) > RECOVER_MAX_ARGS)
		return state_err(err, err_len, dev_id, "too many add_args");
	ret = strvec_push(args, "add");
	json_array_foreach(list, i, v)
	{
		if (ret)
			break;
		if (json_string_length(v) > RECOVER_MAX_ARG ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return state_err(err, err_len, dev_id,
					 "an add_args entry is too long or holds a NUL");
		ret = strvec_push(args, json_string_value(v));
	}
	return ret;
}

/* A JSON integer in @obj that fits a non-negative 64-bit value, or false. */
static bool get_u64(const json_t *obj, const char *key, __u64 *v)
{
	const json_t *j = json_object_get(obj, key);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return false;
	*v = json_integer_value(j);
	return true;
}

/*
 * The backing file recorded in the state must still be the one there: a
 * file replaced under the same name (restored from a backup, recreated)
 * would be served as if it held the device's data.
 */
static int check_backing(const json_t *state, __u32 dev_id, char *err, size_t err_len)
{
	const json_t *tgt = json_object_get(state, "target");
	const char *file = json_string_value(json_object_get(tgt, "file"));
	__u64 dev, ino, rdev;
	char why[PATH_MAX + 128];
	struct stat st;

	if (!file)
		return 0;
	if (stat(file, &st) < 0) {
		snprintf(why, sizeof(why), "backing file %s: %s", file, strerror(errno));
		return state_err(err, err_len, dev_id, why);
	}
	if (get_u64(tgt, "backing_rdev", &rdev) && (!S_ISBLK(st.st_mode) || st.st_rdev != rdev)) {
		snprintf(
			why, sizeof(why),
			"backing device %s is not the one the device was created with (device number changed)",
			file);
		return state_err(err, err_len, dev_id, why);
	}
	if (get_u64(tgt, "backing_dev", &dev) && get_u64(tgt, "backing_ino", &ino) &&
	    (st.st_dev != dev || st.st_ino != ino)) {
		snprintf(
			why, sizeof(why),
			"backing file %s is not the one the device was created with (it was replaced: another inode)",
			file);
		return state_err(err, err_len, dev_id, why);
	}
	return 0;
}

int recover_state_args(__u32 dev_id, struct strvec *args, char *err, size_t err_len)
{
	char why[256];
	json_t *state;
	int ret;

	state = ublk_state_load(dev_id, why, sizeof(why));
	if (!state && errno == ENOENT) {
		snprintf(why, sizeof(why),
			 "missing: the options device %u was created with are unknown", dev_id);
		return state_err(err, err_len, dev_id, why);
	}
	if (!state) {
		snprintf(err, err_len, "state file %s", why);
		return -EINVAL;
	}
	ret = check_backing(state, dev_id, err, err_len);
	if (!ret)
		ret = copy_args(state, dev_id, args, err, err_len);
	json_decref(state);
	return ret;
}

static void usage_recover(void)
{
	printf("usage: ublk recover -n DEV_ID [--foreground]\n"
	       "  -n, --number DEV_ID  the device whose daemon died (state QUIESCED or FAIL_IO)\n"
	       "      --foreground     serve in this process instead of a daemon\n");
}

/* The kernel's word first: a missing state file is not the real problem. */
static int check_kernel_state(__u32 dev_id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl ctrl;
	int ret;

	if (cli_open_ctrl(&ctrl, "recover"))
		return -ENODEV;
	ret = ublk_ctrl_get_info(&ctrl, dev_id, &info);
	ublk_ctrl_close(&ctrl);
	if (ret == -ENODEV) {
		fprintf(stderr, "ublk recover: device %u does not exist\n", dev_id);
		return ret;
	}
	if (ret < 0) {
		fprintf(stderr, "ublk recover: device %u: %s\n", dev_id, strerror(-ret));
		return ret;
	}
	if (!(info.flags & UBLK_F_USER_RECOVERY)) {
		fprintf(stderr,
			"ublk recover: device %u was created without user recovery (ublk add -r 1 or --recovery): it is %s and can only be deleted (ublk del -n %u)\n",
			dev_id, ublk_state_name(info.state), dev_id);
		return -EINVAL;
	}
	return 0;
}

static int recover_dev(__u32 dev_id, bool foreground)
{
	struct add_args a = { 0 };
	struct strvec args;
	char err[512];
	int ret = 1;

	if (check_kernel_state(dev_id))
		return 1;
	strvec_init(&args);
	if (recover_state_args(dev_id, &args, err, sizeof(err))) {
		fprintf(stderr, "ublk recover: %s\n", err);
		goto out;
	}
	if (parse_add_args(args.n, args.v, &a, err, sizeof(err))) {
		fprintf(stderr, "ublk recover: state file %s/%u.json: bad add_args: %s\n",
			ublk_run_dir(), dev_id, err);
		goto out;
	}
	if (a.opts.dev_id >= 0 && (__u32)a.opts.dev_id != dev_id) {
		fprintf(stderr, "ublk recover: state file %s/%u.json is for device %d\n",
			ublk_run_dir(), dev_id, a.opts.dev_id);
		goto out;
	}
	a.opts.dev_id = dev_id;
	a.opts.args = (const char *const *)args.v + 1;
	a.opts.nr_args = args.n - 1;
	ret = serve_dev(&a.opts, foreground, true);
out:
	add_args_free(&a);
	strvec_free(&args);
	return ret;
}

struct recover_args {
	__u32 id;
	bool one, foreground;
};

static int recover_opt(void *ctx, int opt, const char *arg, char *err, size_t err_len)
{
	struct recover_args *a = ctx;

	if (opt == 'f') {
		a->foreground = true;
		return 0;
	}
	a->one = true;
	return parse_dev_id(arg, &a->id, err, err_len);
}

int cmd_recover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "foreground", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct recover_args a = { 0 };
	const struct cli_opts o = { "n:", opts, recover_opt, &a };
	int ret;

	ret = cli_parse(&o, "recover", usage_recover, argc, argv);
	if (ret)
		return ret == CLI_HELP ? 0 : 1;
	if (!a.one) {
		fprintf(stderr, "ublk recover: give the device: -n DEV_ID\n");
		return 1;
	}
	return recover_dev(a.id, a.foreground);
}
