package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/verifydtest"
)

// TestPhoneRefuses: the phone answers a request that names another host
// (DNS rebinding) as an unknown route, refuses a POST that is not JSON (a
// cross-site form) and a token that is not this verifyd's, in Twilio's
// error shape, and makes no directory for them.
func TestPhoneRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "phone")
	s := verifydtest.Start(t, verifydtest.WithConfig(func(c *api.Config) { c.PhoneDir = dir }))
	do := func(method, path, host, contentType, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	if status, body := do("GET", "/phone", "", "", ""); status != http.StatusOK || !strings.Contains(string(body), "Virtual phone") {
		t.Fatalf("GET /phone = %d, want 200 and the page", status)
	}
	_, unknown := do("GET", "/no-such-route", "rebound.example", "", "")
	for _, p := range []string{"/phone", "/phone/api/devices"} {
		if status, body := do("GET", p, "rebound.example", "", ""); status == http.StatusOK || string(body) != string(unknown) {
			t.Errorf("GET %s with Host rebound.example = %d %s, want what an unknown route gets: %s", p, status, body, unknown)
		}
	}
	for _, tc := range []struct {
		name, contentType, body string
		status, code            int
	}{
		{"a form", "application/x-www-form-urlencoded", "token=x", 415, 20415},
		{"no JSON", "application/json", "token", 400, 20400},
		{"not a token", "application/json", `{"token":"eyJhbGciOiJkaXIi.x.y.z.w"}`, 400, 20400},
	} {
		status, body := do("POST", "/phone/api/devices", "", tc.contentType, tc.body)
		var e struct {
			Code     int    `json:"code"`
			Message  string `json:"message"`
			MoreInfo string `json:"more_info"`
			Status   int    `json:"status"`
		}
		if err := json.Unmarshal(body, &e); err != nil || status != tc.status || e.Code != tc.code || e.Status != tc.status ||
			e.Message == "" || e.MoreInfo == "" {
			t.Errorf("%s: POST /phone/api/devices = %d %s, want %d · %d in Twilio's shape", tc.name, status, body, tc.status, tc.code)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("phone directory after refusals only: %v; want none made", err)
	}
}

// phoneEnv is a verifyd with the phone on, and the account's way in.
type phoneEnv struct {
	t *testing.T
	s *verifydtest.Server
}

func startPhone(t *testing.T, opts ...verifydtest.Option) *phoneEnv {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "phone")
	opts = append(opts, verifydtest.WithConfig(func(c *api.Config) { c.PhoneDir = dir }))
	return &phoneEnv{t: t, s: verifydtest.Start(t, opts...)}
}

// call sends a request to verifyd as a client on 127.0.0.1 would, with
// Basic credentials unless user is empty, and returns the status and body.
func (e *phoneEnv) call(method, path, contentType, body, user, pass string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.s.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// backend posts form to verifyd as the account, as the developer's backend
// would, and decodes the created resource into v.
func (e *phoneEnv) backend(path string, form url.Values, v any) {
	e.t.Helper()
	status, body := e.call(http.MethodPost, path, "application/x-www-form-urlencoded", form.Encode(), e.s.AccountSID, e.s.AuthToken)
	if status != http.StatusCreated {
		e.t.Fatalf("POST %s = %d %s, want 201", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatal(err)
	}
}

// enroll makes an access token for identity and enrolls a device of the
// phone with it; it returns the factor's SID.
func (e *phoneEnv) enroll(identity string) string {
	e.t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	e.backend("/v2/Services/"+e.s.ServiceSID+"/AccessTokens", url.Values{"Identity": {identity}, "FactorType": {"push"}}, &tok)
	req, err := json.Marshal(map[string]string{"token": tok.Token})
	if err != nil {
		e.t.Fatal(err)
	}
	status, body := e.call(http.MethodPost, "/phone/api/devices", "application/json", string(req), "", "")
	var d struct {
		FactorSID string `json:"factor_sid"`
		Status    string `json:"status"`
	}
	if err := json.Unmarshal(body, &d); err != nil || status != http.StatusCreated || d.Status != "verified" {
		e.t.Fatalf("enroll = %d %s, want 201 and a verified factor", status, body)
	}
	return d.FactorSID
}

// challenge creates a challenge for the factor with message, as the
// backend would, and returns its SID.
func (e *phoneEnv) challenge(identity, factorSID, message string) string {
	e.t.Helper()
	var c struct {
		SID string `json:"sid"`
	}
	e.backend("/v2/Services/"+e.s.ServiceSID+"/Entities/"+identity+"/Challenges",
		url.Values{"FactorSid": {factorSID}, "Details.Message": {message}}, &c)
	return c.SID
}

// inbox is the phone's inbox of the factor.
func (e *phoneEnv) inbox(factorSID string) []phoneItem {
	e.t.Helper()
	status, body := e.call(http.MethodGet, "/phone/api/devices/"+factorSID+"/inbox", "", "", "", "")
	var box struct {
		Items []phoneItem `json:"items"`
	}
	if err := json.Unmarshal(body, &box); err != nil || status != http.StatusOK {
		e.t.Fatalf("inbox = %d %s, want 200", status, body)
	}
	return box.Items
}

type phoneItem struct {
	SID     string `json:"sid"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// twilioError decodes body as Twilio's error object, or fails the test.
func twilioError(t *testing.T, body []byte) (code, status int) {
	t.Helper()
	var e struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
		Status   int    `json:"status"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Message == "" || e.MoreInfo == "" {
		t.Fatalf("body %s is not Twilio's error object", body)
	}
	return e.Code, e.Status
}

// TestPhoneInboxShowsNewestPastItsLimit: the inbox holds at most 100
// challenges; past that, it shows the newest, so that a challenge the
// backend just created still appears.
func TestPhoneInboxShowsNewestPastItsLimit(t *testing.T) {
	clock := newFakeClock()
	e := startPhone(t, verifydtest.WithClock(clock.Now))
	const identity = "phone-user-0100"
	factor := e.enroll(identity)
	var last string
	for i := range 101 {
		clock.Advance(time.Second) // one a second: the newest is the last
		last = e.challenge(identity, factor, fmt.Sprintf("Log in, attempt %d?", i+1))
	}
	items := e.inbox(factor)
	if len(items) != 100 {
		t.Fatalf("inbox holds %d challenges, want 100", len(items))
	}
	if items[0].SID != last || items[0].Message != "Log in, attempt 101?" {
		t.Errorf("inbox starts with %s %q, want the newest challenge %s", items[0].SID, items[0].Message, last)
	}
}

// TestPhoneAnswerToAnsweredOrExpiredIsVerifydError: Approve or Deny of a
// challenge that is already answered, or expired, gets verifyd's own error
// for it (403 · 60322, 403 · 60323), whether the device saw the status
// before posting or verifyd refused the post, as in a race of two clicks.
func TestPhoneAnswerToAnsweredOrExpiredIsVerifydError(t *testing.T) {
	clock := newFakeClock()
	e := startPhone(t, verifydtest.WithClock(clock.Now))
	const identity = "phone-user-0200"
	factor := e.enroll(identity)
	answered := e.challenge(identity, factor, "Log in?")
	expired := e.challenge(identity, factor, "Log in again?")
	answer := func(sid, action string) (int, []byte) {
		return e.call(http.MethodPost, "/phone/api/devices/"+factor+"/challenges/"+sid+"/"+action, "application/json", "{}", "", "")
	}
	if status, body := answer(answered, "approve"); status != http.StatusOK {
		t.Fatalf("approve = %d %s, want 200", status, body)
	}
	clock.Advance(6 * time.Minute) // past the default 5 minutes
	for _, tc := range []struct {
		sid, action  string
		status, code int
	}{
		{answered, "approve", 403, 60322},
		{answered, "deny", 403, 60322},
		{expired, "approve", 403, 60323},
		{expired, "deny", 403, 60323},
	} {
		status, body := answer(tc.sid, tc.action)
		if code, inBody := twilioError(t, body); status != tc.status || inBody != tc.status || code != tc.code {
			t.Errorf("%s %s = %d %s, want %d · %d", tc.action, tc.sid, status, body, tc.status, tc.code)
		}
	}
}

// TestPhoneEnrollBodyTooLarge: a body over the phone's cap gets 413 ·
// 20413, as verifyd's own operations answer one, not a 400 saying it is
// not JSON; and no device is made.
func TestPhoneEnrollBodyTooLarge(t *testing.T) {
	e := startPhone(t)
	for _, body := range []string{
		`{"token":"` + strings.Repeat("a", 20<<10) + `"}`,
		strings.Repeat(" ", 20<<10) + `{"token":"x"}`,
	} {
		status, resp := e.call(http.MethodPost, "/phone/api/devices", "application/json", body, "", "")
		if code, inBody := twilioError(t, resp); status != http.StatusRequestEntityTooLarge || inBody != status || code != 20413 {
			t.Errorf("POST /phone/api/devices with %d bytes = %d %s, want 413 · 20413", len(body), status, resp)
		}
	}
	if _, resp := e.call(http.MethodGet, "/phone/api/devices", "", "", "", ""); strings.TrimSpace(string(resp)) != "[]" {
		t.Errorf("devices after the refusals: %s, want []", resp)
	}
}
