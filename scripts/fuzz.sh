#!/usr/bin/env bash
# Run every Fuzz* target of the module for a while each.
#
# Usage: scripts/fuzz.sh DURATION   (make fuzz, make fuzz-short)
#
# Targets are discovered with go test -list, so new ones run without edits
# here. A target fails the run when go test fails, with one exception: Go
# 1.26's fuzz coordinator can report "context deadline exceeded" when
# -fuzztime ends while a worker is busy (golang/go#75804, fixed in Go 1.27).
# Such a run wrote no failing input to testdata/fuzz, so it is reported as
# that flake and not as a failure; any run that wrote an input still fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
duration=${1:?usage: scripts/fuzz.sh DURATION}

targets=$($GO test -list '^Fuzz' ./... |
	awk '/^Fuzz/ { names[n++] = $1; next } /^ok[ \t]/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }')
if [[ -z $targets ]]; then
	echo "fuzz: no Fuzz* targets"
	exit 0
fi

failed=0
while read -r pkg name; do
	dir="$($GO list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name"
	before=$(find "$dir" -type f 2>/dev/null | sort || true)
	echo "$GO test -run '^\$' -fuzz '^$name\$' -fuzztime $duration $pkg"
	log=$(mktemp)
	if $GO test -run '^$' -fuzz "^$name\$" -fuzztime "$duration" "$pkg" 2>&1 | tee "$log"; then
		rm -f "$log"
		continue
	fi
	after=$(find "$dir" -type f 2>/dev/null | sort || true)
	if grep -q 'context deadline exceeded' "$log" && [[ $before == "$after" ]]; then
		echo "fuzz: $name: the fuzztime deadline race of golang/go#75804, no failing input written: not a failure"
	else
		echo "fuzz: $name FAILED"
		failed=1
	fi
	rm -f "$log"
done <<<"$targets"
exit "$failed"
