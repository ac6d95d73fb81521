// SPDX-License-Identifier: MIT
/*
 * The seed backend of the BPF fast path: the target's handler as a struct
 * ublk_bpf_ops (RFC 004), called by the project's ublk_drv module
 * (kernel/) from ublk_queue_rq(), in the submitter's context. The daemon
 * registers one instance per device, with the device id as ops id and the
 * backing file as backing_fd (the module captures the file then); its
 * queue threads run the plain userspace loop and only see what BPF
 * redirects, or what they hand back with -EAGAIN.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"
#include "ublksrv_bpf.h"

const char *ublk_bpf_backend_name(enum ublk_bpf_backend backend)
{
	switch (backend) {
	case UBLK_BPF_BACKEND_AUTO:
		return "auto";
	case UBLK_BPF_BACKEND_IOURING:
		return "io_uring_bpf_ops";
	case UBLK_BPF_BACKEND_SEED:
		return "ublk_bpf_ops";
	}
	return "?";
}

#ifdef HAVE_BPF
#include <bpf/btf.h>
#include <bpf/libbpf.h>

struct ublk_bpf_seed {
	struct ublk_bpf_skel skel;
	struct bpf_link *link;
};

static bool ublk_btf_has_struct(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT) >= 0;
}

/* A module's types are in its own BTF (/sys/kernel/btf/ublk_drv). */
bool ublk_bpf_seed_ops_available(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *mod;
	bool found = ublk_btf_has_struct(vmlinux, "ublk_bpf_ops");

	if (!found && vmlinux) {
		mod = btf__load_module_btf("ublk_drv", vmlinux);
		found = ublk_btf_has_struct(mod, "ublk_bpf_ops");
		btf__free(mod);
	}
	btf__free(vmlinux);
	return found;
}

int ublk_bpf_seed_probe(__u64 features, char *why, size_t len)
{
	if (!(features & UBLK_F_BPF_OPS)) {
		snprintf(
			why, len,
			"the ublk driver has no struct ublk_bpf_ops (load the project's module: kernel/README)");
		return -EOPNOTSUPP;
	}
	if (!ublk_bpf_seed_ops_available()) {
		snprintf(
			why, len,
			"the ublk driver advertises UBLK_F_BPF_OPS but no BTF has struct ublk_bpf_ops (module built without BTF?)");
		return -EOPNOTSUPP;
	}
	return ublk_bpf_check_caps(why, len);
}

/* The tests' fault injection (UBLK_TEST_BPF_BREAK), as in bpf.c. */
static void ublk_bpf_seed_test_break(struct ublk_bpf_skel *s)
{
	struct bpf_program *prog;

	if (!getenv("UBLK_TEST_BPF_BREAK"))
		return;
	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_type(prog, BPF_PROG_TYPE_SOCKET_FILTER);
}

static int ublk_bpf_seed_load(struct ublk_dev *dev, struct ublk_bpf_seed *b)
{
	struct ublk_bpf_skel *s = &b->skel;
	int ret;

	ret = dev->ops->bpf_seed_open(s);
	if (ret) {
		ublk_dev_err(dev, "cannot open the %s BPF program: %s", dev->ops->name,
			     strerror(-ret));
		return ret;
	}
	s->cfg->depth = dev->info.queue_depth;
	s->cfg->redirect_every = dev->bpf_redirect_every;
	s->cfg->split_bytes = dev->bpf_split_bytes;
	*s->ops_id = dev->info.dev_id;
	*s->backing_fd = dev->tgt.nr_fds ? dev->tgt.fds[0] : -1;
	ublk_bpf_seed_test_break(s);
	if (dev->ops->bpf_seed_prepare) {
		ret = dev->ops->bpf_seed_prepare(dev, s);
		if (ret) {
			ublk_dev_err(dev, "the %s target's BPF prepare hook failed: %s",
				     dev->ops->name, strerror(-ret));
			return ret;
		}
	}
	ret = s->load(s->skel);
	if (ret)
		ublk_dev_err(
			dev,
			"cannot load the %s BPF program (ublk_bpf_ops): %s (see the log for the verifier's reason)",
			dev->ops->name, strerror(-ret));
	return ret;
}

/*
 * Register the device's struct ublk_bpf_ops before its queues start, so
 * that BPF serves from the first request on (until then, and whenever no
 * ops is registered, the module sends requests to the daemon).
 */
int ublk_bpf_seed_attach(struct ublk_dev *dev)
{
	struct ublk_bpf_seed *b;
	int ret, i;

	if (dev->info.nr_hw_queues > UBLK_BPF_SEED_MAX_QUEUES) {
		ublk_dev_err(dev, "the seed BPF backend serves at most %d queues",
			     UBLK_BPF_SEED_MAX_QUEUES);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	dev->bpf_seed = b;
	libbpf_set_print(ublk_libbpf_print);
	ret = ublk_bpf_seed_load(dev, b);
	if (ret)
		return ret;
	/* a dead daemon's ops may still be on their way out (ublk recover) */
	for (i = 0; i < 100; i++) {
		b->link = bpf_map__attach_struct_ops(b->skel.ops);
		if (b->link || errno != EBUSY)
			break;
		usleep(10000);
	}
	if (!b->link) {
		ret = -errno;
		ublk_dev_err(dev, "cannot register ublk_bpf_ops %u: %s%s", dev->info.dev_id,
			     strerror(-ret),
			     ret == -EBUSY ? " (another daemon holds this id)" : "");
		return ret;
	}
	if (dev->ops->bpf_seed_ready) {
		ret = dev->ops->bpf_seed_ready(dev, &b->skel);
		if (ret)
			ublk_dev_err(dev, "the %s target's BPF ready hook failed: %s",
				     dev->ops->name, strerror(-ret));
	}
	return ret;
}

void ublk_bpf_seed_detach(struct ublk_dev *dev)
{
	struct ublk_bpf_seed *b = dev->bpf_seed;

	if (!b)
		return;
	if (b->link)
		bpf_link__destroy(b->link);
	if (b->skel.skel)
		b->skel.destroy(b->skel.skel);
	free(b);
	dev->bpf_seed = NULL;
}

static struct ublk_bpf_seed_queue *ublk_bpf_seed_queue(const struct ublk_queue *q)
{
	const struct ublk_bpf_seed *b = q->dev->bpf_seed;

	if (!b || !b->skel.seed || q->q_id >= UBLK_BPF_SEED_MAX_QUEUES)
		return NULL;
	return &b->skel.seed->q[q->q_id];
}

bool ublk_bpf_seed_stats(const struct ublk_queue *q, struct ublk_bpf_stats *st)
{
	const struct ublk_bpf_seed_queue *sq = ublk_bpf_seed_queue(q);

	if (!sq)
		return false;
	st->nr_bpf = __atomic_load_n(&sq->nr_bpf, __ATOMIC_RELAXED);
	st->nr_redirect = __atomic_load_n(&sq->nr_redirect, __ATOMIC_RELAXED);
	st->nr_retry = __atomic_load_n(&sq->nr_retry, __ATOMIC_RELAXED);
	st->nr_split = __atomic_load_n(&sq->nr_split, __ATOMIC_RELAXED);
	st->nr_polls = 0; /* the seed program runs in the submitter: nothing polls */
	return true;
}

/* --bpf_eagain: was request @tag sent to us by the debug knob? */
bool ublk_bpf_seed_debug_hand_back(struct ublk_queue *q, int tag)
{
	struct ublk_bpf_seed_queue *sq = ublk_bpf_seed_queue(q);

	if (!sq || !q->dev->bpf_eagain || tag < 0 || tag >= UBLK_BPF_MAX_DEPTH)
		return false;
	return __atomic_exchange_n(&sq->debug_redirect[tag], 0, __ATOMIC_RELAXED);
}

#else /* !HAVE_BPF */

bool ublk_bpf_seed_ops_available(void)
{
	return false;
}

int ublk_bpf_seed_probe(__u64 features, char *why, size_t len)
{
	(void)features;
	snprintf(why, len, "this build has no BPF support (configured with --disable-bpf)");
	return -EOPNOTSUPP;
}

int ublk_bpf_seed_attach(struct ublk_dev *dev)
{
	(void)dev;
	return -EOPNOTSUPP;
}

void ublk_bpf_seed_detach(struct ublk_dev *dev)
{
	(void)dev;
}

bool ublk_bpf_seed_stats(const struct ublk_queue *q, struct ublk_bpf_stats *st)
{
	(void)q, (void)st;
	return false;
}

bool ublk_bpf_seed_debug_hand_back(struct ublk_queue *q, int tag)
{
	(void)q, (void)tag;
	return false;
}
#endif /* HAVE_BPF */
