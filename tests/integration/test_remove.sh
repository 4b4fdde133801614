#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Removing a policy restores exactly the routes that were there before and
# deletes the ones policyd added; nothing of policyd stays in the tables.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

# Link-local IPv6 routes come and go in their own order: compare the rest.
routes4() { in_r ip -4 route show table all; }
routes6() { in_r ip -6 route show table all | grep -v -e '^fe80::' -e '^local fe80' -e '^anycast fe80' -e '^multicast'; }
before4=$(routes4)
before6=$(routes6)
cat >"$SB_DIR/m.yaml" <<'Y'
policy: m
destinations: [198.18.2.0/24, 198.18.3.0/24, 198.18.200.0/24, 2001:db8:2::/64, 2001:db8:5::/64]
routes:
  - to: 198.18.200.0/24      # nothing covers it more specifically than 198.18.0.0/15:
    via: 198.18.1.2          # the covering route wins, this entry is the fallback
  - to: 2001:db8:5::/64      # no IPv6 route covers it: this entry supplies the nexthop
    via: 2001:db8:1::2
    dev: r1
rules:
  - name: all
    action: pass
Y
out=$("$POLICYCTL" --json apply "$SB_DIR/m.yaml")
assert_eq "route actions" "replaced added added replaced added" \
	"$(echo "$out" | jq -r '[.routes[].action] | join(" ")')"
in_r ip -6 route show 2001:db8:5::/64 | grep -Eq 'encap bpf out .*via 2001:db8:1::2 dev r1' ||
	fail "routes: entry not used for 2001:db8:5::/64"
assert_eq "ping through the policy" 2 "$(ping_count 198.18.2.1 2)"

"$POLICYCTL" remove m >/dev/null
assert_eq "IPv4 routes restored" "$before4" "$(routes4)"
assert_eq "IPv6 routes restored" "$before6" "$(routes6)"
assert_eq "no owned routes" "" "$(in_r ip route show proto 241; in_r ip -6 route show proto 241)"
assert_eq "no policies" 0 "$("$POLICYCTL" --json status | jq .policies)"
if "$POLICYCTL" remove m 2>"$SB_DIR/err"; then fail "removing twice succeeded"; fi
grep -q "^policyctl: no policy named 'm'" "$SB_DIR/err" || fail "remove error: $(cat "$SB_DIR/err")"
assert_eq "traffic after remove" 2 "$(ping_count 198.18.2.1 2)"

# A removed policy stays removed across a restart.
policyd_stop
policyd_start
assert_eq "still no policies" 0 "$("$POLICYCTL" --json status | jq .policies)"
assert_eq "routes untouched by restart" "$before4" "$(routes4)"
