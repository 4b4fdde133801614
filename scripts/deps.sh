#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian packages that building, testing and the demo need, when
# any is missing. Idempotent: with everything present it touches nothing, and
# it runs 'apt-get update' only when something must be installed.
set -eu

PKGS="make gcc clang llvm pkg-config libbpf-dev bpftool linux-libc-dev \
libnl-3-dev libnl-route-3-dev libyaml-dev libjansson-dev check \
mandoc iproute2 nftables iputils-ping netcat-openbsd jq valgrind clang-format \
iperf3"

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
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
