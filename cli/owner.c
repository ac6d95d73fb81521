// SPDX-License-Identifier: MIT
/*
 * `ublk owner -n N | --chown NAME`: for udev (60-ublk.rules). Prints "UID
 * GID" of an unprivileged device's creator and fails for any other device.
 * With --chown it gives the device's node /dev/NAME to that user instead
 * (and does nothing for other devices): done from RUN+=, this works even
 * where udevd resolves no names (OWNER="%c{1}" is ignored then).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Only digits, at least one? */
static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/*
 * The device id in a node name: ublkcN, ublkbN or a partition ublkbNpM
 * (*part set); -1 if @name is none of those.
 */
static long long node_dev_id(const char *name, bool *part)
{
	char digits[16];
	const char *p;
	size_t len;

	*part = false;
	if (strncmp(name, "ublkc", 5) && strncmp(name, "ublkb", 5))
		return -1;
	p = strchr(name + 5, 'p');
	len = p ? (size_t)(p - name - 5) : strlen(name + 5);
	if (len >= sizeof(digits))
		return -1;
	memcpy(digits, name + 5, len);
	digits[len] = '\0';
	if (!all_digits(digits) || (p && (name[4] != 'b' || !all_digits(p + 1))))
		return -1;
	*part = p;
	return strtoull(digits, NULL, 10);
}

/* @name must be a node of device @id, and be that kind of node. */
static int chown_node(unsigned long long id, const char *name,
		      const struct ublksrv_ctrl_dev_info *info)
{
	char path[64];
	struct stat st;
	bool part;

	if (node_dev_id(name, &part) != (long long)id) {
		fprintf(stderr,
			"ublk owner: --chown: '%s' is not ublkc%llu, ublkb%llu or a partition of it\n",
			name, id, id);
		return 1;
	}
	snprintf(path, sizeof(path), "/dev/%s", name);
	if (lstat(path, &st) < 0) {
		fprintf(stderr, "ublk owner: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (name[4] == 'c' ? !S_ISCHR(st.st_mode) : !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "ublk owner: %s is not a device node\n", path);
		return 1;
	}
	if (chown(path, info->owner_uid, info->owner_gid) < 0 || chmod(path, 0600) < 0) {
		fprintf(stderr, "ublk owner: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static void usage_owner(void)
{
	printf("usage: ublk owner -n DEV_ID | [-n DEV_ID] --chown NAME\n"
	       "  print the owner (UID GID) of an unprivileged device, for udev;\n"
	       "  --chown NAME: give it /dev/NAME (ublkcN, ublkbN, ublkbNpM) instead\n");
}

struct owner_args {
	__u32 id;
	bool one;
	const char *node;
};

static int owner_opt(void *ctx, int opt, const char *arg, char *err, size_t err_len)
{
	struct owner_args *a = ctx;

	if (opt == 'c') {
		a->node = arg;
		return 0;
	}
	a->one = true;
	return parse_dev_id(arg, &a->id, err, err_len);
}

int cmd_owner(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "chown", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct owner_args a = { 0 };
	const struct cli_opts o = { "n:", opts, owner_opt, &a };
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl ctrl;
	int ret;

	ret = cli_parse(&o, "owner", usage_owner, argc, argv);
	if (ret)
		return ret == CLI_HELP ? 0 : 1;
	/* udev's %n of a partition is its number: the name says the device */
	if (!a.one && a.node) {
		bool part;
		long long nid = node_dev_id(a.node, &part);

		if (nid < 0) {
			fprintf(stderr, "ublk owner: --chown: '%s' is not a ublk node\n", a.node);
			return 1;
		}
		a.id = nid;
		a.one = true;
	}
	if (!a.one) {
		fprintf(stderr, "ublk owner: give the device: -n DEV_ID\n");
		return 1;
	}
	if (cli_open_ctrl(&ctrl, "owner"))
		return 1;
	ret = ublk_ctrl_get_info(&ctrl, a.id, &info);
	ublk_ctrl_close(&ctrl);
	if (ret < 0) {
		fprintf(stderr, "ublk owner: device %u: %s\n", a.id, strerror(-ret));
		return 1;
	}
	if (!(info.flags & UBLK_F_UNPRIVILEGED_DEV))
		return a.node ? 0 : 1;
	if (a.node)
		return chown_node(a.id, a.node, &info);
	printf("%u %u\n", info.owner_uid, info.owner_gid);
	return 0;
}
