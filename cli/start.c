// SPDX-License-Identifier: MIT
/*
 * `ublk start --config FILE`: what a service runs (ublk@.service). Serves
 * the device of FILE in the foreground, however the last run ended:
 *
 *   no device with the file's id       add it
 *   QUIESCED / FAIL_IO (daemon died)   recover it, with the options in the
 *                                      state file (those it was created with)
 *   DEAD (died without recovery)       delete it, add it again
 *   LIVE                               refuse: someone serves it
 *
 * so that Restart=on-failure recovers a crashed daemon's device instead of
 * creating a new one under the feet of its users.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum start_mode {
	START_ADD,
	START_RECOVER,
	START_FAIL,
};

static enum start_mode start_mode(__u32 id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl ctrl;
	enum start_mode mode = START_ADD;
	int ret;

	if (cli_open_ctrl(&ctrl, "start"))
		return START_FAIL;
	ret = ublk_ctrl_get_info(&ctrl, id, &info);
	if (ret == -ENODEV)
		goto out;
	if (ret < 0) {
		fprintf(stderr, "ublk start: device %u: %s\n", id, strerror(-ret));
		mode = START_FAIL;
	} else if (info.state == UBLK_S_DEV_LIVE) {
		fprintf(stderr, "ublk start: device %u is LIVE, served by pid %d\n", id,
			info.ublksrv_pid);
		mode = START_FAIL;
	} else if ((info.flags & UBLK_F_USER_RECOVERY) &&
		   (info.state == UBLK_S_DEV_QUIESCED || info.state == UBLK_S_DEV_FAIL_IO)) {
		mode = START_RECOVER;
	} else {
		fprintf(stderr, "ublk start: device %u is %s without recovery: deleting it\n", id,
			ublk_state_name(info.state));
		if (del_one(&ctrl, id, false))
			mode = START_FAIL;
	}
out:
	ublk_ctrl_close(&ctrl);
	return mode;
}

/* "start" + the options to serve with: the state file's when recovering */
static int start_args(const struct config *cfg, enum start_mode mode, struct strvec *args)
{
	char err[512];
	int i, ret = 0;

	if (mode == START_RECOVER) {
		if (!recover_state_args(cfg->dev_id, args, err, sizeof(err)))
			return 0;
		fprintf(stderr, "ublk start: %s; recovering with the config file's options\n", err);
		strvec_free(args);
	}
	ret = strvec_push(args, "start");
	for (i = 0; !ret && i < cfg->args.n; i++)
		ret = strvec_push(args, cfg->args.v[i]);
	return ret;
}

static int start_dev(const struct config *cfg)
{
	enum start_mode mode = start_mode(cfg->dev_id);
	struct add_args a = { 0 };
	struct strvec args;
	char err[512];
	int ret = 1;

	if (mode == START_FAIL)
		return 1;
	strvec_init(&args);
	if (start_args(cfg, mode, &args)) {
		fprintf(stderr, "ublk start: %s\n", strerror(ENOMEM));
		goto out;
	}
	if (parse_add_args(args.n, args.v, &a, err, sizeof(err))) {
		fprintf(stderr, "ublk start: %s\n", err);
		goto out;
	}
	a.opts.dev_id = cfg->dev_id;
	a.opts.args = (const char *const *)args.v + 1;
	a.opts.nr_args = args.n - 1;
	ret = serve_dev(&a.opts, true, mode == START_RECOVER);
out:
	add_args_free(&a);
	strvec_free(&args);
	return ret;
}

static void usage_start(void)
{
	printf("usage: ublk start --config FILE\n"
	       "  -c, --config FILE  the device to serve in the foreground (needs id=):\n"
	       "                     recovered if its daemon died, added otherwise\n");
}

static int start_opt(void *ctx, int opt, const char *arg, char *err, size_t err_len)
{
	(void)opt, (void)err, (void)err_len;
	*(const char **)ctx = arg;
	return 0;
}

int cmd_start(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	const struct cli_opts o = { "c:", opts, start_opt, &file };
	struct config cfg;
	char err[512];
	int ret;

	ret = cli_parse(&o, "start", usage_start, argc, argv);
	if (ret)
		return ret == CLI_HELP ? 0 : 1;
	if (!file) {
		fprintf(stderr, "ublk start: give the device's config file: --config FILE\n");
		return 1;
	}
	if (config_load(file, &cfg, err, sizeof(err))) {
		fprintf(stderr, "ublk start: %s\n", err);
		return 1;
	}
	if (cfg.dev_id < 0) {
		fprintf(stderr,
			"ublk start: %s: [device] needs an id key: a service must find its device again after a crash\n",
			file);
		config_free(&cfg);
		return 1;
	}
	ret = start_dev(&cfg);
	config_free(&cfg);
	return ret;
}
