// Package verifyserver is the echo server interface generated from
// openapi.yaml, with the spec embedded for run-time validation. Everything
// else in this folder is generated.
package verifyserver

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config cfg.yaml ../../openapi.yaml
