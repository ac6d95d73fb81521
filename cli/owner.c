// SPDX-License-Identifier: MIT
/*
 * `ublk owner -n N`: for udev (60-ublk.rules). Prints "UID GID" of an
 * unprivileged device's creator, so that its nodes can be given to it, and
 * fails for any other device, which then keeps root's nodes.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_owner(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ublksrv_ctrl_dev_info info;
	unsigned long long id = 0;
	struct ublk_ctrl ctrl;
	bool one = false;
	int opt, ret;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_uint(optarg, (1 << 20) - 1, &id)) {
				fprintf(stderr, "ublk owner: -n: '%s' is not a device id\n", optarg);
				return 1;
			}
			one = true;
			break;
		case 'h':
			printf("usage: ublk owner -n DEV_ID\n"
			       "  print the owner (UID GID) of an unprivileged device, for udev\n");
			return 0;
		default:
			fprintf(stderr, "ublk owner: bad option (see 'ublk owner --help')\n");
			return 1;
		}
	}
	if (!one || optind < argc) {
		fprintf(stderr, "ublk owner: give the device: -n DEV_ID\n");
		return 1;
	}
	if (cli_open_ctrl(&ctrl, "owner"))
		return 1;
	ret = ublk_ctrl_get_info(&ctrl, id, &info);
	ublk_ctrl_close(&ctrl);
	if (ret < 0) {
		fprintf(stderr, "ublk owner: device %llu: %s\n", id, strerror(-ret));
		return 1;
	}
	if (!(info.flags & UBLK_F_UNPRIVILEGED_DEV))
		return 1;
	printf("%u %u\n", info.owner_uid, info.owner_gid);
	return 0;
}
