#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# policyd --metrics: the exposition passes promtool, its counters equal
# 'policyctl stats --json' at the same moment, per-host series and blocked
# hosts and apply results show; wrong paths and methods, junk and a flood
# of idle connections get errors while the daemon keeps answering; bad
# --metrics values stop policyd at start.
set -eu
. "$(dirname "$0")/lib.sh"
trap sandbox_teardown EXIT

# Bad values are refused before anything is set up (exit 2, a message).
for bad in localhost:9101 127.0.0.1 127.0.0.1:0 127.0.0.1:65536 '::1:9101' '[::1]9101' \
	'[::1' :9101 300.1.1.1:80; do
	rc=0
	msg=$("$POLICYD" -f --metrics "$bad" 2>&1) || rc=$?
	assert_eq "exit status of --metrics $bad" 2 "$rc"
	case $msg in "policyd: --metrics '$bad': "*) ;; *) fail "--metrics $bad said: $msg" ;; esac
done
rc=0
msg=$("$POLICYD" -f --metrics 127.0.0.1:9101 --metrics-top x 2>&1) || rc=$?
assert_eq "exit status of --metrics-top x" 2 "$rc"
echo "$msg" | grep -q -- "--metrics-top takes a number" || fail "--metrics-top x said: $msg"

sandbox_setup
PORT=9101
URL=http://127.0.0.1:$PORT/metrics
policyd_start --metrics 127.0.0.1:$PORT --metrics-top 3

# A second daemon cannot take the port: a clear error, and it stops.
rc=0
in_r timeout 20 "$POLICYD" -f --socket "$SB_DIR/other.sock" --bpffs "$SB_DIR/bpffs/other" \
	--state-dir "$SB_DIR/other-state" --metrics 127.0.0.1:$PORT 2>"$SB_DIR/other.log" || rc=$?
assert_eq "exit status when the port is taken" 1 "$rc"
grep -q "metrics 127.0.0.1:$PORT: cannot listen: Address already in use" "$SB_DIR/other.log" ||
	fail "port in use: $(cat "$SB_DIR/other.log")"

cat >"$SB_DIR/t.yaml" <<'Y'
policy: t
destinations: [198.18.2.0/24, 2001:db8:2::/64]
default: pass
block:
  after: { drops: 3, within: 10s }
  for: 5m
rules:
  - name: dns
    match: { proto: udp, dport: 53 }
  - name: high
    match: { proto: udp, dport: 9000-9999 }
    action: drop
Y
cat >"$SB_DIR/m.yaml" <<'Y'
policy: m
mode: monitor
destinations: [198.18.3.0/24]
default: drop
Y
"$POLICYCTL" apply "$SB_DIR/t.yaml" >/dev/null
"$POLICYCTL" apply "$SB_DIR/m.yaml" >/dev/null
# Fails in the daemon (the prefix is t's): an apply result of failure.
sed 's/^policy: t/policy: u/' "$SB_DIR/t.yaml" >"$SB_DIR/u.yaml"
"$POLICYCTL" apply "$SB_DIR/u.yaml" >/dev/null 2>&1 && fail "a second claim on a prefix applied"

send_udp 198.18.2.1 53 20
send_udp 198.18.2.1 9500 2        # dropped by rule, under the block threshold
assert_eq "pings" 3 "$(ping_count 198.18.2.1 3)"
assert_eq "IPv6 pings" 6 "$(ping_count -6 2001:db8:2::1 6)"
send_udp 198.18.2.9 9500 5        # 3 dropped by rule, then blocked: 2 more
send_udp 198.18.3.1 7000 4        # monitor mode: would-drop, passed

# The scrape and the stats, with no traffic in between.
in_r curl -sS --max-time 5 -D "$SB_DIR/headers" -o "$SB_DIR/metrics" "$URL" ||
	fail "scrape failed"
stats=$("$POLICYCTL" --json stats)
grep -q '^HTTP/1.1 200' "$SB_DIR/headers" || fail "scrape: $(head -1 "$SB_DIR/headers")"
grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$SB_DIR/headers" ||
	fail "content type: $(cat "$SB_DIR/headers")"
promtool check metrics <"$SB_DIR/metrics" >"$SB_DIR/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(cat "$SB_DIR/promtool.out")"

# metric NAME LABEL-MATCH [FILE]: the value of the one sample whose labels
# contain LABEL-MATCH (e.g. 'rule="dns",verdict="passed"'); the sum when
# several match; "none" when none does.
metric() {
	awk -v name="$1" -v want="$2" '
		$1 !~ /^#/ { split($1, a, "{"); if (a[1] == name && index($1, want)) { s += $2; n++ } }
		END { if (n) print s; else print "none" }' "${3:-$SB_DIR/metrics}"
}
rule() { echo "$stats" | jq -r ".rules[] | select(.policy==\"$1\" and .rule==\"$2\") | .$3"; }
for pr in t/dns t/high t/default m/default; do
	p=${pr%/*} r=${pr#*/}
	l="policy=\"$p\",rule=\"$r\""
	assert_eq "$pr packets" "$(rule "$p" "$r" packets)" "$(metric policyd_rule_packets_total "$l")"
	assert_eq "$pr passed" "$(rule "$p" "$r" passed)" \
		"$(metric policyd_rule_packets_total "$l,verdict=\"passed\"")"
	assert_eq "$pr dropped" "$(rule "$p" "$r" dropped)" \
		"$(metric policyd_rule_packets_total "$l,verdict=\"dropped\"")"
	assert_eq "$pr bytes" "$(rule "$p" "$r" bytes)" "$(metric policyd_rule_bytes_total "$l")"
	assert_eq "$pr would-drop" "$(rule "$p" "$r" would_drop)" \
		"$(metric policyd_rule_would_drop_packets_total "$l")"
done
assert_eq "dns passed (sent)" 20 "$(metric policyd_rule_packets_total 'rule="dns",verdict="passed"')"
# A blocked host's drops count under the default (no rule decided them).
assert_eq "high dropped (sent)" 5 "$(metric policyd_rule_packets_total 'rule="high",verdict="dropped"')"
for reason in rule default limit quota blocked table-full; do
	assert_eq "reason $reason" "$(echo "$stats" | jq -r ".totals.dropped.reasons[\"$reason\"]")" \
		"$(metric policyd_rule_dropped_packets_total "reason=\"$reason\"")"
	assert_eq "reason $reason bytes" \
		"$(echo "$stats" | jq -r ".totals.dropped.reasons_bytes[\"$reason\"]")" \
		"$(metric policyd_rule_dropped_bytes_total "reason=\"$reason\"")"
done
# Bytes by reason add up to the bytes dropped.
assert_eq "bytes by reason" "$(echo "$stats" | jq -r '.totals.dropped.bytes')" \
	"$(echo "$stats" | jq -r '[.totals.dropped.reasons_bytes[]] | add')"
assert_eq "drops by rule" 5 "$(metric policyd_rule_dropped_packets_total 'reason="rule"')"
assert_eq "drops of a blocked host" 2 "$(metric policyd_rule_dropped_packets_total 'reason="blocked"')"
assert_eq "would-drop, enforce mode" 0 "$(metric policyd_rule_would_drop_packets_total 'policy="t"')"
assert_eq "would-drop, monitor mode" 4 "$(metric policyd_rule_would_drop_packets_total 'policy="m"')"
assert_eq "would-drop bytes" 120 "$(metric policyd_rule_would_drop_bytes_total 'policy="m"')"
assert_eq "monitor mode passes" 4 "$(metric policyd_rule_packets_total 'policy="m",rule="default",verdict="passed"')"
assert_eq "blocked hosts" 1 "$(metric policyd_policy_blocked_hosts 'policy="t"')"
assert_eq "blocked hosts, m" 0 "$(metric policyd_policy_blocked_hosts 'policy="m"')"
assert_eq "policy info" 1 "$(metric policyd_policy_info 'policy="t",mode="enforce"')"
assert_eq "policy info, monitor" 1 "$(metric policyd_policy_info 'policy="m",mode="monitor"')"

# Per-host series for the 3 busiest hosts: 198.18.2.1 (its dns, high and
# ping packets), 2001:db8:2::1, 198.18.2.9; not 198.18.3.1 (4 packets).
assert_eq "host packets" 25 "$(metric policyd_host_packets_total 'policy="t",address="198.18.2.1"')"
assert_eq "host drops by rule" 2 \
	"$(metric policyd_host_dropped_packets_total 'address="198.18.2.1",reason="rule"')"
assert_eq "IPv6 host packets" 6 \
	"$(metric policyd_host_packets_total 'policy="t",address="2001:db8:2::1"')"
assert_eq "blocked host's drops" 5 "$(metric policyd_host_dropped_packets_total 'address="198.18.2.9"')"
assert_eq "blocked host's drops, blocked" 2 \
	"$(metric policyd_host_dropped_packets_total 'address="198.18.2.9",reason="blocked"')"
assert_eq "hosts shown (--metrics-top 3)" 3 \
	"$(grep -c '^policyd_host_packets_total{' "$SB_DIR/metrics")"
assert_eq "fourth host not shown" none "$(metric policyd_host_packets_total 'address="198.18.3.1"')"

assert_eq "applies that succeeded" 2 "$(metric policyd_applies_total 'result="success"')"
assert_eq "applies that failed" 1 "$(metric policyd_applies_total 'result="failure"')"
last=$(metric policyd_last_apply_timestamp_seconds '')
now=$(date +%s)
{ [ "$last" -le "$now" ] && [ "$last" -gt $((now - 120)) ]; } || fail "last apply at $last, now $now"
assert_eq "policies" 2 "$(metric policyd_policies '')"
assert_eq "pd_dest entries" 3 "$(metric policyd_map_entries 'map="pd_dest"')"
assert_eq "pd_policies entries" 2 "$(metric policyd_map_entries 'map="pd_policies"')"
assert_eq "pd_hosts capacity" 65536 "$(metric policyd_map_max_entries 'map="pd_hosts"')"
assert_eq "pd_dcache4 entries" 3 "$(metric policyd_map_entries 'map="pd_dcache4"')"
[ "$(metric policyd_events_lost_total '')" != none ] || fail "no events_lost"
assert_eq "version" 1 "$(metric policyd_build_info 'version="')"

# Paths and methods.
code() { in_r curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@"; }
assert_eq "other path" 404 "$(code http://127.0.0.1:$PORT/)"
assert_eq "other path" 404 "$(code http://127.0.0.1:$PORT/metricsx)"
assert_eq "POST" 405 "$(code -X POST -d x "$URL")"
assert_eq "DELETE" 405 "$(code -X DELETE "$URL")"
in_r curl -s -o /dev/null --max-time 5 -D - -X PUT -d x "$URL" | grep -qi '^Allow: GET, HEAD' ||
	fail "405 without Allow"
assert_eq "HEAD" 200 "$(code -I "$URL")"
assert_eq "query string" 200 "$(code "$URL?x=1")"

# Junk and an oversized request get an error (or, for what is not even a
# request line, a closed connection), never a hang; the daemon goes on.
junk=$(in_r python3 - "$PORT" <<'P'
import socket, sys, time
out = []
for payload in (b"garbage\r\n\r\n", b"foo bar baz\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 100000 + b"\r\n\r\n",
                b"\x00\xff\x16\x03\x01\r\n\r\n"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    try:
        s.sendall(payload)
    except OSError:
        pass  # the server may close before reading it all
    try:
        out.append(s.recv(64).split(b"\r\n")[0].decode() or "closed")
    except OSError as e:
        out.append(type(e).__name__)
    s.close()
print("|".join(out))
P
)
case $junk in
"closed|HTTP/1.1 400 Bad Request|HTTP/1.1 431 "*"|closed") ;;
"HTTP/1.1 400 Bad Request|HTTP/1.1 400 Bad Request|HTTP/1.1 431 "*"|closed") ;;
*) fail "junk answers: $junk" ;;
esac
"$POLICYCTL" status >/dev/null || fail "status after junk"

# 200 idle connections at once: the daemon keeps answering its socket
# promptly, and /metrics once they are gone.
in_r python3 - "$PORT" >"$SB_DIR/flood.out" 2>&1 <<'P' &
import socket, sys, time
socks = []
for _ in range(200):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", int(sys.argv[1])))
    socks.append(s)
print("open", flush=True)
time.sleep(3)
for s in socks:
    s.close()
P
flood=$!
for _ in $(seq 50); do grep -q open "$SB_DIR/flood.out" && break; sleep 0.1; done
grep -q open "$SB_DIR/flood.out" || fail "flood: $(cat "$SB_DIR/flood.out")"
# The server keeps at most 16 connections per client address.
held=$(in_r ss -Htn state established "( sport = :$PORT )" | wc -l)
{ [ "$held" -ge 1 ] && [ "$held" -le 16 ]; } || fail "$held connections held during the flood"
for _ in 1 2 3; do
	t0=$(date +%s%N)
	"$POLICYCTL" status >/dev/null || fail "status during the flood"
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -lt 1000 ] || fail "status took $ms ms during the flood"
	sleep 0.5
done
wait "$flood"
assert_eq "scrape after the flood" 200 "$(code "$URL")"
kill -0 "$PD_PID" || fail "policyd died"

# An IPv6 endpoint, after a restart: the counters are the pinned ones, the
# last apply is the saved one, and --metrics-top 0 shows no host.
policyd_stop
policyd_start --metrics '[::1]:9102' --metrics-top 0
in_r curl -sS -g --max-time 5 -o "$SB_DIR/metrics6" 'http://[::1]:9102/metrics' ||
	fail "IPv6 scrape failed"
promtool check metrics <"$SB_DIR/metrics6" >"$SB_DIR/promtool.out" 2>&1 ||
	fail "promtool check metrics (IPv6): $(cat "$SB_DIR/promtool.out")"
assert_eq "rule counters after a restart" "$(grep '^policyd_rule_' "$SB_DIR/metrics")" \
	"$(grep '^policyd_rule_' "$SB_DIR/metrics6")"
assert_eq "last apply after a restart" "$last" \
	"$(metric policyd_last_apply_timestamp_seconds '' "$SB_DIR/metrics6")"
assert_eq "no host series with --metrics-top 0" none \
	"$(metric policyd_host_packets_total '' "$SB_DIR/metrics6")"

# A detached daemon (no -f) serves metrics from the forked child, and still
# stops on SIGTERM (the signalfd is re-added to epoll after the fork).
policyd_stop
in_r "$POLICYD" --socket "$SB_DIR/policyd.sock" --bpffs "$SB_DIR/bpffs/policyd" \
	--state-dir "$SB_DIR/state" --metrics 127.0.0.1:$PORT 2>>"$SB_DIR/policyd.log"
pid=$("$POLICYCTL" --json status | jq -r .pid)
PD_PID=$pid # for the teardown
assert_eq "scrape of a detached daemon" 200 "$(code "$URL")"
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	kill -KILL "$pid"
	fail "a detached policyd ignored SIGTERM"
fi
PD_PID=
echo "test_metrics: ok"
