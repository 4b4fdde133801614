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
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "daemon.h"
#include "hoststats.h"
#include "policy.skel.h"

static json_t *counters_totals(const struct pd_counters *c)
{
	json_t *reasons = json_object(), *reasons_bytes = json_object();

	for (int r = 0; r < PD_REASON_MAX; r++) {
		json_object_set_new(reasons, policy_reason_name(r),
				    json_integer(c->dropped_reason[r]));
		json_object_set_new(reasons_bytes, policy_reason_name(r),
				    json_integer(c->dropped_reason_bytes[r]));
	}
	return json_pack(
		"{s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I, s:o, s:o}, s:{s:I, s:I}, s:I}", "packets",
		(json_int_t)c->packets, "bytes", (json_int_t)c->bytes, "passed", "packets",
		(json_int_t)c->passed_packets, "bytes", (json_int_t)c->passed_bytes, "dropped",
		"packets", (json_int_t)c->dropped_packets, "bytes", (json_int_t)c->dropped_bytes,
		"reasons", reasons, "reasons_bytes", reasons_bytes, "would_drop", "packets",
		(json_int_t)c->would_drop_packets, "bytes", (json_int_t)c->would_drop_bytes,
		"table_full", (json_int_t)c->table_full_packets);
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
 * policies: their bucket level (the rows stats shows besides the busiest
 * hosts when no --top is given). */
#define HOSTS_MAX 256

static json_t *host_buckets_json(struct daemon *d, const struct prefix *pfx, const char *target)
{
	uint64_t now = maps_now(), tat;
	json_t *hosts = json_array();
	struct pd_host_key next;
	size_t pos = 0;

	while (json_array_size(hosts) < HOSTS_MAX &&
	       set_table_next(&d->buckets, &pos, &next, &tat)) {
		const struct applied_policy *ap = NULL;
		const struct policy_rule *r;
		struct prefix host = { .family = next.family };
		char buf[PREFIX_STR_MAX];

		/* A refilled bucket is as good as none: its way is free to take. */
		r = host_rule(d, next.counter, target, pfx != NULL, &ap);
		if (!r || tat <= now)
			continue;
		host.len = next.family == AF_INET ? r->limit.mask4 : r->limit.mask6;
		memcpy(host.addr, next.addr, sizeof(host.addr));
		if (pfx && !prefix_overlaps(pfx, &host))
			continue;
		json_array_append_new(
			hosts, json_pack("{s:s, s:s, s:s, s:I}", "address",
					 prefix_format(&host, true, buf, sizeof(buf)), "policy",
					 ap->pol->name, "rule", r->name, "available",
					 (json_int_t)maps_bucket_available(&r->limit, tat, now)));
	}
	return hosts;
}

/* The busiest hosts stats lists when no --top is given. */
#define HOSTS_TOP_DEFAULT 10

static const struct applied_policy *policy_by_slot(const struct daemon *d, uint32_t slot)
{
	for (size_t i = 0; i < d->set.n; i++)
		if (d->set.v[i]->slot == slot)
			return d->set.v[i];
	return NULL;
}

static json_t *rate_json(double v)
{
	/* Rates are measured, not counted: a tenth is as exact as they get. */
	return v < 0 ? json_null() : json_real((double)(int64_t)(v * 10 + 0.5) / 10);
}

/* A host's block and quota state (pd_hosts) into its @row. */
static void host_state_json(struct daemon *d, const struct applied_policy *ap,
			    const struct host_row *h, json_t *row)
{
	const struct pd_quota *q = &ap->pol->quota;
	struct pd_hosts_key k = { .slot = ap->slot, .family = h->family };
	struct pd_host_state st;
	uint64_t mono, tai;
	char until[32];

	if (!ap->pol->block.kind && !(q->bytes && q->per_host))
		return;
	memcpy(k.addr, h->addr, sizeof(k.addr));
	if (set_table_find(&d->hosts, &k, &st))
		memset(&st, 0, sizeof(st)); /* no state yet: as an idle host */
	mono = clock_ns(CLOCK_MONOTONIC);
	tai = clock_ns(CLOCK_TAI);
	if (ap->pol->block.kind) {
		json_object_set_new(row, "blocked", json_boolean(st.blocked_until > mono));
		json_object_set_new(row, "blocks", json_integer(st.blocks));
		if (st.blocked_until > mono) {
			clock_to_iso(CLOCK_MONOTONIC, st.blocked_until, until, sizeof(until));
			json_object_set_new(row, "blocked_until", json_string(until));
		}
	}
	if (q->bytes && q->per_host && q->period_ns)
		json_object_set_new(row, "quota_used",
				    json_integer(st.quota_period == tai / q->period_ns ?
							 (json_int_t)st.quota_used :
							 0));
}

/* The host's per-host buckets (one per rule with a per-host limit) into
 * its @row: "buckets", and the first one's "rule" and "available". */
static void host_buckets_of(struct daemon *d, const struct applied_policy *ap,
			    const struct host_row *h, json_t *row)
{
	uint64_t now = maps_now(), tat;
	json_t *buckets = NULL;

	for (size_t r = 0; r < ap->pol->nrules; r++) {
		const struct pd_limit *l = &ap->pol->rules[r].limit;
		struct pd_host_key k = { .counter = ap->rule_counters[r], .family = h->family };
		unsigned int bits = h->family == AF_INET ? l->mask4 : l->mask6;
		json_int_t avail;

		if (l->kind == PD_LIMIT_NONE || !l->per_host)
			continue;
		for (unsigned int i = 0; i < 16; i++) {
			unsigned int keep = bits > i * 8 ? bits - i * 8 : 0;

			k.addr[i] = keep >= 8 ? h->addr[i] : h->addr[i] & (uint8_t)(0xff00 >> keep);
		}
		/* No bucket: a full one (it starts full at the next packet). */
		maps_host_bucket(d, &k, &tat);
		avail = (json_int_t)maps_bucket_available(l, tat, now);
		if (!buckets) {
			buckets = json_array();
			json_object_set_new(row, "rule", json_string(ap->pol->rules[r].name));
			json_object_set_new(row, "available", json_integer(avail));
		}
		json_array_append_new(buckets,
				      json_pack("{s:s, s:I}", "rule", ap->pol->rules[r].name,
						"available", avail));
	}
	if (buckets)
		json_object_set_new(row, "buckets", buckets);
}

static json_t *host_json(struct daemon *d, const struct host_row *h)
{
	const struct applied_policy *ap = policy_by_slot(d, h->slot);
	struct prefix p = { .family = h->family, .len = prefix_max_len(h->family) };
	uint64_t now = clock_ns(CLOCK_MONOTONIC_COARSE);
	json_t *reasons = json_object(), *row;
	char abuf[PREFIX_STR_MAX], seen[32];

	memcpy(p.addr, h->addr, sizeof(p.addr));
	for (int r = 0; r < PD_REASON_MAX; r++)
		json_object_set_new(reasons, policy_reason_name(r),
				    json_integer((json_int_t)h->dropped_reason[r]));
	clock_to_iso(CLOCK_MONOTONIC_COARSE, h->last_seen_ns, seen, sizeof(seen));
	row = json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:o, s:o, s:s?, s:f}", "address",
			prefix_format(&p, true, abuf, sizeof(abuf)), "policy",
			ap ? ap->pol->name : "?", "packets", (json_int_t)h->packets, "bytes",
			(json_int_t)h->bytes, "dropped", (json_int_t)h->dropped, "dropped_reasons",
			reasons, "would_drop", (json_int_t)h->would_drop, "pps", rate_json(h->pps),
			"bps", rate_json(h->bps), "last_seen", h->last_seen_ns ? seen : NULL,
			"idle_seconds",
			h->last_seen_ns && now > h->last_seen_ns ?
				(double)((now - h->last_seen_ns) / 1000000) / 1000 :
				0.0);
	if (row && ap) {
		host_buckets_of(d, ap, h, row);
		host_state_json(d, ap, h, row);
	}
	return row;
}

/* Is one of the first @n rows of @hosts about @address? */
static bool hosts_has(const json_t *hosts, size_t n, const char *address)
{
	for (size_t i = 0; i < n; i++) {
		const char *a =
			json_string_value(json_object_get(json_array_get(hosts, i), "address"));

		if (a && !strcmp(a, address))
			return true;
	}
	return false;
}

/*
 * The hosts table: the @top busiest hosts (by packets) inside @pfx or of
 * the policy @target, each with its rates, buckets and block and quota
 * state. With no --top (@top 0), the HOSTS_TOP_DEFAULT busiest, then every
 * other host with per-host state (a bucket, a block, quota use), as before
 * there were per-host counters.
 */
static int hosts_json(struct daemon *d, const struct prefix *pfx, const char *target, size_t top,
		      json_t **out)
{
	const struct applied_policy *ap = !pfx && target ? policy_set_find(&d->set, target) : NULL;
	struct host_row *rows = NULL;
	json_t *hosts = json_array(), *more, *row;
	size_t nrows = 0, i;
	int err;

	err = hoststats_top_of(d, pfx, ap ? ap->slot : PD_SLOT_NONE, top ? top : HOSTS_TOP_DEFAULT,
			       &rows, &nrows, NULL);
	if (err) {
		json_decref(hosts);
		return err;
	}
	for (i = 0; i < nrows; i++)
		json_array_append_new(hosts, host_json(d, &rows[i]));
	free(rows);
	if (!top) {
		more = host_buckets_json(d, pfx, target);
		hosts_stats(d, pfx, pfx ? NULL : target, more);
		json_array_foreach(more, i, row) {
			const char *a = json_string_value(json_object_get(row, "address"));

			if (a && !hosts_has(hosts, nrows, a))
				json_array_append(hosts, row);
		}
		json_decref(more);
	}
	*out = hosts;
	return 0;
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

int stats_collect(struct daemon *d, const char *target, size_t top, json_t **result, char *err,
		  size_t errlen)
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
	ret = hosts_json(d, by_prefix ? &pfx : NULL, target, top, &hosts);
	if (ret) {
		json_decref(hist);
		snprintf(err, errlen, "cannot read the per-host table: %s", strerror(-ret));
		goto out;
	}
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
	size_t nsel = 0, nrules = 0, nhosts = 0;
	int ret;

	ret = select_policies(d, target, &pfx, &by_prefix, &sel, &nsel, err, errlen);
	/* The per-host counters of the hosts the target covers go too. */
	if (!ret) {
		const struct applied_policy *ap =
			!by_prefix && target ? policy_set_find(&d->set, target) : NULL;

		ret = hoststats_reset(d, by_prefix ? &pfx : NULL, ap ? ap->slot : PD_SLOT_NONE,
				      &nhosts);
		if (ret)
			snprintf(err, errlen, "cannot reset the per-host counters: %s",
				 strerror(-ret));
	}
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
		*result = json_pack("{s:o, s:I, s:I}", "policies", names, "rules",
				    (json_int_t)nrules, "hosts", (json_int_t)nhosts);
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

json_t *stats_hosts_fill(struct daemon *d)
{
	struct hoststats_fill f;

	if (hoststats_fill(d, &f))
		return json_null();
	return json_pack("{s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}", "ipv4", "present",
			 (json_int_t)f.present4, "capacity", (json_int_t)f.capacity4, "evicted",
			 (json_int_t)f.evicted4, "ipv6", "present", (json_int_t)f.present6,
			 "capacity", (json_int_t)f.capacity6, "evicted", (json_int_t)f.evicted6);
}
