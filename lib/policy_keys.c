// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy language's top level (SPEC §4): policy, mode, destinations,
 * routes, default and table-full, and the checks that span keys (required
 * keys, duplicate prefixes, routes covering destinations). Rules are read in
 * policy_keys_rule.c, limit, quota and block in policy_keys_state.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_reader.h"
#include "policy_value.h"

/* The state of one route being read, handed to its key readers. */
struct route_state {
	struct policy_route *route;
	struct policy_pos to_pos;
	bool has_to;
};

/* --- sorted prefixes: duplicates and containment ---------------------------- */

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

/* A prefix and its index in the file. */
struct indexed_prefix {
	struct prefix p;
	size_t i;
};

static int cmp_indexed(const void *a, const void *b)
{
	const struct indexed_prefix *x = a, *y = b;
	int c = cmp_prefix(&x->p, &y->p);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Sorting keeps this O(n log n) for the largest policies. */
int policy_keys_find_duplicate(const void *base, size_t n, size_t stride, size_t *dup,
			       size_t *first)
{
	struct indexed_prefix *v;
	bool found = false;
	size_t i;

	if (n < 2)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		memcpy(&v[i].p, (const char *)base + i * stride, sizeof(v[i].p));
		v[i].i = i;
	}
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
	free(v);
	return found;
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

/* 'to' leads struct policy_route: the routes are a strided prefix array. */
_Static_assert(offsetof(struct policy_route, to) == 0, "policy_route.to first");

static int check_route_duplicates(struct policy_reader *r)
{
	const struct policy *p = r->p;
	char text[PREFIX_STR_MAX];
	size_t dup, first;
	int found;

	found = policy_keys_find_duplicate(p->routes, p->nroutes, sizeof(*p->routes), &dup, &first);
	if (found < 0)
		return policy_reader_nomem(r);
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
	TOP_SAMPLE,
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
	bool monitor;
	int err;

	err = policy_reader_choice(r, "mode", "enforce", "monitor", &monitor);
	if (!err)
		r->p->mode = monitor ? POLICY_MODE_MONITOR : POLICY_MODE_ENFORCE;
	return err;
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
	char text[PREFIX_STR_MAX];
	size_t dup, first;
	int found;

	found = policy_keys_find_duplicate(p->dests, p->ndests, sizeof(*p->dests), &dup, &first);
	if (found < 0)
		return policy_reader_nomem(r);
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
	[TOP_RULES] = { "rules", policy_keys_rules },
	[TOP_QUOTA] = { "quota", policy_keys_quota },
	[TOP_BLOCK] = { "block", policy_keys_block },
	[TOP_SAMPLE] = { "sample", policy_keys_sample },
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
