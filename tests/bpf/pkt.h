/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packet crafting for BPF_PROG_TEST_RUN: an Ethernet header (the kernel strips
 * it for LWT programs), then IPv4/IPv6, extension headers and L4 headers appended
 * in order. Checksums are left zero: nothing on the test-run path checks them.
 */
#ifndef POLICYD_TESTS_PKT_H
#define POLICYD_TESTS_PKT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* test_run accepts at most about a page of data. */
#define PKT_MAX 3500

struct pkt {
	uint8_t buf[PKT_MAX];
	size_t len;
	size_t l3; /* offset of the IP header */
	size_t l4; /* offset of the L4 header, once appended */
	int family;
};

/* Append @n zero bytes; abort() on overflow (a bug in the test, not the program). */
static inline void *pkt_put(struct pkt *p, size_t n)
{
	void *at;

	if (p->len + n > sizeof(p->buf))
		abort();
	at = p->buf + p->len;
	memset(at, 0, n);
	p->len += n;
	return at;
}

static inline void pkt_init(struct pkt *p, uint16_t ethertype)
{
	struct ethhdr *eth;

	memset(p, 0, sizeof(*p));
	eth = pkt_put(p, sizeof(*eth));
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	eth->h_proto = htons(ethertype);
	p->l3 = p->len;
}

/* IPv4 header (ihl 5) to @dst; @frag_off is the host-order flags|offset word. */
static inline void pkt_ipv4(struct pkt *p, const char *dst, uint8_t proto, uint16_t frag_off)
{
	struct iphdr *iph = pkt_put(p, sizeof(*iph));

	iph->version = 4;
	iph->ihl = 5;
	iph->ttl = 64;
	iph->protocol = proto;
	iph->frag_off = htons(frag_off);
	iph->saddr = htonl(0xc6120001); /* 198.18.0.1 */
	if (inet_pton(AF_INET, dst, &iph->daddr) != 1)
		abort();
	p->family = AF_INET;
}

static inline void pkt_ipv6(struct pkt *p, const char *dst, uint8_t nexthdr)
{
	struct ipv6hdr *ip6h = pkt_put(p, sizeof(*ip6h));

	ip6h->version = 6;
	ip6h->nexthdr = nexthdr;
	ip6h->hop_limit = 64;
	if (inet_pton(AF_INET6, "2001:db8::1", &ip6h->saddr) != 1 ||
	    inet_pton(AF_INET6, dst, &ip6h->daddr) != 1)
		abort();
	p->family = AF_INET6;
}

/* Hop-by-hop, routing or destination options header of (@hdrlen + 1) * 8 bytes. */
static inline void pkt_ipv6_opts(struct pkt *p, uint8_t nexthdr, uint8_t hdrlen)
{
	uint8_t *h = pkt_put(p, ((size_t)hdrlen + 1) * 8);

	h[0] = nexthdr;
	h[1] = hdrlen;
	h[2] = 1; /* PadN, filling the rest with zeros */
	h[3] = (uint8_t)(((size_t)hdrlen + 1) * 8 - 4);
}

/* Fragment header; @offset in 8-octet units. */
static inline void pkt_ipv6_frag(struct pkt *p, uint8_t nexthdr, uint16_t offset, int more)
{
	uint8_t *h = pkt_put(p, 8);
	uint16_t off = htons((uint16_t)(offset << 3) | (more ? 1 : 0));

	h[0] = nexthdr;
	memcpy(h + 2, &off, 2);
	memcpy(h + 4, "\x00\x00\x12\x34", 4);
}

/* TCP (20 bytes), UDP (8) or SCTP (12) header: ports at the same offsets in all three. */
static inline void pkt_ports(struct pkt *p, uint8_t proto, uint16_t sport, uint16_t dport)
{
	size_t n = proto == IPPROTO_TCP ? 20 : proto == IPPROTO_SCTP ? 12 : 8;
	uint8_t *h;

	p->l4 = p->len;
	h = pkt_put(p, n);
	sport = htons(sport);
	dport = htons(dport);
	memcpy(h, &sport, 2);
	memcpy(h + 2, &dport, 2);
	if (proto == IPPROTO_TCP)
		h[12] = 5 << 4; /* data offset */
}

/* Set the TCP flags byte of the TCP header just appended. */
static inline void pkt_tcp_flags(struct pkt *p, uint8_t flags)
{
	p->buf[p->l4 + 13] = flags;
}

/* Replace the source address of the IP header (IPv4 or IPv6, by the packet's family). */
static inline void pkt_set_src(struct pkt *p, const char *src)
{
	void *at;

	if (p->family == AF_INET)
		at = &((struct iphdr *)(p->buf + p->l3))->saddr;
	else
		at = &((struct ipv6hdr *)(p->buf + p->l3))->saddr;
	if (inet_pton(p->family, src, at) != 1)
		abort();
}

/* ICMP or ICMPv6 header (8 bytes). */
static inline void pkt_icmp(struct pkt *p, uint8_t type)
{
	uint8_t *h;

	p->l4 = p->len;
	h = pkt_put(p, 8);
	h[0] = type;
}

/* Write the IP length fields: call after the last append. */
static inline void pkt_finish(struct pkt *p)
{
	size_t ip_len = p->len - p->l3;

	if (p->family == AF_INET) {
		struct iphdr *iph = (struct iphdr *)(p->buf + p->l3);

		iph->tot_len = htons((uint16_t)ip_len);
	} else if (p->family == AF_INET6) {
		struct ipv6hdr *ip6h = (struct ipv6hdr *)(p->buf + p->l3);

		ip6h->payload_len = htons((uint16_t)(ip_len - sizeof(*ip6h)));
	}
}

/* Zero payload so that the IP packet is @ip_len bytes long, then finish. */
static inline void pkt_pad_to(struct pkt *p, size_t ip_len)
{
	if (p->len - p->l3 < ip_len)
		pkt_put(p, ip_len - (p->len - p->l3));
	pkt_finish(p);
}

/* IP length as the program sees it (skb->len): everything after Ethernet. */
static inline uint32_t pkt_ip_len(const struct pkt *p)
{
	return (uint32_t)(p->len - p->l3);
}

/* One-call packets: @proto with ports (TCP/UDP/SCTP) or ICMP(v6), padded to @ip_len. */
static inline void pkt_v4(struct pkt *p, const char *dst, uint8_t proto, uint16_t dport,
			  size_t ip_len)
{
	pkt_init(p, ETH_P_IP);
	pkt_ipv4(p, dst, proto, 0);
	if (proto == IPPROTO_ICMP)
		pkt_icmp(p, 8);
	else
		pkt_ports(p, proto, 40000, dport);
	pkt_pad_to(p, ip_len);
}

static inline void pkt_v6(struct pkt *p, const char *dst, uint8_t proto, uint16_t dport,
			  size_t ip_len)
{
	pkt_init(p, ETH_P_IPV6);
	pkt_ipv6(p, dst, proto);
	if (proto == IPPROTO_ICMPV6)
		pkt_icmp(p, 128);
	else
		pkt_ports(p, proto, 40000, dport);
	pkt_pad_to(p, ip_len);
}

/* pkt_v4 or pkt_v6, by the text of @dst. */
static inline void pkt_to(struct pkt *p, const char *dst, uint8_t proto, uint16_t dport,
			  size_t ip_len)
{
	if (strchr(dst, ':'))
		pkt_v6(p, dst, proto, dport, ip_len);
	else
		pkt_v4(p, dst, proto, dport, ip_len);
}

#endif
