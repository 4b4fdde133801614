/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packet parsing for policyd's LWT_OUT program: the destination key from the IP
 * header, and the L4 fields the rules test (struct pd_pkt), past IPv6 extension
 * headers and through non-linear skbs.
 */
#ifndef POLICYD_PARSE_BPF_H
#define POLICYD_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/policy_abi.h"

/* <sys/socket.h> is not a UAPI header; the ABI stores these values. */
#define AF_INET 2
#define AF_INET6 10

/* IPv4 fragment offset bits (net/ip.h is not UAPI). */
#define PD_IP_OFFSET 0x1fff

/* IPv6 fragment header: offset in the upper 13 bits of frag_off. */
#define PD_IP6_OFFSET 0xfff8

/*
 * Extension headers walked before giving up on finding the upper layer. RFC 8200
 * order has at most hop-by-hop, dest-opts, routing, fragment, AH, dest-opts: six.
 * A longer chain is left with its last next-header as proto and no ports.
 */
#define PD_MAX_EXT_HDRS 6

/*
 * What the rules may look at. Each L4 field has a value no rule accepts for a
 * packet without it (not that protocol, a non-first fragment, a header cut
 * short), so a rule fails on it without a separate test: ports in host order, or
 * PD_NO_PORT, above every range's hi; the TCP flags byte, or PD_NO_TCP, a bit no
 * mask clears (see pd_rule_matches_more); the ICMP(v6) type, or PD_NO_ICMP, past
 * the 256-bit bitmap.
 */
#define PD_NO_PORT 0x10000u
#define PD_NO_TCP 0x100u
#define PD_NO_ICMP 0x100u

struct pd_pkt {
	__u32 dport;
	__u32 sport;
	__u16 tcp_flags;
	__u16 icmp_type;
	__u8 proto;
};

/*
 * Point at @len bytes at @off from the IP header on. The linear part is read in
 * place (the common case, and typed loads rather than a byte-wise copy); headers
 * beyond it, as in a forwarded GRO skb, are copied to @buf by the helper.
 * Returns NULL past the packet's end.
 */
static __always_inline const void *pd_header(struct __sk_buff *skb, __u32 off, void *buf, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (data + off + len <= data_end)
		return data + off;
	if (bpf_skb_load_bytes(skb, off, buf, len))
		return NULL;
	return buf;
}

/* Only these carry ports, and all three at offsets 0 and 2. */
static __always_inline int pd_proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/*
 * The L4 fields the rules test, read from the header at @l4off of a first (or
 * only) fragment; @icmp_proto is the family's ICMP: IPPROTO_ICMP for IPv4,
 * IPPROTO_ICMPV6 for IPv6. TCP's flags come in the same read as the ports.
 */
static __always_inline void pd_load_l4(struct __sk_buff *skb, __u32 l4off, struct pd_pkt *pkt,
				       __u8 icmp_proto)
{
	/* TCP up to its flags byte: ports, seq, ack, data offset, flags. */
	struct pd_tcp_head {
		__be16 sport;
		__be16 dport;
		__u8 seq_ack[8];
		__u8 doff;
		__u8 flags;
	};
	const struct pd_tcp_head *tcp;
	struct pd_tcp_head tcp_buf;
	const __be16 *ports;
	const __u8 *type;
	__be16 buf[2];
	__u8 type_buf;

	if (pd_proto_has_ports(pkt->proto)) {
		if (pkt->proto == IPPROTO_TCP) {
			tcp = pd_header(skb, l4off, &tcp_buf, sizeof(tcp_buf));
			if (tcp) {
				pkt->sport = bpf_ntohs(tcp->sport);
				pkt->dport = bpf_ntohs(tcp->dport);
				pkt->tcp_flags = tcp->flags;
				return;
			}
		}
		/* A header cut short (a truncated packet) has no ports: port rules skip it. */
		ports = pd_header(skb, l4off, buf, sizeof(buf));
		if (!ports)
			return;
		pkt->sport = bpf_ntohs(ports[0]);
		pkt->dport = bpf_ntohs(ports[1]);
	} else if (pkt->proto == icmp_proto) {
		type = pd_header(skb, l4off, &type_buf, sizeof(type_buf));
		if (type)
			pkt->icmp_type = *type;
	}
}

/* Returns 0 and fills @key and @pkt, or -1 if the packet is shorter than an IPv4 header. */
static __always_inline int pd_parse_ipv4(struct __sk_buff *skb, struct pd_dest_key *key,
					 struct pd_pkt *pkt)
{
	const struct iphdr *iph;
	struct iphdr buf;
	__u32 ihl;

	iph = pd_header(skb, 0, &buf, sizeof(buf));
	if (!iph)
		return -1;
	key->family = AF_INET;
	*(__be32 *)key->addr = iph->daddr;
	pkt->proto = iph->protocol;
	ihl = iph->ihl;
	/* Non-first fragments carry no L4 header; a bad ihl leaves L4 unknown. */
	if (ihl < 5 || (iph->frag_off & bpf_htons(PD_IP_OFFSET)))
		return 0;
	pd_load_l4(skb, ihl * 4, pkt, IPPROTO_ICMP);
	return 0;
}

/* Returns 0 and fills @key and @pkt, or -1 if the packet is shorter than an IPv6 header. */
static __always_inline int pd_parse_ipv6(struct __sk_buff *skb, struct pd_dest_key *key,
					 struct pd_pkt *pkt)
{
	/* hop-by-hop, routing, dest-opts: {nexthdr, hdrlen in 8-octet units - 1};
	 * AH: hdrlen in 4-octet units - 2; fragment: 8 bytes, offset in frag_off. */
	struct pd_ext_hdr {
		__u8 nexthdr;
		__u8 hdrlen;
		__be16 frag_off;
	};
	const struct ipv6hdr *ip6h;
	const struct pd_ext_hdr *ext;
	struct pd_ext_hdr ext_buf;
	struct ipv6hdr buf;
	__u32 off = sizeof(buf);
	__u8 nexthdr;
	int i;

	ip6h = pd_header(skb, 0, &buf, sizeof(buf));
	if (!ip6h)
		return -1;
	key->family = AF_INET6;
	__builtin_memcpy(key->addr, &ip6h->daddr, 16);
	nexthdr = ip6h->nexthdr;

	for (i = 0; i < PD_MAX_EXT_HDRS; i++) {
		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS && nexthdr != IPPROTO_FRAGMENT &&
		    nexthdr != IPPROTO_AH)
			break;
		ext = pd_header(skb, off, &ext_buf, sizeof(ext_buf));
		if (!ext) {
			/* Truncated chain: the rules see the header we could not read. */
			pkt->proto = nexthdr;
			return 0;
		}
		if (nexthdr == IPPROTO_FRAGMENT) {
			if (ext->frag_off & bpf_htons(PD_IP6_OFFSET)) {
				pkt->proto = ext->nexthdr;
				return 0;
			}
			off += 8;
		} else if (nexthdr == IPPROTO_AH) {
			off += ((__u32)ext->hdrlen + 2) * 4;
		} else {
			off += ((__u32)ext->hdrlen + 1) * 8;
		}
		nexthdr = ext->nexthdr;
	}
	pkt->proto = nexthdr;
	pd_load_l4(skb, off, pkt, IPPROTO_ICMPV6);
	return 0;
}

#endif
