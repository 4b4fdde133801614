// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of lib/packet.c: the explain packet's description (defaults,
 * every refusal and its message) and its bytes (Ethernet, IPv4 with a valid
 * checksum or IPv6, TCP/UDP/SCTP ports and flags, ICMP types, length).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/packet.h"

static char why[512];

static struct packet_spec parse_ok(struct packet_args a)
{
	struct packet_spec s;

	why[0] = '\0';
	ck_assert_msg(packet_spec_parse(&a, &s, why, sizeof(why)) == 0, "refused: %s", why);
	return s;
}

/* Refused, with @fragment in the message. */
static void parse_bad(struct packet_args a, const char *fragment)
{
	struct packet_spec s;

	why[0] = '\0';
	ck_assert_int_eq(packet_spec_parse(&a, &s, why, sizeof(why)), -EINVAL);
	ck_assert_msg(strstr(why, fragment), "message '%s' lacks '%s'", why, fragment);
}

static unsigned int be16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

START_TEST(test_defaults_v4)
{
	struct packet_spec s = parse_ok((struct packet_args){ .address = "198.18.2.1" });
	char buf[128];

	ck_assert_uint_eq(s.dst.family, AF_INET);
	ck_assert_uint_eq(s.proto, 1); /* icmp: what ping sends */
	ck_assert(s.icmp && !s.ports);
	ck_assert_uint_eq(s.icmp_type, 8);
	ck_assert_uint_eq(s.len, PACKET_DEFAULT_LEN);
	ck_assert_uint_eq(s.src.family, AF_INET);
	ck_assert_mem_eq(s.src.addr, "\0\0\0\0", 4);
	packet_format(&s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "icmp 0.0.0.0 > 198.18.2.1 echo-request, 100 bytes");
}
END_TEST

START_TEST(test_defaults_v6_tcp)
{
	struct packet_spec s =
		parse_ok((struct packet_args){ .address = "2001:db8:2::1", .proto = "tcp" });
	char buf[128];

	ck_assert_uint_eq(s.dst.family, AF_INET6);
	ck_assert_uint_eq(s.proto, 6);
	ck_assert(s.ports && !s.icmp);
	ck_assert_uint_eq(s.dport, 0);
	ck_assert_uint_eq(s.sport, PACKET_DEFAULT_SPORT);
	ck_assert_uint_eq(s.tcp_flags, 0x02);
	packet_format(&s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "tcp [::]:40000 > [2001:db8:2::1]:0 flags syn, 100 bytes");
	s = parse_ok((struct packet_args){ .address = "2001:db8:2::1" });
	ck_assert_uint_eq(s.proto, 58);
	ck_assert_uint_eq(s.icmp_type, 128);
}
END_TEST

START_TEST(test_everything_given)
{
	struct packet_spec s = parse_ok((struct packet_args){ .address = "198.18.2.1",
							      .proto = "tcp",
							      .dport = "443",
							      .src = "198.18.0.2",
							      .sport = "1234",
							      .len = "40",
							      .tcp_flags = "ack,fin" });
	char buf[128];

	ck_assert_uint_eq(s.dport, 443);
	ck_assert_uint_eq(s.sport, 1234);
	ck_assert_uint_eq(s.len, 40);
	ck_assert_uint_eq(s.tcp_flags, 0x10 | 0x01);
	ck_assert_mem_eq(s.src.addr, "\xc6\x12\x00\x02", 4);
	packet_format(&s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "tcp 198.18.0.2:1234 > 198.18.2.1:443 flags ack,fin, 40 bytes");
	s = parse_ok((struct packet_args){
		.address = "198.18.2.1", .proto = "tcp", .tcp_flags = "none" });
	ck_assert_uint_eq(s.tcp_flags, 0);
	s = parse_ok((struct packet_args){
		.address = "198.18.2.1", .proto = "icmp", .icmp_type = "timestamp-request" });
	ck_assert_uint_eq(s.icmp_type, 13);
	s = parse_ok((struct packet_args){
		.address = "198.18.2.1", .proto = "icmp", .icmp_type = "42" });
	ck_assert_uint_eq(s.icmp_type, 42);
	s = parse_ok((struct packet_args){ .address = "198.18.2.1", .proto = "47" });
	ck_assert_uint_eq(s.proto, 47);
	ck_assert(!s.ports && !s.icmp);
	packet_format(&s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "gre 0.0.0.0 > 198.18.2.1, 100 bytes");
	s = parse_ok((struct packet_args){ .address = "198.18.2.1", .proto = "253", .len = "20" });
	ck_assert_uint_eq(s.len, 20);
}
END_TEST

START_TEST(test_refusals)
{
	parse_bad((struct packet_args){ 0 }, "missing address");
	parse_bad((struct packet_args){ .address = "198.18.2.300" },
		  "invalid address '198.18.2.300'");
	parse_bad((struct packet_args){ .address = "198.18.2.0/24" }, "is a prefix");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "tcpp" },
		  "invalid proto 'tcpp'");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "256" }, "out of range");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "icmpv6" },
		  "icmpv6 with an IPv4 address");
	parse_bad((struct packet_args){ .address = "2001:db8::1", .proto = "icmp" },
		  "icmp with an IPv6 address");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .dport = "80" },
		  "a destination port needs proto tcp, udp or sctp (found no proto)");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "icmp", .dport = "80" },
		  "(found proto icmp)");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "gre", .sport = "80" },
		  "a source port needs");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "udp", .dport = "65536" },
		  "invalid destination port '65536'");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "udp", .dport = "http" },
		  "expected a number 0-65535");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .src = "2001:db8::1" },
		  "expected one family");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .src = "x" },
		  "invalid source address 'x'");
	parse_bad(
		(struct packet_args){ .address = "198.18.2.1", .proto = "udp", .tcp_flags = "syn" },
		"tcp flags need proto tcp (found proto udp)");
	parse_bad(
		(struct packet_args){ .address = "198.18.2.1", .proto = "tcp", .tcp_flags = "sin" },
		"invalid tcp flag 'sin'");
	parse_bad((struct packet_args){ .address = "198.18.2.1",
					.proto = "tcp",
					.tcp_flags = "syn," },
		  "trailing comma");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "tcp", .icmp_type = "8" },
		  "an icmp type needs proto icmp or icmpv6");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .icmp_type = "ping" },
		  "unknown icmp type 'ping'");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .len = "3001" }, "over the limit");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .len = "-1" }, "invalid length");
	parse_bad((struct packet_args){ .address = "198.18.2.1", .proto = "tcp", .len = "39" },
		  "length 39 is shorter than the headers (expected at least 40 for tcp over IPv4)");
	parse_bad((struct packet_args){ .address = "2001:db8::1", .proto = "udp", .len = "47" },
		  "expected at least 48 for udp over IPv6");
}
END_TEST

START_TEST(test_build_ipv4_tcp)
{
	struct packet_spec s = parse_ok((struct packet_args){ .address = "198.18.2.1",
							      .proto = "tcp",
							      .dport = "80",
							      .src = "198.18.0.2",
							      .len = "60",
							      .tcp_flags = "syn,ack" });
	uint8_t buf[PACKET_BUF_MAX], *ip = buf + 14, *tcp = ip + 20;
	uint32_t sum = 0;

	ck_assert_int_eq(packet_build(&s, buf, sizeof(buf)), 14 + 60);
	ck_assert_uint_eq(be16(buf + 12), 0x0800);
	ck_assert_uint_eq(ip[0], 0x45);
	ck_assert_uint_eq(be16(ip + 2), 60);
	ck_assert_uint_eq(ip[9], 6);
	ck_assert_mem_eq(ip + 12, "\xc6\x12\x00\x02\xc6\x12\x02\x01", 8);
	/* A valid header checksum sums to 0xffff. */
	for (int i = 0; i < 20; i += 2)
		sum += be16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ck_assert_uint_eq(sum, 0xffff);
	ck_assert_uint_eq(be16(tcp), PACKET_DEFAULT_SPORT);
	ck_assert_uint_eq(be16(tcp + 2), 80);
	ck_assert_uint_eq(tcp[12] >> 4, 5);
	ck_assert_uint_eq(tcp[13], 0x12);
	/* Too small a buffer is refused, not overrun. */
	ck_assert_int_eq(packet_build(&s, buf, 14 + 59), -ENOSPC);
}
END_TEST

START_TEST(test_build_ipv6_udp_icmp)
{
	struct packet_spec s = parse_ok((struct packet_args){
		.address = "2001:db8:2::1", .proto = "udp", .dport = "53", .sport = "5353" });
	uint8_t buf[PACKET_BUF_MAX], *ip = buf + 14, *l4 = ip + 40;

	ck_assert_int_eq(packet_build(&s, buf, sizeof(buf)), 14 + 100);
	ck_assert_uint_eq(be16(buf + 12), 0x86dd);
	ck_assert_uint_eq(ip[0] >> 4, 6);
	ck_assert_uint_eq(be16(ip + 4), 60); /* payload length */
	ck_assert_uint_eq(ip[6], 17);
	ck_assert_mem_eq(ip + 24, "\x20\x01\x0d\xb8\x00\x02", 6);
	ck_assert_uint_eq(be16(l4), 5353);
	ck_assert_uint_eq(be16(l4 + 2), 53);
	ck_assert_uint_eq(be16(l4 + 4), 60); /* UDP length */

	s = parse_ok((struct packet_args){ .address = "2001:db8:2::1", .len = "48" });
	ck_assert_int_eq(packet_build(&s, buf, sizeof(buf)), 14 + 48);
	ck_assert_uint_eq(ip[6], 58);
	ck_assert_uint_eq(l4[0], 128);

	s = parse_ok(
		(struct packet_args){ .address = "198.18.2.1", .proto = "sctp", .dport = "9" });
	ck_assert_int_eq(packet_build(&s, buf, sizeof(buf)), 14 + 100);
	ck_assert_uint_eq(buf[14 + 9], 132);
	ck_assert_uint_eq(be16(buf + 14 + 20 + 2), 9);
}
END_TEST

static Suite *packet_suite(void)
{
	Suite *s = suite_create("packet");
	TCase *tc = tcase_create("packet");

	tcase_add_test(tc, test_defaults_v4);
	tcase_add_test(tc, test_defaults_v6_tcp);
	tcase_add_test(tc, test_everything_given);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_build_ipv4_tcp);
	tcase_add_test(tc, test_build_ipv6_udp_icmp);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(packet_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
