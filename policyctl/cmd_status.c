// SPDX-License-Identifier: GPL-2.0-only
/*
 * 'status': the daemon's own view of itself, as key: value lines and a table
 * of map fill levels (a full map is the first thing to check when an apply
 * fails).
 */
#include <errno.h>
#include <stdio.h>

#include "policyctl.h"

/* "2d 3h 4m 5s", leading zero units left out. */
static const char *format_uptime(const json_t *res, char *buf, size_t size)
{
	uint64_t s = out_u64(res, "uptime");
	uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

	if (!out_has_u64(res, "uptime"))
		snprintf(buf, size, "-");
	else if (d)
		snprintf(buf, size, "%llud %lluh %llum %llus", (unsigned long long)d,
			 (unsigned long long)h, (unsigned long long)m,
			 (unsigned long long)(s % 60));
	else if (h)
		snprintf(buf, size, "%lluh %llum %llus", (unsigned long long)h,
			 (unsigned long long)m, (unsigned long long)(s % 60));
	else if (m)
		snprintf(buf, size, "%llum %llus", (unsigned long long)m,
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, size, "%llus", (unsigned long long)s);
	return buf;
}

static int print_maps(const json_t *maps)
{
	static const char *const headers[] = { "NAME", "USED", "CAPACITY", "FILL%" };
	static const enum out_align align[] = { OUT_LEFT, OUT_RIGHT, OUT_RIGHT, OUT_RIGHT };
	struct out_table *t;
	const json_t *m;
	int err = -ENOMEM;
	size_t i;

	if (!json_array_size(maps))
		return 0;
	t = out_table_of(headers, align);
	if (!t)
		return -ENOMEM;
	json_array_foreach(maps, i, m) {
		char used[32], cap[32], fill[32] = "-";

		out_num(m, "used", used, sizeof(used));
		out_num(m, "capacity", cap, sizeof(cap));
		if (out_has_u64(m, "used") && out_u64(m, "capacity"))
			snprintf(fill, sizeof(fill), "%.1f",
				 100.0 * (double)out_u64(m, "used") /
					 (double)out_u64(m, "capacity"));
		if (out_table_row(t, (const char *const[]){ out_str(m, "name"), used, cap, fill }))
			goto out;
	}
	putchar('\n');
	out_table_print(t, "");
	err = 0;
out:
	out_table_free(t);
	return err;
}

/* "IPv4 120 of 65536 (0.2%), 3 evicted": the per-host table of a family. */
static void print_host_table(const char *label, const json_t *fam)
{
	char present[32], cap[32], evicted[32];

	printf("%s %s of %s", label, out_num(fam, "present", present, sizeof(present)),
	       out_num(fam, "capacity", cap, sizeof(cap)));
	if (out_has_u64(fam, "present") && out_u64(fam, "capacity"))
		printf(" (%.1f%%)",
		       100.0 * (double)out_u64(fam, "present") / (double)out_u64(fam, "capacity"));
	printf(", %s evicted", out_num(fam, "evicted", evicted, sizeof(evicted)));
}

/* "events: 1200 received, 0 lost, 3 capped, 0 dropped for slow monitors" */
static void print_events(const json_t *ev)
{
	char received[32], lost[32], capped[32], dropped[32];

	if (!ev)
		return;
	printf("events:        %s received, %s lost, %s capped, %s dropped for slow monitors\n",
	       out_num(ev, "received", received, sizeof(received)),
	       out_num(ev, "lost", lost, sizeof(lost)),
	       out_num(ev, "capped", capped, sizeof(capped)),
	       out_num(ev, "dropped", dropped, sizeof(dropped)));
	printf("monitors:      %zu\n", json_array_size(out_arr(ev, "subscribers")));
}

static int print_monitors(const json_t *ev)
{
	static const struct out_column cols[] = {
		{ "MONITOR PID", "pid", true }, { "TARGET", "target", false },
		{ "SINCE", "since", false },	{ "SENT", "sent", true },
		{ "DROPPED", "dropped", true }, { "QUEUED", "queued", true },
	};

	return out_print_columns(out_arr(ev, "subscribers"), cols, ARRAY_SIZE(cols));
}

static int print_status(const json_t *res)
{
	const json_t *prog = out_obj(res, "program");
	char n[32], uptime[64];

	printf("version:       %s\n", out_str(res, "version"));
	printf("pid:           %s\n", out_num(res, "pid", n, sizeof(n)));
	printf("uptime:        %s\n", format_uptime(res, uptime, sizeof(uptime)));
	printf("bpffs:         %s\n", out_str(res, "bpffs"));
	printf("state dir:     %s\n", out_str(res, "state_dir"));
	printf("program:       id %s, name %s, route name %s\n", out_num(prog, "id", n, sizeof(n)),
	       out_str(prog, "name"), out_str(prog, "route_name"));
	printf("generation:    %s\n", out_num(res, "generation", n, sizeof(n)));
	printf("policies:      %s\n", out_num(res, "policies", n, sizeof(n)));
	printf("destinations:  %s\n", out_num(res, "destinations", n, sizeof(n)));
	printf("routes:        %s\n", out_num(res, "routes", n, sizeof(n)));
	if (out_obj(res, "hosts")) {
		printf("host table:    ");
		print_host_table("IPv4", out_obj(out_obj(res, "hosts"), "ipv4"));
		print_host_table("; IPv6", out_obj(out_obj(res, "hosts"), "ipv6"));
		putchar('\n');
	}
	print_events(out_obj(res, "events"));
	if (print_maps(out_arr(res, "maps")) || print_monitors(out_obj(res, "events"))) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

int cmd_status(const struct ctl *ctl, int argc, char **argv)
{
	json_t *res = NULL;
	int status;

	status = ctl_call(ctl, "status", NULL, &res);
	if (status != CTL_EXIT_OK)
		return status;
	status = ctl->json ? out_json(res) : print_status(res);
	json_decref(res);
	return status;
}
