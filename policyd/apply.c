// SPDX-License-Identifier: GPL-2.0-only
/*
 * The set of applied policies: apply (compile, plan routes, commit the maps
 * in one generation switch, install routes, save state; undo everything on
 * any failure), remove, and restore at start-up. The routes themselves are
 * owned.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "daemon.h"
#include "hoststats.h"
#include "owned.h"

void applied_policy_free(struct applied_policy *ap)
{
	if (!ap)
		return;
	policy_free(ap->pol);
	free(ap->source);
	free(ap->file);
	free(ap->rule_counters);
	free(ap->routes);
	free(ap);
}

void policy_set_release(struct policy_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		applied_policy_free(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

struct applied_policy *policy_set_find(const struct policy_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i]->pol->name, name) == 0)
			return set->v[i];
	return NULL;
}

size_t policy_set_ndests(const struct policy_set *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		n += set->v[i]->pol->ndests;
	return n;
}

static int index_alloc(uint8_t *used, size_t n, uint32_t *out)
{
	for (size_t i = 0; i < n; i++) {
		if (!used[i]) {
			used[i] = 1;
			*out = i;
			return 0;
		}
	}
	return -ENOSPC;
}

static size_t policy_nsrcs(const struct policy *pol)
{
	size_t n = 0;

	for (size_t i = 0; i < pol->nrules; i++)
		n += pol->rules[i].nsrcs;
	return n;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	if (x->len != y->len)
		return x->len - y->len;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* Two policies may not declare the same prefix (SPEC §4). Sorted and
 * searched: 100,000 destinations against 100,000 must stay fast. */
static int check_claims(const struct policy_set *set, const struct policy *pol, char *err,
			size_t errlen)
{
	struct prefix *all;
	size_t n = 0, total = 0;
	int ret = 0;

	size_t srcs = policy_nsrcs(pol);

	for (size_t i = 0; i < set->n; i++) {
		if (strcmp(set->v[i]->pol->name, pol->name) == 0)
			continue;
		total += set->v[i]->pol->ndests;
		srcs += policy_nsrcs(set->v[i]->pol);
	}
	if (srcs > PD_MAX_SRCS) {
		snprintf(
			err, errlen,
			"policy %s: %zu src prefixes would exceed the capacity of %u across all policies",
			pol->name, srcs, PD_MAX_SRCS);
		return -ENOSPC;
	}
	if (total + pol->ndests > PD_MAX_DESTS) {
		snprintf(
			err, errlen,
			"policy %s: %zu destinations would exceed the capacity of %u across all policies",
			pol->name, total + pol->ndests, PD_MAX_DESTS);
		return -ENOSPC;
	}
	if (!total)
		return 0;
	all = malloc(total * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		const struct policy *q = set->v[i]->pol;

		if (strcmp(q->name, pol->name) == 0)
			continue;
		memcpy(all + n, q->dests, q->ndests * sizeof(*all));
		n += q->ndests;
	}
	qsort(all, n, sizeof(*all), prefix_cmp);
	for (size_t j = 0; j < pol->ndests && !ret; j++) {
		char buf[PREFIX_STR_MAX];

		if (!bsearch(&pol->dests[j], all, n, sizeof(*all), prefix_cmp))
			continue;
		for (size_t i = 0; i < set->n; i++) {
			const struct policy *q = set->v[i]->pol;

			if (strcmp(q->name, pol->name) == 0)
				continue;
			for (size_t k = 0; k < q->ndests; k++) {
				if (!prefix_equal(&q->dests[k], &pol->dests[j]))
					continue;
				snprintf(err, errlen,
					 "%u:%u: destination %s is already claimed by policy %s",
					 pol->dest_pos[j].line, pol->dest_pos[j].col,
					 prefix_format(&pol->dests[j], false, buf, sizeof(buf)),
					 q->name);
				ret = -EEXIST;
			}
		}
	}
	free(all);
	return ret;
}

json_t *policy_dests_json(const struct policy *pol)
{
	json_t *a = json_array();
	char buf[PREFIX_STR_MAX];

	for (size_t i = 0; i < pol->ndests; i++)
		json_array_append_new(
			a, json_string(prefix_format(&pol->dests[i], false, buf, sizeof(buf))));
	return a;
}

/* Index allocation for @ap: its slot and counters carry over from @old by
 * rule name; new ones are taken now and returned by release_new_indices()
 * if the apply fails. */
static int take_indices(struct daemon *d, struct applied_policy *ap,
			const struct applied_policy *old)
{
	const struct policy *pol = ap->pol;
	int err;

	/* UINT32_MAX marks "not taken" for release_indices() on failure. */
	ap->slot = ap->default_counter = UINT32_MAX;
	ap->rule_counters = malloc((pol->nrules ? pol->nrules : 1) * sizeof(uint32_t));
	if (!ap->rule_counters)
		return -ENOMEM;
	memset(ap->rule_counters, 0xff, (pol->nrules ? pol->nrules : 1) * sizeof(uint32_t));
	if (old) {
		ap->slot = old->slot;
		ap->default_counter = old->default_counter;
	} else {
		err = index_alloc(d->slot_used, PD_MAX_POLICIES, &ap->slot);
		if (err)
			return err;
		err = index_alloc(d->counter_used, PD_MAX_RULE_COUNTERS, &ap->default_counter);
		if (err)
			return err;
	}
	for (size_t i = 0; i < pol->nrules; i++) {
		bool kept = false;

		for (size_t j = 0; old && j < old->pol->nrules; j++) {
			if (strcmp(old->pol->rules[j].name, pol->rules[i].name) == 0) {
				ap->rule_counters[i] = old->rule_counters[j];
				kept = true;
				break;
			}
		}
		if (kept)
			continue;
		err = index_alloc(d->counter_used, PD_MAX_RULE_COUNTERS, &ap->rule_counters[i]);
		if (err)
			return err;
		/* A counter starts at zero for its new rule; nothing reads
		 * it before the generation switch. */
		err = maps_zero_rule_stats(d, ap->rule_counters[i]);
		if (err)
			return err;
	}
	if (!old) {
		err = maps_zero_policy_stats(d, ap->slot);
		if (!err)
			err = maps_zero_policy_quota(d, ap->slot);
		if (!err)
			err = maps_zero_rule_stats(d, ap->default_counter);
		if (err)
			return err;
	}
	return 0;
}

static bool counter_in(uint32_t c, const struct applied_policy *ap)
{
	if (!ap)
		return false;
	if (c == ap->default_counter)
		return true;
	for (size_t i = 0; i < ap->pol->nrules; i++)
		if (ap->rule_counters[i] == c)
			return true;
	return false;
}

/* Give back the indices @from holds that @keep does not (UINT32_MAX: never
 * taken). */
static void release_indices(struct daemon *d, const struct applied_policy *from,
			    const struct applied_policy *keep)
{
	if (!from->rule_counters)
		return;
	if (!keep) {
		if (from->slot != UINT32_MAX)
			d->slot_used[from->slot] = 0;
		if (from->default_counter != UINT32_MAX)
			d->counter_used[from->default_counter] = 0;
	}
	for (size_t i = 0; i < from->pol->nrules; i++)
		if (from->rule_counters[i] != UINT32_MAX &&
		    !counter_in(from->rule_counters[i], keep))
			d->counter_used[from->rule_counters[i]] = 0;
}

/* A set equal to d->set with @ap in place of the policy of its name. */
static int set_with(const struct policy_set *set, struct applied_policy *ap, struct policy_set *out)
{
	size_t n = 0;

	out->v = calloc(set->n + 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		if (ap && strcmp(set->v[i]->pol->name, ap->pol->name) == 0)
			continue;
		out->v[n++] = set->v[i];
	}
	if (ap)
		out->v[n++] = ap;
	out->n = n;
	return 0;
}

static int set_without(const struct policy_set *set, const struct applied_policy *gone,
		       struct policy_set *out)
{
	size_t n = 0;

	out->v = calloc(set->n ? set->n : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i] != gone)
			out->v[n++] = set->v[i];
	out->n = n;
	return 0;
}

/* The confirmation deadline in the reply, after arming it. */
static json_t *confirm_json(unsigned int seconds, bool removal)
{
	time_t deadline = time(NULL) + seconds;
	char when[32];
	struct tm tm;

	gmtime_r(&deadline, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:I, s:s, s:s}", "seconds", (json_int_t)seconds, "deadline", when,
			 "rollback", removal ? "removal" : "previous version");
}

int policy_set_apply(struct daemon *d, const char *file, const char *text, size_t len,
		     const struct apply_opts *opts, json_t **result, char *err, size_t errlen)
{
	struct applied_policy *ap = NULL, *old;
	struct policy_set next = {};
	struct policy_error perr;
	enum route_action *actions = NULL;
	bool indices_taken = false, dry_run = opts->dry_run, created;
	char *prev_file = NULL, *prev_source = NULL;
	json_t *routes = NULL, *diff = NULL, *confirm = NULL;
	int ret;

	ap = calloc(1, sizeof(*ap));
	if (!ap)
		return -ENOMEM;
	ret = policy_parse(file, text, len, &ap->pol, &perr);
	if (ret) {
		snprintf(err, errlen, "%s", perr.msg);
		goto out;
	}
	old = policy_set_find(&d->set, ap->pol->name);
	created = !old;
	if (opts->diff || dry_run)
		diff = policy_diff(old ? old->pol : NULL, ap->pol);
	if (!old && d->set.n >= PD_MAX_POLICIES) {
		snprintf(err, errlen,
			 "%s: already %u policies applied, the most this version holds", file,
			 PD_MAX_POLICIES);
		ret = -ENOSPC;
		goto out;
	}
	ret = check_claims(&d->set, ap->pol, err, errlen);
	if (ret) {
		if (ret == -EEXIST) {
			/* Prefix the file to check_claims()' "line:col: ...". */
			char tmp[512];

			snprintf(tmp, sizeof(tmp), "%s:%s", file, err);
			snprintf(err, errlen, "%s", tmp);
		}
		goto out;
	}
	actions = calloc(ap->pol->ndests ? ap->pol->ndests : 1, sizeof(*actions));
	ap->source = strndup(text, len);
	ap->file = strdup(file);
	if (!actions || !ap->source || !ap->file) {
		ret = -ENOMEM;
		goto out;
	}
	ap->applied = time(NULL);
	ret = plan_routes(d, ap, old, actions, err, errlen);
	if (ret)
		goto out;

	routes = json_array();
	for (size_t i = 0; i < ap->nroutes; i++)
		json_array_append_new(routes,
				      route_json(&ap->routes[i], route_action_name(actions[i])));
	if (dry_run) {
		release_dropped_routes(d, old, ap, true, routes);
		goto done;
	}

	ret = take_indices(d, ap, old);
	indices_taken = true;
	if (ret) {
		snprintf(err, errlen, "policy %s: cannot allocate counters: %s", ap->pol->name,
			 strerror(-ret));
		goto out;
	}
	ret = set_with(&d->set, ap, &next);
	if (ret)
		goto out;
	ret = maps_commit(d, &next, &d->set);
	if (ret) {
		snprintf(err, errlen, "policy %s: cannot write the maps: %s", ap->pol->name,
			 strerror(-ret));
		goto out;
	}
	ret = install_routes(d, ap, old, err, errlen);
	if (!ret) {
		ret = state_save(d, &next);
		if (ret) {
			snprintf(err, errlen, "policy %s: cannot save the state in %s: %s",
				 ap->pol->name, d->opts.state_dir, strerror(-ret));
			undo_routes(d, ap, old, ap->nroutes);
		}
	}
	if (ret) {
		/* Back to the set packets saw before this apply. */
		if (maps_commit(d, &d->set, &next))
			pr_err("policy %s: cannot restore the previous maps", ap->pol->name);
		goto out;
	}
	release_dropped_routes(d, old, ap, false, routes);
	if (old)
		release_indices(d, old, ap);
	free(d->set.v);
	d->set = next;
	next.v = NULL;
	pr_info("applied policy %s from %s: %zu destinations, %zu rules", ap->pol->name, file,
		ap->pol->ndests, ap->pol->nrules);
	/* The version a --confirm rollback goes back to; an apply without
	 * --confirm confirms what was pending. */
	if (opts->confirm && old) {
		prev_file = old->file;
		prev_source = old->source;
		old->file = old->source = NULL;
	}
	applied_policy_free(old);
	if (opts->confirm) {
		if (confirm_arm(d, ap->pol->name, prev_file, prev_source, opts->confirm))
			pr_err("policy %s: cannot arm the confirmation rollback", ap->pol->name);
		else
			confirm = confirm_json(opts->confirm, !prev_source);
	} else {
		confirm_clear(d, ap->pol->name);
	}
	/* Per-host state of rules and policies that are gone must not greet
	 * the next one that gets their counter or slot. */
	maps_gc_host_buckets(d);
	hosts_gc(d);
done:
	*result = json_pack("{s:s, s:b, s:b, s:o, s:I, s:o}", "policy", ap->pol->name, "created",
			    created, "dry_run", dry_run, "destinations", policy_dests_json(ap->pol),
			    "rules", (json_int_t)ap->pol->nrules, "routes", routes);
	routes = NULL;
	if (diff)
		json_object_set_new(*result, "diff", diff);
	if (confirm)
		json_object_set_new(*result, "confirm", confirm);
	diff = confirm = NULL;
	if (dry_run)
		applied_policy_free(ap);
	ap = NULL;
	ret = 0;
out:
	if (!dry_run && ret) /* apply results, for metrics */
		d->applies_failed++;
	else if (!dry_run)
		d->applies_ok++;
	if (ap && indices_taken)
		release_indices(d, ap, old);
	applied_policy_free(ap);
	json_decref(routes);
	json_decref(diff);
	free(prev_file);
	free(prev_source);
	free(next.v);
	free(actions);
	return ret;
}

int policy_set_remove(struct daemon *d, const char *name, json_t **result, char *err, size_t errlen)
{
	struct applied_policy *ap = policy_set_find(&d->set, name);
	struct policy_set next = {};
	json_t *routes;
	uint32_t slot;
	int ret, err_hosts;

	if (!ap) {
		snprintf(err, errlen, "no policy named '%s' is applied", name);
		return -ENOENT;
	}
	ret = set_without(&d->set, ap, &next);
	if (ret)
		return ret;
	ret = state_save(d, &next);
	if (ret) {
		snprintf(err, errlen, "cannot save the state in %s: %s", d->opts.state_dir,
			 strerror(-ret));
		goto out;
	}
	ret = maps_commit(d, &next, &d->set);
	if (ret) {
		snprintf(err, errlen, "cannot write the maps: %s", strerror(-ret));
		state_save(d, &d->set);
		goto out;
	}
	routes = json_array();
	release_dropped_routes(d, ap, NULL, false, routes);
	slot = ap->slot;
	release_indices(d, ap, NULL);
	free(d->set.v);
	d->set = next;
	next.v = NULL;
	*result = json_pack("{s:s, s:o}", "policy", name, "routes", routes);
	pr_info("removed policy %s", name);
	applied_policy_free(ap);
	maps_gc_host_buckets(d);
	hosts_gc(d);
	/* Soft state: a failure leaves stale host rows, never wrong verdicts. */
	err_hosts = hoststats_release(d, slot);
	if (err_hosts)
		pr_warn("cannot release the per-host counters of policy %s: %s", name,
			strerror(-err_hosts));
	confirm_clear(d, name);
out:
	free(next.v);
	return ret;
}

/* Rebuild one applied policy from its state-file record; the indices must
 * be free and in range. */
static int restore_one(struct daemon *d, json_t *rec, struct applied_policy **out)
{
	struct applied_policy *ap;
	struct policy_error perr;
	const char *source = NULL, *file = NULL;
	json_t *counters = NULL, *routes = NULL;
	json_int_t slot = -1, def = -1, applied = 0;
	int ret = -EINVAL;

	if (json_unpack(rec, "{s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "source", &source, "file",
			&file, "slot", &slot, "default_counter", &def, "applied", &applied,
			"rule_counters", &counters, "routes", &routes) ||
	    !json_is_object(counters) || !json_is_array(routes)) {
		pr_err("state: a policy record is malformed");
		return -EINVAL;
	}
	ap = calloc(1, sizeof(*ap));
	if (!ap)
		return -ENOMEM;
	ret = policy_parse(file, source, strlen(source), &ap->pol, &perr);
	if (ret) {
		pr_err("state: saved policy no longer compiles: %s", perr.msg);
		goto out;
	}
	ret = -EINVAL;
	ap->source = strdup(source);
	ap->file = strdup(file);
	ap->applied = applied;
	ap->rule_counters = calloc(ap->pol->nrules ? ap->pol->nrules : 1, sizeof(uint32_t));
	ap->routes = calloc(json_array_size(routes) + 1, sizeof(*ap->routes));
	if (!ap->source || !ap->file || !ap->rule_counters || !ap->routes) {
		ret = -ENOMEM;
		goto out;
	}
	if (slot < 0 || slot >= PD_MAX_POLICIES || d->slot_used[slot] || def < 0 ||
	    def >= PD_MAX_RULE_COUNTERS || d->counter_used[def])
		goto bad;
	ap->slot = slot;
	ap->default_counter = def;
	for (size_t i = 0; i < ap->pol->nrules; i++) {
		json_t *c = json_object_get(counters, ap->pol->rules[i].name);
		json_int_t v = json_is_integer(c) ? json_integer_value(c) : -1;

		if (v < 0 || v >= PD_MAX_RULE_COUNTERS || d->counter_used[v] || v == def)
			goto bad;
		for (size_t j = 0; j < i; j++)
			if (ap->rule_counters[j] == v)
				goto bad;
		ap->rule_counters[i] = v;
	}
	for (size_t i = 0; i < json_array_size(routes); i++) {
		json_t *r = json_array_get(routes, i);
		struct owned_route *o = &ap->routes[i];

		if (prefix_parse(json_string_value(json_object_get(r, "dst")) ?: "", false,
				 &o->dst) ||
		    route_info_from_json(json_object_get(r, "installed"), &o->installed))
			goto bad;
		o->replaced = json_is_true(json_object_get(r, "replaced"));
		if (o->replaced &&
		    route_info_from_json(json_object_get(r, "original"), &o->original))
			goto bad;
		ap->nroutes++;
	}
	d->slot_used[ap->slot] = 1;
	d->counter_used[ap->default_counter] = 1;
	for (size_t i = 0; i < ap->pol->nrules; i++)
		d->counter_used[ap->rule_counters[i]] = 1;
	*out = ap;
	return 0;
bad:
	pr_err("state: the record of policy %s is inconsistent", ap->pol->name);
out:
	applied_policy_free(ap);
	return ret;
}

int policy_set_restore(struct daemon *d)
{
	struct policy_set set = {};
	json_t *state = NULL, *pols;
	int err;

	err = state_load(d, &state);
	if (err)
		return err;
	pols = json_object_get(state, "policies");
	set.v = calloc(json_array_size(pols) + 1, sizeof(*set.v));
	if (!set.v) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(pols); i++) {
		struct applied_policy *ap;

		/* A record that cannot be restored is logged and skipped: the
		 * others still deserve enforcement. */
		if (restore_one(d, json_array_get(pols, i), &ap) == 0)
			set.v[set.n++] = ap;
	}
	/* Start-up: the next generation's contents are unknown (old == NULL). */
	err = maps_commit(d, &set, NULL);
	if (err) {
		pr_err("cannot write the restored policies to the maps: %s", strerror(-err));
		for (size_t i = 0; i < set.n; i++)
			release_indices(d, set.v[i], NULL);
		policy_set_release(&set);
		goto out;
	}
	d->set = set;
	confirm_restore(d, state);
	for (size_t i = 0; i < set.n; i++) {
		const struct applied_policy *ap = set.v[i];

		for (size_t j = 0; j < ap->nroutes; j++) {
			err = route_install_bpf(d->rt, &ap->routes[j].installed, d->prog_fd,
						d->route_name);
			if (err)
				pr_err("policy %s: cannot re-install route %zu: %s", ap->pol->name,
				       j, strerror(-err));
		}
		pr_info("restored policy %s (%zu destinations, %zu rules)", ap->pol->name,
			ap->pol->ndests, ap->pol->nrules);
	}
	err = 0;
out:
	json_decref(state);
	return err;
}
