/* SPDX-License-Identifier: MIT */
/*
 * The contract between a target's BPF fast path and the daemon.
 *
 * Included by the BPF programs (bpf/, after vmlinux.h) and by userspace
 * (lib/, targets/, after <linux/types.h>): it must need nothing else.
 *
 * With --bpf, each queue ring runs its event loop in the kernel: a BPF
 * io_uring_bpf_ops program (bpf/ublk_queue.bpf.h) reads the ring's CQEs,
 * hands each new request to the target's BPF handler, queues backing I/O on
 * the request's own pages (UBLK_F_AUTO_BUF_REG, fixed buffer index == tag)
 * and commits the result. The daemon thread sleeps in io_uring_enter() and is
 * only woken for what BPF redirects to it.
 *
 * Who owns a request, and when:
 *
 *   kernel --FETCH CQE--> BPF: handler(tag, offset 0)
 *                            |-- QUEUED -------> BPF: backing I/O, CQEs,
 *                            |                   COMMIT_AND_FETCH --> kernel
 *                            |-- CONTINUE(n) --> BPF: handler(tag, offset + n)
 *                            |                   (pieces complete, then commit)
 *                            '-- REDIRECT -----> daemon: target queue_io()
 *                                                 |-- result: COMMIT --> kernel
 *                                                 '-- -EAGAIN: back to BPF,
 *                                                     handler(tag, 0, retry)
 *
 * REDIRECT is only allowed before anything was queued for the request
 * (offset 0): a handler that redirects after CONTINUE fails the request with
 * -EIO. A retried request is handed back to the daemon if the handler
 * redirects it again. The release hook runs when BPF commits a request it
 * owned, whatever the result.
 *
 * Mechanics of a redirect (one CQE at a time, so nothing is reordered): the
 * program stops with the CQE at the ring's head and stop_reason REDIRECT;
 * the daemon handles exactly that CQE, writes any SQEs it wants submitted at
 * SQ slots 0..n-1 (the ring has IORING_SETUP_SQ_REWIND), sets user_sqes = n,
 * advances the head by one and re-enters; the program submits those first.
 * CQEs of I/O the daemon queued carry no UBLK_UD_BPF bit and are redirected
 * the same way.
 */
#ifndef UBLK_BPF_H
#define UBLK_BPF_H

/* What a target's BPF handler returns: disposition in the top 4 bits. */
enum ublk_bpf_disposition {
	UBLK_BPF_IO_QUEUED = 0, /* the (rest of the) request is queued */
	UBLK_BPF_IO_REDIRECT = 1, /* the daemon handles the whole request */
	UBLK_BPF_IO_CONTINUE = 2, /* n bytes queued, call again at offset + n */
};

#define UBLK_BPF_DISP_SHIFT 60

static inline __u64 ublk_bpf_return(enum ublk_bpf_disposition d, __u32 bytes)
{
	return (__u64)d << UBLK_BPF_DISP_SHIFT | bytes;
}

static inline enum ublk_bpf_disposition ublk_bpf_disp(__u64 ret)
{
	return (enum ublk_bpf_disposition)(ret >> UBLK_BPF_DISP_SHIFT);
}

static inline __u32 ublk_bpf_bytes(__u64 ret)
{
	return (__u32)ret;
}

/*
 * user_data on a queue ring: tag in bits 0-15, op in 16-23, target data in
 * 24-39; bit 63 marks target I/O, bit 62 the daemon's stop event, bit 61 I/O
 * that BPF queued (its CQEs go back to BPF, all others to the daemon).
 */
#define UBLK_UD_TGT (1ULL << 63)
#define UBLK_UD_STOP (1ULL << 62)
#define UBLK_UD_BPF (1ULL << 61)
/*
 * Backing I/O that BPF queued carries its piece of the request, in 512-byte
 * sectors: offset in bits 24-40, length in 41-57 (a request is at most
 * 32 MiB, 65536 sectors), so that a short piece is seen as one.
 */
#define UBLK_UD_PIECE_OFF_SHIFT 24
#define UBLK_UD_PIECE_LEN_SHIFT 41
#define UBLK_UD_PIECE_MASK 0x1ffffULL
/* op of the NOP by which the daemon hands a request back to BPF (-EAGAIN) */
#define UBLK_UD_OP_RETRY 0xfe

/* Why the program returned to the daemon. */
enum ublk_bpf_stop {
	UBLK_BPF_STOP_NONE = 0,
	UBLK_BPF_STOP_REDIRECT, /* the CQE at the head is the daemon's */
	UBLK_BPF_STOP_EXIT, /* every tag aborted, or drained: the queue is done */
	UBLK_BPF_STOP_ERROR, /* the program cannot go on (see error) */
};

/* Why a new request went to the daemon. */
enum ublk_bpf_redirect {
	UBLK_BPF_REDIR_NONE = 0,
	UBLK_BPF_REDIR_TARGET, /* the target's handler chose to */
	UBLK_BPF_REDIR_DEBUG, /* the every-Nth debug knob */
};

/* How the program winds down for recovery (shared.draining). */
enum ublk_bpf_drain {
	UBLK_BPF_DRAIN_NONE = 0,
	UBLK_BPF_DRAIN_DROP, /* new requests stay with the kernel (REISSUE) */
	UBLK_BPF_DRAIN_QUIESCED, /* the kernel quiesced: serve what comes */
};

#define UBLK_BPF_MAX_DEPTH 4096 /* UBLK_MAX_QUEUE_DEPTH */
#define UBLK_BPF_MAX_PIECES 128 /* handler calls (CONTINUEs) per request */

/* Set by the daemon before the program is loaded (.rodata). */
struct ublk_bpf_cfg {
	__u64 iods; /* user address of this queue's descriptors */
	__u64 cq_region_size; /* io_rings, up to the end of the CQE array */
	__u64 sq_region_size; /* the SQE array */
	__u32 cq_head_off; /* io_uring_params.cq_off.head; tail follows */
	__u32 cqes_off;
	__u32 cq_entries;
	__u32 sq_entries;
	__u16 q_id;
	__u16 depth;
	__u32 redirect_every; /* debug: every Nth request to the daemon */
	__u32 split_bytes; /* debug: CONTINUE at multiples of this */
	__u32 tgt_fd; /* fixed-file index of the backing file */
	__u32 tgt_flags;
	__u64 poll_ns; /* io_uring loop: keep polling this long after work */
};

/* Per-tag state of a request BPF owns. */
struct ublk_bpf_tag {
	__s32 res; /* 0, or the first error */
	__u16 pending; /* backing I/O in flight */
	__u8 queued; /* handler said QUEUED: commit once pending is 0 */
	__u8 retry; /* handed back by the daemon */
	__u32 total; /* bytes of the request */
};

/* Shared between the program and the daemon (.bss, mmapped). */
struct ublk_bpf_shared {
	/* daemon -> program */
	__u32 user_sqes;
	__u32 draining; /* UBLK_BPF_DRAIN_*: finish what is in flight, then exit */
	__u32 daemon_inflight; /* requests the daemon's target holds */
	/* program -> daemon */
	__u32 stop_reason;
	__u32 redirect_reason;
	__s32 error;
	/* statistics, per queue */
	__u64 nr_bpf; /* requests committed by BPF */
	__u64 nr_redirect; /* requests handed to the daemon */
	__u64 nr_retry; /* requests handed back with -EAGAIN */
	__u64 nr_split; /* CONTINUE returns */
	__u64 nr_steps; /* loop_step runs */
	__u64 nr_polls; /* steps that polled instead of sleeping (cfg.poll_ns) */
	__u32 nr_aborted; /* tags whose FETCH was aborted */
	__u32 nr_inflight; /* requests BPF started and has not committed */
	struct ublk_bpf_tag tags[UBLK_BPF_MAX_DEPTH];
};

/*
 * The seed backend: a kernel with this project's ublk_drv (kernel/) calls a
 * struct ublk_bpf_ops from ublk_queue_rq(), in the submitter's context; the
 * same target handlers serve it (bpf/ublk_seed.bpf.h is its glue). ABI of
 * that module, project-private (kernel/ublk_bpf_abi.h; keep them equal):
 */
#define UBLK_F_BPF_OPS (1ULL << 48) /* ADD_DEV, GET_FEATURES */
#define UBLK_PARAM_TYPE_BPF (1U << 16) /* struct ublk_param_bpf follows ublk_params */

struct ublk_param_bpf {
	__u32 ops_id; /* the struct ublk_bpf_ops with this id serves */
	__u32 flags; /* 0 */
	__u64 reserved; /* 0 */
};

#define UBLK_BPF_RW_FUA (1U << 0) /* ublk_bpf_aio_rw(): write through */

/* Per-queue counters of the seed program (.bss), updated atomically. */
#define UBLK_BPF_SEED_MAX_QUEUES 16
struct ublk_bpf_seed_queue {
	__u64 nr_bpf; /* requests BPF completed */
	__u64 nr_redirect;
	__u64 nr_retry;
	__u64 nr_split;
	__u64 nr_started; /* for cfg.redirect_every */
	/* tags sent to the daemon by the debug knob (for --bpf_eagain) */
	__u8 debug_redirect[UBLK_BPF_MAX_DEPTH];
};

struct ublk_bpf_seed_shared {
	struct ublk_bpf_seed_queue q[UBLK_BPF_SEED_MAX_QUEUES];
};

#endif /* UBLK_BPF_H */
