#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The daemon under valgrind through its paths: start, apply, dry-run,
# refused apply, every read command (stats --top, explain, a monitor and a
# capture stream, a metrics scrape and junk on its port too), garbage on the
# socket, SIGHUP, a route deleted behind its back, remove, SIGTERM. No memory error, no leak
# (valgrind's exit status; its notes on unknown bpf() commands are not errors).
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
PD_WRAPPER="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
--error-exitcode=99 --suppressions=$(dirname "$0")/valgrind.supp --log-file=$SB_DIR/vg.log"
policyd_start --metrics 127.0.0.1:9109

printf 'policy: x\ndestinations: [198.18.2.0/24, 198.18.3.0/24, 2001:db8:2::/64]\nsample: {every: 1}\nrules:\n  - name: a\n    match: {proto: udp, dport: 9}\n    action: drop\n    log: true\n' >"$SB_DIR/x.yaml"
"$POLICYCTL" apply "$SB_DIR/x.yaml" >/dev/null
"$POLICYCTL" apply --dry-run "$SB_DIR/x.yaml" >/dev/null
"$POLICYCTL" monitor --json >/dev/null &
mon=$!
"$POLICYCTL" capture 198.18.2.0/24 -w "$SB_DIR/x.pcap" --count 2 2>/dev/null &
cap=$!
sleep 1
send_udp 198.18.2.1 9 3
wait "$cap" || fail "capture failed"
for c in "stats x" "stats 198.18.2.0/24" "stats 198.18.2.0/24 --top 2" stats list "show x" \
	status "explain 198.18.2.1 udp 9" "explain 2001:db8:2::1"; do
	"$POLICYCTL" $c >/dev/null
done
in_r curl -sf http://127.0.0.1:9109/metrics >/dev/null || fail "metrics scrape failed"
printf 'junk\r\n\r\n' | in_r timeout 5 nc -q1 127.0.0.1 9109 >/dev/null 2>&1 || true
kill -INT "$mon"
wait "$mon" || true
printf 'policy: y\ndestinations: [198.18.2.0/24]\n' >"$SB_DIR/y.yaml"
if "$POLICYCTL" apply "$SB_DIR/y.yaml" 2>/dev/null; then fail "conflicting apply succeeded"; fi
head -c 1000 /dev/urandom | timeout 5 nc -U -q1 "$SB_DIR/policyd.sock" >/dev/null 2>&1 || true
kill -HUP "$PD_PID"
sleep 2
in_r ip route del 198.18.3.0/24
for _ in $(seq 50); do
	in_r ip route show 198.18.3.0/24 | grep -q encap && break
	sleep 0.2
done
in_r ip route show 198.18.3.0/24 | grep -q encap || fail "deleted route not re-installed"
"$POLICYCTL" remove x >/dev/null
kill -TERM "$PD_PID"
rc=0
wait "$PD_PID" || rc=$?
PD_PID=
[ "$rc" = 0 ] || { cat "$SB_DIR/vg.log" >&2; fail "valgrind: exit status $rc"; }
