// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyd's data path: the LWT_OUT program attached to policied routes. It finds
 * the packet's destination policy by longest-prefix match (through a per-host
 * cache), evaluates the policy's rules in order (first match decides), counts,
 * and returns BPF_OK or BPF_DROP.
 */
#include <linux/bpf.h>
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
 * What the rules may look at. dport is in host order, or PD_NO_PORT when the
 * packet has none: above every range's hi, so a dport rule fails on it without
 * a separate test.
 */
#define PD_NO_PORT 0x10000u

struct pd_pkt {
	__u32 dport;
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

/* Only these carry a destination port, and all three at offset 2. */
static __always_inline int pd_proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

static __always_inline void pd_load_ports(struct __sk_buff *skb, __u32 l4off, struct pd_pkt *pkt)
{
	const __be16 *ports;
	__be16 buf[2];

	if (!pd_proto_has_ports(pkt->proto))
		return;
	/* A header cut short (a truncated packet) has no ports: dport rules skip it. */
	ports = pd_header(skb, l4off, buf, sizeof(buf));
	if (!ports)
		return;
	pkt->dport = bpf_ntohs(ports[1]);
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
	pd_load_ports(skb, ihl * 4, pkt);
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
	pd_load_ports(skb, off, pkt);
	return 0;
}

static __always_inline int pd_rule_matches(const struct pd_rule *rule, const struct pd_pkt *pkt)
{
	__u32 n;
	__u32 j;

	if ((rule->match & PD_MATCH_PROTO) && rule->proto != pkt->proto)
		return 0;
	if (!(rule->match & PD_MATCH_DPORT))
		return 1;
	n = rule->ndport;
	for (j = 0; j < PD_MAX_PORT_RANGES; j++) {
		if (j >= n)
			break;
		if (pkt->dport >= rule->dport[j].lo && pkt->dport <= rule->dport[j].hi)
			return 1;
	}
	return 0;
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

static __always_inline void pd_count(struct pd_counters *c, __u64 packets, __u64 bytes, int drop,
				     __u32 reason)
{
	c->packets += packets;
	c->bytes += bytes;
	if (drop) {
		c->dropped_packets += packets;
		c->dropped_bytes += bytes;
		c->dropped_reason[reason] += packets;
	} else {
		c->passed_packets += packets;
		c->passed_bytes += bytes;
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
	struct pd_pkt pkt = { .dport = PD_NO_PORT };
	const struct pd_policy *pol;
	const struct pd_config *cfg;
	struct pd_policy_stats *pst;
	struct pd_counters *rst;
	__u32 zero = 0, idx, counter, reason, bucket, epoch, gen, slot, nrules, i;
	__u64 packets, bytes;
	int drop;

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
	 * A plain bounded loop: the verifier walks each iteration, but the states of
	 * the non-matching branches within one iteration are equal and get pruned,
	 * so 64 rules x 16 ranges stays far below the complexity limit (about 86k
	 * instructions processed on 6.18, of 1M), and the JIT runs a tight loop with
	 * no per-rule indirect call as bpf_loop() would cost.
	 */
	for (i = 0; i < PD_MAX_RULES; i++) {
		if (i >= nrules)
			break;
		if (pd_rule_matches(&pol->rules[i], &pkt)) {
			drop = pol->rules[i].action == PD_DROP;
			counter = pol->rules[i].counter;
			reason = PD_REASON_RULE;
			break;
		}
	}

	/* A GSO skb is one call for many wire packets. */
	packets = skb->gso_segs;
	if (!packets)
		packets = 1;
	bytes = skb->len;

	/* Per-CPU values: this CPU's copy is ours for the whole run, no atomics. */
	pst = bpf_map_lookup_elem(&pd_policy_stats, &slot);
	if (pst) {
		pd_count(&pst->c, packets, bytes, drop, reason);
		bucket = pd_hist_bucket(skb->len);
		pst->hist[bucket] += packets;
	}
	rst = bpf_map_lookup_elem(&pd_rule_stats, &counter);
	if (rst)
		pd_count(rst, packets, bytes, drop, reason);

	return drop ? BPF_DROP : BPF_OK;
}
