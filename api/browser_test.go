//go:build unix

package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
)

// chromiumTimeout bounds one headless Chromium run.
const chromiumTimeout = 90 * time.Second

// chromium returns the path of Debian's Chromium. Without one the test is
// skipped, unless CI is set: CI installs it, so there it must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found, and CI is set: install Debian's chromium package")
	}
	t.Skip("chromium not found; install Debian's chromium package to run the browser test")
	return ""
}

// chromiumRun is what one headless run printed.
type chromiumRun struct {
	stdout string
	// console holds the page's console messages (Chromium logs them to
	// stderr as lines with "CONSOLE"): errors, CSP violations, failed loads.
	console []string
}

// runChromium runs headless Chromium once with a fresh profile, no
// network of its own (no updates, sync or QUIC), and console logging on.
func runChromium(t *testing.T, bin string, args ...string) chromiumRun {
	t.Helper()
	flags := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
		"--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0",
	}
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(flags, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // keep caches out of the real home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Chromium starts helper processes: give them a process group of
	// their own, and end the whole group on timeout and afterwards.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			t.Logf("end chromium's process group: %v", kerr)
		}
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(args, " "), err, lastLines(stderr.String(), 20))
	}
	var run chromiumRun
	run.stdout = stdout.String()
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			run.console = append(run.console, line)
		}
	}
	return run
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestDocsInBrowser loads /docs in headless Chromium, checks the rendered
// DOM and the console, and saves a screenshot to test-output/docs.png at
// the repository's root (a CI artifact; the folder is ignored by git).
func TestDocsInBrowser(t *testing.T) {
	bin := chromium(t)

	// First prove that console messages are seen: a page whose policy
	// blocks its own inline style must log one.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprint(w, `<!doctype html><title>t</title><link rel="icon" href="data:,"><style>p{color:red}</style><p>x</p>`)
	}))
	defer bad.Close()
	if run := runChromium(t, bin, "--dump-dom", bad.URL); len(run.console) == 0 {
		t.Fatal("chromium logged no console message for a CSP violation; the console check below would prove nothing")
	}

	e := startEnv(t, api.Config{})
	docs := e.URL + "/docs"

	run := runChromium(t, bin, "--dump-dom", docs)
	for _, want := range []string{
		`<article class="operation" id="CreateAccessToken">`,
		`<article class="operation" id="FetchAccessToken">`,
		"/v2/Services/{ServiceSid}/AccessTokens</code>",
		"/v2/Services/{ServiceSid}/AccessTokens/{Sid}</code>",
		`<article class="schema" id="schema-AccessToken">`,
		`<code class="name">Identity</code>`, `<code class="name">Ttl</code>`,
		`<code class="name">entity_identity</code>`, `<code class="name">date_created</code>`,
		"Twilio code 60200",
	} {
		if !strings.Contains(run.stdout, want) {
			t.Errorf("rendered DOM of %s lacks %q", docs, want)
		}
	}
	if len(run.console) > 0 {
		t.Errorf("loading %s logged console messages, want none:\n%s", docs, strings.Join(run.console, "\n"))
	}

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "test-output")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "docs.png")
	_ = os.Remove(shot)
	run = runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", docs)
	if len(run.console) > 0 {
		t.Errorf("screenshot of %s logged console messages, want none:\n%s", docs, strings.Join(run.console, "\n"))
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %dx%d, want 1280x2000", b.Dx(), b.Dy())
	}
	// The style sheet applied: the header is shaded, not the browser's
	// default white.
	if r, g, b, _ := img.At(4, 4).RGBA(); r>>8 == 0xff && g>>8 == 0xff && b>>8 == 0xff {
		t.Errorf("screenshot pixel (4,4) is white: the page's style sheet did not apply")
	}
	t.Logf("screenshot of %s saved to %s", docs, shot)
}
