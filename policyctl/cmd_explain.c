// SPDX-License-Identifier: GPL-2.0-only
/*
 * 'explain ADDRESS [PROTO [DPORT]]': check the packet's description here
 * (a typo is a usage error, with the daemon's own message), have policyd
 * run its program on the packet, and print the answer as "key: value" lines.
 */
#include <stdio.h>
#include <string.h>

#include "lib/packet.h"
#include "policyctl.h"

static void print_limit(const json_t *l)
{
	char n[32];
	const char *unit = out_str(l, "unit");

	printf("limit:    %s burst %s per %s", out_str(l, "rate"),
	       out_num(l, "burst", n, sizeof(n)), out_str(l, "per"));
	if (json_is_string(json_object_get(l, "bucket")))
		printf(" (bucket %s)", out_str(l, "bucket"));
	if (out_has_u64(l, "available"))
		printf(": %s %s left", out_num(l, "available", n, sizeof(n)), unit);
	if (json_is_true(json_object_get(l, "new_bucket")))
		printf(" (no bucket yet: it starts full)");
	if (json_is_true(json_object_get(l, "table_full")))
		printf(", but the per-host table is full");
	if (json_is_true(json_object_get(l, "over")))
		printf(", over the limit");
	putchar('\n');
}

static void print_quota(const json_t *q)
{
	char used[32], bytes[32];

	printf("quota:    %s: %s of %s bytes used%s\n", out_str(q, "quota"),
	       out_num(q, "used", used, sizeof(used)), out_num(q, "bytes", bytes, sizeof(bytes)),
	       json_is_true(json_object_get(q, "over")) ? ", over the quota" : "");
}

static void print_block(const json_t *b)
{
	char n[32];

	printf("block:    %s: ", out_str(b, "block"));
	if (json_is_true(json_object_get(b, "blocked")))
		printf("blocked until %s", out_str(b, "blocked_until"));
	else
		printf("not blocked");
	printf(" (blocks so far: %s", out_num(b, "blocks", n, sizeof(n)));
	if (out_has_u64(b, "window_count"))
		printf(", %s in the current window", out_num(b, "window_count", n, sizeof(n)));
	printf(")\n");
}

static void print_verdict(const json_t *res)
{
	const char *verdict = out_str(res, "verdict");
	const char *reason = json_string_value(json_object_get(res, "reason"));

	if (json_is_true(json_object_get(res, "would_drop"))) {
		printf("verdict:  pass (monitor mode: %s (%s) when enforced)\n", verdict,
		       reason ? reason : "-");
		return;
	}
	printf("verdict:  %s", verdict);
	if (reason)
		printf(" (%s)", reason);
	else if (json_is_true(json_object_get(res, "table_full")))
		printf(" (a new host with the per-host table full: the policy's table-full verdict)");
	putchar('\n');
}

static int print_explain(const json_t *res)
{
	const json_t *rule = out_obj(res, "rule");

	printf("packet:   %s\n", out_str(out_obj(res, "packet"), "summary"));
	if (!json_is_true(json_object_get(res, "covered"))) {
		printf("%s\n", out_str(res, "message"));
		return CTL_EXIT_OK;
	}
	printf("policy:   %s (%s), destination %s\n", out_str(res, "policy"), out_str(res, "mode"),
	       out_str(res, "prefix"));
	printf("rule:     %s: %s -> %s\n", out_str(rule, "name"), out_str(rule, "match"),
	       out_str(rule, "action"));
	if (out_obj(res, "limit"))
		print_limit(out_obj(res, "limit"));
	if (out_obj(res, "quota"))
		print_quota(out_obj(res, "quota"));
	if (out_obj(res, "block"))
		print_block(out_obj(res, "block"));
	print_verdict(res);
	if (json_is_string(json_object_get(res, "note")))
		printf("note:     %s\n", out_str(res, "note"));
	return CTL_EXIT_OK;
}

int cmd_explain(const struct ctl *ctl, int argc, char **argv)
{
	struct packet_args a = {
		.address = argv[0],
		.proto = argc > 1 ? argv[1] : NULL,
		.dport = argc > 2 ? argv[2] : NULL,
		.src = ctl->src,
		.sport = ctl->sport,
		.len = ctl->len,
		.tcp_flags = ctl->tcp_flags,
		.icmp_type = ctl->icmp_type,
	};
	struct packet_spec spec;
	json_t *args, *res = NULL;
	char why[512];
	int status;

	/* The daemon checks again, with the same code: this only saves the
	 * round trip and makes a bad argument a usage error. */
	if (packet_spec_parse(&a, &spec, why, sizeof(why))) {
		ctl_err("explain: %s", why);
		return CTL_EXIT_USAGE;
	}
	args = json_pack("{s:s, s:s*, s:s*, s:s*, s:s*, s:s*, s:s*, s:s*}", "address", a.address,
			 "proto", a.proto, "dport", a.dport, "src", a.src, "sport", a.sport, "len",
			 a.len, "tcp_flags", a.tcp_flags, "icmp_type", a.icmp_type);
	if (!args) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	status = ctl_call(ctl, "explain", args, &res);
	if (status != CTL_EXIT_OK)
		return status;
	status = ctl->json ? out_json(res) : print_explain(res);
	json_decref(res);
	return status;
}
