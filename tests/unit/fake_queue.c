// SPDX-License-Identifier: MIT
/* Fake queue-thread side of libublksrv for target unit tests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_queue.h"

struct fake_state fake;

void fake_reset(void)
{
	bool use_ring = fake.use_ring;

	memset(&fake, 0, sizeof(fake));
	fake.use_ring = use_ring;
}

struct io_uring_sqe *ublk_queue_get_sqe(struct ublk_queue *q)
{
	struct io_uring_sqe *sqe;

	if (fake.use_ring) {
		/* same as lib/queue.c */
		sqe = io_uring_get_sqe(&q->ring);
		if (!sqe) {
			io_uring_submit(&q->ring);
			sqe = io_uring_get_sqe(&q->ring);
		}
		if (sqe)
			fake.nr_ring_sqes++;
		return sqe;
	}
	if (fake.nr_sqes >= FAKE_MAX_SQES) {
		fprintf(stderr, "fake_queue: out of SQEs\n");
		exit(2);
	}
	sqe = &fake.sqes[fake.nr_sqes++];
	/* a reused ring slot holds stale data in what get_sqe leaves alone */
	memset(sqe, 0xa5, sizeof(*sqe));
	io_uring_initialize_sqe(sqe);
	return sqe;
}

void ublk_complete_io(struct ublk_queue *q, int tag, int res)
{
	struct ublk_io *io = &q->ios[tag];

	if (fake.nr_done >= FAKE_MAX_DONE) {
		fprintf(stderr, "fake_queue: too many completions\n");
		exit(2);
	}
	fake.done[fake.nr_done].tag = tag;
	fake.done[fake.nr_done].res = res;
	fake.done[fake.nr_done].pending = io->pending;
	fake.nr_done++;
	if (io->flags & UBLK_IO_IN_TGT) {
		io->flags &= ~UBLK_IO_IN_TGT;
		q->tgt_inflight--;
	}
}

/* same as lib/dev.c */
void ublk_dev_err(struct ublk_dev *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dev->errmsg, sizeof(dev->errmsg), fmt, ap);
	va_end(ap);
	fake.nr_dev_err++;
}
