#!/usr/bin/env bash
# Copy the Swagger UI files that /docs serves from the pinned swagger-ui-dist
# (package.json) into internal/docsui/assets/, which go:embed takes in and
# git keeps. `make generate` runs this through internal/docsui's go:generate
# line, and `make check-generated` fails when the copies have drifted.
#
# Only what the page loads is copied, with the licence texts that must travel
# with it: LICENSE and NOTICE (Apache-2.0, section 4) and the bundle's list of
# the third-party code it includes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

pkg=node_modules/swagger-ui-dist
dest=internal/docsui/assets
files=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt)

# The version package-lock.json records, and the one node_modules holds.
want=$(node -p 'require("./package-lock.json").packages["node_modules/swagger-ui-dist"].version')
have=$(node -p 'try { require("./'"$pkg"'/package.json").version } catch { "" }')
if [[ $have != "$want" ]]; then
	echo "docs-assets: swagger-ui-dist ${have:-missing} in node_modules, want $want; installing (npm ci)" >&2
	# No telemetry from the packages' install scripts.
	SCARF_ANALYTICS=false npm ci --no-audit --no-fund >&2
fi

mkdir -p "$dest"
# Start from an empty folder, so a file dropped from the list goes too.
find "$dest" -mindepth 1 -maxdepth 1 -type f -delete
for f in "${files[@]}"; do
	cp "$pkg/$f" "$dest/$f"
done
