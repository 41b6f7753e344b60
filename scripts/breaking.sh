#!/usr/bin/env bash
# Fail when openapi.yaml makes a breaking change against a base revision,
# using oasdiff at the version pinned in tools/go.mod.
#
# Base revision, first match wins:
#   1. $BREAKING_BASE, when set (any git revision);
#   2. the merge base with origin/main, when origin/main exists and HEAD has
#      commits beyond it (a branch under review);
#   3. HEAD~1 (the last commit).
# The working-tree openapi.yaml is compared with the base's committed one.
# When the base has no openapi.yaml (the spec is new) there is nothing to
# break: the script says so and passes. In a shallow clone it first tries to
# fetch the missing history, and passes with a note only if the base still
# cannot be found.
#
# oasdiff runs from the repo root, so a committed .oasdiff.yaml (for example
# one naming an err-ignore file for a deliberate, documented break) applies.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

spec=openapi.yaml

has_commit() { git rev-parse -q --verify "$1^{commit}" >/dev/null 2>&1; }

if [[ -n ${BREAKING_BASE:-} ]]; then
	base=$BREAKING_BASE
	base_label="$BREAKING_BASE (BREAKING_BASE)"
else
	base=HEAD~1
	base_label="HEAD~1"
	if has_commit origin/main && has_commit HEAD; then
		mb=$(git merge-base HEAD origin/main 2>/dev/null || true)
		if [[ -n $mb && $mb != "$(git rev-parse HEAD)" ]]; then
			base=$mb
			base_label="merge base with origin/main"
		fi
	fi
fi

if ! has_commit "$base" && [[ $(git rev-parse --is-shallow-repository) == true ]]; then
	echo "breaking: $base_label is not in this shallow clone; fetching full history" >&2
	git fetch --quiet --unshallow 2>/dev/null || echo "breaking: git fetch --unshallow failed" >&2
fi
if ! has_commit "$base"; then
	if [[ -n ${BREAKING_BASE:-} && $(git rev-parse --is-shallow-repository) != true ]]; then
		echo "breaking: BREAKING_BASE=$BREAKING_BASE is not a revision in this repository" >&2
		exit 1
	fi
	if [[ $(git rev-parse --is-shallow-repository) == true ]]; then
		echo "breaking: shallow clone and $base_label could not be fetched; nothing to compare (git fetch --unshallow to check)"
	else
		echo "breaking: $base_label does not exist (first commit); nothing to compare"
	fi
	exit 0
fi

base_sha=$(git rev-parse --short "$base^{commit}")
if ! git cat-file -e "$base:$spec" 2>/dev/null; then
	echo "breaking: $base_label ($base_sha) has no $spec; nothing to compare"
	exit 0
fi
if [[ ! -f $spec ]]; then
	echo "breaking: $spec existed at $base_label ($base_sha) but is gone from the working tree" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/verifykit-breaking.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
git show "$base:$spec" >"$tmp/base.yaml"

# Build the oasdiff that tools/go.mod pins (the build cache makes this cheap)
# and run it from the repo root.
go -C tools build -o "$tmp/oasdiff" github.com/oasdiff/oasdiff

echo "==> oasdiff breaking $base_label ($base_sha):$spec -> working tree $spec"
# --allow-external-refs=false: the spec is one self-contained file; never
# let a $ref reach out to the network.
"$tmp/oasdiff" breaking "$tmp/base.yaml" "$spec" --fail-on ERR --allow-external-refs=false
echo "breaking: no breaking changes (ERR level) against $base_label ($base_sha)"
