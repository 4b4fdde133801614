// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of lib/promtext.c: family headers, samples with and without
 * labels, escaping of label values and HELP text, growth past the first
 * allocation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/promtext.h"

static char *text_of(struct promtext *t)
{
	size_t len = 0;
	char *s = promtext_take(t, &len);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), len);
	return s;
}

START_TEST(test_family_and_samples)
{
	struct promtext t;
	char *s;

	promtext_init(&t);
	promtext_family(&t, "policyd_rule_packets_total", "counter", "Packets by verdict.");
	promtext_sample(&t, "policyd_rule_packets_total", 42, "policy", "web", "rule", "http",
			NULL);
	promtext_sample(&t, "policyd_events_lost_total", 18446744073709551615ull, NULL);
	s = text_of(&t);
	ck_assert_str_eq(s, "# HELP policyd_rule_packets_total Packets by verdict.\n"
			    "# TYPE policyd_rule_packets_total counter\n"
			    "policyd_rule_packets_total{policy=\"web\",rule=\"http\"} 42\n"
			    "policyd_events_lost_total 18446744073709551615\n");
	free(s);
}
END_TEST

START_TEST(test_escaping)
{
	struct promtext t;
	char *s;

	promtext_init(&t);
	promtext_family(&t, "m", "gauge", "a \\ b\nc \"q\"");
	promtext_sample(&t, "m", 1, "l", "a\\b\"c\nd", "e", "", NULL);
	s = text_of(&t);
	/* HELP escapes backslash and newline only; label values also '"'. */
	ck_assert_str_eq(s, "# HELP m a \\\\ b\\nc \"q\"\n"
			    "# TYPE m gauge\n"
			    "m{l=\"a\\\\b\\\"c\\nd\",e=\"\"} 1\n");
	free(s);
}
END_TEST

START_TEST(test_growth)
{
	struct promtext t;
	char name[32], *s;
	size_t len;

	promtext_init(&t);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		promtext_sample(&t, "policyd_host_packets_total", i, "address", name, NULL);
	}
	s = promtext_take(&t, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_gt(len, 4096 * 8);
	ck_assert_ptr_nonnull(strstr(s, "policyd_host_packets_total{address=\"h4999\"} 4999\n"));
	ck_assert_uint_eq(s[len - 1], '\n');
	free(s);
}
END_TEST

START_TEST(test_take_empty_and_error)
{
	struct promtext t;
	size_t len;

	promtext_init(&t);
	ck_assert_ptr_null(promtext_take(&t, &len));
	promtext_printf(&t, "x");
	t.err = -12;
	/* A failed build hands nothing out and frees what it had. */
	ck_assert_ptr_null(promtext_take(&t, &len));
	ck_assert_ptr_null(t.buf);
}
END_TEST

static Suite *promtext_suite(void)
{
	Suite *s = suite_create("promtext");
	TCase *tc = tcase_create("promtext");

	tcase_add_test(tc, test_family_and_samples);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_take_empty_and_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(promtext_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
