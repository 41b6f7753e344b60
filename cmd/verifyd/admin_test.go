package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/gen/models"
)

func admin(t *testing.T, dir string, args ...string) map[string]string {
	t.Helper()
	var stdout, stderr strings.Builder
	err := run(context.Background(), append([]string{"verifyd", "admin"}, append(args, "-data-dir", dir)...), func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("verifyd admin %v: %v (stderr %s)", args, err, stderr.String())
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(stdout.String()), &out); err != nil {
		t.Fatalf("verifyd admin %v printed %q: %v", args, stdout.String(), err)
	}
	return out
}

// TestAdminProvisioning: accounts, keys and services made with verifyd
// admin work against the server, and their presence turns dev mode off.
func TestAdminProvisioning(t *testing.T) {
	dir := t.TempDir()
	acc := admin(t, dir, "accounts", "create", "-friendly-name", "ci")
	key := admin(t, dir, "api-keys", "create", "-account", acc["account_sid"])
	svc := admin(t, dir, "services", "create", "-account", acc["account_sid"])
	admin(t, dir, "keys", "rotate")

	d := start(t, map[string]string{"VERIFYD_DATA_DIR": dir}, "-addr", "127.0.0.1:0")
	if _, err := os.Stat(filepath.Join(dir, devCredentialsFile)); !os.IsNotExist(err) {
		t.Errorf("dev credentials written on a provisioned store (stat err %v)", err)
	}
	c := client(t, d.addr, key["api_key_sid"], key["api_key_secret"])
	resp, err := c.CreateAccessTokenWithFormdataBodyWithResponse(context.Background(), svc["service_sid"], models.CreateAccessTokenRequest{Identity: "abcdefgh", FactorType: models.Push})
	if err != nil || resp.StatusCode() != http.StatusCreated {
		t.Fatalf("create with admin-made credentials: %v (status %d, body %s)", err, resp.StatusCode(), resp.Body)
	}
}

func TestBootstrapFile(t *testing.T) {
	dir := t.TempDir()
	const (
		account = "AC0123456789abcdef0123456789abcdef"
		token   = "bootstrap-auth-token-0001"
		service = "VA0123456789abcdef0123456789abcdef"
	)
	file := filepath.Join(t.TempDir(), "bootstrap.json")
	body := `{"accounts":[{"sid":"` + account + `","auth_token":"` + token + `","services":[{"sid":"` + service + `"}]}]}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // applying twice is harmless
		d := start(t, nil, "-addr", "127.0.0.1:0", "-data-dir", dir, "-bootstrap", file)
		resp, err := client(t, d.addr, account, token).CreateAccessTokenWithFormdataBodyWithResponse(context.Background(), service, models.CreateAccessTokenRequest{Identity: "abcdefgh", FactorType: models.Push})
		if err != nil || resp.StatusCode() != http.StatusCreated {
			t.Fatalf("create with bootstrap credentials: %v (status %d, body %s)", err, resp.StatusCode(), resp.Body)
		}
		d.stop(t)
	}
}
