// SPDX-License-Identifier: MIT
/* `ublk features`: what the running kernel's ublk driver supports. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* What --bpf would find: the fast path, or the one thing that is missing. */
static void print_bpf(__u64 features)
{
	char why[160];

	if (ublk_bpf_probe(features, why, sizeof(why)))
		printf("bpf fast path: no (%s)\n", why);
	else
		printf("bpf fast path: yes (io_uring_bpf_ops, zero copy)\n");
	printf("bpf seed struct_ops ublk_bpf_ops: %s\n",
	       ublk_bpf_seed_ops_available() ?
		       "present in the kernel's BTF (not used: no backend for it yet)" :
		       "no");
}

int cmd_features(int argc, char **argv)
{
	struct ublk_ctrl ctrl;
	__u64 features = 0;
	unsigned int bit;
	int ret;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "ublk features: takes no arguments\n");
		return 1;
	}
	if (cli_open_ctrl(&ctrl, "features"))
		return 1;
	ret = ublk_ctrl_get_features(&ctrl, &features);
	ublk_ctrl_close(&ctrl);
	if (ret < 0) {
		fprintf(stderr, "ublk features: GET_FEATURES: %s\n", strerror(-ret));
		return 1;
	}
	printf("ublk driver features 0x%llx\n", (unsigned long long)features);
	for (bit = 0; bit < 64; bit++) {
		if (!(features & (1ULL << bit)))
			continue;
		if (ublk_feature_name(bit))
			printf("\t%s\n", ublk_feature_name(bit));
		else
			printf("\tunknown feature bit %u\n", bit);
	}
	print_bpf(features);
	return 0;
}
