package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verify"
)

const (
	testAC = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testSK = "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testVA = "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testYK = "YKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// testApp returns an app over the environment env whose stdout is not a
// terminal.
func testApp(env map[string]string) *app {
	return &app{
		getenv:     func(k string) string { return env[k] },
		stdin:      strings.NewReader(""),
		stdout:     io.Discard,
		stderr:     io.Discard,
		isTerminal: func(io.Writer) bool { return false },
	}
}

// errText returns err's message, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseCreate(t *testing.T) {
	env := map[string]string{"TWILIO_ACCOUNT_SID": testAC, "TWILIO_AUTH_TOKEN": "env-token"}
	base := []string{"--service", testVA, "--identity", "user-0001"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    *createOptions
		wantErr string
	}{
		{
			name: "defaults",
			args: base,
			want: &createOptions{
				apiOptions: apiOptions{Config: verify.Config{AccountSID: testAC, AuthToken: "env-token"}, Output: "json"},
				ServiceSID: testVA,
				Params:     verify.CreateParams{Identity: "user-0001", FactorType: "push"},
			},
		},
		{
			name: "every flag",
			args: append(append([]string(nil), base...),
				"--factor-type", "push", "--friendly-name", "John Doe iPhone", "--ttl", "300", "-o", "table",
				"--base-url", "http://127.0.0.1:8080", "--edge", "sydney", "--region", "au1"),
			want: &createOptions{
				apiOptions: apiOptions{Config: verify.Config{AccountSID: testAC, AuthToken: "env-token", BaseURL: "http://127.0.0.1:8080", Edge: "sydney", Region: "au1"}, Output: "table"},
				ServiceSID: testVA,
				Params:     verify.CreateParams{Identity: "user-0001", FactorType: "push", FactorFriendlyName: "John Doe iPhone", TTL: 300},
			},
		},
		{name: "identity of 64 characters", args: []string{"--service", testVA, "--identity", strings.Repeat("a", 64)}, want: &createOptions{
			apiOptions: apiOptions{Config: verify.Config{AccountSID: testAC, AuthToken: "env-token"}, Output: "json"}, ServiceSID: testVA,
			Params: verify.CreateParams{Identity: strings.Repeat("a", 64), FactorType: "push"},
		}},
		{name: "no service", args: []string{"--identity", "user-0001"}, wantErr: "--service: missing; want VA followed by 32 hex digits"},
		{name: "service with the wrong prefix", args: []string{"--service", testYK, "--identity", "user-0001"}, wantErr: "--service: want VA followed by 32 hex digits"},
		{name: "identity too short", args: []string{"--service", testVA, "--identity", "user"}, wantErr: "--identity: want 8 to 64 letters and digits, with single dashes between them"},
		{name: "identity too long", args: []string{"--service", testVA, "--identity", strings.Repeat("a", 65)}, wantErr: "--identity: want 8 to 64 letters and digits, with single dashes between them"},
		{name: "identity with double dash", args: []string{"--service", testVA, "--identity", "user--0001"}, wantErr: "--identity: want 8 to 64 letters and digits, with single dashes between them"},
		{name: "identity ends in dash", args: []string{"--service", testVA, "--identity", "user-0001-"}, wantErr: "--identity: want 8 to 64 letters and digits, with single dashes between them"},
		{name: "ttl not a number", args: append(append([]string(nil), base...), "--ttl", "5m"), wantErr: "--ttl: want whole seconds from 60 to 300"},
		{name: "ttl too long", args: append(append([]string(nil), base...), "--ttl", "301"), wantErr: "--ttl: want whole seconds from 60 to 300"},
		{name: "friendly name of 65 runes", args: append(append([]string(nil), base...), "--friendly-name", strings.Repeat("é", 65)), wantErr: "--friendly-name: want at most 64 characters"},
		{name: "unknown flag", args: append(append([]string(nil), base...), "--sid", testYK), wantErr: "unknown flag --sid; run 'verifyctl access-tokens create --help' for usage"},
		{name: "positional", args: append(append([]string(nil), base...), "now"), wantErr: `unexpected argument "now"; every input is a flag`},
		{name: "output", args: append(append([]string(nil), base...), "-o", "yaml"), wantErr: "-o: want json or table"},
		{name: "output without value", args: append(append([]string(nil), base...), "-o"), wantErr: "flag needs a value: -o"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCreate(testApp(env), tc.args)
			if errText(err) != tc.wantErr {
				t.Fatalf("parseCreate(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(createOptions{}, fetchOptions{}), cmpopts.IgnoreFields(apiOptions{}, "Out")); diff != "" {
				t.Errorf("parseCreate(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestParseFetch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    *fetchOptions
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"--service", testVA, "--sid", testYK},
			want: &fetchOptions{apiOptions: apiOptions{Output: "json"}, ServiceSID: testVA, SID: testYK},
		},
		{
			name: "uppercase hex",
			args: []string{"--service", "VAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--sid", "YKFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "-o", "table"},
			want: &fetchOptions{apiOptions: apiOptions{Output: "table"}, ServiceSID: "VAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", SID: "YKFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"},
		},
		{name: "no sid", args: []string{"--service", testVA}, wantErr: "--sid: missing; want YK followed by 32 hex digits"},
		{name: "sid too long", args: []string{"--service", testVA, "--sid", testYK + "0"}, wantErr: "--sid: want YK followed by 32 hex digits"},
		{name: "service and sid swapped", args: []string{"--service", testYK, "--sid", testVA}, wantErr: "--service: want VA followed by 32 hex digits"},
		{name: "help", args: []string{"--service", testVA, "--help"}, wantErr: errHelpShown.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFetch(testApp(nil), tc.args)
			if errText(err) != tc.wantErr {
				t.Fatalf("parseFetch(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(createOptions{}, fetchOptions{}), cmpopts.IgnoreFields(apiOptions{}, "Out")); diff != "" {
				t.Errorf("parseFetch(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestParseInspect(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		want    *inspectOptions
		wantErr string
	}{
		{name: "token", args: []string{"a.b.c"}, want: &inspectOptions{Token: "a.b.c", Output: "json"}},
		{name: "stdin", args: []string{"-"}, want: &inspectOptions{Token: "-", Output: "json"}},
		{name: "flags after the token", args: []string{"a.b.c", "--key", "k.json", "-o", "table"}, want: &inspectOptions{Token: "a.b.c", KeyFile: "k.json", Output: "table"}},
		{name: "keys from the environment", env: map[string]string{"VERIFYKIT_TOKEN_KEYS": `{"id":"k","secret":""}`}, args: []string{"-"}, want: &inspectOptions{Token: "-", EnvKeys: `{"id":"k","secret":""}`, Output: "json"}},
		{name: "key file and environment", env: map[string]string{"VERIFYKIT_TOKEN_KEYS": "[]"}, args: []string{"--key", "k.json", "t"}, want: &inspectOptions{Token: "t", KeyFile: "k.json", EnvKeys: "[]", Output: "json"}},
		{name: "token after --", args: []string{"--", "-o"}, want: &inspectOptions{Token: "-o", Output: "json"}},
		{name: "no token", args: nil, wantErr: "missing TOKEN; give the token, or - to read it from stdin"},
		{name: "two tokens", args: []string{"a", "--key", "k", "b"}, wantErr: "unexpected argument after TOKEN; give one token"},
		{name: "data dir", args: []string{"--data-dir", "/var/lib/verifyd", "-"}, wantErr: "--data-dir: no longer supported; export the keys with 'verifyd admin keys export -o FILE' and give --key FILE"},
		{name: "API flags are not inspect's", args: []string{"--account-sid", testAC, "t"}, wantErr: "unknown flag --account-sid; run 'verifyctl token inspect --help' for usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseInspect(testApp(tc.env), tc.args)
			if errText(err) != tc.wantErr {
				t.Fatalf("parseInspect(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(inspectOptions{}, "In", "Out")); diff != "" {
				t.Errorf("parseInspect(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestParseDeviceEnroll(t *testing.T) {
	base := []string{"--device", "phone.json", "--service", testVA, "--identity", "user-0001", "--token", "-"}
	with := func(more ...string) []string { return append(append([]string(nil), base...), more...) }
	defaults := func(edit func(*enrollOptions)) *enrollOptions {
		o := &enrollOptions{
			printOptions: printOptions{Output: "json"},
			File:         "phone.json",
			ServiceSID:   testVA,
			Identity:     "user-0001",
			Token:        "-",
			BaseURL:      "https://verify.twilio.com",
			Flavor:       "android",
		}
		if edit != nil {
			edit(o)
		}
		return o
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		want    *enrollOptions
		wantErr string
	}{
		{name: "defaults", args: base, want: defaults(nil)},
		{name: "base URL from the environment", env: map[string]string{"VERIFYKIT_BASE_URL": "http://127.0.0.1:8080"}, args: base,
			want: defaults(func(o *enrollOptions) { o.BaseURL = "http://127.0.0.1:8080" })},
		{name: "base URL flag wins", env: map[string]string{"VERIFYKIT_BASE_URL": "http://127.0.0.1:8080"}, args: with("--base-url", "http://127.0.0.1:9090"),
			want: defaults(func(o *enrollOptions) { o.BaseURL = "http://127.0.0.1:9090" })},
		{name: "credentials are not read", env: map[string]string{"TWILIO_ACCOUNT_SID": testAC, "TWILIO_AUTH_TOKEN": "x", "TWILIO_EDGE": "sydney"}, args: base, want: defaults(nil)},
		{
			name: "every flag",
			args: []string{"--device", "d.json", "--force", "--service", testVA, "--identity", "user-0001", "--token", "eyJ.x", "--flavor", "ios",
				"--friendly-name", "John Doe iPhone", "--platform", "apn", "--push-token", "apns-token", "--base-url", "http://127.0.0.1:8080", "-o", "table"},
			want: &enrollOptions{
				printOptions: printOptions{Output: "table"}, File: "d.json", Force: true, ServiceSID: testVA, Identity: "user-0001", Token: "eyJ.x",
				BaseURL: "http://127.0.0.1:8080", Flavor: "ios", FriendlyName: "John Doe iPhone", Platform: "apn", PushToken: "apns-token",
			},
		},
		{name: "push token without platform", args: with("--push-token", "fcm-token"), want: defaults(func(o *enrollOptions) { o.PushToken = "fcm-token" })},
		{name: "no device", args: base[2:], wantErr: "--device: missing; want the file that holds the simulated device"},
		{name: "no service", args: []string{"--device", "d", "--identity", "user-0001", "--token", "-"}, wantErr: "--service: missing; want VA followed by 32 hex digits"},
		{name: "no identity", args: []string{"--device", "d", "--service", testVA, "--token", "-"}, wantErr: "--identity: missing; want the entity the access token was created for"},
		{name: "bad identity", args: []string{"--device", "d", "--service", testVA, "--identity", "bob", "--token", "-"}, wantErr: "--identity: want 8 to 64 letters and digits, with single dashes between them"},
		{name: "no token", args: base[:6], wantErr: "--token: missing; give the access token, or - to read it from stdin"},
		{name: "flavor", args: with("--flavor", "Android"), wantErr: "--flavor: want android or ios"},
		{name: "friendly name of 65 runes", args: with("--friendly-name", strings.Repeat("é", 65)), wantErr: "--friendly-name: want at most 64 characters, none of them control characters"},
		{name: "friendly name with a newline", args: with("--friendly-name", "a\nb"), wantErr: "--friendly-name: want at most 64 characters, none of them control characters"},
		{name: "platform", args: with("--platform", "gcm"), wantErr: "--platform: want none, fcm or apn"},
		{name: "platform without token", args: with("--platform", "fcm"), wantErr: "--push-token: missing; --platform fcm wants the phone's registration token"},
		{name: "token with platform none", args: with("--platform", "none", "--push-token", "t"), wantErr: "--push-token: not sent with --platform none"},
		{name: "push token too long", args: with("--push-token", strings.Repeat("t", 256)), wantErr: "--push-token: want at most 255 bytes"},
		{name: "bad base URL flag", args: with("--base-url", "127.0.0.1:8080"), wantErr: "--base-url: want an absolute http or https URL without user, query or fragment"},
		{name: "bad base URL variable", env: map[string]string{"VERIFYKIT_BASE_URL": "http://u:p@127.0.0.1"}, args: base,
			wantErr: "--base-url (or VERIFYKIT_BASE_URL): want an absolute http or https URL without user, query or fragment"},
		{name: "output", args: with("-o", "yaml"), wantErr: "-o: want json or table"},
		{name: "account flags are not the device's", args: with("--account-sid", testAC), wantErr: "unknown flag --account-sid; run 'verifyctl device enroll --help' for usage"},
		{name: "positional", args: with("now"), wantErr: `unexpected argument "now"; every input is a flag`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEnroll(testApp(tc.env), tc.args)
			if errText(err) != tc.wantErr {
				t.Fatalf("parseEnroll(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(enrollOptions{}), cmpopts.IgnoreFields(enrollOptions{}, "In"), cmpopts.IgnoreFields(printOptions{}, "Out")); diff != "" {
				t.Errorf("parseEnroll(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestParseDeviceVerifyAndShow(t *testing.T) {
	// The variable that device enroll reads is ignored here: the file says
	// where its factor lives.
	env := map[string]string{"VERIFYKIT_BASE_URL": "http://127.0.0.1:8080"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    *verifyOptions
		wantErr string
	}{
		{name: "defaults", args: []string{"--device", "d.json"}, want: &verifyOptions{printOptions: printOptions{Output: "json"}, File: "d.json"}},
		{name: "base URL flag", args: []string{"--device", "d.json", "--base-url", "http://127.0.0.1:9090/", "-o", "table"},
			want: &verifyOptions{printOptions: printOptions{Output: "table"}, File: "d.json", BaseURL: "http://127.0.0.1:9090/"}},
		{name: "empty base URL flag", args: []string{"--device", "d.json", "--base-url", ""}, wantErr: "--base-url: want an absolute http or https URL without user, query or fragment"},
		{name: "no device", args: nil, wantErr: "--device: missing; want the file that holds the simulated device"},
		{name: "positional", args: []string{"d.json"}, wantErr: `unexpected argument "d.json"; every input is a flag`},
	} {
		t.Run("verify "+tc.name, func(t *testing.T) {
			got, err := parseVerify(testApp(env), tc.args)
			if errText(err) != tc.wantErr {
				t.Fatalf("parseVerify(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(verifyOptions{}), cmpopts.IgnoreFields(printOptions{}, "Out")); diff != "" {
				t.Errorf("parseVerify(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    *showOptions
		wantErr string
	}{
		{name: "defaults", args: []string{"--device", "d.json"}, want: &showOptions{printOptions: printOptions{Output: "json"}, File: "d.json"}},
		{name: "table", args: []string{"-o", "table", "--device", "d.json"}, want: &showOptions{printOptions: printOptions{Output: "table"}, File: "d.json"}},
		{name: "no device", args: []string{"-o", "table"}, wantErr: "--device: missing; want the file that holds the simulated device"},
		{name: "no base URL", args: []string{"--device", "d.json", "--base-url", "http://127.0.0.1:9090"}, wantErr: "unknown flag --base-url; run 'verifyctl device show --help' for usage"},
	} {
		t.Run("show "+tc.name, func(t *testing.T) {
			got, err := parseShow(testApp(env), tc.args)
			if errText(err) != tc.wantErr {
				t.Fatalf("parseShow(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(showOptions{}), cmpopts.IgnoreFields(printOptions{}, "Out")); diff != "" {
				t.Errorf("parseShow(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestParseDeviceChallenges(t *testing.T) {
	env := map[string]string{"VERIFYKIT_BASE_URL": "http://127.0.0.1:8080"}
	defaults := func(edit func(o *challengesOptions)) *challengesOptions {
		o := &challengesOptions{printOptions: printOptions{Output: "json"}, File: "d.json", Order: "asc", PageSize: 50}
		edit(o)
		return o
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    *challengesOptions
		wantErr string
	}{
		{name: "defaults", args: []string{"--device", "d.json"}, want: defaults(func(*challengesOptions) {})},
		{name: "every flag", args: []string{"--device", "d.json", "--status", "pending", "--order", "desc", "--page-size", "1000", "--limit", "7", "--base-url", "http://127.0.0.1:9090", "-o", "table"},
			want: defaults(func(o *challengesOptions) {
				o.Output, o.Status, o.Order, o.PageSize, o.Limit, o.BaseURL = "table", "pending", "desc", 1000, 7, "http://127.0.0.1:9090"
			})},
		{name: "no device", args: []string{"--status", "pending"}, wantErr: "--device: missing; want the file that holds the simulated device"},
		{name: "bad status", args: []string{"--device", "d.json", "--status", "Pending"}, wantErr: "--status: want pending, approved, denied or expired"},
		{name: "bad order", args: []string{"--device", "d.json", "--order", "newest"}, wantErr: "--order: want asc or desc"},
		{name: "page size 0", args: []string{"--device", "d.json", "--page-size", "0"}, wantErr: "--page-size: want 1 to 1000"},
		{name: "page size not a number", args: []string{"--device", "d.json", "--page-size", "ten"}, wantErr: `--page-size: parse error`},
		{name: "negative limit", args: []string{"--device", "d.json", "--limit", "-1"}, wantErr: "--limit: want 0 (all) or more"},
		{name: "empty base URL", args: []string{"--device", "d.json", "--base-url", ""}, wantErr: "--base-url: want an absolute http or https URL without user, query or fragment"},
		{name: "bad output", args: []string{"--device", "d.json", "-o", "yaml"}, wantErr: "-o: want json or table"},
		{name: "positional", args: []string{"--device", "d.json", "YC00000000000000000000000000000001"}, wantErr: `unexpected argument "YC00000000000000000000000000000001"; every input is a flag`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseChallenges(testApp(env), tc.args)
			if errText(err) != tc.wantErr {
				t.Fatalf("parseChallenges(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(challengesOptions{}), cmpopts.IgnoreFields(printOptions{}, "Out")); diff != "" {
				t.Errorf("parseChallenges(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestParseDeviceAnswer(t *testing.T) {
	const yc = "YC0123456789abcdef0123456789ABCDEF"
	env := map[string]string{"VERIFYKIT_BASE_URL": "http://127.0.0.1:8080"}
	for _, verb := range []struct{ name, status, usage string }{{"approve", "approved", approveUsage}, {"deny", "denied", denyUsage}} {
		for _, tc := range []struct {
			name    string
			args    []string
			want    *answerOptions
			wantErr string
		}{
			{name: "defaults", args: []string{"--device", "d.json", "--challenge", yc},
				want: &answerOptions{printOptions: printOptions{Output: "json"}, File: "d.json", ChallengeSID: yc, Status: verb.status}},
			{name: "base URL and table", args: []string{"--challenge", yc, "-o", "table", "--device", "d.json", "--base-url", "https://verify.example"},
				want: &answerOptions{printOptions: printOptions{Output: "table"}, File: "d.json", ChallengeSID: yc, Status: verb.status, BaseURL: "https://verify.example"}},
			{name: "no challenge", args: []string{"--device", "d.json"}, wantErr: "--challenge: missing; want YC followed by 32 hex digits"},
			{name: "a factor SID", args: []string{"--device", "d.json", "--challenge", "YF0123456789abcdef0123456789abcdef"}, wantErr: "--challenge: want YC followed by 32 hex digits"},
			{name: "short", args: []string{"--device", "d.json", "--challenge", "YC0123"}, wantErr: "--challenge: want YC followed by 32 hex digits"},
			{name: "no device", args: []string{"--challenge", yc}, wantErr: "--device: missing; want the file that holds the simulated device"},
			{name: "bad base URL", args: []string{"--device", "d.json", "--challenge", yc, "--base-url", "verify.example"}, wantErr: "--base-url: want an absolute http or https URL without user, query or fragment"},
			{name: "no status flag", args: []string{"--device", "d.json", "--challenge", yc, "--status", "approved"}, wantErr: "unknown flag --status; run 'verifyctl device " + verb.name + " --help' for usage"},
		} {
			t.Run(verb.name+" "+tc.name, func(t *testing.T) {
				got, err := parseAnswer(testApp(env), tc.args, verb.name, verb.status, verb.usage)
				if errText(err) != tc.wantErr {
					t.Fatalf("parseAnswer(%q) error = %v, want %q", tc.args, err, tc.wantErr)
				}
				if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(answerOptions{}), cmpopts.IgnoreFields(printOptions{}, "Out")); diff != "" {
					t.Errorf("parseAnswer(%q) mismatch (-want +got):\n%s", tc.args, diff)
				}
			})
		}
	}
}

func TestConfigFromFlagsAndEnv(t *testing.T) {
	env := map[string]string{
		"TWILIO_ACCOUNT_SID": testAC,
		"TWILIO_AUTH_TOKEN":  "env-token",
		"TWILIO_API_KEY":     testSK,
		"TWILIO_API_SECRET":  "env-secret",
		"TWILIO_EDGE":        "sydney",
		"TWILIO_REGION":      "au1",
		"VERIFYKIT_BASE_URL": "http://127.0.0.1:8080",
	}
	const otherAC = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	const otherSK = "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	fromEnv := verify.Config{AccountSID: testAC, AuthToken: "env-token", APIKey: testSK, APISecret: "env-secret", Edge: "sydney", Region: "au1", BaseURL: "http://127.0.0.1:8080"}
	for _, tc := range []struct {
		name string
		args []string
		want verify.Config
	}{
		{name: "environment only", want: fromEnv},
		{
			name: "account SID flag wins",
			args: []string{"--account-sid", otherAC},
			want: verify.Config{AccountSID: otherAC, AuthToken: "env-token", APIKey: testSK, APISecret: "env-secret", Edge: "sydney", Region: "au1", BaseURL: "http://127.0.0.1:8080"},
		},
		{
			name: "auth token flag drops the environment's API key",
			args: []string{"--auth-token", "flag-token"},
			want: verify.Config{AccountSID: testAC, AuthToken: "flag-token", Edge: "sydney", Region: "au1", BaseURL: "http://127.0.0.1:8080"},
		},
		{
			name: "API key flags drop the environment's auth token",
			args: []string{"--api-key", otherSK, "--api-secret", "flag-secret"},
			want: verify.Config{AccountSID: testAC, APIKey: otherSK, APISecret: "flag-secret", Edge: "sydney", Region: "au1", BaseURL: "http://127.0.0.1:8080"},
		},
		{
			name: "empty flag clears its variable",
			args: []string{"--base-url", "", "--edge", "dublin", "--region", "ie1"},
			want: verify.Config{AccountSID: testAC, AuthToken: "env-token", APIKey: testSK, APISecret: "env-secret", Edge: "dublin", Region: "ie1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--service", testVA, "--sid", testYK}, tc.args...)
			opts, err := parseFetch(testApp(env), args)
			if err != nil {
				t.Fatalf("parseFetch(%q): %v", args, err)
			}
			if diff := cmp.Diff(tc.want, opts.Config); diff != "" {
				t.Errorf("parseFetch(%q) config mismatch (-want +got):\n%s", args, diff)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	notFound := &verify.Error{Code: 20404, Message: "The requested resource /x was not found", Status: http.StatusNotFound}
	for _, tc := range []struct {
		name     string
		err      error
		wantCode int
		wantLine string
	}{
		{"success", nil, exitOK, ""},
		{"help", errHelpShown, exitOK, ""},
		{"usage", usageErrorf("--service: want VA followed by 32 hex digits"), exitUsage, "--service: want VA followed by 32 hex digits"},
		{"config", &verify.ConfigError{Field: "APISecret", Problem: "missing"}, exitUsage, "--api-secret (or TWILIO_API_SECRET): missing"},
		{"not found", notFound, exitNotFound, "20404 The requested resource /x was not found"},
		{"not found, wrapped", fmt.Errorf("step 2: %w", notFound), exitNotFound, "20404 The requested resource /x was not found"},
		{"unauthorized", &verify.Error{Code: 20003, Message: "Authenticate", Status: http.StatusUnauthorized}, exitAuth, "20003 Authenticate"},
		{"bad request", &verify.Error{Code: 60200, Message: "Invalid parameter: Ttl", Status: http.StatusBadRequest}, exitFailure, "60200 Invalid parameter: Ttl"},
		{"too many requests", &verify.Error{Code: 20429, Message: "Too Many Requests", Status: http.StatusTooManyRequests}, exitFailure, "20429 Too Many Requests"},
		{"no Twilio code", &verify.Error{Message: "Bad Gateway", Status: http.StatusBadGateway}, exitFailure, "HTTP 502 Bad Gateway"},
		{"with a request id", &verify.Error{Code: 20003, Message: "Authenticate", Status: http.StatusUnauthorized, RequestID: "RQ0123456789abcdef0123456789abcdef"}, exitAuth, "20003 Authenticate (request RQ0123456789abcdef0123456789abcdef)"},
		{"device unauthorized", fmt.Errorf("device: enroll: %w", &device.Error{Code: 20003, Message: "Authenticate", Status: http.StatusUnauthorized, RequestID: "RQ0123456789abcdef0123456789abcdef"}),
			exitAuth, "20003 Authenticate (request RQ0123456789abcdef0123456789abcdef)"},
		{"device not found", &device.Error{Code: 60390, Message: "Factor not found", Status: http.StatusNotFound}, exitNotFound, "60390 Factor not found"},
		{"device forbidden", fmt.Errorf("device: verify: %w", &device.Error{Code: 60311, Message: "Invalid signature", Status: http.StatusForbidden}), exitFailure, "60311 Invalid signature"},
		{"device, no Twilio code", &device.Error{Message: "Bad Gateway", Status: http.StatusBadGateway}, exitFailure, "HTTP 502 Bad Gateway"},
		{"device not enrolled", device.ErrNotEnrolled, exitFailure, "device: not enrolled"},
		{"challenge refused locally", fmt.Errorf("device: approve YC…: %w", device.ErrChallengeExpired), exitFailure, "device: approve YC…: expired challenge can not be updated"},
		{"challenge not found", fmt.Errorf("device: deny YC…: %w", &device.Error{Code: 20404, Message: "Not found", Status: http.StatusNotFound}), exitNotFound, "20404 Not found"},
		{"answer refused", fmt.Errorf("device: approve YC…: %w", &device.Error{Code: 60324, Message: "Challenge verification failed", Status: http.StatusForbidden}), exitFailure, "60324 Challenge verification failed"},
		{"interrupted", fmt.Errorf("fetch access token: %w", context.Canceled), exitFailure, "fetch access token: context canceled"},
		{"other", errors.New("read token from stdin: EOF"), exitFailure, "read token from stdin: EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, line := describe(tc.err)
			if code != tc.wantCode || line != tc.wantLine {
				t.Errorf("describe(%v) = %d, %q; want %d, %q", tc.err, code, line, tc.wantCode, tc.wantLine)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
	}{
		{"buffer", &bytes.Buffer{}},
		{"discard", io.Discard},
		{"regular file", file},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if isTerminal(tc.w) {
				t.Errorf("isTerminal(%T) = true, want false", tc.w)
			}
		})
	}
}
