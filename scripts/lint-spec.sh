#!/usr/bin/env bash
# Lint openapi.yaml with the pinned Spectral and Redocly CLIs (package.json).
# Both must report zero errors and zero warnings.
#
# Usage: scripts/lint-spec.sh [SPEC]   (default: openapi.yaml at the repo root)
#
# Spectral fails on warnings through --fail-severity=warn. Redocly's lint
# exits non-zero only on errors and has no flag to fail on warnings, so after
# the readable stylish run this script asks for --format=json and fails when
# its totals count any warning.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

spec=${1:-openapi.yaml}
if [[ ! -f $spec ]]; then
	echo "lint-spec: $spec not found" >&2
	exit 1
fi

if [[ ! -d node_modules/@stoplight/spectral-cli || ! -d node_modules/@redocly/cli ]]; then
	echo "lint-spec: installing the pinned linters (npm ci)" >&2
	npm ci --no-audit --no-fund >&2
fi

# Keep the tools quiet about themselves: no telemetry, no update checks.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true SCARF_ANALYTICS=false

echo "==> spectral lint $spec"
npx --no-install spectral lint --ruleset .spectral.yaml --fail-severity=warn "$spec"

echo "==> redocly lint $spec"
npx --no-install redocly lint --config redocly.yaml --lint-config=error --format=stylish "$spec"

# Redocly passed on errors; now fail on warnings too.
warnings=$(npx --no-install redocly lint --config redocly.yaml --lint-config=error --format=json "$spec" 2>/dev/null |
	node -e '
		let s = "";
		process.stdin.on("data", (d) => (s += d));
		process.stdin.on("end", () => {
			const t = JSON.parse(s).totals;
			process.stdout.write(String(t.errors + t.warnings));
		});
	')
if [[ $warnings != 0 ]]; then
	echo "lint-spec: redocly reported $warnings warning(s) above; warnings fail the build" >&2
	exit 1
fi
echo "lint-spec: $spec is clean (spectral and redocly: 0 errors, 0 warnings)"
