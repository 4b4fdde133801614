/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sets of the per-host table (pd_dcache4/6) and of the per-host buckets
 * (pd_host_buckets), see the ABI, from user space: which set a host or a key is
 * in, which way holds it, and a host's ways read from the map.
 */
#ifndef POLICYD_HOSTSET_H
#define POLICYD_HOSTSET_H

#include <stdint.h>

#include "bpf/policy_abi.h"

/* The index of the set of @addr (16 bytes, IPv4 in the first four) of @family
 * in a table of @sets sets, under @seed, as the program computes it. */
uint32_t host_set_index(int family, const uint8_t *addr, uint64_t seed, uint32_t sets);

/* The way of @set holding @addr (nonzero), or -1. */
int host_set_way(const struct pd_host_set *set, int family, const uint8_t *addr);

/* The seed the program's sets are chosen by, from pd_host_seed's fd; 0 or -errno. */
int host_seed_read(int seed_fd, uint64_t *seed);

/*
 * Each CPU's way for @addr: @ways[cpu] is it, or zeros where that CPU's copy of
 * the set has none; @sets is the map's max_entries. Returns how many CPUs hold
 * the host (0: none), or -errno.
 */
int host_ways_read(int set_fd, int seed_fd, uint32_t sets, int family, const uint8_t *addr,
		   int ncpus, struct pd_host_way *ways);

/* The index of the set of the bucket key @key in pd_host_buckets (@sets sets),
 * under @seed, as the program computes it. */
uint32_t host_key_set_index(const struct pd_host_key *key, uint64_t seed, uint32_t sets);

/* The way of @set holding the bucket of @key, or -1. */
int bucket_set_way(const struct pd_bucket_set *set, const struct pd_host_key *key);

/*
 * The value of the 24-byte key @key in the table of sets @fd (@sets sets of
 * @ways ways, each the key and @val_size bytes: pd_host_buckets, pd_hosts),
 * read from its set under the seed in @seed_fd: 0, -ENOENT, or -errno.
 */
int set_map_lookup(int fd, int seed_fd, uint32_t sets, size_t ways, const void *key, void *val,
		   size_t val_size);

#endif
