/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The harness of the BPF_PROG_TEST_RUN tests: one loaded policy skeleton per test
 * (setup/teardown), writers for its maps through the ABI structs, per-CPU counter
 * sums, per-host table entries, and running one packet. Included by each test file.
 */
#ifndef POLICYD_TESTS_PROG_HARNESS_H
#define POLICYD_TESTS_PROG_HARNESS_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/policy_abi.h"
#include "policyd/daemon.h" /* clock_ns */
#include "lib/hostset.h"
#include "lib/prefix.h"
#include "policy.skel.h"
#include "tests/bpf/pkt.h"

static struct policy_bpf *skel;
static int ncpus;
/* The CPU every test runs on (setup pins it): per-CPU values are read there. */
#define TEST_CPU 0

/*
 * Run on TEST_CPU only: BPF_PROG_TEST_RUN runs the program on the caller's CPU,
 * so every per-CPU value a test checks (the per-host table's, the event cap's)
 * is that CPU's, whatever the scheduler would do.
 */
/* The main() of a test of the program: every test loads it, so root only. */
static inline int run_root_suite(const char *name, Suite *(*make)(void))
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root (loads a BPF program)\n", name);
		return EXIT_FAILURE;
	}
	sr = srunner_create(make());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline void pin_test_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(TEST_CPU, &set);
	ck_assert_msg(!sched_setaffinity(0, sizeof(set), &set), "sched_setaffinity: %s",
		      strerror(errno));
}

static inline struct pd_config get_config(void);
static inline void put_config(const struct pd_config *cfg);

#define SEC_NS 1000000000ull

/* The tick of the coarse clock (CLOCK_MONOTONIC_COARSE), as policyd reads it. */
static inline __u32 coarse_tick_ns(void)
{
	struct timespec res;

	ck_assert_int_eq(clock_getres(CLOCK_MONOTONIC_COARSE, &res), 0);
	ck_assert_int_eq(res.tv_sec, 0);
	return (__u32)res.tv_nsec;
}

/* pd_config.coarse_ns: the tick, or 0 for none known (every limit on the ns clock). */
static inline void set_coarse_ns(__u32 ns)
{
	struct pd_config cfg = get_config();

	cfg.coarse_ns = ns;
	put_config(&cfg);
}

/* The seed of the per-host table's sets (tests use TEST_HOST_SEED). */
#define TEST_HOST_SEED 0x5eed0f7e57ab1e5ull
static inline void set_host_seed(__u64 seed)
{
	struct pd_host_seed s = { .seed = seed };
	__u32 zero = 0;

	ck_assert_int_eq(
		bpf_map_update_elem(bpf_map__fd(skel->maps.pd_host_seed), &zero, &s, BPF_ANY), 0);
}

/*
 * Load the skeleton with room for @buckets per-host buckets (at least: whole
 * sets of ways) and @hosts per-host states in pd_hosts (0: as the object says).
 */
static inline void setup_tables(__u32 buckets, __u32 hosts)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	int err;

	pin_test_cpu();
	skel = policy_bpf__open();
	ck_assert_msg(skel, "skeleton open failed: %s", strerror(errno));
	if (buckets) {
		ck_assert_int_eq(
			bpf_map__set_max_entries(skel->maps.pd_host_buckets, pd_host_sets(buckets)),
			0);
		skel->rodata->pd_bucket_sets_mask = pd_host_sets(buckets) - 1;
	}
	if (hosts) {
		ck_assert_int_eq(bpf_map__set_max_entries(skel->maps.pd_hosts, pd_host_sets(hosts)),
				 0);
		skel->rodata->pd_hosts_sets_mask = pd_host_sets(hosts) - 1;
	}
	err = policy_bpf__load(skel);
	ck_assert_msg(!err, "skeleton load failed: %s", strerror(-err));
	ncpus = libbpf_num_possible_cpus();
	ck_assert_int_gt(ncpus, 0);
	/* A seed for the per-host sets, as the daemon draws one. */
	set_host_seed(TEST_HOST_SEED);
	/* The coarse clock's tick, as the daemon writes it at start: tests run the
	 * program as it runs on this machine. */
	set_coarse_ns(coarse_tick_ns());
	/* For the record (PD_VERBOSE=1): the verifier's work on the whole program. */
	if (getenv("PD_VERBOSE") &&
	    !bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.policyd_out), &info, &info_len))
		fprintf(stderr, "policyd_out: %u instructions verified\n", info.verified_insns);
}

/* Load the skeleton with room for @hosts per-host buckets (0: as the object says). */
static inline void setup_hosts(__u32 hosts)
{
	setup_tables(hosts, 0);
}

static inline void setup(void)
{
	setup_tables(0, 0);
}

static inline void teardown(void)
{
	policy_bpf__destroy(skel);
	skel = NULL;
}

/* --- map writers -------------------------------------------------------- */

static inline struct pd_config get_config(void)
{
	struct pd_config cfg;
	__u32 zero = 0;

	ck_assert_int_eq(bpf_map__lookup_elem(skel->maps.pd_config, &zero, sizeof(zero), &cfg,
					      sizeof(cfg), 0),
			 0);
	return cfg;
}

static inline void put_config(const struct pd_config *cfg)
{
	__u32 zero = 0;

	ck_assert_int_eq(bpf_map__update_elem(skel->maps.pd_config, &zero, sizeof(zero), cfg,
					      sizeof(*cfg), BPF_ANY),
			 0);
}

/* What the daemon's apply ends with: the generation in use is @epoch % 2. The
 * rest of pd_config (event cap, explain key) is left as it is. */
static inline void set_epoch(__u32 epoch)
{
	struct pd_config cfg = get_config();

	cfg.epoch = epoch;
	put_config(&cfg);
}

static inline void set_event_cap(__u32 cap)
{
	struct pd_config cfg = get_config();

	cfg.event_cap = cap;
	put_config(&cfg);
}

static inline void set_explain_key(__u64 key)
{
	struct pd_config cfg = get_config();

	cfg.explain_key = key;
	put_config(&cfg);
}

static inline void add_dest(__u8 gen, const char *text, __u32 slot)
{
	struct pd_dest_val val = { .policy = slot };
	struct pd_dest_key key = {};
	struct prefix pfx;

	ck_assert_int_eq(prefix_parse(text, false, &pfx), 0);
	key.prefixlen = PD_DEST_KEY_HDR_BITS + pfx.len;
	key.gen = gen;
	key.family = pfx.family;
	memcpy(key.addr, pfx.addr, sizeof(key.addr));
	ck_assert_int_eq(bpf_map__update_elem(skel->maps.pd_dest, &key, sizeof(key), &val,
					      sizeof(val), BPF_ANY),
			 0);
}

static inline void set_policy(__u32 gen, __u32 slot, const struct pd_policy *pol)
{
	__u32 idx = gen * PD_MAX_POLICIES + slot;

	ck_assert_int_eq(bpf_map__update_elem(skel->maps.pd_policies, &idx, sizeof(idx), pol,
					      sizeof(*pol), BPF_ANY),
			 0);
}

/* A fresh active policy; the caller appends rules. */
static inline void policy_init(struct pd_policy *pol, __u8 default_verdict, __u32 default_counter)
{
	memset(pol, 0, sizeof(*pol));
	pol->flags = PD_POLICY_ACTIVE;
	pol->default_verdict = default_verdict;
	pol->default_counter = default_counter;
}

static inline struct pd_rule *rule_add(struct pd_policy *pol, __u8 action, __u32 counter)
{
	struct pd_rule *r;

	ck_assert_int_lt(pol->nrules, PD_MAX_RULES);
	r = &pol->rules[pol->nrules++];
	r->action = action;
	r->counter = counter;
	return r;
}

static inline void rule_proto(struct pd_rule *r, __u8 proto)
{
	r->match |= PD_MATCH_PROTO;
	r->proto = proto;
}

static inline void rule_dport(struct pd_rule *r, __u16 lo, __u16 hi)
{
	ck_assert_int_lt(r->ndport, PD_MAX_PORT_RANGES);
	r->match |= PD_MATCH_DPORT;
	r->dport[r->ndport].lo = lo;
	r->dport[r->ndport].hi = hi;
	r->ndport++;
}

/*
 * The policy most suites start from: UDP to DPORT_PASS passes (counter
 * COUNTER_PASS), TCP to DPORT_DROP drops (COUNTER_DROP), the rest gets @dflt
 * (COUNTER_DEFAULT).
 */
#define COUNTER_PASS 1
#define COUNTER_DROP 2
#define COUNTER_DEFAULT 100
#define DPORT_PASS 53
#define DPORT_DROP 22

static inline void policy_base(struct pd_policy *pol, __u8 dflt)
{
	struct pd_rule *r;

	policy_init(pol, dflt, COUNTER_DEFAULT);
	r = rule_add(pol, PD_PASS, COUNTER_PASS);
	rule_proto(r, IPPROTO_UDP);
	rule_dport(r, DPORT_PASS, DPORT_PASS);
	r = rule_add(pol, PD_DROP, COUNTER_DROP);
	rule_proto(r, IPPROTO_TCP);
	rule_dport(r, DPORT_DROP, DPORT_DROP);
}

static inline void rule_sport(struct pd_rule *r, __u16 lo, __u16 hi)
{
	ck_assert_int_lt(r->nsport, PD_MAX_PORT_RANGES);
	r->match |= PD_MATCH_SPORT;
	r->sport[r->nsport].lo = lo;
	r->sport[r->nsport].hi = hi;
	r->nsport++;
}

static inline void rule_length(struct pd_rule *r, __u16 lo, __u16 hi)
{
	ck_assert_int_lt(r->nlength, PD_MAX_LENGTH_RANGES);
	r->match |= PD_MATCH_LENGTH;
	r->length[r->nlength].lo = lo;
	r->length[r->nlength].hi = hi;
	r->nlength++;
}

static inline void rule_tcp_flags(struct pd_rule *r, __u8 mask, __u8 value)
{
	r->match |= PD_MATCH_TCP_FLAGS;
	r->tcp_flags_mask = mask;
	r->tcp_flags_value = value;
}

/* Adds ICMP(v6) type @type to the rule's set. */
static inline void rule_icmp_type(struct pd_rule *r, __u8 type)
{
	r->match |= PD_MATCH_ICMP_TYPE;
	r->icmp_types[type / 32] |= 1u << (type % 32);
}

/*
 * A src prefix of rule @rule (its index in the policy) of the policy in @slot of
 * generation @gen, as the daemon writes it; sets PD_MATCH_SRC on @r if given.
 */
static inline void add_src(__u8 gen, __u32 slot, __u8 rule, const char *text)
{
	struct pd_src_key key = {};
	struct prefix pfx;
	__u32 val = 0;

	ck_assert_int_eq(prefix_parse(text, false, &pfx), 0);
	key.prefixlen = PD_SRC_KEY_HDR_BITS + pfx.len;
	key.gen = gen;
	key.family = pfx.family;
	key.rule = rule;
	key.slot = slot;
	memcpy(key.addr, pfx.addr, sizeof(key.addr));
	ck_assert_int_eq(bpf_map__update_elem(skel->maps.pd_src, &key, sizeof(key), &val,
					      sizeof(val), BPF_ANY),
			 0);
}

/* --- counters (sums over CPUs) ------------------------------------------- */

static inline void sum_counters(struct pd_counters *sum, const struct pd_counters *c)
{
	int i;

	sum->packets += c->packets;
	sum->bytes += c->bytes;
	sum->passed_packets += c->passed_packets;
	sum->passed_bytes += c->passed_bytes;
	sum->dropped_packets += c->dropped_packets;
	sum->dropped_bytes += c->dropped_bytes;
	for (i = 0; i < PD_REASON_MAX; i++) {
		sum->dropped_reason[i] += c->dropped_reason[i];
		sum->dropped_reason_bytes[i] += c->dropped_reason_bytes[i];
	}
	sum->would_drop_packets += c->would_drop_packets;
	sum->would_drop_bytes += c->would_drop_bytes;
	sum->table_full_packets += c->table_full_packets;
}

static inline struct pd_counters rule_stats(__u32 counter)
{
	struct pd_counters *vals = calloc(ncpus, sizeof(*vals));
	struct pd_counters sum = {};
	int cpu;

	ck_assert_ptr_nonnull(vals);
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.pd_rule_stats), &counter, vals),
			 0);
	for (cpu = 0; cpu < ncpus; cpu++)
		sum_counters(&sum, &vals[cpu]);
	free(vals);
	return sum;
}

static inline struct pd_policy_stats policy_stats(__u32 slot)
{
	struct pd_policy_stats *vals = calloc(ncpus, sizeof(*vals));
	struct pd_policy_stats sum = {};
	int cpu, i;

	ck_assert_ptr_nonnull(vals);
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.pd_policy_stats), &slot, vals),
			 0);
	for (cpu = 0; cpu < ncpus; cpu++) {
		sum_counters(&sum.c, &vals[cpu].c);
		for (i = 0; i < PD_HIST_BUCKETS; i++)
			sum.hist[i] += vals[cpu].hist[i];
	}
	free(vals);
	return sum;
}

/* Every counter of both stats maps is zero. */
static inline void assert_no_counters(void)
{
	static const struct pd_counters zero;
	struct pd_policy_stats ps;
	struct pd_counters rs;
	__u32 i;
	int b;

	for (i = 0; i < PD_MAX_POLICIES; i++) {
		ps = policy_stats(i);
		ck_assert_msg(!memcmp(&ps.c, &zero, sizeof(zero)), "policy %u counted", i);
		for (b = 0; b < PD_HIST_BUCKETS; b++)
			ck_assert_msg(!ps.hist[b], "policy %u bucket %d counted", i, b);
	}
	for (i = 0; i < PD_MAX_RULE_COUNTERS; i++) {
		rs = rule_stats(i);
		ck_assert_msg(!memcmp(&rs, &zero, sizeof(zero)), "rule counter %u counted", i);
	}
}

static inline void assert_counted(const struct pd_counters *c, __u64 packets, __u64 bytes,
				  int dropped, enum pd_reason reason)
{
	int i;

	ck_assert_uint_eq(c->packets, packets);
	ck_assert_uint_eq(c->bytes, bytes);
	ck_assert_uint_eq(c->passed_packets, dropped ? 0 : packets);
	ck_assert_uint_eq(c->passed_bytes, dropped ? 0 : bytes);
	ck_assert_uint_eq(c->dropped_packets, dropped ? packets : 0);
	ck_assert_uint_eq(c->dropped_bytes, dropped ? bytes : 0);
	for (i = 0; i < PD_REASON_MAX; i++) {
		ck_assert_uint_eq(c->dropped_reason[i], dropped && i == (int)reason ? packets : 0);
		ck_assert_uint_eq(c->dropped_reason_bytes[i],
				  dropped && i == (int)reason ? bytes : 0);
	}
	ck_assert_uint_eq(c->would_drop_packets, 0);
	ck_assert_uint_eq(c->would_drop_bytes, 0);
	ck_assert_uint_eq(c->table_full_packets, 0);
}

/*
 * Monitor mode: all @packets/@bytes passed, @would_drop_packets/@would_drop_bytes
 * of them by a drop verdict; nothing dropped, no drop reason.
 */
static inline void assert_monitored(const struct pd_counters *c, __u64 packets, __u64 bytes,
				    __u64 would_drop_packets, __u64 would_drop_bytes)
{
	int i;

	ck_assert_uint_eq(c->packets, packets);
	ck_assert_uint_eq(c->bytes, bytes);
	ck_assert_uint_eq(c->passed_packets, packets);
	ck_assert_uint_eq(c->passed_bytes, bytes);
	ck_assert_uint_eq(c->dropped_packets, 0);
	ck_assert_uint_eq(c->dropped_bytes, 0);
	for (i = 0; i < PD_REASON_MAX; i++) {
		ck_assert_uint_eq(c->dropped_reason[i], 0);
		ck_assert_uint_eq(c->dropped_reason_bytes[i], 0);
	}
	ck_assert_uint_eq(c->would_drop_packets, would_drop_packets);
	ck_assert_uint_eq(c->would_drop_bytes, would_drop_bytes);
	ck_assert_uint_eq(c->table_full_packets, 0);
}

/* --- running the program ------------------------------------------------- */

/* Run once; @gso_segs 0 leaves the context alone. Returns the program's verdict. */
static inline int run_gso(const struct pkt *p, __u32 gso_segs)
{
	struct __sk_buff ctx = { .gso_segs = gso_segs };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .repeat = 1);
	int err;

	if (gso_segs) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.policyd_out), &opts);
	ck_assert_msg(!err, "test_run: %s", strerror(errno));
	ck_assert_msg(opts.retval == BPF_OK || opts.retval == BPF_DROP, "verdict %u", opts.retval);
	return opts.retval;
}

static inline int run(const struct pkt *p)
{
	return run_gso(p, 0);
}

/* --- the per-host table ------------------------------------------------- */

/* The address as the per-host table stores it (IPv4 in the first four bytes,
 * rest zero), by its text; returns its family. */
static inline int dcache_addr(const char *addr, __u8 out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, addr, out) == 1)
		return AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET6, addr, out), 1);
	return AF_INET6;
}

static inline struct bpf_map *dcache_map(int family)
{
	return family == AF_INET ? skel->maps.pd_dcache4 : skel->maps.pd_dcache6;
}

/* The index of @addr's set, under the seed in pd_host_seed. */
static inline __u32 dcache_set_index(const char *addr)
{
	__u8 a[16];
	int family = dcache_addr(addr, a);
	uint64_t seed = 0;

	ck_assert_int_eq(host_seed_read(bpf_map__fd(skel->maps.pd_host_seed), &seed), 0);
	return host_set_index(family, a, seed, bpf_map__max_entries(dcache_map(family)));
}

/* The set of the 24-byte key @key in the table of sets @map (pd_host_buckets,
 * pd_hosts) into @set; returns its index. */
static inline __u32 key_set_get(struct bpf_map *map, const void *key, void *set)
{
	uint64_t seed = 0;
	__u32 idx;

	ck_assert_int_eq(host_seed_read(bpf_map__fd(skel->maps.pd_host_seed), &seed), 0);
	idx = host_key_set_index(key, seed, bpf_map__max_entries(map));
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(map), &idx, set), 0);
	return idx;
}

/* Every CPU's copy of @addr's set into @sets (ncpus of them). */
static inline void dcache_set_get(const char *addr, struct pd_host_set *sets)
{
	__u8 a[16];
	int fd = bpf_map__fd(dcache_map(dcache_addr(addr, a)));
	__u32 idx = dcache_set_index(addr);

	ck_assert_int_eq(bpf_map_lookup_elem(fd, &idx, sets), 0);
}

static inline void dcache_set_put(const char *addr, const struct pd_host_set *sets)
{
	__u8 a[16];
	int fd = bpf_map__fd(dcache_map(dcache_addr(addr, a)));
	__u32 idx = dcache_set_index(addr);

	ck_assert_int_eq(bpf_map_update_elem(fd, &idx, sets, BPF_ANY), 0);
}

/*
 * Give @addr a way in the set of @set_of on every CPU (its own, or a free one),
 * as a packet in @epoch would have: the tag written, the counters zero. Another
 * address than @set_of's own is a set's way some other host holds.
 */
static inline void dcache_put_as(const char *set_of, const char *addr, __u32 epoch, __u32 slot)
{
	struct pd_host_set *sets = calloc(ncpus, sizeof(*sets));
	__u8 a[16];
	int family = dcache_addr(addr, a), cpu, w;

	ck_assert_ptr_nonnull(sets);
	dcache_set_get(set_of, sets);
	for (cpu = 0; cpu < ncpus; cpu++) {
		w = host_set_way(&sets[cpu], family, a);
		if (w < 0)
			w = host_set_way(&sets[cpu], family, (const __u8[16]){ 0 });
		ck_assert_int_ge(w, 0);
		memcpy(sets[cpu].addr[w], a, 16);
		sets[cpu].way[w] = (struct pd_host_way){ .epoch = epoch, .slot = slot };
	}
	dcache_set_put(set_of, sets);
	free(sets);
}

static inline void dcache_put(const char *addr, __u32 epoch, __u32 slot)
{
	dcache_put_as(addr, addr, epoch, slot);
}

/* TEST_CPU's way for @addr; fails the test if there is none. */
static inline struct pd_host_way dcache_get(const char *addr)
{
	struct pd_host_set *sets = calloc(ncpus, sizeof(*sets));
	struct pd_host_way way;
	__u8 a[16];
	int family = dcache_addr(addr, a), w;

	ck_assert_ptr_nonnull(sets);
	dcache_set_get(addr, sets);
	w = host_set_way(&sets[TEST_CPU], family, a);
	ck_assert_msg(w >= 0, "no way for %s", addr);
	way = sets[TEST_CPU].way[w];
	free(sets);
	return way;
}

/* TEST_CPU's way for @addr is tagged {@epoch, @slot}. */
static inline void assert_dcache(const char *addr, __u32 epoch, __u32 slot)
{
	struct pd_host_way way = dcache_get(addr);

	ck_assert_msg(way.epoch == epoch && way.slot == slot,
		      "way of %s: epoch %u slot %#x, expected epoch %u slot %#x", addr, way.epoch,
		      way.slot, epoch, slot);
}

/* Ways holding a host in @family's table, over every set and CPU. */
static inline size_t dcache_ways_used(int family)
{
	struct bpf_map *map = dcache_map(family);
	struct pd_host_set *sets = calloc(ncpus, sizeof(*sets));
	static const __u8 none[16];
	size_t n = 0;

	ck_assert_ptr_nonnull(sets);
	for (__u32 i = 0; i < bpf_map__max_entries(map); i++) {
		ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(map), &i, sets), 0);
		for (int cpu = 0; cpu < ncpus; cpu++)
			for (int w = 0; w < PD_HOST_WAYS; w++)
				n += !!memcmp(sets[cpu].addr[w], none, sizeof(none));
	}
	free(sets);
	return n;
}

/* The @i-th of many new hosts, 198.18.0.1 on (250 a /24). */
static inline void new_host_addr(char *buf, size_t size, int i)
{
	snprintf(buf, size, "198.18.%d.%d", i / 250, 1 + i % 250);
}

/* @n packets, the @i-th to new_host_addr(@i), each made by @make; free()d by the caller. */
static inline struct pkt *new_host_pkts(int n, void (*make)(struct pkt *p, const char *addr))
{
	struct pkt *pkts = calloc(n, sizeof(*pkts));
	char addr[32];

	ck_assert_ptr_nonnull(pkts);
	for (int i = 0; i < n; i++) {
		new_host_addr(addr, sizeof(addr), i);
		make(&pkts[i], addr);
	}
	return pkts;
}

struct two_cpus {
	int prog_fd;
	int cpu;
	const struct pkt *pkts;
	int n;
	pthread_barrier_t *start;
	int err;
};

static inline void *two_cpus_run(void *arg)
{
	struct two_cpus *c = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(c->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (int i = 0; i < c->n && !c->err; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = c->pkts[i].buf,
			    .data_size_in = (__u32)c->pkts[i].len, .repeat = 1);

		pthread_barrier_wait(c->start);
		c->err = bpf_prog_test_run_opts(c->prog_fd, &opts) ? errno : 0;
	}
	return NULL;
}

/*
 * Run each of the @n packets @pkts once on CPU 0 and once on CPU 1 at the same
 * moment (a barrier before each): races between two CPUs on the same state.
 * Needs two CPUs.
 */
static inline void run_on_two_cpus(const struct pkt *pkts, int n)
{
	pthread_barrier_t start;
	struct two_cpus c[2];
	pthread_t t[2];
	int i;

	ck_assert_int_ge(ncpus, 2);
	ck_assert_int_eq(pthread_barrier_init(&start, NULL, 2), 0);
	for (i = 0; i < 2; i++) {
		c[i] = (struct two_cpus){ .prog_fd = bpf_program__fd(skel->progs.policyd_out),
					  .cpu = i,
					  .pkts = pkts,
					  .n = n,
					  .start = &start };
		ck_assert_int_eq(pthread_create(&t[i], NULL, two_cpus_run, &c[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	ck_assert_int_eq(c[0].err, 0);
	ck_assert_int_eq(c[1].err, 0);
}

/* The misc counters, summed over CPUs. */
static inline struct pd_misc_stats misc_stats(void)
{
	struct pd_misc_stats *vals = calloc(ncpus, sizeof(*vals)), sum = {};
	__u32 zero = 0;
	int cpu;

	ck_assert_ptr_nonnull(vals);
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.pd_misc_stats), &zero, vals),
			 0);
	for (cpu = 0; cpu < ncpus; cpu++) {
		sum.events_lost += vals[cpu].events_lost;
		sum.events_capped += vals[cpu].events_capped;
		sum.hosts_evicted4 += vals[cpu].hosts_evicted4;
		sum.hosts_evicted6 += vals[cpu].hosts_evicted6;
	}
	free(vals);
	return sum;
}

/* @map's (a per-CPU array's) value at @key on TEST_CPU: @size bytes into @out. */
static inline void percpu_get(struct bpf_map *map, __u32 key, void *out, size_t size)
{
	char *vals = calloc(ncpus, size);

	ck_assert_ptr_nonnull(vals);
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(map), &key, vals), 0);
	memcpy(out, vals + TEST_CPU * size, size);
	free(vals);
}

/* @map's (a per-CPU array's) value at @key set to @val on every CPU. */
static inline void percpu_put(struct bpf_map *map, __u32 key, const void *val, size_t size)
{
	char *vals = calloc(ncpus, size);
	int cpu;

	ck_assert_ptr_nonnull(vals);
	for (cpu = 0; cpu < ncpus; cpu++)
		memcpy(vals + cpu * size, val, size);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(map), &key, vals, 0), 0);
	free(vals);
}

/* --- the event ring ------------------------------------------------------ */

/* Events read from pd_events: every record counted, the first PD_TEST_EVENTS kept. */
#define PD_TEST_EVENTS 4096

struct ev_log {
	size_t n; /* records read */
	size_t kept;
	size_t bad; /* records of an unexpected size */
	struct pd_sample_event v[PD_TEST_EVENTS];
};

static inline int ev_collect(void *ctx, void *data, size_t size)
{
	struct ev_log *log = ctx;
	const struct pd_event *e = data;
	size_t want =
		e->type == PD_EV_SAMPLE ? sizeof(struct pd_sample_event) : sizeof(struct pd_event);

	log->n++;
	if (size != want)
		log->bad++;
	if (log->kept < PD_TEST_EVENTS) {
		memset(&log->v[log->kept], 0, sizeof(log->v[0]));
		memcpy(&log->v[log->kept], data, size < want ? size : want);
		log->kept++;
	}
	return 0;
}

/* A fresh, empty log (calloc'd: the caller frees it). */
static inline struct ev_log *ev_log_new(void)
{
	struct ev_log *log = calloc(1, sizeof(*log));

	ck_assert_ptr_nonnull(log);
	return log;
}

/* Read every record in the ring into @log (appending); returns how many were read. */
static inline size_t events_drain(struct ev_log *log)
{
	struct ring_buffer *rb;
	size_t before = log->n;
	int n;

	rb = ring_buffer__new(bpf_map__fd(skel->maps.pd_events), ev_collect, log, NULL);
	ck_assert_msg(rb, "ring_buffer__new: %s", strerror(errno));
	n = ring_buffer__consume(rb);
	ck_assert_int_ge(n, 0);
	ring_buffer__free(rb);
	ck_assert_uint_eq(log->bad, 0);
	return log->n - before;
}

/* The kept events of @type, in order: the @i-th (fails if there are fewer). */
static inline const struct pd_event *ev_nth(const struct ev_log *log, __u8 type, size_t i)
{
	size_t k, seen = 0;

	for (k = 0; k < log->kept; k++) {
		if (log->v[k].ev.type != type)
			continue;
		if (seen++ == i)
			return &log->v[k].ev;
	}
	ck_abort_msg("fewer than %zu events of type %u", i + 1, type);
	return NULL;
}

static inline size_t ev_count(const struct ev_log *log, __u8 type)
{
	size_t k, n = 0;

	for (k = 0; k < log->kept; k++)
		n += log->v[k].ev.type == type;
	return n;
}

#endif
