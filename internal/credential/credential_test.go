package credential_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/internal/credential"
)

func TestGenerate(t *testing.T) {
	const draws = 1000
	seen := make(map[string]bool, draws)
	for range draws {
		got := credential.Generate()
		if len(got) != 32 || strings.Trim(got, "0123456789abcdef") != "" {
			t.Fatalf("Generate() = %q, want 32 lowercase hex digits", got)
		}
		if seen[got] {
			t.Fatalf("Generate() = %q, a repeat within %d draws", got, draws)
		}
		seen[got] = true
	}
}

func TestHashFormat(t *testing.T) {
	got := credential.Hash(credential.Generate())
	parts := strings.Split(got, "$")
	if len(parts) != 3 || parts[0] != "hmac-sha256" {
		t.Fatalf("Hash() = %q, want hmac-sha256$<salt>$<sum>", got)
	}
	for i, wantLen := range map[int]int{1: 16, 2: 32} {
		b, err := base64.RawStdEncoding.Strict().DecodeString(parts[i])
		if err != nil || len(b) != wantLen {
			t.Errorf("Hash() = %q: part %d decodes to %d bytes (err %v), want %d bytes", got, i, len(b), err, wantLen)
		}
	}
}

func TestHashSalted(t *testing.T) {
	secret := credential.Generate()
	h1, h2 := credential.Hash(secret), credential.Hash(secret)
	if h1 == h2 {
		t.Errorf("Hash(%q) returned %q twice, want different salts", secret, h1)
	}
	for _, h := range []string{h1, h2} {
		if !credential.Verify(h, secret) {
			t.Errorf("Verify(%q, %q) = false, want true", h, secret)
		}
	}
}

func TestVerify(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef"
	good := credential.Hash(secret)
	salt, sum, _ := strings.Cut(strings.TrimPrefix(good, "hmac-sha256$"), "$")
	// flip changes the first character of a base64 field to another valid one.
	flip := func(s string) string {
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	tests := []struct {
		name   string
		hash   string
		secret string
		want   bool
	}{
		{name: "round trip", hash: good, secret: secret, want: true},
		{name: "hash of unusual secret", hash: credential.Hash("pässwörd\x00$"), secret: "pässwörd\x00$", want: true},
		{name: "wrong secret", hash: good, secret: "0123456789abcdef0123456789abcdee", want: false},
		{name: "secret prefix", hash: good, secret: secret[:31], want: false},
		{name: "secret with suffix", hash: good, secret: secret + "0", want: false},
		{name: "uppercase secret", hash: good, secret: strings.ToUpper(secret), want: false},
		{name: "empty secret", hash: good, secret: "", want: false},
		{name: "hash of empty secret", hash: credential.Hash(""), secret: "", want: false},
		{name: "empty hash", hash: "", secret: secret, want: false},
		{name: "plaintext stored", hash: secret, secret: secret, want: false},
		{name: "wrong scheme", hash: "hmac-sha512$" + salt + "$" + sum, secret: secret, want: false},
		{name: "uppercase scheme", hash: "HMAC-SHA256$" + salt + "$" + sum, secret: secret, want: false},
		{name: "missing scheme", hash: "$" + salt + "$" + sum, secret: secret, want: false},
		{name: "missing sum", hash: "hmac-sha256$" + salt, secret: secret, want: false},
		{name: "empty sum", hash: "hmac-sha256$" + salt + "$", secret: secret, want: false},
		{name: "extra field", hash: good + "$", secret: secret, want: false},
		{name: "padded salt", hash: "hmac-sha256$" + salt + "==$" + sum, secret: secret, want: false},
		{name: "short salt", hash: "hmac-sha256$" + salt[1:] + "$" + sum, secret: secret, want: false},
		{name: "short sum", hash: "hmac-sha256$" + salt + "$" + sum[:len(sum)-1], secret: secret, want: false},
		{name: "long sum", hash: good + "A", secret: secret, want: false},
		{name: "url alphabet", hash: "hmac-sha256$" + strings.Repeat("-", len(salt)) + "$" + sum, secret: secret, want: false},
		{name: "non-canonical sum", hash: "hmac-sha256$" + salt + "$" + sum[:len(sum)-1] + nonCanonical(sum[len(sum)-1]), secret: secret, want: false},
		{name: "other salt", hash: "hmac-sha256$" + flip(salt) + "$" + sum, secret: secret, want: false},
		{name: "other sum", hash: "hmac-sha256$" + salt + "$" + flip(sum), secret: secret, want: false},
		{name: "swapped fields", hash: "hmac-sha256$" + sum + "$" + salt, secret: secret, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := credential.Verify(tc.hash, tc.secret); got != tc.want {
				t.Errorf("Verify(%q, %q) = %v, want %v", tc.hash, tc.secret, got, tc.want)
			}
			// A Verifier agrees, also when its pooled state is reused.
			v, ok := credential.NewVerifier(tc.hash)
			for range 2 {
				if got := ok && v.Verify(tc.secret); got != tc.want {
					t.Errorf("NewVerifier(%q).Verify(%q) = %v, want %v", tc.hash, tc.secret, got, tc.want)
				}
			}
		})
	}
}

// nonCanonical returns the last character of a 32-byte raw base64 encoding
// with its unused low bits set, which strict decoding must reject.
func nonCanonical(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i|1])
}

func FuzzVerify(f *testing.F) {
	secret := "0123456789abcdef0123456789abcdef"
	good := credential.Hash(secret)
	f.Add(good, secret)
	f.Add(good, "")
	f.Add("", secret)
	f.Add("hmac-sha256$$", secret)
	f.Add("hmac-sha256$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", secret)
	f.Fuzz(func(t *testing.T, hash, secret string) {
		if credential.Verify(hash, secret) && secret == "" {
			t.Errorf("Verify(%q, %q) = true, want false for an empty secret", hash, secret)
		}
		if secret != "" && !credential.Verify(credential.Hash(secret), secret) {
			t.Errorf("Verify(Hash(%q), %q) = false, want true", secret, secret)
		}
		v, ok := credential.NewVerifier(hash)
		if got, want := ok && v.Verify(secret), credential.Verify(hash, secret); got != want {
			t.Errorf("NewVerifier(%q).Verify(%q) = %v, Verify says %v", hash, secret, got, want)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	secret := credential.Generate()
	b.ReportAllocs()
	for b.Loop() {
		_ = credential.Hash(secret)
	}
}

func BenchmarkVerify(b *testing.B) {
	secret := credential.Generate()
	hash := credential.Hash(secret)
	b.ReportAllocs()
	for b.Loop() {
		if !credential.Verify(hash, secret) {
			b.Fatalf("Verify(%q, %q) = false, want true", hash, secret)
		}
	}
}

func BenchmarkVerifier(b *testing.B) {
	secret := credential.Generate()
	v, ok := credential.NewVerifier(credential.Hash(secret))
	if !ok {
		b.Fatal("NewVerifier(Hash(secret)) failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !v.Verify(secret) {
			b.Fatal("Verify(secret) = false, want true")
		}
	}
}
