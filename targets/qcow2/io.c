// SPDX-License-Identifier: MIT
/*
 * qcow2 guest I/O: cluster lookup, reads through the backing chain and
 * compressed clusters, allocating writes with copy-on-write, zeroing.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#include "qcow2.h"

#define L2_RESERVED_NORMAL (0x3f00000000000000ull | 0x1feull)

struct l2_ref {
	uint64_t l1_idx, l2_off, l2_idx, entry;
};

static uint64_t cl_off(const struct qcow2_image *img, uint64_t off)
{
	return off & (img->cluster_size - 1);
}

/* Look the L2 entry of guest offset @off up (entry 0 if no L2 table). */
static int l2_lookup(struct qcow2_image *img, uint64_t off, struct l2_ref *ref)
{
	uint64_t *tab;
	int ret;

	ref->l1_idx = off >> (img->cluster_bits + img->l2_bits);
	ref->l2_idx = (off >> img->cluster_bits) & ((1ull << img->l2_bits) - 1);
	ref->entry = 0;
	ref->l2_off = 0;
	if (ref->l1_idx >= img->l1_size)
		return -EIO;
	ref->l2_off = img->l1[ref->l1_idx] & QCOW2_OFFSET_MASK;
	if (!ref->l2_off)
		return 0;
	ret = qcow2_cache_get(img, img->l2_cache, ref->l2_off, (void **)&tab);
	if (ret)
		return ret;
	ref->entry = be64toh(tab[ref->l2_idx]);
	return 0;
}

static int decode(struct qcow2_image *img, uint64_t e, struct qcow2_mapping *m)
{
	uint64_t host = e & QCOW2_OFFSET_MASK, rc;
	int ret;

	m->host_off = 0;
	m->writable = false;
	if (e & QCOW2_OFLAG_COMPRESSED) {
		if (e & QCOW2_OFLAG_COPIED)
			return -EIO;
		m->kind = QCOW2_COMPRESSED;
		return 0;
	}
	if (e & L2_RESERVED_NORMAL || host & (img->cluster_size - 1))
		return -EIO;
	if (e & QCOW2_OFLAG_ZERO) {
		if (img->version < 3)
			return -EIO;
		m->kind = QCOW2_ZERO;
		m->host_off = host;
		m->writable = host && (e & QCOW2_OFLAG_COPIED);
		return 0;
	}
	if (!host) {
		m->kind = QCOW2_UNALLOCATED;
		return 0;
	}
	m->kind = QCOW2_NORMAL;
	m->host_off = host;
	if (!(e & QCOW2_OFLAG_COPIED) || img->read_only)
		return 0;
	/* the flag caches refcount == 1; a shared cluster is never written */
	ret = qcow2_get_refcount(img, host >> img->cluster_bits, &rc);
	if (ret)
		return ret;
	m->writable = rc == 1 && !qcow2_check_host_off(img, host, img->cluster_size);
	return 0;
}

int qcow2_map(struct qcow2_image *img, uint64_t off, struct qcow2_mapping *m)
{
	struct l2_ref ref;
	int ret;

	if (off >= img->size)
		return -EINVAL;
	ret = l2_lookup(img, off, &ref);
	if (ret)
		return ret;
	ret = decode(img, ref.entry, m);
	/* an L2 table shared with a snapshot is copied before any change */
	if (!(img->l1[ref.l1_idx] & QCOW2_OFLAG_COPIED))
		m->writable = false;
	return ret;
}

/* Data reads: a cluster past EOF (sparse tail) reads as zeroes. */
static int data_read(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off)
{
	ssize_t n = qcow2_pread_upto(img, buf, len, off);

	if (n < 0)
		return n;
	memset((char *)buf + n, 0, len - n);
	return 0;
}

static int inflate_zlib(const uint8_t *in, uint64_t ilen, void *out, uint64_t olen)
{
	z_stream s = { 0 };
	int ret;

	/* raw deflate; qemu writes with a 4 KiB window, 32 KiB reads it all */
	if (inflateInit2(&s, -15) != Z_OK)
		return -ENOMEM;
	s.next_in = (Bytef *)in;
	s.avail_in = ilen;
	s.next_out = out;
	s.avail_out = olen;
	ret = inflate(&s, Z_FINISH);
	inflateEnd(&s);
	if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && !s.avail_out)
		return 0;
	return -EIO;
}

static int inflate_zstd(const uint8_t *in, uint64_t ilen, void *out, uint64_t olen)
{
#ifdef HAVE_ZSTD
	ZSTD_inBuffer ib = { in, ilen, 0 };
	ZSTD_outBuffer ob = { out, olen, 0 };
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t ret = 1;

	if (!d)
		return -ENOMEM;
	/* the input may end in the next cluster's bytes: stop when full */
	while (ob.pos < ob.size && ib.pos < ib.size) {
		ret = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(ret) || (!ret && ob.pos < ob.size))
			break;
	}
	ZSTD_freeDCtx(d);
	return ob.pos == ob.size ? 0 : -EIO;
#else
	(void)in, (void)ilen, (void)out, (void)olen;
	return -EOPNOTSUPP;
#endif
}

int qcow2_decompress(struct qcow2_image *img, uint64_t l2e, void *out)
{
	uint64_t coff = l2e & ((1ull << img->csize_shift) - 1);
	uint64_t nsec = ((l2e >> img->csize_shift) & img->csize_mask) + 1;
	uint64_t clen = nsec * 512 - (coff & 511);
	uint8_t *in;
	int ret;

	if (coff < img->cluster_size || coff >= img->file_size)
		return -EIO;
	in = malloc(clen);
	if (!in)
		return -ENOMEM;
	ret = data_read(img, in, clen, coff);
	if (!ret && img->compression == QCOW2_ZSTD)
		ret = inflate_zstd(in, clen, out, img->cluster_size);
	else if (!ret)
		ret = inflate_zlib(in, clen, out, img->cluster_size);
	free(in);
	return ret;
}

static int read_backing(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off)
{
	struct qcow2_image *b = img->backing;
	uint64_t n;

	if (!b || off >= b->size) {
		memset(buf, 0, len);
		return 0;
	}
	n = len < b->size - off ? len : b->size - off;
	memset((char *)buf + n, 0, len - n);
	if (b->raw)
		return data_read(b, buf, n, off);
	return qcow2_read(b, buf, n, off);
}

static int read_compressed(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off)
{
	struct l2_ref ref;
	uint8_t *tmp;
	int ret;

	tmp = malloc(img->cluster_size);
	if (!tmp)
		return -ENOMEM;
	ret = l2_lookup(img, off, &ref);
	if (!ret)
		ret = qcow2_decompress(img, ref.entry, tmp);
	if (!ret)
		memcpy(buf, tmp + cl_off(img, off), len);
	free(tmp);
	return ret;
}

/* Part of one cluster. */
static int read_cluster(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off)
{
	struct qcow2_mapping m;
	int ret;

	ret = qcow2_map(img, off, &m);
	if (ret)
		return ret;
	switch (m.kind) {
	case QCOW2_NORMAL:
		return data_read(img, buf, len, m.host_off + cl_off(img, off));
	case QCOW2_ZERO:
		memset(buf, 0, len);
		return 0;
	case QCOW2_COMPRESSED:
		return read_compressed(img, buf, len, off);
	case QCOW2_UNALLOCATED:
		break;
	}
	return read_backing(img, buf, len, off);
}

static uint64_t chunk(const struct qcow2_image *img, uint64_t off, uint64_t left)
{
	uint64_t n = img->cluster_size - cl_off(img, off);

	return n < left ? n : left;
}

int qcow2_read(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off)
{
	uint64_t n;
	int ret;

	if (off > img->size || len > img->size - off)
		return -EINVAL;
	if (img->raw)
		return data_read(img, buf, len, off);
	for (; len; len -= n, off += n, buf = (char *)buf + n) {
		n = chunk(img, off, len);
		ret = read_cluster(img, buf, n, off);
		if (ret)
			return ret;
	}
	return 0;
}

static int sync_fd(struct qcow2_image *img)
{
	return fdatasync(img->fd) ? -errno : 0;
}

static int write_l1(struct qcow2_image *img, uint64_t idx, uint64_t val)
{
	uint64_t be = htobe64(val);
	int ret;

	ret = qcow2_pwrite(img, &be, 8, img->l1_offset + idx * 8);
	if (!ret)
		img->l1[idx] = val;
	return ret;
}

/*
 * An L2 table we may modify in place for @ref: a new one when there is
 * none, a copy when it is shared with a snapshot. Returns its offset in
 * *l2_off and whether it is new (not yet linked from L1) in *fresh.
 */
static int writable_l2(struct qcow2_image *img, struct l2_ref *ref, bool *fresh)
{
	uint64_t l1e = img->l1[ref->l1_idx], old = ref->l2_off, *tab, *src, i, rc = 0;
	int ret;

	*fresh = false;
	if (old) {
		ret = qcow2_get_refcount(img, old >> img->cluster_bits, &rc);
		if (ret)
			return ret;
		if (l1e & QCOW2_OFLAG_COPIED && rc == 1)
			return 0;
	}
	ret = qcow2_alloc_clusters(img, 1, &ref->l2_off);
	if (ret)
		return ret;
	tab = calloc(1, img->cluster_size);
	if (!tab)
		return -ENOMEM;
	if (old) {
		ret = qcow2_cache_get(img, img->l2_cache, old, (void **)&src);
		if (ret)
			goto out;
		/* entries now reached from two tables: none is exclusive */
		for (i = 0; i < img->cluster_size / 8; i++)
			tab[i] = src[i] & ~htobe64(QCOW2_OFLAG_COPIED);
		img->nr_cow++;
	}
	ret = qcow2_pwrite(img, tab, img->cluster_size, ref->l2_off);
	qcow2_cache_drop(img->l2_cache, ref->l2_off);
	*fresh = true;
out:
	free(tab);
	return ret;
}

/*
 * Point the guest cluster at @entry. The caller wrote the data; we make
 * the data and the refcounts durable before the pointer (one fdatasync),
 * then link a fresh L2 table from L1 if there is one.
 */
static int set_l2_entry(struct qcow2_image *img, struct l2_ref *ref, uint64_t entry, bool fresh,
			uint64_t old_l2)
{
	uint64_t *tab, be = htobe64(entry);
	int ret;

	ret = sync_fd(img);
	if (ret)
		return ret;
	ret = qcow2_pwrite(img, &be, 8, ref->l2_off + ref->l2_idx * 8);
	if (ret)
		return ret;
	ret = qcow2_cache_get(img, img->l2_cache, ref->l2_off, (void **)&tab);
	if (ret)
		return ret;
	tab[ref->l2_idx] = be;
	if (!fresh)
		return 0;
	ret = sync_fd(img);
	if (!ret)
		ret = write_l1(img, ref->l1_idx, ref->l2_off | QCOW2_OFLAG_COPIED);
	if (!ret && old_l2) {
		/* the old table stays referenced until L1 no longer names it */
		ret = sync_fd(img);
		if (!ret)
			ret = qcow2_free_range(img, old_l2, img->cluster_size);
	}
	return ret;
}

/* Give back what the old entry held, once nothing on disk points to it. */
static int release_old(struct qcow2_image *img, uint64_t e)
{
	uint64_t coff, nsec;
	int ret;

	if (e & QCOW2_OFLAG_COMPRESSED) {
		coff = e & ((1ull << img->csize_shift) - 1);
		nsec = ((e >> img->csize_shift) & img->csize_mask) + 1;
		ret = sync_fd(img);
		return ret ? ret : qcow2_free_range(img, coff & ~511ull, nsec * 512);
	}
	/* an entry pointing into our tables is corrupt: leak, never free it */
	if (!(e & QCOW2_OFFSET_MASK) ||
	    qcow2_check_host_off(img, e & QCOW2_OFFSET_MASK, img->cluster_size))
		return 0;
	ret = sync_fd(img);
	return ret ? ret : qcow2_free_range(img, e & QCOW2_OFFSET_MASK, img->cluster_size);
}

/* A new cluster for guest cluster @off: old contents + @buf, then linked. */
static int cow_cluster(struct qcow2_image *img, const void *buf, uint64_t len, uint64_t off)
{
	uint64_t start = off - cl_off(img, off), n, host, old_l2;
	struct l2_ref ref;
	uint8_t *data;
	bool fresh;
	int ret;

	data = malloc(img->cluster_size);
	if (!data)
		return -ENOMEM;
	n = img->size - start < img->cluster_size ? img->size - start : img->cluster_size;
	memset(data, 0, img->cluster_size);
	ret = len == img->cluster_size ? 0 : qcow2_read(img, data, n, start);
	if (ret)
		goto out;
	if (len)
		memcpy(data + cl_off(img, off), buf, len);
	ret = l2_lookup(img, off, &ref);
	if (ret)
		goto out;
	old_l2 = ref.l2_off;
	ret = writable_l2(img, &ref, &fresh);
	if (!ret)
		ret = qcow2_alloc_clusters(img, 1, &host);
	if (!ret)
		ret = qcow2_pwrite(img, data, img->cluster_size, host);
	if (!ret)
		ret = set_l2_entry(img, &ref, host | QCOW2_OFLAG_COPIED, fresh, fresh ? old_l2 : 0);
	if (!ret)
		ret = release_old(img, ref.entry);
out:
	free(data);
	return ret;
}

/* A preallocated zero cluster of ours: fill it, then drop the zero flag. */
static int fill_zero_cluster(struct qcow2_image *img, const struct qcow2_mapping *m,
			     const void *buf, uint64_t len, uint64_t off)
{
	struct l2_ref ref;
	uint8_t *data;
	int ret;

	data = calloc(1, img->cluster_size);
	if (!data)
		return -ENOMEM;
	if (len)
		memcpy(data + cl_off(img, off), buf, len);
	ret = qcow2_pwrite(img, data, img->cluster_size, m->host_off);
	free(data);
	if (!ret)
		ret = l2_lookup(img, off, &ref);
	if (!ret)
		ret = set_l2_entry(img, &ref, m->host_off | QCOW2_OFLAG_COPIED, false, 0);
	return ret;
}

static int write_cluster(struct qcow2_image *img, const void *buf, uint64_t len, uint64_t off)
{
	struct qcow2_mapping m;
	int ret;

	ret = qcow2_map(img, off, &m);
	if (ret)
		return ret;
	if (m.kind == QCOW2_NORMAL && m.writable)
		return qcow2_pwrite(img, buf, len, m.host_off + cl_off(img, off));
	if (m.kind == QCOW2_ZERO && m.writable &&
	    !qcow2_check_host_off(img, m.host_off, img->cluster_size))
		return fill_zero_cluster(img, &m, buf, len, off);
	return cow_cluster(img, buf, len, off);
}

int qcow2_prepare_write(struct qcow2_image *img, uint64_t off, uint64_t *host)
{
	struct qcow2_mapping m;
	int ret;

	if (img->read_only)
		return -EROFS;
	ret = qcow2_map(img, off, &m);
	if (ret || (m.kind != QCOW2_NORMAL || !m.writable)) {
		/* a whole-cluster copy up (or zero fill) with no new data */
		ret = ret ? ret : write_cluster(img, NULL, 0, off);
		if (!ret)
			ret = qcow2_map(img, off, &m);
	}
	if (ret)
		return ret;
	if (m.kind != QCOW2_NORMAL || !m.writable)
		return -EIO;
	*host = m.host_off;
	return 0;
}

int qcow2_write(struct qcow2_image *img, const void *buf, uint64_t len, uint64_t off)
{
	uint64_t n;
	int ret;

	if (img->read_only)
		return -EROFS;
	if (off > img->size || len > img->size - off)
		return -EINVAL;
	for (; len; len -= n, off += n, buf = (const char *)buf + n) {
		n = chunk(img, off, len);
		ret = write_cluster(img, buf, n, off);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A whole cluster to zeroes (v3): the zero flag, keeping an exclusive host
 * cluster allocated so nothing in flight can land in a reused cluster.
 */
static int zero_flag_cluster(struct qcow2_image *img, uint64_t off)
{
	struct qcow2_mapping m;
	struct l2_ref ref;
	uint64_t entry = QCOW2_OFLAG_ZERO, old_l2;
	bool fresh;
	int ret;

	ret = qcow2_map(img, off, &m);
	if (ret)
		return ret;
	if (m.kind == QCOW2_ZERO || (m.kind == QCOW2_UNALLOCATED && !img->backing))
		return 0;
	if (m.writable)
		entry |= m.host_off | QCOW2_OFLAG_COPIED;
	ret = l2_lookup(img, off, &ref);
	if (ret)
		return ret;
	old_l2 = ref.l2_off;
	ret = writable_l2(img, &ref, &fresh);
	if (!ret)
		ret = set_l2_entry(img, &ref, entry, fresh, fresh ? old_l2 : 0);
	if (!ret && !m.writable)
		ret = release_old(img, ref.entry);
	return ret;
}

static int zero_partial(struct qcow2_image *img, uint64_t len, uint64_t off)
{
	struct qcow2_mapping m;
	void *zero;
	int ret;

	ret = qcow2_map(img, off, &m);
	if (ret)
		return ret;
	if (m.kind == QCOW2_ZERO || (m.kind == QCOW2_UNALLOCATED && !img->backing))
		return 0;
	zero = calloc(1, len);
	if (!zero)
		return -ENOMEM;
	ret = write_cluster(img, zero, len, off);
	free(zero);
	return ret;
}

int qcow2_zero(struct qcow2_image *img, uint64_t len, uint64_t off, bool unmap)
{
	uint64_t n;
	int ret;

	(void)unmap; /* clusters are never handed back: see docs/qcow2.md */
	if (img->read_only)
		return -EROFS;
	if (off > img->size || len > img->size - off)
		return -EINVAL;
	for (; len; len -= n, off += n) {
		n = chunk(img, off, len);
		if (n == img->cluster_size && img->version >= 3)
			ret = zero_flag_cluster(img, off);
		else
			ret = zero_partial(img, n, off);
		if (ret)
			return ret;
	}
	return 0;
}

int qcow2_discard(struct qcow2_image *img, uint64_t len, uint64_t off)
{
	uint64_t cs = img->cluster_size, start, end;
	int ret = 0;

	if (img->read_only)
		return -EROFS;
	if (off > img->size || len > img->size - off)
		return -EINVAL;
	/* advisory: only whole clusters, and only where a zero flag exists */
	start = (off + cs - 1) & ~(cs - 1);
	end = (off + len) & ~(cs - 1);
	if (img->version < 3)
		return 0;
	for (; start < end && !ret; start += cs)
		ret = zero_flag_cluster(img, start);
	return ret;
}

int qcow2_flush(struct qcow2_image *img)
{
	if (img->read_only)
		return 0;
	return sync_fd(img);
}
