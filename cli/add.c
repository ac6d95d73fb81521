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

/*
 * Create, start and serve one device. @report_fd gets "ok ID" or
 * "error MESSAGE"; -1 in the foreground, where errors go to stderr.
 */
static int serve(const struct ublk_dev_opts *opts, int report_fd)
{
	struct ublk_dev dev;
	sigset_t set;
	int ret;

	/* SIGTERM/SIGINT are read from a signalfd by ublk_dev_run() */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = ublk_dev_create(&dev, opts);
	if (!ret)
		ret = ublk_dev_start(&dev);
	if (ret) {
		if (report_fd >= 0)
			report(report_fd, "error %s\n", dev.errmsg);
		else
			fprintf(stderr, "ublk add: %s\n", dev.errmsg);
		return 1;
	}

	ret = ublk_state_write(&dev);
	if (ret)
		ublk_log(LOG_WARNING, "dev %u: cannot write state file in %s: %s",
			 dev.info.dev_id, ublk_run_dir(), strerror(-ret));
	if (report_fd >= 0) {
		report(report_fd, "ok %u\n", dev.info.dev_id);
		close(report_fd);
		detach_stdio();
	} else {
		list_print_dev(&dev.ctrl, dev.info.dev_id, false);
		fflush(stdout);
	}
	if (chdir("/"))
		ublk_log(LOG_WARNING, "chdir /: %s", strerror(errno));

	ublk_dev_run(&dev);
	ublk_dev_destroy(&dev);
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

static int add_daemon(const struct ublk_dev_opts *opts)
{
	struct ublk_ctrl ctrl;
	char msg[512];
	unsigned int id;
	int p[2], ret;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("ublk add: pipe");
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("ublk add: fork");
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		pid = fork();
		if (pid)
			_exit(pid < 0);
		_exit(serve(opts, p[1]));
	}
	close(p[1]);
	waitpid(pid, NULL, 0);
	read_report(p[0], msg, sizeof(msg));
	close(p[0]);

	if (!strncmp(msg, "error ", 6)) {
		fprintf(stderr, "ublk add: %s\n", msg + 6);
		return 1;
	}
	if (sscanf(msg, "ok %u", &id) != 1) {
		fprintf(stderr, "ublk add: the daemon exited during setup\n");
		return 1;
	}
	if (wait_for_bdev(id)) {
		fprintf(stderr, "ublk add: %s%u did not appear\n", UBLK_BDEV_PREFIX, id);
		return 1;
	}
	if (cli_open_ctrl(&ctrl, "add"))
		return 1;
	ret = list_print_dev(&ctrl, id, false);
	ublk_ctrl_close(&ctrl);
	return ret ? 1 : 0;
}

int cmd_add(int argc, char **argv)
{
	struct add_args a;
	char err[256];
	int ret;

	ret = parse_add_args(argc, argv, &a, err, sizeof(err));
	if (ret > 0) {
		usage_add();
		return 0;
	}
	if (ret < 0) {
		fprintf(stderr, "ublk add: %s (see 'ublk help')\n", err);
		return 1;
	}
	a.opts.tgt = ublk_find_tgt(a.type);
	if (!a.opts.tgt) {
		fprintf(stderr, "ublk add: unknown target type '%s' (known:", a.type);
		for (int i = 0; ublk_tgt_list[i]; i++)
			fprintf(stderr, " %s", ublk_tgt_list[i]->name);
		fprintf(stderr, ")\n");
		return 1;
	}
	a.opts.foreground = a.foreground;
	if (a.foreground)
		return serve(&a.opts, -1);
	return add_daemon(&a.opts);
}
