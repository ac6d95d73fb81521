// SPDX-License-Identifier: MIT
/*
 * Hostile qcow2 images: a small valid image built here (no qemu needed),
 * then one broken field at a time. Each must be refused at open with one
 * line (or, for L2 entries, fail the read with -EIO), and the valid one
 * must open and read back.
 *   qcow2-hostile          run the checks
 *   qcow2-hostile DIR      also leave the corpus in DIR (integration tests)
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "qcow2/qcow2.h"

#define CB 16
#define CS (1u << CB)
#define NCL 6 /* header, refcount table, refcount block, L1, L2, data */
#define SIZE (16u << 20)

static uint8_t img[NCL * CS];
static size_t img_len;
static const char *dir;

static void put32(size_t off, uint32_t v)
{
	v = htobe32(v);
	memcpy(img + off, &v, 4);
}

static void put64(size_t off, uint64_t v)
{
	v = htobe64(v);
	memcpy(img + off, &v, 8);
}

static void build_valid(void)
{
	int i;

	memset(img, 0, sizeof(img));
	img_len = sizeof(img);
	put32(0, QCOW2_MAGIC);
	put32(4, 3);
	put32(20, CB);
	put64(24, SIZE);
	put32(36, 1); /* l1_size */
	put64(40, 3 * CS);
	put64(48, 1 * CS);
	put32(56, 1);
	put32(96, 4); /* refcount_order */
	put32(100, 104);
	put64(1 * CS, 2 * CS); /* refcount table -> block */
	for (i = 0; i < NCL; i++)
		img[2 * CS + 2 * i + 1] = 1;
	put64(3 * CS, 4 * CS | QCOW2_OFLAG_COPIED);
	put64(4 * CS, 5 * CS | QCOW2_OFLAG_COPIED);
	memset(img + 5 * CS, 0x5c, CS);
}

static int save(const char *name)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, img, img_len) != (ssize_t)img_len) {
		perror(p);
		exit(1);
	}
	close(fd);
	return 0;
}

static struct qcow2_image *try_open(const char *name, char *err)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	err[0] = 0;
	return qcow2_open(p, false, err, QCOW2_ERRLEN);
}

/* The current image must be refused with one line. */
static void refused(const char *name)
{
	char err[QCOW2_ERRLEN];
	struct qcow2_image *q;

	save(name);
	q = try_open(name, err);
	CHECK(q == NULL);
	CHECK(err[0] && !strchr(err, '\n'));
	if (q)
		fprintf(stderr, "%s: accepted\n", name);
	else
		printf("%-24s refused: %s\n", name, err);
	qcow2_close(q);
	build_valid();
}

/* Opens, but reading guest cluster 0 fails cleanly. */
static void read_fails(const char *name)
{
	char err[QCOW2_ERRLEN];
	struct qcow2_image *q;
	uint8_t buf[512];

	save(name);
	q = try_open(name, err);
	CHECK(q != NULL);
	if (q) {
		CHECK(qcow2_read(q, buf, sizeof(buf), 0) == -EIO);
		CHECK(qcow2_write(q, buf, sizeof(buf), 0) == -EIO);
		printf("%-24s read/write: EIO\n", name);
	}
	qcow2_close(q);
	build_valid();
}

static void valid(void)
{
	char err[QCOW2_ERRLEN];
	struct qcow2_image *q;
	uint8_t buf[CS];

	save("valid.qcow2");
	q = try_open("valid.qcow2", err);
	CHECK(q != NULL);
	if (!q) {
		fprintf(stderr, "valid image refused: %s\n", err);
		return;
	}
	CHECK(qcow2_read(q, buf, CS, 0) == 0 && buf[0] == 0x5c && buf[CS - 1] == 0x5c);
	CHECK(qcow2_read(q, buf, CS, CS) == 0 && buf[0] == 0);
	qcow2_close(q);
}

static void header_fields(void)
{
	img_len = 50;
	refused("truncated.qcow2");
	put32(0, 0x12345678);
	refused("bad-magic.qcow2");
	put32(4, 4);
	refused("version4.qcow2");
	put32(20, 8);
	refused("cluster-bits-8.qcow2");
	put32(20, 22);
	refused("cluster-bits-22.qcow2");
	put32(20, 63);
	refused("cluster-bits-63.qcow2");
	put64(24, 1ull << 62);
	refused("huge-size.qcow2");
	put32(36, 1u << 30);
	refused("huge-l1.qcow2");
	put32(32, 1);
	refused("encrypted.qcow2");
	put32(96, 7);
	refused("refcount-order-7.qcow2");
	put32(100, 100);
	refused("header-length.qcow2");
	put32(100, CS + 8);
	refused("header-length-big.qcow2");
}

static void table_offsets(void)
{
	put64(40, 100 * CS);
	refused("l1-past-eof.qcow2");
	put64(40, 3 * CS + 512);
	refused("l1-unaligned.qcow2");
	put64(40, 1 * CS);
	refused("l1-overlaps-rt.qcow2");
	put64(48, 0);
	refused("rt-in-header.qcow2");
	put64(48, CS + 4096);
	refused("rt-unaligned.qcow2");
	put64(48, 1ull << 50);
	refused("rt-past-eof.qcow2");
	put32(56, 0);
	refused("rt-empty.qcow2");
	put32(56, 1u << 30);
	refused("rt-huge.qcow2");
	put64(3 * CS, 99 * CS | QCOW2_OFLAG_COPIED);
	refused("l2-past-eof.qcow2");
	put64(3 * CS, 4 * CS + 4096);
	refused("l2-unaligned.qcow2");
	put64(3 * CS, 4 * CS | 2);
	refused("l1-reserved-bits.qcow2");
	put64(1 * CS, 77 * CS);
	refused("refblock-past-eof.qcow2");
	put32(64 - 4, 1); /* nb_snapshots with snapshot table offset 0 */
	refused("snapshots-at-0.qcow2");
}

static void features(void)
{
	put64(72, 1ull << 10);
	refused("unknown-incompat.qcow2");
	put64(72, QCOW2_INCOMPAT_CORRUPT);
	refused("corrupt-bit.qcow2");
	put64(72, QCOW2_INCOMPAT_DIRTY);
	put64(80, QCOW2_COMPAT_LAZY_REFCOUNTS);
	refused("dirty-lazy.qcow2");
	put64(72, QCOW2_INCOMPAT_DATA_FILE);
	refused("data-file.qcow2");
	put64(72, QCOW2_INCOMPAT_EXTL2);
	refused("extended-l2.qcow2");
	put64(72, QCOW2_INCOMPAT_COMPRESSION);
	put32(100, 112);
	img[104] = 7;
	refused("compression-type.qcow2");
	put32(104, 0x0537be77); /* full disk encryption header extension */
	put32(108, 16);
	refused("crypto-ext.qcow2");
	put32(104, 0xe2792aca);
	put32(108, CS);
	refused("ext-past-cluster.qcow2");
}

static void set_backing(const char *name)
{
	size_t len = strlen(name);

	put64(8, 512);
	put32(16, len);
	memcpy(img + 512, name, len);
}

static void backing(void)
{
	put64(8, 512);
	put32(16, 0);
	refused("backing-len-0.qcow2");
	put64(8, 1ull << 40);
	put32(16, 10);
	refused("backing-past-eof.qcow2");
	set_backing("missing-base.qcow2");
	refused("backing-missing.qcow2");
	set_backing("loop-self.qcow2");
	refused("loop-self.qcow2");
	set_backing("loop-b.qcow2");
	save("loop-a.qcow2");
	set_backing("loop-a.qcow2");
	refused("loop-b.qcow2");
}

static void l2_entries(void)
{
	put64(4 * CS, (5 * CS + 4096) | QCOW2_OFLAG_COPIED);
	read_fails("data-unaligned.qcow2");
	put64(4 * CS, 5 * CS | 0x100 | QCOW2_OFLAG_COPIED);
	read_fails("l2-reserved-bits.qcow2");
	put64(4 * CS, QCOW2_OFLAG_COMPRESSED | (1ull << 50));
	read_fails("compressed-past-eof.qcow2");
	put64(4 * CS, QCOW2_OFLAG_COMPRESSED | 5 * CS);
	read_fails("compressed-garbage.qcow2");
	put64(4 * CS, 3 * CS | QCOW2_OFLAG_COPIED); /* data = L1 table */
	save("data-is-l1.qcow2");
	{
		char err[QCOW2_ERRLEN];
		struct qcow2_image *q = try_open("data-is-l1.qcow2", err);
		uint8_t buf[512] = { 0 };

		CHECK(q != NULL);
		/* written elsewhere (copy on write), never over the L1 table */
		CHECK(q && qcow2_write(q, buf, sizeof(buf), 0) == 0);
		CHECK(q && (q->l1[0] & QCOW2_OFFSET_MASK) == 4 * CS);
		qcow2_close(q);
	}
	build_valid();
}

/*
 * Refcounts in use past EOF: a few are what a crash leaks (allocation
 * skips them); a block full of them is corrupt and fails, never loops.
 */
static void refcounts_past_eof(void)
{
	char err[QCOW2_ERRLEN];
	struct qcow2_image *q;
	struct qcow2_mapping m;
	uint8_t buf[512] = { 0 };
	uint32_t i;

	img[2 * CS + 2 * NCL + 1] = 1;
	img[2 * CS + 2 * (NCL + 1) + 1] = 1;
	save("leaked-past-eof.qcow2");
	q = try_open("leaked-past-eof.qcow2", err);
	CHECK(q != NULL);
	CHECK(q && qcow2_write(q, buf, sizeof(buf), CS) == 0);
	CHECK(q && qcow2_map(q, CS, &m) == 0 && m.host_off == (NCL + 2) * CS);
	qcow2_close(q);
	for (i = 0; i < CS / 2; i++)
		img[2 * CS + 2 * i + 1] = 1;
	save("refcounts-full.qcow2");
	q = try_open("refcounts-full.qcow2", err);
	CHECK(q != NULL);
	CHECK(q && qcow2_write(q, buf, sizeof(buf), CS) == -EIO);
	printf("%-24s allocation: EIO\n", "refcounts-full.qcow2");
	qcow2_close(q);
	build_valid();
}

/* A writer excludes every other opener, readers share. */
static void locking(void)
{
	char err[QCOW2_ERRLEN], p[512];
	struct qcow2_image *a, *b;

	save("lock.qcow2");
	snprintf(p, sizeof(p), "%s/lock.qcow2", dir);
	a = qcow2_open(p, false, err, sizeof(err));
	CHECK(a != NULL);
	b = qcow2_open(p, true, err, sizeof(err));
	CHECK(b == NULL && strstr(err, "in use"));
	qcow2_close(b);
	qcow2_close(a);
	a = qcow2_open(p, true, err, sizeof(err));
	b = qcow2_open(p, true, err, sizeof(err));
	CHECK(a != NULL && b != NULL);
	qcow2_close(b);
	b = qcow2_open(p, false, err, sizeof(err));
	CHECK(b == NULL);
	qcow2_close(b);
	qcow2_close(a);
}

int main(int argc, char **argv)
{
	char tmp[] = "/tmp/qcow2-hostile.XXXXXX";

	dir = argc > 1 ? argv[1] : mkdtemp(tmp);
	if (!dir)
		return 1;
	build_valid();
	valid();
	header_fields();
	table_offsets();
	features();
	backing();
	l2_entries();
	refcounts_past_eof();
	locking();
	valid();
	if (argc < 2 && !failures) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			failures++;
	}
	return failures ? 1 : 0;
}
