// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the qcow2 library: the input is an image file.
 * Open it (header, extensions, L1 and refcount tables), then read through
 * L1/L2, read refcounts, and write (allocation, refcount updates, table
 * growth), all on a memfd. Build and run: tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qcow2/qcow2.h"

static void exercise(struct qcow2_image *img)
{
	static uint8_t buf[8192];
	uint64_t i, off, len, rc;

	for (i = 0; i < 16; i++)
		qcow2_get_refcount(img, i, &rc);
	for (i = 0; i < 8 && img->size; i++) {
		off = (i * 0x9e3779b97f4a7c15ull) % img->size;
		len = img->size - off < sizeof(buf) ? img->size - off : sizeof(buf);
		if (qcow2_read(img, buf, len, off))
			continue;
		if (i % 2)
			qcow2_write(img, buf, len, off);
		else
			qcow2_zero(img, len, off, true);
	}
	qcow2_flush(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[QCOW2_ERRLEN];
	struct qcow2_image *img;
	int fd = memfd_create("qcow2-fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	img = qcow2_open(path, false, err, sizeof(err));
	if (img)
		exercise(img);
	qcow2_close(img);
	close(fd);
	return 0;
}
