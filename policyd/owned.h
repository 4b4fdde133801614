/* SPDX-License-Identifier: GPL-2.0-only */
/* The routes a policy owns (owned.c), as apply.c uses them. */
#ifndef POLICYD_OWNED_H
#define POLICYD_OWNED_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "daemon.h"

/* What an apply does to a destination's route. */
enum route_action {
	ROUTE_ADDED,
	ROUTE_REPLACED,
	ROUTE_KEPT,
	ROUTE_CHANGED,
};

const char *route_action_name(enum route_action a);

/* @ap's route for @dst, if it owns one. */
struct owned_route *owned_route_find(const struct applied_policy *ap, const struct prefix *dst);

/* Decide the route of each destination of @ap (ap->routes, actions[i]);
 * @old is the version it replaces, or NULL. Reads the tables once. */
int plan_routes(struct daemon *d, struct applied_policy *ap, const struct applied_policy *old,
		enum route_action *actions, char *err, size_t errlen);

/* A reply entry for @o: {dst, action, route}; "restored" shows the original. */
json_t *route_json(const struct owned_route *o, const char *action);

/* Install @ap's routes; on failure undo what this call installed. */
int install_routes(struct daemon *d, const struct applied_policy *ap,
		   const struct applied_policy *old, char *err, size_t errlen);

/* Put the routes of @ap's first @n destinations back as @old had them. */
void undo_routes(struct daemon *d, const struct applied_policy *ap,
		 const struct applied_policy *old, size_t n);

/* Restore or delete the routes of @old's destinations that @ap does not
 * have (only list them in @routes with @dry_run). */
void release_dropped_routes(struct daemon *d, const struct applied_policy *old,
			    const struct applied_policy *ap, bool dry_run, json_t *routes);

#endif
