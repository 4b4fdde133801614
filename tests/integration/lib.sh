# SPDX-License-Identifier: GPL-2.0-only
# Sandbox for integration tests and the demo: three network namespaces,
# client ▸ router ▸ server, joined by veth pairs; a policyd in the router
# namespace with its own socket, bpffs instance and state directory.
# Everything made here is removed by sandbox_teardown, which the caller
# traps on EXIT so a failing test cleans up too.
#
#   client  c0 198.18.0.2/24 2001:db8:0::2/64
#   router  r0 198.18.0.1/24 2001:db8:0::1/64 | r1 198.18.1.1/24 2001:db8:1::1/64
#   server  s0 198.18.1.2/24 2001:db8:1::2/64, lo 198.18.2.1/24 198.18.3.1/24
#           2001:db8:2::1/64
# The router reaches 198.18.2.0/24 and 2001:db8:2::/64 by static routes
# via the server (routes a policy can wrap), 198.18.3.0/24 only through a
# 198.18.0.0/15 route (a route a policy can cover with a more specific one).

SB_ID=${SB_ID:-$$}
NS_C=pdc$SB_ID
NS_R=pdr$SB_ID
NS_S=pds$SB_ID
SB_DIR=
PD_PID=
BUILD=${BUILD:-build}
POLICYD=${POLICYD:-$BUILD/policyd}
POLICYCTL=${POLICYCTL:-$BUILD/policyctl}
PD_WRAPPER=${PD_WRAPPER:-}

in_c() { ip netns exec "$NS_C" "$@"; }
in_r() { ip netns exec "$NS_R" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

sandbox_setup() {
	SB_DIR=$(mktemp -d /tmp/policyd-test.XXXXXX)
	ip netns add "$NS_C"
	ip netns add "$NS_R"
	ip netns add "$NS_S"
	ip link add c0 netns "$NS_C" type veth peer name r0 netns "$NS_R"
	ip link add r1 netns "$NS_R" type veth peer name s0 netns "$NS_S"
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
	done
	ip -n "$NS_C" addr add 198.18.0.2/24 dev c0
	ip -n "$NS_C" addr add 2001:db8:0::2/64 dev c0 nodad
	ip -n "$NS_C" link set c0 up
	ip -n "$NS_C" route add default via 198.18.0.1
	ip -n "$NS_C" -6 route add default via 2001:db8:0::1

	ip -n "$NS_R" addr add 198.18.0.1/24 dev r0
	ip -n "$NS_R" addr add 2001:db8:0::1/64 dev r0 nodad
	ip -n "$NS_R" addr add 198.18.1.1/24 dev r1
	ip -n "$NS_R" addr add 2001:db8:1::1/64 dev r1 nodad
	ip -n "$NS_R" link set r0 up
	ip -n "$NS_R" link set r1 up
	in_r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n "$NS_R" route add 198.18.2.0/24 via 198.18.1.2 dev r1 proto static metric 50
	ip -n "$NS_R" -6 route add 2001:db8:2::/64 via 2001:db8:1::2 dev r1 proto static metric 50
	ip -n "$NS_R" route add 198.18.0.0/15 via 198.18.1.2 dev r1 proto static

	ip -n "$NS_S" addr add 198.18.1.2/24 dev s0
	ip -n "$NS_S" addr add 2001:db8:1::2/64 dev s0 nodad
	ip -n "$NS_S" addr add 198.18.2.1/24 dev lo
	ip -n "$NS_S" addr add 198.18.3.1/24 dev lo
	ip -n "$NS_S" addr add 2001:db8:2::1/64 dev lo
	ip -n "$NS_S" link set s0 up
	ip -n "$NS_S" route add default via 198.18.1.1
	ip -n "$NS_S" -6 route add default via 2001:db8:1::1

	# A bpffs instance of the sandbox's own: pins never meet another
	# daemon's, and unmounting it removes them all. 'ip netns exec'
	# remounts /sys, so it must live outside /sys.
	mkdir -p "$SB_DIR/bpffs"
	mount -t bpf bpf "$SB_DIR/bpffs"
	export POLICYD_SOCKET="$SB_DIR/policyd.sock"
	# Wait until the client reaches the server both ways (IPv6 neighbour
	# discovery takes a moment).
	in_c ping -c1 -W2 198.18.2.1 >/dev/null
	in_c ping -6 -c1 -W2 2001:db8:2::1 >/dev/null 2>&1 || in_c ping -6 -c1 -W2 2001:db8:2::1 >/dev/null
}

policyd_start() {
	# Not through in_r: '$!' must be policyd's pid, not a subshell's.
	# shellcheck disable=SC2086 # PD_WRAPPER is a command line (valgrind ...)
	ip netns exec "$NS_R" $PD_WRAPPER "$POLICYD" -f --socket "$SB_DIR/policyd.sock" --bpffs "$SB_DIR/bpffs/policyd" \
		--state-dir "$SB_DIR/state" "$@" 2>>"$SB_DIR/policyd.log" &
	PD_PID=$!
	for _ in $(seq 400); do
		[ -S "$SB_DIR/policyd.sock" ] && "$POLICYCTL" status >/dev/null 2>&1 && return 0
		kill -0 "$PD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "policyd did not start:" >&2
	cat "$SB_DIR/policyd.log" >&2
	return 1
}

policyd_stop() {
	[ -n "$PD_PID" ] || return 0
	kill -TERM "$PD_PID" 2>/dev/null || true
	wait "$PD_PID" 2>/dev/null || true
	PD_PID=
}

sandbox_teardown() {
	policyd_stop
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ -n "$SB_DIR" ]; then
		umount "$SB_DIR/bpffs" 2>/dev/null || true
		rm -rf "$SB_DIR"
	fi
}

# --- assertions --------------------------------------------------------------

fail() {
	echo "FAIL: $*" >&2
	if [ -n "$SB_DIR" ] && [ -f "$SB_DIR/policyd.log" ]; then
		echo "--- policyd log:" >&2
		tail -n 30 "$SB_DIR/policyd.log" >&2
	fi
	exit 1
}

assert_eq() { # what expected actual
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# stat_of TARGET JQ-FILTER: one value from 'policyctl --json stats TARGET'.
stat_of() {
	"$POLICYCTL" --json stats "$1" | jq -cr "$2"
}

# Send N UDP datagrams from the client, one write each.
send_udp() { # addr port count
	in_c bash -c "for i in \$(seq $3); do echo x > /dev/udp/$1/$2; done" 2>/dev/null || true
}

ping_count() { # [-6] addr count -> number of replies received
	local fam=
	if [ "$1" = -6 ]; then fam=-6; shift; fi
	in_c ping $fam -n -q -i 0.01 -W 1 -c "$2" "$1" 2>/dev/null |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}
