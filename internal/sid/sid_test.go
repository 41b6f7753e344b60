package sid_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/internal/sid"
)

// hex32 is 32 valid lowercase hex digits.
const hex32 = "0123456789abcdef0123456789abcdef"

// allPrefixes lists every prefix the package defines.
var allPrefixes = []sid.Prefix{sid.Account, sid.APIKey, sid.Service, sid.AccessToken, sid.Request}

// validTests are the table cases for Valid; FuzzValid is seeded from them.
var validTests = []struct {
	name   string
	prefix sid.Prefix
	in     string
	want   bool
}{
	{name: "lowercase hex", prefix: sid.AccessToken, in: "YK" + hex32, want: true},
	{name: "uppercase hex", prefix: sid.AccessToken, in: "YK" + strings.ToUpper(hex32), want: true},
	{name: "mixed case hex", prefix: sid.Account, in: "AC0123456789ABCDEF0123456789abcdef", want: true},
	{name: "api key", prefix: sid.APIKey, in: "SK" + hex32, want: true},
	{name: "service", prefix: sid.Service, in: "VA" + hex32, want: true},
	{name: "request", prefix: sid.Request, in: "RQ" + hex32, want: true},
	{name: "all zeros", prefix: sid.Request, in: "RQ" + strings.Repeat("0", 32), want: true},
	{name: "empty", prefix: sid.AccessToken, in: "", want: false},
	{name: "prefix only", prefix: sid.AccessToken, in: "YK", want: false},
	{name: "one digit short", prefix: sid.AccessToken, in: "YK" + hex32[1:], want: false},
	{name: "one digit long", prefix: sid.AccessToken, in: "YK" + hex32 + "0", want: false},
	{name: "wrong prefix", prefix: sid.AccessToken, in: "AC" + hex32, want: false},
	{name: "lowercase prefix", prefix: sid.Account, in: "ac" + hex32, want: false},
	{name: "mixed case prefix", prefix: sid.Account, in: "Ac" + hex32, want: false},
	{name: "non-hex letter", prefix: sid.Service, in: "VA" + hex32[:31] + "g", want: false},
	{name: "non-hex first digit", prefix: sid.Service, in: "VAz" + hex32[1:], want: false},
	{name: "space", prefix: sid.Service, in: "VA" + hex32[:16] + " " + hex32[17:], want: false},
	{name: "leading space", prefix: sid.Service, in: " VA" + hex32[1:], want: false},
	{name: "trailing newline", prefix: sid.Service, in: "VA" + hex32[1:] + "\n", want: false},
	{name: "nul byte", prefix: sid.Service, in: "VA" + hex32[1:] + "\x00", want: false},
	{name: "unicode digit", prefix: sid.Service, in: "VA" + hex32[:30] + "٣", want: false}, // 2 bytes, so length is 34
	{name: "fullwidth prefix", prefix: sid.Service, in: "ＶＡ" + hex32[:28], want: false},
	{name: "invalid utf-8", prefix: sid.Service, in: "VA" + hex32[:31] + "\xff", want: false},
	{name: "empty prefix", prefix: "", in: "YK" + hex32, want: false},
	{name: "short prefix", prefix: "Y", in: "YK" + hex32, want: false},
	{name: "long prefix", prefix: "YKX", in: "YKX" + hex32[1:], want: false},
}

func TestValid(t *testing.T) {
	for _, tc := range validTests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sid.Valid(tc.prefix, tc.in); got != tc.want {
				t.Errorf("Valid(%q, %q) = %v, want %v", tc.prefix, tc.in, got, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, p := range allPrefixes {
		t.Run(string(p), func(t *testing.T) {
			const draws = 1000
			seen := make(map[string]bool, draws)
			for range draws {
				got := sid.New(p)
				if !sid.Valid(p, got) {
					t.Fatalf("New(%q) = %q, which Valid rejects", p, got)
				}
				if lower := string(p) + strings.ToLower(got[2:]); got != lower {
					t.Fatalf("New(%q) = %q, want lowercase hex digits", p, got)
				}
				if seen[got] {
					t.Fatalf("New(%q) = %q, a repeat within %d draws", p, got, draws)
				}
				seen[got] = true
			}
		})
	}
}

func TestNewOtherPrefixesReject(t *testing.T) {
	s := sid.New(sid.AccessToken)
	for _, p := range allPrefixes {
		if p == sid.AccessToken {
			continue
		}
		if sid.Valid(p, s) {
			t.Errorf("Valid(%q, %q) = true, want false", p, s)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, tc := range validTests {
		f.Add(tc.in)
	}
	patterns := make(map[sid.Prefix]*regexp.Regexp, len(allPrefixes))
	for _, p := range allPrefixes {
		patterns[p] = regexp.MustCompile(`^` + string(p) + `[0-9a-fA-F]{32}$`)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for p, re := range patterns {
			if got, want := sid.Valid(p, s), re.MatchString(s); got != want {
				t.Errorf("Valid(%q, %q) = %v, want %v (as %s)", p, s, got, want, re)
			}
		}
	})
}

func BenchmarkValid(b *testing.B) {
	s := sid.New(sid.AccessToken)
	b.ReportAllocs()
	for b.Loop() {
		if !sid.Valid(sid.AccessToken, s) {
			b.Fatalf("Valid(%q, %q) = false, want true", sid.AccessToken, s)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = sid.New(sid.AccessToken)
	}
}
