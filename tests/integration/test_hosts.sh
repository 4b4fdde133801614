#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Per-host statistics under real traffic: stats --top N lists the busiest
# hosts in order with exact packet and byte counts, drops by reason per
# host, a rate while traffic flows; reset zeroes the hosts it covers;
# status shows the per-host table's fill; --top is checked.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

cat >"$SB_DIR/h.yaml" <<'Y'
policy: h
destinations: [198.18.2.0/24, 2001:db8:2::/64]
rules:
  - name: no-9000
    match: { proto: udp, dport: 9000 }
    action: drop
Y
"$POLICYCTL" apply "$SB_DIR/h.yaml" >/dev/null
top() { "$POLICYCTL" --json stats "$1" --top "$2"; }

# Usage errors: --top needs a number of hosts, 1 or more.
for bad in "--top" "--top 0" "--top -1" "--top x" "--top 3x" "--top 65537"; do
	rc=0
	# shellcheck disable=SC2086 # word splitting wanted
	"$POLICYCTL" stats h $bad >/dev/null 2>"$SB_DIR/err" || rc=$?
	assert_eq "stats h $bad" 2 "$rc"
	grep -q '^policyctl: ' "$SB_DIR/err" || fail "stats h $bad: $(cat "$SB_DIR/err")"
done

# The daemon checks top itself: 0, negative, too many, not a number.
frame() { # JSON -> length-prefixed frame on stdout
	local n=${#1}
	printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))%s" "$1"
}
for bad in 0 -5 65537 '"3"' 1.5; do
	reply=$(frame "{\"version\":1,\"command\":\"stats\",\"args\":{\"top\":$bad}}" |
		timeout 5 nc -U -q 2 "$SB_DIR/policyd.sock" | tail -c +5)
	assert_eq "daemon: top $bad" EINVAL "$(echo "$reply" | jq -r .error.code)"
done

# Three hosts, three amounts: one datagram of 2 bytes is 30 IP bytes.
send_udp 198.18.2.1 7000 30
send_udp 198.18.2.2 7000 20
send_udp 198.18.2.3 9000 5
send_udp 2001:db8:2::5 7000 7

assert_eq "the two busiest, in order" \
	'[{"address":"198.18.2.1","packets":30,"bytes":900,"dropped":0},{"address":"198.18.2.2","packets":20,"bytes":600,"dropped":0}]' \
	"$(top 198.18.2.0/24 2 | jq -c '[.hosts[] | {address, packets, bytes, dropped}]')"
assert_eq "policy of a host" h "$(top 198.18.2.0/24 1 | jq -r '.hosts[0].policy')"
assert_eq "drops by reason, per host" "198.18.2.3 5 5 5 0" \
	"$(top 198.18.2.3 5 | jq -r '.hosts[] | "\(.address) \(.packets) \(.dropped) \(.dropped_reasons.rule) \(.dropped_reasons.default)"')"
assert_eq "IPv6 host" "2001:db8:2::5 7 350" \
	"$(top 2001:db8:2::/64 5 | jq -r '.hosts[] | "\(.address) \(.packets) \(.bytes)"')"
assert_eq "a policy's hosts" "4" "$(top h 10 | jq '.hosts | length')"
assert_eq "default: 10 busiest" "4" "$(stat_of h '.hosts | length')"
[ -n "$(top h 1 | jq -r '.hosts[0].last_seen | select(test("^[0-9-]+T[0-9:]+Z$"))')" ] ||
	fail "no last_seen: $(top h 1)"

# The human table: one row per host, traffic columns; "-" for a rate not
# known yet is fine, numbers must be exact.
human=$("$POLICYCTL" stats 198.18.2.0/24 --top 2)
echo "$human" | grep -Eq '^HOST +POLICY +PACKETS +BYTES +DROPPED +PPS +BIT/S +LAST-SEEN$' ||
	fail "hosts table header: $human"
echo "$human" | grep -Eq '^198\.18\.2\.1 +h +30 +900 +0 +[0-9.k-]+ +[0-9.kM-]+ +[0-9.]+[smh] ago$' ||
	fail "hosts table row: $human"

# A rate while traffic flows: about 100 datagrams a second for 3 s to a
# fourth host; two reads more than a second apart.
# shellcheck disable=SC2016 # expanded by the inner shell
in_c bash -c 'for i in $(seq 300); do echo x > /dev/udp/198.18.2.4/7000; sleep 0.01; done' \
	2>/dev/null &
sender=$!
sleep 1
top 198.18.2.4 1 >/dev/null
sleep 1.5
read -r pps bps <<<"$(top 198.18.2.4 1 | jq -r '.hosts[0] | "\(.pps) \(.bps)"')"
wait "$sender" || true
echo "rate to 198.18.2.4: $pps packets/s, $bps bit/s"
# 240 bits a datagram; both rates are rounded to a tenth.
awk -v p="$pps" -v b="$bps" 'BEGIN { d = b - p * 240; exit !(p > 10 && p < 1000 && d * d <= 576) }' ||
	fail "rate while sending: pps $pps, bps $bps"
assert_eq "every datagram counted" "300 9000" \
	"$(top 198.18.2.4 1 | jq -r '.hosts[0] | "\(.packets) \(.bytes)"')"

# The per-host table's fill, both families.
assert_eq "status: host table" "4 65536 1 65536" \
	"$("$POLICYCTL" --json status | jq -r '.hosts | "\(.ipv4.present) \(.ipv4.capacity) \(.ipv6.present) \(.ipv6.capacity)"')"
assert_eq "status: no evictions" "0 0" \
	"$("$POLICYCTL" --json status | jq -r '.hosts | "\(.ipv4.evicted) \(.ipv6.evicted)"')"
"$POLICYCTL" status | grep -Eq '^host table: +IPv4 4 of 65536 \(0\.0%\), 0 evicted; IPv6 1 of 65536 \(0\.0%\), 0 evicted$' ||
	fail "status: $("$POLICYCTL" status)"

# reset ADDRESS zeroes that host only; reset POLICY every host of it.
assert_eq "reset of one host" 1 "$("$POLICYCTL" --json reset 198.18.2.1 | jq .hosts)"
assert_eq "that host zeroed" "0 0" \
	"$(top 198.18.2.1 1 | jq -r '.hosts[0] | "\(.packets) \(.bytes)"')"
assert_eq "another host kept" 20 "$(top 198.18.2.2 1 | jq -r '.hosts[0].packets')"
"$POLICYCTL" reset h | grep -Eq '^counters reset: policy h \(2 rules, 5 hosts\)$' ||
	fail "reset output: $("$POLICYCTL" reset h)"
assert_eq "every host zeroed" "0 0 0" \
	"$(top h 10 | jq -r '[([.hosts[].packets] | add), ([.hosts[].bytes] | add), ([.hosts[].dropped] | add)] | join(" ")')"
send_udp 198.18.2.2 7000 3
assert_eq "counting again after reset" "198.18.2.2 3 90" \
	"$(top h 1 | jq -r '.hosts[0] | "\(.address) \(.packets) \(.bytes)"')"

# Evictions: a table of 4 hosts (one set; fresh maps: the pins go), 10 hosts
# sent to one after the other; each new host beyond the room evicts the one
# whose last packet is oldest on its CPU.
policyd_stop
rm -r "$SB_DIR/bpffs/policyd"
policyd_start --hosts 4
for i in $(seq 11 20); do send_udp "198.18.2.$i" 7000 2; done
read -r present cap evicted <<<"$("$POLICYCTL" --json status |
	jq -r '.hosts.ipv4 | "\(.present) \(.capacity) \(.evicted)"')"
echo "table of $cap: $present present, $evicted evicted"
assert_eq "capacity" 4 "$cap"
# Each CPU holds its own 4: hosts whose packets ran on different CPUs add up.
if [ "$present" -lt 1 ] || [ "$present" -gt $((4 * $(nproc --all))) ]; then
	fail "present $present of 4 per CPU"
fi
# Each host took a place, on the CPU its packets ran on (on each, if they
# ran on two): what is not present was evicted.
if [ $((present + evicted)) -lt 10 ]; then fail "present $present + evicted $evicted < 10"; fi
assert_eq "the last host stays" "198.18.2.20 2" \
	"$(top 198.18.2.20 1 | jq -r '.hosts[0] | "\(.address) \(.packets)"')"
assert_eq "evicted hosts are not listed" "$present" "$(top h 100 | jq '.hosts | length')"

# remove releases a policy's hosts: the policy applied next, in the same
# slot, lists none of them, and counts only its own traffic.
slot=$("$POLICYCTL" --json show h | jq .compiled.slot)
"$POLICYCTL" remove h >/dev/null
sed 's/^policy: h$/policy: h2/' "$SB_DIR/h.yaml" >"$SB_DIR/h2.yaml"
"$POLICYCTL" apply "$SB_DIR/h2.yaml" >/dev/null
assert_eq "the slot is reused" "$slot" "$("$POLICYCTL" --json show h2 | jq .compiled.slot)"
assert_eq "no host of the removed policy" 0 "$(top h2 100 | jq '.hosts | length')"
send_udp 198.18.2.20 7000 4
assert_eq "only the new policy's traffic" "198.18.2.20 4 h2" \
	"$(top h2 100 | jq -r '.hosts[] | "\(.address) \(.packets) \(.policy)"')"
