// SPDX-License-Identifier: GPL-2.0-only
/*
 * 'stats': select policies by prefix, address or name, sum their per-CPU
 * counters and build the SPEC §5 JSON (totals, rules, hosts, histogram).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "daemon.h"
#include "policy.skel.h"

static json_t *counters_totals(const struct pd_counters *c)
{
	json_t *reasons = json_object();

	for (int r = 0; r < PD_REASON_MAX; r++)
		json_object_set_new(reasons, policy_reason_name(r),
				    json_integer(c->dropped_reason[r]));
	return json_pack(
		"{s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I, s:o}, s:{s:I, s:I}, s:I}", "packets",
		(json_int_t)c->packets, "bytes", (json_int_t)c->bytes, "passed", "packets",
		(json_int_t)c->passed_packets, "bytes", (json_int_t)c->passed_bytes, "dropped",
		"packets", (json_int_t)c->dropped_packets, "bytes", (json_int_t)c->dropped_bytes,
		"reasons", reasons, "would_drop", "packets", (json_int_t)c->would_drop_packets,
		"bytes", (json_int_t)c->would_drop_bytes, "table_full",
		(json_int_t)c->table_full_packets);
}

static void counters_add(struct pd_counters *sum, const struct pd_counters *c)
{
	__u64 *s = (__u64 *)sum;
	const __u64 *v = (const __u64 *)c;

	for (size_t i = 0; i < sizeof(*c) / sizeof(__u64); i++)
		s[i] += v[i];
}

static json_t *rule_row(const char *policy, const char *rule, uint8_t action,
			const struct pd_counters *c)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "policy", policy, "rule", rule,
			 "action", policy_verdict_name(action), "packets", (json_int_t)c->packets,
			 "bytes", (json_int_t)c->bytes, "passed", (json_int_t)c->passed_packets,
			 "dropped", (json_int_t)c->dropped_packets, "would_drop",
			 (json_int_t)c->would_drop_packets);
}

static json_t *limit_json(struct daemon *d, const struct policy_rule *r, uint32_t counter)
{
	const struct pd_limit *l = &r->limit;
	json_t *j = json_pack("{s:s, s:I, s:s, s:s}", "rate", r->limit_rate, "burst",
			      (json_int_t)r->limit_burst, "per", l->per_host ? "host" : "rule",
			      "unit", l->kind == PD_LIMIT_BYTES ? "bytes" : "packets");
	uint64_t tat;

	/* A per-host limit has one bucket per host: see "hosts". */
	if (!l->per_host && maps_read_rule_bucket(d, counter, &tat) == 0)
		json_object_set_new(j, "available",
				    json_integer(maps_bucket_available(l, tat, maps_now())));
	return j;
}

/* The rule (and its policy) whose per-host limit owns @counter, if selected. */
static const struct policy_rule *host_rule(struct daemon *d, uint32_t counter, const char *target,
					   bool by_prefix, const struct applied_policy **owner)
{
	for (size_t i = 0; i < d->set.n; i++) {
		const struct applied_policy *ap = d->set.v[i];

		if (!by_prefix && target && strcmp(target, ap->pol->name))
			continue;
		for (size_t r = 0; r < ap->pol->nrules; r++) {
			if (ap->rule_counters[r] == counter && ap->pol->rules[r].limit.per_host) {
				*owner = ap;
				return &ap->pol->rules[r];
			}
		}
	}
	return NULL;
}

/* Hosts with a per-host bucket, inside @pfx (when given) or of the selected
 * policies: their bucket level. Per-host traffic counters come with the
 * per-host table of a later version. */
#define HOSTS_MAX 256

static json_t *host_buckets_json(struct daemon *d, const struct prefix *pfx, const char *target)
{
	int fd = bpf_map__fd(d->skel->maps.pd_host_buckets);
	struct pd_host_key key, next;
	uint64_t now = maps_now();
	json_t *hosts = json_array();
	void *prev = NULL;

	while (json_array_size(hosts) < HOSTS_MAX && bpf_map_get_next_key(fd, prev, &next) == 0) {
		const struct applied_policy *ap = NULL;
		const struct policy_rule *r;
		struct pd_bucket b;
		struct prefix host = { .family = next.family };
		char buf[PREFIX_STR_MAX];

		key = next;
		prev = &key;
		r = host_rule(d, next.counter, target, pfx != NULL, &ap);
		if (!r || bpf_map_lookup_elem(fd, &next, &b))
			continue;
		host.len = next.family == AF_INET ? r->limit.mask4 : r->limit.mask6;
		memcpy(host.addr, next.addr, sizeof(host.addr));
		if (pfx && !prefix_overlaps(pfx, &host))
			continue;
		json_array_append_new(
			hosts, json_pack("{s:s, s:s, s:s, s:I}", "address",
					 prefix_format(&host, true, buf, sizeof(buf)), "policy",
					 ap->pol->name, "rule", r->name, "available",
					 (json_int_t)maps_bucket_available(&r->limit, b.tat, now)));
	}
	return hosts;
}

static bool policy_overlaps(const struct policy *pol, const struct prefix *p)
{
	for (size_t i = 0; i < pol->ndests; i++)
		if (prefix_overlaps(&pol->dests[i], p))
			return true;
	return false;
}

/*
 * The policies @target selects (SPEC §5): all (NULL), those with a
 * destination overlapping an address or prefix (*@pfx set, *@by_prefix),
 * or one by name. *@sel gets a new array of *@n entries (free()).
 */
static int select_policies(struct daemon *d, const char *target, struct prefix *pfx,
			   bool *by_prefix, const struct applied_policy ***sel, size_t *n,
			   char *err, size_t errlen)
{
	char pbuf[PREFIX_STR_MAX];

	*by_prefix = target && prefix_parse(target, false, pfx) == 0;
	if (target && !*by_prefix && !policy_set_find(&d->set, target)) {
		snprintf(err, errlen,
			 strchr(target, '/') || strchr(target, ':') || strchr(target, '.') ?
				 "'%s' is not a valid address or prefix (host bits set?)" :
				 "no policy named '%s' is applied",
			 target);
		return -ENOENT;
	}
	*sel = calloc(d->set.n + 1, sizeof(**sel));
	if (!*sel)
		return -ENOMEM;
	*n = 0;
	for (size_t i = 0; i < d->set.n; i++) {
		const struct applied_policy *ap = d->set.v[i];

		if (*by_prefix ? policy_overlaps(ap->pol, pfx) :
				 !target || strcmp(target, ap->pol->name) == 0)
			(*sel)[(*n)++] = ap;
	}
	if (*by_prefix && !*n) {
		snprintf(err, errlen, "no applied policy has a destination overlapping %s",
			 prefix_format(pfx, false, pbuf, sizeof(pbuf)));
		free(*sel);
		*sel = NULL;
		return -ENOENT;
	}
	return 0;
}

int stats_collect(struct daemon *d, const char *target, json_t **result, char *err, size_t errlen)
{
	const struct applied_policy **sel = NULL;
	struct pd_policy_stats ps, sum = {};
	struct prefix pfx;
	bool by_prefix;
	json_t *rules = json_array(), *names = json_array(), *quotas = json_array(), *hist, *hosts;
	json_t *res = NULL;
	char pbuf[PREFIX_STR_MAX];
	size_t nsel = 0;
	int ret;

	ret = select_policies(d, target, &pfx, &by_prefix, &sel, &nsel, err, errlen);
	if (ret)
		goto out;
	for (size_t i = 0; i < nsel; i++) {
		const struct applied_policy *ap = sel[i];
		json_t *quota = hosts_policy_quota(d, ap);
		struct pd_counters rc;

		if (quota)
			json_array_append_new(quotas, quota);

		ret = maps_read_policy_stats(d, ap->slot, &ps);
		if (ret)
			goto read_err;
		counters_add(&sum.c, &ps.c);
		for (int b = 0; b < PD_HIST_BUCKETS; b++)
			sum.hist[b] += ps.hist[b];
		json_array_append_new(names, json_string(ap->pol->name));
		for (size_t r = 0; r < ap->pol->nrules; r++) {
			json_t *row;

			ret = maps_read_rule_stats(d, ap->rule_counters[r], &rc);
			if (ret)
				goto read_err;
			row = rule_row(ap->pol->name, ap->pol->rules[r].name,
				       ap->pol->rules[r].action, &rc);
			if (ap->pol->rules[r].limit.kind != PD_LIMIT_NONE)
				json_object_set_new(
					row, "limit",
					limit_json(d, &ap->pol->rules[r], ap->rule_counters[r]));
			json_array_append_new(rules, row);
		}
		ret = maps_read_rule_stats(d, ap->default_counter, &rc);
		if (ret)
			goto read_err;
		json_array_append_new(
			rules, rule_row(ap->pol->name, "default", ap->pol->default_verdict, &rc));
	}
	hist = json_array();
	for (int b = 0; b < PD_HIST_BUCKETS; b++) {
		json_t *le =
			b == PD_HIST_BUCKETS - 1 ? json_string("+Inf") : json_integer(64LL << b);

		json_array_append_new(hist, json_pack("{s:o, s:I}", "le", le, "packets",
						      (json_int_t)sum.hist[b]));
	}
	hosts = host_buckets_json(d, by_prefix ? &pfx : NULL, target);
	hosts_stats(d, by_prefix ? &pfx : NULL, by_prefix ? NULL : target, hosts);
	res = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "policies", names, "totals",
			counters_totals(&sum.c), "rules", rules, "hosts", hosts, "quotas", quotas,
			"histogram", hist);
	quotas = NULL;
	names = rules = NULL;
	if (by_prefix)
		json_object_set_new(res, "prefix",
				    json_string(prefix_format(&pfx, false, pbuf, sizeof(pbuf))));
	else if (target)
		json_object_set_new(res, "policy", json_string(target));
	else
		json_object_set_new(res, "all", json_true());
	*result = res;
	ret = 0;
	goto out;
read_err:
	snprintf(err, errlen, "cannot read the counters: %s", strerror(-ret));
out:
	free(sel);
	json_decref(rules);
	json_decref(names);
	json_decref(quotas);
	return ret;
}

int stats_reset(struct daemon *d, const char *target, json_t **result, char *err, size_t errlen)
{
	const struct applied_policy **sel = NULL;
	json_t *names = json_array();
	struct prefix pfx;
	bool by_prefix;
	size_t nsel = 0, nrules = 0;
	int ret;

	ret = select_policies(d, target, &pfx, &by_prefix, &sel, &nsel, err, errlen);
	for (size_t i = 0; !ret && i < nsel; i++) {
		const struct applied_policy *ap = sel[i];

		/* Counters only: a reset must not hand out fresh buckets. */
		ret = maps_zero_policy_stats(d, ap->slot);
		for (size_t r = 0; !ret && r <= ap->pol->nrules; r++) {
			uint32_t c =
				r < ap->pol->nrules ? ap->rule_counters[r] : ap->default_counter;

			ret = maps_zero_counters(d, c);
		}
		nrules += ap->pol->nrules + 1;
		json_array_append_new(names, json_string(ap->pol->name));
	}
	if (ret) {
		if (!err[0])
			snprintf(err, errlen, "cannot reset the counters: %s", strerror(-ret));
		json_decref(names);
	} else {
		*result = json_pack("{s:o, s:I}", "policies", names, "rules", (json_int_t)nrules);
		pr_info("counters reset (%s)", target ? target : "all policies");
	}
	free(sel);
	return ret;
}

json_t *stats_realms(struct daemon *d)
{
	struct bpf_map *map = d->skel->maps.pd_realm_stats;
	int fd = bpf_map__fd(map);
	struct pd_realm_stats *vals = calloc(d->ncpus, sizeof(*vals));
	json_t *realms = json_array();
	__u32 key, next;
	void *prev = NULL;

	if (!vals)
		return realms;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct pd_realm_stats sum = {};

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &next, vals))
			continue;
		for (int cpu = 0; cpu < d->ncpus; cpu++) {
			sum.packets += vals[cpu].packets;
			sum.bytes += vals[cpu].bytes;
			sum.dropped_packets += vals[cpu].dropped_packets;
			sum.dropped_bytes += vals[cpu].dropped_bytes;
		}
		json_array_append_new(
			realms,
			json_pack("{s:I, s:I, s:I, s:I, s:I}", "realm", (json_int_t)next, "packets",
				  (json_int_t)sum.packets, "bytes", (json_int_t)sum.bytes,
				  "dropped_packets", (json_int_t)sum.dropped_packets,
				  "dropped_bytes", (json_int_t)sum.dropped_bytes));
	}
	free(vals);
	return realms;
}
