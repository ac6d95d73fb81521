/* SPDX-License-Identifier: MIT */
/*
 * qcow2 image library: header validation, L1/L2 lookup through a bounded
 * cache, refcounts, cluster allocation, compressed clusters and backing
 * chains. Independent of ublk; not thread safe (callers hold one lock).
 * docs/qcow2.md describes the on-disk ordering that keeps images consistent.
 */
#ifndef UBLK_QCOW2_H
#define UBLK_QCOW2_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_L1_BYTES (32u << 20) /* as qemu: bounds guest size too */
#define QCOW2_MAX_RT_BYTES (8u << 20)
#define QCOW2_MAX_CHAIN 16 /* backing files below the top image */
#define QCOW2_ERRLEN 256

/* incompatible feature bits */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

/* L1/L2 entry bits */
#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO (1ull << 0)
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull

enum qcow2_compression { QCOW2_ZLIB = 0, QCOW2_ZSTD = 1 };

/* What a guest cluster is, as the L2 entry says. */
enum qcow2_kind {
	QCOW2_UNALLOCATED, /* backing file, or zeroes */
	QCOW2_ZERO, /* v3 zero flag (host cluster kept if any) */
	QCOW2_NORMAL, /* host cluster at host_off */
	QCOW2_COMPRESSED,
};

struct qcow2_mapping {
	enum qcow2_kind kind;
	uint64_t host_off; /* NORMAL: cluster start; ZERO: kept cluster or 0 */
	bool writable; /* NORMAL with refcount 1: write in place */
};

struct qcow2_cache;

struct qcow2_image {
	int fd;
	bool read_only;
	bool raw; /* a raw backing file: no metadata */
	char path[4096];
	uint64_t file_size; /* grows as we allocate */
	/* header */
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint64_t size; /* guest bytes */
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t rt_offset;
	uint32_t rt_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompat, compat, autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	enum qcow2_compression compression;
	char backing_name[1024];
	char backing_fmt[32];
	/* derived */
	uint32_t l2_bits; /* entries per L2 table = 1 << l2_bits */
	uint32_t rb_bits; /* refcounts per refcount block = 1 << rb_bits */
	uint32_t csize_shift;
	uint64_t csize_mask;
	/* metadata held in memory */
	uint64_t *l1; /* host byte order */
	uint64_t *rt; /* host byte order, rt_clusters * cluster_size / 8 */
	uint64_t rt_entries;
	struct qcow2_cache *l2_cache;
	struct qcow2_cache *rb_cache;
	uint64_t free_hint; /* host cluster index where allocation searches */
	struct qcow2_image *backing;
	/* counters */
	uint64_t nr_alloc, nr_cow, nr_l2_miss, nr_rb_miss;
};

/*
 * Open @path (qcow2; a backing file may also be raw) and validate it.
 * On failure returns NULL with one line in @err naming the problem.
 */
struct qcow2_image *qcow2_open(const char *path, bool read_only, char *err, size_t errlen);
void qcow2_close(struct qcow2_image *img);

/* Map guest offset @off (any byte of the cluster). 0 or -errno. */
int qcow2_map(struct qcow2_image *img, uint64_t off, struct qcow2_mapping *m);

/* Synchronous I/O through the metadata; ranges may span clusters. */
int qcow2_read(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off);
int qcow2_write(struct qcow2_image *img, const void *buf, uint64_t len, uint64_t off);
/*
 * Make the cluster of @off plain, allocated and exclusive (copying up its
 * old contents, durable and linked) and return its host offset: the caller
 * then writes the new data there itself.
 */
int qcow2_prepare_write(struct qcow2_image *img, uint64_t off, uint64_t *host);
/* Read as zeroes afterwards; @unmap allows giving clusters back. */
int qcow2_zero(struct qcow2_image *img, uint64_t len, uint64_t off, bool unmap);
/* Advisory: whole clusters inside the range may read as zeroes after. */
int qcow2_discard(struct qcow2_image *img, uint64_t len, uint64_t off);
/* Make everything written so far durable. */
int qcow2_flush(struct qcow2_image *img);

/* Refcount of host cluster @idx (exposed for tests and the fuzzer). */
int qcow2_get_refcount(struct qcow2_image *img, uint64_t idx, uint64_t *rc);

/*
 * Tests only: when non-zero, the process exits (as if killed) right before
 * the write to an image file that brings this count to zero. Every point
 * between two writes is a crash point the ordering must survive.
 */
extern unsigned long qcow2_test_crash_after;

/* Parse and validate an in-memory header (fuzzer entry; no file I/O). */
int qcow2_parse_header(struct qcow2_image *img, const uint8_t *buf, size_t len, uint64_t file_size,
		       char *err, size_t errlen);

/* internal, shared between the library's files */
struct qcow2_cache *qcow2_cache_new(uint32_t nr, uint64_t entry_size);
void qcow2_cache_free(struct qcow2_cache *c);
int qcow2_cache_get(struct qcow2_image *img, struct qcow2_cache *c, uint64_t off, void **data);
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t off);
int qcow2_pread(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off);
ssize_t qcow2_pread_upto(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off);
int qcow2_pwrite(struct qcow2_image *img, const void *buf, uint64_t len, uint64_t off);
int qcow2_set_refcount(struct qcow2_image *img, uint64_t idx, uint64_t rc);
int qcow2_alloc_clusters(struct qcow2_image *img, uint64_t n, uint64_t *host_off);
int qcow2_free_range(struct qcow2_image *img, uint64_t off, uint64_t len);
int qcow2_decompress(struct qcow2_image *img, uint64_t l2e, void *out);
int qcow2_check_host_off(struct qcow2_image *img, uint64_t off, uint64_t len);

#endif
