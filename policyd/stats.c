// SPDX-License-Identifier: GPL-2.0-only
/*
 * 'stats': select policies by prefix, address or name, sum their per-CPU
 * counters and build the SPEC §5 JSON (totals, rules, hosts, histogram).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "daemon.h"

static json_t *counters_totals(const struct pd_counters *c)
{
	json_t *reasons = json_object();

	for (int r = 0; r < PD_REASON_MAX; r++)
		json_object_set_new(reasons, policy_reason_name(r),
				    json_integer(c->dropped_reason[r]));
	return json_pack("{s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I, s:o}, s:{s:I, s:I}}", "packets",
			 (json_int_t)c->packets, "bytes", (json_int_t)c->bytes, "passed", "packets",
			 (json_int_t)c->passed_packets, "bytes", (json_int_t)c->passed_bytes,
			 "dropped", "packets", (json_int_t)c->dropped_packets, "bytes",
			 (json_int_t)c->dropped_bytes, "reasons", reasons, "would_drop", "packets",
			 (json_int_t)c->would_drop_packets, "bytes",
			 (json_int_t)c->would_drop_bytes);
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

static bool policy_overlaps(const struct policy *pol, const struct prefix *p)
{
	for (size_t i = 0; i < pol->ndests; i++)
		if (prefix_overlaps(&pol->dests[i], p))
			return true;
	return false;
}

int stats_collect(struct daemon *d, const char *target, json_t **result, char *err, size_t errlen)
{
	struct pd_policy_stats ps, sum = {};
	struct prefix pfx;
	bool by_prefix = false;
	json_t *rules = json_array(), *names = json_array(), *hist, *res = NULL;
	char pbuf[PREFIX_STR_MAX];
	size_t selected = 0;
	int ret = 0;

	if (target && prefix_parse(target, false, &pfx) == 0)
		by_prefix = true;
	else if (target && !policy_set_find(&d->set, target)) {
		snprintf(err, errlen,
			 strchr(target, '/') || strchr(target, ':') || strchr(target, '.') ?
				 "'%s' is not a valid address or prefix (host bits set?)" :
				 "no policy named '%s' is applied",
			 target);
		ret = -ENOENT;
		goto out;
	}
	for (size_t i = 0; i < d->set.n; i++) {
		const struct applied_policy *ap = d->set.v[i];
		struct pd_counters rc;

		if (by_prefix ? !policy_overlaps(ap->pol, &pfx) :
				target && strcmp(target, ap->pol->name)) {
			continue;
		}
		selected++;
		ret = maps_read_policy_stats(d, ap->slot, &ps);
		if (ret)
			goto read_err;
		counters_add(&sum.c, &ps.c);
		for (int b = 0; b < PD_HIST_BUCKETS; b++)
			sum.hist[b] += ps.hist[b];
		json_array_append_new(names, json_string(ap->pol->name));
		for (size_t r = 0; r < ap->pol->nrules; r++) {
			ret = maps_read_rule_stats(d, ap->rule_counters[r], &rc);
			if (ret)
				goto read_err;
			json_array_append_new(rules, rule_row(ap->pol->name, ap->pol->rules[r].name,
							      ap->pol->rules[r].action, &rc));
		}
		ret = maps_read_rule_stats(d, ap->default_counter, &rc);
		if (ret)
			goto read_err;
		json_array_append_new(
			rules, rule_row(ap->pol->name, "default", ap->pol->default_verdict, &rc));
	}
	if (by_prefix && !selected) {
		snprintf(err, errlen, "no applied policy has a destination overlapping %s",
			 prefix_format(&pfx, false, pbuf, sizeof(pbuf)));
		ret = -ENOENT;
		goto out;
	}
	hist = json_array();
	for (int b = 0; b < PD_HIST_BUCKETS; b++) {
		json_t *le =
			b == PD_HIST_BUCKETS - 1 ? json_string("+Inf") : json_integer(64LL << b);

		json_array_append_new(hist, json_pack("{s:o, s:I}", "le", le, "packets",
						      (json_int_t)sum.hist[b]));
	}
	res = json_pack("{s:o, s:o, s:o, s:[], s:o}", "policies", names, "totals",
			counters_totals(&sum.c), "rules", rules, "hosts", "histogram", hist);
	names = rules = NULL;
	if (by_prefix)
		json_object_set_new(res, "prefix",
				    json_string(prefix_format(&pfx, false, pbuf, sizeof(pbuf))));
	else if (target)
		json_object_set_new(res, "policy", json_string(target));
	else
		json_object_set_new(res, "all", json_true());
	*result = res;
	return 0;
read_err:
	snprintf(err, errlen, "cannot read the counters: %s", strerror(-ret));
out:
	json_decref(rules);
	json_decref(names);
	return ret;
}
