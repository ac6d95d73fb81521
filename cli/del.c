// SPDX-License-Identifier: MIT
/*
 * `ublk del`: STOP_DEV, wait (bounded) for the daemon to exit, DEL_DEV.
 *
 * The daemon notices the stop (its FETCH commands abort), releases the char
 * device and exits; DEL_DEV would wait forever for that release, so a daemon
 * that does not exit in time is killed first.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"

#define DEL_WAIT_MS 30000
#define KILL_WAIT_MS 10000

/* Does @pid hold /dev/ublkcN open? Guards against a recycled pid. */
static bool pid_serves(pid_t pid, __u32 dev_id)
{
	char dir[64], path[320], target[64], want[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	snprintf(want, sizeof(want), UBLK_CDEV_PREFIX "%u", dev_id);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = !strcmp(target, want);
	}
	closedir(d);
	return found;
}

/* true once the process of @pidfd has exited, false after @ms milliseconds */
static bool wait_exit(int pidfd, int ms)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int ret;

	do {
		ret = poll(&pfd, 1, ms);
	} while (ret < 0 && errno == EINTR);
	return ret > 0;
}

/*
 * Wait for the daemon, then kill it if it hangs. The pidfd, taken while
 * it served the device, names that process even if its pid is reused.
 */
static void stop_daemon(pid_t pid, __u32 dev_id)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);

	if (pidfd < 0)
		return;
	if (pid_serves(pid, dev_id) && !wait_exit(pidfd, DEL_WAIT_MS)) {
		fprintf(stderr, "ublk del: device %u: daemon %d did not exit, killing it\n", dev_id,
			pid);
		if (!syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0))
			wait_exit(pidfd, KILL_WAIT_MS);
	}
	close(pidfd);
}

/*
 * A device with user recovery whose daemon died waits for `ublk recover`.
 * systemd runs ExecStop after a crash too, before Restart= recovers it.
 */
static bool awaits_recovery(const struct ublksrv_ctrl_dev_info *info)
{
	if (!(info->flags & UBLK_F_USER_RECOVERY))
		return false;
	if (info->state == UBLK_S_DEV_QUIESCED || info->state == UBLK_S_DEV_FAIL_IO)
		return true;
	/* LIVE but the daemon is gone: the kernel has not caught up yet */
	return info->state == UBLK_S_DEV_LIVE && info->ublksrv_pid > 0 &&
	       !pid_serves(info->ublksrv_pid, info->dev_id);
}

/*
 * DEL_DEV of an unprivileged device names its char device, which goes
 * first when the device is deleted: ENOENT then means its own daemon is
 * deleting it. True once the device is gone.
 */
static bool gone_soon(struct ublk_ctrl *ctrl, __u32 dev_id)
{
	struct ublksrv_ctrl_dev_info info;
	int i;

	for (i = 0; i < 50; i++) {
		if (ublk_ctrl_get_info(ctrl, dev_id, &info) == -ENODEV)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

int del_one(struct ublk_ctrl *ctrl, __u32 dev_id, bool keep_recoverable)
{
	struct ublksrv_ctrl_dev_info info;
	pid_t pid;
	int ret;

	ret = ublk_ctrl_get_info(ctrl, dev_id, &info);
	if (ret == -ENODEV) {
		fprintf(stderr, "ublk del: device %u does not exist\n", dev_id);
		return 1;
	}
	if (ret < 0) {
		fprintf(stderr, "ublk del: device %u: %s\n", dev_id, strerror(-ret));
		return 1;
	}
	if (keep_recoverable && awaits_recovery(&info)) {
		fprintf(stderr,
			"ublk del: device %u has user recovery and no daemon: kept for 'ublk recover'\n",
			dev_id);
		return 0;
	}
	pid = info.ublksrv_pid;
	ret = ublk_ctrl_stop_dev(ctrl, dev_id);
	if (ret < 0 && ret != -ENODEV)
		fprintf(stderr, "ublk del: device %u: STOP_DEV: %s\n", dev_id, strerror(-ret));

	if (pid > 0)
		stop_daemon(pid, dev_id);

	ret = ublk_ctrl_del_dev(ctrl, dev_id);
	if (ret == -ENOENT && gone_soon(ctrl, dev_id))
		ret = -ENODEV;
	if (ret < 0 && ret != -ENODEV) {
		fprintf(stderr, "ublk del: device %u: DEL_DEV: %s\n", dev_id, strerror(-ret));
		return 1;
	}
	ublk_state_remove(dev_id);
	return 0;
}

static void usage_del(void)
{
	printf("usage: ublk del -n DEV_ID | -a | --config FILE [--keep-recoverable]\n"
	       "  -n, --number DEV_ID  delete device DEV_ID\n"
	       "  -a, --all            delete every ublk device\n"
	       "  -c, --config FILE    delete the device of config FILE (its id= key)\n"
	       "      --keep-recoverable\n"
	       "                       keep a device with user recovery whose daemon died\n");
}

/* the id= of config @file, or -1 with @err saying why */
static long long config_dev_id(const char *file, char *err, size_t err_len)
{
	struct config cfg;
	int id;

	if (config_load(file, &cfg, err, err_len))
		return -1;
	id = cfg.dev_id;
	config_free(&cfg);
	if (id < 0)
		snprintf(err, err_len,
			 "%s: [device] has no id key: which device to delete is unknown", file);
	return id;
}

struct del_args {
	__u32 id;
	bool all, one, keep;
};

static int del_opt(void *ctx, int opt, const char *arg, char *err, size_t err_len)
{
	struct del_args *a = ctx;
	long long cid;

	switch (opt) {
	case 'c':
		cid = config_dev_id(arg, err, err_len);
		if (cid < 0)
			return -EINVAL;
		a->id = cid;
		a->one = true;
		return 0;
	case 'n':
		a->one = true;
		return parse_dev_id(arg, &a->id, err, err_len);
	case 'a':
		a->all = true;
		return 0;
	case 'k':
		a->keep = true;
		return 0;
	}
	return -EINVAL;
}

int cmd_del(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'c' },
		{ "keep-recoverable", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct del_args a = { 0 };
	const struct cli_opts o = { "n:ac:", opts, del_opt, &a };
	struct ublk_ctrl ctrl;
	__u32 ids[1024];
	int n, i, ret;

	ret = cli_parse(&o, "del", usage_del, argc, argv);
	if (ret)
		return ret == CLI_HELP ? 0 : 1;
	if (a.one == a.all) {
		fprintf(stderr, "ublk del: give exactly one of -n DEV_ID, -a or --config FILE\n");
		return 1;
	}
	if (cli_open_ctrl(&ctrl, "del"))
		return 1;
	if (a.one) {
		ret = del_one(&ctrl, a.id, a.keep);
		goto out;
	}
	n = list_dev_ids(ids, sizeof(ids) / sizeof(ids[0]));
	for (i = 0; i < n; i++)
		ret |= del_one(&ctrl, ids[i], a.keep);
out:
	ublk_ctrl_close(&ctrl);
	return ret;
}
