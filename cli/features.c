// SPDX-License-Identifier: MIT
/* `ublk features`: what the running kernel's ublk driver supports. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/*
 * What --bpf would find: the backend it picks (the seed's where the kernel
 * has it), or the one thing that is missing; then each backend's answer.
 */
static void print_bpf(__u64 features)
{
	char why_seed[160], why_ring[160];
	int seed = ublk_bpf_seed_probe(features, why_seed, sizeof(why_seed));
	int ring = ublk_bpf_probe(features, why_ring, sizeof(why_ring));

	if (!seed)
		printf("bpf fast path: yes (ublk_bpf_ops, in ublk_queue_rq)\n");
	else if (!ring)
		printf("bpf fast path: yes (io_uring_bpf_ops, zero copy)\n");
	else
		printf("bpf fast path: no (%s)\n", why_ring);
	printf("bpf backend io_uring_bpf_ops: %s%s%s\n", ring ? "no (" : "yes",
	       ring ? why_ring : "", ring ? ")" : "");
	printf("bpf backend ublk_bpf_ops: %s%s%s\n", seed ? "no (" : "yes", seed ? why_seed : "",
	       seed ? ")" : "");
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
