/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What bench/prims.bpf.c and bench_prog share: the least stateful programs'
 * per-host state and where the one without a helper call keeps it.
 */
#ifndef POLICYD_BENCH_PRIMS_H
#define POLICYD_BENCH_PRIMS_H

#include <linux/types.h>

/* The least per-host state a limit, a quota and a block need, in one entry. */
struct prims_host {
	__u64 tat; /* GCRA, in 1/16 ns as pd_bucket */
	__u64 quota_used;
	__u64 blocked_until;
};

/*
 * prims_table: 2^PRIMS_SETS_SHIFT sets of PRIMS_WAYS slots in an array, a
 * host in one slot of the set its key hashes to (Fibonacci hashing: the top
 * bits of the key times 2^64 / phi). The key is the IPv4 destination with bit
 * 32 set, so that an empty slot (key 0) matches no host.
 */
#define PRIMS_WAYS 4
#define PRIMS_SETS_SHIFT 14

struct prims_slot {
	__u64 key;
	struct prims_host host;
};

static inline __u64 prims_key_of(__u32 daddr)
{
	return (__u64)daddr | 1ull << 32;
}

static inline __u32 prims_set_of(__u64 key)
{
	return (__u32)((key * 0x9e3779b97f4a7c15ull) >> (64 - PRIMS_SETS_SHIFT));
}

#endif
