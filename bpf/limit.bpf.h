/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Rate limits for policyd's LWT_OUT program: GCRA on a per-rule bucket or on a
 * per-host one (pd_host_buckets, keyed by the masked destination), charged by
 * the matching pass rule.
 */
#ifndef POLICYD_LIMIT_BPF_H
#define POLICYD_LIMIT_BPF_H

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/policy_abi.h"
#include "bpf/maps.bpf.h"
#include "bpf/parse.bpf.h"
#include "bpf/guard.bpf.h"

/* pd_limit's answers. */
#define PD_LIMIT_CONFORM 0
#define PD_LIMIT_OVER 1
#define PD_LIMIT_TABLE_FULL 2 /* a new host, and no room in pd_host_buckets for it */
#define PD_LIMIT_NEW_HOST 3 /* explain only: no bucket for the host yet; it conforms */

/* Compare-and-swap attempts on a bucket before the packet is let through. */
#define PD_LIMIT_TRIES 4

/*
 * GCRA on @b (see the ABI): conform and move tat on by @cost, or be over the
 * limit and leave it. The test is written so that nothing overflows: base >= now.
 * @explain: answer from the current tat and store nothing.
 */
static __always_inline int pd_gcra(struct pd_bucket *b, __u64 now, __u64 cost, __u64 burst,
				   int explain)
{
	__u64 tat, base;
	int i;

	if (cost > burst)
		return PD_LIMIT_OVER;
	for (i = 0; i < PD_LIMIT_TRIES; i++) {
		tat = *(volatile __u64 *)&b->tat;
		base = tat > now ? tat : now;
		if (base - now > burst - cost)
			return PD_LIMIT_OVER;
		if (explain)
			return PD_LIMIT_CONFORM;
		if (__sync_val_compare_and_swap(&b->tat, tat, base + cost) == tat)
			return PD_LIMIT_CONFORM;
	}
	/*
	 * Every try lost to another CPU: they are sending through this bucket
	 * right now, and each of their packets was charged. Letting this one
	 * through uncharged (fail open) beats dropping a packet the limit may
	 * well have allowed.
	 */
	return PD_LIMIT_CONFORM;
}

/* pd_host_buckets' sets less one (see the ABI), set with its max_entries before load. */
const volatile __u32 pd_bucket_sets_mask = PD_DEFAULT_HOSTS / PD_BUCKET_WAYS - 1;

/*
 * The bucket of the key @k (three 64-bit words), whose address has the
 * pd_host_hash @hash,
 * in pd_host_buckets, charged with @cost
 * at @now as pd_gcra does, for a limit of @burst. A key with no way takes a
 * free one, or one whose bucket has refilled by @refilled (the coarse clock,
 * in the buckets' units: at or before either clock's now), full as a new
 * bucket is; with neither, PD_LIMIT_TABLE_FULL. With @explain nothing is
 * charged or taken: a key with no way gets PD_LIMIT_NEW_HOST if one would be
 * given, else PD_LIMIT_TABLE_FULL.
 *
 * A way is taken by pd_set_take, filled, and published by pd_set_publish. A
 * CPU that loses the race lets the packet through uncharged (fail open, as a
 * locked hash bucket did). A refilled bucket charged by its own host at the very
 * moment its way is taken loses that charge: the host's next packet finds a
 * full bucket, which it nearly was. A packet that matched a key just before
 * its way was taken from it charges the new key's bucket, once.
 */
static __always_inline int pd_host_limit(const __u64 *k, __u64 hash, __u64 now, __u64 cost,
					 __u64 burst, __u64 refilled, __u64 seed, int explain)
{
	__u64 w0, take_w0 = 0;
	struct pd_bucket_set *set;
	struct pd_bucket_way *way;
	int i, hit, take = -1;
	__u32 idx;

	idx = pd_host_key_set(hash, k[0], pd_bucket_sets_mask);
	set = bpf_map_lookup_elem(&pd_host_buckets, &idx);
	if (!set)
		return PD_LIMIT_CONFORM;
	hit = pd_set_find(set->way, sizeof(set->way[0]), PD_BUCKET_WAYS, k);
	if (hit >= 0) {
		way = &set->way[pd_way_hidden(hit, seed, PD_BUCKET_WAYS)];
		return pd_gcra(&way->b, now, cost, burst, explain);
	}
	/* No bucket yet: a full one, which the packet leaves at now + cost. */
	if (cost > burst)
		return PD_LIMIT_OVER;
#pragma unroll
	for (i = 0; i < PD_BUCKET_WAYS; i++) {
		w0 = *(volatile __u64 *)&set->way[i].key;
		if (w0 != PD_BUCKET_BUSY &&
		    (!w0 || *(volatile __u64 *)&set->way[i].b.tat <= refilled)) {
			take = i;
			take_w0 = w0;
			break;
		}
	}
	if (take < 0)
		return PD_LIMIT_TABLE_FULL;
	if (explain)
		return PD_LIMIT_NEW_HOST;
	i = pd_way_hidden(take, seed, PD_BUCKET_WAYS);
	way = &set->way[i];
	if (!pd_set_take(set->way, sizeof(set->way[0]), i, take_w0, k))
		return PD_LIMIT_CONFORM;
	*(volatile __u64 *)&way->b.tat = now + cost;
	pd_set_publish(set->way, sizeof(set->way[0]), PD_BUCKET_WAYS, i, k);
	return PD_LIMIT_CONFORM;
}

/* The mask of an IPv4 address's first @bits bits (< 32) over the first 64-bit
 * word of the 16 bytes that hold it. */
static __always_inline __u64 pd_addr4_word_mask(__u32 bits)
{
	__u32 m = bits ? ~0u << (32 - bits) : 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return bpf_htonl(m);
#else
	return (__u64)m << 32;
#endif
}

/* An IPv6 address, as its two 64-bit words @half in memory order, keeps its
 * first @bits bits, the rest cleared. */
static __always_inline void pd_mask6(__u64 *half, __u32 bits)
{
	__u64 hi = ~0ull, lo = ~0ull;

	/* No shift by 64: it is undefined, and BPF takes it modulo 64. */
	if (bits <= 64) {
		hi = bits ? ~0ull << (64 - bits) : 0;
		lo = 0;
	} else if (bits < 128) {
		lo = ~0ull << (128 - bits);
	}
	half[0] &= bpf_cpu_to_be64(hi);
	half[1] &= bpf_cpu_to_be64(lo);
}

/*
 * The rate limit of the matching pass rule @rule, for a packet to @dkey's
 * address sent at @now_ns (monotonic ns, by the clock PD_COARSE_TICKS chooses
 * for the bucket's depth): PD_LIMIT_CONFORM, PD_LIMIT_OVER or
 * PD_LIMIT_TABLE_FULL. @refilled is the packet's coarse time (ns), @seed
 * pd_host_seed's (see pd_host_limit). With @explain, nothing is charged or
 * created: the answer is what the bucket says now, and a host without a
 * bucket gets PD_LIMIT_NEW_HOST (it would start full), or PD_LIMIT_TABLE_FULL
 * if its set has no way to give.
 *
 * Inline in the program's entry, after the rules' loop (pd_first_match) has
 * decided which rule, if any, charges its limit: the verifier walks this once,
 * not once per rule that can end the loop, and the packet pays no call (a
 * call and its return cost 6-10 ns on the benchmark's CPUs: the "call" row of
 * bench/RESULTS.md).
 */
static __always_inline int pd_limit(struct __sk_buff *skb, const struct pd_rule *rule,
				    const struct pd_dest_key *dkey, const struct pd_guard_io *io,
				    int explain, __u64 now_ns)
{
	__u64 n, interval, cost, burst, now, hash, k[3];
	struct pd_bucket *b;
	__u32 mask4, counter;

	if (rule->limit.kind == PD_LIMIT_BYTES) {
		n = skb->len;
	} else {
		n = skb->gso_segs;
		if (!n)
			n = 1;
	}
	/*
	 * (interval * n) >> PD_INTERVAL_SHIFT, split so the low part cannot
	 * overflow (interval < 2^56, n < 2^24: no skb is 16 MB). The high
	 * part could, for the slowest rates and the largest skbs; but a cost
	 * over 2^60 is more than any bucket holds (the compiler keeps burst
	 * below it), so such a packet is over the limit before any sum.
	 */
	interval = rule->limit.interval;
	if (n >= 1u << 24 || (interval >> PD_INTERVAL_SHIFT) > (1ull << 60) / n)
		return PD_LIMIT_OVER;
	cost = (interval >> PD_INTERVAL_SHIFT) * n +
	       (((interval & ((1u << PD_INTERVAL_SHIFT) - 1)) * n) >> PD_INTERVAL_SHIFT);
	burst = rule->limit.burst;
	now = now_ns << PD_TIME_SHIFT;

	counter = rule->counter;
	if (!rule->limit.per_host) {
		b = bpf_map_lookup_elem(&pd_rule_buckets, &counter);
		return b ? pd_gcra(b, now, cost, burst, explain) : PD_LIMIT_CONFORM;
	}

	/* The key, made as 64-bit words (no store of another width to forward
	 * from); a masked address hashes anew. */
	k[0] = pd_key_w0(counter, dkey->family);
	k[1] = ((const __u64 *)&io->hkey)[1];
	k[2] = ((const __u64 *)&io->hkey)[2];
	hash = io->hash;
	if (dkey->family == AF_INET) {
		mask4 = rule->limit.mask4;
		if (mask4 < 32) {
			k[1] &= pd_addr4_word_mask(mask4);
			hash = pd_host_hash(k[1], 0, io->seed);
		}
	} else if (rule->limit.mask6 < 128) {
		pd_mask6(&k[1], rule->limit.mask6);
		hash = pd_host_hash(k[1], k[2], io->seed);
	}
	return pd_host_limit(k, hash, now, cost, burst, io->now << PD_TIME_SHIFT, io->seed,
			     explain);
}

#endif
