/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The maps of policyd's LWT_OUT program, their shapes fixed by policy_abi.h.
 * Included once, by policy.bpf.c: the definitions are the program's, and the
 * daemon sizes and pins them through the skeleton.
 */
#ifndef POLICYD_MAPS_BPF_H
#define POLICYD_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/policy_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pd_config);
} pd_config SEC(".maps");

/* Nodes are allocated on insert: a trie this large must not be preallocated. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PD_GENERATIONS *PD_MAX_DESTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pd_dest_key);
	__type(value, struct pd_dest_val);
} pd_dest SEC(".maps");

/* The src prefixes of every rule with PD_MATCH_SRC, keyed by rule (see the ABI). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PD_GENERATIONS *PD_MAX_SRCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pd_src_key);
	__type(value, __u32);
} pd_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PD_GENERATIONS *PD_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct pd_policy);
} pd_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PD_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct pd_policy_stats);
} pd_policy_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PD_MAX_RULE_COUNTERS);
	__type(key, __u32);
	__type(value, struct pd_counters);
} pd_rule_stats SEC(".maps");

/* The buckets of per-rule limits, indexed by the rule's counter. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PD_MAX_RULE_COUNTERS);
	__type(key, __u32);
	__type(value, struct pd_bucket);
} pd_rule_buckets SEC(".maps");

/*
 * The buckets of per-host limits (see the ABI), a way of a set given by the
 * first packet to a host. The daemon sets max_entries (pd_host_sets of
 * --hosts) before load, and pd_bucket_sets_mask to match. Found by the program
 * itself, as the per-host table is: no helper call, an inlined array lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PD_DEFAULT_HOSTS / PD_BUCKET_WAYS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pd_bucket_set);
} pd_host_buckets SEC(".maps");

/*
 * Per-host state of policies with a per-host quota or a block (see the ABI):
 * a way of a set given by the first packet that needs it, keyed by policy
 * slot (it survives a re-apply) and the unmasked destination. The daemon sets
 * max_entries (pd_host_sets of --hosts) before load, and pd_hosts_sets_mask to
 * match. Found by the program itself, as pd_host_buckets is.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PD_DEFAULT_HOSTS / PD_HOSTS_WAYS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pd_hosts_set);
} pd_hosts SEC(".maps");

/* A per-policy quota's period and use, by policy slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PD_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct pd_policy_quota);
} pd_policy_quota SEC(".maps");

/* A per-policy quota's period, by policy slot and CPU (see the ABI). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PD_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct pd_quota_clock);
} pd_quota_clock SEC(".maps");

/*
 * pd_dcache4/6: the per-host table (see the ABI): per CPU, sets of hosts, each
 * host's way holding the pd_dest lookup cached for it, tagged with the epoch
 * it was made in, and this CPU's counters for the host. The daemon sets
 * max_entries (pd_host_sets of --hosts) before load, and pd_host_sets_mask to
 * match. An array, not an LRU hash as this was: the program finds the host by
 * itself, with no helper call and no hash of the kernel's, and an array
 * lookup is inlined by the verifier (bench/RESULTS.md: "a host's set").
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PD_DEFAULT_HOSTS / PD_HOST_WAYS);
	__type(key, __u32);
	__type(value, struct pd_host_set);
} pd_dcache4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PD_DEFAULT_HOSTS / PD_HOST_WAYS);
	__type(key, __u32);
	__type(value, struct pd_host_set);
} pd_dcache6 SEC(".maps");

/* The sets' seed, made with the tables (see the ABI). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pd_host_seed);
} pd_host_seed SEC(".maps");

/* Events to the daemon (drops, blocks, log matches, samples). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PD_EVENTS_BYTES);
} pd_events SEC(".maps");

/* The drop and log events' rate cap, per policy slot and CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PD_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct pd_event_cap);
} pd_event_caps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pd_misc_stats);
} pd_misc_stats SEC(".maps");

/* The coarse clock's reading in this tick, per CPU (see the ABI). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pd_clock);
} pd_clock SEC(".maps");

/* Per route realm, 64-bit: bpf_get_route_realm() of the route the packet
 * leaves by. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PD_MAX_REALMS);
	__type(key, __u32);
	__type(value, struct pd_realm_stats);
} pd_realm_stats SEC(".maps");

/*
 * Never read here: the daemon replaces pd_sync[0] after bumping the epoch, and
 * that update returns only after an RCU grace period, i.e. once no program run
 * that may have read the old generation is still going.
 */
struct pd_sync_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct pd_sync_inner);
} pd_sync SEC(".maps");

/*
 * The way @i of a set, as a number the verifier knows only to be below @ways
 * (a power of two): @any is a value it does not know (read from a map), xored
 * in and out again where the compiler cannot see. A way's index known exactly gives every way its
 * own walk of all the code after it (the pointer's offset differs); unknown,
 * one walk serves them all.
 */
static __always_inline int pd_way_hidden(int i, __u64 any, int ways)
{
	__u64 v = (__u64)i;

	asm volatile("%0 ^= %1" : "+r"(v) : "r"(any));
	asm volatile("%0 ^= %1" : "+r"(v) : "r"(any));
	return (int)(v & (__u64)(ways - 1));
}

/*
 * The tables of sets shared by the CPUs (pd_host_buckets, pd_hosts; see the
 * ABI): @n ways of @stride bytes from @ways, each led by a 24-byte key seen as
 * three 64-bit words @k, the first 0 while the way is free and PD_BUCKET_BUSY
 * while it is being taken.
 */
static __always_inline __u64 *pd_way_key(void *ways, __u32 stride, int i)
{
	return (__u64 *)((__u8 *)ways + (__u32)i * stride);
}

/* The way holding the key @k, or -1. */
static __always_inline int pd_set_find(void *ways, __u32 stride, int n, const __u64 *k)
{
	const volatile __u64 *wk;
	int i;

#pragma unroll
	for (i = 0; i < n; i++) {
		wk = pd_way_key(ways, stride, i);
		if (wk[0] == k[0] && wk[1] == k[1] && wk[2] == k[2])
			return i;
	}
	return -1;
}

/*
 * Take the way @i, whose first word the search read as @w0, for the key @k: a
 * compare-and-swap of that word to PD_BUCKET_BUSY, so that one CPU takes it,
 * then the key's other words. 0 if another CPU took it first. The caller then
 * writes the value and publishes the key (pd_set_publish).
 */
static __always_inline int pd_set_take(void *ways, __u32 stride, int i, __u64 w0, const __u64 *k)
{
	__u64 *wk = pd_way_key(ways, stride, i);

	if (__sync_val_compare_and_swap(&wk[0], w0, PD_BUCKET_BUSY) != w0)
		return 0;
	*(volatile __u64 *)&wk[1] = k[1];
	*(volatile __u64 *)&wk[2] = k[2];
	return 1;
}

/*
 * Publish the key @k in the way @i taken for it, by an exchange (ordered after
 * the writes before it on every architecture). Another CPU may have given the
 * same key another way of the set at the same time (each took a way the other
 * had not yet published); both published with a full barrier before looking,
 * so at least one of them sees the other's, and frees the way of the two with
 * the higher index: one is left. A free is a compare-and-swap from the key,
 * never a store: the way may have gone to a third key since. Returns 0, or -1
 * when the way freed is @i.
 */
static __always_inline int pd_set_publish(void *ways, __u32 stride, int n, int i, const __u64 *k)
{
	const volatile __u64 *wk;
	int j;

	__sync_lock_test_and_set(pd_way_key(ways, stride, i), k[0]);
#pragma unroll
	for (j = 0; j < n; j++) {
		if (j == i)
			continue;
		wk = pd_way_key(ways, stride, j);
		if (wk[0] != k[0] || wk[1] != k[1] || wk[2] != k[2])
			continue;
		if (j > i) {
			__sync_val_compare_and_swap(pd_way_key(ways, stride, j), k[0], 0);
			return 0;
		}
		__sync_val_compare_and_swap(pd_way_key(ways, stride, i), k[0], 0);
		return -1;
	}
	return 0;
}

#endif
