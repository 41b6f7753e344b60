#!/usr/bin/env bash
# Scan the main module with govulncheck, offline.
#
# Usage: scripts/vuln.sh   (or make vuln)
#
# The public vulnerability database cannot be reached from our machines, but
# the module golang.org/x/vulndb, which the Go module proxy serves, carries
# its OSV entries under data/osv. This script builds a database from them
# with vulndb's cmd/indexdb into tmp/vulndb (again only when the pinned
# vulndb version changes), runs govulncheck on ./... against it, and lists
# what it found. Both tools run at the versions tools/go.mod pins. To take
# newer advisories:
#
#   go -C tools get golang.org/x/vulndb@latest && go -C tools mod tidy
#
# It fails when our code calls a vulnerable symbol (govulncheck's symbol
# level), unless the advisory is in ACCEPTED below. Advisories for packages
# we import, or modules we require, without calling the vulnerable code are
# counted but do not fail. The last scan's JSON stays in tmp/vuln.json.
#
# The standard library's advisories are checked against the Go that runs
# the scan (go env GOVERSION).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
tools=(-modfile=tools/go.mod)
db=tmp/vulndb
out=tmp/vuln.json

# ACCEPTED: advisories govulncheck reports as reachable that cannot affect
# verifyd, as "ID reason". Only advisories without a fixed version may be
# accepted (with a fix, upgrade instead: the script fails once one appears),
# and check_accepted must notice when a reason stops holding.
#
# echo v4's two advisories list no symbols, so govulncheck flags every use
# of echo. Both concern middleware verifyd does not use: the Proxy
# middleware, and the RateLimiter middleware's default client identifier
# (c.RealIP, which trusts X-Forwarded-For). verifyd uses echo's Recover
# middleware only, and limits failed authentications with its own code
# (internal/authn). check_accepted fails once any of our Go files names
# echo's Proxy or RateLimiter middleware.
ACCEPTED=(
	"GO-2026-6872 echo v4 RateLimiter middleware trusts X-Forwarded-For by default; verifyd does not use it"
	"GO-2026-6875 echo v4 Proxy middleware forwards X-Real-IP; verifyd does not use it"
)

log() { echo "vuln: $*" >&2; }
die() {
	log "$*"
	exit 1
}

command -v jq >/dev/null || die "jq is needed (Debian: apt-get install jq)"

check_accepted() {
	local users
	users=$(git ls-files '*.go' | xargs grep -lE '\bmiddleware\.(RateLimiter|NewRateLimiterMemoryStore|Proxy|NewRoundRobinBalancer|NewRandomBalancer)' || true)
	if [[ -n $users ]]; then
		log "ACCEPTED assumes none of our code uses echo's RateLimiter or Proxy middleware, but these files name them:"
		echo "$users" >&2
		die "re-evaluate GO-2026-6872 and GO-2026-6875 in scripts/vuln.sh"
	fi
}

# The database, built from the pinned vulndb module when that changed.
vulndb_version=$($GO -C tools list -m -f '{{.Version}}' golang.org/x/vulndb)
vuln_version=$($GO -C tools list -m -f '{{.Version}}' golang.org/x/vuln)
if [[ ! -f $db/index/db.json || "$(cat "$db.version" 2>/dev/null)" != "$vulndb_version" ]]; then
	src=$($GO -C tools mod download -json golang.org/x/vulndb | jq -r .Dir)
	[[ -d $src/data/osv ]] || die "golang.org/x/vulndb@$vulndb_version has no data/osv"
	log "building the database from golang.org/x/vulndb@$vulndb_version ($(find "$src/data/osv" -name '*.json' | wc -l) OSV entries)"
	rm -rf "$db" "$db.new" "$db.version"
	mkdir -p "$(dirname "$db")"
	$GO run "${tools[@]}" golang.org/x/vulndb/cmd/indexdb -vulns "$src/data/osv" -out "$db.new"
	mv "$db.new" "$db"
	echo "$vulndb_version" >"$db.version"
fi

log "govulncheck $vuln_version, database golang.org/x/vulndb@$vulndb_version, $($GO env GOVERSION)"
$GO run "${tools[@]}" golang.org/x/vuln/cmd/govulncheck -db "file://$PWD/$db" -format json ./... >"$out"

# One line per advisory our code reaches: ID, module@version, fix, summary,
# and the shortest call path from our code to the vulnerable symbol.
reachable=$(jq -rs '
	(map(select(.osv)) | map({key: .osv.id, value: .osv.summary}) | from_entries) as $summary
	| map(select(.finding and .finding.trace[0].function))
	| group_by(.finding.osv)[]
	| (min_by(.finding.trace | length) | .finding) as $f
	| [$f.osv,
	   "\($f.trace[0].module)@\($f.trace[0].version)",
	   ($f.fixed_version // "none"),
	   $summary[$f.osv],
	   ($f.trace | reverse | map((.position | if . then "\(.filename):\(.line) " else "" end) + ((.receiver // "" | ltrimstr("*") | if . != "" then . + "." else "" end) + .function)) | join(" -> "))]
	| @tsv' "$out")
unreached=$(jq -rs 'map(select(.finding and (.finding.trace[0].function | not))) | map(.finding.osv) | unique | length' "$out")

failed=0
accepted=0
while IFS=$'\t' read -r id module fixed summary path; do
	[[ -n $id ]] || continue
	reason=''
	for a in "${ACCEPTED[@]}"; do
		if [[ ${a%% *} == "$id" ]]; then
			reason=${a#* }
		fi
	done
	if [[ -n $reason && $fixed == none ]]; then
		accepted=$((accepted + 1))
		log "accepted  $id $module: $reason"
		continue
	fi
	failed=$((failed + 1))
	if [[ -n $reason ]]; then
		log "REACHABLE $id $module, fixed in $fixed (accepted in scripts/vuln.sh, but a fix exists now: upgrade): $summary"
	else
		log "REACHABLE $id $module, fixed in $fixed: $summary"
	fi
	log "          $path"
done <<<"$reachable"

if ((accepted > 0)); then
	check_accepted
fi
log "$unreached more advisories for code we import or require but never call; govulncheck -show verbose lists them"
if ((failed > 0)); then
	log "FAIL: our code reaches $failed vulnerabilities (${SECONDS}s); full traces:"
	log "  $GO run ${tools[*]} golang.org/x/vuln/cmd/govulncheck -db file://\$PWD/$db ./..."
	exit 1
fi
log "ok: no reachable vulnerability ($accepted accepted) in ${SECONDS}s"
