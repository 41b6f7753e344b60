package device

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/verifykit/verifykit/gen/verifyclient"
)

// formType is the Content-Type of every SDK request, GET and DELETE
// included, and the Accept of GETs (RequestHelper.kt, RequestHelper.swift).
const formType = "application/x-www-form-urlencoded"

// authUser is the user name of the HTTP Basic auth of every SDK request;
// the password is the access token or a device JWT.
const authUser = "token"

// maxBody bounds the response bodies a Device reads.
const maxBody = 1 << 20

// sender sends one request through the generated client with the editor
// given. Every request goes through the generated client, which builds the
// URL; none needs net/http directly. The bodies are encoded here and passed
// to its ...WithBody methods, because its own form encoder (url.Values)
// sorts the fields and writes a space as "+", where each SDK has its own
// order and escapes (encodeForm). The editor sets the headers the SDKs set.
type sender func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error)

// response is a response as the Device read it.
type response struct {
	status int
	header http.Header
	body   []byte
}

// ok reports whether the SDKs count r as success: a status below 300
// (NetworkAdapter.kt, NetworkAdapter.swift).
func (r response) ok() bool { return r.status >= 200 && r.status < 300 }

// send sends one SDK request and reads its response. password gives the
// Basic auth password of each attempt. With retry, a 401 that carries a
// Date header is answered as the SDKs answer it (BaseAPIClient.kt,
// BaseAPIClient.swift): the Device sets its clock offset from the Date and
// sends the request once more, with a fresh JWT. A 401 without Date, or
// with one the SDKs could not parse, is final.
func (d *Device) send(ctx context.Context, password func() (string, error), retry bool, do sender) (response, error) {
	for attempt := 0; ; attempt++ {
		pw, err := password()
		if err != nil {
			return response{}, err
		}
		resp, err := do(ctx, d.editor(pw))
		if err != nil {
			return response{}, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		if err != nil {
			return response{}, fmt.Errorf("read response: %w", err)
		}
		if len(body) > maxBody {
			return response{}, fmt.Errorf("response body longer than %d bytes", maxBody)
		}
		r := response{status: resp.StatusCode, header: resp.Header, body: body}
		if r.status == http.StatusUnauthorized && retry && attempt == 0 {
			if t, err := parseDate(resp.Header.Get("Date")); err == nil {
				d.mu.Lock()
				d.offset = t.Unix() - d.now().Unix()
				d.mu.Unlock()
				continue
			}
		}
		return r, nil
	}
}

// editor returns the request editor that sets the headers of an SDK
// request: Basic auth with user "token", the flavor's User-Agent, Accept
// (JSON, but form for a GET) and the form Content-Type on every method.
func (d *Device) editor(password string) verifyclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.SetBasicAuth(authUser, password)
		req.Header.Set("User-Agent", d.ua())
		accept := "application/json"
		if req.Method == http.MethodGet {
			accept = formType
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("Content-Type", formType)
		return nil
	}
}

// ua returns the User-Agent of the Device's requests.
func (d *Device) ua() string {
	if d.userAgent != "" {
		return d.userAgent
	}
	return d.flavor.userAgent(d.sdkVersion)
}

// jwtPassword returns a password func that signs a fresh device JWT for f
// with key at each call, at the Device's clock.
func (d *Device) jwtPassword(f *Factor, key *ecdsa.PrivateKey) func() (string, error) {
	return func() (string, error) { return d.jwt(key, f, d.clock()) }
}

// enrolled returns the Device's factor and key, or ErrNotEnrolled.
func (d *Device) enrolled() (*Factor, *ecdsa.PrivateKey, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.factor == nil {
		return nil, nil, ErrNotEnrolled
	}
	f := *d.factor
	return &f, d.key, nil
}

// pushConfig returns the notification platform and token to send for the
// platform and token asked for. An empty platform is the flavor's own when
// there is a token, and none when there is not: Android counts a blank
// token as none, iOS an empty one (PushFactory.kt, PushFactory.swift).
func (d *Device) pushConfig(platform, token string) (string, string) {
	if platform != "" {
		return platform, token
	}
	if token == "" || d.flavor == Android && strings.TrimSpace(token) == "" {
		return PlatformNone, ""
	}
	return d.flavor.pushPlatform(), token
}

// Enroll creates the Device's push factor in the service serviceSID for the
// entity identity (operation CreateNewFactor), as the SDK's createFactor
// does: HTTP Basic auth token:accessToken, where accessToken is the
// enrollment token the backend got from CreateAccessToken, and the form
// fields FriendlyName, FactorType=push, Binding.PublicKey (standard Base64
// of the DER SubjectPublicKeyInfo), Binding.Alg=ES256, Config.SdkVersion,
// Config.AppId, Config.NotificationPlatform, Config.NotificationToken
// unless the platform is none, and Metadata when set. The SDKs do not
// retry this request.
//
// The factor starts unverified; call Verify next. Enroll fails if the
// response lacks a field the SDK needs (sid, friendly_name, account_sid,
// status, date_created or config.credential_sid), or has a date_created
// the SDK cannot parse. A response other than 2xx is returned as a
// *Error.
func (d *Device) Enroll(ctx context.Context, serviceSID, identity, accessToken string) (*Factor, error) {
	if serviceSID == "" || identity == "" || accessToken == "" {
		return nil, errors.New("device: enroll: empty service SID, identity or access token")
	}
	d.mu.Lock()
	held, key := d.factor != nil, d.key
	d.mu.Unlock()
	if held {
		return nil, errors.New("device: enroll: already enrolled; Unenroll first")
	}
	platform, token := d.pushConfig(d.platform, d.pushToken)
	params := []param{{"FriendlyName", d.friendlyName}, {"FactorType", "push"}}
	params = append(params, d.flavor.bindingParams(publicKeyBase64(key))...)
	params = append(params, d.flavor.configParams(d.sdkVersion, d.appID, platform, token)...)
	if d.metadata != nil {
		params = append(params, param{"Metadata", metadataJSON(d.metadata)})
	}
	body := d.flavor.encodeForm(params)
	r, err := d.send(ctx, func() (string, error) { return accessToken, nil }, false,
		func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
			return d.gen.CreateNewFactorWithBody(ctx, serviceSID, identity, formType, strings.NewReader(body), edit)
		})
	if err != nil {
		return nil, fmt.Errorf("device: enroll: %w", err)
	}
	if !r.ok() {
		return nil, fmt.Errorf("device: enroll: %w", apiError(r))
	}
	f, err := d.mapFactor(r.body)
	if err != nil {
		return nil, fmt.Errorf("device: enroll: %w", err)
	}
	f.ServiceSID, f.Identity = serviceSID, identity
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.factor != nil || d.key != key {
		return nil, errors.New("device: enroll: enrolled or unenrolled meanwhile")
	}
	d.factor = &f
	out := f
	return &out, nil
}

// Verify verifies the Device's factor (operation UpdateFactor), as the
// SDK's verifyFactor does: a device JWT, and one form field, AuthPayload,
// the standard Base64 of the DER ECDSA signature of the factor SID. It
// fails unless the response's status is verified. A response other than
// 2xx is returned as a *Error.
func (d *Device) Verify(ctx context.Context) (*Factor, error) {
	f, key, err := d.enrolled()
	if err != nil {
		return nil, err
	}
	sig, err := signDER(key, f.SID)
	if err != nil {
		return nil, fmt.Errorf("device: verify: sign: %w", err)
	}
	body := d.flavor.encodeForm([]param{{"AuthPayload", b64(sig)}})
	r, err := d.send(ctx, d.jwtPassword(f, key), true,
		func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
			return d.gen.UpdateFactorWithBody(ctx, f.ServiceSID, f.Identity, f.SID, formType, strings.NewReader(body), edit)
		})
	if err != nil {
		return nil, fmt.Errorf("device: verify: %w", err)
	}
	if !r.ok() {
		return nil, fmt.Errorf("device: verify: %w", apiError(r))
	}
	// The SDKs read nothing but status here (FactorRepository.kt,
	// FactorMapper.swift).
	var w struct {
		Status *string `json:"status"`
	}
	if err := json.Unmarshal(r.body, &w); err != nil || w.Status == nil {
		return nil, errors.New("device: verify: response has no status")
	}
	status, err := d.flavor.status(*w.Status)
	if err != nil {
		return nil, fmt.Errorf("device: verify: %w", err)
	}
	out := d.store(f.SID, func(g *Factor) { g.Status = status })
	if out == nil {
		return nil, errors.New("device: verify: unenrolled meanwhile")
	}
	if status != statusVerified {
		return nil, fmt.Errorf("device: verify: factor status is %q, want %q", status, statusVerified)
	}
	return out, nil
}

// UpdatePushToken sends a new push configuration for the Device's factor
// (operation UpdateFactor), as the SDK's updateFactor does: a device JWT
// and the form fields FriendlyName (the factor's, as the server returned
// it), Config.SdkVersion, Config.AppId, Config.NotificationPlatform and
// Config.NotificationToken unless the platform is none. platform and token
// mean what they mean in WithPushToken. The response is read as Enroll
// reads it. A response other than 2xx is returned as a *Error.
func (d *Device) UpdatePushToken(ctx context.Context, platform, token string) (*Factor, error) {
	f, key, err := d.enrolled()
	if err != nil {
		return nil, err
	}
	platform, token = d.pushConfig(platform, token)
	params := append([]param{{"FriendlyName", f.FriendlyName}}, d.flavor.configParams(d.sdkVersion, d.appID, platform, token)...)
	body := d.flavor.encodeForm(params)
	r, err := d.send(ctx, d.jwtPassword(f, key), true,
		func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
			return d.gen.UpdateFactorWithBody(ctx, f.ServiceSID, f.Identity, f.SID, formType, strings.NewReader(body), edit)
		})
	if err != nil {
		return nil, fmt.Errorf("device: update push token: %w", err)
	}
	if !r.ok() {
		return nil, fmt.Errorf("device: update push token: %w", apiError(r))
	}
	g, err := d.mapFactor(r.body)
	if err != nil {
		return nil, fmt.Errorf("device: update push token: %w", err)
	}
	out := d.store(f.SID, func(h *Factor) {
		g.ServiceSID, g.Identity = h.ServiceSID, h.Identity
		*h = g
	})
	if out == nil {
		return nil, errors.New("device: update push token: unenrolled meanwhile")
	}
	return out, nil
}

// Unenroll deletes the Device's factor (operation DeleteFactor) with a
// device JWT and no body, as the SDK's deleteFactor does, and then forgets
// the factor and its key, as the SDK deletes both; the Device takes a fresh
// key for its next Enroll. Like the SDKs it counts 404 as success: the
// factor is gone either way.
//
// The SDKs also count a 401 on the retry (after a 401 with Date) as
// success. Unenroll returns it as an error instead, so that a test does
// not take a server that refuses the device's JWTs for one that deleted
// the factor. A response other than 2xx or 404 is returned as a
// *Error.
func (d *Device) Unenroll(ctx context.Context) error {
	f, key, err := d.enrolled()
	if err != nil {
		return err
	}
	r, err := d.send(ctx, d.jwtPassword(f, key), true,
		func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
			return d.gen.DeleteFactor(ctx, f.ServiceSID, f.Identity, f.SID, edit)
		})
	if err != nil {
		return fmt.Errorf("device: unenroll: %w", err)
	}
	if !r.ok() && r.status != http.StatusNotFound {
		return fmt.Errorf("device: unenroll: %w", apiError(r))
	}
	fresh, err := newKey()
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.factor != nil && d.factor.SID == f.SID {
		d.factor, d.key = nil, fresh
	}
	return nil
}

// store applies edit to the Device's factor if it is still the factor sid,
// and returns a copy of the result.
func (d *Device) store(sid string, edit func(*Factor)) *Factor {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.factor == nil || d.factor.SID != sid {
		return nil
	}
	edit(d.factor)
	out := *d.factor
	return &out
}

// The factor statuses.
const (
	statusVerified   = "verified"
	statusUnverified = "unverified"
)

// status maps a response's status as the SDK of flavor f does: Android
// takes anything unknown for unverified (FactorMapper.kt); iOS fails to
// decode it (FactorStatus is a Swift enum).
func (f Flavor) status(s string) (string, error) {
	switch {
	case s == statusVerified || s == statusUnverified:
		return s, nil
	case f == Android:
		return statusUnverified, nil
	}
	return "", fmt.Errorf("factor status %q is neither verified nor unverified", s)
}

// mapFactor reads a factor from a create or update response as the SDKs'
// FactorMapper does. A field it requires that is missing or null fails
// the mapping, as it fails the SDK (which then deletes the new key).
func (d *Device) mapFactor(body []byte) (Factor, error) {
	var w struct {
		SID          *string `json:"sid"`
		FriendlyName *string `json:"friendly_name"`
		AccountSID   *string `json:"account_sid"`
		Status       *string `json:"status"`
		DateCreated  *string `json:"date_created"`
		Config       *struct {
			CredentialSID        *string `json:"credential_sid"`
			NotificationPlatform *string `json:"notification_platform"`
		} `json:"config"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return Factor{}, errors.New("response is not a factor: not JSON, or a field has the wrong type")
	}
	var credential *string
	if w.Config != nil {
		credential = w.Config.CredentialSID
	}
	for _, f := range []struct {
		name string
		v    *string
	}{
		{"sid", w.SID},
		{"friendly_name", w.FriendlyName},
		{"account_sid", w.AccountSID},
		{"status", w.Status},
		{"date_created", w.DateCreated},
		{"config.credential_sid", credential},
	} {
		if f.v == nil {
			return Factor{}, fmt.Errorf("response lacks %s, which the SDK requires", f.name)
		}
	}
	if err := d.flavor.checkDate(*w.DateCreated); err != nil {
		return Factor{}, fmt.Errorf("response date_created %q: %w", *w.DateCreated, err)
	}
	status, err := d.flavor.status(*w.Status)
	if err != nil {
		return Factor{}, err
	}
	platform := d.flavor.pushPlatform() // the SDKs' default
	if p := w.Config.NotificationPlatform; p != nil {
		switch *p {
		case PlatformFCM, PlatformAPN, PlatformNone:
			platform = *p
		}
	}
	return Factor{
		SID:                  *w.SID,
		AccountSID:           *w.AccountSID,
		CredentialSID:        *credential,
		FriendlyName:         *w.FriendlyName,
		Status:               status,
		NotificationPlatform: platform,
	}, nil
}

// apiError returns r, a response other than 2xx, as an *Error: the Twilio
// error JSON when the body is one, as the SDKs read it (NetworkProvider.kt),
// and otherwise the status text and the start of the body.
func apiError(r response) *Error {
	e := &Error{Status: r.status, RequestID: r.header.Get("Twilio-Request-Id")}
	var wire struct {
		Code     int            `json:"code"`
		Message  string         `json:"message"`
		MoreInfo string         `json:"more_info"`
		Details  map[string]any `json:"details"`
	}
	if json.Unmarshal(r.body, &wire) == nil && (wire.Code != 0 || wire.Message != "") {
		e.Code, e.Message, e.MoreInfo, e.Details = wire.Code, wire.Message, wire.MoreInfo, wire.Details
	} else if b := strings.TrimSpace(string(r.body)); b != "" {
		e.Details = map[string]any{"body": excerpt(b)}
	}
	if e.Message == "" {
		e.Message = http.StatusText(r.status)
	}
	return e
}

// excerptLen bounds how much of a body that is not Twilio's error JSON an
// Error keeps.
const excerptLen = 512

// excerpt returns at most excerptLen bytes of s, cut at a rune boundary,
// with invalid UTF-8 replaced.
func excerpt(s string) string {
	if len(s) > excerptLen {
		cut := excerptLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
