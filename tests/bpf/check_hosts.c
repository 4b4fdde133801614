// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-host table (pd_dcache4/6) under BPF_PROG_TEST_RUN: each host's packets,
 * bytes, drops by reason, would-drops and last-seen time, IPv4 and IPv6; counters
 * that survive an apply; a way of its own for a host another CPU holds; the way
 * seen longest ago given to a new host, counted as an eviction; no way for the
 * unspecified address. Needs root.
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
#define HOST_NONE "198.19.1.1" /* no policy */
#define HOST6_A "2001:db8:1::80"
#define HOST6_B "2001:db8:1::81"

#define LEN 200

static void install(const struct pd_policy *pol)
{
	set_policy(0, 0, pol);
	add_dest(0, NET4, 0);
	add_dest(0, NET6, 0);
	set_epoch(0);
}

/* The host's value on TEST_CPU counts exactly this. */
static void assert_host(const char *addr, __u64 packets, __u64 bytes, __u64 would_drop,
			const __u64 dropped[PD_REASON_MAX])
{
	struct pd_host_way v = dcache_get(addr);
	int i;

	ck_assert_msg(v.packets == packets, "%s: %llu packets, expected %llu", addr,
		      (unsigned long long)v.packets, (unsigned long long)packets);
	ck_assert_uint_eq(v.bytes, bytes);
	ck_assert_uint_eq(v.would_drop, would_drop);
	for (i = 0; i < PD_REASON_MAX; i++)
		ck_assert_msg(v.dropped[i] == dropped[i], "%s: reason %d: %llu, expected %llu",
			      addr, i, (unsigned long long)v.dropped[i],
			      (unsigned long long)dropped[i]);
}

/* IPv4: packets (a GSO skb as its segments), bytes, drops by reason, last seen, per host. */
START_TEST(test_counters4)
{
	__u64 dropped[PD_REASON_MAX] = {}, t0, t1;
	struct pd_host_way v;
	struct pd_policy pol;
	struct pkt pass, drop, other, b;

	policy_base(&pol, PD_DROP);
	install(&pol);
	pkt_v4(&pass, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	pkt_v4(&drop, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN + 100);
	pkt_v4(&other, HOST_A, IPPROTO_UDP, 9999, LEN + 50);
	pkt_v4(&b, HOST_B, IPPROTO_UDP, DPORT_PASS, LEN);

	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ck_assert_int_eq(run(&pass), BPF_OK);
	ck_assert_int_eq(run_gso(&pass, 4), BPF_OK);
	ck_assert_int_eq(run(&drop), BPF_DROP);
	ck_assert_int_eq(run(&drop), BPF_DROP);
	ck_assert_int_eq(run(&other), BPF_DROP);
	ck_assert_int_eq(run(&b), BPF_OK);
	t1 = clock_ns(CLOCK_MONOTONIC_COARSE);

	dropped[PD_REASON_RULE] = 2;
	dropped[PD_REASON_DEFAULT] = 1;
	assert_host(HOST_A, 1 + 4 + 2 + 1, 2 * LEN + 2 * (LEN + 100) + LEN + 50, 0, dropped);
	memset(dropped, 0, sizeof(dropped));
	assert_host(HOST_B, 1, LEN, 0, dropped);
	v = dcache_get(HOST_A);
	ck_assert_msg(v.last_seen >= t0 && v.last_seen <= t1, "last_seen %llu not in [%llu, %llu]",
		      (unsigned long long)v.last_seen, (unsigned long long)t0,
		      (unsigned long long)t1);
	assert_dcache(HOST_A, 0, 0);
	ck_assert_uint_eq(dcache_ways_used(AF_INET), 2);
	ck_assert_uint_eq(dcache_ways_used(AF_INET6), 0);
	ck_assert_uint_eq(misc_stats().hosts_evicted4, 0);
}
END_TEST

/* pd_clock's value on TEST_CPU. */
static struct pd_clock clock_cache_get(void)
{
	struct pd_clock c;

	percpu_get(skel->maps.pd_clock, 0, &c, sizeof(c));
	return c;
}

/*
 * The packet's time (here: last seen) is this CPU's coarse clock reading of the
 * current tick (pd_clock): a reading in the cache is used while jiffies stay,
 * and one ticks later is read anew, never ahead of the clock.
 */
START_TEST(test_clock_per_tick)
{
	__u32 tick = coarse_tick_ns();
	struct pd_clock c, fake, after;
	struct pd_policy pol;
	struct pkt p;
	__u64 t0, t1;
	int tries;

	policy_base(&pol, PD_PASS);
	install(&pol);
	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ck_assert_int_eq(run(&p), BPF_OK);
	t1 = clock_ns(CLOCK_MONOTONIC_COARSE);
	c = clock_cache_get();
	ck_assert_uint_ne(c.jiffies, 0);
	ck_assert_msg(c.ns >= t0 && c.ns <= t1, "reading %llu not in [%llu, %llu]",
		      (unsigned long long)c.ns, (unsigned long long)t0, (unsigned long long)t1);
	ck_assert_uint_eq(dcache_get(HOST_A).last_seen, c.ns);

	/* A reading planted for this tick is the packet's time. A tick between the
	 * plant and the run replaces it: then try again. */
	for (tries = 0; tries < 20; tries++) {
		c = clock_cache_get();
		fake = (struct pd_clock){ .jiffies = c.jiffies, .ns = c.ns - 12345 };
		percpu_put(skel->maps.pd_clock, 0, &fake, sizeof(fake));
		ck_assert_int_eq(run(&p), BPF_OK);
		after = clock_cache_get();
		if (after.jiffies == fake.jiffies && after.ns == fake.ns)
			break;
		ck_assert_uint_gt(after.jiffies, fake.jiffies);
		ck_assert_uint_eq(dcache_get(HOST_A).last_seen, after.ns);
	}
	ck_assert_int_lt(tries, 20);
	ck_assert_uint_eq(dcache_get(HOST_A).last_seen, fake.ns);

	/* Ticks later, the clock is read again. */
	usleep(3 * tick / 1000);
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ck_assert_int_eq(run(&p), BPF_OK);
	t1 = clock_ns(CLOCK_MONOTONIC_COARSE);
	after = clock_cache_get();
	ck_assert_uint_gt(after.jiffies, fake.jiffies);
	ck_assert_msg(after.ns >= t0 && after.ns <= t1, "reading %llu not in [%llu, %llu]",
		      (unsigned long long)after.ns, (unsigned long long)t0, (unsigned long long)t1);
	ck_assert_uint_eq(dcache_get(HOST_A).last_seen, after.ns);
}
END_TEST

/* IPv6, and monitor mode: would-drops counted, nothing dropped. */
START_TEST(test_counters6_monitor)
{
	__u64 dropped[PD_REASON_MAX] = {};
	struct pd_policy pol;
	struct pkt pass, drop, b;

	policy_base(&pol, PD_PASS);
	pol.flags |= PD_POLICY_MONITOR;
	install(&pol);
	pkt_v6(&pass, HOST6_A, IPPROTO_UDP, DPORT_PASS, LEN);
	pkt_v6(&drop, HOST6_A, IPPROTO_TCP, DPORT_DROP, LEN);
	pkt_v6(&b, HOST6_B, IPPROTO_TCP, DPORT_DROP, LEN + 8);

	ck_assert_int_eq(run(&pass), BPF_OK);
	ck_assert_int_eq(run(&drop), BPF_OK);
	ck_assert_int_eq(run_gso(&drop, 3), BPF_OK);
	ck_assert_int_eq(run(&b), BPF_OK);
	assert_host(HOST6_A, 5, 3 * LEN, 4, dropped);
	assert_host(HOST6_B, 1, LEN + 8, 1, dropped);
	assert_dcache(HOST6_A, 0, 0);
	ck_assert_uint_eq(dcache_ways_used(AF_INET6), 2);
	ck_assert_uint_eq(dcache_ways_used(AF_INET), 0);
	ck_assert_uint_eq(misc_stats().hosts_evicted6, 0);

	/* Enforced, the same packets drop by reason. */
	pol.flags &= ~PD_POLICY_MONITOR;
	set_policy(1, 0, &pol);
	add_dest(1, NET6, 0);
	set_epoch(1);
	ck_assert_int_eq(run(&drop), BPF_DROP);
	dropped[PD_REASON_RULE] = 1;
	assert_host(HOST6_A, 6, 4 * LEN, 4, dropped);
}
END_TEST

/*
 * An apply (epoch bump) retags the host's way in place: its counters go on,
 * also when the host moves to another policy slot; it takes no other way.
 */
START_TEST(test_counters_survive_apply)
{
	__u64 dropped[PD_REASON_MAX] = {};
	struct pd_policy pol;
	struct pkt p4, p6;

	policy_base(&pol, PD_PASS);
	install(&pol);
	pkt_v4(&p4, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	pkt_v6(&p6, HOST6_A, IPPROTO_UDP, DPORT_PASS, LEN);
	ck_assert_int_eq(run(&p4), BPF_OK);
	ck_assert_int_eq(run(&p4), BPF_OK);
	ck_assert_int_eq(run(&p6), BPF_OK);

	/* Generation 1: the same prefixes in slot 3. */
	set_policy(1, 3, &pol);
	add_dest(1, NET4, 3);
	add_dest(1, NET6, 3);
	set_epoch(1);
	ck_assert_int_eq(run(&p4), BPF_OK);
	ck_assert_int_eq(run(&p6), BPF_OK);
	assert_dcache(HOST_A, 1, 3);
	assert_dcache(HOST6_A, 1, 3);
	assert_host(HOST_A, 3, 3 * LEN, 0, dropped);
	assert_host(HOST6_A, 2, 2 * LEN, 0, dropped);
	ck_assert_uint_eq(policy_stats(3).c.packets, 2);
	ck_assert_uint_eq(dcache_ways_used(AF_INET), 1);
	ck_assert_uint_eq(dcache_ways_used(AF_INET6), 1);
}
END_TEST

/* Addresses no policy covers: their way caches "none" and counts nothing. */
START_TEST(test_uncovered_not_counted)
{
	__u64 dropped[PD_REASON_MAX] = {};
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_DROP);
	install(&pol);
	pkt_v4(&p, HOST_NONE, IPPROTO_UDP, DPORT_PASS, LEN);
	ck_assert_int_eq(run(&p), BPF_OK);
	ck_assert_int_eq(run(&p), BPF_OK);
	assert_dcache(HOST_NONE, 0, PD_SLOT_NONE);
	assert_host(HOST_NONE, 0, 0, 0, dropped);
	ck_assert_uint_eq(dcache_ways_used(AF_INET), 1);
}
END_TEST

/*
 * Another CPU holds the host (here: every CPU but this one): this CPU's packet
 * takes a way of its own in this CPU's copy of the set, counting from zero, and
 * leaves the other CPUs' ways alone. Skipped on a machine of one CPU.
 */
START_TEST(test_other_cpu_holds_host)
{
	static const char *const hosts[] = { HOST_A, HOST6_A };
	__u64 dropped[PD_REASON_MAX] = {};
	struct pd_host_set *sets;
	struct pd_policy pol;
	struct pkt p;
	__u8 a[16];
	int i, cpu, w, family;

	if (ncpus < 2)
		return;
	sets = calloc(ncpus, sizeof(*sets));
	ck_assert_ptr_nonnull(sets);
	policy_base(&pol, PD_PASS);
	install(&pol);
	for (i = 0; i < 2; i++) {
		family = dcache_addr(hosts[i], a);
		dcache_set_get(hosts[i], sets);
		for (cpu = 0; cpu < ncpus; cpu++) {
			if (cpu == TEST_CPU)
				continue;
			memcpy(sets[cpu].addr[2], a, 16);
			sets[cpu].way[2] =
				(struct pd_host_way){ .packets = 1000, .bytes = 1000000 };
		}
		dcache_set_put(hosts[i], sets);
		pkt_to(&p, hosts[i], IPPROTO_UDP, DPORT_PASS, LEN);
		ck_assert_int_eq(run(&p), BPF_OK);
		assert_dcache(hosts[i], 0, 0);
		assert_host(hosts[i], 1, LEN, 0, dropped);
		dcache_set_get(hosts[i], sets);
		ck_assert_int_eq(host_set_way(&sets[TEST_CPU], family, a), 0);
		for (cpu = 0; cpu < ncpus; cpu++) {
			if (cpu == TEST_CPU)
				continue;
			w = host_set_way(&sets[cpu], family, a);
			ck_assert_int_eq(w, 2);
			ck_assert_uint_eq(sets[cpu].way[w].packets, 1000);
		}
	}
	ck_assert_uint_eq(misc_stats().hosts_evicted4, 0);
	ck_assert_uint_eq(misc_stats().hosts_evicted6, 0);
	free(sets);
}
END_TEST

/*
 * A set full of other hosts: a new host takes the way whose last packet is
 * oldest on this CPU, counted as an eviction; the other ways stay. IPv4 and
 * IPv6.
 */
START_TEST(test_victim_oldest)
{
	static const char *const hosts[] = { HOST_A, HOST6_A };
	static const __u64 seen[PD_HOST_WAYS] = { 500, 300, 100, 400 };
	struct pd_host_set *sets = calloc(ncpus, sizeof(*sets));
	__u64 dropped[PD_REASON_MAX] = {};
	struct pd_policy pol;
	struct pkt p;
	__u8 a[16];
	int i, w, family;

	ck_assert_ptr_nonnull(sets);
	policy_base(&pol, PD_PASS);
	install(&pol);
	for (i = 0; i < 2; i++) {
		family = dcache_addr(hosts[i], a);
		dcache_set_get(hosts[i], sets);
		for (w = 0; w < PD_HOST_WAYS; w++) {
			/* Other hosts of the set: the address plus w + 1 in its last byte. */
			memcpy(sets[TEST_CPU].addr[w], a, 16);
			sets[TEST_CPU].addr[w][family == AF_INET ? 3 : 15] += w + 1;
			sets[TEST_CPU].way[w] =
				(struct pd_host_way){ .packets = 10 + w, .last_seen = seen[w] };
		}
		dcache_set_put(hosts[i], sets);
		pkt_to(&p, hosts[i], IPPROTO_UDP, DPORT_PASS, LEN);
		ck_assert_int_eq(run(&p), BPF_OK);
		assert_host(hosts[i], 1, LEN, 0, dropped);
		dcache_set_get(hosts[i], sets);
		ck_assert_int_eq(host_set_way(&sets[TEST_CPU], family, a), 2);
		for (w = 0; w < PD_HOST_WAYS; w++)
			if (w != 2)
				ck_assert_uint_eq(sets[TEST_CPU].way[w].packets, 10 + w);
	}
	ck_assert_uint_eq(misc_stats().hosts_evicted4, 1);
	ck_assert_uint_eq(misc_stats().hosts_evicted6, 1);
	free(sets);
}
END_TEST

/* The unspecified address marks a free way: its packets are governed, never
 * given a way. */
START_TEST(test_unspecified_no_way)
{
	struct pd_policy pol;
	struct pkt p;

	policy_base(&pol, PD_DROP);
	set_policy(0, 0, &pol);
	add_dest(0, "0.0.0.0/8", 0);
	add_dest(0, "::/128", 0);
	set_epoch(0);
	pkt_v4(&p, "0.0.0.0", IPPROTO_UDP, DPORT_PASS, LEN);
	ck_assert_int_eq(run(&p), BPF_OK);
	pkt_v6(&p, "::", IPPROTO_TCP, DPORT_DROP, LEN);
	ck_assert_int_eq(run(&p), BPF_DROP);
	ck_assert_uint_eq(policy_stats(0).c.packets, 2);
	ck_assert_uint_eq(dcache_ways_used(AF_INET), 0);
	ck_assert_uint_eq(dcache_ways_used(AF_INET6), 0);
}
END_TEST

/* A blocked host's packets count as drops with reason blocked. */
START_TEST(test_blocked_counted)
{
	__u64 dropped[PD_REASON_MAX] = {};
	struct pd_policy pol;
	struct pkt drop, pass;
	int i;

	policy_base(&pol, PD_PASS);
	pol.block = (struct pd_block){ .kind = PD_BLOCK_DROPS,
				       .threshold = 2,
				       .window_ns = 10000000000ull,
				       .duration_ns = 60000000000ull };
	install(&pol);
	pkt_v4(&drop, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);
	pkt_v4(&pass, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(run(&drop), BPF_DROP);
	ck_assert_int_eq(run(&pass), BPF_DROP);
	dropped[PD_REASON_RULE] = 2;
	dropped[PD_REASON_BLOCKED] = 1;
	assert_host(HOST_A, 3, 3 * LEN, 0, dropped);
}
END_TEST

/* More hosts than the table holds evict: every new host takes a free way or
 * evicts one, so the two add up to the hosts sent. */
START_TEST(test_evictions_counted)
{
	struct pd_policy pol;
	struct pkt p;
	char addr[32];
	size_t used;
	int i;

	policy_base(&pol, PD_PASS);
	install(&pol);
	for (i = 0; i < 600; i++) {
		snprintf(addr, sizeof(addr), "198.18.%d.%d", 20 + i / 200, 1 + i % 200);
		pkt_v4(&p, addr, IPPROTO_UDP, DPORT_PASS, LEN);
		ck_assert_int_eq(run(&p), BPF_OK);
	}
	used = dcache_ways_used(AF_INET);
	ck_assert_uint_le(used, 256);
	ck_assert_uint_gt(used, 0);
	ck_assert_uint_eq(misc_stats().hosts_evicted4 + used, 600);
	ck_assert_uint_eq(misc_stats().hosts_evicted6, 0);
}
END_TEST

/* A per-host table of 256 hosts (64 sets) per family: 600 hosts must evict. */
static void setup_small_table(void)
{
	pin_test_cpu();
	skel = policy_bpf__open();
	ck_assert_ptr_nonnull(skel);
	ck_assert_int_eq(bpf_map__set_max_entries(skel->maps.pd_dcache4, pd_host_sets(256)), 0);
	ck_assert_int_eq(bpf_map__set_max_entries(skel->maps.pd_dcache6, pd_host_sets(256)), 0);
	skel->rodata->pd_host_sets_mask = pd_host_sets(256) - 1;
	ck_assert_int_eq(policy_bpf__load(skel), 0);
	ncpus = libbpf_num_possible_cpus();
	ck_assert_int_gt(ncpus, 0);
	set_host_seed(TEST_HOST_SEED);
}

static Suite *hosts_suite(void)
{
	Suite *s = suite_create("hosts");
	TCase *tc = tcase_create("per-host table");
	TCase *tc_small = tcase_create("small table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_counters4);
	tcase_add_test(tc, test_clock_per_tick);
	tcase_add_test(tc, test_counters6_monitor);
	tcase_add_test(tc, test_counters_survive_apply);
	tcase_add_test(tc, test_uncovered_not_counted);
	tcase_add_test(tc, test_other_cpu_holds_host);
	tcase_add_test(tc, test_victim_oldest);
	tcase_add_test(tc, test_unspecified_no_way);
	tcase_add_test(tc, test_blocked_counted);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tc_small, setup_small_table, teardown);
	tcase_set_timeout(tc_small, 120);
	tcase_add_test(tc_small, test_evictions_counted);
	suite_add_tcase(s, tc_small);
	return s;
}

int main(void)
{
	return run_root_suite("check_hosts", hosts_suite);
}
