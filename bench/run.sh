#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# `make bench`: run the benchmarks and record them in bench/RESULTS.md with the
# machine, the date and the command. Each benchmark owns one marked section of
# that file, so re-running one leaves the others' figures in place.
# Usage: bench/run.sh [BUILD_DIR]   (BENCH_PROG_ARGS passes options to bench_prog)
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
results=$here/RESULTS.md
prog=$build/bench/bench_prog
args=${BENCH_PROG_ARGS:-}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: needs root (BPF_PROG_TEST_RUN loads programs)" >&2
	exit 1
fi
if [ ! -x "$prog" ]; then
	echo "bench/run.sh: $prog not built (make $prog)" >&2
	exit 1
fi

. "$here/section.sh"
cpu=$(bench_cpu)
section=$(mktemp)
trap 'rm -f "$section"' EXIT

# shellcheck disable=SC2086 # $args is a list of options
table=$("$prog" $args)

cat >"$section" <<EOF
<!-- bench:datapath:begin (written by bench/run.sh) -->
## Data path: ns/packet under BPF_PROG_TEST_RUN

- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- Machine: Linux $(uname -r), $cpu, $(nproc) CPUs
- Command: \`make bench\` (\`$prog${args:+ $args}\`)

$table

The floor is an empty LWT_OUT program; hist is the kernel document's example
(per-CPU hash of log2(len), bench/hist.bpf.c). The four primitives
(bench/prims.bpf.c) do one thing each and store its result: a bpf_ktime_get_ns
read, a bpf_ktime_get_coarse_ns read, a lookup found in a hash map with a 24-byte
key (the size of pd_host_buckets' and pd_hosts' keys), a call of a global BPF
function that returns the packet's length (the call, the callee's frame and the
return: a function the verifier checks on its own is never inlined, and where
the kernel mitigates return-address speculation, as on these AMD CPUs with
Safe RET, every return goes through a thunk; a hash lookup's path in the
kernel makes several such returns). The two "least per-host
limit + quota + block" rows (bench/prims.bpf.c, bench_stateful_ns and _coarse)
are the least a program doing the stateful rows' job can do, so the policy's
cost can be told from the job's: the IPv4 destination read in place, one lookup
of the host's entry (an LRU hash keyed by the address, as pd_dcache4 was), the
time (the ns clock, or the coarse clock read once a tick per CPU as the policy
program reads it, bpf/clock.bpf.h), the blocked test, GCRA's test and
compare-and-swap and the quota's atomic add and test, all in that one entry; no
rules, no counters, no policy, no IPv6, no events (bench_prog checks that a run
charges the host). The policy program keeps that state in three tables (the
per-host table, pd_host_buckets and pd_hosts), each an array of sets it
searches itself (below): no hash lookup. The third "least"
row (bench_stateful_table) does the coarse one's job with the host's entry in
an array that the program searches itself: the set of 4 slots its address
hashes to, slot by slot (the host in the last one), with the verifier's
inlined array lookups, so that no helper but the clock's, once a tick, is
called: what the job costs with no kernel hash table on its path, and so what
a data path that found its per-host state without hash helpers could come
down to. The policy program
runs an 8-rule IPv4 policy whose 7th rule matches, with 1, 1,000 or 100,000 random
distinct destination prefixes (mostly /24s, the rest /8 to /32) in pd_dest, the
packet's destination inside one of them. Its rules test proto and dport only (the
192-byte struct pd_rule also holds sport, length, tcp-flags and icmp-type; a rule
testing any of those, or src, goes on to a separate function, which these do not
reach). The "per-host packet limit" rows give that 7th rule a per-host packet
limit of 1e9 packets/s (every packet conforms, which is checked after the runs),
so each packet also pays the limit's whole path: the clock, the search
of the host's set of pd_host_buckets (a multiply on the destination's
seeded hash, which the packet computes once for the three tables; an inlined
array lookup; up to 4 key compares), the GCRA test and the compare-and-swap (inline,
after the rules' loop, which is the one global function a packet calls);
rules without a limit pay one byte test. Its burst is either 1,000 packets, a bucket
1 us deep, which reads the ns clock (bpf_ktime_get_ns), or 1e9 packets, 1 s
deep, which reads the coarse clock the packet has read already: a bucket at
least 16 ticks deep (PD_COARSE_TICKS; 64 ms with HZ=250) sees the time up to a
tick late, passes at most a tick's worth of tokens more or fewer than exact over
any span, and spares the ns clock, which costs 20-40 ns in these VMs. The check
before the runs makes sure each bucket took the clock claimed. The "+ per-host
quota + blocking" rows add, on the same policy, a per-host quota (2^62 bytes a
day: every packet passes, checked after the runs) and a block after 500 drops
within 10 s: each packet also pays, before the
rules, the search of the host's set of pd_hosts and the blocked check, and after them the quota's
test of its period (the TAI clock only once a second per host, or at the
period's end) and atomic add, inline as the limit; blocks and quotas run
on the coarse clock. Policies with neither pay a few tests.
Each policy program is checked to take that path
(and to have cached the destination, where the cache is on) before it is timed;
every program must return BPF_OK.

The per-host table: the program keeps, per destination address and CPU, the
result of the pd_dest trie lookup and the host's counters (packets, bytes, drops
by reason, last seen by the coarse clock) in a per-CPU array of sets of 4 ways
(pd_dcache4 and pd_dcache6, \`policyd --hosts\` hosts each and CPU, 65,536
here: 16,384 sets), tagged with the epoch of the apply it was made in, so an
apply makes every lookup stale at once (the counters stay). The program finds
the host itself: a seeded hash of the address (two multiplies) picks the set,
an array lookup the verifier inlines reads this CPU's copy, and the 4 addresses
at its head are compared (a 32-bit compare each for IPv4, two 64-bit ones for
IPv6): no helper call, no kernel hash. The first packet to a host ever takes
the miss path: the set's compares, the trie lookup, and a claim of a free way
(or of the way whose last packet is oldest: an eviction); the first after an
apply, the compares, the trie and a retag in place; the packets after it take
the hit path, the compares and the epoch's test whatever the number of
prefixes, and the host's counting (the coarse clock and four adds). test_run
repeats one packet, so the "cache hit" rows are the hit path. The miss path is
measured by a build of the same program (a load-time switch, \`pd_cache_off\`,
that the daemon leaves off) that ignores the way it finds (the trie and a
claim with the counters zeroed, on every packet); "a new host every packet" by
one whose table address is a random one, so each packet misses and evicts from
a full set; "trie only" by one that bypasses the table (and counts no host).
For traffic to a few hosts per prefix (the usual case: flows of many packets)
nearly every packet is a hit and the cost no longer grows with the number of
prefixes. Traffic to many distinct hosts, more than the table holds or each
seen once (a scan, a flood to random addresses), pays the miss path with an
eviction on every packet: more than the trie alone, by the set's compares and
the claim. The table is a net gain in time while the share of packets that hit stays above
the break-even printed under the table; under it, it costs time, never
correctness. The row before the last samples one packet in 1,000 at random
into the event ring (128 bytes of each; the ring is drained between runs,
untimed): the cost of sampling, spread over the packets. The last gives the
cache hit's policy a per-policy quota (2^62 bytes a day): each packet also
pays pd_guard (inline), the period test against this CPU's reading of it
(pd_quota_clock: the TAI clock is read once a second per CPU) and the atomic
add on the policy's count.
<!-- bench:datapath:end -->
EOF

bench_put_section datapath "$section" "$results"
echo "$table"
echo "bench/run.sh: wrote $results"

# Rate-limit accuracy against nftables: real traffic through the sandbox; it
# writes its own section (bench:accuracy) of the same file.
"$here/accuracy.sh" "$build"

# policyctl stats on a /16 with 65,536 active hosts: its own section (bench:hosts).
"$here/hosts.sh" "$build"
