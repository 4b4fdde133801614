#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Control-plane benchmark (SPEC §8): `policyctl stats PREFIX --top 10` on a /16
# with 65,536 active hosts. A sandbox daemon (tests/integration/lib.sh) with one
# policy for 198.18.0.0/16; its per-host table is filled by one
# BPF_PROG_TEST_RUN of the daemon's pinned program per host (bench/fill_hosts.c:
# real traffic to 65,536 hosts takes minutes); then each command is timed RUNS
# times, client start to exit, and the median, minimum and maximum printed as
# Markdown table, written to its own section (bench:hosts) of bench/RESULTS.md.
# Needs root.
# Usage: bench/hosts.sh [BUILD_DIR]   (RUNS=N, default 9)
set -eu
BUILD=${1:-${BUILD:-build}}
RUNS=${RUNS:-9}
HOSTS=65536
here=$(cd "$(dirname "$0")" && pwd)
export BUILD
cd "$here/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/hosts.sh: needs root" >&2
	exit 1
fi
mkdir -p "$BUILD/bench"
# shellcheck disable=SC2046 # pkg-config prints a list of flags
${CC:-cc} -O2 -Wall -D_GNU_SOURCE -o "$BUILD/bench/fill_hosts" bench/fill_hosts.c \
	$(${PKG_CONFIG:-pkg-config} --cflags --libs libbpf)

. tests/integration/lib.sh
trap sandbox_teardown EXIT
sandbox_setup
# Room for four times the hosts: a set-associative table loaded to a quarter
# gives away about 0.4% of them (sets that met more than 4).
policyd_start --hosts $((4 * HOSTS))
cat >"$SB_DIR/bench.yaml" <<'Y'
policy: bench
destinations: [198.18.0.0/16]
rules:
  - name: dns
    match: { proto: udp, dport: 53 }
  - name: other-udp
    match: { proto: udp }
    limit: { rate: 1000/s, burst: 100, per: host }
Y
"$POLICYCTL" apply "$SB_DIR/bench.yaml" >/dev/null

start=$(date +%s%N)
"$BUILD/bench/fill_hosts" "$SB_DIR/bpffs/policyd/prog" 198.18.0.0 $HOSTS
fill_ms=$((($(date +%s%N) - start) / 1000000))
read -r present evicted <<<"$("$POLICYCTL" --json status | jq -r '.hosts.ipv4 | "\(.present) \(.evicted)"')"
if [ $((present + evicted)) -lt "$HOSTS" ] || [ $((present * 100)) -lt $((HOSTS * 99)) ]; then
	echo "bench/hosts.sh: $present hosts in the table, $evicted evicted, of $HOSTS" >&2
	exit 1
fi
echo "filled $HOSTS hosts in $fill_ms ms: $present present, $evicted evicted" >&2

# time_cmd LABEL CMD...: RUNS runs; prints a table row (ms: median, min, max).
time_cmd() {
	local label=$1 t i
	shift
	local times=()
	for ((i = 0; i < RUNS; i++)); do
		t=$(date +%s%N)
		"$@" >/dev/null
		times+=($((($(date +%s%N) - t) / 1000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk -v label="$label" -v n="$RUNS" '
		{ v[NR] = $1 }
		END { printf "| %s | %.1f | %.1f | %.1f |\n", label, v[int((n + 1) / 2)] / 1000,
			v[1] / 1000, v[n] / 1000 }'
}

table=$(
echo "| command ($present hosts in the table, $RUNS runs) | median ms | min ms | max ms |"
echo "|---|---:|---:|---:|"
time_cmd "\`policyctl stats 198.18.0.0/16 --top 10\`" "$POLICYCTL" stats 198.18.0.0/16 --top 10
time_cmd "\`policyctl stats 198.18.0.0/16\` (10 busiest, then 256 bucket rows)" \
	"$POLICYCTL" stats 198.18.0.0/16
time_cmd "\`policyctl --json stats 198.18.0.0/16 --top 10\`" \
	"$POLICYCTL" --json stats 198.18.0.0/16 --top 10
time_cmd "\`policyctl --json stats 198.18.0.0/16 --top 1000\`" \
	"$POLICYCTL" --json stats 198.18.0.0/16 --top 1000
time_cmd "\`policyctl status\`" "$POLICYCTL" status
time_cmd "\`policyctl reset 198.18.0.0/16\` (zeroes every host)" \
	"$POLICYCTL" reset 198.18.0.0/16
)
# Rates need two reads: the runs above made them.
rows=$("$POLICYCTL" --json stats 198.18.0.0/16 --top 10 | jq '.hosts | length')
[ "$rows" = 10 ] || { echo "bench/hosts.sh: $rows rows, not 10" >&2; exit 1; }

. "$here/section.sh"
section=$(mktemp)
cat >"$section" <<EOF
<!-- bench:hosts:begin (written by bench/hosts.sh) -->
## Control plane: \`policyctl stats\` on a /16 with 65,536 active hosts

- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- Machine: Linux $(uname -r), $(bench_cpu), $(nproc) CPUs
- Command: \`make bench\` (\`bench/hosts.sh $BUILD\`, RUNS=$RUNS)

$table

A sandbox policyd (\`--hosts $((4 * HOSTS))\`: a set-associative table a quarter
full gives away few hosts) with one policy for 198.18.0.0/16; its per-host table
filled with $HOSTS hosts (one BPF_PROG_TEST_RUN of the pinned program per host, in
$fill_ms ms; $present present after, $evicted evicted by full sets);
each command timed from the client's start to its exit. The daemon reads the table
with batched lookups (BPF_MAP_LOOKUP_BATCH) of whole sets, sums each host's ways
over the CPUs' copies and keeps the N busiest.
<!-- bench:hosts:end -->
EOF
bench_put_section hosts "$section" "$(pwd)/bench/RESULTS.md"
rm -f "$section"
echo "$table"
echo "bench/hosts.sh: wrote bench/RESULTS.md"
