// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state directory: one JSON file with every applied policy's source,
 * its stable map indices and the routes it owns (with the originals to
 * restore). Replaced atomically, so a crash leaves the old or the new file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "daemon.h"

#define STATE_FILE "state.json"
#define STATE_VERSION 1

static json_t *policy_record(const struct applied_policy *ap)
{
	json_t *counters = json_object(), *routes = json_array();
	char pbuf[PREFIX_STR_MAX];

	for (size_t i = 0; i < ap->pol->nrules; i++)
		json_object_set_new(counters, ap->pol->rules[i].name,
				    json_integer(ap->rule_counters[i]));
	for (size_t i = 0; i < ap->nroutes; i++) {
		const struct owned_route *o = &ap->routes[i];
		json_t *r = json_pack("{s:s, s:b, s:o}", "dst",
				      prefix_format(&o->dst, false, pbuf, sizeof(pbuf)), "replaced",
				      o->replaced, "installed", route_info_to_json(&o->installed));

		if (r && o->replaced)
			json_object_set_new(r, "original", route_info_to_json(&o->original));
		json_array_append_new(routes, r);
	}
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "policy", ap->pol->name,
			 "file", ap->file, "source", ap->source, "applied", (json_int_t)ap->applied,
			 "slot", (json_int_t)ap->slot, "default_counter",
			 (json_int_t)ap->default_counter, "rule_counters", counters, "routes",
			 routes);
}

static int state_path(const struct daemon *d, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", d->opts.state_dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int state_save(struct daemon *d, const struct policy_set *set)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	json_t *doc, *pols;
	char *text = NULL;
	size_t len, off = 0;
	int fd = -1, err;

	err = state_path(d, STATE_FILE, path, sizeof(path));
	if (!err)
		err = state_path(d, STATE_FILE ".tmp", tmp, sizeof(tmp));
	if (err)
		return err;
	pols = json_array();
	for (size_t i = 0; i < set->n; i++)
		json_array_append_new(pols, policy_record(set->v[i]));
	doc = json_pack("{s:i, s:o, s:o}", "version", STATE_VERSION, "policies", pols, "pending",
			confirm_state_json(d));
	if (doc)
		text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	len = strlen(text);

	if (mkdir(d->opts.state_dir, 0700) && errno != EEXIST) {
		err = -errno;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		off += n;
	}
	if (fsync(fd)) {
		err = -errno;
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		err = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path)) {
		err = -errno;
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (err) {
		unlink(tmp);
		pr_err("cannot write %s: %s", path, strerror(-err));
	}
	free(text);
	return err;
}

int state_load(struct daemon *d, json_t **out)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *doc;
	int err;

	*out = NULL;
	err = state_path(d, STATE_FILE, path, sizeof(path));
	if (err)
		return err;
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		pr_err("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (json_integer_value(json_object_get(doc, "version")) != STATE_VERSION ||
	    !json_is_array(json_object_get(doc, "policies"))) {
		pr_err("%s: not a policyd state file of version %d", path, STATE_VERSION);
		json_decref(doc);
		return -EINVAL;
	}
	*out = doc;
	return 0;
}
