// SPDX-License-Identifier: GPL-2.0-only
/*
 * What applying a new version of a policy changes, for 'apply --diff' and
 * '--dry-run': destinations added and removed, and per rule whether it is
 * new, gone or changed, and which of its counters and buckets are kept.
 */
#include <stdio.h>
#include <string.h>

#include "daemon.h"

static const struct policy_rule *rule_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; p && i < p->nrules; i++)
		if (strcmp(p->rules[i].name, name) == 0)
			return &p->rules[i];
	return NULL;
}

static bool dest_in(const struct policy *p, const struct prefix *d)
{
	for (size_t i = 0; p && i < p->ndests; i++)
		if (prefix_equal(&p->dests[i], d))
			return true;
	return false;
}

/* "old -> new" for two values of a named condition, or nothing when equal. */
static void detail(json_t *details, const char *what, const char *old, const char *new)
{
	char buf[1100]; /* what, two values of at most 511 and the arrow */

	if (strcmp(old, new) == 0)
		return;
	snprintf(buf, sizeof(buf), "%s %s -> %s", what, old[0] ? old : "any", new[0] ? new : "any");
	json_array_append_new(details, json_string(buf));
}

static void rule_proto(const struct policy_rule *r, char *buf, size_t size)
{
	const char *name = r->has_proto ? policy_proto_name(r->proto) : NULL;

	if (!r->has_proto)
		buf[0] = '\0';
	else if (name)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%u", r->proto);
}

static void rule_srcs(const struct policy_rule *r, char *buf, size_t size)
{
	char p[PREFIX_STR_MAX];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->nsrcs && off < size; i++)
		off += snprintf(buf + off, size - off, "%s%s", i ? "," : "",
				prefix_format(&r->srcs[i], false, p, sizeof(p)));
}

/* Each condition of @a and @b in the words 'show' uses. */
static json_t *rule_details(const struct policy_rule *a, const struct policy_rule *b)
{
	json_t *details = json_array();
	char x[512], y[512];

	detail(details, "action", policy_verdict_name(a->action), policy_verdict_name(b->action));
	rule_proto(a, x, sizeof(x));
	rule_proto(b, y, sizeof(y));
	detail(details, "proto", x, y);
	policy_format_ports(a->dport, a->ndport, x, sizeof(x));
	policy_format_ports(b->dport, b->ndport, y, sizeof(y));
	detail(details, "dport", a->ndport ? x : "", b->ndport ? y : "");
	policy_format_ports(a->sport, a->nsport, x, sizeof(x));
	policy_format_ports(b->sport, b->nsport, y, sizeof(y));
	detail(details, "sport", a->nsport ? x : "", b->nsport ? y : "");
	rule_srcs(a, x, sizeof(x));
	rule_srcs(b, y, sizeof(y));
	detail(details, "src", x, y);
	policy_format_ports(a->length, a->nlength, x, sizeof(x));
	policy_format_ports(b->length, b->nlength, y, sizeof(y));
	detail(details, "length", a->nlength ? x : "", b->nlength ? y : "");
	policy_format_tcp_flags(a->tcp_flags_mask, a->tcp_flags_value, x, sizeof(x));
	policy_format_tcp_flags(b->tcp_flags_mask, b->tcp_flags_value, y, sizeof(y));
	detail(details, "tcp-flags", a->has_tcp_flags ? x : "", b->has_tcp_flags ? y : "");
	policy_format_icmp_types(a->proto, a->icmp_types, x, sizeof(x));
	policy_format_icmp_types(b->proto, b->icmp_types, y, sizeof(y));
	detail(details, "icmp-type", a->has_icmp_type ? x : "", b->has_icmp_type ? y : "");
	policy_format_limit(a, x, sizeof(x));
	policy_format_limit(b, y, sizeof(y));
	detail(details, "limit", a->limit.kind ? x : "none", b->limit.kind ? y : "none");
	return details;
}

static json_t *old_new(const char *old, const char *new)
{
	return strcmp(old, new) ? json_pack("{s:s, s:s}", "old", old, "new", new) : json_null();
}

static const char *mode_word(const struct policy *p)
{
	return p->mode == POLICY_MODE_MONITOR ? "monitor" : "enforce";
}

json_t *policy_diff(const struct policy *old, const struct policy *new)
{
	json_t *added = json_array(), *removed = json_array(), *rules = json_array();
	char buf[PREFIX_STR_MAX];
	size_t kept = 0;

	for (size_t i = 0; i < new->ndests; i++) {
		if (dest_in(old, &new->dests[i]))
			kept++;
		else
			json_array_append_new(added,
					      json_string(prefix_format(&new->dests[i], false, buf,
									sizeof(buf))));
	}
	for (size_t i = 0; old && i < old->ndests; i++)
		if (!dest_in(new, &old->dests[i]))
			json_array_append_new(removed,
					      json_string(prefix_format(&old->dests[i], false, buf,
									sizeof(buf))));

	for (size_t i = 0; i < new->nrules; i++) {
		const struct policy_rule *r = &new->rules[i];
		const struct policy_rule *o = rule_find(old, r->name);
		json_t *details = o ? rule_details(o, r) : json_array();
		const char *change = !o			      ? "added" :
				     json_array_size(details) ? "changed" :
								"unchanged";
		const char *bucket = NULL;

		/* A bucket lives with the rule's counter: it is kept when the
		 * rule had one under this name. */
		if (r->limit.kind)
			bucket = o && o->limit.kind ? "kept" : "new";
		json_array_append_new(rules,
				      json_pack("{s:s, s:s, s:s, s:s?, s:o}", "rule", r->name,
						"change", change, "counters", o ? "kept" : "new",
						"bucket", bucket, "details", details));
	}
	for (size_t i = 0; old && i < old->nrules; i++) {
		const struct policy_rule *o = &old->rules[i];

		if (rule_find(new, o->name))
			continue;
		json_array_append_new(
			rules, json_pack("{s:s, s:s, s:s, s:s?, s:[]}", "rule", o->name, "change",
					 "removed", "counters", "released", "bucket",
					 o->limit.kind ? "released" : NULL, "details"));
	}
	return json_pack("{s:b, s:o, s:o, s:o, s:{s:o, s:o, s:I}, s:o}", "created", !old, "mode",
			 old ? old_new(mode_word(old), mode_word(new)) : json_null(), "default",
			 old ? old_new(policy_verdict_name(old->default_verdict),
				       policy_verdict_name(new->default_verdict)) :
			       json_null(),
			 "table_full",
			 old ? old_new(policy_verdict_name(old->table_full_verdict),
				       policy_verdict_name(new->table_full_verdict)) :
			       json_null(),
			 "destinations", "added", added, "removed", removed, "kept",
			 (json_int_t)kept, "rules", rules);
}
