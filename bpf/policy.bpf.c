// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyd's data path: the LWT_OUT program attached to policied routes. It finds
 * the packet's destination policy by longest-prefix match (through a per-host
 * cache), drops for a blocked host, evaluates the policy's rules in order (first
 * match decides), applies the quota and the block accounting, counts, and
 * returns BPF_OK or BPF_DROP (always BPF_OK for a policy in monitor mode).
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/policy_abi.h"

/* <sys/socket.h> is not a UAPI header; the ABI stores these values. */
#define AF_INET 2
#define AF_INET6 10

/* IPv4 fragment offset bits (net/ip.h is not UAPI). */
#define PD_IP_OFFSET 0x1fff

/* IPv6 fragment header: offset in the upper 13 bits of frag_off. */
#define PD_IP6_OFFSET 0xfff8

/*
 * Extension headers walked before giving up on finding the upper layer. RFC 8200
 * order has at most hop-by-hop, dest-opts, routing, fragment, AH, dest-opts: six.
 * A longer chain is left with its last next-header as proto and no ports.
 */
#define PD_MAX_EXT_HDRS 6

char _license[] SEC("license") = "GPL";

/*
 * pd_cache_off: for the benchmark only, which repeats one packet; set before load.
 * The daemon leaves it 0 and the verifier then drops the other branches, so what
 * it runs is the plain cached program. PD_CACHE_BYPASS: no cache, the trie on
 * every packet. PD_CACHE_NO_HITS: look up and insert as usual but ignore every
 * hit: the whole miss path on every packet. PD_CACHE_NEW_HOSTS (IPv4): the cache
 * sees a random address instead of the packet's (the trie still gets the real
 * one): every packet a new host, inserted into a full cache that must evict.
 */
#define PD_CACHE_ON 0
#define PD_CACHE_BYPASS 1
#define PD_CACHE_NO_HITS 2
#define PD_CACHE_NEW_HOSTS 3

const volatile __u32 pd_cache_off = PD_CACHE_ON;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pd_config);
} pd_config SEC(".maps");

/* Nodes are allocated on insert: a trie this large must not be preallocated. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PD_GENERATIONS *PD_MAX_DESTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pd_dest_key);
	__type(value, struct pd_dest_val);
} pd_dest SEC(".maps");

/* The src prefixes of every rule with PD_MATCH_SRC, keyed by rule (see the ABI). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PD_GENERATIONS *PD_MAX_SRCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pd_src_key);
	__type(value, __u32);
} pd_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PD_GENERATIONS *PD_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct pd_policy);
} pd_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PD_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct pd_policy_stats);
} pd_policy_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PD_MAX_RULE_COUNTERS);
	__type(key, __u32);
	__type(value, struct pd_counters);
} pd_rule_stats SEC(".maps");

/* The buckets of per-rule limits, indexed by the rule's counter. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PD_MAX_RULE_COUNTERS);
	__type(key, __u32);
	__type(value, struct pd_bucket);
} pd_rule_buckets SEC(".maps");

/*
 * The buckets of per-host limits, created by the first packet to a host. The
 * daemon sets max_entries (--hosts) before load. Preallocated (the default): an
 * insert never allocates in the data path, and a full table answers -E2BIG.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PD_DEFAULT_HOSTS);
	__type(key, struct pd_host_key);
	__type(value, struct pd_bucket);
} pd_host_buckets SEC(".maps");

/*
 * Per-host state of policies with a per-host quota or a block: created by the
 * first packet that needs it, keyed by policy slot (it survives a re-apply) and
 * the unmasked destination. Sized by the daemon (--hosts) before load, and
 * preallocated like pd_host_buckets: a full table answers -E2BIG.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PD_DEFAULT_HOSTS);
	__type(key, struct pd_hosts_key);
	__type(value, struct pd_host_state);
} pd_hosts SEC(".maps");

/* A per-policy quota's period and use, by policy slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PD_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct pd_policy_quota);
} pd_policy_quota SEC(".maps");

/*
 * pd_dcache4/6: the pd_dest lookup cached per destination host, tagged with the
 * epoch it was made in. BPF_F_NO_COMMON_LRU (an LRU list per CPU) by measurement
 * (6.18, 2 CPUs, test_run inserting 1,000 to 60,000 distinct keys per CPU into a
 * map of this shape): a lookup costs the same with either, about 21 ns; an insert
 * on one CPU 85-170 ns per-CPU vs 95-400 ns common; inserts on both CPUs at once
 * 90-330 ns per-CPU vs 500-1800 ns common, whose shared lists and global lock then
 * bounce between the CPUs. Misses come in bursts on every CPU at once (after each
 * apply, or traffic to many new hosts), so that case decides. The price: each CPU
 * evicts only among the entries it inserted, its max_entries / ncpus share.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PD_DCACHE4_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, __u32);
	__type(value, struct pd_dcache_val);
} pd_dcache4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PD_DCACHE6_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct pd_dcache6_key);
	__type(value, struct pd_dcache_val);
} pd_dcache6 SEC(".maps");

/*
 * Never read here: the daemon replaces pd_sync[0] after bumping the epoch, and
 * that update returns only after an RCU grace period, i.e. once no program run
 * that may have read the old generation is still going.
 */
struct pd_sync_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct pd_sync_inner);
} pd_sync SEC(".maps");

/*
 * What the rules may look at. Each L4 field has a value no rule accepts for a
 * packet without it (not that protocol, a non-first fragment, a header cut
 * short), so a rule fails on it without a separate test: ports in host order, or
 * PD_NO_PORT, above every range's hi; the TCP flags byte, or PD_NO_TCP, a bit no
 * mask clears (see pd_rule_matches_more); the ICMP(v6) type, or PD_NO_ICMP, past
 * the 256-bit bitmap.
 */
#define PD_NO_PORT 0x10000u
#define PD_NO_TCP 0x100u
#define PD_NO_ICMP 0x100u

struct pd_pkt {
	__u32 dport;
	__u32 sport;
	__u16 tcp_flags;
	__u16 icmp_type;
	__u8 proto;
};

/*
 * Point at @len bytes at @off from the IP header on. The linear part is read in
 * place (the common case, and typed loads rather than a byte-wise copy); headers
 * beyond it, as in a forwarded GRO skb, are copied to @buf by the helper.
 * Returns NULL past the packet's end.
 */
static __always_inline const void *pd_header(struct __sk_buff *skb, __u32 off, void *buf, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (data + off + len <= data_end)
		return data + off;
	if (bpf_skb_load_bytes(skb, off, buf, len))
		return NULL;
	return buf;
}

/* Only these carry ports, and all three at offsets 0 and 2. */
static __always_inline int pd_proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/*
 * The L4 fields the rules test, read from the header at @l4off of a first (or
 * only) fragment; @icmp_proto is the family's ICMP: IPPROTO_ICMP for IPv4,
 * IPPROTO_ICMPV6 for IPv6. TCP's flags come in the same read as the ports.
 */
static __always_inline void pd_load_l4(struct __sk_buff *skb, __u32 l4off, struct pd_pkt *pkt,
				       __u8 icmp_proto)
{
	/* TCP up to its flags byte: ports, seq, ack, data offset, flags. */
	struct pd_tcp_head {
		__be16 sport;
		__be16 dport;
		__u8 seq_ack[8];
		__u8 doff;
		__u8 flags;
	};
	const struct pd_tcp_head *tcp;
	struct pd_tcp_head tcp_buf;
	const __be16 *ports;
	const __u8 *type;
	__be16 buf[2];
	__u8 type_buf;

	if (pd_proto_has_ports(pkt->proto)) {
		if (pkt->proto == IPPROTO_TCP) {
			tcp = pd_header(skb, l4off, &tcp_buf, sizeof(tcp_buf));
			if (tcp) {
				pkt->sport = bpf_ntohs(tcp->sport);
				pkt->dport = bpf_ntohs(tcp->dport);
				pkt->tcp_flags = tcp->flags;
				return;
			}
		}
		/* A header cut short (a truncated packet) has no ports: port rules skip it. */
		ports = pd_header(skb, l4off, buf, sizeof(buf));
		if (!ports)
			return;
		pkt->sport = bpf_ntohs(ports[0]);
		pkt->dport = bpf_ntohs(ports[1]);
	} else if (pkt->proto == icmp_proto) {
		type = pd_header(skb, l4off, &type_buf, sizeof(type_buf));
		if (type)
			pkt->icmp_type = *type;
	}
}

/* Returns 0 and fills @key and @pkt, or -1 if the packet is shorter than an IPv4 header. */
static __always_inline int pd_parse_ipv4(struct __sk_buff *skb, struct pd_dest_key *key,
					 struct pd_pkt *pkt)
{
	const struct iphdr *iph;
	struct iphdr buf;
	__u32 ihl;

	iph = pd_header(skb, 0, &buf, sizeof(buf));
	if (!iph)
		return -1;
	key->family = AF_INET;
	*(__be32 *)key->addr = iph->daddr;
	pkt->proto = iph->protocol;
	ihl = iph->ihl;
	/* Non-first fragments carry no L4 header; a bad ihl leaves L4 unknown. */
	if (ihl < 5 || (iph->frag_off & bpf_htons(PD_IP_OFFSET)))
		return 0;
	pd_load_l4(skb, ihl * 4, pkt, IPPROTO_ICMP);
	return 0;
}

/* Returns 0 and fills @key and @pkt, or -1 if the packet is shorter than an IPv6 header. */
static __always_inline int pd_parse_ipv6(struct __sk_buff *skb, struct pd_dest_key *key,
					 struct pd_pkt *pkt)
{
	/* hop-by-hop, routing, dest-opts: {nexthdr, hdrlen in 8-octet units - 1};
	 * AH: hdrlen in 4-octet units - 2; fragment: 8 bytes, offset in frag_off. */
	struct pd_ext_hdr {
		__u8 nexthdr;
		__u8 hdrlen;
		__be16 frag_off;
	};
	const struct ipv6hdr *ip6h;
	const struct pd_ext_hdr *ext;
	struct pd_ext_hdr ext_buf;
	struct ipv6hdr buf;
	__u32 off = sizeof(buf);
	__u8 nexthdr;
	int i;

	ip6h = pd_header(skb, 0, &buf, sizeof(buf));
	if (!ip6h)
		return -1;
	key->family = AF_INET6;
	__builtin_memcpy(key->addr, &ip6h->daddr, 16);
	nexthdr = ip6h->nexthdr;

	for (i = 0; i < PD_MAX_EXT_HDRS; i++) {
		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS && nexthdr != IPPROTO_FRAGMENT &&
		    nexthdr != IPPROTO_AH)
			break;
		ext = pd_header(skb, off, &ext_buf, sizeof(ext_buf));
		if (!ext) {
			/* Truncated chain: the rules see the header we could not read. */
			pkt->proto = nexthdr;
			return 0;
		}
		if (nexthdr == IPPROTO_FRAGMENT) {
			if (ext->frag_off & bpf_htons(PD_IP6_OFFSET)) {
				pkt->proto = ext->nexthdr;
				return 0;
			}
			off += 8;
		} else if (nexthdr == IPPROTO_AH) {
			off += ((__u32)ext->hdrlen + 2) * 4;
		} else {
			off += ((__u32)ext->hdrlen + 1) * 8;
		}
		nexthdr = ext->nexthdr;
	}
	pkt->proto = nexthdr;
	pd_load_l4(skb, off, pkt, IPPROTO_ICMPV6);
	return 0;
}

/* @port (or PD_NO_PORT) is in one of the first @n of @ranges. */
static __always_inline int pd_port_in(const struct pd_port_range *ranges, __u32 n, __u32 port)
{
	__u32 j;

	for (j = 0; j < PD_MAX_PORT_RANGES; j++) {
		if (j >= n)
			break;
		if (port >= ranges[j].lo && port <= ranges[j].hi)
			return 1;
	}
	return 0;
}

/*
 * The packet's source is in one of the pd_src prefixes of rule @index of the
 * policy at pd_policies[@policy]. The source is read here, not by the parse: the
 * packets of policies without src rules never pay for it. The parse has read the
 * whole IP header already, so it is there.
 */
static __always_inline int pd_src_matches(struct __sk_buff *skb, __u32 policy, __u32 index)
{
	struct pd_src_key key = {
		.gen = policy / PD_MAX_POLICIES,
		.rule = index,
		.slot = policy % PD_MAX_POLICIES,
	};
	const void *saddr;
	__u8 buf[16];

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		saddr = pd_header(skb, __builtin_offsetof(struct iphdr, saddr), buf, 4);
		if (!saddr)
			return 0;
		key.prefixlen = PD_SRC_KEY_HDR_BITS + 32;
		key.family = AF_INET;
		__builtin_memcpy(key.addr, saddr, 4);
	} else {
		saddr = pd_header(skb, __builtin_offsetof(struct ipv6hdr, saddr), buf, 16);
		if (!saddr)
			return 0;
		key.prefixlen = PD_SRC_KEY_HDR_BITS + 128;
		key.family = AF_INET6;
		__builtin_memcpy(key.addr, saddr, 16);
	}
	return bpf_map_lookup_elem(&pd_src, &key) != NULL;
}

/*
 * The conditions beyond proto and dport, cheapest first; the pd_src lookup, the
 * only costly one, last. @policy is the policy's index in pd_policies, @index the
 * rule's in the policy.
 *
 * A global function, on purpose: the verifier checks it once, on its own, rather
 * than once per rule of the loop and path into it, which took the program from
 * about 85k to 590k processed instructions. The price, a call, is paid only by
 * rules that test more than proto and dport.
 */
__noinline int pd_rule_matches_more(struct __sk_buff *skb, const struct pd_rule *rule,
				    const struct pd_pkt *pkt, __u32 policy, __u32 index)
{
	__u32 match, n, j, type, len;
	int hit;

	/* Never NULL; the verifier wants it shown for a global function's pointers. */
	if (!rule || !pkt)
		return 0;
	match = rule->match;
	if ((match & PD_MATCH_TCP_FLAGS) &&
	    (pkt->tcp_flags & (rule->tcp_flags_mask | PD_NO_TCP)) != rule->tcp_flags_value)
		return 0;
	if (match & PD_MATCH_ICMP_TYPE) {
		type = pkt->icmp_type;
		if (type > 255 || !(rule->icmp_types[type >> 5] & (1u << (type & 31))))
			return 0;
	}
	if ((match & PD_MATCH_SPORT) && !pd_port_in(rule->sport, rule->nsport, pkt->sport))
		return 0;
	if (match & PD_MATCH_LENGTH) {
		n = rule->nlength;
		len = skb->len; /* the IP length, as the histogram counts it */
		hit = 0;
		for (j = 0; j < PD_MAX_LENGTH_RANGES; j++) {
			if (j >= n)
				break;
			if (len >= rule->length[j].lo && len <= rule->length[j].hi) {
				hit = 1;
				break;
			}
		}
		if (!hit)
			return 0;
	}
	if ((match & PD_MATCH_SRC) && !pd_src_matches(skb, policy, index))
		return 0;
	return 1;
}

/*
 * Rules that test only proto and dport (the common kind) take one test more
 * than before the other matches existed: the rest is out of their way.
 */
static __always_inline int pd_rule_matches(struct __sk_buff *skb, const struct pd_rule *rule,
					   const struct pd_pkt *pkt, __u32 policy, __u32 index)
{
	__u32 match = rule->match;

	if ((match & PD_MATCH_PROTO) && rule->proto != pkt->proto)
		return 0;
	if ((match & PD_MATCH_DPORT) && !pd_port_in(rule->dport, rule->ndport, pkt->dport))
		return 0;
	if (match & ~(PD_MATCH_PROTO | PD_MATCH_DPORT))
		return pd_rule_matches_more(skb, rule, pkt, policy, index);
	return 1;
}

/* pd_limit's answers. */
#define PD_LIMIT_CONFORM 0
#define PD_LIMIT_OVER 1
#define PD_LIMIT_TABLE_FULL 2 /* a new host, and no room in pd_host_buckets for it */

/* Compare-and-swap attempts on a bucket before the packet is let through. */
#define PD_LIMIT_TRIES 4

/*
 * GCRA on @b (see the ABI): conform and move tat on by @cost, or be over the
 * limit and leave it. The test is written so that nothing overflows: base >= now.
 */
static __always_inline int pd_gcra(struct pd_bucket *b, __u64 now, __u64 cost, __u64 burst)
{
	__u64 tat, base;
	int i;

	if (cost > burst)
		return PD_LIMIT_OVER;
	for (i = 0; i < PD_LIMIT_TRIES; i++) {
		tat = *(volatile __u64 *)&b->tat;
		base = tat > now ? tat : now;
		if (base - now > burst - cost)
			return PD_LIMIT_OVER;
		if (__sync_val_compare_and_swap(&b->tat, tat, base + cost) == tat)
			return PD_LIMIT_CONFORM;
	}
	/*
	 * Every try lost to another CPU: they are sending through this bucket
	 * right now, and each of their packets was charged. Letting this one
	 * through uncharged (fail open) beats dropping a packet the limit may
	 * well have allowed.
	 */
	return PD_LIMIT_CONFORM;
}

/* @addr (16 bytes, 8-byte aligned) keeps its first @bits bits, the rest cleared. */
static __always_inline void pd_mask6(__u8 *addr, __u32 bits)
{
	__u64 *half = (__u64 *)addr;
	__u64 hi = ~0ull, lo = ~0ull;

	/* No shift by 64: it is undefined, and BPF takes it modulo 64. */
	if (bits <= 64) {
		hi = bits ? ~0ull << (64 - bits) : 0;
		lo = 0;
	} else if (bits < 128) {
		lo = ~0ull << (128 - bits);
	}
	half[0] &= bpf_cpu_to_be64(hi);
	half[1] &= bpf_cpu_to_be64(lo);
}

/*
 * The rate limit of the matching pass rule @rule, for a packet to @dkey's
 * address: PD_LIMIT_CONFORM, PD_LIMIT_OVER or PD_LIMIT_TABLE_FULL.
 *
 * A global function, as pd_rule_matches_more and for the same reasons: the
 * verifier checks it once, and the rules without a limit (the loop tests
 * limit.kind before calling) pay nothing for it.
 */
__noinline int pd_limit(struct __sk_buff *skb, const struct pd_rule *rule,
			const struct pd_dest_key *dkey)
{
	struct pd_host_key hkey __attribute__((aligned(8))) = {};
	struct pd_bucket fresh;
	struct pd_bucket *b;
	__u64 n, interval, cost, burst, now;
	__u32 mask4;
	long err;

	if (!skb || !rule || !dkey)
		return PD_LIMIT_CONFORM;
	if (rule->limit.kind == PD_LIMIT_BYTES) {
		n = skb->len;
	} else {
		n = skb->gso_segs;
		if (!n)
			n = 1;
	}
	/*
	 * (interval * n) >> PD_INTERVAL_SHIFT, split so the low part cannot
	 * overflow (interval < 2^56, n < 2^24: no skb is 16 MB). The high
	 * part could, for the slowest rates and the largest skbs; but a cost
	 * over 2^60 is more than any bucket holds (the compiler keeps burst
	 * below it), so such a packet is over the limit before any sum.
	 */
	interval = rule->limit.interval;
	if (n >= 1u << 24 || (interval >> PD_INTERVAL_SHIFT) > (1ull << 60) / n)
		return PD_LIMIT_OVER;
	cost = (interval >> PD_INTERVAL_SHIFT) * n +
	       (((interval & ((1u << PD_INTERVAL_SHIFT) - 1)) * n) >> PD_INTERVAL_SHIFT);
	burst = rule->limit.burst;
	now = bpf_ktime_get_ns() << PD_TIME_SHIFT;

	hkey.counter = rule->counter;
	if (!rule->limit.per_host) {
		b = bpf_map_lookup_elem(&pd_rule_buckets, &hkey.counter);
		return b ? pd_gcra(b, now, cost, burst) : PD_LIMIT_CONFORM;
	}

	hkey.family = dkey->family;
	__builtin_memcpy(hkey.addr, dkey->addr, sizeof(hkey.addr));
	if (dkey->family == AF_INET) {
		mask4 = rule->limit.mask4;
		if (mask4 < 32)
			*(__u32 *)hkey.addr &= bpf_htonl(mask4 ? ~0u << (32 - mask4) : 0);
	} else {
		pd_mask6(hkey.addr, rule->limit.mask6);
	}
	b = bpf_map_lookup_elem(&pd_host_buckets, &hkey);
	if (b)
		return pd_gcra(b, now, cost, burst);

	/* No bucket yet: a full one, which the packet leaves at now + cost. */
	if (cost > burst)
		return PD_LIMIT_OVER;
	fresh.tat = now + cost;
	err = bpf_map_update_elem(&pd_host_buckets, &hkey, &fresh, BPF_NOEXIST);
	if (!err)
		return PD_LIMIT_CONFORM;
	if (err == -EEXIST) {
		/* Another CPU created it since the lookup: charge that one. */
		b = bpf_map_lookup_elem(&pd_host_buckets, &hkey);
		return b ? pd_gcra(b, now, cost, burst) : PD_LIMIT_CONFORM;
	}
	if (err == -E2BIG || err == -ENOMEM)
		return PD_LIMIT_TABLE_FULL;
	/* -EBUSY (the bucket's lock held by this CPU, from an NMI): not the host's fault. */
	return PD_LIMIT_CONFORM;
}

/* pd_guard's answers: the verdict stands, the quota is over, or pd_hosts is full. */
#define PD_GUARD_OK 0
#define PD_GUARD_QUOTA 1
#define PD_GUARD_TABLE_FULL 2

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
 * The quota and the block accounting of a packet to @dkey under the policy in
 * @slot, whose rules gave the verdict @drop (before monitor mode: a would-drop is
 * a drop here). Called for policies with quota.bytes or block.kind set, never for
 * a blocked host's packet. Returns PD_GUARD_OK, PD_GUARD_QUOTA (over the quota:
 * drop) or PD_GUARD_TABLE_FULL (a passing packet, and no room in pd_hosts).
 *
 * The quota charges passing packets only, and takes back what it drops, so used
 * is what passed (in monitor mode: what enforcing would have passed). The block
 * counts the verdict after the quota: a packet the quota drops is a drop.
 *
 * A global function, as pd_limit, for the same reasons.
 */
__noinline int pd_guard(struct __sk_buff *skb, const struct pd_policy *pol,
			const struct pd_dest_key *dkey, __u32 slot, int drop)
{
	struct pd_hosts_key hkey __attribute__((aligned(8))) = {};
	struct pd_host_state *st = NULL;
	struct pd_policy_quota *pq;
	__u64 len, n, now, period, used, qbytes, period_ns, *q_period, *q_used;
	int ret = PD_GUARD_OK, full = 0;
	__u8 kind;

	if (!skb || !pol || !dkey)
		return PD_GUARD_OK;
	len = skb->len;
	qbytes = pol->quota.bytes;
	kind = pol->block.kind;
	pd_hosts_key_of(&hkey, dkey, slot);

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
		*(volatile __u64 *)&st->blocked_until = now + pol->block.duration_ns;
		__sync_fetch_and_add(&st->blocks, 1);
	}
	return ret;
}

/*
 * Histogram bucket of an IP length: 0 for len <= 64, i for 64 << (i - 1) < len <=
 * 64 << i, the last bucket for everything longer. That is the bit length of
 * (len - 1) >> 6, found by halving in four fixed steps: no loop, no table.
 */
static __always_inline __u32 pd_hist_bucket(__u32 len)
{
	__u32 v = (len - !!len) >> PD_HIST_MIN_SHIFT;
	__u32 r, s;

	r = (v > 0xffff) << 4;
	v >>= r;
	s = (v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (v > 0x3) << 1;
	v >>= s;
	r |= s;
	/* r is now floor(log2(v)) for v > 0; the bit length is r + 1, or 0 for v == 0. */
	r = r + (v >> 1) + !!v;
	return r < PD_HIST_BUCKETS - 1 ? r : PD_HIST_BUCKETS - 1;
}

/*
 * @would_drop: a drop verdict that monitor mode let pass (@drop is then 0);
 * @table_full: a new host met a full pd_host_buckets (passed or dropped).
 */
static __always_inline void pd_count(struct pd_counters *c, __u64 packets, __u64 bytes, int drop,
				     int would_drop, __u32 reason, int table_full)
{
	c->packets += packets;
	c->bytes += bytes;
	if (table_full)
		c->table_full_packets += packets;
	if (drop) {
		c->dropped_packets += packets;
		c->dropped_bytes += bytes;
		c->dropped_reason[reason] += packets;
	} else {
		c->passed_packets += packets;
		c->passed_bytes += bytes;
		if (would_drop) {
			c->would_drop_packets += packets;
			c->would_drop_bytes += bytes;
		}
	}
}

/* The trie's answer for @key in the generation key->gen: a policy slot or PD_SLOT_NONE. */
static __always_inline __u32 pd_dest_lookup(const struct pd_dest_key *key)
{
	const struct pd_dest_val *dest = bpf_map_lookup_elem(&pd_dest, key);

	return dest ? dest->policy : PD_SLOT_NONE;
}

/*
 * A cache entry is used only if it was written in this packet's epoch for this
 * packet's destination. LRU elements are reused at once: one evicted or replaced on
 * another CPU can be rewritten for another host (key, then value, by a memcpy of no
 * promised order or width: rep movsb on x86 with FSRM, else front to back) while
 * this packet still holds a pointer to it. Hence epoch and slot in one 64-bit load,
 * then, after a barrier, the address: a rewrite done before the first load, or
 * between the two, fails the address check; one after both leaves a pair this host's
 * insert wrote. Left open, as no order of loads can close it (the element does hold
 * the mix for a moment): a copy caught half done, new epoch and slot (or part of
 * them) stored, new address not yet, with both loads in between; or an element
 * reused twice, back to this host, between the loads. Either takes an element
 * evicted and rewritten on another CPU within nanoseconds of this read, and gives
 * this one packet another host's slot. x86 keeps the loads in order; a weakly
 * ordered CPU (arm64) may not, and there any rewrite between them gets through.
 */
static __always_inline int pd_dcache_tag(const struct pd_dcache_val *entry, __u32 epoch,
					 __u32 *slot)
{
	union {
		__u64 word;
		struct {
			__u32 epoch;
			__u32 slot;
		} f;
	} snap;

	if (pd_cache_off == PD_CACHE_NO_HITS)
		return 0;
	snap.word = *(const volatile __u64 *)entry;
	if (snap.f.epoch != epoch)
		return 0;
	*slot = snap.f.slot;
	barrier();
	return 1;
}

static __always_inline int pd_dcache_valid4(const struct pd_dcache_val *entry, __u32 epoch,
					    __u32 addr, __u32 *slot)
{
	return pd_dcache_tag(entry, epoch, slot) && *(const volatile __u32 *)entry->addr == addr;
}

static __always_inline int pd_dcache_valid6(const struct pd_dcache_val *entry, __u32 epoch,
					    const __u64 *addr, __u32 *slot)
{
	const volatile __u64 *cached = (const volatile __u64 *)entry->addr;

	return pd_dcache_tag(entry, epoch, slot) && cached[0] == addr[0] && cached[1] == addr[1];
}

/*
 * The policy slot of the packet's destination in @epoch, or PD_SLOT_NONE.
 *
 * Why a racing insert is harmless: a packet that read epoch E before the daemon
 * bumped it to E + 1 may still insert {E, slot found in generation E % 2} after the
 * bump, even over an entry a newer packet wrote with E + 1. Every packet that read
 * E + 1 (or later) compares the tag, sees E, and goes to the trie: an entry is only
 * ever trusted in the epoch it names, whose generation is the one its slot came
 * from; the daemon never rewrites the live generation, nor the one it retired
 * before pd_sync's grace period, so that slot was the right one for that epoch.
 * The worst a race costs is one more trie lookup. Tags are 32 bits: an untouched
 * entry would come back to life only after exactly 2^32 applies.
 *
 * The two families are two functions, not one taking the map as an argument: one
 * call site per map lets the verifier inline each hash lookup.
 */
static __always_inline __u32 pd_dest_slot4(const struct pd_dest_key *key, __u32 epoch)
{
	struct pd_dcache_val val = { .epoch = epoch };
	const struct pd_dcache_val *entry;
	__u32 addr = *(const __u32 *)key->addr;
	__u32 slot;

	if (pd_cache_off == PD_CACHE_BYPASS)
		return pd_dest_lookup(key);
	if (pd_cache_off == PD_CACHE_NEW_HOSTS)
		addr = bpf_get_prandom_u32();
	entry = bpf_map_lookup_elem(&pd_dcache4, &addr);
	if (entry && pd_dcache_valid4(entry, epoch, addr, &slot))
		return slot;
	val.slot = pd_dest_lookup(key);
	*(__u32 *)val.addr = addr;
	/* A failed insert (-EBUSY under a bucket lock) only costs the next packet a lookup. */
	bpf_map_update_elem(&pd_dcache4, &addr, &val, BPF_ANY);
	return val.slot;
}

/* @key is 8-byte aligned (see policyd_out): its address is read as two __u64. */
static __always_inline __u32 pd_dest_slot6(const struct pd_dest_key *key, __u32 epoch)
{
	struct pd_dcache_val val = { .epoch = epoch };
	const struct pd_dcache_val *entry;
	__u32 slot;

	if (pd_cache_off == PD_CACHE_BYPASS)
		return pd_dest_lookup(key);
	/* The key's address bytes are the cache key as they are: no copy on a hit. */
	entry = bpf_map_lookup_elem(&pd_dcache6, key->addr);
	if (entry && pd_dcache_valid6(entry, epoch, (const __u64 *)key->addr, &slot))
		return slot;
	val.slot = pd_dest_lookup(key);
	__builtin_memcpy(val.addr, key->addr, sizeof(val.addr));
	bpf_map_update_elem(&pd_dcache6, key->addr, &val, BPF_ANY);
	return val.slot;
}

SEC("lwt_out")
int policyd_out(struct __sk_buff *skb)
{
	/* Aligned for pd_dest_slot6's 64-bit loads: stack accesses must be aligned. */
	struct pd_dest_key key __attribute__((aligned(8))) = {};
	struct pd_pkt pkt = {
		.dport = PD_NO_PORT,
		.sport = PD_NO_PORT,
		.tcp_flags = PD_NO_TCP,
		.icmp_type = PD_NO_ICMP,
	};
	const struct pd_policy *pol;
	const struct pd_config *cfg;
	struct pd_policy_stats *pst;
	struct pd_counters *rst;
	__u32 zero = 0, idx, counter, reason, bucket, epoch, gen, slot, nrules, i;
	const struct pd_rule *rule;
	__u64 packets, bytes;
	int drop, would_drop, limit = PD_LIMIT_CONFORM, table_full = 0, res;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (pd_parse_ipv4(skb, &key, &pkt))
			return BPF_OK;
		key.prefixlen = PD_DEST_KEY_HDR_BITS + 32;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (pd_parse_ipv6(skb, &key, &pkt))
			return BPF_OK;
		key.prefixlen = PD_DEST_KEY_HDR_BITS + 128;
	} else {
		return BPF_OK;
	}

	cfg = bpf_map_lookup_elem(&pd_config, &zero);
	if (!cfg)
		return BPF_OK;
	/* Read once: the generation searched and the cache tag must be the same epoch's. */
	epoch = *(const volatile __u32 *)&cfg->epoch;
	gen = epoch % PD_GENERATIONS;
	key.gen = gen;

	/* A route may cover more than the policies' destinations (a /16 route, a /24
	 * destination): traffic no policy names passes untouched and uncounted. */
	if (key.family == AF_INET)
		slot = pd_dest_slot4(&key, epoch);
	else
		slot = pd_dest_slot6(&key, epoch);
	if (slot >= PD_MAX_POLICIES)
		return BPF_OK;
	idx = gen * PD_MAX_POLICIES + slot;
	pol = bpf_map_lookup_elem(&pd_policies, &idx);
	if (!pol || !(pol->flags & PD_POLICY_ACTIVE))
		return BPF_OK;

	drop = pol->default_verdict == PD_DROP;
	counter = pol->default_counter;
	reason = PD_REASON_DEFAULT;
	nrules = pol->nrules;
	/*
	 * A blocked host: no rule is asked, and the count goes to the default
	 * counter. Straight to the counting, so the verifier does not walk the
	 * rules again for this path.
	 */
	if (pol->block.kind != PD_BLOCK_NONE && pd_blocked(&key, slot)) {
		drop = 1;
		reason = PD_REASON_BLOCKED;
		goto count;
	}
	/*
	 * A plain bounded loop: the verifier walks each iteration, but the states of
	 * the non-matching branches within one iteration are equal and get pruned,
	 * so 64 rules x 16 ranges stays far below the complexity limit (about 75k
	 * instructions processed on 6.18, of 1M, pd_rule_matches_more included; 218k
	 * with the quota and block, whose call and three outcomes after the loop the
	 * verifier walks once per rule that can end it), and
	 * the JIT runs a tight loop with no per-rule indirect call as bpf_loop()
	 * would cost.
	 */
	for (i = 0; i < PD_MAX_RULES; i++) {
		if (i >= nrules)
			break;
		rule = &pol->rules[i];
		if (pd_rule_matches(skb, rule, &pkt, idx, i)) {
			drop = rule->action == PD_DROP;
			counter = rule->counter;
			reason = PD_REASON_RULE;
			if (!drop && rule->limit.kind != PD_LIMIT_NONE)
				limit = pd_limit(skb, rule, &key);
			break;
		}
	}
	if (limit != PD_LIMIT_CONFORM) {
		if (limit == PD_LIMIT_OVER) {
			reason = PD_REASON_LIMIT;
		} else {
			table_full = 1;
			reason = PD_REASON_TABLE_FULL;
		}
		drop = limit == PD_LIMIT_OVER || pol->table_full_verdict == PD_DROP;
	}
	/* Policies without quota or block pay this test and nothing more. */
	if (pol->quota.bytes || pol->block.kind != PD_BLOCK_NONE) {
		res = pd_guard(skb, pol, &key, slot, drop);
		if (res == PD_GUARD_QUOTA) {
			drop = 1;
			reason = PD_REASON_QUOTA;
		} else if (res == PD_GUARD_TABLE_FULL) {
			table_full = 1;
			reason = PD_REASON_TABLE_FULL;
			drop = pol->table_full_verdict == PD_DROP;
		}
	}

count:
	/* Monitor mode: the verdict is counted, not carried out (a limit's, a
	 * quota's or a block's too, though the bucket, quota and block window were
	 * charged: the count is what enforcing would do). */
	would_drop = drop && (pol->flags & PD_POLICY_MONITOR);
	if (would_drop)
		drop = 0;

	/* A GSO skb is one call for many wire packets. */
	packets = skb->gso_segs;
	if (!packets)
		packets = 1;
	bytes = skb->len;

	/* Per-CPU values: this CPU's copy is ours for the whole run, no atomics. */
	pst = bpf_map_lookup_elem(&pd_policy_stats, &slot);
	if (pst) {
		pd_count(&pst->c, packets, bytes, drop, would_drop, reason, table_full);
		bucket = pd_hist_bucket(skb->len);
		pst->hist[bucket] += packets;
	}
	rst = bpf_map_lookup_elem(&pd_rule_stats, &counter);
	if (rst)
		pd_count(rst, packets, bytes, drop, would_drop, reason, table_full);

	return drop ? BPF_DROP : BPF_OK;
}
