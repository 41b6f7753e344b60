package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The protected header values of every access token.
const (
	// Algorithm is the alg header: direct use of a shared symmetric key.
	Algorithm = string(jose.DIRECT)
	// Encryption is the enc header: AES-256 in GCM mode.
	Encryption = string(jose.A256GCM)
	// Compression is the zip header: the plaintext is DEFLATE-compressed.
	Compression = string(jose.DEFLATE)
	// ContentType is the cty header that marks a Twilio access token.
	ContentType = "twilio-fpa;v=1"
)

// MaxLen is the length in bytes above which Open and Inspect reject a token
// without parsing it. Real tokens are a few hundred bytes.
const MaxLen = 8 << 10

// Errors returned by Open. Inspect returns ErrInvalid too.
var (
	// ErrUnknownKey means the token names, in its kid header, a key that is
	// not in the KeySet: it was minted elsewhere or with a retired key.
	ErrUnknownKey = errors.New("access token key id is unknown")
	// ErrInvalid means the token is malformed, is not a Twilio access token,
	// or failed authentication (it was tampered with, or its kid names a
	// key other than the one that encrypted it). The wrapping error says
	// which, without repeating any of the token.
	ErrInvalid = errors.New("invalid access token")
)

// Claims is the payload of an access token.
type Claims struct {
	// Identity is the entity the token was issued to.
	Identity string `json:"sub"`
	// Issuer optionally names who issued the token.
	Issuer string `json:"iss,omitempty"`
	// AccountSID is the account that owns the service.
	AccountSID string `json:"account_sid"`
	// ServiceSID is the Verify service the token is for.
	ServiceSID string `json:"service_sid"`
	// FactorType is the kind of factor the token may create, e.g. "push".
	FactorType string `json:"factor_type"`
	// FactorFriendlyName optionally names the factor to create.
	FactorFriendlyName string `json:"factor_friendly_name,omitempty"`
	// IssuedAt is when the token was minted, in Unix seconds.
	IssuedAt int64 `json:"iat"`
	// ExpiresAt is when the token stops being valid, in Unix seconds:
	// IssuedAt plus the token's TTL.
	ExpiresAt int64 `json:"exp"`
	// SID is the token's own identifier, a YK SID.
	SID string `json:"jti"`
}

// Expired reports whether the claims have expired at now, that is whether
// now is at or after ExpiresAt. Open does not check expiry; callers do.
func (c Claims) Expired(now time.Time) bool {
	return now.Unix() >= c.ExpiresAt
}

// Header is the protected header of an access token, as Inspect reads it.
type Header struct {
	// Algorithm is the alg parameter; Algorithm for a valid token.
	Algorithm string `json:"alg"`
	// Encryption is the enc parameter; Encryption for a valid token.
	Encryption string `json:"enc"`
	// Compression is the zip parameter; Compression for a valid token.
	Compression string `json:"zip"`
	// ContentType is the cty parameter; ContentType for a valid token.
	ContentType string `json:"cty"`
	// KeyID is the kid parameter: the ID of the key that minted the token.
	KeyID string `json:"kid"`
}

// Mint encrypts c with the newest key in keys and returns the compact JWE.
// Mint does not check the claims; setting IssuedAt, ExpiresAt and SID is up
// to the caller.
func Mint(keys *KeySet, c Claims) (string, error) {
	if keys == nil {
		return "", errors.New("mint token: nil key set")
	}
	k := keys.newest
	claims, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("mint token: encode claims: %w", err)
	}
	// go-jose's own DEFLATE allocates a new compressor (about 1.2 MB) per
	// token. Compressing here with a pooled one and declaring zip=DEF
	// ourselves gives the same token format at a fraction of the cost;
	// Open, through go-jose, inflates it as usual.
	plaintext, err := keys.deflate(claims)
	if err != nil {
		return "", fmt.Errorf("mint token: compress claims: %w", err)
	}
	enc, err := jose.NewEncrypter(
		jose.A256GCM,
		jose.Recipient{Algorithm: jose.DIRECT, Key: k.Secret, KeyID: k.ID},
		(&jose.EncrypterOptions{}).WithContentType(ContentType).WithHeader(jose.HeaderKey("zip"), Compression),
	)
	if err != nil {
		return "", fmt.Errorf("mint token with key %s: %w", k.ID, err)
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		return "", fmt.Errorf("mint token with key %s: %w", k.ID, err)
	}
	compact, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("mint token with key %s: serialize: %w", k.ID, err)
	}
	return compact, nil
}

// Open decrypts and authenticates compact with the key its kid header names
// and returns its claims. It returns ErrUnknownKey if keys has no such key,
// and an error wrapping ErrInvalid if compact is not an access token in the
// form Mint produces (see [Inspect]) or fails authentication. Open never
// panics, whatever the input.
//
// Open does not check expiry; see [Claims.Expired].
func Open(keys *KeySet, compact string) (Claims, error) {
	if keys == nil {
		return Claims{}, errors.New("open token: nil key set")
	}
	h, err := Inspect(compact)
	if err != nil {
		return Claims{}, err
	}
	switch {
	case h.Algorithm != Algorithm, h.Encryption != Encryption:
		return Claims{}, invalid("unsupported algorithm")
	case h.Compression != Compression, h.ContentType != ContentType:
		return Claims{}, invalid("not a twilio access token")
	case h.KeyID == "":
		return Claims{}, invalid("empty key id")
	}
	k, ok := keys.byID[h.KeyID]
	if !ok {
		return Claims{}, ErrUnknownKey
	}
	// go-jose's errors can quote the header, so they are not wrapped.
	obj, err := jose.ParseEncryptedCompact(compact, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return Claims{}, invalid("malformed jwe")
	}
	if obj.Header.KeyID != h.KeyID {
		// Unreachable while Inspect and go-jose read headers alike; kept
		// so that a disagreement can never pick the wrong key.
		return Claims{}, invalid("ambiguous key id")
	}
	plaintext, err := obj.Decrypt(k.Secret)
	if err != nil {
		return Claims{}, invalid("decryption failed")
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(plaintext))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Claims{}, invalid("malformed claims")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Claims{}, invalid("trailing data after claims")
	}
	return c, nil
}

// Inspect returns the protected header of compact without decrypting it, so
// nothing it returns is authenticated. It checks only the shape: at most
// MaxLen bytes, five base64url parts, the second empty, and a header that is
// a JSON object of exactly the alg, enc, zip, cty and kid parameters, all
// strings. It does not judge their values. Errors wrap ErrInvalid.
func Inspect(compact string) (Header, error) {
	if len(compact) > MaxLen {
		return Header{}, invalid("longer than MaxLen")
	}
	for i := 0; i < len(compact); i++ {
		// Base64 decoding skips CR and LF; rejecting every byte outside
		// the base64url alphabet keeps line breaks out of accepted tokens.
		if c := compact[i]; !isBase64URL(c) && c != '.' {
			return Header{}, invalid("byte outside the base64url alphabet")
		}
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 5 {
		return Header{}, invalid("want five dot-separated parts")
	}
	if parts[1] != "" {
		return Header{}, invalid("encrypted key present")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return Header{}, invalid("header is not base64url")
	}
	// Decode into a map first: encoding/json matches struct fields without
	// regard to case, and a header may not hide "KID" beside "kid".
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Header{}, invalid("header is not a json object")
	}
	var h Header
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"alg", &h.Algorithm},
		{"enc", &h.Encryption},
		{"zip", &h.Compression},
		{"cty", &h.ContentType},
		{"kid", &h.KeyID},
	} {
		v, ok := fields[f.name]
		if !ok {
			return Header{}, invalid("header lacks " + f.name)
		}
		if v[0] != '"' || json.Unmarshal(v, f.dst) != nil {
			return Header{}, invalid("header " + f.name + " is not a string")
		}
		delete(fields, f.name)
	}
	if len(fields) != 0 {
		return Header{}, invalid("header has unexpected parameters")
	}
	return h, nil
}

// isBase64URL reports whether c is in the base64url alphabet (RFC 4648 §5).
func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// invalid returns an error wrapping ErrInvalid with the given reason, which
// must not quote the token.
func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalid, reason)
}
