package device

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/verifykit/verifykit/gen/verifyclient"
)

// DefaultBaseURL is where a Device sends its requests unless WithBaseURL
// says otherwise: Twilio's Verify endpoint, as both SDKs have it built in.
const DefaultBaseURL = "https://verify.twilio.com"

// DefaultTimeout bounds each request when New builds the HTTP client.
const DefaultTimeout = 30 * time.Second

// Defaults of what a Device tells the server about itself.
const (
	DefaultFriendlyName = "verifykit device"
	DefaultAppID        = "com.verifykit.device"
)

// ErrNotEnrolled is returned by the methods that need a factor when the
// Device holds none: before Enroll, or after Unenroll.
var ErrNotEnrolled = errors.New("device: not enrolled")

// Doer sends one HTTP request. *http.Client is a Doer.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Factor is what a Device keeps of its push factor, as the SDKs keep it:
// the SID, account and credential from the server's responses, and the
// service and Identity the app enrolled with.
type Factor struct {
	// SID is the factor's SID (YF…).
	SID string `json:"sid"`
	// ServiceSID is the Verify service (VA…) the factor was enrolled in.
	ServiceSID string `json:"service_sid"`
	// Identity is the entity the factor belongs to.
	Identity string `json:"identity"`
	// AccountSID is the account (AC…): the sub of the device's JWTs.
	AccountSID string `json:"account_sid"`
	// CredentialSID is the factor's config.credential_sid: the kid of the
	// device's JWTs.
	CredentialSID string `json:"credential_sid"`
	// FriendlyName is the factor's name as the server returned it; the
	// SDKs send it back with every push token update.
	FriendlyName string `json:"friendly_name"`
	// Status is "unverified" until Verify succeeds, then "verified".
	Status string `json:"status"`
	// NotificationPlatform is the config.notification_platform the server
	// returned, or the flavor's push platform when it returned none (as
	// the SDKs default it).
	NotificationPlatform string `json:"notification_platform"`
}

// Device is a simulated phone running the Twilio Verify SDK: it holds a
// P-256 key, enrolls it as a push factor and signs its requests exactly as
// the Android or iOS SDK does, so that tests need no phone.
//
// A Device is safe for concurrent use. Its String method never shows the
// key; MarshalJSON does, since it is for saving the Device.
type Device struct {
	flavor       Flavor
	baseURL      string
	friendlyName string
	appID        string
	sdkVersion   string
	userAgent    string // "" means the flavor's, for sdkVersion
	platform     string // as Enroll sends it; "" means derived from pushToken
	pushToken    string
	metadata     map[string]string
	now          func() time.Time
	gen          *verifyclient.Client

	mu     sync.Mutex
	key    *ecdsa.PrivateKey
	offset int64 // seconds to add to now(), learned from a 401's Date
	factor *Factor
}

// Option configures a Device in New or Load.
type Option func(*settings)

// settings collects what the Options set, before New checks it.
type settings struct {
	flavor       Flavor
	key          *ecdsa.PrivateKey
	baseURL      string
	friendlyName string
	appID        string
	sdkVersion   string
	userAgent    string
	platform     string
	pushToken    string
	metadata     map[string]string
	doer         Doer
	now          func() time.Time
}

// WithFlavor makes the Device reproduce the bytes of the Android (the
// default) or the iOS SDK.
func WithFlavor(f Flavor) Option { return func(s *settings) { s.flavor = f } }

// WithKey makes the Device use key, which must be a P-256 key, instead of
// a fresh one: for fixed test vectors, or to enroll one key twice.
func WithKey(key *ecdsa.PrivateKey) Option { return func(s *settings) { s.key = key } }

// WithBaseURL sends the Device's requests to baseURL, such as the URL of a
// verifyd, instead of DefaultBaseURL. Plain http is allowed, for tests; the
// Android SDK itself accepts only https.
func WithBaseURL(baseURL string) Option { return func(s *settings) { s.baseURL = baseURL } }

// WithHTTPClient sends the Device's requests through d. By default a
// Device uses an *http.Client with a Timeout of DefaultTimeout.
func WithHTTPClient(d Doer) Option { return func(s *settings) { s.doer = d } }

// WithClock makes the Device read the time from now, which sets the nbf and
// exp of its JWTs; time.Now by default. The offset a 401's Date header
// teaches is added to it, as the SDKs add theirs to the phone's clock.
func WithClock(now func() time.Time) Option { return func(s *settings) { s.now = now } }

// WithFriendlyName sets the FriendlyName that Enroll sends;
// DefaultFriendlyName by default.
func WithFriendlyName(name string) Option { return func(s *settings) { s.friendlyName = name } }

// WithAppID sets Config.AppId, the Android package name or iOS bundle id;
// DefaultAppID by default.
func WithAppID(id string) Option { return func(s *settings) { s.appID = id } }

// WithSDKVersion sets Config.SdkVersion and the version in the User-Agent;
// AndroidSDKVersion or IOSSDKVersion by default.
func WithSDKVersion(v string) Option { return func(s *settings) { s.sdkVersion = v } }

// WithUserAgent replaces the User-Agent the flavor's SDK would send.
func WithUserAgent(ua string) Option { return func(s *settings) { s.userAgent = ua } }

// WithPushToken makes Enroll send a notification platform and token. An
// empty platform means the flavor's own (fcm on Android, apn on iOS) when
// token is set, and none when it is empty; with none, Config.NotificationToken
// is left out, as the SDKs leave it out. Without this option a Device
// enrolls with platform none.
func WithPushToken(platform, token string) Option {
	return func(s *settings) { s.platform, s.pushToken = platform, token }
}

// WithMetadata makes Enroll send Metadata, a JSON object of strings that
// the app attaches to the factor, such as {"os": "Android"}.
func WithMetadata(md map[string]string) Option {
	return func(s *settings) {
		s.metadata = make(map[string]string, len(md))
		for k, v := range md {
			s.metadata[k] = v
		}
	}
}

// New returns a Device with a fresh P-256 key (unless WithKey gives one),
// not enrolled yet.
func New(opts ...Option) (*Device, error) {
	s := settings{flavor: Android, baseURL: DefaultBaseURL, friendlyName: DefaultFriendlyName, appID: DefaultAppID}
	for _, opt := range opts {
		opt(&s)
	}
	if s.key == nil {
		key, err := newKey()
		if err != nil {
			return nil, err
		}
		s.key = key
	}
	return build(s, 0, nil)
}

// newKey returns a fresh P-256 key, as the SDKs make one per factor.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("device: generate key: %w", err)
	}
	return key, nil
}

// build checks s and returns the Device it describes, with the clock
// offset and factor given (from a saved Device, or none).
func build(s settings, offset int64, f *Factor) (*Device, error) {
	if !s.flavor.valid() {
		return nil, fmt.Errorf("device: unknown flavor %q, want %q or %q", s.flavor, Android, IOS)
	}
	if s.key == nil || s.key.Curve != elliptic.P256() {
		return nil, errors.New("device: the key must be a P-256 key")
	}
	if _, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey); err != nil {
		return nil, fmt.Errorf("device: key: %w", err)
	}
	baseURL, err := checkBaseURL(s.baseURL)
	if err != nil {
		return nil, err
	}
	if s.sdkVersion == "" {
		s.sdkVersion = s.flavor.sdkVersion()
	}
	if s.doer == nil {
		s.doer = &http.Client{Timeout: DefaultTimeout}
	}
	if s.now == nil {
		s.now = time.Now
	}
	gen, err := verifyclient.NewClient(baseURL, verifyclient.WithHTTPClient(s.doer))
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	return &Device{
		flavor:       s.flavor,
		baseURL:      baseURL,
		friendlyName: s.friendlyName,
		appID:        s.appID,
		sdkVersion:   s.sdkVersion,
		userAgent:    s.userAgent,
		platform:     s.platform,
		pushToken:    s.pushToken,
		metadata:     s.metadata,
		now:          s.now,
		gen:          gen,
		key:          s.key,
		offset:       offset,
		factor:       f,
	}, nil
}

// checkBaseURL returns u without a trailing slash if it is an absolute
// http or https URL with a host and no query or fragment.
func checkBaseURL(u string) (string, error) {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "", fmt.Errorf("device: base URL: %w", err)
	case p.Scheme != "https" && p.Scheme != "http", p.Host == "":
		return "", fmt.Errorf("device: base URL %q: want an absolute http or https URL", u)
	case p.RawQuery != "" || p.Fragment != "" || p.User != nil:
		return "", fmt.Errorf("device: base URL %q: want no query, fragment or user info", u)
	}
	return strings.TrimRight(u, "/"), nil
}

// Flavor returns the SDK the Device reproduces.
func (d *Device) Flavor() Flavor { return d.flavor }

// BaseURL returns where the Device sends its requests, without a trailing
// slash.
func (d *Device) BaseURL() string { return d.baseURL }

// PublicKey returns the public half of the Device's current key.
func (d *Device) PublicKey() *ecdsa.PublicKey {
	d.mu.Lock()
	defer d.mu.Unlock()
	return &d.key.PublicKey
}

// Factor returns the Device's factor, and whether it has one.
func (d *Device) Factor() (Factor, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.factor == nil {
		return Factor{}, false
	}
	return *d.factor, true
}

// ClockOffset returns what the Device adds to its clock: what it learned
// from the Date header of the last 401 it retried, in whole seconds.
func (d *Device) ClockOffset() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Duration(d.offset) * time.Second
}

// String describes the Device without its key, such as
// "device android YF0123… verified".
func (d *Device) String() string {
	f, ok := d.Factor()
	if !ok {
		return "device " + string(d.flavor) + " not enrolled"
	}
	return "device " + string(d.flavor) + " " + f.SID + " " + f.Status
}

// GoString is String, so that %#v does not print the key either.
func (d *Device) GoString() string { return d.String() }

// PublicKeyBase64 returns the Device's public key as the SDKs send it in
// Binding.PublicKey: standard Base64 of its DER SubjectPublicKeyInfo.
func (d *Device) PublicKeyBase64() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return publicKeyBase64(d.key)
}

// publicKeyBase64 returns the Binding.PublicKey of key.
func publicKeyBase64(key *ecdsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic("device: marshal a P-256 public key: " + err.Error()) // build and newKey check the key
	}
	return b64(der)
}

// JWT returns the device JWT the SDK would send at the time now, for the
// Device's factor: header {cty, kid, typ, alg} with kid the credential
// SID, claims {sub, exp, nbf} with sub the account SID, nbf now in whole
// seconds and exp nbf + 600, JSON as the flavor writes it, the signature
// ES256 raw R‖S, every part base64url without padding. The requests use
// the Device's clock and offset for now; JWT uses now as given.
func (d *Device) JWT(now time.Time) (string, error) {
	d.mu.Lock()
	f, key := d.factor, d.key
	d.mu.Unlock()
	if f == nil {
		return "", ErrNotEnrolled
	}
	return d.jwt(key, f, now.Unix())
}

// jwt signs a device JWT for factor f with key, nbf at the Unix second nbf.
func (d *Device) jwt(key *ecdsa.PrivateKey, f *Factor, nbf int64) (string, error) {
	s, err := signCompact(key, encodeJSON(d.flavor.jwtHeader(f.CredentialSID)), encodeJSON(d.flavor.jwtClaims(f.AccountSID, nbf)))
	if err != nil {
		return "", fmt.Errorf("device: sign jwt: %w", err)
	}
	return s, nil
}

// signCompact returns the compact JWS of header and payload, signed ES256
// with key, as the SDKs' JwtGenerator writes both the device JWT and a
// challenge's AuthPayload: each part base64url without padding, the
// signature raw R‖S.
func signCompact(key *ecdsa.PrivateKey, header, payload []byte) (string, error) {
	input := b64url(header) + "." + b64url(payload)
	// The keystores sign in DER; the SDKs transcode to R‖S (JwtSigner).
	der, err := signDER(key, input)
	if err != nil {
		return "", err
	}
	raw, err := derToRaw(der)
	if err != nil {
		return "", err
	}
	return input + "." + b64url(raw), nil
}

// clock returns the Device's idea of the time in Unix seconds: its clock,
// plus the offset a 401 taught it, as the SDKs' DateProvider counts.
func (d *Device) clock() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now().Unix() + d.offset
}
