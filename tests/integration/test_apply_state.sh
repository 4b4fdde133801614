#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Applying that keeps state: --dry-run changes nothing and says what would
# change; --confirm rolls back unless confirmed, also across a daemon
# restart; reset zeroes counters and nothing else.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

cat >"$SB_DIR/v1.yaml" <<'Y'
policy: s
destinations: [198.18.2.0/24]
rules:
  - name: a
    match: { proto: udp, dport: 7000 }
    action: drop
  - name: b
    match: { proto: udp, dport: 7001 }
    limit: { rate: 1/h, burst: 2 }
Y
cat >"$SB_DIR/v2.yaml" <<'Y'
policy: s
destinations: [198.18.2.0/24, 198.18.3.0/24]
rules:
  - name: a
    match: { proto: udp, dport: [7000, 7002] }
    action: drop
  - name: c
    match: { proto: udp, dport: 7001 }
Y
"$POLICYCTL" apply "$SB_DIR/v1.yaml" >/dev/null
send_udp 198.18.2.1 7000 3
send_udp 198.18.2.1 7001 3
rule() { stat_of s ".rules[] | select(.rule==\"$1\") | .$2"; }
routes_v1=$(in_r ip -4 route show table all)
state_v1=$(jq -S .policies "$SB_DIR/state/state.json")

# --dry-run: the diff, and nothing changed.
d=$("$POLICYCTL" --json apply --dry-run "$SB_DIR/v2.yaml")
assert_eq "dry run flag" true "$(echo "$d" | jq .dry_run)"
assert_eq "destination added" '["198.18.3.0/24"]' "$(echo "$d" | jq -c .diff.destinations.added)"
assert_eq "rule a" "changed kept" "$(echo "$d" | jq -r '.diff.rules[] | select(.rule=="a") | "\(.change) \(.counters)"')"
assert_eq "rule a detail" "dport 7000 -> 7000,7002" "$(echo "$d" | jq -r '.diff.rules[] | select(.rule=="a") | .details[0]')"
assert_eq "rule b" "removed released released" "$(echo "$d" | jq -r '.diff.rules[] | select(.rule=="b") | "\(.change) \(.counters) \(.bucket)"')"
assert_eq "rule c" "added new" "$(echo "$d" | jq -r '.diff.rules[] | select(.rule=="c") | "\(.change) \(.counters)"')"
assert_eq "dry run leaves routes" "$routes_v1" "$(in_r ip -4 route show table all)"
assert_eq "dry run leaves state" "$state_v1" "$(jq -S .policies "$SB_DIR/state/state.json")"
assert_eq "dry run leaves counters" 3 "$(rule a dropped)"
"$POLICYCTL" apply --diff "$SB_DIR/v1.yaml" | grep -q "changes: none" || fail "re-applying the same file shows changes"

# --confirm without confirm: back to v1, counters of 'a' still there.
"$POLICYCTL" apply --confirm 2s "$SB_DIR/v2.yaml" >/dev/null
assert_eq "v2 applied" 2 "$("$POLICYCTL" --json show s | jq '.compiled.destinations | length')"
send_udp 198.18.2.1 7002 2
sleep 3.5
assert_eq "rolled back to v1" "a b" "$("$POLICYCTL" --json show s | jq -r '[.compiled.rules[].name] | join(" ")')"
assert_eq "routes of v1 again" "$routes_v1" "$(in_r ip -4 route show table all)"
assert_eq "counters kept through the rollback" 5 "$(rule a dropped)"
grep -q "was not confirmed in time" "$SB_DIR/policyd.log" || fail "rollback not logged"

# --confirm then confirm: v2 stays.
"$POLICYCTL" apply --confirm 2s "$SB_DIR/v2.yaml" >/dev/null
"$POLICYCTL" confirm >/dev/null
sleep 3
assert_eq "confirmed v2 stays" "a c" "$("$POLICYCTL" --json show s | jq -r '[.compiled.rules[].name] | join(" ")')"
rc=0; "$POLICYCTL" confirm 2>/dev/null || rc=$?
assert_eq "nothing left to confirm" 1 "$rc"

# A new policy applied with --confirm is removed, even across a restart.
printf 'policy: n\ndestinations: [198.18.4.0/24]\n' >"$SB_DIR/n.yaml"
"$POLICYCTL" apply --confirm 3s "$SB_DIR/n.yaml" >/dev/null
policyd_stop
policyd_start
sleep 4
if "$POLICYCTL" show n >/dev/null 2>&1; then fail "unconfirmed new policy survived"; fi
assert_eq "its route is gone" "" "$(in_r ip route show 198.18.4.0/24)"

# reset: counters to zero, policies untouched.
assert_eq "reset" '["s"]' "$("$POLICYCTL" --json reset s | jq -c .policies)"
assert_eq "counters zero" 0 "$(stat_of s .totals.packets)"
assert_eq "rules untouched" "a c" "$("$POLICYCTL" --json show s | jq -r '[.compiled.rules[].name] | join(" ")')"
