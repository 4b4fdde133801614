// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy language's keys (SPEC §4, this version's subset): what each key
 * of the top level, a rule, a match, a limit, a route, a quota and a block
 * means, and the checks that span keys (required keys, duplicates,
 * contradictions between match keys, limits on drop rules, routes covering
 * destinations, one threshold per block).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_reader.h"
#include "policy_value.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The state of one rule or route being read, handed to its key readers. */
struct rule_state {
	struct policy_rule *rule;
	size_t srcs_cap; /* allocated entries of rule->srcs */
};

struct route_state {
	struct policy_route *route;
	struct policy_pos to_pos;
	bool has_to;
};

/* --- sorted prefixes: duplicates and containment ---------------------------- */

struct indexed_prefix {
	struct prefix p;
	size_t i;
};

static int cmp_prefix(const struct prefix *a, const struct prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

static int cmp_indexed(const void *a, const void *b)
{
	const struct indexed_prefix *x = a, *y = b;
	int c = cmp_prefix(&x->p, &y->p);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Sort @v (n entries) and find the repeat that comes first in the file:
 * *@dup is its index, *@first that of the original. Sorting keeps this
 * O(n log n) for the largest policies.
 */
static bool find_duplicate(struct indexed_prefix *v, size_t n, size_t *dup, size_t *first)
{
	bool found = false;
	size_t i;

	qsort(v, n, sizeof(*v), cmp_indexed);
	for (i = 1; i < n; i++) {
		/* Only the second of a run can be the earliest repeat of it. */
		if (cmp_prefix(&v[i].p, &v[i - 1].p) ||
		    (i >= 2 && !cmp_prefix(&v[i].p, &v[i - 2].p)))
			continue;
		if (!found || v[i].i < *dup) {
			*dup = v[i].i;
			*first = v[i - 1].i;
			found = true;
		}
	}
	return found;
}

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
	struct indexed_prefix *v;
	char text[PREFIX_STR_MAX];
	size_t i, dup, first;
	bool found;

	if (rule->nsrcs < 2)
		return 0;
	v = calloc(rule->nsrcs, sizeof(*v));
	if (!v)
		return policy_reader_nomem(r);
	for (i = 0; i < rule->nsrcs; i++)
		v[i] = (struct indexed_prefix){ .p = rule->srcs[i], .i = i };
	found = find_duplicate(v, rule->nsrcs, &dup, &first);
	free(v);
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

/* --- limit ------------------------------------------------------------------ */

enum { LIMIT_RATE, LIMIT_BURST, LIMIT_PER, LIMIT_MASK, LIMIT_MASK6 };

/* One limit being read: the burst waits for the rate, which may follow it. */
struct limit_state {
	bool has_rate;
	struct policy_rate rate;
	struct policy_pos rate_pos; /* of the values */
	struct policy_pos burst_pos;
	char *burst; /* as written; owned */
	bool per_host;
	uint8_t mask4;
	uint8_t mask6;
};

static int read_limit_rate(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct limit_state *ls = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "rate", "a rate such as 20000/s or 10mbit/s", &s);
	if (err)
		return err;
	if (policy_value_rate(s, &ls->rate, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	ls->rate_pos = policy_reader_pos(r);
	ls->has_rate = true;
	return 0;
}

static int read_limit_burst(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct limit_state *ls = obj;
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "burst", "a number of packets or a size in bytes", &s);
	if (err)
		return err;
	ls->burst = strdup(s);
	if (!ls->burst)
		return policy_reader_nomem(r);
	ls->burst_pos = policy_reader_pos(r);
	return 0;
}

static int read_limit_per(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct limit_state *ls = obj;
	struct policy_pos pos = policy_reader_pos(r);
	char q[POLICY_VALUE_QUOTE_BUF];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "per", "rule or host", &s);
	if (err)
		return err;
	if (!strcmp(s, "rule") || !strcmp(s, "host")) {
		ls->per_host = !strcmp(s, "host");
		return 0;
	}
	return policy_reader_fail(r, &pos, "invalid per '%s' (expected rule or host)",
				  policy_value_quote(s, q, sizeof(q)));
}

static int read_mask_value(struct policy_reader *r, bool v6, uint8_t *out)
{
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, v6 ? "mask6" : "mask",
					v6 ? "a prefix length 0-128" : "a prefix length 0-32", &s);
	if (err)
		return err;
	if (policy_value_mask(v6, s, out, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_limit_mask(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_mask_value(r, false, &((struct limit_state *)obj)->mask4);
}

static int read_limit_mask6(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_mask_value(r, true, &((struct limit_state *)obj)->mask6);
}

static const struct policy_key limit_keys[] = {
	[LIMIT_RATE] = { "rate", read_limit_rate },
	[LIMIT_BURST] = { "burst", read_limit_burst },
	[LIMIT_PER] = { "per", read_limit_per },
	[LIMIT_MASK] = { "mask", read_limit_mask },
	[LIMIT_MASK6] = { "mask6", read_limit_mask6 },
};

static const struct policy_mapping limit_spec = { "limit", limit_keys, ARRAY_SIZE(limit_keys) };

/* What spans the limit's keys, once all are read: the burst, masks without per: host. */
static int check_limit(struct policy_reader *r, struct limit_state *ls,
		       const struct policy_pos *seen, const struct policy_pos *pos,
		       struct policy_rule *rule)
{
	char why[sizeof(r->err->msg)];
	const struct policy_pos *mask = NULL;
	uint64_t count, depth;
	int err;

	if (!ls->has_rate)
		return policy_reader_fail(
			r, pos,
			"missing key 'rate' in limit (expected a rate such as 20000/s or 10mbit/s)");
	if (ls->burst) {
		err = policy_value_burst(&ls->rate, ls->burst, &count, &depth, why, sizeof(why));
		if (err)
			return policy_reader_fail(r, &ls->burst_pos, "%s", why);
	} else {
		err = policy_value_default_burst(&ls->rate, &count, &depth, why, sizeof(why));
		if (err)
			return policy_reader_fail(r, &ls->rate_pos, "%s", why);
	}
	/* The earlier of the two in the file, so the first mistake is the one reported. */
	if (seen[LIMIT_MASK].line)
		mask = &seen[LIMIT_MASK];
	if (seen[LIMIT_MASK6].line &&
	    (!mask || seen[LIMIT_MASK6].line < mask->line ||
	     (seen[LIMIT_MASK6].line == mask->line && seen[LIMIT_MASK6].col < mask->col)))
		mask = &seen[LIMIT_MASK6];
	if (mask && !ls->per_host)
		return policy_reader_fail(r, mask, "'%s' needs per: host (%s)",
					  mask == &seen[LIMIT_MASK] ? "mask" : "mask6",
					  seen[LIMIT_PER].line ?
						  "found per: rule" :
						  "expected 'per: host' in the same limit");

	rule->limit = (struct pd_limit){
		.kind = ls->rate.kind,
		.per_host = ls->per_host,
		.mask4 = ls->mask4,
		.mask6 = ls->mask6,
		.interval = ls->rate.interval,
		.burst = depth,
	};
	snprintf(rule->limit_rate, sizeof(rule->limit_rate), "%s", ls->rate.text);
	rule->limit_burst = count;
	return 0;
}

static int read_limit(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(limit_keys)] = { 0 };
	struct limit_state ls = { .mask4 = 32, .mask6 = 64 };
	struct policy_pos pos = policy_reader_pos(r);
	struct rule_state *rs = obj;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "'limit'",
						"a mapping with rate, burst, per, mask, mask6");
	err = policy_reader_mapping(r, &limit_spec, &ls, seen);
	if (!err)
		err = check_limit(r, &ls, seen, &pos, rs->rule);
	if (!err)
		rs->rule->limit_pos = *key;
	free(ls.burst);
	return err;
}

/* --- rules ------------------------------------------------------------------ */

enum { RULE_NAME, RULE_MATCH, RULE_ACTION, RULE_LIMIT };

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

static const struct policy_key rule_keys[] = {
	[RULE_NAME] = { "name", read_rule_name },
	[RULE_MATCH] = { "match", read_match },
	[RULE_ACTION] = { "action", read_action },
	[RULE_LIMIT] = { "limit", read_limit },
	{ "log", NULL },
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

static int read_rules(struct policy_reader *r, void *obj, const struct policy_pos *key)
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

/* --- routes ----------------------------------------------------------------- */

static int read_route_to(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct route_state *rs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "to", "a prefix", &s);
	if (err)
		return err;
	if (policy_value_prefix(s, &rs->route->to, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	rs->to_pos = policy_reader_pos(r);
	rs->has_to = true;
	return 0;
}

static int read_route_via(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct route_state *rs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "via", "an address", &s);
	if (err)
		return err;
	if (policy_value_address(s, &rs->route->via, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	rs->route->has_via = true;
	return 0;
}

static int read_route_dev(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct route_state *rs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "dev", "an interface name", &s);
	if (err)
		return err;
	if (policy_value_dev(s, rs->route->dev, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_route_realm(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct route_state *rs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "realm", "a number 1-65535", &s);
	if (err)
		return err;
	if (policy_value_realm(s, &rs->route->realm, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	rs->route->has_realm = true;
	return 0;
}

static const struct policy_key route_keys[] = {
	{ "to", read_route_to },
	{ "via", read_route_via },
	{ "dev", read_route_dev },
	{ "realm", read_route_realm },
};

static const struct policy_mapping route_spec = { "route", route_keys, ARRAY_SIZE(route_keys) };

static int read_route(struct policy_reader *r)
{
	struct policy_pos seen[ARRAY_SIZE(route_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct policy *p = r->p;
	struct route_state rs = { 0 };
	char text[PREFIX_STR_MAX];
	int err;

	if (p->nroutes == PD_MAX_DESTS)
		return policy_reader_fail(r, &pos, "too many routes (expected at most %u)",
					  PD_MAX_DESTS);
	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "route", "a mapping");
	if (p->nroutes == r->routes_cap) {
		size_t cap = r->routes_cap ? 2 * r->routes_cap : 8;
		struct policy_route *routes = reallocarray(p->routes, cap, sizeof(*routes));
		struct policy_pos *to_pos;

		if (!routes)
			return policy_reader_nomem(r);
		p->routes = routes;
		to_pos = reallocarray(r->route_to_pos, cap, sizeof(*to_pos));
		if (!to_pos)
			return policy_reader_nomem(r);
		r->route_to_pos = to_pos;
		r->routes_cap = cap;
	}
	rs.route = &p->routes[p->nroutes];
	memset(rs.route, 0, sizeof(*rs.route));
	rs.route->pos = pos;
	err = policy_reader_mapping(r, &route_spec, &rs, seen);
	if (err)
		return err;
	if (!rs.has_to)
		return policy_reader_fail(r, &pos, "missing key 'to' in route (expected a prefix)");
	if (!rs.route->has_via && !rs.route->dev[0])
		return policy_reader_fail(
			r, &pos, "route to '%s' has neither via nor dev (expected at least one)",
			prefix_format(&rs.route->to, false, text, sizeof(text)));
	r->route_to_pos[p->nroutes++] = rs.to_pos;
	return 0;
}

static int check_route_duplicates(struct policy_reader *r)
{
	const struct policy *p = r->p;
	struct indexed_prefix *v;
	char text[PREFIX_STR_MAX];
	size_t i, dup, first;
	bool found;

	if (p->nroutes < 2)
		return 0;
	v = calloc(p->nroutes, sizeof(*v));
	if (!v)
		return policy_reader_nomem(r);
	for (i = 0; i < p->nroutes; i++)
		v[i] = (struct indexed_prefix){ .p = p->routes[i].to, .i = i };
	found = find_duplicate(v, p->nroutes, &dup, &first);
	free(v);
	if (found)
		return policy_reader_fail(
			r, &r->route_to_pos[dup], "duplicate route to '%s' (first at %u:%u)",
			prefix_format(&p->routes[dup].to, false, text, sizeof(text)),
			r->route_to_pos[first].line, r->route_to_pos[first].col);
	return 0;
}

static int read_routes(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	int err;

	if (policy_reader_empty(r))
		return 0;
	if (r->ev.type != YAML_SEQUENCE_START_EVENT)
		return policy_reader_wrong_type(r, "'routes'", "a list of routes");
	for (;;) {
		err = policy_reader_next(r);
		if (err)
			return err;
		if (r->ev.type == YAML_SEQUENCE_END_EVENT)
			return check_route_duplicates(r);
		err = read_route(r);
		if (err)
			return err;
	}
}

/* Every route must be the route of at least one destination: equal to it or
 * containing it (the daemon uses, for a destination, the most specific
 * entry that contains it). Checked once all are read. */
static int check_routes_cover(struct policy_reader *r)
{
	const struct policy *p = r->p;
	char text[PREFIX_STR_MAX];

	for (size_t i = 0; i < p->nroutes; i++) {
		const struct prefix *to = &p->routes[i].to;
		bool covers = false;

		for (size_t j = 0; j < p->ndests && !covers; j++)
			covers = prefix_contains(to, &p->dests[j]);
		if (!covers)
			return policy_reader_fail(
				r, &r->route_to_pos[i],
				"route to '%s' covers none of the policy's destinations (expected a prefix equal to or containing one of them)",
				prefix_format(to, false, text, sizeof(text)));
	}
	return 0;
}

/* --- quota ------------------------------------------------------------------ */

enum { QUOTA_BYTES, QUOTA_PER, QUOTA_PERIOD };

struct quota_state {
	struct policy_size size;
	bool per_host;
	uint64_t period_ns;
	const char *period; /* canonical: "1d" */
};

static int read_quota_bytes(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct quota_state *qs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "bytes", "a size such as 50GB", &s);
	if (err)
		return err;
	if (policy_value_size("bytes", s, &qs->size, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_quota_per(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct quota_state *qs = obj;
	struct policy_pos pos = policy_reader_pos(r);
	char q[POLICY_VALUE_QUOTE_BUF];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "per", "host or policy", &s);
	if (err)
		return err;
	if (!strcmp(s, "host") || !strcmp(s, "policy")) {
		qs->per_host = !strcmp(s, "host");
		return 0;
	}
	return policy_reader_fail(r, &pos, "invalid per '%s' (expected host or policy)",
				  policy_value_quote(s, q, sizeof(q)));
}

static int read_quota_period(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct quota_state *qs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "period", "1h, 1d, 7d or 30d", &s);
	if (err)
		return err;
	if (policy_value_period(s, &qs->period_ns, &qs->period, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static const struct policy_key quota_keys[] = {
	[QUOTA_BYTES] = { "bytes", read_quota_bytes },
	[QUOTA_PER] = { "per", read_quota_per },
	[QUOTA_PERIOD] = { "period", read_quota_period },
};

static const struct policy_mapping quota_spec = { "quota", quota_keys, ARRAY_SIZE(quota_keys) };

static int read_quota(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(quota_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct quota_state qs = { 0 };
	struct policy *p = r->p;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "'quota'", "a mapping with bytes, per, period");
	err = policy_reader_mapping(r, &quota_spec, &qs, seen);
	if (err)
		return err;
	if (!seen[QUOTA_BYTES].line)
		return policy_reader_fail(
			r, &pos, "missing key 'bytes' in quota (expected a size such as 50GB)");
	/* A budget that never resets is a cap for life: not what a quota is for. */
	if (!seen[QUOTA_PERIOD].line)
		return policy_reader_fail(
			r, &pos,
			"missing key 'period' in quota (expected 1h, 1d, 7d or 30d: quotas with no period are not supported)");
	p->quota = (struct pd_quota){
		.bytes = qs.size.bytes,
		.period_ns = qs.period_ns,
		.per_host = qs.per_host,
	};
	snprintf(p->quota_text, sizeof(p->quota_text), "%s per %s per %s", qs.size.text,
		 qs.per_host ? "host" : "policy", qs.period);
	return 0;
}

/* --- block ------------------------------------------------------------------ */

enum { AFTER_DROPS, AFTER_PACKETS, AFTER_BYTES, AFTER_WITHIN };
enum { BLOCK_AFTER, BLOCK_FOR };

/* The longest window and block (brief5: within <= 1d, for <= 30d). */
#define BLOCK_MAX_WINDOW_NS POLICY_NS_PER_DAY
#define BLOCK_MAX_DURATION_NS (30 * POLICY_NS_PER_DAY)

struct block_state {
	uint8_t kind; /* enum pd_block_kind */
	struct policy_pos kind_pos; /* of the key that set it */
	uint64_t threshold;
	char threshold_text[32]; /* "500 drops", "10MB" */
	uint64_t window_ns;
	/* As written: a valid one has no leading zero and is at most 30d, so
	 * "2592000000ms" is the longest. */
	char within[16];
	uint64_t duration_ns;
	char duration[16];
};

static const char *const block_kind_names[] = {
	[PD_BLOCK_DROPS] = "drops",
	[PD_BLOCK_PACKETS] = "packets",
	[PD_BLOCK_BYTES] = "bytes",
};

/* One of drops, packets, bytes: exactly one per after. */
static int read_after_threshold(struct policy_reader *r, struct block_state *bs, uint8_t kind,
				const struct policy_pos *key)
{
	const char *name = block_kind_names[kind];
	char why[sizeof(r->err->msg)], expected[32];
	struct policy_size size;
	const char *s;
	int err;

	if (bs->kind != PD_BLOCK_NONE)
		return policy_reader_fail(
			r, key,
			"after has both '%s' (at %u:%u) and '%s' (expected exactly one of drops, packets or bytes)",
			block_kind_names[bs->kind], bs->kind_pos.line, bs->kind_pos.col, name);
	snprintf(expected, sizeof(expected), "a number of %s", name);
	err = policy_reader_want_scalar(
		r, name, kind == PD_BLOCK_BYTES ? "a size such as 10MB" : expected, &s);
	if (err)
		return err;
	if (kind == PD_BLOCK_BYTES) {
		if (policy_value_size(name, s, &size, why, sizeof(why)))
			return policy_reader_value_failed(r, why);
		bs->threshold = size.bytes;
		snprintf(bs->threshold_text, sizeof(bs->threshold_text), "%s", size.text);
	} else {
		if (policy_value_count(name, s, &bs->threshold, why, sizeof(why)))
			return policy_reader_value_failed(r, why);
		snprintf(bs->threshold_text, sizeof(bs->threshold_text), "%llu %s",
			 (unsigned long long)bs->threshold, name);
	}
	bs->kind = kind;
	bs->kind_pos = *key;
	return 0;
}

static int read_after_drops(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_after_threshold(r, obj, PD_BLOCK_DROPS, key);
}

static int read_after_packets(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_after_threshold(r, obj, PD_BLOCK_PACKETS, key);
}

static int read_after_bytes(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_after_threshold(r, obj, PD_BLOCK_BYTES, key);
}

static int read_after_within(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct block_state *bs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "within", "a duration such as 10s", &s);
	if (err)
		return err;
	if (policy_value_duration("within", s, BLOCK_MAX_WINDOW_NS, &bs->window_ns, why,
				  sizeof(why)))
		return policy_reader_value_failed(r, why);
	snprintf(bs->within, sizeof(bs->within), "%s", s);
	return 0;
}

static const struct policy_key after_keys[] = {
	[AFTER_DROPS] = { "drops", read_after_drops },
	[AFTER_PACKETS] = { "packets", read_after_packets },
	[AFTER_BYTES] = { "bytes", read_after_bytes },
	[AFTER_WITHIN] = { "within", read_after_within },
};

static const struct policy_mapping after_spec = { "after", after_keys, ARRAY_SIZE(after_keys) };

static int read_block_after(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(after_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct block_state *bs = obj;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(
			r, "'after'", "a mapping with one of drops, packets or bytes, and within");
	err = policy_reader_mapping(r, &after_spec, bs, seen);
	if (err)
		return err;
	if (bs->kind == PD_BLOCK_NONE)
		return policy_reader_fail(
			r, &pos,
			"missing key 'drops', 'packets' or 'bytes' in after (expected exactly one of them)");
	if (!seen[AFTER_WITHIN].line)
		return policy_reader_fail(
			r, &pos, "missing key 'within' in after (expected a duration such as 10s)");
	return 0;
}

static int read_block_for(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct block_state *bs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "for", "a duration such as 5m", &s);
	if (err)
		return err;
	if (policy_value_duration("for", s, BLOCK_MAX_DURATION_NS, &bs->duration_ns, why,
				  sizeof(why)))
		return policy_reader_value_failed(r, why);
	snprintf(bs->duration, sizeof(bs->duration), "%s", s);
	return 0;
}

static const struct policy_key block_keys[] = {
	[BLOCK_AFTER] = { "after", read_block_after },
	[BLOCK_FOR] = { "for", read_block_for },
};

static const struct policy_mapping block_spec = { "block", block_keys, ARRAY_SIZE(block_keys) };

static int read_block(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(block_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct block_state bs = { 0 };
	struct policy *p = r->p;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "'block'", "a mapping with after, for");
	err = policy_reader_mapping(r, &block_spec, &bs, seen);
	if (err)
		return err;
	if (!seen[BLOCK_AFTER].line)
		return policy_reader_fail(
			r, &pos,
			"missing key 'after' in block (expected a mapping such as { drops: 500, within: 10s })");
	if (!seen[BLOCK_FOR].line)
		return policy_reader_fail(
			r, &pos, "missing key 'for' in block (expected a duration such as 5m)");
	p->block = (struct pd_block){
		.threshold = bs.threshold,
		.window_ns = bs.window_ns,
		.duration_ns = bs.duration_ns,
		.kind = bs.kind,
	};
	snprintf(p->block_text, sizeof(p->block_text), "after %s within %s for %s",
		 bs.threshold_text, bs.within, bs.duration);
	return 0;
}

/* --- top level -------------------------------------------------------------- */

enum {
	TOP_POLICY,
	TOP_MODE,
	TOP_DESTINATIONS,
	TOP_ROUTES,
	TOP_DEFAULT,
	TOP_TABLE_FULL,
	TOP_RULES,
	TOP_QUOTA,
	TOP_BLOCK,
};

static int read_policy_name(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "policy", "a name", &s);
	if (err)
		return err;
	if (policy_value_name("policy", s, r->p->name, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_mode(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos pos = policy_reader_pos(r);
	char q[POLICY_VALUE_QUOTE_BUF];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "mode", "enforce or monitor", &s);
	if (err)
		return err;
	if (!strcmp(s, "enforce")) {
		r->p->mode = POLICY_MODE_ENFORCE;
		return 0;
	}
	if (!strcmp(s, "monitor")) {
		r->p->mode = POLICY_MODE_MONITOR;
		return 0;
	}
	return policy_reader_fail(r, &pos, "invalid mode '%s' (expected enforce or monitor)",
				  policy_value_quote(s, q, sizeof(q)));
}

static int read_default(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "default", "pass or drop", &s);
	if (err)
		return err;
	if (policy_value_verdict("default", s, &r->p->default_verdict, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_table_full(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "table-full", "pass or drop", &s);
	if (err)
		return err;
	if (policy_value_verdict("table-full", s, &r->p->table_full_verdict, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_destination(struct policy_reader *r)
{
	char why[sizeof(r->err->msg)];
	struct policy_pos pos = policy_reader_pos(r);
	struct policy *p = r->p;
	char d[POLICY_VALUE_QUOTE_BUF];
	struct prefix pfx;

	if (p->ndests == PD_MAX_DESTS)
		return policy_reader_fail(r, &pos, "too many destinations (expected at most %u)",
					  PD_MAX_DESTS);
	if (r->ev.type != YAML_SCALAR_EVENT || policy_reader_empty(r))
		return policy_reader_fail(r, &pos, "destination is %s (expected a prefix)",
					  policy_reader_describe(r, d, sizeof(d)));
	if (policy_value_prefix(policy_reader_scalar(r), &pfx, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	if (p->ndests == r->dests_cap) {
		size_t cap = r->dests_cap ? 2 * r->dests_cap : 16;
		struct prefix *dests = reallocarray(p->dests, cap, sizeof(*dests));
		struct policy_pos *dest_pos;

		if (!dests)
			return policy_reader_nomem(r);
		p->dests = dests;
		dest_pos = reallocarray(p->dest_pos, cap, sizeof(*dest_pos));
		if (!dest_pos)
			return policy_reader_nomem(r);
		p->dest_pos = dest_pos;
		r->dests_cap = cap;
	}
	p->dests[p->ndests] = pfx;
	p->dest_pos[p->ndests++] = pos;
	return 0;
}

static int check_destination_duplicates(struct policy_reader *r)
{
	const struct policy *p = r->p;
	struct indexed_prefix *v;
	char text[PREFIX_STR_MAX];
	size_t i, dup, first;
	bool found;

	if (p->ndests < 2)
		return 0;
	v = calloc(p->ndests, sizeof(*v));
	if (!v)
		return policy_reader_nomem(r);
	for (i = 0; i < p->ndests; i++)
		v[i] = (struct indexed_prefix){ .p = p->dests[i], .i = i };
	found = find_duplicate(v, p->ndests, &dup, &first);
	free(v);
	if (found)
		return policy_reader_fail(r, &p->dest_pos[dup],
					  "duplicate destination '%s' (first at %u:%u)",
					  prefix_format(&p->dests[dup], false, text, sizeof(text)),
					  p->dest_pos[first].line, p->dest_pos[first].col);
	return 0;
}

static int read_destinations(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos pos = policy_reader_pos(r);
	int err;

	if (r->ev.type != YAML_SEQUENCE_START_EVENT)
		return policy_reader_wrong_type(r, "'destinations'", "a list of prefixes");
	for (;;) {
		err = policy_reader_next(r);
		if (err)
			return err;
		if (r->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		err = read_destination(r);
		if (err)
			return err;
	}
	if (!r->p->ndests)
		return policy_reader_fail(
			r, &pos, "'destinations' is an empty list (expected at least one prefix)");
	return check_destination_duplicates(r);
}

static const struct policy_key top_keys[] = {
	[TOP_POLICY] = { "policy", read_policy_name },
	[TOP_MODE] = { "mode", read_mode },
	[TOP_DESTINATIONS] = { "destinations", read_destinations },
	[TOP_ROUTES] = { "routes", read_routes },
	[TOP_DEFAULT] = { "default", read_default },
	[TOP_TABLE_FULL] = { "table-full", read_table_full },
	[TOP_RULES] = { "rules", read_rules },
	[TOP_QUOTA] = { "quota", read_quota },
	[TOP_BLOCK] = { "block", read_block },
	{ "sample", NULL },
};

static const struct policy_mapping top_spec = { "policy", top_keys, ARRAY_SIZE(top_keys) };

int policy_keys_read(struct policy_reader *r)
{
	struct policy_pos seen[ARRAY_SIZE(top_keys)] = { 0 };
	struct policy_pos top = policy_reader_pos(r);
	int err;

	err = policy_reader_mapping(r, &top_spec, r->p, seen);
	if (err)
		goto out;
	if (!seen[TOP_POLICY].line) {
		err = policy_reader_fail(
			r, &top, "missing key 'policy' in policy (expected the policy's name)");
		goto out;
	}
	if (!seen[TOP_DESTINATIONS].line) {
		err = policy_reader_fail(
			r, &top,
			"missing key 'destinations' in policy (expected a list of prefixes)");
		goto out;
	}
	err = check_routes_cover(r);
out:
	free(r->route_to_pos);
	r->route_to_pos = NULL;
	free(r->ports);
	r->ports = NULL;
	free(r->src_pos);
	r->src_pos = NULL;
	free(r->icmp);
	r->icmp = NULL;
	r->routes_cap = 0;
	r->ports_cap = 0;
	r->nports = 0;
	r->src_pos_cap = 0;
	r->nsrcs = 0;
	r->icmp_cap = 0;
	r->nicmp = 0;
	return err;
}
