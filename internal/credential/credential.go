// Package credential generates high-entropy secrets (account auth tokens and
// API key secrets) and stores them as salted, keyed hashes.
//
// The secrets come from crypto/rand and carry 128 bits of entropy, so they
// cannot be guessed and need no deliberately slow hash such as bcrypt: a
// single HMAC-SHA256 keeps a stolen database from revealing them while
// keeping authentication, which runs on every request, fast.
//
// A hash is stored as one string in the form
//
//	hmac-sha256$<salt>$<sum>
//
// where salt is 16 random bytes chosen for each record, sum is
// HMAC-SHA256(key=salt, message=secret), and both are unpadded standard
// base64 (RFC 4648 §4, without "=").
package credential

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
)

const (
	// scheme names the hash construction at the start of every encoded hash.
	scheme = "hmac-sha256"
	// saltLen is the length in bytes of the per-record salt.
	saltLen = 16
	// secretBytes is the number of random bytes behind a generated secret.
	secretBytes = 16
)

// b64 encodes salts and sums. Strict decoding rejects non-canonical
// encodings, so every hash has exactly one valid spelling.
var b64 = base64.RawStdEncoding.Strict()

// Generate returns a new secret: 32 lowercase hex digits (128 bits) from
// crypto/rand, the shape of a Twilio auth token. Generate never fails: since
// Go 1.24 crypto/rand.Read never returns an error.
func Generate() string {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:]) // documented never to return an error
	return hex.EncodeToString(b[:])
}

// Hash returns the encoded hash of secret under a fresh random salt, in the
// form described in the package documentation. Two calls with the same
// secret return different strings; [Verify] accepts both.
func Hash(secret string) string {
	var salt [saltLen]byte
	_, _ = rand.Read(salt[:]) // documented never to return an error
	sum := mac(salt[:], secret)
	var buf strings.Builder
	buf.Grow(len(scheme) + 2 + b64.EncodedLen(saltLen) + b64.EncodedLen(sha256.Size))
	buf.WriteString(scheme)
	buf.WriteByte('$')
	buf.WriteString(b64.EncodeToString(salt[:]))
	buf.WriteByte('$')
	buf.WriteString(b64.EncodeToString(sum))
	return buf.String()
}

// Verify reports whether secret is the secret that produced hash. The sums
// are compared in constant time. Verify reports false when hash is malformed
// (wrong scheme, bad base64, wrong salt or sum length) and whenever secret is
// empty, so an empty secret can never authenticate.
func Verify(hash, secret string) bool {
	if secret == "" {
		return false
	}
	salt, want, ok := parse(hash)
	if !ok {
		return false
	}
	return hmac.Equal(mac(salt, secret), want)
}

// parse splits an encoded hash into its salt and sum, reporting whether it is
// well formed.
func parse(hash string) (salt, sum []byte, ok bool) {
	name, rest, ok := strings.Cut(hash, "$")
	if !ok || name != scheme {
		return nil, nil, false
	}
	encSalt, encSum, ok := strings.Cut(rest, "$")
	if !ok {
		return nil, nil, false
	}
	// Length checks first, so a huge malformed value costs no decoding.
	if len(encSalt) != b64.EncodedLen(saltLen) || len(encSum) != b64.EncodedLen(sha256.Size) {
		return nil, nil, false
	}
	salt, err := b64.DecodeString(encSalt)
	if err != nil || len(salt) != saltLen {
		return nil, nil, false
	}
	sum, err = b64.DecodeString(encSum)
	if err != nil || len(sum) != sha256.Size {
		return nil, nil, false
	}
	return salt, sum, true
}

// mac returns HMAC-SHA256 of secret keyed with salt.
func mac(salt []byte, secret string) []byte {
	h := hmac.New(sha256.New, salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

// Verifier checks secrets against one encoded hash, parsed once. It keeps
// its keyed HMAC states for reuse, so a check allocates nothing: it is
// made for hashes that are checked again and again, such as cached
// credential rows. A Verifier is safe for concurrent use.
type Verifier struct {
	sum    []byte
	states sync.Pool // of *macState keyed with the salt
}

// macState is a keyed HMAC with scratch space, so that neither the secret
// nor the sum is copied to the heap.
type macState struct {
	mac hash.Hash
	in  []byte
	out [sha256.Size]byte
}

// NewVerifier parses hash. It reports false when hash is malformed, as
// [Verify] would reject it.
func NewVerifier(hash string) (*Verifier, bool) {
	salt, sum, ok := parse(hash)
	if !ok {
		return nil, false
	}
	v := &Verifier{sum: sum}
	v.states.New = func() any { return &macState{mac: hmac.New(sha256.New, salt)} }
	return v, true
}

// Verify reports whether secret is the secret behind the hash, exactly as
// [Verify] does: constant-time comparison, and never for an empty secret.
func (v *Verifier) Verify(secret string) bool {
	if secret == "" {
		return false
	}
	st := v.states.Get().(*macState)
	defer v.states.Put(st) // reset: see below
	st.in = append(st.in[:0], secret...)
	st.mac.Write(st.in)
	ok := hmac.Equal(st.mac.Sum(st.out[:0]), v.sum)
	// No copy of the secret waits in the pool: not in the scratch space,
	// nor in the hash's last partial block, which Reset overwrites.
	clear(st.in)
	st.mac.Reset()
	return ok
}
