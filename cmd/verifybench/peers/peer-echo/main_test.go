package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/cmd/verifybench/peers/fixed"
)

// BenchmarkEchoValidatorFetch is the echo + OapiRequestValidator stack's
// fetch in-process, beside verifybench's BenchmarkFetch of verifyd.
func BenchmarkEchoValidatorFetch(b *testing.B) {
	a := fixed.BenchArgs(b, "../testdata")
	h, err := newHandler(a)
	if err != nil {
		b.Fatal(err)
	}
	fixed.BenchFetch(b, h, a)
}

// TestEchoPeerRejectsWithTheRightStatus: the request validator's
// rejections keep their status (echo-middleware's 403 for a failed
// security requirement, where Twilio says 401; 400 for a malformed SID),
// and the fetch answers verifyd's bytes. The response
// validation wrapped around the stack must not turn the rejections, which
// are echo's own error bodies and not the spec's, into 500s.
func TestEchoPeerRejectsWithTheRightStatus(t *testing.T) {
	body, err := os.ReadFile("../testdata/fetch-body.json")
	if err != nil {
		t.Fatal(err)
	}
	var fetch struct{ AccountSID, URL string }
	fetch.AccountSID = string(regexp.MustCompile(`"account_sid":"(AC[0-9a-f]{32})"`).FindSubmatch(body)[1])
	fetch.URL = string(regexp.MustCompile(`"url":"([^"]+)"`).FindSubmatch(body)[1])
	a, err := fixed.ParseArgs([]string{"../testdata/fetch-body.json", "../testdata/fetch-header.json", fetch.AccountSID, "secret"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	u, err := url.Parse(fetch.URL)
	if err != nil {
		t.Fatal(err)
	}
	path := u.Path
	tests := []struct {
		name, path, secret string
		want               int
	}{
		{"Fetch", path, "secret", http.StatusOK},
		{"WrongSecret", path, "wrong", http.StatusForbidden},
		{"NoAuth", path, "", http.StatusForbidden},
		{"MalformedSID", path[:strings.LastIndexByte(path, '/')] + "/YKbad", "secret", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.secret != "" {
				req.SetBasicAuth(a.Account, tt.secret)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d %s, want %d", tt.path, resp.StatusCode, got, tt.want)
			}
			if tt.want == http.StatusOK && !bytes.Equal(got, body) {
				t.Errorf("GET %s body = %s, want verifyd's %s", tt.path, got, body)
			}
		})
	}
}
