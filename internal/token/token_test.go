package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/internal/token"
)

// ttl is the token lifetime the tests use.
const ttl = 600

// testClaims returns claims as the API would fill them in, issued at t0.
func testClaims() token.Claims {
	return token.Claims{
		Identity:           "ff483d1ff591898a9942916050d2ca3f",
		AccountSID:         "AC0123456789abcdef0123456789abcdef",
		ServiceSID:         "VA0123456789abcdef0123456789abcdef",
		FactorType:         "push",
		FactorFriendlyName: "John's phone",
		IssuedAt:           t0.Unix(),
		ExpiresAt:          t0.Unix() + ttl,
		SID:                "YK0123456789abcdef0123456789abcdef",
	}
}

// mustKeySet builds a KeySet or fails the test.
func mustKeySet(tb testing.TB, keys ...token.Key) *token.KeySet {
	tb.Helper()
	ks, err := token.NewKeySet(keys...)
	if err != nil {
		tb.Fatalf("NewKeySet() error: %v", err)
	}
	return ks
}

// mustMint mints c with ks or fails the test.
func mustMint(tb testing.TB, ks *token.KeySet, c token.Claims) string {
	tb.Helper()
	compact, err := token.Mint(ks, c)
	if err != nil {
		tb.Fatalf("Mint(%+v) error: %v", c, err)
	}
	return compact
}

// seal encrypts plaintext under k with go-jose directly, with the given
// compression and extra protected headers, to build tokens Mint would not.
func seal(tb testing.TB, k token.Key, plaintext []byte, zip jose.CompressionAlgorithm, headers map[jose.HeaderKey]any) string {
	tb.Helper()
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.DIRECT, Key: k.Secret, KeyID: k.ID},
		&jose.EncrypterOptions{Compression: zip, ExtraHeaders: headers})
	if err != nil {
		tb.Fatalf("NewEncrypter() error: %v", err)
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		tb.Fatalf("Encrypt() error: %v", err)
	}
	compact, err := obj.CompactSerialize()
	if err != nil {
		tb.Fatalf("CompactSerialize() error: %v", err)
	}
	return compact
}

// twilioHeaders are the extra headers that, with Mint's alg, enc and kid,
// make a Twilio access token header.
var twilioHeaders = map[jose.HeaderKey]any{jose.HeaderContentType: token.ContentType}

// rawPart decodes part i of compact.
func rawPart(tb testing.TB, compact string, i int) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(compact, ".")[i])
	if err != nil {
		tb.Fatalf("decode part %d of %q: %v", i, compact, err)
	}
	return b
}

// withPart returns compact with part i replaced by the encoding of b.
func withPart(compact string, i int, b []byte) string {
	parts := strings.Split(compact, ".")
	parts[i] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// flipPart returns compact with the first byte of part i changed.
func flipPart(tb testing.TB, compact string, i int) string {
	tb.Helper()
	b := rawPart(tb, compact, i)
	b[0] ^= 0x01
	return withPart(compact, i, b)
}

// editHeader returns compact with its protected header rewritten by edit.
func editHeader(tb testing.TB, compact string, edit func(map[string]any)) string {
	tb.Helper()
	var h map[string]any
	if err := json.Unmarshal(rawPart(tb, compact, 0), &h); err != nil {
		tb.Fatalf("decode header of %q: %v", compact, err)
	}
	edit(h)
	b, err := json.Marshal(h)
	if err != nil {
		tb.Fatalf("encode header: %v", err)
	}
	return withPart(compact, 0, b)
}

func TestRoundTrip(t *testing.T) {
	ks := mustKeySet(t, testKey("k", t0, 1))
	full := testClaims()
	full.Issuer = "verifykit"
	tests := []struct {
		name   string
		claims token.Claims
	}{
		{name: "typical", claims: testClaims()},
		{name: "with issuer", claims: full},
		{name: "zero", claims: token.Claims{}},
		{name: "unicode and escapes", claims: token.Claims{Identity: "ユーザー\u2028\"<&>", FactorFriendlyName: "\x00tab\t", IssuedAt: -1, ExpiresAt: 1<<63 - 1}},
		{name: "long identity", claims: token.Claims{Identity: strings.Repeat("abc", 1000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			compact := mustMint(t, ks, tc.claims)
			got, err := token.Open(ks, compact)
			if err != nil {
				t.Fatalf("Open(Mint(%+v)) error: %v", tc.claims, err)
			}
			if diff := cmp.Diff(tc.claims, got); diff != "" {
				t.Errorf("Open(Mint(%+v)) mismatch (-want +got):\n%s", tc.claims, diff)
			}
		})
	}
}

func TestMintFreshIV(t *testing.T) {
	ks := mustKeySet(t, testKey("k", t0, 1))
	c := testClaims()
	a, b := mustMint(t, ks, c), mustMint(t, ks, c)
	if a == b {
		t.Errorf("Mint(%+v) twice gave the same token %q, want a fresh IV each time", c, a)
	}
}

func TestMintHeader(t *testing.T) {
	ks := mustKeySet(t, testKey("20250314-0123456789abcdef", t0, 1))
	compact := mustMint(t, ks, testClaims())

	var got map[string]any
	if err := json.Unmarshal(rawPart(t, compact, 0), &got); err != nil {
		t.Fatalf("Mint() header is not JSON: %v", err)
	}
	want := map[string]any{
		"alg": "dir",
		"enc": "A256GCM",
		"zip": "DEF",
		"cty": "twilio-fpa;v=1",
		"kid": "20250314-0123456789abcdef",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Mint() protected header mismatch (-want +got):\n%s", diff)
	}

	h, err := token.Inspect(compact)
	if err != nil {
		t.Fatalf("Inspect(Mint()) error: %v", err)
	}
	wantHeader := token.Header{
		Algorithm:   token.Algorithm,
		Encryption:  token.Encryption,
		Compression: token.Compression,
		ContentType: token.ContentType,
		KeyID:       "20250314-0123456789abcdef",
	}
	if diff := cmp.Diff(wantHeader, h); diff != "" {
		t.Errorf("Inspect(Mint()) mismatch (-want +got):\n%s", diff)
	}
	if want := (token.Header{Algorithm: "dir", Encryption: "A256GCM", Compression: "DEF", ContentType: "twilio-fpa;v=1", KeyID: h.KeyID}); h != want {
		t.Errorf("Inspect(Mint()) = %+v, want the constants to spell %+v", h, want)
	}
}

func TestMintShape(t *testing.T) {
	ks := mustKeySet(t, testKey("k", t0, 1))
	compact := mustMint(t, ks, testClaims())
	parts := strings.Split(compact, ".")
	if len(parts) != 5 {
		t.Fatalf("Mint() = %q has %d parts, want 5", compact, len(parts))
	}
	if parts[1] != "" {
		t.Errorf("Mint() encrypted key part = %q, want empty", parts[1])
	}
	if len(parts[2]) != 16 {
		t.Errorf("Mint() IV part = %q (%d chars), want 16 chars", parts[2], len(parts[2]))
	}
	for i, want := range map[int]int{2: 12, 4: 16} {
		if got := len(rawPart(t, compact, i)); got != want {
			t.Errorf("Mint() part %d is %d bytes, want %d", i, got, want)
		}
	}
}

func TestIssuedAtExpiresAt(t *testing.T) {
	ks := mustKeySet(t, testKey("k", t0, 1))
	now := t0
	c := testClaims()
	c.IssuedAt, c.ExpiresAt = now.Unix(), now.Add(ttl*time.Second).Unix()
	got, err := token.Open(ks, mustMint(t, ks, c))
	if err != nil {
		t.Fatalf("Open(Mint()) error: %v", err)
	}
	if d := got.ExpiresAt - got.IssuedAt; d != ttl {
		t.Errorf("Open(Mint()): exp-iat = %d, want %d", d, ttl)
	}
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{name: "at issue", at: now, want: false},
		{name: "one second before expiry", at: now.Add((ttl - 1) * time.Second), want: false},
		{name: "just before expiry", at: now.Add(ttl*time.Second - time.Nanosecond), want: false},
		{name: "at expiry", at: now.Add(ttl * time.Second), want: true},
		{name: "after expiry", at: now.Add(time.Hour), want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e := got.Expired(tc.at); e != tc.want {
				t.Errorf("Expired(%v) = %v, want %v", tc.at, e, tc.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	oldKey := testKey("old", t0, 1)
	newKey := testKey("new", t0.Add(24*time.Hour), 2)
	before := mustKeySet(t, oldKey)
	after := mustKeySet(t, oldKey, newKey)
	retired := mustKeySet(t, newKey)
	c := testClaims()

	oldToken := mustMint(t, before, c)
	if got, err := token.Open(after, oldToken); err != nil {
		t.Errorf("Open(after rotation, token from old key) error: %v", err)
	} else if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("Open(after rotation, token from old key) mismatch (-want +got):\n%s", diff)
	}

	newToken := mustMint(t, after, c)
	h, err := token.Inspect(newToken)
	if err != nil {
		t.Fatalf("Inspect(token minted after rotation) error: %v", err)
	}
	if h.KeyID != "new" {
		t.Errorf("Mint() after rotation used kid %q, want %q", h.KeyID, "new")
	}
	if _, err := token.Open(after, newToken); err != nil {
		t.Errorf("Open(after rotation, new token) error: %v", err)
	}
	if _, err := token.Open(before, newToken); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("Open(before rotation, new token) error = %v, want ErrUnknownKey", err)
	}
	if _, err := token.Open(retired, oldToken); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("Open(old key retired, old token) error = %v, want ErrUnknownKey", err)
	}
}

// openErrorTests returns tokens that Open must reject, built around a token
// minted with key "k" (fill 1); FuzzOpen is seeded from them.
func openErrorTests(tb testing.TB) []struct {
	name    string
	compact string
	want    error
} {
	k := testKey("k", t0, 1)
	other := testKey("other", t0, 2)
	ks := mustKeySet(tb, k)
	good := mustMint(tb, ks, testClaims())
	claims, err := json.Marshal(testClaims())
	if err != nil {
		tb.Fatalf("encode claims: %v", err)
	}
	parts := strings.Split(good, ".")
	return []struct {
		name    string
		compact string
		want    error
	}{
		{name: "unknown kid", compact: mustMint(tb, mustKeySet(tb, other), testClaims()), want: token.ErrUnknownKey},
		{name: "wrong key with known kid", compact: mustMint(tb, mustKeySet(tb, testKey("k", t0, 2)), testClaims()), want: token.ErrInvalid},
		{name: "kid switched", compact: editHeader(tb, mustMint(tb, mustKeySet(tb, other), testClaims()), func(h map[string]any) { h["kid"] = "k" }), want: token.ErrInvalid},
		{name: "tampered header kid", compact: editHeader(tb, good, func(h map[string]any) { h["kid"] = "other" }), want: token.ErrUnknownKey},
		{name: "tampered header order", compact: withPart(good, 0, []byte(`{"zip":"DEF","kid":"k","cty":"twilio-fpa;v=1","enc":"A256GCM","alg":"dir"}`)), want: token.ErrInvalid},
		{name: "tampered iv", compact: flipPart(tb, good, 2), want: token.ErrInvalid},
		{name: "tampered ciphertext", compact: flipPart(tb, good, 3), want: token.ErrInvalid},
		{name: "tampered tag", compact: flipPart(tb, good, 4), want: token.ErrInvalid},
		{name: "short iv", compact: withPart(good, 2, rawPart(tb, good, 2)[:11]), want: token.ErrInvalid},
		{name: "short tag", compact: withPart(good, 4, rawPart(tb, good, 4)[:15]), want: token.ErrInvalid},
		{name: "truncated ciphertext", compact: withPart(good, 3, rawPart(tb, good, 3)[:1]), want: token.ErrInvalid},
		{name: "empty ciphertext", compact: withPart(good, 3, nil), want: token.ErrInvalid},
		{name: "truncated", compact: good[:len(good)-1], want: token.ErrInvalid},
		{name: "empty", compact: "", want: token.ErrInvalid},
		{name: "dots only", compact: "....", want: token.ErrInvalid},
		{name: "four parts", compact: strings.Join(parts[:4], "."), want: token.ErrInvalid},
		{name: "six parts", compact: good + ".", want: token.ErrInvalid},
		{name: "encrypted key present", compact: parts[0] + ".AAAA." + strings.Join(parts[2:], "."), want: token.ErrInvalid},
		{name: "padded base64", compact: good + "==", want: token.ErrInvalid},
		{name: "plus sign", compact: "+" + good, want: token.ErrInvalid},
		{name: "line break", compact: parts[0] + ".." + parts[2] + "\n." + parts[3] + "." + parts[4], want: token.ErrInvalid},
		{name: "surrounding space", compact: " " + good + " ", want: token.ErrInvalid},
		{name: "jws", compact: "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo", want: token.ErrInvalid},
		{name: "header not json", compact: withPart(good, 0, []byte("not json")), want: token.ErrInvalid},
		{name: "header array", compact: withPart(good, 0, []byte(`["alg"]`)), want: token.ErrInvalid},
		{name: "header null", compact: withPart(good, 0, []byte(`null`)), want: token.ErrInvalid},
		{name: "header empty", compact: withPart(good, 0, nil), want: token.ErrInvalid},
		{name: "alg rsa", compact: editHeader(tb, good, func(h map[string]any) { h["alg"] = "RSA-OAEP" }), want: token.ErrInvalid},
		{name: "alg none", compact: editHeader(tb, good, func(h map[string]any) { h["alg"] = "none" }), want: token.ErrInvalid},
		{name: "enc a128gcm", compact: editHeader(tb, good, func(h map[string]any) { h["enc"] = "A128GCM" }), want: token.ErrInvalid},
		{name: "cty other", compact: editHeader(tb, good, func(h map[string]any) { h["cty"] = "twilio-fpa;v=2" }), want: token.ErrInvalid},
		{name: "zip missing", compact: editHeader(tb, good, func(h map[string]any) { delete(h, "zip") }), want: token.ErrInvalid},
		{name: "kid missing", compact: editHeader(tb, good, func(h map[string]any) { delete(h, "kid") }), want: token.ErrInvalid},
		{name: "kid empty", compact: editHeader(tb, good, func(h map[string]any) { h["kid"] = "" }), want: token.ErrInvalid},
		{name: "kid number", compact: editHeader(tb, good, func(h map[string]any) { h["kid"] = 1 }), want: token.ErrInvalid},
		{name: "kid null", compact: editHeader(tb, good, func(h map[string]any) { h["kid"] = nil }), want: token.ErrInvalid},
		{name: "kid uppercase duplicate", compact: editHeader(tb, good, func(h map[string]any) { h["KID"] = "other" }), want: token.ErrInvalid},
		{name: "crit header", compact: editHeader(tb, good, func(h map[string]any) { h["crit"] = []string{"exp"} }), want: token.ErrInvalid},
		{name: "uncompressed", compact: seal(tb, k, claims, jose.NONE, twilioHeaders), want: token.ErrInvalid},
		{name: "unknown claim", compact: seal(tb, k, []byte(`{"sub":"a","admin":true}`), jose.DEFLATE, twilioHeaders), want: token.ErrInvalid},
		{name: "claims not json", compact: seal(tb, k, []byte(`sub=a`), jose.DEFLATE, twilioHeaders), want: token.ErrInvalid},
		{name: "claims array", compact: seal(tb, k, []byte(`[]`), jose.DEFLATE, twilioHeaders), want: token.ErrInvalid},
		{name: "claims wrong type", compact: seal(tb, k, []byte(`{"iat":"now"}`), jose.DEFLATE, twilioHeaders), want: token.ErrInvalid},
		{name: "trailing claims", compact: seal(tb, k, append(claims, "{}"...), jose.DEFLATE, twilioHeaders), want: token.ErrInvalid},
		{name: "too long", compact: good + strings.Repeat("A", token.MaxLen), want: token.ErrInvalid},
	}
}

func TestOpenErrors(t *testing.T) {
	ks := mustKeySet(t, testKey("k", t0, 1))
	for _, tc := range openErrorTests(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := token.Open(ks, tc.compact)
			if !errors.Is(err, tc.want) {
				t.Errorf("Open(%s) = %+v, %v; want error %v", tc.name, got, err, tc.want)
			}
			if err != nil && len(tc.compact) > 8 && strings.Contains(err.Error(), tc.compact[:8]) {
				t.Errorf("Open(%s) error %q quotes the token", tc.name, err)
			}
		})
	}
}

func TestOpenAcceptsSealed(t *testing.T) {
	// The claims-format cases in openErrorTests fail for their payloads
	// alone: the same construction with good claims opens.
	k := testKey("k", t0, 1)
	claims, err := json.Marshal(testClaims())
	if err != nil {
		t.Fatalf("encode claims: %v", err)
	}
	compact := seal(t, k, claims, jose.DEFLATE, twilioHeaders)
	got, err := token.Open(mustKeySet(t, k), compact)
	if err != nil {
		t.Fatalf("Open(sealed good claims) error: %v", err)
	}
	if diff := cmp.Diff(testClaims(), got); diff != "" {
		t.Errorf("Open(sealed good claims) mismatch (-want +got):\n%s", diff)
	}
}

func TestNilKeySet(t *testing.T) {
	if got, err := token.Mint(nil, testClaims()); err == nil {
		t.Errorf("Mint(nil, claims) = %q, nil; want an error", got)
	}
	ks := mustKeySet(t, testKey("k", t0, 1))
	compact := mustMint(t, ks, testClaims())
	if got, err := token.Open(nil, compact); err == nil {
		t.Errorf("Open(nil, token) = %+v, nil; want an error", got)
	}
}

func TestInspect(t *testing.T) {
	h := base64.RawURLEncoding.EncodeToString
	const body = ".AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"
	tests := []struct {
		name    string
		compact string
		want    token.Header
		wantErr bool
	}{
		{
			name:    "twilio order",
			compact: h([]byte(`{"zip":"DEF","kid":"k1","cty":"twilio-fpa;v=1","enc":"A256GCM","alg":"dir"}`)) + "." + body,
			want:    token.Header{Algorithm: "dir", Encryption: "A256GCM", Compression: "DEF", ContentType: "twilio-fpa;v=1", KeyID: "k1"},
		},
		{
			name:    "other values are reported, not judged",
			compact: h([]byte(`{"zip":"","kid":"","cty":"x","enc":"A128GCM","alg":"RSA-OAEP"}`)) + "." + body,
			want:    token.Header{Algorithm: "RSA-OAEP", Encryption: "A128GCM", ContentType: "x"},
		},
		{name: "missing zip", compact: h([]byte(`{"kid":"k1","cty":"twilio-fpa;v=1","enc":"A256GCM","alg":"dir"}`)) + "." + body, wantErr: true},
		{name: "extra parameter", compact: h([]byte(`{"zip":"DEF","kid":"k1","cty":"twilio-fpa;v=1","enc":"A256GCM","alg":"dir","x":1}`)) + "." + body, wantErr: true},
		{name: "non-string value", compact: h([]byte(`{"zip":"DEF","kid":7,"cty":"twilio-fpa;v=1","enc":"A256GCM","alg":"dir"}`)) + "." + body, wantErr: true},
		{name: "not json", compact: h([]byte(`{`)) + "." + body, wantErr: true},
		{name: "not base64url", compact: "e30=." + body, wantErr: true},
		{name: "empty", compact: "", wantErr: true},
		{name: "three parts", compact: "e30.e30.e30", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := token.Inspect(tc.compact)
			if tc.wantErr {
				if !errors.Is(err, token.ErrInvalid) {
					t.Errorf("Inspect(%q) = %+v, %v; want an error wrapping ErrInvalid", tc.compact, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inspect(%q) error: %v", tc.compact, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Inspect(%q) mismatch (-want +got):\n%s", tc.compact, diff)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	ks := mustKeySet(t, testKey("a", t0, 1), testKey("b", t0.Add(time.Hour), 2))
	c := testClaims()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				compact, err := token.Mint(ks, c)
				if err != nil {
					t.Errorf("Mint() error: %v", err)
					return
				}
				if _, err := token.Open(ks, compact); err != nil {
					t.Errorf("Open(Mint()) error: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzOpen(f *testing.F) {
	ks := mustKeySet(f, testKey("k", t0, 1), testKey("old", t0.Add(-time.Hour), 3))
	want := testClaims()
	good := mustMint(f, ks, want)
	f.Add(good)
	for i := range 5 {
		if i != 1 {
			f.Add(flipPart(f, good, i))
		}
	}
	for _, tc := range openErrorTests(f) {
		f.Add(tc.compact)
	}
	f.Fuzz(func(t *testing.T, compact string) {
		got, err := token.Open(ks, compact)
		if err != nil {
			if !errors.Is(err, token.ErrInvalid) && !errors.Is(err, token.ErrUnknownKey) {
				t.Errorf("Open(%q) error = %v, want ErrInvalid or ErrUnknownKey", compact, err)
			}
			// Errors reach logs: they must not repeat the token, nor
			// anything decoded from it, which would make them grow with it.
			msg := err.Error()
			for _, part := range strings.Split(compact, ".") {
				if len(part) >= 8 && strings.Contains(msg, part) {
					t.Errorf("Open(%q) error %q repeats part of the token", compact, msg)
				}
			}
			if len(msg) > 100 {
				t.Errorf("Open(%q) error is %d bytes long, want a short fixed reason: %q", compact, len(msg), msg)
			}
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Open(%q) succeeded with claims not minted (-want +got):\n%s", compact, diff)
		}
		if _, err := token.Inspect(compact); err != nil {
			t.Errorf("Inspect(%q) error %v, but Open succeeded", compact, err)
		}
	})
}

func BenchmarkMint(b *testing.B) {
	ks := mustKeySet(b, testKey("k", t0, 1))
	c := testClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Mint(ks, c); err != nil {
			b.Fatalf("Mint() error: %v", err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	ks := mustKeySet(b, testKey("k", t0, 1))
	compact := mustMint(b, ks, testClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Open(ks, compact); err != nil {
			b.Fatalf("Open() error: %v", err)
		}
	}
}
