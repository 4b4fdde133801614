/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one contract between the LWT_OUT program and userspace: map names,
 * key and value layouts, flags. Fixed-width types only, explicit padding,
 * every map key and value size asserted, so both compilers agree.
 */
#ifndef POLICYD_POLICY_ABI_H
#define POLICYD_POLICY_ABI_H

#include <linux/types.h>

/* Capacities. Changing one changes a map's shape: pinned maps from an older
 * build are then refused at load, never silently reinterpreted. */
#define PD_MAX_POLICIES 256
#define PD_MAX_RULES 64
#define PD_MAX_PORT_RANGES 16
#define PD_MAX_LENGTH_RANGES 4
#define PD_MAX_SRCS 65536 /* src prefixes, all rules of all policies, one generation */
#define PD_MAX_DESTS 262144 /* destination prefixes, all policies, one generation */
#define PD_MAX_RULE_COUNTERS (PD_MAX_POLICIES * (PD_MAX_RULES + 1))
#define PD_NAME_MAX 32 /* policy and rule names, without the NUL */
#define PD_GENERATIONS 2
/* pd_host_way.slot of a destination no policy covers. */
#define PD_SLOT_NONE 0xffffffffu

/* Packet-length histogram: bucket i counts IP lengths <= 64 << i; the last
 * bucket counts everything longer than 64 << (PD_HIST_BUCKETS - 2). */
#define PD_HIST_BUCKETS 12
#define PD_HIST_MIN_SHIFT 6

/* Map names, as seen by bpftool and as pinned under the daemon's bpffs dir. */
#define PD_MAP_CONFIG "pd_config"
#define PD_MAP_DEST "pd_dest"
#define PD_MAP_POLICIES "pd_policies"
#define PD_MAP_POLICY_STATS "pd_policy_stats"
#define PD_MAP_RULE_STATS "pd_rule_stats"
#define PD_MAP_SYNC "pd_sync"
#define PD_MAP_SRC "pd_src"
#define PD_MAP_RULE_BUCKETS "pd_rule_buckets"
#define PD_MAP_HOSTS "pd_hosts"
#define PD_MAP_POLICY_QUOTA "pd_policy_quota"
#define PD_MAP_REALM_STATS "pd_realm_stats"
#define PD_MAP_HOST_BUCKETS "pd_host_buckets"
#define PD_MAP_DCACHE4 "pd_dcache4"
#define PD_MAP_DCACHE6 "pd_dcache6"
#define PD_MAP_HOST_SEED "pd_host_seed"
#define PD_MAP_EVENTS "pd_events"
#define PD_MAP_EVENT_CAPS "pd_event_caps"
#define PD_MAP_MISC_STATS "pd_misc_stats"
#define PD_MAP_CLOCK "pd_clock"
#define PD_MAP_QUOTA_CLOCK "pd_quota_clock"
#define PD_PROG_NAME "policyd_out"

enum pd_verdict {
	PD_PASS = 0,
	PD_DROP = 1,
};

enum pd_reason {
	PD_REASON_RULE = 0,
	PD_REASON_DEFAULT,
	PD_REASON_LIMIT,
	PD_REASON_QUOTA,
	PD_REASON_BLOCKED,
	PD_REASON_TABLE_FULL,
	PD_REASON_MAX,
};

/*
 * pd_config[0]. The daemon writes a complete new generation of
 * pd_dest/pd_policies beside the live one, then bumps this one word: no
 * packet ever sees half an apply. The generation in use is epoch % 2; the
 * epoch itself also tags pd_dcache entries, so a cached lookup from before
 * an apply is never trusted after it (one 32-bit read: no torn update).
 */
struct pd_config {
	__u32 epoch;
	__u32 flags; /* PD_CONFIG_*, written with the epoch */
	/* Drop events, and log events, each at most this many per second, per
	 * policy and CPU; more are counted in pd_misc_stats.events_capped. */
	__u32 event_cap;
	/*
	 * The resolution of the kernel's coarse clock (bpf_ktime_get_coarse_ns,
	 * CLOCK_MONOTONIC_COARSE: one tick), written by the daemon at start; 0:
	 * limits never use that clock. See PD_COARSE_TICKS.
	 */
	__u32 coarse_ns;
	/*
	 * Explain (policyctl explain): a BPF_PROG_TEST_RUN whose ctx_in has
	 * cb[0] = the low and cb[1] = the high half of this random, nonzero
	 * key runs without side effects (no counter, bucket, quota, block,
	 * cache entry or event is touched) and reports in ctx_out's cb[]
	 * (PD_EXPLAIN_*). The daemon draws a new key at each start; 0 turns
	 * explaining off. Packets on a route never carry it: skb->cb there
	 * holds the IP layer's own control block, and the key is secret.
	 */
	__u64 explain_key;
};

#define PD_DEFAULT_EVENT_CAP 100

/* Some route of the applied set has a realm: count realms (the helper call
 * is paid only then). */
#define PD_CONFIG_REALMS (1u << 0)

/*
 * pd_dcache4 and pd_dcache6: the per-host table, one per family.
 * PERCPU_ARRAY of sets (key: the set's index), each of PD_HOST_WAYS ways;
 * max_entries = pd_host_sets(policyd --hosts). Each CPU keeps its own hosts
 * in its own copy, and only its programs write it (the daemon aside: reset
 * and release rewrite whole sets). A host's set is the low bits of its
 * address's pd_host_hash under pd_host_seed; the program finds the way by comparing the
 * set's addresses, all in its first 64 bytes: no hash helper, and the
 * verifier inlines the array lookup. A way whose address is zero is free
 * (the unspecified address is never given one);
 * a miss takes a free way, else the one its CPU saw last longest ago
 * (counted in pd_misc_stats.hosts_evicted). A way caches the pd_dest lookup
 * for the address (so a flow's packets after the first skip the trie; valid
 * only while epoch matches) and counts that CPU's packets to the host. The
 * counters survive an epoch change (the tag is rewritten in place); they
 * cover only packets some policy governs (an address no policy covers has a
 * way, slot PD_SLOT_NONE, counting nothing). A reader sums a host over the
 * ways of every CPU's copy of the set that hold its address.
 */
#define PD_HOST_WAYS 4

struct pd_host_way {
	__u32 epoch;
	__u32 slot; /* PD_SLOT_NONE: no policy covers the address */
	/* This CPU's packets to the host (wire packets, as pd_counters). */
	__u64 packets;
	__u64 bytes;
	__u64 last_seen; /* bpf_ktime_get_coarse_ns() of the last packet */
	__u64 would_drop; /* packets: monitor mode let a drop verdict pass */
	__u64 dropped[PD_REASON_MAX]; /* packets, by reason */
};

struct pd_host_set {
	/* The ways' hosts (IPv4 in the first four bytes), zero: free. */
	__u8 addr[PD_HOST_WAYS][16];
	struct pd_host_way way[PD_HOST_WAYS];
};

/* Sets for @hosts hosts (per CPU): at least hosts / PD_HOST_WAYS, a power of two. */
static inline __attribute__((always_inline)) __u32 pd_host_sets(__u32 hosts)
{
	__u32 sets = 1;

	while (sets < (hosts + PD_HOST_WAYS - 1) / PD_HOST_WAYS && sets < (1u << 30))
		sets <<= 1;
	return sets;
}

/*
 * pd_host_seed[0] (ARRAY): what the sets are chosen by, drawn at random by the
 * daemon when it makes the per-host tables, and dropped with them: without
 * it, a sender could pick destinations that share a set and push a host out.
 * A mix, not a cryptographic hash: the seed is secret and evictions are not
 * seen from outside.
 */
struct pd_host_seed {
	__u64 seed;
};

static inline __attribute__((always_inline)) __u64 pd_host_mix(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/*
 * The hash of an address under @seed: its 16 bytes (IPv4 in the first four,
 * the rest zero) as two 64-bit words in memory order. Its low bits are the
 * host's set in pd_dcache4/6; pd_host_key_set derives a key's set from it.
 */
static inline __attribute__((always_inline)) __u64 pd_host_hash(__u64 hi, __u64 lo, __u64 seed)
{
	return pd_host_mix((hi ^ seed) + lo * 0x9e3779b97f4a7c15ull);
}

/*
 * pd_dest key. The LPM trie matches on the bits after prefixlen, so the
 * generation and family lead the data: prefixlen = 32 + prefix length, and a
 * lookup uses 32 + 128 with the packet's destination.
 */
struct pd_dest_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 pad[2];
	__u8 addr[16]; /* IPv4 in the first four bytes, rest zero */
};
#define PD_DEST_KEY_HDR_BITS 32

struct pd_dest_val {
	__u32 policy; /* slot in pd_policies (within the generation) */
	__u32 pad;
};

struct pd_port_range {
	__u16 lo; /* host byte order, inclusive */
	__u16 hi;
};

/* pd_rule.match: which conditions the rule tests (all must hold). */
#define PD_MATCH_PROTO (1u << 0)
#define PD_MATCH_DPORT (1u << 1)
#define PD_MATCH_SPORT (1u << 2)
#define PD_MATCH_SRC (1u << 3) /* the source is in one of the rule's pd_src prefixes */
#define PD_MATCH_LENGTH (1u << 4) /* IP packet length in one of length[] */
#define PD_MATCH_TCP_FLAGS (1u << 5) /* TCP, and (flags & mask) == value */
#define PD_MATCH_ICMP_TYPE (1u << 6) /* ICMP or ICMPv6 (as proto), type's bit set */

/*
 * Rate limits are GCRA ("virtual scheduling"), equivalent to a token bucket
 * that starts full, holds at most burst and refills continuously at rate
 * (nftables' limit): one 64-bit "theoretical arrival time" (TAT) per
 * bucket, updated with a compare-and-swap, so two CPUs hitting one bucket
 * never lose an update and no lock is needed (nor wanted: a bucket in a
 * shared array's way is reached by every CPU, and a spin lock per packet
 * would serialize them).
 *
 * Times are in 1/16 ns (ktime << PD_TIME_SHIFT: wraps after 36 years of
 * uptime). pd_limit.interval is the cost of one packet or one byte in
 * 1/(16 * 256) ns, so high byte rates keep precision: a packet costs
 * (interval * n) >> PD_INTERVAL_SHIFT time units, n = wire packets or
 * bytes; interval < 2^56 (a packet or byte per 4.9 hours at the slowest)
 * and burst < 2^60. A packet conforms when max(tat, now) + cost - now <= burst (burst
 * in time units: the bucket's depth); it then moves tat to max(tat, now) +
 * cost.
 */
#define PD_TIME_SHIFT 4
#define PD_INTERVAL_SHIFT 8

/*
 * The time of a bucket whose depth (burst) spans at least PD_COARSE_TICKS
 * ticks of the coarse clock (pd_config.coarse_ns) is that clock's, read once a
 * tick per CPU (struct pd_clock), where bpf_ktime_get_ns costs 20 ns or more
 * in a VM; shallower buckets read the nanosecond clock. The coarse clock is
 * the monotonic one as of the last tick, up to one tick behind it (two, for a
 * reading kept from between the jiffies and the timekeeper updates), and by
 * an amount that varies from packet to packet. Such a bucket is an exact one
 * on a clock that is late by 0 to L (a tick, or two): over any span of time
 * it passes at most L's worth of tokens more, or fewer, than the exact bucket
 * (a packet drained at a late reading, the next one at an on-time reading,
 * is credited up to L of refill in no time at all); that is at most
 * 1/PD_COARSE_TICKS of the burst, twice that in the race. Under a steady
 * overload it passes exactly the rate (L is less than the depth: no refill
 * is lost).
 */
#define PD_COARSE_TICKS 16

enum pd_limit_kind {
	PD_LIMIT_NONE = 0,
	PD_LIMIT_PACKETS,
	PD_LIMIT_BYTES,
};

struct pd_limit {
	__u8 kind; /* enum pd_limit_kind */
	__u8 per_host; /* 1: one bucket per destination host (group), in pd_host_buckets */
	__u8 mask4; /* per_host: IPv4 hosts grouped by this prefix length (default 32) */
	__u8 mask6; /* per_host: IPv6 hosts grouped by this prefix length (default 64) */
	__u32 pad;
	__u64 interval; /* per packet or byte, in 1/(16 * 256) ns */
	__u64 burst; /* bucket depth in 1/16 ns */
};

/* pd_rule_buckets[rule counter] (ARRAY): the bucket of a per-rule limit. */
struct pd_bucket {
	__u64 tat; /* 1/16 ns; 0 = full */
};

/* A per-host bucket's key: the rule and the destination host (group). */
struct pd_host_key {
	__u32 counter; /* the rule's counter index: one bucket per rule and host */
	__u8 family;
	__u8 pad[3];
	__u8 addr[16]; /* destination, masked to mask4/mask6 */
};
#define PD_DEFAULT_HOSTS 65536

/*
 * pd_host_buckets: per-host buckets, shared by the CPUs. ARRAY of sets of
 * PD_BUCKET_WAYS ways (key: the set's index), max_entries =
 * pd_host_sets(policyd --hosts), BPF_F_MMAPABLE (the daemon frees ways with
 * atomics). A key's set is pd_host_key_set under pd_host_seed. A way is
 * free when the first word of its key is 0 (a key's family never is), taken
 * while that word is PD_BUCKET_BUSY, and its key's otherwise. A bucket that
 * has refilled (tat at or before now) says what no bucket says, so its way
 * may be given to another key: a new key takes a free way, else a refilled
 * one; a set with neither is full for it, and it gets the policy's
 * table_full verdict, counted as reason table-full.
 */
#define PD_BUCKET_WAYS 4
#define PD_BUCKET_BUSY (0xffull << 32) /* family 0xff: a way being taken */

struct pd_bucket_way {
	struct pd_host_key key;
	struct pd_bucket b;
};

struct pd_bucket_set {
	struct pd_bucket_way way[PD_BUCKET_WAYS];
};

/*
 * The set of a 24-byte key (struct pd_host_key, struct pd_hosts_key) whose
 * address has the pd_host_hash @hash and whose first 64-bit word is @w0: one
 * multiply more, so a packet hashes its destination once for all three
 * tables (a masked bucket's address has a hash of its own).
 */
static inline __attribute__((always_inline)) __u32 pd_host_key_set(__u64 hash, __u64 w0, __u32 mask)
{
	return (__u32)(hash ^ (w0 * 0xc2b2ae3d27d4eb4full)) & mask;
}

/* A key's first 64-bit word, of its first field (counter, slot) and family. */
static inline __attribute__((always_inline)) __u64 pd_key_w0(__u32 id, __u8 family)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u64)id | (__u64)family << 32;
#else
	return (__u64)id << 32 | (__u64)family << 24;
#endif
}

/* pd_rule.flags */
#define PD_RULE_LOG (1u << 0) /* log: true: an event per match (rate-capped) */

/* TCP flag bits as in the header's 13th byte. */
#define PD_TCP_FIN 0x01
#define PD_TCP_SYN 0x02
#define PD_TCP_RST 0x04
#define PD_TCP_PSH 0x08
#define PD_TCP_ACK 0x10
#define PD_TCP_URG 0x20

struct pd_rule {
	__u32 counter; /* index in pd_rule_stats */
	__u32 match; /* PD_MATCH_* */
	__u8 action; /* enum pd_verdict */
	__u8 proto; /* IP protocol number (next header for IPv6) */
	__u8 ndport; /* used entries of dport[] */
	__u8 nsport; /* used entries of sport[] */
	__u8 nlength; /* used entries of length[] */
	__u8 tcp_flags_mask;
	__u8 tcp_flags_value;
	__u8 flags; /* PD_RULE_* */
	struct pd_port_range dport[PD_MAX_PORT_RANGES];
	struct pd_port_range sport[PD_MAX_PORT_RANGES];
	struct pd_port_range length[PD_MAX_LENGTH_RANGES]; /* IP length, inclusive */
	__u32 icmp_types[8]; /* bit t of the 256: ICMP(v6) type t matches */
	struct pd_limit limit; /* only on pass rules: over the limit is dropped (reason limit) */
};

/*
 * pd_src (LPM_TRIE, BPF_F_NO_PREALLOC, PD_GENERATIONS * PD_MAX_SRCS): the
 * src prefixes of rules with PD_MATCH_SRC. The rule's identity leads the
 * data, so one trie serves every rule: prefixlen = PD_SRC_KEY_HDR_BITS +
 * prefix length; a lookup uses PD_SRC_KEY_HDR_BITS + 128 with the packet's
 * source. The value is unused (a hit is the answer).
 */
struct pd_src_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 rule; /* index of the rule in its policy */
	__u8 pad;
	__u32 slot; /* policy slot */
	__u8 addr[16];
};
#define PD_SRC_KEY_HDR_BITS 64

/*
 * Quotas and behavioural blocking (SPEC §4 quota:, block:). Periods of a
 * quota are counted from the Unix epoch on the TAI clock
 * (bpf_ktime_get_tai_ns(): UTC plus the TAI offset an NTP daemon sets,
 * 0 by default, 37 s now), so a 1d quota resets at midnight UTC less that
 * offset, and a 30d one every 30 days from 1970, not on calendar months. Block windows and
 * expiries use the monotonic clock (bpf_ktime_get_ns()).
 */
struct pd_quota {
	__u64 bytes; /* budget per period; 0: no quota */
	__u64 period_ns;
	__u8 per_host; /* 1: a budget per destination host; 0: one for the policy */
	__u8 pad[7];
};

enum pd_block_kind {
	PD_BLOCK_NONE = 0,
	PD_BLOCK_DROPS, /* drops of any reason but blocked */
	PD_BLOCK_PACKETS,
	PD_BLOCK_BYTES,
};

struct pd_block {
	__u64 threshold; /* drops, packets or bytes within the window that block */
	__u64 window_ns;
	__u64 duration_ns; /* a block lasts this long from when it starts: never refreshed */
	__u8 kind; /* enum pd_block_kind */
	__u8 pad[7];
};

/* A policy's per-host state's key in pd_hosts (see pd_hosts_set). */
struct pd_hosts_key {
	__u32 slot; /* policy slot */
	__u8 family;
	__u8 pad[3];
	__u8 addr[16]; /* destination address, not masked */
};

/* The times in it are the packets' coarse clock (bpf_ktime_get_coarse_ns):
 * monotonic ns as of the last tick. */
struct pd_host_state {
	__u64 quota_period; /* the period quota_used counts in */
	__u64 quota_used; /* bytes passed in it */
	__u64 window_start; /* monotonic ns: start of the block window */
	__u64 window_count; /* drops, packets or bytes in that window */
	__u64 blocked_until; /* monotonic ns; 0 or past: not blocked */
	__u64 blocks; /* times this host was blocked */
	/* Monotonic ns until which quota_period is known to be the current
	 * period, so a packet before it reads no TAI clock; at most a second
	 * after it was computed (a step of the TAI clock shows within that).
	 * 0: compute it on the next packet. */
	__u64 quota_recheck;
};

/*
 * pd_hosts: a policy's per-host state, for a per-host quota and for
 * blocking, shared by the CPUs. ARRAY of sets of PD_HOSTS_WAYS ways (key: the
 * set's index), max_entries = pd_host_sets(policyd --hosts), BPF_F_MMAPABLE
 * (the daemon frees ways and lifts blocks with atomics). A key's set is
 * pd_host_key_set under pd_host_seed, and a way is free, being taken or
 * a key's as in pd_host_buckets (PD_BUCKET_BUSY). A new host takes a free
 * way, or one whose state says nothing an absent one would not (not blocked,
 * no count in a live window, no quota use in the current period, by its
 * policy; any state of a slot no policy holds); with neither, it gets the
 * policy's table_full_verdict (as for per-host buckets).
 */
#define PD_HOSTS_WAYS 4

struct pd_hosts_way {
	struct pd_hosts_key key;
	struct pd_host_state st;
};

struct pd_hosts_set {
	struct pd_hosts_way way[PD_HOSTS_WAYS];
};

/* pd_policy_quota[slot] (ARRAY): a per-policy quota's use. */
struct pd_policy_quota {
	__u64 period;
	__u64 used;
};

/*
 * pd_quota_clock[slot] (PERCPU_ARRAY): a per-policy quota's period as this
 * CPU last read it from the TAI clock, kept as a per-host quota keeps its own
 * in pd_host_state: until recheck (the packets' coarse monotonic time; at most
 * a second on, never past the period's end), while the policy's period_ns is
 * still period_ns and pd_policy_quota still counts in period, the period
 * stands and no TAI clock is read.
 */
struct pd_quota_clock {
	__u64 period_ns;
	__u64 period;
	__u64 recheck;
};

/*
 * pd_realm_stats (PERCPU_HASH, key __u32 realm, PD_MAX_REALMS): 64-bit
 * counters per route realm (the kernel's own realm accounting is 32-bit and
 * IPv4-only). Realm 0 (none) is not counted.
 */
#define PD_MAX_REALMS 4096

struct pd_realm_stats {
	__u64 packets;
	__u64 bytes;
	__u64 dropped_packets;
	__u64 dropped_bytes;
};

/* pd_policy.flags */
#define PD_POLICY_ACTIVE (1u << 0)
#define PD_POLICY_MONITOR (1u << 1) /* evaluate and count; a drop verdict passes (would-drop) */

/* pd_policies[gen * PD_MAX_POLICIES + slot]. A policy keeps its slot (and so
 * its pd_policy_stats entry) for as long as it stays applied. */
struct pd_policy {
	__u32 flags;
	__u32 default_counter; /* pd_rule_stats index of the 'default' verdict */
	__u8 default_verdict; /* enum pd_verdict */
	__u8 nrules;
	__u8 table_full_verdict; /* enum pd_verdict: a new host when pd_host_buckets is full */
	__u8 pad;
	__u16 sample_snaplen; /* bytes kept of a sampled packet, 1..PD_SNAPLEN_MAX */
	__u16 pad2;
	__u32 sample_every; /* sample one packet in this many, at random; 0: none */
	__u32 pad3;
	struct pd_quota quota;
	struct pd_block block;
	struct pd_rule rules[PD_MAX_RULES];
};

/*
 * Events: one ring buffer, pd_events (PD_EVENTS_BYTES), read by the daemon
 * and passed on to policyctl monitor/capture clients. Every record starts
 * with a struct pd_event; a PD_EV_SAMPLE record is a struct
 * pd_sample_event. A record that finds the ring full is lost, counted in
 * pd_misc_stats.events_lost.
 */
#define PD_EVENTS_BYTES (4u << 20)
#define PD_SNAPLEN_MAX 1500
#define PD_DEFAULT_SNAPLEN 128

enum pd_event_type {
	PD_EV_DROP = 1, /* a drop, or a would-drop in monitor mode (rate-capped) */
	PD_EV_BLOCK, /* a host was blocked; until_ns says until when */
	PD_EV_LOG, /* a packet matched a rule with log: true (rate-capped) */
	PD_EV_SAMPLE, /* a sampled packet: struct pd_sample_event */
	PD_EV_UNBLOCK, /* made by the daemon only (expiry or policyctl unblock) */
};

/* pd_event.flags */
#define PD_EVF_WOULD_DROP (1u << 0) /* monitor mode: the drop verdict passed */
#define PD_EVF_PORTS (1u << 1) /* sport and dport are set */
#define PD_EVF_ICMP (1u << 2) /* icmp_type is set */

/* pd_event.rule when no rule decided (the default verdict, a blocked host). */
#define PD_EV_RULE_NONE 0xff

struct pd_event {
	__u64 time_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u8 type; /* enum pd_event_type */
	__u8 verdict; /* enum pd_verdict, as carried out */
	__u8 reason; /* enum pd_reason of a drop or would-drop */
	__u8 flags; /* PD_EVF_* */
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 proto; /* IP protocol (IPv6: the upper-layer header) */
	__u8 rule; /* index of the deciding rule in its policy, or PD_EV_RULE_NONE */
	__u8 icmp_type;
	__u32 slot; /* policy slot */
	__u32 len; /* IP length of the skb (skb->len) */
	__u32 packets; /* wire packets: max(gso_segs, 1) */
	__u16 sport; /* host byte order */
	__u16 dport;
	__u64 until_ns; /* PD_EV_BLOCK: monotonic ns the block ends */
	__u8 saddr[16]; /* IPv4 in the first four bytes */
	__u8 daddr[16];
};

struct pd_sample_event {
	struct pd_event ev;
	__u32 caplen; /* bytes of data[] used: min(len, the policy's snaplen) */
	__u32 pad;
	__u8 data[PD_SNAPLEN_MAX]; /* the packet from its IP header on */
	__u8 pad_end[4]; /* to a multiple of 8 */
};

/* pd_event_caps[slot] (PERCPU_ARRAY): the rate cap's fixed one-second window. */
struct pd_event_cap {
	__u64 second; /* bpf_ktime_get_coarse_ns() / 1e9 of the window */
	__u32 drops; /* drop events sent in it */
	__u32 logs; /* log events sent in it */
};

/* pd_misc_stats[0] (PERCPU_ARRAY). */
struct pd_misc_stats {
	__u64 events_lost; /* the ring buffer was full */
	__u64 events_capped; /* drop and log events over pd_config.event_cap */
	__u64 hosts_evicted4; /* pd_dcache4 ways taken from another host */
	__u64 hosts_evicted6; /* pd_dcache6 ways taken from another host */
	__u64 pad;
};

/*
 * pd_clock[0] (PERCPU_ARRAY): this CPU's last reading of the coarse clock
 * and the jiffies it was read in. The coarse clock (CLOCK_MONOTONIC_COARSE)
 * moves when the timekeeper is updated at a tick, right after jiffies move,
 * so while jiffies (a load, inlined by the verifier) still read the same, the
 * reading stands: a packet reads the coarse clock (a helper call, 15-20 ns in
 * a VM with a TSC clocksource) once a tick per CPU, not once a packet. Every
 * time taken from here is a real reading, so never ahead of the clock. A
 * reading taken between the jiffies update and the timekeeper's is a tick
 * older than the coarse clock; one equal to the reading kept is used but not
 * kept, so the next packet reads again, which catches the common case of that
 * race; a CPU idle for a tick or more may keep such a reading for the rest of
 * the tick.
 */
struct pd_clock {
	__u64 jiffies; /* bpf_jiffies64() when ns was read */
	__u64 ns; /* bpf_ktime_get_coarse_ns() then */
};

/*
 * Explain: what the program reports in ctx_out's cb[] (see pd_config).
 * cb[0]: the policy slot, or PD_SLOT_NONE (no policy covers the address);
 * cb[1]: the deciding rule's index, or PD_EV_RULE_NONE;
 * cb[2]: verdict | reason << 8 | PD_EXPLAIN_F_* << 16, the verdict as the
 *        policy decides it (monitor mode's pass is in the flags); for a
 *        pass, reason is PD_REASON_RULE (a rule decided) or _DEFAULT;
 * cb[3]: the pd_rule_stats counter of the deciding rule (or default);
 * cb[4]: 0.
 */
#define PD_EXPLAIN_F_LIMIT_OVER (1u << 0) /* the rule's limit was exceeded */
#define PD_EXPLAIN_F_TABLE_FULL (1u << 1) /* a per-host table had no room */
#define PD_EXPLAIN_F_QUOTA (1u << 2) /* over the quota */
#define PD_EXPLAIN_F_BLOCKED (1u << 3) /* the host is blocked */
#define PD_EXPLAIN_F_WOULD_DROP (1u << 4) /* monitor mode: dropped in enforce mode */
#define PD_EXPLAIN_F_NEW_HOST (1u << 5) /* no per-host bucket yet: it would start full */

/* Per-CPU counters. Packets are wire packets: max(gso_segs, 1). */
struct pd_counters {
	__u64 packets;
	__u64 bytes;
	__u64 passed_packets;
	__u64 passed_bytes;
	__u64 dropped_packets;
	__u64 dropped_bytes;
	__u64 dropped_reason[PD_REASON_MAX]; /* packets */
	__u64 dropped_reason_bytes[PD_REASON_MAX];
	/* Monitor mode: packets a drop verdict let pass (also counted as passed). */
	__u64 would_drop_packets;
	__u64 would_drop_bytes;
	/* New hosts met with a full pd_host_buckets, passed or dropped (the
	 * dropped ones are also in dropped_reason[PD_REASON_TABLE_FULL]). */
	__u64 table_full_packets;
	__u64 pad;
};

/* pd_policy_stats[slot] (PERCPU_ARRAY) */
struct pd_policy_stats {
	struct pd_counters c;
	__u64 hist[PD_HIST_BUCKETS]; /* packets by IP length */
};

/* pd_rule_stats[counter] (PERCPU_ARRAY) is a struct pd_counters. */

_Static_assert(sizeof(struct pd_config) == 24, "pd_config size");
_Static_assert(sizeof(struct pd_dest_key) == 24, "pd_dest_key size");
_Static_assert(sizeof(struct pd_dest_val) == 8, "pd_dest_val size");
_Static_assert(sizeof(struct pd_host_way) == 8 * (5 + PD_REASON_MAX), "pd_host_way size");
_Static_assert(sizeof(struct pd_host_set) == PD_HOST_WAYS * (16 + sizeof(struct pd_host_way)),
	       "pd_host_set size");
_Static_assert(sizeof(struct pd_port_range) == 4, "pd_port_range size");
_Static_assert(sizeof(struct pd_limit) == 24, "pd_limit size");
_Static_assert(sizeof(struct pd_bucket) == 8, "pd_bucket size");
_Static_assert(sizeof(struct pd_host_key) == 24, "pd_host_key size");
_Static_assert(sizeof(struct pd_bucket_set) == PD_BUCKET_WAYS * 32, "pd_bucket_set size");
_Static_assert(sizeof(struct pd_rule) == 16 + 8 * PD_MAX_PORT_RANGES + 4 * PD_MAX_LENGTH_RANGES +
						 32 + sizeof(struct pd_limit),
	       "pd_rule size");
_Static_assert(sizeof(struct pd_src_key) == 28, "pd_src_key size");
_Static_assert(sizeof(struct pd_policy) == 24 + sizeof(struct pd_quota) + sizeof(struct pd_block) +
						   PD_MAX_RULES * sizeof(struct pd_rule),
	       "pd_policy size");
_Static_assert(sizeof(struct pd_quota) == 24, "pd_quota size");
_Static_assert(sizeof(struct pd_realm_stats) == 32, "pd_realm_stats size");
_Static_assert(sizeof(struct pd_block) == 32, "pd_block size");
_Static_assert(sizeof(struct pd_hosts_key) == 24, "pd_hosts_key size");
_Static_assert(sizeof(struct pd_host_state) == 56, "pd_host_state size");
_Static_assert(sizeof(struct pd_hosts_set) == PD_HOSTS_WAYS * 80, "pd_hosts_set size");
_Static_assert(sizeof(struct pd_policy_quota) == 16, "pd_policy_quota size");
_Static_assert(sizeof(struct pd_counters) == 8 * (10 + 2 * PD_REASON_MAX), "pd_counters size");
_Static_assert(sizeof(struct pd_policy_stats) == sizeof(struct pd_counters) + 8 * PD_HIST_BUCKETS,
	       "pd_policy_stats size");
_Static_assert(sizeof(struct pd_event) == 72, "pd_event size");
_Static_assert(sizeof(struct pd_clock) == 16, "pd_clock size");
_Static_assert(sizeof(struct pd_quota_clock) == 24, "pd_quota_clock size");
_Static_assert(sizeof(struct pd_sample_event) == 80 + PD_SNAPLEN_MAX + 4, "pd_sample_event size");
_Static_assert(sizeof(struct pd_event_cap) == 16, "pd_event_cap size");
_Static_assert(sizeof(struct pd_misc_stats) == 40, "pd_misc_stats size");
_Static_assert(PD_MAX_RULES <= 255, "nrules is a __u8");

#endif
