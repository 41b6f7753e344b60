package api_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/verifydtest"
)

// TestPhoneRefuses: the phone answers a request that names another host
// (DNS rebinding) as an unknown route, refuses a POST that is not JSON (a
// cross-site form) and a token that is not this verifyd's, in Twilio's
// error shape, and makes no directory for them.
func TestPhoneRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "phone")
	s := verifydtest.Start(t, verifydtest.WithConfig(func(c *api.Config) { c.PhoneDir = dir }))
	do := func(method, path, host, contentType, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	if status, body := do("GET", "/phone", "", "", ""); status != http.StatusOK || !strings.Contains(string(body), "Virtual phone") {
		t.Fatalf("GET /phone = %d, want 200 and the page", status)
	}
	_, unknown := do("GET", "/no-such-route", "rebound.example", "", "")
	for _, p := range []string{"/phone", "/phone/api/devices"} {
		if status, body := do("GET", p, "rebound.example", "", ""); status == http.StatusOK || string(body) != string(unknown) {
			t.Errorf("GET %s with Host rebound.example = %d %s, want what an unknown route gets: %s", p, status, body, unknown)
		}
	}
	for _, tc := range []struct {
		name, contentType, body string
		status, code            int
	}{
		{"a form", "application/x-www-form-urlencoded", "token=x", 415, 20415},
		{"no JSON", "application/json", "token", 400, 20400},
		{"not a token", "application/json", `{"token":"eyJhbGciOiJkaXIi.x.y.z.w"}`, 400, 20400},
	} {
		status, body := do("POST", "/phone/api/devices", "", tc.contentType, tc.body)
		var e struct {
			Code     int    `json:"code"`
			Message  string `json:"message"`
			MoreInfo string `json:"more_info"`
			Status   int    `json:"status"`
		}
		if err := json.Unmarshal(body, &e); err != nil || status != tc.status || e.Code != tc.code || e.Status != tc.status ||
			e.Message == "" || e.MoreInfo == "" {
			t.Errorf("%s: POST /phone/api/devices = %d %s, want %d · %d in Twilio's shape", tc.name, status, body, tc.status, tc.code)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("phone directory after refusals only: %v; want none made", err)
	}
}
