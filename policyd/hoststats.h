/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-host statistics: the per-host table (pd_dcache4/6, per-CPU values)
 * read in batches and summed over CPUs, the busiest hosts, rates from
 * successive reads, the table's fill and evictions.
 */
#ifndef POLICYD_HOSTSTATS_H
#define POLICYD_HOSTSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/policy_abi.h"
#include "lib/prefix.h"

struct daemon;

struct host_row {
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	uint32_t slot; /* policy slot the host's traffic was last governed by */
	uint64_t packets, bytes, would_drop, dropped, dropped_reason[PD_REASON_MAX];
	uint64_t last_seen_ns; /* CLOCK_MONOTONIC_COARSE ns, max over CPUs */
	double pps, bps; /* current rates (bps: bits per second); < 0: not known yet */
};

/* Entries present and capacity, per family, and evictions (inserted - present). */
struct hoststats_fill {
	uint64_t present4, present6, capacity4, capacity6, evicted4, evicted6;
};
int hoststats_fill(struct daemon *d, struct hoststats_fill *out);

/* The @n busiest hosts (by packets) inside @within (NULL: all) of the policy
 * in @slot (PD_SLOT_NONE: any applied policy), busiest first; *rows is
 * malloc'd (caller frees). With @fill, the table's fill from the same read.
 * 0 or -errno. */
int hoststats_top_of(struct daemon *d, const struct prefix *within, uint32_t slot, size_t n,
		     struct host_row **rows, size_t *nrows, struct hoststats_fill *fill);

/* Zero the counters of the hosts inside @within (NULL: all) governed by the
 * policy in @slot (PD_SLOT_NONE: any applied policy); their cached policy
 * lookup stays. *@nhosts (may be NULL) gets how many. 0 or -errno. */
int hoststats_reset(struct daemon *d, const struct prefix *within, uint32_t slot, size_t *nhosts);

/* After the policy in @slot is removed (the epoch past): zero its hosts'
 * counters and untag them, so a policy that takes the slot next never shows
 * them. 0 or -errno. */
int hoststats_release(struct daemon *d, uint32_t slot);

/* The event loop's timer: refresh the rate snapshots now and then (bounded
 * work: skipped while the table is larger than a refresh may cost). */
void hoststats_tick(struct daemon *d);
/* Free the rate snapshots (at exit). */
void hoststats_free(struct daemon *d);

/* --- pure parts, exposed for tests ------------------------------------------ */

/* Is @a busier than @b: more packets, then more bytes, then the lower
 * address (a total order, so the top N is the same at every read). */
bool host_row_busier(const struct host_row *a, const struct host_row *b);

/* The N busiest of a stream of rows: a min-heap of at most @cap rows. */
struct host_top {
	struct host_row *v;
	size_t n, alloc, cap;
};
/* Offer @r; 0 or -ENOMEM. */
int host_top_push(struct host_top *t, const struct host_row *r);
/* Sort what is kept, busiest first; the rows stay in t->v (caller frees). */
void host_top_sort(struct host_top *t);

/* A host's last sample, and the rate measured when it was taken. */
struct host_rate {
	uint64_t packets, bytes, t_ns; /* the sample rates are measured from; t_ns 0: none */
	double pps, bps; /* < 0: not known yet */
};
/* Rates at least this far apart: shorter intervals are mostly noise. */
#define HOST_RATE_MIN_NS 1000000000ull
/* A new read (@packets, @bytes at @now_ns): when the last sample is at least
 * HOST_RATE_MIN_NS old, measure the rate against it and keep this one as
 * the next base; before that, the previous rate stands. Counters that went
 * back (a reset, an evicted and re-inserted host) start over. */
void host_rate_update(struct host_rate *r, uint64_t packets, uint64_t bytes, uint64_t now_ns);

#endif
