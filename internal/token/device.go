package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// The header values of the device JWTs the mobile SDKs send.
const (
	// DeviceAlgorithm is the only alg a device JWT may have: ECDSA P-256
	// with SHA-256, the signature raw R‖S (RFC 7518 §3.4).
	DeviceAlgorithm = "ES256"
	// DeviceContentType is the cty header of a device JWT.
	DeviceContentType = "twilio-pba;v=1"
	// DeviceType is the typ header of a device JWT.
	DeviceType = "JWT"
)

// Length limits, in bytes, above which the parsers below reject their input
// unread. Real inputs are far shorter: a device JWT about 330 bytes, a
// public key 124 and a factor signature at most 96.
const (
	// MaxDeviceJWTLen bounds ParseDeviceJWT's input.
	MaxDeviceJWTLen = 4 << 10
	// MaxPublicKeyLen bounds ParsePublicKey's input (openapi.yaml's
	// maxLength of Binding.PublicKey).
	MaxPublicKeyLen = 1024
	// MaxDeviceJWTTime bounds nbf and exp: the end of year 9999, in Unix
	// seconds.
	MaxDeviceJWTTime = 253402300799
	// MaxAuthPayloadLen bounds VerifyFactorSignature's input (openapi.yaml's
	// maxLength of UpdateFactor's AuthPayload).
	MaxAuthPayloadLen = 512
)

// Errors of the device functions. Their messages never quote the input.
var (
	// ErrInvalidPublicKey means ParsePublicKey was not given a P-256 public
	// key in the form the SDKs send. The wrapping error says why.
	ErrInvalidPublicKey = errors.New("invalid public key")
	// ErrInvalidDeviceJWT is wrapped by every error of ParseDeviceJWT and
	// DeviceJWT.Verify, the ones below included.
	ErrInvalidDeviceJWT = errors.New("invalid device jwt")
	// ErrDeviceJWTSignature means the JWT's signature does not verify with
	// the key given: the JWT was altered, or another key signed it.
	ErrDeviceJWTSignature = fmt.Errorf("%w: signature does not verify", ErrInvalidDeviceJWT)
	// ErrDeviceJWTExpired means exp has passed, beyond the leeway.
	ErrDeviceJWTExpired = fmt.Errorf("%w: expired", ErrInvalidDeviceJWT)
	// ErrDeviceJWTNotYetValid means nbf is still ahead, beyond the leeway.
	ErrDeviceJWTNotYetValid = fmt.Errorf("%w: not yet valid", ErrInvalidDeviceJWT)
)

// strictStd and strictRawURL decode only canonical Base64: trailing bits
// must be zero. They still skip CR and LF, so callers also check the
// alphabet, or compare the input with its re-encoding.
var (
	strictStd    = base64.StdEncoding.Strict()
	strictRawURL = base64.RawURLEncoding.Strict()
)

// ParsePublicKey parses b64, a factor's Binding.PublicKey: the standard,
// padded Base64 of the DER SubjectPublicKeyInfo of a P-256 public key, 91
// bytes that start "MFkw". It returns the key and those DER bytes.
//
// Both SDKs send exactly these bytes. Android sends Java's
// PublicKey.getEncoded(); iOS puts the 26-byte SubjectPublicKeyInfo prefix
// for P-256 in front of the 65-byte uncompressed X9.63 point, which is the
// same DER. ParsePublicKey accepts nothing else: not another curve or key
// type, not a compressed point, not trailing bytes, not Base64 that is
// unpadded, URL-safe, wrapped or otherwise not canonical, and not DER
// other than the one encoding of the key. Errors wrap ErrInvalidPublicKey.
func ParsePublicKey(b64 string) (*ecdsa.PublicKey, []byte, error) {
	if len(b64) > MaxPublicKeyLen {
		return nil, nil, invalidKey("longer than MaxPublicKeyLen")
	}
	der, err := strictStd.DecodeString(b64)
	if err != nil || strictStd.EncodeToString(der) != b64 {
		return nil, nil, invalidKey("not canonical standard base64")
	}
	ec, err := ParseDERPublicKey(der)
	if err != nil {
		return nil, nil, err
	}
	return ec, der, nil
}

// ParseDERPublicKey parses a P-256 public key from its DER
// SubjectPublicKeyInfo, in its one canonical encoding, as ParsePublicKey
// does after decoding Base64; the store keeps factors' keys so.
func ParseDERPublicKey(der []byte) (*ecdsa.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		// x509's errors name the ASN.1 at fault, not the input; still,
		// a fixed reason keeps the message short and stable.
		return nil, invalidKey("not a der subjectpublickeyinfo")
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, invalidKey("not an ecdsa key")
	}
	if ec.Curve != elliptic.P256() {
		return nil, invalidKey("not a p-256 key")
	}
	// encoding/asn1 tolerates a few non-DER forms; the key must be sent in
	// the one encoding, since its bytes identify the factor's binding.
	canonical, err := x509.MarshalPKIXPublicKey(ec)
	if err != nil || !bytes.Equal(canonical, der) {
		return nil, invalidKey("not the canonical der encoding")
	}
	return ec, nil
}

// VerifyFactorSignature reports whether authPayload, the AuthPayload of a
// factor verification (UpdateFactor), proves possession of pub's private
// key: it must be the standard, padded Base64 of a DER ECDSA signature,
// made with SHA-256, of the UTF-8 bytes of factorSID.
//
// This is the one place where the SDKs send a DER signature; the JWTs
// carry raw R‖S. A raw signature, non-canonical Base64, trailing bytes or
// an input longer than MaxAuthPayloadLen all fail.
func VerifyFactorSignature(pub *ecdsa.PublicKey, factorSID, authPayload string) bool {
	if !validP256(pub) || len(authPayload) > MaxAuthPayloadLen {
		return false
	}
	sig, err := strictStd.DecodeString(authPayload)
	if err != nil || strictStd.EncodeToString(sig) != authPayload {
		return false
	}
	digest := sha256.Sum256([]byte(factorSID))
	// VerifyASN1 accepts only DER: one SEQUENCE of two minimal INTEGERs,
	// with nothing after it.
	return ecdsa.VerifyASN1(pub, digest[:], sig)
}

// DeviceJWT is a device JWT as ParseDeviceJWT read it. Nothing in it is
// authenticated until Verify succeeds.
type DeviceJWT struct {
	// Algorithm is the alg header. Verify accepts only DeviceAlgorithm.
	Algorithm string
	// KeyID is the kid header, never empty: the factor's credential SID
	// (config.credential_sid), by which the caller finds the public key.
	KeyID string
	// ContentType is the cty header, or "" when the header has none.
	ContentType string
	// Type is the typ header, or "" when the header has none.
	Type string
	// Subject is the sub claim: the account SID of the factor.
	Subject string
	// NotBefore is the nbf claim, in Unix seconds.
	NotBefore int64
	// ExpiresAt is the exp claim, in Unix seconds. The SDKs send
	// NotBefore + 600.
	ExpiresAt int64
	// SigningInput is the JWT up to its second dot, exactly as received:
	// the bytes the signature covers.
	SigningInput string
	// Signature is the decoded signature part.
	Signature []byte
}

// ParseDeviceJWT splits and decodes jwt, a device JWT as the SDKs send it
// in the password of HTTP Basic auth, without verifying it, so that the
// caller can look up the public key named by its kid and then call Verify.
//
// It checks the shape only: at most MaxDeviceJWTLen bytes of the base64url
// alphabet in three non-empty parts, each canonical unpadded base64url; a
// header that is a JSON object whose alg and kid are non-empty strings,
// whose cty and typ, when present, are non-empty strings too, and that has
// no crit; claims that are a JSON object with a string sub and integer nbf
// and exp. Other header parameters and claims are ignored. The header and
// claims are read from the bytes as sent: the Android SDK writes "/" as
// "\/", which JSON allows. Errors wrap ErrInvalidDeviceJWT.
func ParseDeviceJWT(jwt string) (DeviceJWT, error) {
	if len(jwt) > MaxDeviceJWTLen {
		return DeviceJWT{}, invalidJWT("longer than MaxDeviceJWTLen")
	}
	for i := 0; i < len(jwt); i++ {
		// Base64 decoding skips CR and LF; refusing every byte outside
		// the alphabet keeps a JWT to one spelling.
		if c := jwt[i]; !isBase64URL(c) && c != '.' {
			return DeviceJWT{}, invalidJWT("byte outside the base64url alphabet")
		}
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return DeviceJWT{}, invalidJWT("want three dot-separated parts")
	}
	var raw [3][]byte
	for i, p := range parts {
		if p == "" {
			return DeviceJWT{}, invalidJWT("part " + strconv.Itoa(i+1) + " is empty")
		}
		b, err := strictRawURL.DecodeString(p)
		if err != nil {
			return DeviceJWT{}, invalidJWT("part " + strconv.Itoa(i+1) + " is not canonical base64url")
		}
		raw[i] = b
	}
	j := DeviceJWT{
		SigningInput: jwt[:len(parts[0])+1+len(parts[1])],
		Signature:    raw[2],
	}
	header, err := jsonObject(raw[0])
	if err != nil {
		return DeviceJWT{}, invalidJWT("header is not a json object")
	}
	if _, ok := header["crit"]; ok {
		// RFC 7515 §4.1.11: no extension is understood here.
		return DeviceJWT{}, invalidJWT("header has crit")
	}
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"alg", &j.Algorithm, true},
		{"kid", &j.KeyID, true},
		{"cty", &j.ContentType, false},
		{"typ", &j.Type, false},
	} {
		v, ok := header[f.name]
		if !ok {
			if f.required {
				return DeviceJWT{}, invalidJWT("header lacks " + f.name)
			}
			continue
		}
		if !jsonString(v, f.dst) || *f.dst == "" {
			return DeviceJWT{}, invalidJWT("header " + f.name + " is not a non-empty string")
		}
	}
	claims, err := jsonObject(raw[1])
	if err != nil {
		return DeviceJWT{}, invalidJWT("claims are not a json object")
	}
	v, ok := claims["sub"]
	if !ok || !jsonString(v, &j.Subject) {
		return DeviceJWT{}, invalidJWT("sub is missing or not a string")
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{
		{"nbf", &j.NotBefore},
		{"exp", &j.ExpiresAt},
	} {
		v, ok := claims[f.name]
		if !ok {
			return DeviceJWT{}, invalidJWT("claims lack " + f.name)
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return DeviceJWT{}, invalidJWT(f.name + " is not an integer")
		}
		if n < 0 || n > MaxDeviceJWTTime {
			// Bounded, so that sums and differences of the two cannot
			// overflow: exp - nbf of extreme values wrapped negative.
			return DeviceJWT{}, invalidJWT(f.name + " is out of range")
		}
		*f.dst = n
	}
	return j, nil
}

// Verify checks j, as ParseDeviceJWT returned it, against pub (the public
// key of the factor that j's KeyID names) at the time now:
//   - alg is DeviceAlgorithm, typ is DeviceType (in any case) when
//     present, and cty is DeviceContentType when present;
//   - the signature is 64 bytes of raw R‖S, and verifies over SigningInput
//     exactly as received, never re-encoded;
//   - nbf <= now + leeway, else ErrDeviceJWTNotYetValid;
//   - exp > now - leeway, else ErrDeviceJWTExpired.
//
// It does not judge sub; the caller compares it with the factor's
// account. Errors wrap ErrInvalidDeviceJWT, except the one for a pub that
// is not a P-256 key, which is the caller's mistake.
func (j DeviceJWT) Verify(pub *ecdsa.PublicKey, now time.Time, leeway time.Duration) error {
	switch {
	case !validP256(pub):
		return errors.New("verify device jwt: not a p-256 public key")
	case j.Algorithm != DeviceAlgorithm:
		return invalidJWT("alg is not ES256")
	case j.Type != "" && !strings.EqualFold(j.Type, DeviceType):
		return invalidJWT("typ is not JWT")
	case j.ContentType != "" && j.ContentType != DeviceContentType:
		return invalidJWT("cty is not twilio-pba;v=1")
	case len(j.Signature) != 64:
		// A DER signature, the form factor verification uses, lands here.
		return invalidJWT("signature is not 64 bytes of raw r||s")
	}
	r := new(big.Int).SetBytes(j.Signature[:32])
	s := new(big.Int).SetBytes(j.Signature[32:])
	digest := sha256.Sum256([]byte(j.SigningInput))
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return ErrDeviceJWTSignature
	}
	// Compare in whole seconds, the unit of the claims, rounding now down
	// as the SDKs do when they write nbf.
	if j.NotBefore > now.Add(leeway).Unix() {
		return ErrDeviceJWTNotYetValid
	}
	if j.ExpiresAt <= now.Add(-leeway).Unix() {
		return ErrDeviceJWTExpired
	}
	return nil
}

// validP256 reports whether pub is a non-nil P-256 public key. Its point is
// not checked: keys come from ParsePublicKey, and crypto/ecdsa panics on a
// PublicKey without coordinates wherever it is handed one.
func validP256(pub *ecdsa.PublicKey) bool {
	return pub != nil && pub.Curve == elliptic.P256()
}

// jsonObject decodes b as one JSON object, keeping its members raw. Numbers
// stay as written, so that an integer claim is read exactly. Decoding into
// a map rather than a struct keeps names case-sensitive: "KID" is not kid.
// A duplicated name keeps its last value, which RFC 7515 §4 permits.
func jsonObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil { // the JSON was null
		return nil, errors.New("null")
	}
	return m, nil
}

// jsonString decodes v into dst if v is a JSON string, and reports whether
// it was.
func jsonString(v json.RawMessage, dst *string) bool {
	return len(v) > 0 && v[0] == '"' && json.Unmarshal(v, dst) == nil
}

// invalidKey returns an error wrapping ErrInvalidPublicKey with a reason
// that does not quote the key.
func invalidKey(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidPublicKey, reason)
}

// invalidJWT returns an error wrapping ErrInvalidDeviceJWT with a reason
// that does not quote the JWT.
func invalidJWT(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidDeviceJWT, reason)
}
