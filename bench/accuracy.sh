#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Rate-limit accuracy (SPEC §8): the same UDP flood through the sandbox's router,
# once limited by a policyd `limit` and once by an nftables `limit` of the same
# rate and burst in the same namespace; writes its section of bench/RESULTS.md.
# Usage: bench/accuracy.sh [BUILD_DIR]
#   ACCURACY_PAIRS="rate:burst ..." (default "1000:10 5000:50 200:5 1000:200"),
#   ACCURACY_SECONDS (3), ACCURACY_FACTOR (offered / limit rate, 4),
#   ACCURACY_ROUNDS (3; the two limiters take turns going first).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
BUILD=${1:-build}
results=$here/RESULTS.md
pairs=${ACCURACY_PAIRS:-1000:10 5000:50 200:5 1000:200}
secs=${ACCURACY_SECONDS:-3}
factor=${ACCURACY_FACTOR:-4}
rounds=${ACCURACY_ROUNDS:-3}
len=64 # UDP payload bytes: iperf3 -b counts payload bits
port=5201

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/accuracy.sh: needs root (network namespaces, BPF)" >&2
	exit 1
fi
for t in iperf3 nft jq; do
	command -v "$t" >/dev/null || {
		echo "bench/accuracy.sh: $t missing (scripts/deps.sh installs it)" >&2
		exit 1
	}
done
if [ ! -x "$BUILD/policyd" ] || [ ! -x "$BUILD/policyctl" ]; then
	echo "bench/accuracy.sh: $BUILD/policyd or $BUILD/policyctl not built (make)" >&2
	exit 1
fi

export SB_ID=bench # lib.sh names the namespaces after it
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh

IPERF_PID=
section=
tmp=
cleanup() {
	if [ -n "$IPERF_PID" ]; then
		kill "$IPERF_PID" 2>/dev/null || true
		wait "$IPERF_PID" 2>/dev/null || true
	fi
	in_r nft delete table inet pdbench 2>/dev/null || true
	sandbox_teardown
	rm -f "$section" "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A previous run killed before its trap ran leaves the namespaces behind.
for ns in "$NS_C" "$NS_R" "$NS_S"; do ip netns del "$ns" 2>/dev/null || true; done
sandbox_setup
# shellcheck disable=SC2119 # no daemon options
policyd_start
# The flood's receiver, in the server namespace; its TCP control connection
# goes through the router too, and neither limiter matches it.
ip netns exec "$NS_S" iperf3 -s -B 198.18.2.1 -p $port >/dev/null 2>&1 &
IPERF_PID=$!
for _ in $(seq 100); do
	in_s ss -Hltn "sport = :$port" | grep -q . && break
	sleep 0.05
done

udp_in() { # datagrams the server namespace has received
	# shellcheck disable=SC2016 # awk's fields
	in_s awk '/^Udp:/ && $2 ~ /^[0-9]/ { print $2; exit }' /proc/net/snmp
}

# flood RATE: offer FACTOR x RATE packets/s for SECS seconds; sets $sent
# (datagrams iperf3 sent) and $got (datagrams the server received). The
# client's first datagram (iperf3's UDP hello) goes through the limiter too,
# in both runs alike, and is counted with the flood.
flood() {
	local pps=$(($1 * factor)) before out
	before=$(udp_in)
	out=$(in_c iperf3 -c 198.18.2.1 -p $port -u -l $len -b $((pps * len * 8)) -t "$secs" -J) ||
		fail "iperf3: $(echo "$out" | jq -r '.error // empty' 2>/dev/null)"
	sent=$(echo "$out" | jq -r '.end.sum.packets')
	got=$(($(udp_in) - before))
}

# run_policyd RATE BURST ROUND: sets $sent $got $seen $passed.
run_policyd() {
	local rule=flood-$3-$1-$2 f=$SB_DIR/accuracy.yaml
	cat >"$f" <<EOF
policy: accuracy
destinations: [198.18.2.0/24]
default: pass
rules:
  - name: $rule
    match: { proto: udp, dport: $port }
    limit: { rate: $1/s, burst: $2 }
EOF
	"$POLICYCTL" apply "$f" >/dev/null
	flood "$1"
	seen=$(stat_of accuracy ".rules[] | select(.rule==\"$rule\") | .packets")
	passed=$(stat_of accuracy ".rules[] | select(.rule==\"$rule\") | .passed")
	"$POLICYCTL" remove accuracy >/dev/null
}

# run_nft RATE BURST: sets $sent $got $seen $passed.
run_nft() {
	local m="ip daddr 198.18.2.0/24 udp dport $port"
	in_r nft -f - <<EOF
table inet pdbench {
	chain flood {
		type filter hook forward priority 0; policy accept;
		$m limit rate $1/second burst $2 packets counter accept
		$m counter drop
	}
}
EOF
	flood "$1"
	local c
	c=$(in_r nft -j list table inet pdbench |
		jq -r '[.nftables[] | .rule? // empty | .expr[] | .counter? // empty | .packets] | join(" ")')
	in_r nft delete table inet pdbench
	passed=${c%% *}
	seen=$((passed + ${c##* }))
}

declare -A P_SENT P_GOT P_SEEN P_PASS N_SENT N_GOT N_SEEN N_PASS RATIOS
for r in $(seq "$rounds"); do
	for pair in $pairs; do
		rate=${pair%%:*}
		burst=${pair##*:}
		for who in policyd nft; do
			# Odd rounds policyd first, even rounds nftables first.
			if [ $((r % 2)) -eq 0 ]; then
				[ $who = policyd ] && who=nft || who=policyd
			fi
			if [ $who = policyd ]; then
				run_policyd "$rate" "$burst" "$r"
				P_SENT[$pair]=$((${P_SENT[$pair]:-0} + sent))
				P_GOT[$pair]=$((${P_GOT[$pair]:-0} + got))
				P_SEEN[$pair]=$((${P_SEEN[$pair]:-0} + seen))
				P_PASS[$pair]=$((${P_PASS[$pair]:-0} + passed))
				pp=$passed
			else
				run_nft "$rate" "$burst"
				N_SENT[$pair]=$((${N_SENT[$pair]:-0} + sent))
				N_GOT[$pair]=$((${N_GOT[$pair]:-0} + got))
				N_SEEN[$pair]=$((${N_SEEN[$pair]:-0} + seen))
				N_PASS[$pair]=$((${N_PASS[$pair]:-0} + passed))
				np=$passed
			fi
			echo "round $r, $rate/s burst $burst, $who: sent $sent, at the router $seen, passed $passed, server got $got" >&2
		done
		RATIOS[$pair]="${RATIOS[$pair]:-} $(awk -v a="$pp" -v b="$np" 'BEGIN { printf "%.4f", a / b }')"
	done
done

# Means over the rounds; the ratio is of the summed pass counts, with the
# lowest and highest of the rounds' ratios beside it.
table=$(
	echo "| rate/s | burst | offered/s | offered (policyd / nft) | expected | passed policyd | passed nft | policyd / nft | rounds min-max | server got (policyd / nft) |"
	echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	for pair in $pairs; do
		rate=${pair%%:*}
		burst=${pair##*:}
		# shellcheck disable=SC2086 # the list of ratios
		awk -v rate="$rate" -v burst="$burst" -v f="$factor" -v s="$secs" -v n="$rounds" \
			-v ps="${P_SEEN[$pair]}" -v ns="${N_SEEN[$pair]}" \
			-v pp="${P_PASS[$pair]}" -v np="${N_PASS[$pair]}" \
			-v pg="${P_GOT[$pair]}" -v ng="${N_GOT[$pair]}" -v rs="${RATIOS[$pair]}" '
			BEGIN {
				k = split(rs, r, " "); lo = hi = r[1]
				for (i = 2; i <= k; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
				printf "| %d | %d | %d | %.0f / %.0f | %d | %.1f | %.1f | %.4f | %.4f-%.4f | %.0f / %.0f |\n",
					rate, burst, rate * f, ps / n, ns / n, rate * s + burst,
					pp / n, np / n, pp / np, lo, hi, pg / n, ng / n
			}'
	done
)
verdict=$(
	for pair in $pairs; do
		awk -v pair="$pair" -v pp="${P_PASS[$pair]}" -v np="${N_PASS[$pair]}" 'BEGIN {
			d = (pp / np - 1) * 100
			printf "%s: %+.2f%% %s; ", pair, d, (d <= 2 && d >= -2) ? "met" : "NOT met"
		}'
	done
)

. "$here/section.sh"
cpu=$(bench_cpu)
section=$(mktemp)
cat >"$section" <<EOF
<!-- bench:accuracy:begin (written by bench/accuracy.sh) -->
## Rate-limit accuracy: policyd \`limit\` vs nftables \`limit\`

- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- Machine: Linux $(uname -r), $cpu, $(nproc) CPUs
- Command: \`make bench\` (\`bench/accuracy.sh $BUILD\`; ACCURACY_PAIRS="$pairs" ACCURACY_SECONDS=$secs ACCURACY_FACTOR=$factor ACCURACY_ROUNDS=$rounds)

$table

Target (within 2 % of nftables, summed over the rounds): ${verdict%; }.

The sandbox of the integration tests (client ▸ router ▸ server namespaces, a
policyd in the router's). For each rate and burst, \`iperf3 -u -l $len\` offers the
client's UDP flood to 198.18.2.1 port $port at $factor times the rate for $secs s,
twice: once through a policy on 198.18.2.0/24 whose one rule (\`proto: udp, dport:
$port\`) has \`limit: { rate: R/s, burst: B }\` (a new rule name each run, so a new
bucket), passed counted by the rule's counter; once, the policy removed, through
an nftables forward chain in the router namespace, \`ip daddr 198.18.2.0/24 udp
dport $port limit rate R/second burst B packets counter accept\` then \`counter
drop\` for the same match. Offered is what reached the limiter (the rule's packets;
nftables' two counters), expected is rate x $secs s + burst, server got is the UDP
datagrams the server namespace received (a cross-check: it equals passed).
A bucket at least 16 ticks deep reads the kernel's coarse clock (PD_COARSE_TICKS
in bpf/policy_abi.h; a tick is 1/HZ), a shallower one the ns clock, as nftables
does for every limit: with HZ=250 (a 4 ms tick, these machines'), 1000/s burst
200 (200 ms deep) is on the coarse clock, the others (10 to 25 ms deep) on the ns
clock.
Figures are means over $rounds rounds; the two limiters take turns going first.
The run-to-run spread comes from the sender (iperf3 paces in bursts per
millisecond and its $secs s are wall-clock time on a busy machine), which moves
both limiters' counts alike; "rounds min-max" is the spread of the per-round
ratios.
<!-- bench:accuracy:end -->
EOF

bench_put_section accuracy "$section" "$results"
rm -f "$section"
echo "$table"
echo "Target (within 2 % of nftables): ${verdict%; }"
echo "bench/accuracy.sh: wrote $results"
