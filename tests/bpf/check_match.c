// SPDX-License-Identifier: GPL-2.0-only
/*
 * The LWT_OUT program's matches beyond proto and dport (sport, src, length,
 * tcp-flags, icmp-type) and monitor mode, under BPF_PROG_TEST_RUN: crafted IPv4
 * and IPv6 packets against maps written through the ABI structs. Needs root.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/bpf/prog_harness.h"

/* Test addresses: 198.18.0.0/15 and 2001:db8::/32. */
#define NET4 "198.18.5.0/24"
#define HOST4 "198.18.5.7"
#define NET6 "2001:db8:1::/48"
#define HOST6 "2001:db8:1::80"

/* NET4 and NET6 -> slot 0 in generation 0. */
static void install(const struct pd_policy *pol)
{
	set_policy(0, 0, pol);
	add_dest(0, NET4, 0);
	add_dest(0, NET6, 0);
	set_epoch(0);
}

/* A TCP, UDP or SCTP packet to HOST4 or HOST6 with these ports, @ip_len long. */
static void pkt_l4(struct pkt *p, int family, uint8_t proto, uint16_t sport, uint16_t dport,
		   size_t ip_len)
{
	if (family == AF_INET) {
		pkt_init(p, ETH_P_IP);
		pkt_ipv4(p, HOST4, proto, 0);
	} else {
		pkt_init(p, ETH_P_IPV6);
		pkt_ipv6(p, HOST6, proto);
	}
	pkt_ports(p, proto, sport, dport);
	pkt_pad_to(p, ip_len);
}

/* A TCP packet with these flags. */
static void pkt_tcp(struct pkt *p, int family, uint8_t flags)
{
	pkt_l4(p, family, IPPROTO_TCP, 40000, 80, 60);
	pkt_tcp_flags(p, flags);
}

/* An ICMP (IPv4) or ICMPv6 (IPv6) packet of type @type. */
static void pkt_icmp_type(struct pkt *p, int family, uint8_t type)
{
	if (family == AF_INET) {
		pkt_init(p, ETH_P_IP);
		pkt_ipv4(p, HOST4, IPPROTO_ICMP, 0);
	} else {
		pkt_init(p, ETH_P_IPV6);
		pkt_ipv6(p, HOST6, IPPROTO_ICMPV6);
	}
	pkt_icmp(p, type);
	pkt_pad_to(p, 84);
}

/*
 * A non-first fragment of @proto whose payload starts like an L4 header would,
 * with @first as its first byte and @sport/@dport next: a program reading it as
 * a header sees that type, those ports, and @flags as the TCP flags.
 */
static void pkt_later_fragment(struct pkt *p, int family, uint8_t proto, uint16_t sport,
			       uint16_t dport, uint8_t flags)
{
	if (family == AF_INET) {
		pkt_init(p, ETH_P_IP);
		pkt_ipv4(p, HOST4, proto, 0x2000 | 185);
	} else {
		pkt_init(p, ETH_P_IPV6);
		pkt_ipv6(p, HOST6, IPPROTO_FRAGMENT);
		pkt_ipv6_frag(p, proto, 185, 1);
	}
	pkt_ports(p, IPPROTO_TCP, sport, dport);
	pkt_tcp_flags(p, flags);
	pkt_pad_to(p, 100);
}

/* The two flag bits above URG, which no rule names. */
#define TCP_ECE_CWR 0xc0

static const int families[] = { AF_INET, AF_INET6 };
#define NFAMILIES 2

/* --- sport --------------------------------------------------------------- */

START_TEST(test_sport)
{
	static const struct {
		uint8_t proto;
		uint16_t sport;
		int verdict;
	} cases[] = {
		{ IPPROTO_TCP, 1000, BPF_DROP },  { IPPROTO_TCP, 999, BPF_OK },
		{ IPPROTO_UDP, 2000, BPF_DROP },  { IPPROTO_UDP, 2001, BPF_OK },
		{ IPPROTO_SCTP, 1500, BPF_DROP }, { IPPROTO_SCTP, 4999, BPF_OK },
		{ IPPROTO_TCP, 5000, BPF_DROP },  { IPPROTO_UDP, 5001, BPF_OK },
	};
	struct pd_policy pol;
	struct pd_counters c;
	struct pd_rule *r;
	struct pkt p;
	size_t i;
	int f;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	rule_sport(r, 1000, 2000);
	rule_sport(r, 5000, 5000);
	install(&pol);

	for (f = 0; f < NFAMILIES; f++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			/* The dport is the sport's neighbour: only the sport may decide. */
			pkt_l4(&p, families[f], cases[i].proto, cases[i].sport, cases[i].sport + 1,
			       100);
			ck_assert_msg(run(&p) == cases[i].verdict, "family %d proto %u sport %u",
				      families[f], cases[i].proto, cases[i].sport);
		}
		/* No ports: ICMP, and a non-first fragment that looks like sport 1000. */
		pkt_icmp_type(&p, families[f], 0);
		ck_assert_int_eq(run(&p), BPF_OK);
		pkt_later_fragment(&p, families[f], IPPROTO_UDP, 1000, 1000, 0);
		ck_assert_int_eq(run(&p), BPF_OK);
		pkt_later_fragment(&p, families[f], IPPROTO_TCP, 1000, 1000, 0);
		ck_assert_int_eq(run(&p), BPF_OK);
	}
	c = rule_stats(1);
	assert_counted(&c, 8, 800, 1, PD_REASON_RULE);
	c = rule_stats(100);
	ck_assert_uint_eq(c.passed_packets, 14);
	ck_assert_uint_eq(c.dropped_packets, 0);
}
END_TEST

/* The first fragment carries the header: its sport is there. */
START_TEST(test_sport_first_fragment)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_sport(rule_add(&pol, PD_DROP, 1), 53, 53);
	install(&pol);

	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4, IPPROTO_UDP, 0x2000);
	pkt_ports(&p, IPPROTO_UDP, 53, 40000);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_init(&p, ETH_P_IPV6);
	pkt_ipv6(&p, HOST6, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(&p, IPPROTO_UDP, 0, 1);
	pkt_ports(&p, IPPROTO_UDP, 53, 40000);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(1).dropped_packets, 2);
}
END_TEST

/* sport and dport in one rule: both must hold, each on its own field. */
START_TEST(test_sport_and_dport)
{
	struct pd_policy pol;
	struct pd_rule *r;
	struct pkt p;
	int f;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	rule_proto(r, IPPROTO_UDP);
	rule_sport(r, 53, 53);
	rule_dport(r, 1024, 65535);
	install(&pol);

	for (f = 0; f < NFAMILIES; f++) {
		pkt_l4(&p, families[f], IPPROTO_UDP, 53, 40000, 80);
		ck_assert_int_eq(run(&p), BPF_DROP);
		pkt_l4(&p, families[f], IPPROTO_UDP, 40000, 53, 80);
		ck_assert_int_eq(run(&p), BPF_OK);
		pkt_l4(&p, families[f], IPPROTO_UDP, 53, 53, 80);
		ck_assert_int_eq(run(&p), BPF_OK);
		pkt_l4(&p, families[f], IPPROTO_TCP, 53, 40000, 80);
		ck_assert_int_eq(run(&p), BPF_OK);
	}
	ck_assert_uint_eq(rule_stats(1).dropped_packets, 2);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 6);
}
END_TEST

/* --- src ----------------------------------------------------------------- */

START_TEST(test_src)
{
	static const struct {
		const char *src;
		int verdict;
	} cases4[] = {
		{ "198.18.0.1", BPF_DROP },   { "198.18.0.255", BPF_DROP }, { "198.18.1.0", BPF_OK },
		{ "198.18.200.9", BPF_DROP }, { "198.18.200.8", BPF_OK },   { "198.19.0.1", BPF_OK },
	},
	  cases6[] = {
		  { "2001:db8:f::1", BPF_DROP },
		  { "2001:db8:f:ffff:ffff:ffff:ffff:ffff", BPF_DROP },
		  { "2001:db8:10::1", BPF_OK },
		  { "2001:db8:e::1", BPF_OK },
		  { "2001:db8:99::7", BPF_DROP },
		  { "2001:db8:99::8", BPF_OK },
	  };
	struct pd_policy pol;
	struct pd_counters c;
	struct pkt p;
	size_t i;

	policy_init(&pol, PD_PASS, 100);
	rule_add(&pol, PD_DROP, 1)->match |= PD_MATCH_SRC;
	install(&pol);
	add_src(0, 0, 0, "198.18.0.0/24");
	add_src(0, 0, 0, "198.18.200.9"); /* a bare address: /32 */
	add_src(0, 0, 0, "2001:db8:f::/48");
	add_src(0, 0, 0, "2001:db8:99::7");

	for (i = 0; i < sizeof(cases4) / sizeof(cases4[0]); i++) {
		pkt_l4(&p, AF_INET, IPPROTO_UDP, 40000, 53, 100);
		pkt_set_src(&p, cases4[i].src);
		ck_assert_msg(run(&p) == cases4[i].verdict, "src %s", cases4[i].src);
	}
	for (i = 0; i < sizeof(cases6) / sizeof(cases6[0]); i++) {
		pkt_l4(&p, AF_INET6, IPPROTO_UDP, 40000, 53, 100);
		pkt_set_src(&p, cases6[i].src);
		ck_assert_msg(run(&p) == cases6[i].verdict, "src %s", cases6[i].src);
	}
	/* Not a port match: ICMP and non-first fragments are tested by source too. */
	pkt_icmp_type(&p, AF_INET, 8);
	pkt_set_src(&p, "198.18.0.9");
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_later_fragment(&p, AF_INET6, IPPROTO_UDP, 1, 1, 0);
	pkt_set_src(&p, "2001:db8:f::9");
	ck_assert_int_eq(run(&p), BPF_DROP);

	c = rule_stats(1);
	assert_counted(&c, 8, 6 * 100 + 84 + 100, 1, PD_REASON_RULE);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 6);
}
END_TEST

/* A prefix of one family never matches the other, even the whole space. */
START_TEST(test_src_family)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_add(&pol, PD_DROP, 1)->match |= PD_MATCH_SRC;
	rule_add(&pol, PD_DROP, 2)->match |= PD_MATCH_SRC;
	install(&pol);
	add_src(0, 0, 0, "0.0.0.0/0");
	add_src(0, 0, 1, "::/0");

	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_l4(&p, AF_INET6, IPPROTO_TCP, 40000, 80, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	/* An IPv4-mapped address is an IPv6 source. */
	pkt_set_src(&p, "::ffff:198.18.0.1");
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(1).dropped_packets, 1);
	ck_assert_uint_eq(rule_stats(2).dropped_packets, 2);

	/* Without the IPv6 rule's prefix, IPv6 sources match nothing. */
	policy_init(&pol, PD_PASS, 100);
	rule_add(&pol, PD_DROP, 1)->match |= PD_MATCH_SRC;
	set_policy(0, 0, &pol);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET6, IPPROTO_TCP, 40000, 80, 60);
	pkt_set_src(&p, "::");
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 2);
}
END_TEST

/* A prefix belongs to one rule of one policy in one generation. */
START_TEST(test_src_scope)
{
	struct pd_policy pol;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_dport(rule_add(&pol, PD_PASS, 1), 22, 22);
	rule_add(&pol, PD_DROP, 2)->match |= PD_MATCH_SRC;
	rule_add(&pol, PD_DROP, 3)->match |= PD_MATCH_SRC;
	install(&pol);
	add_src(0, 0, 1, "198.18.0.0/16");
	add_src(0, 0, 2, "198.19.0.0/16");
	/* The same rule index in another slot, and in the other generation. */
	add_src(0, 1, 2, "198.21.0.0/16");
	add_src(1, 0, 2, "198.21.0.0/16");

	pkt_l4(&p, AF_INET, IPPROTO_UDP, 40000, 53, 60);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(2).dropped_packets, 1);
	pkt_set_src(&p, "198.19.0.1");
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(3).dropped_packets, 1);
	pkt_set_src(&p, "198.20.0.1");
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_set_src(&p, "198.21.0.1");
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 2);

	/* The rules move up one: the prefixes stay with their indexes, so rule 0
	 * (which has none) never matches and rule 1 has 198.18.0.0/16. */
	policy_init(&pol, PD_PASS, 100);
	rule_add(&pol, PD_DROP, 4)->match |= PD_MATCH_SRC;
	rule_add(&pol, PD_DROP, 5)->match |= PD_MATCH_SRC;
	set_policy(0, 0, &pol);
	pkt_set_src(&p, "198.18.0.1");
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_set_src(&p, "198.19.0.1");
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(4).packets, 0);
	ck_assert_uint_eq(rule_stats(5).dropped_packets, 1);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 3);

	/* Generation 1 (epoch 1) has the policy in slot 0 with the 198.21 prefix. */
	set_policy(1, 0, &pol);
	add_dest(1, NET4, 0);
	set_epoch(1);
	pkt_set_src(&p, "198.21.0.1");
	ck_assert_int_eq(run(&p), BPF_OK);
	policy_init(&pol, PD_PASS, 100);
	rule_add(&pol, PD_PASS, 6);
	rule_add(&pol, PD_PASS, 7);
	rule_add(&pol, PD_DROP, 8)->match |= PD_MATCH_SRC;
	pol.rules[0].match = PD_MATCH_DPORT; /* ndport 0: never matches */
	pol.rules[1].match = PD_MATCH_DPORT;
	set_policy(1, 0, &pol);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(8).dropped_packets, 1);
	pkt_set_src(&p, "198.19.0.1");
	ck_assert_int_eq(run(&p), BPF_OK);

	/* A policy in slot 2 sees its own prefixes, not slot 0's. */
	policy_init(&pol, PD_PASS, 100);
	rule_add(&pol, PD_DROP, 9)->match |= PD_MATCH_SRC;
	set_policy(0, 2, &pol);
	add_dest(0, "198.18.9.0/24", 2);
	add_src(0, 0, 0, "198.22.0.0/16");
	add_src(0, 2, 0, "198.23.0.0/16");
	set_epoch(2);
	pkt_l4(&p, AF_INET, IPPROTO_UDP, 40000, 53, 60);
	memcpy(p.buf + p.l3 + 16, "\xc6\x12\x09\x09", 4); /* to 198.18.9.9 */
	pkt_set_src(&p, "198.22.0.1");
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_set_src(&p, "198.23.0.1");
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(9).dropped_packets, 1);
}
END_TEST

/* --- length -------------------------------------------------------------- */

START_TEST(test_length)
{
	static const struct {
		size_t len;
		int verdict;
	} cases[] = {
		{ 99, BPF_OK },	  { 100, BPF_DROP },  { 150, BPF_DROP },  { 200, BPF_DROP },
		{ 201, BPF_OK },  { 999, BPF_OK },    { 1000, BPF_DROP }, { 1001, BPF_OK },
		{ 2999, BPF_OK }, { 3000, BPF_DROP },
	};
	struct pd_policy pol;
	struct pd_counters c;
	struct pd_rule *r;
	struct pkt p;
	__u64 drops = 0, bytes = 0;
	size_t i;
	int f;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	rule_length(r, 100, 200);
	rule_length(r, 1000, 1000);
	rule_length(r, 1500, 1600);
	rule_length(r, 3000, 65535);
	install(&pol);

	for (f = 0; f < NFAMILIES; f++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			pkt_l4(&p, families[f], IPPROTO_UDP, 40000, 53, cases[i].len);
			ck_assert_uint_eq(pkt_ip_len(&p), cases[i].len);
			ck_assert_msg(run(&p) == cases[i].verdict, "family %d length %zu",
				      families[f], cases[i].len);
			if (cases[i].verdict == BPF_DROP) {
				drops++;
				bytes += cases[i].len;
			}
		}
		/* Any protocol, fragments too: the length is the IP packet's. */
		pkt_later_fragment(&p, families[f], IPPROTO_UDP, 0, 0, 0);
		ck_assert_uint_eq(pkt_ip_len(&p), 100);
		ck_assert_int_eq(run(&p), BPF_DROP);
		drops++;
		bytes += 100;
	}
	c = rule_stats(1);
	assert_counted(&c, drops, bytes, 1, PD_REASON_RULE);

	/* A range past nlength is stale data: it must not match. */
	r->nlength = 3;
	set_policy(0, 0, &pol);
	pkt_l4(&p, AF_INET, IPPROTO_UDP, 40000, 53, 3000);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET, IPPROTO_UDP, 40000, 53, 1600);
	ck_assert_int_eq(run(&p), BPF_DROP);
}
END_TEST

/* The length of a GSO skb is all of it, as in the histogram. */
START_TEST(test_length_gso)
{
	struct pd_policy pol;
	struct pd_counters c;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	rule_length(rule_add(&pol, PD_DROP, 1), 2000, 3000);
	install(&pol);
	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 80, 2500);
	ck_assert_int_eq(run_gso(&p, 2), BPF_DROP);
	c = rule_stats(1);
	assert_counted(&c, 2, 2500, 1, PD_REASON_RULE);
}
END_TEST

/* --- tcp-flags ----------------------------------------------------------- */

START_TEST(test_tcp_flags)
{
	/* The compiler's rules: syn (a lone syn also needs ACK clear), [syn, ack], rst. */
	static const struct {
		uint8_t flags;
		int rule; /* counter of the rule that matches, 100: none */
	} cases[] = {
		{ PD_TCP_SYN, 1 },
		{ PD_TCP_SYN | PD_TCP_ACK, 2 },
		{ PD_TCP_SYN | PD_TCP_ACK | PD_TCP_PSH, 2 },
		{ PD_TCP_SYN | TCP_ECE_CWR, 1 },
		{ PD_TCP_ACK, 100 },
		{ 0, 100 },
		{ PD_TCP_RST, 3 },
		{ PD_TCP_RST | PD_TCP_ACK, 3 },
		{ PD_TCP_FIN | PD_TCP_ACK, 100 },
		{ 0xff, 2 },
	};
	struct pd_policy pol;
	struct pd_counters before[4], after;
	static const __u32 counters[] = { 1, 2, 3, 100 };
	struct pkt p;
	size_t i, k;
	int f;

	policy_init(&pol, PD_PASS, 100);
	rule_tcp_flags(rule_add(&pol, PD_DROP, 1), PD_TCP_SYN | PD_TCP_ACK, PD_TCP_SYN);
	rule_tcp_flags(rule_add(&pol, PD_DROP, 2), PD_TCP_SYN | PD_TCP_ACK,
		       PD_TCP_SYN | PD_TCP_ACK);
	rule_tcp_flags(rule_add(&pol, PD_DROP, 3), PD_TCP_RST, PD_TCP_RST);
	install(&pol);

	for (f = 0; f < NFAMILIES; f++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			for (k = 0; k < 4; k++)
				before[k] = rule_stats(counters[k]);
			pkt_tcp(&p, families[f], cases[i].flags);
			ck_assert_msg(run(&p) == (cases[i].rule == 100 ? BPF_OK : BPF_DROP),
				      "family %d flags %#x", families[f], cases[i].flags);
			for (k = 0; k < 4; k++) {
				after = rule_stats(counters[k]);
				ck_assert_msg(after.packets - before[k].packets ==
						      (counters[k] == (__u32)cases[i].rule),
					      "family %d flags %#x: counter %u", families[f],
					      cases[i].flags, counters[k]);
			}
		}
	}
}
END_TEST

/* Only TCP with a readable flags byte: not UDP, not a fragment, not a cut header. */
START_TEST(test_tcp_flags_needs_tcp)
{
	struct pd_policy pol;
	struct pkt p;
	int f;

	policy_init(&pol, PD_PASS, 100);
	rule_tcp_flags(rule_add(&pol, PD_DROP, 1), PD_TCP_SYN | PD_TCP_ACK, PD_TCP_SYN);
	/* ACK clear and nothing else: true of any byte with ACK clear. */
	rule_tcp_flags(rule_add(&pol, PD_DROP, 2), PD_TCP_ACK, 0);
	rule_dport(rule_add(&pol, PD_PASS, 3), 80, 80);
	install(&pol);

	for (f = 0; f < NFAMILIES; f++) {
		/* UDP whose payload has SYN where TCP's flags would be. */
		pkt_l4(&p, families[f], IPPROTO_UDP, 40000, 80, 60);
		p.buf[p.l4 + 13] = PD_TCP_SYN;
		ck_assert_int_eq(run(&p), BPF_OK);
		pkt_icmp_type(&p, families[f], 8);
		ck_assert_int_eq(run(&p), BPF_OK);
		pkt_later_fragment(&p, families[f], IPPROTO_TCP, 40000, 80, PD_TCP_SYN);
		ck_assert_int_eq(run(&p), BPF_OK);
		/* TCP cut one byte before its flags: the ports are there, the flags not. */
		pkt_tcp(&p, families[f], PD_TCP_SYN);
		p.len = p.l4 + 13;
		pkt_finish(&p);
		ck_assert_int_eq(run(&p), BPF_OK);
		/* ... and with the flags byte it matches. */
		p.len = p.l4 + 14;
		pkt_finish(&p);
		ck_assert_int_eq(run(&p), BPF_DROP);
	}
	ck_assert_uint_eq(rule_stats(1).dropped_packets, 2);
	ck_assert_uint_eq(rule_stats(2).packets, 0);
	/* UDP and the cut TCP reached the dport rule; ICMP and fragments the default. */
	ck_assert_uint_eq(rule_stats(3).passed_packets, 4);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 4);
}
END_TEST

/* --- icmp-type ----------------------------------------------------------- */

START_TEST(test_icmp_type)
{
	struct pd_policy pol;
	struct pd_rule *r;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	rule_proto(r, IPPROTO_ICMP);
	rule_icmp_type(r, 8); /* echo-request */
	r = rule_add(&pol, PD_DROP, 2);
	rule_proto(r, IPPROTO_ICMPV6);
	rule_icmp_type(r, 128); /* echo-request */
	install(&pol);

	pkt_icmp_type(&p, AF_INET, 8);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_icmp_type(&p, AF_INET, 0); /* echo-reply */
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_icmp_type(&p, AF_INET6, 128);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_icmp_type(&p, AF_INET6, 129); /* echo-reply */
	ck_assert_int_eq(run(&p), BPF_OK);
	/* ICMPv4's echo-request number in ICMPv6, and the reverse. */
	pkt_icmp_type(&p, AF_INET6, 8);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_icmp_type(&p, AF_INET, 128);
	ck_assert_int_eq(run(&p), BPF_OK);

	/* ICMPv6 inside IPv4 (proto 58) is not ICMP(v6) to the program. */
	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4, IPPROTO_ICMPV6, 0);
	pkt_icmp(&p, 128);
	pkt_pad_to(&p, 84);
	ck_assert_int_eq(run(&p), BPF_OK);
	/* A UDP packet whose first byte is 8. */
	pkt_l4(&p, AF_INET, IPPROTO_UDP, 8 << 8, 53, 84);
	ck_assert_int_eq(run(&p), BPF_OK);

	ck_assert_uint_eq(rule_stats(1).dropped_packets, 1);
	ck_assert_uint_eq(rule_stats(2).dropped_packets, 1);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 6);
}
END_TEST

/* Every word and both ends of the 256-bit set. */
START_TEST(test_icmp_type_bitmap)
{
	static const __u8 types[] = { 0, 31, 32, 63, 100, 200, 224, 255 };
	struct pd_policy pol;
	struct pd_rule *r;
	struct pkt p;
	unsigned int t;
	size_t i;
	int in, f;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	rule_proto(r, IPPROTO_ICMP);
	for (i = 0; i < sizeof(types); i++)
		rule_icmp_type(r, types[i]);
	r = rule_add(&pol, PD_DROP, 2);
	*r = pol.rules[0];
	r->counter = 2;
	r->proto = IPPROTO_ICMPV6;
	install(&pol);

	for (f = 0; f < NFAMILIES; f++) {
		for (t = 0; t < 256; t++) {
			in = !!memchr(types, (int)t, sizeof(types));
			pkt_icmp_type(&p, families[f], (__u8)t);
			ck_assert_msg(run(&p) == (in ? BPF_DROP : BPF_OK), "family %d type %u",
				      families[f], t);
		}
	}
	ck_assert_uint_eq(rule_stats(1).dropped_packets, sizeof(types));
	ck_assert_uint_eq(rule_stats(2).dropped_packets, sizeof(types));
	ck_assert_uint_eq(rule_stats(100).passed_packets, 2 * (256 - sizeof(types)));
}
END_TEST

/* Non-first fragments have no ICMP header, whatever their payload. */
START_TEST(test_icmp_type_fragment)
{
	struct pd_policy pol;
	struct pd_rule *r;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	r = rule_add(&pol, PD_DROP, 1);
	rule_proto(r, IPPROTO_ICMP);
	rule_icmp_type(r, 8);
	r = rule_add(&pol, PD_DROP, 2);
	rule_proto(r, IPPROTO_ICMPV6);
	rule_icmp_type(r, 128);
	rule_proto(rule_add(&pol, PD_PASS, 3), IPPROTO_ICMP);
	rule_proto(rule_add(&pol, PD_PASS, 4), IPPROTO_ICMPV6);
	install(&pol);

	/* Payloads starting with the type byte (the "sport" high byte). */
	pkt_later_fragment(&p, AF_INET, IPPROTO_ICMP, 8 << 8, 0, 0);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_later_fragment(&p, AF_INET6, IPPROTO_ICMPV6, 128 << 8, 0, 0);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(rule_stats(3).passed_packets, 1);
	ck_assert_uint_eq(rule_stats(4).passed_packets, 1);

	/* The first fragment has it. */
	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST4, IPPROTO_ICMP, 0x2000);
	pkt_icmp(&p, 8);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_init(&p, ETH_P_IPV6);
	pkt_ipv6(&p, HOST6, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(&p, IPPROTO_ICMPV6, 0, 1);
	pkt_icmp(&p, 128);
	pkt_pad_to(&p, 100);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(1).dropped_packets, 1);
	ck_assert_uint_eq(rule_stats(2).dropped_packets, 1);
}
END_TEST

/* --- all of them in one rule --------------------------------------------- */

START_TEST(test_all_conditions)
{
	struct pd_policy pol, base;
	struct pd_counters c;
	struct pd_rule *r;
	struct pkt p;

	policy_init(&base, PD_PASS, 100);
	r = rule_add(&base, PD_DROP, 1);
	rule_proto(r, IPPROTO_TCP);
	rule_dport(r, 22, 22);
	rule_sport(r, 1024, 65535);
	rule_length(r, 40, 100);
	rule_tcp_flags(r, PD_TCP_SYN | PD_TCP_ACK, PD_TCP_SYN);
	r->match |= PD_MATCH_SRC;
	install(&base);
	add_src(0, 0, 0, "198.18.0.0/24");
	add_src(0, 0, 0, "2001:db8::/64");

	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 22, 60);
	pkt_tcp_flags(&p, PD_TCP_SYN);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_set_src(&p, "198.18.1.1");
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 22, 60);
	pkt_tcp_flags(&p, PD_TCP_SYN | PD_TCP_ACK);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET, IPPROTO_TCP, 1000, 22, 60);
	pkt_tcp_flags(&p, PD_TCP_SYN);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 22, 101);
	pkt_tcp_flags(&p, PD_TCP_SYN);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 23, 60);
	pkt_tcp_flags(&p, PD_TCP_SYN);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET6, IPPROTO_TCP, 40000, 22, 80);
	pkt_tcp_flags(&p, PD_TCP_SYN);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_set_src(&p, "2001:db8:0:1::1");
	ck_assert_int_eq(run(&p), BPF_OK);
	c = rule_stats(1);
	assert_counted(&c, 2, 140, 1, PD_REASON_RULE);
	ck_assert_uint_eq(rule_stats(100).passed_packets, 6);

	/* Conditions not asked for are not tested: the same rule with only the
	 * length bit matches a UDP packet from anywhere with any ports. */
	pol = base;
	pol.rules[0].match = PD_MATCH_LENGTH;
	set_policy(0, 0, &pol);
	pkt_l4(&p, AF_INET, IPPROTO_UDP, 1, 53, 60);
	pkt_set_src(&p, "198.19.0.1");
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_icmp_type(&p, AF_INET6, 1);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(1).dropped_packets, 4);
}
END_TEST

/* --- monitor mode -------------------------------------------------------- */

START_TEST(test_monitor)
{
	struct pd_policy pol;
	struct pd_policy_stats st;
	struct pd_counters c;
	struct pkt p;

	policy_init(&pol, PD_DROP, 100);
	pol.flags |= PD_POLICY_MONITOR;
	rule_dport(rule_add(&pol, PD_DROP, 1), 22, 22);
	rule_dport(rule_add(&pol, PD_PASS, 2), 80, 80);
	rule_sport(rule_add(&pol, PD_DROP, 3), 53, 53);
	install(&pol);

	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 22, 100);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET6, IPPROTO_TCP, 40000, 22, 200);
	ck_assert_int_eq(run_gso(&p, 3), BPF_OK);
	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 80, 300);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET6, IPPROTO_UDP, 53, 5353, 400);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET, IPPROTO_UDP, 40000, 5353, 500); /* the default: drop */
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_icmp_type(&p, AF_INET6, 128);
	ck_assert_int_eq(run_gso(&p, 2), BPF_OK);

	c = rule_stats(1);
	assert_monitored(&c, 4, 300, 4, 300);
	c = rule_stats(2);
	assert_monitored(&c, 1, 300, 0, 0);
	c = rule_stats(3);
	assert_monitored(&c, 1, 400, 1, 400);
	c = rule_stats(100);
	assert_monitored(&c, 3, 584, 3, 584);
	st = policy_stats(0);
	assert_monitored(&st.c, 9, 1584, 8, 1284);
	/* The histogram counts as in enforce mode. */
	ck_assert_uint_eq(st.hist[1], 1 + 2);
	ck_assert_uint_eq(st.hist[2], 3);
	ck_assert_uint_eq(st.hist[3], 3);

	/* The control: the same policy enforcing drops, and counts drops. */
	pol.flags &= ~PD_POLICY_MONITOR;
	set_policy(0, 0, &pol);
	pkt_l4(&p, AF_INET, IPPROTO_TCP, 40000, 22, 100);
	ck_assert_int_eq(run(&p), BPF_DROP);
	pkt_l4(&p, AF_INET, IPPROTO_UDP, 40000, 5353, 500);
	ck_assert_int_eq(run(&p), BPF_DROP);
	c = rule_stats(1);
	ck_assert_uint_eq(c.packets, 5);
	ck_assert_uint_eq(c.passed_packets, 4);
	ck_assert_uint_eq(c.would_drop_packets, 4);
	ck_assert_uint_eq(c.dropped_packets, 1);
	ck_assert_uint_eq(c.dropped_reason[PD_REASON_RULE], 1);
	c = rule_stats(100);
	ck_assert_uint_eq(c.dropped_reason[PD_REASON_DEFAULT], 1);
	ck_assert_uint_eq(c.would_drop_packets, 3);
	st = policy_stats(0);
	ck_assert_uint_eq(st.c.dropped_packets, 2);
	ck_assert_uint_eq(st.c.dropped_bytes, 600);
	ck_assert_uint_eq(st.c.would_drop_packets, 8);
	ck_assert_uint_eq(st.c.passed_packets, 9);
}
END_TEST

/* A monitored policy that passes everything would-drops nothing. */
START_TEST(test_monitor_pass)
{
	struct pd_policy pol;
	struct pd_policy_stats st;
	struct pd_counters c;
	struct pkt p;

	policy_init(&pol, PD_PASS, 100);
	pol.flags |= PD_POLICY_MONITOR;
	rule_proto(rule_add(&pol, PD_PASS, 1), IPPROTO_UDP);
	install(&pol);
	pkt_l4(&p, AF_INET, IPPROTO_UDP, 40000, 53, 100);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_l4(&p, AF_INET6, IPPROTO_TCP, 40000, 53, 100);
	ck_assert_int_eq(run(&p), BPF_OK);
	c = rule_stats(1);
	assert_counted(&c, 1, 100, 0, PD_REASON_RULE);
	c = rule_stats(100);
	assert_counted(&c, 1, 100, 0, PD_REASON_DEFAULT);
	st = policy_stats(0);
	assert_counted(&st.c, 2, 200, 0, PD_REASON_RULE);
}
END_TEST

static Suite *match_suite(void)
{
	Suite *s = suite_create("match");
	TCase *tc = tcase_create("test_run");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sport);
	tcase_add_test(tc, test_sport_first_fragment);
	tcase_add_test(tc, test_sport_and_dport);
	tcase_add_test(tc, test_src);
	tcase_add_test(tc, test_src_family);
	tcase_add_test(tc, test_src_scope);
	tcase_add_test(tc, test_length);
	tcase_add_test(tc, test_length_gso);
	tcase_add_test(tc, test_tcp_flags);
	tcase_add_test(tc, test_tcp_flags_needs_tcp);
	tcase_add_test(tc, test_icmp_type);
	tcase_add_test(tc, test_icmp_type_bitmap);
	tcase_add_test(tc, test_icmp_type_fragment);
	tcase_add_test(tc, test_all_conditions);
	tcase_add_test(tc, test_monitor);
	tcase_add_test(tc, test_monitor_pass);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_root_suite("check_match", match_suite);
}
