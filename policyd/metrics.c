// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyd --metrics: libmicrohttpd runs inside the daemon's epoll loop
 * (its epoll fd is one more source; no thread), and each GET /metrics is
 * answered with a Prometheus text exposition built from the maps at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "lib/hostport.h"
#include "lib/log.h"
#include "lib/promtext.h"
#include "daemon.h"
#include "hoststats.h"
#include "metrics.h"

/* Bounds on what HTTP clients may hold: a scraper needs one connection. */
#define METRICS_MAX_CONNECTIONS 64
#define METRICS_MAX_PER_IP 16
#define METRICS_IDLE_TIMEOUT_S 5
#define METRICS_CONN_MEMORY (16 * 1024)
#define METRICS_BACKLOG 64

struct metrics {
	struct ev_source ev; /* first: epoll's data.ptr is this */
	struct MHD_Daemon *mhd;
};

/* --- the exposition --------------------------------------------------------- */

/* One rule's counters (or a policy's default verdict's), read once per scrape
 * so that every family below shows the same moment. */
struct rule_sample {
	const char *policy;
	const char *rule;
	struct pd_counters c;
};

static int read_rules(struct daemon *d, struct rule_sample **out, size_t *n)
{
	struct rule_sample *v;
	size_t total = 0, k = 0;
	int err;

	for (size_t i = 0; i < d->set.n; i++)
		total += d->set.v[i]->pol->nrules + 1;
	v = calloc(total ? total : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < d->set.n; i++) {
		const struct applied_policy *ap = d->set.v[i];

		for (size_t r = 0; r <= ap->pol->nrules; r++, k++) {
			bool def = r == ap->pol->nrules;

			v[k].policy = ap->pol->name;
			/* As in 'policyctl stats': the default verdict is rule "default". */
			v[k].rule = def ? "default" : ap->pol->rules[r].name;
			err = maps_read_rule_stats(
				d, def ? ap->default_counter : ap->rule_counters[r], &v[k].c);
			if (err) {
				free(v);
				return err;
			}
		}
	}
	*out = v;
	*n = total;
	return 0;
}

/* The rule families of one counter, with no label of their own. */
static const struct {
	const char *name;
	const char *help;
	size_t off; /* of the counter in struct pd_counters */
} rule_plain[] = {
	{ "policyd_rule_would_drop_packets_total",
	  "Packets a monitor-mode policy passed that enforce mode would have dropped.",
	  offsetof(struct pd_counters, would_drop_packets) },
	{ "policyd_rule_would_drop_bytes_total",
	  "Bytes of the packets counted in policyd_rule_would_drop_packets_total.",
	  offsetof(struct pd_counters, would_drop_bytes) },
	{ "policyd_rule_table_full_packets_total",
	  "Packets of new hosts met with a full per-host table, passed or dropped as the policy's table-full says.",
	  offsetof(struct pd_counters, table_full_packets) },
};

static void render_rules(struct promtext *t, const struct rule_sample *v, size_t n)
{
	static const char *const verdicts[] = { "passed", "dropped" };

	promtext_family(
		t, "policyd_rule_packets_total", "counter",
		"Packets a rule decided (wire packets), by verdict carried out. The default verdict is rule \"default\".");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++)
			promtext_sample(t, "policyd_rule_packets_total",
					k ? v[i].c.dropped_packets : v[i].c.passed_packets,
					"policy", v[i].policy, "rule", v[i].rule, "verdict",
					verdicts[k], NULL);
	promtext_family(t, "policyd_rule_bytes_total", "counter",
			"Bytes (IP length) of the packets a rule decided, by verdict carried out.");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++)
			promtext_sample(t, "policyd_rule_bytes_total",
					k ? v[i].c.dropped_bytes : v[i].c.passed_bytes, "policy",
					v[i].policy, "rule", v[i].rule, "verdict", verdicts[k],
					NULL);
	promtext_family(
		t, "policyd_rule_dropped_packets_total", "counter",
		"Packets dropped under a rule, by reason (rule, default, limit, quota, blocked, table-full).");
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < PD_REASON_MAX; r++)
			promtext_sample(t, "policyd_rule_dropped_packets_total",
					v[i].c.dropped_reason[r], "policy", v[i].policy, "rule",
					v[i].rule, "reason", policy_reason_name(r), NULL);
	promtext_family(
		t, "policyd_rule_dropped_bytes_total", "counter",
		"Bytes of the packets counted in policyd_rule_dropped_packets_total, by reason.");
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < PD_REASON_MAX; r++)
			promtext_sample(t, "policyd_rule_dropped_bytes_total",
					v[i].c.dropped_reason_bytes[r], "policy", v[i].policy,
					"rule", v[i].rule, "reason", policy_reason_name(r), NULL);
	for (size_t f = 0; f < sizeof(rule_plain) / sizeof(rule_plain[0]); f++) {
		promtext_family(t, rule_plain[f].name, "counter", rule_plain[f].help);
		for (size_t i = 0; i < n; i++)
			promtext_sample(t, rule_plain[f].name,
					*(const __u64 *)((const char *)&v[i].c + rule_plain[f].off),
					"policy", v[i].policy, "rule", v[i].rule, NULL);
	}
}

static void render_blocked(struct daemon *d, struct promtext *t)
{
	uint32_t *blocked = calloc(PD_MAX_POLICIES, sizeof(*blocked));

	if (!blocked) {
		t->err = -ENOMEM;
		return;
	}
	hosts_count_blocked(d, blocked);
	promtext_family(
		t, "policyd_policy_blocked_hosts", "gauge",
		"Hosts a policy blocks now (block: after a threshold, until the block ends).");
	for (size_t i = 0; i < d->set.n; i++)
		promtext_sample(t, "policyd_policy_blocked_hosts", blocked[d->set.v[i]->slot],
				"policy", d->set.v[i]->pol->name, NULL);
	free(blocked);
	promtext_family(t, "policyd_policy_info", "gauge",
			"Always 1, one series per applied policy: its mode (enforce or monitor).");
	for (size_t i = 0; i < d->set.n; i++)
		promtext_sample(
			t, "policyd_policy_info", 1, "policy", d->set.v[i]->pol->name, "mode",
			d->set.v[i]->pol->mode == POLICY_MODE_MONITOR ? "monitor" : "enforce",
			NULL);
}

static const char *policy_name_by_slot(const struct daemon *d, uint32_t slot)
{
	for (size_t i = 0; i < d->set.n; i++)
		if (d->set.v[i]->slot == slot)
			return d->set.v[i]->pol->name;
	return NULL;
}

enum host_family { HOST_PACKETS, HOST_BYTES, HOST_DROPPED, HOST_WOULD_DROP, HOST_FAMILIES };

static const char *const host_families[HOST_FAMILIES][2] = {
	[HOST_PACKETS] = { "policyd_host_packets_total",
			   "Packets to one of the busiest hosts (--metrics-top), under the policy that governs it." },
	[HOST_BYTES] = { "policyd_host_bytes_total", "Bytes to one of the busiest hosts." },
	[HOST_DROPPED] = { "policyd_host_dropped_packets_total",
			   "Packets to one of the busiest hosts that were dropped, by reason." },
	[HOST_WOULD_DROP] = { "policyd_host_would_drop_packets_total",
			      "Packets to one of the busiest hosts that monitor mode would have dropped." },
};

/* Per-host series for the busiest hosts only: a series per host of a /16
 * would swamp any Prometheus server. Hosts move in and out of the top. The
 * same read of the table gives its fill for render_maps: false if it failed. */
static bool render_hosts(struct daemon *d, struct promtext *t, struct hoststats_fill *fill)
{
	struct host_row *rows = NULL;
	size_t n = 0;
	int err;

	if (d->opts.metrics_top)
		err = hoststats_top_of(d, NULL, PD_SLOT_NONE, d->opts.metrics_top, &rows, &n, fill);
	else
		err = hoststats_fill(d, fill);
	if (err) {
		pr_warn("metrics: cannot read the per-host table: %s", strerror(-err));
		n = 0;
	}
	for (int f = 0; f < HOST_FAMILIES; f++) {
		const char *name = host_families[f][0];

		promtext_family(t, name, "counter", host_families[f][1]);
		for (size_t i = 0; i < n; i++) {
			const struct host_row *h = &rows[i];
			struct prefix host = { .family = h->family,
					       .len = prefix_max_len(h->family) };
			const char *policy = policy_name_by_slot(d, h->slot);
			char addr[PREFIX_STR_MAX];

			if (!policy)
				continue;
			memcpy(host.addr, h->addr, sizeof(host.addr));
			prefix_format(&host, true, addr, sizeof(addr));
			if (f == HOST_DROPPED) {
				for (int r = 0; r < PD_REASON_MAX; r++)
					promtext_sample(t, name, h->dropped_reason[r], "policy",
							policy, "address", addr, "reason",
							policy_reason_name(r), NULL);
				continue;
			}
			promtext_sample(t, name,
					f == HOST_PACKETS ? h->packets :
					f == HOST_BYTES	  ? h->bytes :
							    h->would_drop,
					"policy", policy, "address", addr, NULL);
		}
	}
	free(rows);
	return !err;
}

/* @fill: the per-host table's, or NULL when it could not be read. */
static void render_maps(struct daemon *d, struct promtext *t, const struct hoststats_fill *fill)
{
	json_t *maps = maps_status(d), *m;
	const char *names[] = { PD_MAP_DCACHE4, PD_MAP_DCACHE6 };
	uint64_t present[] = { fill ? fill->present4 : 0, fill ? fill->present6 : 0 };
	uint64_t capacity[] = { fill ? fill->capacity4 : 0, fill ? fill->capacity6 : 0 };
	size_t i;

	for (int k = 0; k < 2; k++) {
		const char *key = k ? "capacity" : "used";

		promtext_family(
			t, k ? "policyd_map_max_entries" : "policyd_map_entries", "gauge",
			k ? "Entries a BPF map can hold." :
			    "Entries in a BPF map now (for pd_dest: destination prefixes applied).");
		json_array_foreach(maps, i, m)
			promtext_sample(t, k ? "policyd_map_max_entries" : "policyd_map_entries",
					json_integer_value(json_object_get(m, key)), "map",
					json_string_value(json_object_get(m, "name")), NULL);
		/* The per-host table: 'status' lists it apart (per family, with
		 * evictions), from the same walk as the top hosts here. */
		for (int f = 0; fill && f < 2; f++)
			promtext_sample(t, k ? "policyd_map_max_entries" : "policyd_map_entries",
					k ? capacity[f] : present[f], "map", names[f], NULL);
	}
	json_decref(maps);
	promtext_family(
		t, "policyd_host_table_evictions_total", "counter",
		"Hosts the per-host tables (pd_dcache4/6) dropped to make room, by address family.");
	if (fill) {
		promtext_sample(t, "policyd_host_table_evictions_total", fill->evicted4, "family",
				"ipv4", NULL);
		promtext_sample(t, "policyd_host_table_evictions_total", fill->evicted6, "family",
				"ipv6", NULL);
	}
}

static void render_events(struct daemon *d, struct promtext *t)
{
	struct pd_misc_stats ms = {};
	int err = maps_read_misc_stats(d, &ms);

	if (err)
		pr_warn("metrics: cannot read %s: %s", PD_MAP_MISC_STATS, strerror(-err));
	promtext_family(
		t, "policyd_events_lost_total", "counter",
		"Events (drops, blocks, logs, samples) lost because the ring buffer was full.");
	if (!err)
		promtext_sample(t, "policyd_events_lost_total", ms.events_lost, NULL);
	promtext_family(t, "policyd_events_capped_total", "counter",
			"Drop and log events not sent because of the per-policy rate cap.");
	if (!err)
		promtext_sample(t, "policyd_events_capped_total", ms.events_capped, NULL);
}

static void render_realms(struct daemon *d, struct promtext *t)
{
	static const char *const fams[][3] = {
		{ "policyd_realm_packets_total", "packets",
		  "Packets that left by a route with this realm (64-bit, IPv4 and IPv6)." },
		{ "policyd_realm_bytes_total", "bytes",
		  "Bytes that left by a route with this realm." },
		{ "policyd_realm_dropped_packets_total", "dropped_packets",
		  "Packets to a route with this realm that were dropped." },
		{ "policyd_realm_dropped_bytes_total", "dropped_bytes",
		  "Bytes of the packets counted in policyd_realm_dropped_packets_total." },
	};
	json_t *realms = stats_realms(d), *r;
	char realm[16];
	size_t i;

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		promtext_family(t, fams[f][0], "counter", fams[f][2]);
		json_array_foreach(realms, i, r) {
			snprintf(realm, sizeof(realm), "%lld",
				 (long long)json_integer_value(json_object_get(r, "realm")));
			promtext_sample(t, fams[f][0],
					json_integer_value(json_object_get(r, fams[f][1])), "realm",
					realm, NULL);
		}
	}
	json_decref(realms);
}

static void render_daemon(struct daemon *d, struct promtext *t)
{
	time_t last = 0;

	promtext_family(t, "policyd_build_info", "gauge", "Always 1: the version of policyd.");
	promtext_sample(t, "policyd_build_info", 1, "version", POLICYD_VERSION, NULL);
	promtext_family(t, "policyd_start_time_seconds", "gauge",
			"When the daemon started (Unix time).");
	promtext_sample(t, "policyd_start_time_seconds", d->started, NULL);
	promtext_family(t, "policyd_policies", "gauge", "Policies applied now.");
	promtext_sample(t, "policyd_policies", d->set.n, NULL);
	promtext_family(
		t, "policyd_applies_total", "counter",
		"Applies since the daemon started (policyctl apply, SIGHUP, --confirm rollbacks; not --dry-run), by result.");
	promtext_sample(t, "policyd_applies_total", d->applies_ok, "result", "success", NULL);
	promtext_sample(t, "policyd_applies_total", d->applies_failed, "result", "failure", NULL);
	for (size_t i = 0; i < d->set.n; i++)
		if (d->set.v[i]->applied > last)
			last = d->set.v[i]->applied;
	promtext_family(
		t, "policyd_last_apply_timestamp_seconds", "gauge",
		"When the most recently applied of the policies applied now was applied (Unix time; absent with no policy).");
	if (last)
		promtext_sample(t, "policyd_last_apply_timestamp_seconds", last, NULL);
}

/* The whole exposition, or NULL (with *@err) when the maps cannot be read. */
static char *metrics_render(struct daemon *d, size_t *len, int *err)
{
	struct rule_sample *rules = NULL;
	struct hoststats_fill fill;
	struct promtext t;
	size_t nrules = 0;
	bool have_fill;
	char *text;

	*err = read_rules(d, &rules, &nrules);
	if (*err)
		return NULL;
	promtext_init(&t);
	render_daemon(d, &t);
	render_rules(&t, rules, nrules);
	render_blocked(d, &t);
	have_fill = render_hosts(d, &t, &fill);
	render_maps(d, &t, have_fill ? &fill : NULL);
	render_events(d, &t);
	render_realms(d, &t);
	free(rules);
	*err = t.err;
	text = promtext_take(&t, len);
	return text;
}

/* --- HTTP ------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
			     size_t len, enum MHD_ResponseMemoryMode mode, const char *ctype)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_static(struct MHD_Connection *conn, unsigned int status,
				    const char *msg)
{
	return reply(conn, status, (char *)msg, strlen(msg), MHD_RESPMEM_PERSISTENT,
		     "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct daemon *d = cls;
	char *text;
	size_t len = 0;
	int err;

	/* Answered on the first call, before any body: a body is never
	 * wanted here, and libmicrohttpd discards what follows. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "405 method not allowed: only GET and HEAD\n");
	if (strcmp(url, "/metrics"))
		return reply_static(conn, MHD_HTTP_NOT_FOUND,
				    "404 not found: the metrics are at /metrics\n");
	text = metrics_render(d, &len, &err);
	if (!text) {
		pr_warn("metrics: cannot build the exposition: %s", strerror(-err));
		return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "500 cannot read the maps (see the policyd log)\n");
	}
	return reply(conn, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE, PROMTEXT_CONTENT_TYPE);
}

/* libmicrohttpd's own messages (bad requests, refused connections) are
 * about clients, not the daemon: debug level. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	pr_debug("metrics: %s", buf);
}

/* The listening socket, made here so a bad address or a port in use is
 * reported with its cause before the daemon detaches. */
static int metrics_listen(const char *spec, int *out)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char msg[256];
	int fd, one = 1, err;

	err = hostport_parse(spec, &ss, &sslen, msg, sizeof(msg));
	if (err) {
		pr_err("--metrics %s", msg);
		return err;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("--metrics %s: cannot make a socket: %s", spec, strerror(-err));
		return err;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) || listen(fd, METRICS_BACKLOG)) {
		err = -errno;
		pr_err("--metrics %s: cannot listen: %s", spec, strerror(-err));
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

int metrics_start(struct daemon *d)
{
	const union MHD_DaemonInfo *info;
	struct metrics *m = NULL;
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = -1, err;

	if (!d->opts.metrics)
		return 0;
	err = metrics_listen(d->opts.metrics, &fd);
	if (err)
		return err;
	m = calloc(1, sizeof(*m));
	if (!m) {
		err = -ENOMEM;
		goto fail;
	}
	m->ev.type = EV_METRICS;
	/* MHD_USE_EPOLL without an internal thread: the daemon's loop polls
	 * libmicrohttpd's epoll fd and calls MHD_run(). */
	m->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, d,
		/* The logger first, so no message goes to libmicrohttpd's own. */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY, MHD_OPTION_END);
	if (!m->mhd) {
		err = -EIO;
		pr_err("--metrics %s: libmicrohttpd did not start (see the debug log)",
		       d->opts.metrics);
		goto fail;
	}
	fd = -1; /* the HTTP server's now: MHD_stop_daemon() closes it */
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	ev.data.ptr = &m->ev;
	if (!info || epoll_ctl(d->epfd, EPOLL_CTL_ADD, info->epoll_fd, &ev)) {
		err = info ? -errno : -EIO;
		pr_err("--metrics %s: cannot watch the HTTP server: %s", d->opts.metrics,
		       strerror(-err));
		goto fail;
	}
	d->metrics = m;
	pr_info("metrics on http://%s/metrics", d->opts.metrics);
	return 0;
fail:
	if (m && m->mhd)
		MHD_stop_daemon(m->mhd);
	free(m);
	/* Still ours when MHD_start_daemon() failed: it leaves a socket it
	 * was given open (checked with libmicrohttpd 0.9.75). */
	if (fd >= 0)
		close(fd);
	return err;
}

void metrics_stop(struct daemon *d)
{
	if (!d->metrics)
		return;
	MHD_stop_daemon(d->metrics->mhd);
	free(d->metrics);
	d->metrics = NULL;
}

int metrics_timeout_ms(struct daemon *d)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (!d->metrics || MHD_get_timeout(d->metrics->mhd, &ms) != MHD_YES)
		return -1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void metrics_run(struct daemon *d)
{
	if (d->metrics)
		MHD_run(d->metrics->mhd);
}
