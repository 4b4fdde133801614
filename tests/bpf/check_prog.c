// SPDX-License-Identifier: GPL-2.0-only
/*
 * The LWT_OUT program under BPF_PROG_TEST_RUN: crafted IPv4/IPv6 packets against
 * map contents written through the ABI structs; verdicts and exact counters.
 * Needs root (program load); pins nothing, so needs no bpffs.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/bpf/prog_harness.h"

/* Test addresses: 198.18.0.0/15 and 2001:db8::/32. */
#define NET4_A "198.18.0.0/16"
#define NET4_B "198.18.5.0/24"
#define HOST4_A "198.18.9.9" /* in A only */
#define HOST4_B "198.18.5.7" /* in B (and A) */
#define HOST4_NONE "198.19.1.1" /* in neither */
#define NET6 "2001:db8:1::/48"
#define HOST6 "2001:db8:1::80"
#define HOST6_NONE "2001:db8:2::1"

/* The usual fixture: NET4_B and NET6 -> slot 0 in generation 0, active. */
static void install(const struct pd_policy *pol)
{
	set_policy(0, 0, pol);
	add_dest(0, NET4_B, 0);
	add_dest(0, NET6, 0);
	set_epoch(0);
}

/* --- tests --------------------------------------------------------------- */

START_TEST(test_dport_single)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_dport(rule_add(&pol, PD_DROP, 1), 22, 22);
	install(&pol);

	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 22, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 22, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_B, IPPROTO_SCTP, 22, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 23, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 21, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	/* ICMP has no ports: a dport rule never matches it. */
	pkt_v4(&p, HOST4_B, IPPROTO_ICMP, 0, 60);
	ck_assert_int_eq(run(&p), BPF_OK);

	pkt_v6(&p, HOST6, IPPROTO_TCP, 22, 80);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v6(&p, HOST6, IPPROTO_UDP, 22, 80);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v6(&p, HOST6, IPPROTO_UDP, 2222, 80);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v6(&p, HOST6, IPPROTO_ICMPV6, 0, 80);
	ck_assert_int_eq(run(&p), BPF_OK);

	ck_assert_uint_eq(rule_stats(1).packets, 5);
	ck_assert_uint_eq(rule_stats(100).packets, 5);
}
END_TEST

/* Under BPF_PROG_TEST_RUN no route is attached: bpf_get_route_realm() is 0,
 * and realm 0 (no realm) is never counted, even with realm counting on. The realm counters themselves
 * are tested with real routes in tests/integration/test_realms.sh. */
START_TEST(test_no_realm_not_counted)
{
	struct pd_policy pol;
	struct pkt p;
	__u32 key;

	__u32 zero = 0;
	struct pd_config cfg;

	policy_init(&pol, PD_PASS, 100);
	install(&pol);
	/* Realm counting on, as the daemon sets it when a route has a realm. */
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.pd_config), &zero, &cfg), 0);
	cfg.flags |= PD_CONFIG_REALMS;
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.pd_config), &zero, &cfg, 0), 0);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(100).packets, 1);
	ck_assert_int_ne(bpf_map_get_next_key(bpf_map__fd(skel->maps.pd_realm_stats), NULL, &key),
			 0);
}
END_TEST

START_TEST(test_dport_range_and_list)
{
	static const struct {
		__u16 port;
		int verdict;
	} cases[] = {
		{ 79, BPF_OK },	    { 80, BPF_DROP }, { 81, BPF_OK },	  { 442, BPF_OK },
		{ 443, BPF_DROP },  { 7999, BPF_OK }, { 8000, BPF_DROP }, { 8042, BPF_DROP },
		{ 8080, BPF_DROP }, { 8081, BPF_OK }, { 0, BPF_OK },	  { 65535, BPF_DROP },
		{ 65534, BPF_OK },  { 1, BPF_OK },
	};
	struct pd_policy pol;
	struct pd_rule *r;
	struct pkt p;
	size_t i;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	rule_dport(r, 80, 80);
	rule_dport(r, 443, 443);
	rule_dport(r, 8000, 8080);
	rule_dport(r, 65535, 65535);
	install(&pol);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pkt_v4(&p, HOST4_B, IPPROTO_TCP, cases[i].port, 60);
		ck_assert_msg(run(&p) == cases[i].verdict, "IPv4 port %u", cases[i].port);
		pkt_v6(&p, HOST6, IPPROTO_UDP, cases[i].port, 60);
		ck_assert_msg(run(&p) == cases[i].verdict, "IPv6 port %u", cases[i].port);
	}
}
END_TEST

/* All PD_MAX_PORT_RANGES ranges are looked at, and no more than ndport. */
START_TEST(test_dport_last_range)
{
	struct pd_policy pol;
	struct pd_rule *r;
	struct pkt p;
	int i;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	for (i = 0; i < PD_MAX_PORT_RANGES; i++)
		rule_dport(r, 1000 + 10 * i, 1000 + 10 * i + 1);
	install(&pol);

	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 1000 + 10 * (PD_MAX_PORT_RANGES - 1) + 1, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);

	/* A range past ndport is stale data: it must not match. */
	r->ndport = PD_MAX_PORT_RANGES - 1;
	set_policy(0, 0, &pol);
	ck_assert_int_eq(run(&p), BPF_OK);
}
END_TEST

/* A dport rule needs ports, even one covering every port (0 included). */
START_TEST(test_dport_needs_ports)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_dport(rule_add(&pol, PD_DROP, 1), 0, 65535);
	install(&pol);

	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 0, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_B, IPPROTO_ICMP, 0, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v6(&p, HOST6, IPPROTO_ICMPV6, 0, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4_B, IPPROTO_UDP, 100);
	pkt_ports(&p, IPPROTO_UDP, 0, 0);
	pkt_pad_to(&p, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 0, 60);
	p.len = p.l3 + 20 + 2;
	pkt_finish(&p);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 4);
}
END_TEST

START_TEST(test_proto)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_DROP, 100);
	rule_proto(rule_add(&pol, PD_PASS, 1), IPPROTO_ICMP);
	rule_proto(rule_add(&pol, PD_PASS, 2), IPPROTO_ICMPV6);
	rule_proto(rule_add(&pol, PD_PASS, 3), IPPROTO_UDP);
	install(&pol);

	pkt_v4(&p, HOST4_B, IPPROTO_ICMP, 0, 84);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v6(&p, HOST6, IPPROTO_ICMPV6, 0, 104);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v6(&p, HOST6, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v6(&p, HOST6, IPPROTO_TCP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	/* ICMPv6's number inside IPv4 is just another protocol. */
	pkt_v4(&p, HOST4_B, IPPROTO_ICMPV6, 0, 60);
	ck_assert_int_eq(run(&p), BPF_OK);

	ck_assert_uint_eq(rule_stats(1).packets, 1);
	ck_assert_uint_eq(rule_stats(2).packets, 2);
	ck_assert_uint_eq(rule_stats(3).packets, 2);
	ck_assert_uint_eq(rule_stats(100).packets, 2);
}
END_TEST

/* proto and dport in one rule: both must hold. */
START_TEST(test_proto_and_dport)
{
	struct pd_policy pol;
	struct pd_rule *r;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	rule_proto(r, IPPROTO_UDP);
	rule_dport(r, 53, 53);
	install(&pol);

	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 54, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
}
END_TEST

START_TEST(test_first_match)
{
	struct pd_policy pol;
	struct pkt p;
	struct pd_counters c;

	policy_init(&pol, PD_DROP, 100);
	rule_proto(rule_add(&pol, PD_PASS, 1), IPPROTO_TCP);
	rule_dport(rule_add(&pol, PD_DROP, 2), 443, 443);
	rule_dport(rule_add(&pol, PD_PASS, 3), 1, 65535);
	install(&pol);

	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 443, 100);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 443, 100);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 444, 100);
	ck_assert_int_eq(run(&p), BPF_OK);

	c = rule_stats(1);
	assert_counted(&c, 1, 100, 0, PD_REASON_RULE);
	c = rule_stats(2);
	assert_counted(&c, 1, 100, 1, PD_REASON_RULE);
	c = rule_stats(3);
	assert_counted(&c, 1, 100, 0, PD_REASON_RULE);
	c = rule_stats(100);
	assert_counted(&c, 0, 0, 0, PD_REASON_RULE);
}
END_TEST

/* All PD_MAX_RULES rules are evaluated, and none past nrules. */
START_TEST(test_last_rule)
{
	struct pd_policy pol;
	struct pkt p;
	int i;

	policy_init(&pol, PD_PASS, 100);
	for (i = 0; i < PD_MAX_RULES; i++)
		rule_dport(rule_add(&pol, PD_DROP, i), 2000 + i, 2000 + i);
	install(&pol);

	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 2000 + PD_MAX_RULES - 1, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(PD_MAX_RULES - 1).dropped_packets, 1);

	pol.nrules = PD_MAX_RULES - 1;
	set_policy(0, 0, &pol);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 1);
}
END_TEST

START_TEST(test_default)
{
	struct pd_policy pol;
	struct pd_counters c;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_dport(rule_add(&pol, PD_DROP, 1), 22, 22);
	install(&pol);
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 80, 200);
	ck_assert_int_eq(run(&p), BPF_OK);
	c = rule_stats(100);
	assert_counted(&c, 1, 200, 0, PD_REASON_DEFAULT);

	policy_init(&pol, PD_DROP, 101);
	rule_dport(rule_add(&pol, PD_PASS, 1), 22, 22);
	set_policy(0, 0, &pol);
	ck_assert_int_eq(run(&p), BPF_DROP);
	c = rule_stats(101);
	assert_counted(&c, 1, 200, 1, PD_REASON_DEFAULT);

	/* A policy with no rules at all is its default. */
	policy_init(&pol, PD_DROP, 102);
	set_policy(0, 0, &pol);
	pkt_v6(&p, HOST6, IPPROTO_ICMPV6, 0, 300);
	ck_assert_int_eq(run(&p), BPF_DROP);
	c = rule_stats(102);
	assert_counted(&c, 1, 300, 1, PD_REASON_DEFAULT);
	c = rule_stats(1);
	assert_counted(&c, 0, 0, 0, PD_REASON_RULE);
}
END_TEST

START_TEST(test_dest_miss)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_DROP, 100);
	rule_proto(rule_add(&pol, PD_DROP, 1), IPPROTO_TCP);
	install(&pol);

	pkt_v4(&p, HOST4_NONE, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_A, IPPROTO_UDP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v6(&p, HOST6_NONE, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	/* The same address bytes in the other family are another destination. Epoch 2
	 * is generation 0 again: the trie answers, not the miss cached in epoch 0. */
	add_dest(0, "::/0", 0);
	set_epoch(2);
	pkt_v4(&p, HOST4_NONE, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_no_counters();
}
END_TEST

/* A destination whose policy slot is not active passes uncounted. */
START_TEST(test_inactive_policy)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_DROP, 100);
	pol.flags = 0;
	install(&pol);
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_no_counters();
}
END_TEST

START_TEST(test_longest_prefix)
{
	struct pd_policy a, b;
	struct pd_policy_stats st;
	struct pkt p;

	policy_init(&a, PD_PASS, 10);
	policy_init(&b, PD_DROP, 20);
	set_policy(0, 1, &a);
	set_policy(0, 2, &b);
	add_dest(0, NET4_A, 1);
	add_dest(0, NET4_B, 2);
	add_dest(0, "2001:db8::/32", 1);
	add_dest(0, "2001:db8:1:2::/64", 2);
	set_epoch(0);

	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_A, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, "198.18.5.255", IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, "198.18.6.0", IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v6(&p, "2001:db8:1:2::9", IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v6(&p, "2001:db8:1:3::9", IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);

	st = policy_stats(1);
	ck_assert_uint_eq(st.c.passed_packets, 3);
	st = policy_stats(2);
	ck_assert_uint_eq(st.c.dropped_packets, 3);
	ck_assert_uint_eq(rule_stats(10).packets, 3);
	ck_assert_uint_eq(rule_stats(20).packets, 3);
}
END_TEST

START_TEST(test_generation_switch)
{
	struct pd_policy pass, drop;
	struct pkt p;

	policy_init(&pass, PD_PASS, 10);
	policy_init(&drop, PD_DROP, 20);
	/* Same slot in both generations, different contents; HOST4_A only in gen 1. */
	set_policy(0, 3, &pass);
	set_policy(1, 3, &drop);
	add_dest(0, NET4_B, 3);
	add_dest(1, NET4_B, 3);
	add_dest(1, NET4_A, 3);
	set_epoch(0);

	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_A, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(10).packets, 1);
	ck_assert_uint_eq(rule_stats(20).packets, 0);

	set_epoch(1);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_A, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(10).packets, 1);
	ck_assert_uint_eq(rule_stats(20).packets, 2);
	/* Policy stats are per slot, across generations. */
	ck_assert_uint_eq(policy_stats(3).c.packets, 3);

	/* Epoch 2 is generation 0 again, where HOST4_A is no policy's. */
	set_epoch(2);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(10).packets, 2);
	ck_assert_uint_eq(policy_stats(3).c.packets, 4);

	/* The epoch wraps from odd to even: generation 1, then 0. */
	set_epoch(UINT32_MAX);
	ck_assert_int_eq(run(&p), BPF_DROP);
	set_epoch(0);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(10).packets, 3);
	ck_assert_uint_eq(rule_stats(20).packets, 3);
}
END_TEST

/* --- the destination cache ---------------------------------------------- */

/* A cached destination follows a re-apply that gives its prefix another policy. */
START_TEST(test_cache_follows_reapply)
{
	struct pd_policy pass, drop;
	struct pkt p;

	policy_init(&pass, PD_PASS, 10);
	policy_init(&drop, PD_DROP, 20);
	set_policy(0, 1, &pass);
	add_dest(0, NET4_B, 1);
	set_epoch(0);

	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_dcache(HOST4_B, 0, 1);
	ck_assert_int_eq(run(&p), BPF_OK); /* from the cache */
	ck_assert_uint_eq(rule_stats(10).passed_packets, 2);

	/* The re-apply: generation 1 gives NET4_B to slot 2, which drops. */
	set_policy(1, 2, &drop);
	add_dest(1, NET4_B, 2);
	set_epoch(1);
	ck_assert_int_eq(run(&p), BPF_DROP);
	assert_dcache(HOST4_B, 1, 2);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(20).dropped_packets, 2);
	ck_assert_uint_eq(policy_stats(2).c.packets, 2);

	/* Back to generation 0 (slot 1). Slot 2 is empty there: a stale slot would
	 * pass too, but uncounted, so the counters tell which answer was used. */
	set_epoch(2);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_dcache(HOST4_B, 2, 1);
	ck_assert_uint_eq(rule_stats(10).passed_packets, 3);
	ck_assert_uint_eq(policy_stats(1).c.packets, 3);
	ck_assert_uint_eq(policy_stats(2).c.packets, 2);
}
END_TEST

/* "No policy here" is cached too, and an apply that adds the prefix ends it. */
START_TEST(test_cache_none_then_covered)
{
	struct pd_policy drop;
	struct pkt p;

	policy_init(&drop, PD_DROP, 20);
	set_policy(0, 0, &drop);
	add_dest(0, NET4_B, 0);
	set_epoch(0);

	pkt_v4(&p, HOST4_NONE, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_dcache(HOST4_NONE, 0, PD_SLOT_NONE);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_no_counters();

	set_policy(1, 0, &drop);
	add_dest(1, NET4_B, 0);
	add_dest(1, "198.19.0.0/16", 0);
	set_epoch(1);
	ck_assert_int_eq(run(&p), BPF_DROP);
	assert_dcache(HOST4_NONE, 1, 0);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(20).dropped_packets, 2);
}
END_TEST

/* The IPv6 cache: both cases above. */
START_TEST(test_cache6)
{
	struct pd_policy pass, drop;
	struct pkt p;

	policy_init(&pass, PD_PASS, 10);
	policy_init(&drop, PD_DROP, 20);
	set_policy(0, 1, &pass);
	add_dest(0, NET6, 1);
	set_epoch(0);

	pkt_v6(&p, HOST6, IPPROTO_UDP, 53, 80);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_dcache(HOST6, 0, 1);
	pkt_v6(&p, HOST6_NONE, IPPROTO_UDP, 53, 80);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_dcache(HOST6_NONE, 0, PD_SLOT_NONE);
	ck_assert_uint_eq(rule_stats(10).passed_packets, 2);

	/* The re-apply: NET6 moves to the dropping slot 2, HOST6_NONE's /48 joins it. */
	set_policy(1, 2, &drop);
	add_dest(1, NET6, 2);
	add_dest(1, "2001:db8:2::/48", 2);
	set_epoch(1);
	pkt_v6(&p, HOST6, IPPROTO_UDP, 53, 80);
	ck_assert_int_eq(run(&p), BPF_DROP);
	assert_dcache(HOST6, 1, 2);
	pkt_v6(&p, HOST6_NONE, IPPROTO_UDP, 53, 80);
	ck_assert_int_eq(run(&p), BPF_DROP);
	assert_dcache(HOST6_NONE, 1, 2);
	ck_assert_uint_eq(rule_stats(20).dropped_packets, 2);
	ck_assert_uint_eq(rule_stats(10).packets, 2);
	/* The IPv4 cache was not involved. */
	ck_assert_uint_eq(dcache_ways_used(AF_INET), 0);
}
END_TEST

/* An entry from another epoch is never used, whatever slot it holds. */
START_TEST(test_cache_stale_ignored)
{
	struct pd_policy pass, drop;
	struct pkt p;

	policy_init(&pass, PD_PASS, 70);
	policy_init(&drop, PD_DROP, 20);
	/* Epoch 5 is generation 1: slot 0 drops NET4_B and NET6; slot 7 passes. */
	set_policy(1, 0, &drop);
	set_policy(1, 7, &pass);
	add_dest(1, NET4_B, 0);
	add_dest(1, NET6, 0);
	set_epoch(5);
	/* Entries from epoch 3, the same generation, all wrong. */
	dcache_put(HOST4_B, 3, 7);
	dcache_put(HOST6, 3, 7);
	dcache_put(HOST4_NONE, 3, 7);
	dcache_put("198.18.5.8", 3, PD_SLOT_NONE);
	dcache_put("2001:db8:1::81", 4, PD_SLOT_NONE);

	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	assert_dcache(HOST4_B, 5, 0);
	pkt_v6(&p, HOST6, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	assert_dcache(HOST6, 5, 0);
	pkt_v4(&p, "198.18.5.8", IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v6(&p, "2001:db8:1::81", IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_v4(&p, HOST4_NONE, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_dcache(HOST4_NONE, 5, PD_SLOT_NONE);
	ck_assert_uint_eq(rule_stats(20).dropped_packets, 4);
	ck_assert_uint_eq(rule_stats(70).packets, 0);
	ck_assert_uint_eq(policy_stats(7).c.packets, 0);

	/* The control: an entry of the current epoch is trusted as it is, even against
	 * the trie, so the packets above did read the cache and reject it. */
	dcache_put(HOST4_B, 5, 7);
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(70).passed_packets, 1);
	dcache_put(HOST6, 5, PD_SLOT_NONE);
	pkt_v6(&p, HOST6, IPPROTO_TCP, 80, 60);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(20).dropped_packets, 4);
}
END_TEST

/*
 * A way of the host's set that holds another address, in the current epoch, with
 * another slot: never the host's, whichever byte of the IPv4 address or half of
 * the IPv6 one differs. The host's packet takes a way of its own.
 */
START_TEST(test_cache_other_addr_ignored)
{
	static const struct {
		const char *key, *addr;
	} reused[] = {
		{ HOST4_B, "198.18.5.8" },
		{ "198.18.5.9", "198.19.5.9" },
		{ HOST6, "2001:db8:1::81" },
		{ "2001:db8:1::82", "2001:db8:2::82" },
	};
	struct pd_policy pass, drop;
	struct pkt p;
	size_t i;

	policy_init(&pass, PD_PASS, 70);
	policy_init(&drop, PD_DROP, 20);
	/* Epoch 5 is generation 1: slot 0 drops NET4_B and NET6; slot 7 passes. */
	set_policy(1, 0, &drop);
	set_policy(1, 7, &pass);
	add_dest(1, NET4_B, 0);
	add_dest(1, NET6, 0);
	set_epoch(5);

	for (i = 0; i < sizeof(reused) / sizeof(reused[0]); i++) {
		dcache_put_as(reused[i].key, reused[i].addr, 5, 7);
		pkt_to(&p, reused[i].key, IPPROTO_TCP, 80, 60);
		ck_assert_msg(run(&p) == BPF_DROP, "%s: the way holding %s was used", reused[i].key,
			      reused[i].addr);
		/* The trie's answer, in a way of the host's own. */
		assert_dcache(reused[i].key, 5, 0);
	}
	ck_assert_uint_eq(rule_stats(20).dropped_packets, 4);
	ck_assert_uint_eq(rule_stats(70).packets, 0);
	ck_assert_uint_eq(policy_stats(7).c.packets, 0);

	/* The control: the same entries holding their own address are trusted, even
	 * against the trie, so the packets above did read them and reject them. */
	for (i = 0; i < sizeof(reused) / sizeof(reused[0]); i++) {
		dcache_put(reused[i].key, 5, 7);
		pkt_to(&p, reused[i].key, IPPROTO_TCP, 80, 60);
		ck_assert_msg(run(&p) == BPF_OK, "%s: its own entry was not used", reused[i].key);
	}
	ck_assert_uint_eq(rule_stats(70).passed_packets, 4);
	ck_assert_uint_eq(rule_stats(20).dropped_packets, 4);
}
END_TEST

START_TEST(test_ipv4_fragments)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_DROP, 100);
	rule_dport(rule_add(&pol, PD_DROP, 1), 5000, 5000);
	rule_proto(rule_add(&pol, PD_PASS, 2), IPPROTO_UDP);
	install(&pol);

	/* First fragment (MF, offset 0): ports are there. */
	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4_B, IPPROTO_UDP, 0x2000);
	pkt_ports(&p, IPPROTO_UDP, 40000, 5000);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_DROP);

	/* Non-first fragment whose payload happens to look like port 5000. */
	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4_B, IPPROTO_UDP, 0x2000 | 185);
	pkt_ports(&p, IPPROTO_UDP, 40000, 5000);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_OK);
	/* Last fragment (no MF). */
	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4_B, IPPROTO_UDP, 185);
	pkt_ports(&p, IPPROTO_UDP, 40000, 5000);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_OK);

	ck_assert_uint_eq(rule_stats(1).dropped_packets, 1);
	ck_assert_uint_eq(rule_stats(2).passed_packets, 2);
}
END_TEST

/* An IPv4 header with options puts the ports further in. */
START_TEST(test_ipv4_options)
{
	struct pd_policy pol;
	struct iphdr *iph;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_dport(rule_add(&pol, PD_DROP, 1), 5000, 5000);
	install(&pol);

	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4_B, IPPROTO_TCP, 0);
	iph = (struct iphdr *)(p.buf + p.l3);
	iph->ihl = 7;
	memset(pkt_put(&p, 8), 1, 8); /* 8 bytes of NOPs */
	pkt_ports(&p, IPPROTO_TCP, 5000, 5000);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_DROP);

	/* Had the program ignored ihl, it would read 0x0101 as the dport. */
	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4_B, IPPROTO_TCP, 0);
	iph = (struct iphdr *)(p.buf + p.l3);
	iph->ihl = 7;
	memset(pkt_put(&p, 8), 0, 8);
	memcpy(p.buf + p.l3 + 20, "\x13\x88\x13\x88", 4); /* 5000 where ihl 5 would look */
	pkt_ports(&p, IPPROTO_TCP, 80, 80);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_OK);
}
END_TEST

START_TEST(test_ipv6_ext_headers)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_dport(rule_add(&pol, PD_DROP, 1), 443, 443);
	rule_proto(rule_add(&pol, PD_DROP, 2), IPPROTO_UDP);
	install(&pol);

	/* hop-by-hop (8 bytes), destination options (24 bytes), then TCP 443 */
	pkt_init(&p, ETH_P_IPV6);
	pkt_ipv6(&p, HOST6, IPPROTO_HOPOPTS);
	pkt_ipv6_opts(&p, IPPROTO_DSTOPTS, 0);
	pkt_ipv6_opts(&p, IPPROTO_TCP, 2);
	pkt_ports(&p, IPPROTO_TCP, 40000, 443);
	pkt_pad_to(&p, 120);
	ck_assert_int_eq(run(&p), BPF_DROP);

	/* routing header before TCP 80: walked, port 80 found, no rule */
	pkt_init(&p, ETH_P_IPV6);
	pkt_ipv6(&p, HOST6, IPPROTO_ROUTING);
	pkt_ipv6_opts(&p, IPPROTO_TCP, 1);
	pkt_ports(&p, IPPROTO_TCP, 443, 80);
	pkt_pad_to(&p, 120);
	ck_assert_int_eq(run(&p), BPF_OK);

	/* first fragment: ports readable */
	pkt_init(&p, ETH_P_IPV6);
	pkt_ipv6(&p, HOST6, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(&p, IPPROTO_TCP, 0, 1);
	pkt_ports(&p, IPPROTO_TCP, 40000, 443);
	pkt_pad_to(&p, 120);
	ck_assert_int_eq(run(&p), BPF_DROP);

	/* non-first fragment: no ports, but the proto is the fragment's */
	pkt_init(&p, ETH_P_IPV6);
	pkt_ipv6(&p, HOST6, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(&p, IPPROTO_TCP, 100, 0);
	pkt_ports(&p, IPPROTO_TCP, 40000, 443);
	pkt_pad_to(&p, 120);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_init(&p, ETH_P_IPV6);
	pkt_ipv6(&p, HOST6, IPPROTO_HOPOPTS);
	pkt_ipv6_opts(&p, IPPROTO_FRAGMENT, 0);
	pkt_ipv6_frag(&p, IPPROTO_UDP, 100, 1);
	pkt_ports(&p, IPPROTO_UDP, 40000, 443);
	pkt_pad_to(&p, 120);
	ck_assert_int_eq(run(&p), BPF_DROP);

	ck_assert_uint_eq(rule_stats(1).dropped_packets, 2);
	ck_assert_uint_eq(rule_stats(2).dropped_packets, 1);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 2);
}
END_TEST

START_TEST(test_non_ip)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_DROP, 100);
	install(&pol);

	/* An IPv4 packet to a dropped destination, but labelled ARP. */
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	((struct ethhdr *)p.buf)->h_proto = htons(ETH_P_ARP);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v6(&p, HOST6, IPPROTO_UDP, 53, 60);
	((struct ethhdr *)p.buf)->h_proto = htons(ETH_P_MPLS_UC);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_no_counters();

	/* The control: the same packet as IPv4 is dropped. */
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
}
END_TEST

START_TEST(test_counters)
{
	struct pd_policy pol;
	struct pd_policy_stats st;
	struct pd_counters c;
	struct pkt p;

	policy_init(&pol, PD_DROP, 100);
	rule_dport(rule_add(&pol, PD_PASS, 7), 80, 80);
	install(&pol);

	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 80, 1500);
	ck_assert_int_eq(run(&p), BPF_OK);
	/* A GSO skb of 5 segments is 5 wire packets and skb->len bytes. */
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 80, 3000);
	ck_assert_int_eq(run_gso(&p, 5), BPF_OK);
	pkt_v6(&p, HOST6, IPPROTO_UDP, 81, 64);
	ck_assert_int_eq(run_gso(&p, 2), BPF_DROP);
	pkt_v4(&p, HOST4_B, IPPROTO_UDP, 81, 65);
	ck_assert_int_eq(run(&p), BPF_DROP);

	c = rule_stats(7);
	assert_counted(&c, 6, 4500, 0, PD_REASON_RULE);
	c = rule_stats(100);
	assert_counted(&c, 3, 129, 1, PD_REASON_DEFAULT);

	st = policy_stats(0);
	ck_assert_uint_eq(st.c.packets, 9);
	ck_assert_uint_eq(st.c.bytes, 4629);
	ck_assert_uint_eq(st.c.passed_packets, 6);
	ck_assert_uint_eq(st.c.passed_bytes, 4500);
	ck_assert_uint_eq(st.c.dropped_packets, 3);
	ck_assert_uint_eq(st.c.dropped_bytes, 129);
	ck_assert_uint_eq(st.c.dropped_reason[PD_REASON_DEFAULT], 3);
	ck_assert_uint_eq(st.c.dropped_reason[PD_REASON_RULE], 0);
	/* 1500 <= 64 << 5; 3000 <= 64 << 6; 64 <= 64 << 0; 65 <= 64 << 1 */
	ck_assert_uint_eq(st.hist[5], 1);
	ck_assert_uint_eq(st.hist[6], 5);
	ck_assert_uint_eq(st.hist[0], 2);
	ck_assert_uint_eq(st.hist[1], 1);
	ck_assert_uint_eq(st.hist[2] + st.hist[3] + st.hist[4], 0);
}
END_TEST

/* Every bucket edge that a test-run packet can reach. */
START_TEST(test_histogram_edges)
{
	static const struct {
		size_t len;
		int bucket;
	} cases[] = {
		{ 28, 0 },   { 64, 0 },	  { 65, 1 },   { 128, 1 },  { 129, 2 },
		{ 256, 2 },  { 257, 3 },  { 512, 3 },  { 513, 4 },  { 1024, 4 },
		{ 1025, 5 }, { 2048, 5 }, { 2049, 6 }, { 2900, 6 },
	};
	struct pd_policy pol;
	struct pd_policy_stats st;
	struct pkt p;
	size_t i;
	int b;

	policy_init(&pol, PD_PASS, 100);
	install(&pol);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u64 before[PD_HIST_BUCKETS];

		st = policy_stats(0);
		memcpy(before, st.hist, sizeof(before));
		pkt_v4(&p, HOST4_B, IPPROTO_UDP, 53, cases[i].len);
		ck_assert_uint_eq(pkt_ip_len(&p), cases[i].len);
		run(&p);
		st = policy_stats(0);
		for (b = 0; b < PD_HIST_BUCKETS; b++)
			ck_assert_msg(st.hist[b] - before[b] == (b == cases[i].bucket),
				      "len %zu: bucket %d moved by %llu", cases[i].len, b,
				      (unsigned long long)(st.hist[b] - before[b]));
	}
}
END_TEST

/* Headers cut short: an unreadable L4 header means no ports. */
START_TEST(test_truncated)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_DROP, 100);
	rule_dport(rule_add(&pol, PD_DROP, 1), 80, 80);
	rule_proto(rule_add(&pol, PD_PASS, 2), IPPROTO_TCP);
	install(&pol);

	/* IPv4 + 3 bytes of TCP: the dport is one byte short. */
	pkt_v4(&p, HOST4_B, IPPROTO_TCP, 80, 40);
	p.len = p.l3 + 20 + 3;
	pkt_finish(&p);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(2).packets, 1);
	ck_assert_uint_eq(rule_stats(2).bytes, 23);

	/* ... and with 4 bytes it is there. */
	p.len = p.l3 + 20 + 4;
	pkt_finish(&p);
	ck_assert_int_eq(run(&p), BPF_DROP);

	pkt_v6(&p, HOST6, IPPROTO_TCP, 80, 60);
	p.len = p.l3 + 40 + 2;
	pkt_finish(&p);
	ck_assert_int_eq(run(&p), BPF_OK);

	/* IPv6 extension header chain cut inside the hop-by-hop header. */
	pkt_init(&p, ETH_P_IPV6);
	pkt_ipv6(&p, HOST6, IPPROTO_HOPOPTS);
	pkt_ipv6_opts(&p, IPPROTO_TCP, 0);
	p.len = p.l3 + 40 + 1;
	pkt_finish(&p);
	ck_assert_int_eq(run(&p), BPF_DROP); /* proto is hop-by-hop: the default */
	ck_assert_uint_eq(rule_stats(100).packets, 1);
	ck_assert_uint_eq(rule_stats(2).packets, 2);
	ck_assert_uint_eq(policy_stats(0).c.packets, 4);
	/* A cut IP header cannot be tested here: test_run refuses it (EINVAL). */
}
END_TEST

/* The maps the daemon relies on exist with the ABI's shapes. */
START_TEST(test_maps_shape)
{
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_dest), BPF_MAP_TYPE_LPM_TRIE);
	ck_assert_uint_eq(bpf_map__map_flags(skel->maps.pd_dest) & BPF_F_NO_PREALLOC,
			  BPF_F_NO_PREALLOC);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_dest), PD_GENERATIONS * PD_MAX_DESTS);
	ck_assert_uint_eq(bpf_map__key_size(skel->maps.pd_dest), sizeof(struct pd_dest_key));
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_policies), sizeof(struct pd_policy));
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_policies),
			  PD_GENERATIONS * PD_MAX_POLICIES);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_policy_stats),
			  sizeof(struct pd_policy_stats));
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_rule_stats), PD_MAX_RULE_COUNTERS);
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_src), BPF_MAP_TYPE_LPM_TRIE);
	ck_assert_uint_eq(bpf_map__map_flags(skel->maps.pd_src) & BPF_F_NO_PREALLOC,
			  BPF_F_NO_PREALLOC);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_src), PD_GENERATIONS * PD_MAX_SRCS);
	ck_assert_uint_eq(bpf_map__key_size(skel->maps.pd_src), sizeof(struct pd_src_key));
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_src), sizeof(__u32));
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_sync), BPF_MAP_TYPE_ARRAY_OF_MAPS);
	ck_assert_int_ge(bpf_map__fd(skel->maps.pd_sync), 0);
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_dcache4), BPF_MAP_TYPE_PERCPU_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_dcache4),
			  pd_host_sets(PD_DEFAULT_HOSTS));
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_dcache4), sizeof(struct pd_host_set));
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_dcache6), BPF_MAP_TYPE_PERCPU_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_dcache6),
			  pd_host_sets(PD_DEFAULT_HOSTS));
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_dcache6), sizeof(struct pd_host_set));
	ck_assert_uint_eq(skel->rodata->pd_host_sets_mask, pd_host_sets(PD_DEFAULT_HOSTS) - 1);
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_host_seed), BPF_MAP_TYPE_ARRAY);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_host_seed),
			  sizeof(struct pd_host_seed));
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_rule_buckets), BPF_MAP_TYPE_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_rule_buckets), PD_MAX_RULE_COUNTERS);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_rule_buckets),
			  sizeof(struct pd_bucket));
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_host_buckets), BPF_MAP_TYPE_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_host_buckets),
			  pd_host_sets(PD_DEFAULT_HOSTS));
	ck_assert_uint_eq(bpf_map__map_flags(skel->maps.pd_host_buckets), BPF_F_MMAPABLE);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_host_buckets),
			  sizeof(struct pd_bucket_set));
	ck_assert_uint_eq(skel->rodata->pd_bucket_sets_mask, pd_host_sets(PD_DEFAULT_HOSTS) - 1);
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_hosts), BPF_MAP_TYPE_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_hosts),
			  pd_host_sets(PD_DEFAULT_HOSTS));
	ck_assert_uint_eq(bpf_map__map_flags(skel->maps.pd_hosts), BPF_F_MMAPABLE);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_hosts), sizeof(struct pd_hosts_set));
	ck_assert_uint_eq(skel->rodata->pd_hosts_sets_mask, pd_host_sets(PD_DEFAULT_HOSTS) - 1);
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_policy_quota), BPF_MAP_TYPE_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_policy_quota), PD_MAX_POLICIES);
	ck_assert_uint_eq(bpf_map__key_size(skel->maps.pd_policy_quota), sizeof(__u32));
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_policy_quota),
			  sizeof(struct pd_policy_quota));
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_events), BPF_MAP_TYPE_RINGBUF);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_events), PD_EVENTS_BYTES);
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_event_caps), BPF_MAP_TYPE_PERCPU_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_event_caps), PD_MAX_POLICIES);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_event_caps),
			  sizeof(struct pd_event_cap));
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_misc_stats), BPF_MAP_TYPE_PERCPU_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_misc_stats), 1);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_misc_stats),
			  sizeof(struct pd_misc_stats));
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_clock), BPF_MAP_TYPE_PERCPU_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_clock), 1);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_clock), sizeof(struct pd_clock));
	ck_assert_uint_eq(bpf_map__type(skel->maps.pd_quota_clock), BPF_MAP_TYPE_PERCPU_ARRAY);
	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_quota_clock), PD_MAX_POLICIES);
	ck_assert_uint_eq(bpf_map__value_size(skel->maps.pd_quota_clock),
			  sizeof(struct pd_quota_clock));
	/* The daemon runs the cached program: the benchmark's switch is off. */
	ck_assert_uint_eq(skel->rodata->pd_cache_off, 0);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_config), PD_MAP_CONFIG);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_dest), PD_MAP_DEST);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_policies), PD_MAP_POLICIES);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_policy_stats), PD_MAP_POLICY_STATS);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_rule_stats), PD_MAP_RULE_STATS);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_sync), PD_MAP_SYNC);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_src), PD_MAP_SRC);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_dcache4), PD_MAP_DCACHE4);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_dcache6), PD_MAP_DCACHE6);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_rule_buckets), PD_MAP_RULE_BUCKETS);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_host_buckets), PD_MAP_HOST_BUCKETS);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_hosts), PD_MAP_HOSTS);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_policy_quota), PD_MAP_POLICY_QUOTA);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_events), PD_MAP_EVENTS);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_event_caps), PD_MAP_EVENT_CAPS);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_misc_stats), PD_MAP_MISC_STATS);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_clock), PD_MAP_CLOCK);
	ck_assert_str_eq(bpf_map__name(skel->maps.pd_quota_clock), PD_MAP_QUOTA_CLOCK);
	ck_assert_str_eq(bpf_program__name(skel->progs.policyd_out), PD_PROG_NAME);
}
END_TEST

/* The daemon's sync step: replacing pd_sync[0] with a fresh inner map works. */
START_TEST(test_sync_update)
{
	__u32 zero = 0;
	int inner, outer = bpf_map__fd(skel->maps.pd_sync);

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(__u32), sizeof(__u32), 1, NULL);
	ck_assert_int_ge(inner, 0);
	ck_assert_int_eq(bpf_map_update_elem(outer, &zero, &inner, BPF_ANY), 0);
	close(inner);
}
END_TEST

static Suite *prog_suite(void)
{
	Suite *s = suite_create("prog");
	TCase *tc = tcase_create("test_run");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dport_single);
	tcase_add_test(tc, test_no_realm_not_counted);
	tcase_add_test(tc, test_dport_range_and_list);
	tcase_add_test(tc, test_dport_last_range);
	tcase_add_test(tc, test_dport_needs_ports);
	tcase_add_test(tc, test_proto);
	tcase_add_test(tc, test_proto_and_dport);
	tcase_add_test(tc, test_first_match);
	tcase_add_test(tc, test_last_rule);
	tcase_add_test(tc, test_default);
	tcase_add_test(tc, test_dest_miss);
	tcase_add_test(tc, test_inactive_policy);
	tcase_add_test(tc, test_longest_prefix);
	tcase_add_test(tc, test_generation_switch);
	tcase_add_test(tc, test_cache_follows_reapply);
	tcase_add_test(tc, test_cache_none_then_covered);
	tcase_add_test(tc, test_cache6);
	tcase_add_test(tc, test_cache_stale_ignored);
	tcase_add_test(tc, test_cache_other_addr_ignored);
	tcase_add_test(tc, test_ipv4_fragments);
	tcase_add_test(tc, test_ipv4_options);
	tcase_add_test(tc, test_ipv6_ext_headers);
	tcase_add_test(tc, test_non_ip);
	tcase_add_test(tc, test_counters);
	tcase_add_test(tc, test_histogram_edges);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_maps_shape);
	tcase_add_test(tc, test_sync_update);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_root_suite("check_prog", prog_suite);
}
