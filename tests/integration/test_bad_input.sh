#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Bad policies and bad clients: each refused with a clear message and exit
# status, nothing applied or changed, and the daemon goes on serving.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

cat >"$SB_DIR/good.yaml" <<'Y'
policy: good
destinations: [198.18.2.0/24]
rules:
  - name: no-9000
    match: { proto: udp, dport: 9000 }
    action: drop
Y
"$POLICYCTL" apply "$SB_DIR/good.yaml" >/dev/null
send_udp 198.18.2.1 9000 3
routes_before=$(in_r ip -4 route show table all)
state_before=$(cat "$SB_DIR/state/state.json")

# expect_refused FILE REGEX: apply fails with exit 1 and a
# 'policyctl: FILE:LINE:COL: ...' message; nothing changes.
expect_refused() {
	local rc=0
	"$POLICYCTL" apply "$1" 2>"$SB_DIR/err" >/dev/null || rc=$?
	assert_eq "exit status for $(basename "$1")" 1 "$rc"
	grep -Eq "$2" "$SB_DIR/err" || fail "$(basename "$1"): message '$(cat "$SB_DIR/err")' does not match '$2'"
	assert_eq "one line of error" 1 "$(wc -l <"$SB_DIR/err")"
	assert_eq "routes unchanged by $(basename "$1")" "$routes_before" "$(in_r ip -4 route show table all)"
	assert_eq "state unchanged by $(basename "$1")" "$state_before" "$(cat "$SB_DIR/state/state.json")"
}

b="$SB_DIR/bad"
mkdir "$b"
printf 'policy: good\ndestinations: [198.18.2.0/24]\nrules:\n  - name: a\n    rat: 1\n' >"$b/unknown.yaml"
expect_refused "$b/unknown.yaml" "^policyctl: $b/unknown.yaml:5:5: unknown key 'rat'"
printf 'policy: good\ndestinations: [198.18.2.1/24]\n' >"$b/hostbits.yaml"
expect_refused "$b/hostbits.yaml" "^policyctl: $b/hostbits.yaml:2:16: .*198.18.2.0/24"
printf 'policy: good\ndestinations: [198.18.2.0/24]\nrules:\n  - name: a\n  - name: a\n' >"$b/dup.yaml"
expect_refused "$b/dup.yaml" "^policyctl: $b/dup.yaml:5:[0-9]+: .*a"
: >"$b/empty.yaml"
expect_refused "$b/empty.yaml" "^policyctl: $b/empty.yaml:1:1: "
printf '\x7fELF\x01\x02{[[[: :\n\t\x00zz' >"$b/binary.yaml"
expect_refused "$b/binary.yaml" "^policyctl: $b/binary.yaml:[0-9]+:[0-9]+: "
printf 'policy: good\ndestinations: [198.18.2.0/24]\nrules: {\n' >"$b/broken.yaml"
expect_refused "$b/broken.yaml" "^policyctl: $b/broken.yaml:[0-9]+:[0-9]+: "
head -c 17000000 /dev/zero | tr '\0' '#' >"$b/huge.yaml"
expect_refused "$b/huge.yaml" "^policyctl: $b/huge.yaml:1:1: .*16 MiB"
# A second policy may not claim a prefix the first one holds.
printf 'policy: other\ndestinations:\n  - 198.18.9.0/24\n  - 198.18.2.0/24\n' >"$b/claim.yaml"
expect_refused "$b/claim.yaml" "^policyctl: $b/claim.yaml:4:5: destination 198.18.2.0/24 is already claimed by policy good"
assert_eq "still one policy" good "$("$POLICYCTL" --json list | jq -r '.policies[].policy')"
assert_eq "counters untouched" 3 "$(stat_of good .totals.dropped.packets)"

# Usage errors exit 2; an unreachable daemon exits 3.
rc=0; "$POLICYCTL" frobnicate 2>/dev/null || rc=$?
assert_eq "unknown command" 2 "$rc"
rc=0; "$POLICYCTL" --socket "$SB_DIR/nope.sock" status 2>/dev/null || rc=$?
assert_eq "no daemon" 3 "$rc"

# Garbage on the socket: error replies or a closed connection, never a
# crash, never a stuck daemon.
sock="$SB_DIR/policyd.sock"
frame() { # JSON -> length-prefixed frame on stdout
	local n=${#1}
	printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))%s" "$1"
}
reply=$(frame '{"version":1,"command":"nope"}' | timeout 5 nc -U -q 2 "$sock" | tail -c +5)
assert_eq "unknown command reply" EINVAL "$(echo "$reply" | jq -r .error.code)"
reply=$(frame '{"version":7,"command":"status"}' | timeout 5 nc -U -q 2 "$sock" | tail -c +5)
assert_eq "bad version reply" EPROTO "$(echo "$reply" | jq -r .error.code)"
reply=$(frame 'this is not json' | timeout 5 nc -U -q 2 "$sock" | tail -c +5)
assert_eq "bad JSON reply" EPROTO "$(echo "$reply" | jq -r .error.code)"
reply=$(printf '\xff\xff\xff\xffxxxx' | timeout 5 nc -U -q 2 "$sock" | tail -c +5)
assert_eq "huge frame reply" EPROTO "$(echo "$reply" | jq -r .error.code)"
reply=$(frame '{"version":1,"command":"apply","args":{"file":"raw.yaml","text":"policy: [x"}}' |
	timeout 5 nc -U -q 2 "$sock" | tail -c +5)
echo "$reply" | jq -r .error.message | grep -q '^raw.yaml:[0-9]*:[0-9]*: ' ||
	fail "daemon compile error lacks file:line:col: $reply"
head -c 100000 /dev/urandom | timeout 5 nc -U -q 1 "$sock" >/dev/null 2>&1 || true
# A client that stalls mid-frame does not block others.
(printf '\x00\x00\x01\x00{"ver' ; sleep 8) | nc -U "$sock" >/dev/null 2>&1 &
staller=$!
sleep 0.3
timeout 5 "$POLICYCTL" status >/dev/null || fail "daemon blocked by a stalled client"
kill "$staller" 2>/dev/null || true
kill -0 "$PD_PID" || fail "policyd died"
assert_eq "counters after the garbage" 3 "$(stat_of good .totals.dropped.packets)"
