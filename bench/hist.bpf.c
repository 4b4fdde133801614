// SPDX-License-Identifier: GPL-2.0-only
/*
 * The yardstick of the data-path benchmark: the behaviour of the kernel
 * document's LWT_OUT example (a per-CPU hash counting packets by log2 of their
 * length, atomic add on hit, insert on miss), written for this benchmark.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

/* Same shape as the example's map, minus its pinning: nothing here is pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} len_hist SEC(".maps");

/* floor(log2(v)), 0 for v == 0: a binary search over the bit halves. */
static __always_inline __u64 floor_log2(__u64 v)
{
	__u64 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	return r + (v >> 1);
}

SEC("lwt_out")
int bench_hist(struct __sk_buff *skb)
{
	__u64 key = floor_log2(skb->len), one = 1, *count;

	count = bpf_map_lookup_elem(&len_hist, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&len_hist, &key, &one, BPF_ANY);
	return BPF_OK;
}
