package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// getPhone fetches path from verifyd at port on 127.0.0.1, with Basic
// credentials user:pass unless user is empty, and returns the status,
// content type and body.
func getPhone(t *testing.T, port, path, user, pass string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// phonePaths are the page, an asset and the endpoints.
var phonePaths = []string{"/phone", "/phone/phone.js", "/phone/api/devices",
	"/phone/api/devices/YF0123456789abcdef0123456789abcdef/inbox"}

// TestPhoneOnlyInDevModeOnLoopback: verifyd in dev mode on 127.0.0.1 serves
// /phone and prints its URL, and makes no directory until a device enrolls; in dev
// mode on a public address (-allow-dev-remote) and with provisioned
// credentials, the page and its endpoints are unknown routes even to a
// loopback client: Twilio's 404 to an account, and without credentials
// the same 401 as any other unknown path, which tells nothing.
func TestPhoneOnlyInDevModeOnLoopback(t *testing.T) {
	t.Run("dev mode on loopback", func(t *testing.T) {
		dir := t.TempDir()
		d := start(t, nil, "-addr", "127.0.0.1:0", "-data-dir", dir)
		_, port, _ := net.SplitHostPort(d.addr)
		status, ct, body := getPhone(t, port, "/phone", "", "")
		if status != http.StatusOK || !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(body), "Virtual phone") {
			t.Fatalf("GET /phone = %d %s %.80q, want 200 and the page", status, ct, body)
		}
		status, _, body = getPhone(t, port, "/phone/api/devices", "", "")
		if status != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("GET /phone/api/devices = %d %s, want 200 []", status, body)
		}
		d.waitOutput(t, "http://"+d.addr+"/phone")
		// The directory comes with the first device, not before.
		if _, err := os.Stat(filepath.Join(dir, devPhoneDir)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("phone directory before any device: %v, want none", err)
		}
	})
	for _, tc := range []struct {
		name string
		args func(t *testing.T, dir string) []string
		// creds returns an account's SID and auth token.
		creds func(t *testing.T, dir string) (string, string)
	}{
		{"dev mode on a public address",
			func(_ *testing.T, dir string) []string {
				return []string{"-addr", "0.0.0.0:0", "-allow-dev-remote", "-data-dir", dir}
			},
			func(t *testing.T, dir string) (string, string) {
				c := readCreds(t, dir)
				return c.AccountSID, c.AuthToken
			}},
		{"provisioned, not dev mode",
			func(t *testing.T, dir string) []string {
				return []string{"-addr", "127.0.0.1:0", "-data-dir", dir, "-bootstrap", writeBootstrap(t)}
			},
			func(*testing.T, string) (string, string) { return bootAccount, bootAuthToken }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := start(t, nil, tc.args(t, dir)...)
			_, port, _ := net.SplitHostPort(d.addr)
			user, pass := tc.creds(t, dir)
			_, _, unknown := getPhone(t, port, "/no-such-route", "", "")
			for _, p := range phonePaths {
				if _, _, anon := getPhone(t, port, p, "", ""); string(anon) != string(unknown) {
					t.Errorf("GET %s without credentials = %s, want what an unknown route gets: %s", p, anon, unknown)
				}
				status, ct, body := getPhone(t, port, p, user, pass)
				var e struct {
					Code   int `json:"code"`
					Status int `json:"status"`
				}
				if err := json.Unmarshal(body, &e); err != nil || status != http.StatusNotFound || ct != "application/json" || e.Code != 20404 || e.Status != 404 {
					t.Errorf("GET %s = %d %s %s, want Twilio's 404 (20404)", p, status, ct, body)
				}
			}
			if out := d.output(t); strings.Contains(out, "/phone") {
				t.Errorf("banner names /phone, which is not served:\n%s", out)
			}
		})
	}
}
