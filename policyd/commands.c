// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control commands: check each request's arguments, run it against the
 * policy set, and build the reply. One function per command.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/proto.h"
#include "daemon.h"
#include "events.h"
#include "explain.h"

#define ERR_MAX 1024

static const char *errno_code(int err)
{
	switch (err) {
	case -EINVAL:
		return "EINVAL";
	case -ENOENT:
		return "ENOENT";
	case -EEXIST:
		return "EEXIST";
	case -ENOSPC:
		return "ENOSPC";
	case -ENOMEM:
		return "ENOMEM";
	case -EPERM:
		return "EPERM";
	case -EOPNOTSUPP:
		return "EOPNOTSUPP";
	case -ENETUNREACH:
		return "ENETUNREACH";
	case -EBUSY:
		return "EBUSY";
	case -ENODEV:
		return "ENODEV";
	default:
		return "EIO";
	}
}

static json_t *reply_from(int err, json_t *result, const char *msg)
{
	if (err)
		return proto_reply_error(errno_code(err), "%s", msg[0] ? msg : strerror(-err));
	return proto_reply_ok(result);
}

static void iso8601(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The longest --confirm window: a day. */
#define CONFIRM_MAX_S 86400

static json_t *cmd_apply(struct daemon *d, json_t *args)
{
	const char *file = "policy", *text = NULL;
	int dry_run = 0, diff = 0;
	json_int_t confirm = 0;
	size_t len = 0;
	char err[ERR_MAX] = "";
	json_t *result = NULL;
	struct apply_opts opts;
	int ret;

	if (json_unpack(args, "{s?s, s:s%, s?b, s?b, s?I}", "file", &file, "text", &text, &len,
			"dry_run", &dry_run, "diff", &diff, "confirm", &confirm))
		return proto_reply_error("EINVAL",
					 "apply needs args {file, text, dry_run, diff, confirm}");
	if (confirm < 0 || confirm > CONFIRM_MAX_S)
		return proto_reply_error("EINVAL", "confirm must be 1 to %d seconds",
					 CONFIRM_MAX_S);
	opts = (struct apply_opts){ .dry_run = dry_run, .diff = diff, .confirm = confirm };
	ret = policy_set_apply(d, file, text, len, &opts, &result, err, sizeof(err));
	if (ret)
		pr_warn("apply of %s refused: %s", file, err[0] ? err : strerror(-ret));
	return reply_from(ret, result, err);
}

static json_t *cmd_confirm(struct daemon *d, json_t *args)
{
	const char *name = NULL;
	json_t *names = json_array();

	if (args && json_unpack(args, "{s?s}", "policy", &name)) {
		json_decref(names);
		return proto_reply_error("EINVAL", "confirm takes args {policy}");
	}
	if (confirm_names(d, name, names)) {
		json_decref(names);
		return name ? proto_reply_error("ENOENT",
						"policy %s is not waiting for confirmation", name) :
			      proto_reply_error("ENOENT", "nothing is waiting for confirmation");
	}
	return proto_reply_ok(json_pack("{s:o}", "confirmed", names));
}

static json_t *cmd_unblock(struct daemon *d, json_t *args)
{
	const char *address = NULL;
	char err[ERR_MAX] = "";
	json_t *result = NULL;
	int ret;

	if (json_unpack(args, "{s:s}", "address", &address))
		return proto_reply_error("EINVAL", "unblock needs args {address}");
	ret = hosts_unblock(d, address, &result, err, sizeof(err));
	if (!ret)
		events_unblocked(d, address, json_object_get(result, "policies"));
	return reply_from(ret, result, err);
}

static json_t *cmd_explain(struct daemon *d, json_t *args)
{
	char err[ERR_MAX] = "";
	json_t *result = NULL;
	int ret;

	ret = explain_packet(d, args, &result, err, sizeof(err));
	return reply_from(ret, result, err);
}

static json_t *cmd_reset(struct daemon *d, json_t *args)
{
	const char *target = NULL;
	char err[ERR_MAX] = "";
	json_t *result = NULL;
	int ret;

	if (args && json_unpack(args, "{s?s}", "target", &target))
		return proto_reply_error("EINVAL", "reset takes args {target}");
	ret = stats_reset(d, target, &result, err, sizeof(err));
	return reply_from(ret, result, err);
}

static const char *policy_arg(json_t *args)
{
	const char *name = NULL;

	if (json_unpack(args, "{s:s}", "policy", &name))
		return NULL;
	return name;
}

static json_t *cmd_remove(struct daemon *d, json_t *args)
{
	const char *name = policy_arg(args);
	char err[ERR_MAX] = "";
	json_t *result = NULL;

	int ret;

	if (!name)
		return proto_reply_error("EINVAL", "remove needs args {policy}");
	/* Two statements: argument evaluation order is unspecified, and
	 * @result must be read after the call fills it. */
	ret = policy_set_remove(d, name, &result, err, sizeof(err));
	return reply_from(ret, result, err);
}

static const char *mode_name(const struct policy *pol)
{
	return pol->mode == POLICY_MODE_MONITOR ? "monitor" : "enforce";
}

static json_t *routes_json(const struct applied_policy *ap)
{
	json_t *a = json_array();
	char pbuf[PREFIX_STR_MAX], rbuf[256];

	for (size_t i = 0; i < ap->nroutes; i++) {
		const struct owned_route *o = &ap->routes[i];

		route_info_format(&o->installed, rbuf, sizeof(rbuf));
		json_array_append_new(
			a, json_pack("{s:s, s:s, s:s}", "dst",
				     prefix_format(&o->dst, false, pbuf, sizeof(pbuf)), "origin",
				     o->replaced ? "replaced" : "added", "route", rbuf));
	}
	return a;
}

/* Every route the policies own, and whether the kernel has it as installed
 * (with this program's encap): what 'ip route' alone cannot tell. */
static json_t *cmd_routes(struct daemon *d, json_t *args)
{
	struct route_info *live = NULL;
	char pbuf[PREFIX_STR_MAX], rbuf[256], obuf[256];
	json_t *routes = json_array();
	size_t n = 0;
	int err;

	err = route_list_owned(d->rt, &live, &n);
	if (err) {
		json_decref(routes);
		return proto_reply_error("EIO", "cannot list the routes: %s", strerror(-err));
	}
	for (size_t i = 0; i < d->set.n; i++) {
		const struct applied_policy *ap = d->set.v[i];

		for (size_t j = 0; j < ap->nroutes; j++) {
			const struct owned_route *o = &ap->routes[j];
			bool present = false;

			for (size_t k = 0; k < n && !present; k++)
				present = prefix_equal(&live[k].dst, &o->dst) &&
					  live[k].table == o->installed.table &&
					  strcmp(live[k].encap_name, d->route_name) == 0;
			route_info_format(&o->installed, rbuf, sizeof(rbuf));
			if (o->replaced)
				route_info_format(&o->original, obuf, sizeof(obuf));
			json_array_append_new(
				routes, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s?}", "policy",
						  ap->pol->name, "dst",
						  prefix_format(&o->dst, false, pbuf, sizeof(pbuf)),
						  "origin", o->replaced ? "replaced" : "added",
						  "installed", present, "route", rbuf, "original",
						  o->replaced ? obuf : NULL));
		}
	}
	free(live);
	return proto_reply_ok(json_pack("{s:s, s:o}", "encap", d->route_name, "routes", routes));
}

static json_t *cmd_list(struct daemon *d, json_t *args)
{
	json_t *pols = json_array();
	char when[32];

	for (size_t i = 0; i < d->set.n; i++) {
		const struct applied_policy *ap = d->set.v[i];

		iso8601(ap->applied, when, sizeof(when));
		json_array_append_new(pols, json_pack("{s:s, s:s, s:s, s:o, s:I, s:s, s:o}",
						      "policy", ap->pol->name, "mode",
						      mode_name(ap->pol), "default",
						      policy_verdict_name(ap->pol->default_verdict),
						      "destinations", policy_dests_json(ap->pol),
						      "rules", (json_int_t)ap->pol->nrules,
						      "applied", when, "routes", routes_json(ap)));
	}
	return proto_reply_ok(json_pack("{s:o}", "policies", pols));
}

/* One compiled rule for 'show': each condition it tests, null when absent. */
static json_t *rule_json(const struct policy_rule *r, uint32_t counter)
{
	const char *pname = r->has_proto ? policy_proto_name(r->proto) : NULL;
	char pnum[8], dport[256], sport[256], length[128], flags[64], icmp[1100], limit[128];
	char pbuf[PREFIX_STR_MAX];
	json_t *src = NULL;

	if (r->has_proto && !pname) {
		snprintf(pnum, sizeof(pnum), "%u", r->proto);
		pname = pnum;
	}
	policy_format_ports(r->dport, r->ndport, dport, sizeof(dport));
	policy_format_ports(r->sport, r->nsport, sport, sizeof(sport));
	policy_format_ports(r->length, r->nlength, length, sizeof(length));
	policy_format_tcp_flags(r->tcp_flags_mask, r->tcp_flags_value, flags, sizeof(flags));
	policy_format_icmp_types(r->proto, r->icmp_types, icmp, sizeof(icmp));
	policy_format_limit(r, limit, sizeof(limit));
	if (r->nsrcs) {
		src = json_array();
		for (size_t i = 0; i < r->nsrcs; i++)
			json_array_append_new(src, json_string(prefix_format(&r->srcs[i], false,
									     pbuf, sizeof(pbuf))));
	}
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:o?, s:s?, s:s?, s:s?, s:s?, s:b, s:I}",
			 "name", r->name, "action", policy_verdict_name(r->action), "proto", pname,
			 "dport", r->ndport ? dport : NULL, "sport", r->nsport ? sport : NULL,
			 "src", src, "length", r->nlength ? length : NULL, "tcp_flags",
			 r->has_tcp_flags ? flags : NULL, "icmp_type",
			 r->has_icmp_type ? icmp : NULL, "limit",
			 r->limit.kind != PD_LIMIT_NONE ? limit : NULL, "log", r->log, "counter",
			 (json_int_t)counter);
}

static json_t *cmd_show(struct daemon *d, json_t *args)
{
	const char *name = policy_arg(args);
	const struct applied_policy *ap;
	json_t *rules, *compiled, *sample = NULL;
	char when[32];

	if (!name)
		return proto_reply_error("EINVAL", "show needs args {policy}");
	ap = policy_set_find(&d->set, name);
	if (!ap)
		return proto_reply_error("ENOENT", "no policy named '%s' is applied", name);
	rules = json_array();
	for (size_t i = 0; i < ap->pol->nrules; i++)
		json_array_append_new(rules, rule_json(&ap->pol->rules[i], ap->rule_counters[i]));
	if (ap->pol->sample_every)
		sample = json_pack("{s:I, s:I}", "every", (json_int_t)ap->pol->sample_every,
				   "snaplen", (json_int_t)ap->pol->sample_snaplen);
	compiled = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:o?, s:o, s:o, s:I}", "slot",
			     (json_int_t)ap->slot, "mode", mode_name(ap->pol), "default",
			     policy_verdict_name(ap->pol->default_verdict), "table_full",
			     policy_verdict_name(ap->pol->table_full_verdict), "quota",
			     ap->pol->quota.bytes ? ap->pol->quota_text : NULL, "block",
			     ap->pol->block.kind ? ap->pol->block_text : NULL, "sample", sample,
			     "destinations", policy_dests_json(ap->pol), "rules", rules,
			     "default_counter", (json_int_t)ap->default_counter);
	iso8601(ap->applied, when, sizeof(when));
	return proto_reply_ok(json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "policy", name, "file",
					ap->file, "applied", when, "source", ap->source, "compiled",
					compiled, "routes", routes_json(ap)));
}

static json_t *cmd_stats(struct daemon *d, json_t *args)
{
	const char *target = NULL;
	char err[ERR_MAX] = "";
	json_t *result = NULL;

	int ret;

	int realms = 0;
	json_int_t top = 0;

	if (args &&
	    json_unpack(args, "{s?s, s?b, s?I}", "target", &target, "realms", &realms, "top", &top))
		return proto_reply_error("EINVAL", "stats takes args {target, realms, top}");
	if (top < 0 || top > STATS_TOP_MAX || (args && json_object_get(args, "top") && top == 0))
		return proto_reply_error("EINVAL", "top must be a number of hosts from 1 to %d",
					 STATS_TOP_MAX);
	ret = stats_collect(d, target, (size_t)top, &result, err, sizeof(err));
	if (!ret && realms)
		json_object_set_new(result, "realms", stats_realms(d));
	return reply_from(ret, result, err);
}

static json_t *cmd_status(struct daemon *d, json_t *args)
{
	size_t nroutes = 0;
	json_t *status;

	for (size_t i = 0; i < d->set.n; i++)
		nroutes += d->set.v[i]->nroutes;
	status = json_pack(
		"{s:s, s:i, s:I, s:s, s:s, s:s, s:{s:I, s:s, s:s}, s:I, s:i, s:I, s:I, s:I, s:o, s:o}",
		"version", POLICYD_VERSION, "pid", (int)getpid(), "uptime",
		(json_int_t)(time(NULL) - d->started), "socket", d->opts.socket_path, "bpffs",
		d->opts.bpffs_dir, "state_dir", d->opts.state_dir, "program", "id",
		(json_int_t)d->prog_id, "name", PD_PROG_NAME, "route_name", d->route_name, "epoch",
		(json_int_t)d->epoch, "generation", (int)(d->epoch % PD_GENERATIONS), "policies",
		(json_int_t)d->set.n, "destinations", (json_int_t)policy_set_ndests(&d->set),
		"routes", (json_int_t)nroutes, "maps", maps_status(d), "hosts",
		stats_hosts_fill(d));
	if (status)
		json_object_set_new(status, "events", events_status(d));
	return proto_reply_ok(status);
}

static const struct {
	const char *name;
	json_t *(*fn)(struct daemon *d, json_t *args);
} commands[] = {
	{ "apply", cmd_apply },	    { "remove", cmd_remove },	{ "list", cmd_list },
	{ "show", cmd_show },	    { "stats", cmd_stats },	{ "status", cmd_status },
	{ "confirm", cmd_confirm }, { "reset", cmd_reset },	{ "unblock", cmd_unblock },
	{ "routes", cmd_routes },   { "explain", cmd_explain },
};

json_t *cmd_dispatch(struct daemon *d, const char *command, json_t *args)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, command) == 0)
			return commands[i].fn(d, args);
	return proto_reply_error("EINVAL", "unknown command '%.64s'", command);
}
