/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policyd --metrics ADDR:PORT: Prometheus text exposition on GET /metrics,
 * served by libmicrohttpd from the daemon's own epoll loop (no thread).
 */
#ifndef POLICYD_METRICS_H
#define POLICYD_METRICS_H

struct daemon;

/* Per-host series for this many of the busiest hosts by default. */
#define METRICS_DEFAULT_TOP 10
#define METRICS_MAX_TOP 10000

/* Listen on d->opts.metrics (nothing to do when NULL) and add the HTTP
 * server's epoll fd to d->epfd. 0 or -errno, logged. */
int metrics_start(struct daemon *d);
void metrics_stop(struct daemon *d);
/* How long the event loop may sleep (ms) before metrics_run() is due:
 * -1 without a deadline. */
int metrics_timeout_ms(struct daemon *d);
/* Serve what is ready and expire idle connections; never blocks. Called
 * after every epoll_wait() of the loop (libmicrohttpd's contract for an
 * external event loop). */
void metrics_run(struct daemon *d);

#endif
