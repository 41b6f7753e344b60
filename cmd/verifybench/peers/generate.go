// Package peers holds verifybench's peer stacks, in a module of their own
// so that verifykit's go.mod does not grow with them.
package peers

// ogen skips the operations it cannot generate (see ogen.yml) and keeps
// FetchAccessToken.
//go:generate go run github.com/ogen-go/ogen/cmd/ogen@v1.25.0 --config ogen.yml --target ogenapi --package ogenapi --clean ../../../openapi.yaml
