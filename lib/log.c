// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "ublksrv.h"

static bool use_syslog;

void ublk_log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_CONS, LOG_DAEMON);
	use_syslog = true;
}

void ublk_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
