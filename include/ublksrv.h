/* SPDX-License-Identifier: MIT */
/*
 * libublksrv: serve a ublk block device from userspace.
 *
 * A device has one io_uring and one thread per hardware queue. Each queue
 * thread keeps a FETCH command pending for every tag; when the kernel hands
 * a request over, the target's queue_io() starts it (usually by queueing
 * backing I/O on the same ring) and ublk_complete_io() commits the result,
 * which also fetches the tag's next request.
 */
#ifndef UBLKSRV_H
#define UBLKSRV_H

#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h> /* LOG_* priorities for ublk_log() */

#include "ublk_cmd.h"
#include "ublk_bpf.h"

#define UBLKSRV_VERSION "0.1.0"

/*
 * The library is built with -fvisibility=hidden: what this header declares
 * is its API (lib/libublksrv.map lists it), everything else stays inside.
 */
#pragma GCC visibility push(default)

#define UBLK_CTRL_DEV "/dev/ublk-control"
#define UBLK_CDEV_PREFIX "/dev/ublkc"
#define UBLK_BDEV_PREFIX "/dev/ublkb"
#define UBLK_RUN_DIR "/run/ublksrvd"
#define UBLK_MAX_QUEUES 32
#define UBLK_DEF_QUEUES 1
#define UBLK_DEF_DEPTH 128
#define UBLK_DEF_IO_BYTES (512U << 10)
#define UBLK_MAX_TGT_FDS 4

/* ---- control device ---------------------------------------------------- */

struct ublk_ctrl {
	int fd;
	struct io_uring ring;
	/*
	 * The kernel wants the char device's path in front of every command
	 * for an unprivileged device (UBLK_F_UNPRIVILEGED_DEV): the last
	 * ADD_DEV or GET_DEV_INFO tells which device that is.
	 */
	__u32 unpriv_id;
	bool unpriv_valid;
};

int ublk_ctrl_open(struct ublk_ctrl *ctrl);
void ublk_ctrl_close(struct ublk_ctrl *ctrl);

int ublk_ctrl_get_features(struct ublk_ctrl *ctrl, __u64 *features);
/* info->dev_id: wanted id, or -1U for any; updated with the kernel's view. */
int ublk_ctrl_add_dev(struct ublk_ctrl *ctrl, struct ublksrv_ctrl_dev_info *info);
int ublk_ctrl_del_dev(struct ublk_ctrl *ctrl, __u32 dev_id);
int ublk_ctrl_get_info(struct ublk_ctrl *ctrl, __u32 dev_id, struct ublksrv_ctrl_dev_info *info);
int ublk_ctrl_set_params(struct ublk_ctrl *ctrl, __u32 dev_id, const struct ublk_params *params);
/* ... plus the device's ublk_bpf_ops id (needs UBLK_F_BPF_OPS). */
int ublk_ctrl_set_params_bpf(struct ublk_ctrl *ctrl, __u32 dev_id, const struct ublk_params *params,
			     const struct ublk_param_bpf *bpf);
int ublk_ctrl_get_params(struct ublk_ctrl *ctrl, __u32 dev_id, struct ublk_params *params);
/* ... plus the ublk_bpf_ops binding: params->types has UBLK_PARAM_TYPE_BPF if bound. */
int ublk_ctrl_get_params_bpf(struct ublk_ctrl *ctrl, __u32 dev_id, struct ublk_params *params,
			     struct ublk_param_bpf *bpf);
int ublk_ctrl_start_dev(struct ublk_ctrl *ctrl, __u32 dev_id, pid_t daemon_pid);
int ublk_ctrl_stop_dev(struct ublk_ctrl *ctrl, __u32 dev_id);
int ublk_ctrl_quiesce_dev(struct ublk_ctrl *ctrl, __u32 dev_id, __u64 timeout_ms);
int ublk_ctrl_get_affinity(struct ublk_ctrl *ctrl, __u32 dev_id, __u16 q_id, cpu_set_t *set);
int ublk_ctrl_start_recovery(struct ublk_ctrl *ctrl, __u32 dev_id);
int ublk_ctrl_end_recovery(struct ublk_ctrl *ctrl, __u32 dev_id, pid_t daemon_pid);

const char *ublk_state_name(unsigned int state);
/* Name of UBLK_F_* bit @bit, or NULL if this build does not know it. */
const char *ublk_feature_name(unsigned int bit);

/* ---- serving a device -------------------------------------------------- */

/* How request data moves between the block layer and the backing I/O. */
enum ublk_data_mode {
	UBLK_DATA_COPY, /* kernel copies to/from a per-tag buffer */
	UBLK_DATA_USER_COPY, /* daemon copies with read/write on /dev/ublkcN */
	UBLK_DATA_AUTO_ZC, /* request pages auto-registered as fixed buffer */
};

const char *ublk_data_mode_name(enum ublk_data_mode mode);

/* Whether requests are served by a BPF program in the kernel (--bpf). */
enum ublk_bpf_mode {
	UBLK_BPF_OFF,
	UBLK_BPF_ON, /* fail if the fast path is not available */
	UBLK_BPF_AUTO, /* use it if available, else the userspace path */
};

const char *ublk_bpf_mode_name(enum ublk_bpf_mode mode);

/* Which kernel interface runs the BPF fast path (--bpf=iouring|seed). */
enum ublk_bpf_backend {
	UBLK_BPF_BACKEND_AUTO, /* seed if the kernel has it, else iouring */
	UBLK_BPF_BACKEND_IOURING, /* io_uring_bpf_ops: in the daemon's ring */
	UBLK_BPF_BACKEND_SEED, /* struct ublk_bpf_ops: in ublk_queue_rq() */
};

const char *ublk_bpf_backend_name(enum ublk_bpf_backend backend);

/*
 * Can this build and the running kernel, whose ublk driver offers
 * @features (GET_FEATURES), serve requests in BPF? 0 if so; else -errno and
 * one line in @why saying what is missing.
 */
int ublk_bpf_probe(__u64 features, char *why, size_t len);
/* Does the kernel's BTF (vmlinux or ublk_drv's) have struct ublk_bpf_ops? */
bool ublk_bpf_seed_ops_available(void);
/* ublk_bpf_probe() for the seed backend (the project's ublk_drv module). */
int ublk_bpf_seed_probe(__u64 features, char *why, size_t len);

struct ublk_bpf_skel;

struct ublk_dev;
struct ublk_queue;
struct json_t; /* jansson's json_t: targets include <jansson.h> */

/* ---- target options ---------------------------------------------------- */

/*
 * A target owns its options: it lists them in ublk_tgt_ops.opts and keeps
 * their values in a private struct of ublk_tgt_ops.opts_size bytes, which the
 * caller (the `ublk` CLI) allocates zero-filled, fills through the parse
 * callbacks in command-line order and passes as ublk_dev_opts.tgt_opts.
 * Zero is every option's default. The same table gives `ublk add --help`
 * its text and config files (/etc/ublk/NAME.ini) their keys for the target.
 */
#define UBLK_TGT_OPT_PATH (1U << 0) /* a file name: absolute in a config file */
#define UBLK_TGT_OPT_REQUIRED (1U << 1) /* a config file must give it */

/* Decimal, or hex with 0x, at most @max: 0, -EINVAL or -ERANGE. */
int ublk_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* Bytes with an optional K/M/G/T suffix (1024s), "iB"/"B" allowed after it. */
int ublk_parse_size(const char *s, unsigned long long *out);

struct ublk_tgt_opt {
	const char *name; /* --NAME on the command line, NAME = in a config file */
	char short_name; /* -X alias, or 0 (loop: 'f' for --file, as ublksrv) */
	bool has_arg; /* false: a flag; in a config file a boolean (yes/no...) */
	const char *arg_name; /* in the help text: "SIZE", "FILE" */
	const char *help; /* one line */
	unsigned int flags; /* UBLK_TGT_OPT_* */
	/*
	 * Store @arg (NULL for a flag) in @tgt_opts. @arg points into argv and
	 * stays valid while the device is served. On bad input return -EINVAL
	 * with one line (no option name, the caller adds it) in @err.
	 */
	int (*parse)(void *tgt_opts, const char *arg, char *err, size_t err_len);
};

/* Everything `ublk add` can say about a device, whatever its target. */
#define UBLK_BPF_MAX_POLL_US 10000

struct ublk_dev_opts {
	const struct ublk_tgt_ops *tgt;
	int dev_id; /* -1: let the kernel choose */
	unsigned int nr_queues;
	unsigned int depth;
	unsigned int max_io_bytes;
	enum ublk_data_mode data_mode;
	__u64 extra_flags; /* UBLK_F_* the caller asks for on top */
	/* tgt->opts_size bytes filled by tgt->opts[].parse, or NULL if none */
	const void *tgt_opts;
	bool foreground;
	/* BPF fast path */
	enum ublk_bpf_mode bpf;
	enum ublk_bpf_backend bpf_backend;
	unsigned int bpf_redirect_every; /* debug: every Nth request to us */
	unsigned int bpf_split_bytes; /* debug: split at this boundary */
	bool bpf_eagain; /* debug: hand debug-redirected requests back */
	/* io_uring backend: the queue loop polls this long after work (0: sleeps) */
	unsigned int bpf_poll_us; /* at most UBLK_BPF_MAX_POLL_US */
	/*
	 * The options that created the device, stored verbatim in the state
	 * file: `ublk recover` parses them again, so every option (present or
	 * future) is restored without the library knowing about it.
	 */
	int nr_args;
	const char *const *args;
};

void ublk_dev_opts_init(struct ublk_dev_opts *opts);

struct ublk_tgt_ops {
	const char *name;
	/* one line for `ublk help` */
	const char *help;
	/* NULL-name-terminated, or NULL: the target takes no options */
	const struct ublk_tgt_opt *opts;
	size_t opts_size; /* of the private struct opts[].parse fills */
	/*
	 * Open backing resources and fill dev->params and dev->tgt from
	 * opts->tgt_opts. Must not leave anything open on failure. Runs
	 * before the device exists, so bad input never creates a device.
	 */
	int (*init)(struct ublk_dev *dev, const struct ublk_dev_opts *opts);
	/* Optional (init and queue_io are not): undo init. */
	void (*deinit)(struct ublk_dev *dev);
	/*
	 * Start request @tag. Returns the number of SQEs queued (the target
	 * completes the request later from io_done()), 0 if the target already
	 * called ublk_complete_io(), or -errno to fail the request.
	 */
	int (*queue_io)(struct ublk_queue *q, int tag, const struct ublksrv_io_desc *iod);
	/* A CQE of target I/O queued by queue_io(); optional if it queues none. */
	void (*io_done)(struct ublk_queue *q, int tag, const struct io_uring_cqe *cqe);
	/*
	 * Add the target's fields to @obj (the "target" object of the state
	 * file and of `ublk list --json`, "name" already set) with
	 * json_object_set_new(); 0 or -errno (e.g. -ENOMEM). Optional.
	 */
	int (*dump_json)(const struct ublk_dev *dev, struct json_t *obj);
	/*
	 * Open one instance of the target's BPF program (for one queue), or
	 * NULL if the target has none. See ublksrv_bpf.h. The program's
	 * handler and queue_io() above must agree: whatever BPF redirects,
	 * queue_io() serves, and queue_io() may return -EAGAIN to hand a
	 * request back to BPF.
	 */
	int (*bpf_open)(struct ublk_bpf_skel *skel);
	/*
	 * Optional, for a program whose maps all queues of a device share.
	 * Called in each queue's thread; for a target with either hook the
	 * library runs bpf_prepare, load, attach and bpf_ready for one queue
	 * at a time (a lock held across them), queues in no particular order.
	 * bpf_prepare(q, skel): @skel is open and configured, not loaded; e.g.
	 * the first queue sizes a map (bpf_map__set_max_entries()), the others
	 * bpf_map__reuse_fd() the fd the first one took in bpf_ready.
	 * bpf_ready(q, skel): loaded and attached to @q's ring, before the
	 * device starts (no request yet); e.g. take bpf_map__fd(), fill it.
	 * Return 0 or -errno, optionally with one line in q->errmsg: the
	 * queue then fails to start and the device is not created. Shared
	 * state (the map's fd) lives in dev->tgt.priv, freed by deinit.
	 * See docs/targets.md.
	 */
	int (*bpf_prepare)(struct ublk_queue *q, struct ublk_bpf_skel *skel);
	int (*bpf_ready)(struct ublk_queue *q, struct ublk_bpf_skel *skel);
	/* The same handler built for the seed backend (struct ublk_bpf_ops). */
	int (*bpf_seed_open)(struct ublk_bpf_skel *skel);
	/*
	 * Optional: bpf_prepare and bpf_ready for the seed backend, whose one
	 * program instance serves every queue of @dev; called before load and
	 * after registration (no request yet), before the queues start.
	 */
	int (*bpf_seed_prepare)(struct ublk_dev *dev, struct ublk_bpf_skel *skel);
	int (*bpf_seed_ready)(struct ublk_dev *dev, struct ublk_bpf_skel *skel);
};

struct ublk_tgt {
	__u64 dev_size;
	int nr_fds;
	int fds[UBLK_MAX_TGT_FDS]; /* registered at fixed index 1 + i */
	void *priv;
};

/* Per-tag state, owned by the queue thread. */
struct ublk_io {
	void *buf; /* copy and user-copy modes */
	int result; /* accumulated by multi-SQE targets */
	unsigned short pending; /* target SQEs in flight */
	unsigned short flags;
};

#define UBLK_IO_FREE (1U << 0) /* FETCH aborted: the tag is done */
#define UBLK_IO_IN_TGT (1U << 1) /* between queue_io() and ublk_complete_io() */

struct ublk_queue {
	struct ublk_dev *dev;
	int q_id;
	int depth;
	pid_t tid;
	struct io_uring ring;
	const struct ublksrv_io_desc *iods;
	size_t iods_len;
	struct ublk_io *ios;
	void *bufs; /* depth * max_io_buf_bytes, zero-filled */
	size_t bufs_len;
	unsigned int cmd_inflight; /* FETCH/COMMIT commands pending */
	unsigned int tgt_inflight; /* requests the target holds */
	int stop_evfd; /* written to abort a queue not yet started */
	__u64 stop_buf;
	bool stopping;
	/* BPF fast path (lib/bpf.c), NULL on the userspace path */
	struct ublk_bpf_queue *bpf;
	__u32 cq_off_head, cq_off_cqes; /* from io_uring_params */
	bool draining; /* finish the target's requests, start no new ones */
	cpu_set_t affinity;
	pthread_t thread;
	int err; /* setup failure, reported to ublk_dev_start() */
	bool failed; /* the loop gave up on an error (set before the exit event) */
	__u64 fail_after; /* tests: the queue fails after this many requests */
	char errmsg[160];
	/* statistics, read racily by the main thread */
	__u64 nr_io;
	__u64 nr_io_err;
};

struct ublk_dev {
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params params;
	struct ublk_ctrl ctrl;
	const struct ublk_tgt_ops *ops;
	struct ublk_tgt tgt;
	enum ublk_data_mode data_mode;
	bool bpf; /* requests are served by BPF (the probe passed) */
	enum ublk_bpf_mode bpf_mode;
	enum ublk_bpf_backend bpf_backend; /* which one serves, if bpf */
	struct ublk_bpf_seed *bpf_seed; /* the seed backend's program */
	char bpf_note[160]; /* why --bpf=auto chose the userspace path */
	unsigned int bpf_redirect_every, bpf_split_bytes;
	bool bpf_eagain;
	unsigned int bpf_poll_us;
	int cdev_fd;
	int nr_queues_started;
	struct ublk_queue *queues;
	int ready_evfd; /* written by each queue thread once set up */
	int exit_evfd; /* written by each queue thread as it exits */
	int release_evfd; /* a failed queue keeps its ring until this is written */
	__u64 stats_sum; /* of the queues' counters when the state was written */
	/* destroy leaves the device to the kernel (QUIESCED) for recovery */
	bool keep;
	/* queue threads finish what the target holds, then exit (see run) */
	bool draining;
	/* the kernel hands out no more requests: serve all we got (QUIESCE_DEV) */
	bool quiesced;
	int nr_args;
	const char *const *args;
	char errmsg[256];
};

/* Record why setup failed; ublk_dev_create/start callers print it. */
void ublk_dev_err(struct ublk_dev *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Create the device: check kernel features, initialise the target, ADD_DEV
 * and SET_PARAMS. On failure everything is undone and dev->errmsg says why.
 */
int ublk_dev_create(struct ublk_dev *dev, const struct ublk_dev_opts *opts);
/* Start the queue threads and START_DEV; on failure the device is deleted. */
int ublk_dev_start(struct ublk_dev *dev);
/*
 * Take over device @opts->dev_id, whose daemon died, in state QUIESCED or
 * FAIL_IO (created with UBLK_F_USER_RECOVERY): check that @opts describe
 * the kernel's device, initialise the target, START_USER_RECOVERY, start
 * the queue threads (FETCH every tag) and END_USER_RECOVERY with our pid.
 * On failure the device is left as it was, for another attempt or a del.
 */
int ublk_dev_recover(struct ublk_dev *dev, const struct ublk_dev_opts *opts);
/* The device was created with UBLK_F_USER_RECOVERY (any flavour). */
static inline bool ublk_dev_recoverable(const struct ublk_dev *dev)
{
	return dev->info.flags & UBLK_F_USER_RECOVERY;
}
/*
 * Serve until the device is stopped: by STOP_DEV from elsewhere (`ublk del`)
 * or by SIGTERM/SIGINT. A signal stops and deletes the device, unless it has
 * user recovery: then in-flight requests finish, the daemon lets go of the
 * device and it stays QUIESCED (or FAIL_IO) for `ublk recover`. The caller
 * blocks those signals in every thread before ublk_dev_create().
 */
int ublk_dev_run(struct ublk_dev *dev);
/* Join the queues, release char device and target; DEL_DEV unless dev->keep. */
void ublk_dev_destroy(struct ublk_dev *dev);
/* Messages go to stderr, or to syslog once the daemon has detached. */
void ublk_log_use_syslog(const char *ident);
void ublk_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- state files ------------------------------------------------------ */

/*
 * A served device's state lives in $UBLK_RUN_DIR (default /run/ublksrvd) as
 * N.json, written by the daemon once the device is LIVE, so that other
 * processes (`ublk list`, `ublk recover`) can see what the kernel does not
 * know: target, backing file, data mode, queue threads.
 */
const char *ublk_run_dir(void);
int ublk_state_write(const struct ublk_dev *dev);
/*
 * Device @dev_id's state, parsed by jansson (json_decref() it), or NULL with
 * errno set (ENOENT: no state file) and one line in @err naming the file
 * and, for bad JSON, line and column. Duplicate keys are refused, and so are
 * the fields this library writes when they have the wrong type (see
 * docs/json-schema.md), so readers may trust those types.
 */
struct json_t *ublk_state_load(__u32 dev_id, char *err, size_t err_len);
/* The same checks on @text; @name (the file) starts error messages. */
struct json_t *ublk_state_parse(const char *text, const char *name, char *err, size_t err_len);
int ublk_state_remove(__u32 dev_id);

/* ---- inside a queue thread --------------------------------------------- */

/*
 * user_data of SQEs on a queue ring (bits: see ublk_bpf.h). Commands carry
 * the tag and the command's number; target I/O sets UBLK_UD_TGT and may use
 * op and tgt_data freely.
 */

static inline __u64 ublk_user_data(unsigned int tag, unsigned int op, unsigned int tgt_data,
				   bool tgt)
{
	return tag | (__u64)(op & 0xff) << 16 | (__u64)(tgt_data & 0xffff) << 24 |
	       (tgt ? UBLK_UD_TGT : 0);
}

static inline unsigned int ublk_ud_tag(__u64 ud)
{
	return ud & 0xffff;
}

static inline unsigned int ublk_ud_op(__u64 ud)
{
	return (ud >> 16) & 0xff;
}

static inline unsigned int ublk_ud_tgt_data(__u64 ud)
{
	return (ud >> 24) & 0xffff;
}

static inline bool ublk_ud_is_tgt(__u64 ud)
{
	return ud & UBLK_UD_TGT;
}

/* Fixed-file index of target fd @i on a queue ring (0 is /dev/ublkcN). */
static inline int ublk_tgt_fixed_fd(int i)
{
	return 1 + i;
}

/* Offset of request @tag's data in the user-copy window of /dev/ublkcN. */
static inline __u64 ublk_user_copy_pos(__u16 q_id, __u16 tag)
{
	return UBLKSRV_IO_BUF_OFFSET + ((__u64)q_id << UBLK_QID_OFF | (__u64)tag << UBLK_TAG_OFF);
}

/* A free SQE, flushing the ring to the kernel if it is full. */
struct io_uring_sqe *ublk_queue_get_sqe(struct ublk_queue *q);
/* Commit @res for @tag and fetch its next request. */
void ublk_complete_io(struct ublk_queue *q, int tag, int res);
/*
 * User copy: copy @len bytes from @buf to the start of request @tag's data
 * (@to_request, a READ's data) or from there to @buf (a WRITE's), with
 * pwrite/pread on /dev/ublkcN in the calling queue thread: the kernel's side
 * is a memcpy that does not block. Short transfers are continued, EINTR is
 * retried. Returns @len, or -errno (-EIO if the request has less data).
 */
int ublk_user_copy(struct ublk_queue *q, int tag, void *buf, unsigned int len, bool to_request);

#pragma GCC visibility pop

#endif /* UBLKSRV_H */
