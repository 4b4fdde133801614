// SPDX-License-Identifier: GPL-2.0-only
/*
 * apply --confirm: a policy applied with a deadline goes back to its
 * previous version (or is removed, if it was new) unless 'confirm' arrives
 * in time, so an operator who cuts the link they manage the router through
 * gets it back. Pending rollbacks are kept in the state file: a daemon
 * restarted within the window still rolls back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "daemon.h"

static struct pending_rollback *pending_find(struct daemon *d, const char *policy)
{
	for (size_t i = 0; i < d->npending; i++)
		if (strcmp(d->pending[i].policy, policy) == 0)
			return &d->pending[i];
	return NULL;
}

static void pending_drop(struct daemon *d, struct pending_rollback *p)
{
	free(p->file);
	free(p->source);
	*p = d->pending[--d->npending];
}

static int pending_add(struct daemon *d, const char *policy, time_t deadline, const char *file,
		       const char *source)
{
	struct pending_rollback *v, *p;

	v = realloc(d->pending, (d->npending + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->pending = v;
	p = &v[d->npending];
	memset(p, 0, sizeof(*p));
	snprintf(p->policy, sizeof(p->policy), "%s", policy);
	p->deadline = deadline;
	if (source) {
		p->file = strdup(file);
		p->source = strdup(source);
		if (!p->file || !p->source) {
			free(p->file);
			free(p->source);
			return -ENOMEM;
		}
	}
	d->npending++;
	return 0;
}

int confirm_arm(struct daemon *d, const char *policy, const char *prev_file,
		const char *prev_source, unsigned int seconds)
{
	struct pending_rollback *p = pending_find(d, policy);
	time_t deadline = time(NULL) + seconds;
	int err;

	/* Applied again before confirming: the rollback still goes to the
	 * last confirmed version, with the new deadline. */
	if (p) {
		p->deadline = deadline;
	} else {
		err = pending_add(d, policy, deadline, prev_file, prev_source);
		if (err)
			return err;
	}
	return state_save(d, &d->set);
}

bool confirm_clear(struct daemon *d, const char *policy)
{
	struct pending_rollback *p = pending_find(d, policy);

	if (!p)
		return false;
	pending_drop(d, p);
	state_save(d, &d->set);
	return true;
}

void confirm_tick(struct daemon *d)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < d->npending;) {
		struct pending_rollback p = d->pending[i];
		const struct apply_opts opts = {};
		char err[1024] = "";
		json_t *res = NULL;
		int ret;

		if (p.deadline > now) {
			i++;
			continue;
		}
		/* Take it off the list first: the apply or remove below saves
		 * the state, and must not save this rollback again. */
		d->pending[i] = d->pending[--d->npending];
		if (p.source)
			ret = policy_set_apply(d, p.file, p.source, strlen(p.source), &opts, &res,
					       err, sizeof(err));
		else
			ret = policy_set_remove(d, p.policy, &res, err, sizeof(err));
		if (ret)
			pr_err("policy %s was not confirmed in time and cannot be rolled back: %s",
			       p.policy, err[0] ? err : strerror(-ret));
		else
			pr_warn("policy %s was not confirmed in time: %s", p.policy,
				p.source ? "rolled back to the previous version" : "removed");
		json_decref(res);
		free(p.file);
		free(p.source);
	}
}

json_t *confirm_state_json(const struct daemon *d)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->npending; i++) {
		const struct pending_rollback *p = &d->pending[i];

		json_array_append_new(a, json_pack("{s:s, s:I, s:s*, s:s*}", "policy", p->policy,
						   "deadline", (json_int_t)p->deadline, "file",
						   p->file, "source", p->source));
	}
	return a;
}

void confirm_restore(struct daemon *d, json_t *state)
{
	json_t *rec;
	size_t i;

	json_array_foreach(json_object_get(state, "pending"), i, rec) {
		const char *policy = NULL, *file = NULL, *source = NULL;
		json_int_t deadline = 0;

		if (json_unpack(rec, "{s:s, s:I, s?s, s?s}", "policy", &policy, "deadline",
				&deadline, "file", &file, "source", &source) ||
		    (source && !file)) {
			pr_err("state: a pending rollback is malformed; ignored");
			continue;
		}
		if (pending_add(d, policy, deadline, file, source))
			pr_err("state: no memory for the pending rollback of %s", policy);
		else
			pr_info("policy %s awaits confirmation until %lld", policy,
				(long long)deadline);
	}
}

void confirm_release(struct daemon *d)
{
	while (d->npending)
		pending_drop(d, &d->pending[0]);
	free(d->pending);
	d->pending = NULL;
}

int confirm_names(struct daemon *d, const char *policy, json_t *out)
{
	if (policy) {
		if (!confirm_clear(d, policy))
			return -ENOENT;
		json_array_append_new(out, json_string(policy));
		return 0;
	}
	if (!d->npending)
		return -ENOENT;
	while (d->npending) {
		json_array_append_new(out, json_string(d->pending[0].policy));
		pending_drop(d, &d->pending[0]);
	}
	state_save(d, &d->set);
	return 0;
}
