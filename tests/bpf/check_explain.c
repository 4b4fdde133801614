// SPDX-License-Identifier: GPL-2.0-only
/*
 * Explain mode of the LWT_OUT program under BPF_PROG_TEST_RUN: with the key of
 * pd_config in ctx_in's cb[0..1], the answer in ctx_out's cb[] (policy, rule,
 * verdict, reason, flags, counter) for rules, defaults, monitor mode, limits,
 * quotas and blocks, and not one byte of state changed (every map compared
 * before and after, no event). Needs root.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/bpf/prog_harness.h"

#define NET4 "198.18.0.0/16"
#define NET_MON "198.19.0.0/16" /* slot 1, monitor mode */
#define NET6 "2001:db8:1::/48"
#define HOST_A "198.18.5.7"
#define HOST_MON "198.19.5.7"
#define HOST_NONE "198.20.1.1"
#define HOST6 "2001:db8:1::80"

#define COUNTER_MON 200
#define LEN 200
#define KEY 0x5eed1234abcd9876ull

struct answer {
	int retval;
	__u32 slot, rule, verdict, reason, flags, counter;
};

/* Run @p in explain mode with @key in cb[0..1]; the answer from ctx_out. */
static struct answer explain_with(const struct pkt *p, __u64 key)
{
	struct __sk_buff in = {}, out = {};
	struct answer a;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .ctx_in = &in, .ctx_size_in = sizeof(in), .ctx_out = &out,
		    .ctx_size_out = sizeof(out), .repeat = 1);

	in.cb[0] = (__u32)key;
	in.cb[1] = (__u32)(key >> 32);
	ck_assert_msg(!bpf_prog_test_run_opts(bpf_program__fd(skel->progs.policyd_out), &opts),
		      "test_run: %s", strerror(errno));
	a.retval = (int)opts.retval;
	a.slot = out.cb[0];
	a.rule = out.cb[1];
	a.verdict = out.cb[2] & 0xff;
	a.reason = (out.cb[2] >> 8) & 0xff;
	a.flags = out.cb[2] >> 16;
	a.counter = out.cb[3];
	ck_assert_uint_eq(out.cb[4], 0);
	return a;
}

static struct answer explain(const struct pkt *p)
{
	return explain_with(p, KEY);
}

/* --- state snapshots ------------------------------------------------------ */

struct snapshot {
	size_t len;
	uint8_t *bytes;
};

/* Every key and value of @map (per-CPU values whole), appended to @s. */
static void snap_map(struct snapshot *s, struct bpf_map *map)
{
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	int fd = bpf_map__fd(map), err;
	uint8_t key[64], next[64], *val;
	void *prev = NULL;

	switch (bpf_map__type(map)) {
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		vsz = ((vsz + 7) & ~(size_t)7) * ncpus;
		break;
	default:
		break;
	}
	ck_assert_uint_le(ksz, sizeof(key));
	val = malloc(vsz);
	ck_assert_ptr_nonnull(val);
	while (!(err = bpf_map_get_next_key(fd, prev, next))) {
		ck_assert_int_eq(bpf_map_lookup_elem(fd, next, val), 0);
		s->bytes = realloc(s->bytes, s->len + ksz + vsz);
		ck_assert_ptr_nonnull(s->bytes);
		memcpy(s->bytes + s->len, next, ksz);
		memcpy(s->bytes + s->len + ksz, val, vsz);
		s->len += ksz + vsz;
		memcpy(key, next, ksz);
		prev = key;
	}
	free(val);
}

/* Read and drop what the ring holds (the records of real runs before). */
static void ring_flush(void)
{
	struct ev_log *log = ev_log_new();

	events_drain(log);
	free(log);
}

/* Everything the program may write: counters, buckets, quotas, blocks, the
 * per-host table, the event caps, the misc counters, the realms, the clocks'
 * readings; and an empty ring, so that any record after it is new. */
static struct snapshot snap_all(void)
{
	struct snapshot s = {};

	ring_flush();

	snap_map(&s, skel->maps.pd_dcache4);
	snap_map(&s, skel->maps.pd_dcache6);
	snap_map(&s, skel->maps.pd_policy_stats);
	snap_map(&s, skel->maps.pd_rule_stats);
	snap_map(&s, skel->maps.pd_rule_buckets);
	snap_map(&s, skel->maps.pd_host_buckets);
	snap_map(&s, skel->maps.pd_hosts);
	snap_map(&s, skel->maps.pd_policy_quota);
	snap_map(&s, skel->maps.pd_event_caps);
	snap_map(&s, skel->maps.pd_misc_stats);
	snap_map(&s, skel->maps.pd_realm_stats);
	snap_map(&s, skel->maps.pd_clock);
	snap_map(&s, skel->maps.pd_quota_clock);
	return s;
}

static void assert_unchanged(struct snapshot *before)
{
	struct snapshot after = snap_all();
	struct ev_log *log = ev_log_new();

	ck_assert_msg(after.len == before->len && !memcmp(after.bytes, before->bytes, after.len),
		      "explain changed map contents (%zu bytes before, %zu after)", before->len,
		      after.len);
	ck_assert_uint_eq(events_drain(log), 0);
	free(log);
	free(after.bytes);
	free(before->bytes);
	before->bytes = NULL;
}

/* --- fixtures -------------------------------------------------------------- */

/* Slot 0 (NET4, NET6): UDP 53 passes (rule 0), TCP 22 drops (rule 1), default drop.
 * Slot 1 (NET_MON): the same in monitor mode. Logs and samples on: explain must
 * still make no event. */
static void install(struct pd_policy *pol)
{
	struct pd_rule *r;

	policy_init(pol, PD_DROP, COUNTER_DEFAULT);
	r = rule_add(pol, PD_PASS, COUNTER_PASS);
	rule_proto(r, IPPROTO_UDP);
	rule_dport(r, DPORT_PASS, DPORT_PASS);
	r->flags = PD_RULE_LOG;
	r = rule_add(pol, PD_DROP, COUNTER_DROP);
	rule_proto(r, IPPROTO_TCP);
	rule_dport(r, DPORT_DROP, DPORT_DROP);
	pol->sample_every = 1;
	set_policy(0, 0, pol);
	add_dest(0, NET4, 0);
	add_dest(0, NET6, 0);
	set_epoch(0);
	set_event_cap(100);
	set_explain_key(KEY);
}

static void install_monitor(const struct pd_policy *base)
{
	struct pd_policy mon = *base;

	mon.flags |= PD_POLICY_MONITOR;
	mon.default_counter = COUNTER_MON;
	set_policy(0, 1, &mon);
	add_dest(0, NET_MON, 1);
}

static void assert_answer(const struct answer *a, int retval, __u32 slot, __u32 rule, __u32 verdict,
			  __u32 reason, __u32 flags, __u32 counter)
{
	ck_assert_int_eq(a->retval, retval);
	ck_assert_uint_eq(a->slot, slot);
	ck_assert_uint_eq(a->rule, rule);
	ck_assert_uint_eq(a->verdict, verdict);
	ck_assert_uint_eq(a->reason, reason);
	ck_assert_uint_eq(a->flags, flags);
	ck_assert_uint_eq(a->counter, counter);
}

/* Rules, the default, IPv6, monitor mode, no policy: answers, and no state touched. */
START_TEST(test_explain_verdicts)
{
	struct pd_policy pol;
	struct snapshot before;
	struct answer a;
	struct pkt p;

	install(&pol);
	install_monitor(&pol);
	before = snap_all();

	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	a = explain(&p);
	assert_answer(&a, BPF_OK, 0, 0, PD_PASS, PD_REASON_RULE, 0, COUNTER_PASS);
	pkt_v4(&p, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);
	a = explain(&p);
	assert_answer(&a, BPF_DROP, 0, 1, PD_DROP, PD_REASON_RULE, 0, COUNTER_DROP);
	pkt_v4(&p, HOST_A, IPPROTO_UDP, 9999, LEN);
	a = explain(&p);
	assert_answer(&a, BPF_DROP, 0, PD_EV_RULE_NONE, PD_DROP, PD_REASON_DEFAULT, 0,
		      COUNTER_DEFAULT);
	pkt_v6(&p, HOST6, IPPROTO_TCP, DPORT_DROP, LEN);
	a = explain(&p);
	assert_answer(&a, BPF_DROP, 0, 1, PD_DROP, PD_REASON_RULE, 0, COUNTER_DROP);
	pkt_v4(&p, HOST_MON, IPPROTO_TCP, DPORT_DROP, LEN);
	a = explain(&p);
	assert_answer(&a, BPF_OK, 1, 1, PD_DROP, PD_REASON_RULE, PD_EXPLAIN_F_WOULD_DROP,
		      COUNTER_DROP);
	pkt_v4(&p, HOST_NONE, IPPROTO_TCP, DPORT_DROP, LEN);
	a = explain(&p);
	assert_answer(&a, BPF_OK, PD_SLOT_NONE, PD_EV_RULE_NONE, PD_PASS, 0, 0, 0);
	assert_unchanged(&before);
}
END_TEST

/* Explain reads the live state (the trie, not a stale per-host entry) and agrees
 * with what the packet then gets. */
START_TEST(test_explain_matches_traffic)
{
	struct pd_policy pol;
	struct snapshot before;
	struct answer a;
	struct pkt p;

	install(&pol);
	pkt_v4(&p, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);
	ck_assert_int_eq(run(&p), BPF_DROP);
	/* A new generation passes TCP 22: rule 1 becomes a pass. */
	pol.rules[1].action = PD_PASS;
	set_policy(1, 0, &pol);
	add_dest(1, NET4, 0);
	set_epoch(1);
	before = snap_all();
	a = explain(&p);
	assert_answer(&a, BPF_OK, 0, 1, PD_PASS, PD_REASON_RULE, 0, COUNTER_DROP);
	assert_unchanged(&before);
	ck_assert_int_eq(run(&p), a.retval);
}
END_TEST

/* A per-host limit: a host with no bucket yet (it would start full); then one whose
 * bucket real traffic emptied: over the limit. A per-rule limit too. */
START_TEST(test_explain_limit)
{
	struct pd_policy pol;
	struct snapshot before;
	struct answer a;
	struct pkt p;
	int i;

	install(&pol);
	/* 1 packet per hour, burst 2. */
	pol.rules[0].limit = (struct pd_limit){
		.kind = PD_LIMIT_PACKETS,
		.per_host = 1,
		.mask4 = 32,
		.mask6 = 64,
		.interval = 16ull * 256 * 3600 * SEC_NS,
		.burst = 2ull * 16 * 3600 * SEC_NS,
	};
	set_policy(0, 0, &pol);
	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);

	before = snap_all();
	a = explain(&p);
	assert_answer(&a, BPF_OK, 0, 0, PD_PASS, PD_REASON_RULE, PD_EXPLAIN_F_NEW_HOST,
		      COUNTER_PASS);
	assert_unchanged(&before);

	for (i = 0; i < 2; i++)
		ck_assert_int_eq(run(&p), BPF_OK);
	before = snap_all();
	a = explain(&p);
	assert_answer(&a, BPF_DROP, 0, 0, PD_DROP, PD_REASON_LIMIT, PD_EXPLAIN_F_LIMIT_OVER,
		      COUNTER_PASS);
	assert_unchanged(&before);
	ck_assert_int_eq(run(&p), BPF_DROP);

	/* Per rule: the same, one bucket for all hosts. */
	pol.rules[0].limit.per_host = 0;
	set_policy(0, 0, &pol);
	a = explain(&p);
	assert_answer(&a, BPF_OK, 0, 0, PD_PASS, PD_REASON_RULE, 0, COUNTER_PASS);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(run(&p), BPF_OK);
	before = snap_all();
	a = explain(&p);
	assert_answer(&a, BPF_DROP, 0, 0, PD_DROP, PD_REASON_LIMIT, PD_EXPLAIN_F_LIMIT_OVER,
		      COUNTER_PASS);
	assert_unchanged(&before);
}
END_TEST

/* A per-host quota this packet would exceed; a blocked host. */
START_TEST(test_explain_quota_block)
{
	struct pd_policy pol;
	struct snapshot before;
	struct answer a;
	struct pkt p, small, drop;
	int i;

	install(&pol);
	pol.quota = (struct pd_quota){ .bytes = 500, .period_ns = 86400 * SEC_NS, .per_host = 1 };
	pol.block = (struct pd_block){ .kind = PD_BLOCK_DROPS,
				       .threshold = 2,
				       .window_ns = 10 * SEC_NS,
				       .duration_ns = 60 * SEC_NS };
	set_policy(0, 0, &pol);
	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	pkt_v4(&small, HOST_A, IPPROTO_UDP, DPORT_PASS, 100);
	pkt_v4(&drop, HOST_A, IPPROTO_TCP, DPORT_DROP, LEN);

	/* No state yet: nothing used. */
	before = snap_all();
	a = explain(&p);
	assert_answer(&a, BPF_OK, 0, 0, PD_PASS, PD_REASON_RULE, 0, COUNTER_PASS);
	assert_unchanged(&before);

	for (i = 0; i < 2; i++)
		ck_assert_int_eq(run(&p), BPF_OK); /* 400 of 500 bytes used */
	before = snap_all();
	a = explain(&p);
	assert_answer(&a, BPF_DROP, 0, 0, PD_DROP, PD_REASON_QUOTA, PD_EXPLAIN_F_QUOTA,
		      COUNTER_PASS);
	a = explain(&small);
	assert_answer(&a, BPF_OK, 0, 0, PD_PASS, PD_REASON_RULE, 0, COUNTER_PASS);
	/* A drop does not count towards the block in explain. */
	for (i = 0; i < 5; i++) {
		a = explain(&drop);
		assert_answer(&a, BPF_DROP, 0, 1, PD_DROP, PD_REASON_RULE, 0, COUNTER_DROP);
	}
	assert_unchanged(&before);

	for (i = 0; i < 2; i++)
		ck_assert_int_eq(run(&drop), BPF_DROP); /* blocked now */
	before = snap_all();
	a = explain(&small);
	assert_answer(&a, BPF_DROP, 0, PD_EV_RULE_NONE, PD_DROP, PD_REASON_BLOCKED,
		      PD_EXPLAIN_F_BLOCKED, COUNTER_DEFAULT);
	assert_unchanged(&before);
	ck_assert_int_eq(run(&small), BPF_DROP);
}
END_TEST

/* Only the key makes an explain run: another key, or none set, is a normal run. */
START_TEST(test_explain_needs_key)
{
	struct pd_policy pol;
	struct answer a;
	struct pkt p;

	install(&pol);
	pkt_v4(&p, HOST_A, IPPROTO_UDP, DPORT_PASS, LEN);
	a = explain_with(&p, KEY ^ 1);
	ck_assert_int_eq(a.retval, BPF_OK);
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).packets, 1);
	a = explain_with(&p, KEY ^ (1ull << 40));
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).packets, 2);
	/* Key 0 turns explaining off: cb[] all zero is then no key. */
	set_explain_key(0);
	a = explain_with(&p, 0);
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).packets, 3);
	/* With the key: not counted. */
	set_explain_key(KEY);
	a = explain(&p);
	ck_assert_uint_eq(a.slot, 0);
	ck_assert_uint_eq(rule_stats(COUNTER_PASS).packets, 3);
}
END_TEST

static Suite *explain_suite(void)
{
	Suite *s = suite_create("explain");
	TCase *tc = tcase_create("explain");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_explain_verdicts);
	tcase_add_test(tc, test_explain_matches_traffic);
	tcase_add_test(tc, test_explain_limit);
	tcase_add_test(tc, test_explain_quota_block);
	tcase_add_test(tc, test_explain_needs_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_root_suite("check_explain", explain_suite);
}
