package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/gen/models"
)

// adminRun runs verifyd admin in-process and returns its stdout and error.
func adminRun(args ...string) (string, error) {
	var stdout, stderr strings.Builder
	err := run(context.Background(), append([]string{"verifyd", "admin"}, args...), func(string) string { return "" }, &stdout, &stderr)
	return stdout.String(), err
}

// ctlResult is the outcome of one verifyctl process.
type ctlResult struct {
	code           int
	stdout, stderr string
}

// runCtl runs the verifyctl binary with args, the token on stdin and, when
// keysEnv is not empty, VERIFYKIT_TOKEN_KEYS set to it.
func runCtl(t *testing.T, bin, token, keysEnv string, args ...string) ctlResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// Nothing of the test's own environment reaches verifyctl's settings.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VERIFYKIT_") && !strings.HasPrefix(kv, "TWILIO_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if keysEnv != "" {
		cmd.Env = append(cmd.Env, "VERIFYKIT_TOKEN_KEYS="+keysEnv)
	}
	cmd.Stdin = strings.NewReader(token)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("verifyctl %s: %v", strings.Join(args, " "), err)
	}
	return ctlResult{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// TestKeysExport: the key file verifyd admin keys export writes from a
// SQLite data dir opens the tokens that verifyd mints, in verifyctl.
func TestKeysExport(t *testing.T) {
	testKeysExport(t, nil)
}

// testKeysExport runs verifyd in dev mode with a temporary data dir and the
// extra store flags, mints a token, exports the keys, and has verifyctl
// token inspect decrypt the token with them: through --key, and through
// VERIFYKIT_TOKEN_KEYS. A key file of another store gets verifyctl's
// unknown-key error.
func testKeysExport(t *testing.T, storeArgs []string) {
	ctl := verifyctlBinary(t)
	dir := t.TempDir()
	storeArgs = append([]string{"-data-dir", dir}, storeArgs...)
	d := start(t, nil, append([]string{"-addr", "127.0.0.1:0"}, storeArgs...)...)
	creds := readCreds(t, dir)
	const identity, friendlyName, ttl = "ff483d1ff591898a9942916050d2ca3f", "John Doe iPhone", 300
	created, err := client(t, d.addr, creds.APIKeySID, creds.APIKeySecret).CreateAccessTokenWithFormdataBodyWithResponse(context.Background(),
		creds.ServiceSID, models.CreateAccessTokenRequest{Identity: identity, FactorType: models.Push, FactorFriendlyName: new(friendlyName), TTL: new(ttl)})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create: %v (status %d, body %s)", err, created.StatusCode(), created.Body)
	}
	tok := created.JSON201

	// An older file in the way, readable by all: export replaces it.
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := adminRun(append([]string{"keys", "export", "-o", file}, storeArgs...)...); err != nil || out != "" {
		t.Fatalf("keys export -o FILE: stdout %q, error %v; want nothing and nil", out, err)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("exported key file mode = %o, want 600", mode)
	}
	if entries, err := os.ReadDir(filepath.Dir(file)); err != nil || len(entries) != 1 {
		t.Errorf("directory of the key file holds %v (%v), want only the key file", entries, err)
	}
	exported, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]string
	if err := json.Unmarshal(exported, &list); err != nil || len(list) != 1 || list[0]["id"] == "" || list[0]["secret"] == "" {
		t.Fatalf("exported key file = %s (%v), want a list of one {id, secret}", exported, err)
	}
	keyID := list[0]["id"]
	for _, out := range []string{"-", ""} {
		args := append([]string{"keys", "export"}, storeArgs...)
		if out != "" {
			args = append(args, "-o", out)
		}
		if got, err := adminRun(args...); err != nil || got != string(exported) {
			t.Errorf("verifyd admin %s: stdout %q, error %v; want the key file on stdout", strings.Join(args, " "), got, err)
		}
	}

	wantClaims := map[string]any{
		"sub":                  identity,
		"account_sid":          creds.AccountSID,
		"service_sid":          creds.ServiceSID,
		"factor_type":          "push",
		"factor_friendly_name": friendlyName,
		"jti":                  *tok.SID,
	}
	inspect := func(t *testing.T, r ctlResult) {
		t.Helper()
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("verifyctl token inspect: exit status %d, stderr %q; want 0 and nothing", r.code, r.stderr)
		}
		var got struct {
			Header map[string]any `json:"header"`
			Claims map[string]any `json:"claims"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("verifyctl token inspect printed %q: %v", r.stdout, err)
		}
		if got.Header["kid"] != keyID {
			t.Errorf("kid = %v, want the exported key %s", got.Header["kid"], keyID)
		}
		iat, _ := got.Claims["iat"].(float64)
		if exp, _ := got.Claims["exp"].(float64); exp-iat != ttl {
			t.Errorf("exp - iat = %v, want the ttl %d", exp-iat, ttl)
		}
		delete(got.Claims, "iat")
		delete(got.Claims, "exp")
		if diff := cmp.Diff(wantClaims, got.Claims); diff != "" {
			t.Errorf("claims mismatch (-want +got):\n%s", diff)
		}
	}
	t.Run("key file", func(t *testing.T) {
		inspect(t, runCtl(t, ctl, *tok.Token, "", "token", "inspect", "--key", file, "-"))
	})
	t.Run("environment", func(t *testing.T) {
		inspect(t, runCtl(t, ctl, *tok.Token, string(exported), "token", "inspect", "-"))
	})
	t.Run("key of another store", func(t *testing.T) {
		other := t.TempDir()
		if _, err := adminRun("keys", "rotate", "-data-dir", other); err != nil {
			t.Fatal(err)
		}
		otherFile := filepath.Join(other, "keys.json")
		if _, err := adminRun("keys", "export", "-data-dir", other, "-o", otherFile); err != nil {
			t.Fatal(err)
		}
		r := runCtl(t, ctl, *tok.Token, "", "token", "inspect", "--key", otherFile, "-")
		want := "verifyctl: token key " + keyID + " is not among the keys of --key " + otherFile + "\n"
		if r.code != 1 || r.stdout != "" || r.stderr != want {
			t.Errorf("verifyctl token inspect --key (another store's keys): exit status %d, stdout %q, stderr %q; want 1, nothing and %q", r.code, r.stdout, r.stderr, want)
		}
	})
}

func TestKeysExportErrors(t *testing.T) {
	empty, keyed := t.TempDir(), t.TempDir()
	if _, err := adminRun("keys", "rotate", "-data-dir", keyed); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "keys.json")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no keys yet", []string{"-data-dir", empty, "-o", file}, "holds no token keys"},
		{"empty -o", []string{"-data-dir", keyed, "-o", ""}, "-o: want a file name"},
		{"-o in a missing directory", []string{"-data-dir", keyed, "-o", filepath.Join(keyed, "none", "keys.json")}, "-o: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := adminRun(append([]string{"keys", "export"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
				t.Errorf("verifyd admin keys export %q: stdout %q, error %v; want nothing and an error mentioning %q", tc.args, out, err, tc.want)
			}
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after a failed export, %s exists (stat error %v)", file, err)
			}
		})
	}
	// -o is export's alone.
	if _, err := adminRun("keys", "list", "-data-dir", keyed, "-o", file); !errors.Is(err, errUsage) {
		t.Errorf("verifyd admin keys list -o: error %v, want a usage error", err)
	}
	var b bytes.Buffer
	if err := run(context.Background(), []string{"verifyd", "admin", "-help"}, func(string) string { return "" }, &b, &b); !strings.Contains(b.String(), "keys export [-o FILE]") {
		t.Errorf("verifyd admin -help (error %v) = %q, want keys export listed", err, b.String())
	}
}
