#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Quotas and behavioural blocking under real traffic: a per-host byte
# budget drops what is over it (reason quota); a host crossing a drop
# threshold is blocked (reason blocked) until a fixed expiry, visible in
# stats, lifted at once by unblock.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

cat >"$SB_DIR/b.yaml" <<'Y'
policy: b
destinations: [198.18.2.0/24]
block:
  after: { drops: 3, within: 10s }
  for: 3s
rules:
  - name: no-9000
    match: { proto: udp, dport: 9000 }
    action: drop
Y
cat >"$SB_DIR/q.yaml" <<'Y'
policy: q
destinations: [198.18.3.0/24]
quota: { bytes: 3000, per: host, period: 1h }
Y
"$POLICYCTL" apply "$SB_DIR/b.yaml" >/dev/null
"$POLICYCTL" apply "$SB_DIR/q.yaml" >/dev/null

# Three drops within 10 s block the host: even pings are dropped.
send_udp 198.18.2.1 9000 3
assert_eq "blocked host drops pings" 0 "$(ping_count 198.18.2.1 2)"
assert_eq "reason blocked" 2 "$(stat_of b '.totals.dropped.reasons.blocked')"
assert_eq "stats shows the block" "true 1" "$(stat_of b '.hosts[] | select(.address=="198.18.2.1") | "\(.blocked) \(.blocks)"')"
[ -n "$(stat_of b '.hosts[] | select(.address=="198.18.2.1") | .blocked_until')" ] || fail "no blocked_until"
"$POLICYCTL" stats b | grep -Eq '^198\.18\.2\.1 +b +5 +[0-9]+ +5 +.* ago +[0-9-]+T[0-9:]+Z +1$' ||
	fail "human hosts table: $("$POLICYCTL" stats b | grep -A2 '^HOST')"
"$POLICYCTL" unblock 198.18.2.1 >/dev/null
assert_eq "unblocked at once" 2 "$(ping_count 198.18.2.1 2)"
rc=0; "$POLICYCTL" unblock 198.18.2.1 2>/dev/null || rc=$?
assert_eq "unblock of a host not blocked" 1 "$rc"

# Blocked again: the expiry is fixed (3 s), traffic does not extend it.
send_udp 198.18.2.1 9000 3
until=$(stat_of b '.hosts[] | select(.address=="198.18.2.1") | .blocked_until')
assert_eq "blocked again" 0 "$(ping_count 198.18.2.1 1)"
assert_eq "expiry not refreshed" "$until" "$(stat_of b '.hosts[] | select(.address=="198.18.2.1") | .blocked_until')"
sleep 3.5
assert_eq "expired" 2 "$(ping_count 198.18.2.1 2)"
assert_eq "two blocks counted" 2 "$(stat_of b '.hosts[] | select(.address=="198.18.2.1") | .blocks')"

# A 3000-byte quota per host: three 1000-byte pings pass, the rest not.
assert_eq "pings within the quota" 3 "$(in_c ping -n -q -s 972 -i 0.05 -c 5 -W 1 198.18.3.1 |
	sed -n 's/.* \([0-9]*\) received.*/\1/p')"
assert_eq "reason quota" 2 "$(stat_of q .totals.dropped.reasons.quota)"
assert_eq "quota used" 3000 "$(stat_of q '.hosts[] | select(.address=="198.18.3.1") | .quota_used')"
assert_eq "quota listed" "host 3000" "$(stat_of q '.quotas[0] | "\(.per) \(.bytes)"')"

# Re-apply keeps blocks and quota use of a policy whose name stays.
send_udp 198.18.2.1 9000 3
"$POLICYCTL" apply "$SB_DIR/b.yaml" >/dev/null
"$POLICYCTL" apply "$SB_DIR/q.yaml" >/dev/null
assert_eq "block kept across re-apply" 0 "$(ping_count 198.18.2.1 1)"
assert_eq "quota kept across re-apply" 0 "$(ping_count 198.18.3.1 1)"
