// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of lib/prefix.c: parsing (lengths, bare addresses, host bits,
 * malformed text), formatting, and containment/overlap/equality across the
 * edges (/0, /32, /128, IPv4 against IPv6).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/prefix.h"

static struct prefix P(const char *s) {
	struct prefix p;

	ck_assert_msg(prefix_parse(s, false, &p) == 0, "'%s' does not parse", s);
	return p;
}

static const char *
fmt(const struct prefix *p, bool bare, char *buf)
{
	return prefix_format(p, bare, buf, PREFIX_STR_MAX);
}

START_TEST(test_parse_ipv4)
{
	static const uint8_t want[4] = { 198, 18, 4, 0 };
	struct prefix p;

	ck_assert_int_eq(prefix_parse("198.18.4.0/22", false, &p), 0);
	ck_assert_uint_eq(p.family, AF_INET);
	ck_assert_uint_eq(p.len, 22);
	ck_assert_mem_eq(p.addr, want, 4);
	/* IPv4 lives in the first four bytes; the rest stays zero. */
	ck_assert(!memcmp(p.addr + 4, "\0\0\0\0\0\0\0\0\0\0\0\0", 12));
}
END_TEST

START_TEST(test_parse_ipv6)
{
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x10 };
	struct prefix p;

	ck_assert_int_eq(prefix_parse("2001:db8:10::/48", false, &p), 0);
	ck_assert_uint_eq(p.family, AF_INET6);
	ck_assert_uint_eq(p.len, 48);
	ck_assert_mem_eq(p.addr, want, 16);
}
END_TEST

START_TEST(test_parse_edges)
{
	struct prefix p;

	ck_assert_int_eq(prefix_parse("0.0.0.0/0", false, &p), 0);
	ck_assert_uint_eq(p.len, 0);
	ck_assert_int_eq(prefix_parse("::/0", false, &p), 0);
	ck_assert_uint_eq(p.family, AF_INET6);
	ck_assert_uint_eq(p.len, 0);
	ck_assert_int_eq(prefix_parse("198.18.0.1/32", false, &p), 0);
	ck_assert_uint_eq(p.len, 32);
	ck_assert_int_eq(prefix_parse("2001:db8::1/128", false, &p), 0);
	ck_assert_uint_eq(p.len, 128);
	ck_assert_int_eq(prefix_parse("255.255.255.255/32", false, &p), 0);
	ck_assert_int_eq(prefix_parse("198.18.0.0/15", false, &p), 0);
	ck_assert_int_eq(prefix_parse("2001:db8::/20", false, &p),
			 -EINVAL); /* 0xd of db8 is past /20 */
	ck_assert_int_eq(prefix_parse("::ffff:198.18.0.0/112", false, &p), 0);
	ck_assert_uint_eq(p.family, AF_INET6);
}
END_TEST

START_TEST(test_parse_bare)
{
	struct prefix p;

	ck_assert_int_eq(prefix_parse("198.18.0.7", false, &p), 0);
	ck_assert_uint_eq(p.family, AF_INET);
	ck_assert_uint_eq(p.len, 32);
	ck_assert_int_eq(prefix_parse("2001:db8::7", false, &p), 0);
	ck_assert_uint_eq(p.family, AF_INET6);
	ck_assert_uint_eq(p.len, 128);
	ck_assert_int_eq(prefix_parse("::", false, &p), 0);
	ck_assert_uint_eq(p.len, 128);
}
END_TEST

START_TEST(test_parse_host_bits)
{
	char buf[PREFIX_STR_MAX];
	struct prefix p = { .family = 99 };

	/* Refused, and *out untouched. */
	ck_assert_int_eq(prefix_parse("198.18.0.1/24", false, &p), -EINVAL);
	ck_assert_uint_eq(p.family, 99);
	ck_assert_int_eq(prefix_parse("198.18.0.128/25", false, &p), 0);
	ck_assert_int_eq(prefix_parse("198.18.0.129/25", false, &p), -EINVAL);
	ck_assert_int_eq(prefix_parse("0.0.0.1/0", false, &p), -EINVAL);
	ck_assert_int_eq(prefix_parse("2001:db8::1/64", false, &p), -EINVAL);
	ck_assert_int_eq(prefix_parse("2001:db8::4000:0:0:0/65", false, &p), -EINVAL);

	/* Allowed: cleared. */
	ck_assert_int_eq(prefix_parse("198.18.0.1/24", true, &p), 0);
	ck_assert_str_eq(fmt(&p, false, buf), "198.18.0.0/24");
	ck_assert_int_eq(prefix_parse("198.18.255.255/15", true, &p), 0);
	ck_assert_str_eq(fmt(&p, false, buf), "198.18.0.0/15");
	ck_assert_int_eq(prefix_parse("2001:db8:ffff:ffff::1/33", true, &p), 0);
	ck_assert_str_eq(fmt(&p, false, buf), "2001:db8:8000::/33");
	ck_assert_int_eq(prefix_parse("255.255.255.255/0", true, &p), 0);
	ck_assert_str_eq(fmt(&p, false, buf), "0.0.0.0/0");
	ck_assert_int_eq(prefix_parse("198.18.0.1", true, &p), 0);
	ck_assert_str_eq(fmt(&p, true, buf), "198.18.0.1");
}
END_TEST

START_TEST(test_parse_invalid)
{
	static const char *const bad[] = {
		"",
		"/",
		"/24",
		"198.18.0.0/",
		"198.18.0.0/33",
		"198.18.0.0/-1",
		"198.18.0.0/+8",
		"198.18.0.0/024",
		"198.18.0.0/1000",
		"198.18.0.0/24/",
		"198.18.0.0/2 4",
		"198.18.0.0 /24",
		" 198.18.0.0/24",
		"198.18.0/24",
		"198.18.0.256",
		"198.018.0.0/16",
		"198.18.0.0.0",
		"2001:db8::/129",
		"2001:db8:::/48",
		"2001:db8::g",
		"fe80::1%eth0",
		"::ffff:198.18.0.256",
		"localhost",
		"198.18.0.0/24x",
		"2001:0db8:0000:0000:0000:0000:0000:0000:0000/64",
	};
	struct prefix p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(prefix_parse(bad[i], false, &p) == -EINVAL, "'%s' parsed", bad[i]);
		ck_assert_msg(prefix_parse(bad[i], true, &p) == -EINVAL, "'%s' parsed", bad[i]);
	}
	ck_assert_int_eq(prefix_parse(NULL, false, &p), -EINVAL);
}
END_TEST

START_TEST(test_format)
{
	char buf[PREFIX_STR_MAX], small[8];
	struct prefix p;

	p = P("198.18.0.0/24");
	ck_assert_str_eq(fmt(&p, false, buf), "198.18.0.0/24");
	ck_assert_str_eq(fmt(&p, true, buf), "198.18.0.0/24");
	p = P("198.18.0.7");
	ck_assert_str_eq(fmt(&p, false, buf), "198.18.0.7/32");
	ck_assert_str_eq(fmt(&p, true, buf), "198.18.0.7");
	p = P("2001:0db8:0:0::1");
	ck_assert_str_eq(fmt(&p, false, buf), "2001:db8::1/128");
	ck_assert_str_eq(fmt(&p, true, buf), "2001:db8::1");
	p = P("::/0");
	ck_assert_str_eq(fmt(&p, true, buf), "::/0");
	p = P("0.0.0.0/0");
	ck_assert_str_eq(fmt(&p, true, buf), "0.0.0.0/0");

	/* The longest text fits PREFIX_STR_MAX. */
	p = P("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	ck_assert_ptr_eq(prefix_format(&p, false, buf, sizeof(buf)), buf);
	ck_assert_str_eq(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	ck_assert_uint_lt(strlen("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128"),
			  PREFIX_STR_MAX);

	/* A short buffer is cut, never overrun. */
	p = P("198.18.0.0/24");
	prefix_format(&p, false, small, sizeof(small));
	ck_assert_str_eq(small, "198.18.");
}
END_TEST

START_TEST(test_format_roundtrip)
{
	static const char *const texts[] = {
		"198.18.0.0/15",	 "198.18.128.0/17", "2001:db8::/32", "2001:db8:0:1::/64",
		"::ffff:198.18.0.0/120", "0.0.0.0/0",	    "::/0",	     "198.19.255.255/32",
	};
	char buf[PREFIX_STR_MAX];
	struct prefix p, q;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		p = P(texts[i]);
		q = P(fmt(&p, false, buf));
		ck_assert_str_eq(buf, texts[i]);
		ck_assert(prefix_equal(&p, &q));
	}
}
END_TEST

START_TEST(test_max_len)
{
	ck_assert_uint_eq(prefix_max_len(AF_INET), 32);
	ck_assert_uint_eq(prefix_max_len(AF_INET6), 128);
	ck_assert_uint_eq(prefix_max_len(0), 0);
}
END_TEST

START_TEST(test_contains)
{
	struct prefix v4any = P("0.0.0.0/0"), v6any = P("::/0");
	struct prefix net = P("198.18.0.0/15"), sub = P("198.19.4.0/24");
	struct prefix host = P("198.19.4.9"), other = P("198.20.0.0/24");
	struct prefix v6net = P("2001:db8::/32"), v6host = P("2001:db8::9");
	struct prefix mapped = P("::ffff:198.19.4.9");

	ck_assert(prefix_contains(&net, &sub));
	ck_assert(prefix_contains(&net, &host));
	ck_assert(prefix_contains(&sub, &host));
	ck_assert(prefix_contains(&net, &net));
	ck_assert(prefix_contains(&host, &host));
	ck_assert(!prefix_contains(&sub, &net));
	ck_assert(!prefix_contains(&host, &sub));
	ck_assert(!prefix_contains(&net, &other));
	ck_assert(prefix_contains(&v4any, &net));
	ck_assert(prefix_contains(&v4any, &v4any));
	ck_assert(prefix_contains(&v6any, &v6host));
	ck_assert(prefix_contains(&v6net, &v6host));

	/* Families never mix, not even ::/0 with IPv4 or IPv4-mapped addresses. */
	ck_assert(!prefix_contains(&v6any, &host));
	ck_assert(!prefix_contains(&v4any, &v6host));
	ck_assert(!prefix_contains(&net, &mapped));
	ck_assert(!prefix_contains(&v6any, &net));

	/* The boundary bit of a non-octet length. */
	ck_assert(prefix_contains(
		&net,
		&(struct prefix){ .family = AF_INET, .len = 32, .addr = { 198, 19, 255, 255 } }));
	ck_assert(!prefix_contains(
		&net,
		&(struct prefix){ .family = AF_INET, .len = 32, .addr = { 198, 17, 255, 255 } }));
}
END_TEST

START_TEST(test_overlaps)
{
	struct prefix a = P("198.18.0.0/24"), b = P("198.18.0.128/25"), c = P("198.18.1.0/24");
	struct prefix d = P("2001:db8::/64"), e = P("2001:db8::/32"), f = P("::/0");
	struct prefix any4 = P("0.0.0.0/0");

	ck_assert(prefix_overlaps(&a, &b));
	ck_assert(prefix_overlaps(&b, &a));
	ck_assert(prefix_overlaps(&a, &a));
	ck_assert(!prefix_overlaps(&a, &c));
	ck_assert(!prefix_overlaps(&b, &c));
	ck_assert(prefix_overlaps(&d, &e));
	ck_assert(prefix_overlaps(&f, &d));
	ck_assert(prefix_overlaps(&any4, &c));
	ck_assert(!prefix_overlaps(&f, &a));
	ck_assert(!prefix_overlaps(&any4, &d));
}
END_TEST

START_TEST(test_equal)
{
	struct prefix a = P("198.18.0.0/24"), b = P("198.18.0.0/24"), c = P("198.18.0.0/25");
	struct prefix d = P("2001:db8::/32"), e = P("2001:0db8:0000::/32");
	struct prefix zero4 = P("0.0.0.0/0"), zero6 = P("::/0");

	ck_assert(prefix_equal(&a, &b));
	ck_assert(!prefix_equal(&a, &c));
	ck_assert(prefix_equal(&d, &e));
	ck_assert(!prefix_equal(&zero4, &zero6));
	/* Bits past the length do not count. */
	b.addr[3] = 0xff;
	b.addr[10] = 0x42;
	ck_assert(prefix_equal(&a, &b));
	b.addr[2] = 1;
	ck_assert(!prefix_equal(&a, &b));
}
END_TEST

static Suite *prefix_suite(void)
{
	Suite *s = suite_create("prefix");
	TCase *tc = tcase_create("prefix");

	tcase_add_test(tc, test_parse_ipv4);
	tcase_add_test(tc, test_parse_ipv6);
	tcase_add_test(tc, test_parse_edges);
	tcase_add_test(tc, test_parse_bare);
	tcase_add_test(tc, test_parse_host_bits);
	tcase_add_test(tc, test_parse_invalid);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_format_roundtrip);
	tcase_add_test(tc, test_max_len);
	tcase_add_test(tc, test_contains);
	tcase_add_test(tc, test_overlaps);
	tcase_add_test(tc, test_equal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(prefix_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
