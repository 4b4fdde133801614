/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One logger for the daemon, the client and libbpf's own messages: levels,
 * printf checking, stderr (journald picks it up under systemd).
 */
#ifndef POLICYD_LOG_H
#define POLICYD_LOG_H

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* @prog prefixes every line ("policyd: "); messages above @level are dropped. */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* From now on, log to syslog (daemon facility) instead of stderr. */
void log_use_syslog(void);

/* Route libbpf's messages through this logger (warnings as warnings, debug
 * output only at LOG_LEVEL_DEBUG). */
void log_hook_libbpf(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
