#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The daemon under valgrind through its paths: start, apply, dry-run,
# refused apply, every read command, garbage on the socket, SIGHUP, a route
# deleted behind its back, remove, SIGTERM. No memory error, no leak
# (valgrind's exit status; its notes on unknown bpf() commands are not errors).
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT
sandbox_setup
PD_WRAPPER="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
--error-exitcode=99 --suppressions=$(dirname "$0")/valgrind.supp --log-file=$SB_DIR/vg.log"
policyd_start

printf 'policy: x\ndestinations: [198.18.2.0/24, 198.18.3.0/24, 2001:db8:2::/64]\nrules:\n  - name: a\n    match: {proto: udp, dport: 9}\n    action: drop\n' >"$SB_DIR/x.yaml"
"$POLICYCTL" apply "$SB_DIR/x.yaml" >/dev/null
"$POLICYCTL" apply --dry-run "$SB_DIR/x.yaml" >/dev/null
send_udp 198.18.2.1 9 3
for c in "stats x" "stats 198.18.2.0/24" stats list "show x" status; do
	"$POLICYCTL" $c >/dev/null
done
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
