// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyd: options, start-up (socket, program and maps, restored policies),
 * and the single-threaded epoll loop over signals, the control socket,
 * route events and a one-second timer.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lib/hostport.h"
#include "lib/log.h"
#include "daemon.h"
#include "ctl.h"
#include "events.h"
#include "hoststats.h"
#include "metrics.h"

static struct ev_source ev_signal = { EV_SIGNAL }, ev_listen = { EV_LISTEN },
			ev_timer = { EV_TIMER }, ev_rtmon = { EV_RTMON };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: policyd [OPTIONS]\n"
		"Per-destination packet filter for Linux routers: the control daemon.\n"
		"\n"
		"  -f, --foreground       stay in the foreground and log to stderr\n"
		"      --socket PATH      control socket (default /run/policyd/policyd.sock)\n"
		"      --bpffs DIR        where maps and the program are pinned\n"
		"                         (default /sys/fs/bpf/policyd)\n"
		"      --state-dir DIR    applied policies are kept here (default /var/lib/policyd)\n"
		"      --group NAME       group allowed on the socket (default: policyd if it\n"
		"                         exists, else root only)\n"
		"      --hosts N          capacity of each per-host table: rate-limit buckets,\n"
		"                         quota and block state, per-host statistics\n"
		"                         (default 65536)\n"
		"      --metrics ADDR:PORT\n"
		"                         serve Prometheus metrics on http://ADDR:PORT/metrics\n"
		"                         (127.0.0.1:9101, [::1]:9101; default off)\n"
		"      --metrics-top K    per-host metrics for the K busiest hosts (default 10)\n"
		"  -v, --verbose          debug messages, libbpf's included\n"
		"  -h, --help             this text\n"
		"      --version          print the version\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop the daemon and leave enforcement in place;\n"
		"SIGHUP re-applies the policies saved in the state directory.\n");
}

static int parse_args(int argc, char **argv, struct daemon_opts *o, bool *verbose)
{
	enum {
		OPT_SOCKET = 256,
		OPT_BPFFS,
		OPT_STATE,
		OPT_GROUP,
		OPT_HOSTS,
		OPT_VERSION,
		OPT_METRICS,
		OPT_METRICS_TOP,
	};
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "bpffs", required_argument, NULL, OPT_BPFFS },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "hosts", required_argument, NULL, OPT_HOSTS },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "metrics-top", required_argument, NULL, OPT_METRICS_TOP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "fvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case OPT_SOCKET:
			o->socket_path = optarg;
			break;
		case OPT_BPFFS:
			o->bpffs_dir = optarg;
			break;
		case OPT_STATE:
			o->state_dir = optarg;
			break;
		case OPT_GROUP:
			o->group = optarg;
			break;
		case OPT_HOSTS: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > 16777216 ||
			    optarg[0] == '-') {
				fprintf(stderr,
					"policyd: --hosts takes a number from 1 to 16777216, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			o->hosts = v;
			break;
		}
		case OPT_METRICS: {
			struct sockaddr_storage ss;
			socklen_t sslen;
			char msg[256];

			if (hostport_parse(optarg, &ss, &sslen, msg, sizeof(msg))) {
				fprintf(stderr, "policyd: --metrics %s\n", msg);
				return -EINVAL;
			}
			o->metrics = optarg;
			break;
		}
		case OPT_METRICS_TOP: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v > METRICS_MAX_TOP ||
			    optarg[0] == '-') {
				fprintf(stderr,
					"policyd: --metrics-top takes a number from 0 to %d, not '%s'\n",
					METRICS_MAX_TOP, optarg);
				return -EINVAL;
			}
			o->metrics_top = v;
			break;
		}
		case 'v':
			*verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("policyd %s\n", POLICYD_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "policyd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	for (const char **p = (const char *[]){ o->socket_path, o->bpffs_dir, o->state_dir, NULL };
	     *p; p++) {
		if ((*p)[0] != '/') {
			fprintf(stderr, "policyd: '%s' is not an absolute path\n", *p);
			return -EINVAL;
		}
	}
	return 0;
}

static int watch(struct daemon *d, int fd, struct ev_source *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int setup_loop(struct daemon *d)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	sigset_t mask;
	int err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sig_fd < 0 || d->timer_fd < 0 || d->epfd < 0)
		return -errno;
	if (timerfd_settime(d->timer_fd, 0, &its, NULL))
		return -errno;
	err = route_monitor_open(&d->rtmon_fd);
	if (err) {
		pr_err("cannot watch route events: %s", strerror(-err));
		return err;
	}
	err = watch(d, d->sig_fd, &ev_signal);
	if (!err)
		err = watch(d, d->listen_fd, &ev_listen);
	if (!err)
		err = watch(d, d->timer_fd, &ev_timer);
	if (!err)
		err = watch(d, d->rtmon_fd, &ev_rtmon);
	return err;
}

/* SIGHUP: the saved policies again, through the same path as 'apply'. */
static void reapply_saved(struct daemon *d)
{
	json_t *state = NULL, *rec;
	size_t i;

	if (state_load(d, &state) || !state)
		return;
	json_array_foreach(json_object_get(state, "policies"), i, rec) {
		const char *file = json_string_value(json_object_get(rec, "file"));
		const char *src = json_string_value(json_object_get(rec, "source"));
		char err[1024] = "";
		json_t *res = NULL;
		int ret;

		if (!file || !src)
			continue;
		ret = policy_set_apply(d, file, src, strlen(src), &(struct apply_opts){}, &res, err,
				       sizeof(err));
		if (ret)
			pr_err("SIGHUP: %s", err[0] ? err : strerror(-ret));
		json_decref(res);
	}
	json_decref(state);
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			pr_info("SIGHUP: re-applying the saved policies");
			reapply_saved(d);
		} else {
			pr_info("signal %u: stopping; enforcement stays in place", si.ssi_signo);
			d->stop = true;
		}
	}
}

static void on_route_event(const struct route_info *r, bool deleted, void *arg)
{
	struct daemon *d = arg;

	/* Our own installs echo back as events too: only a change to one of
	 * our destinations that leaves it without our program matters. */
	if (!deleted && r->protocol == RTPROT_POLICYD && strcmp(r->encap_name, d->route_name) == 0)
		return;
	for (size_t i = 0; i < d->set.n; i++)
		for (size_t j = 0; j < d->set.v[i]->nroutes; j++)
			if (prefix_equal(&d->set.v[i]->routes[j].dst, &r->dst))
				d->routes_dirty = true;
}

/* How often idle per-host buckets are cleared (seconds). */
#define HOST_GC_INTERVAL 10

static void on_timer(struct daemon *d)
{
	static unsigned int tick;
	uint64_t ticks;

	if (read(d->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		pr_warn("timerfd: %s", strerror(errno));
	ctl_tick(d);
	confirm_tick(d);
	hoststats_tick(d);
	events_tick(d);
	if (++tick % HOST_GC_INTERVAL == 0) {
		size_t n = maps_gc_host_buckets(d), m = hosts_gc(d);

		if (n || m)
			pr_debug("cleared %zu idle per-host buckets, %zu idle host states", n, m);
	}
	if (d->routes_dirty) {
		d->routes_dirty = false;
		policy_set_reconcile_routes(d);
	}
}

static int run_loop(struct daemon *d)
{
	struct epoll_event evs[32];

	while (!d->stop) {
		int n = epoll_wait(d->epfd, evs, 32, metrics_timeout_ms(d));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n && !d->stop; i++) {
			struct ev_source *src = evs[i].data.ptr;

			switch (src->type) {
			case EV_SIGNAL:
				on_signal(d);
				break;
			case EV_LISTEN:
				ctl_accept(d);
				break;
			case EV_TIMER:
				on_timer(d);
				break;
			case EV_RTMON:
				if (route_monitor_drain(d->rtmon_fd, on_route_event, d) == -ENOBUFS)
					d->routes_dirty = true; /* events lost: check all */
				break;
			case EV_CLIENT:
				/* The client may be freed here: nothing after it in
				 * this batch refers to it (one event per fd). */
				ctl_client_event(d, (struct client *)src, evs[i].events);
				break;
			case EV_METRICS:
				break; /* served below, as after every wait */
			case EV_EVENTS:
				events_consume(d);
				break;
			}
		}
		metrics_run(d);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = {
		.opts = {
			.socket_path = getenv("POLICYD_SOCKET") ?: PROTO_DEFAULT_SOCKET,
			.bpffs_dir = "/sys/fs/bpf/policyd",
			.state_dir = "/var/lib/policyd",
			.hosts = PD_DEFAULT_HOSTS,
			.metrics_top = METRICS_DEFAULT_TOP,
		},
		.prog_fd = -1, .epfd = -1, .sig_fd = -1, .listen_fd = -1, .lock_fd = -1,
		.timer_fd = -1, .rtmon_fd = -1,
	};
	bool verbose = false;
	int err;

	if (parse_args(argc, argv, &d.opts, &verbose))
		return 2;
	log_init("policyd", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	log_hook_libbpf();
	d.started = time(NULL);

	err = ctl_listen(&d);
	if (err)
		goto out;
	err = maps_open(&d);
	if (err)
		goto out;
	err = route_ctx_new(&d.rt);
	if (err) {
		pr_err("cannot open a netlink socket: %s", strerror(-err));
		goto out;
	}
	err = policy_set_restore(&d);
	if (err)
		goto out;
	err = setup_loop(&d);
	if (err) {
		pr_err("cannot set up the event loop: %s", strerror(-err));
		goto out;
	}
	err = events_open(&d);
	if (err)
		goto out;
	err = metrics_start(&d);
	if (err)
		goto out;
	if (!d.opts.foreground) {
		/* Detach only once serving works, so start-up errors reach
		 * the caller's terminal and exit status. */
		if (daemon(0, 0)) {
			err = -errno;
			goto out;
		}
		log_use_syslog();
		/* epoll reports a signalfd's signals only to the process that
		 * added it (signalfd(2)): add it again as the child, or
		 * SIGTERM and SIGHUP would never wake the loop. */
		if (epoll_ctl(d.epfd, EPOLL_CTL_DEL, d.sig_fd, NULL) ||
		    watch(&d, d.sig_fd, &ev_signal)) {
			err = -errno;
			pr_err("cannot watch signals: %s", strerror(errno));
			goto out;
		}
	}
	pr_info("serving %s", d.opts.socket_path);
	err = run_loop(&d);
out:
	metrics_stop(&d);
	ctl_close(&d);
	events_close(&d); /* after ctl_close: subscribers are clients */
	policy_set_release(&d.set);
	confirm_release(&d);
	route_ctx_free(d.rt);
	hoststats_free(&d);
	maps_close(&d);
	if (d.epfd >= 0)
		close(d.epfd);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	if (d.timer_fd >= 0)
		close(d.timer_fd);
	if (d.rtmon_fd >= 0)
		close(d.rtmon_fd);
	return err ? 1 : 0;
}
