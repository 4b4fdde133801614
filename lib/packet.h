/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet 'policyctl explain' asks about: its description from the
 * command line (checked by policyctl, checked again by policyd, with the
 * same code and messages) and its bytes, as BPF_PROG_TEST_RUN takes them.
 */
#ifndef POLICYD_PACKET_H
#define POLICYD_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

/* Defaults and limits, documented in policyctl(8). */
#define PACKET_DEFAULT_LEN 100
#define PACKET_DEFAULT_SPORT 40000
/* BPF_PROG_TEST_RUN copies the data into one page with the skb's headroom
 * and tailroom: 3000 bytes of IP packet fit with room to spare. */
#define PACKET_LEN_MAX 3000
/* An Ethernet header (the kernel strips it for LWT programs) and the rest. */
#define PACKET_ETH_LEN 14
#define PACKET_BUF_MAX (PACKET_ETH_LEN + PACKET_LEN_MAX)

/* The packet as given, in text; NULL for what was not given. */
struct packet_args {
	const char *address; /* destination address: required */
	const char *proto; /* tcp, udp, sctp, icmp, icmpv6, other names, 0-255 */
	const char *dport; /* only with tcp, udp, sctp */
	const char *src;
	const char *sport; /* only with tcp, udp, sctp */
	const char *len; /* IP packet length */
	const char *tcp_flags; /* "syn,ack"; only with tcp */
	const char *icmp_type; /* a name of the proto's, or 0-255; only with icmp(v6) */
};

/* The packet, resolved: defaults filled in. */
struct packet_spec {
	struct prefix dst; /* full length */
	struct prefix src; /* full length, the family of dst; default 0.0.0.0 or :: */
	uint8_t proto; /* default: icmp (icmpv6 for IPv6) */
	bool ports; /* proto is tcp, udp or sctp: sport and dport are in the packet */
	uint16_t dport; /* default 0 */
	uint16_t sport; /* default PACKET_DEFAULT_SPORT */
	bool icmp; /* proto is icmp or icmpv6: icmp_type is in the packet */
	uint8_t icmp_type; /* default echo-request */
	uint8_t tcp_flags; /* PD_TCP_*; default SYN */
	uint16_t len; /* IP packet length; default PACKET_DEFAULT_LEN */
};

/*
 * Check @args and resolve them into *@out. Returns 0, or -EINVAL with
 * "what is wrong (what was expected)" in @why, *@out then undefined.
 */
int packet_spec_parse(const struct packet_args *args, struct packet_spec *out, char *why,
		      size_t size);

/* The length of @s's IP and upper-layer headers: the least --len. */
size_t packet_headers_len(const struct packet_spec *s);

/*
 * Write @s's packet into @buf: an Ethernet header, the IP header (IPv4
 * with its checksum, or IPv6), the upper-layer header (TCP, UDP, SCTP,
 * ICMP or ICMPv6, checksums zero), zeros up to s->len. Returns the number
 * of bytes written, or -ENOSPC when @size is too small.
 */
int packet_build(const struct packet_spec *s, uint8_t *buf, size_t size);

/* "tcp 198.18.0.2:40000 > 198.18.2.1:80 syn, 100 bytes" and the like. */
void packet_format(const struct packet_spec *s, char *buf, size_t size);

#endif
