// SPDX-License-Identifier: GPL-2.0-only
/*
 * 'stats [PREFIX|ADDRESS|POLICY]' and 'reset [...]': check the target's syntax
 * here (a typo is a usage error, not a daemon round trip); stats prints the
 * daemon's counters as exact integers (operators compare them between runs),
 * reset zeroes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/prefix.h"
#include "policyctl.h"

/* Columns of '#' for the largest histogram bucket. */
#define HIST_BAR_WIDTH 40
/* Widest "(policies: ...)" before "+N more". */
#define STATS_POLICIES_WIDTH 120

static const char *const drop_reasons[] = {
	"rule", "default", "limit", "quota", "blocked", "table-full",
};

#define NREASONS (sizeof(drop_reasons) / sizeof(drop_reasons[0]))

/* Policy names as SPEC §4 allows them: [a-z0-9][a-z0-9_-]{0,31}. */
static bool is_policy_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* A prefix or address has a '.', ':' or '/'; a policy name never does. */
int ctl_check_target(const char *arg)
{
	char suggestion[PREFIX_STR_MAX];
	struct prefix p;

	if (!strpbrk(arg, ".:/")) {
		if (is_policy_name(arg))
			return CTL_EXIT_OK;
		ctl_err("invalid target '%s' (expected a prefix, an address or a policy name)",
			arg);
		return CTL_EXIT_USAGE;
	}
	if (prefix_parse(arg, false, &p) == 0)
		return CTL_EXIT_OK;
	if (prefix_parse(arg, true, &p) == 0) {
		prefix_format(&p, false, suggestion, sizeof(suggestion));
		ctl_err("invalid prefix '%s': host bits set (did you mean %s?)", arg, suggestion);
	} else {
		ctl_err("invalid prefix or address '%s'", arg);
	}
	return CTL_EXIT_USAGE;
}

static int print_header(const json_t *res)
{
	char *names = out_join(out_arr(res, "policies"), ", ", STATS_POLICIES_WIDTH);

	if (!names)
		return -ENOMEM;
	if (json_is_string(json_object_get(res, "prefix")))
		printf("prefix %s", out_str(res, "prefix"));
	else if (json_is_string(json_object_get(res, "policy")))
		printf("policy %s", out_str(res, "policy"));
	else if (json_is_true(json_object_get(res, "all")))
		printf("all policies");
	else
		printf("-");
	printf(" (policies: %s)\n", json_array_size(out_arr(res, "policies")) ? names : "none");
	free(names);
	return 0;
}

/* One totals row: packets and bytes of @obj, and the bytes with a unit. */
static int totals_row(struct out_table *t, const char *label, const json_t *obj)
{
	char packets[32], bytes[32], unit[48] = "";

	out_num(obj, "packets", packets, sizeof(packets));
	out_num(obj, "bytes", bytes, sizeof(bytes));
	if (out_has_u64(obj, "bytes") && out_u64(obj, "bytes") >= 1000) {
		unit[0] = '(';
		out_bytes_unit(out_u64(obj, "bytes"), unit + 1, sizeof(unit) - 2);
		strcat(unit, ")");
	}
	return out_table_row(t, (const char *const[]){ label, packets, bytes, unit });
}

static bool is_known_reason(const char *key)
{
	for (size_t i = 0; i < NREASONS; i++) {
		if (!strcmp(key, drop_reasons[i]))
			return true;
	}
	return false;
}

static int print_totals(const json_t *totals)
{
	static const char *const headers[] = { "TOTALS", "PACKETS", "BYTES", "" };
	static const enum out_align align[] = { OUT_LEFT, OUT_RIGHT, OUT_RIGHT, OUT_LEFT };
	const json_t *dropped = out_obj(totals, "dropped");
	const json_t *reasons = out_obj(dropped, "reasons");
	const char *key;
	struct out_table *t;
	const json_t *v;
	int err = -ENOMEM;
	size_t i;

	t = out_table_of(headers, align);
	if (!t)
		return -ENOMEM;
	if (totals_row(t, "all", totals) || totals_row(t, "passed", out_obj(totals, "passed")) ||
	    totals_row(t, "dropped", dropped))
		goto out;
	for (i = 0; i < NREASONS; i++) {
		char label[48], n[32];

		snprintf(label, sizeof(label), "  %s", drop_reasons[i]);
		if (out_table_row(t, (const char *const[]){
					     label, out_num(reasons, drop_reasons[i], n, sizeof(n)),
					     "", "" }))
			goto out;
	}
	/* Reasons a newer daemon counts: shown, not lost. */
	json_object_foreach((json_t *)reasons, key, v) {
		char label[300], n[32];

		if (is_known_reason(key))
			continue;
		snprintf(label, sizeof(label), "  %s", key);
		if (out_table_row(t, (const char *const[]){
					     label, out_num(reasons, key, n, sizeof(n)), "", "" }))
			goto out;
	}
	if (json_is_object(json_object_get(totals, "would_drop")) &&
	    totals_row(t, "would-drop", out_obj(totals, "would_drop")))
		goto out;
	out_table_print(t, "");
	err = 0;
out:
	out_table_free(t);
	return err;
}

/* "20000/s per host", "100/s, 3 left": the rate, and the level of a
 * per-rule bucket. */
static const char *limit_cell(const json_t *limit, char *buf, size_t size)
{
	char avail[32];

	if (!json_is_object(limit))
		return "-";
	if (json_is_integer(json_object_get(limit, "available")))
		snprintf(buf, size, "%s, %s %s left", out_str(limit, "rate"),
			 out_num(limit, "available", avail, sizeof(avail)), out_str(limit, "unit"));
	else
		snprintf(buf, size, "%s per %s", out_str(limit, "rate"), out_str(limit, "per"));
	return buf;
}

static int print_rules(const json_t *rules)
{
	static const char *const headers[] = { "POLICY",  "RULE",	"ACTION",
					       "PACKETS", "BYTES",	"PASSED",
					       "DROPPED", "WOULD-DROP", "LIMIT" };
	static const enum out_align align[] = { OUT_LEFT,  OUT_LEFT,  OUT_LEFT,
						OUT_RIGHT, OUT_RIGHT, OUT_RIGHT,
						OUT_RIGHT, OUT_RIGHT, OUT_LEFT };
	struct out_table *t;
	const json_t *r;
	int err = -ENOMEM;
	size_t i;

	if (!json_array_size(rules))
		return 0;
	t = out_table_of(headers, align);
	if (!t)
		return -ENOMEM;
	json_array_foreach(rules, i, r) {
		char packets[32], bytes[32], passed[32], dropped[32], would[32], limit[96];
		const char *cells[] = { out_str(r, "policy"),
					out_str(r, "rule"),
					out_str(r, "action"),
					out_num(r, "packets", packets, sizeof(packets)),
					out_num(r, "bytes", bytes, sizeof(bytes)),
					out_num(r, "passed", passed, sizeof(passed)),
					out_num(r, "dropped", dropped, sizeof(dropped)),
					out_num(r, "would_drop", would, sizeof(would)),
					limit_cell(out_obj(r, "limit"), limit, sizeof(limit)) };

		if (out_table_row(t, cells))
			goto out;
	}
	putchar('\n');
	out_table_print(t, "");
	err = 0;
out:
	out_table_free(t);
	return err;
}

/* "950", "12.3k", "4.56M": a rate with an SI suffix; "-" when not known
 * yet (the daemon has one read of the host so far). */
static const char *rate_cell(const json_t *row, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(row, key);
	static const char *const sfx[] = { "", "k", "M", "G", "T" };
	double x;
	size_t i = 0;

	if (!json_is_number(v) || json_number_value(v) < 0)
		return "-";
	x = json_number_value(v);
	while (x >= 1000 && i + 1 < ARRAY_SIZE(sfx)) {
		x /= 1000;
		i++;
	}
	if (!i)
		snprintf(buf, size, x < 100 && x != (double)(uint64_t)x ? "%.1f" : "%.0f", x);
	else
		snprintf(buf, size, x < 10 ? "%.2f%s" : x < 100 ? "%.1f%s" : "%.0f%s", x, sfx[i]);
	return buf;
}

/* "0.4s ago", "3m ago", "2h ago" from idle_seconds. */
static const char *seen_cell(const json_t *row, char *buf, size_t size)
{
	const json_t *v = json_object_get(row, "idle_seconds");
	double s;

	if (!json_is_number(v) || !json_is_string(json_object_get(row, "last_seen")))
		return "-";
	s = json_number_value(v);
	if (s < 10)
		snprintf(buf, size, "%.1fs ago", s);
	else if (s < 120)
		snprintf(buf, size, "%.0fs ago", s);
	else if (s < 7200)
		snprintf(buf, size, "%.0fm ago", s / 60);
	else
		snprintf(buf, size, "%.0fh ago", s / 3600);
	return buf;
}

/*
 * One row per host: its traffic (packets, bytes, drops, rates, last seen)
 * and its per-host state (a rate-limit bucket: rule and what is left; a
 * policy's quota use and block). Columns no row has are left out, so a
 * policy without limits, quotas or blocks shows traffic alone.
 */
enum host_col {
	HC_HOST,
	HC_POLICY,
	HC_PACKETS,
	HC_BYTES,
	HC_DROPPED,
	HC_PPS,
	HC_BITS,
	HC_SEEN,
	HC_RULE,
	HC_AVAILABLE,
	HC_QUOTA,
	HC_UNTIL,
	HC_BLOCKS,
	HC_MAX,
};

static void host_cells(const json_t *r, char (*buf)[48], const char **cells)
{
	cells[HC_HOST] = out_str(r, "address");
	cells[HC_POLICY] = out_str(r, "policy");
	cells[HC_PACKETS] = out_num(r, "packets", buf[HC_PACKETS], sizeof(buf[0]));
	cells[HC_BYTES] = out_num(r, "bytes", buf[HC_BYTES], sizeof(buf[0]));
	cells[HC_DROPPED] = out_num(r, "dropped", buf[HC_DROPPED], sizeof(buf[0]));
	cells[HC_PPS] = rate_cell(r, "pps", buf[HC_PPS], sizeof(buf[0]));
	cells[HC_BITS] = rate_cell(r, "bps", buf[HC_BITS], sizeof(buf[0]));
	cells[HC_SEEN] = seen_cell(r, buf[HC_SEEN], sizeof(buf[0]));
	cells[HC_RULE] = out_str(r, "rule");
	cells[HC_AVAILABLE] = out_num(r, "available", buf[HC_AVAILABLE], sizeof(buf[0]));
	cells[HC_QUOTA] = out_num(r, "quota_used", buf[HC_QUOTA], sizeof(buf[0]));
	cells[HC_UNTIL] = out_str(r, "blocked_until");
	cells[HC_BLOCKS] = out_num(r, "blocks", buf[HC_BLOCKS], sizeof(buf[0]));
}

static int print_hosts(const json_t *hosts)
{
	static const char *const headers[HC_MAX] = {
		"HOST",	      "POLICY",	       "PACKETS",   "BYTES", "DROPPED",
		"PPS",	      "BIT/S",	       "LAST-SEEN", "RULE",  "AVAILABLE",
		"QUOTA-USED", "BLOCKED-UNTIL", "BLOCKS",
	};
	static const bool right[HC_MAX] = {
		[HC_PACKETS] = true, [HC_BYTES] = true,	    [HC_DROPPED] = true, [HC_PPS] = true,
		[HC_BITS] = true,    [HC_AVAILABLE] = true, [HC_QUOTA] = true,	 [HC_BLOCKS] = true
	};
	const char *hdr[HC_MAX], *cells[HC_MAX], *shown[HC_MAX];
	enum out_align align[HC_MAX];
	bool used[HC_MAX] = { [HC_HOST] = true, [HC_POLICY] = true };
	char buf[HC_MAX][48];
	struct out_table *t;
	const json_t *r;
	unsigned int ncols = 0;
	int err = -ENOMEM;
	size_t i;

	if (!json_array_size(hosts))
		return 0;
	/* Traffic columns as soon as a row has traffic counters, so an idle
	 * host's "-" rates still show; state columns where a row has one. */
	json_array_foreach(hosts, i, r) {
		bool traffic = json_object_get(r, "packets") != NULL;

		host_cells(r, buf, cells);
		for (int c = HC_PACKETS; c < HC_MAX; c++)
			used[c] |= c <= HC_SEEN ? traffic : strcmp(cells[c], "-") != 0;
	}
	for (int c = 0; c < HC_MAX; c++) {
		if (!used[c])
			continue;
		hdr[ncols] = headers[c];
		align[ncols++] = right[c] ? OUT_RIGHT : OUT_LEFT;
	}
	t = out_table_new(ncols, hdr, align);
	if (!t)
		return -ENOMEM;
	json_array_foreach(hosts, i, r) {
		unsigned int n = 0;

		host_cells(r, buf, cells);
		for (int c = 0; c < HC_MAX; c++)
			if (used[c])
				shown[n++] = cells[c];
		if (out_table_row(t, shown))
			goto out;
	}
	putchar('\n');
	out_table_print(t, "");
	err = 0;
out:
	out_table_free(t);
	return err;
}

/* Route realms (stats --realms): 64-bit counters per realm. */
static int print_realms(const json_t *realms)
{
	static const struct out_column cols[] = {
		{ "REALM", "realm", true },
		{ "PACKETS", "packets", true },
		{ "BYTES", "bytes", true },
		{ "DROPPED", "dropped_packets", true },
		{ "DROPPED-BYTES", "dropped_bytes", true },
	};

	return out_print_columns(realms, cols, ARRAY_SIZE(cols));
}

/* Quotas of the selected policies: the budget, and its use when it is one
 * for the policy (a per-host quota's use is in the hosts table). */
static int print_quotas(const json_t *quotas)
{
	static const struct out_column cols[] = {
		{ "POLICY", "policy", false },
		{ "QUOTA", "quota", false },
		{ "USED", "used", true },
		{ "PERIOD-ENDS", "period_ends", false },
	};

	return out_print_columns(quotas, cols, ARRAY_SIZE(cols));
}

static int print_histogram(const json_t *hist)
{
	static const char *const headers[] = { "LE", "PACKETS", "" };
	static const enum out_align align[] = { OUT_RIGHT, OUT_RIGHT, OUT_LEFT };
	char bar[HIST_BAR_WIDTH + 1];
	uint64_t max = 0;
	struct out_table *t;
	const json_t *b;
	int err = -ENOMEM;
	size_t i;

	if (!json_array_size(hist))
		return 0;
	json_array_foreach(hist, i, b) {
		if (out_u64(b, "packets") > max)
			max = out_u64(b, "packets");
	}
	t = out_table_of(headers, align);
	if (!t)
		return -ENOMEM;
	json_array_foreach(hist, i, b) {
		const json_t *le = json_object_get(b, "le");
		uint64_t n = out_u64(b, "packets");
		char le_buf[32], packets[32];
		size_t w = 0;

		if (json_is_string(le))
			snprintf(le_buf, sizeof(le_buf), "%s", json_string_value(le));
		else
			out_num(b, "le", le_buf, sizeof(le_buf));
		/* Any packet at all shows at least one '#'. */
		if (n && max)
			w = (size_t)((double)n * HIST_BAR_WIDTH / (double)max);
		if (n && !w)
			w = 1;
		memset(bar, '#', w);
		bar[w] = '\0';
		if (out_table_row(
			    t,
			    (const char *const[]){
				    le_buf, out_num(b, "packets", packets, sizeof(packets)), bar }))
			goto out;
	}
	putchar('\n');
	out_table_print(t, "");
	err = 0;
out:
	out_table_free(t);
	return err;
}

static int print_stats(const json_t *res)
{
	if (print_header(res))
		goto nomem;
	putchar('\n');
	if (print_totals(out_obj(res, "totals")) || print_rules(out_arr(res, "rules")) ||
	    print_hosts(out_arr(res, "hosts")) || print_quotas(out_arr(res, "quotas")) ||
	    print_realms(out_arr(res, "realms")) || print_histogram(out_arr(res, "histogram")))
		goto nomem;
	return CTL_EXIT_OK;
nomem:
	ctl_err("out of memory");
	return CTL_EXIT_FAIL;
}

/* Send @command with the optional target @argv[0]; the result is the
 * caller's. */
static int call_for_target(const struct ctl *ctl, const char *command, int argc, char **argv,
			   json_t **res)
{
	json_t *args;
	int status;

	if (argc) {
		status = ctl_check_target(argv[0]);
		if (status != CTL_EXIT_OK)
			return status;
		args = json_pack("{s:s}", "target", argv[0]);
	} else {
		args = json_object();
	}
	if (args && ctl->realms)
		json_object_set_new(args, "realms", json_true());
	if (args && ctl->top)
		json_object_set_new(args, "top", json_integer(ctl->top));
	if (!args) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	return ctl_call(ctl, command, args, res);
}

int cmd_stats(const struct ctl *ctl, int argc, char **argv)
{
	json_t *res = NULL;
	int status;

	status = call_for_target(ctl, "stats", argc, argv, &res);
	if (status != CTL_EXIT_OK)
		return status;
	status = ctl->json ? out_json(res) : print_stats(res);
	json_decref(res);
	return status;
}

/* "counters reset: policies web, dns (12 rules, 40 hosts)" */
static int print_reset(const json_t *res)
{
	const json_t *policies = out_arr(res, "policies");
	char rules[32], hosts[32];
	char *names;

	out_num(res, "rules", rules, sizeof(rules));
	out_num(res, "hosts", hosts, sizeof(hosts));
	if (!json_array_size(policies)) {
		printf("counters reset: no policies (%s rules)\n", rules);
		return CTL_EXIT_OK;
	}
	names = out_join(policies, ", ", STATS_POLICIES_WIDTH);
	if (!names) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	printf("counters reset: %s %s (%s rule%s, %s host%s)\n",
	       json_array_size(policies) == 1 ? "policy" : "policies", names, rules,
	       strcmp(rules, "1") ? "s" : "", hosts, strcmp(hosts, "1") ? "s" : "");
	free(names);
	return CTL_EXIT_OK;
}

int cmd_reset(const struct ctl *ctl, int argc, char **argv)
{
	json_t *res = NULL;
	int status;

	status = call_for_target(ctl, "reset", argc, argv, &res);
	if (status != CTL_EXIT_OK)
		return status;
	status = ctl->json ? out_json(res) : print_reset(res);
	json_decref(res);
	return status;
}

int cmd_unblock(const struct ctl *ctl, int argc, char **argv)
{
	struct prefix addr;
	json_t *res = NULL;
	char *joined;
	int status;

	if (prefix_parse(argv[0], false, &addr) || addr.len != prefix_max_len(addr.family)) {
		ctl_err("invalid address '%s' (expected an IPv4 or IPv6 address)", argv[0]);
		return CTL_EXIT_USAGE;
	}
	status = ctl_call(ctl, "unblock", json_pack("{s:s}", "address", argv[0]), &res);
	if (status != CTL_EXIT_OK)
		return status;
	if (ctl->json) {
		status = out_json(res);
	} else {
		joined = out_join(out_arr(res, "policies"), ", ", 200);
		printf("unblocked %s (policies: %s)\n", argv[0], joined ? joined : "-");
		free(joined);
		status = out_finish(CTL_EXIT_OK);
	}
	json_decref(res);
	return status;
}
