// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data-path benchmark (SPEC §8): ns/packet under BPF_PROG_TEST_RUN for an empty
 * LWT_OUT program (the floor), the kernel document's histogram example, three
 * primitives (a ns clock read, a coarse clock read, a hash lookup), the least a
 * program keeping a per-host limit, quota and block does (on either clock), and the
 * policy program with 1, 1,000 and 100,000 destination prefixes (per-host table
 * hit), plus, at 100,000, its miss path, a new host on every packet, the trie
 * alone, a per-host rate limit on the matching rule (a shallow bucket, on the ns
 * clock, and a deep one, on the coarse clock), each with a per-host quota and a
 * block on drops, and sampling one packet in 1,000, in one run.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/policy_abi.h"
#include "lib/hostset.h"
#include "lib/log.h"
#include "empty.skel.h"
#include "hist.skel.h"
#include "prims.skel.h"
#include "bench/prims.h"
#include "policy.skel.h"

/* The measured packet: 100 bytes of IPv4 UDP to DST_ADDR:DST_PORT. */
#define PKT_IP_LEN 100
#define DST_ADDR 0xc6120709u /* 198.18.7.9, in DST_NET/DST_PLEN */
#define DST_NET 0xc6120700u
#define DST_PLEN 24
#define DST_PORT 5201

/* The policy: 8 rules, the 7th matches the packet (third range of its list). */
#define BENCH_SLOT 0
#define BENCH_MATCH_RULE 6
#define BENCH_DEFAULT_COUNTER PD_MAX_RULES

/* Values of the policy program's pd_cache_off (bpf/policy.bpf.c). */
#define CACHE_ON 0
#define CACHE_BYPASS 1 /* the trie on every packet */
#define CACHE_NO_HITS 2 /* every hit ignored: the set, the trie and a claim on every packet */
#define CACHE_NEW_HOSTS 3 /* the cache sees a random address: a new host on every packet */

/* The sampling variant: one packet in SAMPLE_EVERY, SAMPLE_SNAPLEN bytes of it. */
#define SAMPLE_EVERY 1000
#define SAMPLE_SNAPLEN 128

/*
 * The policy programs measured, each with its own maps. test_run repeats one
 * packet, so with the cache on every run after the first is a hit. The miss path
 * is measured by a build that ignores hits (the set's compares, the trie, and the
 * claim of the way found, its counters zeroed), and traffic to ever new hosts by
 * one whose table address is random (compares that miss and a claim that evicts,
 * in a full set).
 */
/*
 * The limit of the "limit" variants: 1e9 packets/s, far above what one CPU can
 * send through the program, so every packet conforms (checked after the runs)
 * and each one takes the whole GCRA path: host bucket lookup, test, CAS.
 * interval and burst as the compiler computes them (brief 4): 16 * 256 * 1e9 /
 * rate. A burst of 1,000 packets is a bucket 1 us deep, which reads the ns
 * clock; one of 1e9 packets, 1 s deep, reads the coarse clock (PD_COARSE_TICKS).
 */
#define LIMIT_RATE 1000000000ull
#define LIMIT_INTERVAL (16ull * 256 * 1000000000ull / LIMIT_RATE)
#define BURST_SHALLOW 1000ull
#define BURST_DEEP 1000000000ull

/* What the policy keeps besides the matching rule's limit. */
enum bench_guard {
	GUARD_NONE,
	GUARD_HOST, /* a per-host quota (QUOTA_BYTES) and a block on drops */
	GUARD_POLICY_QUOTA, /* a per-policy quota (QUOTA_BYTES) */
};

static const struct policy_variant {
	const char *name;
	unsigned int prefixes;
	__u32 cache_off;
	/* the matching rule has a per-host packet limit (LIMIT_RATE) of this burst; 0: none */
	__u64 limit_burst;
	enum bench_guard guard;
	__u32 sample_every; /* the policy samples one packet in this many (0: none) */
} variants[] = {
	{ "policy, cache hit", 1, CACHE_ON, 0, GUARD_NONE, 0 },
	{ "policy, cache hit", 1000, CACHE_ON, 0, GUARD_NONE, 0 },
	{ "policy, cache hit", 100000, CACHE_ON, 0, GUARD_NONE, 0 },
	{ "policy, cache miss path (set + trie + claim)", 100000, CACHE_NO_HITS, 0, GUARD_NONE, 0 },
	{ "policy, a new host every packet (cache full, evicting)", 100000, CACHE_NEW_HOSTS, 0,
	  GUARD_NONE, 0 },
	{ "policy, trie only (cache bypassed)", 100000, CACHE_BYPASS, 0, GUARD_NONE, 0 },
	{ "policy, per-host packet limit, bucket 1 us deep (ns clock)", 100000, CACHE_ON,
	  BURST_SHALLOW, GUARD_NONE, 0 },
	{ "policy, per-host packet limit, bucket 1 s deep (coarse clock)", 100000, CACHE_ON,
	  BURST_DEEP, GUARD_NONE, 0 },
	{ "policy, per-host limit (1 us) + per-host quota + blocking", 100000, CACHE_ON,
	  BURST_SHALLOW, GUARD_HOST, 0 },
	{ "policy, per-host limit (1 s) + per-host quota + blocking", 100000, CACHE_ON, BURST_DEEP,
	  GUARD_HOST, 0 },
	{ "policy, cache hit, sampling 1 packet in 1000", 100000, CACHE_ON, 0, GUARD_NONE,
	  SAMPLE_EVERY },
	{ "policy, cache hit, per-policy quota", 100000, CACHE_ON, 0, GUARD_POLICY_QUOTA, 0 },
};
#define NPOLICY (sizeof(variants) / sizeof(variants[0]))
#define NCASES (9 + NPOLICY)
/* Rows of the table, as indexes in it. */
enum {
	ROW_FLOOR,
	ROW_HIST,
	ROW_CLOCK_NS,
	ROW_CLOCK_COARSE,
	ROW_LOOKUP,
	ROW_CALL,
	ROW_STATEFUL_NS,
	ROW_STATEFUL_COARSE,
	ROW_STATEFUL_TABLE,
	ROW_HIT_1,
	ROW_HIT_1K,
	ROW_HIT_100K,
	ROW_MISS_100K,
	ROW_NEW_100K,
	ROW_TRIE_100K,
	ROW_LIMIT_NS_100K,
	ROW_LIMIT_COARSE_100K,
	ROW_GUARD_NS_100K,
	ROW_GUARD_COARSE_100K,
	ROW_SAMPLE_100K,
	ROW_POLICY_QUOTA_100K,
};
_Static_assert(NCASES == ROW_POLICY_QUOTA_100K + 1, "a row per case");

/*
 * The quota and block of the GUARD_HOST variants: a per-host budget of 2^62
 * bytes a day, which no run comes near, and a block after 500 drops within 10 s
 * for 5 min, which passing packets never trigger: every packet passes and pays
 * the whole path (the host state lookup, the blocked check, the quota's period
 * test, the atomic add). GUARD_POLICY_QUOTA: the same budget for the policy.
 */
#define QUOTA_BYTES (1ull << 62)
#define DAY_NS (86400ull * 1000000000ull)

/* One measured program: a name for the table, an fd, and its samples. */
struct bench_case {
	const char *name;
	unsigned int prefixes; /* 0: not a policy program */
	int prog_fd;
	struct ring_buffer *events; /* drained between runs, untimed (NULL: none) */
	double *ns; /* the kernel's per-run figure, one per round */
	double *wall_ns; /* the same from the clock around the syscall */
};

struct bench_opts {
	unsigned int repeat;
	unsigned int rounds;
	unsigned int seed;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_prog [-r REPEAT] [-n ROUNDS] [-s SEED]\n"
		"  -r REPEAT  BPF_PROG_TEST_RUN repeat per sample (default 2000000, min 1000000)\n"
		"  -n ROUNDS  samples per program; the median is reported (default 9)\n"
		"  -s SEED    seed of the random prefixes (default 1)\n");
}

static int parse_uint(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* An Ethernet header (test_run strips it) then IPv4/UDP; checksums are not checked. */
static void build_packet(uint8_t *buf, size_t *len)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *iph = (struct iphdr *)(eth + 1);
	struct udphdr *udph = (struct udphdr *)(iph + 1);

	memset(buf, 0, ETH_HLEN + PKT_IP_LEN);
	eth->h_proto = htons(ETH_P_IP);
	iph->version = 4;
	iph->ihl = 5;
	iph->ttl = 64;
	iph->protocol = IPPROTO_UDP;
	iph->tot_len = htons(PKT_IP_LEN);
	iph->saddr = htonl(0xc6120001u);
	iph->daddr = htonl(DST_ADDR);
	udph->source = htons(40000);
	udph->dest = htons(DST_PORT);
	udph->len = htons(PKT_IP_LEN - sizeof(*iph));
	*len = ETH_HLEN + PKT_IP_LEN;
}

static void rule_set(struct pd_rule *r, __u8 action, __u8 proto, const struct pd_port_range *ports,
		     unsigned int nports, __u32 counter)
{
	unsigned int i;

	r->action = action;
	r->counter = counter;
	if (proto) {
		r->match |= PD_MATCH_PROTO;
		r->proto = proto;
	}
	if (nports)
		r->match |= PD_MATCH_DPORT;
	for (i = 0; i < nports; i++)
		r->dport[i] = ports[i];
	r->ndport = (__u8)nports;
}

/*
 * A web-server-like policy in which the packet reaches the 7th of 8 rules; with
 * @limit_burst, that rule has a per-host packet limit of that burst; @guard says
 * what the policy keeps besides.
 */
static void build_policy(struct pd_policy *pol, __u64 limit_burst, enum bench_guard guard,
			 __u32 sample_every)
{
	static const struct pd_port_range ssh[] = { { 22, 22 } };
	static const struct pd_port_range web[] = { { 80, 80 }, { 443, 443 } };
	static const struct pd_port_range alt[] = { { 8000, 8080 } };
	static const struct pd_port_range dns[] = { { 53, 53 } };
	static const struct pd_port_range ntp[] = { { 123, 123 } };
	static const struct pd_port_range app[] = { { 443, 443 }, { 4789, 4789 }, { 5000, 5999 } };
	struct pd_rule *r = pol->rules;

	memset(pol, 0, sizeof(*pol));
	pol->flags = PD_POLICY_ACTIVE;
	pol->default_verdict = PD_DROP;
	pol->default_counter = BENCH_DEFAULT_COUNTER;
	rule_set(&r[0], PD_DROP, IPPROTO_TCP, ssh, 1, 0);
	rule_set(&r[1], PD_PASS, IPPROTO_TCP, web, 2, 1);
	rule_set(&r[2], PD_PASS, IPPROTO_TCP, alt, 1, 2);
	rule_set(&r[3], PD_PASS, IPPROTO_UDP, dns, 1, 3);
	rule_set(&r[4], PD_PASS, IPPROTO_UDP, ntp, 1, 4);
	rule_set(&r[5], PD_PASS, IPPROTO_ICMP, NULL, 0, 5);
	rule_set(&r[BENCH_MATCH_RULE], PD_PASS, IPPROTO_UDP, app, 3, BENCH_MATCH_RULE);
	rule_set(&r[7], PD_DROP, IPPROTO_UDP, NULL, 0, 7);
	pol->nrules = 8;
	pol->sample_every = sample_every;
	pol->sample_snaplen = SAMPLE_SNAPLEN;
	if (limit_burst) {
		r[BENCH_MATCH_RULE].limit = (struct pd_limit){
			.kind = PD_LIMIT_PACKETS,
			.per_host = 1,
			.mask4 = 32,
			.mask6 = 64,
			.interval = LIMIT_INTERVAL,
			.burst = (LIMIT_INTERVAL * limit_burst) >> PD_INTERVAL_SHIFT,
		};
	}
	if (guard != GUARD_NONE)
		pol->quota = (struct pd_quota){ .bytes = QUOTA_BYTES,
						.period_ns = DAY_NS,
						.per_host = guard == GUARD_HOST };
	if (guard == GUARD_HOST)
		pol->block = (struct pd_block){ .kind = PD_BLOCK_DROPS,
						.threshold = 500,
						.window_ns = 10000000000ull,
						.duration_ns = 300000000000ull };
}

/* xorshift64*: a fixed, seedable sequence, the same on every machine. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint32_t mask_of(unsigned int plen)
{
	return plen ? ~0u << (32 - plen) : 0;
}

/* Open addressing over (addr, plen) keys: the generated prefixes must be distinct. */
struct prefix_set {
	uint64_t *slots; /* 0 = empty; key = addr << 8 | plen | 1 << 40 */
	size_t mask;
};

static int prefix_set_init(struct prefix_set *s, size_t want)
{
	size_t size = 1024;

	while (size < want * 2)
		size <<= 1;
	s->slots = calloc(size, sizeof(*s->slots));
	if (!s->slots)
		return -ENOMEM;
	s->mask = size - 1;
	return 0;
}

/* Returns 1 if added, 0 if already there. */
static int prefix_set_add(struct prefix_set *s, uint32_t addr, unsigned int plen)
{
	uint64_t key = (uint64_t)addr << 8 | plen | 1ull << 40;
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & s->mask;

	while (s->slots[i]) {
		if (s->slots[i] == key)
			return 0;
		i = (i + 1) & s->mask;
	}
	s->slots[i] = key;
	return 1;
}

static int dest_add(int map_fd, uint32_t addr, unsigned int plen)
{
	struct pd_dest_val val = { .policy = BENCH_SLOT };
	struct pd_dest_key key = {};
	uint32_t be = htonl(addr);

	key.prefixlen = PD_DEST_KEY_HDR_BITS + plen;
	key.gen = 0;
	key.family = AF_INET;
	memcpy(key.addr, &be, sizeof(be));
	if (bpf_map_update_elem(map_fd, &key, &val, BPF_NOEXIST))
		return -errno;
	return 0;
}

/*
 * Fill a policy skeleton's maps: @count distinct IPv4 prefixes (about 70% /24s,
 * the rest /8 to /32), one of which, DST_NET/DST_PLEN, holds the packet's
 * destination; no other prefix contains that address, so the /24 decides.
 */
static int policy_fill(struct policy_bpf *skel, unsigned int count, __u64 limit_burst,
		       enum bench_guard guard, __u32 sample_every, unsigned int seed)
{
	struct pd_config cfg = { .epoch = 0 };
	struct timespec res;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 17 | seed);
	int dest_fd = bpf_map__fd(skel->maps.pd_dest);
	struct prefix_set set = {};
	struct pd_policy *pol;
	unsigned int added = 1;
	__u32 zero = 0, idx = BENCH_SLOT;
	int err;

	pol = calloc(1, sizeof(*pol));
	if (!pol)
		return -ENOMEM;
	build_policy(pol, limit_burst, guard, sample_every);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.pd_policies), &idx, pol, BPF_ANY)) {
		err = -errno;
		pr_err("pd_policies update: %s\n", strerror(-err));
		goto out;
	}
	err = prefix_set_init(&set, count);
	if (err)
		goto out;
	prefix_set_add(&set, DST_NET, DST_PLEN);
	err = dest_add(dest_fd, DST_NET, DST_PLEN);
	if (err) {
		pr_err("pd_dest update: %s\n", strerror(-err));
		goto out;
	}
	while (added < count) {
		uint64_t r = rng_next(&rng);
		unsigned int plen = (r >> 32) % 10 < 7 ? 24 : 8 + (unsigned int)((r >> 40) % 25);
		uint32_t addr = (uint32_t)r & mask_of(plen);

		if ((DST_ADDR & mask_of(plen)) == addr || !prefix_set_add(&set, addr, plen))
			continue;
		err = dest_add(dest_fd, addr, plen);
		if (err) {
			pr_err("pd_dest update (%u prefixes in): %s\n", added, strerror(-err));
			goto out;
		}
		added++;
	}
	/* The coarse clock's tick, as the daemon writes it. */
	if (!clock_getres(CLOCK_MONOTONIC_COARSE, &res) && !res.tv_sec)
		cfg.coarse_ns = (__u32)res.tv_nsec;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.pd_config), &zero, &cfg, BPF_ANY)) {
		err = -errno;
		pr_err("pd_config update: %s\n", strerror(-err));
		goto out;
	}
	err = 0;
out:
	free(set.slots);
	free(pol);
	return err;
}

/* @id's time in the program's time units (PD_TIME_SHIFT). */
static __u64 clock_units(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ((__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec) << PD_TIME_SHIFT;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * One BPF_PROG_TEST_RUN. *@ns is the kernel's per-run average: whole ns, and
 * without the time the run loop yields the CPU. *@wall_ns (optional) divides the
 * syscall's wall time instead: finer, but it also counts any preemption.
 */
static int run_prog(int prog_fd, const uint8_t *pkt, size_t len, unsigned int repeat, __u32 *retval,
		    double *ns, double *wall_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (__u32)len,
		    .repeat = repeat);
	double t0 = now_ns();

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	if (wall_ns)
		*wall_ns = (now_ns() - t0) / repeat;
	*retval = opts.retval;
	*ns = opts.duration;
	return 0;
}

/* The packets the 7th rule dropped, summed over CPUs, or -errno. */
static long long rule_dropped(struct policy_bpf *skel)
{
	int ncpus = libbpf_num_possible_cpus();
	__u32 counter = BENCH_MATCH_RULE;
	struct pd_counters *vals;
	long long dropped = 0;
	int cpu;

	if (ncpus < 0)
		return ncpus;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.pd_rule_stats), &counter, vals)) {
		dropped = -errno;
		goto out;
	}
	for (cpu = 0; cpu < ncpus; cpu++)
		dropped += (long long)vals[cpu].dropped_packets;
out:
	free(vals);
	return dropped;
}

/* The bytes the quota of a @guard variant counts for the packet's host or
 * policy; ULLONG_MAX if there is no such count. */
static unsigned long long quota_used(struct policy_bpf *skel, enum bench_guard guard)
{
	struct pd_hosts_key hkey = { .slot = BENCH_SLOT, .family = AF_INET };
	__u32 dst = htonl(DST_ADDR), slot = BENCH_SLOT;
	struct pd_policy_quota pq;
	struct pd_host_state st;

	memcpy(hkey.addr, &dst, sizeof(dst));
	if (guard == GUARD_HOST)
		return set_map_lookup(bpf_map__fd(skel->maps.pd_hosts),
				      bpf_map__fd(skel->maps.pd_host_seed),
				      bpf_map__max_entries(skel->maps.pd_hosts), PD_HOSTS_WAYS,
				      &hkey, &st, sizeof(st)) ?
			       ULLONG_MAX :
			       st.quota_used;
	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.pd_policy_quota), &slot, &pq) ?
		       ULLONG_MAX :
		       pq.used;
}

/*
 * The measured path must be the one claimed: a pass by the 7th rule, counted, and
 * the destination cached (in epoch 0, slot BENCH_SLOT, its own address) where the
 * cache sees it; with @limit_burst, a bucket made for the host, by the clock
 * its depth calls for (see first_packet_time in tests/bpf/check_limit.c); with
 * GUARD_HOST, a host state charged with the packet; with GUARD_POLICY_QUOTA, the
 * policy's quota.
 */
static int policy_check_path(struct policy_bpf *skel, __u32 cache_off, __u64 limit_burst,
			     enum bench_guard guard, const uint8_t *pkt, size_t len)
{
	bool deep = limit_burst == BURST_DEEP;
	__u64 before, after, t;
	struct pd_host_key hkey = { .counter = BENCH_MATCH_RULE, .family = AF_INET };
	struct pd_bucket bucket;
	bool cached_here = cache_off == CACHE_ON || cache_off == CACHE_NO_HITS, cache_ok;
	int ncpus = libbpf_num_possible_cpus();
	__u32 counter = BENCH_MATCH_RULE, retval, dst = htonl(DST_ADDR);
	struct pd_host_way cached = {}, *ways = NULL;
	struct pd_counters *vals;
	__u64 packets = 0;
	double ns;
	int err, cpu;

	if (ncpus < 0)
		return ncpus;
	vals = calloc(ncpus, sizeof(*vals));
	ways = calloc(ncpus, sizeof(*ways));
	if (!vals || !ways) {
		err = -ENOMEM;
		goto out;
	}
	before = clock_units(deep ? CLOCK_MONOTONIC_COARSE : CLOCK_MONOTONIC);
	err = run_prog(bpf_program__fd(skel->progs.policyd_out), pkt, len, 1, &retval, &ns, NULL);
	after = clock_units(deep ? CLOCK_MONOTONIC_COARSE : CLOCK_MONOTONIC);
	if (err) {
		pr_err("test_run: %s\n", strerror(-err));
		goto out;
	}
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.pd_rule_stats), &counter, vals)) {
		err = -errno;
		pr_err("pd_rule_stats lookup: %s\n", strerror(-err));
		goto out;
	}
	for (cpu = 0; cpu < ncpus; cpu++)
		packets += vals[cpu].packets;
	if (retval != BPF_OK || packets != 1) {
		pr_err("policy program took another path: verdict %u, rule %d counted %llu\n",
		       retval, BENCH_MATCH_RULE + 1, (unsigned long long)packets);
		err = -EPROTO;
		goto out;
	}
	/* The per-host table is per CPU: the copy of the set of the CPU the run took
	 * holds the host, the others none. */
	err = host_ways_read(bpf_map__fd(skel->maps.pd_dcache4),
			     bpf_map__fd(skel->maps.pd_host_seed),
			     bpf_map__max_entries(skel->maps.pd_dcache4), AF_INET,
			     (const uint8_t *)&dst, ncpus, ways);
	for (cpu = 0; err > 0 && cpu < ncpus; cpu++) {
		if (ways[cpu].packets) {
			cached = ways[cpu];
			break;
		}
	}
	if (cached_here)
		cache_ok = err == 1 && cached.epoch == 0 && cached.slot == BENCH_SLOT &&
			   cached.packets == 1 && cached.bytes == len - ETH_HLEN;
	else
		cache_ok = err == 0;
	if (!cache_ok) {
		pr_err("unexpected per-host entry: %d CPUs hold it, epoch %u, slot %u, packets %llu\n",
		       err, cached.epoch, cached.slot, (unsigned long long)cached.packets);
		err = -EPROTO;
		goto out;
	}
	memcpy(hkey.addr, &dst, sizeof(dst));
	if (limit_burst && set_map_lookup(bpf_map__fd(skel->maps.pd_host_buckets),
					  bpf_map__fd(skel->maps.pd_host_seed),
					  bpf_map__max_entries(skel->maps.pd_host_buckets),
					  PD_BUCKET_WAYS, &hkey, &bucket, sizeof(bucket))) {
		pr_err("no per-host bucket for the destination\n");
		err = -EPROTO;
		goto out;
	}
	/* A fresh bucket's tat is the packet's time plus one packet's cost. A deep
	 * bucket's time is the coarse clock's: not past the coarse clock read after
	 * the run (unless a tick fell within these microseconds). */
	t = bucket.tat - (LIMIT_INTERVAL >> PD_INTERVAL_SHIFT);
	if (limit_burst && (t < before || t > after)) {
		pr_err("the bucket did not read the %s clock\n", deep ? "coarse" : "ns");
		err = -EPROTO;
		goto out;
	}
	if (guard != GUARD_NONE && quota_used(skel, guard) != len - ETH_HLEN) {
		pr_err("the %s quota was not charged with the packet\n",
		       guard == GUARD_HOST ? "host's" : "policy's");
		err = -EPROTO;
		goto out;
	}
	/* New hosts: fill the cache first, so that every timed claim evicts. */
	if (cache_off == CACHE_NEW_HOSTS) {
		err = run_prog(bpf_program__fd(skel->progs.policyd_out), pkt, len,
			       2 * PD_HOST_WAYS * bpf_map__max_entries(skel->maps.pd_dcache4),
			       &retval, &ns, NULL);
		if (err) {
			pr_err("test_run: %s\n", strerror(-err));
			goto out;
		}
	}
	err = 0;
out:
	free(ways);
	free(vals);
	return err;
}

/* Events lost to a full ring, summed over CPUs (ULLONG_MAX if unreadable). */
static unsigned long long misc_lost(struct policy_bpf *skel)
{
	int ncpus = libbpf_num_possible_cpus();
	unsigned long long lost = 0;
	struct pd_misc_stats *vals;
	__u32 zero = 0;
	int cpu;

	if (ncpus < 0)
		return ULLONG_MAX;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals || bpf_map_lookup_elem(bpf_map__fd(skel->maps.pd_misc_stats), &zero, vals)) {
		free(vals);
		return ULLONG_MAX;
	}
	for (cpu = 0; cpu < ncpus; cpu++)
		lost += vals[cpu].events_lost;
	free(vals);
	return lost;
}

/* Samples drained from a sampling variant's ring (untimed): counted, then dropped. */
static int sample_seen(void *ctx, void *data, size_t size)
{
	const struct pd_event *e = data;

	if (size >= sizeof(*e) && e->type == PD_EV_SAMPLE)
		++*(unsigned long long *)ctx;
	return 0;
}

/* One run of the primitive @fd must leave @want in prims_sink. */
static int sink_check(struct prims *prims, int fd, const uint8_t *pkt, size_t len, __u64 want,
		      const char *what)
{
	__u32 retval;
	double ns;
	int err;

	err = run_prog(fd, pkt, len, 1, &retval, &ns, NULL);
	if (err || prims->bss->prims_sink != want) {
		pr_err("%s program %s\n", what, err ? strerror(-err) : "left another value");
		return err ? err : -EPROTO;
	}
	return 0;
}

/*
 * The least stateful programs must take their whole path: the one host they
 * know is the packet's destination, and each run charges its quota and moves
 * its bucket on (then both are reset for the timed runs). The host is in
 * prims_hosts for the first two and in prims_table for the third, in the last
 * way of its set: the longest search that finds it.
 */
static int stateful_check(struct prims *prims, const uint8_t *pkt, size_t len)
{
	int fds[] = { bpf_program__fd(prims->progs.bench_stateful_ns),
		      bpf_program__fd(prims->progs.bench_stateful_coarse),
		      bpf_program__fd(prims->progs.bench_stateful_table) };
	int hosts_fd = bpf_map__fd(prims->maps.prims_hosts);
	int table_fd = bpf_map__fd(prims->maps.prims_table);
	struct prims_slot slot = { .key = prims_key_of(htonl(DST_ADDR)) };
	__u32 addr = htonl(DST_ADDR), idx, retval;
	unsigned int i;
	double ns;
	int err;

	idx = prims_set_of(slot.key) * PRIMS_WAYS + PRIMS_WAYS - 1;
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		slot.host = (struct prims_host){};
		if (bpf_map_update_elem(hosts_fd, &addr, &slot.host, BPF_ANY) ||
		    bpf_map_update_elem(table_fd, &idx, &slot, BPF_ANY))
			return -errno;
		err = run_prog(fds[i], pkt, len, 1, &retval, &ns, NULL);
		if (err)
			return err;
		if (i < 2 ? bpf_map_lookup_elem(hosts_fd, &addr, &slot.host) :
			    bpf_map_lookup_elem(table_fd, &idx, &slot))
			return -errno;
		if (retval != BPF_OK || slot.host.quota_used != len - ETH_HLEN || !slot.host.tat) {
			pr_err("the least stateful program %u did not charge its host\n", i);
			return -EPROTO;
		}
	}
	slot.host = (struct prims_host){};
	if (bpf_map_update_elem(hosts_fd, &addr, &slot.host, BPF_ANY) ||
	    bpf_map_update_elem(table_fd, &idx, &slot, BPF_ANY))
		return -errno;
	return 0;
}

/* Open, set the cache switch, load; NULL (errno set) on failure. */
static struct policy_bpf *policy_load(__u32 cache_off)
{
	struct policy_bpf *skel = policy_bpf__open();
	int err;

	if (!skel)
		return NULL;
	skel->rodata->pd_cache_off = cache_off;
	err = policy_bpf__load(skel);
	if (err) {
		policy_bpf__destroy(skel);
		errno = -err;
		return NULL;
	}
	return skel;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts @v. */
static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_table(const struct bench_opts *o, struct bench_case *cases, unsigned int ncases)
{
	double med[NCASES], wall[NCASES];
	unsigned int i;

	for (i = 0; i < ncases; i++) {
		med[i] = median(cases[i].ns, o->rounds);
		wall[i] = median(cases[i].wall_ns, o->rounds);
	}

	printf("BPF_PROG_TEST_RUN of a %u-byte IPv4 UDP packet, repeat %u, median of %u rounds;\n"
	       "the programs take turns within each round. ns/packet is the kernel's figure\n"
	       "(whole ns); wall ns/packet divides the syscall's wall-clock time.\n\n",
	       PKT_IP_LEN, o->repeat, o->rounds);
	printf("| program | prefixes | ns/packet | min | max | wall ns/packet | x empty | x hist |\n");
	printf("|---|--:|--:|--:|--:|--:|--:|--:|\n");
	for (i = 0; i < ncases; i++) {
		char prefixes[16] = "-";

		if (cases[i].prefixes)
			snprintf(prefixes, sizeof(prefixes), "%u", cases[i].prefixes);
		printf("| %s | %s | %.1f | %.0f | %.0f | %.1f | %.2f | %.2f |\n", cases[i].name,
		       prefixes, med[i], cases[i].ns[0], cases[i].ns[o->rounds - 1], wall[i],
		       med[i] / med[ROW_FLOOR], med[i] / med[ROW_HIST]);
	}
	printf("\nAbove the floor: hist %.1f ns; a ns clock read %.1f ns, a coarse one %.1f ns, "
	       "a hash lookup %.1f ns, a call %.1f ns;\n",
	       med[ROW_HIST] - med[ROW_FLOOR], med[ROW_CLOCK_NS] - med[ROW_FLOOR],
	       med[ROW_CLOCK_COARSE] - med[ROW_FLOOR], med[ROW_LOOKUP] - med[ROW_FLOOR],
	       med[ROW_CALL] - med[ROW_FLOOR]);
	printf("policy, cache hit, %.1f / %.1f / %.1f ns "
	       "(1 / 1,000 / 100,000 prefixes);\n"
	       "at 100,000 prefixes: cache miss path %.1f ns, a new host every packet %.1f ns, "
	       "trie only %.1f ns.\n",
	       med[ROW_HIT_1] - med[ROW_FLOOR], med[ROW_HIT_1K] - med[ROW_FLOOR],
	       med[ROW_HIT_100K] - med[ROW_FLOOR], med[ROW_MISS_100K] - med[ROW_FLOOR],
	       med[ROW_NEW_100K] - med[ROW_FLOOR], med[ROW_TRIE_100K] - med[ROW_FLOOR]);
	printf("Target (policy at 100,000 prefixes <= 2x hist): cache hit %.2fx, %s; "
	       "cache miss path %.2fx, %s; a new host every packet %.2fx, %s.\n",
	       med[ROW_HIT_100K] / med[ROW_HIST],
	       med[ROW_HIT_100K] <= 2 * med[ROW_HIST] ? "met" : "NOT met",
	       med[ROW_MISS_100K] / med[ROW_HIST],
	       med[ROW_MISS_100K] <= 2 * med[ROW_HIST] ? "met" : "NOT met",
	       med[ROW_NEW_100K] / med[ROW_HIST],
	       med[ROW_NEW_100K] <= 2 * med[ROW_HIST] ? "met" : "NOT met");
	for (i = 0; i < 2; i++) {
		unsigned int lim = i ? ROW_LIMIT_COARSE_100K : ROW_LIMIT_NS_100K;
		unsigned int grd = i ? ROW_GUARD_COARSE_100K : ROW_GUARD_NS_100K;
		unsigned int least = i ? ROW_STATEFUL_COARSE : ROW_STATEFUL_NS;

		printf("Per-host packet limit on the matching rule, bucket %s (every packet "
		       "conforming): %.1f ns above the floor, %.1f ns more than the cache hit; "
		       "%.2fx hist, %s.\n",
		       i ? "1 s deep, coarse clock" : "1 us deep, ns clock",
		       med[lim] - med[ROW_FLOOR], med[lim] - med[ROW_HIT_100K],
		       med[lim] / med[ROW_HIST], med[lim] <= 2 * med[ROW_HIST] ? "met" : "NOT met");
		printf("With a per-host quota and blocking on drops (every packet passing): "
		       "%.1f ns above the floor, %.1f ns more than the limit alone; "
		       "%.2fx hist, %s.\n",
		       med[grd] - med[ROW_FLOOR], med[grd] - med[lim], med[grd] / med[ROW_HIST],
		       med[grd] <= 2 * med[ROW_HIST] ? "met" : "NOT met");
		printf("The least a program keeping a per-host limit, quota and block does on the "
		       "same clock (one lookup, no rules, no counters): %.2fx hist; the policy "
		       "costs %.1f ns more.\n",
		       med[least] / med[ROW_HIST], med[grd] - med[least]);
	}
	printf("The same least job with the host's entry found by the program in an array (no "
	       "hash helper): %.2fx hist, %.1f ns less than with one hash lookup.\n",
	       med[ROW_STATEFUL_TABLE] / med[ROW_HIST],
	       med[ROW_STATEFUL_COARSE] - med[ROW_STATEFUL_TABLE]);
	/* h * hit + (1 - h) * new host = trie only, solved for h. */
	printf("Break-even at 100,000 prefixes, cache full: the cache beats the trie alone when "
	       "more than %.0f%% of packets hit.\n",
	       100 * (med[ROW_NEW_100K] - med[ROW_TRIE_100K]) /
		       (med[ROW_NEW_100K] - med[ROW_HIT_100K]));
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .repeat = 2000000, .rounds = 9, .seed = 1 };
	struct policy_bpf *pol[NPOLICY] = {};
	struct bench_case cases[NCASES] = {};
	struct empty *empty = NULL;
	struct hist *hist = NULL;
	struct prims *prims = NULL;
	struct {
		__u32 len, pad;
		__u64 addr[2];
	} pkey = { .len = PKT_IP_LEN };
	__u64 pval = 1;
	unsigned long long samples = 0, lost;
	unsigned int i, r, ncases = 0;
	__u32 retval;
	uint8_t pkt[ETH_HLEN + PKT_IP_LEN];
	size_t len;
	int opt, err = 0;

	log_init("bench_prog", LOG_LEVEL_INFO);
	log_hook_libbpf();
	while ((opt = getopt(argc, argv, "r:n:s:h")) != -1) {
		switch (opt) {
		case 'r':
			err = parse_uint(optarg, &o.repeat);
			break;
		case 'n':
			err = parse_uint(optarg, &o.rounds);
			break;
		case 's':
			err = parse_uint(optarg, &o.seed);
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
		if (err) {
			pr_err("-%c %s: not a number\n", opt, optarg);
			return EXIT_FAILURE;
		}
	}
	if (o.repeat < 1000000 || o.rounds < 1) {
		pr_err("repeat must be at least 1000000 and rounds at least 1\n");
		return EXIT_FAILURE;
	}

	build_packet(pkt, &len);
	empty = empty__open_and_load();
	hist = hist__open_and_load();
	prims = prims__open_and_load();
	if (!empty || !hist || !prims) {
		err = -errno;
		pr_err("loading the reference programs: %s\n", strerror(-err));
		goto out;
	}
	{
		/* The reference rows, in the order of the ROW_ enum. */
		const struct bench_case refs[] = {
			{ .name = "empty (floor)",
			  .prog_fd = bpf_program__fd(empty->progs.bench_empty) },
			{ .name = "hist (kernel doc example)",
			  .prog_fd = bpf_program__fd(hist->progs.bench_hist) },
			{ .name = "a ns clock read (bpf_ktime_get_ns)",
			  .prog_fd = bpf_program__fd(prims->progs.bench_clock_ns) },
			{ .name = "a coarse clock read (bpf_ktime_get_coarse_ns)",
			  .prog_fd = bpf_program__fd(prims->progs.bench_clock_coarse) },
			{ .name = "a hash lookup (24-byte key, found)",
			  .prog_fd = bpf_program__fd(prims->progs.bench_hash_lookup) },
			{ .name = "a call of a global BPF function",
			  .prog_fd = bpf_program__fd(prims->progs.bench_call) },
			{ .name = "least per-host limit + quota + block, ns clock",
			  .prog_fd = bpf_program__fd(prims->progs.bench_stateful_ns) },
			{ .name = "least per-host limit + quota + block, coarse clock",
			  .prog_fd = bpf_program__fd(prims->progs.bench_stateful_coarse) },
			{ .name = "least per-host limit + quota + block, coarse clock, no hash helper",
			  .prog_fd = bpf_program__fd(prims->progs.bench_stateful_table) },
		};

		for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
			cases[ncases++] = refs[i];
	}
	if (bpf_map_update_elem(bpf_map__fd(prims->maps.prims_hash), &pkey, &pval, BPF_ANY)) {
		err = -errno;
		pr_err("prims_hash update: %s\n", strerror(-err));
		goto out;
	}
	/* The lookup measured must find its key, the call return the IP length. */
	err = sink_check(prims, cases[ROW_LOOKUP].prog_fd, pkt, len, pval, "the hash lookup");
	if (!err)
		err = sink_check(prims, cases[ROW_CALL].prog_fd, pkt, len, len - ETH_HLEN,
				 "the call");
	if (!err)
		err = stateful_check(prims, pkt, len);
	if (err)
		goto out;
	/* One skeleton (own maps) per variant, so that every round measures all. */
	for (i = 0; i < NPOLICY; i++) {
		pol[i] = policy_load(variants[i].cache_off);
		if (!pol[i]) {
			err = -errno;
			pr_err("loading the policy program: %s\n", strerror(-err));
			goto out;
		}
		pr_info("filling %u prefixes\n", variants[i].prefixes);
		err = policy_fill(pol[i], variants[i].prefixes, variants[i].limit_burst,
				  variants[i].guard, variants[i].sample_every, o.seed);
		if (err)
			goto out;
		err = policy_check_path(pol[i], variants[i].cache_off, variants[i].limit_burst,
					variants[i].guard, pkt, len);
		if (err)
			goto out;
		cases[ncases++] = (struct bench_case){
			.name = variants[i].name,
			.prefixes = variants[i].prefixes,
			.prog_fd = bpf_program__fd(pol[i]->progs.policyd_out),
		};
		if (variants[i].sample_every) {
			cases[ncases - 1].events = ring_buffer__new(
				bpf_map__fd(pol[i]->maps.pd_events), sample_seen, &samples, NULL);
			if (!cases[ncases - 1].events) {
				err = -errno;
				pr_err("ring buffer of %s: %s\n", variants[i].name, strerror(-err));
				goto out;
			}
		}
	}
	for (i = 0; i < ncases; i++) {
		cases[i].ns = calloc(o.rounds, sizeof(double));
		cases[i].wall_ns = calloc(o.rounds, sizeof(double));
		if (!cases[i].ns || !cases[i].wall_ns) {
			err = -ENOMEM;
			goto out;
		}
	}

	for (r = 0; r < o.rounds; r++) {
		pr_info("round %u/%u\n", r + 1, o.rounds);
		for (i = 0; i < ncases; i++) {
			err = run_prog(cases[i].prog_fd, pkt, len, o.repeat, &retval,
				       &cases[i].ns[r], &cases[i].wall_ns[r]);
			if (err) {
				pr_err("test_run of %s: %s\n", cases[i].name, strerror(-err));
				goto out;
			}
			if (retval != BPF_OK) {
				pr_err("%s returned %u, not BPF_OK\n", cases[i].name, retval);
				err = -EPROTO;
				goto out;
			}
			/* A run's samples fit the ring (repeat / SAMPLE_EVERY records):
			 * drained now, none is lost. */
			if (cases[i].events)
				ring_buffer__consume(cases[i].events);
		}
	}
	/* test_run reports only the last verdict: the limit and quota must have dropped none. */
	for (i = 0; i < NPOLICY; i++) {
		long long dropped = variants[i].limit_burst ? rule_dropped(pol[i]) : 0;

		if (dropped) {
			pr_err("%s: %lld packets dropped (%s)\n", variants[i].name, dropped,
			       dropped < 0 ? strerror((int)-dropped) : "over the limit");
			err = -EPROTO;
			goto out;
		}
	}
	/* The sampling row must have sampled, about repeat / SAMPLE_EVERY per run, and lost none. */
	for (i = 0; i < NPOLICY; i++) {
		if (!variants[i].sample_every)
			continue;
		lost = misc_lost(pol[i]);
		if (!samples || lost) {
			pr_err("%s: %llu samples, %llu lost\n", variants[i].name, samples, lost);
			err = -EPROTO;
			goto out;
		}
	}
	print_table(&o, cases, ncases);
	printf("Sampling 1 in %u (%u bytes each): %.1f ns more than the cache hit; %llu samples "
	       "read from the ring, none lost.\n",
	       SAMPLE_EVERY, SAMPLE_SNAPLEN,
	       median(cases[ROW_SAMPLE_100K].ns, o.rounds) -
		       median(cases[ROW_HIT_100K].ns, o.rounds),
	       samples);
	printf("A per-policy quota on the cache hit: %.1f ns more.\n",
	       median(cases[ROW_POLICY_QUOTA_100K].ns, o.rounds) -
		       median(cases[ROW_HIT_100K].ns, o.rounds));
out:
	for (i = 0; i < ncases; i++) {
		ring_buffer__free(cases[i].events);
		free(cases[i].ns);
		free(cases[i].wall_ns);
	}
	for (i = 0; i < NPOLICY; i++)
		policy_bpf__destroy(pol[i]);
	prims__destroy(prims);
	hist__destroy(hist);
	empty__destroy(empty);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
