// Package sid mints and checks Twilio-style string identifiers (SIDs).
//
// A SID is a two-letter [Prefix] that names the kind of resource, followed by
// 32 hexadecimal digits, for example "YK" + "0123456789abcdef0123456789abcdef".
// New SIDs always use lowercase digits; [Valid] accepts either case, as the
// Twilio API patterns (such as ^YK[0-9a-fA-F]{32}$) do.
package sid

import (
	"crypto/rand"
	"encoding/hex"
)

// Prefix is the two-letter tag at the start of a SID that names the kind of
// resource it identifies.
type Prefix string

// The prefixes verifykit mints and accepts.
const (
	// Account is the prefix of an account SID (AC…).
	Account Prefix = "AC"
	// APIKey is the prefix of an API key SID (SK…).
	APIKey Prefix = "SK"
	// Service is the prefix of a Verify service SID (VA…).
	Service Prefix = "VA"
	// AccessToken is the prefix of an access token SID (YK…).
	AccessToken Prefix = "YK"
	// Request is the prefix of a request id (RQ…).
	Request Prefix = "RQ"
	// Entity is the prefix of a Verify entity SID (YE…).
	Entity Prefix = "YE"
	// Factor is the prefix of a factor SID (YF…).
	Factor Prefix = "YF"
	// Credential is the prefix of a factor's credential SID (CR…), the kid
	// of its device JWTs.
	Credential Prefix = "CR"
	// Challenge is the prefix of a challenge SID (YC…).
	Challenge Prefix = "YC"
	// Notification is the prefix of a notification SID (NT…).
	Notification Prefix = "NT"
	// Webhook is the prefix of a webhook SID (YW…).
	Webhook Prefix = "YW"
)

const (
	// prefixLen is the length of every Prefix.
	prefixLen = 2
	// randomBytes is the number of random bytes behind the hex digits.
	randomBytes = 16
	// Len is the length in bytes of every SID: a two-letter prefix plus 32
	// hex digits.
	Len = prefixLen + 2*randomBytes
)

// New returns a fresh SID: p followed by 32 lowercase hex digits drawn from
// crypto/rand, 128 bits of randomness in all.
//
// New never fails: since Go 1.24 crypto/rand.Read never returns an error (if
// the operating system cannot supply randomness the program crashes
// irrecoverably rather than continuing with weak identifiers). p is used
// verbatim, so it should be one of the Prefix constants; with any other
// value the result will not satisfy [Valid].
func New(p Prefix) string {
	var b [randomBytes]byte
	_, _ = rand.Read(b[:]) // documented never to return an error
	var arr [Len]byte      // big enough for any real Prefix, so buf stays on the stack
	buf := append(arr[:0], p...)
	buf = hex.AppendEncode(buf, b[:])
	return string(buf)
}

// Valid reports whether s is a SID with prefix p: exactly [Len] bytes, the
// prefix matched case-sensitively, then 32 hex digits of either case. It is
// equivalent to matching ^PP[0-9a-fA-F]{32}$ but does not allocate.
func Valid(p Prefix, s string) bool {
	if len(p) != prefixLen || len(s) != Len || s[:prefixLen] != string(p) {
		return false
	}
	for i := prefixLen; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// isHex reports whether c is an ASCII hex digit of either case.
func isHex(c byte) bool {
	switch {
	case '0' <= c && c <= '9':
		return true
	case 'a' <= c && c <= 'f':
		return true
	case 'A' <= c && c <= 'F':
		return true
	}
	return false
}
