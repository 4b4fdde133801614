// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of lib/hostport.c: IPv4 and bracketed IPv6 listening
 * addresses, port bounds, and every malformed form policyd --metrics must
 * refuse with a message.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hostport.h"

START_TEST(test_ipv4)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	socklen_t len = 0;
	char err[256] = "";

	ck_assert_int_eq(hostport_parse("127.0.0.1:9101", &ss, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(*sin));
	ck_assert_uint_eq(ntohs(sin->sin_port), 9101);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	ck_assert_int_eq(hostport_parse("0.0.0.0:65535", &ss, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(ntohs(sin->sin_port), 65535);
}
END_TEST

START_TEST(test_ipv6)
{
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = 0;
	char err[256] = "";

	ck_assert_int_eq(hostport_parse("[2001:db8::1]:1", &ss, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(*sin6));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 1);
	ck_assert_mem_eq(&sin6->sin6_addr, want, 16);
	ck_assert_int_eq(hostport_parse("[::]:9101", &ss, &len, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_invalid)
{
	static const struct {
		const char *in, *msg; /* @msg: a part of the error */
	} bad[] = {
		{ "127.0.0.1", "expected ADDR:PORT" },
		{ "127.0.0.1:", "port" },
		{ "127.0.0.1:0", "port" },
		{ "127.0.0.1:65536", "port" },
		{ "127.0.0.1:-1", "port" },
		{ "127.0.0.1:+80", "port" },
		{ "127.0.0.1:80x", "port" },
		{ "127.0.0.1:99999999999999999999", "port" },
		{ ":9101", "give an address" },
		{ "localhost:9101", "not an IPv4 address" },
		{ "300.0.0.1:9101", "not an IPv4 address" },
		{ "::1:9101", "brackets" },
		{ "[::1]9101", "[IPv6]:PORT" },
		{ "[::1", "[IPv6]:PORT" },
		{ "[127.0.0.1]:9101", "not an IPv6 address" },
		{ "[]:9101", "not an IPv6 address" },
		{ "[1111:2222:3333:4444:5555:6666:7777:8888:9999]:1", "not an IPv6 address" },
		{ "1111111111111111111111111111111111111111111111111111111:1", "not an IPv4" },
		{ "", "expected ADDR:PORT" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		char err[256] = "";

		ck_assert_msg(hostport_parse(bad[i].in, &ss, &len, err, sizeof(err)) == -EINVAL,
			      "'%s' parsed", bad[i].in);
		ck_assert_msg(strstr(err, bad[i].msg), "'%s': message '%s' lacks '%s'", bad[i].in,
			      err, bad[i].msg);
	}
}
END_TEST

static Suite *hostport_suite(void)
{
	Suite *s = suite_create("hostport");
	TCase *tc = tcase_create("hostport");

	tcase_add_test(tc, test_ipv4);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hostport_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
