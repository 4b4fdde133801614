// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy language's rules (SPEC §4): name, action, match and its keys
 * (proto, dport, sport, src, length, tcp-flags, icmp-type), and the checks
 * that span them (required keys, duplicates, match keys against the proto,
 * limits on drop rules).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_reader.h"
#include "policy_value.h"

/* The state of one rule being read, handed to its key readers. */
struct rule_state {
	struct policy_rule *rule;
	size_t srcs_cap; /* allocated entries of rule->srcs */
};

/* --- match ------------------------------------------------------------------ */

enum {
	MATCH_PROTO,
	MATCH_DPORT,
	MATCH_SPORT,
	MATCH_SRC,
	MATCH_LENGTH,
	MATCH_TCP_FLAGS,
	MATCH_ICMP_TYPE,
	MATCH_NKEYS,
};

static int read_proto(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "proto", "a protocol name or number", &s);
	if (err)
		return err;
	if (policy_value_proto(s, &rs->rule->proto, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	rs->rule->has_proto = true;
	return 0;
}

/* A key whose value is a number, a range or a list of them: dport, sport, length. */
struct range_key {
	const char *key; /* "dport" */
	const char *noun; /* "port" */
	unsigned int max; /* ranges after merging */
	int (*parse)(const char *s, struct pd_port_range *out, char *why, size_t size);
};

static const struct range_key dport_key = { "dport", "port", PD_MAX_PORT_RANGES,
					    policy_value_port_range };
static const struct range_key sport_key = { "sport", "port", PD_MAX_PORT_RANGES,
					    policy_value_port_range };
static const struct range_key length_key = { "length", "length", PD_MAX_LENGTH_RANGES,
					     policy_value_length_range };

static int add_range_item(struct policy_reader *r, const struct range_key *k)
{
	char why[sizeof(r->err->msg)];
	struct pd_port_range range;
	char d[POLICY_VALUE_QUOTE_BUF];

	if (r->ev.type != YAML_SCALAR_EVENT || policy_reader_empty(r)) {
		struct policy_pos pos = policy_reader_pos(r);

		return policy_reader_fail(r, &pos, "%s item is %s (expected a %s or a range)",
					  k->key, policy_reader_describe(r, d, sizeof(d)), k->noun);
	}
	if (k->parse(policy_reader_scalar(r), &range, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	if (r->nports == r->ports_cap) {
		size_t cap = r->ports_cap ? 2 * r->ports_cap : PD_MAX_PORT_RANGES;
		struct pd_port_range *grown = reallocarray(r->ports, cap, sizeof(*grown));

		if (!grown)
			return policy_reader_nomem(r);
		r->ports = grown;
		r->ports_cap = cap;
	}
	r->ports[r->nports++] = range;
	return 0;
}

/* Read @k's value into @out (k->max entries), sorted and merged; *@n its count. */
static int read_ranges(struct policy_reader *r, const struct range_key *k,
		       struct pd_port_range *out, unsigned int *n)
{
	struct policy_pos pos = policy_reader_pos(r);
	char what[32], expected[64];
	unsigned int merged;
	int err;

	r->nports = 0;
	if (r->ev.type == YAML_SEQUENCE_START_EVENT) {
		for (;;) {
			err = policy_reader_next(r);
			if (err)
				return err;
			if (r->ev.type == YAML_SEQUENCE_END_EVENT)
				break;
			err = add_range_item(r, k);
			if (err)
				return err;
		}
		if (!r->nports)
			return policy_reader_fail(
				r, &pos, "'%s' is an empty list (expected at least one %s)", k->key,
				k->noun);
	} else if (r->ev.type == YAML_SCALAR_EVENT && !policy_reader_empty(r)) {
		err = add_range_item(r, k);
		if (err)
			return err;
	} else {
		snprintf(what, sizeof(what), "'%s'", k->key);
		snprintf(expected, sizeof(expected), "a %s, a range or a list of them", k->noun);
		return policy_reader_wrong_type(r, what, expected);
	}

	/* Merged first: overlapping items are not the user's problem, the map size is. */
	merged = policy_value_merge_ports(r->ports, (unsigned int)r->nports);
	if (merged > k->max)
		return policy_reader_fail(
			r, &pos, "'%s' has %u %s ranges after merging (expected at most %u)",
			k->key, merged, k->noun, k->max);
	memcpy(out, r->ports, merged * sizeof(r->ports[0]));
	*n = merged;
	return 0;
}

static int read_dport(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;

	return read_ranges(r, &dport_key, rs->rule->dport, &rs->rule->ndport);
}

static int read_sport(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;

	return read_ranges(r, &sport_key, rs->rule->sport, &rs->rule->nsport);
}

static int read_length(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;

	return read_ranges(r, &length_key, rs->rule->length, &rs->rule->nlength);
}

static int add_src_item(struct policy_reader *r, struct rule_state *rs)
{
	struct policy_rule *rule = rs->rule;
	char why[sizeof(r->err->msg)];
	struct policy_pos pos = policy_reader_pos(r);
	char d[POLICY_VALUE_QUOTE_BUF];
	struct prefix pfx;

	if (r->ev.type != YAML_SCALAR_EVENT || policy_reader_empty(r))
		return policy_reader_fail(r, &pos, "src item is %s (expected a prefix)",
					  policy_reader_describe(r, d, sizeof(d)));
	/* The program's pd_src trie holds one generation's prefixes of all policies. */
	if (r->nsrcs == PD_MAX_SRCS)
		return policy_reader_fail(
			r, &pos, "too many src prefixes (expected at most %u in a policy's rules)",
			PD_MAX_SRCS);
	if (policy_value_prefix(policy_reader_scalar(r), &pfx, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	if (rule->nsrcs == rs->srcs_cap) {
		size_t cap = rs->srcs_cap ? 2 * rs->srcs_cap : 8;
		struct prefix *srcs = reallocarray(rule->srcs, cap, sizeof(*srcs));

		if (!srcs)
			return policy_reader_nomem(r);
		rule->srcs = srcs;
		rs->srcs_cap = cap;
	}
	if (rule->nsrcs == r->src_pos_cap) {
		size_t cap = r->src_pos_cap ? 2 * r->src_pos_cap : 8;
		struct policy_pos *src_pos = reallocarray(r->src_pos, cap, sizeof(*src_pos));

		if (!src_pos)
			return policy_reader_nomem(r);
		r->src_pos = src_pos;
		r->src_pos_cap = cap;
	}
	r->src_pos[rule->nsrcs] = pos;
	rule->srcs[rule->nsrcs++] = pfx;
	r->nsrcs++;
	return 0;
}

static int check_src_duplicates(struct policy_reader *r, const struct policy_rule *rule)
{
	char text[PREFIX_STR_MAX];
	size_t dup, first;
	int found;

	found = policy_keys_find_duplicate(rule->srcs, rule->nsrcs, sizeof(*rule->srcs), &dup,
					   &first);
	if (found < 0)
		return policy_reader_nomem(r);
	if (found)
		return policy_reader_fail(
			r, &r->src_pos[dup], "duplicate src '%s' (first at %u:%u)",
			prefix_format(&rule->srcs[dup], false, text, sizeof(text)),
			r->src_pos[first].line, r->src_pos[first].col);
	return 0;
}

static int read_src(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;
	struct policy_pos pos = policy_reader_pos(r);
	int err;

	if (r->ev.type == YAML_SEQUENCE_START_EVENT) {
		for (;;) {
			err = policy_reader_next(r);
			if (err)
				return err;
			if (r->ev.type == YAML_SEQUENCE_END_EVENT)
				break;
			err = add_src_item(r, rs);
			if (err)
				return err;
		}
		if (!rs->rule->nsrcs)
			return policy_reader_fail(
				r, &pos, "'src' is an empty list (expected at least one prefix)");
		return check_src_duplicates(r, rs->rule);
	}
	if (r->ev.type == YAML_SCALAR_EVENT && !policy_reader_empty(r))
		return add_src_item(r, rs);
	return policy_reader_wrong_type(r, "'src'", "a prefix or a list of prefixes");
}

static int read_tcp_flags(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_rule *rule = ((struct rule_state *)obj)->rule;
	struct policy_pos first[8] = { 0 }; /* by bit number, for duplicates */
	char why[sizeof(r->err->msg)];
	char d[POLICY_VALUE_QUOTE_BUF];
	struct policy_pos pos = policy_reader_pos(r);
	bool list = r->ev.type == YAML_SEQUENCE_START_EVENT;
	uint8_t flags = 0, bit;
	unsigned int b;
	int err;

	if (!list && (r->ev.type != YAML_SCALAR_EVENT || policy_reader_empty(r)))
		return policy_reader_wrong_type(r, "'tcp-flags'", "a flag name or a list of them");
	for (;;) {
		if (list) {
			err = policy_reader_next(r);
			if (err)
				return err;
			if (r->ev.type == YAML_SEQUENCE_END_EVENT)
				break;
		}
		if (r->ev.type != YAML_SCALAR_EVENT || policy_reader_empty(r)) {
			struct policy_pos at = policy_reader_pos(r);

			return policy_reader_fail(r, &at,
						  "tcp-flags item is %s (expected a flag name)",
						  policy_reader_describe(r, d, sizeof(d)));
		}
		if (policy_value_tcp_flag(policy_reader_scalar(r), &bit, why, sizeof(why)))
			return policy_reader_value_failed(r, why);
		b = (unsigned int)__builtin_ctz(bit);
		if (flags & bit) {
			struct policy_pos at = policy_reader_pos(r);

			return policy_reader_fail(
				r, &at, "duplicate tcp flag '%s' (first at %u:%u)",
				policy_reader_scalar(r), first[b].line, first[b].col);
		}
		first[b] = policy_reader_pos(r);
		flags |= bit;
		if (!list)
			break;
	}
	if (!flags)
		return policy_reader_fail(
			r, &pos, "'tcp-flags' is an empty list (expected at least one flag)");
	rule->has_tcp_flags = true;
	rule->tcp_flags_value = flags;
	rule->tcp_flags_mask = flags;
	/* A lone syn is a connection attempt: the SYN+ACK answer is [syn, ack]. */
	if ((flags & PD_TCP_SYN) && !(flags & PD_TCP_ACK))
		rule->tcp_flags_mask |= PD_TCP_ACK;
	return 0;
}

static int add_icmp_item(struct policy_reader *r)
{
	char why[sizeof(r->err->msg)];
	struct policy_pos pos = policy_reader_pos(r);
	char d[POLICY_VALUE_QUOTE_BUF];
	struct policy_icmp_item *item;
	const char *s;

	if (r->ev.type != YAML_SCALAR_EVENT || policy_reader_empty(r))
		return policy_reader_fail(
			r, &pos, "icmp-type item is %s (expected a type name or a number 0-255)",
			policy_reader_describe(r, d, sizeof(d)));
	if (r->nicmp == r->icmp_cap) {
		size_t cap = r->icmp_cap ? 2 * r->icmp_cap : 8;
		struct policy_icmp_item *grown = reallocarray(r->icmp, cap, sizeof(*grown));

		if (!grown)
			return policy_reader_nomem(r);
		r->icmp = grown;
		r->icmp_cap = cap;
	}
	item = &r->icmp[r->nicmp];
	memset(item, 0, sizeof(*item));
	s = policy_reader_scalar(r);
	item->pos = pos;
	policy_value_quote(s, item->text, sizeof(item->text));
	/* Numbers are checked now; names wait for the match's proto, which may follow. */
	if (s[0] >= '0' && s[0] <= '9') {
		if (policy_value_icmp_number(s, &item->type, why, sizeof(why)))
			return policy_reader_value_failed(r, why);
	} else {
		item->named = true;
	}
	r->nicmp++;
	return 0;
}

static int read_icmp_type(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;
	struct policy_pos pos = policy_reader_pos(r);
	int err;

	r->nicmp = 0;
	if (r->ev.type == YAML_SEQUENCE_START_EVENT) {
		for (;;) {
			err = policy_reader_next(r);
			if (err)
				return err;
			if (r->ev.type == YAML_SEQUENCE_END_EVENT)
				break;
			err = add_icmp_item(r);
			if (err)
				return err;
		}
		if (!r->nicmp)
			return policy_reader_fail(
				r, &pos,
				"'icmp-type' is an empty list (expected at least one type)");
	} else if (r->ev.type == YAML_SCALAR_EVENT && !policy_reader_empty(r)) {
		err = add_icmp_item(r);
		if (err)
			return err;
	} else {
		return policy_reader_wrong_type(r, "'icmp-type'",
						"a type name, a number 0-255 or a list of them");
	}
	rs->rule->has_icmp_type = true;
	return 0;
}

/* The icmp-type items into the rule's bitmap, names in the rule's proto. */
static int resolve_icmp_types(struct policy_reader *r, struct policy_rule *rule)
{
	char why[sizeof(r->err->msg)];
	struct policy_pos first[256];
	const char *proto = policy_proto_name(rule->proto);
	size_t i;
	uint8_t t;

	memset(rule->icmp_types, 0, sizeof(rule->icmp_types));
	for (i = 0; i < r->nicmp; i++) {
		const struct policy_icmp_item *item = &r->icmp[i];

		t = item->type;
		if (item->named &&
		    policy_value_icmp_type(rule->proto, item->text, &t, why, sizeof(why)))
			return policy_reader_fail(r, &item->pos, "%s", why);
		if (rule->icmp_types[t / 32] & (1u << (t % 32)))
			return policy_reader_fail(r, &item->pos,
						  "duplicate %s type '%s' (first at %u:%u)", proto,
						  item->text, first[t].line, first[t].col);
		rule->icmp_types[t / 32] |= 1u << (t % 32);
		first[t] = item->pos;
	}
	return 0;
}

static bool proto_has_ports(uint8_t proto)
{
	return proto == POLICY_PROTO_TCP || proto == POLICY_PROTO_UDP || proto == POLICY_PROTO_SCTP;
}

static bool proto_is_icmp(uint8_t proto)
{
	return proto == POLICY_PROTO_ICMP || proto == POLICY_PROTO_ICMPV6;
}

static const struct policy_key match_keys[] = {
	[MATCH_PROTO] = { "proto", read_proto },
	[MATCH_DPORT] = { "dport", read_dport },
	[MATCH_SPORT] = { "sport", read_sport },
	[MATCH_SRC] = { "src", read_src },
	[MATCH_LENGTH] = { "length", read_length },
	[MATCH_TCP_FLAGS] = { "tcp-flags", read_tcp_flags },
	[MATCH_ICMP_TYPE] = { "icmp-type", read_icmp_type },
};

static const struct policy_mapping match_spec = { "match", match_keys, ARRAY_SIZE(match_keys) };

/* What key @k says about the rule's proto, once the whole match is read. */
static int check_match_key(struct policy_reader *r, struct policy_rule *rule, unsigned int k,
			   const struct policy_pos *key)
{
	const char *name = policy_proto_name(rule->proto);
	char proto[16];

	if (name)
		snprintf(proto, sizeof(proto), "'%s'", name);
	else
		snprintf(proto, sizeof(proto), "%u", rule->proto);
	switch (k) {
	case MATCH_DPORT:
	case MATCH_SPORT:
		if (rule->has_proto && !proto_has_ports(rule->proto))
			return policy_reader_fail(
				r, key,
				"'%s' with proto %s never matches (expected proto tcp, udp or sctp)",
				match_keys[k].name, proto);
		return 0;
	case MATCH_TCP_FLAGS:
		if (rule->has_proto && rule->proto != POLICY_PROTO_TCP)
			return policy_reader_fail(
				r, key,
				"'tcp-flags' with proto %s never matches (expected proto tcp)",
				proto);
		return 0;
	case MATCH_ICMP_TYPE:
		/* The names differ between the two: the proto says which. */
		if (!rule->has_proto)
			return policy_reader_fail(
				r, key,
				"'icmp-type' needs proto icmp or icmpv6 (expected 'proto: icmp' or 'proto: icmpv6' in the same match)");
		if (!proto_is_icmp(rule->proto))
			return policy_reader_fail(
				r, key, "'icmp-type' needs proto icmp or icmpv6 (found proto %s)",
				proto);
		return resolve_icmp_types(r, rule);
	default:
		return 0;
	}
}

static int read_match(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(match_keys)] = { 0 };
	struct rule_state *rs = obj;
	bool done[ARRAY_SIZE(match_keys)] = { 0 };
	unsigned int i, k, next;
	int err;

	_Static_assert(ARRAY_SIZE(match_keys) == MATCH_NKEYS, "match_keys");
	/* "match:" with nothing after it, like "match: {}", matches any packet. */
	if (policy_reader_empty(r))
		return 0;
	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "'match'", "a mapping");
	err = policy_reader_mapping(r, &match_spec, rs, seen);
	if (err)
		return err;
	/* Keys may come in any order: check them in the file's, so the first wrong one is
	 * reported whatever follows it. */
	for (i = 0; i < MATCH_NKEYS; i++) {
		next = MATCH_NKEYS;
		for (k = 0; k < MATCH_NKEYS; k++) {
			if (done[k] || !seen[k].line)
				continue;
			if (next == MATCH_NKEYS || seen[k].line < seen[next].line ||
			    (seen[k].line == seen[next].line && seen[k].col < seen[next].col))
				next = k;
		}
		if (next == MATCH_NKEYS)
			break;
		done[next] = true;
		err = check_match_key(r, rs->rule, next, &seen[next]);
		if (err)
			return err;
	}
	return 0;
}

/* --- rules ------------------------------------------------------------------ */

enum { RULE_NAME, RULE_MATCH, RULE_ACTION, RULE_LIMIT, RULE_LOG };

static int read_rule_name(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;
	size_t idx = (size_t)(rs->rule - r->p->rules), i;
	char why[sizeof(r->err->msg)];
	struct policy_pos pos = policy_reader_pos(r);
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "name", "a rule name", &s);
	if (err)
		return err;
	if (policy_value_name("rule", s, rs->rule->name, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	/* The default verdict's counters are reported as rule 'default'. */
	if (!strcmp(s, "default"))
		return policy_reader_fail(
			r, &pos,
			"rule name 'default' is reserved for the default verdict (expected another name)");
	for (i = 0; i < idx; i++) {
		if (!strcmp(r->p->rules[i].name, s))
			return policy_reader_fail(
				r, &pos, "duplicate rule name '%s' (first at %u:%u)", s,
				r->rule_name_pos[i].line, r->rule_name_pos[i].col);
	}
	r->rule_name_pos[idx] = pos;
	return 0;
}

static int read_action(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "action", "pass or drop", &s);
	if (err)
		return err;
	if (policy_value_verdict("action", s, &rs->rule->action, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_log(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct rule_state *rs = obj;
	bool off;
	int err;

	err = policy_reader_choice(r, "log", "true", "false", &off);
	if (!err)
		rs->rule->log = !off;
	return err;
}

/* The limit itself is read in policy_keys_state.c, with quota and block. */
static int read_limit(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return policy_keys_limit(r, ((struct rule_state *)obj)->rule, key);
}

static const struct policy_key rule_keys[] = {
	[RULE_NAME] = { "name", read_rule_name },  [RULE_MATCH] = { "match", read_match },
	[RULE_ACTION] = { "action", read_action }, [RULE_LIMIT] = { "limit", read_limit },
	[RULE_LOG] = { "log", read_log },
};

static const struct policy_mapping rule_spec = { "rule", rule_keys, ARRAY_SIZE(rule_keys) };

static int read_rule(struct policy_reader *r)
{
	struct policy_pos seen[ARRAY_SIZE(rule_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct policy *p = r->p;
	struct rule_state rs = { 0 };
	int err;

	if (p->nrules == PD_MAX_RULES)
		return policy_reader_fail(r, &pos, "too many rules (expected at most %u)",
					  PD_MAX_RULES);
	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "rule", "a mapping");
	if (!p->rules) {
		p->rules = calloc(PD_MAX_RULES, sizeof(*p->rules));
		if (!p->rules)
			return policy_reader_nomem(r);
	}
	rs.rule = &p->rules[p->nrules];
	memset(rs.rule, 0, sizeof(*rs.rule));
	rs.rule->pos = pos;
	rs.rule->action = PD_PASS;
	err = policy_reader_mapping(r, &rule_spec, &rs, seen);
	if (!err && !seen[RULE_NAME].line)
		err = policy_reader_fail(r, &pos,
					 "missing key 'name' in rule (expected a rule name)");
	/* Checked here: the action may follow the limit. */
	if (!err && seen[RULE_LIMIT].line && rs.rule->action != PD_PASS)
		err = policy_reader_fail(
			r, &seen[RULE_LIMIT],
			"'limit' needs action pass (a drop rule drops every packet it matches)");
	if (err) {
		/* policy_free() frees the srcs of counted rules only. */
		free(rs.rule->srcs);
		rs.rule->srcs = NULL;
		rs.rule->nsrcs = 0;
		return err;
	}
	p->nrules++;
	return 0;
}

int policy_keys_rules(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	int err;

	if (policy_reader_empty(r))
		return 0;
	if (r->ev.type != YAML_SEQUENCE_START_EVENT)
		return policy_reader_wrong_type(r, "'rules'", "a list of rules");
	for (;;) {
		err = policy_reader_next(r);
		if (err)
			return err;
		if (r->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		err = read_rule(r);
		if (err)
			return err;
	}
}
