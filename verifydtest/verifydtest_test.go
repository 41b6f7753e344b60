package verifydtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/verifydtest"
)

// accessToken is the resource, as this package's callers decode it.
type accessToken struct {
	SID                string  `json:"sid"`
	AccountSID         string  `json:"account_sid"`
	ServiceSID         string  `json:"service_sid"`
	EntityIdentity     string  `json:"entity_identity"`
	FactorType         string  `json:"factor_type"`
	FactorFriendlyName *string `json:"factor_friendly_name"`
	Token              string  `json:"token"`
	URL                string  `json:"url"`
	TTL                int     `json:"ttl"`
	DateCreated        string  `json:"date_created"`
}

var (
	sidPatterns = map[string]*regexp.Regexp{
		"AccountSID":   regexp.MustCompile(`^AC[0-9a-f]{32}$`),
		"AuthToken":    regexp.MustCompile(`^[0-9a-f]{32}$`),
		"APIKeySID":    regexp.MustCompile(`^SK[0-9a-f]{32}$`),
		"APIKeySecret": regexp.MustCompile(`^[0-9a-f]{32}$`),
		"ServiceSID":   regexp.MustCompile(`^VA[0-9a-f]{32}$`),
	}
	urlPattern = regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+$`)
)

// call sends one request through c and decodes the JSON answer into out
// when the status is want.
func call(t *testing.T, c *http.Client, method, rawURL, user, pass string, form url.Values, want int, out any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(user, pass)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d (body %s)", method, rawURL, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, rawURL, b, err)
		}
	}
}

func collectionURL(host, serviceSID string) string {
	return "https://" + host + "/v2/Services/" + serviceSID + "/AccessTokens"
}

func TestStart(t *testing.T) {
	s := verifydtest.Start(t)
	if !urlPattern.MatchString(s.URL) {
		t.Errorf("Start().URL = %q, want http://127.0.0.1:PORT", s.URL)
	}
	a := s.Account
	fields := map[string]string{
		"AccountSID": a.AccountSID, "AuthToken": a.AuthToken,
		"APIKeySID": a.APIKeySID, "APIKeySecret": a.APIKeySecret, "ServiceSID": a.ServiceSID,
	}
	for name, v := range fields {
		if !sidPatterns[name].MatchString(v) {
			t.Errorf("Start().%s = %q, want %s", name, v, sidPatterns[name])
		}
	}
	if diff := cmp.Diff([]verifydtest.Account{a}, s.Accounts()); diff != "" {
		t.Errorf("Accounts() mismatch (-want +got):\n%s", diff)
	}

	creds := []struct{ name, user, pass string }{
		{"auth token", a.AccountSID, a.AuthToken},
		{"api key", a.APIKeySID, a.APIKeySecret},
	}
	for _, cr := range creds {
		t.Run(cr.name, func(t *testing.T) {
			var created accessToken
			call(t, s.Client(), http.MethodPost, collectionURL("verify.twilio.com", s.ServiceSID), cr.user, cr.pass,
				url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}, "FactorFriendlyName": {"Pixel"}, "Ttl": {"120"}},
				http.StatusCreated, &created)
			wantURL := s.URL + "/v2/Services/" + s.ServiceSID + "/AccessTokens/" + created.SID
			want := accessToken{
				SID: created.SID, AccountSID: s.AccountSID, ServiceSID: s.ServiceSID,
				EntityIdentity: "user-0001", FactorType: "push", FactorFriendlyName: ptr("Pixel"),
				Token: created.Token, URL: wantURL, TTL: 120, DateCreated: created.DateCreated,
			}
			if diff := cmp.Diff(want, created); diff != "" {
				t.Errorf("create mismatch (-want +got):\n%s", diff)
			}

			// The url points at the server itself, which Client sends as is.
			var fetched accessToken
			call(t, s.Client(), http.MethodGet, created.URL, cr.user, cr.pass, nil, http.StatusOK, &fetched)
			if diff := cmp.Diff(created, fetched); diff != "" {
				t.Errorf("fetch %s mismatch (-created +fetched):\n%s", created.URL, diff)
			}

			claims, err := s.OpenToken(created.Token)
			if err != nil {
				t.Fatalf("OpenToken(created token): %v", err)
			}
			wantClaims := verifydtest.Claims{
				SID: created.SID, Identity: "user-0001", AccountSID: s.AccountSID, ServiceSID: s.ServiceSID,
				FactorType: "push", FactorFriendlyName: "Pixel",
				IssuedAt: claims.IssuedAt, ExpiresAt: claims.IssuedAt.Add(120 * time.Second), KeyID: claims.KeyID,
			}
			if diff := cmp.Diff(wantClaims, claims); diff != "" {
				t.Errorf("OpenToken mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithAccounts(t *testing.T) {
	s := verifydtest.Start(t, verifydtest.WithAccounts(3))
	accounts := s.Accounts()
	if len(accounts) != 3 {
		t.Fatalf("WithAccounts(3): Accounts() has %d accounts, want 3", len(accounts))
	}
	if s.Account != accounts[0] {
		t.Errorf("Server.Account = %+v, want Accounts()[0] %+v", s.Account, accounts[0])
	}
	seen := map[string]bool{}
	for _, a := range accounts {
		for _, sid := range []string{a.AccountSID, a.APIKeySID, a.ServiceSID} {
			if seen[sid] {
				t.Errorf("SID %s appears twice in Accounts()", sid)
			}
			seen[sid] = true
		}
	}

	// Each account creates in its own service; no other account can fetch it.
	for i, a := range accounts {
		var created accessToken
		call(t, s.Client(), http.MethodPost, collectionURL("verify.twilio.com", a.ServiceSID), a.AccountSID, a.AuthToken,
			url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}}, http.StatusCreated, &created)
		if created.AccountSID != a.AccountSID {
			t.Errorf("account %d: created token of account %s, want %s", i, created.AccountSID, a.AccountSID)
		}
		other := accounts[(i+1)%len(accounts)]
		call(t, s.Client(), http.MethodGet, created.URL, other.APIKeySID, other.APIKeySecret, nil, http.StatusNotFound, nil)
	}

	// Accounts returns a copy.
	accounts[0].AccountSID = "changed"
	if s.Accounts()[0].AccountSID == "changed" {
		t.Error("Accounts() returned the server's own slice, want a copy")
	}
}

func TestWithClock(t *testing.T) {
	now := time.Date(2015, 7, 30, 20, 0, 0, 0, time.UTC)
	s := verifydtest.Start(t, verifydtest.WithClock(func() time.Time { return now }))
	var created accessToken
	call(t, s.Client(), http.MethodPost, collectionURL("verify.twilio.com", s.ServiceSID), s.AccountSID, s.AuthToken,
		url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}, "Ttl": {"300"}}, http.StatusCreated, &created)
	if created.DateCreated != "2015-07-30T20:00:00Z" {
		t.Errorf("date_created = %q, want 2015-07-30T20:00:00Z", created.DateCreated)
	}
	claims, err := s.OpenToken(created.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !claims.IssuedAt.Equal(now) || !claims.ExpiresAt.Equal(now.Add(300*time.Second)) {
		t.Errorf("claims iat %v exp %v, want %v and %v", claims.IssuedAt, claims.ExpiresAt, now, now.Add(300*time.Second))
	}
}

func TestWithTokenKey(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	s := verifydtest.Start(t, verifydtest.WithTokenKey("test-key-1", secret))
	var created accessToken
	call(t, s.Client(), http.MethodPost, collectionURL("verify.twilio.com", s.ServiceSID), s.AccountSID, s.AuthToken,
		url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}}, http.StatusCreated, &created)
	claims, err := s.OpenToken(created.Token)
	if err != nil {
		t.Fatal(err)
	}
	if claims.KeyID != "test-key-1" {
		t.Errorf("OpenToken(token).KeyID = %q, want test-key-1", claims.KeyID)
	}

	// Code under test can decrypt the token with the key it knows.
	obj, err := jose.ParseEncryptedCompact(created.Token, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("ParseEncryptedCompact(token): %v", err)
	}
	plain, err := obj.Decrypt(secret)
	if err != nil {
		t.Fatalf("Decrypt(token) with the WithTokenKey secret: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(plain, &got); err != nil {
		t.Fatalf("claims %s: %v", plain, err)
	}
	if got["sub"] != "user-0001" || got["jti"] != created.SID {
		t.Errorf("decrypted claims = %s, want sub user-0001 and jti %s", plain, created.SID)
	}
}

func TestWithConfig(t *testing.T) {
	s := verifydtest.Start(t, verifydtest.WithConfig(func(c *api.Config) {
		c.PublicURL = "https://verify.example.com"
	}))
	var created accessToken
	call(t, s.Client(), http.MethodPost, collectionURL("verify.twilio.com", s.ServiceSID), s.AccountSID, s.AuthToken,
		url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}}, http.StatusCreated, &created)
	want := "https://verify.example.com/v2/Services/" + s.ServiceSID + "/AccessTokens/" + created.SID
	if created.URL != want {
		t.Errorf("url = %q, want %q", created.URL, want)
	}
}

func TestStartFails(t *testing.T) {
	tests := []struct {
		name    string
		opts    []verifydtest.Option
		wantLog string
	}{
		{"no accounts", []verifydtest.Option{verifydtest.WithAccounts(0)}, "WithAccounts(0): want at least 1"},
		{"short key", []verifydtest.Option{verifydtest.WithTokenKey("k", make([]byte, 16))}, "secret is 16 bytes, want 32"},
		{"empty key id", []verifydtest.Option{verifydtest.WithTokenKey("", make([]byte, 32))}, "empty id"},
		{"bad public url", []verifydtest.Option{verifydtest.WithConfig(func(c *api.Config) { c.PublicURL = "/relative" })}, "not an absolute URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			started := false
			log, failed := runTest(func(t testing.TB) {
				verifydtest.Start(t, tc.opts...)
				started = true
			})
			if !failed || started {
				t.Fatalf("Start(%s) did not fail the test (log %q)", tc.name, log)
			}
			if !strings.Contains(log, tc.wantLog) || !strings.HasPrefix(log, "verifydtest: ") {
				t.Errorf("Start(%s) logged %q, want verifydtest: …%s…", tc.name, log, tc.wantLog)
			}
		})
	}
}

func TestOpenTokenRejects(t *testing.T) {
	s := verifydtest.Start(t)
	other := verifydtest.Start(t)
	var created accessToken
	call(t, other.Client(), http.MethodPost, collectionURL("verify.twilio.com", other.ServiceSID), other.AccountSID, other.AuthToken,
		url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}}, http.StatusCreated, &created)
	for name, compact := range map[string]string{
		"empty":                  "",
		"not a jwe":              "a.b.c",
		"another server's token": created.Token,
	} {
		if _, err := s.OpenToken(compact); err == nil || !strings.HasPrefix(err.Error(), "verifydtest: open token: ") {
			t.Errorf("OpenToken(%s) error = %v, want verifydtest: open token: …", name, err)
		}
	}
}

func TestClose(t *testing.T) {
	s := verifydtest.Start(t)
	s.Close()
	s.Close() // twice is fine
	_, err := s.Client().Get(s.URL + "/healthz")
	if err == nil {
		t.Fatalf("GET /healthz after Close succeeded, want a connection error")
	}
	var he *verifydtest.HostError
	if errors.As(err, &he) {
		t.Errorf("GET /healthz after Close = %v, want a connection error, not a refusal", err)
	}
}

func TestParallelServers(t *testing.T) {
	// Servers are independent: each has its own port, store and accounts.
	a, b := verifydtest.Start(t), verifydtest.Start(t)
	if a.URL == b.URL || a.AccountSID == b.AccountSID {
		t.Errorf("two servers share URL or account: %s %s, %s %s", a.URL, a.AccountSID, b.URL, b.AccountSID)
	}
	call(t, a.Client(), http.MethodPost, collectionURL("verify.twilio.com", a.ServiceSID), b.AccountSID, b.AuthToken,
		url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}}, http.StatusUnauthorized, nil)
}

func ptr[T any](v T) *T { return &v }
