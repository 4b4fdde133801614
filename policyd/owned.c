// SPDX-License-Identifier: GPL-2.0-only
/*
 * The routes a policy owns: planning one per destination (wrap, cover or
 * the policy's routes:), installing them with the program's encap, undoing
 * and releasing them, and putting back what changed behind our back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "daemon.h"
#include "owned.h"

static const char *const route_action_names[] = {
	[ROUTE_ADDED] = "added",
	[ROUTE_REPLACED] = "replaced",
	[ROUTE_KEPT] = "kept",
	[ROUTE_CHANGED] = "changed",
};

const char *route_action_name(enum route_action a)
{
	return route_action_names[a];
}

struct owned_route *owned_route_find(const struct applied_policy *ap, const struct prefix *dst)
{
	if (!ap)
		return NULL;
	for (size_t i = 0; i < ap->nroutes; i++)
		if (prefix_equal(&ap->routes[i].dst, dst))
			return &ap->routes[i];
	return NULL;
}

static bool route_same(const struct route_info *a, const struct route_info *b)
{
	return prefix_equal(&a->dst, &b->dst) && a->table == b->table && a->ifindex == b->ifindex &&
	       a->has_gw == b->has_gw && (!a->has_gw || prefix_equal(&a->gw, &b->gw)) &&
	       a->has_realm == b->has_realm && a->realm == b->realm &&
	       a->has_priority == b->has_priority && a->priority == b->priority &&
	       a->tos == b->tos && a->onlink == b->onlink && a->has_prefsrc == b->has_prefsrc &&
	       (!a->has_prefsrc || prefix_equal(&a->prefsrc, &b->prefsrc)) &&
	       a->metrics_set == b->metrics_set &&
	       memcmp(a->metrics, b->metrics, sizeof(a->metrics)) == 0;
}

/* The policy's routes: entry that covers @dst most specifically. */
static const struct policy_route *policy_route_for(const struct policy *pol,
						   const struct prefix *dst)
{
	const struct policy_route *best = NULL;

	for (size_t i = 0; i < pol->nroutes; i++) {
		const struct policy_route *r = &pol->routes[i];

		if (prefix_contains(&r->to, dst) && (!best || r->to.len > best->to.len))
			best = r;
	}
	return best;
}

static int route_from_policy(const struct policy_route *pr, const struct prefix *dst,
			     struct route_info *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	out->dst = *dst;
	out->table = 254; /* RT_TABLE_MAIN */
	out->type = 1; /* RTN_UNICAST */
	out->scope = pr->has_via ? 0 /* RT_SCOPE_UNIVERSE */ : 253 /* RT_SCOPE_LINK */;
	out->protocol = RTPROT_POLICYD;
	out->has_gw = pr->has_via;
	out->gw = pr->via;
	out->has_realm = pr->has_realm;
	out->realm = pr->realm;
	if (pr->dev[0]) {
		err = route_ifindex(pr->dev, &out->ifindex);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Decide the route for each destination of @ap (SPEC §6): keep a route the
 * previous version owned; wrap a foreign route for exactly the prefix; else
 * add one with the covering route's nexthop, or with the policy's routes:.
 */
static int plan_routes_in(const struct route_table *table, struct applied_policy *ap,
			  const struct applied_policy *old, enum route_action *actions, char *err,
			  size_t errlen)
{
	const struct policy *pol = ap->pol;
	char pbuf[PREFIX_STR_MAX];
	int ret;

	ap->nroutes = pol->ndests;
	for (size_t i = 0; i < pol->ndests; i++) {
		const struct prefix *dst = &pol->dests[i];
		struct owned_route *o = &ap->routes[i];
		const struct owned_route *prev = owned_route_find(old, dst);
		struct route_info exact, cover;
		bool found, cover_found;
		const struct policy_route *pr;

		prefix_format(dst, false, pbuf, sizeof(pbuf));
		o->dst = *dst;
		if (prev && prev->replaced) {
			*o = *prev;
			actions[i] = ROUTE_KEPT;
			continue;
		}
		ret = route_table_lookup(table, dst, &exact, &found, &cover, &cover_found);
		if (ret) {
			snprintf(err, errlen, "cannot look up the routes for %s: %s", pbuf,
				 strerror(-ret));
			return ret;
		}
		if (found && exact.protocol != RTPROT_POLICYD) {
			if (exact.multipath) {
				snprintf(
					err, errlen,
					"the route for %s is multipath: not supported yet by this version",
					pbuf);
				return -EOPNOTSUPP;
			}
			if (exact.has_encap) {
				snprintf(
					err, errlen,
					"the route for %s already has an encap of its own: not touched",
					pbuf);
				return -EBUSY;
			}
			o->replaced = true;
			o->original = exact;
			o->installed = exact;
			o->installed.protocol = RTPROT_POLICYD;
			actions[i] = ROUTE_REPLACED;
			continue;
		}
		pr = policy_route_for(pol, dst);
		if (cover_found && !cover.multipath) {
			o->installed = cover;
			o->installed.dst = *dst;
			o->installed.has_encap = false;
			o->installed.encap_name[0] = '\0';
		} else if (pr) {
			ret = route_from_policy(pr, dst, &o->installed);
			if (ret) {
				snprintf(err, errlen, "%s:%u:%u: route for %s: no interface %s",
					 ap->file, pr->pos.line, pr->pos.col, pbuf, pr->dev);
				return ret;
			}
		} else if (cover_found) {
			snprintf(
				err, errlen,
				"the route covering %s is multipath: not supported yet by this version (add a routes: entry or a single-nexthop route)",
				pbuf);
			return -EOPNOTSUPP;
		} else {
			snprintf(
				err, errlen,
				"no route covers destination %s and the policy has no routes: entry for it",
				pbuf);
			return -ENETUNREACH;
		}
		o->installed.protocol = RTPROT_POLICYD;
		if (prev)
			actions[i] = route_same(&prev->installed, &o->installed) ? ROUTE_KEPT :
										   ROUTE_CHANGED;
		else
			actions[i] = ROUTE_ADDED;
	}
	return 0;
}

int plan_routes(struct daemon *d, struct applied_policy *ap, const struct applied_policy *old,
		enum route_action *actions, char *err, size_t errlen)
{
	struct route_table *table = NULL;
	int ret;

	ap->routes = calloc(ap->pol->ndests ? ap->pol->ndests : 1, sizeof(*ap->routes));
	if (!ap->routes)
		return -ENOMEM;
	/* One dump of the tables, many lookups: a dump per destination would
	 * make a 100,000-prefix apply take minutes. */
	ret = route_table_load(d->rt, &table);
	if (ret) {
		snprintf(err, errlen, "cannot read the routing tables: %s", strerror(-ret));
		return ret;
	}
	ret = plan_routes_in(table, ap, old, actions, err, errlen);
	route_table_free(table);
	return ret;
}

/* Take @o's route back to what it was before policyd: the original, or
 * nothing. */
static int route_release(struct daemon *d, const struct owned_route *o)
{
	return o->replaced ? route_restore(d->rt, &o->original) :
			     route_delete_owned(d->rt, &o->installed);
}

/* @o as a reply entry; a route being restored shows the original. */
json_t *route_json(const struct owned_route *o, const char *action)
{
	char pbuf[PREFIX_STR_MAX], rbuf[256];

	route_info_format(strcmp(action, "restored") ? &o->installed : &o->original, rbuf,
			  sizeof(rbuf));
	return json_pack("{s:s, s:s, s:s}", "dst",
			 prefix_format(&o->dst, false, pbuf, sizeof(pbuf)), "action", action,
			 "route", rbuf);
}

/* Put the routes of @ap's first @n destinations back as they were before
 * this apply: as @old had them, or released. */
void undo_routes(struct daemon *d, const struct applied_policy *ap,
		 const struct applied_policy *old, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct owned_route *prev = owned_route_find(old, &ap->routes[i].dst);
		int err;

		if (prev)
			err = route_install_bpf(d->rt, &prev->installed, d->prog_fd, d->route_name);
		else
			err = route_release(d, &ap->routes[i]);
		if (err)
			pr_err("cannot undo the route for destination %zu of policy %s: %s", i,
			       ap->pol->name, strerror(-err));
	}
}

/* Does the kernel see @a and @b as the same route (a replace of one
 * replaces the other)? */
static bool route_key_same(const struct route_info *a, const struct route_info *b)
{
	return prefix_equal(&a->dst, &b->dst) && a->table == b->table && a->tos == b->tos &&
	       a->has_priority == b->has_priority && a->priority == b->priority;
}

int install_routes(struct daemon *d, const struct applied_policy *ap,
		   const struct applied_policy *old, char *err, size_t errlen)
{
	char pbuf[PREFIX_STR_MAX];
	int ret;

	for (size_t i = 0; i < ap->nroutes; i++) {
		const struct owned_route *prev = owned_route_find(old, &ap->routes[i].dst);

		ret = route_install_bpf(d->rt, &ap->routes[i].installed, d->prog_fd, d->route_name);
		if (ret) {
			snprintf(err, errlen, "cannot install the route for %s: %s",
				 prefix_format(&ap->routes[i].dst, false, pbuf, sizeof(pbuf)),
				 strerror(-ret));
			undo_routes(d, ap, old, i);
			return ret;
		}
		/* A changed route with another metric did not replace the
		 * old one: take that away. */
		if (prev && !prev->replaced &&
		    !route_key_same(&prev->installed, &ap->routes[i].installed))
			route_delete_owned(d->rt, &prev->installed);
	}
	return 0;
}

/* Routes of @old's destinations that @ap no longer has: released, or with
 * @dry_run only listed. */
void release_dropped_routes(struct daemon *d, const struct applied_policy *old,
			    const struct applied_policy *ap, bool dry_run, json_t *routes)
{
	char pbuf[PREFIX_STR_MAX];

	for (size_t i = 0; old && i < old->nroutes; i++) {
		const struct owned_route *o = &old->routes[i];
		int err;

		if (owned_route_find(ap, &o->dst))
			continue;
		json_array_append_new(routes, route_json(o, o->replaced ? "restored" : "deleted"));
		if (dry_run)
			continue;
		err = route_release(d, o);
		if (err)
			pr_err("cannot release the route for %s: %s",
			       prefix_format(&o->dst, false, pbuf, sizeof(pbuf)), strerror(-err));
	}
}

void policy_set_reconcile_routes(struct daemon *d)
{
	struct route_info *live = NULL;
	char rbuf[256];
	size_t n = 0;
	int err;

	err = route_list_owned(d->rt, &live, &n);
	if (err) {
		pr_err("cannot list routes: %s", strerror(-err));
		return;
	}
	for (size_t i = 0; i < d->set.n; i++) {
		const struct applied_policy *ap = d->set.v[i];

		for (size_t j = 0; j < ap->nroutes; j++) {
			const struct route_info *want = &ap->routes[j].installed;
			bool ok = false;

			for (size_t k = 0; k < n && !ok; k++)
				ok = route_same(&live[k], want) &&
				     strcmp(live[k].encap_name, d->route_name) == 0;
			if (ok)
				continue;
			route_info_format(want, rbuf, sizeof(rbuf));
			err = route_install_bpf(d->rt, want, d->prog_fd, d->route_name);
			if (err)
				pr_err("policy %s: route %s was deleted or changed outside policyd and cannot be re-installed: %s",
				       ap->pol->name, rbuf, strerror(-err));
			else
				pr_warn("policy %s: route %s was deleted or changed outside policyd; re-installed",
					ap->pol->name, rbuf);
		}
	}
	free(live);
}
