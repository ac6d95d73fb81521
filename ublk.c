// SPDX-License-Identifier: MIT
/*
 * ublk: create, list and delete ublk block devices served from userspace.
 * Command-line compatible with ublksrv's `ublk`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "targets.h"

int cli_open_ctrl(struct ublk_ctrl *ctrl, const char *cmd)
{
	int ret = ublk_ctrl_open(ctrl);

	if (ret == -ENOENT)
		fprintf(stderr,
			"ublk %s: %s does not exist: load the ublk_drv kernel module (modprobe ublk_drv)\n",
			cmd, UBLK_CTRL_DEV);
	else if (ret < 0)
		fprintf(stderr, "ublk %s: cannot open %s: %s\n", cmd, UBLK_CTRL_DEV,
			strerror(-ret));
	return ret;
}

/* A target's options, from its table: also its keys in a config file. */
static void usage_tgt(const struct ublk_tgt_ops *tgt)
{
	const struct ublk_tgt_opt *o;
	char spec[64];
	int n;

	printf("  %s target: %s\n", tgt->name, tgt->help ? tgt->help : "");
	for (o = tgt->opts; o && o->name; o++) {
		n = snprintf(spec, sizeof(spec), "%c%c%s --%s%s%s", o->short_name ? '-' : ' ',
			     o->short_name ?: ' ', o->short_name ? "," : " ", o->name,
			     o->has_arg ? " " : "", o->has_arg ? o->arg_name : "");
		if (n < 23)
			printf("  %-23s%s\n", spec, o->help);
		else
			printf("  %s\n  %-23s%s\n", spec, "", o->help);
	}
}

void usage_add(void)
{
	int i;

	printf("usage: ublk add -t TYPE [options]\n"
	       "       ublk add --config FILE [options]\n"
	       "  -t, --type TYPE        target:");
	for (i = 0; ublk_tgt_list[i]; i++)
		printf(" %s", ublk_tgt_list[i]->name);
	printf("\n"
	       "  -n, --number DEV_ID    device id (default: the kernel picks one)\n"
	       "  -q, --queues N         hardware queues, one thread each (default %d, max %d)\n"
	       "  -d, --depth N          queue depth (default %d, max %d)\n"
	       "  -u, --user_copy        move data with read/write on /dev/ublkcN (UBLK_F_USER_COPY)\n"
	       "  -z, --zero_copy        zero copy: backing I/O on the request's own pages\n"
	       "                         (UBLK_F_AUTO_BUF_REG)\n"
	       "      --max_io_size SIZE largest request (default 512K, max 32M)\n"
	       "      --foreground       serve in this process instead of a daemon\n"
	       "  -c, --config FILE      take the options from an ini file (see ublk(8));\n"
	       "                         options given after it override the file's\n"
	       "  -r, --recovery_enable 0|1\n"
	       "                         user recovery: a killed daemon leaves the device\n"
	       "                         QUIESCED for 'ublk recover' (UBLK_F_USER_RECOVERY)\n"
	       "  -i, --recovery_reissue 0|1\n"
	       "                         with -r 1: requests the dead daemon held are issued\n"
	       "                         again after recovery (UBLK_F_USER_RECOVERY_REISSUE)\n"
	       "  -e, --recovery_fail_io 0|1\n"
	       "                         with -r 1: fail I/O while no daemon runs\n"
	       "                         (UBLK_F_USER_RECOVERY_FAIL_IO)\n"
	       "      --recovery MODE    off, requeue (-r 1), reissue (-r 1 -i 1),\n"
	       "                         fail-io (-r 1 -e 1)\n"
	       "      --unprivileged     a device its (non-root) creator owns\n"
	       "                         (UBLK_F_UNPRIVILEGED_DEV)\n"
	       "      --bpf[=on|auto|off]\n"
	       "                         serve requests in a BPF program in the kernel, zero\n"
	       "                         copy (io_uring_bpf_ops + UBLK_F_AUTO_BUF_REG); on: fail\n"
	       "                         if unavailable, auto: else the userspace path (--bpf: on)\n"
	       "      --bpf_redirect N   debug: send every Nth request to the daemon\n"
	       "      --bpf_split SIZE   debug: BPF splits requests at SIZE boundaries\n"
	       "      --bpf_eagain       debug: the daemon hands those requests back (-EAGAIN)\n",
	       UBLK_DEF_QUEUES, UBLK_MAX_QUEUES, UBLK_DEF_DEPTH, UBLK_MAX_QUEUE_DEPTH);
	for (i = 0; ublk_tgt_list[i]; i++)
		usage_tgt(ublk_tgt_list[i]);
}

static void usage(void)
{
	printf("usage: ublk COMMAND [options]\n"
	       "\n"
	       "commands:\n"
	       "  add -t TYPE [options]       create a device and serve it (see 'ublk add --help')\n"
	       "  del -n DEV_ID | -a | -c FILE [--keep-recoverable]\n"
	       "                              stop and delete devices\n"
	       "  recover -n DEV_ID [--foreground]\n"
	       "                              serve again a device whose daemon died\n"
	       "                              (added with user recovery)\n"
	       "  start -c FILE               serve the device of a config file in the\n"
	       "                              foreground: recover it or add it (systemd)\n"
	       "  list [-n DEV_ID] [-v] [--json]\n"
	       "                              show devices\n"
	       "  features                    show what the kernel's ublk driver supports\n"
	       "  owner -n DEV_ID [--chown NAME]\n"
	       "                              owner (UID GID) of an unprivileged device, or\n"
	       "                              give it /dev/NAME (for the udev rule)\n"
	       "  help                        this text\n"
	       "  -V, --version               print the version\n"
	       "\n");
	usage_add();
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "help";

	if (!strcmp(cmd, "add"))
		return cmd_add(argc - 1, argv + 1);
	if (!strcmp(cmd, "del"))
		return cmd_del(argc - 1, argv + 1);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(cmd, "features"))
		return cmd_features(argc - 1, argv + 1);
	if (!strcmp(cmd, "recover"))
		return cmd_recover(argc - 1, argv + 1);
	if (!strcmp(cmd, "start"))
		return cmd_start(argc - 1, argv + 1);
	if (!strcmp(cmd, "owner"))
		return cmd_owner(argc - 1, argv + 1);
	if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage();
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("ublk %s\n", UBLKSRV_VERSION);
		return 0;
	}
	fprintf(stderr, "ublk: unknown command '%s' (see 'ublk help')\n", cmd);
	return 1;
}
