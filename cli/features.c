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

static void usage_features(void)
{
	printf("usage: ublk features\n"
	       "  the UBLK_F_* features of the kernel's ublk driver, and whether --bpf works\n");
}

static int no_opt(void *ctx, int opt, const char *arg, char *err, size_t err_len)
{
	(void)ctx, (void)opt, (void)arg, (void)err, (void)err_len;
	return 0;
}

int cmd_features(int argc, char **argv)
{
	const struct cli_opts o = { .shortopts = "", .handle = no_opt };
	struct ublk_ctrl ctrl;
	__u64 features = 0;
	int ret;

	ret = cli_parse(&o, "features", usage_features, argc, argv);
	if (ret)
		return ret == CLI_HELP ? 0 : 1;
	if (cli_open_ctrl(&ctrl, "features"))
		return 1;
	ret = ublk_ctrl_get_features(&ctrl, &features);
	ublk_ctrl_close(&ctrl);
	if (ret < 0) {
		fprintf(stderr, "ublk features: GET_FEATURES: %s\n", strerror(-ret));
		return 1;
	}
	printf("ublk driver features 0x%llx\n", (unsigned long long)features);
	cli_print_flags(features, "\t", "\n", false);
	print_bpf(features);
	return 0;
}
