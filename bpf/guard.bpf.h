/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Quota and block for policyd's LWT_OUT program: a blocked host's test before
 * the rules, and after them the quota's charge and the block's window count, in
 * per-policy (pd_policy_quota) or per-host (pd_hosts) state.
 */
#ifndef POLICYD_GUARD_BPF_H
#define POLICYD_GUARD_BPF_H

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>

#include "bpf/policy_abi.h"
#include "bpf/maps.bpf.h"

/* pd_guard's answers: the verdict stands, the quota is over, or pd_hosts is full. */
#define PD_GUARD_OK 0
#define PD_GUARD_QUOTA 1
#define PD_GUARD_TABLE_FULL 2

/* pd_guard_io.how: the rules' verdict is a drop; explain (change nothing). */
#define PD_GUARD_F_DROP (1u << 0)
#define PD_GUARD_F_EXPLAIN (1u << 1)

/* See pd_host_state.quota_recheck. */
#define PD_QUOTA_RECHECK_MAX_NS 1000000000ull

/*
 * What pd_guard is told and tells besides the packet, the policy and the host's
 * state; it travels in the caller's struct pd_decision.
 */
struct pd_guard_io {
	/* in: the host's key in pd_hosts (slot: the policy's), written as 64-bit
	 * words (the address's by the entry, the first by pd_guard_prepare): read
	 * back as words, with no store of another width to forward from */
	struct pd_hosts_key hkey;
	__u64 hash; /* in: the pd_host_hash of the packet's destination */
	__u64 now; /* in: the packet's time, by the coarse clock (pd_coarse_now) */
	__u64 until; /* out: the host became blocked by this packet, until then; or 0 */
	__u64 seed; /* in: pd_host_seed's */
	__u32 how; /* in: PD_GUARD_F_* */
	__u32 gen_base; /* in: the generation's first index in pd_policies */
};

/* pd_hosts' sets less one (see the ABI), set with its max_entries before load. */
const volatile __u32 pd_hosts_sets_mask = PD_DEFAULT_HOSTS / PD_HOSTS_WAYS - 1;

/* The set of @io->hkey in pd_hosts, or NULL. */
static __always_inline struct pd_hosts_set *pd_hosts_set_of(const struct pd_guard_io *io)
{
	__u32 idx = pd_host_key_set(io->hash, *(const __u64 *)&io->hkey, pd_hosts_sets_mask);

	return bpf_map_lookup_elem(&pd_hosts, &idx);
}

/* The way of @set holding @hkey, or -1. */
static __always_inline int pd_hosts_way_of(struct pd_hosts_set *set,
					   const struct pd_hosts_key *hkey)
{
	return pd_set_find(set->way, sizeof(set->way[0]), PD_HOSTS_WAYS, (const __u64 *)hkey);
}

/* The state of @io->hkey in pd_hosts, or NULL if it has none. */
static __always_inline struct pd_host_state *pd_hosts_find(const struct pd_guard_io *io)
{
	struct pd_hosts_set *set = pd_hosts_set_of(io);
	int i;

	if (!set)
		return NULL;
	i = pd_hosts_way_of(set, &io->hkey);
	if (i < 0)
		return NULL;
	return &set->way[pd_way_hidden(i, io->seed, PD_HOSTS_WAYS)].st;
}

/*
 * The state @st of the way keyed @w0 (its first word: the slot, the family)
 * says nothing an absent one would not at @now, by the policy now in that slot
 * of the generation at @gen_base, as the daemon's collection judges it: not
 * blocked, no count in a live window, no quota use in the current period (the
 * TAI clock read only past quota_recheck). A slot no policy holds: idle.
 */
static __always_inline int pd_hosts_idle(const struct pd_host_state *st, __u64 w0, __u64 now,
					 __u32 gen_base)
{
	const struct pd_policy *pol;
	__u32 idx = (__u32)w0;

	if (idx >= PD_MAX_POLICIES)
		return 1;
	idx += gen_base;
	pol = bpf_map_lookup_elem(&pd_policies, &idx);
	if (!pol || !(pol->flags & PD_POLICY_ACTIVE))
		return 1;
	if (*(const volatile __u64 *)&st->blocked_until > now)
		return 0;
	if (st->window_count && pol->block.kind && now - st->window_start < pol->block.window_ns)
		return 0;
	if (st->quota_used && pol->quota.bytes && pol->quota.per_host && pol->quota.period_ns &&
	    (now < st->quota_recheck ||
	     st->quota_period == bpf_ktime_get_tai_ns() / pol->quota.period_ns))
		return 0;
	return 1;
}

/*
 * Before the rules, for the policy @pol in @slot: the key of the host's state in
 * @io if the policy has a quota or a block (pd_guard's condition); if it has a
 * block, also the state itself, or NULL if there is none yet: one search of
 * its set serves the blocked test and pd_guard. The pointer is held over the
 * rules: a way the daemon frees (an idle state, hosts_gc) may be given to
 * another host at once, and a packet holding it may charge that host's state
 * once. Holding it from before the rules widens that window to the rules'
 * time. policyctl unblock writes the fields in place.
 *
 * Inline in the program's entry, as are the blocked test and pd_guard: the
 * rules' loop (pd_first_match, a global function) never sees the state, so the
 * verifier walks it once, not once for a NULL state and once for a map value.
 */
static __always_inline struct pd_host_state *pd_guard_prepare(const struct pd_policy *pol,
							      const struct pd_dest_key *dkey,
							      __u32 slot, struct pd_guard_io *io)
{
	if (!pol->quota.bytes && pol->block.kind == PD_BLOCK_NONE)
		return NULL;
	*(__u64 *)&io->hkey = pd_key_w0(slot, dkey->family);
	if (pol->block.kind == PD_BLOCK_NONE)
		return NULL;
	return pd_hosts_find(io);
}

/*
 * The host whose state is @st (NULL: none) is blocked at @now: its state says so
 * until a time still to come.
 */
static __always_inline int pd_blocked(const struct pd_host_state *st, __u64 now)
{
	return st && *(const volatile __u64 *)&st->blocked_until > now;
}

/* pd_hosts_claim's answers besides a way's index. */
#define PD_HOSTS_BUSY (-1)
#define PD_HOSTS_FULL (-2)

/*
 * Give @io->hkey, which has none, a way of its @set: the way's index, or
 * PD_HOSTS_FULL if the set has none to give, or PD_HOSTS_BUSY when another CPU
 * took the way first (not the host's fault: the packet goes uncounted, as a
 * locked hash bucket let it).
 *
 * A way is taken as in pd_host_buckets: pd_set_take, zeros, pd_set_publish
 * (whose way may be freed for another CPU's: the packet then goes uncounted).
 * A packet of the former host that still holds an idle state when its way is
 * taken charges the new host once.
 *
 * A global function: only a host's first packet calls it, and the verifier
 * checks it once, not at each of pd_guard's two places that may make a state.
 */
__noinline int pd_hosts_claim(struct pd_hosts_set *set, const struct pd_guard_io *io)
{
	const __u64 *k;
	__u64 w0, take_w0 = 0;
	int i, take = -1;

	if (!set || !io)
		return PD_HOSTS_BUSY;
	k = (const __u64 *)&io->hkey;
	for (i = 0; i < PD_HOSTS_WAYS; i++) {
		w0 = *(volatile __u64 *)&set->way[i].key;
		if (w0 != PD_BUCKET_BUSY &&
		    (!w0 || pd_hosts_idle(&set->way[i].st, w0, io->now, io->gen_base))) {
			take = i;
			take_w0 = w0;
			break;
		}
	}
	if (take < 0)
		return PD_HOSTS_FULL;
	i = take & (PD_HOSTS_WAYS - 1);
	if (!pd_set_take(set->way, sizeof(set->way[0]), i, take_w0, k))
		return PD_HOSTS_BUSY;
	__builtin_memset(&set->way[i].st, 0, sizeof(set->way[i].st));
	if (pd_set_publish(set->way, sizeof(set->way[0]), PD_HOSTS_WAYS, i, k))
		return PD_HOSTS_BUSY;
	return i;
}

/*
 * @io->hkey's state, made zeroed if absent (pd_hosts_claim); NULL with *@full
 * set if its set has no way to give, NULL alone if another CPU took the way.
 */
static __always_inline struct pd_host_state *pd_host_state_get(const struct pd_guard_io *io,
							       int *full)
{
	struct pd_hosts_set *set;
	int i;

	set = pd_hosts_set_of(io);
	if (!set)
		return NULL;
	i = pd_hosts_way_of(set, &io->hkey);
	if (i < 0) {
		i = pd_hosts_claim(set, io);
		if (i == PD_HOSTS_FULL)
			*full = 1;
		if (i < 0)
			return NULL;
	}
	return &set->way[pd_way_hidden(i, io->seed, PD_HOSTS_WAYS)].st;
}

/*
 * Explain: would this packet, passed by the rules, exceed the quota? Read only:
 * a host or a period with no use yet has used nothing.
 */
static __always_inline int pd_quota_explain(const struct pd_policy *pol,
					    const struct pd_guard_io *io, __u32 slot, __u64 len)
{
	const struct pd_host_state *st;
	const struct pd_policy_quota *pq;
	__u64 period, used = 0;

	period = bpf_ktime_get_tai_ns() / pol->quota.period_ns;
	if (pol->quota.per_host) {
		st = pd_hosts_find(io);
		if (st && st->quota_period == period)
			used = st->quota_used;
	} else {
		pq = bpf_map_lookup_elem(&pd_policy_quota, &slot);
		if (pq && pq->period == period)
			used = pq->used;
	}
	return used + len > pol->quota.bytes ? PD_GUARD_QUOTA : PD_GUARD_OK;
}

/*
 * The quota and the block accounting of a packet to the host of @io->hkey under
 * the policy @pol, whose rules gave a drop verdict if @io->how has
 * PD_GUARD_F_DROP (before monitor mode: a would-drop is a drop here). @st is the
 * host's state as pd_guard_prepare found it (NULL: none, or not looked up: a
 * policy without a block); @io is as pd_guard_prepare filled it. Called for
 * policies with quota.bytes or block.kind set, never for a blocked host's
 * packet. Returns PD_GUARD_OK, PD_GUARD_QUOTA (over the quota: drop) or
 * PD_GUARD_TABLE_FULL (a passing packet, and no room in pd_hosts). A host that
 * becomes blocked gets its expiry in @io->until, for the caller's PD_EV_BLOCK
 * event.
 *
 * The quota charges passing packets only, and takes back what it drops, so used
 * is what passed (in monitor mode: what enforcing would have passed). The block
 * counts the verdict after the quota: a packet the quota drops is a drop.
 *
 * With PD_GUARD_F_EXPLAIN nothing is created, charged or counted: the answer is
 * whether the quota would drop the packet; the block window is left alone.
 *
 * Inline, as pd_limit, and for the same reason.
 */
static __always_inline int pd_guard(struct __sk_buff *skb, const struct pd_policy *pol,
				    struct pd_host_state *st, struct pd_guard_io *io)
{
	struct pd_host_state *qst; /* the per-host quota's state */
	struct pd_quota_clock *qc = NULL; /* a per-policy quota's period, this CPU's */
	struct pd_policy_quota *pq;
	__u64 len, n, now, tai, period, used, qbytes, period_ns, expiry, *q_period, *q_used, left;
	int ret = PD_GUARD_OK, full = 0, drop, fresh;
	__u32 how, slot;
	__u8 kind;

	how = io->how;
	slot = io->hkey.slot;
	drop = !!(how & PD_GUARD_F_DROP);
	len = skb->len;
	qbytes = pol->quota.bytes;
	kind = pol->block.kind;
	if (how & PD_GUARD_F_EXPLAIN) {
		if (!drop && qbytes && pol->quota.period_ns)
			return pd_quota_explain(pol, io, slot, len);
		return PD_GUARD_OK;
	}

	/*
	 * The state that this packet needs whatever its fate is got first, so a
	 * full table decides before the quota charges anything: a per-host quota's
	 * for a passing packet, a packets or bytes block's for every packet
	 * (unless pd_guard_prepare found it).
	 */
	if (!st && ((!drop && qbytes && pol->quota.per_host) || kind == PD_BLOCK_PACKETS ||
		    kind == PD_BLOCK_BYTES)) {
		st = pd_host_state_get(io, &full);
		if (!st && full)
			return drop ? PD_GUARD_OK : PD_GUARD_TABLE_FULL;
	}

	period_ns = pol->quota.period_ns;
	if (!drop && qbytes && period_ns) {
		q_period = NULL;
		q_used = NULL;
		qst = NULL;
		/* st may be there for a block alone: per policy, the quota is not its. */
		if (pol->quota.per_host) {
			if (st) {
				qst = st;
				q_period = &st->quota_period;
				q_used = &st->quota_used;
			}
		} else {
			pq = bpf_map_lookup_elem(&pd_policy_quota, &slot);
			if (pq) {
				/* Else clang takes the addresses before the test,
				 * which the verifier refuses. */
				barrier_var(pq);
				q_period = &pq->period;
				q_used = &pq->used;
			}
		}
		/* No state (a failed insert other than a full table): fail open. */
		if (q_period && q_used) {
			/*
			 * A per-host state before its quota_recheck is in its
			 * period still, and so is a per-policy quota before this
			 * CPU's recheck while its period and period_ns are the
			 * ones this CPU read (the daemon zeroes pd_policy_quota
			 * for a new policy in the slot): no TAI clock, no
			 * division. Else the period from the clock, and when to
			 * look again: the period's end, as far from now on the
			 * monotonic clock as it is on the TAI one, counted from
			 * io->now, which is at or before the time of the TAI
			 * read (so never after the end), and at most a second
			 * away.
			 */
			if (qst) {
				fresh = io->now < *(volatile __u64 *)&qst->quota_recheck;
			} else {
				qc = bpf_map_lookup_elem(&pd_quota_clock, &slot);
				fresh = qc && qc->period_ns == period_ns && io->now < qc->recheck &&
					*(volatile __u64 *)q_period == qc->period;
			}
			if (!fresh) {
				tai = bpf_ktime_get_tai_ns();
				period = tai / period_ns;
				/*
				 * A new period. Not atomic with the add below: a
				 * CPU that charged the old period just before
				 * another CPU's reset loses its charge, and one
				 * that resets after another CPU's first charges
				 * in the new period erases them: a few packets'
				 * bytes at each boundary, in the host's favour,
				 * never a packet dropped that should pass.
				 */
				if (*(volatile __u64 *)q_period != period) {
					*(volatile __u64 *)q_period = period;
					*(volatile __u64 *)q_used = 0;
				}
				left = period_ns - (tai - period * period_ns);
				if (left > PD_QUOTA_RECHECK_MAX_NS)
					left = PD_QUOTA_RECHECK_MAX_NS;
				if (qst) {
					*(volatile __u64 *)&qst->quota_recheck = io->now + left;
				} else if (qc) {
					qc->period_ns = period_ns;
					qc->period = period;
					qc->recheck = io->now + left;
				}
			}
			used = __sync_fetch_and_add(q_used, len) + len;
			if (used > qbytes) {
				__sync_fetch_and_add(q_used, -len);
				drop = 1;
				ret = PD_GUARD_QUOTA;
			}
		}
	}

	if (kind == PD_BLOCK_NONE || (kind == PD_BLOCK_DROPS && !drop))
		return ret;
	if (kind == PD_BLOCK_BYTES) {
		n = len;
	} else {
		n = skb->gso_segs;
		if (!n)
			n = 1;
	}
	/* A drops block's state, made only for a drop: passing traffic fills no table.
	 * With no room, the packet is dropped anyway and the host goes uncounted. */
	if (!st)
		st = pd_host_state_get(io, &full);
	if (!st)
		return ret;
	now = io->now;
	/* Racy reset: two CPUs may both restart the window, losing a packet's count. */
	if (now - *(volatile __u64 *)&st->window_start >= pol->block.window_ns) {
		*(volatile __u64 *)&st->window_start = now;
		*(volatile __u64 *)&st->window_count = 0;
	}
	/* Only while not blocked: the expiry is fixed when the block starts. */
	if (__sync_fetch_and_add(&st->window_count, n) + n >= pol->block.threshold &&
	    *(volatile __u64 *)&st->blocked_until <= now) {
		expiry = now + pol->block.duration_ns;
		*(volatile __u64 *)&st->blocked_until = expiry;
		__sync_fetch_and_add(&st->blocks, 1);
		io->until = expiry;
	}
	return ret;
}

#endif
