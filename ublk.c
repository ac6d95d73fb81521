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
	       "      --usercopy, --user_copy\n"
	       "                         move data with read/write on /dev/ublkcN (UBLK_F_USER_COPY)\n"
	       "  -z, --zerocopy         zero copy: backing I/O on the request's own pages\n"
	       "                         (UBLK_F_AUTO_BUF_REG)\n"
	       "      --max_io_size SIZE, --max_io_buf_bytes N\n"
	       "                         largest request (default 512K, max 32M)\n"
	       "  -u, --uring_comp N, -g, --need_get_data N, --debug_mask MASK\n"
	       "                         ublksrv's, accepted and checked, no effect here: the\n"
	       "                         kernel always completes in task context, every tag's\n"
	       "                         buffer is ready in advance, no debug classes\n"
	       "  -b, --batch-io         refused: UBLK_F_BATCH_IO is not implemented here\n"
	       "      --foreground       serve in this process instead of a daemon\n"
	       "  -c, --config FILE      take the options from an ini file (see ublk(8));\n"
	       "                         options given after it override the file's\n"
	       "  -r, --user_recovery 0|1\n"
	       "                         user recovery: a killed daemon leaves the device\n"
	       "                         QUIESCED for 'ublk recover' (UBLK_F_USER_RECOVERY)\n"
	       "  -i, --user_recovery_reissue 0|1\n"
	       "                         -r 1, and requests the dead daemon held are issued\n"
	       "                         again after recovery (UBLK_F_USER_RECOVERY_REISSUE)\n"
	       "  -e, --user_recovery_fail_io 0|1\n"
	       "                         -r 1, and I/O fails while no daemon runs\n"
	       "                         (UBLK_F_USER_RECOVERY_FAIL_IO)\n"
	       "      --recovery MODE    off, requeue (-r 1), reissue (-r 1 -i 1),\n"
	       "                         fail-io (-r 1 -e 1)\n"
	       "      --unprivileged     a device its (non-root) creator owns\n"
	       "                         (UBLK_F_UNPRIVILEGED_DEV)\n"
	       "      --bpf[=on|auto|off|iouring|seed]\n"
	       "                         serve requests in a BPF program in the kernel, zero\n"
	       "                         copy; on: fail if unavailable, auto: else the userspace\n"
	       "                         path (--bpf: on); iouring / seed: force a backend\n"
	       "                         (io_uring_bpf_ops / the project module's ublk_bpf_ops)\n"
	       "      --bpf_poll_us US   iouring backend: after the last request, the queue\n"
	       "                         loop polls US microseconds before it sleeps (0)\n"
	       "      --bpf_redirect N   debug: send every Nth request to the daemon\n"
	       "      --bpf_split SIZE   debug: BPF splits requests at SIZE boundaries\n"
	       "      --bpf_eagain       debug: the daemon hands those requests back (-EAGAIN)\n",
	       UBLK_DEF_QUEUES, UBLK_MAX_QUEUES, UBLK_DEF_DEPTH, UBLK_MAX_QUEUE_DEPTH);
	for (i = 0; ublk_tgt_list[i]; i++)
		usage_tgt(ublk_tgt_list[i]);
}

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help; /* for `ublk help`; NULL: an alias */
} commands[] = {
	{ "add", cmd_add,
	  "add -t TYPE [options]       create a device and serve it (see 'ublk add --help')" },
	{ "del", cmd_del,
	  "del -n DEV_ID | -a | -c FILE [--keep-recoverable]\n"
	  "                              stop and delete devices" },
	{ "recover", cmd_recover,
	  "recover -n DEV_ID [--foreground]\n"
	  "                              serve again a device whose daemon died\n"
	  "                              (added with user recovery)" },
	{ "start", cmd_start,
	  "start -c FILE               serve the device of a config file in the\n"
	  "                              foreground: recover it or add it (systemd)" },
	{ "list", cmd_list,
	  "list [-n DEV_ID] [-v] [--json]\n"
	  "                              show devices" },
	{ "features", cmd_features,
	  "features                    show what the kernel's ublk driver supports" },
	{ "owner", cmd_owner,
	  "owner -n DEV_ID [--chown NAME]\n"
	  "                              owner (UID GID) of an unprivileged device, or\n"
	  "                              give it /dev/NAME (for the udev rule)" },
	{ "help", cmd_help, "help                        this text" },
	{ "-h", cmd_help, NULL },
	{ "--help", cmd_help, NULL },
	{ "-V", cmd_version, "-V, --version               print the version" },
	{ "--version", cmd_version, NULL },
	/* ublksrv spells it -v */
	{ "-v", cmd_version, NULL },
};

static int cmd_help(int argc, char **argv)
{
	size_t i;

	(void)argc, (void)argv;
	printf("usage: ublk COMMAND [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].help)
			printf("  %s\n", commands[i].help);
	printf("\n");
	usage_add();
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("ublk %s\n", UBLKSRV_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "help";
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ublk: unknown command '%s' (see 'ublk help')\n", cmd);
	return 1;
}
