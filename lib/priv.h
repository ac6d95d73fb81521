/* SPDX-License-Identifier: MIT */
/* Library internals shared between lib/ files; not installed. */
#ifndef UBLKSRV_PRIV_H
#define UBLKSRV_PRIV_H

#include <syslog.h>

#include "ublksrv.h"

#define UBLK_STATE_REFRESH_MS 1000

#define ublk_err(...) ublk_log(LOG_ERR, __VA_ARGS__)
#define ublk_info(...) ublk_log(LOG_INFO, __VA_ARGS__)

void *ublk_queue_thread(void *arg);
void ublk_handle_cqe(struct ublk_queue *q, const struct io_uring_cqe *cqe);
bool ublk_queue_fault(struct ublk_queue *q);

/* The io_uring_bpf_ops backend: a BPF program runs each queue's ring. */
static inline bool ublk_dev_bpf_ring(const struct ublk_dev *dev)
{
	return dev->bpf && dev->bpf_backend == UBLK_BPF_BACKEND_IOURING;
}

/* bpf.c: the BPF fast path of a queue (stubs without HAVE_BPF) */
struct ublk_bpf_stats {
	__u64 nr_bpf, nr_redirect, nr_retry, nr_split;
	__u64 nr_polls; /* io_uring backend: loop steps that polled (--bpf_poll_us) */
};

unsigned int ublk_bpf_ring_flags(void);
int ublk_bpf_queue_init(struct ublk_queue *q);
int ublk_bpf_queue_attach(struct ublk_queue *q);
void ublk_bpf_queue_exit(struct ublk_queue *q);
void ublk_bpf_queue_loop(struct ublk_queue *q);
struct io_uring_sqe *ublk_bpf_get_sqe(struct ublk_queue *q);
int ublk_bpf_submit_direct(struct ublk_queue *q);
void ublk_bpf_hand_back(struct ublk_queue *q, int tag);
bool ublk_bpf_debug_hand_back(struct ublk_queue *q);
bool ublk_bpf_queue_stats(const struct ublk_queue *q, struct ublk_bpf_stats *st);
int ublk_bpf_check_caps(char *why, size_t len);
#ifdef HAVE_BPF
#include <bpf/libbpf.h>
int ublk_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap);
#endif

/* bpf_seed.c: the seed backend (struct ublk_bpf_ops), one per device */
int ublk_bpf_seed_attach(struct ublk_dev *dev);
void ublk_bpf_seed_detach(struct ublk_dev *dev);
bool ublk_bpf_seed_stats(const struct ublk_queue *q, struct ublk_bpf_stats *st);
bool ublk_bpf_seed_debug_hand_back(struct ublk_queue *q, int tag);

/* dev.c: the steps ublk_dev_create/start and ublk_dev_recover share */
int ublk_dev_setup(struct ublk_dev *dev, const struct ublk_dev_opts *opts);
int ublk_dev_init_tgt(struct ublk_dev *dev, const struct ublk_dev_opts *opts);
int ublk_dev_start_queues(struct ublk_dev *dev);

/* io_uring's limit on the CQ (IORING_MAX_CQ_ENTRIES) */
#define UBLK_MAX_CQ_ENTRIES 65536U

/*
 * CQEs one tag can have pending at once: its command, the stop event's
 * share, and its backing I/O: up to two SQEs (user copy), or one per piece
 * when BPF splits requests at @split bytes.
 */
static inline unsigned int ublk_cqes_per_tag(unsigned int max_io, unsigned int split)
{
	return 2 + (split ? max_io / split + 1 : 2);
}

/* deinit() is optional */
static inline void ublk_tgt_deinit(struct ublk_dev *dev)
{
	if (dev->ops->deinit)
		dev->ops->deinit(dev);
}

static inline size_t ublk_round_up(size_t v, size_t align)
{
	return (v + align - 1) / align * align;
}

#endif
