/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The coarse clock, read once a tick per CPU (struct pd_clock): for policyd's
 * LWT_OUT program and for the benchmark's least stateful program, which keep
 * the reading each in a map of their own.
 */
#ifndef POLICYD_CLOCK_BPF_H
#define POLICYD_CLOCK_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/policy_abi.h"

/*
 * The coarse clock's time now, from @c (this CPU's value of a map of struct
 * pd_clock) while jiffies have not moved since it was read, else read anew
 * into it.
 */
static __always_inline __u64 pd_coarse_now(struct pd_clock *c)
{
	__u64 jiffies = bpf_jiffies64(), ns;

	if (c->jiffies == jiffies)
		return c->ns;
	ns = bpf_ktime_get_coarse_ns();
	/* Jiffies moved and the clock did not: the timekeeper may not have caught
	 * up yet. The reading stands for this packet; the next reads again. */
	if (ns != c->ns)
		c->jiffies = jiffies;
	c->ns = ns;
	return ns;
}

#endif
