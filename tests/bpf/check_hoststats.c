// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's per-host statistics (policyd/hoststats.c): the pure parts (top-N
 * selection, rates from successive reads), then the batched read of a real
 * per-host table filled by BPF_PROG_TEST_RUN: sums over CPUs, values of other
 * hosts skipped, order, prefix and policy filters, fill, reset. The pure tests
 * need no root; the rest loads the program.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/bpf/prog_harness.h"
#include "policyd/hoststats.h"

#define NET4 "198.18.0.0/16"
#define NET6 "2001:db8:1::/48"
#define LEN 100

/* --- pure parts -------------------------------------------------------------- */

static struct host_row row_of(uint64_t packets, uint64_t bytes, uint8_t last_byte)
{
	struct host_row r = { .family = AF_INET, .packets = packets, .bytes = bytes };

	r.addr[0] = 198;
	r.addr[3] = last_byte;
	return r;
}

START_TEST(test_top_order)
{
	struct host_top t = { .cap = 5 };
	uint64_t packets[200];

	/* 200 rows in a scrambled order, packets 0..199 with repeats broken by
	 * bytes: the 5 kept are the 5 busiest, busiest first. */
	for (int i = 0; i < 200; i++) {
		struct host_row r;

		packets[i] = (uint64_t)((i * 37) % 200) / 2;
		r = row_of(packets[i], (uint64_t)((i * 37) % 200), (uint8_t)i);
		ck_assert_int_eq(host_top_push(&t, &r), 0);
	}
	host_top_sort(&t);
	ck_assert_uint_eq(t.n, 5);
	ck_assert_uint_le(t.alloc, 5);
	for (size_t i = 0; i < t.n; i++) {
		ck_assert_uint_eq(t.v[i].bytes, 199 - i);
		ck_assert_uint_eq(t.v[i].packets, (199 - i) / 2);
	}
	free(t.v);
}
END_TEST

START_TEST(test_top_ties_and_few)
{
	struct host_top t = { .cap = 1000 };
	struct host_row a = row_of(7, 70, 9), b = row_of(7, 70, 3), c = row_of(8, 1, 200);

	/* Fewer rows than asked for: all of them; equal counts: lower address first. */
	ck_assert_int_eq(host_top_push(&t, &a), 0);
	ck_assert_int_eq(host_top_push(&t, &b), 0);
	ck_assert_int_eq(host_top_push(&t, &c), 0);
	host_top_sort(&t);
	ck_assert_uint_eq(t.n, 3);
	ck_assert_uint_le(t.alloc, 16); /* not 1000 rows for 3 */
	ck_assert_uint_eq(t.v[0].addr[3], 200);
	ck_assert_uint_eq(t.v[1].addr[3], 3);
	ck_assert_uint_eq(t.v[2].addr[3], 9);
	ck_assert(host_row_busier(&b, &a));
	ck_assert(!host_row_busier(&a, &a));
	free(t.v);

	t = (struct host_top){ .cap = 0 };
	ck_assert_int_eq(host_top_push(&t, &a), 0);
	ck_assert_uint_eq(t.n, 0);
}
END_TEST

START_TEST(test_rate)
{
	struct host_rate r = { .pps = -1, .bps = -1 };
	const uint64_t s = 1000000000ull;

	host_rate_update(&r, 100, 10000, 10 * s);
	ck_assert(r.pps < 0 && r.bps < 0); /* one read: not known */
	host_rate_update(&r, 150, 15000, 10 * s + s / 2);
	ck_assert(r.pps < 0); /* under a second: still the base of 10 s */
	ck_assert_uint_eq(r.t_ns, 10 * s);
	host_rate_update(&r, 300, 30000, 12 * s);
	ck_assert_double_eq_tol(r.pps, 100, 1e-9);
	ck_assert_double_eq_tol(r.bps, 80000, 1e-6);
	host_rate_update(&r, 310, 31000, 12 * s + 1);
	ck_assert_double_eq_tol(r.pps, 100, 1e-9); /* too soon: the last rate stands */
	host_rate_update(&r, 300, 30000, 17 * s);
	ck_assert_double_eq_tol(r.pps, 0, 1e-9); /* idle for 5 s */
	host_rate_update(&r, 5, 500, 18 * s);
	ck_assert(r.pps < 0); /* counters went back: start over */
	ck_assert_uint_eq(r.packets, 5);
	host_rate_update(&r, 25, 2500, 20 * s);
	ck_assert_double_eq_tol(r.pps, 10, 1e-9);
}
END_TEST

/* --- a real per-host table ---------------------------------------------------- */

static struct daemon d;

static void setup_daemon(void)
{
	struct pd_policy *pol = calloc(1, sizeof(*pol));
	struct pd_rule *r;

	setup();
	ck_assert_ptr_nonnull(pol);
	policy_init(pol, PD_PASS, COUNTER_DEFAULT);
	r = rule_add(pol, PD_DROP, COUNTER_DROP);
	rule_proto(r, IPPROTO_TCP);
	rule_dport(r, DPORT_DROP, DPORT_DROP);
	set_policy(0, 3, pol);
	add_dest(0, NET4, 3);
	add_dest(0, NET6, 3);
	set_epoch(0);
	free(pol);
	memset(&d, 0, sizeof(d));
	d.skel = skel;
	d.ncpus = ncpus;
	d.slot_used[3] = 1;
}

static void teardown_daemon(void)
{
	hoststats_free(&d);
	teardown();
}

static void send_n(const char *dst, uint8_t proto, uint16_t dport, int n)
{
	struct pkt p;

	pkt_to(&p, dst, proto, dport, LEN);
	for (int i = 0; i < n; i++)
		run(&p);
}

static const char *row_addr(const struct host_row *r, char *buf, size_t size)
{
	struct prefix p = { .family = r->family, .len = prefix_max_len(r->family) };

	memcpy(p.addr, r->addr, 16);
	return prefix_format(&p, true, buf, size);
}

START_TEST(test_table_top)
{
	struct host_row *rows = NULL;
	struct prefix within;
	size_t n = 0;
	char buf[PREFIX_STR_MAX];

	send_n("198.18.0.1", IPPROTO_UDP, 53, 5);
	send_n("198.18.0.2", IPPROTO_UDP, 53, 3);
	send_n("198.18.0.3", IPPROTO_TCP, DPORT_DROP, 4);
	send_n("2001:db8:1::9", IPPROTO_UDP, 53, 2);
	send_n("198.19.0.1", IPPROTO_UDP, 53, 9); /* no policy: cached, not counted */

	ck_assert_int_eq(hoststats_top_of(&d, NULL, PD_SLOT_NONE, 3, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(row_addr(&rows[0], buf, sizeof(buf)), "198.18.0.1");
	ck_assert_uint_eq(rows[0].packets, 5);
	ck_assert_uint_eq(rows[0].bytes, 5 * LEN);
	ck_assert_uint_eq(rows[0].slot, 3);
	ck_assert(rows[0].last_seen_ns > 0);
	ck_assert(rows[0].pps < 0); /* first read */
	ck_assert_str_eq(row_addr(&rows[1], buf, sizeof(buf)), "198.18.0.3");
	ck_assert_uint_eq(rows[1].dropped, 4);
	ck_assert_uint_eq(rows[1].dropped_reason[PD_REASON_RULE], 4);
	ck_assert_str_eq(row_addr(&rows[2], buf, sizeof(buf)), "198.18.0.2");
	free(rows);

	ck_assert_int_eq(prefix_parse("2001:db8::/32", false, &within), 0);
	ck_assert_int_eq(hoststats_top_of(&d, &within, PD_SLOT_NONE, 10, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(row_addr(&rows[0], buf, sizeof(buf)), "2001:db8:1::9");
	ck_assert_uint_eq(rows[0].bytes, 2 * LEN);
	free(rows);

	/* Another policy's slot, or a slot no applied policy has: nothing. */
	ck_assert_int_eq(hoststats_top_of(&d, NULL, 4, 10, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
	free(rows);
	d.slot_used[3] = 0;
	ck_assert_int_eq(hoststats_top_of(&d, NULL, PD_SLOT_NONE, 10, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
	free(rows);
}
END_TEST

/*
 * Per-CPU copies of a set: a host's ways in each are summed; a way of another
 * host (here CPU 1's copy, holding @cpu1_addr in another way) is another host.
 * The packets of 198.18.0.1, whose only packets so far are TEST_CPU's 2.
 */
static uint64_t packets_with_cpu1(const char *cpu1_addr)
{
	struct pd_host_set *sets = calloc(ncpus, sizeof(*sets));
	struct host_row *rows = NULL;
	uint64_t packets = 0;
	__u8 a[16];
	size_t n = 0;
	int w;

	ck_assert_ptr_nonnull(sets);
	dcache_set_get("198.18.0.1", sets);
	dcache_addr("198.18.0.1", a);
	w = host_set_way(&sets[TEST_CPU], AF_INET, a);
	ck_assert_int_ge(w, 0);
	memset(&sets[1], 0, sizeof(sets[1]));
	sets[1].way[3] = sets[TEST_CPU].way[w];
	sets[1].way[3].packets = 10;
	sets[1].way[3].bytes = 1000;
	sets[1].way[3].last_seen = sets[TEST_CPU].way[w].last_seen + 1;
	dcache_addr(cpu1_addr, sets[1].addr[3]);
	dcache_set_put("198.18.0.1", sets);
	free(sets);
	ck_assert_int_eq(hoststats_top_of(&d, NULL, PD_SLOT_NONE, 10, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, strcmp(cpu1_addr, "198.18.0.1") ? 2 : 1);
	for (size_t i = 0; i < n; i++)
		if (!memcmp(rows[i].addr, a, 16))
			packets = rows[i].packets;
	free(rows);
	return packets;
}

START_TEST(test_table_cpus)
{
	if (ncpus < 2)
		return; /* needs a second CPU's copy */
	send_n("198.18.0.1", IPPROTO_UDP, 53, 2);
	ck_assert_uint_eq(packets_with_cpu1("198.18.0.1"), 12);
	ck_assert_uint_eq(packets_with_cpu1("198.18.0.77"), 2);
}
END_TEST

/* More hosts than one batch holds: every one read, the busiest found. */
START_TEST(test_table_many)
{
	struct hoststats_fill f;
	struct host_row *rows = NULL;
	size_t n = 0;
	char buf[PREFIX_STR_MAX];

	for (int i = 0; i < 10000; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.18.%d.%d", i / 250, i % 250 + 1);
		send_n(a, IPPROTO_UDP, 53, i == 7777 ? 3 : 1);
	}
	send_n("198.18.0.9", IPPROTO_UDP, 53, 1);
	ck_assert_int_eq(hoststats_top_of(&d, NULL, PD_SLOT_NONE, 2, &rows, &n, &f), 0);
	/* The fill from the same read as the rows: a set that met more than
	 * PD_HOST_WAYS of the hosts gave the oldest away. */
	ck_assert_uint_eq(f.present4 + f.evicted4, 10000);
	ck_assert_uint_le(f.evicted4, 100);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(row_addr(&rows[0], buf, sizeof(buf)), "198.18.31.28");
	ck_assert_str_eq(row_addr(&rows[1], buf, sizeof(buf)), "198.18.0.9");
	free(rows);
	ck_assert_int_eq(hoststats_fill(&d, &f), 0);
	ck_assert_uint_eq(f.present4 + f.evicted4, 10000);
	ck_assert_uint_eq(f.present6, 0);
	ck_assert_uint_eq(f.capacity4,
			  (uint64_t)bpf_map__max_entries(skel->maps.pd_dcache4) * PD_HOST_WAYS);
}
END_TEST

START_TEST(test_table_reset)
{
	struct host_row *rows = NULL;
	struct prefix one;
	size_t n = 0, nreset = 0;
	char buf[PREFIX_STR_MAX];

	send_n("198.18.0.1", IPPROTO_UDP, 53, 5);
	send_n("198.18.0.2", IPPROTO_TCP, DPORT_DROP, 3);
	ck_assert_int_eq(prefix_parse("198.18.0.2", false, &one), 0);
	ck_assert_int_eq(hoststats_reset(&d, &one, PD_SLOT_NONE, &nreset), 0);
	ck_assert_uint_eq(nreset, 1);
	ck_assert_int_eq(hoststats_top_of(&d, NULL, PD_SLOT_NONE, 10, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(row_addr(&rows[0], buf, sizeof(buf)), "198.18.0.1");
	ck_assert_uint_eq(rows[0].packets, 5);
	ck_assert_uint_eq(rows[1].packets, 0);
	ck_assert_uint_eq(rows[1].dropped, 0);
	ck_assert_uint_eq(rows[1].slot, 3); /* the cached lookup stays */
	free(rows);
	/* Counting goes on from zero. */
	send_n("198.18.0.2", IPPROTO_TCP, DPORT_DROP, 1);
	ck_assert_int_eq(hoststats_top_of(&d, &one, 3, 10, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(rows[0].dropped_reason[PD_REASON_RULE], 1);
	free(rows);
	ck_assert_int_eq(hoststats_reset(&d, NULL, 3, &nreset), 0);
	ck_assert_uint_eq(nreset, 2);
}
END_TEST

static Suite *hoststats_suite(bool root)
{
	Suite *s = suite_create("hoststats");
	TCase *pure = tcase_create("pure");
	TCase *table = tcase_create("table");

	tcase_add_test(pure, test_top_order);
	tcase_add_test(pure, test_top_ties_and_few);
	tcase_add_test(pure, test_rate);
	suite_add_tcase(s, pure);
	if (!root)
		return s;
	tcase_add_checked_fixture(table, setup_daemon, teardown_daemon);
	tcase_set_timeout(table, 120);
	tcase_add_test(table, test_table_top);
	tcase_add_test(table, test_table_cpus);
	tcase_add_test(table, test_table_many);
	tcase_add_test(table, test_table_reset);
	suite_add_tcase(s, table);
	return s;
}

int main(void)
{
	bool root = geteuid() == 0;
	SRunner *sr;
	int failed;

	if (!root)
		fprintf(stderr, "check_hoststats: not root, the pure tests only\n");
	sr = srunner_create(hoststats_suite(root));
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
