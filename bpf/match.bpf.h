/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Rule matching for policyd's LWT_OUT program: proto and dport inline, every
 * other condition (TCP flags, ICMP type, sport, length, src) in one global
 * function the verifier checks on its own.
 */
#ifndef POLICYD_MATCH_BPF_H
#define POLICYD_MATCH_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/policy_abi.h"
#include "bpf/maps.bpf.h"
#include "bpf/parse.bpf.h"

/* @port (or PD_NO_PORT) is in one of the first @n of @ranges. */
static __always_inline int pd_port_in(const struct pd_port_range *ranges, __u32 n, __u32 port)
{
	__u32 j;

	for (j = 0; j < PD_MAX_PORT_RANGES; j++) {
		if (j >= n)
			break;
		if (port >= ranges[j].lo && port <= ranges[j].hi)
			return 1;
	}
	return 0;
}

/*
 * The packet's source is in one of the pd_src prefixes of rule @index of the
 * policy at pd_policies[@policy]. The source is read here, not by the parse: the
 * packets of policies without src rules never pay for it. The parse has read the
 * whole IP header already, so it is there.
 */
static __always_inline int pd_src_matches(struct __sk_buff *skb, __u32 policy, __u32 index)
{
	struct pd_src_key key = {
		.gen = policy / PD_MAX_POLICIES,
		.rule = index,
		.slot = policy % PD_MAX_POLICIES,
	};
	const void *saddr;
	__u8 buf[16];

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		saddr = pd_header(skb, __builtin_offsetof(struct iphdr, saddr), buf, 4);
		if (!saddr)
			return 0;
		key.prefixlen = PD_SRC_KEY_HDR_BITS + 32;
		key.family = AF_INET;
		__builtin_memcpy(key.addr, saddr, 4);
	} else {
		saddr = pd_header(skb, __builtin_offsetof(struct ipv6hdr, saddr), buf, 16);
		if (!saddr)
			return 0;
		key.prefixlen = PD_SRC_KEY_HDR_BITS + 128;
		key.family = AF_INET6;
		__builtin_memcpy(key.addr, saddr, 16);
	}
	return bpf_map_lookup_elem(&pd_src, &key) != NULL;
}

/*
 * The conditions beyond proto and dport, cheapest first; the pd_src lookup, the
 * only costly one, last. @policy is the policy's index in pd_policies, @index the
 * rule's in the policy.
 *
 * A global function, on purpose: the verifier checks it once, on its own, rather
 * than once per rule of the loop and path into it, which took the program from
 * about 85k to 590k processed instructions. The price, a call, is paid only by
 * rules that test more than proto and dport.
 */
__noinline int pd_rule_matches_more(struct __sk_buff *skb, const struct pd_rule *rule,
				    const struct pd_pkt *pkt, __u32 policy, __u32 index)
{
	__u32 match, n, j, type, len;
	int hit;

	/* Never NULL; the verifier wants it shown for a global function's pointers. */
	if (!rule || !pkt)
		return 0;
	match = rule->match;
	if ((match & PD_MATCH_TCP_FLAGS) &&
	    (pkt->tcp_flags & (rule->tcp_flags_mask | PD_NO_TCP)) != rule->tcp_flags_value)
		return 0;
	if (match & PD_MATCH_ICMP_TYPE) {
		type = pkt->icmp_type;
		if (type > 255 || !(rule->icmp_types[type >> 5] & (1u << (type & 31))))
			return 0;
	}
	if ((match & PD_MATCH_SPORT) && !pd_port_in(rule->sport, rule->nsport, pkt->sport))
		return 0;
	if (match & PD_MATCH_LENGTH) {
		n = rule->nlength;
		len = skb->len; /* the IP length, as the histogram counts it */
		hit = 0;
		for (j = 0; j < PD_MAX_LENGTH_RANGES; j++) {
			if (j >= n)
				break;
			if (len >= rule->length[j].lo && len <= rule->length[j].hi) {
				hit = 1;
				break;
			}
		}
		if (!hit)
			return 0;
	}
	if ((match & PD_MATCH_SRC) && !pd_src_matches(skb, policy, index))
		return 0;
	return 1;
}

/*
 * Rules that test only proto and dport (the common kind) take one test more
 * than before the other matches existed: the rest is out of their way.
 */
static __always_inline int pd_rule_matches(struct __sk_buff *skb, const struct pd_rule *rule,
					   const struct pd_pkt *pkt, __u32 policy, __u32 index)
{
	__u32 match = rule->match;

	if ((match & PD_MATCH_PROTO) && rule->proto != pkt->proto)
		return 0;
	if ((match & PD_MATCH_DPORT) && !pd_port_in(rule->dport, rule->ndport, pkt->dport))
		return 0;
	if (match & ~(PD_MATCH_PROTO | PD_MATCH_DPORT))
		return pd_rule_matches_more(skb, rule, pkt, policy, index);
	return 1;
}

#endif
