// SPDX-License-Identifier: GPL-2.0-only
/*
 * The commands about applied policies: 'remove', 'list' and 'show'. Each asks
 * the daemon, then prints its result as a table or, with --json, as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyctl.h"

/* Widest destination lists before "+N more": a policy may have 100k. */
#define LIST_DEST_WIDTH 48
#define SHOW_DEST_WIDTH 160

/* Ask for @command about one policy; the result is the caller's. */
static int call_for_policy(const struct ctl *ctl, const char *command, const char *policy,
			   json_t **res)
{
	json_t *args = json_pack("{s:o}", "policy", out_string(policy));

	if (!args) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	return ctl_call(ctl, command, args, res);
}

int cmd_remove(const struct ctl *ctl, int argc, char **argv)
{
	json_t *res = NULL;
	const json_t *r;
	int status;
	size_t i;

	status = call_for_policy(ctl, "remove", argv[0], &res);
	if (status != CTL_EXIT_OK)
		return status;
	if (ctl->json) {
		status = out_json(res);
		goto out;
	}
	printf("removed policy %s\n", out_str(res, "policy"));
	json_array_foreach(out_arr(res, "routes"), i, r) {
		const char *route = json_string_value(json_object_get(r, "route"));

		printf("  route %s: %s", out_str(r, "dst"), out_str(r, "action"));
		if (route)
			printf(" (%s)", route);
		putchar('\n');
	}
out:
	json_decref(res);
	return status;
}

static int print_list(const json_t *res)
{
	static const char *const headers[] = { "POLICY",       "MODE",	 "DEFAULT", "RULES",
					       "DESTINATIONS", "ROUTES", "APPLIED" };
	static const enum out_align align[] = { OUT_LEFT, OUT_LEFT,  OUT_LEFT, OUT_RIGHT,
						OUT_LEFT, OUT_RIGHT, OUT_LEFT };
	const json_t *policies = out_arr(res, "policies");
	struct out_table *t;
	const json_t *p;
	int status = CTL_EXIT_OK;
	size_t i;

	if (!json_array_size(policies)) {
		printf("no policies applied\n");
		return CTL_EXIT_OK;
	}
	t = out_table_of(headers, align);
	if (!t)
		goto nomem;
	json_array_foreach(policies, i, p) {
		char rules[32], routes[32];
		char *dests = out_join(out_arr(p, "destinations"), ",", LIST_DEST_WIDTH);
		const json_t *rt = json_object_get(p, "routes");
		const char *cells[7];
		int err;

		if (!dests)
			goto nomem;
		if (json_is_array(rt))
			snprintf(routes, sizeof(routes), "%zu", json_array_size(rt));
		else
			snprintf(routes, sizeof(routes), "-");
		cells[0] = out_str(p, "policy");
		cells[1] = out_str(p, "mode");
		cells[2] = out_str(p, "default");
		cells[3] = out_num(p, "rules", rules, sizeof(rules));
		cells[4] = dests;
		cells[5] = routes;
		cells[6] = out_str(p, "applied");
		err = out_table_row(t, cells);
		free(dests);
		if (err)
			goto nomem;
	}
	out_table_print(t, "");
out:
	out_table_free(t);
	return status;
nomem:
	ctl_err("out of memory");
	status = CTL_EXIT_FAIL;
	goto out;
}

int cmd_list(const struct ctl *ctl, int argc, char **argv)
{
	json_t *res = NULL;
	int status;

	status = ctl_call(ctl, "list", NULL, &res);
	if (status != CTL_EXIT_OK)
		return status;
	status = ctl->json ? out_json(res) : print_list(res);
	json_decref(res);
	return status;
}

/* A match condition: "any" when the rule does not test it (null), "-" when
 * the daemon said nothing. */
static const char *match_cell(const json_t *rule, const char *key)
{
	const json_t *v = json_object_get(rule, key);

	if (json_is_null(v))
		return "any";
	return out_str(rule, key);
}

/* The conditions beyond proto and dport, "key=value" joined by spaces, or
 * "-": a table column stays narrow for the common rule. */
static void other_conditions(const json_t *rule, char *buf, size_t size)
{
	static const char *const keys[] = { "sport",	 "src",	      "length",
					    "tcp_flags", "icmp_type", "limit" };
	size_t off = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && off < size; k++) {
		const json_t *v = json_object_get(rule, keys[k]);
		char *joined = NULL;
		const char *text;

		if (!v || json_is_null(v))
			continue;
		text = json_is_array(v) ? (joined = out_join(v, ",", 60)) : out_str(rule, keys[k]);
		off += snprintf(buf + off, size - off, "%s%s=%s", off ? " " : "", keys[k],
				text ? text : "-");
		free(joined);
	}
	if (json_is_true(json_object_get(rule, "log")) && off < size)
		snprintf(buf + off, size - off, "%slog", off ? " " : "");
	if (!buf[0])
		snprintf(buf, size, "-");
}

static int print_rules(const json_t *rules)
{
	static const char *const headers[] = { "#", "NAME", "ACTION", "PROTO", "DPORT", "ALSO" };
	static const enum out_align align[] = { OUT_RIGHT, OUT_LEFT, OUT_LEFT,
						OUT_LEFT,  OUT_LEFT, OUT_LEFT };
	struct out_table *t;
	const json_t *r;
	size_t i;

	t = out_table_of(headers, align);
	if (!t)
		goto nomem;
	json_array_foreach(rules, i, r) {
		char idx[32], also[512];
		const char *cells[6] = { idx,
					 out_str(r, "name"),
					 out_str(r, "action"),
					 match_cell(r, "proto"),
					 match_cell(r, "dport"),
					 also };

		snprintf(idx, sizeof(idx), "%zu", i + 1);
		other_conditions(r, also, sizeof(also));
		if (out_table_row(t, cells))
			goto nomem;
	}
	out_table_print(t, "  ");
	out_table_free(t);
	return CTL_EXIT_OK;
nomem:
	out_table_free(t);
	ctl_err("out of memory");
	return CTL_EXIT_FAIL;
}

/* The source, indented, each line as it is; a missing final newline is not
 * the reader's problem. */
static void print_source(const char *src)
{
	while (*src) {
		size_t n = strcspn(src, "\n");

		printf("    %.*s\n", (int)n, src);
		src += n;
		if (*src == '\n')
			src++;
	}
}

/* A line of show for a key the policy may leave out (null: not printed). */
static void print_if_set(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	if (s)
		printf("%s:%*s%s\n", key, (int)(13 - strlen(key)), "", s);
}

static int print_show(const json_t *res)
{
	const json_t *compiled = out_obj(res, "compiled");
	const json_t *rules = out_arr(compiled, "rules");
	const char *source = json_string_value(json_object_get(res, "source"));
	char slot[32], every[32], snaplen[32];
	const json_t *sample;
	char *dests;
	int status;

	dests = out_join(out_arr(compiled, "destinations"), ", ", SHOW_DEST_WIDTH);
	if (!dests) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	printf("policy:       %s\n", out_str(res, "policy"));
	printf("file:         %s\n", out_str(res, "file"));
	printf("applied:      %s\n", out_str(res, "applied"));
	printf("slot:         %s\n", out_num(compiled, "slot", slot, sizeof(slot)));
	printf("mode:         %s\n", out_str(compiled, "mode"));
	printf("default:      %s\n", out_str(compiled, "default"));
	print_if_set(compiled, "quota");
	print_if_set(compiled, "block");
	sample = out_obj(compiled, "sample");
	if (sample)
		printf("sample:       1 in %s, %s bytes kept\n",
		       out_num(sample, "every", every, sizeof(every)),
		       out_num(sample, "snaplen", snaplen, sizeof(snaplen)));
	printf("destinations: %s\n", dests);
	free(dests);
	printf("\nrules:\n");
	status = print_rules(rules);
	if (status != CTL_EXIT_OK)
		return status;
	printf("\nsource:\n");
	if (source)
		print_source(source);
	else
		printf("    -\n");
	return CTL_EXIT_OK;
}

int cmd_show(const struct ctl *ctl, int argc, char **argv)
{
	json_t *res = NULL;
	int status;

	status = call_for_policy(ctl, "show", argv[0], &res);
	if (status != CTL_EXIT_OK)
		return status;
	status = ctl->json ? out_json(res) : print_show(res);
	json_decref(res);
	return status;
}

/* 'routes': every route the policies own, and whether it is in place. */
int cmd_routes(const struct ctl *ctl, int argc, char **argv)
{
	static const char *const headers[] = { "POLICY", "DESTINATION", "ORIGIN", "STATE",
					       "ROUTE" };
	static const enum out_align align[] = { OUT_LEFT, OUT_LEFT, OUT_LEFT, OUT_LEFT, OUT_LEFT };
	struct out_table *t = NULL;
	json_t *res = NULL;
	const json_t *r;
	size_t i;
	int status;

	status = ctl_call(ctl, "routes", NULL, &res);
	if (status != CTL_EXIT_OK)
		return status;
	if (ctl->json) {
		status = out_json(res);
		goto out;
	}
	t = out_table_of(headers, align);
	if (!t)
		goto nomem;
	json_array_foreach(out_arr(res, "routes"), i, r) {
		bool in = json_is_true(json_object_get(r, "installed"));
		const char *cells[] = { out_str(r, "policy"), out_str(r, "dst"),
					out_str(r, "origin"), in ? "installed" : "MISSING",
					out_str(r, "route") };

		if (out_table_row(t, cells))
			goto nomem;
	}
	printf("encap: bpf out %s\n\n", out_str(res, "encap"));
	out_table_print(t, "");
	status = out_finish(CTL_EXIT_OK);
	goto out;
nomem:
	ctl_err("out of memory");
	status = CTL_EXIT_FAIL;
out:
	out_table_free(t);
	json_decref(res);
	return status;
}
