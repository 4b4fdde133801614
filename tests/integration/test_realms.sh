#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Route realms: the realm of a wrapped route is kept, and the program's
# 64-bit per-realm counters move with the traffic, passed and dropped.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

in_r ip route change 198.18.2.0/24 via 198.18.1.2 dev r1 proto static metric 50 realm 10
cat >"$SB_DIR/r.yaml" <<'Y'
policy: r
destinations: [198.18.2.0/24, 198.18.3.0/24]
rules:
  - name: no-9000
    match: { proto: udp, dport: 9000 }
    action: drop
Y
"$POLICYCTL" apply "$SB_DIR/r.yaml" >/dev/null
in_r ip route show 198.18.2.0/24 | grep -q 'realm 10' || fail "realm not kept: $(in_r ip route show 198.18.2.0/24)"

assert_eq "pings" 5 "$(ping_count 198.18.2.1 5)"
send_udp 198.18.2.1 9000 3
assert_eq "pings to a route without realm" 2 "$(ping_count 198.18.3.1 2)"
realm() { "$POLICYCTL" --json stats --realms | jq -r ".realms[] | select(.realm==$1) | .$2"; }
assert_eq "realm 10 packets" 8 "$(realm 10 packets)"
assert_eq "realm 10 bytes (5 x 84 + 3 x 30)" 510 "$(realm 10 bytes)"
assert_eq "realm 10 dropped" 3 "$(realm 10 dropped_packets)"
assert_eq "only realm 10" 1 "$("$POLICYCTL" --json stats --realms | jq '.realms | length')"
"$POLICYCTL" stats --realms | grep -Eq '^ +10 +8 +510 +3 +90$' || fail "realm table: $("$POLICYCTL" stats --realms | grep -A2 REALM)"
rc=0; "$POLICYCTL" list --realms 2>/dev/null || rc=$?
assert_eq "--realms is for stats only" 2 "$rc"
