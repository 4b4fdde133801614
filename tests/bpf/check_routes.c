// SPDX-License-Identifier: GPL-2.0-only
/*
 * Root tests for the rtnetlink route module (policyd/routes.c): lookup, BPF
 * encap install/replace, restore, delete, listing, events, JSON and text. Each
 * test unshares a fresh network namespace (Check forks every test), so the
 * host's routes are never touched and everything vanishes with the process.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <check.h>
#include <linux/lwtunnel.h>
#include <linux/rtnetlink.h>

#include "lib/log.h"
#include "policyd/routes.h"

/* The namespace's interfaces: v0 carries 198.18.0.1/24 and 2001:db8::1/64. */
#define DEV "v0"

static void __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "'%s' failed (%d)", cmd, rc);
}

/* The output of @cmd, trailing whitespace of each line removed. */
static char *sh_out(const char *cmd)
{
	static char out[8192];
	size_t n = 0;
	FILE *f;
	char line[1024];

	out[0] = '\0';
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);

		while (l && (line[l - 1] == '\n' || line[l - 1] == ' '))
			line[--l] = '\0';
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s\n", line);
		ck_assert_uint_lt(n, sizeof(out));
	}
	ck_assert_int_eq(pclose(f), 0);
	return out;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void netns_setup(void)
{
	log_init("check_routes", LOG_LEVEL_DEBUG);
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	sh("ip link set lo up");
	sh("ip link add " DEV " type veth peer name v1");
	sh("ip link set " DEV " up && ip link set v1 up");
	sh("ip addr add 198.18.0.1/24 dev " DEV);
	sh("ip -6 addr add 2001:db8::1/64 dev " DEV " nodad");
}

static struct prefix pfx(const char *s)
{
	struct prefix p;

	ck_assert_msg(prefix_parse(s, false, &p) == 0, "bad prefix %s", s);
	return p;
}

static void assert_prefix(const struct prefix *p, const char *want)
{
	char buf[PREFIX_STR_MAX];

	ck_assert_str_eq(prefix_format(p, false, buf, sizeof(buf)), want);
}

/* r0 = 0 (BPF_OK); exit */
static int load_lwt_prog(const char *name)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_LWT_OUT, name, "GPL", insns, 2, NULL);
	ck_assert_msg(fd >= 0, "bpf_prog_load(LWT_OUT): %s", strerror(-fd));
	return fd;
}

static struct route_ctx *ctx_new(void)
{
	struct route_ctx *ctx = NULL;

	ck_assert_int_eq(route_ctx_new(&ctx), 0);
	ck_assert_ptr_nonnull(ctx);
	return ctx;
}

static void lookup(struct route_ctx *ctx, const char *dst, struct route_info *exact, bool *found,
		   struct route_info *cover, bool *cover_found)
{
	struct prefix p = pfx(dst);

	ck_assert_int_eq(route_lookup(ctx, &p, exact, found, cover, cover_found), 0);
}

static void assert_same_route(const struct route_info *a, const struct route_info *b)
{
	ck_assert(prefix_equal(&a->dst, &b->dst));
	ck_assert_uint_eq(a->table, b->table);
	ck_assert_uint_eq(a->protocol, b->protocol);
	ck_assert_uint_eq(a->scope, b->scope);
	ck_assert_uint_eq(a->type, b->type);
	ck_assert_uint_eq(a->tos, b->tos);
	ck_assert_int_eq(a->has_priority, b->has_priority);
	ck_assert_uint_eq(a->priority, b->priority);
	ck_assert_int_eq(a->has_realm, b->has_realm);
	ck_assert_uint_eq(a->realm, b->realm);
	ck_assert_int_eq(a->ifindex, b->ifindex);
	ck_assert_int_eq(a->has_gw, b->has_gw);
	if (a->has_gw)
		ck_assert(a->gw.family == b->gw.family && prefix_equal(&a->gw, &b->gw));
	ck_assert_int_eq(a->onlink, b->onlink);
	ck_assert_int_eq(a->has_prefsrc, b->has_prefsrc);
	if (a->has_prefsrc)
		ck_assert(prefix_equal(&a->prefsrc, &b->prefsrc));
	ck_assert_uint_eq(a->metrics_set, b->metrics_set);
	for (int i = 0; i <= ROUTE_METRICS_MAX; i++)
		if (a->metrics_set & (1u << i))
			ck_assert_uint_eq(a->metrics[i], b->metrics[i]);
	ck_assert_int_eq(a->multipath, b->multipath);
	ck_assert_int_eq(a->has_encap, b->has_encap);
	ck_assert_uint_eq(a->encap_type, b->encap_type);
	ck_assert_str_eq(a->encap_name, b->encap_name);
}

/* The owned routes, exactly @n of them. */
static struct route_info *list_owned(struct route_ctx *ctx, size_t n)
{
	struct route_info *v = NULL;
	size_t got = 99;

	ck_assert_int_eq(route_list_owned(ctx, &v, &got), 0);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(got, n);
	return v;
}

static bool has_proto_policyd(const char *s)
{
	return strstr(s, "proto 241") || strstr(s, "proto policyd");
}

START_TEST(test_lookup)
{
	struct route_ctx *ctx;
	struct route_info exact, cover;
	bool found, cover_found;

	netns_setup();
	ctx = ctx_new();

	/* Nothing covers 198.19.0.0/24 yet. */
	lookup(ctx, "198.19.0.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(!found && !cover_found);

	sh("ip route add default via 198.18.0.254");
	sh("ip route add 198.18.16.0/20 via 198.18.0.2 metric 10");
	sh("ip route add 198.18.20.0/24 via 198.18.0.3 metric 100");
	sh("ip route add 198.18.20.0/24 via 198.18.0.2 proto static metric 50 realm 10");
	sh("ip route add 198.18.20.0/25 via 198.18.0.4 table 100");
	sh("ip route add blackhole 198.18.20.0/26");

	/* Exact: the lowest metric of two; cover: the /20, not the default. */
	lookup(ctx, "198.18.20.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(found && cover_found);
	assert_prefix(&exact.dst, "198.18.20.0/24");
	ck_assert_uint_eq(exact.table, RT_TABLE_MAIN);
	ck_assert_uint_eq(exact.protocol, RTPROT_STATIC);
	ck_assert_uint_eq(exact.type, RTN_UNICAST);
	ck_assert_uint_eq(exact.scope, RT_SCOPE_UNIVERSE);
	ck_assert(exact.has_priority && exact.priority == 50);
	ck_assert(exact.has_realm && exact.realm == 10);
	ck_assert_int_eq(exact.ifindex, (int)if_nametoindex(DEV));
	ck_assert(exact.has_gw);
	assert_prefix(&exact.gw, "198.18.0.2/32");
	ck_assert(!exact.multipath && !exact.has_encap && !exact.has_prefsrc);
	assert_prefix(&cover.dst, "198.18.16.0/20");
	ck_assert(cover.has_priority && cover.priority == 10);

	/* Table 100 and the blackhole do not count. */
	lookup(ctx, "198.18.20.0/27", &exact, &found, &cover, &cover_found);
	ck_assert(!found && cover_found);
	assert_prefix(&cover.dst, "198.18.20.0/24");
	ck_assert_uint_eq(cover.priority, 50);

	/* The default route covers the rest. */
	lookup(ctx, "198.18.99.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(!found && cover_found);
	ck_assert_uint_eq(cover.dst.len, 0);
	assert_prefix(&cover.gw, "198.18.0.254/32");

	/* A connected route: scope link, a source address, no gateway. */
	lookup(ctx, "198.18.0.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(found);
	ck_assert_uint_eq(exact.protocol, RTPROT_KERNEL);
	ck_assert_uint_eq(exact.scope, RT_SCOPE_LINK);
	ck_assert(!exact.has_gw && exact.has_prefsrc);
	assert_prefix(&exact.prefsrc, "198.18.0.1/32");

	/* IPv6: exact, cover, none. */
	lookup(ctx, "2001:db8:5::/64", &exact, &found, &cover, &cover_found);
	ck_assert(!found && !cover_found);
	sh("ip -6 route add 2001:db8:5::/48 via 2001:db8::2 metric 300");
	sh("ip -6 route add 2001:db8:5::/64 via 2001:db8::3 metric 200 proto static");
	lookup(ctx, "2001:db8:5::/64", &exact, &found, &cover, &cover_found);
	ck_assert(found && cover_found);
	assert_prefix(&exact.gw, "2001:db8::3/128");
	ck_assert_uint_eq(exact.priority, 200);
	assert_prefix(&cover.dst, "2001:db8:5::/48");
	lookup(ctx, "2001:db8:5:1::/64", &exact, &found, &cover, &cover_found);
	ck_assert(!found && cover_found);
	assert_prefix(&cover.dst, "2001:db8:5::/48");

	/* A snapshot answers as route_lookup() does, both families at once. */
	{
		static const char *const dsts[] = {
			"198.18.20.0/24",  "198.18.20.0/27",	"198.18.99.0/24", "198.18.0.0/24",
			"198.18.0.77",	   "198.19.0.0/16",	"0.0.0.0/0",	  "2001:db8:5::/64",
			"2001:db8:5::/48", "2001:db8:5:1::/64", "2001:db8::9",	  "2001:db9::/32",
		};
		struct route_info e2, c2;
		struct route_table *t = NULL;
		struct prefix p;
		bool f2, cf2;

		ck_assert_int_eq(route_table_load(ctx, &t), 0);
		for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
			p = pfx(dsts[i]);
			lookup(ctx, dsts[i], &exact, &found, &cover, &cover_found);
			ck_assert_int_eq(route_table_lookup(t, &p, &e2, &f2, &c2, &cf2), 0);
			ck_assert_msg(found == f2 && cover_found == cf2, "%s", dsts[i]);
			if (found)
				assert_same_route(&exact, &e2);
			if (cover_found)
				assert_same_route(&cover, &c2);
		}
		p = pfx("198.18.0.77");
		ck_assert_int_eq(route_table_lookup(t, &p, &e2, &f2, &c2, &cf2), 0);
		ck_assert(!f2 && cf2);
		assert_prefix(&c2.dst, "198.18.0.0/24");
		p = pfx("2001:db8::9");
		ck_assert_int_eq(route_table_lookup(t, &p, &e2, &f2, &c2, &cf2), 0);
		ck_assert(!f2 && cf2);
		assert_prefix(&c2.dst, "2001:db8::/64");
		route_table_free(t);
	}

	route_ctx_free(ctx);
}
END_TEST

START_TEST(test_install_restore_v4)
{
	const char *orig = "198.18.1.0/24 via 198.18.0.2 dev " DEV
			   " proto static metric 100 realm 10 mtu lock 1400 advmss 1300\n";
	struct route_info exact, cover, again, *owned;
	struct route_ctx *ctx;
	bool found, cover_found;
	const char *out;
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	sh("ip route add 198.18.1.0/24 via 198.18.0.2 dev " DEV
	   " proto static metric 100 realm 10 mtu lock 1400 advmss 1300");
	ck_assert_str_eq(sh_out("ip route show 198.18.1.0/24"), orig);

	lookup(ctx, "198.18.1.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(found);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-test-1"), 0);

	out = sh_out("ip route show 198.18.1.0/24");
	ck_assert_int_eq(count_lines(out), 1);
	ck_assert_msg(strstr(out, "encap bpf out policyd-test-1 "), "%s", out);
	ck_assert_msg(strstr(out, "via 198.18.0.2 dev " DEV), "%s", out);
	ck_assert_msg(has_proto_policyd(out), "%s", out);
	ck_assert_msg(strstr(out, "metric 100") && strstr(out, "realm 10"), "%s", out);
	ck_assert_msg(strstr(out, "mtu lock 1400 advmss 1300"), "%s", out);

	owned = list_owned(ctx, 1);
	assert_prefix(&owned[0].dst, "198.18.1.0/24");
	ck_assert_uint_eq(owned[0].protocol, RTPROT_POLICYD);
	ck_assert(owned[0].has_encap && owned[0].encap_type == LWTUNNEL_ENCAP_BPF);
	ck_assert_str_eq(owned[0].encap_name, "policyd-test-1");
	assert_prefix(&owned[0].gw, "198.18.0.2/32");
	ck_assert(owned[0].priority == 100 && owned[0].realm == 10);
	free(owned);

	/* The lookup now sees ours; the restore brings back the original. */
	lookup(ctx, "198.18.1.0/24", &again, &found, &cover, &cover_found);
	ck_assert(found && again.protocol == RTPROT_POLICYD && again.has_encap);

	ck_assert_int_eq(route_restore(ctx, &exact), 0);
	ck_assert_str_eq(sh_out("ip route show 198.18.1.0/24"), orig);
	lookup(ctx, "198.18.1.0/24", &again, &found, &cover, &cover_found);
	ck_assert(found);
	assert_same_route(&again, &exact);
	free(list_owned(ctx, 0));

	/* A route with an encap cannot be restored: it would lose it. */
	again.has_encap = true;
	again.encap_type = LWTUNNEL_ENCAP_MPLS;
	ck_assert_int_eq(route_restore(ctx, &again), -EOPNOTSUPP);
	ck_assert_int_eq(route_install_bpf(ctx, &again, fd, "policyd-test-1"), -EOPNOTSUPP);

	close(fd);
	route_ctx_free(ctx);
}
END_TEST

/* A connected route keeps its scope and source address through the cycle;
 * IPv6's too. */
START_TEST(test_install_restore_connected)
{
	struct route_info exact, cover;
	struct route_ctx *ctx;
	bool found, cover_found;
	const char *orig, *out;
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	orig = strdup(sh_out("ip route show 198.18.0.0/24"));
	ck_assert_str_eq(orig,
			 "198.18.0.0/24 dev " DEV " proto kernel scope link src 198.18.0.1\n");

	lookup(ctx, "198.18.0.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(found);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-test-1"), 0);
	out = sh_out("ip route show 198.18.0.0/24");
	ck_assert_int_eq(count_lines(out), 1);
	ck_assert_msg(strstr(out, "scope link src 198.18.0.1") && strstr(out, "encap bpf"), "%s",
		      out);
	ck_assert_int_eq(route_restore(ctx, &exact), 0);
	ck_assert_str_eq(sh_out("ip route show 198.18.0.0/24"), orig);
	free((void *)orig);

	orig = strdup(sh_out("ip -6 route show 2001:db8::/64"));
	ck_assert_str_eq(orig, "2001:db8::/64 dev " DEV " proto kernel metric 256 pref medium\n");
	lookup(ctx, "2001:db8::/64", &exact, &found, &cover, &cover_found);
	ck_assert(found);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-test-1"), 0);
	out = sh_out("ip -6 route show 2001:db8::/64");
	ck_assert_msg(count_lines(out) == 1 && strstr(out, "encap bpf"), "%s", out);
	ck_assert_int_eq(route_restore(ctx, &exact), 0);
	ck_assert_str_eq(sh_out("ip -6 route show 2001:db8::/64"), orig);
	free((void *)orig);

	close(fd);
	route_ctx_free(ctx);
}
END_TEST

START_TEST(test_install_added_delete_v4)
{
	struct route_info exact, cover, r;
	struct route_ctx *ctx;
	bool found, cover_found;
	const char *out;
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	sh("ip route add 198.18.32.0/20 via 198.18.0.2 metric 7");

	lookup(ctx, "198.18.33.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(!found && cover_found);
	r = cover;
	r.dst = pfx("198.18.33.0/24");
	ck_assert_int_eq(route_install_bpf(ctx, &r, fd, "policyd-test-1"), 0);

	out = sh_out("ip route show 198.18.33.0/24");
	ck_assert_int_eq(count_lines(out), 1);
	ck_assert_msg(strstr(out, "encap bpf out policyd-test-1 via 198.18.0.2 dev " DEV), "%s",
		      out);
	ck_assert_msg(has_proto_policyd(out) && strstr(out, "metric 7"), "%s", out);
	ck_assert_str_eq(sh_out("ip route show 198.18.32.0/20"),
			 "198.18.32.0/20 via 198.18.0.2 dev " DEV " metric 7\n");

	/* Deleting a route that is not ours (or no longer there) is a no-op. */
	ck_assert_int_eq(route_delete_owned(ctx, &cover), 0);
	ck_assert_int_eq(count_lines(sh_out("ip route show 198.18.32.0/20")), 1);

	ck_assert_int_eq(route_delete_owned(ctx, &r), 0);
	ck_assert_str_eq(sh_out("ip route show 198.18.33.0/24"), "");
	ck_assert_int_eq(count_lines(sh_out("ip route show 198.18.32.0/20")), 1);
	ck_assert_int_eq(route_delete_owned(ctx, &r), 0);

	close(fd);
	route_ctx_free(ctx);
}
END_TEST

START_TEST(test_install_restore_v6)
{
	const char *orig = "2001:db8:1::/64 via 2001:db8::2 dev " DEV
			   " proto static metric 100 mtu 1300 hoplimit 10 pref medium\n";
	struct route_info exact, cover, r, *owned;
	struct route_ctx *ctx;
	bool found, cover_found;
	const char *out;
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	sh("ip -6 route add 2001:db8:1::/64 via 2001:db8::2 dev " DEV
	   " proto static metric 100 mtu 1300 hoplimit 10");
	ck_assert_str_eq(sh_out("ip -6 route show 2001:db8:1::/64"), orig);

	lookup(ctx, "2001:db8:1::/64", &exact, &found, &cover, &cover_found);
	ck_assert(found);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-test-1"), 0);
	/* NLM_F_REPLACE on IPv6 replaces the route of the same metric: one left. */
	out = sh_out("ip -6 route show 2001:db8:1::/64");
	ck_assert_msg(count_lines(out) == 1, "%s", out);
	ck_assert_msg(strstr(out, "encap bpf out policyd-test-1 via 2001:db8::2 dev " DEV), "%s",
		      out);
	ck_assert_msg(has_proto_policyd(out) && strstr(out, "metric 100 mtu 1300 hoplimit 10"),
		      "%s", out);

	/* Installing again (ours now) still leaves one route. */
	owned = list_owned(ctx, 1);
	ck_assert_int_eq(route_install_bpf(ctx, &owned[0], fd, "policyd-test-1"), 0);
	ck_assert_int_eq(count_lines(sh_out("ip -6 route show 2001:db8:1::/64")), 1);
	free(owned);

	ck_assert_int_eq(route_restore(ctx, &exact), 0);
	ck_assert_str_eq(sh_out("ip -6 route show 2001:db8:1::/64"), orig);
	free(list_owned(ctx, 0));

	/* Added under a covering route, then deleted. */
	sh("ip -6 route add 2001:db8:2::/48 via 2001:db8::2 dev " DEV " metric 200");
	lookup(ctx, "2001:db8:2:5::/64", &exact, &found, &cover, &cover_found);
	ck_assert(!found && cover_found);
	r = cover;
	r.dst = pfx("2001:db8:2:5::/64");
	ck_assert_int_eq(route_install_bpf(ctx, &r, fd, "policyd-test-1"), 0);
	out = sh_out("ip -6 route show 2001:db8:2:5::/64");
	ck_assert_msg(count_lines(out) == 1 && strstr(out, "encap bpf") &&
			      strstr(out, "metric 200"),
		      "%s", out);
	ck_assert_int_eq(route_delete_owned(ctx, &r), 0);
	ck_assert_str_eq(sh_out("ip -6 route show 2001:db8:2:5::/64"), "");
	ck_assert_int_eq(count_lines(sh_out("ip -6 route show 2001:db8:2::/48")), 1);
	ck_assert_int_eq(route_delete_owned(ctx, &r), 0);

	close(fd);
	route_ctx_free(ctx);
}
END_TEST

/* An IPv4 route through an IPv6 gateway (RTA_VIA) survives the cycle. */
START_TEST(test_install_restore_via_inet6)
{
	const char *orig = "198.18.5.0/24 via inet6 2001:db8::2 dev " DEV " proto static\n";
	struct route_info exact, cover;
	struct route_ctx *ctx;
	bool found, cover_found;
	const char *out;
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	sh("ip route add 198.18.5.0/24 via inet6 2001:db8::2 dev " DEV " proto static");
	ck_assert_str_eq(sh_out("ip route show 198.18.5.0/24"), orig);
	lookup(ctx, "198.18.5.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(found && exact.has_gw && exact.gw.family == AF_INET6);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-test-1"), 0);
	out = sh_out("ip route show 198.18.5.0/24");
	ck_assert_msg(count_lines(out) == 1 && strstr(out, "via inet6 2001:db8::2") &&
			      strstr(out, "encap bpf"),
		      "%s", out);
	ck_assert_int_eq(route_restore(ctx, &exact), 0);
	ck_assert_str_eq(sh_out("ip route show 198.18.5.0/24"), orig);
	close(fd);
	route_ctx_free(ctx);
}
END_TEST

/* The kernel compares BPF encaps by name: a new name must swap the program. */
static void replace_program(const char *dst)
{
	struct route_info exact, cover, *owned;
	struct route_ctx *ctx;
	bool found, cover_found;
	int fd_a, fd_b;

	ctx = ctx_new();
	fd_a = load_lwt_prog("pd_test_a");
	fd_b = load_lwt_prog("pd_test_b");
	lookup(ctx, dst, &exact, &found, &cover, &cover_found);
	ck_assert(found);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd_a, "policyd-a"), 0);
	owned = list_owned(ctx, 1);
	ck_assert_str_eq(owned[0].encap_name, "policyd-a");
	ck_assert_int_eq(route_install_bpf(ctx, &owned[0], fd_b, "policyd-b"), 0);
	free(owned);
	owned = list_owned(ctx, 1);
	ck_assert_str_eq(owned[0].encap_name, "policyd-b");
	free(owned);
	/* The original's fields still went in with the new program. */
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd_a, "policyd-c"), 0);
	owned = list_owned(ctx, 1);
	ck_assert_str_eq(owned[0].encap_name, "policyd-c");
	assert_prefix(&owned[0].dst, dst);
	ck_assert_uint_eq(owned[0].priority, exact.priority);
	ck_assert_int_eq(route_delete_owned(ctx, &owned[0]), 0);
	free(owned);
	free(list_owned(ctx, 0));
	close(fd_a);
	close(fd_b);
	route_ctx_free(ctx);
}

START_TEST(test_replace_program)
{
	netns_setup();
	sh("ip route add 198.18.1.0/24 via 198.18.0.2 metric 100");
	sh("ip -6 route add 2001:db8:1::/64 via 2001:db8::2 metric 100");
	replace_program("198.18.1.0/24");
	replace_program("2001:db8:1::/64");
}
END_TEST

START_TEST(test_list_owned_tables)
{
	struct route_info r = { 0 }, *owned;
	struct route_ctx *ctx;
	bool seen4 = false, seen6 = false;
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	r.dst = pfx("198.18.40.0/24");
	r.table = 100;
	r.type = RTN_UNICAST;
	r.scope = RT_SCOPE_UNIVERSE;
	r.has_gw = true;
	r.gw = pfx("198.18.0.2");
	ck_assert_int_eq(route_install_bpf(ctx, &r, fd, "policyd-t"), 0);
	r.dst = pfx("2001:db8:40::/64");
	r.table = RT_TABLE_MAIN;
	r.gw = pfx("2001:db8::2");
	r.ifindex = (int)if_nametoindex(DEV);
	ck_assert_int_eq(route_install_bpf(ctx, &r, fd, "policyd-t"), 0);
	sh("ip route add 198.18.41.0/24 via 198.18.0.2 table 100");

	owned = list_owned(ctx, 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_str_eq(owned[i].encap_name, "policyd-t");
		if (owned[i].dst.family == AF_INET) {
			seen4 = true;
			ck_assert_uint_eq(owned[i].table, 100);
		} else {
			seen6 = true;
			ck_assert_uint_eq(owned[i].table, RT_TABLE_MAIN);
		}
	}
	ck_assert(seen4 && seen6);
	free(owned);

	/* Bad input and kernel refusals come back as -errno. */
	r.ifindex = 9999;
	ck_assert_int_eq(route_install_bpf(ctx, &r, fd, "policyd-t"), -ENODEV);
	ck_assert_int_eq(route_install_bpf(ctx, &r, fd, ""), -EINVAL);
	ck_assert_int_eq(
		route_install_bpf(
			ctx, &r, fd,
			"0123456789012345678901234567890123456789012345678901234567890123"),
		-EINVAL);
	r.ifindex = 0;
	r.dst = pfx("198.18.42.0/24");
	r.gw = pfx("198.19.9.9");
	ck_assert_int_eq(route_install_bpf(ctx, &r, fd, "policyd-t"), -ENETUNREACH);
	/* The socket still works after an error. */
	free(list_owned(ctx, 2));

	close(fd);
	route_ctx_free(ctx);
}
END_TEST

START_TEST(test_multipath)
{
	struct route_info exact, cover;
	struct route_ctx *ctx;
	bool found, cover_found;
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	sh("ip route add 198.18.6.0/24 nexthop via 198.18.0.2 dev " DEV
	   " nexthop via 198.18.0.3 dev " DEV);
	lookup(ctx, "198.18.6.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(found && exact.multipath);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-test-1"), -EOPNOTSUPP);
	ck_assert_int_eq(route_restore(ctx, &exact), -EOPNOTSUPP);
	lookup(ctx, "198.18.6.128/25", &exact, &found, &cover, &cover_found);
	ck_assert(!found && cover_found && cover.multipath);
	sh("ip -6 route add 2001:db8:6::/64 nexthop via 2001:db8::2 dev " DEV
	   " nexthop via 2001:db8::3 dev " DEV);
	lookup(ctx, "2001:db8:6::/64", &exact, &found, &cover, &cover_found);
	ck_assert(found && exact.multipath);
	close(fd);
	route_ctx_free(ctx);
}
END_TEST

static void json_round_trip(const struct route_info *r)
{
	struct route_info back;
	json_t *j;
	char *text;

	j = route_info_to_json(r);
	ck_assert_ptr_nonnull(j);
	/* Through text, as the state file goes. */
	text = json_dumps(j, 0);
	json_decref(j);
	ck_assert_ptr_nonnull(text);
	j = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(j);
	memset(&back, 0x5a, sizeof(back));
	ck_assert_msg(route_info_from_json(j, &back) == 0, "%s", text);
	assert_same_route(&back, r);
	json_decref(j);
	free(text);
}

/* JSON written with single quotes for double quotes. */
static json_t *json_squoted(const char *s)
{
	char text[512];
	json_t *j;

	ck_assert_uint_lt(strlen(s), sizeof(text));
	for (size_t i = 0; i <= strlen(s); i++)
		text[i] = s[i] == '\'' ? '"' : s[i];
	j = json_loads(text, 0, NULL);
	ck_assert_msg(j, "test input %s is not JSON", text);
	return j;
}

START_TEST(test_json)
{
	/* Single quotes stand for double quotes. Each case is malformed in one
	 * way only: the objects with "B" prepended are otherwise valid. */
#define B "'dst': '198.18.1.0/24', 'table': 254, 'protocol': 4, 'scope': 0, 'type': 1"
	static const char *const bad[] = {
		"[]",
		"{}",
		"{'dst': 5, 'table': 254, 'protocol': 4, 'scope': 0, 'type': 1}",
		"{'dst': '198.18.1.1/24', 'table': 254, 'protocol': 4, 'scope': 0, 'type': 1}",
		"{'dst': 'nonsense', 'table': 254, 'protocol': 4, 'scope': 0, 'type': 1}",
		"{'dst': '198.18.1.0/24', 'protocol': 4, 'scope': 0, 'type': 1}",
		"{'dst': '198.18.1.0/24', 'table': 'main', 'protocol': 4, 'scope': 0, 'type': 1}",
		"{'dst': '198.18.1.0/24', 'table': -1, 'protocol': 4, 'scope': 0, 'type': 1}",
		"{'dst': '198.18.1.0/24', 'table': 4294967296, 'protocol': 4, 'scope': 0, 'type': 1}",
		"{'dst': '198.18.1.0/24', 'table': 0, 'protocol': 4, 'scope': 0, 'type': 1}",
		"{'dst': '198.18.1.0/24', 'table': 254, 'protocol': 256, 'scope': 0, 'type': 1}",
		"{'dst': '198.18.1.0/24', 'table': 254, 'protocol': 4, 'scope': 0, 'type': 99}",
		"{" B ", 'priority': 1.5}",
		"{" B ", 'ifindex': -3}",
		"{" B ", 'gateway': 'x'}",
		"{" B ", 'gateway': '198.18.0.0/24'}",
		"{" B ", 'prefsrc': '2001:db8::1'}",
		"{" B ", 'onlink': 'yes'}",
		"{" B ", 'encap_name': 'x'}",
		"{" B ", 'encap_type': 6, 'encap_name': "
		"'0123456789012345678901234567890123456789012345678901234567890123'}",
		"{" B ", 'encap_type': 70000}",
		"{" B ", 'dev': 3}",
		"{" B ", 'metrics': []}",
		"{" B ", 'metrics': {'mtuu': 1}}",
		"{" B ", 'metrics': {'mtu': -1}}",
	};
	static const char *const good[] = {
		"{" B "}",
		"{" B ", 'dev': 'v9', 'future_key': [1], 'priority': null, 'metrics': {}}",
	};
#undef B
	struct route_info exact, cover, sentinel, out;
	struct route_ctx *ctx;
	bool found, cover_found;
	json_t *j;
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	sh("ip route add 198.18.1.0/24 via 198.18.0.2 dev " DEV
	   " proto static metric 100 realm 10 mtu lock 1400 initcwnd 20");
	sh("ip route add 198.18.7.0/24 via 198.18.0.7 dev " DEV " onlink table 1000");
	sh("ip -6 route add 2001:db8:1::/64 via 2001:db8::2 dev " DEV " metric 100");

	lookup(ctx, "198.18.1.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(found);
	ck_assert_uint_eq(exact.metrics_set,
			  (1u << RTAX_LOCK) | (1u << RTAX_MTU) | (1u << RTAX_INITCWND));
	ck_assert_uint_eq(exact.metrics[RTAX_MTU], 1400);
	json_round_trip(&exact);
	lookup(ctx, "198.18.0.0/24", &exact, &found, &cover, &cover_found);
	ck_assert(found && exact.has_prefsrc);
	json_round_trip(&exact);
	lookup(ctx, "2001:db8:1::/64", &exact, &found, &cover, &cover_found);
	ck_assert(found);
	json_round_trip(&exact);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-json"), 0);
	lookup(ctx, "2001:db8:1::/64", &exact, &found, &cover, &cover_found);
	ck_assert(found && exact.has_encap && strcmp(exact.encap_name, "policyd-json") == 0);
	json_round_trip(&exact);

	/* onlink and a table past 255, read back from a dump. */
	memset(&exact, 0, sizeof(exact));
	exact.dst = pfx("198.18.7.0/24");
	exact.table = 1000;
	exact.type = RTN_UNICAST;
	exact.has_gw = true;
	exact.gw = pfx("198.18.0.7");
	exact.onlink = true;
	exact.ifindex = (int)if_nametoindex(DEV);
	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-json"), 0);
	{
		struct route_info *owned = list_owned(ctx, 2);
		int k = owned[0].dst.family == AF_INET ? 0 : 1;

		ck_assert_uint_eq(owned[k].table, 1000);
		ck_assert(owned[k].onlink);
		json_round_trip(&owned[k]);
		free(owned);
	}

	memset(&sentinel, 0x5a, sizeof(sentinel));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_squoted(bad[i]);
		out = sentinel;
		ck_assert_msg(route_info_from_json(j, &out) == -EINVAL, "accepted: %s", bad[i]);
		ck_assert_msg(memcmp(&out, &sentinel, sizeof(out)) == 0, "changed *out: %s",
			      bad[i]);
		json_decref(j);
	}
	ck_assert_int_eq(route_info_from_json(NULL, &out), -EINVAL);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		j = json_squoted(good[i]);
		ck_assert_msg(route_info_from_json(j, &out) == 0, "rejected: %s", good[i]);
		assert_prefix(&out.dst, "198.18.1.0/24");
		ck_assert(out.table == RT_TABLE_MAIN && !out.has_priority && !out.metrics_set);
		json_decref(j);
	}

	close(fd);
	route_ctx_free(ctx);
}
END_TEST

START_TEST(test_format)
{
	struct route_info exact, cover, *owned;
	struct route_ctx *ctx;
	bool found, cover_found;
	char buf[256], small[12];
	int fd;

	netns_setup();
	ctx = ctx_new();
	fd = load_lwt_prog("pd_test_a");
	sh("ip route add default via 198.18.0.254");
	sh("ip route add 198.18.1.0/24 via 198.18.0.2 dev " DEV
	   " proto static metric 100 realm 10");
	sh("ip -6 route add 2001:db8:1::/64 via 2001:db8::2 dev " DEV " metric 100");
	sh("ip route add 198.18.2.0/24 via 198.18.0.2 dev " DEV
	   " onlink mtu lock 1400 advmss 1300");

	lookup(ctx, "198.18.2.0/24", &exact, &found, &cover, &cover_found);
	route_info_format(&exact, buf, sizeof(buf));
	ck_assert_str_eq(buf, "198.18.2.0/24 via 198.18.0.2 dev " DEV
			      " onlink mtu lock 1400 advmss 1300");

	lookup(ctx, "198.18.1.0/24", &exact, &found, &cover, &cover_found);
	route_info_format(&exact, buf, sizeof(buf));
	ck_assert_str_eq(buf, "198.18.1.0/24 via 198.18.0.2 dev " DEV
			      " proto static metric 100 realm 10");
	route_info_format(&cover, buf, sizeof(buf));
	ck_assert_str_eq(buf, "default via 198.18.0.254 dev " DEV);
	route_info_format(&exact, small, sizeof(small));
	ck_assert_str_eq(small, "198.18.1.0/");

	ck_assert_int_eq(route_install_bpf(ctx, &exact, fd, "policyd-7"), 0);
	owned = list_owned(ctx, 1);
	route_info_format(&owned[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "198.18.1.0/24 encap bpf out policyd-7 via 198.18.0.2 dev " DEV
			      " proto policyd metric 100 realm 10");
	free(owned);

	lookup(ctx, "198.18.0.0/24", &exact, &found, &cover, &cover_found);
	route_info_format(&exact, buf, sizeof(buf));
	ck_assert_str_eq(buf, "198.18.0.0/24 dev " DEV " proto kernel scope link src 198.18.0.1");

	lookup(ctx, "2001:db8:1::/64", &exact, &found, &cover, &cover_found);
	route_info_format(&exact, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2001:db8:1::/64 via 2001:db8::2 dev " DEV " metric 100");

	close(fd);
	route_ctx_free(ctx);
}
END_TEST

struct events {
	int added, deleted;
	struct prefix last;
	bool last_deleted;
};

static void on_event(const struct route_info *r, bool deleted, void *arg)
{
	struct events *ev = arg;

	if (deleted)
		ev->deleted++;
	else
		ev->added++;
	ev->last = r->dst;
	ev->last_deleted = deleted;
}

static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, 2000), 1);
}

START_TEST(test_monitor)
{
	struct events ev = { 0 };
	int fd = -1, tiny = 0;
	FILE *batch;

	netns_setup();
	ck_assert_int_eq(route_monitor_open(&fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(route_monitor_drain(fd, on_event, &ev), 0);
	ck_assert_int_eq(ev.added + ev.deleted, 0);

	sh("ip route add 198.18.1.0/24 via 198.18.0.2");
	wait_readable(fd);
	ck_assert_int_eq(route_monitor_drain(fd, on_event, &ev), 0);
	ck_assert_int_eq(ev.added, 1);
	assert_prefix(&ev.last, "198.18.1.0/24");

	sh("ip route del 198.18.1.0/24");
	wait_readable(fd);
	ck_assert_int_eq(route_monitor_drain(fd, on_event, &ev), 0);
	ck_assert_int_eq(ev.deleted, 1);
	ck_assert(ev.last_deleted);
	assert_prefix(&ev.last, "198.18.1.0/24");

	sh("ip -6 route add 2001:db8:1::/64 via 2001:db8::2");
	sh("ip -6 route del 2001:db8:1::/64");
	wait_readable(fd);
	ck_assert_int_eq(route_monitor_drain(fd, on_event, &ev), 0);
	ck_assert_int_eq(ev.added, 2);
	ck_assert_int_eq(ev.deleted, 2);
	assert_prefix(&ev.last, "2001:db8:1::/64");

	/* Overrun: a tiny buffer and many changes; reported, then usable. */
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny)), 0);
	batch = popen("ip -batch -", "w");
	ck_assert_ptr_nonnull(batch);
	for (int i = 0; i < 128; i++) {
		fprintf(batch, "route add 198.18.%d.0/24 via 198.18.0.2\n", 100 + i);
		fprintf(batch, "route add 2001:db8:%x::/64 via 2001:db8::2\n", 0x100 + i);
	}
	ck_assert_int_ne(pclose(batch), -1);
	ck_assert_int_eq(route_monitor_drain(fd, on_event, &ev), -ENOBUFS);
	ck_assert_int_eq(route_monitor_drain(fd, on_event, &ev), 0);
	ev.deleted = 0;
	sh("ip route del 198.18.100.0/24");
	wait_readable(fd);
	ck_assert_int_eq(route_monitor_drain(fd, on_event, &ev), 0);
	ck_assert_int_eq(ev.deleted, 1);
	close(fd);
}
END_TEST

START_TEST(test_ifindex)
{
	int ifindex = 0;

	netns_setup();
	ck_assert_int_eq(route_ifindex(DEV, &ifindex), 0);
	ck_assert_int_eq(ifindex, (int)if_nametoindex(DEV));
	ifindex = -7;
	ck_assert_int_eq(route_ifindex("nosuchdev0", &ifindex), -ENODEV);
	ck_assert_int_eq(ifindex, -7);
}
END_TEST

static Suite *routes_suite(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("netns");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_install_restore_v4);
	tcase_add_test(tc, test_install_restore_connected);
	tcase_add_test(tc, test_install_added_delete_v4);
	tcase_add_test(tc, test_install_restore_v6);
	tcase_add_test(tc, test_install_restore_via_inet6);
	tcase_add_test(tc, test_replace_program);
	tcase_add_test(tc, test_list_owned_tables);
	tcase_add_test(tc, test_multipath);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_monitor);
	tcase_add_test(tc, test_ifindex);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(routes_suite());
	int failed;

	/* Each test unshares its own network namespace: it must run in a child. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
