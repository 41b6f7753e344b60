//go:build tools

// Package tools pins the command-line tools that would clash with the main
// module's dependencies: oasdiff carries its own fork of kin-openapi. Run them
// with `go -C tools run <package>` so the versions in tools/go.mod apply.
// govulncheck scans against a database that indexdb builds from the OSV
// files in the pinned golang.org/x/vulndb module (scripts/vuln.sh).
package tools

import (
	_ "github.com/oasdiff/oasdiff"
	_ "golang.org/x/vuln/cmd/govulncheck"
	_ "golang.org/x/vulndb/cmd/indexdb"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
