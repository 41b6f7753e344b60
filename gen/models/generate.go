// Package models holds the wire types of openapi.yaml, shared by the
// generated client and server. Everything else in this folder is generated.
package models

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config cfg.yaml ../../openapi.yaml
