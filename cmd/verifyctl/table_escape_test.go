package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verify"
)

// TestDeviceChallengeTableEscapesMessage: a challenge's message is the
// backend's text, and verifyd keeps line breaks and other control
// characters in it. The table keeps one line per field, and sends no
// control character to the terminal: a message cannot add a line that
// reads as another field, nor an escape sequence.
func TestDeviceChallengeTableEscapesMessage(t *testing.T) {
	f := newFixture(t)
	file := filepath.Join(f.Files, "phone.json")
	ctl := func(t *testing.T, args ...string) string {
		t.Helper()
		_, code, stdout, stderr := f.run(t, baseURLEnv, args, f.mint(t, deviceIdentity), false)
		if code != exitOK {
			t.Fatalf("verifyctl %s = %d, stderr %q", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}
	ctl(t, "device", "enroll", "--service", f.ServiceSID, "--identity", deviceIdentity, "--device", file, "--token", "-")
	ctl(t, "device", "verify", "--device", file)
	d, err := device.Load(mustRead(t, file))
	if err != nil {
		t.Fatal(err)
	}
	factor, _ := d.Factor()
	backend, err := verify.NewClient(verify.Config{AccountSID: f.AccountSID, AuthToken: f.AuthToken, BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	const message = "Log in?\nstatus: approved\x1b[2J\r"
	c, err := backend.CreateChallenge(context.Background(), f.ServiceSID, deviceIdentity, verify.ChallengeParams{FactorSID: factor.SID, Message: message})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := challengeFields([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	wantLines := len(empty)
	for _, args := range [][]string{
		{"device", "challenges", "--device", file, "-o", "table"},
		{"device", "deny", "--device", file, "--challenge", *c.SID, "-o", "table"},
	} {
		out := ctl(t, args...)
		if strings.ContainsAny(out, "\x1b\r") || strings.Count(out, "\n") != wantLines || strings.Contains(out, "\nstatus: approved") {
			t.Errorf("verifyctl %s printed %q; want %d lines and no control character", strings.Join(args, " "), out, wantLines)
		}
		if want := `details.message: "Log in?\nstatus: approved\x1b[2J\r"`; !strings.Contains(out, want) {
			t.Errorf("verifyctl %s printed %q; want the line %s", strings.Join(args, " "), out, want)
		}
	}
}
