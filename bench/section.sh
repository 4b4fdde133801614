# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the benchmark scripts: each owns one marked section of
# bench/RESULTS.md, so re-running one leaves the others' figures in place.
# bench_put_section NAME FILE RESULTS: FILE (which starts with
# "<!-- bench:NAME:begin" and ends with "<!-- bench:NAME:end -->") replaces
# that section of RESULTS, or is appended to it.
bench_put_section() {
	local name=$1 section=$2 results=$3 tmp

	tmp=$(mktemp "$results.XXXXXX")
	if [ -f "$results" ] && grep -q "^<!-- bench:$name:begin" "$results"; then
		awk -v f="$section" -v b="^<!-- bench:$name:begin" -v e="^<!-- bench:$name:end" '
			$0 ~ b { while ((getline l < f) > 0) print l; skip = 1; next }
			$0 ~ e { skip = 0; next }
			!skip { print }
		' "$results" >"$tmp"
	else
		{
			if [ -f "$results" ]; then
				cat "$results"
			else
				echo '# policyd benchmarks'
				echo
				# shellcheck disable=SC2016 # literal backquotes: markdown code
				echo 'Written by `make bench` (bench/run.sh); see SPEC §8.'
			fi
			printf '\n'
			cat "$section"
		} >"$tmp"
	fi
	mv "$tmp" "$results"
	chmod 0644 "$results"
}

# The machine, for a section's header.
bench_cpu() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	echo "${cpu:-$(uname -m)}"
}
