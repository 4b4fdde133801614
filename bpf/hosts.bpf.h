/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-host table of policyd's LWT_OUT program (pd_dcache4/6): per
 * destination host and CPU, the cached pd_dest lookup (so a flow's packets after
 * the first skip the trie) and the host's counters.
 */
#ifndef POLICYD_HOSTS_BPF_H
#define POLICYD_HOSTS_BPF_H

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>

#include "bpf/policy_abi.h"
#include "bpf/maps.bpf.h"
#include "bpf/events.bpf.h"

/*
 * pd_cache_off: for the benchmark only, which repeats one packet; set before load.
 * The daemon leaves it 0 and the verifier then drops the other branches, so what
 * it runs is the plain cached program. PD_CACHE_BYPASS: no table, the trie on
 * every packet (and no per-host counters). PD_CACHE_NO_HITS: ignore the way
 * found: the trie, then a claim of that way with its counters zeroed, on every
 * packet: the path of a host's first packet. PD_CACHE_NEW_HOSTS (IPv4): the
 * table sees a random address instead of the packet's (the trie still gets the
 * real one): every packet a new host, given a way of a full set, evicting.
 */
#define PD_CACHE_ON 0
#define PD_CACHE_BYPASS 1
#define PD_CACHE_NO_HITS 2
#define PD_CACHE_NEW_HOSTS 3

const volatile __u32 pd_cache_off = PD_CACHE_ON;

/* pd_dcache4/6's sets less one (see the ABI), set with their max_entries before load. */
const volatile __u32 pd_host_sets_mask = PD_DEFAULT_HOSTS / PD_HOST_WAYS - 1;

/* The trie's answer for @key in the generation key->gen: a policy slot or PD_SLOT_NONE. */
static __always_inline __u32 pd_dest_lookup(const struct pd_dest_key *key)
{
	const struct pd_dest_val *dest = bpf_map_lookup_elem(&pd_dest, key);

	return dest ? dest->policy : PD_SLOT_NONE;
}

/* The seed of the per-host table's sets (0 if unreadable: it never is). */
static __always_inline __u64 pd_host_seed_get(void)
{
	const struct pd_host_seed *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&pd_host_seed, &zero);
	return s ? s->seed : 0;
}

/*
 * The way of @set to give a host that has none there: a free one if any (@free,
 * or -1), else the one whose last packet is oldest on this CPU. A way that has
 * counted nothing (an address no policy covers, or a host reset) has last_seen
 * 0 and goes first.
 */
static __always_inline int pd_host_victim(const struct pd_host_set *set, int free)
{
	__u64 oldest;
	int w, victim = 0;

	if (free >= 0)
		return free;
	oldest = set->way[0].last_seen;
#pragma unroll
	for (w = 1; w < PD_HOST_WAYS; w++) {
		if (set->way[w].last_seen < oldest) {
			oldest = set->way[w].last_seen;
			victim = w;
		}
	}
	return victim;
}

/*
 * Make @way the host's, whose trie answer in @epoch is @slot: its counters start
 * over when the way was another host's (@fresh), and go on when it is the host's
 * already (an older epoch's tag).
 */
static __always_inline void pd_host_claim(struct pd_host_way *way, __u32 epoch, __u32 slot,
					  int fresh)
{
	if (fresh) {
		way->packets = 0;
		way->bytes = 0;
		way->last_seen = 0;
		way->would_drop = 0;
		__builtin_memset(way->dropped, 0, sizeof(way->dropped));
	}
	way->epoch = epoch;
	way->slot = slot;
}

/*
 * The way of @set to count the packet to @key into, after the set's compares
 * found the host's way @hit (or -1) and the first free one @free (or -1), with
 * the packet's policy slot in @epoch in *@slot: the host's own, retagged if it
 * is from an older epoch; or, with *@given set to its index, a way given to
 * the host (free, or a victim), whose address the caller writes. @seed is
 * pd_host_seed's, for pd_way_hidden.
 */
static __always_inline struct pd_host_way *pd_host_take(struct pd_host_set *set, int hit, int free,
							const struct pd_dest_key *key, __u32 epoch,
							__u64 seed, __u32 *slot, int *given)
{
	struct pd_host_way *way;
	int w;

	*given = -1;
	if (hit >= 0) {
		way = &set->way[pd_way_hidden(hit, seed, PD_HOST_WAYS)];
		if (way->epoch == epoch && pd_cache_off != PD_CACHE_NO_HITS) {
			*slot = way->slot;
			return way;
		}
		*slot = pd_dest_lookup(key);
		pd_host_claim(way, epoch, *slot, pd_cache_off == PD_CACHE_NO_HITS);
		return way;
	}
	w = pd_way_hidden(pd_host_victim(set, free), seed, PD_HOST_WAYS);
	*slot = pd_dest_lookup(key);
	way = &set->way[w];
	pd_host_claim(way, epoch, *slot, 1);
	*given = w;
	return way;
}

/*
 * The policy slot of the packet's destination in @epoch (PD_SLOT_NONE: none) in
 * *@slot, and this CPU's way of the host to count into (NULL if there is none:
 * the table bypassed, or the unspecified address, which marks a free way: the
 * packet goes uncounted per host, never unfiltered).
 *
 * Ways are given in order and never freed (reset and release keep the address),
 * so a set's free ways follow its taken ones: the compares stop at the first
 * free way, which is the host's if it has none.
 *
 * This CPU's copy of the set is written by this CPU's programs alone, and the
 * daemon's reset and release, which rewrite the whole set with what they read
 * less the counters (or the tag): a packet counted between its read and its
 * write is lost to the counters, as with any reset, and a way claimed there
 * goes back to its former host, whose next packet claims it again. A packet
 * that reads the set while the daemon's write of it is half done may take
 * another host's slot for itself; that takes a reset within nanoseconds of
 * the packet, and costs that one packet.
 *
 * Why a racing apply is harmless: a packet that read epoch E before the daemon
 * bumped it to E + 1 may still tag a way {E, slot found in generation E % 2}
 * after the bump, even over one a newer packet tagged E + 1. Every packet that
 * read E + 1 (or later) compares the tag, sees E, and goes to the trie: a tag is
 * only ever trusted in the epoch it names, whose generation is the one its slot
 * came from; the daemon never rewrites the live generation, nor the one it
 * retired before pd_sync's grace period, so that slot was the right one for that
 * epoch. The worst a race costs is one more trie lookup. Tags are 32 bits: an
 * untouched way would come back to life only after exactly 2^32 applies.
 *
 * @hash is the pd_host_hash of the destination (the set's low bits), @seed
 * pd_host_seed's. The two families are two functions, not one taking the map
 * as an argument: one call site per map lets the verifier inline each array
 * lookup.
 */
static __always_inline struct pd_host_way *pd_host4(const struct pd_dest_key *key, __u32 epoch,
						    __u64 seed, __u64 hash, __u32 *slot)
{
	__u32 addr = *(const __u32 *)key->addr, a, idx;
	struct pd_host_set *set;
	struct pd_host_way *way;
	int w, hit = -1, free = -1;

	if (pd_cache_off == PD_CACHE_NEW_HOSTS) {
		addr = bpf_get_prandom_u32() | 1;
		hash = pd_host_hash(addr, 0, seed);
	}
	idx = (__u32)hash & pd_host_sets_mask;
	set = pd_cache_off != PD_CACHE_BYPASS && addr ? bpf_map_lookup_elem(&pd_dcache4, &idx) :
							NULL;
	if (!set) {
		*slot = pd_dest_lookup(key);
		return NULL;
	}
#pragma unroll
	for (w = 0; w < PD_HOST_WAYS; w++) {
		a = *(const __u32 *)set->addr[w];
		if (a == addr) {
			hit = w;
			break;
		}
		if (!a) {
			free = w;
			break;
		}
	}
	way = pd_host_take(set, hit, free, key, epoch, seed, slot, &w);
	if (w >= 0) {
		*(__u32 *)set->addr[w & (PD_HOST_WAYS - 1)] = addr;
		if (free < 0)
			PD_MISC_ADD(hosts_evicted4);
	}
	return way;
}

/* @key is 8-byte aligned (see policyd_out): its address is read as two __u64. */
static __always_inline struct pd_host_way *pd_host6(const struct pd_dest_key *key, __u32 epoch,
						    __u64 seed, __u64 hash, __u32 *slot)
{
	const __u64 *addr = (const __u64 *)key->addr;
	__u64 hi = addr[0], lo = addr[1];
	const __u64 *a;
	struct pd_host_set *set;
	struct pd_host_way *way;
	int w, hit = -1, free = -1;
	__u32 idx;

	idx = (__u32)hash & pd_host_sets_mask;
	set = pd_cache_off != PD_CACHE_BYPASS && (hi | lo) ?
		      bpf_map_lookup_elem(&pd_dcache6, &idx) :
		      NULL;
	if (!set) {
		*slot = pd_dest_lookup(key);
		return NULL;
	}
#pragma unroll
	for (w = 0; w < PD_HOST_WAYS; w++) {
		a = (const __u64 *)set->addr[w];
		if (a[0] == hi && a[1] == lo) {
			hit = w;
			break;
		}
		if (!(a[0] | a[1])) {
			free = w;
			break;
		}
	}
	way = pd_host_take(set, hit, free, key, epoch, seed, slot, &w);
	if (w >= 0) {
		a = (const __u64 *)set->addr[w & (PD_HOST_WAYS - 1)];
		((__u64 *)a)[0] = hi;
		((__u64 *)a)[1] = lo;
		if (free < 0)
			PD_MISC_ADD(hosts_evicted6);
	}
	return way;
}

/* Count a packet some policy governs, sent at @now (the coarse clock), into
 * this CPU's value of its host. */
static __always_inline void pd_host_count(struct pd_host_way *host, __u64 packets, __u64 bytes,
					  int drop, int would_drop, __u32 reason, __u64 now)
{
	host->packets += packets;
	host->bytes += bytes;
	host->last_seen = now;
	if (drop)
		host->dropped[reason] += packets;
	else if (would_drop)
		host->would_drop += packets;
}

#endif
