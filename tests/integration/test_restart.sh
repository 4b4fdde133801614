#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The daemon stops and starts again: enforcement never stops while it is
# down, counters survive, routes move to the newly loaded program; and so
# after an upgrade that brings maps the old pins lack.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
policyd_start

cat >"$SB_DIR/r.yaml" <<'Y'
policy: r
destinations: [198.18.2.0/24]
rules:
  - name: no-9000
    match: { proto: udp, dport: 9000 }
    action: drop
Y
"$POLICYCTL" apply "$SB_DIR/r.yaml" >/dev/null
send_udp 198.18.2.1 9000 5
send_udp 198.18.2.1 53 2
name1=$(in_r ip route show 198.18.2.0/24 | grep -o 'policyd-[0-9]*')

policyd_stop
[ ! -S "$SB_DIR/policyd.sock" ] || fail "socket left behind after SIGTERM"
# Daemon down: the kernel still enforces and counts.
send_udp 198.18.2.1 9000 4
in_s timeout 5 nc -u -l -W 1 198.18.2.1 9000 >"$SB_DIR/got" &
listener=$!
sleep 0.3
send_udp 198.18.2.1 9000 1
wait "$listener" || true
[ ! -s "$SB_DIR/got" ] || fail "a dropped datagram arrived while the daemon was down"

policyd_start
assert_eq "drops kept across restart" 10 "$(stat_of r '.rules[] | select(.rule=="no-9000") | .dropped')"
assert_eq "passes kept across restart" 2 "$(stat_of r .totals.passed.packets)"
name2=$(in_r ip route show 198.18.2.0/24 | grep -o 'policyd-[0-9]*')
[ "$name1" != "$name2" ] || fail "route still names the old program ($name1)"
assert_eq "one route for the prefix" 1 "$(in_r ip route show 198.18.2.0/24 | wc -l)"
send_udp 198.18.2.1 9000 3
assert_eq "enforced by the new program" 13 "$(stat_of r '.rules[] | select(.rule=="no-9000") | .dropped')"

# An upgrade from a build without some of today's maps (pd_clock and
# pd_quota_clock came later): the missing pins are made, the others reused.
policyd_stop
rm "$SB_DIR/bpffs/policyd/pd_clock" "$SB_DIR/bpffs/policyd/pd_quota_clock"
policyd_start
for m in pd_clock pd_quota_clock; do
	[ -e "$SB_DIR/bpffs/policyd/$m" ] || fail "$m not pinned again after the upgrade"
done
assert_eq "drops kept across the upgrade" 13 "$(stat_of r '.rules[] | select(.rule=="no-9000") | .dropped')"
send_udp 198.18.2.1 9000 1
send_udp 198.18.2.1 53 1
assert_eq "enforced after the upgrade" 14 "$(stat_of r '.rules[] | select(.rule=="no-9000") | .dropped')"
assert_eq "passes counted after the upgrade" 3 "$(stat_of r .totals.passed.packets)"

# The per-host counters survive a restart with their table; without the
# seed their sets were chosen by, the tables are made anew (with a warning)
# and a new seed drawn; the policy's counters stay.
host_packets() { "$POLICYCTL" --json stats 198.18.2.1 --top 1 | jq '.hosts[0].packets // 0'; }
assert_eq "host counted across restarts" 17 "$(host_packets)"
seed_of() { bpftool map dump pinned "$SB_DIR/bpffs/policyd/pd_host_seed" -j | jq -r '.[0].formatted.value.seed'; }
seed1=$(seed_of)
[ "$seed1" != 0 ] || fail "no seed drawn for the per-host tables"
policyd_stop
rm "$SB_DIR/bpffs/policyd/pd_host_seed"
policyd_start
grep -q 'pd_dcache4 has lost its seed' "$SB_DIR/policyd.log" || fail "no warning for the lost seed"
seed2=$(seed_of)
[ "$seed2" != 0 ] && [ "$seed2" != "$seed1" ] || fail "seed after the loss: $seed2 (was $seed1)"
assert_eq "per-host counters start over" 0 "$(host_packets)"
assert_eq "policy counters kept" 14 "$(stat_of r '.rules[] | select(.rule=="no-9000") | .dropped')"
send_udp 198.18.2.1 53 1
assert_eq "the host counted again" 1 "$(host_packets)"

# SIGHUP re-applies the saved policy: same counters, same routes.
kill -HUP "$PD_PID"
sleep 0.5
assert_eq "counters after SIGHUP" 14 "$(stat_of r '.rules[] | select(.rule=="no-9000") | .dropped')"
assert_eq "policies after SIGHUP" r "$("$POLICYCTL" --json list | jq -r '.policies[].policy')"

# Re-applying a new version keeps the counters of rules whose names stay.
sed -i 's/dport: 9000/dport: [9000, 9001]/' "$SB_DIR/r.yaml"
"$POLICYCTL" apply "$SB_DIR/r.yaml" >/dev/null
send_udp 198.18.2.1 9001 2
assert_eq "counter kept by rule name" 16 "$(stat_of r '.rules[] | select(.rule=="no-9000") | .dropped')"
