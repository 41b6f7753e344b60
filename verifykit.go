// Package verifykit is the root of a spec-first Go implementation of the
// Twilio Verify v2 Access Tokens API. Its only code is the contract itself,
// openapi.yaml, embedded byte for byte so that servers can publish it.
//
// The generated client lives in gen/verifyclient, the server in api and
// cmd/verifyd, and the command-line client in cmd/verifyctl.
package verifykit

import _ "embed"

//go:embed openapi.yaml
var openAPIYAML string

// OpenAPIYAML returns openapi.yaml exactly as it is in the repository.
func OpenAPIYAML() string { return openAPIYAML }
