package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/verifykit/verifykit/internal/webhook"
)

func TestParseHosts(t *testing.T) {
	for _, bad := range []string{"loopback,", "10.0.0.0/33", "a b", "[::1]", "::1:bad:"} {
		if _, err := webhook.ParseHosts(bad); err == nil {
			t.Errorf("ParseHosts(%q) succeeded, want an error", bad)
		}
	}
	for _, tc := range []struct {
		spec string
		url  string
		want bool
	}{
		{"", "http://127.0.0.1:8080/hook", true},
		{"", "http://127.9.9.9/hook", true},
		{"", "http://[::1]:9/hook", true},
		{"", "http://localhost:9/hook", true},
		{"", "http://LOCALHOST./hook", true},
		{"", "https://example.com/hook", false},
		{"", "http://10.0.0.1/hook", false},
		{"", "http://[::ffff:10.0.0.1]/hook", false},
		{"", "http://[::ffff:127.0.0.1]/hook", true},
		{"", "ftp://127.0.0.1/hook", false},
		{"", "http://user:pass@127.0.0.1/hook", false},
		{"", "/relative", false},
		{"", "http://2130706433/hook", false}, // a number, not an address the URL names
		{"backend.test,10.1.0.0/16", "https://backend.test/hook", true},
		{"backend.test,10.1.0.0/16", "https://evil.backend.test/hook", false},
		{"backend.test,10.1.0.0/16", "http://10.1.2.3/hook", true},
		{"backend.test,10.1.0.0/16", "http://127.0.0.1/hook", false},
	} {
		h, err := webhook.ParseHosts(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.AllowsURL(tc.url); got != tc.want {
			t.Errorf("ParseHosts(%q).AllowsURL(%q) = %v, want %v", tc.spec, tc.url, got, tc.want)
		}
	}
}

// TestClientConnectsOnlyToAllowedHosts: the delivery client refuses to
// connect where the policy does not allow, and follows no redirect, so a
// receiver cannot send verifyd on to another host.
func TestClientConnectsOnlyToAllowedHosts(t *testing.T) {
	var reached int
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reached++ }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()

	elsewhere, err := webhook.ParseHosts("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	_, err = webhook.NewClient(time.Second, elsewhere).Post(target.URL, "application/x-www-form-urlencoded", strings.NewReader("a=b"))
	if err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("POST to a host outside the policy = %v, want refused", err)
	}

	loopback, err := webhook.ParseHosts(webhook.Loopback)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := webhook.NewClient(time.Second, loopback).Post(redirect.URL, "application/x-www-form-urlencoded", strings.NewReader("a=b"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || reached != 0 {
		t.Errorf("redirect: status %d, target reached %d times; want 307 and not followed", resp.StatusCode, reached)
	}
}

// TestAllowsURLRefusesBadPort: a webhook URL whose port no connection can
// use (0, or past 65535) is refused when the webhook is created, rather
// than stored and retried until verifyd gives up.
func TestAllowsURLRefusesBadPort(t *testing.T) {
	h, err := webhook.ParseHosts(webhook.Loopback)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://127.0.0.1:99999/hook", "http://127.0.0.1:65536/hook", "http://127.0.0.1:0/hook", "http://[::1]:00/hook"} {
		if h.AllowsURL(u) {
			t.Errorf("AllowsURL(%q) = true, want false", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:65535/hook", "http://127.0.0.1:1/hook", "http://127.0.0.1/hook", "https://[::1]:443/hook"} {
		if !h.AllowsURL(u) {
			t.Errorf("AllowsURL(%q) = false, want true", u)
		}
	}
}

// TestAllowsURLRefusesFragment: a receiver never sees a URL's fragment, so
// it could not check a signature made over one (X-Twilio-Signature covers
// the whole URL); such a URL is refused, not signed in vain.
func TestAllowsURLRefusesFragment(t *testing.T) {
	h, err := webhook.ParseHosts(webhook.Loopback)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://127.0.0.1:8080/hook#x", "http://127.0.0.1:8080/hook?a=1#", "http://localhost/#/route"} {
		if h.AllowsURL(u) {
			t.Errorf("AllowsURL(%q) = true, want false", u)
		}
	}
	if u := "http://127.0.0.1:8080/hook?a=%23"; !h.AllowsURL(u) {
		t.Errorf("AllowsURL(%q) = false, want true", u)
	}
}
