// SPDX-License-Identifier: MIT
/*
 * qcow2 header: every field is checked against the file before anything is
 * served; what we cannot serve correctly is refused with one line.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcow2.h"

#define EXT_END 0
#define EXT_BACKING_FMT 0xe2792acau
#define EXT_FEATURES 0x6803f857u
#define EXT_BITMAPS 0x23852875u
#define EXT_CRYPTO 0x0537be77u
#define EXT_DATA_FILE 0x44415441u

#define KNOWN_INCOMPAT                                                              \
	(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE | \
	 QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2)

static uint32_t be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A metadata region: cluster aligned, past the header, inside the file. */
static bool bad_region(const struct qcow2_image *img, uint64_t off, uint64_t len)
{
	if (off & (img->cluster_size - 1) || off < img->cluster_size)
		return true;
	return off > img->file_size || len > img->file_size - off;
}

static int parse_features(struct qcow2_image *img, char *err, size_t errlen)
{
	uint64_t unknown = img->incompat & ~KNOWN_INCOMPAT;

	if (unknown)
		return fail(err, errlen, "unknown incompatible features 0x%llx",
			    (unsigned long long)unknown);
	if (img->incompat & QCOW2_INCOMPAT_CORRUPT)
		return fail(err, errlen, "image is marked corrupt (run qemu-img check -r all)");
	if (img->incompat & QCOW2_INCOMPAT_DIRTY)
		return fail(err, errlen,
			    "image is dirty (lazy refcounts): run qemu-img check -r all first");
	if (img->incompat & QCOW2_INCOMPAT_DATA_FILE)
		return fail(err, errlen, "external data files are not supported");
	if (img->incompat & QCOW2_INCOMPAT_EXTL2)
		return fail(err, errlen, "extended L2 entries (subclusters) are not supported");
	return 0;
}

static int parse_v3(struct qcow2_image *img, const uint8_t *buf, size_t len, char *err,
		    size_t errlen)
{
	if (len < 104)
		return fail(err, errlen, "truncated qcow2 v3 header");
	img->incompat = be64(buf + 72);
	img->compat = be64(buf + 80);
	img->autoclear = be64(buf + 88);
	img->refcount_order = be32(buf + 96);
	img->header_length = be32(buf + 100);
	if (img->header_length < 104 || img->header_length % 8 ||
	    img->header_length > img->cluster_size || img->header_length > len)
		return fail(err, errlen, "bad header length %u", img->header_length);
	if (img->refcount_order > 6)
		return fail(err, errlen, "bad refcount order %u", img->refcount_order);
	if (img->incompat & QCOW2_INCOMPAT_COMPRESSION) {
		if (img->header_length < 105)
			return fail(err, errlen, "compression type missing from header");
		img->compression = buf[104];
		if (img->compression > QCOW2_ZSTD)
			return fail(err, errlen, "unknown compression type %u", buf[104]);
#ifndef HAVE_ZSTD
		if (img->compression == QCOW2_ZSTD)
			return fail(err, errlen, "zstd compression: built without libzstd");
#endif
	} else if (img->header_length >= 105 && buf[104]) {
		return fail(err, errlen, "compression type set without its feature bit");
	}
	return parse_features(img, err, errlen);
}

static int parse_ext(struct qcow2_image *img, const uint8_t *buf, size_t len, char *err,
		     size_t errlen)
{
	size_t pos = img->header_length;
	size_t end = len < img->cluster_size ? len : img->cluster_size;

	while (pos + 8 <= end) {
		uint32_t type = be32(buf + pos), elen = be32(buf + pos + 4);

		pos += 8;
		if (type == EXT_END)
			return 0;
		if (elen > end - pos)
			return fail(err, errlen, "header extension 0x%x past the header cluster",
				    type);
		if (type == EXT_BACKING_FMT) {
			if (elen >= sizeof(img->backing_fmt))
				return fail(err, errlen, "backing format name too long");
			memcpy(img->backing_fmt, buf + pos, elen);
			img->backing_fmt[elen] = 0;
		} else if (type == EXT_CRYPTO) {
			return fail(err, errlen, "encrypted images are not supported");
		}
		pos += (elen + 7) & ~7ull;
	}
	/* no end marker inside the cluster: qemu would refuse it too */
	return pos >= end ? 0 : fail(err, errlen, "truncated header extension");
}

static int parse_backing(struct qcow2_image *img, const uint8_t *buf, size_t len, uint64_t boff,
			 uint32_t blen, char *err, size_t errlen)
{
	if (!boff)
		return 0;
	if (!blen || blen >= sizeof(img->backing_name) || boff > len || blen > len - boff ||
	    boff < img->header_length)
		return fail(err, errlen, "bad backing file name (offset %llu, length %u)",
			    (unsigned long long)boff, blen);
	memcpy(img->backing_name, buf + boff, blen);
	img->backing_name[blen] = 0;
	if (strlen(img->backing_name) != blen)
		return fail(err, errlen, "backing file name contains NUL");
	return 0;
}

static int check_layout(struct qcow2_image *img, char *err, size_t errlen)
{
	uint64_t l2_span = img->cluster_size << img->l2_bits;
	uint64_t need = (img->size + l2_span - 1) / l2_span;

	if ((uint64_t)img->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return fail(err, errlen, "L1 table too large (%u entries)", img->l1_size);
	if (img->size > (uint64_t)QCOW2_MAX_L1_BYTES / 8 * l2_span || need > img->l1_size)
		return fail(err, errlen, "virtual size %llu does not fit the L1 table",
			    (unsigned long long)img->size);
	if (img->l1_size && bad_region(img, img->l1_offset, (uint64_t)img->l1_size * 8))
		return fail(err, errlen, "L1 table offset 0x%llx unaligned or past the end of file",
			    (unsigned long long)img->l1_offset);
	if (!img->rt_clusters ||
	    (uint64_t)img->rt_clusters * img->cluster_size > QCOW2_MAX_RT_BYTES)
		return fail(err, errlen, "bad refcount table size (%u clusters)", img->rt_clusters);
	if (bad_region(img, img->rt_offset, (uint64_t)img->rt_clusters * img->cluster_size))
		return fail(err, errlen,
			    "refcount table offset 0x%llx unaligned, in the header or past EOF",
			    (unsigned long long)img->rt_offset);
	if (img->l1_size &&
	    img->l1_offset < img->rt_offset + img->rt_clusters * img->cluster_size &&
	    img->rt_offset < img->l1_offset + (uint64_t)img->l1_size * 8)
		return fail(err, errlen, "L1 table overlaps the refcount table");
	if (img->nb_snapshots && bad_region(img, img->snapshots_offset, 0))
		return fail(err, errlen, "bad snapshot table offset");
	return 0;
}

int qcow2_parse_header(struct qcow2_image *img, const uint8_t *buf, size_t len, uint64_t file_size,
		       char *err, size_t errlen)
{
	uint64_t boff;
	uint32_t blen;
	int ret;

	img->file_size = file_size;
	if (len < 72)
		return fail(err, errlen, "truncated qcow2 header");
	if (be32(buf) != QCOW2_MAGIC)
		return fail(err, errlen, "not a qcow2 image (bad magic)");
	img->version = be32(buf + 4);
	if (img->version != 2 && img->version != 3)
		return fail(err, errlen, "unsupported qcow2 version %u", img->version);
	boff = be64(buf + 8);
	blen = be32(buf + 16);
	img->cluster_bits = be32(buf + 20);
	if (img->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    img->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return fail(err, errlen, "cluster_bits %u out of range 9..21", img->cluster_bits);
	img->cluster_size = 1ull << img->cluster_bits;
	img->size = be64(buf + 24);
	if (be32(buf + 32))
		return fail(err, errlen, "encrypted images are not supported");
	img->l1_size = be32(buf + 36);
	img->l1_offset = be64(buf + 40);
	img->rt_offset = be64(buf + 48);
	img->rt_clusters = be32(buf + 56);
	img->nb_snapshots = be32(buf + 60);
	img->snapshots_offset = be64(buf + 64);
	img->refcount_order = 4;
	img->header_length = 72;
	if (img->version == 3) {
		ret = parse_v3(img, buf, len, err, errlen);
		if (ret)
			return ret;
	}
	img->l2_bits = img->cluster_bits - 3;
	img->rb_bits = img->cluster_bits + 3 - img->refcount_order;
	img->csize_shift = 62 - (img->cluster_bits - 8);
	img->csize_mask = (1ull << (img->cluster_bits - 8)) - 1;
	ret = parse_ext(img, buf, len, err, errlen);
	if (!ret)
		ret = parse_backing(img, buf, len, boff, blen, err, errlen);
	if (!ret)
		ret = check_layout(img, err, errlen);
	return ret;
}

static int read_table(struct qcow2_image *img, uint64_t **tab, uint64_t off, uint64_t n)
{
	uint64_t i;
	int ret;

	*tab = calloc(n ? n : 1, 8);
	if (!*tab)
		return -ENOMEM;
	ret = qcow2_pread(img, *tab, n * 8, off);
	for (i = 0; !ret && i < n; i++)
		(*tab)[i] = be64toh((*tab)[i]);
	return ret;
}

/* Entries must point at aligned clusters after the header, within the file. */
static int check_tables(struct qcow2_image *img, char *err, size_t errlen)
{
	uint64_t i, off;

	for (i = 0; i < img->l1_size; i++) {
		off = img->l1[i] & QCOW2_OFFSET_MASK;
		if (img->l1[i] & ~(QCOW2_OFFSET_MASK | QCOW2_OFLAG_COPIED))
			return fail(err, errlen, "L1 entry %llu has reserved bits set",
				    (unsigned long long)i);
		if (off && bad_region(img, off, img->cluster_size))
			return fail(err, errlen, "L2 table offset 0x%llx unaligned or past EOF",
				    (unsigned long long)off);
	}
	for (i = 0; i < img->rt_entries; i++) {
		off = img->rt[i];
		if (off && (off & ~QCOW2_OFFSET_MASK || bad_region(img, off, img->cluster_size)))
			return fail(err, errlen,
				    "refcount block offset 0x%llx unaligned or past EOF",
				    (unsigned long long)off);
	}
	return 0;
}

static int same_file(int fd, const struct stat *chain, int n)
{
	struct stat st;
	int i;

	if (fstat(fd, &st))
		return -errno;
	for (i = 0; i < n; i++)
		if (st.st_dev == chain[i].st_dev && st.st_ino == chain[i].st_ino)
			return 1;
	return 0;
}

/*
 * The bytes qemu locks (100.. for permissions, 200.. for what it shares):
 * holding them keeps qemu from writing an image we serve, and us from one
 * qemu serves. Readers share, a writer excludes.
 */
static int lock_image(struct qcow2_image *img, char *err, size_t errlen)
{
	struct flock fl = {
		.l_type = img->read_only ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = 100,
		.l_len = 200,
	};

	if (!fcntl(img->fd, F_OFD_SETLK, &fl))
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return fail(err, errlen, "'%s' is in use by another process", img->path);
	return fail(err, errlen, "cannot lock '%s': %s", img->path, strerror(errno));
}

static struct qcow2_image *open_chain(const char *path, bool read_only, struct stat *chain,
				      int depth, const char *fmt, char *err, size_t errlen);

static int open_backing(struct qcow2_image *img, struct stat *chain, int depth, char *err,
			size_t errlen)
{
	char path[8192], dir[4096];

	if (!img->backing_name[0])
		return 0;
	if (depth >= QCOW2_MAX_CHAIN)
		return fail(err, errlen, "backing chain deeper than %d", QCOW2_MAX_CHAIN);
	if (img->backing_fmt[0] && strcmp(img->backing_fmt, "qcow2") &&
	    strcmp(img->backing_fmt, "raw"))
		return fail(err, errlen, "backing format '%s' is not supported", img->backing_fmt);
	/* relative names are relative to the image that names them */
	snprintf(dir, sizeof(dir), "%s", img->path);
	if (img->backing_name[0] == '/')
		snprintf(path, sizeof(path), "%s", img->backing_name);
	else
		snprintf(path, sizeof(path), "%s/%s", dirname(dir), img->backing_name);
	img->backing = open_chain(path, true, chain, depth + 1, img->backing_fmt, err, errlen);
	return img->backing ? 0 : -EINVAL;
}

static int open_file(struct qcow2_image *img, const char *path, bool read_only, char *err,
		     size_t errlen)
{
	struct stat st;

	snprintf(img->path, sizeof(img->path), "%s", path);
	img->read_only = read_only;
	/* O_NONBLOCK: a FIFO named as backing file must not hang us */
	img->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (img->fd < 0)
		return fail(err, errlen, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(img->fd, &st))
		return fail(err, errlen, "cannot stat '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return fail(err, errlen, "'%s' is not a regular file or block device", path);
	img->file_size = st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(img->fd, BLKGETSIZE64, &img->file_size))
		return fail(err, errlen, "cannot size '%s': %s", path, strerror(errno));
	fcntl(img->fd, F_SETFL, fcntl(img->fd, F_GETFL) & ~O_NONBLOCK);
	return 0;
}

static int load_metadata(struct qcow2_image *img, char *err, size_t errlen)
{
	int ret;

	img->rt_entries = (uint64_t)img->rt_clusters * img->cluster_size / 8;
	if (read_table(img, &img->l1, img->l1_offset, img->l1_size) ||
	    read_table(img, &img->rt, img->rt_offset, img->rt_entries))
		return fail(err, errlen, "cannot read the L1 or refcount table");
	ret = check_tables(img, err, errlen);
	if (ret)
		return ret;
	/* bounded caches: see docs/qcow2.md */
	img->l2_cache = qcow2_cache_new(0, img->cluster_size);
	img->rb_cache = qcow2_cache_new(0, img->cluster_size);
	if (!img->l2_cache || !img->rb_cache)
		return fail(err, errlen, "out of memory");
	return 0;
}

/* Bits we do not maintain (bitmaps) must be cleared by a writer. */
static int clear_autoclear(struct qcow2_image *img, char *err, size_t errlen)
{
	uint64_t zero = 0;

	if (img->read_only || img->version < 3 || !img->autoclear)
		return 0;
	img->autoclear = 0;
	if (qcow2_pwrite(img, &zero, 8, 88) || fdatasync(img->fd))
		return fail(err, errlen, "cannot update the header of '%s'", img->path);
	return 0;
}

static int open_qcow2(struct qcow2_image *img, char *err, size_t errlen)
{
	uint8_t *buf;
	ssize_t n;
	int ret;

	/* the header and its extensions live in cluster 0: at most 2 MiB */
	buf = calloc(1, 1u << QCOW2_MAX_CLUSTER_BITS);
	if (!buf)
		return fail(err, errlen, "out of memory");
	n = pread(img->fd, buf, 1u << QCOW2_MAX_CLUSTER_BITS, 0);
	if (n < 0) {
		free(buf);
		return fail(err, errlen, "cannot read '%s': %s", img->path, strerror(errno));
	}
	ret = qcow2_parse_header(img, buf, n, img->file_size, err, errlen);
	free(buf);
	if (!ret)
		ret = load_metadata(img, err, errlen);
	if (!ret)
		ret = clear_autoclear(img, err, errlen);
	return ret;
}

static struct qcow2_image *open_chain(const char *path, bool read_only, struct stat *chain,
				      int depth, const char *fmt, char *err, size_t errlen)
{
	struct qcow2_image *img = calloc(1, sizeof(*img));
	uint32_t magic = 0;
	int ret;

	if (!img) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	img->fd = -1;
	ret = open_file(img, path, read_only, err, errlen);
	if (ret)
		goto out_err;
	ret = same_file(img->fd, chain, depth);
	if (ret) {
		fail(err, errlen, "backing chain loop at '%s'", path);
		goto out_err;
	}
	fstat(img->fd, &chain[depth]);
	ret = lock_image(img, err, errlen);
	if (ret)
		goto out_err;
	if (pread(img->fd, &magic, 4, 0) == 4 && be32toh(magic) == QCOW2_MAGIC &&
	    strcmp(fmt, "raw")) {
		ret = open_qcow2(img, err, errlen);
	} else if (depth && strcmp(fmt, "qcow2")) {
		img->raw = true;
		img->size = img->file_size;
		img->cluster_bits = 9;
		img->cluster_size = 512;
	} else {
		ret = fail(err, errlen, "'%s' is not a qcow2 image", path);
	}
	if (!ret)
		ret = open_backing(img, chain, depth, err, errlen);
	if (!ret)
		return img;
out_err:
	qcow2_close(img);
	return NULL;
}

struct qcow2_image *qcow2_open(const char *path, bool read_only, char *err, size_t errlen)
{
	struct stat chain[QCOW2_MAX_CHAIN + 1];

	return open_chain(path, read_only, chain, 0, "", err, errlen);
}

void qcow2_close(struct qcow2_image *img)
{
	if (!img)
		return;
	qcow2_close(img->backing);
	if (img->fd >= 0)
		close(img->fd);
	qcow2_cache_free(img->l2_cache);
	qcow2_cache_free(img->rb_cache);
	free(img->l1);
	free(img->rt);
	free(img);
}
