// SPDX-License-Identifier: GPL-2.0-only
/*
 * struct policy -> struct pd_policy, the map value the LWT_OUT program reads,
 * and the names of verdicts, drop reasons and protocols used in messages and
 * JSON. The daemon and 'policyctl validate' both compile through here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

const char *policy_verdict_name(uint8_t verdict)
{
	switch (verdict) {
	case PD_PASS:
		return "pass";
	case PD_DROP:
		return "drop";
	default:
		return "unknown";
	}
}

const char *policy_reason_name(enum pd_reason reason)
{
	static const char *const names[PD_REASON_MAX] = {
		[PD_REASON_RULE] = "rule",	 [PD_REASON_DEFAULT] = "default",
		[PD_REASON_LIMIT] = "limit",	 [PD_REASON_QUOTA] = "quota",
		[PD_REASON_BLOCKED] = "blocked", [PD_REASON_TABLE_FULL] = "table-full",
	};

	if ((unsigned int)reason >= PD_REASON_MAX)
		return "unknown";
	return names[reason];
}

const char *policy_proto_name(uint8_t proto)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 47:
		return "gre";
	case 50:
		return "esp";
	case 51:
		return "ah";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	default:
		return NULL;
	}
}

void policy_format_ports(const struct pd_port_range *r, unsigned int n, char *buf, size_t size)
{
	size_t used = 0;
	unsigned int i;
	int len;

	if (!size)
		return;
	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		if (r[i].lo == r[i].hi)
			len = snprintf(buf + used, size - used, "%s%u", i ? "," : "", r[i].lo);
		else
			len = snprintf(buf + used, size - used, "%s%u-%u", i ? "," : "", r[i].lo,
				       r[i].hi);
		if (len < 0)
			break;
		used += (size_t)len;
	}
}

int policy_compile(const struct policy *p, const uint32_t *rule_counters, uint32_t default_counter,
		   struct pd_policy *out, struct policy_error *err)
{
	struct policy_error ignored;
	size_t i;

	if (!err)
		err = &ignored;

	if (p->nrules > PD_MAX_RULES) {
		snprintf(err->msg, sizeof(err->msg),
			 "policy '%s' has %zu rules (expected at most %u)", p->name, p->nrules,
			 PD_MAX_RULES);
		return -E2BIG;
	}
	for (i = 0; i < p->nrules; i++) {
		if (p->rules[i].ndport > PD_MAX_PORT_RANGES) {
			snprintf(
				err->msg, sizeof(err->msg),
				"rule '%s' of policy '%s' has %u port ranges (expected at most %u)",
				p->rules[i].name, p->name, p->rules[i].ndport, PD_MAX_PORT_RANGES);
			return -E2BIG;
		}
	}

	/* The value goes to the kernel as bytes: padding included, all zero. */
	memset(out, 0, sizeof(*out));
	out->flags = PD_POLICY_ACTIVE;
	out->default_counter = default_counter;
	out->default_verdict = p->default_verdict;
	out->nrules = (__u8)p->nrules;
	for (i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		struct pd_rule *c = &out->rules[i];

		c->counter = rule_counters[i];
		c->action = r->action;
		if (r->has_proto) {
			c->match |= PD_MATCH_PROTO;
			c->proto = r->proto;
		}
		if (r->ndport) {
			c->match |= PD_MATCH_DPORT;
			c->ndport = (__u8)r->ndport;
			memcpy(c->dport, r->dport, r->ndport * sizeof(r->dport[0]));
		}
	}
	return 0;
}
