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
#include "policy_value.h"

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

/* Append @text to @buf (@size bytes, *@used of them used), cut and terminated if short. */
static void append(char *buf, size_t size, size_t *used, const char *text)
{
	int len;

	if (*used >= size)
		return;
	len = snprintf(buf + *used, size - *used, "%s", text);
	if (len > 0)
		*used += (size_t)len;
}

void policy_format_tcp_flags(uint8_t mask, uint8_t value, char *buf, size_t size)
{
	size_t used = 0;
	const char *name;
	unsigned int i;
	uint8_t bit;
	char item[8];

	if (!size)
		return;
	buf[0] = '\0';
	/* The clear ACK a lone syn implies is part of "syn", not written out. */
	if ((value & PD_TCP_SYN) && !(value & PD_TCP_ACK))
		mask &= (uint8_t)~PD_TCP_ACK;
	for (i = 0; (name = policy_value_tcp_flag_name(i, &bit)); i++) {
		if (!(mask & bit))
			continue;
		snprintf(item, sizeof(item), "%s%s%s", used ? "," : "", value & bit ? "" : "!",
			 name);
		append(buf, size, &used, item);
	}
}

void policy_format_icmp_types(uint8_t proto, const uint32_t *bitmap, char *buf, size_t size)
{
	size_t used = 0;
	const char *name;
	unsigned int t;
	char item[40];

	if (!size)
		return;
	buf[0] = '\0';
	for (t = 0; t < 256; t++) {
		if (!(bitmap[t / 32] & (1u << (t % 32))))
			continue;
		name = policy_value_icmp_name(proto, (uint8_t)t);
		if (name)
			snprintf(item, sizeof(item), "%s%s", used ? "," : "", name);
		else
			snprintf(item, sizeof(item), "%s%u", used ? "," : "", t);
		append(buf, size, &used, item);
	}
}

void policy_format_limit(const struct policy_rule *r, char *buf, size_t size)
{
	const struct pd_limit *l = &r->limit;
	size_t used = 0;
	char item[48];

	if (!size)
		return;
	buf[0] = '\0';
	if (l->kind == PD_LIMIT_NONE)
		return;
	snprintf(item, sizeof(item), "%s burst %llu%s", r->limit_rate,
		 (unsigned long long)r->limit_burst, l->kind == PD_LIMIT_BYTES ? " bytes" : "");
	append(buf, size, &used, item);
	if (!l->per_host)
		return;
	append(buf, size, &used, " per host");
	/* The default masks go without saying, as in the policy. */
	if (l->mask4 != 32) {
		snprintf(item, sizeof(item), " mask %u", l->mask4);
		append(buf, size, &used, item);
	}
	if (l->mask6 != 64) {
		snprintf(item, sizeof(item), " mask6 %u", l->mask6);
		append(buf, size, &used, item);
	}
}

/* -E2BIG with @err set when rule @r exceeds what struct pd_rule holds. */
static int check_rule_size(const struct policy *p, const struct policy_rule *r,
			   struct policy_error *err)
{
	static const char fmt[] = "rule '%s' of policy '%s' has %u %s ranges (expected at most %u)";

	if (r->ndport > PD_MAX_PORT_RANGES) {
		snprintf(err->msg, sizeof(err->msg), fmt, r->name, p->name, r->ndport, "port",
			 PD_MAX_PORT_RANGES);
		return -E2BIG;
	}
	if (r->nsport > PD_MAX_PORT_RANGES) {
		snprintf(err->msg, sizeof(err->msg), fmt, r->name, p->name, r->nsport,
			 "source port", PD_MAX_PORT_RANGES);
		return -E2BIG;
	}
	if (r->nlength > PD_MAX_LENGTH_RANGES) {
		snprintf(err->msg, sizeof(err->msg), fmt, r->name, p->name, r->nlength, "length",
			 PD_MAX_LENGTH_RANGES);
		return -E2BIG;
	}
	return 0;
}

int policy_compile(const struct policy *p, const uint32_t *rule_counters, uint32_t default_counter,
		   struct pd_policy *out, struct policy_error *err)
{
	struct policy_error ignored;
	size_t i, nsrcs = 0;
	int ret;

	if (!err)
		err = &ignored;

	if (p->nrules > PD_MAX_RULES) {
		snprintf(err->msg, sizeof(err->msg),
			 "policy '%s' has %zu rules (expected at most %u)", p->name, p->nrules,
			 PD_MAX_RULES);
		return -E2BIG;
	}
	for (i = 0; i < p->nrules; i++) {
		ret = check_rule_size(p, &p->rules[i], err);
		if (ret)
			return ret;
		nsrcs += p->rules[i].nsrcs;
	}
	if (nsrcs > PD_MAX_SRCS) {
		snprintf(err->msg, sizeof(err->msg),
			 "policy '%s' has %zu src prefixes (expected at most %u)", p->name, nsrcs,
			 PD_MAX_SRCS);
		return -E2BIG;
	}

	/* The value goes to the kernel as bytes: padding included, all zero. */
	memset(out, 0, sizeof(*out));
	out->flags = PD_POLICY_ACTIVE;
	if (p->mode == POLICY_MODE_MONITOR)
		out->flags |= PD_POLICY_MONITOR;
	out->default_counter = default_counter;
	out->default_verdict = p->default_verdict;
	out->table_full_verdict = p->table_full_verdict;
	out->nrules = (__u8)p->nrules;
	/* Compiled by the reader; copied field by field so pad stays zero. */
	if (p->quota.bytes) {
		out->quota.bytes = p->quota.bytes;
		out->quota.period_ns = p->quota.period_ns;
		out->quota.per_host = p->quota.per_host;
	}
	out->sample_every = p->sample_every;
	out->sample_snaplen = p->sample_snaplen;
	if (p->block.kind != PD_BLOCK_NONE) {
		out->block.threshold = p->block.threshold;
		out->block.window_ns = p->block.window_ns;
		out->block.duration_ns = p->block.duration_ns;
		out->block.kind = p->block.kind;
	}
	for (i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		struct pd_rule *c = &out->rules[i];

		c->counter = rule_counters[i];
		c->action = r->action;
		if (r->log)
			c->flags |= PD_RULE_LOG;
		if (r->has_proto) {
			c->match |= PD_MATCH_PROTO;
			c->proto = r->proto;
		}
		if (r->ndport) {
			c->match |= PD_MATCH_DPORT;
			c->ndport = (__u8)r->ndport;
			memcpy(c->dport, r->dport, r->ndport * sizeof(r->dport[0]));
		}
		if (r->nsport) {
			c->match |= PD_MATCH_SPORT;
			c->nsport = (__u8)r->nsport;
			memcpy(c->sport, r->sport, r->nsport * sizeof(r->sport[0]));
		}
		/* The prefixes themselves go to pd_src, which the daemon fills. */
		if (r->nsrcs)
			c->match |= PD_MATCH_SRC;
		if (r->nlength) {
			c->match |= PD_MATCH_LENGTH;
			c->nlength = (__u8)r->nlength;
			memcpy(c->length, r->length, r->nlength * sizeof(r->length[0]));
		}
		if (r->has_tcp_flags) {
			c->match |= PD_MATCH_TCP_FLAGS;
			c->tcp_flags_mask = r->tcp_flags_mask;
			c->tcp_flags_value = r->tcp_flags_value;
		}
		if (r->has_icmp_type) {
			c->match |= PD_MATCH_ICMP_TYPE;
			memcpy(c->icmp_types, r->icmp_types, sizeof(c->icmp_types));
		}
		/* Compiled by the reader, where errors have a position; pad stays zero. */
		if (r->limit.kind != PD_LIMIT_NONE) {
			c->limit.kind = r->limit.kind;
			c->limit.per_host = r->limit.per_host;
			c->limit.mask4 = r->limit.mask4;
			c->limit.mask6 = r->limit.mask6;
			c->limit.interval = r->limit.interval;
			c->limit.burst = r->limit.burst;
		}
	}
	return 0;
}
