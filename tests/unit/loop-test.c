// SPDX-License-Identifier: MIT
/*
 * Unit test for targets/loop.c against a fake queue (fake_queue.c): setup
 * and teardown on a temporary file, the SQEs each request turns into in
 * every data mode, the CQE bookkeeping, and real data through an io_uring
 * with a regular file standing in for /dev/ublkcN. No ublk driver needed.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_queue.h"
#include "targets.h"

#include "check.h"

#define DEPTH 4
#define Q_ID 1 /* user-copy positions stay within any file size limit */
#define BUF_SIZE (64U << 10) /* per tag */
#define FILE_SIZE (1U << 20)

static struct ublk_dev dev;
static struct ublk_queue q;
static struct ublk_io ios[DEPTH];
static struct ublksrv_io_desc iods[DEPTH];
static char *bufs;
static char tmpdir[PATH_MAX];
static char img[PATH_MAX + 16];
/* a sparse file stands in for /dev/ublkcN: dev.cdev_fd, fixed file 0 */
static char cdev_path[PATH_MAX + 16];
static int cdev_fd = -1;

static void *buf_of(int tag)
{
	return bufs + (size_t)tag * BUF_SIZE;
}

static __u64 addr_of(int tag)
{
	return (__u64)(uintptr_t)buf_of(tag);
}

/* A fresh queue of DEPTH tags in @mode; the target is not initialised. */
static void setup(enum ublk_data_mode mode)
{
	int i;

	memset(&dev, 0, sizeof(dev));
	memset(&q, 0, sizeof(q));
	memset(ios, 0, sizeof(ios));
	memset(iods, 0, sizeof(iods));
	dev.ops = &loop_tgt_ops;
	dev.data_mode = mode;
	dev.cdev_fd = cdev_fd;
	dev.params.basic.logical_bs_shift = 9; /* as ublk_dev_create() does */
	/* as loop_init() says for a file that can punch holes */
	dev.params.discard.max_discard_sectors = UINT_MAX >> 9;
	q.dev = &dev;
	q.q_id = Q_ID;
	q.depth = DEPTH;
	q.ios = ios;
	q.iods = iods;
	q.iods_len = sizeof(iods);
	for (i = 0; i < DEPTH; i++)
		ios[i].buf = mode == UBLK_DATA_AUTO_ZC ? NULL : buf_of(i);
	fake_reset();
}

/* What lib/queue.c does when the kernel hands over request @tag. */
static int start(int tag, __u32 op_flags, __u64 sector, __u32 nr_sectors)
{
	struct ublk_io *io = &ios[tag];

	iods[tag].op_flags = op_flags;
	iods[tag].nr_sectors = nr_sectors;
	iods[tag].start_sector = sector;
	iods[tag].addr = io->buf ? addr_of(tag) : 0;
	io->result = 0;
	io->pending = 0;
	io->flags |= UBLK_IO_IN_TGT;
	q.tgt_inflight++;
	return loop_tgt_ops.queue_io(&q, tag, &iods[tag]);
}

/* Complete fake SQE @i with @res, as lib/queue.c routes target CQEs. */
static void cqe(int i, int res)
{
	struct io_uring_cqe c = { .user_data = fake.sqes[i].user_data, .res = res };

	CHECK(ublk_ud_is_tgt(c.user_data));
	loop_tgt_ops.io_done(&q, ublk_ud_tag(c.user_data), &c);
}

/* The single completion so far was for @tag, after its last CQE. */
static int done_res(int tag)
{
	if (fake.nr_done != 1) {
		fprintf(stderr, "  expected 1 completion, got %d\n", fake.nr_done);
		failures++;
		return INT_MIN;
	}
	CHECK(fake.done[0].tag == tag);
	CHECK(fake.done[0].pending == 0);
	CHECK(!(ios[tag].flags & UBLK_IO_IN_TGT));
	return fake.done[0].res;
}

struct want {
	__u8 opcode;
	__s32 fd;
	__u8 flags;
	__u64 addr;
	__u32 len;
	__u64 off;
	__u32 rw_flags; /* also fsync_flags */
	__u16 buf_index;
	int tag;
};

static void check_sqe(int line, int i, const struct want *w)
{
	const struct io_uring_sqe *s = &fake.sqes[i];

	if (i >= fake.nr_sqes) {
		fprintf(stderr, "%s:%d: FAILED: no SQE %d (%d queued)\n", __FILE__, line, i,
			fake.nr_sqes);
		failures++;
		return;
	}
#define FIELD(got, exp)                                                                      \
	do {                                                                                 \
		if ((__u64)(got) != (__u64)(exp)) {                                          \
			fprintf(stderr, "%s:%d: FAILED: sqe[%d] %s = 0x%llx, want 0x%llx\n", \
				__FILE__, line, i, #got, (unsigned long long)(got),          \
				(unsigned long long)(exp));                                  \
			failures++;                                                          \
		}                                                                            \
	} while (0)
	FIELD(s->opcode, w->opcode);
	FIELD(s->fd, w->fd);
	FIELD(s->flags, w->flags);
	FIELD(s->addr, w->addr);
	FIELD(s->len, w->len);
	FIELD(s->off, w->off);
	FIELD(s->rw_flags, w->rw_flags);
	FIELD(s->buf_index, w->buf_index);
	FIELD(s->ioprio, 0);
	FIELD(s->personality, 0);
	FIELD(s->file_index, 0);
	FIELD(s->addr3, 0);
	FIELD(ublk_ud_is_tgt(s->user_data), 1);
	FIELD(ublk_ud_tag(s->user_data), w->tag);
#undef FIELD
}

#define CHECK_SQE(i, ...)                         \
	do {                                      \
		struct want w_ = { __VA_ARGS__ }; \
		check_sqe(__LINE__, i, &w_);      \
	} while (0)

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d) {
		perror("/proc/self/fd");
		exit(2);
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* the target's private options, filled through its option table as the CLI does */
static _Alignas(16) unsigned char tgt_opts[256];

static void set_opt(const char *name, const char *arg)
{
	const struct ublk_tgt_opt *t;
	char err[128] = "";

	for (t = loop_tgt_ops.opts; t && t->name; t++)
		if (!strcmp(t->name, name))
			break;
	CHECK(t && t->name);
	if (t && t->name)
		CHECK(t->parse(tgt_opts, arg, err, sizeof(err)) == 0 && !err[0]);
}

static void opts_init(struct ublk_dev_opts *o, const char *file)
{
	memset(o, 0, sizeof(*o));
	CHECK(loop_tgt_ops.opts_size <= sizeof(tgt_opts));
	memset(tgt_opts, 0, sizeof(tgt_opts));
	o->tgt = &loop_tgt_ops;
	o->dev_id = -1;
	o->nr_queues = 1;
	o->depth = DEPTH;
	o->max_io_bytes = BUF_SIZE;
	o->tgt_opts = tgt_opts;
	if (file)
		set_opt("file", file);
}

/* The table itself: -f FILE (ublksrv's spelling) and --buffered_io. */
static void test_opt_table(void)
{
	const struct ublk_tgt_opt *t = loop_tgt_ops.opts;
	char err[128] = "";

	CHECK(t && !strcmp(t[0].name, "file") && t[0].short_name == 'f' && t[0].has_arg);
	CHECK(t && (t[0].flags & UBLK_TGT_OPT_PATH) && (t[0].flags & UBLK_TGT_OPT_REQUIRED));
	CHECK(t && !strcmp(t[1].name, "buffered_io") && !t[1].has_arg && !t[1].short_name);
	CHECK(t && !t[2].name);
	if (!t)
		return;
	memset(tgt_opts, 0, sizeof(tgt_opts));
	CHECK(t[0].parse(tgt_opts, "", err, sizeof(err)) == -EINVAL && err[0]);
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* ---- init / deinit ---------------------------------------------------- */

/* What O_DIRECT on @path needs, as its filesystem says (512 if unknown). */
static unsigned int expected_bs_shift(const char *path, bool buffered)
{
	struct statx stx;

	if (buffered || statx(AT_FDCWD, path, 0, STATX_DIOALIGN, &stx) ||
	    !(stx.stx_mask & STATX_DIOALIGN) || stx.stx_dio_offset_align <= 512)
		return 9;
	return __builtin_ctz(stx.stx_dio_offset_align);
}

static void check_dump(const char *file, bool direct)
{
	char want[PATH_MAX], text[2 * PATH_MAX];
	json_t *obj = json_object();
	struct stat st;
	char *t;

	CHECK(obj && loop_tgt_ops.dump_json(&dev, obj) == 0);
	CHECK(realpath(file, want) != NULL);
	CHECK(stat(file, &st) == 0);
	/* the documented fields, in the documented order (docs/json-schema.md) */
	snprintf(text, sizeof(text),
		 "{\"file\":\"%s\",\"dev_size\":%u,\"direct_io\":%s,\"block_device\":false,"
		 "\"backing_dev\":%llu,\"backing_ino\":%llu}",
		 want, FILE_SIZE, direct ? "true" : "false", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	t = json_dumps(obj, JSON_COMPACT);
	CHECK(t && !strcmp(t, text));
	if (t && strcmp(t, text))
		fprintf(stderr, "got  %s\nwant %s\n", t, text);
	free(t);
	json_decref(obj);
}

static void test_init_ok(bool buffered)
{
	struct ublk_dev_opts o;
	int nfd = count_fds();
	int fd, fl;

	setup(UBLK_DATA_COPY);
	opts_init(&o, img);
	if (buffered)
		set_opt("buffered_io", NULL);
	CHECK(loop_tgt_ops.init(&dev, &o) == 0);
	CHECK(dev.errmsg[0] == '\0');
	CHECK(dev.tgt.dev_size == FILE_SIZE);
	CHECK(dev.tgt.nr_fds == 1);
	CHECK(dev.tgt.priv != NULL);
	CHECK(count_fds() == nfd + 1);
	fd = dev.tgt.fds[0];
	CHECK(fd >= 0 && fd_is_open(fd));
	fl = fcntl(fd, F_GETFL);
	CHECK((fl & O_ACCMODE) == O_RDWR);
	CHECK(!!(fl & O_DIRECT) == !buffered);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	CHECK((dev.params.basic.attrs & (UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA)) ==
	      (UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA));
	CHECK(!(dev.params.basic.attrs & UBLK_ATTR_READ_ONLY));
	CHECK(dev.params.basic.logical_bs_shift == expected_bs_shift(img, buffered));
	CHECK(dev.params.types & UBLK_PARAM_TYPE_DISCARD);
	CHECK(dev.params.discard.discard_granularity == 4096);
	CHECK(dev.params.discard.max_discard_sectors == UINT_MAX >> 9);
	CHECK(dev.params.discard.max_write_zeroes_sectors == UINT_MAX >> 9);
	CHECK(dev.params.discard.max_discard_segments == 1);
	check_dump(img, !buffered);

	loop_tgt_ops.deinit(&dev);
	CHECK(!fd_is_open(fd));
	CHECK(count_fds() == nfd);
	CHECK(dev.tgt.priv == NULL);
	CHECK(dev.tgt.nr_fds == 0);
	loop_tgt_ops.deinit(&dev); /* a second deinit is harmless */
	CHECK(count_fds() == nfd);
}

/* A relative path is recorded as the absolute path it resolved to. */
static void test_init_relative(void)
{
	char cwd[PATH_MAX];
	struct ublk_dev_opts o;

	if (!getcwd(cwd, sizeof(cwd)) || chdir(tmpdir)) {
		perror("chdir");
		failures++;
		return;
	}
	setup(UBLK_DATA_COPY);
	opts_init(&o, "img");
	CHECK(loop_tgt_ops.init(&dev, &o) == 0);
	if (!dev.tgt.priv) {
		CHECK(chdir(cwd) == 0);
		return;
	}
	check_dump("img", true);
	CHECK(chdir(cwd) == 0);
	check_dump(img, true);
	loop_tgt_ops.deinit(&dev);
}

/* init must fail with -@err (0: any), say why, and leave nothing open. */
static void check_init_fails(int line, const char *file, int err, const char *needle)
{
	struct ublk_dev_opts o;
	int nfd = count_fds();
	int ret;

	setup(UBLK_DATA_COPY);
	opts_init(&o, file);
	ret = loop_tgt_ops.init(&dev, &o);
	if (ret >= 0 || (err && ret != -err)) {
		fprintf(stderr, "%s:%d: FAILED: init(%s) = %d, want %d\n", __FILE__, line,
			file ?: "NULL", ret, err ? -err : -1);
		failures++;
	}
	if (!dev.errmsg[0] || (needle && !strstr(dev.errmsg, needle))) {
		fprintf(stderr, "%s:%d: FAILED: message '%s' lacks '%s'\n", __FILE__, line,
			dev.errmsg, needle ?: "");
		failures++;
	}
	if (count_fds() != nfd) {
		fprintf(stderr, "%s:%d: FAILED: %d fds open, want %d\n", __FILE__, line,
			count_fds(), nfd);
		failures++;
	}
	CHECK(dev.tgt.priv == NULL);
	CHECK(dev.tgt.nr_fds == 0);
	CHECK(dev.tgt.dev_size == 0);
	CHECK(!(dev.params.types & UBLK_PARAM_TYPE_DISCARD));
	loop_tgt_ops.deinit(&dev); /* what ublk_dev_create() would not call */
	CHECK(count_fds() == nfd);
}

static void test_init_errors(void)
{
	char path[PATH_MAX + 16];

	check_init_fails(__LINE__, NULL, EINVAL, "-f");

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	check_init_fails(__LINE__, path, ENOENT, "missing");
	CHECK(strstr(dev.errmsg, strerror(ENOENT)) != NULL);

	check_init_fails(__LINE__, tmpdir, 0, NULL);

	/* opens (buffered, after O_DIRECT is refused) but is no disk */
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	if (mkfifo(path, 0600) == 0) {
		check_init_fails(__LINE__, path, EINVAL, "not a regular file");
		unlink(path);
	} else {
		perror("mkfifo");
		failures++;
	}
	if (access("/dev/null", R_OK | W_OK) == 0)
		check_init_fails(__LINE__, "/dev/null", EINVAL, "not a regular file");
}

/* ---- data helpers ------------------------------------------------------- */

static void fill(void *p, size_t len, unsigned int seed)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		b[i] = seed >> 16;
	}
}

static bool file_has(int fd, __u64 off, const void *want, size_t len)
{
	char *got = malloc(len);
	bool ok;

	if (!got) {
		perror("malloc");
		exit(2);
	}
	ok = pread(fd, got, len, off) == (ssize_t)len && !memcmp(got, want, len);
	free(got);
	return ok;
}

static bool file_is_zero(int fd, __u64 off, size_t len)
{
	char *zero = calloc(1, len);
	bool ok;

	if (!zero) {
		perror("calloc");
		exit(2);
	}
	ok = file_has(fd, off, zero, len);
	free(zero);
	return ok;
}

/*
 * pread/pwrite are wrapped (-Wl,--wrap in Makefile.am): on inject.fd, the
 * next inject.eintr calls fail with EINTR and each transfers at most
 * inject.max bytes (0: all), so that the user copy's loop is seen to work.
 */
static struct {
	int fd;
	int eintr;
	size_t max;
	int calls;
} inject = { .fd = -2 };

ssize_t __real_pread(int fd, void *buf, size_t count, off_t off);
ssize_t __real_pwrite(int fd, const void *buf, size_t count, off_t off);
ssize_t __wrap_pread(int fd, void *buf, size_t count, off_t off);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t count, off_t off);

static void inject_on(int fd, int eintr, size_t max)
{
	inject.fd = fd;
	inject.eintr = eintr;
	inject.max = max;
	inject.calls = 0;
}

static void inject_off(void)
{
	inject.fd = -2;
}

/* Whether to fail this call with EINTR; else the count to pass on. */
static bool inject_call(int fd, size_t *count)
{
	if (fd != inject.fd)
		return false;
	inject.calls++;
	if (inject.eintr > 0) {
		inject.eintr--;
		errno = EINTR;
		return true;
	}
	if (inject.max && *count > inject.max)
		*count = inject.max;
	return false;
}

ssize_t __wrap_pread(int fd, void *buf, size_t count, off_t off)
{
	return inject_call(fd, &count) ? -1 : __real_pread(fd, buf, count, off);
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t count, off_t off)
{
	return inject_call(fd, &count) ? -1 : __real_pwrite(fd, buf, count, off);
}

/* ---- queue_io: the SQEs of each request --------------------------------- */

static void test_copy_mode(void)
{
	/* READ */
	setup(UBLK_DATA_COPY);
	CHECK(start(1, UBLK_IO_OP_READ, 8, 16) == 1);
	CHECK(fake.nr_sqes == 1);
	CHECK_SQE(0, .opcode = IORING_OP_READ, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = addr_of(1), .len = 16 * 512, .off = 8 * 512, .tag = 1);
	CHECK(ios[1].pending == 1);
	CHECK(fake.nr_done == 0);
	cqe(0, 16 * 512);
	CHECK(done_res(1) == 16 * 512);
	CHECK(q.tgt_inflight == 0);

	/* WRITE */
	setup(UBLK_DATA_COPY);
	CHECK(start(2, UBLK_IO_OP_WRITE, 100, 8) == 1);
	CHECK(fake.nr_sqes == 1);
	CHECK_SQE(0, .opcode = IORING_OP_WRITE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = addr_of(2), .len = 8 * 512, .off = 100 * 512, .tag = 2);
	cqe(0, -EIO);
	CHECK(done_res(2) == -EIO);

	/* WRITE with FUA: RWF_DSYNC */
	setup(UBLK_DATA_COPY);
	CHECK(start(0, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 0, 1) == 1);
	CHECK_SQE(0, .opcode = IORING_OP_WRITE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = addr_of(0), .len = 512, .off = 0, .rw_flags = RWF_DSYNC, .tag = 0);

	/* FUA means nothing to a READ */
	setup(UBLK_DATA_COPY);
	CHECK(start(3, UBLK_IO_OP_READ | UBLK_IO_F_FUA, 0, 1) == 1);
	CHECK_SQE(0, .opcode = IORING_OP_READ, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = addr_of(3), .len = 512, .tag = 3);

	/* offsets past 4G sectors and the largest I/O are not truncated */
	setup(UBLK_DATA_COPY);
	CHECK(start(3, UBLK_IO_OP_READ, 1ULL << 33, (32U << 20) >> 9) == 1);
	CHECK_SQE(0, .opcode = IORING_OP_READ, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = addr_of(3), .len = 32U << 20, .off = 1ULL << 42, .tag = 3);

	/* a short read is passed on as is: the kernel ends it partially */
	setup(UBLK_DATA_COPY);
	CHECK(start(1, UBLK_IO_OP_READ, 0, 8) == 1);
	cqe(0, 512);
	CHECK(done_res(1) == 512);
}

/* Fill @len bytes of the fake /dev/ublkcN at @pos with byte @c. */
static void cdev_set(__u64 pos, size_t len, int c)
{
	static char b[BUF_SIZE];

	memset(b, c, len);
	CHECK(pwrite(cdev_fd, b, len, pos) == (ssize_t)len);
}

static bool cdev_is(__u64 pos, size_t len, int c)
{
	static char b[BUF_SIZE];

	memset(b, c, len);
	return file_has(cdev_fd, pos, b, len);
}

static void test_user_copy_mode(void)
{
	static char pat[2 * 4096];
	__u64 pos;

	/* the window of tag 2 on queue 3 */
	CHECK(ublk_user_copy_pos(3, 2) ==
	      UBLKSRV_IO_BUF_OFFSET + (3ULL << UBLK_QID_OFF) + (2ULL << UBLK_TAG_OFF));

	/* READ: backing file -> buffer (one SQE), then buffer -> request here */
	setup(UBLK_DATA_USER_COPY);
	pos = ublk_user_copy_pos(Q_ID, 2);
	cdev_set(pos, 4096, 0x11);
	CHECK(start(2, UBLK_IO_OP_READ, 16, 8) == 1);
	CHECK(fake.nr_sqes == 1);
	CHECK_SQE(0, .opcode = IORING_OP_READ, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = addr_of(2), .len = 4096, .off = 16 * 512, .tag = 2);
	CHECK(ios[2].pending == 1);
	CHECK(cdev_is(pos, 4096, 0x11)); /* nothing copied before the data is there */
	fill(buf_of(2), 4096, 5); /* what the backing read brought */
	cqe(0, 4096);
	CHECK(done_res(2) == 4096);
	CHECK(file_has(cdev_fd, pos, buf_of(2), 4096));
	CHECK(fake.nr_sqes == 1);

	/* WRITE with FUA: request -> buffer here, then buffer -> backing file */
	setup(UBLK_DATA_USER_COPY);
	pos = ublk_user_copy_pos(Q_ID, 1);
	fill(pat, sizeof(pat), 6);
	CHECK(pwrite(cdev_fd, pat, sizeof(pat), pos) == (ssize_t)sizeof(pat));
	memset(buf_of(1), 0, sizeof(pat));
	CHECK(start(1, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 24, 16) == 1);
	CHECK(!memcmp(buf_of(1), pat, sizeof(pat)));
	CHECK(fake.nr_sqes == 1);
	CHECK_SQE(0, .opcode = IORING_OP_WRITE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = addr_of(1), .len = 8192, .off = 24 * 512, .rw_flags = RWF_DSYNC,
		  .tag = 1);
	CHECK(fake.nr_done == 0);
	cqe(0, 8192);
	CHECK(done_res(1) == 8192);

	/* plain WRITE has no RWF_DSYNC */
	setup(UBLK_DATA_USER_COPY);
	CHECK(start(0, UBLK_IO_OP_WRITE, 0, 1) == 1);
	CHECK(fake.nr_sqes == 1 && fake.sqes[0].rw_flags == 0);

	/* short transfers are continued and EINTR is retried, both ways */
	setup(UBLK_DATA_USER_COPY);
	pos = ublk_user_copy_pos(Q_ID, 0);
	fill(pat, sizeof(pat), 7);
	CHECK(pwrite(cdev_fd, pat, sizeof(pat), pos) == (ssize_t)sizeof(pat));
	memset(buf_of(0), 0, sizeof(pat));
	inject_on(cdev_fd, 2, 1000);
	CHECK(start(0, UBLK_IO_OP_WRITE, 0, 16) == 1);
	CHECK(inject.calls == 2 + 9); /* 2 EINTR, 8 x 1000 + 192 */
	inject_off();
	CHECK(!memcmp(buf_of(0), pat, sizeof(pat)));
	cqe(0, 8192);
	CHECK(done_res(0) == 8192);

	setup(UBLK_DATA_USER_COPY);
	cdev_set(pos, sizeof(pat), 0);
	CHECK(start(0, UBLK_IO_OP_READ, 0, 16) == 1);
	fill(buf_of(0), sizeof(pat), 8);
	inject_on(cdev_fd, 1, 3000);
	cqe(0, 8192);
	CHECK(inject.calls == 1 + 3);
	inject_off();
	CHECK(done_res(0) == 8192);
	CHECK(file_has(cdev_fd, pos, buf_of(0), sizeof(pat)));
}

/* A user-copy READ of 8 sectors at tag 3 whose backing read gives @res. */
static int user_copy_read(int res)
{
	setup(UBLK_DATA_USER_COPY);
	cdev_set(ublk_user_copy_pos(Q_ID, 3), 4096, 0x33);
	CHECK(start(3, UBLK_IO_OP_READ, 8, 8) == 1);
	fill(buf_of(3), 4096, 9);
	cqe(0, res);
	return done_res(3);
}

/* A user-copy WRITE of 8 sectors at tag 3 whose copy from the request fails. */
static int user_copy_write_fails(int fd)
{
	int ret;

	setup(UBLK_DATA_USER_COPY);
	dev.cdev_fd = fd;
	ret = start(3, UBLK_IO_OP_WRITE, 8, 8);
	/* nothing queued: the library completes the request with ret */
	CHECK(fake.nr_sqes == 0);
	CHECK(fake.nr_done == 0);
	CHECK(ios[3].pending == 0);
	return ret;
}

static void test_user_copy_errors(void)
{
	char path[PATH_MAX + 16];
	__u64 pos = ublk_user_copy_pos(Q_ID, 3);
	int ro, wo, closed, fd;

	/* READ: a failed or short backing read fails it, and nothing is copied */
	CHECK(user_copy_read(-EIO) == -EIO);
	CHECK(cdev_is(pos, 4096, 0x33));
	CHECK(user_copy_read(2048) == -EIO);
	CHECK(cdev_is(pos, 4096, 0x33));
	CHECK(user_copy_read(0) == -EIO);
	CHECK(cdev_is(pos, 4096, 0x33));
	CHECK(user_copy_read(4096) == 4096);
	CHECK(file_has(cdev_fd, pos, buf_of(3), 4096));

	/* WRITE: a failed or short backing write */
	setup(UBLK_DATA_USER_COPY);
	CHECK(start(3, UBLK_IO_OP_WRITE, 8, 8) == 1);
	cqe(0, -ENOSPC);
	CHECK(done_res(3) == -ENOSPC);
	setup(UBLK_DATA_USER_COPY);
	CHECK(start(3, UBLK_IO_OP_WRITE, 8, 8) == 1);
	cqe(0, 2048);
	CHECK(done_res(3) == -EIO);

	/* the copy fails: its errno fails the request */
	ro = open(cdev_path, O_RDONLY | O_CLOEXEC);
	wo = open(cdev_path, O_WRONLY | O_CLOEXEC);
	closed = dup(cdev_fd);
	CHECK(ro >= 0 && wo >= 0 && closed >= 0 && close(closed) == 0);
	CHECK(user_copy_write_fails(wo) == -EBADF);
	CHECK(user_copy_write_fails(closed) == -EBADF);
	CHECK(user_copy_write_fails(-1) == -EBADF);

	setup(UBLK_DATA_USER_COPY);
	dev.cdev_fd = ro;
	CHECK(start(3, UBLK_IO_OP_READ, 8, 8) == 1);
	cqe(0, 4096);
	CHECK(done_res(3) == -EBADF);
	setup(UBLK_DATA_USER_COPY);
	dev.cdev_fd = closed;
	CHECK(start(3, UBLK_IO_OP_READ, 8, 8) == 1);
	cqe(0, 4096);
	CHECK(done_res(3) == -EBADF);

	/* a request with less data than asked for (pread returns 0): -EIO */
	snprintf(path, sizeof(path), "%s/short", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, pos + 2048) == 0);
	inject_on(fd, 0, 0);
	CHECK(user_copy_write_fails(fd) == -EIO);
	CHECK(inject.calls == 2); /* 2048 bytes, then 0 */
	inject_off();

	if (fd >= 0)
		close(fd);
	unlink(path);
	if (ro >= 0)
		close(ro);
	if (wo >= 0)
		close(wo);
}

/* Two requests in flight at once are kept apart. */
static void test_interleaved(void)
{
	static char pat[4096];

	setup(UBLK_DATA_USER_COPY);
	fill(pat, sizeof(pat), 10);
	CHECK(pwrite(cdev_fd, pat, sizeof(pat), ublk_user_copy_pos(Q_ID, 1)) ==
	      (ssize_t)sizeof(pat));
	CHECK(start(0, UBLK_IO_OP_READ, 0, 8) == 1);
	CHECK(start(1, UBLK_IO_OP_WRITE, 8, 8) == 1);
	CHECK(!memcmp(buf_of(1), pat, sizeof(pat)));
	CHECK(fake.nr_sqes == 2);
	CHECK(q.tgt_inflight == 2);
	fill(buf_of(0), 4096, 11);
	cqe(1, 4096); /* tag 1 backing write */
	CHECK(fake.nr_done == 1);
	CHECK(fake.done[0].tag == 1 && fake.done[0].res == 4096);
	cqe(0, 4096); /* tag 0 backing read */
	CHECK(fake.nr_done == 2);
	CHECK(fake.done[1].tag == 0 && fake.done[1].res == 4096);
	CHECK(fake.done[1].pending == 0);
	CHECK(q.tgt_inflight == 0);
	CHECK(file_has(cdev_fd, ublk_user_copy_pos(Q_ID, 0), buf_of(0), 4096));
	CHECK(file_has(cdev_fd, ublk_user_copy_pos(Q_ID, 1), pat, sizeof(pat)));
}

static void test_auto_zc_mode(void)
{
	setup(UBLK_DATA_AUTO_ZC);
	CHECK(start(3, UBLK_IO_OP_READ, 8, 16) == 1);
	CHECK(fake.nr_sqes == 1);
	CHECK_SQE(0, .opcode = IORING_OP_READ_FIXED, .fd = 1, .flags = IOSQE_FIXED_FILE, .addr = 0,
		  .len = 8192, .off = 4096, .buf_index = 3, .tag = 3);
	cqe(0, 8192);
	CHECK(done_res(3) == 8192);

	setup(UBLK_DATA_AUTO_ZC);
	CHECK(start(2, UBLK_IO_OP_WRITE, 1, 1) == 1);
	CHECK_SQE(0, .opcode = IORING_OP_WRITE_FIXED, .fd = 1, .flags = IOSQE_FIXED_FILE, .addr = 0,
		  .len = 512, .off = 512, .buf_index = 2, .tag = 2);
	cqe(0, -EIO);
	CHECK(done_res(2) == -EIO);

	setup(UBLK_DATA_AUTO_ZC);
	CHECK(start(1, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 0, 8) == 1);
	CHECK_SQE(0, .opcode = IORING_OP_WRITE_FIXED, .fd = 1, .flags = IOSQE_FIXED_FILE, .addr = 0,
		  .len = 4096, .rw_flags = RWF_DSYNC, .buf_index = 1, .tag = 1);
}

static void test_other_ops(enum ublk_data_mode mode)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	const int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	static const __u32 unknown[] = {
		UBLK_IO_OP_WRITE_SAME,
		UBLK_IO_OP_ZONE_OPEN,
		UBLK_IO_OP_ZONE_APPEND,
		UBLK_IO_OP_REPORT_ZONES,
		0xff,
	};
	size_t i;

	/* FLUSH: fdatasync */
	setup(mode);
	CHECK(start(1, UBLK_IO_OP_FLUSH, 0, 0) == 1);
	CHECK(fake.nr_sqes == 1);
	CHECK_SQE(0, .opcode = IORING_OP_FSYNC, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .rw_flags = IORING_FSYNC_DATASYNC, .tag = 1);
	cqe(0, 0);
	CHECK(done_res(1) == 0);

	setup(mode);
	CHECK(start(1, UBLK_IO_OP_FLUSH, 0, 0) == 1);
	cqe(0, -EIO);
	CHECK(done_res(1) == -EIO);

	/* DISCARD: punch a hole, keep the size (fallocate: len = mode) */
	setup(mode);
	CHECK(start(2, UBLK_IO_OP_DISCARD, 2048, 4096) == 1);
	CHECK(fake.nr_sqes == 1);
	CHECK_SQE(0, .opcode = IORING_OP_FALLOCATE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = 4096 * 512, .len = punch, .off = 2048 * 512, .tag = 2);
	cqe(0, 0);
	CHECK(done_res(2) == 0);

	/* the largest discard the params allow, far out */
	setup(mode);
	CHECK(start(2, UBLK_IO_OP_DISCARD, 1ULL << 33, UINT_MAX >> 9) == 1);
	CHECK_SQE(0, .opcode = IORING_OP_FALLOCATE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = (__u64)(UINT_MAX >> 9) << 9, .len = punch, .off = 1ULL << 42, .tag = 2);

	/* WRITE_ZEROES may unmap: a hole */
	setup(mode);
	CHECK(start(0, UBLK_IO_OP_WRITE_ZEROES, 8, 8) == 1);
	CHECK_SQE(0, .opcode = IORING_OP_FALLOCATE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = 4096, .len = punch, .off = 4096, .tag = 0);
	cqe(0, 0);
	CHECK(done_res(0) == 0);

	/* ... but where discard is not offered (a block device without it), zero it */
	setup(mode);
	dev.params.discard.max_discard_sectors = 0;
	CHECK(start(0, UBLK_IO_OP_WRITE_ZEROES, 8, 8) == 1);
	CHECK_SQE(0, .opcode = IORING_OP_FALLOCATE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = 4096, .len = zero, .off = 4096, .tag = 0);
	cqe(0, 0);
	CHECK(done_res(0) == 0);

	/* WRITE_ZEROES with NOUNMAP: zero the range in place */
	setup(mode);
	CHECK(start(3, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP, 16, 32) == 1);
	CHECK(fake.nr_sqes == 1);
	CHECK_SQE(0, .opcode = IORING_OP_FALLOCATE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = 32 * 512, .len = zero, .off = 16 * 512, .tag = 3);
	cqe(0, 0);
	CHECK(done_res(3) == 0);

	/* ... falling back to a hole where that is not supported */
	setup(mode);
	CHECK(start(3, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP, 16, 32) == 1);
	cqe(0, -EOPNOTSUPP);
	CHECK(fake.nr_done == 0);
	CHECK(fake.nr_sqes == 2);
	CHECK(ios[3].pending == 1);
	CHECK_SQE(1, .opcode = IORING_OP_FALLOCATE, .fd = 1, .flags = IOSQE_FIXED_FILE,
		  .addr = 32 * 512, .len = punch, .off = 16 * 512, .tag = 3);
	cqe(1, 0);
	CHECK(done_res(3) == 0);

	/* ... and if the hole is not supported either, that is the answer */
	setup(mode);
	CHECK(start(3, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP, 16, 32) == 1);
	cqe(0, -EOPNOTSUPP);
	CHECK(fake.nr_sqes == 2);
	cqe(1, -EOPNOTSUPP);
	CHECK(fake.nr_sqes == 2);
	CHECK(done_res(3) == -EOPNOTSUPP);

	/* other errors of ZERO_RANGE are final */
	setup(mode);
	CHECK(start(3, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP, 16, 32) == 1);
	cqe(0, -EIO);
	CHECK(fake.nr_sqes == 1);
	CHECK(done_res(3) == -EIO);

	/* a hole for a plain DISCARD that fails is not retried */
	setup(mode);
	CHECK(start(2, UBLK_IO_OP_DISCARD, 0, 8) == 1);
	cqe(0, -EOPNOTSUPP);
	CHECK(fake.nr_sqes == 1);
	CHECK(done_res(2) == -EOPNOTSUPP);

	/* unknown operations: nothing queued, nothing completed */
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		setup(mode);
		CHECK(start(1, unknown[i], 0, 8) == -EOPNOTSUPP);
		CHECK(fake.nr_sqes == 0);
		CHECK(fake.nr_done == 0);
		CHECK(ios[1].pending == 0);
	}
}

/* ---- real data through an io_uring ---------------------------------------- */

/* Run request @tag on q.ring to completion; returns its result. */
static int run(int tag, __u32 op_flags, __u64 sector, __u32 nr_sectors)
{
	struct io_uring_cqe *c, copy;
	int i, ret;

	fake_reset();
	ret = start(tag, op_flags, sector, nr_sectors);
	if (ret < 0)
		return ret;
	for (i = 0; i < 100 && !fake.nr_done; i++) {
		ret = io_uring_submit_and_wait(&q.ring, 1);
		if (ret < 0) {
			fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-ret));
			failures++;
			return INT_MIN;
		}
		while (io_uring_peek_cqe(&q.ring, &c) == 0) {
			copy = *c;
			io_uring_cqe_seen(&q.ring, c);
			CHECK(ublk_ud_is_tgt(copy.user_data));
			CHECK((int)ublk_ud_tag(copy.user_data) == tag);
			loop_tgt_ops.io_done(&q, ublk_ud_tag(copy.user_data), &copy);
		}
	}
	CHECK(fake.nr_done == 1);
	CHECK(ios[tag].pending == 0);
	return fake.nr_done == 1 ? fake.done[0].res : INT_MIN;
}

static void test_data(void)
{
	const size_t len = 16 * 4096;
	char *pattern = malloc(len);
	__u64 pos2 = ublk_user_copy_pos(Q_ID, 2);
	struct ublk_dev_opts o;
	int fds[2], img_fd, ro, wo, ret, nfd;

	if (!pattern) {
		perror("malloc");
		exit(2);
	}
	nfd = count_fds();
	setup(UBLK_DATA_COPY);
	opts_init(&o, img);
	CHECK(loop_tgt_ops.init(&dev, &o) == 0);
	if (!dev.tgt.priv)
		goto out_free;

	img_fd = open(img, O_RDWR | O_CLOEXEC);
	ro = open(cdev_path, O_RDONLY | O_CLOEXEC);
	wo = open(cdev_path, O_WRONLY | O_CLOEXEC);
	CHECK(img_fd >= 0 && ro >= 0 && wo >= 0);
	ret = io_uring_queue_init(2 * DEPTH, &q.ring, 0);
	CHECK(ret == 0);
	if (img_fd < 0 || ro < 0 || wo < 0 || ret)
		goto out_deinit;
	/* registered as the library does, though loop has no use for fixed file 0 */
	fds[0] = cdev_fd;
	fds[1] = dev.tgt.fds[0];
	ret = io_uring_register_files(&q.ring, fds, 2);
	CHECK(ret == 0);
	if (ret)
		goto out_ring;
	fake.use_ring = true;

	/* copy mode: WRITE from the tag buffer, READ back into another */
	fill(pattern, len, 1);
	memcpy(buf_of(1), pattern, len);
	CHECK(run(1, UBLK_IO_OP_WRITE, 8, len >> 9) == (int)len);
	CHECK(file_has(img_fd, 4096, pattern, len));
	memset(buf_of(2), 0, len);
	CHECK(run(2, UBLK_IO_OP_READ, 8, len >> 9) == (int)len);
	CHECK(!memcmp(buf_of(2), pattern, len));
	CHECK(run(0, UBLK_IO_OP_FLUSH, 0, 0) == 0);
	fill(buf_of(3), 4096, 2);
	CHECK(run(3, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 0, 8) == 4096);
	CHECK(file_has(img_fd, 0, buf_of(3), 4096));
	/* the last block of the file, and reading at its end */
	CHECK(run(3, UBLK_IO_OP_READ, (FILE_SIZE >> 9) - 8, 8) == 4096);
	CHECK(file_has(img_fd, FILE_SIZE - 4096, buf_of(3), 4096));
	CHECK(run(3, UBLK_IO_OP_READ, FILE_SIZE >> 9, 8) == 0);

	/* user copy: request (the cdev file) <-> buffer <-> backing file */
	dev.data_mode = UBLK_DATA_USER_COPY;
	fill(pattern, len, 3);
	CHECK(pwrite(cdev_fd, pattern, len, ublk_user_copy_pos(Q_ID, 0)) == (ssize_t)len);
	CHECK(run(0, UBLK_IO_OP_WRITE, 256, len >> 9) == (int)len);
	CHECK(file_has(img_fd, 256 * 512, pattern, len));
	cdev_set(ublk_user_copy_pos(Q_ID, 3), len, 0);
	CHECK(run(3, UBLK_IO_OP_READ, 256, len >> 9) == (int)len);
	CHECK(file_has(cdev_fd, ublk_user_copy_pos(Q_ID, 3), pattern, len));

	/* the request's data cannot be read: nothing is written */
	dev.cdev_fd = wo;
	CHECK(run(1, UBLK_IO_OP_WRITE, 256, 8) == -EBADF);
	CHECK(file_has(img_fd, 256 * 512, pattern, len));
	/* ... or cannot be written: the read is done, the request fails */
	dev.cdev_fd = ro;
	memset(buf_of(2), 0, 4096);
	CHECK(run(2, UBLK_IO_OP_READ, 256, 8) == -EBADF);
	CHECK(!memcmp(buf_of(2), pattern, 4096));
	dev.cdev_fd = cdev_fd;

	/*
	 * Reading across or at the end of the file (the block layer never
	 * asks): the short backing read fails the request instead of handing
	 * out unfilled pages, and nothing is copied.
	 */
	cdev_set(pos2, 8192, 0x22);
	CHECK(run(2, UBLK_IO_OP_READ, (FILE_SIZE >> 9) - 8, 16) == -EIO);
	CHECK(cdev_is(pos2, 8192, 0x22));
	CHECK(run(2, UBLK_IO_OP_READ, FILE_SIZE >> 9, 8) == -EIO);
	CHECK(cdev_is(pos2, 8192, 0x22));

	/* zeroing, in place and by punching holes */
	CHECK(run(1, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP, 256, 16) == 0);
	CHECK(file_is_zero(img_fd, 256 * 512, 16 * 512));
	CHECK(file_has(img_fd, 272 * 512, pattern + 16 * 512, len - 16 * 512));
	CHECK(run(1, UBLK_IO_OP_WRITE_ZEROES, 272, 16) == 0);
	CHECK(file_is_zero(img_fd, 272 * 512, 16 * 512));
	CHECK(run(1, UBLK_IO_OP_DISCARD, 8, len >> 9) == 0);
	CHECK(file_is_zero(img_fd, 4096, len));

	fake.use_ring = false;
out_ring:
	io_uring_queue_exit(&q.ring);
out_deinit:
	if (img_fd >= 0)
		close(img_fd);
	if (ro >= 0)
		close(ro);
	if (wo >= 0)
		close(wo);
	loop_tgt_ops.deinit(&dev);
out_free:
	CHECK(count_fds() == nfd);
	free(pattern);
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	const char *t = getenv("TMPDIR");
	int fd;

	if (posix_memalign((void **)&bufs, 4096, (size_t)DEPTH * BUF_SIZE)) {
		perror("posix_memalign");
		return 2;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/loop-test.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(img, sizeof(img), "%s/img", tmpdir);
	snprintf(cdev_path, sizeof(cdev_path), "%s/cdev", tmpdir);
	cdev_fd = open(cdev_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (cdev_fd < 0) {
		perror(cdev_path);
		return 2;
	}
	fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, FILE_SIZE)) {
		perror(img);
		return 2;
	}
	close(fd);

	test_opt_table();
	test_init_ok(false);
	test_init_ok(true);
	test_init_relative();
	test_init_errors();
	test_copy_mode();
	test_user_copy_mode();
	test_user_copy_errors();
	test_interleaved();
	test_auto_zc_mode();
	test_other_ops(UBLK_DATA_COPY);
	test_other_ops(UBLK_DATA_USER_COPY);
	test_other_ops(UBLK_DATA_AUTO_ZC);
	test_data();

	close(cdev_fd);
	unlink(cdev_path);
	unlink(img);
	rmdir(tmpdir);
	free(bufs);
	if (failures) {
		fprintf(stderr, "loop-test: %d check(s) failed\n", failures);
		return 1;
	}
	printf("loop-test: all checks passed\n");
	return 0;
}
