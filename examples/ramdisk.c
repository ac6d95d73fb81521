// SPDX-License-Identifier: MIT
/*
 * ublk-ramdisk: the smallest useful server built on libublksrv, and the
 * proof that the installed library, headers and ublksrv.pc are enough to
 * build one (tests/unit/example-build.sh compiles it against `make install`
 * with pkg-config only).
 *
 *   ublk-ramdisk SIZE_MIB     serve /dev/ublkbN from memory until SIGTERM
 *
 * It prints "dev_id N" once the device is LIVE, serves it in the foreground
 * and deletes it on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ublksrv.h>

static char *ram;
static __u64 ram_size;

static int ramdisk_init(struct ublk_dev *dev, const struct ublk_dev_opts *opts)
{
	(void)opts;
	dev->tgt.dev_size = ram_size;
	return 0;
}

/* Copy mode: the kernel moves data between the request and ios[tag].buf. */
static int ramdisk_queue_io(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod)
{
	__u64 off = iod->start_sector << 9;
	__u64 len = (__u64)iod->nr_sectors << 9;
	void *buf = q->ios[tag].buf;

	if (off > ram_size || len > ram_size - off)
		return -EIO;
	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
		memcpy(buf, ram + off, len);
		break;
	case UBLK_IO_OP_WRITE:
		memcpy(ram + off, buf, len);
		break;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		memset(ram + off, 0, len);
		len = 0;
		break;
	case UBLK_IO_OP_FLUSH:
		len = 0;
		break;
	default:
		return -EOPNOTSUPP;
	}
	ublk_complete_io(q, tag, len);
	return 0;
}

/* no deinit, io_done (no backing I/O) or dump_json: they are optional */
static const struct ublk_tgt_ops ramdisk_ops = {
	.name = "ramdisk",
	.init = ramdisk_init,
	.queue_io = ramdisk_queue_io,
};

static int serve(void)
{
	struct ublk_dev_opts opts;
	struct ublk_dev dev;
	sigset_t set;

	/* ublk_dev_run() reads SIGTERM/SIGINT from a signalfd */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	ublk_dev_opts_init(&opts);
	opts.tgt = &ramdisk_ops;
	if (ublk_dev_create(&dev, &opts) || ublk_dev_start(&dev)) {
		fprintf(stderr, "ublk-ramdisk: %s\n", dev.errmsg);
		return 1;
	}
	printf("dev_id %u\n", dev.info.dev_id);
	fflush(stdout);
	ublk_dev_run(&dev);
	ublk_dev_destroy(&dev);
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long mib;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: ublk-ramdisk SIZE_MIB\n");
		return 2;
	}
	errno = 0;
	mib = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || !mib || mib > 4096) {
		fprintf(stderr, "ublk-ramdisk: size must be 1 to 4096 MiB, not '%s'\n", argv[1]);
		return 2;
	}
	ram_size = (__u64)mib << 20;
	ram = calloc(1, ram_size);
	if (!ram) {
		fprintf(stderr, "ublk-ramdisk: cannot allocate %lu MiB\n", mib);
		return 1;
	}
	ret = serve();
	free(ram);
	return ret;
}
