// Package api is verifyd's HTTP server: echo, the request pipeline of the
// design (pipeline.go) and the handlers that implement the strict interface
// generated from openapi.yaml. NewHandler builds it; routes.go shows the
// whole surface.
package api
