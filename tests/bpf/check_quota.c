// SPDX-License-Identifier: GPL-2.0-only
/*
 * Quotas and behavioural blocking in the LWT_OUT program under BPF_PROG_TEST_RUN:
 * per-policy and per-host budgets, period rollover, blocks on drops, packets and
 * bytes, fixed expiry, window reset, a full pd_hosts and monitor mode. Policies
 * are written through the ABI structs, not by the compiler. Needs root.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/bpf/prog_harness.h"

#define NET4 "198.18.0.0/16"
#define NET6 "2001:db8:1::/48"
#define HOST_A "198.18.5.7"
#define HOST_B "198.18.9.9"
#define HOST_C "198.18.10.1"
#define HOST6 "2001:db8:1::80"

#define LEN 200 /* IP length of every test packet */

#define HOUR_NS (3600 * SEC_NS)

/* Sleep @n ticks of the coarse clock, the program's for blocks and quotas. */
static void sleep_ticks(unsigned int n)
{
	usleep(n * coarse_tick_ns() / 1000);
}

static void install(const struct pd_policy *pol)
{
	set_policy(0, 0, pol);
	add_dest(0, NET4, 0);
	add_dest(0, NET6, 0);
	set_epoch(0);
}

static void quota_set(struct pd_policy *pol, __u64 bytes, __u8 per_host)
{
	pol->quota.bytes = bytes;
	pol->quota.period_ns = HOUR_NS;
	pol->quota.per_host = per_host;
}

static void block_set(struct pd_policy *pol, __u8 kind, __u64 threshold)
{
	pol->block.kind = kind;
	pol->block.threshold = threshold;
	pol->block.window_ns = 60 * SEC_NS;
	pol->block.duration_ns = HOUR_NS;
}

static void pass_pkt(struct pkt *p, const char *dst)
{
	pkt_to(p, dst, IPPROTO_UDP, DPORT_PASS, LEN);
}

static void drop_pkt(struct pkt *p, const char *dst)
{
	pkt_v4(p, dst, IPPROTO_TCP, DPORT_DROP, LEN);
}

static int run_n(const struct pkt *p, int n)
{
	int i, passed = 0;

	for (i = 0; i < n; i++)
		passed += run(p) == BPF_OK;
	return passed;
}

static struct pd_hosts_key hosts_key(const char *addr)
{
	struct pd_hosts_key key = { .slot = 0 };

	if (inet_pton(AF_INET, addr, key.addr) == 1) {
		key.family = AF_INET;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, key.addr), 1);
		key.family = AF_INET6;
	}
	return key;
}

/* @addr's state in pd_hosts; returns 0 if there is none. */
static int host_get(const char *addr, struct pd_host_state *st)
{
	struct pd_hosts_key key = hosts_key(addr);

	memset(st, 0, sizeof(*st));
	return !set_map_lookup(
		bpf_map__fd(skel->maps.pd_hosts), bpf_map__fd(skel->maps.pd_host_seed),
		bpf_map__max_entries(skel->maps.pd_hosts), PD_HOSTS_WAYS, &key, st, sizeof(*st));
}

static struct pd_host_state host_must(const char *addr)
{
	struct pd_host_state st;

	ck_assert_msg(host_get(addr, &st), "no pd_hosts state for %s", addr);
	return st;
}

/* Write @addr's state in place (it has one). */
static void host_put(const char *addr, const struct pd_host_state *st)
{
	struct pd_hosts_key key = hosts_key(addr);
	struct pd_hosts_set set;
	__u32 idx = key_set_get(skel->maps.pd_hosts, &key, &set);
	int w;

	for (w = 0; w < PD_HOSTS_WAYS; w++)
		if (!memcmp(&set.way[w].key, &key, sizeof(key)))
			break;
	ck_assert_int_lt(w, PD_HOSTS_WAYS);
	set.way[w].st = *st;
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.pd_hosts), &idx, &set, BPF_ANY),
			 0);
}

static struct pd_policy_quota policy_quota_get(void)
{
	struct pd_policy_quota q;
	__u32 slot = 0;

	ck_assert_int_eq(bpf_map__lookup_elem(skel->maps.pd_policy_quota, &slot, sizeof(slot), &q,
					      sizeof(q), 0),
			 0);
	return q;
}

static void policy_quota_put(const struct pd_policy_quota *q)
{
	__u32 slot = 0;

	ck_assert_int_eq(bpf_map__update_elem(skel->maps.pd_policy_quota, &slot, sizeof(slot), q,
					      sizeof(*q), BPF_ANY),
			 0);
}

static __u64 period_now(void)
{
	return clock_ns(CLOCK_TAI) / HOUR_NS;
}

/* --- quotas -------------------------------------------------------------- */

/* A budget of 3 packets' bytes for the policy: 3 pass, whatever the host; the rest drop. */
START_TEST(test_quota_policy)
{
	struct pd_policy_stats ps;
	struct pd_policy_quota q;
	struct pd_host_state st;
	struct pd_counters c;
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_PASS);
	quota_set(&pol, 3 * LEN, 0);
	install(&pol);
	pass_pkt(&p, HOST_A);
	ck_assert_uint_eq(pkt_ip_len(&p), LEN);
	ck_assert_int_eq(run_n(&p, 2), 2);
	pass_pkt(&p, HOST_B);
	ck_assert_int_eq(run_n(&p, 3), 1);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run(&p), BPF_DROP);

	q = policy_quota_get();
	ck_assert_uint_eq(q.used, 3 * LEN);
	ck_assert_uint_eq(q.period, period_now());
	c = rule_stats(COUNTER_PASS);
	ck_assert_uint_eq(c.packets, 6);
	ck_assert_uint_eq(c.passed_bytes, 3 * LEN);
	ck_assert_uint_eq(c.dropped_packets, 3);
	ck_assert_uint_eq(c.dropped_reason[PD_REASON_QUOTA], 3);
	ps = policy_stats(0);
	ck_assert_uint_eq(ps.c.dropped_reason[PD_REASON_QUOTA], 3);
	ck_assert_uint_eq(ps.c.passed_packets, 3);
	/* A per-policy quota keeps no host state. */
	ck_assert(!host_get(HOST_A, &st));

	/* Drops by a rule are not charged; a smaller packet that fits still passes. */
	drop_pkt(&p, HOST_A);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(policy_quota_get().used, 3 * LEN);
	pol.quota.bytes = 3 * LEN + 100;
	/* A block keeps host state; a per-policy quota still counts in pd_policy_quota. */
	block_set(&pol, PD_BLOCK_PACKETS, 1000);
	set_policy(0, 0, &pol);
	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, 100);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(policy_quota_get().used, 3 * LEN + 100);
	ck_assert_uint_eq(host_must(HOST_A).quota_used, 0);
	ck_assert_uint_eq(host_must(HOST_A).window_count, 2);
}
END_TEST

/* Per host: each host its own budget of 2 packets, IPv6 too; no per-policy use. */
START_TEST(test_quota_per_host)
{
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_PASS);
	quota_set(&pol, 2 * LEN, 1);
	install(&pol);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 4), 2);
	pass_pkt(&p, HOST_B);
	ck_assert_int_eq(run_n(&p, 4), 2);
	pass_pkt(&p, HOST6);
	ck_assert_int_eq(run_n(&p, 4), 2);
	ck_assert_uint_eq(host_must(HOST_A).quota_used, 2 * LEN);
	ck_assert_uint_eq(host_must(HOST_B).quota_used, 2 * LEN);
	ck_assert_uint_eq(host_must(HOST6).quota_used, 2 * LEN);
	ck_assert_uint_eq(host_must(HOST_A).quota_period, period_now());
	ck_assert_uint_eq(policy_quota_get().used, 0);
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).dropped_reason[PD_REASON_QUOTA], 6);
	/* The default verdict's packets are charged as well. */
	pkt_v4(&p, HOST_C, IPPROTO_UDP, 99, LEN);
	ck_assert_int_eq(run_n(&p, 3), 2);
	ck_assert_uint_eq(rule_stats(COUNTER_DEFAULT).dropped_reason[PD_REASON_QUOTA], 1);
}
END_TEST

/* A state from an older period: the next packet starts a new one (per host: once
 * its quota_recheck has come). */
START_TEST(test_quota_rollover)
{
	struct pd_policy_quota q;
	struct pd_host_state st;
	struct pd_policy pol;
	struct pkt p;
	__u64 t0;

	policy_base(&pol, PD_PASS);
	quota_set(&pol, 2 * LEN, 0);
	install(&pol);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 3), 2);
	q = policy_quota_get();
	q.period -= 1;
	policy_quota_put(&q);
	ck_assert_int_eq(run_n(&p, 3), 2);
	q = policy_quota_get();
	ck_assert_uint_ge(q.period, period_now() - 1);
	ck_assert_uint_eq(q.used, 2 * LEN);

	/* Per host. */
	pol.quota.per_host = 1;
	set_policy(0, 0, &pol);
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ck_assert_int_eq(run_n(&p, 3), 2);
	st = host_must(HOST_A);
	/* The period is read again at the latest a second on. */
	ck_assert_uint_ge(st.quota_recheck, t0);
	ck_assert_uint_le(st.quota_recheck, clock_ns(CLOCK_MONOTONIC) + SEC_NS);
	/* Before quota_recheck the state's period is taken as it is: no clock. */
	st.quota_period -= 5;
	st.quota_recheck = clock_ns(CLOCK_MONOTONIC) + HOUR_NS;
	host_put(HOST_A, &st);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(host_must(HOST_A).quota_period, st.quota_period);
	/* From it on, the clock says the period is over: a new one starts. */
	st = host_must(HOST_A);
	st.quota_recheck = clock_ns(CLOCK_MONOTONIC_COARSE);
	host_put(HOST_A, &st);
	ck_assert_int_eq(run(&p), BPF_OK);
	st = host_must(HOST_A);
	ck_assert_uint_eq(st.quota_used, LEN);
	ck_assert_uint_ge(st.quota_period, period_now() - 1);
}
END_TEST

/* Slot 0's pd_quota_clock on TEST_CPU. */
static struct pd_quota_clock quota_clock_get(void)
{
	struct pd_quota_clock qc;

	percpu_get(skel->maps.pd_quota_clock, 0, &qc, sizeof(qc));
	return qc;
}

/*
 * A per-policy quota reads the TAI clock once, then keeps the period this CPU
 * read until its recheck: a period planted there is charged as it is. A
 * pd_policy_quota counting in another period (zeroed for a new policy, or
 * older), or another period_ns, has the clock read again.
 */
START_TEST(test_quota_policy_clock)
{
	struct pd_quota_clock qc, fake;
	struct pd_policy_quota q;
	struct pd_policy pol;
	struct pkt p;
	__u64 t0, t1;

	policy_base(&pol, PD_PASS);
	quota_set(&pol, 100 * LEN, 0);
	install(&pol);
	pass_pkt(&p, HOST_A);
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ck_assert_int_eq(run(&p), BPF_OK);
	t1 = clock_ns(CLOCK_MONOTONIC);
	qc = quota_clock_get();
	ck_assert_uint_eq(qc.period_ns, HOUR_NS);
	ck_assert_uint_eq(qc.period, policy_quota_get().period);
	ck_assert_uint_ge(qc.period, period_now() - 1);
	ck_assert_uint_ge(qc.recheck, t0);
	ck_assert_uint_le(qc.recheck, t1 + SEC_NS);

	/* A later period planted in both: charged in it, no clock read. */
	fake = (struct pd_quota_clock){ .period_ns = HOUR_NS,
					.period = qc.period + 7,
					.recheck = clock_ns(CLOCK_MONOTONIC) + HOUR_NS };
	percpu_put(skel->maps.pd_quota_clock, 0, &fake, sizeof(fake));
	policy_quota_put(&(struct pd_policy_quota){ .period = fake.period, .used = LEN });
	ck_assert_int_eq(run(&p), BPF_OK);
	q = policy_quota_get();
	ck_assert_uint_eq(q.period, fake.period);
	ck_assert_uint_eq(q.used, 2 * LEN);

	/* pd_policy_quota zeroed (a new policy in the slot): the clock decides. */
	policy_quota_put(&(struct pd_policy_quota){ 0 });
	ck_assert_int_eq(run(&p), BPF_OK);
	q = policy_quota_get();
	ck_assert_uint_ge(q.period, period_now() - 1);
	ck_assert_uint_le(q.period, period_now());
	ck_assert_uint_eq(q.used, LEN);
	ck_assert_uint_eq(quota_clock_get().period, q.period);

	/* Another period_ns (a re-apply with another period): the clock again. */
	percpu_put(skel->maps.pd_quota_clock, 0, &fake, sizeof(fake));
	policy_quota_put(&(struct pd_policy_quota){ .period = fake.period, .used = 0 });
	pol.quota.period_ns = 2 * HOUR_NS;
	set_policy(0, 0, &pol);
	t0 = clock_ns(CLOCK_TAI) / (2 * HOUR_NS);
	ck_assert_int_eq(run(&p), BPF_OK);
	t1 = clock_ns(CLOCK_TAI) / (2 * HOUR_NS);
	q = policy_quota_get();
	ck_assert_uint_ge(q.period, t0);
	ck_assert_uint_le(q.period, t1);
	ck_assert_uint_eq(q.used, LEN);
	ck_assert_uint_eq(quota_clock_get().period_ns, 2 * HOUR_NS);
}
END_TEST

/* --- blocks -------------------------------------------------------------- */

/* The packet of @dst whose rule passes is dropped as blocked, on the default counter. */
static void assert_blocked_drop(const char *dst)
{
	struct pkt p;
	__u64 before = rule_stats(COUNTER_DEFAULT).dropped_reason[PD_REASON_BLOCKED];

	pass_pkt(&p, dst);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(COUNTER_DEFAULT).dropped_reason[PD_REASON_BLOCKED],
			  before + 1);
}

/* 3 drops within the window: the third blocks; passing traffic made no state. */
START_TEST(test_block_drops)
{
	struct pd_policy_stats ps;
	struct pd_host_state st;
	struct pd_policy pol;
	struct pkt p;
	__u64 t0;

	policy_base(&pol, PD_PASS);
	block_set(&pol, PD_BLOCK_DROPS, 3);
	install(&pol);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 5), 5);
	ck_assert(!host_get(HOST_A, &st));

	drop_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 2), 0);
	st = host_must(HOST_A);
	ck_assert_uint_eq(st.window_count, 2);
	ck_assert_uint_eq(st.blocked_until, 0);
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ck_assert_int_eq(run(&p), BPF_DROP);
	st = host_must(HOST_A);
	ck_assert_uint_eq(st.blocks, 1);
	ck_assert_uint_gt(st.blocked_until, t0 + HOUR_NS - 1);
	ck_assert_uint_le(st.blocked_until, clock_ns(CLOCK_MONOTONIC) + HOUR_NS);

	assert_blocked_drop(HOST_A);
	assert_blocked_drop(HOST_A);
	/* Blocked packets are not rule drops: they neither count nor reach a rule. */
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).packets, 5);
	ck_assert_uint_eq(host_must(HOST_A).window_count, 3);
	ck_assert_uint_eq(host_must(HOST_A).blocks, 1);
	ps = policy_stats(0);
	ck_assert_uint_eq(ps.c.dropped_reason[PD_REASON_BLOCKED], 2);
	ck_assert_uint_eq(ps.c.dropped_reason[PD_REASON_RULE], 3);
	ck_assert_uint_eq(rule_stats(COUNTER_DEFAULT).dropped_packets, 2);
	ck_assert_uint_eq(rule_stats(COUNTER_DEFAULT).dropped_bytes, 2 * LEN);
	/* Another host is not blocked. */
	pass_pkt(&p, HOST_B);
	ck_assert_int_eq(run(&p), BPF_OK);
}
END_TEST

/* Packets: the 5th packet in the window blocks (it passes itself), the 6th is dropped. */
START_TEST(test_block_packets)
{
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_PASS);
	block_set(&pol, PD_BLOCK_PACKETS, 5);
	install(&pol);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 4), 4);
	ck_assert_uint_eq(host_must(HOST_A).blocked_until, 0);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(host_must(HOST_A).blocks, 1);
	assert_blocked_drop(HOST_A);
	/* GSO: one skb of 3 segments counts 3 packets. */
	pass_pkt(&p, HOST_B);
	ck_assert_int_eq(run_gso(&p, 3), BPF_OK);
	ck_assert_uint_eq(host_must(HOST_B).window_count, 3);
	ck_assert_int_eq(run_gso(&p, 2), BPF_OK);
	ck_assert_uint_eq(host_must(HOST_B).blocks, 1);
	assert_blocked_drop(HOST_B);
}
END_TEST

/* Bytes: a threshold of 1000 is crossed by the 5th 200-byte packet. */
START_TEST(test_block_bytes)
{
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_PASS);
	block_set(&pol, PD_BLOCK_BYTES, 1000);
	install(&pol);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 4), 4);
	ck_assert_uint_eq(host_must(HOST_A).window_count, 800);
	ck_assert_uint_eq(host_must(HOST_A).blocked_until, 0);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(host_must(HOST_A).blocks, 1);
	assert_blocked_drop(HOST_A);
}
END_TEST

/* The expiry is fixed when the block starts; once past, the host passes again. */
START_TEST(test_block_expiry)
{
	struct pd_host_state st;
	struct pd_policy pol;
	struct pkt p;
	__u64 until;

	policy_base(&pol, PD_PASS);
	block_set(&pol, PD_BLOCK_DROPS, 3);
	install(&pol);
	drop_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 3), 0);
	until = host_must(HOST_A).blocked_until;
	ck_assert_uint_gt(until, 0);
	/* The program's clock (the coarse one) moves on: a refreshed expiry would show. */
	sleep_ticks(2);
	ck_assert_int_eq(run_n(&p, 5), 0);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 5), 0);
	ck_assert_uint_eq(host_must(HOST_A).blocked_until, until);
	ck_assert_uint_eq(host_must(HOST_A).blocks, 1);

	st = host_must(HOST_A);
	st.blocked_until = clock_ns(CLOCK_MONOTONIC_COARSE) - 1;
	host_put(HOST_A, &st);
	ck_assert_int_eq(run_n(&p, 3), 3);
	sleep_ticks(2);
	/* The window still holds 3 drops: the next drop blocks again, a fresh hour. */
	drop_pkt(&p, HOST_A);
	ck_assert_int_eq(run(&p), BPF_DROP);
	st = host_must(HOST_A);
	ck_assert_uint_eq(st.blocks, 2);
	ck_assert_uint_gt(st.blocked_until, until);
	assert_blocked_drop(HOST_A);
}
END_TEST

/* A window that started long ago restarts: the count begins again. */
START_TEST(test_window_reset)
{
	struct pd_host_state st;
	struct pd_policy pol;
	struct pkt p;
	__u64 t0;

	policy_base(&pol, PD_PASS);
	block_set(&pol, PD_BLOCK_DROPS, 3);
	install(&pol);
	drop_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 2), 0);
	st = host_must(HOST_A);
	st.window_start -= 2 * pol.block.window_ns;
	host_put(HOST_A, &st);
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ck_assert_int_eq(run(&p), BPF_DROP);
	st = host_must(HOST_A);
	ck_assert_uint_eq(st.window_count, 1);
	ck_assert_uint_ge(st.window_start, t0);
	ck_assert_uint_eq(st.blocked_until, 0);
	ck_assert_int_eq(run_n(&p, 2), 0);
	ck_assert_uint_eq(host_must(HOST_A).blocks, 1);
}
END_TEST

/*
 * pd_hosts holds one set of 4: a fifth host needing state, while the four have
 * quota use, gets the table-full verdict, pass then drop; the hosts with state
 * go on as usual; an idle state's way goes to the next new host.
 */
START_TEST(test_table_full)
{
	static const char *const hosts[] = { HOST_A, HOST_B, "198.18.9.10", "198.18.9.11" };
	struct pd_policy_stats ps;
	struct pd_host_state st;
	struct pd_counters c;
	struct pd_policy pol;
	struct pkt p;
	int i;

	ck_assert_uint_eq(bpf_map__max_entries(skel->maps.pd_hosts), 1);
	policy_base(&pol, PD_PASS);
	quota_set(&pol, 1000 * LEN, 1);
	pol.table_full_verdict = PD_PASS;
	install(&pol);
	for (i = 0; i < 4; i++) {
		pass_pkt(&p, hosts[i]);
		ck_assert_int_eq(run(&p), BPF_OK);
	}
	pass_pkt(&p, HOST_C);
	ck_assert_int_eq(run_n(&p, 3), 3);
	ck_assert(!host_get(HOST_C, &st));
	c = rule_stats(COUNTER_PASS);
	ck_assert_uint_eq(c.table_full_packets, 3);
	ck_assert_uint_eq(c.passed_packets, 7);

	pol.table_full_verdict = PD_DROP;
	set_policy(0, 0, &pol);
	ck_assert_int_eq(run_n(&p, 4), 0);
	c = rule_stats(COUNTER_PASS);
	ck_assert_uint_eq(c.table_full_packets, 7);
	ck_assert_uint_eq(c.dropped_reason[PD_REASON_TABLE_FULL], 4);
	ck_assert_uint_eq(c.dropped_packets, 4);
	ps = policy_stats(0);
	ck_assert_uint_eq(ps.c.dropped_reason[PD_REASON_TABLE_FULL], 4);
	ck_assert_uint_eq(ps.c.table_full_packets, 7);
	/* A rule's drop is a drop whatever the table: no table-full on it. */
	drop_pkt(&p, HOST_C);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(COUNTER_DROP).table_full_packets, 0);
	ck_assert_uint_eq(rule_stats(COUNTER_DROP).dropped_reason[PD_REASON_RULE], 1);
	/* A host with state: its quota decides. */
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_uint_eq(host_must(HOST_A).quota_used, 2 * LEN);

	/* A packets block needs state for every packet: the same answer. */
	block_set(&pol, PD_BLOCK_PACKETS, 100);
	set_policy(0, 0, &pol);
	pass_pkt(&p, HOST_C);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).dropped_reason[PD_REASON_TABLE_FULL], 5);

	/* Without the quota, the four states say nothing an absent one would
	 * not (no block, no count in a window): the first way, HOST_A's, goes
	 * to HOST_C, whose state starts from zero. */
	memset(&pol.quota, 0, sizeof(pol.quota));
	set_policy(0, 0, &pol);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert(!host_get(HOST_A, &st));
	st = host_must(HOST_C);
	ck_assert_uint_eq(st.window_count, 1);
	ck_assert_uint_eq(st.quota_used, 0);
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).dropped_reason[PD_REASON_TABLE_FULL], 5);
}
END_TEST

/* Monitor mode: a blocked host's packets and those over the quota pass as would-drops. */
START_TEST(test_monitor)
{
	struct pd_counters c;
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_PASS);
	pol.flags |= PD_POLICY_MONITOR;
	block_set(&pol, PD_BLOCK_DROPS, 3);
	install(&pol);
	/* Would-drops count as drops for the block. */
	drop_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 3), 3);
	ck_assert_uint_eq(host_must(HOST_A).blocks, 1);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 4), 4);
	c = rule_stats(COUNTER_DEFAULT);
	assert_monitored(&c, 4, 4 * LEN, 4, 4 * LEN);
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).packets, 0);
	ck_assert_uint_eq(host_must(HOST_A).blocks, 1);

	/* A quota over: would-drop; used stays what enforcing would have passed. */
	pol.block.kind = PD_BLOCK_NONE;
	quota_set(&pol, 2 * LEN, 0);
	set_policy(0, 0, &pol);
	ck_assert_int_eq(run_n(&p, 5), 5);
	c = rule_stats(COUNTER_PASS);
	assert_monitored(&c, 5, 5 * LEN, 3, 3 * LEN);
	ck_assert_uint_eq(policy_quota_get().used, 2 * LEN);
}
END_TEST

/* A policy without quota or block touches neither map. */
START_TEST(test_plain_untouched)
{
	struct pd_host_state st;
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_PASS);
	install(&pol);
	pass_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 3), 3);
	drop_pkt(&p, HOST_A);
	ck_assert_int_eq(run_n(&p, 3), 0);
	ck_assert(!host_get(HOST_A, &st));
	ck_assert_uint_eq(policy_quota_get().used, 0);
	ck_assert_uint_eq(policy_quota_get().period, 0);
}
END_TEST

/*
 * Two CPUs give ways to the same new hosts' states at the same moment, host
 * after host: no host ends with two states (one of the two ways is freed),
 * and none has none but where its set is full of others. Skipped on a machine
 * of one CPU.
 */
START_TEST(test_two_cpus_new_hosts)
{
	enum { N = 12000 };
	struct pkt *pkts;
	struct pd_policy pol;
	char addr[32];
	int i;

	if (ncpus < 2)
		return;
	policy_base(&pol, PD_PASS);
	quota_set(&pol, 1000 * LEN, 1);
	install(&pol);
	pkts = new_host_pkts(N, pass_pkt);
	run_on_two_cpus(pkts, N);
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).packets, 2 * N);
	for (i = 0; i < N; i++) {
		struct pd_hosts_key key;
		struct pd_hosts_set set;
		int w, mine = 0, taken = 0;

		new_host_addr(addr, sizeof(addr), i);
		key = hosts_key(addr);
		key_set_get(skel->maps.pd_hosts, &key, &set);
		for (w = 0; w < PD_HOSTS_WAYS; w++) {
			mine += !memcmp(&set.way[w].key, &key, sizeof(key));
			taken += set.way[w].key.family != 0;
		}
		ck_assert_msg(mine <= 1, "%s has %d states", addr, mine);
		ck_assert_msg(mine || taken == PD_HOSTS_WAYS, "%s has no state in a set with room",
			      addr);
	}
	free(pkts);
}
END_TEST

static void setup_small_table(void)
{
	setup_tables(0, 2);
}

static Suite *quota_suite(void)
{
	Suite *s = suite_create("quota");
	TCase *tc = tcase_create("test_run");
	TCase *full = tcase_create("table_full");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_quota_policy);
	tcase_add_test(tc, test_quota_per_host);
	tcase_add_test(tc, test_quota_rollover);
	tcase_add_test(tc, test_quota_policy_clock);
	tcase_add_test(tc, test_block_drops);
	tcase_add_test(tc, test_block_packets);
	tcase_add_test(tc, test_block_bytes);
	tcase_add_test(tc, test_block_expiry);
	tcase_add_test(tc, test_window_reset);
	tcase_add_test(tc, test_monitor);
	tcase_add_test(tc, test_plain_untouched);
	tcase_add_test(tc, test_two_cpus_new_hosts);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(full, setup_small_table, teardown);
	tcase_set_timeout(full, 60);
	tcase_add_test(full, test_table_full);
	suite_add_tcase(s, full);
	return s;
}

int main(void)
{
	return run_root_suite("check_quota", quota_suite);
}
