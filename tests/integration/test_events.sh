#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Events under real traffic: monitor --json sees drops (addresses, ports,
# rule), log matches, a block and its unblock (expiry, 'policyctl
# unblock', and a block from before a daemon restart); capture writes a pcap that tcpdump reads with the expected
# count, addresses and lengths; a monitor that never reads does not slow
# the daemon (its drops show in status); monitor ends when policyd stops.
set -eu
. "$(dirname "$0")/lib.sh"
MON_PIDS=
cleanup() {
	for p in $MON_PIDS; do kill "$p" 2>/dev/null || true; done
	sandbox_teardown
}
trap cleanup EXIT
sandbox_setup
policyd_start

cat >"$SB_DIR/ev.yaml" <<'Y'
policy: ev
destinations: [198.18.2.0/24, 2001:db8:2::/64]
block:
  after: { drops: 5, within: 10s }
  for: 2s
sample: { every: 1, snaplen: 64 }
rules:
  - name: no-9000
    match: { proto: udp, dport: 9000 }
    action: drop
  - name: ping
    match: { proto: icmp }
    log: true
Y
"$POLICYCTL" apply "$SB_DIR/ev.yaml" >/dev/null

# Usage errors exit 2, before anything is sent.
rc=0; "$POLICYCTL" monitor --type drop,bogus 2>"$SB_DIR/err" || rc=$?
assert_eq "unknown type exits 2" 2 "$rc"
grep -q "unknown event type 'bogus'" "$SB_DIR/err" || fail "type error: $(cat "$SB_DIR/err")"
rc=0; "$POLICYCTL" capture 198.18.2.0/24 2>/dev/null || rc=$?
assert_eq "capture without -w exits 2" 2 "$rc"
rc=0; "$POLICYCTL" capture 198.18.2.0/24 -w "$SB_DIR/x.pcap" --duration 0s 2>/dev/null || rc=$?
assert_eq "zero duration exits 2" 2 "$rc"

# Bad monitor requests on the raw socket: errors, the connection stays a
# normal one; input after a good one is discarded, the stream goes on.
frame() { # JSON -> length-prefixed frame on stdout
	local n=${#1}
	printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))%s" "$1"
}
raw_code() { # JSON -> the error code of the reply
	frame "$1" | timeout 5 nc -U -q 1 "$SB_DIR/policyd.sock" | tail -c +5 | jq -r .error.code
}
assert_eq "bad type name" EINVAL "$(raw_code '{"version":1,"command":"monitor","args":{"types":["drop","nope"]}}')"
assert_eq "types not a list" EINVAL "$(raw_code '{"version":1,"command":"monitor","args":{"types":"drop"}}')"
assert_eq "empty types" EINVAL "$(raw_code '{"version":1,"command":"monitor","args":{"types":[]}}')"
assert_eq "bad target" EINVAL "$(raw_code '{"version":1,"command":"monitor","args":{"target":"198.18.2.1/24"}}')"
assert_eq "unknown policy" ENOENT "$(raw_code '{"version":1,"command":"monitor","args":{"target":"nosuch"}}')"
assert_eq "target not a string" EINVAL "$(raw_code '{"version":1,"command":"monitor","args":{"target":5}}')"
{
	frame '{"version":1,"command":"monitor","args":{"types":["drop"]}}'
	frame '{"version":1,"command":"status"}'
	sleep 0.5
	head -c 3000 /dev/urandom
	sleep 1.5
} | timeout 10 nc -U -q 1 "$SB_DIR/policyd.sock" >"$SB_DIR/raw.out" &
raw=$!
sleep 1
send_udp 198.18.2.2 9000 1 # another host: 198.18.2.1's block window stays empty
wait "$raw" || true
assert_eq "stream after garbage" 1 "$(grep -ac '"type":"drop"' "$SB_DIR/raw.out")"
assert_eq "later request ignored" 0 "$(grep -ac '"uptime"' "$SB_DIR/raw.out")"

# --- monitor --json while traffic flows ----------------------------------------
"$POLICYCTL" monitor 198.18.2.0/24 --json --type drop,block,log >"$SB_DIR/mon.json" 2>"$SB_DIR/mon.err" &
MON=$!
MON_PIDS="$MON"
# A human one too, for the line format.
"$POLICYCTL" monitor ev --type drop >"$SB_DIR/mon.txt" 2>&1 &
MON_PIDS="$MON_PIDS $!"
sleep 0.5 # subscribed
assert_eq "pings pass (logged)" 3 "$(ping_count 198.18.2.1 3)"
in_c bash -c 'exec 3<>/dev/udp/198.18.2.1/9000; for i in 1 2 3 4 5; do echo x >&3; done; sleep 0.1' 2>/dev/null || true
# The host is blocked now: a ping is dropped (reason blocked) ...
assert_eq "blocked" 0 "$(ping_count 198.18.2.1 1)"
# ... until the block expires (2 s), which makes an unblock event.
sleep 3.2
assert_eq "expired" 1 "$(ping_count 198.18.2.1 1)"
# A second block, lifted by hand.
send_udp 198.18.2.1 9000 5
"$POLICYCTL" unblock 198.18.2.1 >/dev/null
sleep 0.5

n=$(jq -s '[.[] | select(.type=="drop" and .rule=="no-9000" and .reason=="rule" and .verdict=="drop"
	and .src=="198.18.0.2" and .dst=="198.18.2.1" and .dport==9000 and .proto=="udp"
	and .policy=="ev" and .length==30)] | length' "$SB_DIR/mon.json")
[ "$n" -ge 5 ] || fail "monitor saw $n of >= 5 rule drops: $(head -3 "$SB_DIR/mon.json")"
[ "$(jq -s '[.[] | select(.type=="log" and .rule=="ping" and .verdict=="pass" and .icmp_type==8)] | length' "$SB_DIR/mon.json")" -ge 3 ] ||
	fail "no log events for the pings: $(cat "$SB_DIR/mon.json")"
assert_eq "blocked-host drop" 1 "$(jq -s '[.[] | select(.type=="drop" and .reason=="blocked" and .proto=="icmp")] | length' "$SB_DIR/mon.json")"
assert_eq "block events" 2 "$(jq -s '[.[] | select(.type=="block" and .dst=="198.18.2.1" and .policy=="ev")] | length' "$SB_DIR/mon.json")"
assert_eq "unblock events" "expired unblocked" "$(jq -rs '[.[] | select(.type=="unblock" and .dst=="198.18.2.1") | .cause] | join(" ")' "$SB_DIR/mon.json")"
# The block lasts 2 s from its start, and the expiry is told within ~1 s of it.
jq -se '[.[] | select(.type=="block")][0].until_ns - [.[] | select(.type=="block")][0].time_ns
	| . >= 1990000000 and . <= 2010000000' "$SB_DIR/mon.json" >/dev/null || fail "block length"
# Events come in order of time.
jq -se '[.[].time_ns] as $t | $t == ($t | sort)' "$SB_DIR/mon.json" >/dev/null || fail "out of order"
# A policy filter sees only its policy's drops; the line names time, rule, reason, flow.
grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} drop +ev/no-9000 +drop \(rule\) +udp 198\.18\.0\.2:[0-9]+ > 198\.18\.2\.1:9000 len 30$' "$SB_DIR/mon.txt" ||
	fail "human line: $(head -3 "$SB_DIR/mon.txt")"
grep -v '^[0-9:.]* drop ' "$SB_DIR/mon.txt" && fail "monitor --type drop printed another type"
# Another prefix's monitor sees nothing of it.
"$POLICYCTL" monitor 198.18.3.0/24 --json --duration 1s >"$SB_DIR/other.json" &
p=$!
sleep 0.3
send_udp 198.18.2.1 9000 2
wait "$p" || fail "monitor --duration did not end with 0"
assert_eq "prefix filter" 0 "$(wc -l <"$SB_DIR/other.json")"
# Ctrl-C ends a monitor cleanly.
"$POLICYCTL" monitor >/dev/null &
p=$!
sleep 0.3
kill -INT "$p"
rc=0
wait "$p" || rc=$?
assert_eq "monitor exit on SIGINT" 0 "$rc"

# --- status: counts -----------------------------------------------------------------
st=$("$POLICYCTL" --json status)
[ "$(echo "$st" | jq '.events.received')" -ge 10 ] || fail "status events: $st"
assert_eq "subscribers" 2 "$(echo "$st" | jq '.events.subscribers | length')"
echo "$st" | jq -e '.events | has("lost") and has("capped")' >/dev/null || fail "no lost/capped: $st"
"$POLICYCTL" status | grep -Eq '^events: +[0-9]+ received, [0-9]+ lost, [0-9]+ capped' ||
	fail "human status: $("$POLICYCTL" status)"

# --- capture --------------------------------------------------------------------------
"$POLICYCTL" unblock 198.18.2.1 >/dev/null 2>&1 || true
"$POLICYCTL" capture 198.18.2.0/24 -w "$SB_DIR/c.pcap" --count 4 2>"$SB_DIR/cap.err" &
cap=$!
sleep 0.5
in_c ping -n -q -c 6 -i 0.05 -s 200 198.18.2.1 >/dev/null 2>&1 || true
timeout 5 tail --pid="$cap" -f /dev/null || fail "capture --count 4 did not end"
wait "$cap" || fail "capture failed: $(cat "$SB_DIR/cap.err")"
grep -q "^policyctl: 4 packets written to $SB_DIR/c.pcap, 0 lost$" "$SB_DIR/cap.err" ||
	fail "capture summary: $(cat "$SB_DIR/cap.err")"
tcpdump -r "$SB_DIR/c.pcap" -nn >"$SB_DIR/c.txt" 2>/dev/null
assert_eq "packets in the pcap" 4 "$(wc -l <"$SB_DIR/c.txt")"
assert_eq "echo requests to the server" 4 "$(grep -c '198.18.0.2 > 198.18.2.1: ICMP echo request' "$SB_DIR/c.txt")"
# Original length 228 (IP), 64 bytes kept; timestamps are today's.
tcpdump -r "$SB_DIR/c.pcap" -nn -v 2>/dev/null | grep -c 'length 228)' | grep -qx 4 ||
	fail "original lengths: $(tcpdump -r "$SB_DIR/c.pcap" -nn -v 2>/dev/null | head -2)"
# The first record's header (after the 24-byte file header): caplen, len.
assert_eq "caplen and length" "64 228" "$(od -An -t u4 -j 32 -N 8 "$SB_DIR/c.pcap" | xargs)"
first=$(tcpdump -r "$SB_DIR/c.pcap" -nn -tt 2>/dev/null | head -1 | cut -d. -f1)
[ $(($(date +%s) - first)) -lt 30 ] || fail "pcap time $first is not now"

# IPv6 through stdout, ended by --duration.
"$POLICYCTL" capture 2001:db8:2::/64 -w - --duration 2s >"$SB_DIR/c6.pcap" 2>/dev/null &
cap=$!
sleep 0.5
in_c ping -6 -n -q -c 3 -i 0.05 2001:db8:2::1 >/dev/null 2>&1 || true
wait "$cap" || fail "capture -w - failed"
assert_eq "IPv6 packets" 3 "$(tcpdump -r "$SB_DIR/c6.pcap" -nn 2>/dev/null | grep -c '2001:db8::2 > 2001:db8:2::1: ICMP6, echo request')"

# A prefix no sampling policy covers: said so.
timeout 5 "$POLICYCTL" capture 198.18.3.0/24 -w "$SB_DIR/none.pcap" --duration 1s 2>"$SB_DIR/none.err" ||
	fail "capture of an unsampled prefix failed"
grep -q "no policy applied under 198.18.3.0/24 samples packets" "$SB_DIR/none.err" ||
	fail "no warning: $(cat "$SB_DIR/none.err")"

# --- a monitor that stops reading -------------------------------------------------------
# shellcheck disable=SC2086 # a list of pids
kill $MON_PIDS 2>/dev/null || true
# shellcheck disable=SC2086
wait $MON_PIDS 2>/dev/null || true
MON_PIDS=
# Its output is read only after 8 s: until then it is stuck in a write.
"$POLICYCTL" monitor --json 2>"$SB_DIR/slow.err" > >({ sleep 8; cat; } >"$SB_DIR/slow.json") &
slow=$!
MON_PIDS="$slow"
t0=$(date +%s)
sleep 0.5
# Enough sampled packets to fill the pipe, the socket and the daemon's queue.
in_c ping -n -q -f -c 20000 -s 1000 198.18.2.1 >/dev/null 2>&1 || true
start=$(date +%s%N)
"$POLICYCTL" list >/dev/null || fail "list while a monitor is stuck"
"$POLICYCTL" --json stats ev >/dev/null || fail "stats while a monitor is stuck"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 3000 ] || fail "commands took ${ms}ms while a monitor was stuck"
st=$("$POLICYCTL" --json status)
[ "$(date +%s)" -lt $((t0 + 8)) ] || fail "too slow to see the monitor stuck"
[ "$(echo "$st" | jq '.events.subscribers[0].dropped')" -gt 0 ] ||
	fail "no drops for the stuck monitor: $(echo "$st" | jq -c .events)"
[ "$(echo "$st" | jq '.events.subscribers[0].queued')" -le 524288 ] ||
	fail "queue over its bound: $(echo "$st" | jq -c .events)"
echo "stuck monitor: commands in ${ms}ms; $(echo "$st" | jq -c '.events | {received, lost, capped, dropped}')"
# Once it reads again, the next event tells it how many it missed.
sleep $((t0 + 9 - $(date +%s)))
send_udp 198.18.2.2 9000 1
sleep 0.5
dropped=$("$POLICYCTL" --json status | jq '.events.subscribers[0].dropped')
kill "$slow"
wait "$slow" || fail "monitor did not end with 0 on SIGTERM"
MON_PIDS=
sleep 0.2
assert_eq "lost reported to the slow monitor" "$dropped" "$(jq -s '[.[].lost // 0] | add' "$SB_DIR/slow.json")"
jq -se '.[-1].dst == "198.18.2.2"' "$SB_DIR/slow.json" >/dev/null || fail "last event not the new one"
grep -q "^policyctl: $dropped events were lost: this monitor read too slowly$" "$SB_DIR/slow.err" ||
	fail "slow monitor's message: $(cat "$SB_DIR/slow.err")"

# --- monitor ends when the daemon stops; a block from before a restart ends ----------
sed 's/for: 2s/for: 4s/' "$SB_DIR/ev.yaml" >"$SB_DIR/ev4.yaml"
"$POLICYCTL" apply "$SB_DIR/ev4.yaml" >/dev/null
send_udp 198.18.2.1 9000 5
"$POLICYCTL" monitor >/dev/null 2>"$SB_DIR/gone.err" &
mon=$!
sleep 0.3
policyd_stop
rc=0
timeout 5 tail --pid="$mon" -f /dev/null || fail "monitor outlived the daemon"
wait "$mon" || rc=$?
assert_eq "monitor exit when policyd goes" 3 "$rc"
grep -q "went away" "$SB_DIR/gone.err" || fail "gone message: $(cat "$SB_DIR/gone.err")"
policyd_start
"$POLICYCTL" monitor --json --type block --duration 5s >"$SB_DIR/restart.json"
assert_eq "unblock of a block from before the restart" "198.18.2.1 expired" \
	"$(jq -r 'select(.type=="unblock") | "\(.dst) \(.cause)"' "$SB_DIR/restart.json")"
