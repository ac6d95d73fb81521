// SPDX-License-Identifier: MIT
/*
 * The qcow2 library against qemu: images made by qemu-img, patterns written
 * by qemu-io and read back through the library; writes through the library
 * checked by `qemu-img check` (clean: no errors, no leaks) and `qemu-img
 * compare` against a raw reference that got the same writes.
 * Skips (77) only when qemu-img or qemu-io is not installed.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "qcow2/qcow2.h"

static char dir[256];
static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Run a shell command; its output goes to dir/log, shown on failure. */
static int sh(const char *fmt, ...)
{
	char cmd[2048], full[2400];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd %s && (%s) >log 2>&1", dir, cmd);
	st = system(full);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (st) {
		fprintf(stderr, "command failed (%d): %s\n", st, cmd);
		snprintf(full, sizeof(full), "cat %s/log >&2", dir);
		if (system(full))
			fprintf(stderr, "(no log)\n");
	}
	return st;
}

static char *path(const char *name)
{
	static char p[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static int save_raw(const char *name, const uint8_t *ref, uint64_t size)
{
	FILE *f = fopen(path(name), "w");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(ref, 1, size, f) == size;
	return fclose(f) || !ok ? -1 : 0;
}

/* The whole guest through the library equals @ref. */
static void check_read(const char *name, const uint8_t *ref, uint64_t size)
{
	char err[QCOW2_ERRLEN];
	struct qcow2_image *img = qcow2_open(path(name), true, err, sizeof(err));
	uint8_t *buf = malloc(size);
	uint64_t i;

	CHECK(img != NULL);
	if (!img) {
		fprintf(stderr, "%s: %s\n", name, err);
		free(buf);
		return;
	}
	CHECK(img->size == size);
	CHECK(qcow2_read(img, buf, size, 0) == 0);
	for (i = 0; i < size && buf[i] == ref[i]; i++)
		;
	if (i < size)
		fprintf(stderr, "%s: first difference at byte %llu\n", name, (unsigned long long)i);
	CHECK(i == size);
	qcow2_close(img);
	free(buf);
}

/* qemu-io writes, mirrored into @ref */
static void qemu_pattern(const char *name, uint8_t *ref, uint64_t size, const char *fmt)
{
	uint64_t off[] = { 0, (1 << 20) + 4096, size - 8192, 4 << 20 };
	uint64_t len[] = { 65536 + 512, 8192, 8192, 1 << 20 };
	int pat[] = { 0xa5, 0x5a, 0x11, 0 };

	CHECK(sh("qemu-io -f %s -c 'write -P %d %llu %llu' -c 'write -P %d %llu %llu' "
		 "-c 'write -P %d %llu %llu' -c 'write -z %llu %llu' %s",
		 fmt, pat[0], (unsigned long long)off[0], (unsigned long long)len[0], pat[1],
		 (unsigned long long)off[1], (unsigned long long)len[1], pat[2],
		 (unsigned long long)off[2], (unsigned long long)len[2], (unsigned long long)off[3],
		 (unsigned long long)len[3], name) == 0);
	for (int i = 0; i < 4; i++)
		memset(ref + off[i], pat[i], len[i]);
}

/* As the target's zero-copy path: prepare the cluster, write at its host offset. */
static int prepared_write(struct qcow2_image *img, uint8_t *ref, uint64_t off, uint64_t len)
{
	uint64_t cs = img->cluster_size, in = off & (cs - 1), host, j;
	uint8_t buf[4096];
	int ret;

	len = len < cs - in ? len : cs - in;
	len = len < sizeof(buf) ? len : sizeof(buf);
	for (j = 0; j < len; j++)
		buf[j] = rnd() >> 24;
	ret = qcow2_prepare_write(img, off, &host);
	if (ret)
		return ret;
	if (pwrite(img->fd, buf, len, host + in) != (ssize_t)len)
		return -EIO;
	memcpy(ref + off, buf, len);
	return 0;
}

/* Random writes and zeroings through the library, mirrored into @ref. */
static void lib_writes(const char *name, uint8_t *ref, uint64_t size, int nr, uint64_t maxlen)
{
	char err[QCOW2_ERRLEN];
	struct qcow2_image *img = qcow2_open(path(name), false, err, sizeof(err));
	uint8_t *buf = malloc(maxlen);
	uint64_t off, len, j;
	int i, ret;

	CHECK(img != NULL);
	if (!img) {
		fprintf(stderr, "%s: %s\n", name, err);
		free(buf);
		return;
	}
	for (i = 0; i < nr; i++) {
		len = 1 + rnd() % maxlen;
		off = rnd() % (size - len + 1);
		if (i % 10 == 9) {
			ret = qcow2_zero(img, len, off, i % 20 == 19);
			memset(ref + off, 0, len);
		} else if (i % 10 == 4) {
			ret = prepared_write(img, ref, off, len);
		} else {
			for (j = 0; j < len; j++)
				buf[j] = rnd() >> 24;
			ret = qcow2_write(img, buf, len, off);
			memcpy(ref + off, buf, len);
		}
		CHECK(ret == 0);
		if (ret) {
			fprintf(stderr, "%s: op %d at %llu+%llu: %s\n", name, i,
				(unsigned long long)off, (unsigned long long)len, strerror(-ret));
			break;
		}
	}
	CHECK(qcow2_flush(img) == 0);
	qcow2_close(img);
	free(buf);
}

/* Clean check (no errors, no leaks) and identical to the raw reference. */
static void verify(const char *name, const uint8_t *ref, uint64_t size)
{
	check_read(name, ref, size);
	CHECK(sh("qemu-img check -f qcow2 %s", name) == 0);
	CHECK(save_raw("ref.raw", ref, size) == 0);
	CHECK(sh("qemu-img compare -f qcow2 -F raw %s ref.raw", name) == 0);
}

static void test_plain(uint64_t cs, const char *compat, const char *extra, uint64_t size)
{
	uint8_t *ref = calloc(1, size);
	uint64_t maxlen = 3 * cs < (256 << 10) ? 3 * cs : 256 << 10;

	fprintf(stderr, "plain: cluster %llu compat %s %s\n", (unsigned long long)cs, compat,
		extra);
	CHECK(sh("qemu-img create -f qcow2 -o cluster_size=%llu,compat=%s%s t.qcow2 %llu",
		 (unsigned long long)cs, compat, extra, (unsigned long long)size) == 0);
	qemu_pattern("t.qcow2", ref, size, "qcow2");
	check_read("t.qcow2", ref, size);
	lib_writes("t.qcow2", ref, size, 300, maxlen);
	verify("t.qcow2", ref, size);
	/* and qemu keeps working on what we wrote */
	qemu_pattern("t.qcow2", ref, size, "qcow2");
	verify("t.qcow2", ref, size);
	free(ref);
}

/* Fill every cluster of a small-cluster image: new refcount blocks and a
 * refcount table that must grow (one 512 B table cluster covers 8 MiB). */
static void test_growth(void)
{
	uint64_t size = 24 << 20, off, j;
	uint8_t *ref = malloc(size);
	struct qcow2_image *img;
	char err[QCOW2_ERRLEN];
	uint32_t rt0;

	fprintf(stderr, "refcount table growth\n");
	for (j = 0; j < size; j++)
		ref[j] = rnd() >> 32;
	CHECK(sh("qemu-img create -f qcow2 -o cluster_size=512 g.qcow2 %llu",
		 (unsigned long long)size) == 0);
	img = qcow2_open(path("g.qcow2"), false, err, sizeof(err));
	CHECK(img != NULL);
	if (!img) {
		free(ref);
		return;
	}
	rt0 = img->rt_clusters;
	for (off = 0; off < size; off += 1 << 20)
		CHECK(qcow2_write(img, ref + off, 1 << 20, off) == 0);
	CHECK(img->rt_clusters > rt0);
	qcow2_close(img);
	verify("g.qcow2", ref, size);
	free(ref);
}

static void test_backing(const char *bfmt, uint64_t cs, const char *compat)
{
	uint64_t bsize = 16 << 20, size = 24 << 20;
	uint8_t *ref = calloc(1, size);
	const char *base = !strcmp(bfmt, "raw") ? "base.raw" : "base.qcow2";

	fprintf(stderr, "backing %s: cluster %llu compat %s\n", bfmt, (unsigned long long)cs,
		compat);
	CHECK(sh("rm -f base.raw base.qcow2 top.qcow2 && qemu-img create -f %s %s %llu", bfmt, base,
		 (unsigned long long)bsize) == 0);
	qemu_pattern(base, ref, bsize, bfmt);
	/* a top larger than its base: the tail reads as zeroes */
	CHECK(sh("qemu-img create -f qcow2 -o cluster_size=%llu,compat=%s -b %s -F %s "
		 "top.qcow2 %llu",
		 (unsigned long long)cs, compat, base, bfmt, (unsigned long long)size) == 0);
	CHECK(sh("qemu-io -f qcow2 -c 'write -P 0x33 %llu 4096' top.qcow2",
		 (unsigned long long)(2 << 20)) == 0);
	memset(ref + (2 << 20), 0x33, 4096);
	check_read("top.qcow2", ref, size);
	lib_writes("top.qcow2", ref, size, 200, 3 * cs);
	verify("top.qcow2", ref, size);
	free(ref);
}

static void test_compressed(const char *ctype)
{
	uint64_t size = 8 << 20, j;
	uint8_t *ref = malloc(size);

	fprintf(stderr, "compressed %s\n", ctype);
	/* compressible but not trivial: runs of random bytes */
	for (j = 0; j < size; j += 64)
		memset(ref + j, (rnd() % 4) ? (int)(rnd() >> 40) : 0, 64);
	CHECK(save_raw("c.raw", ref, size) == 0);
	CHECK(sh("rm -f c.qcow2 && qemu-img convert -c -f raw -O qcow2 -o compression_type=%s "
		 "c.raw c.qcow2",
		 ctype) == 0);
	check_read("c.qcow2", ref, size);
	lib_writes("c.qcow2", ref, size, 200, 100000);
	verify("c.qcow2", ref, size);
	free(ref);
}

/* An internal snapshot survives writes to the active image. */
static void test_snapshot(void)
{
	uint64_t size = 8 << 20;
	uint8_t *ref = calloc(1, size), *snap = malloc(size);

	fprintf(stderr, "internal snapshot\n");
	CHECK(sh("rm -f s.qcow2 && qemu-img create -f qcow2 s.qcow2 %llu",
		 (unsigned long long)size) == 0);
	qemu_pattern("s.qcow2", ref, size, "qcow2");
	memcpy(snap, ref, size);
	CHECK(sh("qemu-img snapshot -c s1 s.qcow2") == 0);
	lib_writes("s.qcow2", ref, size, 200, 200000);
	verify("s.qcow2", ref, size);
	CHECK(save_raw("snap.raw", snap, size) == 0);
	CHECK(sh("qemu-img convert -l snapshot.name=s1 -O raw s.qcow2 s1.raw && "
		 "cmp s1.raw snap.raw") == 0);
	free(ref);
	free(snap);
}

/*
 * ---- crash at every write: the image stays consistent, data is old or new,
 * and it keeps working: the ops left (from the one cut short) complete on it
 */

struct op {
	uint64_t off, len, seed;
	bool zero;
};

static void op_bytes(const struct op *o, uint8_t *dst)
{
	uint64_t x = o->seed | 1, j;

	for (j = 0; j < o->len; j++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		dst[j] = o->zero ? 0 : x >> 32;
	}
}

static int run_ops(struct qcow2_image *img, const struct op *ops, int nr, int progress_fd)
{
	uint8_t *buf = malloc(1 << 20);
	int i, ret = 0;

	for (i = 0; i < nr && !ret; i++) {
		op_bytes(&ops[i], buf);
		ret = ops[i].zero ? qcow2_zero(img, ops[i].len, ops[i].off, true) :
				    qcow2_write(img, buf, ops[i].len, ops[i].off);
		if (!ret && progress_fd >= 0 && write(progress_fd, &i, sizeof(i)) != sizeof(i))
			ret = -EIO;
		if (ret && progress_fd < 0)
			fprintf(stderr, "op %d (%s %llu+%llu): %s\n", i,
				ops[i].zero ? "zero" : "write", (unsigned long long)ops[i].off,
				(unsigned long long)ops[i].len, strerror(-ret));
	}
	free(buf);
	return ret;
}

/* Child: apply the ops to c.qcow2 and die before write number @n. */
static void crash_child(const struct op *ops, int nr, unsigned long n, int fd)
{
	char err[QCOW2_ERRLEN];
	struct qcow2_image *img = qcow2_open(path("c.qcow2"), false, err, sizeof(err));

	if (!img)
		_exit(2);
	qcow2_test_crash_after = n;
	run_ops(img, ops, nr, fd);
	_exit(0);
}

/* Bytes equal @ref, or within op @o the bytes @o writes. */
static bool old_or_new(const uint8_t *got, const uint8_t *ref, const struct op *o, uint8_t *tmp,
		       uint64_t size)
{
	uint64_t j;

	if (o)
		op_bytes(o, tmp);
	for (j = 0; j < size; j++) {
		if (got[j] == ref[j])
			continue;
		if (o && j >= o->off && j < o->off + o->len && got[j] == tmp[j - o->off])
			continue;
		fprintf(stderr, "byte %llu: 0x%02x, expected 0x%02x\n", (unsigned long long)j,
			got[j], ref[j]);
		return false;
	}
	return true;
}

/* One crash point: returns the number of ops that completed, or -1. */
static int crash_once(const struct op *ops, int nr, unsigned long n)
{
	int p[2], done = 0, i, st;
	pid_t pid;

	if (sh("cp c0.qcow2 c.qcow2") || pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(p[0]);
		crash_child(ops, nr, n, p[1]);
	}
	close(p[1]);
	while (read(p[0], &i, sizeof(i)) == sizeof(i))
		done = i + 1;
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    (WEXITSTATUS(st) != 86 && WEXITSTATUS(st) != 0))
		return -1;
	return done;
}

/* qemu-img check: 0 clean, 3 leaks only; anything else is corruption. */
static bool check_no_corruption(void)
{
	char full[600];
	int st;

	snprintf(full, sizeof(full), "cd %s && qemu-img check c.qcow2 >log 2>&1", dir);
	st = system(full);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (st == 0 || st == 3)
		return true;
	snprintf(full, sizeof(full), "cat %s/log >&2", dir);
	if (system(full))
		fprintf(stderr, "(no log)\n");
	return false;
}

/* After a crash, as a restarted daemon: the ops left, then all of @fin reads back. */
static bool resume(const struct op *ops, int nr, const uint8_t *fin, uint8_t *got, uint64_t size)
{
	char err[QCOW2_ERRLEN];
	struct qcow2_image *img = qcow2_open(path("c.qcow2"), false, err, sizeof(err));
	bool ok;

	if (!img) {
		fprintf(stderr, "reopen after the crash: %s\n", err);
		return false;
	}
	ok = run_ops(img, ops, nr, -1) == 0 && qcow2_read(img, got, size, 0) == 0;
	qcow2_close(img);
	return ok && check_no_corruption() && old_or_new(got, fin, NULL, NULL, size);
}

/*
 * Fill c0.qcow2 below guest offset @lo until the host clusters in use come
 * within 20 of what the refcount table covers: the ops then grow it.
 */
static void prefill_to_table_end(uint64_t lo)
{
	struct qcow2_image *img;
	char err[QCOW2_ERRLEN];
	uint8_t buf[4096];
	uint64_t off, cover;

	memset(buf, 0x3c, sizeof(buf));
	img = qcow2_open(path("c0.qcow2"), false, err, sizeof(err));
	CHECK(img != NULL);
	if (!img)
		return;
	cover = img->rt_entries << img->rb_bits;
	for (off = 0; off + sizeof(buf) <= lo; off += sizeof(buf)) {
		if ((img->file_size >> img->cluster_bits) + 20 >= cover)
			break;
		CHECK(qcow2_write(img, buf, sizeof(buf), off) == 0);
	}
	CHECK(off + sizeof(buf) <= lo);
	qcow2_close(img);
}

static void crash_scenario(const char *name, const char *setup, uint64_t size, uint64_t lo,
			   uint64_t maxlen, bool grows)
{
	uint32_t rt0;
	struct op ops[24];
	uint8_t *ref = malloc(size), *got = malloc(size), *tmp = malloc(1 << 20),
		*fin = malloc(size);
	unsigned long total = 1000000000ul, n;
	struct qcow2_image *img;
	char err[QCOW2_ERRLEN];
	int nr = 24, i, done, points = 0;

	fprintf(stderr, "crash at every write: %s\n", name);
	CHECK(sh("rm -f c0.qcow2 c.qcow2 base.qcow2 && %s", setup) == 0);
	for (i = 0; i < nr; i++) {
		ops[i].len = 1 + rnd() % maxlen;
		ops[i].off = lo + rnd() % (size - lo - ops[i].len + 1);
		ops[i].seed = rnd();
		ops[i].zero = i % 6 == 5;
	}
	if (grows)
		prefill_to_table_end(lo);
	/* how many writes the whole run makes */
	CHECK(sh("cp c0.qcow2 c.qcow2") == 0);
	img = qcow2_open(path("c.qcow2"), false, err, sizeof(err));
	CHECK(img != NULL);
	if (!img)
		goto out;
	qcow2_test_crash_after = total;
	rt0 = img->rt_clusters;
	CHECK(run_ops(img, ops, nr, -1) == 0);
	/* the scenario exercises what it says */
	CHECK(!grows || img->rt_clusters > rt0);
	total -= qcow2_test_crash_after;
	qcow2_test_crash_after = 0;
	CHECK(qcow2_read(img, fin, size, 0) == 0);
	qcow2_close(img);
	img = qcow2_open(path("c0.qcow2"), true, err, sizeof(err));
	CHECK(img && qcow2_read(img, ref, size, 0) == 0);
	qcow2_close(img);
	for (n = 1, i = 0; n <= total && !failures; n++) {
		done = crash_once(ops, nr, n);
		CHECK(done >= 0);
		if (done < 0)
			break;
		for (; i < done; i++) {
			/* the reference follows the ops that completed */
			op_bytes(&ops[i], tmp);
			memcpy(ref + ops[i].off, tmp, ops[i].len);
		}
		CHECK(check_no_corruption());
		img = qcow2_open(path("c.qcow2"), true, err, sizeof(err));
		CHECK(img && qcow2_read(img, got, size, 0) == 0);
		qcow2_close(img);
		CHECK(old_or_new(got, ref, done < nr ? &ops[done] : NULL, tmp, size));
		CHECK(resume(ops + done, nr - done, fin, got, size));
		if (failures)
			fprintf(stderr, "%s: crash before write %lu of %lu (op %d)\n", name, n,
				total, done);
		points++;
	}
	fprintf(stderr,
		"  %d crash points of %lu writes: no corruption, data old or new, resumed to the end\n",
		points, total);
out:
	free(fin);
	free(ref);
	free(got);
	free(tmp);
}

static void test_crash(void)
{
	/* the same ops whatever ran before */
	rng = 0x9e3779b97f4a7c15ull;
	/* filled up to the table's end below 8 MiB: the ops above grow it */
	crash_scenario("512 B clusters, refcount table growth",
		       "qemu-img create -q -f qcow2 -o cluster_size=512 c0.qcow2 16M", 16 << 20,
		       8 << 20, 3000, true);
	crash_scenario("64 KiB clusters, compressed, internal snapshot",
		       "seq 1000001 1524288 > src.raw && "
		       "qemu-img convert -c -O qcow2 src.raw c0.qcow2 && "
		       "qemu-img snapshot -c s1 c0.qcow2",
		       4 << 20, 0, 150000, false);
	crash_scenario("4 KiB clusters, v2, qcow2 backing file",
		       "qemu-img create -q -f qcow2 base.qcow2 8M && "
		       "qemu-io -c 'write -P 9 0 8M' base.qcow2 && "
		       "qemu-img create -q -f qcow2 -o cluster_size=4096,compat=0.10 "
		       "-b base.qcow2 -F qcow2 c0.qcow2",
		       8 << 20, 0, 20000, false);
}

static int have(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

int main(void)
{
	const char *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";

	if (!have("qemu-img") || !have("qemu-io")) {
		fprintf(stderr, "SKIP: qemu-img/qemu-io not installed\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "%s/qcow2-test.XXXXXX", base);
	if (!mkdtemp(dir))
		return 1;
	if (getenv("QCOW2_TEST_CRASH_ONLY")) {
		test_crash();
		goto out;
	}
	test_plain(4096, "0.10", "", 32 << 20);
	test_plain(65536, "1.1", "", 32 << 20);
	test_plain(2 << 20, "1.1", "", 64 << 20);
	test_plain(65536, "1.1", ",refcount_bits=1", 32 << 20);
	test_plain(4096, "1.1", ",refcount_bits=64", 32 << 20);
	test_growth();
	test_backing("qcow2", 65536, "1.1");
	test_backing("qcow2", 4096, "0.10");
	test_backing("raw", 65536, "1.1");
	test_compressed("zlib");
#ifdef HAVE_ZSTD
	test_compressed("zstd");
#endif
	test_snapshot();
	test_crash();
out:
	if (!failures)
		sh("rm -rf %s", dir);
	else
		fprintf(stderr, "files kept in %s\n", dir);
	return failures ? 1 : 0;
}
