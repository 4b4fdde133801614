// SPDX-License-Identifier: GPL-2.0-only
/*
 * The commands that start from policy files: 'validate' (offline, with the
 * daemon's compiler) and 'apply' (the same check, then the text goes to the
 * daemon; the daemon never opens paths).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	args = json_pack("{s:o, s:o, s:b}", "file", out_string(f.name), "text", text, "dry_run",
			 ctl->dry_run);
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
out:
	json_decref(res);
	checked_file_release(&f);
	return status;
}
