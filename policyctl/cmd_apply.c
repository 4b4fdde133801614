// SPDX-License-Identifier: GPL-2.0-only
/*
 * The commands that start from policy files: 'validate' (offline, with the
 * daemon's compiler) and 'apply' (the same check, then the text goes to the
 * daemon; the daemon never opens paths), with its diff and its timed
 * rollback, and 'confirm', which keeps what 'apply --confirm' applied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/policy.h"
#include "policyctl.h"

/* A policy file, read and checked here. */
struct checked_file {
	const char *path; /* as given; "-" is stdin */
	const char *name; /* for messages: the path, or "<stdin>" */
	char *text;
	size_t len;
	struct policy *policy;
	char error[sizeof(((struct policy_error *)0)->msg) + 64]; /* "FILE:L:C: ..." */
};

/* Read @path ("-" for stdin) into a new buffer: whole, or its first
 * POLICY_TEXT_MAX + 1 bytes, enough for policy_parse() to refuse it with
 * its own message. Returns 0 or -errno. */
static int read_policy_file(const char *path, char **text, size_t *len)
{
	size_t used = 0, cap = 0;
	char *buf = NULL, *grown;
	int fd, err = 0;
	ssize_t n;

	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0)
		return -errno;
	for (;;) {
		if (used == cap) {
			/* One byte over the limit is enough to know it is too big. */
			if (cap > POLICY_TEXT_MAX)
				break;
			cap = cap ? cap * 2 : 4096;
			if (cap > POLICY_TEXT_MAX + 1)
				cap = POLICY_TEXT_MAX + 1;
			grown = realloc(buf, cap);
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			buf = grown;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			err = -errno;
			if (err == -EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		used += n;
	}
	*text = buf;
	*len = used;
	buf = NULL;
out:
	free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	return err;
}

/* Compile with placeholder counter indices: the daemon picks the real ones,
 * but the compiler's checks do not depend on them. */
static int compile_offline(const struct policy *p, struct policy_error *perr)
{
	struct pd_policy compiled;
	uint32_t *counters;
	size_t i;
	int err;

	counters = calloc(p->nrules ? p->nrules : 1, sizeof(*counters));
	if (!counters)
		return -ENOMEM;
	for (i = 0; i < p->nrules; i++)
		counters[i] = i;
	err = policy_compile(p, counters, p->nrules, &compiled, perr);
	free(counters);
	return err;
}

/* Read, parse and compile @f->path. Returns 0, or -errno with @f->error set
 * (without the "policyctl: " prefix). */
static int check_policy_file(struct checked_file *f)
{
	struct policy_error perr = { .msg = "" };
	int err;

	f->name = strcmp(f->path, "-") ? f->path : "<stdin>";
	err = read_policy_file(f->path, &f->text, &f->len);
	if (err) {
		snprintf(f->error, sizeof(f->error), "%s: %s", f->name, strerror(-err));
		return err;
	}
	err = policy_parse(f->name, f->text, f->len, &f->policy, &perr);
	if (err) {
		/* The parser's message already starts with "FILE:L:C: ". */
		snprintf(f->error, sizeof(f->error), "%s", *perr.msg ? perr.msg : strerror(-err));
		return err;
	}
	err = compile_offline(f->policy, &perr);
	if (err) {
		snprintf(f->error, sizeof(f->error), "%s: %s", f->name,
			 *perr.msg ? perr.msg : strerror(-err));
		return err;
	}
	return 0;
}

static void checked_file_release(struct checked_file *f)
{
	policy_free(f->policy);
	free(f->text);
	f->policy = NULL;
	f->text = NULL;
}

int cmd_validate(const struct ctl *ctl, int argc, char **argv)
{
	int status = CTL_EXIT_OK;
	json_t *results = NULL;
	int i;

	if (ctl->json) {
		results = json_array();
		if (!results) {
			ctl_err("out of memory");
			return CTL_EXIT_FAIL;
		}
	}
	for (i = 0; i < argc; i++) {
		struct checked_file f = { .path = argv[i] };
		bool ok = check_policy_file(&f) == 0;

		if (!ok) {
			ctl_err("%s", f.error);
			status = CTL_EXIT_FAIL;
		} else if (!ctl->json) {
			printf("%s: ok (policy %s, %zu destination%s, %zu rule%s)\n", f.name,
			       f.policy->name, f.policy->ndests, f.policy->ndests == 1 ? "" : "s",
			       f.policy->nrules, f.policy->nrules == 1 ? "" : "s");
		}
		if (results &&
		    json_array_append_new(results,
					  json_pack("{s:o, s:b, s:o?, s:o?}", "file",
						    out_string(f.name), "ok", ok, "policy",
						    ok ? out_string(f.policy->name) : NULL, "error",
						    ok ? NULL : out_string(f.error)))) {
			ctl_err("out of memory");
			status = CTL_EXIT_FAIL;
		}
		checked_file_release(&f);
	}
	if (results) {
		if (out_json(results) != CTL_EXIT_OK)
			status = CTL_EXIT_FAIL;
		json_decref(results);
	}
	return status;
}

/* Destinations listed in a diff before "... N more": a policy may have 100k,
 * --json has them all. */
#define DIFF_DEST_MAX 16
/* Where a diff line of destinations wraps. */
#define DIFF_LINE_WIDTH 100

/* "old -> new" of a setting that changed; nothing when it did not (null). */
static void print_diff_setting(int width, const char *label, const json_t *change)
{
	if (!json_is_object(change))
		return;
	printf("  %-*s  %s -> %s\n", width, label, out_str(change, "old"), out_str(change, "new"));
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* "+198.18.5.0/24  -198.18.4.0/24  (2 kept)", wrapped under the value
 * column, cut to DIFF_DEST_MAX prefixes. */
static void print_diff_dests(int width, const json_t *dests)
{
	const json_t *lists[] = { out_arr(dests, "added"), out_arr(dests, "removed") };
	size_t n[] = { json_array_size(lists[0]), json_array_size(lists[1]) };
	const char signs[] = { '+', '-' };
	size_t quota[2], col = 0, i, l;
	char kept[32];

	if (!n[0] && !n[1])
		return;
	/* Removed prefixes keep their half of the room when both lists are long. */
	quota[0] = min_size(n[0], DIFF_DEST_MAX - min_size(n[1], DIFF_DEST_MAX / 2));
	quota[1] = min_size(n[1], DIFF_DEST_MAX - quota[0]);
	printf("  %-*s", width, "destinations");
	for (l = 0; l < 2; l++) {
		for (i = 0; i < quota[l]; i++) {
			const char *prefix = json_string_value(json_array_get(lists[l], i));
			size_t len = strlen(prefix ? prefix : "-") + 1;

			if (col && 4 + width + col + 2 + len > DIFF_LINE_WIDTH) {
				printf("\n  %-*s", width, "");
				col = 0;
			}
			printf("  %c%s", signs[l], prefix ? prefix : "-");
			col += 2 + len;
		}
	}
	if (quota[0] < n[0] && quota[1] < n[1])
		printf("  ... %zu more added, %zu more removed", n[0] - quota[0], n[1] - quota[1]);
	else if (quota[0] < n[0] || quota[1] < n[1])
		printf("  ... %zu more %s", quota[0] < n[0] ? n[0] - quota[0] : n[1] - quota[1],
		       quota[0] < n[0] ? "added" : "removed");
	printf("  (%s kept)\n", out_num(dests, "kept", kept, sizeof(kept)));
}

/* "changed: dport 80 -> 80,443; counters kept, bucket kept". What happens to
 * the counters and the bucket of an unchanged rule is said only when it is
 * not the obvious "kept". */
static void print_diff_rule(int width, const json_t *rule)
{
	const char *change = out_str(rule, "change");
	const char *counters = out_str(rule, "counters");
	const json_t *bucket = json_object_get(rule, "bucket");
	const json_t *details = out_arr(rule, "details");
	bool fate = true;
	char label[64];
	const json_t *d;
	size_t i;

	if (!strcmp(change, "unchanged"))
		fate = strcmp(counters, "kept") ||
		       (json_is_string(bucket) && strcmp(json_string_value(bucket), "kept"));
	snprintf(label, sizeof(label), "rule %s", out_str(rule, "rule"));
	printf("  %-*s  %s", width, label, change);
	if (json_array_size(details) || fate)
		putchar(':');
	json_array_foreach(details, i, d)
		printf("%s%s", i ? "; " : " ", json_is_string(d) ? json_string_value(d) : "-");
	if (fate) {
		printf("%s counters %s", json_array_size(details) ? ";" : "", counters);
		if (json_is_string(bucket))
			printf(", bucket %s", json_string_value(bucket));
	}
	putchar('\n');
}

/* Whether the diff holds any change at all, or only unchanged rules whose
 * counters stay. */
static bool diff_has_changes(const json_t *diff)
{
	static const char *const settings[] = { "mode", "default", "table_full" };
	const json_t *dests = out_obj(diff, "destinations");
	const json_t *r;
	size_t i;

	if (json_is_true(json_object_get(diff, "created")) ||
	    json_array_size(out_arr(dests, "added")) || json_array_size(out_arr(dests, "removed")))
		return true;
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		if (json_is_object(json_object_get(diff, settings[i])))
			return true;
	}
	json_array_foreach(out_arr(diff, "rules"), i, r) {
		const json_t *bucket = json_object_get(r, "bucket");

		if (strcmp(out_str(r, "change"), "unchanged") ||
		    strcmp(out_str(r, "counters"), "kept") ||
		    (json_is_string(bucket) && strcmp(json_string_value(bucket), "kept")))
			return true;
	}
	return false;
}

/*
 * The diff for people, one aligned line per change:
 *
 *   changes:
 *     mode            enforce -> monitor
 *     destinations    +198.18.5.0/24  -198.18.4.0/24  (2 kept)
 *     rule web        changed: dport 80 -> 80,443; counters kept, bucket kept
 *     rule dns        unchanged
 */
static void print_diff(const json_t *diff)
{
	const json_t *rules = out_arr(diff, "rules");
	int width = (int)strlen("destinations  ");
	const json_t *r;
	size_t i;

	if (!diff_has_changes(diff)) {
		printf("changes: none\n");
		return;
	}
	json_array_foreach(rules, i, r) {
		int w = (int)strlen("rule ") + (int)strlen(out_str(r, "rule"));

		if (w > width)
			width = w;
	}
	printf("changes:\n");
	print_diff_setting(width, "mode", json_object_get(diff, "mode"));
	print_diff_setting(width, "default", json_object_get(diff, "default"));
	print_diff_setting(width, "table-full", json_object_get(diff, "table_full"));
	print_diff_dests(width, out_obj(diff, "destinations"));
	json_array_foreach(rules, i, r)
		print_diff_rule(width, r);
}

/* "2026-11-28T10:01:00Z" as the local wall-clock time, with the date when it
 * is not today; as it is when it does not parse. */
static const char *format_deadline(const char *iso, char *buf, size_t size)
{
	struct tm tm = { 0 }, deadline, today;
	const char *end;
	time_t t, now = time(NULL);

	end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		goto raw;
	t = timegm(&tm);
	if (t == (time_t)-1 || !localtime_r(&t, &deadline) || !localtime_r(&now, &today))
		goto raw;
	if (deadline.tm_year == today.tm_year && deadline.tm_yday == today.tm_yday)
		strftime(buf, size, "%H:%M:%S", &deadline);
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S", &deadline);
	return buf;
raw:
	snprintf(buf, size, "%s", iso);
	return buf;
}

/* The line that says what to do before the rollback. */
static void print_confirm(const json_t *res, const json_t *confirm)
{
	const char *rollback = out_str(confirm, "rollback");
	char when[64], seconds[32];

	format_deadline(out_str(confirm, "deadline"), when, sizeof(when));
	out_num(confirm, "seconds", seconds, sizeof(seconds));
	printf("policy %s applied; it is ", out_str(res, "policy"));
	if (!strcmp(rollback, "previous version"))
		printf("rolled back to the previous version");
	else if (!strcmp(rollback, "removal"))
		printf("removed");
	else
		printf("rolled back (%s)", rollback);
	printf(" at %s unless 'policyctl confirm' arrives within %ss\n", when, seconds);
}

static void print_apply(const json_t *res)
{
	const json_t *routes = out_arr(res, "routes");
	const json_t *created = json_object_get(res, "created");
	size_t ndest = json_array_size(out_arr(res, "destinations"));
	bool dry_run = json_is_true(json_object_get(res, "dry_run"));
	const char *how, *prefix = dry_run ? "would be " : "";
	char rules[32];
	const json_t *r;
	size_t i;

	how = !json_is_boolean(created) ? "-" : json_is_true(created) ? "created" : "updated";
	out_num(res, "rules", rules, sizeof(rules));
	if (dry_run)
		printf("policy %s compiles: would be %s: %zu destination%s, %s rule%s\n",
		       out_str(res, "policy"), how, ndest, ndest == 1 ? "" : "s", rules,
		       strcmp(rules, "1") ? "s" : "");
	else
		printf("applied policy %s (%s): %zu destination%s, %s rule%s\n",
		       out_str(res, "policy"), how, ndest, ndest == 1 ? "" : "s", rules,
		       strcmp(rules, "1") ? "s" : "");
	json_array_foreach(routes, i, r) {
		const char *route = json_string_value(json_object_get(r, "route"));

		printf("  route %s: %s%s", out_str(r, "dst"), prefix, out_str(r, "action"));
		if (route)
			printf(" (%s)", route);
		putchar('\n');
	}
	/* The daemon sends a diff only when asked (--diff, --dry-run). */
	if (json_is_object(json_object_get(res, "diff")))
		print_diff(json_object_get(res, "diff"));
	if (json_is_object(json_object_get(res, "confirm")))
		print_confirm(res, json_object_get(res, "confirm"));
}

int cmd_apply(const struct ctl *ctl, int argc, char **argv)
{
	struct checked_file f = { .path = argv[0] };
	json_t *args, *text, *res = NULL;
	int status;

	/* Errors name the file even when no daemon runs. */
	if (check_policy_file(&f)) {
		ctl_err("%s", f.error);
		status = CTL_EXIT_FAIL;
		goto out;
	}
	/* The parser accepted it, so it is UTF-8; this is belt and braces. */
	text = json_stringn(f.text, f.len);
	if (!text) {
		ctl_err("%s: not valid UTF-8", f.name);
		status = CTL_EXIT_FAIL;
		goto out;
	}
	args = json_pack("{s:o, s:o, s:b, s:b}", "file", out_string(f.name), "text", text,
			 "dry_run", ctl->dry_run, "diff", ctl->diff);
	/* Absent means no rollback, so an older daemon sees the plain apply. */
	if (args && ctl->confirm_s &&
	    json_object_set_new(args, "confirm", json_integer(ctl->confirm_s))) {
		json_decref(args);
		args = NULL;
	}
	if (!args) {
		ctl_err("out of memory");
		status = CTL_EXIT_FAIL;
		goto out;
	}
	status = ctl_call(ctl, "apply", args, &res);
	if (status != CTL_EXIT_OK)
		goto out;
	if (ctl->json)
		status = out_json(res);
	else
		print_apply(res);
	/* The safety net the operator asked for is missing (an older daemon, or
	 * one that could not arm it): the policy is applied for good. */
	if (ctl->confirm_s && !json_is_object(json_object_get(res, "confirm"))) {
		ctl_err("policyd did not arm the rollback: policy %s stays applied without confirmation",
			out_str(res, "policy"));
		status = CTL_EXIT_FAIL;
	}
out:
	json_decref(res);
	checked_file_release(&f);
	return status;
}

int cmd_confirm(const struct ctl *ctl, int argc, char **argv)
{
	json_t *args, *res = NULL;
	const json_t *names, *v;
	int status;
	size_t i;

	args = argc ? json_pack("{s:o}", "policy", out_string(argv[0])) : json_object();
	if (!args) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	status = ctl_call(ctl, "confirm", args, &res);
	if (status != CTL_EXIT_OK)
		return status;
	if (ctl->json) {
		status = out_json(res);
		goto out;
	}
	names = out_arr(res, "confirmed");
	json_array_foreach(names, i, v)
		printf("confirmed policy %s\n", json_is_string(v) ? json_string_value(v) : "-");
	/* The daemon says ENOENT instead; a newer one might not. */
	if (!json_array_size(names))
		printf("nothing was waiting for confirmation\n");
out:
	json_decref(res);
	return status;
}
