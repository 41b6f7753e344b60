// Package soak holds verifyd's soak test, TestSoak: mixed create, fetch and
// invalid traffic at high concurrency against the whole API handler on
// loopback, for a set duration, checking every answer and watching
// goroutines, heap and RSS. The package has no code of its own.
//
// It runs for 5 seconds by default, so go test ./... (and CI) runs a short
// soak; make soak runs it for a minute. The duration comes from the
// -soak.duration flag, else the VERIFYKIT_SOAK_DURATION environment
// variable:
//
//	go test -run TestSoak -v ./internal/soak -soak.duration=60s
//
// See docs/reliability.md for what it proves and the figures of a full run.
package soak
