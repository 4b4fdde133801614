#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A sandbox with a daemon and an applied policy leaves nothing behind: no
# namespace, no bpffs mount or pin, no temporary directory — also when the
# test inside it fails.
set -eu
here=$(dirname "$0")
for outcome in pass fail; do
	id="td$$$outcome"
	dir=$(SB_ID=$id bash -c '
		. "$1/lib.sh"
		trap sandbox_teardown EXIT
		sandbox_setup
		policyd_start
		printf "policy: x\ndestinations: [198.18.2.0/24]\n" >"$SB_DIR/x.yaml"
		"$POLICYCTL" apply "$SB_DIR/x.yaml" >/dev/null
		echo "$SB_DIR"
		[ "$2" = pass ] || exit 1
	' _ "$here" "$outcome" 2>/dev/null) || [ "$outcome" = fail ]
	[ -n "$dir" ] || { echo "FAIL: sandbox did not start"; exit 1; }
	if ip netns list | grep -q "$id"; then echo "FAIL: namespace left ($outcome)"; exit 1; fi
	if grep -q "$dir" /proc/mounts; then echo "FAIL: bpffs left mounted ($outcome)"; exit 1; fi
	if [ -e "$dir" ]; then echo "FAIL: $dir left ($outcome)"; exit 1; fi
done
