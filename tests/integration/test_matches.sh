#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The match kinds beyond proto/dport (src, sport, length, tcp-flags,
# icmp-type) and monitor mode, under real traffic through the router.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

cat >"$SB_DIR/m.yaml" <<'Y'
policy: m
destinations: [198.18.2.0/24, 2001:db8:2::/64]
default: pass
rules:
  - name: from-client
    match: { proto: udp, dport: 7000, src: [198.18.0.2, 2001:db8::/64] }
    action: drop
  - name: from-5353
    match: { proto: udp, sport: 5353 }
    action: drop
  - name: big
    match: { proto: udp, length: 1000-65535 }
    action: drop
  - name: syn-81
    match: { proto: tcp, dport: 81, tcp-flags: syn }
    action: drop
  - name: echo
    match: { proto: icmp, icmp-type: echo-request }
  - name: echo6
    match: { proto: icmpv6, icmp-type: [echo-request] }
Y
cat >"$SB_DIR/w.yaml" <<'Y'
policy: w
mode: monitor
destinations: [198.18.3.0/24]
default: drop
Y
"$POLICYCTL" apply "$SB_DIR/m.yaml" >/dev/null
"$POLICYCTL" apply "$SB_DIR/w.yaml" >/dev/null
rule() { stat_of "$1" ".rules[] | select(.rule==\"$2\") | .$3"; }

send_udp 198.18.2.1 7000 4
in_c bash -c 'for i in 1 2 3; do echo x | nc -u -w0 -p 5353 198.18.2.1 7001; done' 2>/dev/null || true
in_c bash -c 'head -c 1200 /dev/zero > /dev/udp/198.18.2.1/7002; head -c 900 /dev/zero > /dev/udp/198.18.2.1/7002'
send_udp 198.18.2.1 7003 2
in_c timeout 3 bash -c 'echo > /dev/tcp/198.18.2.1/81' 2>/dev/null || true
assert_eq "pings (echo-request)" 3 "$(ping_count 198.18.2.1 3)"
assert_eq "IPv6 pings" 2 "$(ping_count -6 2001:db8:2::1 2)"
send_udp 2001:db8:2::1 7000 2

assert_eq "src match (IPv4 + IPv6)" 6 "$(rule m from-client dropped)"
assert_eq "sport match" 3 "$(rule m from-5353 dropped)"
assert_eq "length match" 1 "$(rule m big dropped)"
syns=$(rule m syn-81 dropped)
[ "$syns" -ge 1 ] || fail "no SYN dropped by tcp-flags: $syns"
assert_eq "icmp-type" 3 "$(rule m echo packets)"
assert_eq "icmpv6 type" 2 "$(rule m echo6 packets)"
# 900-byte and port-7003 datagrams fall through to the default.
assert_eq "default passes" 3 "$(rule m default passed)"

# Monitor mode: a default-drop policy that passes everything and counts
# what it would have dropped.
assert_eq "monitor passes" 4 "$(ping_count 198.18.3.1 4)"
assert_eq "would-drop" 4 "$(stat_of w .totals.would_drop.packets)"
assert_eq "nothing dropped" 0 "$(stat_of w .totals.dropped.packets)"
assert_eq "rule would_drop" 4 "$(rule w default would_drop)"
assert_eq "list shows the mode" monitor "$("$POLICYCTL" --json list | jq -r '.policies[] | select(.policy=="w") | .mode')"
"$POLICYCTL" show m | grep -q 'src=198.18.0.2/32' || fail "show lacks the src condition"
