// Package verifyclient is the typed HTTP client generated from openapi.yaml.
// It depends on no web framework. Everything else in this folder is generated.
package verifyclient

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config cfg.yaml ../../openapi.yaml
