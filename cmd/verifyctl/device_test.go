package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/verify"
)

// deviceIdentity is the entity the device tests enroll factors for.
const deviceIdentity = "user-0001-push"

// mint creates an access token for identity in the fixture's service, as a
// backend does before its app enrolls.
func (f *fixture) mint(t *testing.T, identity string) string {
	t.Helper()
	c, err := verify.NewClient(verify.Config{AccountSID: f.AccountSID, AuthToken: f.AuthToken, BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateAccessToken(context.Background(), f.ServiceSID, verify.CreateParams{Identity: identity})
	if err != nil {
		t.Fatalf("CreateAccessToken: %v", err)
	}
	return *tok.Token
}

// TestDeviceGolden runs the device commands as a session, each step
// against the state the steps before it left (the device files, the used
// token, the verified factor), so the steps run in order in one test.
func TestDeviceGolden(t *testing.T) {
	f := newFixture(t)
	f.vars["enroll-token"] = f.mint(t, deviceIdentity)
	f.vars["ios-token"] = f.mint(t, deviceIdentity)
	f.vars["unused-token"] = f.mint(t, deviceIdentity)
	enroll := []string{"device", "enroll", "--service", "{service}", "--identity", deviceIdentity}
	with := func(base []string, more ...string) []string { return append(append([]string(nil), base...), more...) }
	// Where the saved base URL is tested, the variable points elsewhere.
	refused := map[string]string{"VERIFYKIT_BASE_URL": "http://127.0.0.1:1"}

	for _, step := range []struct {
		name     string
		env      map[string]string
		args     []string
		stdin    string
		terminal bool
		wantCode int
	}{
		{name: "device_enroll", env: baseURLEnv, args: with(enroll, "--device", "{files}/phone.json", "--token", "-"), stdin: "{enroll-token}\n"},
		{name: "device_enroll_used_token", env: baseURLEnv, args: with(enroll, "--device", "{files}/second.json", "--token", "-"), stdin: "{enroll-token}", wantCode: exitAuth},
		{name: "device_enroll_exists", env: baseURLEnv, args: with(enroll, "--device", "{files}/phone.json", "--token", "-"), stdin: "{unused-token}", wantCode: exitFailure},
		{name: "device_enroll_ios_table", args: with(enroll, "--device", "{files}/ios.json", "--token", "{ios-token}", "--base-url", "{url}",
			"--flavor", "ios", "--friendly-name", "John Doe iPhone", "--push-token", "apns-0123456789abcdef", "-o", "table")},
		{name: "device_show_unverified", env: refused, args: []string{"device", "show", "--device", "{files}/phone.json"}},
		{name: "device_verify_saved_base_url", env: refused, args: []string{"device", "verify", "--device", "{files}/phone.json"}},
		{name: "device_verify_terminal", env: refused, args: []string{"device", "verify", "--device", "{files}/ios.json"}, terminal: true},
		{name: "device_verify_again", args: []string{"device", "verify", "--device", "{files}/phone.json", "-o", "table"}, wantCode: exitFailure},
		{name: "device_show", args: []string{"device", "show", "--device", "{files}/phone.json"}},
		{name: "device_show_table", args: []string{"device", "show", "--device", "{files}/ios.json", "-o", "table"}},
		{name: "device_verify_missing_file", args: []string{"device", "verify", "--device", "{files}/none.json"}, wantCode: exitFailure},
		{name: "device_show_not_a_device", args: []string{"device", "show", "--device", "{files}/key.json"}, wantCode: exitFailure},
	} {
		f.checkRun(t, step.name, step.env, step.args, step.stdin, step.terminal, step.wantCode)
	}
}

// TestDevice enrolls, verifies and shows a device, and checks what the
// golden files cannot show: the file's mode, that the private key never
// leaves the file, and what a failed enrollment leaves behind.
func TestDevice(t *testing.T) {
	f := newFixture(t)
	file := filepath.Join(f.Files, "phone.json")
	token := f.mint(t, deviceIdentity)
	enroll := []string{"device", "enroll", "--service", f.ServiceSID, "--identity", deviceIdentity, "--device", file, "--token", "-"}
	var outputs []string
	runOK := func(t *testing.T, env map[string]string, args []string, stdin string) string {
		t.Helper()
		_, code, stdout, stderr := f.run(t, env, args, stdin, false)
		if code != exitOK || stderr != "" {
			t.Fatalf("verifyctl %s = %d, stderr %q; want 0 and nothing", strings.Join(args, " "), code, stderr)
		}
		outputs = append(outputs, stdout)
		return stdout
	}

	// enroll
	var enrolled struct {
		SID, Status, Identity string
		ServiceSID            string `json:"service_sid"`
		AccountSID            string `json:"account_sid"`
		Config                struct {
			CredentialSID string `json:"credential_sid"`
		}
	}
	if err := json.Unmarshal([]byte(runOK(t, baseURLEnv, enroll, token)), &enrolled); err != nil {
		t.Fatalf("enroll output: %v", err)
	}
	if enrolled.Status != "unverified" || enrolled.Identity != deviceIdentity || enrolled.ServiceSID != f.ServiceSID ||
		enrolled.AccountSID != f.AccountSID || !strings.HasPrefix(enrolled.SID, "YF") || !strings.HasPrefix(enrolled.Config.CredentialSID, "CR") {
		t.Errorf("enrolled factor = %+v, want an unverified YF… of %s in %s, with a CR… credential", enrolled, deviceIdentity, f.ServiceSID)
	}

	// the file: mode 0600, the device and its key
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("device file mode = %v, want 0600", fi.Mode().Perm())
	}
	var saved struct {
		PrivateKey string `json:"private_key"`
		BaseURL    string `json:"base_url"`
		Factor     struct{ SID, Status string }
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatalf("device file: %v", err)
	}
	if saved.PrivateKey == "" || saved.BaseURL != f.URL || saved.Factor.SID != enrolled.SID {
		t.Fatalf("device file holds key %t, base URL %q, factor %q; want a key, %q, %q", saved.PrivateKey != "", saved.BaseURL, saved.Factor.SID, f.URL, enrolled.SID)
	}

	// verify, without the variable: the file says where
	verified := runOK(t, nil, []string{"device", "verify", "--device", file, "-o", "table"}, "")
	for _, want := range []string{"sid: " + enrolled.SID + "\n", "status: verified\n"} {
		if !strings.Contains(verified, want) {
			t.Errorf("verify output lacks %q:\n%s", want, verified)
		}
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("device file after verify: %v, %v; want mode 0600", fi, err)
	}

	// show, in both formats
	var shown deviceView
	if err := json.Unmarshal([]byte(runOK(t, nil, []string{"device", "show", "--device", file}, "")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Factor == nil || shown.Factor.SID != enrolled.SID || shown.Factor.Status != "verified" || shown.BaseURL != f.URL ||
		shown.Factor.CredentialSID != enrolled.Config.CredentialSID || !strings.HasPrefix(shown.PublicKey, "MFkw") {
		t.Errorf("device show = %+v, want the verified factor %s at %s", shown, enrolled.SID, f.URL)
	}
	runOK(t, nil, []string{"device", "show", "--device", file, "-o", "table"}, "")
	for _, out := range outputs {
		if strings.Contains(out, saved.PrivateKey) {
			t.Errorf("output shows the private key:\n%s", out)
		}
	}

	t.Run("a used token", func(t *testing.T) {
		other := filepath.Join(f.Files, "other.json")
		args := []string{"device", "enroll", "--service", f.ServiceSID, "--identity", deviceIdentity, "--device", other, "--token", "-"}
		_, code, stdout, stderr := f.run(t, baseURLEnv, args, token, false)
		if code != exitAuth || stdout != "" || !strings.HasPrefix(stderr, "verifyctl: 20003 Authenticate (request RQ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("enroll with a used token = %d, stdout %q, stderr %q; want %d and one line 20003", code, stdout, stderr, exitAuth)
		}
		if _, err := os.Stat(other); !os.IsNotExist(err) {
			t.Errorf("a failed enrollment left a device file: %v", err)
		}
	})
	t.Run("a missing file", func(t *testing.T) {
		missing := filepath.Join(f.Files, "none.json")
		_, code, stdout, stderr := f.run(t, nil, []string{"device", "verify", "--device", missing}, "", false)
		if want := "verifyctl: --device: open " + missing + ": no such file or directory\n"; code != exitFailure || stdout != "" || stderr != want {
			t.Errorf("verify of a missing file = %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, exitFailure, want)
		}
	})
	t.Run("an existing file", func(t *testing.T) {
		before, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fresh := f.mint(t, deviceIdentity)
		_, code, _, stderr := f.run(t, baseURLEnv, enroll, fresh, false)
		if code != exitFailure || !strings.Contains(stderr, "give --force") {
			t.Errorf("enroll over an existing file = %d, stderr %q; want %d, asking for --force", code, stderr, exitFailure)
		}
		if after, err := os.ReadFile(file); err != nil || string(after) != string(before) {
			t.Errorf("device file after a refused enroll changed (%v)", err)
		}
		// The refusal came before the request: the token still enrolls.
		replaced := runOK(t, baseURLEnv, append(enroll, "--force", "-o", "table"), fresh)
		if strings.Contains(replaced, enrolled.SID) || !strings.Contains(replaced, "status: unverified\n") {
			t.Errorf("enroll --force output:\n%s\nwant a new unverified factor", replaced)
		}
		var now struct {
			Factor struct{ SID string }
		}
		after, err := os.ReadFile(file)
		if err != nil || json.Unmarshal(after, &now) != nil || now.Factor.SID == enrolled.SID {
			t.Errorf("device file after enroll --force holds factor %q (%v); want a new one", now.Factor.SID, err)
		}
	})
	t.Run("a base URL flag replaces the saved one", func(t *testing.T) {
		_, code, _, stderr := f.run(t, nil, []string{"device", "verify", "--device", file, "--base-url", "http://127.0.0.1:1"}, "", false)
		if code != exitFailure || !strings.HasPrefix(stderr, "verifyctl: device: verify: Post \"http://127.0.0.1:1/v2/Services/") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("verify --base-url of a closed port = %d, stderr %q; want %d and one line about the request", code, stderr, exitFailure)
		}
	})
}
