package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/verify"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// fixture is a verifyd with one access token created in it, and the files
// that token inspect reads.
type fixture struct {
	*verifyd
	TokenSID string
	Token    string
	Files    string // a directory for key files
	// vars fill the {name} placeholders of the test arguments.
	vars map[string]string
	// masks turn dynamic values in output into stable placeholders.
	masks *strings.Replacer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	v := newVerifyd(t)
	ctx := context.Background()
	c, err := verify.NewClient(verify.Config{AccountSID: v.AccountSID, AuthToken: v.AuthToken, BaseURL: v.URL})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateAccessToken(ctx, v.ServiceSID, verify.CreateParams{Identity: "ff483d1ff591898a9942916050d2ca3f", FactorFriendlyName: "John Doe iPhone", TTL: 300})
	if err != nil {
		t.Fatalf("CreateAccessToken: %v", err)
	}
	f := &fixture{verifyd: v, TokenSID: *tok.SID, Token: *tok.Token, Files: t.TempDir()}

	stored, err := v.Store.TokenKeys(ctx)
	if err != nil || len(stored) != 1 {
		t.Fatalf("TokenKeys = %d keys, %v; want 1", len(stored), err)
	}
	real := keyFileEntry{ID: stored[0].ID, Secret: base64.StdEncoding.EncodeToString(stored[0].Secret)}
	other, err := token.NewKey(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	otherEntry := keyFileEntry{ID: other.ID, Secret: base64.StdEncoding.EncodeToString(other.Secret)}
	writeJSON(t, filepath.Join(f.Files, "key.json"), real)
	writeJSON(t, filepath.Join(f.Files, "keys.json"), []keyFileEntry{otherEntry, real})
	writeJSON(t, filepath.Join(f.Files, "other-key.json"), otherEntry)
	if err := os.WriteFile(filepath.Join(f.Files, "bad-key.json"), []byte(`{"id":"k","secret":"not base64!"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f.vars = map[string]string{
		"url":        v.URL,
		"account":    v.AccountSID,
		"auth-token": v.AuthToken,
		"api-key":    v.APIKey,
		"api-secret": v.APISecret,
		"service":    v.ServiceSID,
		"sid":        f.TokenSID,
		"token":      f.Token,
		"data-dir":   v.Dir,
		"files":      f.Files,
		// The key file JSON, for VERIFYKIT_TOKEN_KEYS.
		"key-json":       mustJSON(t, real),
		"keys-json":      mustJSON(t, []keyFileEntry{otherEntry, real}),
		"other-key-json": mustJSON(t, otherEntry),
	}
	f.masks = strings.NewReplacer(
		v.URL, "<url>",
		v.AccountSID, "<account-sid>",
		v.AuthToken, "<auth-token>",
		v.APIKey, "<api-key>",
		v.APISecret, "<api-secret>",
		v.ServiceSID, "<service-sid>",
		f.TokenSID, "<token-sid>",
		f.Token, "<token>",
		v.Dir, "<data-dir>",
		f.Files, "<files>",
		stored[0].ID, "<kid>",
		other.ID, "<other-kid>",
	)
	return f
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := os.WriteFile(path, []byte(mustJSON(t, v)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Values that change on every run and that the fixture cannot know in
// advance: tokens and SIDs that a test itself creates, times.
var (
	createdSID = regexp.MustCompile(`YK[0-9a-f]{32}`)
	createdJWE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	timestamp  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	unixTime   = regexp.MustCompile(`("?(?:iat|exp)"?:\s*)\d{10}`)
	requestID  = regexp.MustCompile(`RQ[0-9a-f]{32}`)
	// What the device commands create: factors, entities, credentials, and
	// the devices' public keys (Base64 of a DER SubjectPublicKeyInfo).
	factorSID     = regexp.MustCompile(`YF[0-9a-f]{32}`)
	entitySID     = regexp.MustCompile(`YE[0-9a-f]{32}`)
	credentialSID = regexp.MustCompile(`CR[0-9a-f]{32}`)
	publicKey     = regexp.MustCompile(`MFkw[A-Za-z0-9+/]+=*`)
)

// mask replaces what changes between runs with placeholders.
func (f *fixture) mask(s string) string {
	s = f.masks.Replace(s)
	s = createdSID.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Trim(m[2:], "0") == "" {
			return m // the fixed SID of the not-found tests
		}
		return "<new-token-sid>"
	})
	s = createdJWE.ReplaceAllString(s, "<new-token>")
	s = timestamp.ReplaceAllString(s, "<date>")
	s = requestID.ReplaceAllString(s, "<request-id>")
	s = factorSID.ReplaceAllString(s, "<factor-sid>")
	s = entitySID.ReplaceAllString(s, "<entity-sid>")
	s = credentialSID.ReplaceAllString(s, "<credential-sid>")
	s = publicKey.ReplaceAllString(s, "<public-key>")
	return unixTime.ReplaceAllString(s, "${1}<unix>")
}

// expand fills the {name} placeholders of args.
func (f *fixture) expand(t *testing.T, args []string) []string {
	t.Helper()
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = regexp.MustCompile(`\{[a-z-]+\}`).ReplaceAllStringFunc(a, func(m string) string {
			v, ok := f.vars[m[1:len(m)-1]]
			if !ok {
				t.Fatalf("unknown placeholder %s", m)
			}
			return v
		})
	}
	return out
}

// env returns a getenv over the variables, after expanding placeholders.
func (f *fixture) env(t *testing.T, vars map[string]string) func(string) string {
	t.Helper()
	m := map[string]string{}
	for k, v := range vars {
		m[k] = f.expand(t, []string{v})[0]
	}
	return func(k string) string { return m[k] }
}

// The environments of the tests.
var (
	authTokenEnv = map[string]string{"TWILIO_ACCOUNT_SID": "{account}", "TWILIO_AUTH_TOKEN": "{auth-token}", "VERIFYKIT_BASE_URL": "{url}"}
	apiKeyEnv    = map[string]string{"TWILIO_ACCOUNT_SID": "{account}", "TWILIO_API_KEY": "{api-key}", "TWILIO_API_SECRET": "{api-secret}", "VERIFYKIT_BASE_URL": "{url}"}
	baseURLEnv   = map[string]string{"VERIFYKIT_BASE_URL": "{url}"}
	keyEnv       = map[string]string{"VERIFYKIT_TOKEN_KEYS": "{key-json}"}
	otherKeyEnv  = map[string]string{"VERIFYKIT_TOKEN_KEYS": "{other-key-json}"}
)

// golden formats a run for its golden file.
func golden(args []string, code int, stdout, stderr string) string {
	line := "verifyctl"
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	return fmt.Sprintf("$ %s\n-- exit status %d --\n-- stdout --\n%s-- stderr --\n%s", line, code, stdout, stderr)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func TestGolden(t *testing.T) {
	f := newFixture(t)
	const identity = "ff483d1ff591898a9942916050d2ca3f"
	create := []string{"access-tokens", "create", "--service", "{service}", "--identity", identity}
	with := func(base []string, more ...string) []string { return append(append([]string(nil), base...), more...) }
	enroll := []string{"device", "enroll", "--service", "{service}", "--identity", identity, "--device", "{files}/phone.json", "--token", "-"}

	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		stdin    string
		terminal bool
		wantCode int
	}{
		// access-tokens create
		{name: "create", env: authTokenEnv, args: with(create, "--friendly-name", "John Doe iPhone", "--ttl", "300")},
		{name: "create_minimal", env: apiKeyEnv, args: create},
		{name: "create_table", env: apiKeyEnv, args: with(create, "--friendly-name", "John Doe iPhone", "-o", "table")},
		{name: "create_terminal", env: authTokenEnv, args: create, terminal: true},
		{name: "create_api_key_flags", env: baseURLEnv, args: with(create, "--account-sid", "{account}", "--api-key", "{api-key}", "--api-secret", "{api-secret}")},
		{name: "create_base_url_flag", env: map[string]string{"TWILIO_ACCOUNT_SID": "{account}", "TWILIO_AUTH_TOKEN": "{auth-token}", "VERIFYKIT_BASE_URL": "http://127.0.0.1:1"}, args: with(create, "--base-url", "{url}")},
		{name: "create_flag_credentials_replace_env", env: apiKeyEnv, args: with(create, "--auth-token", "wrong"), wantCode: exitAuth},
		{name: "create_unknown_service", env: authTokenEnv, args: []string{"access-tokens", "create", "--service", "VA00000000000000000000000000000000", "--identity", identity}, wantCode: exitNotFound},

		// access-tokens fetch
		{name: "fetch", env: authTokenEnv, args: []string{"access-tokens", "fetch", "--service", "{service}", "--sid", "{sid}"}},
		{name: "fetch_table", env: apiKeyEnv, args: []string{"access-tokens", "fetch", "--service", "{service}", "--sid", "{sid}", "-o", "table"}},
		{name: "fetch_terminal", env: apiKeyEnv, args: []string{"access-tokens", "fetch", "--service", "{service}", "--sid", "{sid}"}, terminal: true},
		{name: "fetch_not_found", env: authTokenEnv, args: []string{"access-tokens", "fetch", "--service", "{service}", "--sid", "YK00000000000000000000000000000000"}, wantCode: exitNotFound},
		{name: "fetch_wrong_auth_token", env: map[string]string{"TWILIO_ACCOUNT_SID": "{account}", "TWILIO_AUTH_TOKEN": "wrong", "VERIFYKIT_BASE_URL": "{url}"}, args: []string{"access-tokens", "fetch", "--service", "{service}", "--sid", "{sid}"}, wantCode: exitAuth},
		{name: "fetch_wrong_api_secret", env: baseURLEnv, args: []string{"access-tokens", "fetch", "--service", "{service}", "--sid", "{sid}", "--account-sid", "{account}", "--api-key", "{api-key}", "--api-secret", "wrong"}, wantCode: exitAuth},

		// usage errors
		{name: "usage_no_command", wantCode: exitUsage},
		{name: "usage_unknown_command", args: []string{"tokens"}, wantCode: exitUsage},
		{name: "usage_missing_subcommand", args: []string{"access-tokens"}, wantCode: exitUsage},
		{name: "usage_unknown_subcommand", args: []string{"access-tokens", "delete"}, wantCode: exitUsage},
		{name: "usage_missing_service", env: authTokenEnv, args: []string{"access-tokens", "create", "--identity", identity}, wantCode: exitUsage},
		{name: "usage_bad_service", env: authTokenEnv, args: []string{"access-tokens", "create", "--service", "VA123", "--identity", identity}, wantCode: exitUsage},
		{name: "usage_missing_identity", env: authTokenEnv, args: []string{"access-tokens", "create", "--service", "{service}"}, wantCode: exitUsage},
		{name: "usage_bad_identity", env: authTokenEnv, args: with(create[:4], "--identity", "john@example.com"), wantCode: exitUsage},
		{name: "usage_bad_factor_type", env: authTokenEnv, args: with(create, "--factor-type", "sms"), wantCode: exitUsage},
		{name: "usage_bad_ttl", env: authTokenEnv, args: with(create, "--ttl", "30"), wantCode: exitUsage},
		{name: "usage_friendly_name_too_long", env: authTokenEnv, args: with(create, "--friendly-name", strings.Repeat("x", 65)), wantCode: exitUsage},
		{name: "usage_bad_sid", env: authTokenEnv, args: []string{"access-tokens", "fetch", "--service", "{service}", "--sid", "VA00000000000000000000000000000000"}, wantCode: exitUsage},
		{name: "usage_missing_sid", env: authTokenEnv, args: []string{"access-tokens", "fetch", "--service", "{service}"}, wantCode: exitUsage},
		{name: "usage_unknown_flag", env: authTokenEnv, args: with(create, "--service-sid", "{service}"), wantCode: exitUsage},
		{name: "usage_flag_needs_value", env: authTokenEnv, args: []string{"access-tokens", "fetch", "--sid"}, wantCode: exitUsage},
		{name: "usage_positional", env: authTokenEnv, args: with(create, "extra"), wantCode: exitUsage},
		{name: "usage_bad_output", env: authTokenEnv, args: with(create, "-o", "yaml"), wantCode: exitUsage},
		{name: "usage_missing_credentials", env: baseURLEnv, args: create, wantCode: exitUsage},
		{name: "usage_missing_auth_token", env: map[string]string{"TWILIO_ACCOUNT_SID": "{account}"}, args: create, wantCode: exitUsage},
		{name: "usage_bad_account_sid", env: map[string]string{"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "{auth-token}"}, args: create, wantCode: exitUsage},
		{name: "usage_api_secret_without_key", env: map[string]string{"TWILIO_ACCOUNT_SID": "{account}"}, args: with(create, "--api-secret", "s"), wantCode: exitUsage},
		{name: "usage_bad_base_url", env: authTokenEnv, args: with(create, "--base-url", "127.0.0.1:8080"), wantCode: exitUsage},
		{name: "usage_region_without_known_edge", env: map[string]string{"TWILIO_ACCOUNT_SID": "{account}", "TWILIO_AUTH_TOKEN": "x", "TWILIO_REGION": "zz1"}, args: create, wantCode: exitUsage},

		// help
		{name: "help_flag", args: []string{"--help"}},
		{name: "help", args: []string{"help"}},
		{name: "help_exit_codes", args: []string{"help", "exit-codes"}},
		{name: "help_environment", args: []string{"help", "environment"}},
		{name: "help_access_tokens", args: []string{"access-tokens", "--help"}},
		{name: "help_token", args: []string{"help", "token"}},
		{name: "help_create", args: []string{"access-tokens", "create", "--help"}},
		{name: "help_create_after_flags", env: authTokenEnv, args: with(create, "-h")},
		{name: "help_fetch", args: []string{"help", "access-tokens", "fetch"}},
		{name: "help_inspect", args: []string{"token", "inspect", "-help"}},
		{name: "help_device", args: []string{"device", "--help"}},
		{name: "help_device_enroll", args: []string{"device", "enroll", "--help"}},
		{name: "help_device_verify", args: []string{"help", "device", "verify"}},
		{name: "help_device_show", args: []string{"device", "show", "-h"}},
		{name: "help_unknown_topic", args: []string{"help", "tokens"}, wantCode: exitUsage},
		{name: "version", args: []string{"version"}},

		// token inspect
		{name: "inspect_header", args: []string{"token", "inspect", "{token}"}},
		{name: "inspect_header_table", args: []string{"token", "inspect", "-o", "table", "{token}"}},
		{name: "inspect_stdin", args: []string{"token", "inspect", "-"}, stdin: "{token}\n"},
		{name: "inspect_env", env: keyEnv, args: []string{"token", "inspect", "{token}"}},
		{name: "inspect_env_list_terminal", env: map[string]string{"VERIFYKIT_TOKEN_KEYS": "{keys-json}"}, args: []string{"token", "inspect", "-"}, stdin: "{token}", terminal: true},
		{name: "inspect_key_beats_env", env: otherKeyEnv, args: []string{"token", "inspect", "--key", "{files}/key.json", "{token}"}},
		{name: "inspect_env_unknown_key", env: otherKeyEnv, args: []string{"token", "inspect", "{token}"}, wantCode: exitFailure},
		{name: "inspect_env_bad_json", env: map[string]string{"VERIFYKIT_TOKEN_KEYS": `{"id":"k","secret":"c2VjcmV0"`}, args: []string{"token", "inspect", "{token}"}, wantCode: exitFailure},
		{name: "inspect_key_file", args: []string{"token", "inspect", "--key", "{files}/key.json", "-o", "table", "{token}"}},
		{name: "inspect_key_list", args: []string{"token", "inspect", "{token}", "--key", "{files}/keys.json"}},
		{name: "inspect_unknown_key", args: []string{"token", "inspect", "--key", "{files}/other-key.json", "{token}"}, wantCode: exitFailure},
		{name: "inspect_bad_key_file", args: []string{"token", "inspect", "--key", "{files}/bad-key.json", "{token}"}, wantCode: exitFailure},
		{name: "inspect_missing_key_file", args: []string{"token", "inspect", "--key", "{files}/none.json", "{token}"}, wantCode: exitFailure},
		{name: "inspect_invalid_token", args: []string{"token", "inspect", "not-a-token"}, wantCode: exitFailure},
		{name: "inspect_missing_token", args: []string{"token", "inspect", "--key", "{files}/key.json"}, wantCode: exitUsage},
		{name: "inspect_two_tokens", args: []string{"token", "inspect", "{token}", "{token}"}, wantCode: exitUsage},
		{name: "inspect_data_dir_removed", args: []string{"token", "inspect", "--data-dir", "{data-dir}", "{token}"}, wantCode: exitUsage},

		// device: usage errors (the device commands' runs are in
		// TestDeviceGolden)
		{name: "usage_device_missing_file", env: baseURLEnv, args: []string{"device", "verify"}, wantCode: exitUsage},
		{name: "usage_device_missing_token", env: baseURLEnv, args: with(enroll[:6], "--device", "{files}/phone.json"), wantCode: exitUsage},
		{name: "usage_device_bad_flavor", env: baseURLEnv, args: with(enroll, "--flavor", "windows"), wantCode: exitUsage},
		{name: "usage_device_platform_without_token", env: baseURLEnv, args: with(enroll, "--platform", "apn"), wantCode: exitUsage},
		{name: "usage_device_token_with_platform_none", env: baseURLEnv, args: with(enroll, "--platform", "none", "--push-token", "t"), wantCode: exitUsage},
		{name: "usage_device_bad_base_url_env", env: map[string]string{"VERIFYKIT_BASE_URL": "127.0.0.1:8080"}, args: enroll, wantCode: exitUsage},
		{name: "usage_device_bad_base_url", env: baseURLEnv, args: []string{"device", "verify", "--device", "{files}/phone.json", "--base-url", ""}, wantCode: exitUsage},
		{name: "usage_device_show_base_url", args: []string{"device", "show", "--device", "{files}/phone.json", "--base-url", "{url}"}, wantCode: exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.checkRun(t, tc.name, tc.env, tc.args, tc.stdin, tc.terminal, tc.wantCode)
		})
	}
}

// run runs verifyctl with args and stdin, after expanding placeholders,
// in the environment env, and returns the expanded args, the exit status
// and the output.
func (f *fixture) run(t *testing.T, env map[string]string, args []string, stdin string, terminal bool) (expanded []string, code int, stdout, stderr string) {
	t.Helper()
	expanded = f.expand(t, args)
	var out, errOut bytes.Buffer
	a := &app{
		getenv:     f.env(t, env),
		stdin:      strings.NewReader(f.expand(t, []string{stdin})[0]),
		stdout:     &out,
		stderr:     &errOut,
		isTerminal: func(io.Writer) bool { return terminal },
	}
	code = a.main(context.Background(), append([]string{"verifyctl"}, expanded...))
	return expanded, code, out.String(), errOut.String()
}

// checkRun runs verifyctl as run does, checks its exit status and that
// stderr has at most one line, and compares the masked run with
// testdata/name.golden.
func (f *fixture) checkRun(t *testing.T, name string, env map[string]string, args []string, stdin string, terminal bool, wantCode int) {
	t.Helper()
	expanded, code, stdout, stderr := f.run(t, env, args, stdin, terminal)
	if code != wantCode {
		t.Errorf("verifyctl %s: exit status %d, want %d (stderr %q)", strings.Join(args, " "), code, wantCode, stderr)
	}
	if n := strings.Count(stderr, "\n"); n > 1 {
		t.Errorf("verifyctl %s: stderr has %d lines, want at most one", strings.Join(args, " "), n)
	}
	checkGolden(t, name, f.mask(golden(expanded, code, stdout, stderr)))
}

// checkGolden compares got with testdata/name.golden, or rewrites the file
// under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output mismatch with %s (-want +got):\n%s", path, diff)
	}
}

func TestRunNetworkFailure(t *testing.T) {
	// Port 1 on loopback refuses connections; a POST is not retried, so
	// this fails at once.
	getenv := func(k string) string {
		return map[string]string{"TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000", "TWILIO_AUTH_TOKEN": "x", "VERIFYKIT_BASE_URL": "http://127.0.0.1:1"}[k]
	}
	var stdout, stderr bytes.Buffer
	args := []string{"verifyctl", "access-tokens", "create", "--service", "VA00000000000000000000000000000000", "--identity", "user-0001"}
	code := run(context.Background(), args, getenv, strings.NewReader(""), &stdout, &stderr)
	if code != exitFailure {
		t.Errorf("run(%q) = %d, want %d", args, code, exitFailure)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "verifyctl: create access token: ") || strings.Count(got, "\n") != 1 {
		t.Errorf("run(%q) stderr = %q, want one line about the failed create", args, got)
	}
	if stdout.Len() != 0 {
		t.Errorf("run(%q) stdout = %q, want nothing", args, stdout.String())
	}
}
