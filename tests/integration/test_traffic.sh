#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Apply a policy, send real IPv4 and IPv6 traffic through the router, and
# check the verdicts, the exact counters, and the routes carrying the encap.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

cat >"$SB_DIR/t.yaml" <<'Y'
policy: t
destinations:
  - 198.18.2.0/24          # wraps the static route via the server
  - 198.18.3.0/24          # added, copying the covering 198.18.0.0/15 route
  - 2001:db8:2::/64
default: drop
rules:
  - name: dns
    match: { proto: udp, dport: 53 }
    action: pass
  - name: block-high
    match: { proto: udp, dport: [9000-9999, 12345] }
    action: drop
  - name: ping
    match: { proto: icmp }
  - name: ping6
    match: { proto: icmpv6 }
Y
"$POLICYCTL" apply "$SB_DIR/t.yaml" >/dev/null

# Routes: the exact route wrapped, the covered one added, both with our
# program and protocol, the original nexthop and metric kept.
r=$(in_r ip route show 198.18.2.0/24)
echo "$r" | grep -Eq 'encap bpf out policyd-[0-9]+' || fail "no encap on 198.18.2.0/24: $r"
echo "$r" | grep -Eq 'via 198.18.1.2 dev r1 proto (241|policyd) metric 50' || fail "route not kept: $r"
r=$(in_r ip route show 198.18.3.0/24)
echo "$r" | grep -Eq 'encap bpf out .*via 198.18.1.2 dev r1 proto (241|policyd)' || fail "no added route: $r"
r=$(in_r ip -6 route show 2001:db8:2::/64)
echo "$r" | grep -Eq 'encap bpf out .*via 2001:db8:1::2 dev r1 proto (241|policyd) metric 50' ||
	fail "IPv6 route: $r"

send_udp 198.18.2.1 53 10
send_udp 198.18.2.1 9500 7
send_udp 198.18.2.1 12345 3
send_udp 198.18.2.1 7000 4
assert_eq "pings through the ping rule" 5 "$(ping_count 198.18.2.1 5)"
assert_eq "pings to the added route" 3 "$(ping_count 198.18.3.1 3)"
assert_eq "IPv6 pings" 5 "$(ping_count -6 2001:db8:2::1 5)"
# What the policy drops does not arrive: the default is drop for TCP.
if in_c timeout 3 bash -c 'echo > /dev/tcp/198.18.2.1/80' 2>/dev/null; then
	fail "TCP passed a default-drop policy"
fi
default_pkts=$(stat_of t '.rules[] | select(.rule=="default") | .packets')
[ "$default_pkts" -ge 5 ] || fail "default rule counted $default_pkts packets, expected the 4 UDP + SYNs"

s=$("$POLICYCTL" --json stats t)
rule() { echo "$s" | jq -r ".rules[] | select(.rule==\"$1\") | .$2"; }
assert_eq "dns passed" 10 "$(rule dns passed)"
assert_eq "dns bytes (IP length 30)" 300 "$(rule dns bytes)"
assert_eq "block-high dropped" 10 "$(rule block-high dropped)"
assert_eq "block-high passed" 0 "$(rule block-high passed)"
assert_eq "ping packets" 8 "$(rule ping packets)"
assert_eq "ping6 packets" 5 "$(rule ping6 packets)"
assert_eq "totals passed" 23 "$(echo "$s" | jq .totals.passed.packets)"
assert_eq "reason rule" 10 "$(echo "$s" | jq '.totals.dropped.reasons.rule')"
assert_eq "reason default" "$default_pkts" "$(echo "$s" | jq '.totals.dropped.reasons.default')"
assert_eq "totals" $((23 + 10 + default_pkts)) "$(echo "$s" | jq .totals.packets)"
assert_eq "histogram <=64 (UDP and SYNs)" $((20 + default_pkts)) \
	"$(echo "$s" | jq '.histogram[] | select(.le==64) | .packets')"
assert_eq "histogram <=128 (pings)" 13 "$(echo "$s" | jq '.histogram[] | select(.le==128) | .packets')"

# Selection by address and prefix; a prefix no policy covers is an error.
assert_eq "stats by address" '["t"]' "$(stat_of 198.18.2.1 .policies)"
assert_eq "stats by prefix" 23 "$(stat_of 2001:db8::/32 .totals.passed.packets)"
if "$POLICYCTL" stats 198.19.0.0/16 2>/dev/null; then fail "stats of an uncovered prefix succeeded"; fi

# list, show, status tell the same story.
assert_eq "list" "t 3" "$("$POLICYCTL" --json list | jq -r '.policies[0] | "\(.policy) \(.destinations | length)"')"
assert_eq "show rules" "dns block-high ping ping6" \
	"$("$POLICYCTL" --json show t | jq -r '[.compiled.rules[].name] | join(" ")')"
assert_eq "status routes" 3 "$("$POLICYCTL" --json status | jq .routes)"
"$POLICYCTL" stats 198.18.2.0/24 | grep -q dns || fail "human stats output lacks the rule table"

# routes: every owned route, in place with this program.
assert_eq "routes command" "3 installed" \
	"$("$POLICYCTL" --json routes | jq -r '[.routes[] | select(.installed)] | "\(length) installed"')"
"$POLICYCTL" routes | grep -Eq '^t +198.18.2.0/24 +replaced +installed ' ||
	fail "routes table: $("$POLICYCTL" routes)"
