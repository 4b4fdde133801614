#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# policyctl explain: for packets of many kinds, the policy, rule and verdict
# it names are those that real traffic of the same kind gets (the rule
# counter that moves); a spent limit, a blocked host, monitor mode and an
# uncovered address are explained as such; explaining changes no counter,
# bucket, quota, block or per-host entry; bad arguments are usage errors.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start --hosts 8

cat >"$SB_DIR/web.yaml" <<'Y'
policy: web
destinations: [198.18.2.0/24, 2001:db8:2::/64]
default: drop
table-full: drop
block:
  after: { drops: 10, within: 5m }
  for: 10m
rules:
  - name: http
    match: { proto: tcp, dport: 80 }
  - name: dns-lan
    match: { proto: udp, dport: 53, src: [198.18.0.0/24] }
    action: drop
  - name: app
    match: { proto: udp, dport: 7000 }
    limit: { rate: 1/h, burst: 3, per: host }
  - name: udp-other
    match: { proto: udp }
  - name: ping
    match: { proto: icmp, icmp-type: echo-request }
  - name: ping6
    match: { proto: icmpv6, icmp-type: echo-request }
Y
cat >"$SB_DIR/mon.yaml" <<'Y'
policy: mon
mode: monitor
destinations: [198.18.3.0/24]
quota: { bytes: 1MB, per: host, period: 1h }
rules:
  - name: no-udp
    match: { proto: udp }
    action: drop
Y
"$POLICYCTL" apply "$SB_DIR/web.yaml" >/dev/null
"$POLICYCTL" apply "$SB_DIR/mon.yaml" >/dev/null

# --- bad arguments: usage errors (exit 2), one clear line ---------------------
usage_error() { # expected-message-fragment explain-args...
	local want=$1 rc=0 err
	shift
	err=$("$POLICYCTL" explain "$@" 2>&1 >/dev/null) || rc=$?
	assert_eq "exit status of 'explain $*'" 2 "$rc"
	case "$err" in
	"policyctl: "*"$want"*) ;;
	*) fail "'explain $*' said '$err', expected '$want'" ;;
	esac
}
usage_error "invalid address '198.18.2.300'" 198.18.2.300
usage_error "is a prefix" 198.18.2.0/24
usage_error "invalid proto 'tcpp'" 198.18.2.1 tcpp 80
usage_error "a destination port needs proto tcp, udp or sctp (found proto icmp)" 198.18.2.1 icmp 80
usage_error "a source port needs proto tcp, udp or sctp (found no proto)" 198.18.2.1 --sport 53
usage_error "invalid destination port '65536'" 198.18.2.1 udp 65536
usage_error "length 30 is shorter than the headers (expected at least 40 for tcp over IPv4)" \
	198.18.2.1 tcp 80 --len 30
usage_error "expected at least 48 for udp over IPv6" 2001:db8:2::1 udp 53 --len 47
usage_error "over the limit" 198.18.2.1 --len 3001
usage_error "expected one family" 198.18.2.1 --src 2001:db8::1
usage_error "icmp with an IPv6 address" 2001:db8:2::1 icmp
usage_error "tcp flags need proto tcp" 198.18.2.1 udp 53 --tcp-flags syn
usage_error "missing argument" --len 100
usage_error "unexpected argument '9'" 198.18.2.1 tcp 80 9
rc=0; err=$("$POLICYCTL" stats --src 198.18.0.2 2>&1) || rc=$?
assert_eq "--src on stats" "2 policyctl: option '--src' does not apply to 'stats' (try 'policyctl stats --help')" "$rc $err"
# The daemon checks the same way: a request a client did not check.
"$POLICYCTL" --json status >/dev/null
bad_reply=$(python3 - "$SB_DIR/policyd.sock" <<'P'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = json.dumps({"version": 1, "command": "explain",
                  "args": {"address": "198.18.2.1", "dport": "80"}}).encode()
s.sendall(struct.pack(">I", len(req)) + req)
n = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
print(json.loads(s.recv(n, socket.MSG_WAITALL))["error"]["message"])
P
)
assert_eq "daemon refuses a port without proto" \
	"a destination port needs proto tcp, udp or sctp (found no proto)" "$bad_reply"

# --- helpers ---------------------------------------------------------------------
# Everything explain must not change: counters, buckets, quotas, blocks (stats),
# and the fill of every map (per-host entries). Times computed at read time
# (expiries, period ends, rates) are left out.
state() {
	{
		"$POLICYCTL" --json stats
		"$POLICYCTL" --json status | jq '.maps'
	} | jq -cS 'del(.. | objects | (.blocked_until?, .period_ends?, .pps?, .bps?, .last_seen?, .idle_seconds?, .uptime?))'
}
# Per rule: passed, dropped, would-drop.
snap() {
	"$POLICYCTL" --json stats |
		jq -c '[.rules[] | {key: "\(.policy)/\(.rule)", value: [.passed, .dropped, .would_drop]}] | from_entries'
}
# The rules whose counters moved between two snaps, with what happened:
# "web/http pass", "web/default drop".
moved() {
	jq -nr --argjson a "$1" --argjson b "$2" '[$b | to_entries[] | select(.value != $a[.key]) |
		"\(.key) \(if .value[1] != $a[.key][1] then "drop" else "pass" end)"] | join(",")'
}
# What explain says: the same shape.
explained() {
	"$POLICYCTL" --json explain "$@" | jq -r '"\(.policy)/\(.rule.name) \(.kernel)"'
}
ex() { # explain-args... -- jq filter
	local args=()
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	"$POLICYCTL" --json explain "${args[@]}" | jq -cr "$2"
}
# compare "what" "explain args" command...: explain, then run the traffic, and
# check that the counter that moved is the rule explain named, with its verdict.
compare() {
	local what=$1 spec=$2 want before after
	shift 2
	# shellcheck disable=SC2086 # $spec is a word list
	want=$(explained $spec)
	before=$(snap)
	"$@" >/dev/null 2>&1 || true
	after=$(snap)
	assert_eq "$what: explain against traffic" "$want" "$(moved "$before" "$after")"
}
tcp_connect() { # addr port: one connection attempt (a SYN, retransmitted within 1 s at most)
	in_c timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null || true
}

# --- explaining changes nothing -----------------------------------------------------
s0=$(state)
for _ in 1 2 3; do
	"$POLICYCTL" explain 198.18.2.1 tcp 80 >/dev/null
	"$POLICYCTL" explain 198.18.2.77 udp 7000 >/dev/null # a new host: no bucket made
	"$POLICYCTL" explain 198.18.2.1 udp 53 --src 198.18.0.2 >/dev/null
	"$POLICYCTL" explain 198.18.3.1 udp 9 >/dev/null
	"$POLICYCTL" explain 2001:db8:2::1 >/dev/null
	"$POLICYCTL" explain 198.18.4.1 >/dev/null
done
assert_eq "state after explaining" "$s0" "$(state)"

# --- explain agrees with traffic ------------------------------------------------------
compare "tcp/80" "198.18.2.1 tcp 80" tcp_connect 198.18.2.1 80
compare "tcp/22" "198.18.2.1 tcp 22" tcp_connect 198.18.2.1 22
compare "udp/53 from the LAN" "198.18.2.1 udp 53 --src 198.18.0.2" send_udp 198.18.2.1 53 1
compare "udp/5000" "198.18.2.1 udp 5000 --src 198.18.0.2" send_udp 198.18.2.1 5000 1
compare "ping" "198.18.2.1" ping_count 198.18.2.1 1
compare "ping6" "2001:db8:2::1" ping_count -6 2001:db8:2::1 1
compare "tcp6/80" "2001:db8:2::1 tcp 80" tcp_connect 2001:db8:2::1 80
compare "monitor mode" "198.18.3.1 udp 9 --src 198.18.0.2" send_udp 198.18.3.1 9 1
# The source matters: from 0.0.0.0 (the default) udp/53 is not the LAN's.
assert_eq "src decides" "web/udp-other pass" "$(explained 198.18.2.1 udp 53)"
assert_eq "default drop" "drop default null" \
	"$(ex 198.18.2.1 tcp 22 -- '"\(.verdict) \(.reason) \(.rule.index)"')"
assert_eq "rule and prefix" "web 198.18.2.0/24 dns-lan 1 proto udp dport 53 src 198.18.0.0/24 drop rule" \
	"$(ex 198.18.2.1 udp 53 --src 198.18.0.2 -- '"\(.policy) \(.prefix) \(.rule.name) \(.rule.index) \(.rule.match) \(.verdict) \(.reason)"')"
assert_eq "packet as built" "udp 198.18.0.2:40000 > 198.18.2.1:53, 100 bytes" \
	"$(ex 198.18.2.1 udp 53 --src 198.18.0.2 -- .packet.summary)"
assert_eq "IPv6 prefix" "web 2001:db8:2::/64 ping6" \
	"$(ex 2001:db8:2::1 -- '"\(.policy) \(.prefix) \(.rule.name)"')"

# Monitor mode: drop by the rule, carried out as a pass; the quota's use shown.
assert_eq "monitor" "monitor drop rule true pass" \
	"$(ex 198.18.3.1 udp 9 -- '"\(.mode) \(.verdict) \(.reason) \(.would_drop) \(.kernel)"')"
ping_count 198.18.3.1 2 >/dev/null
used=$(stat_of mon '.hosts[] | select(.address=="198.18.3.1") | .quota_used')
[ "$used" -ge 168 ] || fail "two pings used $used bytes of the quota"
assert_eq "quota use" "host 1000000 $used false" \
	"$(ex 198.18.3.1 -- '"\(.quota.per) \(.quota.bytes) \(.quota.used) \(.quota.over)"')"
"$POLICYCTL" explain 198.18.3.1 udp 9 | grep -qx 'verdict:  pass (monitor mode: drop (rule) when enforced)' ||
	fail "human monitor verdict: $("$POLICYCTL" explain 198.18.3.1 udp 9)"

# --- a per-host limit, spent -------------------------------------------------------------
assert_eq "fresh host bucket" "3 true false pass" \
	"$(ex 198.18.2.1 udp 7000 -- '"\(.limit.available) \(.limit.new_bucket) \(.limit.over) \(.verdict)"')"
compare "limit, within the burst" "198.18.2.1 udp 7000" send_udp 198.18.2.1 7000 1
assert_eq "bucket level after one" "2 198.18.2.1/32" \
	"$(ex 198.18.2.1 udp 7000 -- '"\(.limit.available) \(.limit.bucket)"')"
send_udp 198.18.2.1 7000 2
assert_eq "spent bucket" "0 true drop limit" \
	"$(ex 198.18.2.1 udp 7000 -- '"\(.limit.available) \(.limit.over) \(.verdict) \(.reason)"')"
compare "limit, spent" "198.18.2.1 udp 7000" send_udp 198.18.2.1 7000 1
"$POLICYCTL" explain 198.18.2.1 udp 7000 | grep -qx 'verdict:  drop (limit)' ||
	fail "human limit verdict: $("$POLICYCTL" explain 198.18.2.1 udp 7000)"
"$POLICYCTL" explain 198.18.2.1 udp 7000 |
	grep -qx 'limit:    1/h burst 3 per host (bucket 198.18.2.1/32): 0 packets left, over the limit' ||
	fail "human limit line: $("$POLICYCTL" explain 198.18.2.1 udp 7000)"
# Another host has its own, full bucket.
assert_eq "other host" "3 pass" "$(ex 198.18.2.2 udp 7000 -- '"\(.limit.available) \(.verdict)"')"

# --- a blocked host -------------------------------------------------------------------------
send_udp 198.18.2.5 53 11
assert_eq "blocked host" "default null drop blocked true" \
	"$(ex 198.18.2.5 udp 5000 --src 198.18.0.2 -- '"\(.rule.name) \(.rule.index) \(.verdict) \(.reason) \(.block.blocked)"')"
compare "blocked" "198.18.2.5 udp 5000 --src 198.18.0.2" send_udp 198.18.2.5 5000 1
"$POLICYCTL" explain 198.18.2.5 | grep -qx 'verdict:  drop (blocked)' ||
	fail "human blocked verdict: $("$POLICYCTL" explain 198.18.2.5)"
"$POLICYCTL" explain 198.18.2.5 | grep -Eq '^block: +after 10 drops within 5m for 10m: blocked until [0-9-]+T[0-9:]+Z \(blocks so far: 1\)$' ||
	fail "human block line: $("$POLICYCTL" explain 198.18.2.5)"

# --- a new host, the bucket table (--hosts 8: two sets of 4) full ----------------------------
# The program, explaining, creates no bucket, but sees that the host's set
# has no way to give: the table-full verdict, as a real packet gets. 30 more
# hosts fill both sets, whichever set the seed gives each.
for h in $(seq 40 69); do send_udp 198.18.2.$h 7000 1; done
assert_eq "bucket table full" "8 8" \
	"$("$POLICYCTL" --json status | jq -r '.maps[] | select(.name=="pd_host_buckets") | "\(.used) \(.capacity)"')"
assert_eq "table full" "drop table-full true true" \
	"$(ex 198.18.2.20 udp 7000 -- '"\(.verdict) \(.reason) \(.table_full) \(.limit.table_full)"')"
compare "table full" "198.18.2.20 udp 7000" send_udp 198.18.2.20 7000 1
"$POLICYCTL" explain 198.18.2.20 udp 7000 | grep -qx 'verdict:  drop (table-full)' ||
	fail "human table-full verdict: $("$POLICYCTL" explain 198.18.2.20 udp 7000)"

# --- an address no policy covers ---------------------------------------------------------------
assert_eq "uncovered (text)" "no policy covers 198.18.4.1: passes untouched" \
	"$("$POLICYCTL" explain 198.18.4.1 udp 53 | sed -n 2p)"
assert_eq "uncovered (json)" "false pass" "$(ex 198.18.4.1 -- '"\(.covered) \(.verdict)"')"

# --- nothing changed by all this explaining, with spent buckets, blocks, quota use --------------
s0=$(state)
for _ in 1 2 3; do
	"$POLICYCTL" explain 198.18.2.1 udp 7000 >/dev/null
	"$POLICYCTL" explain 198.18.2.2 udp 7000 >/dev/null
	"$POLICYCTL" explain 198.18.2.5 udp 5000 >/dev/null
	"$POLICYCTL" explain 198.18.3.1 udp 9 --len 1500 >/dev/null
	"$POLICYCTL" explain 198.18.3.9 >/dev/null
done
assert_eq "state after explaining again" "$s0" "$(state)"
echo "explain: ok"
