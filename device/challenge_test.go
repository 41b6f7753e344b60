package device_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/device"
)

const (
	challengeSID   = "YC0123456789abcdef0123456789abcdef"
	otherFactorSID = "YFfedcba9876543210fedcba9876543210"
	// signatureFields is what the fake lists in Twilio-Verify-Signature-Fields
	// for a pending challenge: the spec's example.
	signatureFields = "sid,factor_sid,identity,details,hidden_details,date_created,expiration_date"
	// detailsJSON is the challenge's details as the fake writes them, with
	// spaces, an escaped slash and an escaped letter, so that an answer that
	// does not sign the bytes as fetched shows.
	detailsJSON = `{"message": "Log in to https:\/\/example.com?", "fields": [{"label": "Location", "value": "Lisboa, PT \u00e9"}]}`
)

// rawMember is one property of a challenge, its value JSON as written.
type rawMember struct{ name, value string }

// fakeChallenge is a challenge the fake server serves, property by
// property, so that tests control its bytes.
type fakeChallenge struct {
	members []rawMember
	// header is the Twilio-Verify-Signature-Fields value sent while the
	// challenge is pending; nil sends none.
	header *string
	// headerName is the header's name as written; "" for the canonical
	// spelling.
	headerName string
	// headerAlways sends the header whatever the status.
	headerAlways bool
	// stuck makes the server accept answers without applying them.
	stuck bool
}

// quote returns s as a JSON string.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// newChallenge returns a pending challenge sid of the device's factor,
// created at t0 and expiring five minutes later, in the spec's property
// order.
func newChallenge(sid string) *fakeChallenge {
	h := signatureFields
	url := "https://verify.twilio.com" + entityPath + "/Challenges/" + sid
	return &fakeChallenge{header: &h, members: []rawMember{
		{"sid", quote(sid)},
		{"account_sid", quote(accountSID)},
		{"service_sid", quote(serviceSID)},
		{"entity_sid", quote("YE0123456789abcdef0123456789abcdef")},
		{"identity", quote(identity)},
		{"factor_sid", quote(factorSID)},
		{"date_created", quote("2026-03-14T15:09:26Z")},
		{"date_updated", quote("2026-03-14T15:09:26Z")},
		{"date_responded", "null"},
		{"expiration_date", quote("2026-03-14T15:14:26Z")},
		{"status", quote("pending")},
		{"responded_reason", quote("none")},
		{"details", detailsJSON},
		{"hidden_details", `{"ip":"172.168.1.234"}`},
		{"metadata", "null"},
		{"factor_type", quote("push")},
		{"url", quote(url)},
		{"links", `{"notifications":` + quote(url+"/Notifications") + `}`},
	}}
}

// get returns the JSON of the property name, or "" when it is absent.
func (c *fakeChallenge) get(name string) string {
	for _, m := range c.members {
		if m.name == name {
			return m.value
		}
	}
	return ""
}

// set sets the property name to the JSON value, adding it at the end when
// absent.
func (c *fakeChallenge) set(name, value string) {
	for i, m := range c.members {
		if m.name == name {
			c.members[i].value = value
			return
		}
	}
	c.members = append(c.members, rawMember{name, value})
}

// del removes the property name.
func (c *fakeChallenge) del(name string) {
	c.members = slices.DeleteFunc(c.members, func(m rawMember) bool { return m.name == name })
}

// status returns the challenge's status.
func (c *fakeChallenge) status() string {
	var s string
	_ = json.Unmarshal([]byte(c.get("status")), &s)
	return s
}

// json returns the challenge's JSON.
func (c *fakeChallenge) json() string {
	parts := make([]string, len(c.members))
	for i, m := range c.members {
		parts[i] = quote(m.name) + ":" + m.value
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// addChallenge adds newChallenge(sid), edited, to what fv serves.
func (fv *fakeVerify) addChallenge(sid string, edits ...func(c *fakeChallenge)) *fakeChallenge {
	c := newChallenge(sid)
	for _, edit := range edits {
		edit(c)
	}
	fv.mu.Lock()
	fv.challenges = append(fv.challenges, c)
	fv.mu.Unlock()
	return c
}

// find returns the challenge sid; fv.mu must be held.
func (fv *fakeVerify) find(sid string) *fakeChallenge {
	for _, c := range fv.challenges {
		if c.get("sid") == quote(sid) {
			return c
		}
	}
	return nil
}

// challenge serves FetchChallenge, ListChallenge and UpdateChallenge with
// device JWT auth.
func (fv *fakeVerify) challenge(w http.ResponseWriter, r *http.Request, body string) {
	pub := fv.authDevice(w, r)
	if pub == nil {
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, entityPath+"/Challenges")
	switch {
	case rest == "" && r.Method == http.MethodGet:
		fv.list(w, r)
	case strings.HasPrefix(rest, "/") && r.Method == http.MethodGet:
		fv.fetch(w, rest[1:])
	case strings.HasPrefix(rest, "/") && r.Method == http.MethodPost:
		fv.answer(w, rest[1:], pub, body)
	default:
		fv.twilioError(w, http.StatusNotFound, 20404, true)
	}
}

func (fv *fakeVerify) fetch(w http.ResponseWriter, sid string) {
	fv.mu.Lock()
	c := fv.find(sid)
	var out, name string
	var header *string
	if c != nil {
		out, name = c.json(), c.headerName
		if c.header != nil && (c.status() == "pending" || c.headerAlways) {
			header = c.header
		}
	}
	fv.mu.Unlock()
	if c == nil {
		fv.twilioError(w, http.StatusNotFound, 20404, true)
		return
	}
	if header != nil {
		if name == "" {
			name = "Twilio-Verify-Signature-Fields"
		}
		w.Header()[name] = []string{*header} // written as named, in any case
	}
	fv.writeJSON(w, http.StatusOK, out)
}

func (fv *fakeVerify) writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := fmt.Fprint(w, body); err != nil {
		fv.t.Errorf("write response: %v", err)
	}
}

// list serves a page of the factor's challenges: PageToken (or iOS's
// pageToken) "PT<n>" starts at the n-th.
func (fv *fakeVerify) list(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		fv.twilioError(w, http.StatusBadRequest, 60200, true)
		return
	}
	if q.Get("FactorSid") != factorSID {
		fv.twilioError(w, http.StatusUnauthorized, 20003, true)
		return
	}
	size, err := strconv.Atoi(q.Get("PageSize"))
	if err != nil || size < 1 {
		fv.twilioError(w, http.StatusBadRequest, 60200, true)
		return
	}
	tok := q.Get("PageToken") + q.Get("pageToken")
	start := 0
	if tok != "" {
		if start, err = strconv.Atoi(strings.TrimPrefix(tok, "PT")); err != nil {
			fv.twilioError(w, http.StatusBadRequest, 60200, true)
			return
		}
	}
	fv.mu.Lock()
	var items []string
	for _, c := range fv.challenges {
		if c.get("factor_sid") == quote(factorSID) && (q.Get("Status") == "" || c.status() == q.Get("Status")) {
			items = append(items, c.json())
		}
	}
	fv.mu.Unlock()
	if q.Get("Order") == "desc" {
		slices.Reverse(items)
	}
	end := min(start+size, len(items))
	start = min(start, end)
	pageURL := func(from int) string {
		return fmt.Sprintf("%s%s/Challenges?PageSize=%d&Page=%d&PageToken=PT%d", fv.srv.URL, entityPath, size, from/size, from)
	}
	next, prev := "null", "null"
	if end < len(items) {
		next = quote(pageURL(end))
	}
	if start > 0 {
		prev = quote(pageURL(max(0, start-size)))
	}
	fv.writeJSON(w, http.StatusOK, fmt.Sprintf(`{"challenges":[%s],"meta":{"page":%d,"page_size":%d,"first_page_url":%s,"previous_page_url":%s,"url":%s,"next_page_url":%s,"key":"challenges"}}`,
		strings.Join(items[start:end], ","), start/size, size, quote(pageURL(0)), prev, quote(pageURL(start)), next))
}

// answer serves UpdateChallenge: it checks the AuthPayload as a server
// must, comparing the signed values with the challenge's as JSON.
func (fv *fakeVerify) answer(w http.ResponseWriter, sid string, pub *ecdsa.PublicKey, body string) {
	form, err := url.ParseQuery(body)
	if err != nil {
		fv.twilioError(w, http.StatusBadRequest, 60200, true)
		return
	}
	fv.mu.Lock()
	c := fv.find(sid)
	var code int
	var status string
	switch {
	case c == nil:
		code = 20404
	case c.status() == "expired":
		code = 60323
	case c.status() != "pending":
		code = 60322
	default:
		if status, err = checkAnswer(pub, c, form.Get("AuthPayload")); err != nil {
			code = 60324
		}
	}
	if code == 0 && !c.stuck {
		c.set("status", quote(status))
		c.set("date_updated", quote("2026-03-14T15:09:46Z"))
		c.set("date_responded", quote("2026-03-14T15:09:46Z"))
		if md, ok := form["Metadata"]; ok {
			c.set("metadata", md[0])
		}
	}
	var out string
	if c != nil {
		out = c.json()
	}
	fv.mu.Unlock()
	switch code {
	case 0:
		fv.writeJSON(w, http.StatusOK, out)
	case 20404:
		fv.twilioError(w, http.StatusNotFound, code, true)
	default:
		fv.twilioError(w, http.StatusForbidden, code, true)
	}
}

// checkAnswer checks an AuthPayload against challenge c and key pub and
// returns the status it answers.
func checkAnswer(pub *ecdsa.PublicKey, c *fakeChallenge, jws string) (string, error) {
	header, payload, sig, err := splitJWS(jws)
	if err != nil {
		return "", err
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(header), &h); err != nil || !reflect.DeepEqual(h, map[string]string{"typ": "JWT", "alg": "ES256"}) {
		return "", fmt.Errorf("header %s", header)
	}
	digest := sha256.Sum256([]byte(jws[:strings.LastIndexByte(jws, '.')]))
	if len(sig) != 64 || !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", errors.New("bad signature")
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return "", err
	}
	names := map[string]bool{"status": true}
	for _, name := range strings.Split(signatureFields, ",") {
		names[name] = true
		if !jsonEqual(p[name], []byte(c.get(name))) {
			return "", fmt.Errorf("%s: %s, want %s", name, p[name], c.get(name))
		}
	}
	if len(p) != len(names) {
		return "", fmt.Errorf("payload has %d members, want %d", len(p), len(names))
	}
	var status string
	if json.Unmarshal(p["status"], &status) != nil || status != "approved" && status != "denied" {
		return "", fmt.Errorf("status %s", p["status"])
	}
	return status, nil
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// splitJWS decodes the header and payload of a compact JWS, and its
// signature.
func splitJWS(jws string) (header, payload string, sig []byte, err error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return "", "", nil, fmt.Errorf("%d parts, want 3", len(parts))
	}
	var b [3][]byte
	for i, p := range parts {
		if b[i], err = base64.RawURLEncoding.DecodeString(p); err != nil {
			return "", "", nil, fmt.Errorf("part %d: %w", i+1, err)
		}
	}
	return string(b[0]), string(b[1]), b[2], nil
}

// The AuthPayload header and the payload of an answer to newChallenge, as
// each SDK writes them: Android in the header's order with status last,
// iOS sorted. The values are the fetched bytes.
var (
	wantJWSHeader = map[device.Flavor]string{
		device.Android: `{"typ":"JWT","alg":"ES256"}`,
		device.IOS:     `{"alg":"ES256","typ":"JWT"}`,
	}
	wantPayload = map[device.Flavor]string{
		device.Android: `{"sid":"` + challengeSID + `","factor_sid":"` + factorSID + `","identity":"` + identity + `",` +
			`"details":` + detailsJSON + `,"hidden_details":{"ip":"172.168.1.234"},` +
			`"date_created":"2026-03-14T15:09:26Z","expiration_date":"2026-03-14T15:14:26Z","status":"%s"}`,
		device.IOS: `{"date_created":"2026-03-14T15:09:26Z","details":` + detailsJSON + `,` +
			`"expiration_date":"2026-03-14T15:14:26Z","factor_sid":"` + factorSID + `","hidden_details":{"ip":"172.168.1.234"},` +
			`"identity":"` + identity + `","sid":"` + challengeSID + `","status":"%s"}`,
	}
)

// wantChallenge is newChallenge(challengeSID) as the Device maps it.
func wantChallenge(raw string) *device.Challenge {
	return &device.Challenge{
		SID:       challengeSID,
		FactorSID: factorSID,
		Status:    "pending",
		Details: device.ChallengeDetails{
			Message: "Log in to https://example.com?",
			Fields:  []device.ChallengeField{{Label: "Location", Value: "Lisboa, PT é"}},
		},
		HiddenDetails:   map[string]string{"ip": "172.168.1.234"},
		ExpirationDate:  t0.Add(5 * time.Minute),
		DateCreated:     t0,
		DateUpdated:     t0,
		SignatureFields: strings.Split(signatureFields, ","),
		Raw:             json.RawMessage(raw),
	}
}

func TestChallenge(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			d := fv.enrolled(t, f)
			c := fv.addChallenge(challengeSID)
			fv.take()
			got, err := d.Challenge(context.Background(), challengeSID)
			if err != nil {
				t.Fatalf("Challenge() error: %v", err)
			}
			if diff := cmp.Diff(wantChallenge(c.json()), got); diff != "" {
				t.Errorf("Challenge() mismatch (-want +got):\n%s", diff)
			}
			reqs := fv.take()
			if len(reqs) != 1 {
				t.Fatalf("Challenge() sent %d requests, want 1", len(reqs))
			}
			get := reqs[0]
			if get.Method != http.MethodGet || get.Path != entityPath+"/Challenges/"+challengeSID || get.RawQuery != "" || get.Body != "" {
				t.Errorf("Challenge() sent %s %s?%s with body %q; want GET of the challenge, no query, no body", get.Method, get.Path, get.RawQuery, get.Body)
			}
			// A GET carries the form Content-Type, and Accept of the form type.
			checkHeaders(t, f, get, "application/x-www-form-urlencoded")
			checkJWT(t, f, get, d.PublicKey(), t0.Unix())
		})
	}
}

func TestSignatureFieldsHeader(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *fakeChallenge)
		want []string
		// wantErr is what Approve then fails with; nil for success.
		wantErr error
	}{
		{"canonical", func(*fakeChallenge) {}, strings.Split(signatureFields, ","), nil},
		{"lower-case name", func(c *fakeChallenge) { c.headerName = "twilio-verify-signature-fields" }, strings.Split(signatureFields, ","), nil},
		{"upper-case name", func(c *fakeChallenge) { c.headerName = "TWILIO-VERIFY-SIGNATURE-FIELDS" }, strings.Split(signatureFields, ","), nil},
		{"no header", func(c *fakeChallenge) { c.header = nil }, nil, device.ErrNoSignatureFields},
		// The SDKs split at "," and trim nothing.
		{"spaces kept", func(c *fakeChallenge) { h := "sid, factor_sid"; c.header = &h }, []string{"sid", " factor_sid"}, device.ErrSignedFieldMissing},
		{"empty", func(c *fakeChallenge) { h := ""; c.header = &h }, []string{""}, device.ErrSignedFieldMissing},
		{"a name the body lacks", func(c *fakeChallenge) { h := "sid,nonce"; c.header = &h }, []string{"sid", "nonce"}, device.ErrSignedFieldMissing},
		// Only a pending challenge keeps the header.
		{"answered", func(c *fakeChallenge) { c.set("status", `"approved"`); c.headerAlways = true }, nil, device.ErrChallengeResponded},
	}
	for _, f := range flavors {
		for _, tc := range tests {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				fv := newFakeVerify(t)
				d := fv.enrolled(t, f)
				fv.addChallenge(challengeSID, tc.edit)
				got, err := d.Challenge(context.Background(), challengeSID)
				if err != nil {
					t.Fatalf("Challenge() error: %v", err)
				}
				if diff := cmp.Diff(tc.want, got.SignatureFields); diff != "" {
					t.Errorf("Challenge().SignatureFields mismatch (-want +got):\n%s", diff)
				}
				fv.take()
				_, err = d.Approve(context.Background(), challengeSID)
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Approve() error = %v, want %v", err, tc.wantErr)
				}
				if n := len(fv.take()); tc.wantErr != nil && n != 1 {
					t.Errorf("refused Approve() sent %d requests, want the fetch alone", n)
				}
			})
		}
	}
}

func TestAnswer(t *testing.T) {
	answers := []struct {
		status string
		call   func(d *device.Device, opts ...device.AnswerOption) (*device.Challenge, error)
	}{
		{"approved", func(d *device.Device, opts ...device.AnswerOption) (*device.Challenge, error) {
			return d.Approve(context.Background(), challengeSID, opts...)
		}},
		{"denied", func(d *device.Device, opts ...device.AnswerOption) (*device.Challenge, error) {
			return d.Deny(context.Background(), challengeSID, opts...)
		}},
	}
	// The Metadata field as each flavor escapes it into the form.
	wantMetadata := map[device.Flavor]string{
		device.Android: "&Metadata=%7B%22os%22%3A%22Android%22%7D",
		device.IOS:     "&Metadata=%7B%22os%22:%22Android%22%7D",
	}
	for _, f := range flavors {
		for _, a := range answers {
			for _, withMetadata := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/metadata=%t", f, a.status, withMetadata), func(t *testing.T) {
					fv := newFakeVerify(t)
					d := fv.enrolled(t, f)
					c := fv.addChallenge(challengeSID)
					fv.take()
					var opts []device.AnswerOption
					if withMetadata {
						opts = append(opts, device.AnswerMetadata(map[string]string{"os": "Android"}))
					}
					got, err := a.call(d, opts...)
					if err != nil {
						t.Fatalf("answer %s error: %v", a.status, err)
					}
					want := wantChallenge(c.json())
					want.Status, want.SignatureFields = a.status, nil
					want.DateUpdated = t0.Add(20 * time.Second)
					want.DateResponded = want.DateUpdated
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("answer %s mismatch (-want +got):\n%s", a.status, diff)
					}
					if withMetadata && c.get("metadata") != `{"os":"Android"}` {
						t.Errorf("metadata stored = %s, want {\"os\":\"Android\"}", c.get("metadata"))
					}

					// GET, POST, GET, each with a fresh device JWT.
					reqs := fv.take()
					if len(reqs) != 3 {
						t.Fatalf("answer %s sent %d requests, want 3", a.status, len(reqs))
					}
					for i, method := range []string{http.MethodGet, http.MethodPost, http.MethodGet} {
						r := reqs[i]
						if r.Method != method || r.Path != entityPath+"/Challenges/"+challengeSID || r.RawQuery != "" {
							t.Errorf("request %d = %s %s?%s, want %s of the challenge", i, r.Method, r.Path, r.RawQuery, method)
						}
						accept := "application/json"
						if method == http.MethodGet {
							accept = "application/x-www-form-urlencoded"
						}
						checkHeaders(t, f, r, accept)
						checkJWT(t, f, r, d.PublicKey(), t0.Unix())
					}

					// The POST: AuthPayload, then Metadata only when asked;
					// base64url and "." need no escaping in either flavor.
					post := reqs[1]
					form, err := url.ParseQuery(post.Body)
					if err != nil {
						t.Fatalf("POST body %q: %v", post.Body, err)
					}
					payload := form.Get("AuthPayload")
					wantBody := "AuthPayload=" + payload
					if withMetadata {
						wantBody += wantMetadata[f]
					}
					if post.Body != wantBody {
						t.Errorf("POST body =\n%s\nwant\n%s", post.Body, wantBody)
					}
					header, claims, sig, err := splitJWS(payload)
					if err != nil {
						t.Fatalf("AuthPayload %q: %v", payload, err)
					}
					if header != wantJWSHeader[f] {
						t.Errorf("AuthPayload header = %s, want %s", header, wantJWSHeader[f])
					}
					if w := fmt.Sprintf(wantPayload[f], a.status); claims != w {
						t.Errorf("AuthPayload payload =\n%s\nwant\n%s", claims, w)
					}
					digest := sha256.Sum256([]byte(payload[:strings.LastIndexByte(payload, '.')]))
					if len(sig) != 64 || !ecdsa.Verify(d.PublicKey(), digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
						t.Errorf("AuthPayload signature (%d bytes) does not verify as raw R||S with the device's key", len(sig))
					}
				})
			}
		}
	}
}

func TestAnswerRefused(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *fakeChallenge)
		// override answers request n (0: the fetch, 1: the POST).
		override func(fv *fakeVerify) func(http.ResponseWriter, *http.Request, int) bool
		sid      string
		wantErr  map[device.Flavor]error
		wantCode int // a *device.Error with this code
		wantReqs int
	}{
		{name: "expired", edit: func(c *fakeChallenge) { c.set("status", `"expired"`) }, wantErr: both(device.ErrChallengeExpired), wantReqs: 1},
		{name: "approved", edit: func(c *fakeChallenge) { c.set("status", `"approved"`) }, wantErr: both(device.ErrChallengeResponded), wantReqs: 1},
		{name: "denied", edit: func(c *fakeChallenge) { c.set("status", `"denied"`) }, wantErr: both(device.ErrChallengeResponded), wantReqs: 1},
		{name: "no signature fields", edit: func(c *fakeChallenge) { c.header = nil }, wantErr: both(device.ErrNoSignatureFields), wantReqs: 1},
		{name: "wrong factor", edit: func(c *fakeChallenge) { c.set("factor_sid", quote(otherFactorSID)) }, wantErr: both(device.ErrWrongFactor), wantReqs: 1},
		// Android reads an unknown status as expired; iOS cannot decode it.
		{name: "unknown status", edit: func(c *fakeChallenge) { c.set("status", `"canceled"`) },
			wantErr: map[device.Flavor]error{device.Android: device.ErrChallengeExpired, device.IOS: errMapping}, wantReqs: 1},
		{name: "not found", sid: "YC00000000000000000000000000000000", wantCode: 20404, wantReqs: 1},
		{name: "server refuses the signature", override: func(fv *fakeVerify) func(http.ResponseWriter, *http.Request, int) bool {
			return func(w http.ResponseWriter, r *http.Request, n int) bool {
				if r.Method != http.MethodPost {
					return false
				}
				fv.twilioError(w, http.StatusForbidden, 60324, true)
				return true
			}
		}, wantCode: 60324, wantReqs: 2},
		{name: "answer not applied", edit: func(c *fakeChallenge) { c.stuck = true }, wantErr: both(device.ErrNotUpdated), wantReqs: 3},
	}
	for _, f := range flavors {
		for _, tc := range tests {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				fv := newFakeVerify(t)
				d := fv.enrolled(t, f)
				edits := []func(*fakeChallenge){}
				if tc.edit != nil {
					edits = append(edits, tc.edit)
				}
				fv.addChallenge(challengeSID, edits...)
				if tc.override != nil {
					fv.override = tc.override(fv)
				}
				sid := challengeSID
				if tc.sid != "" {
					sid = tc.sid
				}
				fv.take()
				got, err := d.Approve(context.Background(), sid)
				if err == nil {
					t.Fatalf("Approve() = %+v, want an error", got)
				}
				if want := tc.wantErr[f]; errors.Is(want, errMapping) {
					if errors.Is(err, device.ErrChallengeExpired) || !strings.Contains(err.Error(), "canceled") {
						t.Errorf("Approve() error = %v, want one about the status", err)
					}
				} else if want != nil && !errors.Is(err, want) {
					t.Errorf("Approve() error = %v, want %v", err, want)
				}
				if tc.wantCode != 0 {
					var derr *device.Error
					if !errors.As(err, &derr) || derr.Code != tc.wantCode {
						t.Errorf("Approve() error = %v, want a *device.Error with code %d", err, tc.wantCode)
					}
				}
				if !strings.HasPrefix(err.Error(), "device: approve "+sid+": ") {
					t.Errorf("Approve() error = %q, want it to start %q", err, "device: approve "+sid+": ")
				}
				if n := len(fv.take()); n != tc.wantReqs {
					t.Errorf("Approve() sent %d requests, want %d", n, tc.wantReqs)
				}
			})
		}
	}
}

// errMapping stands for an error in mapping the response.
var errMapping = errors.New("mapping")

// both returns err for both flavors.
func both(err error) map[device.Flavor]error {
	return map[device.Flavor]error{device.Android: err, device.IOS: err}
}

// TestTamperedAnswer posts answers that SignPayload built from edited
// fields: the server must refuse changed values, another key and a status
// other than approved or denied, and must accept the same JSON values in
// other bytes, as a real phone sends them.
func TestTamperedAnswer(t *testing.T) {
	other, err := device.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		status string
		edit   func(fields []device.PayloadField)
		signer func(d *device.Device) *device.Device
		// wantCode is the refusal's code; 0 for success.
		wantCode int
	}{
		{name: "as signed", status: "approved"},
		{name: "same values, other bytes", status: "denied", edit: func(fields []device.PayloadField) {
			for i, p := range fields {
				if p.Name == "details" {
					// org.json would write https:\/\/ too; the spaces go.
					fields[i].Value = json.RawMessage(`{"fields":[{"value":"Lisboa, PT é","label":"Location"}],"message":"Log in to https://example.com?"}`)
				}
			}
		}},
		{name: "changed message", status: "approved", edit: func(fields []device.PayloadField) {
			for i, p := range fields {
				if p.Name == "details" {
					fields[i].Value = json.RawMessage(strings.Replace(string(p.Value), "example.com", "example.org", 1))
				}
			}
		}, wantCode: 60324},
		{name: "field left out", status: "approved", edit: func(fields []device.PayloadField) {
			for i, p := range fields {
				if p.Name == "hidden_details" {
					fields[i].Name = "hidden"
				}
			}
		}, wantCode: 60324},
		{name: "status expired", status: "expired", wantCode: 60324},
		{name: "another key", status: "approved", signer: func(*device.Device) *device.Device { return other }, wantCode: 60324},
	}
	for _, f := range flavors {
		for _, tc := range tests {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				fv := newFakeVerify(t)
				d := fv.enrolled(t, f)
				fv.addChallenge(challengeSID)
				ctx := context.Background()
				c, err := d.Challenge(ctx, challengeSID)
				if err != nil {
					t.Fatal(err)
				}
				fields, err := d.AnswerFields(c, tc.status)
				if err != nil {
					t.Fatalf("AnswerFields() error: %v", err)
				}
				if tc.edit != nil {
					tc.edit(fields)
				}
				signer := d
				if tc.signer != nil {
					signer = tc.signer(d)
				}
				payload, err := signer.SignPayload(fields)
				if err != nil {
					t.Fatalf("SignPayload() error: %v", err)
				}
				body, err := d.PostAnswer(ctx, challengeSID, payload)
				if tc.wantCode == 0 {
					if err != nil {
						t.Fatalf("PostAnswer() error: %v", err)
					}
					var got struct{ Status string }
					if err := json.Unmarshal(body, &got); err != nil || got.Status != tc.status {
						t.Errorf("PostAnswer() body status = %q (%v), want %q", got.Status, err, tc.status)
					}
					return
				}
				var derr *device.Error
				if !errors.As(err, &derr) || derr.Code != tc.wantCode || derr.Status != http.StatusForbidden {
					t.Errorf("PostAnswer() error = %v, want a *device.Error 403 %d", err, tc.wantCode)
				}
			})
		}
	}
}

func TestSignAnswer(t *testing.T) {
	fv := newFakeVerify(t)
	d := fv.enrolled(t, device.Android)
	fv.addChallenge(challengeSID)
	c, err := d.Challenge(context.Background(), challengeSID)
	if err != nil {
		t.Fatal(err)
	}
	// SignAnswer is SignPayload over AnswerFields.
	payload, err := d.SignAnswer(c, "approved")
	if err != nil {
		t.Fatalf("SignAnswer() error: %v", err)
	}
	_, claims, _, err := splitJWS(payload)
	if w := fmt.Sprintf(wantPayload[device.Android], "approved"); err != nil || claims != w {
		t.Errorf("SignAnswer() payload = %s, %v; want %s", claims, err, w)
	}
	if _, err := d.PostAnswer(context.Background(), challengeSID, payload); err != nil {
		t.Errorf("PostAnswer(SignAnswer()) error: %v", err)
	}
	// A listed challenge has no signature fields to sign.
	list, err := d.Challenges(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("Challenges() = %d, %v; want 1", len(list), err)
	}
	if _, err := d.SignAnswer(&list[0], "approved"); !errors.Is(err, device.ErrNoSignatureFields) {
		t.Errorf("SignAnswer(listed challenge) error = %v, want ErrNoSignatureFields", err)
	}
	// Repeated names and a listed status stay where they first came, as in
	// an org.json object; names are escaped as strings are.
	c.SignatureFields = []string{"status", "sid", "sid"}
	fields, err := d.AnswerFields(c, "denied")
	if err != nil {
		t.Fatal(err)
	}
	want := []device.PayloadField{{Name: "status", Value: json.RawMessage(`"denied"`)}, {Name: "sid", Value: json.RawMessage(quote(challengeSID))}}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("AnswerFields() mismatch (-want +got):\n%s", diff)
	}
	payload, err = d.SignPayload([]device.PayloadField{{Name: "a/b", Value: json.RawMessage(`{"x": [1, 2.50]}`)}, {Name: "bad", Value: json.RawMessage(`{`)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, claims, _, _ := splitJWS(payload); claims != `{"a\/b":{"x": [1, 2.50]},"bad":{}` {
		t.Errorf("SignPayload() payload = %s, want the values as given", claims)
	}
}

func TestChallenges(t *testing.T) {
	// The query as each flavor orders and spells it.
	wantQuery := map[device.Flavor][2]string{
		device.Android: {
			"PageSize=2&FactorSid=" + factorSID + "&Order=asc",
			"PageSize=2&FactorSid=" + factorSID + "&Order=desc&Status=pending&PageToken=PT2",
		},
		device.IOS: {
			"FactorSid=" + factorSID + "&PageSize=2&Order=asc",
			"FactorSid=" + factorSID + "&PageSize=2&Order=desc&Status=pending&pageToken=PT2",
		},
	}
	sids := []string{
		"YC00000000000000000000000000000001",
		"YC00000000000000000000000000000002",
		"YC00000000000000000000000000000003",
		"YC00000000000000000000000000000004",
		"YC00000000000000000000000000000005",
	}
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			d := fv.enrolled(t, f)
			for i, sid := range sids {
				fv.addChallenge(sid, func(c *fakeChallenge) {
					if i == 2 {
						c.set("status", `"approved"`)
					}
				})
			}
			fv.addChallenge("YC00000000000000000000000000000009", func(c *fakeChallenge) { c.set("factor_sid", quote(otherFactorSID)) })
			ctx := context.Background()
			fv.take()

			p, err := d.ListChallenges(ctx, device.ListPageSize(2))
			if err != nil {
				t.Fatalf("ListChallenges() error: %v", err)
			}
			if p.Page != 0 || p.PageSize != 2 || p.NextPageToken != "PT2" || p.PreviousPageToken != "" || len(p.Challenges) != 2 || p.Challenges[0].SID != sids[0] {
				t.Errorf("ListChallenges() = page %d size %d next %q previous %q, %d challenges; want 0, 2, PT2, none, 2", p.Page, p.PageSize, p.NextPageToken, p.PreviousPageToken, len(p.Challenges))
			}
			if p.Challenges[0].SignatureFields != nil || p.Challenges[0].Status != "pending" {
				t.Errorf("a listed pending challenge = %+v, want no signature fields", p.Challenges[0])
			}
			reqs := fv.take()
			if len(reqs) != 1 || reqs[0].Method != http.MethodGet || reqs[0].Path != entityPath+"/Challenges" || reqs[0].RawQuery != wantQuery[f][0] || reqs[0].Body != "" {
				t.Fatalf("ListChallenges() sent %+v, want one GET with query %s", reqs, wantQuery[f][0])
			}
			checkHeaders(t, f, reqs[0], "application/x-www-form-urlencoded")
			checkJWT(t, f, reqs[0], d.PublicKey(), t0.Unix())

			p, err = d.ListChallenges(ctx, device.ListPageSize(2), device.ListOrder("desc"), device.ListStatus("pending"), device.ListPageToken("PT2"))
			if err != nil {
				t.Fatalf("ListChallenges(desc, pending, PT2) error: %v", err)
			}
			if got := sidsOf(p.Challenges); !slices.Equal(got, []string{sids[1], sids[0]}) || p.PreviousPageToken != "PT0" || p.NextPageToken != "" {
				t.Errorf("ListChallenges(desc, pending, PT2) = %q previous %q next %q, want %q, PT0, none", got, p.PreviousPageToken, p.NextPageToken, []string{sids[1], sids[0]})
			}
			if reqs := fv.take(); len(reqs) != 1 || reqs[0].RawQuery != wantQuery[f][1] {
				t.Errorf("ListChallenges(desc, pending, PT2) query = %q, want %s", reqs[0].RawQuery, wantQuery[f][1])
			}

			for _, tc := range []struct {
				name     string
				opts     []device.ListOption
				want     []string
				wantReqs int
			}{
				{"every page", []device.ListOption{device.ListPageSize(2)}, sids, 3},
				{"one page of 50", nil, sids, 1},
				{"limit", []device.ListOption{device.ListPageSize(2), device.ListLimit(3)}, sids[:3], 2},
				{"limit at a page end", []device.ListOption{device.ListPageSize(2), device.ListLimit(2)}, sids[:2], 1},
				{"newest first", []device.ListOption{device.ListPageSize(4), device.ListOrder("desc")}, []string{sids[4], sids[3], sids[2], sids[1], sids[0]}, 2},
				{"approved", []device.ListOption{device.ListStatus("approved")}, sids[2:3], 1},
				{"expired", []device.ListOption{device.ListStatus("expired")}, nil, 1},
			} {
				got, err := d.Challenges(ctx, tc.opts...)
				if err != nil {
					t.Errorf("Challenges(%s) error: %v", tc.name, err)
					continue
				}
				if !slices.Equal(sidsOf(got), tc.want) {
					t.Errorf("Challenges(%s) = %q, want %q", tc.name, sidsOf(got), tc.want)
				}
				if n := len(fv.take()); n != tc.wantReqs {
					t.Errorf("Challenges(%s) sent %d requests, want %d", tc.name, n, tc.wantReqs)
				}
			}

			for _, opt := range []device.ListOption{device.ListOrder("ASC"), device.ListStatus("open"), device.ListPageSize(0), device.ListLimit(-1)} {
				if _, err := d.Challenges(ctx, opt); err == nil {
					t.Errorf("Challenges(bad option) = nil error, want one")
				}
			}
			if n := len(fv.take()); n != 0 {
				t.Errorf("bad options sent %d requests, want none", n)
			}
		})
	}
}

func sidsOf(cs []device.Challenge) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.SID)
	}
	return out
}

func TestChallengesPageTokenRepeats(t *testing.T) {
	fv := newFakeVerify(t)
	d := fv.enrolled(t, device.IOS)
	fv.take()
	fv.override = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		next := quote(fv.srv.URL + entityPath + "/Challenges?PageSize=50&Page=1&PageToken=PTloop")
		fv.writeJSON(w, http.StatusOK, `{"challenges":[],"meta":{"page":0,"page_size":50,"next_page_url":`+next+`}}`)
		return true
	}
	_, err := d.Challenges(context.Background())
	if err == nil || !strings.Contains(err.Error(), `page token "PTloop" came back twice`) {
		t.Errorf("Challenges() error = %v, want the repeated token", err)
	}
	if n := len(fv.take()); n != 2 {
		t.Errorf("Challenges() sent %d requests, want 2", n)
	}
}

// TestChallengeClockSkew checks that the challenge requests answer a 401
// with Date as the SDKs do: correct the clock and retry once.
func TestChallengeClockSkew(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			d := fv.enrolled(t, f)
			fv.addChallenge(challengeSID)
			fv.take()
			fv.now = func() time.Time { return t0.Add(time.Hour) }
			if _, err := d.Approve(context.Background(), challengeSID); err != nil {
				t.Fatalf("Approve() error: %v", err)
			}
			reqs := fv.take()
			if len(reqs) != 4 {
				t.Fatalf("Approve() sent %d requests, want 4 (a refused GET, then GET, POST, GET)", len(reqs))
			}
			checkJWT(t, f, reqs[0], d.PublicKey(), t0.Unix())
			for _, r := range reqs[1:] {
				checkJWT(t, f, r, d.PublicKey(), t0.Add(time.Hour).Unix())
			}
		})
	}
}

func TestChallengeNotEnrolled(t *testing.T) {
	fv := newFakeVerify(t)
	d := fv.newDevice(t, device.Android)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"Challenge":      func() error { _, err := d.Challenge(ctx, challengeSID); return err },
		"ListChallenges": func() error { _, err := d.ListChallenges(ctx); return err },
		"Challenges":     func() error { _, err := d.Challenges(ctx); return err },
		"Approve":        func() error { _, err := d.Approve(ctx, challengeSID); return err },
		"Deny":           func() error { _, err := d.Deny(ctx, challengeSID); return err },
		"PostAnswer":     func() error { _, err := d.PostAnswer(ctx, challengeSID, "x.y.z"); return err },
	} {
		if err := call(); !errors.Is(err, device.ErrNotEnrolled) {
			t.Errorf("%s() error = %v, want ErrNotEnrolled", name, err)
		}
	}
	if n := len(fv.take()); n != 0 {
		t.Errorf("a device without a factor sent %d requests, want none", n)
	}
	d = fv.enrolled(t, device.Android)
	if _, err := d.Challenge(ctx, ""); err == nil || !strings.Contains(err.Error(), "empty challenge sid") {
		t.Errorf("Challenge(\"\") error = %v, want empty challenge sid", err)
	}
}

// TestChallengeResponse checks that the Device maps a challenge as the SDK
// of its flavor does: what it requires, and where the two differ.
func TestChallengeResponse(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *fakeChallenge)
		wantErr map[device.Flavor]bool
	}{
		{"good", func(*fakeChallenge) {}, nil},
		{"no sid", func(c *fakeChallenge) { c.del("sid") }, bothTrue},
		{"null factor_sid", func(c *fakeChallenge) { c.set("factor_sid", "null") }, bothTrue},
		{"sid a number", func(c *fakeChallenge) { c.set("sid", "7") }, bothTrue},
		{"no status", func(c *fakeChallenge) { c.del("status") }, bothTrue},
		{"no expiration_date", func(c *fakeChallenge) { c.del("expiration_date") }, bothTrue},
		{"no date_created", func(c *fakeChallenge) { c.del("date_created") }, bothTrue},
		{"no date_updated", func(c *fakeChallenge) { c.del("date_updated") }, bothTrue},
		{"no details", func(c *fakeChallenge) { c.del("details") }, bothTrue},
		{"details a string", func(c *fakeChallenge) { c.set("details", `"hello"`) }, bothTrue},
		{"no details.message", func(c *fakeChallenge) { c.set("details", `{"fields":[]}`) }, bothTrue},
		{"details.fields an object", func(c *fakeChallenge) { c.set("details", `{"message":"m","fields":{}}`) }, bothTrue},
		{"details.fields null", func(c *fakeChallenge) { c.set("details", `{"message":"m","fields":null}`) }, nil},
		{"a field without value", func(c *fakeChallenge) { c.set("details", `{"message":"m","fields":[{"label":"l"}]}`) }, bothTrue},
		{"fractional seconds", func(c *fakeChallenge) { c.set("date_created", `"2026-03-14T15:09:26.5Z"`) }, bothTrue},
		{"negative offset", func(c *fakeChallenge) { c.set("expiration_date", `"2026-03-14T10:14:26-05:00"`) }, nil},
		{"positive offset", func(c *fakeChallenge) { c.set("date_updated", `"2026-03-14T16:09:26+01:00"`) }, map[device.Flavor]bool{device.Android: true}},
		{"details.date", func(c *fakeChallenge) { c.set("details", `{"message":"m","date":"2026-03-14T15:09:26Z"}`) }, nil},
		{"bad details.date", func(c *fakeChallenge) { c.set("details", `{"message":"m","date":"yesterday"}`) }, map[device.Flavor]bool{device.Android: true}},
		{"unknown status", func(c *fakeChallenge) { c.set("status", `"canceled"`) }, map[device.Flavor]bool{device.IOS: true}},
		{"hidden_details null", func(c *fakeChallenge) { c.set("hidden_details", "null") }, nil},
		{"hidden_details a number", func(c *fakeChallenge) { c.set("hidden_details", `{"n":5}`) }, map[device.Flavor]bool{device.IOS: true}},
		{"hidden_details a string", func(c *fakeChallenge) { c.set("hidden_details", `"ip"`) }, map[device.Flavor]bool{device.IOS: true}},
		{"date_responded garbage", func(c *fakeChallenge) { c.set("date_responded", `"later"`) }, nil},
	}
	for _, f := range flavors {
		for _, tc := range tests {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				fv := newFakeVerify(t)
				d := fv.enrolled(t, f)
				fv.addChallenge(challengeSID, tc.edit)
				got, err := d.Challenge(context.Background(), challengeSID)
				if tc.wantErr[f] {
					if err == nil {
						t.Errorf("Challenge() = %+v, want an error", got)
					}
					return
				}
				if err != nil {
					t.Errorf("Challenge() error: %v", err)
				}
			})
		}
	}
	t.Run("not JSON", func(t *testing.T) {
		fv := newFakeVerify(t)
		d := fv.enrolled(t, device.Android)
		fv.override = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
			fv.writeJSON(w, http.StatusOK, "<html>")
			return true
		}
		if _, err := d.Challenge(context.Background(), challengeSID); err == nil {
			t.Errorf("Challenge() of <html> = nil error, want one")
		}
	})
	t.Run("values", func(t *testing.T) {
		fv := newFakeVerify(t)
		d := fv.enrolled(t, device.Android)
		fv.addChallenge(challengeSID, func(c *fakeChallenge) {
			c.set("status", `"canceled"`)
			c.set("details", `{"message":"m","date":"2026-03-14T15:09:26Z"}`)
			c.set("hidden_details", `{"n":5, "o": {"a": 1}}`)
			c.set("date_responded", `"2026-03-14T15:09:46Z"`)
		})
		got, err := d.Challenge(context.Background(), challengeSID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "expired" || !got.Details.Date.Equal(t0) || got.Details.Fields != nil || !got.DateResponded.Equal(t0.Add(20*time.Second)) ||
			!reflect.DeepEqual(got.HiddenDetails, map[string]string{"n": "5", "o": `{"a":1}`}) {
			t.Errorf("Challenge() = %+v; want status expired, details.date t0, no fields, date_responded t0+20s, hidden_details as text", got)
		}
	})
}

var bothTrue = map[device.Flavor]bool{device.Android: true, device.IOS: true}
