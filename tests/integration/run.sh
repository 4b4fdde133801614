#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Run every integration test (test_*.sh) against the binaries in BUILD.
# Each test makes and removes its own namespaces; a failing test does not
# stop the others. Needs root.
set -u
BUILD=${1:-build}
export BUILD POLICYD="$BUILD/policyd" POLICYCTL="$BUILD/policyctl"
here=$(dirname "$0")

if [ "$(id -u)" != 0 ]; then
	echo "integration tests need root" >&2
	exit 1
fi

pass=0
failed=()
for t in "$here"/test_*.sh; do
	name=$(basename "$t" .sh)
	start=$(date +%s)
	if bash "$t" >"/tmp/policyd-$name.log" 2>&1; then
		pass=$((pass + 1))
		echo "  PASS     $name ($(($(date +%s) - start))s)"
	else
		failed+=("$name")
		echo "  FAIL     $name ($(($(date +%s) - start))s)"
		sed 's/^/    | /' "/tmp/policyd-$name.log"
	fi
	rm -f "/tmp/policyd-$name.log"
done
echo "integration: $pass passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
