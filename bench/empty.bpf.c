// SPDX-License-Identifier: GPL-2.0-only
/*
 * The floor of the data-path benchmark: an LWT_OUT program that does nothing.
 * What BPF_PROG_TEST_RUN costs around any program is measured here.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

SEC("lwt_out")
int bench_empty(struct __sk_buff *skb)
{
	return BPF_OK;
}
