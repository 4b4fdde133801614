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
 * every packet (and no per-host counters). PD_CACHE_NO_HITS: ignore every entry
 * found: the trie, then the insert (which finds the entry: -EEXIST), the second
 * lookup and the counting, on every packet: the whole path of a host's first
 * packet. PD_CACHE_NEW_HOSTS (IPv4): the table sees a random address instead of
 * the packet's (the trie still gets the real one): every packet a new host,
 * inserted into a full table that must evict.
 */
#define PD_CACHE_ON 0
#define PD_CACHE_BYPASS 1
#define PD_CACHE_NO_HITS 2
#define PD_CACHE_NEW_HOSTS 3

const volatile __u32 pd_cache_off = PD_CACHE_ON;

/* What a new host's entry is inserted with: no stack copy of a 120-byte value. */
const struct pd_dcache_val pd_dcache_zero = {};

/* The trie's answer for @key in the generation key->gen: a policy slot or PD_SLOT_NONE. */
static __always_inline __u32 pd_dest_lookup(const struct pd_dest_key *key)
{
	const struct pd_dest_val *dest = bpf_map_lookup_elem(&pd_dest, key);

	return dest ? dest->policy : PD_SLOT_NONE;
}

/* epoch and slot, as one 64-bit word (they lead struct pd_dcache_val). */
union pd_dcache_tag {
	__u64 word;
	struct {
		__u32 epoch;
		__u32 slot;
	} f;
};

/*
 * An entry is used only if this CPU's value was written in this packet's epoch
 * for this packet's destination. The value is this CPU's, and only this CPU's
 * programs write it, but not only they: an LRU element is reused at once, and
 * the CPU that evicts one (or replaces it, on a BPF_ANY update) and inserts
 * another host into it writes the new key and then every CPU's value (its own
 * copy of the new value, zeros for the others), by a memcpy/memset of no promised
 * order or width (rep movsb on x86 with FSRM, else front to back), while this
 * packet may still hold a pointer to the element. Hence epoch and slot in one
 * 64-bit load, then, after a barrier, the address: a rewrite done before the
 * first load, or between the two, fails the address check (zeros never match a
 * routed destination); one after both leaves a pair this host's packets wrote.
 * Left open, as no order of loads can close it: a copy caught half done, new
 * epoch and slot (or part of them) stored, new address not yet, with both loads
 * in between; or an element reused twice, back to this host, between the loads.
 * Either takes an element evicted and rewritten on another CPU within
 * nanoseconds of this read, and gives this one packet another host's slot. x86
 * keeps the loads in order; a weakly ordered CPU (arm64) may not, and there any
 * rewrite between them gets through. A packet counted into an element reused
 * under it lands in a value whose address is no longer the key's: readers
 * count a CPU's value for a host only when its address is the key.
 */
static __always_inline int pd_dcache_tag(const struct pd_dcache_val *entry, __u32 epoch,
					 __u32 *slot)
{
	union pd_dcache_tag snap;

	if (pd_cache_off == PD_CACHE_NO_HITS)
		return 0;
	snap.word = *(const volatile __u64 *)entry;
	if (snap.f.epoch != epoch)
		return 0;
	*slot = snap.f.slot;
	barrier();
	return 1;
}

static __always_inline int pd_dcache_addr4(const struct pd_dcache_val *entry, __u32 addr)
{
	return *(const volatile __u32 *)entry->addr == addr;
}

static __always_inline int pd_dcache_addr6(const struct pd_dcache_val *entry, const __u64 *addr)
{
	const volatile __u64 *cached = (const volatile __u64 *)entry->addr;

	return cached[0] == addr[0] && cached[1] == addr[1];
}

/*
 * Make this CPU's value of @entry the host's in @epoch, with @slot. If it holds
 * the host already (an entry from an older epoch), only the tag is rewritten and
 * the counters go on. If not (another CPU inserted the entry, so this CPU's value
 * is zeros, or the element was reused under a packet), its counters belong to no
 * host: they start over. @same_host says which.
 */
static __always_inline void pd_dcache_claim(struct pd_dcache_val *entry, __u32 epoch, __u32 slot,
					    int same_host)
{
	union pd_dcache_tag tag = { .f = { .epoch = epoch, .slot = slot } };

	if (!same_host) {
		entry->packets = 0;
		entry->bytes = 0;
		entry->last_seen = 0;
		entry->would_drop = 0;
		__builtin_memset(entry->dropped, 0, sizeof(entry->dropped));
	}
	*(volatile __u64 *)entry = tag.word;
}

/*
 * The policy slot of the packet's destination in @epoch (PD_SLOT_NONE: none) in
 * *@slot, and this CPU's value of the host's entry to count into (NULL if there
 * is none: the table bypassed, or an insert failed: the packet goes uncounted
 * per host, never unfiltered).
 *
 * Why a racing write is harmless: a packet that read epoch E before the daemon
 * bumped it to E + 1 may still tag a value {E, slot found in generation E % 2}
 * after the bump, even over one a newer packet tagged E + 1. Every packet that
 * read E + 1 (or later) compares the tag, sees E, and goes to the trie: a tag is
 * only ever trusted in the epoch it names, whose generation is the one its slot
 * came from; the daemon never rewrites the live generation, nor the one it
 * retired before pd_sync's grace period, so that slot was the right one for that
 * epoch. The worst a race costs is one more trie lookup. Tags are 32 bits: an
 * untouched entry would come back to life only after exactly 2^32 applies.
 *
 * A new host is inserted with BPF_NOEXIST, so an insert never replaces another
 * CPU's counters, and with zeros (the kernel zeroes the other CPUs' values), and
 * then looked up again and this CPU's value claimed, as for -EEXIST (another CPU
 * inserted it since the lookup). The two families are two
 * functions, not one taking the map as an argument: one call site per map lets
 * the verifier inline each hash lookup.
 */
static __always_inline struct pd_dcache_val *pd_host4(const struct pd_dest_key *key, __u32 epoch,
						      __u32 *slot)
{
	struct pd_dcache_val *entry;
	__u32 addr = *(const __u32 *)key->addr;
	long err;

	if (pd_cache_off == PD_CACHE_BYPASS) {
		*slot = pd_dest_lookup(key);
		return NULL;
	}
	if (pd_cache_off == PD_CACHE_NEW_HOSTS)
		addr = bpf_get_prandom_u32();
	entry = bpf_map_lookup_elem(&pd_dcache4, &addr);
	if (entry && pd_cache_off != PD_CACHE_NO_HITS) {
		if (pd_dcache_tag(entry, epoch, slot) && pd_dcache_addr4(entry, addr))
			return entry;
		*slot = pd_dest_lookup(key);
		pd_dcache_claim(entry, epoch, *slot, pd_dcache_addr4(entry, addr));
		*(volatile __u32 *)entry->addr = addr;
		return entry;
	}
	*slot = pd_dest_lookup(key);
	/* Zeros, claimed below like any value of this CPU that is not the host's. */
	err = bpf_map_update_elem(&pd_dcache4, &addr, &pd_dcache_zero, BPF_NOEXIST);
	if (!err)
		PD_MISC_ADD(hosts_inserted4);
	else if (err != -EEXIST)
		return NULL; /* -EBUSY under a bucket lock, -ENOMEM: the next packet tries again */
	entry = bpf_map_lookup_elem(&pd_dcache4, &addr);
	if (entry) {
		pd_dcache_claim(entry, epoch, *slot, pd_dcache_addr4(entry, addr));
		*(volatile __u32 *)entry->addr = addr;
	}
	return entry;
}

/* @key is 8-byte aligned (see policyd_out): its address is read as two __u64. */
static __always_inline struct pd_dcache_val *pd_host6(const struct pd_dest_key *key, __u32 epoch,
						      __u32 *slot)
{
	const __u64 *addr = (const __u64 *)key->addr;
	struct pd_dcache_val *entry;
	long err;

	if (pd_cache_off == PD_CACHE_BYPASS) {
		*slot = pd_dest_lookup(key);
		return NULL;
	}
	/* The key's address bytes are the table's key as they are: no copy on a hit. */
	entry = bpf_map_lookup_elem(&pd_dcache6, key->addr);
	if (entry && pd_cache_off != PD_CACHE_NO_HITS) {
		if (pd_dcache_tag(entry, epoch, slot) && pd_dcache_addr6(entry, addr))
			return entry;
		*slot = pd_dest_lookup(key);
		pd_dcache_claim(entry, epoch, *slot, pd_dcache_addr6(entry, addr));
		__builtin_memcpy(entry->addr, key->addr, sizeof(entry->addr));
		return entry;
	}
	*slot = pd_dest_lookup(key);
	err = bpf_map_update_elem(&pd_dcache6, key->addr, &pd_dcache_zero, BPF_NOEXIST);
	if (!err)
		PD_MISC_ADD(hosts_inserted6);
	else if (err != -EEXIST)
		return NULL;
	entry = bpf_map_lookup_elem(&pd_dcache6, key->addr);
	if (entry) {
		pd_dcache_claim(entry, epoch, *slot, pd_dcache_addr6(entry, addr));
		__builtin_memcpy(entry->addr, key->addr, sizeof(entry->addr));
	}
	return entry;
}

/* Count a packet some policy governs, sent at @now (the coarse clock), into
 * this CPU's value of its host. */
static __always_inline void pd_host_count(struct pd_dcache_val *host, __u64 packets, __u64 bytes,
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
