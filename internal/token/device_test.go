package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/internal/token"
)

// The identifiers in the device JWTs of these tests.
const (
	testAccountSID    = "AC0123456789abcdef0123456789abcdef"
	testCredentialSID = "CR0123456789abcdef0123456789abcdef"
	testFactorSID     = "YF0123456789abcdef0123456789abcdef"
)

// exampleKey is the Binding.PublicKey of openapi.yaml's examples: a real
// P-256 key, Base64 of its DER SubjectPublicKeyInfo as the SDKs send it.
const exampleKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFyW53Rrj5Hc+rHFV/oEImx3CsXhbHiQE5nny86uX6UGx53Z+H+8wDYQ+HhNsAIKtXWfQeqjW2MdjXyMJ3v1r4w=="

// iosSPKIPrefix is the DER that the iOS SDK puts in front of the key's
// X9.63 point (TwilioSecurity's ECSigner.getPublic()), copied byte for byte.
var iosSPKIPrefix = []byte{
	0x30, 0x59, // SEQUENCE
	0x30, 0x13, // SEQUENCE
	0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, // id-ecPublicKey
	0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, // prime256v1
	0x03, 0x42, 0x00, // BIT STRING, no unused bits
}

// deviceKeys are the P-256 keys of the tests: a device's and a stranger's.
var deviceKeys = struct{ device, other *ecdsa.PrivateKey }{mustP256(), mustP256()}

// urlSafeKey is a P-256 public key in the URL-safe Base64 alphabet, with
// at least one '-' or '_' in it: about one key in 50 encodes the same in
// both alphabets, which made this case flaky.
func urlSafeKey(tb testing.TB) string {
	tb.Helper()
	for {
		k := mustP256()
		if s := base64.URLEncoding.EncodeToString(spki(tb, &k.PublicKey)); strings.ContainsAny(s, "-_") {
			return s
		}
	}
}

func mustP256() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// spki returns the DER SubjectPublicKeyInfo of pub.
func spki(tb testing.TB, pub any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatalf("MarshalPKIXPublicKey() error: %v", err)
	}
	return der
}

// x963 returns the uncompressed X9.63 point of pub, as iOS's
// SecKeyCopyExternalRepresentation returns it.
func x963(tb testing.TB, pub *ecdsa.PublicKey) []byte {
	tb.Helper()
	k, err := pub.ECDH()
	if err != nil {
		tb.Fatalf("ECDH() error: %v", err)
	}
	return k.Bytes()
}

var b64 = base64.StdEncoding.EncodeToString

// t0 is when the JWTs of these tests are made: the nbf of the Android SDK's
// AuthenticationProviderTest.
var jwtT0 = time.Unix(1595358902, 0)

// androidHeader and androidClaims are a device JWT's header and claims as
// org.json writes them for the Android SDK: insertion order, no spaces.
func androidHeader(kid string) string {
	return `{"cty":"twilio-pba;v=1","kid":"` + kid + `","typ":"JWT","alg":"ES256"}`
}

func androidClaims(nbf int64) string {
	return fmt.Sprintf(`{"sub":%q,"exp":%d,"nbf":%d}`, testAccountSID, nbf+600, nbf)
}

var b64url = base64.RawURLEncoding.EncodeToString

// signJWT returns header.claims.signature, the signature ES256 raw R‖S
// (or DER, when der is set) over the two parts as encoded here.
func signJWT(tb testing.TB, key *ecdsa.PrivateKey, header, claims string, der bool) string {
	tb.Helper()
	input := b64url([]byte(header)) + "." + b64url([]byte(claims))
	return input + "." + b64url(sign(tb, key, input, der))
}

// sign signs SHA-256 of msg with key: raw R‖S, or DER when der is set.
func sign(tb testing.TB, key *ecdsa.PrivateKey, msg string, der bool) []byte {
	tb.Helper()
	digest := sha256.Sum256([]byte(msg))
	if der {
		for {
			sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
			if err != nil {
				tb.Fatalf("SignASN1() error: %v", err)
			}
			if len(sig) != 64 { // so that its length alone tells it from R‖S
				return sig
			}
		}
	}
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		tb.Fatalf("Sign() error: %v", err)
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	return raw
}

// withPartText returns jwt with its part i replaced by text.
func withPartText(jwt string, i int, text string) string {
	parts := strings.Split(jwt, ".")
	parts[i] = text
	return strings.Join(parts, ".")
}

// noncanonical returns the base64 text s with the unused low bits of its
// last data character set: the same bytes to a lenient decoder, a second
// spelling to a strict one. s must have unused bits.
func noncanonical(s string, alphabet string) string {
	end := len(strings.TrimRight(s, "="))
	i := strings.IndexByte(alphabet, s[end-1])
	return s[:end-1] + string(alphabet[i|1]) + s[end:]
}

const (
	stdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

func TestParsePublicKey(t *testing.T) {
	key := deviceKeys.device
	der := spki(t, &key.PublicKey)
	// The iOS SDK's bytes are the same DER that Java's getEncoded() and
	// Go's MarshalPKIXPublicKey produce.
	ios := append(append([]byte{}, iosSPKIPrefix...), x963(t, &key.PublicKey)...)
	if diff := cmp.Diff(der, ios); diff != "" {
		t.Fatalf("iOS SDK's prefix + X9.63 point differs from the DER SubjectPublicKeyInfo (-der +ios):\n%s", diff)
	}
	if len(der) != 91 || !strings.HasPrefix(b64(der), "MFkw") {
		t.Fatalf("DER SubjectPublicKeyInfo is %d bytes, Base64 %q, want 91 bytes starting MFkw", len(der), b64(der))
	}

	pub, gotDER, err := token.ParsePublicKey(b64(ios))
	if err != nil {
		t.Fatalf("ParsePublicKey(iOS key) error: %v", err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Errorf("ParsePublicKey(iOS key) = %v, want the device's key", pub)
	}
	if diff := cmp.Diff(der, gotDER); diff != "" {
		t.Errorf("ParsePublicKey(iOS key) DER mismatch (-want +got):\n%s", diff)
	}
	if _, exDER, err := token.ParsePublicKey(exampleKey); err != nil || b64(exDER) != exampleKey {
		t.Errorf("ParsePublicKey(openapi.yaml's example key) = DER %q, %v; want the key back, nil", b64(exDER), err)
	}
}

// publicKeyErrorTests are inputs ParsePublicKey must refuse; FuzzParsePublicKey
// starts from them.
func publicKeyErrorTests(tb testing.TB) []struct{ name, in string } {
	key := deviceKeys.device
	der := spki(tb, &key.PublicKey)
	good := b64(der)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		tb.Fatalf("GenerateKey(P384) error: %v", err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("ed25519.GenerateKey() error: %v", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("rsa.GenerateKey() error: %v", err)
	}
	// The same key with its point compressed: 0x02 or 0x03, then X.
	point := x963(tb, &key.PublicKey)
	compressed := append([]byte{0x02 | point[64]&1}, point[1:33]...)
	compressedDER := append([]byte{0x30, 0x39, 0x30, 0x13}, iosSPKIPrefix[4:21]...)
	compressedDER = append(append(compressedDER, 0x03, 0x22, 0x00), compressed...)
	// A point off the curve.
	offCurve := append([]byte{}, der...)
	offCurve[len(offCurve)-1] ^= 0x01
	// The outer SEQUENCE's length in long form, which DER forbids.
	longForm := append([]byte{0x30, 0x81, 0x59}, der[2:]...)

	return []struct{ name, in string }{
		{"empty", ""},
		{"p-384", b64(spki(tb, &p384.PublicKey))},
		{"ed25519", b64(spki(tb, edPub))},
		{"rsa", b64(spki(tb, &rsaKey.PublicKey))},
		{"x9.63 point without the spki", b64(point)},
		{"compressed point", b64(compressedDER)},
		{"point off the curve", b64(offCurve)},
		{"trailing byte", b64(append(append([]byte{}, der...), 0))},
		{"trailing spki", b64(append(append([]byte{}, der...), der...))},
		{"truncated", b64(der[:90])},
		{"long-form length", b64(longForm)},
		{"unpadded", strings.TrimRight(good, "=")},
		{"url-safe alphabet", urlSafeKey(tb)},
		{"non-canonical trailing bits", noncanonical(good, stdAlphabet)},
		{"line break", good[:64] + "\n" + good[64:]},
		{"crlf at the end", good + "\r\n"},
		{"space", " " + good},
		{"hex", fmt.Sprintf("%x", der)},
		{"longer than MaxPublicKeyLen", strings.Repeat("A", token.MaxPublicKeyLen+4)},
	}
}

func TestParsePublicKeyErrors(t *testing.T) {
	for _, tc := range publicKeyErrorTests(t) {
		t.Run(tc.name, func(t *testing.T) {
			pub, der, err := token.ParsePublicKey(tc.in)
			if !errors.Is(err, token.ErrInvalidPublicKey) || pub != nil || der != nil {
				t.Errorf("ParsePublicKey(%q) = %v, %x, %v; want nil, nil, ErrInvalidPublicKey", tc.in, pub, der, err)
			}
		})
	}
}

func TestVerifyFactorSignature(t *testing.T) {
	key := deviceKeys.device
	pub := &key.PublicKey
	der := sign(t, key, testFactorSID, true)
	good := b64(der)
	tests := []struct {
		name      string
		pub       *ecdsa.PublicKey
		factorSID string
		payload   string
		want      bool
	}{
		{"der signature of the factor sid", pub, testFactorSID, good, true},
		{"another der signature", pub, testFactorSID, b64(sign(t, key, testFactorSID, true)), true},
		{"raw r||s where der is expected", pub, testFactorSID, b64(sign(t, key, testFactorSID, false)), false},
		{"another factor sid", pub, "YF0123456789abcdef0123456789abcdee", good, false},
		{"another key", &deviceKeys.other.PublicKey, testFactorSID, good, false},
		{"signature of something else", pub, testFactorSID, b64(sign(t, key, testAccountSID, true)), false},
		{"tampered signature", pub, testFactorSID, b64(append(append([]byte{}, der[:len(der)-1]...), der[len(der)-1]^1)), false},
		{"trailing byte", pub, testFactorSID, b64(append(append([]byte{}, der...), 0)), false},
		{"base64url", pub, testFactorSID, base64.URLEncoding.EncodeToString(der), !strings.ContainsAny(good, "+/")},
		{"unpadded", pub, testFactorSID, base64.RawStdEncoding.EncodeToString(der), len(der)%3 == 0},
		{"line break", pub, testFactorSID, good[:10] + "\n" + good[10:], false},
		{"empty", pub, testFactorSID, "", false},
		{"nil key", nil, testFactorSID, good, false},
		{"longer than MaxAuthPayloadLen", pub, testFactorSID, good + strings.Repeat("A", token.MaxAuthPayloadLen), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := token.VerifyFactorSignature(tc.pub, tc.factorSID, tc.payload); got != tc.want {
				t.Errorf("VerifyFactorSignature(%q, %q) = %t, want %t", tc.factorSID, tc.payload, got, tc.want)
			}
		})
	}
}

func TestParseDeviceJWT(t *testing.T) {
	key := deviceKeys.device
	jwt := signJWT(t, key, androidHeader(testCredentialSID), androidClaims(jwtT0.Unix()), false)
	got, err := token.ParseDeviceJWT(jwt)
	if err != nil {
		t.Fatalf("ParseDeviceJWT(%q) error: %v", jwt, err)
	}
	parts := strings.Split(jwt, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	want := token.DeviceJWT{
		Algorithm:    "ES256",
		KeyID:        testCredentialSID,
		ContentType:  "twilio-pba;v=1",
		Type:         "JWT",
		Subject:      testAccountSID,
		NotBefore:    jwtT0.Unix(),
		ExpiresAt:    jwtT0.Unix() + 600,
		SigningInput: parts[0] + "." + parts[1],
		Signature:    sig,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseDeviceJWT(%q) mismatch (-want +got):\n%s", jwt, diff)
	}

	// org.json writes "/" as "\/": the header is read from those bytes,
	// and the signing input stays exactly as sent.
	slashed := signJWT(t, key, androidHeader(`CR\/0123`), androidClaims(jwtT0.Unix()), false)
	got, err = token.ParseDeviceJWT(slashed)
	if err != nil {
		t.Fatalf("ParseDeviceJWT(%q) error: %v", slashed, err)
	}
	if got.KeyID != "CR/0123" || !strings.HasPrefix(slashed, got.SigningInput+".") {
		t.Errorf("ParseDeviceJWT(%q) = kid %q, signing input %q; want kid CR/0123 and the JWT's first two parts", slashed, got.KeyID, got.SigningInput)
	}
}

// deviceJWTParseErrorTests are JWTs ParseDeviceJWT must refuse;
// FuzzParseDeviceJWT starts from them.
func deviceJWTParseErrorTests(tb testing.TB) []struct{ name, jwt string } {
	key := deviceKeys.device
	claims := androidClaims(jwtT0.Unix())
	good := signJWT(tb, key, androidHeader(testCredentialSID), claims, false)
	parts := strings.Split(good, ".")
	withHeader := func(h string) string { return signJWT(tb, key, h, claims, false) }
	withClaims := func(c string) string {
		return signJWT(tb, key, androidHeader(testCredentialSID), c, false)
	}
	return []struct{ name, jwt string }{
		{"empty", ""},
		{"nbf negative", withClaims(`{"sub":"AC00000000000000000000000000000000","exp":9223372036854775807,"nbf":-1}`)},
		{"exp after year 9999", withClaims(`{"sub":"AC00000000000000000000000000000000","exp":253402300800,"nbf":0}`)},
		{"two parts", parts[0] + "." + parts[1]},
		{"four parts", good + "." + parts[2]},
		{"empty signature (alg none style)", parts[0] + "." + parts[1] + "."},
		{"empty header", "." + parts[1] + "." + parts[2]},
		{"padding", withPartText(good, 2, base64.URLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")))},
		{"standard alphabet", withPartText(good, 2, "+"+parts[2][1:])},
		{"non-canonical trailing bits", withPartText(good, 2, noncanonical(parts[2], urlAlphabet))},
		{"line break", good[:20] + "\n" + good[20:]},
		{"longer than MaxDeviceJWTLen", withHeader(androidHeader(strings.Repeat("A", token.MaxDeviceJWTLen)))},
		{"a jwe", "eyJhbGciOiJkaXIifQ..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"},
		{"header not json", withHeader("not json")},
		{"header an array", withHeader(`["ES256"]`)},
		{"header null", withHeader(`null`)},
		{"missing kid", withHeader(`{"cty":"twilio-pba;v=1","typ":"JWT","alg":"ES256"}`)},
		{"empty kid", withHeader(androidHeader(""))},
		{"kid a number", withHeader(`{"cty":"twilio-pba;v=1","kid":7,"typ":"JWT","alg":"ES256"}`)},
		{"kid in upper case only", withHeader(`{"cty":"twilio-pba;v=1","KID":"` + testCredentialSID + `","typ":"JWT","alg":"ES256"}`)},
		{"missing alg", withHeader(`{"cty":"twilio-pba;v=1","kid":"` + testCredentialSID + `","typ":"JWT"}`)},
		{"alg null", withHeader(`{"kid":"` + testCredentialSID + `","alg":null}`)},
		{"empty typ", withHeader(`{"kid":"` + testCredentialSID + `","typ":"","alg":"ES256"}`)},
		{"cty a number", withHeader(`{"kid":"` + testCredentialSID + `","cty":1,"alg":"ES256"}`)},
		{"crit", withHeader(`{"kid":"` + testCredentialSID + `","alg":"ES256","crit":["exp"]}`)},
		{"claims not json", withClaims("{")},
		{"claims a string", withClaims(`"sub"`)},
		{"missing sub", withClaims(`{"exp":1595359502,"nbf":1595358902}`)},
		{"sub a number", withClaims(`{"sub":1,"exp":1595359502,"nbf":1595358902}`)},
		{"missing nbf", withClaims(`{"sub":"` + testAccountSID + `","exp":1595359502}`)},
		{"missing exp", withClaims(`{"sub":"` + testAccountSID + `","nbf":1595358902}`)},
		{"exp a string", withClaims(`{"sub":"` + testAccountSID + `","exp":"1595359502","nbf":1595358902}`)},
		{"exp fractional", withClaims(`{"sub":"` + testAccountSID + `","exp":1595359502.5,"nbf":1595358902}`)},
		{"exp in exponent form", withClaims(`{"sub":"` + testAccountSID + `","exp":1.595359502e9,"nbf":1595358902}`)},
		{"nbf beyond int64", withClaims(`{"sub":"` + testAccountSID + `","exp":1595359502,"nbf":99999999999999999999}`)},
	}
}

func TestParseDeviceJWTErrors(t *testing.T) {
	for _, tc := range deviceJWTParseErrorTests(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := token.ParseDeviceJWT(tc.jwt)
			if !errors.Is(err, token.ErrInvalidDeviceJWT) {
				t.Errorf("ParseDeviceJWT(%q) = %+v, %v; want ErrInvalidDeviceJWT", tc.jwt, got, err)
			}
		})
	}
}

// deviceJWTVerifyTests are JWTs ParseDeviceJWT reads, and what Verify makes
// of them; FuzzParseDeviceJWT starts from them too.
func deviceJWTVerifyTests(tb testing.TB) []struct {
	name   string
	jwt    string
	key    *ecdsa.PublicKey
	now    time.Time
	leeway time.Duration
	want   error
} {
	key := deviceKeys.device
	pub := &key.PublicKey
	nbf := jwtT0.Unix()
	claims := androidClaims(nbf)
	android := signJWT(tb, key, androidHeader(testCredentialSID), claims, false)
	parts := strings.Split(android, ".")
	withHeader := func(h string) string { return signJWT(tb, key, h, claims, false) }
	// The claims with exp pushed back a day, under the original signature.
	tampered := withPartText(android, 1, b64url([]byte(fmt.Sprintf(`{"sub":%q,"exp":%d,"nbf":%d}`, testAccountSID, nbf+86400, nbf))))
	// The same JWT with "/" in the header written as "\/" (org.json) or
	// not: the signature covers one spelling only, so re-encoding the
	// header would break it.
	slashed := signJWT(tb, key, androidHeader(`CR\/0123`), claims, false)
	unslashed := withPartText(slashed, 0, b64url([]byte(androidHeader(`CR/0123`))))
	now := jwtT0.Add(time.Minute)
	return []struct {
		name   string
		jwt    string
		key    *ecdsa.PublicKey
		now    time.Time
		leeway time.Duration
		want   error
	}{
		{"android", android, pub, now, 0, nil},
		{"ios key order", signJWT(tb, key, `{"alg":"ES256","cty":"twilio-pba;v=1","kid":"`+testCredentialSID+`","typ":"JWT"}`,
			fmt.Sprintf(`{"exp":%d,"nbf":%d,"sub":%q}`, nbf+600, nbf, testAccountSID), false), pub, now, 0, nil},
		{"android \\/ escaping", slashed, pub, now, 0, nil},
		{"\\/ unescaped after signing", unslashed, pub, now, 0, token.ErrDeviceJWTSignature},
		{"no cty or typ", withHeader(`{"kid":"` + testCredentialSID + `","alg":"ES256"}`), pub, now, 0, nil},
		{"typ in lower case", withHeader(`{"kid":"` + testCredentialSID + `","typ":"jwt","alg":"ES256"}`), pub, now, 0, nil},
		{"extra header and claims", signJWT(tb, key, `{"kid":"`+testCredentialSID+`","alg":"ES256","x5u":"https:\/\/example.com"}`,
			fmt.Sprintf(`{"sub":%q,"exp":%d,"nbf":%d,"iat":%d,"jti":"x"}`, testAccountSID, nbf+600, nbf, nbf), false), pub, now, 0, nil},
		{"tampered claims", tampered, pub, now, 0, token.ErrDeviceJWTSignature},
		{"tampered signature", withPartText(android, 2, b64url(sign(tb, key, "something else", false))), pub, now, 0, token.ErrDeviceJWTSignature},
		{"signature of zeros", withPartText(android, 2, b64url(make([]byte, 64))), pub, now, 0, token.ErrDeviceJWTSignature},
		{"another key", android, &deviceKeys.other.PublicKey, now, 0, token.ErrDeviceJWTSignature},
		{"der signature where raw is expected", withPartText(android, 2, b64url(sign(tb, key, parts[0]+"."+parts[1], true))), pub, now, 0, token.ErrInvalidDeviceJWT},
		{"signature one byte short", withPartText(android, 2, b64url(sign(tb, key, parts[0]+"."+parts[1], false)[:63])), pub, now, 0, token.ErrInvalidDeviceJWT},
		{"alg none", withHeader(`{"kid":"` + testCredentialSID + `","typ":"JWT","alg":"none"}`), pub, now, 0, token.ErrInvalidDeviceJWT},
		{"alg HS256", withHeader(`{"kid":"` + testCredentialSID + `","typ":"JWT","alg":"HS256"}`), pub, now, 0, token.ErrInvalidDeviceJWT},
		{"alg ES384", withHeader(`{"kid":"` + testCredentialSID + `","typ":"JWT","alg":"ES384"}`), pub, now, 0, token.ErrInvalidDeviceJWT},
		{"alg es256", withHeader(`{"kid":"` + testCredentialSID + `","typ":"JWT","alg":"es256"}`), pub, now, 0, token.ErrInvalidDeviceJWT},
		{"typ JOSE", withHeader(`{"kid":"` + testCredentialSID + `","typ":"JOSE","alg":"ES256"}`), pub, now, 0, token.ErrInvalidDeviceJWT},
		{"cty of an access token", withHeader(`{"kid":"` + testCredentialSID + `","cty":"twilio-fpa;v=1","alg":"ES256"}`), pub, now, 0, token.ErrInvalidDeviceJWT},
		{"at nbf", android, pub, jwtT0, 0, nil},
		{"a second before nbf", android, pub, jwtT0.Add(-time.Second), 0, token.ErrDeviceJWTNotYetValid},
		{"before nbf within the leeway", android, pub, jwtT0.Add(-30 * time.Second), 30 * time.Second, nil},
		{"before nbf beyond the leeway", android, pub, jwtT0.Add(-31 * time.Second), 30 * time.Second, token.ErrDeviceJWTNotYetValid},
		{"just before exp", android, pub, jwtT0.Add(600*time.Second - time.Nanosecond), 0, nil},
		{"at exp", android, pub, jwtT0.Add(600 * time.Second), 0, token.ErrDeviceJWTExpired},
		{"after exp within the leeway", android, pub, jwtT0.Add(629 * time.Second), 30 * time.Second, nil},
		{"after exp beyond the leeway", android, pub, jwtT0.Add(630 * time.Second), 30 * time.Second, token.ErrDeviceJWTExpired},
		{"a day late", android, pub, jwtT0.Add(24 * time.Hour), time.Minute, token.ErrDeviceJWTExpired},
	}
}

func TestDeviceJWTVerify(t *testing.T) {
	for _, tc := range deviceJWTVerifyTests(t) {
		t.Run(tc.name, func(t *testing.T) {
			j, err := token.ParseDeviceJWT(tc.jwt)
			if err != nil {
				t.Fatalf("ParseDeviceJWT(%q) error: %v", tc.jwt, err)
			}
			err = j.Verify(tc.key, tc.now, tc.leeway)
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("Verify(%q, now %d, leeway %v) error: %v", tc.jwt, tc.now.Unix(), tc.leeway, err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("Verify(%q, now %d, leeway %v) = %v, want %v", tc.jwt, tc.now.Unix(), tc.leeway, err, tc.want)
			}
		})
	}
}

func TestDeviceJWTVerifyNotP256(t *testing.T) {
	j, err := token.ParseDeviceJWT(signJWT(t, deviceKeys.device, androidHeader(testCredentialSID), androidClaims(jwtT0.Unix()), false))
	if err != nil {
		t.Fatalf("ParseDeviceJWT() error: %v", err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey(P384) error: %v", err)
	}
	for _, pub := range []*ecdsa.PublicKey{nil, &p384.PublicKey} {
		if err := j.Verify(pub, jwtT0, 0); err == nil {
			t.Errorf("Verify(%v) = nil, want an error", pub)
		}
	}
}

// checkQuiet fails t if err's message repeats a sizable piece of in, or is
// long: errors reach logs, and must not carry tokens or keys there.
func checkQuiet(t *testing.T, fn string, in string, err error) {
	t.Helper()
	msg := err.Error()
	for _, part := range strings.FieldsFunc(in, func(r rune) bool { return r == '.' }) {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Errorf("%s(%q) error %q repeats part of the input", fn, in, msg)
		}
	}
	if len(msg) > 100 {
		t.Errorf("%s(%q) error is %d bytes long, want a short fixed reason: %q", fn, in, len(msg), msg)
	}
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add(exampleKey)
	f.Add(b64(spki(f, &deviceKeys.device.PublicKey)))
	for _, tc := range publicKeyErrorTests(f) {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pub, der, err := token.ParsePublicKey(in)
		if err != nil {
			if !errors.Is(err, token.ErrInvalidPublicKey) || pub != nil || der != nil {
				t.Errorf("ParsePublicKey(%q) = %v, %x, %v; want nil, nil and ErrInvalidPublicKey", in, pub, der, err)
			}
			checkQuiet(t, "ParsePublicKey", in, err)
			return
		}
		// Accepted: the input must be the one spelling of the one DER
		// encoding of a P-256 key.
		if len(der) != 91 || b64(der) != in {
			t.Errorf("ParsePublicKey(%q) accepted DER %x (%d bytes), want 91 bytes that encode back to the input", in, der, len(der))
		}
		if again := spki(t, pub); b64(again) != in {
			t.Errorf("ParsePublicKey(%q) key re-encodes as %q", in, b64(again))
		}
	})
}

func FuzzVerifyFactorSignature(f *testing.F) {
	key := deviceKeys.device
	f.Add(testFactorSID, b64(sign(f, key, testFactorSID, true)))
	f.Add(testFactorSID, b64(sign(f, key, testFactorSID, false)))
	// The AuthPayload of openapi.yaml's UpdateFactor example.
	f.Add(testFactorSID, "MEYCIQCKlmyCWXac0mUCc7rXQ59LfZf35wC55zS338Fur8mqdAIhAKShnn1NgAq+acazv9DgSVFsTHAQPUsuxqgb5SAASXcf")
	f.Add(testFactorSID, "")
	f.Add("", "MAYCAQECAQE=") // SEQUENCE { 1, 1 }
	f.Fuzz(func(t *testing.T, factorSID, payload string) {
		if !token.VerifyFactorSignature(&key.PublicKey, factorSID, payload) {
			return
		}
		// Accepted: the payload must be one canonical spelling of DER.
		sig, err := base64.StdEncoding.DecodeString(payload)
		if err != nil || b64(sig) != payload || len(sig) < 8 || sig[0] != 0x30 {
			t.Errorf("VerifyFactorSignature(%q, %q) = true for a payload that is not canonical Base64 of DER", factorSID, payload)
		}
	})
}

func FuzzParseDeviceJWT(f *testing.F) {
	for _, tc := range deviceJWTVerifyTests(f) {
		f.Add(tc.jwt)
	}
	for _, tc := range deviceJWTParseErrorTests(f) {
		f.Add(tc.jwt)
	}
	pub := &deviceKeys.device.PublicKey
	now := jwtT0.Add(time.Minute)
	f.Fuzz(func(t *testing.T, jwt string) {
		j, err := token.ParseDeviceJWT(jwt)
		if err != nil {
			if !errors.Is(err, token.ErrInvalidDeviceJWT) {
				t.Errorf("ParseDeviceJWT(%q) error = %v, want ErrInvalidDeviceJWT", jwt, err)
			}
			checkQuiet(t, "ParseDeviceJWT", jwt, err)
			return
		}
		// Accepted: the parts must round-trip exactly, and the header must
		// name what Verify and the key lookup need.
		if got := j.SigningInput + "." + b64url(j.Signature); got != jwt {
			t.Errorf("ParseDeviceJWT(%q): signing input and signature give back %q", jwt, got)
		}
		if j.KeyID == "" || j.Algorithm == "" {
			t.Errorf("ParseDeviceJWT(%q) = kid %q, alg %q; want both non-empty", jwt, j.KeyID, j.Algorithm)
		}
		if err := j.Verify(pub, now, time.Minute); err != nil {
			if !errors.Is(err, token.ErrInvalidDeviceJWT) {
				t.Errorf("Verify(%q) error = %v, want ErrInvalidDeviceJWT", jwt, err)
			}
			checkQuiet(t, "Verify", jwt, err)
		}
	})
}
