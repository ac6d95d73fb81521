// SPDX-License-Identifier: MIT
/*
 * `ublk add`: create a device and serve it.
 *
 * Unless --foreground, the command forks a daemon (setsid + second fork) that
 * creates, starts and serves the device, and reports the outcome back over a
 * pipe; the command returns only once the device is LIVE and its block node
 * exists, or with the daemon's error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "targets.h"

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(int fd, const char *fmt, ...)
{
	va_list ap;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	vdprintf(fd, fmt, ap);
	va_end(ap);
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	ublk_log_use_syslog("ublk");
}

static int setup_dev(struct ublk_dev *dev, const struct ublk_dev_opts *opts, bool recover)
{
	int ret;

	if (recover)
		return ublk_dev_recover(dev, opts);
	ret = ublk_dev_create(dev, opts);
	if (!ret)
		ret = ublk_dev_start(dev);
	return ret;
}

static void notify_live(const struct ublk_dev *dev)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d\nSTATUS=serving %s%u", getpid(),
		 UBLK_BDEV_PREFIX, dev->info.dev_id);
	notify_systemd(msg);
}

/*
 * Create (or, with @recover, take over) and serve one device. @report_fd
 * gets "ok ID" or "error MESSAGE"; -1 in the foreground, where errors go to
 * stderr and systemd (Type=notify) learns when the device is LIVE.
 */
static int serve_fail(int report_fd, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Say why serving failed: to the waiting parent, or on stderr. */
static int serve_fail(int report_fd, const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (report_fd >= 0)
		report(report_fd, "error %s\n", msg);
	else
		fprintf(stderr, "ublk %s: %s\n", cmd, msg);
	return 1;
}

static int serve(const struct ublk_dev_opts *opts, int report_fd, bool recover)
{
	const char *cmd = recover ? "recover" : "add";
	struct ublk_dev dev;
	sigset_t set;
	int ret;

	/* SIGTERM/SIGINT are read from a signalfd by ublk_dev_run() */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = setup_dev(&dev, opts, recover);
	if (ret) {
		if (report_fd >= 0)
			report(report_fd, "error %s\n", dev.errmsg);
		else
			fprintf(stderr, "ublk %s: %s\n", cmd, dev.errmsg);
		return 1;
	}

	ret = ublk_state_write(&dev);
	if (ret && !recover && ublk_dev_recoverable(&dev)) {
		/* without its state it could never be recovered: do not keep it */
		ublk_ctrl_stop_dev(&dev.ctrl, dev.info.dev_id);
		ublk_dev_destroy(&dev);
		return serve_fail(
			report_fd, cmd,
			"cannot record the state of recoverable device %u in %s (%s): not adding it",
			dev.info.dev_id, ublk_run_dir(), strerror(-ret));
	}
	if (ret)
		ublk_log(LOG_WARNING, "dev %u: cannot write state file in %s: %s", dev.info.dev_id,
			 ublk_run_dir(), strerror(-ret));
	if (report_fd >= 0) {
		report(report_fd, "ok %u\n", dev.info.dev_id);
		close(report_fd);
		detach_stdio();
	} else {
		list_print_dev(&dev.ctrl, dev.info.dev_id, false);
		fflush(stdout);
		notify_live(&dev);
	}
	if (chdir("/"))
		ublk_log(LOG_WARNING, "chdir /: %s", strerror(errno));

	ublk_dev_run(&dev);
	if (report_fd < 0)
		notify_systemd("STOPPING=1");
	ublk_dev_destroy(&dev);
	/* a device kept for recovery keeps the options recover needs */
	if (!dev.keep)
		ublk_state_remove(dev.info.dev_id);
	return 0;
}

static int wait_for_bdev(__u32 dev_id)
{
	char path[64];
	struct stat st;
	int i;

	snprintf(path, sizeof(path), UBLK_BDEV_PREFIX "%u", dev_id);
	for (i = 0; i < 500; i++) {
		if (!stat(path, &st) && S_ISBLK(st.st_mode))
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static int read_report(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1) {
		r = read(fd, buf + n, len - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return n;
}

/*
 * The daemon outlives its caller: it must not keep the caller's files
 * (a pipe the caller reads to EOF, a lock) open. It keeps stdin, stdout,
 * stderr and the report pipe, moved to fd 3.
 */
static int daemon_fds(int report_fd)
{
	if (report_fd != 3) {
		if (dup3(report_fd, 3, O_CLOEXEC) < 0)
			return report_fd; /* keeps what it has rather than lose the pipe */
		close(report_fd);
	}
	close_range(4, ~0U, 0);
	return 3;
}

static int serve_daemon(const struct ublk_dev_opts *opts, bool recover)
{
	const char *cmd = recover ? "recover" : "add";
	struct ublk_ctrl ctrl;
	char msg[512];
	unsigned int id;
	int p[2], ret;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "ublk %s: pipe: %s\n", cmd, strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "ublk %s: fork: %s\n", cmd, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		pid = fork();
		if (pid)
			_exit(pid < 0);
		_exit(serve(opts, daemon_fds(p[1]), recover));
	}
	close(p[1]);
	waitpid(pid, NULL, 0);
	read_report(p[0], msg, sizeof(msg));
	close(p[0]);

	if (!strncmp(msg, "error ", 6)) {
		fprintf(stderr, "ublk %s: %s\n", cmd, msg + 6);
		return 1;
	}
	if (sscanf(msg, "ok %u", &id) != 1) {
		fprintf(stderr, "ublk %s: the daemon exited during setup\n", cmd);
		return 1;
	}
	if (wait_for_bdev(id)) {
		fprintf(stderr, "ublk %s: %s%u did not appear\n", cmd, UBLK_BDEV_PREFIX, id);
		return 1;
	}
	if (cli_open_ctrl(&ctrl, cmd))
		return 1;
	ret = list_print_dev(&ctrl, id, false);
	ublk_ctrl_close(&ctrl);
	return ret ? 1 : 0;
}

int serve_dev(const struct ublk_dev_opts *opts, bool foreground, bool recover)
{
	if (foreground)
		return serve(opts, -1, recover);
	return serve_daemon(opts, recover);
}

/*
 * The state file keeps these arguments for `ublk recover`, which may run in
 * another directory: a relative file name (UBLK_TGT_OPT_PATH) becomes absolute.
 */
static int absolute_file_arg(struct strvec *args, const char *file)
{
	char *abs, *arg;
	int i;

	if (!file || file[0] == '/')
		return 0;
	abs = realpath(file, NULL);
	if (!abs)
		return 0; /* the target reports the missing file */
	for (i = 1; i < args->n; i++) {
		uintptr_t f = (uintptr_t)file, a;

		arg = args->v[i];
		a = (uintptr_t)arg;
		if (f < a || f > a + strlen(arg))
			continue;
		/* "FILE", "-fFILE" or "--file=FILE": keep what precedes it */
		if (asprintf(&args->v[i], "%.*s%s", (int)(file - arg), arg, abs) < 0) {
			args->v[i] = arg;
			free(abs);
			return -ENOMEM;
		}
		free(arg);
		break;
	}
	free(abs);
	return 0;
}

/*
 * "add --config FILE [options]": the file's options first, so that options
 * on the command line override them. @args gets argv[0] and all options.
 */
static int expand_config(int argc, char **argv, struct strvec *args)
{
	const char *file = NULL;
	struct config cfg;
	char err[512];
	int i, ret = 0;

	for (i = 1; i < argc && !ret; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "ublk add: option '%s' needs an argument\n",
					argv[i]);
				return -EINVAL;
			}
			file = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			file = argv[i] + 9;
		}
	}
	ret = strvec_push(args, argv[0]);
	if (!ret && file) {
		ret = config_load(file, &cfg, err, sizeof(err));
		if (ret == -EINVAL) {
			fprintf(stderr, "ublk add: %s\n", err);
			return ret;
		}
		for (i = 0; !ret && i < cfg.args.n; i++)
			ret = strvec_push(args, cfg.args.v[i]);
		config_free(&cfg);
	}
	for (i = 1; !ret && i < argc; i++) {
		if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c"))
			i++;
		else if (strncmp(argv[i], "--config=", 9))
			ret = strvec_push(args, argv[i]);
	}
	if (ret)
		fprintf(stderr, "ublk add: %s\n", strerror(-ret));
	return ret;
}

int cmd_add(int argc, char **argv)
{
	struct add_args a = { 0 };
	struct strvec args;
	char err[256];
	int i, ret;

	strvec_init(&args);
	if (expand_config(argc, argv, &args)) {
		ret = 1;
		goto out;
	}
	ret = parse_add_args(args.n, args.v, &a, err, sizeof(err));
	for (i = 0; !ret && i < a.nr_paths; i++) {
		ret = absolute_file_arg(&args, a.paths[i]);
		if (ret)
			snprintf(err, sizeof(err), "%s", strerror(-ret));
	}
	add_args_free(&a);
	/* parse again: absolute_file_arg() may have replaced strings */
	if (!ret)
		ret = parse_add_args(args.n, args.v, &a, err, sizeof(err));
	if (ret > 0) {
		usage_add();
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		fprintf(stderr, "ublk add: %s (see 'ublk help')\n", err);
		ret = 1;
		goto out;
	}
	a.opts.args = (const char *const *)args.v + 1;
	a.opts.nr_args = args.n - 1;
	a.opts.foreground = a.foreground;
	ret = serve_dev(&a.opts, a.foreground, false);
out:
	add_args_free(&a);
	strvec_free(&args);
	return ret;
}
