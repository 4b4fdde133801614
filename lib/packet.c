// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet 'policyctl explain' asks about: checking and resolving its
 * description with the compiler's own value parsers (so "tcp", "echo-request"
 * or "syn" mean here what they mean in a policy), and writing its bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include "packet.h"
#include "policy.h"
#include "policy_value.h"

static bool proto_has_ports(uint8_t proto)
{
	return proto == POLICY_PROTO_TCP || proto == POLICY_PROTO_UDP || proto == POLICY_PROTO_SCTP;
}

static bool proto_is_icmp(uint8_t proto)
{
	return proto == POLICY_PROTO_ICMP || proto == POLICY_PROTO_ICMPV6;
}

static const char *proto_text(uint8_t proto, char *buf, size_t size)
{
	const char *name = policy_proto_name(proto);

	if (name)
		return name;
	snprintf(buf, size, "%u", proto);
	return buf;
}

static int parse_address(const char *what, const char *s, struct prefix *out, char *why,
			 size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];

	if (prefix_parse(s, false, out) == 0 && out->len == prefix_max_len(out->family))
		return 0;
	policy_value_quote(s, q, sizeof(q));
	if (strchr(s, '/'))
		snprintf(why, size, "%s '%s' is a prefix (expected one IPv4 or IPv6 address)", what,
			 q);
	else
		snprintf(why, size, "invalid %s '%s' (expected an IPv4 or IPv6 address)", what, q);
	return -EINVAL;
}

static int parse_port(const char *what, const char *s, uint16_t *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	uint32_t v;

	if (policy_value_u32(s, 65535, &v) == 0) {
		*out = (uint16_t)v;
		return 0;
	}
	snprintf(why, size, "invalid %s '%s' (expected a number 0-65535)", what,
		 policy_value_quote(s, q, sizeof(q)));
	return -EINVAL;
}

/* "syn", "syn,ack", or "none" for a packet with no flag set. */
static int parse_tcp_flags(const char *s, uint8_t *out, char *why, size_t size)
{
	char item[16];
	uint8_t flags = 0, bit;

	if (!strcmp(s, "none")) {
		*out = 0;
		return 0;
	}
	while (*s) {
		size_t n = strcspn(s, ",");

		if (n == 0 || n >= sizeof(item)) {
			snprintf(
				why, size,
				"invalid tcp flags (expected names separated by commas, as syn,ack, or none)");
			return -EINVAL;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		if (policy_value_tcp_flag(item, &bit, why, size))
			return -EINVAL;
		flags |= bit;
		s += n;
		if (*s == ',' && !*++s) {
			snprintf(why, size,
				 "invalid tcp flags: a trailing comma (expected a name)");
			return -EINVAL;
		}
	}
	*out = flags;
	return 0;
}

static int parse_icmp_type(uint8_t proto, const char *s, uint8_t *out, char *why, size_t size)
{
	if (*s >= '0' && *s <= '9')
		return policy_value_icmp_number(s, out, why, size);
	return policy_value_icmp_type(proto, s, out, why, size);
}

static int check_family(const struct packet_spec *s, char *why, size_t size)
{
	if (s->proto == POLICY_PROTO_ICMP && s->dst.family == AF_INET6) {
		snprintf(why, size, "proto icmp with an IPv6 address (expected icmpv6)");
		return -EINVAL;
	}
	if (s->proto == POLICY_PROTO_ICMPV6 && s->dst.family == AF_INET) {
		snprintf(why, size, "proto icmpv6 with an IPv4 address (expected icmp)");
		return -EINVAL;
	}
	return 0;
}

size_t packet_headers_len(const struct packet_spec *s)
{
	size_t n = s->dst.family == AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);

	if (s->proto == POLICY_PROTO_TCP)
		n += 20;
	else if (s->proto == POLICY_PROTO_SCTP)
		n += 12;
	else if (s->proto == POLICY_PROTO_UDP || proto_is_icmp(s->proto))
		n += 8;
	return n;
}

int packet_spec_parse(const struct packet_args *a, struct packet_spec *s, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF], pbuf[8];
	const char *pname;
	uint32_t len;
	int err;

	memset(s, 0, sizeof(*s));
	if (!a->address) {
		snprintf(why, size, "missing address (expected the destination address)");
		return -EINVAL;
	}
	if (parse_address("address", a->address, &s->dst, why, size))
		return -EINVAL;
	if (a->proto) {
		if (policy_value_proto(a->proto, &s->proto, why, size))
			return -EINVAL;
	} else {
		/* What ping sends: the first thing one tries at an address. */
		s->proto = s->dst.family == AF_INET ? POLICY_PROTO_ICMP : POLICY_PROTO_ICMPV6;
	}
	if (check_family(s, why, size))
		return -EINVAL;
	s->ports = proto_has_ports(s->proto);
	s->icmp = proto_is_icmp(s->proto);
	pname = proto_text(s->proto, pbuf, sizeof(pbuf));

	if ((a->dport || a->sport) && !s->ports) {
		snprintf(why, size, "a %s port needs proto tcp, udp or sctp (found %s%s)",
			 a->dport ? "destination" : "source", a->proto ? "proto " : "no proto",
			 a->proto ? pname : "");
		return -EINVAL;
	}
	s->sport = PACKET_DEFAULT_SPORT;
	if (a->dport && parse_port("destination port", a->dport, &s->dport, why, size))
		return -EINVAL;
	if (a->sport && parse_port("source port", a->sport, &s->sport, why, size))
		return -EINVAL;

	s->src.family = s->dst.family;
	s->src.len = prefix_max_len(s->dst.family);
	if (a->src) {
		if (parse_address("source address", a->src, &s->src, why, size))
			return -EINVAL;
		if (s->src.family != s->dst.family) {
			snprintf(why, size, "source %s is %s, the address %s (expected one family)",
				 policy_value_quote(a->src, q, sizeof(q)),
				 s->src.family == AF_INET ? "IPv4" : "IPv6",
				 s->dst.family == AF_INET ? "IPv4" : "IPv6");
			return -EINVAL;
		}
	}

	s->tcp_flags = PD_TCP_SYN;
	if (a->tcp_flags) {
		if (s->proto != POLICY_PROTO_TCP) {
			snprintf(why, size, "tcp flags need proto tcp (found %s%s)",
				 a->proto ? "proto " : "no proto", a->proto ? pname : "");
			return -EINVAL;
		}
		if (parse_tcp_flags(a->tcp_flags, &s->tcp_flags, why, size))
			return -EINVAL;
	}
	if (s->icmp)
		s->icmp_type = s->proto == POLICY_PROTO_ICMP ? 8 : 128;
	if (a->icmp_type) {
		if (!s->icmp) {
			snprintf(why, size,
				 "an icmp type needs proto icmp or icmpv6 (found proto %s)", pname);
			return -EINVAL;
		}
		if (parse_icmp_type(s->proto, a->icmp_type, &s->icmp_type, why, size))
			return -EINVAL;
	}

	s->len = PACKET_DEFAULT_LEN;
	if (a->len) {
		err = policy_value_u32(a->len, PACKET_LEN_MAX, &len);
		if (err) {
			snprintf(
				why, size,
				err == -ERANGE ?
					"length %s is over the limit (expected at most %u)" :
					"invalid length '%s' (expected a number of bytes, at most %u)",
				policy_value_quote(a->len, q, sizeof(q)), PACKET_LEN_MAX);
			return -EINVAL;
		}
		s->len = (uint16_t)len;
	}
	if (s->len < packet_headers_len(s)) {
		snprintf(
			why, size,
			"length %u is shorter than the headers (expected at least %zu for %s over %s)",
			s->len, packet_headers_len(s), pname,
			s->dst.family == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	return 0;
}

/* The Internet checksum of an IPv4 header. */
static uint16_t ipv4_csum(const uint8_t *h, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)h[i] << 8 | h[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int packet_build(const struct packet_spec *s, uint8_t *buf, size_t size)
{
	size_t total = PACKET_ETH_LEN + s->len, l4;
	/* Headers are built aligned here and copied: at offset 14 of @buf they
	 * are not (x86 would not mind, the C standard does). */
	struct ethhdr eth = {};
	uint16_t v;

	if (size < total || s->len < packet_headers_len(s))
		return -ENOSPC;
	memset(buf, 0, total);
	/* Locally administered MACs: the kernel strips them unread. */
	memcpy(eth.h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(eth.h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	if (s->dst.family == AF_INET) {
		struct iphdr ip = {};

		eth.h_proto = htons(ETH_P_IP);
		ip.version = 4;
		ip.ihl = 5;
		ip.ttl = 64;
		ip.protocol = s->proto;
		ip.tot_len = htons(s->len);
		ip.frag_off = htons(0x4000); /* DF, as a TCP stack sends */
		memcpy(&ip.saddr, s->src.addr, 4);
		memcpy(&ip.daddr, s->dst.addr, 4);
		ip.check = htons(ipv4_csum((const uint8_t *)&ip, sizeof(ip)));
		memcpy(buf + PACKET_ETH_LEN, &ip, sizeof(ip));
		l4 = PACKET_ETH_LEN + sizeof(ip);
	} else {
		struct ipv6hdr ip6 = {};

		eth.h_proto = htons(ETH_P_IPV6);
		ip6.version = 6;
		ip6.hop_limit = 64;
		ip6.nexthdr = s->proto;
		ip6.payload_len = htons((uint16_t)(s->len - sizeof(ip6)));
		memcpy(&ip6.saddr, s->src.addr, 16);
		memcpy(&ip6.daddr, s->dst.addr, 16);
		memcpy(buf + PACKET_ETH_LEN, &ip6, sizeof(ip6));
		l4 = PACKET_ETH_LEN + sizeof(ip6);
	}
	memcpy(buf, &eth, sizeof(eth));
	if (s->ports) {
		/* TCP, UDP and SCTP all start with the two ports. */
		v = htons(s->sport);
		memcpy(buf + l4, &v, 2);
		v = htons(s->dport);
		memcpy(buf + l4 + 2, &v, 2);
		if (s->proto == POLICY_PROTO_TCP) {
			buf[l4 + 12] = 5 << 4; /* data offset: 20 bytes */
			buf[l4 + 13] = s->tcp_flags;
			buf[l4 + 15] = 0xff; /* a window of 255 */
		} else if (s->proto == POLICY_PROTO_UDP) {
			v = htons((uint16_t)(total - l4));
			memcpy(buf + l4 + 4, &v, 2);
		}
	} else if (s->icmp) {
		buf[l4] = s->icmp_type;
	}
	return (int)total;
}

static void format_flags(uint8_t flags, char *buf, size_t size)
{
	size_t used = 0;
	const char *name;
	unsigned int i;
	uint8_t bit;

	snprintf(buf, size, "none");
	for (i = 0; (name = policy_value_tcp_flag_name(i, &bit)); i++) {
		if (!(flags & bit) || used + strlen(name) + 2 > size)
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "," : "", name);
	}
}

void packet_format(const struct packet_spec *s, char *buf, size_t size)
{
	char src[PREFIX_STR_MAX], dst[PREFIX_STR_MAX], pbuf[8], extra[64] = "";
	const char *proto = proto_text(s->proto, pbuf, sizeof(pbuf));
	bool v6 = s->dst.family == AF_INET6;

	prefix_format(&s->src, true, src, sizeof(src));
	prefix_format(&s->dst, true, dst, sizeof(dst));
	if (s->ports) {
		if (s->proto == POLICY_PROTO_TCP) {
			char flags[40];

			format_flags(s->tcp_flags, flags, sizeof(flags));
			snprintf(extra, sizeof(extra), " flags %s", flags);
		}
		snprintf(buf, size, "%s %s%s%s:%u > %s%s%s:%u%s, %u bytes", proto, v6 ? "[" : "",
			 src, v6 ? "]" : "", s->sport, v6 ? "[" : "", dst, v6 ? "]" : "", s->dport,
			 extra, s->len);
		return;
	}
	if (s->icmp) {
		const char *name = policy_value_icmp_name(s->proto, s->icmp_type);

		if (name)
			snprintf(extra, sizeof(extra), " %s", name);
		else
			snprintf(extra, sizeof(extra), " type %u", s->icmp_type);
	}
	snprintf(buf, size, "%s %s > %s%s, %u bytes", proto, src, dst, extra, s->len);
}
