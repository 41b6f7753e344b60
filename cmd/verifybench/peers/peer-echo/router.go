package main

import (
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// newRouter finds operations for the response validation; the servers
// are cleared, as DoNotValidateServers does for the request side.
func newRouter(spec *openapi3.T) (routers.Router, error) {
	s := *spec
	s.Servers = nil
	r, err := gorillamux.NewRouter(&s)
	if err != nil {
		return nil, fmt.Errorf("response router: %w", err)
	}
	return r, nil
}
