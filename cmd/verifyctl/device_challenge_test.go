package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/verify"
)

// The golden device challenge tests run against pushServer, an httptest
// fake of the requests a phone sends, so that their files hold fixed SIDs
// and dates and show every refusal the SDKs make before sending anything.
// TestDeviceChallengesAgainstVerifyd runs the same commands against a real
// verifyd.

// The fake's fixed identifiers.
const (
	pushService   = "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	pushAccount   = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	pushIdentity  = "user-0001-push"
	pushFields    = "sid,factor_sid,identity,details,hidden_details,date_created,expiration_date"
	pushCreatedAt = "2026-03-14T15:09:26Z"
	pushAnswerAt  = "2026-03-14T15:09:46Z"
)

// pushChallenge is a challenge of pushServer.
type pushChallenge struct {
	sid, factorSID, status, message string
	respondedAt                     string
	metadata                        string
	// refuse answers every answer with 403 and this code.
	refuse int
}

// pushServer is a fake of the Verify Push API as a phone uses it: it
// enrolls factors (YF…01, YF…02, …, credential CR… with the same digits),
// checks each device JWT, and serves challenges: fetch (with the
// Twilio-Verify-Signature-Fields header while pending), list (a page token
// PT<n> starts at the n-th) and answer (the AuthPayload checked as a
// server must). It records each request as "METHOD path?query".
type pushServer struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	keys       map[string]*ecdsa.PublicKey // by factor SID
	challenges []*pushChallenge
	requests   []string
}

func newPushServer(t *testing.T) *pushServer {
	p := &pushServer{t: t, keys: map[string]*ecdsa.PublicKey{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// factorOf returns the n-th factor SID, from 1.
func factorOf(n int) string { return fmt.Sprintf("YF%032x", n) }

// challengeOf returns the n-th challenge SID, from 1.
func challengeOf(n int) string { return fmt.Sprintf("YC%032x", n) }

func (p *pushServer) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.requests
	p.requests = nil
	return r
}

// pushMessages are the fake's error messages.
var pushMessages = map[int]string{
	20003: "Authenticate",
	20404: "The requested resource was not found",
	60200: "Invalid parameter",
	60322: "Challenge already responded",
	60323: "Challenge expired",
	60324: "Challenge verification failed",
	60385: "Invalid public key",
}

// pushRequestID is the Twilio-Request-Id of the fake's errors.
const pushRequestID = "RQ00000000000000000000000000000001"

func (p *pushServer) twilioError(w http.ResponseWriter, status, code int) {
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w.Header().Set("Twilio-Request-Id", pushRequestID)
	p.writeJSON(w, status, fmt.Sprintf(`{"code":%d,"message":%q,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, pushMessages[code], code, status))
}

func (p *pushServer) writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := io.WriteString(w, body); err != nil {
		p.t.Errorf("write response: %v", err)
	}
}

func (p *pushServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.t.Errorf("read request: %v", err)
	}
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	p.mu.Lock()
	p.requests = append(p.requests, line)
	p.mu.Unlock()
	entity := "/v2/Services/" + pushService + "/Entities/" + pushIdentity
	if r.Method == http.MethodPost && r.URL.Path == entity+"/Factors" {
		p.create(w, string(body))
		return
	}
	factor := p.auth(r)
	if factor == "" {
		p.twilioError(w, http.StatusUnauthorized, 20003)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, entity+"/Challenges")
	switch {
	case ok && rest == "" && r.Method == http.MethodGet:
		p.list(w, r, factor)
	case ok && strings.HasPrefix(rest, "/") && r.Method == http.MethodGet:
		p.fetch(w, rest[1:])
	case ok && strings.HasPrefix(rest, "/") && r.Method == http.MethodPost:
		p.answer(w, rest[1:], factor, string(body))
	default:
		p.twilioError(w, http.StatusNotFound, 20404)
	}
}

// create enrolls a factor with any access token.
func (p *pushServer) create(w http.ResponseWriter, body string) {
	form, err := url.ParseQuery(body)
	if err != nil {
		p.twilioError(w, http.StatusBadRequest, 60200)
		return
	}
	pub, _, err := token.ParsePublicKey(form.Get("Binding.PublicKey"))
	if err != nil {
		p.twilioError(w, http.StatusBadRequest, 60385)
		return
	}
	p.mu.Lock()
	sid := factorOf(len(p.keys) + 1)
	p.keys[sid] = pub
	p.mu.Unlock()
	p.writeJSON(w, http.StatusCreated, fmt.Sprintf(`{"sid":%q,"account_sid":%q,"service_sid":%q,"identity":%q,"friendly_name":"verifykit device",`+
		`"status":"unverified","factor_type":"push","date_created":%q,"date_updated":%q,"config":{"credential_sid":"CR%s","notification_platform":"none"}}`,
		sid, pushAccount, pushService, pushIdentity, pushCreatedAt, pushCreatedAt, sid[2:]))
}

// auth returns the factor whose key signed the request's device JWT, or "".
func (p *pushServer) auth(r *http.Request) string {
	user, jwt, ok := r.BasicAuth()
	if !ok || user != "token" {
		return ""
	}
	j, err := token.ParseDeviceJWT(jwt)
	if err != nil || !strings.HasPrefix(j.KeyID, "CR") {
		return ""
	}
	factor := "YF" + j.KeyID[2:]
	p.mu.Lock()
	pub := p.keys[factor]
	p.mu.Unlock()
	if pub == nil || j.Verify(pub, time.Now(), time.Minute) != nil || j.Subject != pushAccount {
		return ""
	}
	return factor
}

// add adds a challenge of factor YF…01 unless edit says otherwise.
func (p *pushServer) add(sid string, edit func(c *pushChallenge)) {
	c := &pushChallenge{sid: sid, factorSID: factorOf(1), status: "pending", message: "Is it you logging in?"}
	if edit != nil {
		edit(c)
	}
	p.mu.Lock()
	p.challenges = append(p.challenges, c)
	p.mu.Unlock()
}

// find returns the challenge sid; p.mu must be held.
func (p *pushServer) find(sid string) *pushChallenge {
	for _, c := range p.challenges {
		if c.sid == sid {
			return c
		}
	}
	return nil
}

// values returns the JSON values of c's properties; p.mu must be held.
func (p *pushServer) values(c *pushChallenge) [][2]string {
	url := "https://verify.twilio.com/v2/Services/" + pushService + "/Entities/" + pushIdentity + "/Challenges/" + c.sid
	responded, updated, metadata := "null", quoteJSON(pushCreatedAt), "null"
	if c.respondedAt != "" {
		responded, updated = quoteJSON(c.respondedAt), quoteJSON(c.respondedAt)
	}
	if c.metadata != "" {
		metadata = c.metadata
	}
	return [][2]string{
		{"sid", quoteJSON(c.sid)},
		{"account_sid", quoteJSON(pushAccount)},
		{"service_sid", quoteJSON(pushService)},
		{"entity_sid", quoteJSON("YEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")},
		{"identity", quoteJSON(pushIdentity)},
		{"factor_sid", quoteJSON(c.factorSID)},
		{"date_created", quoteJSON(pushCreatedAt)},
		{"date_updated", updated},
		{"date_responded", responded},
		{"expiration_date", quoteJSON("2026-03-14T15:14:26Z")},
		{"status", quoteJSON(c.status)},
		{"responded_reason", `"none"`},
		{"details", `{"message":` + quoteJSON(c.message) + `,"fields":[{"label":"Location","value":"Lisbon, PT"},{"label":"Browser","value":"Firefox <ESR> & co"}]}`},
		{"hidden_details", `{"ip":"172.168.1.234"}`},
		{"metadata", metadata},
		{"factor_type", `"push"`},
		{"url", quoteJSON(url)},
		{"links", `{"notifications":` + quoteJSON(url+"/Notifications") + `}`},
	}
}

// challengeJSON returns c as the fake writes it; p.mu must be held.
func (p *pushServer) challengeJSON(c *pushChallenge) string {
	var parts []string
	for _, v := range p.values(c) {
		parts = append(parts, quoteJSON(v[0])+":"+v[1])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func quoteJSON(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (p *pushServer) fetch(w http.ResponseWriter, sid string) {
	p.mu.Lock()
	c := p.find(sid)
	var out string
	pending := c != nil && c.status == "pending"
	if c != nil {
		out = p.challengeJSON(c)
	}
	p.mu.Unlock()
	if c == nil {
		p.twilioError(w, http.StatusNotFound, 20404)
		return
	}
	if pending {
		w.Header().Set("Twilio-Verify-Signature-Fields", pushFields)
	}
	p.writeJSON(w, http.StatusOK, out)
}

func (p *pushServer) list(w http.ResponseWriter, r *http.Request, factor string) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || q.Get("FactorSid") != factor {
		p.twilioError(w, http.StatusUnauthorized, 20003)
		return
	}
	size, err := strconv.Atoi(q.Get("PageSize"))
	if err != nil || size < 1 {
		p.twilioError(w, http.StatusBadRequest, 60200)
		return
	}
	start := 0
	if tok := q.Get("PageToken") + q.Get("pageToken"); tok != "" {
		if start, err = strconv.Atoi(strings.TrimPrefix(tok, "PT")); err != nil {
			p.twilioError(w, http.StatusBadRequest, 60200)
			return
		}
	}
	p.mu.Lock()
	var items []string
	for _, c := range p.challenges {
		if c.factorSID == factor && (q.Get("Status") == "" || q.Get("Status") == c.status) {
			items = append(items, p.challengeJSON(c))
		}
	}
	p.mu.Unlock()
	if q.Get("Order") == "desc" {
		slices.Reverse(items)
	}
	end := min(start+size, len(items))
	start = min(start, end)
	pageURL := func(from int) string {
		return fmt.Sprintf("%s/v2/Services/%s/Entities/%s/Challenges?PageSize=%d&Page=%d&PageToken=PT%d", p.srv.URL, pushService, pushIdentity, size, from/size, from)
	}
	next, prev := "null", "null"
	if end < len(items) {
		next = quoteJSON(pageURL(end))
	}
	if start > 0 {
		prev = quoteJSON(pageURL(max(0, start-size)))
	}
	p.writeJSON(w, http.StatusOK, fmt.Sprintf(`{"challenges":[%s],"meta":{"page":%d,"page_size":%d,"first_page_url":%s,"previous_page_url":%s,"url":%s,"next_page_url":%s,"key":"challenges"}}`,
		strings.Join(items[start:end], ","), start/size, size, quoteJSON(pageURL(0)), prev, quoteJSON(pageURL(start)), next))
}

// answer checks an AuthPayload as a server must: header {typ, alg}, an
// ES256 raw R‖S signature by the factor's key, the listed values equal to
// the challenge's as JSON, status approved or denied.
func (p *pushServer) answer(w http.ResponseWriter, sid, factor, body string) {
	form, err := url.ParseQuery(body)
	if err != nil {
		p.twilioError(w, http.StatusBadRequest, 60200)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.find(sid)
	switch {
	case c == nil || c.factorSID != factor:
		p.twilioError(w, http.StatusNotFound, 20404)
		return
	case c.refuse != 0:
		p.twilioError(w, http.StatusForbidden, c.refuse)
		return
	case c.status == "expired":
		p.twilioError(w, http.StatusForbidden, 60323)
		return
	case c.status != "pending":
		p.twilioError(w, http.StatusForbidden, 60322)
		return
	}
	status, err := p.check(c, p.keys[factor], form.Get("AuthPayload"))
	if err != nil {
		p.t.Logf("answer to %s refused: %v", sid, err)
		p.twilioError(w, http.StatusForbidden, 60324)
		return
	}
	c.status, c.respondedAt = status, pushAnswerAt
	if md, ok := form["Metadata"]; ok {
		c.metadata = md[0]
	}
	p.writeJSON(w, http.StatusOK, p.challengeJSON(c))
}

// check checks jws against c and returns the status it answers; p.mu
// must be held.
func (p *pushServer) check(c *pushChallenge, pub *ecdsa.PublicKey, jws string) (string, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%d parts", len(parts))
	}
	var dec [3][]byte
	for i, s := range parts {
		var err error
		if dec[i], err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return "", err
		}
	}
	var header map[string]string
	if json.Unmarshal(dec[0], &header) != nil || !reflect.DeepEqual(header, map[string]string{"typ": "JWT", "alg": "ES256"}) {
		return "", fmt.Errorf("header %s", dec[0])
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if len(dec[2]) != 64 || !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(dec[2][:32]), new(big.Int).SetBytes(dec[2][32:])) {
		return "", fmt.Errorf("signature")
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(dec[1], &payload); err != nil {
		return "", err
	}
	want := map[string]string{}
	for _, v := range p.values(c) {
		want[v[0]] = v[1]
	}
	names := strings.Split(pushFields, ",")
	if len(payload) != len(names)+1 {
		return "", fmt.Errorf("payload has %d members, want %d", len(payload), len(names)+1)
	}
	for _, name := range names {
		var a, b any
		if json.Unmarshal(payload[name], &a) != nil || json.Unmarshal([]byte(want[name]), &b) != nil || !reflect.DeepEqual(a, b) {
			return "", fmt.Errorf("%s is %s, want %s", name, payload[name], want[name])
		}
	}
	var status string
	if json.Unmarshal(payload["status"], &status) != nil || status != "approved" && status != "denied" {
		return "", fmt.Errorf("status %s", payload["status"])
	}
	return status, nil
}

// pushFixture is a pushServer with challenges, and device files enrolled
// with it: phone.json (android, factor YF…01) and iphone.json (ios, factor
// YF…02).
type pushFixture struct {
	*pushServer
	Files string
	masks *strings.Replacer
}

func newPushFixture(t *testing.T) *pushFixture {
	t.Helper()
	p := newPushServer(t)
	f := &pushFixture{pushServer: p, Files: t.TempDir()}
	f.masks = strings.NewReplacer(p.srv.URL, "<url>", f.Files, "<files>")
	for _, d := range []struct {
		file   string
		flavor device.Flavor
	}{{"phone.json", device.Android}, {"iphone.json", device.IOS}} {
		dev, err := device.New(device.WithFlavor(d.flavor), device.WithBaseURL(p.srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dev.Enroll(context.Background(), pushService, pushIdentity, "access-token"); err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		if err := dev.Save(filepath.Join(f.Files, d.file)); err != nil {
			t.Fatal(err)
		}
	}
	// YC…01-05 and 07 are YF…01's, 06 is YF…02's.
	p.add(challengeOf(1), nil)
	p.add(challengeOf(2), func(c *pushChallenge) { c.message = "Send €25 to Ann?" })
	p.add(challengeOf(3), func(c *pushChallenge) { c.status, c.respondedAt = "approved", pushAnswerAt })
	p.add(challengeOf(4), func(c *pushChallenge) { c.status = "expired" })
	p.add(challengeOf(5), func(c *pushChallenge) { c.refuse = 60324 })
	p.add(challengeOf(6), func(c *pushChallenge) { c.factorSID = factorOf(2) })
	p.add(challengeOf(7), nil)
	p.take()
	return f
}

// run runs verifyctl with args, {files} expanded, in an environment of
// env, and returns the exit status and the output.
func (f *pushFixture) run(t *testing.T, env map[string]string, args []string, terminal bool) (expanded []string, code int, stdout, stderr string) {
	t.Helper()
	for _, a := range args {
		expanded = append(expanded, strings.NewReplacer("{files}", f.Files, "{url}", f.srv.URL).Replace(a))
	}
	var out, errOut bytes.Buffer
	a := &app{
		getenv:     func(k string) string { return env[k] },
		stdin:      strings.NewReader(""),
		stdout:     &out,
		stderr:     &errOut,
		isTerminal: func(io.Writer) bool { return terminal },
	}
	code = a.main(context.Background(), append([]string{"verifyctl"}, expanded...))
	return expanded, code, out.String(), errOut.String()
}

// TestDeviceChallengeGolden runs device challenges, approve and deny as a
// session against pushServer, each step against the state the steps before
// it left, and compares each run with its golden file.
func TestDeviceChallengeGolden(t *testing.T) {
	f := newPushFixture(t)
	// The device commands read no variable; this one must not matter.
	refused := map[string]string{"VERIFYKIT_BASE_URL": "http://127.0.0.1:1"}
	phone := []string{"--device", "{files}/phone.json"}
	with := func(cmd string, more ...string) []string {
		return append(append([]string{"device", cmd}, phone...), more...)
	}
	for _, step := range []struct {
		name     string
		args     []string
		terminal bool
		wantCode int
	}{
		{name: "device_challenges", args: with("challenges", "--page-size", "2", "--limit", "3")},
		{name: "device_challenges_pending_table", args: with("challenges", "--status", "pending", "-o", "table")},
		{name: "device_challenges_desc_terminal", args: with("challenges", "--order", "desc", "--status", "expired"), terminal: true},
		{name: "device_challenges_none", args: with("challenges", "--status", "denied")},
		{name: "device_approve", args: with("approve", "--challenge", challengeOf(1))},
		{name: "device_approve_again", args: with("approve", "--challenge", challengeOf(1)), wantCode: exitFailure},
		{name: "device_deny_table", args: with("deny", "--challenge", challengeOf(2), "-o", "table")},
		{name: "device_deny_ios_terminal", args: []string{"device", "deny", "--device", "{files}/iphone.json", "--challenge", challengeOf(6)}, terminal: true},
		{name: "device_approve_expired", args: with("approve", "--challenge", challengeOf(4)), wantCode: exitFailure},
		{name: "device_approve_wrong_factor", args: []string{"device", "approve", "--device", "{files}/iphone.json", "--challenge", challengeOf(7)}, wantCode: exitFailure},
		{name: "device_approve_refused", args: with("approve", "--challenge", challengeOf(5)), wantCode: exitFailure},
		{name: "device_approve_not_found", args: with("approve", "--challenge", challengeOf(9)), wantCode: exitNotFound},
		{name: "device_challenges_after", args: with("challenges", "-o", "table", "--page-size", "3")},
		{name: "device_challenges_missing_file", args: []string{"device", "challenges", "--device", "{files}/none.json"}, wantCode: exitFailure},
		{name: "usage_device_approve_missing_challenge", args: with("approve"), wantCode: exitUsage},
		{name: "usage_device_deny_bad_challenge", args: with("deny", "--challenge", factorOf(1)), wantCode: exitUsage},
		{name: "usage_device_challenges_bad_status", args: with("challenges", "--status", "open"), wantCode: exitUsage},
		{name: "usage_device_challenges_bad_page_size", args: with("challenges", "--page-size", "1001"), wantCode: exitUsage},
		{name: "help_device_challenges", args: []string{"device", "challenges", "--help"}},
		{name: "help_device_approve", args: []string{"help", "device", "approve"}},
		{name: "help_device_deny", args: []string{"device", "deny", "-h"}},
	} {
		t.Run(step.name, func(t *testing.T) {
			expanded, code, stdout, stderr := f.run(t, refused, step.args, step.terminal)
			if code != step.wantCode {
				t.Errorf("verifyctl %s: exit status %d, want %d (stderr %q)", strings.Join(expanded, " "), code, step.wantCode, stderr)
			}
			if n := strings.Count(stderr, "\n"); n > 1 {
				t.Errorf("verifyctl %s: stderr has %d lines, want at most one", strings.Join(expanded, " "), n)
			}
			checkGolden(t, step.name, f.masks.Replace(golden(expanded, code, stdout, stderr)))
		})
	}
}

// TestDeviceChallengeRequests checks what the golden files cannot show:
// the requests each command sent, in order, the flavor's list query, and
// that the device file survives the commands with its mode.
func TestDeviceChallengeRequests(t *testing.T) {
	f := newPushFixture(t)
	entity := "/v2/Services/" + pushService + "/Entities/" + pushIdentity + "/Challenges"
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"android list, paged", []string{"device", "challenges", "--device", "{files}/phone.json", "--page-size", "3", "--status", "pending"}, []string{
			"GET " + entity + "?PageSize=3&FactorSid=" + factorOf(1) + "&Order=asc&Status=pending",
			"GET " + entity + "?PageSize=3&FactorSid=" + factorOf(1) + "&Order=asc&Status=pending&PageToken=PT3",
		}},
		{"ios list, paged", []string{"device", "challenges", "--device", "{files}/iphone.json", "--page-size", "1", "--order", "desc", "--limit", "5"}, []string{
			"GET " + entity + "?FactorSid=" + factorOf(2) + "&PageSize=1&Order=desc",
		}},
		{"approve", []string{"device", "approve", "--device", "{files}/phone.json", "--challenge", challengeOf(7)}, []string{
			"GET " + entity + "/" + challengeOf(7),
			"POST " + entity + "/" + challengeOf(7),
			"GET " + entity + "/" + challengeOf(7),
		}},
		{"refused locally", []string{"device", "deny", "--device", "{files}/phone.json", "--challenge", challengeOf(3)}, []string{
			"GET " + entity + "/" + challengeOf(3),
		}},
		{"another base URL", []string{"device", "approve", "--device", "{files}/phone.json", "--challenge", challengeOf(1), "--base-url", "http://127.0.0.1:1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.take()
			f.run(t, nil, tc.args, false)
			if got := f.take(); !slices.Equal(got, tc.want) {
				t.Errorf("verifyctl %s sent\n%q\nwant\n%q", strings.Join(tc.args, " "), got, tc.want)
			}
		})
	}
	for _, name := range []string{"phone.json", "iphone.json"} {
		fi, err := os.Stat(filepath.Join(f.Files, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s after the commands: %v, %v; want mode 0600", name, fi, err)
		}
		d, err := device.LoadFile(filepath.Join(f.Files, name))
		if err != nil || d.BaseURL() != f.srv.URL {
			t.Errorf("%s after the commands: %v, base URL %q; want %s", name, err, d.BaseURL(), f.srv.URL)
		}
	}
}

// TestDeviceChallengesAgainstVerifyd runs device challenges, approve and
// deny against an in-process verifyd over loopback HTTP, with the backend
// creating the challenges and reading their answers through package verify.
func TestDeviceChallengesAgainstVerifyd(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	file := filepath.Join(f.Files, "phone.json")
	ctl := func(t *testing.T, wantCode int, args ...string) string {
		t.Helper()
		_, code, stdout, stderr := f.run(t, baseURLEnv, args, f.mint(t, deviceIdentity), false)
		if code != wantCode {
			t.Fatalf("verifyctl %s = %d, stderr %q; want %d", strings.Join(args, " "), code, stderr, wantCode)
		}
		return stdout + stderr
	}
	ctl(t, exitOK, "device", "enroll", "--service", f.ServiceSID, "--identity", deviceIdentity, "--device", file, "--token", "-")
	ctl(t, exitOK, "device", "verify", "--device", file)
	d, err := device.Load(mustRead(t, file))
	if err != nil {
		t.Fatal(err)
	}
	factor, _ := d.Factor()

	backend, err := verify.NewClient(verify.Config{AccountSID: f.AccountSID, AuthToken: f.AuthToken, BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, message string) string {
		t.Helper()
		c, err := backend.CreateChallenge(ctx, f.ServiceSID, deviceIdentity, verify.ChallengeParams{FactorSID: factor.SID, Message: message})
		if err != nil {
			t.Fatal(err)
		}
		return *c.SID
	}
	status := func(t *testing.T, sid string) string {
		t.Helper()
		c, err := backend.FetchChallenge(ctx, f.ServiceSID, deviceIdentity, sid)
		if err != nil {
			t.Fatal(err)
		}
		return string(c.Status)
	}

	login, payment := create(t, "Log in from Lisbon?"), create(t, "Pay 10 EUR?")
	pending := ctl(t, exitOK, "device", "challenges", "--device", file, "--status", "pending", "-o", "table")
	for _, want := range []string{"sid: " + login, "sid: " + payment, "details.message: Log in from Lisbon?"} {
		if !strings.Contains(pending, want) {
			t.Errorf("device challenges lacks %q:\n%s", want, pending)
		}
	}
	ctl(t, exitOK, "device", "approve", "--device", file, "--challenge", login)
	ctl(t, exitOK, "device", "deny", "--device", file, "--challenge", payment)
	if got := status(t, login); got != "approved" {
		t.Errorf("the backend reads %s for the approved challenge", got)
	}
	if got := status(t, payment); got != "denied" {
		t.Errorf("the backend reads %s for the denied challenge", got)
	}
	if out := ctl(t, exitFailure, "device", "approve", "--device", file, "--challenge", payment); !strings.Contains(out, "responded challenge") {
		t.Errorf("approving a denied challenge says %q", out)
	}
	if got := status(t, payment); got != "denied" {
		t.Errorf("after a second answer the backend reads %s, want denied", got)
	}
	if left := ctl(t, exitOK, "device", "challenges", "--device", file, "--status", "pending"); strings.TrimSpace(left) != "[]" {
		t.Errorf("pending after both answers: %s", left)
	}
}

// mustRead returns the contents of the file at path.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
