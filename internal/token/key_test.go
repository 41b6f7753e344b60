package token_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/internal/token"
)

// testKey returns a key with a deterministic secret, so that fuzz workers
// and benchmarks agree on it.
func testKey(id string, created time.Time, fill byte) token.Key {
	return token.Key{ID: id, Secret: bytes.Repeat([]byte{fill}, token.SecretLen), Created: created}
}

// t0 is an arbitrary fixed instant the tests build on.
var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

func TestNewKey(t *testing.T) {
	now := time.Date(2025, time.December, 31, 23, 30, 0, 0, time.FixedZone("UTC-2", -2*3600))
	k1, err := token.NewKey(now)
	if err != nil {
		t.Fatalf("NewKey(%v) error: %v", now, err)
	}
	k2, err := token.NewKey(now)
	if err != nil {
		t.Fatalf("NewKey(%v) error: %v", now, err)
	}
	// The id carries the UTC date, which here is already the next day.
	if !regexp.MustCompile(`^20260101-[0-9a-f]{16}$`).MatchString(k1.ID) {
		t.Errorf("NewKey(%v).ID = %q, want 20260101-<16 hex digits>", now, k1.ID)
	}
	if len(k1.Secret) != token.SecretLen {
		t.Errorf("NewKey(%v).Secret has %d bytes, want %d", now, len(k1.Secret), token.SecretLen)
	}
	if !k1.Created.Equal(now) {
		t.Errorf("NewKey(%v).Created = %v, want %v", now, k1.Created, now)
	}
	if k1.ID == k2.ID || bytes.Equal(k1.Secret, k2.Secret) {
		t.Errorf("NewKey(%v) twice gave ids %q and %q with equal=%v secrets, want distinct keys", now, k1.ID, k2.ID, bytes.Equal(k1.Secret, k2.Secret))
	}
	if _, err := token.NewKeySet(k1, k2); err != nil {
		t.Errorf("NewKeySet(NewKey(), NewKey()) error: %v", err)
	}
}

func TestNewKeySetErrors(t *testing.T) {
	good := testKey("a", t0, 1)
	tests := []struct {
		name string
		keys []token.Key
		want string // substring of the error
	}{
		{name: "no keys", keys: nil, want: "no keys"},
		{name: "empty id", keys: []token.Key{good, testKey("", t0, 2)}, want: "key 1: empty id"},
		{name: "nil secret", keys: []token.Key{{ID: "b", Created: t0}}, want: "secret is 0 bytes"},
		{name: "short secret", keys: []token.Key{{ID: "b", Secret: make([]byte, 16)}}, want: "secret is 16 bytes, want 32"},
		{name: "long secret", keys: []token.Key{{ID: "b", Secret: make([]byte, 33)}}, want: "secret is 33 bytes, want 32"},
		{name: "duplicate id", keys: []token.Key{good, testKey("a", t0.Add(time.Hour), 2)}, want: "duplicate key id a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := token.NewKeySet(tc.keys...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewKeySet(%s) = %v, %v; want an error containing %q", tc.name, ks, err, tc.want)
			}
		})
	}
}

func TestNewest(t *testing.T) {
	older := testKey("z-older", t0, 1)
	newer := testKey("a-newer", t0.Add(time.Second), 2)
	tieLow := testKey("m-tie", t0.Add(time.Second), 3)
	tieHigh := testKey("n-tie", t0.Add(time.Second).In(time.FixedZone("X", 3600)), 4)
	tests := []struct {
		name string
		keys []token.Key
		want string
	}{
		{name: "single", keys: []token.Key{older}, want: "z-older"},
		{name: "newer last", keys: []token.Key{older, newer}, want: "a-newer"},
		{name: "newer first", keys: []token.Key{newer, older}, want: "a-newer"},
		{name: "tie broken by greatest id", keys: []token.Key{tieHigh, newer, tieLow, older}, want: "n-tie"},
		{name: "tie in other order", keys: []token.Key{older, tieLow, newer, tieHigh}, want: "n-tie"},
		{name: "zero times", keys: []token.Key{testKey("b", time.Time{}, 1), testKey("c", time.Time{}, 2)}, want: "c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := token.NewKeySet(tc.keys...)
			if err != nil {
				t.Fatalf("NewKeySet() error: %v", err)
			}
			if got := ks.Newest().ID; got != tc.want {
				t.Errorf("NewKeySet(%s).Newest().ID = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	a, b := testKey("a", t0, 1), testKey("b", t0, 2)
	ks, err := token.NewKeySet(a, b)
	if err != nil {
		t.Fatalf("NewKeySet() error: %v", err)
	}
	for _, want := range []token.Key{a, b} {
		got, ok := ks.Lookup(want.ID)
		if !ok {
			t.Fatalf("Lookup(%q) found nothing, want key %q", want.ID, want.ID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Lookup(%q) mismatch (-want +got):\n%s", want.ID, diff)
		}
	}
	for _, id := range []string{"", "c", "A"} {
		if got, ok := ks.Lookup(id); ok {
			t.Errorf("Lookup(%q) = %v, true; want nothing", id, got.ID)
		}
	}
}

func TestKeySetImmutable(t *testing.T) {
	in := testKey("a", t0, 1)
	ks, err := token.NewKeySet(in)
	if err != nil {
		t.Fatalf("NewKeySet() error: %v", err)
	}
	want := bytes.Clone(in.Secret)
	in.Secret[0] ^= 0xff
	got, _ := ks.Lookup("a")
	got.Secret[1] ^= 0xff
	newest := ks.Newest()
	newest.Secret[2] ^= 0xff
	if got, _ := ks.Lookup("a"); !bytes.Equal(got.Secret, want) {
		t.Errorf("Lookup(%q).Secret = %x after callers changed their copies, want %x", "a", got.Secret, want)
	}
	if got := ks.Newest(); !bytes.Equal(got.Secret, want) {
		t.Errorf("Newest().Secret = %x after callers changed their copies, want %x", got.Secret, want)
	}
}
