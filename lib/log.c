// SPDX-License-Identifier: GPL-2.0-only
/* Leveled logging to stderr, shared by policyd, policyctl and libbpf. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <bpf/libbpf.h>

#include "log.h"

static const char *log_prog = "policyd";
static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_syslog;

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level = level;
}

void log_use_syslog(void)
{
	openlog(log_prog, LOG_PID, LOG_DAEMON);
	log_syslog = true;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const tags[] = {
		[LOG_LEVEL_ERR] = "error: ",
		[LOG_LEVEL_WARN] = "warning: ",
		[LOG_LEVEL_INFO] = "",
		[LOG_LEVEL_DEBUG] = "debug: ",
	};
	char line[1024];
	size_t n;

	if (level > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (log_syslog) {
		static const int prio[] = {
			[LOG_LEVEL_ERR] = LOG_ERR,
			[LOG_LEVEL_WARN] = LOG_WARNING,
			[LOG_LEVEL_INFO] = LOG_INFO,
			[LOG_LEVEL_DEBUG] = LOG_DEBUG,
		};

		syslog(prio[level], "%s", line);
		return;
	}
	/* One fprintf per line, so concurrent writers do not interleave. */
	fprintf(stderr, "%s: %s%s\n", log_prog, tags[level], line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level l;

	switch (level) {
	case LIBBPF_WARN:
		l = LOG_LEVEL_WARN;
		break;
	case LIBBPF_INFO:
		l = LOG_LEVEL_DEBUG; /* libbpf's info is chatter for an operator */
		break;
	default:
		l = LOG_LEVEL_DEBUG;
		break;
	}
	log_vmsg(l, fmt, ap);
	return 0;
}

void log_hook_libbpf(void)
{
	libbpf_set_print(log_libbpf);
}
