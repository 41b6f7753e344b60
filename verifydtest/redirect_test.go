package verifydtest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/verifydtest"
)

// seen is a request as the target server received it.
type seen struct {
	Method, Host, Path, RawPath, Query, Body string
	Header                                   map[string]string
}

// echoServer answers every request with the JSON of what it received.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{
			Method: r.Method, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, Query: r.URL.RawQuery, Body: string(b),
			Header: map[string]string{"Authorization": r.Header.Get("Authorization"), "X-Test": r.Header.Get("X-Test")},
		}
		_ = json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRedirectTransport(t *testing.T) {
	srv := echoServer(t)
	target := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name   string
		base   string // the redirect's base URL; srv.URL when empty
		method string
		url    string
		body   string
		want   *seen // nil: refused with a *HostError
	}{
		{name: "verify", method: "POST", url: "https://verify.twilio.com/v2/Services/VA1/AccessTokens", body: "Identity=a&FactorType=push",
			want: &seen{Method: "POST", Host: target, Path: "/v2/Services/VA1/AccessTokens", Body: "Identity=a&FactorType=push"}},
		{name: "edge and region", method: "GET", url: "https://verify.sydney.au1.twilio.com/v2/Services/VA1/AccessTokens/YK1?x=1&y=%2F",
			want: &seen{Method: "GET", Host: target, Path: "/v2/Services/VA1/AccessTokens/YK1", Query: "x=1&y=%2F"}},
		{name: "region only", method: "GET", url: "https://verify.ie1.twilio.com/v2/x",
			want: &seen{Method: "GET", Host: target, Path: "/v2/x"}},
		{name: "upper case and port 443", method: "GET", url: "https://VERIFY.Twilio.COM:443/v2/x",
			want: &seen{Method: "GET", Host: target, Path: "/v2/x"}},
		{name: "plain http", method: "GET", url: "http://verify.twilio.com/v2/x",
			want: &seen{Method: "GET", Host: target, Path: "/v2/x"}},
		{name: "escaped path kept", method: "GET", url: "https://verify.twilio.com/v2/a%2Fb",
			want: &seen{Method: "GET", Host: target, Path: "/v2/a/b", RawPath: "/v2/a%2Fb"}},
		{name: "base path prefix", base: srv.URL + "/prefix/", method: "GET", url: "https://verify.twilio.com/v2/x",
			want: &seen{Method: "GET", Host: target, Path: "/prefix/v2/x"}},
		{name: "the target itself", method: "GET", url: srv.URL + "/healthz",
			want: &seen{Method: "GET", Host: target, Path: "/healthz"}},
		{name: "api.twilio.com", method: "GET", url: "https://api.twilio.com/2010-04-01/Accounts.json"},
		{name: "another product", method: "GET", url: "https://lookups.twilio.com/v2/PhoneNumbers/x"},
		{name: "too many labels", method: "GET", url: "https://verify.a.b.c.twilio.com/v2/x"},
		{name: "lookalike domain", method: "GET", url: "https://verify.twilio.com.example.com/v2/x"},
		{name: "lookalike suffix", method: "GET", url: "https://verify.twilio.co/v2/x"},
		{name: "other port", method: "GET", url: "https://verify.twilio.com:8443/v2/x"},
		{name: "bad label", method: "GET", url: "https://verify.-x.us1.twilio.com/v2/x"},
		{name: "empty label", method: "GET", url: "https://verify..twilio.com/v2/x"},
		{name: "same host other scheme", method: "GET", url: "https://" + target + "/healthz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.base
			if base == "" {
				base = srv.URL
			}
			rt, err := verifydtest.RedirectTransport(base, srv.Client().Transport)
			if err != nil {
				t.Fatalf("RedirectTransport(%q): %v", base, err)
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, tc.url, body)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth("ACx", "secret")
			req.Header.Set("X-Test", "kept")
			before := req.Clone(req.Context())

			resp, err := rt.RoundTrip(req)

			// The caller's request is never modified.
			if req.URL.String() != before.URL.String() || req.Host != before.Host || !cmp.Equal(req.Header, before.Header) {
				t.Errorf("RoundTrip modified the request: URL %s Host %q Header %v, was URL %s Host %q Header %v",
					req.URL, req.Host, req.Header, before.URL, before.Host, before.Header)
			}
			if tc.want == nil {
				var he *verifydtest.HostError
				if !errors.As(err, &he) || he.Host != req.URL.Host {
					t.Fatalf("RoundTrip(%s) error = %v, want *HostError for %q", tc.url, err, req.URL.Host)
				}
				if want := `verifydtest: refusing to send a request for host "` + req.URL.Host + `"`; !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error = %q, want prefix %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("RoundTrip(%s): %v", tc.url, err)
			}
			defer resp.Body.Close()
			var got seen
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			want := *tc.want
			want.Header = map[string]string{"Authorization": "Basic QUN4OnNlY3JldA==", "X-Test": "kept"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("RoundTrip(%s %s) reached the server as (-want +got):\n%s", tc.method, tc.url, diff)
			}
		})
	}
}

func TestRedirectTransportBaseURL(t *testing.T) {
	tests := []struct {
		base    string
		wantErr string // empty: accepted
	}{
		{"http://127.0.0.1:8080", ""},
		{"https://verifyd.internal", ""},
		{"http://127.0.0.1:8080/base/", ""},
		{"127.0.0.1:8080", "base URL"},
		{"localhost:8080", "scheme must be http or https"},
		{"ftp://127.0.0.1", "scheme must be http or https"},
		{"http://", "has no host"},
		{"http://user:pass@127.0.0.1", "must not have user info"},
		{"http://127.0.0.1?x=1", "must not have user info, a query"},
		{"http://127.0.0.1#f", "a fragment"},
		{"http://[::1", "base URL"},
	}
	for _, tc := range tests {
		_, err := verifydtest.RedirectTransport(tc.base, nil)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("RedirectTransport(%q) error = %v, want nil", tc.base, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("RedirectTransport(%q) error = %v, want one containing %q", tc.base, err, tc.wantErr)
		}
		if _, cerr := verifydtest.RedirectClient(tc.base); (cerr == nil) != (err == nil) {
			t.Errorf("RedirectClient(%q) error = %v, want the same verdict as RedirectTransport (%v)", tc.base, cerr, err)
		}
	}
}

func TestRedirectClient(t *testing.T) {
	s := verifydtest.Start(t)
	c, err := verifydtest.RedirectClient(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get("https://verify.twilio.com/healthz")
	if err != nil {
		t.Fatalf("GET via RedirectClient: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET https://verify.twilio.com/healthz via RedirectClient: status %d, want 200", resp.StatusCode)
	}
	_, err = c.Get("https://api.twilio.com/2010-04-01/Accounts.json")
	var he *verifydtest.HostError
	if !errors.As(err, &he) {
		t.Errorf("GET api.twilio.com via RedirectClient error = %v, want *HostError", err)
	}
}

// closeRecorder records whether a request body was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestRedirectTransportClosesRefusedBody(t *testing.T) {
	rt, err := verifydtest.RedirectTransport("http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, err := http.NewRequest(http.MethodPost, "https://api.twilio.com/x", body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("RoundTrip(api.twilio.com) succeeded, want a refusal")
	}
	if !body.closed {
		t.Error("RoundTrip refused the request without closing its body")
	}
}
