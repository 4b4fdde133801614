// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyd's data path: the LWT_OUT program attached to policied routes. It finds
 * the packet's destination policy by longest-prefix match (through a per-host
 * cache), drops for a blocked host, evaluates the policy's rules in order (first
 * match decides), applies the quota and the block accounting, counts, and
 * returns BPF_OK or BPF_DROP (always BPF_OK for a policy in monitor mode).
 * Here: the entry point, the destination lookup and its cache, the counting;
 * the other concerns are in the headers below, which only this file includes.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/policy_abi.h"
#include "bpf/maps.bpf.h"
#include "bpf/parse.bpf.h"
#include "bpf/match.bpf.h"
#include "bpf/limit.bpf.h"
#include "bpf/guard.bpf.h"

char _license[] SEC("license") = "GPL";

/*
 * pd_cache_off: for the benchmark only, which repeats one packet; set before load.
 * The daemon leaves it 0 and the verifier then drops the other branches, so what
 * it runs is the plain cached program. PD_CACHE_BYPASS: no cache, the trie on
 * every packet. PD_CACHE_NO_HITS: look up and insert as usual but ignore every
 * hit: the whole miss path on every packet. PD_CACHE_NEW_HOSTS (IPv4): the cache
 * sees a random address instead of the packet's (the trie still gets the real
 * one): every packet a new host, inserted into a full cache that must evict.
 */
#define PD_CACHE_ON 0
#define PD_CACHE_BYPASS 1
#define PD_CACHE_NO_HITS 2
#define PD_CACHE_NEW_HOSTS 3

const volatile __u32 pd_cache_off = PD_CACHE_ON;

/*
 * Histogram bucket of an IP length: 0 for len <= 64, i for 64 << (i - 1) < len <=
 * 64 << i, the last bucket for everything longer. That is the bit length of
 * (len - 1) >> 6, found by halving in four fixed steps: no loop, no table.
 */
static __always_inline __u32 pd_hist_bucket(__u32 len)
{
	__u32 v = (len - !!len) >> PD_HIST_MIN_SHIFT;
	__u32 r, s;

	r = (v > 0xffff) << 4;
	v >>= r;
	s = (v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (v > 0x3) << 1;
	v >>= s;
	r |= s;
	/* r is now floor(log2(v)) for v > 0; the bit length is r + 1, or 0 for v == 0. */
	r = r + (v >> 1) + !!v;
	return r < PD_HIST_BUCKETS - 1 ? r : PD_HIST_BUCKETS - 1;
}

/*
 * @would_drop: a drop verdict that monitor mode let pass (@drop is then 0);
 * @table_full: a new host met a full pd_host_buckets (passed or dropped).
 */
static __always_inline void pd_count(struct pd_counters *c, __u64 packets, __u64 bytes, int drop,
				     int would_drop, __u32 reason, int table_full)
{
	c->packets += packets;
	c->bytes += bytes;
	if (table_full)
		c->table_full_packets += packets;
	if (drop) {
		c->dropped_packets += packets;
		c->dropped_bytes += bytes;
		c->dropped_reason[reason] += packets;
	} else {
		c->passed_packets += packets;
		c->passed_bytes += bytes;
		if (would_drop) {
			c->would_drop_packets += packets;
			c->would_drop_bytes += bytes;
		}
	}
}

/*
 * Route realms (SPEC: these statistics extend realms): 64-bit counters per
 * realm of the route the packet leaves by. Only routes with a realm pay
 * for the lookup; a realm's first packet on a CPU inserts its entry (a full
 * table leaves that realm uncounted: PD_MAX_REALMS is far above what
 * routers use).
 */
static __always_inline void pd_count_realm(struct __sk_buff *skb, __u64 packets, __u64 bytes,
					   int drop)
{
	__u32 realm = bpf_get_route_realm(skb);
	struct pd_realm_stats *rs, init = {};

	if (!realm)
		return;
	rs = bpf_map_lookup_elem(&pd_realm_stats, &realm);
	if (!rs) {
		bpf_map_update_elem(&pd_realm_stats, &realm, &init, BPF_NOEXIST);
		rs = bpf_map_lookup_elem(&pd_realm_stats, &realm);
		if (!rs)
			return;
	}
	rs->packets += packets;
	rs->bytes += bytes;
	if (drop) {
		rs->dropped_packets += packets;
		rs->dropped_bytes += bytes;
	}
}

/* The trie's answer for @key in the generation key->gen: a policy slot or PD_SLOT_NONE. */
static __always_inline __u32 pd_dest_lookup(const struct pd_dest_key *key)
{
	const struct pd_dest_val *dest = bpf_map_lookup_elem(&pd_dest, key);

	return dest ? dest->policy : PD_SLOT_NONE;
}

/*
 * A cache entry is used only if it was written in this packet's epoch for this
 * packet's destination. LRU elements are reused at once: one evicted or replaced on
 * another CPU can be rewritten for another host (key, then value, by a memcpy of no
 * promised order or width: rep movsb on x86 with FSRM, else front to back) while
 * this packet still holds a pointer to it. Hence epoch and slot in one 64-bit load,
 * then, after a barrier, the address: a rewrite done before the first load, or
 * between the two, fails the address check; one after both leaves a pair this host's
 * insert wrote. Left open, as no order of loads can close it (the element does hold
 * the mix for a moment): a copy caught half done, new epoch and slot (or part of
 * them) stored, new address not yet, with both loads in between; or an element
 * reused twice, back to this host, between the loads. Either takes an element
 * evicted and rewritten on another CPU within nanoseconds of this read, and gives
 * this one packet another host's slot. x86 keeps the loads in order; a weakly
 * ordered CPU (arm64) may not, and there any rewrite between them gets through.
 */
static __always_inline int pd_dcache_tag(const struct pd_dcache_val *entry, __u32 epoch,
					 __u32 *slot)
{
	union {
		__u64 word;
		struct {
			__u32 epoch;
			__u32 slot;
		} f;
	} snap;

	if (pd_cache_off == PD_CACHE_NO_HITS)
		return 0;
	snap.word = *(const volatile __u64 *)entry;
	if (snap.f.epoch != epoch)
		return 0;
	*slot = snap.f.slot;
	barrier();
	return 1;
}

static __always_inline int pd_dcache_valid4(const struct pd_dcache_val *entry, __u32 epoch,
					    __u32 addr, __u32 *slot)
{
	return pd_dcache_tag(entry, epoch, slot) && *(const volatile __u32 *)entry->addr == addr;
}

static __always_inline int pd_dcache_valid6(const struct pd_dcache_val *entry, __u32 epoch,
					    const __u64 *addr, __u32 *slot)
{
	const volatile __u64 *cached = (const volatile __u64 *)entry->addr;

	return pd_dcache_tag(entry, epoch, slot) && cached[0] == addr[0] && cached[1] == addr[1];
}

/*
 * The policy slot of the packet's destination in @epoch, or PD_SLOT_NONE.
 *
 * Why a racing insert is harmless: a packet that read epoch E before the daemon
 * bumped it to E + 1 may still insert {E, slot found in generation E % 2} after the
 * bump, even over an entry a newer packet wrote with E + 1. Every packet that read
 * E + 1 (or later) compares the tag, sees E, and goes to the trie: an entry is only
 * ever trusted in the epoch it names, whose generation is the one its slot came
 * from; the daemon never rewrites the live generation, nor the one it retired
 * before pd_sync's grace period, so that slot was the right one for that epoch.
 * The worst a race costs is one more trie lookup. Tags are 32 bits: an untouched
 * entry would come back to life only after exactly 2^32 applies.
 *
 * The two families are two functions, not one taking the map as an argument: one
 * call site per map lets the verifier inline each hash lookup.
 */
static __always_inline __u32 pd_dest_slot4(const struct pd_dest_key *key, __u32 epoch)
{
	struct pd_dcache_val val = { .epoch = epoch };
	const struct pd_dcache_val *entry;
	__u32 addr = *(const __u32 *)key->addr;
	__u32 slot;

	if (pd_cache_off == PD_CACHE_BYPASS)
		return pd_dest_lookup(key);
	if (pd_cache_off == PD_CACHE_NEW_HOSTS)
		addr = bpf_get_prandom_u32();
	entry = bpf_map_lookup_elem(&pd_dcache4, &addr);
	if (entry && pd_dcache_valid4(entry, epoch, addr, &slot))
		return slot;
	val.slot = pd_dest_lookup(key);
	*(__u32 *)val.addr = addr;
	/* A failed insert (-EBUSY under a bucket lock) only costs the next packet a lookup. */
	bpf_map_update_elem(&pd_dcache4, &addr, &val, BPF_ANY);
	return val.slot;
}

/* @key is 8-byte aligned (see policyd_out): its address is read as two __u64. */
static __always_inline __u32 pd_dest_slot6(const struct pd_dest_key *key, __u32 epoch)
{
	struct pd_dcache_val val = { .epoch = epoch };
	const struct pd_dcache_val *entry;
	__u32 slot;

	if (pd_cache_off == PD_CACHE_BYPASS)
		return pd_dest_lookup(key);
	/* The key's address bytes are the cache key as they are: no copy on a hit. */
	entry = bpf_map_lookup_elem(&pd_dcache6, key->addr);
	if (entry && pd_dcache_valid6(entry, epoch, (const __u64 *)key->addr, &slot))
		return slot;
	val.slot = pd_dest_lookup(key);
	__builtin_memcpy(val.addr, key->addr, sizeof(val.addr));
	bpf_map_update_elem(&pd_dcache6, key->addr, &val, BPF_ANY);
	return val.slot;
}

SEC("lwt_out")
int policyd_out(struct __sk_buff *skb)
{
	/* Aligned for pd_dest_slot6's 64-bit loads: stack accesses must be aligned. */
	struct pd_dest_key key __attribute__((aligned(8))) = {};
	struct pd_pkt pkt = {
		.dport = PD_NO_PORT,
		.sport = PD_NO_PORT,
		.tcp_flags = PD_NO_TCP,
		.icmp_type = PD_NO_ICMP,
	};
	const struct pd_policy *pol;
	const struct pd_config *cfg;
	struct pd_policy_stats *pst;
	struct pd_counters *rst;
	__u32 zero = 0, idx, counter, reason, bucket, epoch, gen, slot, nrules, i;
	const struct pd_rule *rule;
	__u64 packets, bytes;
	int drop, would_drop, limit = PD_LIMIT_CONFORM, table_full = 0, res;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (pd_parse_ipv4(skb, &key, &pkt))
			return BPF_OK;
		key.prefixlen = PD_DEST_KEY_HDR_BITS + 32;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (pd_parse_ipv6(skb, &key, &pkt))
			return BPF_OK;
		key.prefixlen = PD_DEST_KEY_HDR_BITS + 128;
	} else {
		return BPF_OK;
	}

	cfg = bpf_map_lookup_elem(&pd_config, &zero);
	if (!cfg)
		return BPF_OK;
	/* Read once: the generation searched and the cache tag must be the same epoch's. */
	epoch = *(const volatile __u32 *)&cfg->epoch;
	gen = epoch % PD_GENERATIONS;
	key.gen = gen;

	/* A route may cover more than the policies' destinations (a /16 route, a /24
	 * destination): traffic no policy names passes untouched and uncounted. */
	if (key.family == AF_INET)
		slot = pd_dest_slot4(&key, epoch);
	else
		slot = pd_dest_slot6(&key, epoch);
	if (slot >= PD_MAX_POLICIES)
		return BPF_OK;
	idx = gen * PD_MAX_POLICIES + slot;
	pol = bpf_map_lookup_elem(&pd_policies, &idx);
	if (!pol || !(pol->flags & PD_POLICY_ACTIVE))
		return BPF_OK;

	drop = pol->default_verdict == PD_DROP;
	counter = pol->default_counter;
	reason = PD_REASON_DEFAULT;
	nrules = pol->nrules;
	/*
	 * A blocked host: no rule is asked, and the count goes to the default
	 * counter. Straight to the counting, so the verifier does not walk the
	 * rules again for this path.
	 */
	if (pol->block.kind != PD_BLOCK_NONE && pd_blocked(&key, slot)) {
		drop = 1;
		reason = PD_REASON_BLOCKED;
		goto count;
	}
	/*
	 * A plain bounded loop: the verifier walks each iteration, but the states of
	 * the non-matching branches within one iteration are equal and get pruned,
	 * so 64 rules x 16 ranges stays far below the complexity limit (about 75k
	 * instructions processed on 6.18, of 1M, pd_rule_matches_more included; 218k
	 * with the quota and block, whose call and three outcomes after the loop the
	 * verifier walks once per rule that can end it), and
	 * the JIT runs a tight loop with no per-rule indirect call as bpf_loop()
	 * would cost.
	 */
	for (i = 0; i < PD_MAX_RULES; i++) {
		if (i >= nrules)
			break;
		rule = &pol->rules[i];
		if (pd_rule_matches(skb, rule, &pkt, idx, i)) {
			drop = rule->action == PD_DROP;
			counter = rule->counter;
			reason = PD_REASON_RULE;
			if (!drop && rule->limit.kind != PD_LIMIT_NONE)
				limit = pd_limit(skb, rule, &key);
			break;
		}
	}
	if (limit != PD_LIMIT_CONFORM) {
		if (limit == PD_LIMIT_OVER) {
			reason = PD_REASON_LIMIT;
		} else {
			table_full = 1;
			reason = PD_REASON_TABLE_FULL;
		}
		drop = limit == PD_LIMIT_OVER || pol->table_full_verdict == PD_DROP;
	}
	/* Policies without quota or block pay this test and nothing more. */
	if (pol->quota.bytes || pol->block.kind != PD_BLOCK_NONE) {
		res = pd_guard(skb, pol, &key, slot, drop);
		if (res == PD_GUARD_QUOTA) {
			drop = 1;
			reason = PD_REASON_QUOTA;
		} else if (res == PD_GUARD_TABLE_FULL) {
			table_full = 1;
			reason = PD_REASON_TABLE_FULL;
			drop = pol->table_full_verdict == PD_DROP;
		}
	}

count:
	/* Monitor mode: the verdict is counted, not carried out (a limit's, a
	 * quota's or a block's too, though the bucket, quota and block window were
	 * charged: the count is what enforcing would do). */
	would_drop = drop && (pol->flags & PD_POLICY_MONITOR);
	if (would_drop)
		drop = 0;

	/* A GSO skb is one call for many wire packets. */
	packets = skb->gso_segs;
	if (!packets)
		packets = 1;
	bytes = skb->len;

	/* Per-CPU values: this CPU's copy is ours for the whole run, no atomics. */
	pst = bpf_map_lookup_elem(&pd_policy_stats, &slot);
	if (pst) {
		pd_count(&pst->c, packets, bytes, drop, would_drop, reason, table_full);
		bucket = pd_hist_bucket(skb->len);
		pst->hist[bucket] += packets;
	}
	rst = bpf_map_lookup_elem(&pd_rule_stats, &counter);
	if (rst)
		pd_count(rst, packets, bytes, drop, would_drop, reason, table_full);
	if (cfg->flags & PD_CONFIG_REALMS)
		pd_count_realm(skb, packets, bytes, drop);

	return drop ? BPF_DROP : BPF_OK;
}
