// SPDX-License-Identifier: MIT
/*
 * qcow2 metadata: a bounded write-through cache of L2 tables and refcount
 * blocks, refcounts of any width, and cluster allocation (new refcount
 * blocks and refcount table growth included). Ordering rules: docs/qcow2.md.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qcow2.h"

/* per cache: at most this many bytes, but never fewer than 4 tables */
#define CACHE_BYTES (4u << 20)
#define CACHE_MIN 4
#define CACHE_MAX 1024
#define QCOW2_MAX_EOF_LEAKS 1024 /* in-use clusters past EOF one scan skips */

struct qcow2_cache_entry {
	uint64_t off; /* host offset of the cached cluster, 0 = empty */
	uint64_t stamp; /* last use, for LRU */
	void *data; /* on-disk (big-endian) contents */
};

struct qcow2_cache {
	uint32_t nr;
	uint64_t entry_size, clock;
	struct qcow2_cache_entry e[];
};

struct qcow2_cache *qcow2_cache_new(uint32_t nr, uint64_t entry_size)
{
	struct qcow2_cache *c;
	uint32_t i;

	if (!nr)
		nr = CACHE_BYTES / entry_size;
	nr = nr < CACHE_MIN ? CACHE_MIN : nr > CACHE_MAX ? CACHE_MAX : nr;
	c = calloc(1, sizeof(*c) + nr * sizeof(c->e[0]));
	if (!c)
		return NULL;
	c->nr = nr;
	c->entry_size = entry_size;
	for (i = 0; i < nr; i++) {
		c->e[i].data = malloc(entry_size);
		if (!c->e[i].data) {
			qcow2_cache_free(c);
			return NULL;
		}
	}
	return c;
}

void qcow2_cache_free(struct qcow2_cache *c)
{
	uint32_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr; i++)
		free(c->e[i].data);
	free(c);
}

void qcow2_cache_drop(struct qcow2_cache *c, uint64_t off)
{
	uint32_t i;

	for (i = 0; i < c->nr; i++)
		if (c->e[i].off == off)
			c->e[i].off = 0;
}

/* The cluster at host offset @off, read on a miss (evicting the LRU). */
int qcow2_cache_get(struct qcow2_image *img, struct qcow2_cache *c, uint64_t off, void **data)
{
	struct qcow2_cache_entry *victim = &c->e[0];
	uint32_t i;
	int ret;

	for (i = 0; i < c->nr; i++) {
		if (c->e[i].off == off) {
			c->e[i].stamp = ++c->clock;
			*data = c->e[i].data;
			return 0;
		}
		if (c->e[i].stamp < victim->stamp)
			victim = &c->e[i];
	}
	if (c == img->l2_cache)
		img->nr_l2_miss++;
	else
		img->nr_rb_miss++;
	victim->off = 0;
	ret = qcow2_pread(img, victim->data, c->entry_size, off);
	if (ret)
		return ret;
	victim->off = off;
	victim->stamp = ++c->clock;
	*data = victim->data;
	return 0;
}

/* Bytes read at @off, short only at EOF; -errno on error. */
ssize_t qcow2_pread_upto(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off)
{
	uint64_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(img->fd, (char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

/* Metadata reads are exact: a table cut short by EOF is corruption. */
int qcow2_pread(struct qcow2_image *img, void *buf, uint64_t len, uint64_t off)
{
	ssize_t n = qcow2_pread_upto(img, buf, len, off);

	if (n < 0)
		return n;
	return (uint64_t)n == len ? 0 : -EIO;
}

unsigned long qcow2_test_crash_after;

int qcow2_pwrite(struct qcow2_image *img, const void *buf, uint64_t len, uint64_t off)
{
	uint64_t done = 0;
	ssize_t n;

	if (img->read_only)
		return -EROFS;
	/* tests: die as kill -9 would, before the Nth write reaches the file */
	if (qcow2_test_crash_after && !--qcow2_test_crash_after)
		_exit(86);
	while (done < len) {
		n = pwrite(img->fd, (const char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	if (off + len > img->file_size)
		img->file_size = off + len;
	return 0;
}

/* Data clusters written in place must not be our own metadata tables. */
int qcow2_check_host_off(struct qcow2_image *img, uint64_t off, uint64_t len)
{
	uint64_t l1_end = img->l1_offset + (uint64_t)img->l1_size * 8;
	uint64_t rt_end = img->rt_offset + img->rt_entries * 8;

	if (off < img->cluster_size)
		return -EIO;
	if (img->l1_size && off < l1_end && img->l1_offset < off + len)
		return -EIO;
	if (off < rt_end && img->rt_offset < off + len)
		return -EIO;
	return 0;
}

static uint64_t rc_get(const struct qcow2_image *img, const uint8_t *blk, uint64_t j)
{
	uint32_t bits = 1u << img->refcount_order, bytes = bits / 8, i;
	uint64_t v = 0;

	if (bits < 8)
		return (blk[j * bits / 8] >> (j * bits % 8)) & ((1u << bits) - 1);
	for (i = 0; i < bytes; i++)
		v = v << 8 | blk[j * bytes + i];
	return v;
}

/* Store and return the byte range that changed, for the write-through. */
static void rc_set(const struct qcow2_image *img, uint8_t *blk, uint64_t j, uint64_t v,
		   uint64_t *pos, uint32_t *len)
{
	uint32_t bits = 1u << img->refcount_order, bytes = bits / 8, i;
	uint8_t mask;

	if (bits < 8) {
		mask = ((1u << bits) - 1) << (j * bits % 8);
		*pos = j * bits / 8;
		*len = 1;
		blk[*pos] = (blk[*pos] & ~mask) | ((v << (j * bits % 8)) & mask);
		return;
	}
	*pos = j * bytes;
	*len = bytes;
	for (i = bytes; i > 0; i--, v >>= 8)
		blk[j * bytes + i - 1] = v & 0xff;
}

static uint64_t rc_max(const struct qcow2_image *img)
{
	return img->refcount_order == 6 ? UINT64_MAX : (1ull << (1u << img->refcount_order)) - 1;
}

int qcow2_get_refcount(struct qcow2_image *img, uint64_t idx, uint64_t *rc)
{
	uint64_t r = idx >> img->rb_bits;
	void *blk;
	int ret;

	*rc = 0;
	if (r >= img->rt_entries || !img->rt[r])
		return 0;
	ret = qcow2_cache_get(img, img->rb_cache, img->rt[r], &blk);
	if (ret)
		return ret;
	*rc = rc_get(img, blk, idx & ((1ull << img->rb_bits) - 1));
	return 0;
}

static int write_zeroed_block(struct qcow2_image *img, uint64_t off, uint64_t first, uint64_t n)
{
	uint8_t *blk = calloc(1, img->cluster_size);
	uint64_t pos, i;
	uint32_t len;
	int ret;

	if (!blk)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		rc_set(img, blk, first + i, 1, &pos, &len);
	ret = qcow2_pwrite(img, blk, img->cluster_size, off);
	free(blk);
	qcow2_cache_drop(img->rb_cache, off);
	qcow2_cache_drop(img->l2_cache, off);
	return ret;
}

/* A refcount block for the range of @idx, stored in cluster @idx itself. */
static int new_refblock(struct qcow2_image *img, uint64_t idx)
{
	uint64_t r = idx >> img->rb_bits, off = idx << img->cluster_bits, be = htobe64(off);
	int ret;

	ret = write_zeroed_block(img, off, idx & ((1ull << img->rb_bits) - 1), 1);
	/* the block must be on disk before the table points to it */
	if (!ret && fdatasync(img->fd))
		ret = -errno;
	if (!ret)
		ret = qcow2_pwrite(img, &be, 8, img->rt_offset + r * 8);
	if (!ret)
		img->rt[r] = off;
	return ret;
}

/* Where a grown table (plus the one block that covers it) can live. */
static void place_table(struct qcow2_image *img, uint64_t need_r, uint64_t *a, uint64_t *t,
			uint64_t *entries)
{
	uint64_t cs = img->cluster_size, e = 1ull << img->rb_bits;
	uint64_t file_cl = (img->file_size + cs - 1) / cs, ra;

	*a = file_cl > img->rt_entries * e ? file_cl : img->rt_entries * e;
	for (;;) {
		ra = *a >> img->rb_bits;
		*entries = img->rt_entries * 2;
		if (*entries < need_r + 1)
			*entries = need_r + 1;
		if (*entries < ra + 1)
			*entries = ra + 1;
		*t = (*entries * 8 + cs - 1) / cs;
		*entries = *t * cs / 8;
		if (((*a + *t) >> img->rb_bits) == ra)
			return;
		*a = (ra + 1) << img->rb_bits;
	}
}

static int write_header_rt(struct qcow2_image *img, uint64_t off, uint32_t clusters)
{
	uint8_t hdr[12];
	uint64_t o = htobe64(off);
	uint32_t c = htobe32(clusters);

	memcpy(hdr, &o, 8);
	memcpy(hdr + 8, &c, 4);
	/* offset and size are adjacent: one sector write switches tables */
	return qcow2_pwrite(img, hdr, 12, 48);
}

/*
 * Grow the refcount table to cover range @need_r: new block + table in
 * fresh clusters, durable, then the header switch, then the old table freed.
 */
static int grow_rt(struct qcow2_image *img, uint64_t need_r)
{
	uint64_t a, t, entries, i, old_off = img->rt_offset, old_n = img->rt_clusters;
	uint64_t *tab;
	int ret;

	place_table(img, need_r, &a, &t, &entries);
	if (entries * 8 > QCOW2_MAX_RT_BYTES)
		return -ENOSPC;
	tab = calloc(entries, 8);
	if (!tab)
		return -ENOMEM;
	memcpy(tab, img->rt, img->rt_entries * 8);
	tab[a >> img->rb_bits] = a << img->cluster_bits;
	for (i = 0; i < entries; i++)
		tab[i] = htobe64(tab[i]);
	ret = write_zeroed_block(img, a << img->cluster_bits, a & ((1ull << img->rb_bits) - 1),
				 t + 1);
	if (!ret)
		ret = qcow2_pwrite(img, tab, entries * 8, (a + 1) << img->cluster_bits);
	if (!ret && fdatasync(img->fd))
		ret = -errno;
	if (!ret)
		ret = write_header_rt(img, (a + 1) << img->cluster_bits, t);
	if (!ret && fdatasync(img->fd))
		ret = -errno;
	if (ret) {
		free(tab);
		return ret;
	}
	for (i = 0; i < entries; i++)
		tab[i] = be64toh(tab[i]);
	free(img->rt);
	img->rt = tab;
	img->rt_entries = entries;
	img->rt_offset = (a + 1) << img->cluster_bits;
	img->rt_clusters = t;
	/* the old table's clusters: a crash before this only leaks them */
	for (i = 0; i < old_n && !ret; i++)
		ret = qcow2_set_refcount(img, (old_off >> img->cluster_bits) + i, 0);
	return ret;
}

int qcow2_set_refcount(struct qcow2_image *img, uint64_t idx, uint64_t rc)
{
	uint64_t r = idx >> img->rb_bits, pos;
	uint8_t *blk;
	uint32_t len;
	int ret;

	if (rc > rc_max(img))
		return -ERANGE;
	if (r >= img->rt_entries || !img->rt[r])
		return -EIO; /* callers make sure the block exists */
	ret = qcow2_cache_get(img, img->rb_cache, img->rt[r], (void **)&blk);
	if (ret)
		return ret;
	rc_set(img, blk, idx & ((1ull << img->rb_bits) - 1), rc, &pos, &len);
	ret = qcow2_pwrite(img, blk + pos, len, img->rt[r] + pos);
	if (ret)
		qcow2_cache_drop(img->rb_cache, img->rt[r]);
	if (!rc && idx < img->free_hint)
		img->free_hint = idx;
	return ret;
}

/*
 * One free cluster, its refcount raised to 1 (not yet durable: the caller
 * syncs before anything points to it). Returns its host offset.
 */
int qcow2_alloc_clusters(struct qcow2_image *img, uint64_t n, uint64_t *host_off)
{
	uint64_t idx = img->free_hint ? img->free_hint : 1, r, rc, past_eof = 0;
	int ret;

	if (n != 1)
		return -EINVAL;
	for (;; idx++) {
		r = idx >> img->rb_bits;
		if (idx >> (56 - img->cluster_bits))
			return -ENOSPC;
		if (r >= img->rt_entries) {
			ret = grow_rt(img, r);
			if (ret)
				return ret;
			idx--; /* the new block may have taken idx: look again */
			continue;
		}
		if (!img->rt[r]) {
			/* idx becomes the new refcount block */
			ret = new_refblock(img, idx);
			if (ret)
				return ret;
			continue;
		}
		ret = qcow2_get_refcount(img, idx, &rc);
		if (ret)
			return ret;
		if (!rc)
			break;
		/*
		 * In use past EOF: a crash between raising a refcount and writing
		 * the cluster leaks one. A long run of them is corrupt refcounts,
		 * and would make an endless scan.
		 */
		if (idx << img->cluster_bits >= img->file_size && ++past_eof > QCOW2_MAX_EOF_LEAKS)
			return -EIO;
	}
	ret = qcow2_set_refcount(img, idx, 1);
	if (ret)
		return ret;
	img->free_hint = idx + 1;
	img->nr_alloc++;
	*host_off = idx << img->cluster_bits;
	return 0;
}

/* Drop one reference from every cluster touched by [off, off + len). */
int qcow2_free_range(struct qcow2_image *img, uint64_t off, uint64_t len)
{
	uint64_t first = off >> img->cluster_bits;
	uint64_t last = (off + len - 1) >> img->cluster_bits, idx, rc;
	int ret;

	for (idx = first; idx <= last; idx++) {
		ret = qcow2_get_refcount(img, idx, &rc);
		if (ret)
			return ret;
		if (!rc)
			return -EIO; /* freeing a free cluster: corrupt image */
		ret = qcow2_set_refcount(img, idx, rc - 1);
		if (ret)
			return ret;
	}
	return 0;
}
