// SPDX-License-Identifier: MIT
/*
 * qcow2 target, fast path: reads and writes whose clusters are all in the
 * cluster map (guest cluster -> host offset of a plain, allocated cluster
 * the image holds exclusively) go straight to the image file on the
 * request's pages, one piece per cluster (CONTINUE). Anything else - a
 * cluster not in the map (unallocated, zero, compressed, backing, shared,
 * or just evicted), DISCARD, WRITE_ZEROES - is redirected to the daemon,
 * which fills the map (targets/qcow2/target.c; the protocol: bpf/README).
 */
#include <linux/bpf.h>

#include "ublk_backend.bpf.h"

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif

#define QCOW2_DEF_MAP_ENTRIES 65536

/* Set by the daemon before load. */
const volatile __u32 cluster_bits = 16;

/*
 * Shared by every queue of the device (the first queue creates it, the
 * others reuse its fd); the daemon writes entries under its metadata lock
 * and deletes them before a cluster stops being plain and exclusive.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, QCOW2_DEF_MAP_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
} clusters SEC(".maps");

/*
 * Host offsets of a request's clusters, looked up at offset 0, so that an
 * entry evicted between two pieces cannot fail a request half-queued. One
 * entry per request in flight (ublk_tgt_io_slot(); the daemon sizes it).
 */
struct qcow2_hosts {
	__u64 off[UBLK_BPF_MAX_PIECES];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qcow2_hosts);
} hosts SEC(".maps");

/* statistics, read by the daemon; the seed's requests run on any CPU */
__u64 nr_hit; /* requests served from the map */
__u64 nr_miss; /* requests with a cluster not in the map */
__u64 nr_too_big; /* more clusters than pieces allowed */

/* All clusters of [pos, pos + len) in the map? Fills @h. */
static __always_inline int qcow2_lookup_all(struct qcow2_hosts *h, __u64 pos, __u32 len)
{
	__u64 first = pos >> cluster_bits, last = (pos + len - 1) >> cluster_bits, key;
	__u64 *v;
	__u32 i;

	if (last - first >= UBLK_BPF_MAX_PIECES) {
		__sync_fetch_and_add(&nr_too_big, 1);
		return -1;
	}
	for (i = 0; i < UBLK_BPF_MAX_PIECES; i++) {
		if (first + i > last)
			break;
		key = first + i;
		v = bpf_map_lookup_elem(&clusters, &key);
		if (!v) {
			__sync_fetch_and_add(&nr_miss, 1);
			return -1;
		}
		h->off[i] = *v;
	}
	__sync_fetch_and_add(&nr_hit, 1);
	return 0;
}

static __u64 ublk_tgt_queue_io(ublk_bpf_ctx_t *ring, const struct ublksrv_io_desc *iod, __u16 tag,
			       __u32 offset)
{
	__u32 op = ublksrv_get_op(iod), total = iod->nr_sectors << 9, len, room, idx;
	__u64 start = iod->start_sector << 9, pos = start + offset, cmask, host;
	struct qcow2_hosts *h;
	__u32 slot;
	__u32 rw_flags = 0;
	__u8 opcode;

	switch (op) {
	case UBLK_IO_OP_READ:
		opcode = IORING_OP_READ_FIXED;
		break;
	case UBLK_IO_OP_WRITE:
		opcode = IORING_OP_WRITE_FIXED;
		if (iod->op_flags & UBLK_IO_F_FUA)
			rw_flags = RWF_DSYNC;
		break;
	case UBLK_IO_OP_FLUSH:
		/* the daemon's metadata writes are synchronous: all in the file */
		if (ublk_bpf_queue_fsync(ring, tag, cfg.tgt_fd, IORING_FSYNC_DATASYNC))
			ublk_tgt_add_result(ring, tag, -EIO);
		return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
	default:
		return ublk_bpf_return(UBLK_BPF_IO_REDIRECT, 0);
	}
	if (!total || offset >= total)
		return ublk_bpf_return(UBLK_BPF_IO_REDIRECT, 0);
	slot = ublk_tgt_io_slot(ring, tag);
	h = bpf_map_lookup_elem(&hosts, &slot);
	if (!h) {
		/* not sized for this request: only before anything was queued */
		if (!offset)
			return ublk_bpf_return(UBLK_BPF_IO_REDIRECT, 0);
		ublk_tgt_add_result(ring, tag, -EIO);
		return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
	}
	if (!offset && qcow2_lookup_all(h, start, total))
		return ublk_bpf_return(UBLK_BPF_IO_REDIRECT, 0);

	cmask = (1ULL << cluster_bits) - 1;
	idx = (pos >> cluster_bits) - (start >> cluster_bits);
	host = h->off[idx & (UBLK_BPF_MAX_PIECES - 1)] + (pos & cmask);
	room = (1ULL << cluster_bits) - (pos & cmask);
	len = total - offset < room ? total - offset : room;
	if (ublk_bpf_queue_rw(ring, tag, opcode, cfg.tgt_fd, host, len, offset, rw_flags)) {
		ublk_tgt_add_result(ring, tag, -EIO);
		return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
	}
	if (offset + len < total)
		return ublk_bpf_return(UBLK_BPF_IO_CONTINUE, len);
	return ublk_bpf_return(UBLK_BPF_IO_QUEUED, 0);
}

static void ublk_tgt_release(__u16 tag, __s32 res)
{
	(void)tag;
	(void)res;
}
