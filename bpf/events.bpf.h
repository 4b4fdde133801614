/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Events for policyd's LWT_OUT program: drop, log, block and sample records into
 * the pd_events ring buffer, the drop and log events rate-capped per policy and
 * CPU. Paid only by packets that make an event: the others never get here.
 */
#ifndef POLICYD_EVENTS_BPF_H
#define POLICYD_EVENTS_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/policy_abi.h"
#include "bpf/maps.bpf.h"
#include "bpf/parse.bpf.h"

#define PD_NS_PER_SEC 1000000000ull

/* What the caller knows of an event; pd_emit adds the packet's own fields. */
struct pd_evinfo {
	__u64 until_ns; /* PD_EV_BLOCK */
	__u32 slot;
	__u16 snaplen; /* PD_EV_SAMPLE: the policy's sample_snaplen (0: the default) */
	__u8 type; /* enum pd_event_type */
	__u8 verdict;
	__u8 reason;
	__u8 flags; /* PD_EVF_WOULD_DROP */
	__u8 rule; /* or PD_EV_RULE_NONE */
	__u8 pad;
};

static __always_inline void pd_misc_add(__u32 field_off)
{
	__u32 zero = 0;
	__u8 *m = bpf_map_lookup_elem(&pd_misc_stats, &zero);

	if (m && field_off < sizeof(struct pd_misc_stats))
		*(__u64 *)(m + field_off) += 1;
}

#define PD_MISC_ADD(field) pd_misc_add(__builtin_offsetof(struct pd_misc_stats, field))

/*
 * A drop or log event may go out: fewer than pd_config.event_cap of its kind were
 * sent for @slot on this CPU in the current second (fixed one-second windows of
 * the coarse clock). Over the cap, events_capped counts it.
 */
static __always_inline int pd_event_allowed(__u32 slot, __u8 type)
{
	struct pd_event_cap *cap;
	const struct pd_config *cfg;
	__u32 zero = 0, *sent;
	__u64 second;

	cap = bpf_map_lookup_elem(&pd_event_caps, &slot);
	cfg = bpf_map_lookup_elem(&pd_config, &zero);
	if (!cap || !cfg)
		return 0;
	second = bpf_ktime_get_coarse_ns() / PD_NS_PER_SEC;
	if (cap->second != second) {
		cap->second = second;
		cap->drops = 0;
		cap->logs = 0;
	}
	sent = type == PD_EV_DROP ? &cap->drops : &cap->logs;
	if (*sent >= cfg->event_cap) {
		PD_MISC_ADD(events_capped);
		return 0;
	}
	*sent += 1;
	return 1;
}

/*
 * The packet's source address into @out (16 bytes, IPv4 in the first four). Read
 * here, on the event path only: the parse does not keep it, so passing packets
 * never pay for it.
 */
static __always_inline void pd_event_saddr(struct __sk_buff *skb, __u8 family, __u8 *out)
{
	if (family == AF_INET)
		bpf_skb_load_bytes(skb, __builtin_offsetof(struct iphdr, saddr), out, 4);
	else
		bpf_skb_load_bytes(skb, __builtin_offsetof(struct ipv6hdr, saddr), out, 16);
}

/*
 * Emit one event about @skb, a packet to @dkey's address: @info's type with the
 * packet's fields; @pkt (NULL for a block) gives the protocol, ports and ICMP
 * type. A PD_EV_SAMPLE record also carries the first caplen bytes of the packet.
 * Returns 1 if the record went into the ring, 0 if not (capped, ring full).
 *
 * A global function: the verifier checks it once, and packets with no event
 * never pay for its size.
 */
__noinline int pd_emit(struct __sk_buff *skb, const struct pd_dest_key *dkey,
		       const struct pd_pkt *pkt, const struct pd_evinfo *info)
{
	struct pd_sample_event *s = NULL;
	struct pd_event *e;
	__u32 caplen = 0, len;
	__u8 type;

	if (!skb || !dkey || !info)
		return 0;
	type = info->type;
	if ((type == PD_EV_DROP || type == PD_EV_LOG) && !pd_event_allowed(info->slot, type))
		return 0;
	if (type == PD_EV_SAMPLE) {
		s = bpf_ringbuf_reserve(&pd_events, sizeof(*s), 0);
		e = s ? &s->ev : NULL;
	} else {
		e = bpf_ringbuf_reserve(&pd_events, sizeof(*e), 0);
	}
	if (!e) {
		PD_MISC_ADD(events_lost);
		return 0;
	}
	len = skb->len;
	e->time_ns = bpf_ktime_get_ns();
	e->type = type;
	e->verdict = info->verdict;
	e->reason = info->reason;
	e->flags = info->flags & PD_EVF_WOULD_DROP;
	e->family = dkey->family;
	e->proto = 0;
	e->rule = info->rule;
	e->icmp_type = 0;
	e->slot = info->slot;
	e->len = len;
	e->packets = skb->gso_segs ? skb->gso_segs : 1;
	e->sport = 0;
	e->dport = 0;
	e->until_ns = info->until_ns;
	if (pkt) {
		e->proto = pkt->proto;
		/* Both ports or neither: a non-first fragment or a cut header has none. */
		if (pkt->dport != PD_NO_PORT) {
			e->flags |= PD_EVF_PORTS;
			e->sport = pkt->sport;
			e->dport = pkt->dport;
		}
		if (pkt->icmp_type != PD_NO_ICMP) {
			e->flags |= PD_EVF_ICMP;
			e->icmp_type = pkt->icmp_type;
		}
	}
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	pd_event_saddr(skb, e->family, e->saddr);
	__builtin_memcpy(e->daddr, dkey->addr, sizeof(e->daddr));
	if (s) {
		caplen = info->snaplen ? info->snaplen : PD_DEFAULT_SNAPLEN;
		if (caplen > len)
			caplen = len;
		/* Bounds the verifier can see: 1 .. sizeof(data). */
		if (caplen > PD_SNAPLEN_MAX)
			caplen = PD_SNAPLEN_MAX;
		barrier_var(caplen);
		if (caplen < 1 || caplen > PD_SNAPLEN_MAX ||
		    bpf_skb_load_bytes(skb, 0, s->data, caplen))
			caplen = 0;
		s->caplen = caplen;
		s->pad = 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 1;
}

#endif
