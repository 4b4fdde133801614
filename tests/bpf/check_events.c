// SPDX-License-Identifier: GPL-2.0-only
/*
 * Events from the LWT_OUT program under BPF_PROG_TEST_RUN, read back with
 * libbpf's ring_buffer: drop records and their fields, the per-policy rate cap,
 * log records, block records, sampling (its probability, caplen and bytes) and
 * losses to a full ring. Needs root.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/bpf/prog_harness.h"

#define NET4 "198.18.0.0/16"
#define NET6 "2001:db8:1::/48"
#define HOST_A "198.18.5.7"
#define SRC4 "198.18.0.1" /* pkt_ipv4's source */
#define HOST6 "2001:db8:1::80"
#define SRC6 "2001:db8::1" /* pkt_ipv6's source */

#define LEN 200

/*
 * The caps count in whole seconds of the coarse clock: start a burst early in
 * one, so that it does not straddle two windows (a burst takes well under 100 ms).
 */
static void start_of_second(void)
{
	__u64 into = clock_ns(CLOCK_MONOTONIC_COARSE) % SEC_NS;

	if (into > SEC_NS / 2)
		usleep((useconds_t)((SEC_NS - into) / 1000 + 20000));
}

static void install(const struct pd_policy *pol, __u32 cap)
{
	set_policy(0, 0, pol);
	add_dest(0, NET4, 0);
	add_dest(0, NET6, 0);
	set_epoch(0);
	set_event_cap(cap);
}

/* @n runs of @p in one BPF_PROG_TEST_RUN; returns the last verdict. */
static int run_repeat(const struct pkt *p, __u32 n)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .repeat = n);

	ck_assert_msg(!bpf_prog_test_run_opts(bpf_program__fd(skel->progs.policyd_out), &opts),
		      "test_run: %s", strerror(errno));
	return opts.retval;
}

static void assert_addr(const __u8 got[16], const char *text)
{
	__u8 want[16];

	dcache_addr(text, want);
	ck_assert_msg(!memcmp(got, want, 16), "address is not %s", text);
}

/* A drop by a rule: every field of its record. IPv4 TCP, then IPv6 ICMPv6 by default. */
START_TEST(test_drop_event_fields)
{
	struct ev_log *log = ev_log_new();
	const struct pd_event *e;
	struct pd_policy pol;
	struct pkt p;
	__u64 t0, t1;

	policy_base(&pol, PD_DROP);
	install(&pol, 100);
	pkt_v4(&p, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ck_assert_int_eq(run_gso(&p, 3), BPF_DROP);
	t1 = clock_ns(CLOCK_MONOTONIC);
	ck_assert_uint_eq(events_drain(log), 1);
	e = ev_nth(log, PD_EV_DROP, 0);
	ck_assert(e->time_ns >= t0 && e->time_ns <= t1);
	ck_assert_uint_eq(e->verdict, PD_DROP);
	ck_assert_uint_eq(e->reason, PD_REASON_RULE);
	ck_assert_uint_eq(e->flags, PD_EVF_PORTS);
	ck_assert_uint_eq(e->family, AF_INET);
	ck_assert_uint_eq(e->proto, IPPROTO_TCP);
	ck_assert_uint_eq(e->rule, 1);
	ck_assert_uint_eq(e->slot, 0);
	ck_assert_uint_eq(e->len, LEN);
	ck_assert_uint_eq(e->packets, 3);
	ck_assert_uint_eq(e->sport, 40000);
	ck_assert_uint_eq(e->dport, DPORT_DROP);
	ck_assert_uint_eq(e->until_ns, 0);
	assert_addr(e->saddr, SRC4);
	assert_addr(e->daddr, HOST_A);

	pkt_v6(&p, HOST6, IPPROTO_ICMPV6, 0, LEN);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(events_drain(log), 1);
	e = ev_nth(log, PD_EV_DROP, 1);
	ck_assert_uint_eq(e->reason, PD_REASON_DEFAULT);
	ck_assert_uint_eq(e->rule, PD_EV_RULE_NONE);
	ck_assert_uint_eq(e->flags, PD_EVF_ICMP);
	ck_assert_uint_eq(e->icmp_type, 128);
	ck_assert_uint_eq(e->family, AF_INET6);
	ck_assert_uint_eq(e->proto, IPPROTO_ICMPV6);
	ck_assert_uint_eq(e->packets, 1);
	ck_assert_uint_eq(e->sport, 0);
	ck_assert_uint_eq(e->dport, 0);
	assert_addr(e->saddr, SRC6);
	assert_addr(e->daddr, HOST6);

	/* Passing packets make none. */
	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(events_drain(log), 0);
	free(log);
}
END_TEST

/* A non-first fragment has no ports: the record says so. Monitor mode: would-drop. */
START_TEST(test_drop_event_fragment_monitor)
{
	struct ev_log *log = ev_log_new();
	const struct pd_event *e;
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_DROP);
	pol.flags |= PD_POLICY_MONITOR;
	install(&pol, 100);
	pkt_init(&p, ETH_P_IP);
	pkt_ipv4(&p, HOST_A, IPPROTO_UDP, 100); /* offset 800 bytes */
	pkt_pad_to(&p, LEN);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(events_drain(log), 1);
	e = ev_nth(log, PD_EV_DROP, 0);
	ck_assert_uint_eq(e->verdict, PD_PASS);
	ck_assert_uint_eq(e->flags, PD_EVF_WOULD_DROP);
	ck_assert_uint_eq(e->reason, PD_REASON_DEFAULT);
	ck_assert_uint_eq(e->proto, IPPROTO_UDP);
	ck_assert_uint_eq(e->sport, 0);
	free(log);
}
END_TEST

/* cap + k drops in one second: exactly cap records, k capped; the next second, more. */
START_TEST(test_drop_cap)
{
	struct ev_log *log = ev_log_new();
	struct pd_policy pol;
	struct pkt p;
	int i;

	policy_base(&pol, PD_PASS);
	install(&pol, 5);
	pkt_v4(&p, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);
	start_of_second();
	for (i = 0; i < 5 + 3; i++)
		ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(events_drain(log), 5);
	ck_assert_uint_eq(misc_stats().events_capped, 3);
	ck_assert_uint_eq(misc_stats().events_lost, 0);
	/* All counted anyway. */
	ck_assert_uint_eq(rule_stats(COUNTER_DROP).dropped_packets, 8);

	/* A new window. */
	usleep(1100000);
	start_of_second();
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(events_drain(log), 2);
	ck_assert_uint_eq(misc_stats().events_capped, 3);

	/* Cap 0: no drop records at all. */
	set_event_cap(0);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(events_drain(log), 0);
	ck_assert_uint_eq(misc_stats().events_capped, 4);
	free(log);
}
END_TEST

/* log: true: a record per match, for passes and drops, capped apart from drops. */
START_TEST(test_log_events)
{
	struct ev_log *log = ev_log_new();
	const struct pd_event *e;
	struct pd_policy pol;
	struct pkt pass, drop;
	int i;

	policy_base(&pol, PD_PASS);
	pol.rules[0].flags = PD_RULE_LOG;
	pol.rules[1].flags = PD_RULE_LOG;
	install(&pol, 3);
	pkt_v4(&pass, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	pkt_v4(&drop, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);
	start_of_second();
	ck_assert_int_eq(run(&pass), BPF_OK);
	ck_assert_uint_eq(events_drain(log), 1);
	e = ev_nth(log, PD_EV_LOG, 0);
	ck_assert_uint_eq(e->verdict, PD_PASS);
	ck_assert_uint_eq(e->rule, 0);
	ck_assert_uint_eq(e->reason, 0);
	ck_assert_uint_eq(e->flags, PD_EVF_PORTS);
	ck_assert_uint_eq(e->dport, DPORT_PASS);
	assert_addr(e->daddr, HOST_A);

	/* 5 drops by the logged drop rule: 3 drop records, and 2 log records (the
	 * pass above took one of the 3 logs of this second). */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(run(&drop), BPF_DROP);
	events_drain(log);
	ck_assert_uint_eq(ev_count(log, PD_EV_DROP), 3);
	ck_assert_uint_eq(ev_count(log, PD_EV_LOG), 3);
	e = ev_nth(log, PD_EV_LOG, 1);
	ck_assert_uint_eq(e->verdict, PD_DROP);
	ck_assert_uint_eq(e->reason, PD_REASON_RULE);
	ck_assert_uint_eq(e->rule, 1);
	ck_assert_uint_eq(misc_stats().events_capped, 2 + 3);

	/* Without the flag: no log record. */
	pol.rules[0].flags = 0;
	set_policy(0, 0, &pol);
	usleep(1100000);
	ck_assert_int_eq(run(&pass), BPF_OK);
	ck_assert_uint_eq(events_drain(log), 0);
	free(log);
}
END_TEST

/* A host that becomes blocked: one block record, with the block's expiry. */
START_TEST(test_block_event)
{
	struct ev_log *log = ev_log_new();
	struct pd_hosts_key hkey = { .slot = 0, .family = AF_INET };
	struct pd_host_state st;
	const struct pd_event *e;
	struct pd_policy pol;
	struct pkt p;
	__u64 t0;
	int i;

	policy_base(&pol, PD_PASS);
	pol.block = (struct pd_block){ .kind = PD_BLOCK_DROPS,
				       .threshold = 3,
				       .window_ns = 10 * SEC_NS,
				       .duration_ns = 60 * SEC_NS };
	install(&pol, 100);
	pkt_v4(&p, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(run(&p), BPF_DROP);
	events_drain(log);
	ck_assert_uint_eq(ev_count(log, PD_EV_BLOCK), 0);
	ck_assert_int_eq(run(&p), BPF_DROP);
	events_drain(log);
	ck_assert_uint_eq(ev_count(log, PD_EV_BLOCK), 1);
	e = ev_nth(log, PD_EV_BLOCK, 0);
	dcache_addr(HOST_A, hkey.addr);
	ck_assert_int_eq(set_map_lookup(bpf_map__fd(skel->maps.pd_hosts),
					bpf_map__fd(skel->maps.pd_host_seed),
					bpf_map__max_entries(skel->maps.pd_hosts), PD_HOSTS_WAYS,
					&hkey, &st, sizeof(st)),
			 0);
	ck_assert_uint_eq(e->until_ns, st.blocked_until);
	ck_assert(e->until_ns >= t0 + 60 * SEC_NS);
	ck_assert_uint_eq(e->slot, 0);
	ck_assert_uint_eq(e->verdict, PD_DROP);
	ck_assert_uint_eq(e->reason, PD_REASON_BLOCKED);
	ck_assert_uint_eq(e->rule, PD_EV_RULE_NONE);
	assert_addr(e->daddr, HOST_A);
	/* The packet that got the host blocked. */
	ck_assert_uint_eq(e->flags, PD_EVF_PORTS);
	ck_assert_uint_eq(e->dport, DPORT_DROP);
	ck_assert_uint_eq(e->proto, IPPROTO_TCP);
	/* Blocked packets: drop records (reason blocked), no second block record. */
	ck_assert_int_eq(run(&p), BPF_DROP);
	events_drain(log);
	ck_assert_uint_eq(ev_count(log, PD_EV_BLOCK), 1);
	e = ev_nth(log, PD_EV_DROP, 3);
	ck_assert_uint_eq(e->reason, PD_REASON_BLOCKED);
	free(log);
}
END_TEST

/* Monitor mode: the block record says the host's packets would drop, and pass. */
START_TEST(test_block_event_monitor)
{
	struct ev_log *log = ev_log_new();
	const struct pd_event *e;
	struct pd_policy pol;
	struct pkt p;
	int i;

	policy_base(&pol, PD_PASS);
	pol.flags |= PD_POLICY_MONITOR;
	pol.block = (struct pd_block){ .kind = PD_BLOCK_DROPS,
				       .threshold = 2,
				       .window_ns = 10 * SEC_NS,
				       .duration_ns = 60 * SEC_NS };
	install(&pol, 100);
	pkt_v6(&p, HOST6, IPPROTO_TCP, DPORT_DROP, LEN);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(run(&p), BPF_OK);
	events_drain(log);
	ck_assert_uint_eq(ev_count(log, PD_EV_BLOCK), 1);
	e = ev_nth(log, PD_EV_BLOCK, 0);
	ck_assert_uint_eq(e->verdict, PD_PASS);
	ck_assert_uint_eq(e->flags & PD_EVF_WOULD_DROP, PD_EVF_WOULD_DROP);
	ck_assert_uint_eq(e->family, AF_INET6);
	ck_assert_uint_gt(e->until_ns, 0);
	assert_addr(e->daddr, HOST6);
	free(log);
}
END_TEST

/*
 * Sampling 1 in 10 over 200,000 packets: a binomial count, mean 20,000, standard
 * deviation sqrt(200000 * 0.1 * 0.9) = 134. Within 6 sigma (+-805): a correct
 * program fails this about once in 5e8 runs; one that samples 1 in 9 or 1 in 11
 * (mean 22,222 or 18,182, more than 13 sigma off), every packet or none fails it.
 * Run in chunks of 20,000 packets, the ring drained after each: a chunk's ~2,000
 * records of 1.6 kB fit in the 4 MiB ring (its own 6 sigma: +-255).
 */
START_TEST(test_sample_probability)
{
	const double n = 200000, prob = 0.1, bound = 6 * sqrt(n * prob * (1 - prob));
	const __u32 chunk = 20000;
	struct ev_log *log = ev_log_new();
	struct pd_policy pol;
	struct pkt p;
	size_t got = 0;
	__u32 sent;

	policy_base(&pol, PD_PASS);
	pol.sample_every = 10;
	pol.sample_snaplen = 64;
	install(&pol, 100);
	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	for (sent = 0; sent < n; sent += chunk) {
		ck_assert_int_eq(run_repeat(&p, chunk), BPF_OK);
		got += events_drain(log);
	}
	ck_assert_uint_eq(misc_stats().events_lost, 0);
	ck_assert_uint_eq(log->n, got);
	ck_assert_msg(fabs((double)got - n * prob) <= bound,
		      "%zu samples of %.0f packets, expected %.0f +- %.0f", got, n, n * prob,
		      bound);
	free(log);
}
END_TEST

/* A sample carries min(len, snaplen) bytes of the packet, from the IP header on. */
START_TEST(test_sample_bytes)
{
	static const struct {
		__u16 snaplen;
		__u32 caplen;
	} cases[] = { { 64, 64 }, { 1000, LEN }, { 0, PD_DEFAULT_SNAPLEN }, { 1, 1 } };
	struct ev_log *log = ev_log_new();
	const struct pd_sample_event *s;
	struct pd_policy pol;
	struct pkt p;
	size_t i, k;

	policy_base(&pol, PD_PASS);
	pol.sample_every = 1;
	install(&pol, 100);
	pkt_v6(&p, HOST6, IPPROTO_UDP, DPORT_PASS, LEN);
	/* Payload bytes that differ, so an offset error shows. */
	for (k = p.l4 + 8; k < p.len; k++)
		p.buf[k] = (uint8_t)(k * 7);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pol.sample_snaplen = cases[i].snaplen;
		set_policy(0, 0, &pol);
		log->kept = 0;
		ck_assert_int_eq(run(&p), BPF_OK);
		ck_assert_uint_eq(events_drain(log), 1);
		s = (const struct pd_sample_event *)ev_nth(log, PD_EV_SAMPLE, 0);
		ck_assert_uint_eq(s->caplen, cases[i].caplen);
		ck_assert_uint_eq(s->ev.len, LEN);
		ck_assert_uint_eq(s->ev.verdict, PD_PASS);
		ck_assert_uint_eq(s->ev.rule, 0);
		ck_assert_uint_eq(s->ev.dport, DPORT_PASS);
		assert_addr(s->ev.daddr, HOST6);
		ck_assert_msg(!memcmp(s->data, p.buf + p.l3, s->caplen),
			      "snaplen %u: the bytes differ from the packet's", cases[i].snaplen);
	}
	/* Dropped packets are sampled too (beside their drop record). */
	pkt_v4(&p, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);
	log->kept = 0;
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(events_drain(log), 2);
	ck_assert_uint_eq(ev_nth(log, PD_EV_SAMPLE, 0)->verdict, PD_DROP);
	free(log);
}
END_TEST

/* A full ring: records that find no room are counted lost, none silently. */
START_TEST(test_events_lost)
{
	struct ev_log *log = ev_log_new();
	struct pd_policy pol;
	struct pkt p;
	__u32 n = 4000;
	size_t got;
	__u64 lost;

	policy_base(&pol, PD_PASS);
	pol.sample_every = 1;
	pol.sample_snaplen = PD_SNAPLEN_MAX;
	install(&pol, 100);
	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	/* 4,000 records of 1.6 kB do not fit in 4 MiB. */
	ck_assert_int_eq(run_repeat(&p, n), BPF_OK);
	got = events_drain(log);
	lost = misc_stats().events_lost;
	ck_assert_uint_gt(lost, 0);
	ck_assert_uint_gt(got, 0);
	ck_assert_uint_eq(got + lost, n);
	/* Drained, the ring takes records again. */
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(events_drain(log), 1);
	ck_assert_uint_eq(misc_stats().events_lost, lost);
	free(log);
}
END_TEST

static Suite *events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("ring");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_drop_event_fields);
	tcase_add_test(tc, test_drop_event_fragment_monitor);
	tcase_add_test(tc, test_drop_cap);
	tcase_add_test(tc, test_log_events);
	tcase_add_test(tc, test_block_event);
	tcase_add_test(tc, test_block_event_monitor);
	tcase_add_test(tc, test_sample_probability);
	tcase_add_test(tc, test_sample_bytes);
	tcase_add_test(tc, test_events_lost);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_root_suite("check_events", events_suite);
}
