#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Rate limits under real traffic: a per-rule packet limit passes rate x time
# + burst within a few percent; per-host buckets are separate; a full host
# table gives new hosts the table-full verdict; buckets survive re-apply.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start --hosts 2

cat >"$SB_DIR/l.yaml" <<'Y'
policy: l
destinations: [198.18.2.0/24]
table-full: drop
rules:
  - name: ping
    match: { proto: icmp, icmp-type: echo-request }
    limit: { rate: 100/s, burst: 10 }
  - name: udp-host
    match: { proto: udp, dport: 7000 }
    limit: { rate: 1/h, burst: 3, per: host }
Y
"$POLICYCTL" apply "$SB_DIR/l.yaml" >/dev/null
rule() { stat_of l ".rules[] | select(.rule==\"$1\") | $2"; }

# 1000 echo requests at 500/s for ~2 s through a 100/s, burst 10 limit.
out=$(in_c ping -n -q -i 0.002 -c 1000 -W 1 198.18.2.1 2>&1 || true)
ms=$(echo "$out" | sed -n 's/.* time \([0-9]*\)ms.*/\1/p')
passed=$(rule ping .passed)
limited=$(stat_of l .totals.dropped.reasons.limit)
expect=$((10 + 100 * ms / 1000))
echo "ping: ${ms} ms, passed $passed, expected ~$expect, limited $limited"
[ "$passed" -ge $((expect * 95 / 100 - 2)) ] && [ "$passed" -le $((expect * 105 / 100 + 2)) ] ||
	fail "limit passed $passed packets in ${ms} ms, expected $expect within 5%"
assert_eq "every echo request counted" 1000 "$(rule ping .packets)"
assert_eq "the rest dropped as limit" $((1000 - passed)) "$limited"

# Per host: each of four hosts gets its own burst of 3; a fifth host finds
# the table (--hosts 2: one set of 4) full and gets table-full: drop.
for h in 198.18.2.1 198.18.2.2 198.18.2.3 198.18.2.4 198.18.2.5; do send_udp $h 7000 5; done
assert_eq "per-host passes" 12 "$(rule udp-host .passed)"
assert_eq "table-full drops" 5 "$(stat_of l '.totals.dropped.reasons["table-full"]')"
assert_eq "table-full counted" 5 "$(stat_of l .totals.table_full)"
assert_eq "limit drops" $((limited + 8)) "$(stat_of l .totals.dropped.reasons.limit)"
# The fifth host has no bucket: it would start full.
assert_eq "hosts listed" "198.18.2.1 0 198.18.2.2 0 198.18.2.3 0 198.18.2.4 0 198.18.2.5 3" \
	"$(stat_of l '[.hosts[] | "\(.address) \(.available)"] | sort | join(" ")')"
assert_eq "status shows the host table" "4 4" \
	"$("$POLICYCTL" --json status | jq -r '.maps[] | select(.name=="pd_host_buckets") | "\(.used) \(.capacity)"')"

# Re-apply keeps the buckets of rules that keep their name: the hosts are
# still out of tokens.
"$POLICYCTL" apply "$SB_DIR/l.yaml" >/dev/null
send_udp 198.18.2.1 7000 2
assert_eq "bucket kept across re-apply" 12 "$(rule udp-host .passed)"
"$POLICYCTL" show l | grep -q 'limit=1/h burst 3' || fail "show lacks the limit: $("$POLICYCTL" show l)"
# The human table has a LIMIT column, with the rate and what is left.
human=$("$POLICYCTL" stats l)
echo "$human" | grep -Eq '^POLICY +RULE +ACTION +PACKETS +BYTES +PASSED +DROPPED +WOULD-DROP +LIMIT$' ||
	fail "stats table header: $(echo "$human" | grep '^POLICY')"
echo "$human" | grep -Eq '^l +ping +pass .* 100/s, [0-9]+ packets left$' || fail "ping row lacks its limit"
echo "$human" | grep -Eq '^l +udp-host .* 1/h per host$' || fail "udp-host row lacks its limit"
