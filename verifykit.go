// Package verifykit is the root of a spec-first Go implementation of Twilio
// Verify v2. The contract is openapi.yaml, beside this file; go generate
// turns it into gen/models, gen/verifyclient and gen/verifyserver, whose
// embedded copy is what verifyd validates against and serves.
//
// The server is api and cmd/verifyd, the client helpers verify, and the
// command-line client cmd/verifyctl. This package has no code: its tests
// check the contract itself.
package verifykit
