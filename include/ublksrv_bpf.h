/* SPDX-License-Identifier: MIT */
/*
 * Userspace side of a target's BPF fast path.
 *
 * A target with a BPF program (bpf/NAME.bpf.c, built into bpf/NAME.skel.h)
 * sets ublk_tgt_ops.bpf_open to a function made by UBLK_BPF_SKEL_OPEN(NAME):
 * it opens one instance of the program for one queue and says where its
 * configuration, shared state and struct_ops map are. The library fills the
 * configuration, loads, attaches and runs it (lib/bpf.c).
 */
#ifndef UBLKSRV_BPF_H
#define UBLKSRV_BPF_H

#include <linux/types.h>

#include "ublk_bpf.h"

struct bpf_object;
struct bpf_map;

struct ublk_bpf_skel {
	void *skel;
	struct bpf_object *obj;
	struct bpf_map *ops; /* the io_uring_bpf_ops struct_ops map */
	__u32 *ring_fd; /* its ring_fd, set before load */
	struct ublk_bpf_cfg *cfg; /* .rodata, set before load */
	struct ublk_bpf_shared *shared; /* .bss, shared with the program */
	/* the seed backend's (struct ublk_bpf_ops, one instance per device) */
	__u32 *ops_id;
	__s32 *backing_fd;
	struct ublk_bpf_seed_shared *seed;
	int (*load)(void *skel);
	void (*destroy)(void *skel);
};

/* Defines NAME_bpf_open() for the skeleton of bpf/NAME.bpf.c. */
#define UBLK_BPF_SKEL_OPEN(NAME)                                    \
	static int NAME##_bpf_load_(void *p)                        \
	{                                                           \
		return NAME##_bpf__load(p);                         \
	}                                                           \
	static void NAME##_bpf_destroy_(void *p)                    \
	{                                                           \
		NAME##_bpf__destroy(p);                             \
	}                                                           \
	static int NAME##_bpf_open(struct ublk_bpf_skel *s)         \
	{                                                           \
		struct NAME##_bpf *skel = NAME##_bpf__open();       \
                                                                    \
		if (!skel)                                          \
			return -errno;                              \
		s->skel = skel;                                     \
		s->obj = skel->obj;                                 \
		s->ops = skel->maps.ublk_ops;                       \
		s->ring_fd = &skel->struct_ops.ublk_ops->ring_fd;   \
		s->cfg = (struct ublk_bpf_cfg *)&skel->rodata->cfg; \
		s->shared = &skel->bss->shared;                     \
		s->load = NAME##_bpf_load_;                         \
		s->destroy = NAME##_bpf_destroy_;                   \
		return 0;                                           \
	}

/*
 * Defines NAME_bpf_seed_open() for bpf/NAME.bpf.c built with the seed glue
 * (bpf/NAME_seed.skel.h): set ublk_tgt_ops.bpf_seed_open to it.
 */
#define UBLK_BPF_SEED_SKEL_OPEN(NAME)                                        \
	static int NAME##_seed_bpf_load_(void *p)                            \
	{                                                                    \
		return NAME##_seed_bpf__load(p);                             \
	}                                                                    \
	static void NAME##_seed_bpf_destroy_(void *p)                        \
	{                                                                    \
		NAME##_seed_bpf__destroy(p);                                 \
	}                                                                    \
	static int NAME##_bpf_seed_open(struct ublk_bpf_skel *s)             \
	{                                                                    \
		struct NAME##_seed_bpf *skel = NAME##_seed_bpf__open();      \
                                                                             \
		if (!skel)                                                   \
			return -errno;                                       \
		s->skel = skel;                                              \
		s->obj = skel->obj;                                          \
		s->ops = skel->maps.ublk_seed_ops;                           \
		s->ops_id = &skel->struct_ops.ublk_seed_ops->id;             \
		s->backing_fd = &skel->struct_ops.ublk_seed_ops->backing_fd; \
		s->cfg = (struct ublk_bpf_cfg *)&skel->rodata->cfg;          \
		s->seed = &skel->bss->seed;                                  \
		s->load = NAME##_seed_bpf_load_;                             \
		s->destroy = NAME##_seed_bpf_destroy_;                       \
		return 0;                                                    \
	}

#endif /* UBLKSRV_BPF_H */
