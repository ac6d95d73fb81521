/* SPDX-License-Identifier: MIT */
/*
 * Stand-ins for the libublksrv symbols a target calls from a queue thread,
 * so that a target can be tested without lib/dev.c, lib/queue.c or a ublk
 * kernel driver.
 *
 * ublk_queue_get_sqe() hands out SQEs from fake.sqes[] (poisoned, then
 * initialised the way io_uring_get_sqe() does it, so fields the target
 * forgets to set show up as 0xa5 bytes), or from q->ring if fake.use_ring.
 * ublk_complete_io() and ublk_dev_err() record what they were given.
 */
#ifndef FAKE_QUEUE_H
#define FAKE_QUEUE_H

#include <stdbool.h>

#include "ublksrv.h"

#define FAKE_MAX_SQES 64
#define FAKE_MAX_DONE 64

struct fake_done {
	int tag;
	int res;
	unsigned int pending; /* ios[tag].pending when it was completed */
};

struct fake_state {
	bool use_ring; /* take SQEs from q->ring */
	struct io_uring_sqe sqes[FAKE_MAX_SQES];
	int nr_sqes; /* handed out from sqes[] */
	int nr_ring_sqes; /* handed out from q->ring */
	struct fake_done done[FAKE_MAX_DONE];
	int nr_done;
	int nr_dev_err;
};

extern struct fake_state fake;

/* Forget all SQEs, completions and errors; keeps use_ring. */
void fake_reset(void);

#endif
