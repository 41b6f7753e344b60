//go:build tools

// This file pins the code generator in go.mod, so `go generate` runs the
// same oapi-codegen version on every machine.
package verifykit

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
)
