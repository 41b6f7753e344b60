//go:build tools

// Package tools pins the command-line tools that would clash with the main
// module's dependencies: oasdiff carries its own fork of kin-openapi. Run them
// with `go -C tools run <package>` so the versions in tools/go.mod apply.
package tools

import (
	_ "github.com/oasdiff/oasdiff"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
