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

/* @addr (16 bytes, 8-byte aligned) keeps its first @bits bits, the rest cleared. */
static __always_inline void pd_mask6(__u8 *addr, __u32 bits)
{
	__u64 *half = (__u64 *)addr;
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
 * PD_LIMIT_TABLE_FULL. With @explain, nothing is charged or created: the answer
 * is what the bucket says now, and a host without a bucket gets
 * PD_LIMIT_NEW_HOST (it would start full).
 *
 * Inline in the program's entry, after the rules' loop (pd_first_match) has
 * decided which rule, if any, charges its limit: the verifier walks this once,
 * not once per rule that can end the loop, and the packet pays no call (a
 * call and its return cost 6-10 ns on the benchmark's CPUs: the "call" row of
 * bench/RESULTS.md).
 */
static __always_inline int pd_limit(struct __sk_buff *skb, const struct pd_rule *rule,
				    const struct pd_dest_key *dkey, int explain, __u64 now_ns)
{
	struct pd_host_key hkey __attribute__((aligned(8))) = {};
	struct pd_bucket fresh;
	struct pd_bucket *b;
	__u64 n, interval, cost, burst, now;
	__u32 mask4;
	long err;

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

	hkey.counter = rule->counter;
	if (!rule->limit.per_host) {
		b = bpf_map_lookup_elem(&pd_rule_buckets, &hkey.counter);
		return b ? pd_gcra(b, now, cost, burst, explain) : PD_LIMIT_CONFORM;
	}

	hkey.family = dkey->family;
	__builtin_memcpy(hkey.addr, dkey->addr, sizeof(hkey.addr));
	if (dkey->family == AF_INET) {
		mask4 = rule->limit.mask4;
		if (mask4 < 32)
			*(__u32 *)hkey.addr &= bpf_htonl(mask4 ? ~0u << (32 - mask4) : 0);
	} else {
		pd_mask6(hkey.addr, rule->limit.mask6);
	}
	b = bpf_map_lookup_elem(&pd_host_buckets, &hkey);
	if (b)
		return pd_gcra(b, now, cost, burst, explain);

	/* No bucket yet: a full one, which the packet leaves at now + cost. */
	if (cost > burst)
		return PD_LIMIT_OVER;
	if (explain)
		return PD_LIMIT_NEW_HOST;
	fresh.tat = now + cost;
	err = bpf_map_update_elem(&pd_host_buckets, &hkey, &fresh, BPF_NOEXIST);
	if (!err)
		return PD_LIMIT_CONFORM;
	if (err == -EEXIST) {
		/* Another CPU created it since the lookup: charge that one. */
		b = bpf_map_lookup_elem(&pd_host_buckets, &hkey);
		return b ? pd_gcra(b, now, cost, burst, 0) : PD_LIMIT_CONFORM;
	}
	if (err == -E2BIG || err == -ENOMEM)
		return PD_LIMIT_TABLE_FULL;
	/* -EBUSY (the bucket's lock held by this CPU, from an NMI): not the host's fault. */
	return PD_LIMIT_CONFORM;
}

#endif
