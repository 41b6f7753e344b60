package main

import (
	"testing"

	"github.com/verifykit/verifykit/cmd/verifybench/peers/fixed"
)

// BenchmarkEchoValidatorFetch is the echo + OapiRequestValidator stack's
// fetch in-process, beside verifybench's BenchmarkFetch of verifyd.
func BenchmarkEchoValidatorFetch(b *testing.B) {
	a := fixed.BenchArgs(b, "../testdata")
	h, err := newHandler(a)
	if err != nil {
		b.Fatal(err)
	}
	fixed.BenchFetch(b, h, a)
}
