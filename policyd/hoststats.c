// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-host statistics from the per-host table (pd_dcache4/6): batched
 * reads summed over CPUs, the N busiest hosts, rates measured against the
 * previous read of each host, the table's fill and evictions, reset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "daemon.h"
#include "hoststats.h"
#include "policy.skel.h"

/* The timer refreshes the rate snapshots every this many seconds, as long
 * as both tables together hold at most HOSTS_TICK_MAX ways over all CPUs: a
 * full read of more would stall the event loop; rates then come from stats
 * requests alone (any two reads at least HOST_RATE_MIN_NS apart). */
#define HOSTS_TICK_S 5
#define HOSTS_TICK_MAX 524288

/* --- pure parts ---------------------------------------------------------------- */

bool host_row_busier(const struct host_row *a, const struct host_row *b)
{
	int c;

	if (a->packets != b->packets)
		return a->packets > b->packets;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes;
	if (a->family != b->family)
		return a->family < b->family;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	return c < 0;
}

static void top_swap(struct host_row *a, struct host_row *b)
{
	struct host_row t = *a;

	*a = *b;
	*b = t;
}

/* Min-heap on busyness: the root is the least busy row kept. */
static void top_sift_down(struct host_top *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < t->n && host_row_busier(&t->v[m], &t->v[l]))
			m = l;
		if (r < t->n && host_row_busier(&t->v[m], &t->v[r]))
			m = r;
		if (m == i)
			return;
		top_swap(&t->v[i], &t->v[m]);
		i = m;
	}
}

int host_top_push(struct host_top *t, const struct host_row *r)
{
	size_t i;

	if (!t->cap)
		return 0;
	if (t->n == t->cap) {
		if (!host_row_busier(r, &t->v[0]))
			return 0;
		t->v[0] = *r;
		top_sift_down(t, 0);
		return 0;
	}
	/* Grown as rows come: --top may ask for far more than there are. */
	if (t->n == t->alloc) {
		size_t na = t->alloc ? t->alloc * 2 : 16;
		void *nv;

		if (na > t->cap)
			na = t->cap;
		nv = realloc(t->v, na * sizeof(*t->v));
		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->alloc = na;
	}
	i = t->n++;
	t->v[i] = *r;
	while (i) {
		size_t p = (i - 1) / 2;

		if (!host_row_busier(&t->v[p], &t->v[i]))
			break;
		top_swap(&t->v[p], &t->v[i]);
		i = p;
	}
	return 0;
}

static int row_cmp_busiest(const void *a, const void *b)
{
	if (host_row_busier(a, b))
		return -1;
	return host_row_busier(b, a) ? 1 : 0;
}

void host_top_sort(struct host_top *t)
{
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), row_cmp_busiest);
}

void host_rate_update(struct host_rate *r, uint64_t packets, uint64_t bytes, uint64_t now_ns)
{
	double dt;

	/* No sample yet (t_ns 0), or counters that went back: a new base. */
	if (!r->t_ns || packets < r->packets || bytes < r->bytes || now_ns < r->t_ns) {
		*r = (struct host_rate){ packets, bytes, now_ns, -1, -1 };
		return;
	}
	if (now_ns - r->t_ns < HOST_RATE_MIN_NS)
		return;
	dt = (double)(now_ns - r->t_ns) / 1e9;
	r->pps = (double)(packets - r->packets) / dt;
	r->bps = 8.0 * (double)(bytes - r->bytes) / dt;
	r->packets = packets;
	r->bytes = bytes;
	r->t_ns = now_ns;
}

/* --- rate snapshots: a hash table of hosts, at most the tables' entries ----- */

struct snap {
	uint8_t family; /* 0: free */
	uint8_t addr[16];
	uint32_t pass; /* the last full read that saw the host */
	struct host_rate rate;
};

struct hoststats {
	struct snap *v;
	size_t cap; /* a power of two, or 0 */
	size_t n;
	uint32_t pass; /* full reads so far */
	unsigned int ticks;
};

static size_t snap_hash(uint8_t family, const uint8_t *addr)
{
	uint64_t a, b, h;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ family) * 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return (size_t)(h ^ (h >> 29));
}

static struct snap *snap_slot(struct snap *v, size_t cap, uint8_t family, const uint8_t *addr)
{
	size_t i = snap_hash(family, addr) & (cap - 1);

	/* Linear probing; the table is never more than half full. */
	while (v[i].family && (v[i].family != family || memcmp(v[i].addr, addr, 16)))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* Re-hash into @cap slots, keeping only hosts the last full read saw when
 * @live_only (the others left the per-host table). */
static int snap_rehash(struct hoststats *hs, size_t cap, bool live_only)
{
	struct snap *v = calloc(cap, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < hs->cap; i++) {
		const struct snap *s = &hs->v[i];

		if (!s->family || (live_only && s->pass != hs->pass))
			continue;
		*snap_slot(v, cap, s->family, s->addr) = *s;
		n++;
	}
	free(hs->v);
	hs->v = v;
	hs->cap = cap;
	hs->n = n;
	return 0;
}

/* The host's snapshot, made when absent; NULL when memory runs out (the
 * host then has no rate). */
static struct snap *snap_get(struct hoststats *hs, uint8_t family, const uint8_t *addr)
{
	struct snap *s = hs->cap ? snap_slot(hs->v, hs->cap, family, addr) : NULL;

	if (s && s->family)
		return s;
	if ((hs->n + 1) * 2 > hs->cap) {
		if (snap_rehash(hs, hs->cap ? hs->cap * 2 : 1024, false))
			return NULL;
		s = snap_slot(hs->v, hs->cap, family, addr);
	}
	s->family = family;
	memcpy(s->addr, addr, 16);
	s->rate = (struct host_rate){ .pps = -1, .bps = -1 };
	hs->n++;
	return s;
}

static struct hoststats *hoststats_get(struct daemon *d)
{
	if (!d->hoststats)
		d->hoststats = calloc(1, sizeof(*d->hoststats));
	return d->hoststats;
}

void hoststats_free(struct daemon *d)
{
	if (!d->hoststats)
		return;
	free(d->hoststats->v);
	free(d->hoststats);
	d->hoststats = NULL;
}

/* --- reading the per-host table -------------------------------------------- */

/*
 * One set as read, every CPU's copy of it (see the ABI): a host's ways in
 * several copies are one host. Hosts are grouped by a scan from each way not
 * yet grouped over the ways after it: for n = ncpus * PD_HOST_WAYS ways, the
 * work is n per distinct host of the set, which the CPUs mostly share.
 */
struct host_read {
	struct daemon *d;
	uint8_t family;
	int ncpus;
	size_t stride; /* bytes per CPU copy of a set */
	uint64_t now; /* CLOCK_MONOTONIC of the read */
	size_t present; /* hosts seen */
	/* Called for every host governed by some policy (by any slot, applied
	 * or not, with any_slot), with its ways: way[i] of CPU cpu is
	 * ways[k] = cpu * PD_HOST_WAYS + i. Set changed when the copies in
	 * vals were changed, to be written back. */
	int (*fn)(struct host_read *rd, struct host_row *row, void *vals, const uint16_t *ways,
		  int nways);
	void *arg;
	bool any_slot;
	bool changed;
	uint16_t *ways, *grouped; /* scratch: ncpus * PD_HOST_WAYS each */
};

static struct pd_host_set *host_copy(const struct host_read *rd, void *vals, int cpu)
{
	return (void *)((uint8_t *)vals + (size_t)cpu * rd->stride);
}

/* Sum the host's @nways ways into @row, for the host in @addr. */
static void host_sum(const struct host_read *rd, void *vals, const uint8_t *addr,
		     const uint16_t *ways, int nways, struct host_row *row)
{
	uint64_t latest = 0;

	memset(row, 0, sizeof(*row));
	row->family = rd->family;
	memcpy(row->addr, addr, sizeof(row->addr));
	row->slot = PD_SLOT_NONE;
	row->pps = row->bps = -1;
	for (int k = 0; k < nways; k++) {
		const struct pd_host_way *v =
			&host_copy(rd, vals, ways[k] / PD_HOST_WAYS)->way[ways[k] % PD_HOST_WAYS];

		row->packets += v->packets;
		row->bytes += v->bytes;
		row->would_drop += v->would_drop;
		for (int r = 0; r < PD_REASON_MAX; r++) {
			row->dropped_reason[r] += v->dropped[r];
			row->dropped += v->dropped[r];
		}
		if (!k || v->last_seen >= latest) {
			latest = v->last_seen;
			row->slot = v->slot;
		}
	}
	row->last_seen_ns = latest;
}

static int host_entry(struct host_read *rd, void *vals, const uint8_t *addr, int nways)
{
	struct hoststats *hs = rd->d->hoststats;
	struct host_row row;
	struct snap *s;

	rd->present++;
	host_sum(rd, vals, addr, rd->ways, nways, &row);
	if (row.slot >= PD_MAX_POLICIES || (!rd->any_slot && !rd->d->slot_used[row.slot]))
		return 0;
	s = snap_get(hs, row.family, row.addr);
	if (s) {
		host_rate_update(&s->rate, row.packets, row.bytes, rd->now);
		s->pass = hs->pass;
		row.pps = s->rate.pps;
		row.bps = s->rate.bps;
	}
	return rd->fn ? rd->fn(rd, &row, vals, rd->ways, nways) : 0;
}

/* Every host of one set (@vals: each CPU's copy). */
static int host_set(struct host_read *rd, void *vals)
{
	static const uint8_t none[16];
	size_t alen = rd->family == AF_INET ? 4 : 16;
	int n = rd->ncpus * PD_HOST_WAYS, err;
	uint8_t addr[16];

	memset(rd->grouped, 0, n * sizeof(*rd->grouped));
	for (int i = 0; i < n; i++) {
		const uint8_t *a = host_copy(rd, vals, i / PD_HOST_WAYS)->addr[i % PD_HOST_WAYS];
		int nways = 0;

		if (rd->grouped[i] || !memcmp(a, none, alen))
			continue;
		memset(addr, 0, sizeof(addr));
		memcpy(addr, a, alen);
		for (int j = i; j < n; j++) {
			if (rd->grouped[j] ||
			    memcmp(host_copy(rd, vals, j / PD_HOST_WAYS)->addr[j % PD_HOST_WAYS],
				   addr, alen))
				continue;
			rd->grouped[j] = 1;
			rd->ways[nways++] = (uint16_t)j;
		}
		err = host_entry(rd, vals, addr, nways);
		if (err)
			return err;
	}
	return 0;
}

/* Per-CPU copies of sets read in one batch: about 4 MB, whatever the CPUs. */
#define HOSTS_BATCH_BYTES (4u << 20)

static int host_read_map(struct host_read *rd, struct bpf_map *map)
{
	int fd = bpf_map__fd(map);
	size_t vsz = (bpf_map__value_size(map) + 7) & ~(size_t)7;
	__u32 token = 0, batch, *keys = NULL;
	uint8_t *vals = NULL;
	bool first = true;
	int err = 0;

	if (bpf_map__type(map) != BPF_MAP_TYPE_PERCPU_ARRAY ||
	    bpf_map__value_size(map) != sizeof(struct pd_host_set))
		return -EPROTO; /* a program of another ABI */
	rd->ncpus = rd->d->ncpus;
	rd->stride = vsz;
	rd->now = clock_ns(CLOCK_MONOTONIC);
	batch = HOSTS_BATCH_BYTES / (vsz * rd->ncpus);
	if (!batch)
		batch = 1;
	/* Zeroed: valgrind does not know what the batch command writes. */
	keys = calloc(batch, sizeof(*keys));
	vals = calloc((size_t)batch * rd->ncpus, vsz);
	rd->ways = calloc((size_t)rd->ncpus * PD_HOST_WAYS, sizeof(*rd->ways));
	rd->grouped = calloc((size_t)rd->ncpus * PD_HOST_WAYS, sizeof(*rd->grouped));
	if (!keys || !vals || !rd->ways || !rd->grouped) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = batch;
		bool done;

		err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &count,
					   &opts);
		done = err == -ENOENT;
		if (err && !done) {
			pr_warn("cannot read %s: %s", bpf_map__name(map), strerror(-err));
			goto out;
		}
		first = false;
		for (__u32 i = 0; i < count; i++) {
			void *set = vals + (size_t)i * rd->ncpus * vsz;

			rd->changed = false;
			err = host_set(rd, set);
			if (err)
				goto out;
			/* A set changed by reset or release goes back whole: a
			 * packet counted since the read is lost to the counters,
			 * as with any reset (see pd_host4). */
			if (rd->changed && bpf_map_update_elem(fd, &keys[i], set, BPF_EXIST)) {
				err = -errno;
				pr_warn("cannot write %s: %s", bpf_map__name(map), strerror(-err));
				goto out;
			}
		}
		if (done)
			break;
	}
	err = 0;
out:
	free(keys);
	free(vals);
	free(rd->ways);
	free(rd->grouped);
	rd->ways = rd->grouped = NULL;
	return err;
}

/* Hosts gone from the tables leave the snapshots: a rehash of the live
 * ones, after a full read that missed some (it costs no more than the read). */
static void snap_purge(struct hoststats *hs)
{
	size_t live = 0, cap = 1024;

	for (size_t i = 0; i < hs->cap; i++)
		live += hs->v[i].family && hs->v[i].pass == hs->pass;
	if (live == hs->n)
		return;
	while (live * 2 >= cap)
		cap *= 2;
	snap_rehash(hs, cap, true);
}

/* Read both tables in full: rates of every host updated, @fn called for
 * each host some applied policy governs. */
static int host_read_all(struct daemon *d, struct host_read *rd, size_t *present4, size_t *present6)
{
	struct hoststats *hs = hoststats_get(d);
	size_t p4;
	int err;

	if (!hs)
		return -ENOMEM;
	rd->d = d;
	hs->pass++;
	rd->family = AF_INET;
	rd->present = 0;
	err = host_read_map(rd, d->skel->maps.pd_dcache4);
	if (err)
		return err;
	p4 = rd->present;
	rd->family = AF_INET6;
	rd->present = 0;
	err = host_read_map(rd, d->skel->maps.pd_dcache6);
	if (err)
		return err;
	if (present4)
		*present4 = p4;
	if (present6)
		*present6 = rd->present;
	snap_purge(hs);
	return 0;
}

struct top_arg {
	const struct prefix *within;
	uint32_t slot;
	struct host_top top;
};

static bool host_in(const struct host_row *row, const struct prefix *within)
{
	struct prefix p = { .family = row->family, .len = prefix_max_len(row->family) };

	if (!within)
		return true;
	memcpy(p.addr, row->addr, sizeof(p.addr));
	return prefix_contains(within, &p);
}

static int top_fn(struct host_read *rd, struct host_row *row, void *vals, const uint16_t *ways,
		  int nways)
{
	struct top_arg *a = rd->arg;

	if ((a->slot != PD_SLOT_NONE && row->slot != a->slot) || !host_in(row, a->within))
		return 0;
	return host_top_push(&a->top, row);
}

/* One walk of the table for @rd and, if @fill is not NULL, the table's fill. */
static int host_read_filled(struct daemon *d, struct host_read *rd, struct hoststats_fill *fill)
{
	struct pd_misc_stats ms = {};
	size_t p4 = 0, p6 = 0;
	int err;

	if (fill) {
		err = maps_read_misc_stats(d, &ms);
		if (err)
			return err;
	}
	err = host_read_all(d, rd, &p4, &p6);
	if (err || !fill)
		return err;
	*fill = (struct hoststats_fill){
		.present4 = p4,
		.present6 = p6,
		.capacity4 =
			(uint64_t)bpf_map__max_entries(d->skel->maps.pd_dcache4) * PD_HOST_WAYS,
		.capacity6 =
			(uint64_t)bpf_map__max_entries(d->skel->maps.pd_dcache6) * PD_HOST_WAYS,
		.evicted4 = ms.hosts_evicted4,
		.evicted6 = ms.hosts_evicted6,
	};
	return 0;
}

int hoststats_top_of(struct daemon *d, const struct prefix *within, uint32_t slot, size_t n,
		     struct host_row **rows, size_t *nrows, struct hoststats_fill *fill)
{
	struct top_arg a = { .within = within, .slot = slot, .top = { .cap = n } };
	struct host_read rd = { .fn = top_fn, .arg = &a };
	int err;

	err = host_read_filled(d, &rd, fill);
	if (err) {
		free(a.top.v);
		return err;
	}
	host_top_sort(&a.top);
	*rows = a.top.v;
	*nrows = a.top.n;
	return 0;
}

int hoststats_fill(struct daemon *d, struct hoststats_fill *out)
{
	struct host_read rd = {};

	return host_read_filled(d, &rd, out);
}

/* --- reset ---------------------------------------------------------------------- */

struct reset_arg {
	const struct prefix *within;
	uint32_t slot;
	bool release; /* also untag: the slot is no longer the host's policy */
	size_t n;
};

static int reset_fn(struct host_read *rd, struct host_row *row, void *vals, const uint16_t *ways,
		    int nways)
{
	struct reset_arg *a = rd->arg;
	struct snap *s;

	if ((a->slot != PD_SLOT_NONE && row->slot != a->slot) || !host_in(row, a->within))
		return 0;
	/* Each way's cache tag (address, epoch, slot) stays: only the
	 * counters go, and last_seen with them (the host's ways are then the
	 * first a set gives away). */
	for (int k = 0; k < nways; k++) {
		struct pd_host_way *v =
			&host_copy(rd, vals, ways[k] / PD_HOST_WAYS)->way[ways[k] % PD_HOST_WAYS];

		v->packets = v->bytes = v->last_seen = v->would_drop = 0;
		memset(v->dropped, 0, sizeof(v->dropped));
		/* A past epoch: the program never trusts the tag again, and its
		 * next packet looks the host up and tags it afresh. */
		if (a->release) {
			v->epoch = rd->d->epoch - 1;
			v->slot = PD_SLOT_NONE;
		}
	}
	rd->changed = true;
	a->n++;
	s = snap_get(rd->d->hoststats, row->family, row->addr);
	if (s)
		s->rate = (struct host_rate){ 0, 0, rd->now, -1, -1 };
	return 0;
}

int hoststats_reset(struct daemon *d, const struct prefix *within, uint32_t slot, size_t *nhosts)
{
	struct reset_arg a = { .within = within, .slot = slot };
	struct host_read rd = { .fn = reset_fn, .arg = &a };
	int err;

	err = host_read_all(d, &rd, NULL, NULL);
	if (nhosts)
		*nhosts = a.n;
	return err;
}

int hoststats_release(struct daemon *d, uint32_t slot)
{
	struct reset_arg a = { .slot = slot, .release = true };
	struct host_read rd = { .fn = reset_fn, .arg = &a, .any_slot = true };

	return host_read_all(d, &rd, NULL, NULL);
}

void hoststats_tick(struct daemon *d)
{
	struct hoststats *hs = hoststats_get(d);
	struct host_read rd = {};

	if (!hs || ++hs->ticks % HOSTS_TICK_S ||
	    ((uint64_t)bpf_map__max_entries(d->skel->maps.pd_dcache4) +
	     bpf_map__max_entries(d->skel->maps.pd_dcache6)) *
			    PD_HOST_WAYS * d->ncpus >
		    HOSTS_TICK_MAX)
		return;
	host_read_all(d, &rd, NULL, NULL);
}
