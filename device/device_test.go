package device_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/internal/token"
)

// The identifiers the fake server deals in.
const (
	serviceSID    = "VA0123456789abcdef0123456789abcdef"
	accountSID    = "AC0123456789abcdef0123456789abcdef"
	factorSID     = "YF0123456789abcdef0123456789abcdef"
	credentialSID = "CR0123456789abcdef0123456789abcdef"
	identity      = "ff483d1ff591898a9942916050d2ca3f"
	accessToken   = "eyJ6aXAiOiJERUYiLCJraWQiOiJrIiwiY3R5IjoidHdpbGlvLWZwYTt2PTEiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiZGlyIn0..aXYtaXYtaXYtaXY.Y2lwaGVy.dGFndGFndGFndGFn"
	fcmToken      = "fcm-registration-token-0123456789abcdef"
)

// entityPath is the path of the entity the fake server serves.
const entityPath = "/v2/Services/" + serviceSID + "/Entities/" + identity

// t0 is the time on the device's clock, and by default on the server's.
var t0 = time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)

// recorded is a request as the fake server received it.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// fakeVerify is the part of Twilio Verify that the SDKs call, checked with
// internal/token: it enrolls one factor, verifies it, updates and deletes
// it, and records every request it gets.
type fakeVerify struct {
	t   *testing.T
	srv *httptest.Server
	// now is the server's clock; leeway what it allows a JWT's nbf and exp.
	now    func() time.Time
	leeway time.Duration
	// credentialSID is the config.credential_sid it hands out.
	credentialSID string
	// override, when set, answers request number n (from 0) instead of the
	// fake when it returns true.
	override func(w http.ResponseWriter, r *http.Request, n int) bool

	mu       sync.Mutex
	requests []recorded
	pub      *ecdsa.PublicKey
	status   string
	platform string
	token    *string
	// challenges are the challenges it serves (challenge_test.go), in the
	// order they were added.
	challenges []*fakeChallenge
}

func newFakeVerify(t *testing.T) *fakeVerify {
	fv := &fakeVerify{t: t, now: func() time.Time { return t0 }, credentialSID: credentialSID}
	fv.srv = httptest.NewServer(http.HandlerFunc(fv.serve))
	t.Cleanup(fv.srv.Close)
	return fv
}

// newDevice returns a Device of flavor f that talks to fv, on clock t0.
func (fv *fakeVerify) newDevice(t *testing.T, f device.Flavor, opts ...device.Option) *device.Device {
	t.Helper()
	opts = append([]device.Option{
		device.WithFlavor(f),
		device.WithBaseURL(fv.srv.URL),
		device.WithHTTPClient(fv.srv.Client()),
		device.WithClock(func() time.Time { return t0 }),
	}, opts...)
	d, err := device.New(opts...)
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	return d
}

// enrolled returns a Device of flavor f that enrolled with fv.
func (fv *fakeVerify) enrolled(t *testing.T, f device.Flavor, opts ...device.Option) *device.Device {
	t.Helper()
	d := fv.newDevice(t, f, opts...)
	if _, err := d.Enroll(context.Background(), serviceSID, identity, accessToken); err != nil {
		t.Fatalf("Enroll() error: %v", err)
	}
	return d
}

// take returns the requests recorded so far and forgets them.
func (fv *fakeVerify) take() []recorded {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	r := fv.requests
	fv.requests = nil
	return r
}

// twilioError writes a Twilio error response, with a Date from the
// server's clock when date is set and none at all otherwise.
func (fv *fakeVerify) twilioError(w http.ResponseWriter, status, code int, date bool) {
	if date {
		w.Header().Set("Date", fv.now().UTC().Format(http.TimeFormat))
	} else {
		w.Header()["Date"] = nil // net/http would add one
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := fmt.Fprintf(w, `{"code":%d,"message":"error %d","more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, code, code, status); err != nil {
		fv.t.Errorf("write error response: %v", err)
	}
}

func (fv *fakeVerify) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fv.t.Errorf("read request body: %v", err)
	}
	fv.mu.Lock()
	n := len(fv.requests)
	fv.requests = append(fv.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
	fv.mu.Unlock()
	if fv.override != nil && fv.override(w, r, n) {
		return
	}
	base := entityPath + "/Factors"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == base:
		fv.create(w, r, string(body))
	case r.URL.Path == base+"/"+factorSID && (r.Method == http.MethodPost || r.Method == http.MethodDelete):
		fv.instance(w, r, string(body))
	case strings.HasPrefix(r.URL.Path, entityPath+"/Challenges"):
		fv.challenge(w, r, string(body))
	default:
		fv.twilioError(w, http.StatusNotFound, 20404, true)
	}
}

func (fv *fakeVerify) create(w http.ResponseWriter, r *http.Request, body string) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "token" || pass != accessToken {
		fv.twilioError(w, http.StatusUnauthorized, 20003, true)
		return
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		fv.twilioError(w, http.StatusBadRequest, 60200, true)
		return
	}
	pub, _, err := token.ParsePublicKey(form.Get("Binding.PublicKey"))
	if err != nil {
		fv.twilioError(w, http.StatusBadRequest, 60385, true)
		return
	}
	fv.mu.Lock()
	fv.pub, fv.status, fv.platform = pub, "unverified", form.Get("Config.NotificationPlatform")
	fv.token = nil
	if v, ok := form["Config.NotificationToken"]; ok {
		fv.token = &v[0]
	}
	fv.mu.Unlock()
	fv.factorJSON(w, http.StatusCreated, form.Get("FriendlyName"))
}

// authDevice checks the request's device JWT against the enrolled key and
// returns the key, or answers 401 · 20003 with a Date and returns nil.
func (fv *fakeVerify) authDevice(w http.ResponseWriter, r *http.Request) *ecdsa.PublicKey {
	user, jwt, ok := r.BasicAuth()
	fv.mu.Lock()
	pub := fv.pub
	fv.mu.Unlock()
	if !ok || user != "token" || pub == nil {
		fv.twilioError(w, http.StatusUnauthorized, 20003, true)
		return nil
	}
	j, err := token.ParseDeviceJWT(jwt)
	if err == nil && j.KeyID != fv.credentialSID {
		err = errors.New("unknown kid")
	}
	if err == nil {
		err = j.Verify(pub, fv.now(), fv.leeway)
	}
	if err == nil && j.Subject != accountSID {
		err = errors.New("wrong sub")
	}
	if err != nil {
		fv.twilioError(w, http.StatusUnauthorized, 20003, true)
		return nil
	}
	return pub
}

// instance serves UpdateFactor and DeleteFactor with device JWT auth.
func (fv *fakeVerify) instance(w http.ResponseWriter, r *http.Request, body string) {
	pub := fv.authDevice(w, r)
	if pub == nil {
		return
	}
	if r.Method == http.MethodDelete {
		fv.mu.Lock()
		fv.pub = nil
		fv.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		fv.twilioError(w, http.StatusBadRequest, 60200, true)
		return
	}
	fv.mu.Lock()
	if p, ok := form["AuthPayload"]; ok {
		if !token.VerifyFactorSignature(pub, factorSID, p[0]) {
			fv.mu.Unlock()
			fv.twilioError(w, http.StatusForbidden, 60311, true)
			return
		}
		fv.status = "verified"
	}
	if p, ok := form["Config.NotificationPlatform"]; ok {
		fv.platform, fv.token = p[0], nil
		if v, ok := form["Config.NotificationToken"]; ok {
			fv.token = &v[0]
		}
	}
	fv.mu.Unlock()
	fv.factorJSON(w, http.StatusOK, "verifykit device")
}

// factorJSON writes the factor as Twilio does, credential_sid included.
func (fv *fakeVerify) factorJSON(w http.ResponseWriter, status int, friendlyName string) {
	fv.mu.Lock()
	f := map[string]any{
		"sid": factorSID, "account_sid": accountSID, "service_sid": serviceSID,
		"entity_sid": "YE0123456789abcdef0123456789abcdef", "identity": identity,
		"date_created": "2026-03-14T15:09:26Z", "date_updated": "2026-03-14T15:09:26Z",
		"friendly_name": friendlyName, "status": fv.status, "factor_type": "push",
		"config": map[string]any{
			"sdk_version": "0.9.0", "app_id": "com.verifykit.device",
			"notification_platform": fv.platform, "notification_token": fv.token,
			"credential_sid": fv.credentialSID,
		},
		"metadata": nil,
		"url":      fv.srv.URL + "/v2/Services/" + serviceSID + "/Entities/" + identity + "/Factors/" + factorSID,
	}
	fv.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(f); err != nil {
		fv.t.Errorf("encode factor: %v", err)
	}
}

// The byte formats of the two SDKs that the tests pin.
type sdkFormat struct {
	userAgent string
	platform  string
	// formValue encodes a Base64 value (a key or a signature) as the SDK
	// writes it into a form: Android escapes "+", "/" and "=", iOS only
	// "+".
	formValue func(string) string
	// header and claims are the JSON of a device JWT, byte for byte.
	header func(kid string) string
	claims func(nbf int64) string
	// createBody and updateBody are the form bodies, byte for byte.
	createBody func(publicKey string) string
	updateBody func(platform, token string) string
}

var formats = map[device.Flavor]sdkFormat{
	device.Android: {
		userAgent: "VerifyKit Device; Android; 1.0; 1; Android 15 (35); verifykit; VerifySDK; 0.9.0; 2013",
		platform:  "fcm",
		formValue: strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace,
		header: func(kid string) string {
			return `{"cty":"twilio-pba;v=1","kid":"` + kid + `","typ":"JWT","alg":"ES256"}`
		},
		claims: func(nbf int64) string {
			return fmt.Sprintf(`{"sub":"%s","exp":%d,"nbf":%d}`, accountSID, nbf+600, nbf)
		},
		createBody: func(pk string) string {
			return "FriendlyName=verifykit%20device&FactorType=push&Binding.PublicKey=" + pk +
				"&Binding.Alg=ES256&Config.SdkVersion=0.9.0&Config.AppId=com.verifykit.device" +
				"&Config.NotificationPlatform=fcm&Config.NotificationToken=" + fcmToken
		},
		updateBody: func(platform, token string) string {
			b := "FriendlyName=verifykit%20device&Config.SdkVersion=0.9.0&Config.AppId=com.verifykit.device&Config.NotificationPlatform=" + platform
			if platform != "none" {
				b += "&Config.NotificationToken=" + token
			}
			return b
		},
	},
	device.IOS: {
		userAgent: "VerifyKit Device; iOS; 1.0; 1; iOS 18.5; iPhone; TwilioVerify; 3.0.2; 1",
		platform:  "apn",
		formValue: strings.NewReplacer("+", "%2B").Replace,
		header: func(kid string) string {
			return `{"alg":"ES256","cty":"twilio-pba;v=1","kid":"` + kid + `","typ":"JWT"}`
		},
		claims: func(nbf int64) string {
			return fmt.Sprintf(`{"exp":%d,"nbf":%d,"sub":"%s"}`, nbf+600, nbf, accountSID)
		},
		createBody: func(pk string) string {
			return "FriendlyName=verifykit%20device&FactorType=push&Binding.Alg=ES256&Binding.PublicKey=" + pk +
				"&Config.AppId=com.verifykit.device&Config.NotificationPlatform=apn" +
				"&Config.NotificationToken=" + fcmToken + "&Config.SdkVersion=3.0.2"
		},
		updateBody: func(platform, token string) string {
			b := "FriendlyName=verifykit%20device&Config.AppId=com.verifykit.device&Config.NotificationPlatform=" + platform
			if platform != "none" {
				b += "&Config.NotificationToken=" + token
			}
			return b + "&Config.SdkVersion=3.0.2"
		},
	},
}

var flavors = []device.Flavor{device.Android, device.IOS}

// checkHeaders checks the headers every SDK request carries.
func checkHeaders(t *testing.T, f device.Flavor, req recorded, accept string) {
	t.Helper()
	for name, want := range map[string]string{
		"User-Agent":   formats[f].userAgent,
		"Accept":       accept,
		"Content-Type": "application/x-www-form-urlencoded",
	} {
		if got := req.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s %s: %s = %q, want %q", req.Method, req.Path, name, got, want)
		}
	}
}

// checkJWT checks that req carries, as Basic token:<jwt>, a device JWT with
// the flavor's exact header and claims for nbf, signed by pub, and returns
// it.
func checkJWT(t *testing.T, f device.Flavor, req recorded, pub *ecdsa.PublicKey, nbf int64) token.DeviceJWT {
	t.Helper()
	r := http.Request{Header: req.Header}
	user, jwt, ok := r.BasicAuth()
	if !ok || user != "token" {
		t.Fatalf("%s %s: Authorization %q, want Basic with user token", req.Method, req.Path, req.Header.Get("Authorization"))
	}
	j, err := token.ParseDeviceJWT(jwt)
	if err != nil {
		t.Fatalf("%s %s: ParseDeviceJWT(%q) error: %v", req.Method, req.Path, jwt, err)
	}
	if err := j.Verify(pub, time.Unix(nbf, 0), 0); err != nil {
		t.Errorf("%s %s: Verify(%q) error: %v", req.Method, req.Path, jwt, err)
	}
	parts := strings.Split(jwt, ".")
	for i, want := range []string{formats[f].header(credentialSID), formats[f].claims(nbf)} {
		got, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || string(got) != want {
			t.Errorf("%s %s: JWT part %d = %q, %v; want %q", req.Method, req.Path, i+1, got, err, want)
		}
	}
	return j
}

// formValue returns the value of the only field of body, which must be name.
func onlyField(t *testing.T, body, name string) string {
	t.Helper()
	form, err := url.ParseQuery(body)
	if err != nil || len(form) != 1 || len(form[name]) != 1 {
		t.Fatalf("body %q: want the one field %s", body, name)
	}
	return form.Get(name)
}

func TestEnrollAndVerify(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			d := fv.newDevice(t, f, device.WithPushToken("", fcmToken))
			ctx := context.Background()

			got, err := d.Enroll(ctx, serviceSID, identity, accessToken)
			if err != nil {
				t.Fatalf("Enroll() error: %v", err)
			}
			want := &device.Factor{
				SID: factorSID, ServiceSID: serviceSID, Identity: identity, AccountSID: accountSID,
				CredentialSID: credentialSID, FriendlyName: "verifykit device", Status: "unverified",
				NotificationPlatform: formats[f].platform,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Enroll() mismatch (-want +got):\n%s", diff)
			}
			reqs := fv.take()
			if len(reqs) != 1 {
				t.Fatalf("Enroll() sent %d requests, want 1", len(reqs))
			}
			create := reqs[0]
			checkHeaders(t, f, create, "application/json")
			if got, want := create.Header.Get("Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("token:"+accessToken)); got != want {
				t.Errorf("Enroll() Authorization = %q, want %q", got, want)
			}
			// The public key: Base64 of the 91-byte DER SubjectPublicKeyInfo,
			// escaped into the form as the flavor escapes it.
			pk := d.PublicKeyBase64()
			if _, der, err := token.ParsePublicKey(pk); err != nil || len(der) != 91 || !strings.HasPrefix(pk, "MFkw") {
				t.Errorf("PublicKeyBase64() = %q (%d bytes), %v; want a DER SubjectPublicKeyInfo, 91 bytes", pk, len(der), err)
			}
			if got, want := create.Body, formats[f].createBody(formats[f].formValue(pk)); got != want {
				t.Errorf("Enroll() body =\n%s\nwant\n%s", got, want)
			}

			got, err = d.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify() error: %v", err)
			}
			want.Status = "verified"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify() mismatch (-want +got):\n%s", diff)
			}
			reqs = fv.take()
			if len(reqs) != 1 {
				t.Fatalf("Verify() sent %d requests, want 1", len(reqs))
			}
			verify := reqs[0]
			checkHeaders(t, f, verify, "application/json")
			checkJWT(t, f, verify, d.PublicKey(), t0.Unix())
			// AuthPayload: standard Base64 of a DER signature of the factor
			// SID, the only field.
			payload := onlyField(t, verify.Body, "AuthPayload")
			if got, want := verify.Body, "AuthPayload="+formats[f].formValue(payload); got != want {
				t.Errorf("Verify() body = %q, want %q", got, want)
			}
			sig, err := base64.StdEncoding.DecodeString(payload)
			if err != nil || sig[0] != 0x30 || !token.VerifyFactorSignature(d.PublicKey(), factorSID, payload) {
				t.Errorf("Verify() AuthPayload %q: want standard Base64 of a DER signature of %s", payload, factorSID)
			}
		})
	}
}

func TestUpdatePushToken(t *testing.T) {
	tests := []struct {
		name            string
		platform, token string
		wantPlatform    string
	}{
		{"token, platform of the flavor", "", "new-token-0123456789abcdef0123456789", ""},
		{"no token", "", "", "none"},
		{"platform none drops the token", "none", "new-token-0123456789abcdef0123456789", "none"},
		{"explicit platform", "apn", "new-token-0123456789abcdef0123456789", "apn"},
	}
	for _, f := range flavors {
		for _, tc := range tests {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				fv := newFakeVerify(t)
				d := fv.enrolled(t, f)
				fv.take()
				got, err := d.UpdatePushToken(context.Background(), tc.platform, tc.token)
				if err != nil {
					t.Fatalf("UpdatePushToken(%q, %q) error: %v", tc.platform, tc.token, err)
				}
				wantPlatform := tc.wantPlatform
				if wantPlatform == "" {
					wantPlatform = formats[f].platform
				}
				if got.NotificationPlatform != wantPlatform {
					t.Errorf("UpdatePushToken(%q, %q) platform = %q, want %q", tc.platform, tc.token, got.NotificationPlatform, wantPlatform)
				}
				reqs := fv.take()
				if len(reqs) != 1 {
					t.Fatalf("UpdatePushToken() sent %d requests, want 1", len(reqs))
				}
				checkHeaders(t, f, reqs[0], "application/json")
				checkJWT(t, f, reqs[0], d.PublicKey(), t0.Unix())
				if got, want := reqs[0].Body, formats[f].updateBody(wantPlatform, tc.token); got != want {
					t.Errorf("UpdatePushToken(%q, %q) body =\n%s\nwant\n%s", tc.platform, tc.token, got, want)
				}
			})
		}
	}
}

func TestEnrollWithoutPushToken(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			fv.enrolled(t, f)
			form, err := url.ParseQuery(fv.take()[0].Body)
			if err != nil {
				t.Fatalf("ParseQuery() error: %v", err)
			}
			if got := form.Get("Config.NotificationPlatform"); got != "none" {
				t.Errorf("Config.NotificationPlatform = %q, want none", got)
			}
			if _, ok := form["Config.NotificationToken"]; ok {
				t.Errorf("Config.NotificationToken sent with platform none: %q", form["Config.NotificationToken"])
			}
		})
	}
}

// TestFormEscaping pins how each SDK escapes form values: Android escapes
// all but letters, digits and _-!.~'()*, iOS leaves & = ; / raw, so that
// an & in a value splits it on the wire, and a ; makes Go's url.ParseQuery
// refuse the body (the fake server then answers 400).
func TestFormEscaping(t *testing.T) {
	const name = "Tom & Jerry=phone; a/b+c ü"
	want := map[device.Flavor]string{
		device.Android: "FriendlyName=Tom%20%26%20Jerry%3Dphone%3B%20a%2Fb%2Bc%20%C3%BC&FactorType=push&",
		device.IOS:     "FriendlyName=Tom%20&%20Jerry=phone;%20a/b%2Bc%20%C3%BC&FactorType=push&",
	}
	wantErr := map[device.Flavor]bool{device.IOS: true}
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			d := fv.newDevice(t, f, device.WithFriendlyName(name))
			_, err := d.Enroll(context.Background(), serviceSID, identity, accessToken)
			if (err != nil) != wantErr[f] {
				t.Errorf("Enroll(FriendlyName %q) error = %v, want an error: %t", name, err, wantErr[f])
			}
			if body := fv.take()[0].Body; !strings.HasPrefix(body, want[f]) {
				t.Errorf("Enroll(FriendlyName %q) body = %q, want it to start %q", name, body, want[f])
			}
		})
	}
}

// TestSlashEscaping pins "\/" in the SDKs' JSON: in the Metadata field and
// in a device JWT, whose signature covers the escaped bytes.
func TestSlashEscaping(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			fv.credentialSID = "CR/slash"
			d := fv.enrolled(t, f, device.WithMetadata(map[string]string{"url": "https://x/y", "os": "Android"}))
			form, err := url.ParseQuery(fv.take()[0].Body)
			if err != nil {
				t.Fatalf("ParseQuery() error: %v", err)
			}
			if got, want := form.Get("Metadata"), `{"os":"Android","url":"https:\/\/x\/y"}`; got != want {
				t.Errorf("Metadata = %q, want %q", got, want)
			}
			// The fake verifies the JWT over the bytes as sent.
			if _, err := d.Verify(context.Background()); err != nil {
				t.Fatalf("Verify() error: %v", err)
			}
			jwt := checkJWTHeaderRaw(t, fv.take()[0])
			if want := `"kid":"CR\/slash"`; !strings.Contains(jwt, want) {
				t.Errorf("JWT header %s, want it to contain %s", jwt, want)
			}
		})
	}
}

// checkJWTHeaderRaw returns the decoded header of req's device JWT.
func checkJWTHeaderRaw(t *testing.T, req recorded) string {
	t.Helper()
	_, jwt, _ := (&http.Request{Header: req.Header}).BasicAuth()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatalf("decode JWT header: %v", err)
	}
	return string(h)
}

func TestJWT(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			d := fv.newDevice(t, f)
			if _, err := d.JWT(t0); !errors.Is(err, device.ErrNotEnrolled) {
				t.Errorf("JWT() before Enroll error = %v, want ErrNotEnrolled", err)
			}
			d = fv.enrolled(t, f)
			at := t0.Add(90*time.Minute + 500*time.Millisecond)
			jwt, err := d.JWT(at)
			if err != nil {
				t.Fatalf("JWT() error: %v", err)
			}
			j := checkJWT(t, f, recorded{Header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("token:"+jwt))}}}, d.PublicKey(), at.Unix())
			if len(j.Signature) != 64 {
				t.Errorf("JWT() signature is %d bytes, want 64 (raw R||S)", len(j.Signature))
			}
		})
	}
}

// TestClockSkew checks the SDKs' answer to a 401 with Date: set the clock
// offset from the Date and retry once, with a fresh JWT.
func TestClockSkew(t *testing.T) {
	ops := []struct {
		name string
		call func(context.Context, *device.Device) error
	}{
		{"verify", func(ctx context.Context, d *device.Device) error { _, err := d.Verify(ctx); return err }},
		{"update", func(ctx context.Context, d *device.Device) error {
			_, err := d.UpdatePushToken(ctx, "", fcmToken)
			return err
		}},
		{"unenroll", func(ctx context.Context, d *device.Device) error { return d.Unenroll(ctx) }},
	}
	for _, f := range flavors {
		for _, op := range ops {
			t.Run(string(f)+"/"+op.name, func(t *testing.T) {
				fv := newFakeVerify(t)
				d := fv.enrolled(t, f)
				pub := d.PublicKey() // Unenroll replaces it
				fv.take()
				// The server's clock is an hour ahead: the device's first
				// JWT has expired there.
				skew := time.Hour
				fv.now = func() time.Time { return t0.Add(skew) }
				if err := op.call(context.Background(), d); err != nil {
					t.Fatalf("%s error: %v", op.name, err)
				}
				reqs := fv.take()
				if len(reqs) != 2 {
					t.Fatalf("%s sent %d requests, want 2", op.name, len(reqs))
				}
				checkJWT(t, f, reqs[0], pub, t0.Unix())
				checkJWT(t, f, reqs[1], pub, t0.Add(skew).Unix())
				if reqs[0].Body != reqs[1].Body {
					t.Errorf("%s retry body = %q, want %q as the first", op.name, reqs[1].Body, reqs[0].Body)
				}
				if got := d.ClockOffset(); got != skew {
					t.Errorf("ClockOffset() = %v, want %v", got, skew)
				}
			})
		}
	}
}

func TestUnauthorized(t *testing.T) {
	ctx := context.Background()
	t.Run("401 without Date is final", func(t *testing.T) {
		fv := newFakeVerify(t)
		d := fv.enrolled(t, device.Android)
		fv.take()
		fv.override = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
			fv.twilioError(w, http.StatusUnauthorized, 20003, false)
			return true
		}
		_, err := d.Verify(ctx)
		var derr *device.Error
		if !errors.As(err, &derr) || derr.Status != 401 || derr.Code != 20003 {
			t.Errorf("Verify() error = %v, want a *device.Error 401 20003", err)
		}
		if n := len(fv.take()); n != 1 {
			t.Errorf("Verify() sent %d requests, want 1", n)
		}
	})
	t.Run("enroll is not retried", func(t *testing.T) {
		fv := newFakeVerify(t)
		d := fv.newDevice(t, device.IOS)
		_, err := d.Enroll(ctx, serviceSID, identity, "not-the-token")
		var derr *device.Error
		if !errors.As(err, &derr) || derr.Status != 401 {
			t.Errorf("Enroll() error = %v, want a *device.Error 401", err)
		}
		if n := len(fv.take()); n != 1 {
			t.Errorf("Enroll() sent %d requests, want 1", n)
		}
	})
	t.Run("401 after the retry", func(t *testing.T) {
		fv := newFakeVerify(t)
		d := fv.enrolled(t, device.Android)
		fv.take()
		fv.override = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
			fv.twilioError(w, http.StatusUnauthorized, 20003, true)
			return true
		}
		// The SDKs count this as a deleted factor; Unenroll does not.
		var derr *device.Error
		if err := d.Unenroll(ctx); !errors.As(err, &derr) || derr.Status != 401 {
			t.Errorf("Unenroll() error = %v, want a *device.Error 401", err)
		}
		if n := len(fv.take()); n != 2 {
			t.Errorf("Unenroll() sent %d requests, want 2", n)
		}
		if _, ok := d.Factor(); !ok {
			t.Errorf("Factor() after a failed Unenroll: none, want the factor kept")
		}
	})
}

func TestUnenroll(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		wantCode int // 0: success
	}{
		{"204", http.StatusNoContent, 0},
		{"404 counts as deleted", http.StatusNotFound, 0},
		{"500", http.StatusInternalServerError, 20500},
		{"403", http.StatusForbidden, 20403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fv := newFakeVerify(t)
			d := fv.enrolled(t, device.Android)
			oldKey := d.PublicKey()
			fv.take()
			fv.override = func(w http.ResponseWriter, r *http.Request, _ int) bool {
				if tc.status == http.StatusNoContent {
					return false // the fake checks the JWT and deletes
				}
				fv.twilioError(w, tc.status, 20000+tc.status, true)
				return true
			}
			err := d.Unenroll(context.Background())
			reqs := fv.take()
			if len(reqs) != 1 {
				t.Fatalf("Unenroll() sent %d requests, want 1", len(reqs))
			}
			checkHeaders(t, device.Android, reqs[0], "application/json")
			checkJWT(t, device.Android, reqs[0], oldKey, t0.Unix())
			if reqs[0].Method != http.MethodDelete || reqs[0].Body != "" {
				t.Errorf("Unenroll() sent %s with body %q, want DELETE with none", reqs[0].Method, reqs[0].Body)
			}
			if tc.wantCode != 0 {
				var derr *device.Error
				if !errors.As(err, &derr) || derr.Code != tc.wantCode {
					t.Errorf("Unenroll() error = %v, want code %d", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unenroll() error: %v", err)
			}
			if _, ok := d.Factor(); ok {
				t.Errorf("Factor() after Unenroll: still enrolled")
			}
			if d.PublicKey().Equal(oldKey) {
				t.Errorf("PublicKey() after Unenroll: the old key, want a fresh one")
			}
			if err := d.Unenroll(context.Background()); !errors.Is(err, device.ErrNotEnrolled) {
				t.Errorf("second Unenroll() error = %v, want ErrNotEnrolled", err)
			}
		})
	}
}

func TestVerifyRefused(t *testing.T) {
	fv := newFakeVerify(t)
	d := fv.enrolled(t, device.Android)
	fv.override = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
		fv.twilioError(w, http.StatusForbidden, 60311, true)
		return true
	}
	_, err := d.Verify(context.Background())
	var derr *device.Error
	if !errors.As(err, &derr) || derr.Code != 60311 || derr.Status != 403 || derr.MoreInfo == "" {
		t.Errorf("Verify() error = %#v, want a *device.Error 403 60311", err)
	}
	if f, _ := d.Factor(); f.Status != "unverified" {
		t.Errorf("Factor().Status after a refused Verify = %q, want unverified", f.Status)
	}
}

// TestFactorResponse checks that the Device maps a factor response as the
// SDK of its flavor does: fields it requires, dates it can parse.
func TestFactorResponse(t *testing.T) {
	good := map[string]any{
		"sid": factorSID, "account_sid": accountSID, "friendly_name": "x", "status": "unverified",
		"date_created": "2026-03-14T15:09:26Z", "config": map[string]any{"credential_sid": credentialSID},
	}
	with := func(edit func(m map[string]any)) map[string]any {
		b, _ := json.Marshal(good)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		edit(m)
		return m
	}
	tests := []struct {
		name    string
		body    any
		wantErr map[device.Flavor]bool
	}{
		{"good", good, nil},
		{"no credential_sid", with(func(m map[string]any) { m["config"] = map[string]any{} }), map[device.Flavor]bool{device.Android: true, device.IOS: true}},
		{"no config", with(func(m map[string]any) { delete(m, "config") }), map[device.Flavor]bool{device.Android: true, device.IOS: true}},
		{"no sid", with(func(m map[string]any) { delete(m, "sid") }), map[device.Flavor]bool{device.Android: true, device.IOS: true}},
		{"null account_sid", with(func(m map[string]any) { m["account_sid"] = nil }), map[device.Flavor]bool{device.Android: true, device.IOS: true}},
		{"no date_created", with(func(m map[string]any) { delete(m, "date_created") }), map[device.Flavor]bool{device.Android: true, device.IOS: true}},
		{"fractional seconds", with(func(m map[string]any) { m["date_created"] = "2026-03-14T15:09:26.123Z" }), map[device.Flavor]bool{device.Android: true, device.IOS: true}},
		{"negative offset", with(func(m map[string]any) { m["date_created"] = "2026-03-14T15:09:26-05:00" }), nil},
		{"positive offset", with(func(m map[string]any) { m["date_created"] = "2026-03-14T15:09:26+01:00" }), map[device.Flavor]bool{device.Android: true}},
		{"unknown status", with(func(m map[string]any) { m["status"] = "pending" }), map[device.Flavor]bool{device.IOS: true}},
		{"sid a number", with(func(m map[string]any) { m["sid"] = 7 }), map[device.Flavor]bool{device.Android: true, device.IOS: true}},
		{"not json", "<html>", map[device.Flavor]bool{device.Android: true, device.IOS: true}},
	}
	for _, f := range flavors {
		for _, tc := range tests {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				fv := newFakeVerify(t)
				fv.override = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
					w.WriteHeader(http.StatusCreated)
					if s, ok := tc.body.(string); ok {
						_, _ = io.WriteString(w, s)
					} else {
						_ = json.NewEncoder(w).Encode(tc.body)
					}
					return true
				}
				d := fv.newDevice(t, f)
				got, err := d.Enroll(context.Background(), serviceSID, identity, accessToken)
				if tc.wantErr[f] {
					if err == nil {
						t.Errorf("Enroll() = %+v, want an error", got)
					}
					if _, ok := d.Factor(); ok {
						t.Errorf("Factor() after a failed Enroll: enrolled")
					}
					return
				}
				if err != nil {
					t.Errorf("Enroll() error: %v", err)
				}
			})
		}
	}
}

func TestEnrollTwice(t *testing.T) {
	fv := newFakeVerify(t)
	d := fv.enrolled(t, device.Android)
	if _, err := d.Enroll(context.Background(), serviceSID, identity, accessToken); err == nil {
		t.Errorf("second Enroll() = nil error, want one")
	}
}

func TestSaveLoad(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			fv := newFakeVerify(t)
			d := fv.enrolled(t, f, device.WithFriendlyName("saved phone"), device.WithPushToken("", fcmToken))
			fv.now = func() time.Time { return t0.Add(time.Hour) }
			if _, err := d.Verify(context.Background()); err != nil { // learns the offset
				t.Fatalf("Verify() error: %v", err)
			}
			path := filepath.Join(t.TempDir(), "device.json")
			// An existing, more open file is replaced by a 0600 one.
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := d.Save(path); err != nil {
				t.Fatalf("Save() error: %v", err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("Save() file mode %v, want 0600", st.Mode().Perm())
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Errorf("Save() left %d files in the directory, want 1", len(entries))
			}

			loaded, err := device.LoadFile(path, device.WithHTTPClient(fv.srv.Client()), device.WithClock(func() time.Time { return t0 }))
			if err != nil {
				t.Fatalf("LoadFile() error: %v", err)
			}
			wantF, _ := d.Factor()
			gotF, ok := loaded.Factor()
			if diff := cmp.Diff(wantF, gotF); !ok || diff != "" {
				t.Errorf("loaded Factor() mismatch (-want +got):\n%s", diff)
			}
			if !loaded.PublicKey().Equal(d.PublicKey()) || loaded.Flavor() != f || loaded.ClockOffset() != time.Hour || loaded.BaseURL() != fv.srv.URL {
				t.Errorf("loaded device = %v key equal %t, offset %v, base URL %q; want the saved one", loaded.Flavor(), loaded.PublicKey().Equal(d.PublicKey()), loaded.ClockOffset(), loaded.BaseURL())
			}
			a, _ := d.MarshalJSON()
			b, _ := loaded.MarshalJSON()
			if diff := cmp.Diff(string(a), string(b)); diff != "" {
				t.Errorf("MarshalJSON() of the loaded device differs (-saved +loaded):\n%s", diff)
			}
			// The loaded device speaks with the saved key, on the saved offset.
			fv.take()
			if _, err := loaded.UpdatePushToken(context.Background(), "", fcmToken); err != nil {
				t.Fatalf("loaded UpdatePushToken() error: %v", err)
			}
			reqs := fv.take()
			if len(reqs) != 1 {
				t.Fatalf("loaded UpdatePushToken() sent %d requests, want 1", len(reqs))
			}
			checkJWT(t, f, reqs[0], d.PublicKey(), t0.Add(time.Hour).Unix())
			// Printing a Device shows its String, never its fields.
			if got, want := fmt.Sprintf("%v|%+v|%#v", d, d, d), strings.Repeat(d.String()+"|", 3); got+"|" != want {
				t.Errorf("Device printed as %q, want %q", got, want)
			}
			if want := string(f) + " " + factorSID + " verified"; !strings.HasSuffix(d.String(), want) {
				t.Errorf("String() = %q, want it to end %q", d.String(), want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	d, err := device.New()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(saved, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct{ name, data string }{
		{"empty", ""},
		{"not json", "device"},
		{"trailing data", string(saved) + "{}"},
		{"unknown field", edit(func(m map[string]any) { m["extra"] = 1 })},
		{"version 2", edit(func(m map[string]any) { m["version"] = 2 })},
		{"no key", edit(func(m map[string]any) { delete(m, "private_key") })},
		{"key not base64", edit(func(m map[string]any) { m["private_key"] = "!!" })},
		{"unknown flavor", edit(func(m map[string]any) { m["flavor"] = "windows" })},
		{"bad base url", edit(func(m map[string]any) { m["base_url"] = "ftp://x" })},
		{"factor without credential", edit(func(m map[string]any) { m["factor"] = map[string]any{"sid": factorSID} })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := device.Load([]byte(tc.data)); err == nil {
				t.Errorf("Load(%q) = %v, want an error", tc.data, got)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []device.Option
	}{
		{"unknown flavor", []device.Option{device.WithFlavor("windows")}},
		{"p-384 key", []device.Option{device.WithKey(p384)}},
		{"relative base url", []device.Option{device.WithBaseURL("verify.twilio.com")}},
		{"ftp base url", []device.Option{device.WithBaseURL("ftp://verify.twilio.com")}},
		{"base url with a query", []device.Option{device.WithBaseURL("https://verify.twilio.com/?x=1")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d, err := device.New(tc.opts...); err == nil {
				t.Errorf("New() = %v, want an error", d)
			}
		})
	}
	d, err := device.New()
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	if d.BaseURL() != device.DefaultBaseURL || d.Flavor() != device.Android {
		t.Errorf("New() = base URL %q, flavor %q; want %q, android", d.BaseURL(), d.Flavor(), device.DefaultBaseURL)
	}
	if _, err := d.Enroll(context.Background(), "", identity, accessToken); err == nil {
		t.Errorf("Enroll() with an empty service SID: nil error, want one")
	}
}
