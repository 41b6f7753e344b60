package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/verifykit/verifykit/api"
)

// browserTimeout bounds the whole browser session.
const browserTimeout = 2 * time.Minute

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

// pageRecord collects what a tab did, from the DevTools events: every
// request it sent, and every console message, browser log entry (failed
// loads, policy violations) and uncaught exception of level warning or
// error.
type pageRecord struct {
	mu       sync.Mutex
	requests []string // method and URL
	problems []string
}

// listen records the events of the tab of ctx. It runs in the tab's event
// loop, so it only appends.
func (pr *pageRecord) listen(ev any) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		pr.requests = append(pr.requests, ev.Request.Method+" "+ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range ev.Args {
				var str string
				switch {
				case json.Unmarshal(a.Value, &str) == nil:
					args = append(args, str)
				case len(a.Value) > 0:
					args = append(args, string(a.Value))
				default:
					args = append(args, a.Description)
				}
			}
			pr.problems = append(pr.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		pr.problems = append(pr.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *log.EventEntryAdded:
		if e := ev.Entry; e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
			pr.problems = append(pr.problems, fmt.Sprintf("log %s (%s): %s %s", e.Level, e.Source, e.Text, e.URL))
		}
	}
}

func (pr *pageRecord) snapshot() (requests, problems []string) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return append([]string(nil), pr.requests...), append([]string(nil), pr.problems...)
}

// waitForProblem waits until a recorded problem contains s.
func (pr *pageRecord) waitForProblem(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, problems := pr.snapshot()
		for _, p := range problems {
			if strings.Contains(p, s) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recorded console problem holds %q; the listener would prove nothing. Recorded: %q", s, problems)
		}
	}
}

// newBrowser starts headless Chromium at bin with a window of width ×
// height, for at most browserTimeout, and returns the context of its tab,
// on about:blank; the test's cleanup stops it.
func newBrowser(t *testing.T, bin string, width, height int) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// Should a page ask for another host, the request fails here
		// instead of leaving the machine; the tests' records still see it.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("HOME="+t.TempDir()), // keep caches out of the real home
	)
	// Registered after TempDir's cleanups, so it runs first: Chromium ends
	// before its directories go.
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// TestDocsInBrowser loads /docs in headless Chromium through the DevTools
// protocol: both operations render, the page logs no error and makes no
// request to another host, and a create sent from the try-it panel with
// the account's credentials gives 201 and a stored token. It saves a
// screenshot to test-output/docs.png at the repository's root.
func TestDocsInBrowser(t *testing.T) {
	bin := chromium(t)
	e := startEnv(t, api.Config{})
	origin, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}

	// Start the browser on about:blank, then record the tab's events
	// before it loads the page.
	start := time.Now()
	ctx := newBrowser(t, bin, 1280, 1100)
	var rec pageRecord
	if err := chromedp.Listen(ctx, rec.listen); err != nil {
		t.Fatal(err)
	}

	docs := e.URL + "/docs"
	create := "#operations-AccessTokens-CreateAccessToken"
	fetch := "#operations-AccessTokens-FetchAccessToken"
	step(ctx, t, "load "+docs,
		chromedp.Navigate(docs),
		chromedp.WaitVisible(chromedp.CSS(create)),
		chromedp.WaitVisible(chromedp.CSS(fetch)),
	)
	for _, op := range []struct{ sel, method, path string }{
		{create, "POST", "/v2/Services/{ServiceSid}/AccessTokens"},
		{fetch, "GET", "/v2/Services/{ServiceSid}/AccessTokens/{Sid}"},
	} {
		// Swagger UI puts zero-width spaces in paths, for line breaks.
		summary := strings.ReplaceAll(text(ctx, t, op.sel+" .opblock-summary"), "\u200b", "")
		if !strings.Contains(summary, op.method) || !strings.Contains(summary, op.path) {
			t.Errorf("operation %s reads %q, want %s %s", op.sel, summary, op.method, op.path)
		}
	}
	// Try it out goes to this verifyd: the only server is the page's origin.
	if servers := text(ctx, t, ".servers select"); !strings.Contains(servers, e.URL) || strings.Contains(servers, "twilio.com") {
		t.Errorf("servers list reads %q, want only %s", servers, e.URL)
	}

	saveScreenshot(t, run(ctx, t, "screenshot", chromedp.CaptureScreenshot()))

	// Authorize through the dialog with the account's credentials.
	step(ctx, t, "authorize",
		chromedp.Click(chromedp.CSS(".scheme-container button.authorize")),
		chromedp.WaitVisible(chromedp.CSS(`.modal-ux input[aria-label="auth-basic-username"]`)),
		chromedp.SendKeys(chromedp.CSS(`.modal-ux input[aria-label="auth-basic-username"]`), e.A.AccountSID),
		chromedp.SendKeys(chromedp.CSS(`.modal-ux input[aria-label="auth-basic-password"]`), e.A.AuthToken),
		chromedp.Click(chromedp.CSS(`.modal-ux .auth-btn-wrapper button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.modal-ux .auth-btn-wrapper button.btn-done`)),
		chromedp.Click(chromedp.CSS(`.modal-ux .auth-btn-wrapper button.btn-done`)),
		chromedp.WaitNotPresent(chromedp.CSS(".modal-ux")),
	)

	// Open CreateAccessToken, fill the panel and execute.
	field := func(name string) chromedp.CSS {
		return chromedp.CSS(create + ` tr[data-property-name="` + name + `"] input`)
	}
	step(ctx, t, "try out CreateAccessToken",
		chromedp.Click(chromedp.CSS(create+" .opblock-summary-control")),
		chromedp.Click(chromedp.CSS(create+" .try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS(create+` tr[data-param-name="ServiceSid"] input`)),
		// Swagger UI fills the fields with examples and values made up
		// from the patterns; replace them as a person would.
		typeInto(chromedp.CSS(create+` tr[data-param-name="ServiceSid"] input`), e.A.ServiceSID),
		typeInto(field("Identity"), "browser-test-1"),
		typeInto(field("FactorFriendlyName"), "Docs page"),
	)
	// FactorType's only value, push, is chosen from the start.
	factorType := run(ctx, t, "read FactorType", chromedp.Value(chromedp.CSS(create+` tr[data-property-name="FactorType"] select`)))
	if factorType != "push" {
		t.Fatalf("FactorType reads %q, want push", factorType)
	}
	step(ctx, t, "execute CreateAccessToken",
		chromedp.Click(chromedp.CSS(create+" button.execute")),
		chromedp.WaitVisible(chromedp.CSS(create+" .live-responses-table tr.response .response-col_status")),
	)
	live := create + " .live-responses-table tr.response"
	if status := text(ctx, t, live+" .response-col_status"); strings.TrimSpace(status) != "201" {
		t.Fatalf("try-it panel shows status %q, want 201; it reads:\n%s", status, text(ctx, t, live+" .response-col_description"))
	}
	body := text(ctx, t, live+" .response-col_description .microlight")
	var created struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatalf("try-it panel's body %q is not the JSON resource: %v", body, err)
	}
	tok, err := e.Store.FetchAccessToken(t.Context(), e.A.AccountSID, e.A.ServiceSID, created.SID)
	if err != nil {
		t.Fatalf("token %s from the try-it panel is not in the store: %v", created.SID, err)
	}
	friendly := "<nil>"
	if tok.FactorFriendlyName != nil {
		friendly = *tok.FactorFriendlyName
	}
	if tok.Identity != "browser-test-1" || tok.FactorType != "push" || friendly != "Docs page" {
		t.Errorf("stored token has identity %q, factor type %q, friendly name %q; want browser-test-1, push, Docs page",
			tok.Identity, tok.FactorType, friendly)
	}

	// Render the other views too, under the page's policy: the fetch
	// operation, a response's schema and the AccessToken model.
	step(ctx, t, "open the other views",
		chromedp.Click(chromedp.CSS(fetch+" .opblock-summary-control")),
		chromedp.Click(chromedp.CSS(fetch+` button.tablinks[data-name="model"]`)),
		chromedp.WaitVisible(chromedp.CSS(fetch+" .model-example .model-box")),
		chromedp.Click(chromedp.CSS(".models .model-box-control")),
		chromedp.WaitVisible(chromedp.CSS(".models .inner-object")),
	)

	// The record must be able to see what it checks: provoke a console
	// error, an exception, and a request to another host, which the page's
	// policy must block (and the resolver rule above would stop), then
	// leave them out.
	step(ctx, t, "provoke the probes", chromedp.Evaluate[chromedp.Void](`
		console.error("verifykit-probe-console");
		setTimeout(() => { throw new Error("verifykit-probe-exception"); });
		new Image().src = "http://verifykit-probe.invalid/probe.png";
	`))
	rec.waitForProblem(t, "console.error: verifykit-probe-console")
	rec.waitForProblem(t, "verifykit-probe-exception")
	rec.waitForProblem(t, "'http://verifykit-probe.invalid/probe.png' violates the following Content Security Policy")

	requests, problems := rec.snapshot()
	for _, p := range problems {
		if !strings.Contains(p, "verifykit-probe") {
			t.Errorf("page problem: %s", p)
		}
	}
	const probeRequest = "GET http://verifykit-probe.invalid/probe.png"
	var sawSpec, sawCreate, sawProbe bool
	for _, r := range requests {
		if r == probeRequest {
			sawProbe = true
			continue
		}
		method, raw, _ := strings.Cut(r, " ")
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("request %s: %v", r, err)
			continue
		}
		switch {
		case u.Scheme == "data" || u.Scheme == "blob":
		case u.Scheme == "http" && u.Host == origin.Host:
			sawSpec = sawSpec || u.Path == "/openapi.json"
			sawCreate = sawCreate || method == "POST" && u.Path == "/v2/Services/"+e.A.ServiceSID+"/AccessTokens"
		default:
			t.Errorf("request to another host than %s: %s", origin.Host, r)
		}
	}
	if !sawSpec || !sawCreate || !sawProbe {
		t.Errorf("requests %q lack GET /openapi.json, the create or the probe; the record would prove nothing", requests)
	}
	t.Logf("%d requests, all to %s but the probe; browser session took %v", len(requests), origin.Host, time.Since(start).Round(time.Millisecond))
}

// stepTimeout bounds one step of the session; a missing element then
// fails the test at once, with the step's name.
const stepTimeout = 20 * time.Second

// step runs actions in the tab of ctx, failing t with name on an error.
func step(ctx context.Context, t *testing.T, name string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// run runs one action that returns a value, as step does.
func run[T any](ctx context.Context, t *testing.T, name string, action chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// text returns the text of the first element that sel matches.
func text(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	return run(ctx, t, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// typeInto replaces the text of a field by keyboard, as a person would:
// select all, then type over it. React sees the change, which it would not
// for a value set from script.
func typeInto(sel chromedp.CSS, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Focus(sel),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(text),
	)
}

// screenshots makes the browser tests write their screenshots into the
// source tree (make screenshots); without it they only check them.
var screenshots = flag.Bool("screenshots", false, "write the browser tests' screenshots to test-output/")

// saveScreenshot checks the screenshot of /docs and, with -screenshots,
// writes it to test-output/docs.png at the repository's root.
func saveScreenshot(t *testing.T, shot []byte) {
	t.Helper()
	saveScreenshotAs(t, shot, "docs.png", 1280)
}

// saveScreenshotAs checks that shot is a PNG width pixels wide and, with
// -screenshots, writes it to test-output/name at the repository's root.
func saveScreenshotAs(t *testing.T, shot []byte, name string, width int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() != width {
		t.Errorf("screenshot %s is %dx%d, want %d wide", name, b.Dx(), b.Dy(), width)
	}
	if !*screenshots {
		return
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "test-output")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot saved to %s", path)
}
