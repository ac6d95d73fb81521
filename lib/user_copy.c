// SPDX-License-Identifier: MIT
/*
 * User copy (UBLK_F_USER_COPY): a request's data is read and written with
 * pread()/pwrite() on /dev/ublkcN at ublk_user_copy_pos(). The driver does
 * a memcpy to or from the request's pages and never blocks, so the queue
 * thread does it itself: an io_uring READ/WRITE on the char device (which
 * has no FMODE_NOWAIT) would be punted to an io-wq worker every time.
 *
 * A file of its own so that target unit tests can link it without the rest
 * of the library (tests/unit/loop-test.c).
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "ublksrv.h"

int ublk_user_copy(struct ublk_queue *q, int tag, void *buf, unsigned int len, bool to_request)
{
	__u64 pos = ublk_user_copy_pos(q->q_id, tag);
	int fd = q->dev->cdev_fd;
	unsigned int done = 0;
	ssize_t n;

	if (len > INT_MAX)
		return -EINVAL;
	while (done < len) {
		if (to_request)
			n = pwrite(fd, (char *)buf + done, len - done, pos + done);
		else
			n = pread(fd, (char *)buf + done, len - done, pos + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		/* the request is shorter than @len: nothing sensible to return */
		if (n == 0)
			return -EIO;
		done += n;
	}
	return done;
}
