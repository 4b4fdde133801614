#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# make demo: a sandbox of three namespaces (client > router > server),
# policyd in the router, policies/web.yaml applied, real traffic passed and
# dropped while 'policyctl monitor' watches, the stats table, an explain and
# a metrics scrape printed, everything torn down.
set -eu
BUILD=${1:-build}
export BUILD POLICYD="$BUILD/policyd" POLICYCTL="$BUILD/policyctl"
. "$(dirname "$0")/../tests/integration/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (network namespaces, BPF)" >&2
	exit 1
fi
trap sandbox_teardown EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "sandbox: client ($NS_C) > router ($NS_R) > server ($NS_S)"
sandbox_setup
policyd_start --metrics 127.0.0.1:9100
echo "policyd running in $NS_R (socket $POLICYD_SOCKET, metrics on 127.0.0.1:9100 there)"

# web.yaml's networks live on the server; the router reaches them over the
# sandbox's static routes (IPv4: 198.18.0.0/15; IPv6: one route each).
for a in 198.18.10.1/24 198.18.11.1/25 198.18.11.128/32 2001:db8:10::1/64 2001:db8:11::1/64; do
	ip -n "$NS_S" addr add "$a" dev lo
done
ip -n "$NS_R" -6 route add 2001:db8:10::/64 via 2001:db8:1::2 dev r1 proto static
ip -n "$NS_R" -6 route add 2001:db8:11::/64 via 2001:db8:1::2 dev r1 proto static

step "policyctl validate policies/web.yaml"
"$POLICYCTL" validate policies/web.yaml
step "policyctl apply policies/web.yaml"
"$POLICYCTL" apply policies/web.yaml
step "ip route (router): the routes now carry the program"
in_r ip route show | grep encap || true
in_r ip -6 route show | grep encap || true

step "traffic from the client"
"$POLICYCTL" monitor --type drop,log >"$SB_DIR/monitor.txt" 2>&1 &
monitor=$!
in_s bash -c 'for p in 80 443; do timeout 10 nc -k -l 198.18.10.1 $p >/dev/null 2>&1 & done'
sleep 0.3
try_tcp() { # addr port label
	if in_c timeout 2 bash -c "echo hello > /dev/tcp/$1/$2" 2>/dev/null; then
		echo "$3: connected (passed)"
	else
		echo "$3: no connection (dropped)"
	fi
}
for i in 1 2 3; do try_tcp 198.18.10.1 80 "tcp/80   web, connection $i"; done
try_tcp 198.18.10.1 443 "tcp/443  web"
try_tcp 198.18.10.1 21 "tcp/21   legacy-ftp"
try_tcp 198.18.10.1 23 "tcp/23   no rule (default: drop)"
send_udp 198.18.10.1 443 20
echo "udp/443  quic: 20 datagrams sent"
send_udp 198.18.10.1 5060 10
echo "udp/5060 no rule: 10 datagrams sent"
echo "icmp     ping: $(ping_count 198.18.10.1 10)/10 echo replies"
echo "icmpv6   ping6: $(ping_count -6 2001:db8:10::1 10)/10 echo replies"

kill -INT "$monitor"
wait "$monitor" || true
step "policyctl monitor --type drop,log (what it printed during the traffic; first lines)"
head -n 12 "$SB_DIR/monitor.txt"

step "policyctl stats 198.18.10.0/24"
"$POLICYCTL" stats 198.18.10.0/24
step "policyctl explain 198.18.10.1 tcp 21"
"$POLICYCTL" explain 198.18.10.1 tcp 21
step "curl http://127.0.0.1:9100/metrics (router namespace; rule counters)"
in_r curl -s http://127.0.0.1:9100/metrics | grep '^policyd_rule_packets_total' | head -n 8
step "policyctl status"
"$POLICYCTL" status

step "policyctl remove web; teardown"
"$POLICYCTL" remove web
