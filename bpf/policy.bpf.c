// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyd's data path: the LWT_OUT program attached to policied routes. It finds
 * the packet's destination policy by longest-prefix match (through the per-host
 * table), drops for a blocked host, evaluates the policy's rules in order (first
 * match decides), applies the quota and the block accounting, counts (per
 * policy, rule, host and realm), makes its events, and returns BPF_OK or
 * BPF_DROP (always BPF_OK for a policy in monitor mode). In explain mode it
 * changes nothing and answers in cb[]. Here: the entry point, the decision, the
 * counting, explain; the other concerns are in the headers below, which only
 * this file includes.
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
#include "bpf/events.bpf.h"
#include "bpf/hosts.bpf.h"
#include "bpf/clock.bpf.h"

char _license[] SEC("license") = "GPL";

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
		c->dropped_reason_bytes[reason] += bytes;
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

/* Explain (see pd_config): ctx_in's cb[0] and cb[1] carry the daemon's key. */
static __always_inline int pd_explaining(const struct __sk_buff *skb, const struct pd_config *cfg)
{
	__u64 key = cfg->explain_key;

	return key && skb->cb[0] == (__u32)key && skb->cb[1] == (__u32)(key >> 32);
}

/* Explain's answer, in cb[] as the ABI lays it out. */
static __always_inline void pd_explain_out(struct __sk_buff *skb, __u32 slot, __u32 rule,
					   __u32 verdict, __u32 reason, __u32 flags, __u32 counter)
{
	skb->cb[0] = slot;
	skb->cb[1] = rule;
	skb->cb[2] = verdict | reason << 8 | flags << 16;
	skb->cb[3] = counter;
	skb->cb[4] = 0;
}

/*
 * What the policy decides for a packet: pd_first_match's answer, which
 * pd_enforce completes. "in" fields are the entry's, before either.
 */
struct pd_decision {
	struct pd_pkt pkt; /* in: the packet, as parsed */
	/* in: as pd_guard_prepare filled it (zeros for a policy without quota or
	 * block); out: g.until, the host became blocked by this packet, until then;
	 * or 0 */
	struct pd_guard_io g;
	/* in: a limit whose burst is at least this deep (time units) reads
	 * g.now, the coarse clock; a shallower one the ns clock (PD_COARSE_TICKS) */
	__u64 coarse_depth;
	__u32 idx; /* in: the policy's index in pd_policies */
	__u32 counter; /* pd_rule_stats index of the deciding rule, or the default's */
	__u32 reason; /* enum pd_reason */
	__u32 rule; /* index of the deciding rule, or PD_EV_RULE_NONE */
	__u32 xflags; /* PD_EXPLAIN_F_* (without WOULD_DROP) */
	__u8 drop; /* the policy's verdict, before monitor mode */
	__u8 table_full;
	__u8 log; /* the deciding rule has PD_RULE_LOG */
	__u8 explain; /* in: change nothing */
	__u8 sample; /* set by the caller: this packet is sampled */
	__u8 pad[7];
};

/*
 * The first rule of the policy @pol that matches the packet @d->pkt, into @d:
 * its index (or PD_EV_RULE_NONE), counter, verdict and log flag, or the
 * default's. Its limit, the quota and the block are pd_enforce's.
 *
 * A global function, and the only one every governed packet calls: the
 * verifier checks it once, on its own. Inline, the code after the loop
 * (limit, quota, block, counting, events, explain) was walked once per rule
 * that can end the loop and went past the complexity limit; here the caller
 * sees one call, one outcome. The price is the call and the stores to @d.
 */
__noinline int pd_first_match(struct __sk_buff *skb, const struct pd_policy *pol,
			      struct pd_decision *d)
{
	__u32 idx, nrules, i, reason = PD_REASON_DEFAULT, rule_idx = PD_EV_RULE_NONE;
	int drop, log = 0;
	const struct pd_rule *rule;
	struct pd_pkt p;

	if (!skb || !pol || !d)
		return 0;
	/* On this function's stack, as the rules' loop had it inline: read through
	 * the argument, every port compare makes new states, past 1M instructions. */
	p = d->pkt;
	idx = d->idx;
	drop = pol->default_verdict == PD_DROP;
	d->counter = pol->default_counter;
	nrules = pol->nrules;
	/*
	 * A plain bounded loop: the verifier walks each iteration, but the states of
	 * the non-matching branches within one iteration are equal and get pruned,
	 * so 64 rules x 16 ranges stays far below the complexity limit (the code
	 * after the loop is walked once per rule that can end it: keep it small,
	 * and keep what it writes in @d, whose contents the verifier does not
	 * track; the whole program took 223k instructions processed on 6.18, of
	 * 1M), and the JIT runs a tight loop with no per-rule indirect call as
	 * bpf_loop() would cost.
	 */
	rule = pol->rules;
	for (i = 0; i < PD_MAX_RULES; i++, rule++) {
		if (i >= nrules)
			break;
		if (pd_rule_matches(skb, rule, &p, idx, i)) {
			drop = rule->action == PD_DROP;
			d->counter = rule->counter;
			reason = PD_REASON_RULE;
			rule_idx = i;
			log = rule->flags & PD_RULE_LOG;
			break;
		}
	}
	d->reason = reason;
	d->rule = rule_idx;
	d->drop = drop;
	d->log = log;
	return 0;
}

/*
 * After pd_first_match, for a host not blocked: the deciding pass rule's limit,
 * then the quota and the block accounting of the policy @pol, for the packet
 * to @dkey whose host's state in pd_hosts is @st (as pd_guard_prepare found
 * it), into @d. Inline: the verifier walks it once, as it follows one outcome
 * of pd_first_match, and the packet pays no call for it.
 */
static __always_inline void pd_enforce(struct __sk_buff *skb, const struct pd_policy *pol,
				       const struct pd_dest_key *dkey, struct pd_host_state *st,
				       struct pd_decision *d)
{
	const struct pd_rule *rule;
	int limit, res;
	__u64 now;

	if (d->rule < PD_MAX_RULES && !d->drop) {
		rule = &pol->rules[d->rule];
		if (rule->limit.kind != PD_LIMIT_NONE) {
			now = rule->limit.burst >= d->coarse_depth ? d->g.now : bpf_ktime_get_ns();
			limit = pd_limit(skb, rule, dkey, &d->g, d->explain, now);
			if (limit == PD_LIMIT_OVER) {
				d->reason = PD_REASON_LIMIT;
				d->xflags = PD_EXPLAIN_F_LIMIT_OVER;
				d->drop = 1;
			} else if (limit == PD_LIMIT_NEW_HOST) {
				d->xflags = PD_EXPLAIN_F_NEW_HOST;
			} else if (limit == PD_LIMIT_TABLE_FULL) {
				d->table_full = 1;
				d->reason = PD_REASON_TABLE_FULL;
				d->xflags = PD_EXPLAIN_F_TABLE_FULL;
				d->drop = pol->table_full_verdict == PD_DROP;
			}
		}
	}
	/* Policies without quota or block pay this test and nothing more. */
	if (pol->quota.bytes || pol->block.kind != PD_BLOCK_NONE) {
		d->g.how = (d->drop ? PD_GUARD_F_DROP : 0) | (d->explain ? PD_GUARD_F_EXPLAIN : 0);
		res = pd_guard(skb, pol, st, &d->g);
		if (res == PD_GUARD_QUOTA) {
			d->drop = 1;
			d->reason = PD_REASON_QUOTA;
			d->xflags |= PD_EXPLAIN_F_QUOTA;
		} else if (res == PD_GUARD_TABLE_FULL) {
			d->table_full = 1;
			d->reason = PD_REASON_TABLE_FULL;
			d->xflags |= PD_EXPLAIN_F_TABLE_FULL;
			d->drop = pol->table_full_verdict == PD_DROP;
		}
	}
}

/*
 * The events of a counted packet (see the ABI) under the policy @pol, which
 * decided @d: a drop record for a drop or would-drop, a log record for a rule
 * with log, a sample if the caller drew this packet, a block record if the
 * packet got its host blocked.
 *
 * A global function: only packets that may make an event pay the call, and its
 * frame (and pd_emit's) sits on the entry's alone, never on pd_first_match's
 * (the verifier's 512 bytes are for the deepest chain of calls).
 */
__noinline int pd_events_of(struct __sk_buff *skb, const struct pd_policy *pol,
			    const struct pd_dest_key *key, const struct pd_pkt *pkt,
			    const struct pd_decision *d)
{
	struct pd_evinfo info = {};
	int drop, would_drop;

	if (!skb || !pol || !key || !pkt || !d)
		return 0;
	drop = d->drop;
	would_drop = drop && (pol->flags & PD_POLICY_MONITOR);
	if (would_drop)
		drop = 0;
	info.slot = d->idx % PD_MAX_POLICIES;
	info.verdict = drop ? PD_DROP : PD_PASS;
	info.reason = drop || would_drop ? d->reason : 0;
	info.flags = would_drop ? PD_EVF_WOULD_DROP : 0;
	info.rule = d->rule;
	if (drop || would_drop) {
		info.type = PD_EV_DROP;
		pd_emit(skb, key, pkt, &info);
	}
	if (d->log) {
		info.type = PD_EV_LOG;
		pd_emit(skb, key, pkt, &info);
	}
	if (d->sample) {
		info.type = PD_EV_SAMPLE;
		info.snaplen = pol->sample_snaplen;
		pd_emit(skb, key, pkt, &info);
	}
	/* The host is blocked from now on: its packets drop (or, in monitor mode,
	 * would), whatever rule decided this one. */
	if (d->g.until) {
		info.type = PD_EV_BLOCK;
		info.until_ns = d->g.until;
		info.verdict = pol->flags & PD_POLICY_MONITOR ? PD_PASS : PD_DROP;
		info.reason = PD_REASON_BLOCKED;
		info.flags = pol->flags & PD_POLICY_MONITOR ? PD_EVF_WOULD_DROP : 0;
		info.rule = PD_EV_RULE_NONE;
		pd_emit(skb, key, pkt, &info);
	}
	return 0;
}

SEC("lwt_out")
int policyd_out(struct __sk_buff *skb)
{
	/* Aligned for pd_host6's 64-bit loads: stack accesses must be aligned. */
	struct pd_dest_key key __attribute__((aligned(8))) = {};
	/* Zeros but the packet's "none"s: pd_guard_io's key padding too, as
	 * pd_hosts compares whole keys. */
	struct pd_decision d = {
		.pkt = {
			.dport = PD_NO_PORT,
			.sport = PD_NO_PORT,
			.tcp_flags = PD_NO_TCP,
			.icmp_type = PD_NO_ICMP,
		},
	};
	struct pd_host_state *hstate;
	struct pd_host_way *host = NULL;
	const __u64 *addr;
	const struct pd_policy *pol;
	const struct pd_config *cfg;
	struct pd_policy_stats *pst;
	struct pd_clock *clock;
	struct pd_counters *rst;
	__u32 zero = 0, idx, bucket, epoch, gen, slot, reason, every;
	__u64 packets, bytes;
	int drop, would_drop, explain;

	cfg = bpf_map_lookup_elem(&pd_config, &zero);
	if (!cfg)
		return BPF_OK;
	/* No side effect from here on if set: no cache entry, counter, bucket,
	 * quota, block or event is touched, and cb[] gets the answer. */
	explain = pd_explaining(skb, cfg);

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (pd_parse_ipv4(skb, &key, &d.pkt))
			goto none;
		key.prefixlen = PD_DEST_KEY_HDR_BITS + 32;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (pd_parse_ipv6(skb, &key, &d.pkt))
			goto none;
		key.prefixlen = PD_DEST_KEY_HDR_BITS + 128;
	} else {
		goto none;
	}

	/* Read once: the generation searched and the cache tag must be the same epoch's. */
	epoch = *(const volatile __u32 *)&cfg->epoch;
	gen = epoch % PD_GENERATIONS;
	key.gen = gen;

	/* A route may cover more than the policies' destinations (a /16 route, a /24
	 * destination): traffic no policy names passes untouched and uncounted. */
	/* The destination hashed once for the three per-host tables, its
	 * address kept as the words of pd_hosts' key (see pd_guard_io). */
	d.g.seed = pd_host_seed_get();
	addr = (const __u64 *)key.addr;
	((__u64 *)&d.g.hkey)[1] = addr[0];
	((__u64 *)&d.g.hkey)[2] = addr[1];
	d.g.hash = pd_host_hash(addr[0], addr[1], d.g.seed);
	if (explain)
		slot = pd_dest_lookup(&key);
	else if (key.family == AF_INET)
		host = pd_host4(&key, epoch, d.g.seed, d.g.hash, &slot);
	else
		host = pd_host6(&key, epoch, d.g.seed, d.g.hash, &slot);
	if (slot >= PD_MAX_POLICIES)
		goto none;
	idx = gen * PD_MAX_POLICIES + slot;
	pol = bpf_map_lookup_elem(&pd_policies, &idx);
	if (!pol || !(pol->flags & PD_POLICY_ACTIVE))
		goto none;

	d.idx = idx;
	d.g.gen_base = gen * PD_MAX_POLICIES;
	d.explain = explain;
	/* The packet's time: the coarse clock's, for the block, the quota's
	 * recheck, last seen and deep buckets (see PD_COARSE_TICKS). Explain
	 * reads the clock and keeps nothing. */
	clock = bpf_map_lookup_elem(&pd_clock, &zero);
	d.g.now = clock && !explain ? pd_coarse_now(clock) : bpf_ktime_get_coarse_ns();
	d.coarse_depth =
		cfg->coarse_ns ? ((__u64)cfg->coarse_ns * PD_COARSE_TICKS) << PD_TIME_SHIFT : ~0ull;
	hstate = pd_guard_prepare(pol, &key, slot, &d.g);
	/* A blocked host: no rule is asked, and the count goes to the default counter. */
	if (pol->block.kind != PD_BLOCK_NONE && pd_blocked(hstate, d.g.now)) {
		d.drop = 1;
		d.reason = PD_REASON_BLOCKED;
		d.xflags = PD_EXPLAIN_F_BLOCKED;
		d.counter = pol->default_counter;
		d.rule = PD_EV_RULE_NONE;
	} else {
		pd_first_match(skb, pol, &d);
		pd_enforce(skb, pol, &key, hstate, &d);
	}
	drop = d.drop;
	/* An index into the counters' reasons: bounded where the verifier sees it. */
	reason = d.reason;
	barrier_var(reason);
	if (reason >= PD_REASON_MAX)
		reason = PD_REASON_DEFAULT;
	/* Monitor mode: the verdict is counted, not carried out (a limit's, a
	 * quota's or a block's too, though the bucket, quota and block window were
	 * charged: the count is what enforcing would do). */
	would_drop = drop && (pol->flags & PD_POLICY_MONITOR);
	if (explain) {
		pd_explain_out(skb, slot, d.rule, drop ? PD_DROP : PD_PASS, reason,
			       d.xflags | (would_drop ? PD_EXPLAIN_F_WOULD_DROP : 0), d.counter);
		return drop && !would_drop ? BPF_DROP : BPF_OK;
	}
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
		pd_count(&pst->c, packets, bytes, drop, would_drop, reason, d.table_full);
		bucket = pd_hist_bucket(skb->len);
		pst->hist[bucket] += packets;
	}
	rst = bpf_map_lookup_elem(&pd_rule_stats, &d.counter);
	if (rst)
		pd_count(rst, packets, bytes, drop, would_drop, reason, d.table_full);
	if (host)
		pd_host_count(host, packets, bytes, drop, would_drop, reason, d.g.now);
	if (cfg->flags & PD_CONFIG_REALMS)
		pd_count_realm(skb, packets, bytes, drop);
	/* Sampling: one packet in sample_every, drawn here, so the others of a
	 * sampled policy pay the draw and not the call. */
	every = pol->sample_every;
	if (every && bpf_get_prandom_u32() % every == 0)
		d.sample = 1;
	/* A passing packet with no log rule and no sample pays these tests only
	 * (here, not in pd_first_match, whose end the verifier walks once per rule). */
	if (drop || would_drop || d.log || d.sample || d.g.until)
		pd_events_of(skb, pol, &key, &d.pkt, &d);

	return drop ? BPF_DROP : BPF_OK;

none:
	if (explain)
		pd_explain_out(skb, PD_SLOT_NONE, PD_EV_RULE_NONE, PD_PASS, 0, 0, 0);
	return BPF_OK;
}
