// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of lib/event_codec.c: type lists, base64 against RFC 4648's
 * vectors and random round trips, records into JSON (every type, bad
 * records refused) and JSON into the readable monitor line.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/event_codec.h"

START_TEST(test_types_parse)
{
	unsigned int m = 0;
	char bad[40] = "";

	ck_assert_int_eq(event_types_parse("drop", &m, bad, sizeof(bad)), 0);
	ck_assert_uint_eq(m, EVENT_TYPE_BIT(PD_EV_DROP));
	/* block brings its other end along. */
	ck_assert_int_eq(event_types_parse("drop,block,log", &m, bad, sizeof(bad)), 0);
	ck_assert_uint_eq(m, EVENT_TYPE_BIT(PD_EV_DROP) | EVENT_TYPE_BIT(PD_EV_BLOCK) |
				     EVENT_TYPE_BIT(PD_EV_UNBLOCK) | EVENT_TYPE_BIT(PD_EV_LOG));
	ck_assert_int_eq(event_types_parse("unblock", &m, bad, sizeof(bad)), 0);
	ck_assert_uint_eq(m, EVENT_TYPE_BIT(PD_EV_UNBLOCK));
	ck_assert_int_eq(event_types_parse("sample,all", &m, bad, sizeof(bad)), 0);
	ck_assert_uint_eq(m, EVENT_TYPES_ALL);

	ck_assert_int_eq(event_types_parse("drop,drops", &m, bad, sizeof(bad)), -EINVAL);
	ck_assert_str_eq(bad, "drops");
	ck_assert_int_eq(event_types_parse("", &m, bad, sizeof(bad)), -EINVAL);
	ck_assert_int_eq(event_types_parse("drop,", &m, bad, sizeof(bad)), -EINVAL);
	ck_assert_str_eq(bad, "");
	ck_assert_int_eq(event_types_parse(",drop", &m, bad, sizeof(bad)), -EINVAL);
	ck_assert_int_eq(event_types_parse("Drop", &m, bad, sizeof(bad)), -EINVAL);
	ck_assert_int_eq(event_types_parse("dro", &m, bad, sizeof(bad)), -EINVAL);
}
END_TEST

START_TEST(test_types_json)
{
	unsigned int m = 0;
	char bad[40];
	json_t *a = json_pack("[s, s]", "sample", "log");

	ck_assert_int_eq(event_types_from_json(a, &m, bad, sizeof(bad)), 0);
	ck_assert_uint_eq(m, EVENT_TYPE_BIT(PD_EV_SAMPLE) | EVENT_TYPE_BIT(PD_EV_LOG));
	json_decref(a);
	a = json_pack("[s, i]", "drop", 3);
	ck_assert_int_eq(event_types_from_json(a, &m, bad, sizeof(bad)), -EINVAL);
	json_decref(a);
	a = json_array();
	ck_assert_int_eq(event_types_from_json(a, &m, bad, sizeof(bad)), -EINVAL);
	json_decref(a);
	ck_assert_int_eq(event_types_from_json(NULL, &m, bad, sizeof(bad)), -EINVAL);

	/* Back to names, in type order: a round trip. */
	a = event_types_to_json(EVENT_TYPE_BIT(PD_EV_UNBLOCK) | EVENT_TYPE_BIT(PD_EV_DROP) |
				EVENT_TYPE_BIT(PD_EV_SAMPLE) | (1u << 30));
	ck_assert_ptr_nonnull(a);
	{
		char *s = json_dumps(a, JSON_COMPACT);

		ck_assert_str_eq(s, "[\"drop\",\"sample\",\"unblock\"]");
		free(s);
	}
	ck_assert_int_eq(event_types_from_json(a, &m, bad, sizeof(bad)), 0);
	ck_assert_uint_eq(m, EVENT_TYPE_BIT(PD_EV_UNBLOCK) | EVENT_TYPE_BIT(PD_EV_DROP) |
				     EVENT_TYPE_BIT(PD_EV_SAMPLE));
	json_decref(a);
	a = event_types_to_json(EVENT_TYPES_ALL);
	ck_assert_uint_eq(json_array_size(a), 5);
	json_decref(a);
}
END_TEST

START_TEST(test_base64_vectors)
{
	/* RFC 4648 §10. */
	static const char *const vec[][2] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	char out[16];
	uint8_t back[16];
	size_t len;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i][0]);

		ck_assert_uint_eq(event_base64_len(n), strlen(vec[i][1]));
		event_base64_encode((const uint8_t *)vec[i][0], n, out);
		ck_assert_str_eq(out, vec[i][1]);
		ck_assert_int_eq(event_base64_decode(vec[i][1], back, sizeof(back), &len), 0);
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(back, vec[i][0], n);
	}
}
END_TEST

START_TEST(test_base64_roundtrip)
{
	uint8_t in[PD_SNAPLEN_MAX], back[PD_SNAPLEN_MAX];
	char text[2100];
	size_t len;

	srand(7);
	for (size_t n = 0; n <= sizeof(in); n += 1 + n / 3) {
		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)rand();
		event_base64_encode(in, n, text);
		ck_assert_uint_eq(strlen(text), event_base64_len(n));
		ck_assert_int_eq(event_base64_decode(text, back, sizeof(back), &len), 0);
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(back, in, n);
	}
}
END_TEST

START_TEST(test_base64_bad)
{
	uint8_t out[8];
	size_t len;

	ck_assert_int_eq(event_base64_decode("Zm9", out, sizeof(out), &len), -EINVAL);
	ck_assert_int_eq(event_base64_decode("Zm9*", out, sizeof(out), &len), -EINVAL);
	ck_assert_int_eq(event_base64_decode("Z===", out, sizeof(out), &len), -EINVAL);
	ck_assert_int_eq(event_base64_decode("Zg=a", out, sizeof(out), &len), -EINVAL);
	ck_assert_int_eq(event_base64_decode("Zg==Zg==", out, sizeof(out), &len), -EINVAL);
	ck_assert_int_eq(event_base64_decode("Zm9vYmFy", out, 5, &len), -ENOSPC);
	ck_assert_int_eq(event_base64_decode("Zm9vYg==", out, 4, &len), 0);
	ck_assert_uint_eq(len, 4);
}
END_TEST

static struct pd_event drop4(void)
{
	struct pd_event ev = {
		.time_ns = 5,
		.type = PD_EV_DROP,
		.verdict = PD_DROP,
		.reason = PD_REASON_RULE,
		.flags = PD_EVF_PORTS,
		.family = AF_INET,
		.proto = 17,
		.rule = 1,
		.slot = 3,
		.len = 30,
		.packets = 1,
		.sport = 40000,
		.dport = 9000,
	};

	inet_pton(AF_INET, "198.18.0.2", ev.saddr);
	inet_pton(AF_INET, "198.18.2.1", ev.daddr);
	return ev;
}

/* 2026-11-28T07:21:03.412Z */
#define WALL 1795850463412000000ull

START_TEST(test_json_drop)
{
	struct pd_event ev = drop4();
	struct event_meta m = { .policy = "web", .rule = "no-9000", .wall_ns = WALL };
	json_t *o = event_to_json(&ev, sizeof(ev), &m);
	char *s;

	ck_assert_ptr_nonnull(o);
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(
		s,
		"{\"dport\":9000,\"dst\":\"198.18.2.1\",\"family\":4,\"length\":30,\"packets\":1,"
		"\"policy\":\"web\",\"proto\":\"udp\",\"reason\":\"rule\",\"rule\":\"no-9000\","
		"\"sport\":40000,\"src\":\"198.18.0.2\",\"time\":\"2026-11-28T07:21:03.412Z\","
		"\"time_ns\":1795850463412000000,\"type\":\"drop\",\"verdict\":\"drop\"}");
	free(s);
	json_decref(o);

	/* Monitor mode: the packet passed; no rule (default verdict). */
	ev.verdict = PD_PASS;
	ev.flags = PD_EVF_WOULD_DROP | PD_EVF_ICMP;
	ev.proto = 1;
	ev.icmp_type = 8;
	ev.reason = PD_REASON_DEFAULT;
	m.rule = NULL;
	m.policy = NULL;
	o = event_to_json(&ev, sizeof(ev), &m);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_is_null(json_object_get(o, "rule")));
	ck_assert(json_is_null(json_object_get(o, "policy")));
	ck_assert(json_is_true(json_object_get(o, "would_drop")));
	ck_assert_str_eq(json_string_value(json_object_get(o, "verdict")), "pass");
	ck_assert_str_eq(json_string_value(json_object_get(o, "reason")), "default");
	ck_assert_str_eq(json_string_value(json_object_get(o, "proto")), "icmp");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "icmp_type")), 8);
	ck_assert_ptr_null(json_object_get(o, "sport"));
	json_decref(o);
}
END_TEST

START_TEST(test_json_ipv6_block_unblock)
{
	struct pd_event ev = drop4();
	struct event_meta m = { .policy = "b",
				.wall_ns = WALL,
				.until_wall_ns = WALL + 3000000000ull };
	json_t *o;

	ev.family = AF_INET6;
	memset(ev.saddr, 0, 16);
	inet_pton(AF_INET6, "2001:db8::2", ev.saddr);
	inet_pton(AF_INET6, "2001:db8:2::1", ev.daddr);
	ev.type = PD_EV_BLOCK;
	ev.proto = 200;
	o = event_to_json(&ev, sizeof(ev), &m);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "dst")), "2001:db8:2::1");
	ck_assert_str_eq(json_string_value(json_object_get(o, "proto")), "200");
	ck_assert_str_eq(json_string_value(json_object_get(o, "until")),
			 "2026-11-28T07:21:06.412Z");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "family")), 6);
	ck_assert_ptr_null(json_object_get(o, "verdict"));
	json_decref(o);

	ev.type = PD_EV_UNBLOCK;
	m.cause = "unblocked";
	o = event_to_json(&ev, sizeof(ev), &m);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "cause")), "unblocked");
	ck_assert_ptr_null(json_object_get(o, "src"));
	ck_assert_ptr_null(json_object_get(o, "rule"));
	json_decref(o);
}
END_TEST

START_TEST(test_json_sample)
{
	struct pd_sample_event se = { .ev = drop4(), .caplen = 5 };
	struct event_meta m = { .policy = "web", .wall_ns = WALL, .data = true };
	const size_t data_off = offsetof(struct pd_sample_event, data);
	json_t *o;

	se.ev.type = PD_EV_SAMPLE;
	se.ev.verdict = PD_PASS;
	memcpy(se.data, "foob\x01", 5);
	/* The ring buffer may hand over only the bytes used. */
	o = event_to_json(&se, data_off + 5, &m);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "caplen")), 5);
	ck_assert_str_eq(json_string_value(json_object_get(o, "data")), "Zm9vYgE=");
	ck_assert_ptr_null(json_object_get(o, "reason"));
	json_decref(o);
	m.data = false;
	o = event_to_json(&se, sizeof(se), &m);
	ck_assert_ptr_null(json_object_get(o, "data"));
	json_decref(o);

	/* caplen past the record, or past the snaplen: refused. */
	ck_assert_ptr_null(event_to_json(&se, data_off + 4, &m));
	se.caplen = PD_SNAPLEN_MAX + 1;
	ck_assert_ptr_null(event_to_json(&se, sizeof(se), &m));
}
END_TEST

START_TEST(test_json_bad)
{
	struct pd_event ev = drop4();
	struct event_meta m = { .wall_ns = WALL };

	ck_assert_ptr_null(event_to_json(&ev, sizeof(ev) - 1, &m));
	ev.type = 0;
	ck_assert_ptr_null(event_to_json(&ev, sizeof(ev), &m));
	ev.type = 99;
	ck_assert_ptr_null(event_to_json(&ev, sizeof(ev), &m));
	ev = drop4();
	ev.family = 7;
	ck_assert_ptr_null(event_to_json(&ev, sizeof(ev), &m));
	ev = drop4();
	ev.type = PD_EV_SAMPLE; /* a sample record shorter than its header */
	ck_assert_ptr_null(event_to_json(&ev, sizeof(ev), &m));
}
END_TEST

START_TEST(test_line)
{
	struct pd_event ev = drop4();
	struct event_meta m = { .policy = "web", .rule = "no-9000", .wall_ns = WALL };
	char line[256];
	json_t *o;

	setenv("TZ", "UTC", 1);
	tzset();
	o = event_to_json(&ev, sizeof(ev), &m);
	event_format_line(o, line, sizeof(line));
	ck_assert_str_eq(line, "07:21:03.412 drop    web/no-9000              drop (rule)         "
			       " udp 198.18.0.2:40000 > 198.18.2.1:9000 len 30");
	json_decref(o);

	ev.family = AF_INET6;
	memset(ev.saddr, 0, 16);
	memset(ev.daddr, 0, 16);
	inet_pton(AF_INET6, "2001:db8::2", ev.saddr);
	inet_pton(AF_INET6, "2001:db8:2::1", ev.daddr);
	ev.flags |= PD_EVF_WOULD_DROP;
	ev.verdict = PD_PASS;
	ev.reason = PD_REASON_LIMIT;
	ev.packets = 3;
	o = event_to_json(&ev, sizeof(ev), &m);
	event_format_line(o, line, sizeof(line));
	ck_assert_str_eq(line,
			 "07:21:03.412 drop    web/no-9000              would-drop (limit)  "
			 " udp [2001:db8::2]:40000 > [2001:db8:2::1]:9000 len 30 (3 packets)");
	json_decref(o);

	ev = drop4();
	ev.type = PD_EV_BLOCK;
	m.rule = NULL;
	m.until_wall_ns = WALL + 5000000000ull;
	o = event_to_json(&ev, sizeof(ev), &m);
	event_format_line(o, line, sizeof(line));
	ck_assert_str_eq(line, "07:21:03.412 block   web                      until 07:21:08.412  "
			       " udp 198.18.0.2:40000 > 198.18.2.1:9000 len 30");
	json_decref(o);
	/* As the program sends it: no protocol, no ports. */
	ev.proto = 0;
	ev.flags = 0;
	o = event_to_json(&ev, sizeof(ev), &m);
	ck_assert_ptr_null(json_object_get(o, "proto"));
	event_format_line(o, line, sizeof(line));
	ck_assert_str_eq(line, "07:21:03.412 block   web                      until 07:21:08.412  "
			       " 198.18.0.2 > 198.18.2.1 len 30");
	json_decref(o);

	ev.type = PD_EV_UNBLOCK;
	m.cause = "expired";
	o = event_to_json(&ev, sizeof(ev), &m);
	event_format_line(o, line, sizeof(line));
	ck_assert_str_eq(line, "07:21:03.412 unblock web                      expired             "
			       " 198.18.2.1");
	json_decref(o);

	/* Cut short, still terminated. */
	o = event_to_json(&ev, sizeof(ev), &m);
	event_format_line(o, line, 10);
	ck_assert_str_eq(line, "07:21:03.");
	json_decref(o);
}
END_TEST

static Suite *event_codec_suite(void)
{
	Suite *s = suite_create("event_codec");
	TCase *tc = tcase_create("event_codec");

	tcase_add_test(tc, test_types_parse);
	tcase_add_test(tc, test_types_json);
	tcase_add_test(tc, test_base64_vectors);
	tcase_add_test(tc, test_base64_roundtrip);
	tcase_add_test(tc, test_base64_bad);
	tcase_add_test(tc, test_json_drop);
	tcase_add_test(tc, test_json_ipv6_block_unblock);
	tcase_add_test(tc, test_json_sample);
	tcase_add_test(tc, test_json_bad);
	tcase_add_test(tc, test_line);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(event_codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
