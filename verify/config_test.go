package verify_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/verify"
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want verify.Config
	}{
		{name: "empty", env: nil, want: verify.Config{}},
		{
			name: "auth token",
			env:  map[string]string{"TWILIO_ACCOUNT_SID": testAC, "TWILIO_AUTH_TOKEN": "token"},
			want: verify.Config{AccountSID: testAC, AuthToken: "token"},
		},
		{
			name: "API key",
			env:  map[string]string{"TWILIO_ACCOUNT_SID": testAC, "TWILIO_API_KEY": testSK, "TWILIO_API_SECRET": "secret"},
			want: verify.Config{AccountSID: testAC, APIKey: testSK, APISecret: "secret"},
		},
		{
			name: "edge and region",
			env:  map[string]string{"TWILIO_EDGE": "sydney", "TWILIO_REGION": "au1"},
			want: verify.Config{Edge: "sydney", Region: "au1"},
		},
		{
			name: "base URL",
			env:  map[string]string{"VERIFYKIT_BASE_URL": "http://127.0.0.1:8080"},
			want: verify.Config{BaseURL: "http://127.0.0.1:8080"},
		},
		{
			name: "unrelated variables are ignored",
			env:  map[string]string{"TWILIO_ACCOUNT": testAC, "VERIFYD_ADDR": "127.0.0.1:0", "twilio_auth_token": "lowercase"},
			want: verify.Config{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := verify.FromEnv(func(k string) string { return tc.env[k] })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FromEnv(%v) mismatch (-want +got):\n%s", tc.env, diff)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		baseURL, edge, region string
		want                  string // a URL, or "error Field"
	}{
		{name: "default", want: "https://verify.twilio.com"},
		{name: "edge and region", edge: "sydney", region: "au1", want: "https://verify.sydney.au1.twilio.com"},
		{name: "interconnect edge", edge: "dublin-ix", region: "ie1", want: "https://verify.dublin-ix.ie1.twilio.com"},
		{name: "region au1 defaults edge sydney", region: "au1", want: "https://verify.sydney.au1.twilio.com"},
		{name: "region ie1 defaults edge dublin", region: "ie1", want: "https://verify.dublin.ie1.twilio.com"},
		{name: "region jp1 defaults edge tokyo", region: "jp1", want: "https://verify.tokyo.jp1.twilio.com"},
		{name: "region us1 defaults edge ashburn", region: "us1", want: "https://verify.ashburn.us1.twilio.com"},
		{name: "region us2 defaults edge umatilla", region: "us2", want: "https://verify.umatilla.us2.twilio.com"},
		{name: "edge defaults region us1", edge: "frankfurt", want: "https://verify.frankfurt.us1.twilio.com"},
		{name: "base URL", baseURL: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "base URL wins over edge and region", baseURL: "https://verify.example.com", edge: "sydney", region: "au1", want: "https://verify.example.com"},
		{name: "base URL wins over a bad region", baseURL: "https://verify.example.com", region: "AU1", want: "https://verify.example.com"},
		{name: "base URL trailing slash dropped", baseURL: "https://verify.example.com/", want: "https://verify.example.com"},
		{name: "base URL path kept", baseURL: "https://gw.example.com/verify/", want: "https://gw.example.com/verify"},
		{name: "unknown region needs an edge", region: "xx9", want: "error Edge"},
		{name: "uppercase edge", edge: "Sydney", region: "au1", want: "error Edge"},
		{name: "region with dots", edge: "sydney", region: "au1.example.com", want: "error Region"},
		{name: "region with slash", region: "au1/x", want: "error Region"},
		{name: "edge with leading dash", edge: "-sydney", region: "au1", want: "error Edge"},
		{name: "relative base URL", baseURL: "verify.example.com", want: "error BaseURL"},
		{name: "base URL scheme ftp", baseURL: "ftp://verify.example.com", want: "error BaseURL"},
		{name: "base URL with user", baseURL: "https://u:p@verify.example.com", want: "error BaseURL"},
		{name: "base URL with query", baseURL: "https://verify.example.com/?x=1", want: "error BaseURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := verify.Config{AccountSID: testAC, AuthToken: "token", BaseURL: tc.baseURL, Edge: tc.edge, Region: tc.region}
			c, err := verify.NewClient(cfg)
			var got string
			var cerr *verify.ConfigError
			switch {
			case errors.As(err, &cerr):
				got = "error " + cerr.Field
			case err != nil:
				t.Fatalf("NewClient(%v) = %v, want nil or a *ConfigError", cfg, err)
			default:
				got = c.BaseURL()
			}
			if got != tc.want {
				t.Errorf("NewClient(%v): got %q, want %q (err %v)", cfg, got, tc.want, err)
			}
		})
	}
}

func TestNewClientErrors(t *testing.T) {
	const secret = "s3cr3t-value"
	for _, tc := range []struct {
		name      string
		cfg       verify.Config
		opts      []verify.Option
		wantField string
	}{
		{name: "nothing", cfg: verify.Config{}, wantField: "AccountSID"},
		{name: "no account SID", cfg: verify.Config{AuthToken: secret}, wantField: "AccountSID"},
		{name: "account SID too short", cfg: verify.Config{AccountSID: "AC123", AuthToken: secret}, wantField: "AccountSID"},
		{name: "account SID not hex", cfg: verify.Config{AccountSID: "ACzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", AuthToken: secret}, wantField: "AccountSID"},
		{name: "API key as account SID", cfg: verify.Config{AccountSID: testSK, AuthToken: secret}, wantField: "AccountSID"},
		{name: "no auth token", cfg: verify.Config{AccountSID: testAC}, wantField: "AuthToken"},
		{name: "API key without secret", cfg: verify.Config{AccountSID: testAC, APIKey: testSK}, wantField: "APISecret"},
		{name: "API secret without key", cfg: verify.Config{AccountSID: testAC, APISecret: secret}, wantField: "APIKey"},
		{name: "API secret without key beside auth token", cfg: verify.Config{AccountSID: testAC, AuthToken: secret, APISecret: secret}, wantField: "APIKey"},
		{name: "account SID as API key", cfg: verify.Config{AccountSID: testAC, APIKey: testAC, APISecret: secret}, wantField: "APIKey"},
		{name: "API key without account SID", cfg: verify.Config{APIKey: testSK, APISecret: secret}, wantField: "AccountSID"},
		{name: "malformed base URL", cfg: verify.Config{AccountSID: testAC, AuthToken: secret, BaseURL: "://"}, wantField: "BaseURL"},
		{
			name:      "negative retries",
			cfg:       verify.Config{AccountSID: testAC, AuthToken: secret},
			opts:      []verify.Option{verify.WithRetry(verify.RetryPolicy{MaxRetries: -1})},
			wantField: "RetryPolicy",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verify.NewClient(tc.cfg, tc.opts...)
			var cerr *verify.ConfigError
			if !errors.As(err, &cerr) {
				t.Fatalf("NewClient(%v) = %v, %v; want a *verify.ConfigError", tc.cfg, c, err)
			}
			if cerr.Field != tc.wantField {
				t.Errorf("NewClient(%v) error %q names field %q, want %q", tc.cfg, err, cerr.Field, tc.wantField)
			}
			if want := "verify: " + tc.wantField + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("NewClient(%v) error %q, want prefix %q", tc.cfg, err, want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("NewClient(%v) error %q quotes a secret", tc.cfg, err)
			}
		})
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	cfg := verify.Config{AccountSID: testAC, AuthToken: "token-value", APIKey: testSK, APISecret: "secret-value"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		t.Run(verb, func(t *testing.T) {
			got := fmt.Sprintf(verb, cfg)
			if strings.Contains(got, "token-value") || strings.Contains(got, "secret-value") {
				t.Errorf("Sprintf(%q, cfg) = %q, quotes a secret", verb, got)
			}
			if !strings.Contains(got, testAC) || !strings.Contains(got, testSK) {
				t.Errorf("Sprintf(%q, cfg) = %q, want the SIDs shown", verb, got)
			}
		})
	}
}
