// SPDX-License-Identifier: GPL-2.0-only
/*
 * The primitives of the data-path benchmark: what one clock read, one hash
 * lookup and one call of a global function cost in an LWT_OUT program on this
 * machine, and the least a program keeping a per-host limit, quota and block
 * must do, to tell the policy's cost apart from the cost of what any program
 * doing its job must call.
 */
#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

#include "bpf/clock.bpf.h"
#include "bench/prims.h"

char _license[] SEC("license") = "GPL";

/* Where the programs leave what they read, so that no read is optimised away. */
__u64 prims_sink;

/* Keyed as pd_host_buckets is (24 bytes); bench_prog inserts the one key looked up. */
struct prims_key {
	__u32 len;
	__u32 pad;
	__u64 addr[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct prims_key);
	__type(value, __u64);
} prims_hash SEC(".maps");

SEC("lwt_out")
int bench_clock_ns(struct __sk_buff *skb)
{
	prims_sink = bpf_ktime_get_ns();
	return BPF_OK;
}

SEC("lwt_out")
int bench_clock_coarse(struct __sk_buff *skb)
{
	prims_sink = bpf_ktime_get_coarse_ns();
	return BPF_OK;
}

/* The key is the packet's IP length and zeros. */
SEC("lwt_out")
int bench_hash_lookup(struct __sk_buff *skb)
{
	struct prims_key key = { .len = skb->len };
	__u64 *v = bpf_map_lookup_elem(&prims_hash, &key);

	if (v)
		prims_sink = *v;
	return BPF_OK;
}

/*
 * A BPF-to-BPF call: the frame, the call and the return (through the return
 * thunk where the kernel mitigates return-address speculation) of a global
 * function, which the verifier checks on its own and never inlines.
 */
__noinline int prims_callee(struct __sk_buff *skb)
{
	return skb ? skb->len : 0;
}

SEC("lwt_out")
int bench_call(struct __sk_buff *skb)
{
	prims_sink = prims_callee(skb);
	return BPF_OK;
}

/* Keyed by the IPv4 destination, as pd_dcache4; bench_prog inserts the one host. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct prims_host);
} prims_hosts SEC(".maps");

/* The coarse clock's reading of this tick, as the policy program keeps it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pd_clock);
} prims_clock SEC(".maps");

/* A packet costs 1 ns of a bucket 1 s deep: every packet of a run conforms. */
#define PRIMS_COST (1ull << 4)
#define PRIMS_BURST (1000000000ull << 4)
/* Bytes no run comes near. */
#define PRIMS_QUOTA (1ull << 62)

/*
 * The limit, quota and block of the host @h at the packet's time: the coarse
 * clock as the policy program reads it (once a tick), or the ns clock.
 */
static __always_inline int prims_charge(struct __sk_buff *skb, struct prims_host *h, int coarse)
{
	struct pd_clock *clock;
	__u64 now, tat, base;
	__u32 zero = 0;

	if (coarse) {
		clock = bpf_map_lookup_elem(&prims_clock, &zero);
		if (!clock)
			return BPF_OK;
		now = pd_coarse_now(clock) << 4;
	} else {
		now = bpf_ktime_get_ns() << 4;
	}
	if (*(volatile __u64 *)&h->blocked_until > now)
		return BPF_DROP;
	tat = *(volatile __u64 *)&h->tat;
	base = tat > now ? tat : now;
	if (base - now > PRIMS_BURST - PRIMS_COST)
		return BPF_DROP;
	__sync_val_compare_and_swap(&h->tat, tat, base + PRIMS_COST);
	if (__sync_fetch_and_add(&h->quota_used, skb->len) + skb->len > PRIMS_QUOTA)
		return BPF_DROP;
	return BPF_OK;
}

/*
 * Parse the IPv4 destination in place, one lookup of its entry, the time, the
 * blocked test, GCRA's test and compare-and-swap, the quota's atomic add and
 * test: what every packet of a policy with a per-host limit, quota and block
 * must pay at the least, in one entry where policyd's program keeps three.
 */
static __always_inline int prims_stateful(struct __sk_buff *skb, int coarse)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	const struct iphdr *ip = data;
	struct prims_host *h;
	__u32 daddr;

	if ((void *)(ip + 1) > end)
		return BPF_OK;
	daddr = ip->daddr;
	h = bpf_map_lookup_elem(&prims_hosts, &daddr);
	if (!h)
		return BPF_OK;
	return prims_charge(skb, h, coarse);
}

SEC("lwt_out")
int bench_stateful_coarse(struct __sk_buff *skb)
{
	return prims_stateful(skb, 1);
}

SEC("lwt_out")
int bench_stateful_ns(struct __sk_buff *skb)
{
	return prims_stateful(skb, 0);
}

/* The hosts' entries in sets of an array (bench/prims.h); bench_prog puts the one host in. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PRIMS_WAYS << PRIMS_SETS_SHIFT);
	__type(key, __u32);
	__type(value, struct prims_slot);
} prims_table SEC(".maps");

/*
 * As bench_stateful_coarse, but the host's entry is found by the program: the
 * set its key hashes to, searched way by way. An array's lookup is inlined by
 * the verifier, so the packet calls no helper but the clock's once a tick: what
 * the job costs once no kernel hash table is on its path.
 */
SEC("lwt_out")
int bench_stateful_table(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	const struct iphdr *ip = data;
	struct prims_slot *slot;
	__u32 set, i, idx;
	__u64 key;

	if ((void *)(ip + 1) > end)
		return BPF_OK;
	key = prims_key_of(ip->daddr);
	set = prims_set_of(key);
	for (i = 0; i < PRIMS_WAYS; i++) {
		idx = set * PRIMS_WAYS + i;
		slot = bpf_map_lookup_elem(&prims_table, &idx);
		if (slot && *(volatile __u64 *)&slot->key == key)
			return prims_charge(skb, &slot->host, 1);
	}
	return BPF_OK;
}
