// SPDX-License-Identifier: GPL-2.0-only
/*
 * The primitives of the data-path benchmark: what one clock read and one hash
 * lookup cost in an LWT_OUT program on this machine, to tell the policy's cost
 * apart from the cost of what any program doing its job must call.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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
