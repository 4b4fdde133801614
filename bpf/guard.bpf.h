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

/* pd_guard's @how: the policy slot in the low 16 bits, and these flags: the
 * rules' verdict is a drop; explain (change nothing). */
#define PD_GUARD_SLOT_MASK 0xffffu
#define PD_GUARD_F_DROP (1u << 16)
#define PD_GUARD_F_EXPLAIN (1u << 17)

static __always_inline void pd_hosts_key_of(struct pd_hosts_key *hkey,
					    const struct pd_dest_key *dkey, __u32 slot)
{
	hkey->slot = slot;
	hkey->family = dkey->family;
	__builtin_memcpy(hkey->addr, dkey->addr, sizeof(hkey->addr));
}

/*
 * The host is blocked: its state in pd_hosts says so until a time still to come.
 * A global function, as pd_limit: checked once by the verifier, and called only
 * for policies with a block.
 */
__noinline int pd_blocked(const struct pd_dest_key *dkey, __u32 slot)
{
	struct pd_hosts_key hkey __attribute__((aligned(8))) = {};
	const struct pd_host_state *st;

	if (!dkey)
		return 0;
	pd_hosts_key_of(&hkey, dkey, slot);
	st = bpf_map_lookup_elem(&pd_hosts, &hkey);
	return st && *(const volatile __u64 *)&st->blocked_until > bpf_ktime_get_ns();
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
 * The quota and the block accounting of a packet to @dkey under the policy in
 * the slot of @how, whose rules gave a drop verdict if @how has PD_GUARD_F_DROP
 * (before monitor mode: a would-drop is a drop here). Called for policies with
 * quota.bytes or block.kind set, never for a blocked host's packet. Returns
 * PD_GUARD_OK, PD_GUARD_QUOTA (over the quota: drop) or PD_GUARD_TABLE_FULL (a
 * passing packet, and no room in pd_hosts). A host that becomes blocked gets its
 * expiry in *@until (for the caller's PD_EV_BLOCK event: made here, the event's
 * frame would sit on top of this one, past the verifier's 512-byte stack).
 *
 * The quota charges passing packets only, and takes back what it drops, so used
 * is what passed (in monitor mode: what enforcing would have passed). The block
 * counts the verdict after the quota: a packet the quota drops is a drop.
 *
 * With PD_GUARD_F_EXPLAIN nothing is created, charged or counted: the answer is
 * whether the quota would drop the packet; the block window is left alone.
 *
 * A global function, as pd_limit, for the same reasons.
 */
__noinline int pd_guard(struct __sk_buff *skb, const struct pd_policy *pol,
			const struct pd_dest_key *dkey, __u32 how, __u64 *until)
{
	struct pd_hosts_key hkey __attribute__((aligned(8))) = {};
	struct pd_host_state *st = NULL;
	struct pd_policy_quota *pq;
	__u64 len, n, now, period, used, qbytes, period_ns, expiry, *q_period, *q_used;
	int ret = PD_GUARD_OK, full = 0, drop = !!(how & PD_GUARD_F_DROP);
	__u32 slot = how & PD_GUARD_SLOT_MASK;
	__u8 kind;

	if (!skb || !pol || !dkey || !until)
		return PD_GUARD_OK;
	len = skb->len;
	qbytes = pol->quota.bytes;
	kind = pol->block.kind;
	pd_hosts_key_of(&hkey, dkey, slot);
	if (how & PD_GUARD_F_EXPLAIN) {
		if (!drop && qbytes && pol->quota.period_ns)
			return pd_quota_explain(pol, &hkey, slot, len);
		return PD_GUARD_OK;
	}

	/*
	 * The state that this packet needs whatever its fate is got first, so a
	 * full table decides before the quota charges anything: a per-host quota's
	 * for a passing packet, a packets or bytes block's for every packet.
	 */
	if ((!drop && qbytes && pol->quota.per_host) || kind == PD_BLOCK_PACKETS ||
	    kind == PD_BLOCK_BYTES) {
		st = pd_host_state_get(&hkey, &full);
		if (!st && full)
			return drop ? PD_GUARD_OK : PD_GUARD_TABLE_FULL;
	}

	period_ns = pol->quota.period_ns;
	if (!drop && qbytes && period_ns) {
		q_period = NULL;
		q_used = NULL;
		/* st may be there for a block alone: per policy, the quota is not its. */
		if (pol->quota.per_host) {
			if (st) {
				q_period = &st->quota_period;
				q_used = &st->quota_used;
			}
		} else {
			pq = bpf_map_lookup_elem(&pd_policy_quota, &slot);
			if (pq) {
				q_period = &pq->period;
				q_used = &pq->used;
			}
		}
		/* No state (a failed insert other than a full table): fail open. */
		if (q_period && q_used) {
			period = bpf_ktime_get_tai_ns() / period_ns;
			/*
			 * A new period. Not atomic with the add below: a CPU that
			 * charged the old period just before another CPU's reset
			 * loses its charge, and one that resets after another
			 * CPU's first charges in the new period erases them: a
			 * few packets' bytes at each boundary, in the host's
			 * favour, never a packet dropped that should pass.
			 */
			if (*(volatile __u64 *)q_period != period) {
				*(volatile __u64 *)q_period = period;
				*(volatile __u64 *)q_used = 0;
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
		st = pd_host_state_get(&hkey, &full);
	if (!st)
		return ret;
	now = bpf_ktime_get_ns();
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
		*until = expiry;
	}
	return ret;
}

#endif
