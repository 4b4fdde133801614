// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "lib/hostset.h"

uint32_t host_set_index(int family, const uint8_t *addr, uint64_t seed, uint32_t sets)
{
	uint8_t a[16] = { 0 };
	uint64_t w[2];

	memcpy(a, addr, family == AF_INET ? 4 : 16);
	memcpy(w, a, sizeof(w));
	return (uint32_t)pd_host_hash(w[0], w[1], seed) & (sets - 1);
}

int host_set_way(const struct pd_host_set *set, int family, const uint8_t *addr)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (int w = 0; w < PD_HOST_WAYS; w++)
		if (!memcmp(set->addr[w], addr, len))
			return w;
	return -1;
}

int host_seed_read(int seed_fd, uint64_t *seed)
{
	struct pd_host_seed s;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(seed_fd, &zero, &s))
		return -errno;
	*seed = s.seed;
	return 0;
}

int host_ways_read(int set_fd, int seed_fd, uint32_t sets, int family, const uint8_t *addr,
		   int ncpus, struct pd_host_way *ways)
{
	struct pd_host_set *vals;
	uint64_t seed = 0;
	uint32_t idx;
	int err, n = 0;

	err = host_seed_read(seed_fd, &seed);
	if (err)
		return err;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	idx = host_set_index(family, addr, seed, sets);
	if (bpf_map_lookup_elem(set_fd, &idx, vals)) {
		err = -errno;
		free(vals);
		return err;
	}
	for (int cpu = 0; cpu < ncpus; cpu++) {
		int w = host_set_way(&vals[cpu], family, addr);

		memset(&ways[cpu], 0, sizeof(ways[cpu]));
		if (w >= 0) {
			ways[cpu] = vals[cpu].way[w];
			n++;
		}
	}
	free(vals);
	return n;
}

uint32_t host_key_set_index(const struct pd_host_key *key, uint64_t seed, uint32_t sets)
{
	uint64_t w[3];

	memcpy(w, key, sizeof(w));
	return pd_host_key_set(pd_host_hash(w[1], w[2], seed), w[0], sets - 1);
}

int bucket_set_way(const struct pd_bucket_set *set, const struct pd_host_key *key)
{
	for (int w = 0; w < PD_BUCKET_WAYS; w++)
		if (!memcmp(&set->way[w].key, key, sizeof(*key)))
			return w;
	return -1;
}

int set_map_lookup(int fd, int seed_fd, uint32_t sets, size_t ways, const void *key, void *val,
		   size_t val_size)
{
	size_t way_size = sizeof(struct pd_host_key) + val_size;
	uint64_t seed = 0;
	uint8_t *set;
	uint32_t idx;
	int err;

	err = host_seed_read(seed_fd, &seed);
	if (err)
		return err;
	set = calloc(ways, way_size);
	if (!set)
		return -ENOMEM;
	idx = host_key_set_index(key, seed, sets);
	err = bpf_map_lookup_elem(fd, &idx, set) ? -errno : -ENOENT;
	for (size_t w = 0; err == -ENOENT && w < ways; w++) {
		if (!memcmp(set + w * way_size, key, sizeof(struct pd_host_key))) {
			memcpy(val, set + w * way_size + sizeof(struct pd_host_key), val_size);
			err = 0;
		}
	}
	free(set);
	return err;
}
