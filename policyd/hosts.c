// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-host policy state in pd_hosts (per-host quota use, block windows and
 * blocks) and per-policy quota use: clearing idle entries, lifting blocks,
 * and showing them in stats.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "daemon.h"
#include "policy.skel.h"

static const struct applied_policy *policy_by_slot(const struct daemon *d, uint32_t slot)
{
	for (size_t i = 0; i < d->set.n; i++)
		if (d->set.v[i]->slot == slot)
			return d->set.v[i];
	return NULL;
}

/* An entry that says nothing an absent one would not: not blocked, no
 * count in a live window, no quota use in the current period. */
static bool host_state_idle(const struct applied_policy *ap, const struct pd_host_state *st,
			    uint64_t mono, uint64_t tai)
{
	const struct pd_quota *q = &ap->pol->quota;
	const struct pd_block *b = &ap->pol->block;

	if (st->blocked_until > mono)
		return false;
	if (st->window_count && b->kind && mono - st->window_start < b->window_ns)
		return false;
	if (st->quota_used && q->bytes && q->per_host && q->period_ns &&
	    st->quota_period == tai / q->period_ns)
		return false;
	return true;
}

/* Walk pd_hosts; @fn, given a way's key and state as read and the state in
 * place (@live), returns true to free the way. Returns how many were freed. */
static size_t hosts_sweep(struct daemon *d,
			  bool (*fn)(struct daemon *d, const struct pd_hosts_key *k,
				     const struct pd_host_state *st, struct pd_host_state *live,
				     void *arg),
			  void *arg)
{
	struct pd_host_state st;
	struct pd_hosts_key key;
	size_t pos = 0, n = 0;

	while (set_table_next(&d->hosts, &pos, &key, &st))
		if (fn(d, &key, &st, set_table_val(&d->hosts, pos - 1), arg))
			n += set_table_free(&d->hosts, pos - 1, &key);
	return n;
}

static bool gc_one(struct daemon *d, const struct pd_hosts_key *k, const struct pd_host_state *st,
		   struct pd_host_state *live, void *arg)
{
	const struct applied_policy *ap = policy_by_slot(d, k->slot);
	const uint64_t *now = arg;

	return !ap || host_state_idle(ap, st, now[0], now[1]);
}

size_t hosts_gc(struct daemon *d)
{
	uint64_t now[2] = { clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_TAI) };

	return hosts_sweep(d, gc_one, now);
}

struct unblock_arg {
	const struct prefix *addr;
	json_t *policies;
};

static bool unblock_one(struct daemon *d, const struct pd_hosts_key *k,
			const struct pd_host_state *st, struct pd_host_state *live, void *arg)
{
	struct unblock_arg *u = arg;
	const struct applied_policy *ap;
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);

	if (k->family != u->addr->family || memcmp(k->addr, u->addr->addr, sizeof(k->addr)) ||
	    st->blocked_until <= mono)
		return false;
	/* Lifted at once, in place, and its window starts over: the traffic
	 * that led to the block does not block it again on the next packet. */
	__atomic_store_n(&live->window_start, mono, __ATOMIC_RELAXED);
	__atomic_store_n(&live->window_count, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&live->blocked_until, 0, __ATOMIC_SEQ_CST);
	ap = policy_by_slot(d, k->slot);
	json_array_append_new(u->policies, json_string(ap ? ap->pol->name : "?"));
	return false;
}

int hosts_unblock(struct daemon *d, const char *address, json_t **result, char *err, size_t errlen)
{
	struct prefix addr;
	struct unblock_arg u = { .addr = &addr };

	if (prefix_parse(address, false, &addr) || addr.len != prefix_max_len(addr.family)) {
		snprintf(err, errlen, "'%s' is not an address", address);
		return -EINVAL;
	}
	u.policies = json_array();
	hosts_sweep(d, unblock_one, &u);
	if (!json_array_size(u.policies)) {
		json_decref(u.policies);
		snprintf(err, errlen, "%s is not blocked", address);
		return -ENOENT;
	}
	pr_info("unblocked %s", address);
	*result = json_pack("{s:s, s:o}", "address", address, "policies", u.policies);
	return 0;
}

struct hosts_arg {
	const struct prefix *pfx;
	const char *target;
	json_t *hosts;
};

#define HOSTS_MAX 256

static bool host_row(struct daemon *d, const struct pd_hosts_key *k, const struct pd_host_state *st,
		     struct pd_host_state *live, void *arg)
{
	struct hosts_arg *h = arg;
	const struct applied_policy *ap = policy_by_slot(d, k->slot);
	struct prefix host = { .family = k->family, .len = prefix_max_len(k->family) };
	uint64_t mono = clock_ns(CLOCK_MONOTONIC), tai = clock_ns(CLOCK_TAI);
	char abuf[PREFIX_STR_MAX], until[32];
	const struct pd_quota *q;
	json_t *row;

	if (!ap || json_array_size(h->hosts) >= HOSTS_MAX)
		return false;
	memcpy(host.addr, k->addr, sizeof(host.addr));
	if (h->pfx ? !prefix_contains(h->pfx, &host) :
		     h->target && strcmp(h->target, ap->pol->name))
		return false;
	q = &ap->pol->quota;
	row = json_pack("{s:s, s:s, s:b, s:I}", "address",
			prefix_format(&host, true, abuf, sizeof(abuf)), "policy", ap->pol->name,
			"blocked", st->blocked_until > mono, "blocks", (json_int_t)st->blocks);
	if (st->blocked_until > mono) {
		clock_to_iso(CLOCK_MONOTONIC, st->blocked_until, until, sizeof(until));
		json_object_set_new(row, "blocked_until", json_string(until));
	}
	if (q->bytes && q->per_host && q->period_ns)
		json_object_set_new(row, "quota_used",
				    json_integer(st->quota_period == tai / q->period_ns ?
							 (json_int_t)st->quota_used :
							 0));
	json_array_append_new(h->hosts, row);
	return false;
}

void hosts_stats(struct daemon *d, const struct prefix *pfx, const char *target, json_t *hosts)
{
	struct hosts_arg h = { .pfx = pfx, .target = target, .hosts = hosts };

	hosts_sweep(d, host_row, &h);
}

static bool count_blocked(struct daemon *d, const struct pd_hosts_key *k,
			  const struct pd_host_state *st, struct pd_host_state *live, void *arg)
{
	uint32_t *blocked = arg;

	if (k->slot < PD_MAX_POLICIES && st->blocked_until > clock_ns(CLOCK_MONOTONIC))
		blocked[k->slot]++;
	return false;
}

void hosts_count_blocked(struct daemon *d, uint32_t *blocked)
{
	hosts_sweep(d, count_blocked, blocked);
}

json_t *hosts_policy_quota(struct daemon *d, const struct applied_policy *ap)
{
	const struct pd_quota *q = &ap->pol->quota;
	struct pd_policy_quota pq = {};
	uint64_t tai, period;
	time_t ends;
	char when[32];
	struct tm tm;

	if (!q->bytes || !q->period_ns)
		return NULL;
	tai = clock_ns(CLOCK_TAI);
	period = tai / q->period_ns;
	/* The period's end on the TAI clock, back to UTC. */
	ends = (time_t)((period + 1) * (q->period_ns / 1000000000ull)) -
	       (time_t)(tai / 1000000000ull - (uint64_t)time(NULL));
	if (!q->per_host)
		bpf_map__lookup_elem(d->skel->maps.pd_policy_quota, &ap->slot, sizeof(ap->slot),
				     &pq, sizeof(pq), 0);
	gmtime_r(&ends, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* A per-host quota's use is in each host's row. */
	return json_pack("{s:s, s:s, s:I, s:o?, s:s, s:s}", "policy", ap->pol->name, "per",
			 q->per_host ? "host" : "policy", "bytes", (json_int_t)q->bytes, "used",
			 q->per_host ? NULL :
				       json_integer(pq.period == period ? (json_int_t)pq.used : 0),
			 "period_ends", when, "quota", ap->pol->quota_text);
}
