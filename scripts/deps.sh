#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian packages that building, testing and the demo need, when
# any is missing. Idempotent: with everything present it touches nothing, and
# it runs 'apt-get update' only when something must be installed.
set -eu

PKGS="make gcc clang llvm pkg-config libbpf-dev bpftool linux-libc-dev \
libnl-3-dev libnl-route-3-dev libyaml-dev libjansson-dev check \
mandoc iproute2 nftables iputils-ping netcat-openbsd jq valgrind clang-format \
iperf3 libmicrohttpd-dev libpcap-dev tcpdump curl prometheus"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "scripts/deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "scripts/deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Only promtool of the prometheus package is wanted (the tests check the
# metrics with it): keep its server, and any other service, from starting.
rcd=/usr/sbin/policy-rc.d
made_rcd=0
if [ ! -e "$rcd" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$rcd"
	chmod 755 "$rcd"
	made_rcd=1
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null || status=$?
[ "$made_rcd" = 1 ] && rm -f "$rcd"
exit "${status:-0}"
