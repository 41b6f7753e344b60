package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/verifydtest"
)

// Phone-sized and desktop viewports for the virtual phone's page.
const (
	phoneWidth, phoneHeight, phoneScale = 390, 844, 2
	desktopWidth, desktopHeight         = 1280, 900
)

// TestPhoneInBrowser drives /phone in headless Chromium as a developer
// would, with twilio-go as the backend: the page enrolls with an access
// token the backend created; each challenge the backend creates appears
// within 2 s; Approve and Deny reach the backend and send a signed webhook;
// a challenge that expires shows as expired with its buttons gone. It
// saves test-output/phone-inbox.png (phone-sized, a pending challenge) and
// test-output/phone-approved.png (desktop, after Approve).
func TestPhoneInBrowser(t *testing.T) {
	bin := chromium(t)
	phoneDir := filepath.Join(t.TempDir(), "phone")
	s := verifydtest.Start(t, verifydtest.WithConfig(func(c *api.Config) { c.PhoneDir = phoneDir }))
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	recv := verifydtest.NewWebhookReceiver(t, s.AuthToken)
	if _, err := rc.VerifyV2.CreateWebhook(s.ServiceSID, (&verifyv2.CreateWebhookParams{}).SetFriendlyName("login").
		SetEventTypes([]string{"challenge.approved", "challenge.denied"}).SetWebhookUrl(recv.URL+"/verify")); err != nil {
		t.Fatal(err)
	}
	const identity = "phone-user-0001"
	at, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).
		SetIdentity(identity).SetFactorType("push").SetFactorFriendlyName("Ada's phone"))
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	ctx := newBrowser(t, bin, desktopWidth, desktopHeight)
	var rec pageRecord
	if err := chromedp.Listen(ctx, rec.listen); err != nil {
		t.Fatal(err)
	}

	// Enroll from the page, on a phone-sized viewport.
	step(ctx, t, "load /phone on a phone",
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateScale(phoneScale), chromedp.EmulateMobile,
			chromedp.EmulateTouch, chromedp.EmulatePortrait),
		chromedp.Navigate(s.URL+"/phone"),
		chromedp.WaitVisible(chromedp.CSS("#enroll-form")),
		chromedp.WaitVisible(chromedp.CSS("#no-devices")),
	)
	step(ctx, t, "enroll",
		chromedp.SetValue(chromedp.CSS("#token"), *at.Token),
		chromedp.Click(chromedp.CSS("#enroll-button")),
		chromedp.WaitVisible(chromedp.CSS(`.device[aria-pressed="true"]`)),
	)
	if got := text(ctx, t, "#enroll-status"); !strings.Contains(got, "verified") || !strings.Contains(got, identity) {
		t.Fatalf("enroll status reads %q, want the identity and verified", got)
	}
	factorSID := strings.TrimSpace(text(ctx, t, `.device[aria-pressed="true"] .sid`))
	// The device, its key included, is on the server, private to its owner.
	if info, err := os.Stat(phoneDir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("phone directory: %v, %v; want mode 0700", info, err)
	}
	if info, err := os.Stat(filepath.Join(phoneDir, factorSID+".json")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("device file: %v, %v; want mode 0600", info, err)
	}
	factors, err := rc.VerifyV2.ListFactor(s.ServiceSID, identity, nil)
	if err != nil || len(factors) != 1 || *factors[0].Sid != factorSID || *factors[0].Status != "verified" {
		t.Fatalf("backend lists factors %+v (%v), want %s verified", factors, err, factorSID)
	}

	// challenge creates a challenge as a backend does, and waits until the
	// page shows it, pending with both buttons, within 2 s.
	challenge := func(message string, params *verifyv2.CreateChallengeParams) string {
		t.Helper()
		c, err := rc.VerifyV2.CreateChallenge(s.ServiceSID, identity, params.SetFactorSid(factorSID).SetDetailsMessage(message))
		if err != nil {
			t.Fatalf("CreateChallenge: %v", err)
		}
		created := time.Now()
		li := fmt.Sprintf(`li.challenge[data-sid=%q]`, *c.Sid)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(li+` .badge.pending`)),
			chromedp.WaitVisible(chromedp.CSS(li+" button.approve")), chromedp.WaitVisible(chromedp.CSS(li+" button.deny"))); err != nil {
			t.Fatalf("challenge %s not on the page, pending with buttons, within 2 s: %v", *c.Sid, err)
		}
		t.Logf("challenge %s on the page %v after its creation", *c.Sid, time.Since(created).Round(time.Millisecond))
		if got := text(ctx, t, li+" .message"); got != message {
			t.Errorf("challenge %s reads %q, want %q", *c.Sid, got, message)
		}
		return *c.Sid
	}
	// answered clicks button on the challenge and checks what the backend
	// and its webhook see.
	answered := func(sid, button, status, event string) {
		t.Helper()
		li := fmt.Sprintf(`li.challenge[data-sid=%q]`, sid)
		step(ctx, t, button+" "+sid,
			chromedp.Click(chromedp.CSS(li+" button."+button)),
			chromedp.WaitVisible(chromedp.CSS(li+" .badge."+status)),
			chromedp.WaitNotPresent(chromedp.CSS(li+" .actions")),
		)
		c, err := rc.VerifyV2.FetchChallenge(s.ServiceSID, identity, sid)
		if err != nil || *c.Status != status {
			t.Fatalf("backend fetches %s: %v, %v; want %s", sid, c, err, status)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		e, err := recv.WaitType(wctx, event, sid)
		if err != nil {
			t.Fatalf("no signed %s webhook for %s: %v; received %+v", event, sid, err, recv.Events())
		}
		if e.Params.Get("factor_sid") != factorSID {
			t.Errorf("webhook %s names factor %q, want %s", event, e.Params.Get("factor_sid"), factorSID)
		}
	}

	approve := challenge("Log in to Example Bank?", (&verifyv2.CreateChallengeParams{}).SetDetailsFields([]interface{}{
		map[string]string{"label": "Location", "value": "Lisboa, PT"},
		map[string]string{"label": "Browser", "value": "Firefox on Linux"},
	}))
	li := fmt.Sprintf(`li.challenge[data-sid=%q]`, approve)
	if got := text(ctx, t, li+" dl"); !strings.Contains(got, "Lisboa, PT") || !strings.Contains(got, "Firefox on Linux") {
		t.Errorf("challenge fields read %q, want both values", got)
	}
	if got := text(ctx, t, li+" .pushed"); !strings.HasPrefix(got, "pushed ") {
		t.Errorf("push line reads %q, want the time of the recorded push", got)
	}
	var minutes, seconds int
	got := text(ctx, t, li+" .countdown")
	if _, err := fmt.Sscanf(got, "expires in %d min %d s", &minutes, &seconds); err != nil || minutes*60+seconds > 300 || minutes*60+seconds < 290 {
		t.Errorf("countdown reads %q, want expires in about 5 min (the default expiry)", got)
	}
	checkFits(ctx, t, "phone")
	saveScreenshotAs(t, run(ctx, t, "screenshot of the inbox", chromedp.FullScreenshot(100)), "phone-inbox.png", phoneWidth*phoneScale)

	answered(approve, "approve", "approved", "challenge.approved")
	step(ctx, t, "switch to a desktop viewport",
		chromedp.EmulateViewport(desktopWidth, desktopHeight),
		chromedp.WaitVisible(chromedp.CSS(li+" .badge.approved")),
	)
	checkFits(ctx, t, "desktop")
	saveScreenshotAs(t, run(ctx, t, "screenshot of the approved state", chromedp.CaptureScreenshot()), "phone-approved.png", desktopWidth)

	deny := challenge("Transfer 250 EUR to J. Smith?", &verifyv2.CreateChallengeParams{})
	answered(deny, "deny", "denied", "challenge.denied")

	// A challenge that expires: the buttons go, and no webhook is sent.
	// It is created a second after the others: dates have whole seconds,
	// and challenges of the same second are listed in SID order, as the
	// API lists them.
	time.Sleep(time.Second)
	expiring := challenge("Expires in a moment", (&verifyv2.CreateChallengeParams{}).SetExpirationDate(time.Now().Add(3*time.Second)))
	li = fmt.Sprintf(`li.challenge[data-sid=%q]`, expiring)
	step(ctx, t, "wait for "+expiring+" to expire",
		chromedp.WaitVisible(chromedp.CSS(li+" .badge.expired")),
		chromedp.WaitNotPresent(chromedp.CSS(li+" .actions")),
	)
	if c, err := rc.VerifyV2.FetchChallenge(s.ServiceSID, identity, expiring); err != nil || *c.Status != "expired" {
		t.Errorf("backend fetches %s: %v, %v; want expired", expiring, c, err)
	}
	// The page lists newest first.
	order := run(ctx, t, "read the order", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("li.challenge")].map(li => li.dataset.sid)`))
	if want := []string{expiring, deny, approve}; strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("inbox order = %v, want newest first %v", order, want)
	}

	requests, problems := rec.snapshot()
	for _, p := range problems {
		t.Errorf("page problem: %s", p)
	}
	for _, r := range requests {
		if _, u, _ := strings.Cut(r, " "); !strings.HasPrefix(u, s.URL+"/phone") && !strings.HasPrefix(u, "data:") {
			t.Errorf("request outside /phone: %s", r)
		}
	}
	if n := len(recv.Events()); n != 2 {
		t.Errorf("%d webhook events, want 2 (approved, denied): %+v", n, recv.Events())
	}
	t.Logf("%d requests; browser session took %v", len(requests), time.Since(start).Round(time.Millisecond))
}

// TestPhoneInboxShowsOnlyTheSelectedDevice: when the developer selects
// another device while the inbox of the one before is on its way, that
// answer is dropped, not shown as the new device's challenges with
// buttons that would answer them as the wrong device.
func TestPhoneInboxShowsOnlyTheSelectedDevice(t *testing.T) {
	bin := chromium(t)
	e := startPhone(t)
	a, b := e.enroll("phone-user-0401"), e.enroll("phone-user-0402")
	onA := e.challenge("phone-user-0401", a, "Only on the first device")
	ctx := newBrowser(t, bin, desktopWidth, desktopHeight)
	step(ctx, t, "load /phone with two devices",
		chromedp.Navigate(e.s.URL+"/phone"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`.device[data-factor=%q]`, a))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`.device[data-factor=%q]`, b))),
	)
	// switchTo selects each device in turn at once, as quick clicks do,
	// and lists the inbox when no poll is on its way.
	switchTo := func(sids ...string) []string {
		t.Helper()
		quoted, err := json.Marshal(sids)
		if err != nil {
			t.Fatal(err)
		}
		return run(ctx, t, fmt.Sprintf("select %v", sids), chromedp.Evaluate[[]string](`(async () => {
			const idle = () => new Promise((done) => { const wait = () => polling ? setTimeout(wait, 1) : done(); wait(); });
			await idle();
			for (const sid of `+string(quoted)+`) select(sid);
			await idle();
			return [...document.querySelectorAll("li.challenge")].map((li) => li.dataset.sid);
		})()`, chromedp.EvalAwaitPromise))
	}
	if got := switchTo(a); len(got) != 1 || got[0] != onA {
		t.Fatalf("inbox of the first device lists %v, want %s", got, onA)
	}
	if got := switchTo(a, b); len(got) != 0 {
		t.Errorf("inbox of the second device, selected while the first's was on its way, lists %v, want none", got)
	}
}

// checkFits fails t if the page is wider than its viewport: on a phone,
// nothing may need sideways scrolling.
func checkFits(ctx context.Context, t *testing.T, viewport string) {
	t.Helper()
	widths := run(ctx, t, "measure the page", chromedp.Evaluate[[]int](
		`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
	if len(widths) != 2 || widths[0] > widths[1] {
		t.Errorf("on the %s viewport the page is %v (scroll width, client width) wide: it overflows", viewport, widths)
	}
}
