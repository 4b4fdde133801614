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
	struct pd_hosts_key hkey; /* in: the host's key in pd_hosts (slot: the policy's) */
	__u64 now; /* in: the packet's time, by the coarse clock (pd_coarse_now) */
	__u64 until; /* out: the host became blocked by this packet, until then; or 0 */
	__u32 how; /* in: PD_GUARD_F_* */
	__u32 pad;
};

static __always_inline void pd_hosts_key_of(struct pd_hosts_key *hkey,
					    const struct pd_dest_key *dkey, __u32 slot)
{
	hkey->slot = slot;
	hkey->family = dkey->family;
	__builtin_memcpy(hkey->addr, dkey->addr, sizeof(hkey->addr));
}

/*
 * Before the rules, for the policy @pol in @slot: the key of the host's state in
 * @io if the policy has a quota or a block (pd_guard's condition); if it has a
 * block, also the state itself, or NULL if there is none yet: one pd_hosts
 * lookup serves the blocked test and pd_guard. The pointer is held over the
 * rules: pd_hosts is preallocated, so an entry the daemon deletes (an idle one,
 * hosts_gc) or rewrites (policyctl unblock) is reused at once, and a packet
 * holding it may charge a reused one. That was so between pd_guard's lookup and
 * its writes already; holding it from before the rules widens the window from
 * that to the rules' time.
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
	pd_hosts_key_of(&io->hkey, dkey, slot);
	if (pol->block.kind == PD_BLOCK_NONE)
		return NULL;
	return bpf_map_lookup_elem(&pd_hosts, &io->hkey);
}

/*
 * The host whose state is @st (NULL: none) is blocked at @now: its state says so
 * until a time still to come.
 */
static __always_inline int pd_blocked(const struct pd_host_state *st, __u64 now)
{
	return st && *(const volatile __u64 *)&st->blocked_until > now;
}

/*
 * @hkey's state, created zeroed if absent; NULL with *@full set if pd_hosts has
 * no room, NULL alone on another failure (-EBUSY: not the host's fault).
 */
static __always_inline struct pd_host_state *pd_host_state_get(const struct pd_hosts_key *hkey,
							       int *full)
{
	struct pd_host_state fresh = {};
	struct pd_host_state *st;
	long err;

	st = bpf_map_lookup_elem(&pd_hosts, hkey);
	if (st)
		return st;
	err = bpf_map_update_elem(&pd_hosts, hkey, &fresh, BPF_NOEXIST);
	/* -EEXIST: another CPU created it since the lookup; use that one. */
	if (!err || err == -EEXIST)
		return bpf_map_lookup_elem(&pd_hosts, hkey);
	if (err == -E2BIG || err == -ENOMEM)
		*full = 1;
	return NULL;
}

/*
 * Explain: would this packet, passed by the rules, exceed the quota? Read only:
 * a host or a period with no use yet has used nothing.
 */
static __always_inline int pd_quota_explain(const struct pd_policy *pol,
					    const struct pd_hosts_key *hkey, __u32 slot, __u64 len)
{
	const struct pd_host_state *st;
	const struct pd_policy_quota *pq;
	__u64 period, used = 0;

	period = bpf_ktime_get_tai_ns() / pol->quota.period_ns;
	if (pol->quota.per_host) {
		st = bpf_map_lookup_elem(&pd_hosts, hkey);
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
			return pd_quota_explain(pol, &io->hkey, slot, len);
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
		st = pd_host_state_get(&io->hkey, &full);
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
		st = pd_host_state_get(&io->hkey, &full);
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
