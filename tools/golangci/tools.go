//go:build tools

// Package golangci pins golangci-lint in a module of its own. In tools/go.mod
// its requirements and those of oasdiff, staticcheck and govulncheck would
// raise each other (viper 1.12 to 1.21 for golangci-lint, BurntSushi/toml for
// staticcheck), so neither would build with the versions it was released
// with. `make golangci-lint` builds it once into bin/golangci-lint.
package golangci

import _ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
