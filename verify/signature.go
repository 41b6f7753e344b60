package verify

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // X-Twilio-Signature is HMAC-SHA1 by Twilio's definition
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// MaxWebhookBody bounds the body that ValidateWebhook reads. An event is a
// few hundred bytes.
const MaxWebhookBody = 64 << 10

// ErrInvalidSignature is the error ValidateWebhook wraps when a delivery's
// X-Twilio-Signature is missing or does not match: the request did not
// come from the service's account, or it was changed on the way, or the
// URL or the auth token given is not the one it was signed with.
var ErrInvalidSignature = errors.New("invalid X-Twilio-Signature")

// WebhookSignature returns the X-Twilio-Signature of a form POST of params
// to webhookURL: Base64 of HMAC-SHA1, keyed with authToken, over
// webhookURL followed by each parameter's name and value, names sorted (a
// repeated name's values in the order given). It is how verifyd and
// Twilio sign event deliveries; tests can use it to sign deliveries of
// their own.
func WebhookSignature(authToken, webhookURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	_, _ = io.WriteString(mac, webhookURL) // a hash.Hash never fails to write
	for _, name := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[name] {
			_, _ = io.WriteString(mac, name)
			_, _ = io.WriteString(mac, v)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidateWebhook checks that r, an event delivered to the webhook whose
// URL is webhookURL, is signed with authToken, the auth token of the
// account that owns the webhook, and returns its form fields (see the
// WebhookEvent schema: uuid, type, factor_sid, challenge_status, …).
//
// webhookURL must be the URL exactly as the webhook was created with, query
// included, since that is what was signed; a server behind a proxy cannot
// rebuild it reliably from r. Like twilio-go's RequestValidator, it also
// accepts a signature over webhookURL with the scheme's default port added
// or removed (https://example.com/hook and https://example.com:443/hook).
//
// It reads r.Body, up to MaxWebhookBody bytes, and leaves it consumed. The
// signatures are compared in constant time. A missing or wrong signature
// is an error that wraps ErrInvalidSignature; answer it with 403 and
// ignore the request. Deliveries are at least once: an event delivered
// again carries the same uuid.
func ValidateWebhook(authToken, webhookURL string, r *http.Request) (url.Values, error) {
	switch {
	case authToken == "":
		// An empty key would accept whatever anyone signs with it.
		return nil, errors.New("validate webhook: empty auth token")
	case webhookURL == "":
		return nil, errors.New("validate webhook: empty webhook URL")
	case r.Method != http.MethodPost:
		return nil, fmt.Errorf("validate webhook: method %s, want POST", r.Method)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != formContentType {
		return nil, fmt.Errorf("validate webhook: content type %q, want %s", r.Header.Get("Content-Type"), formContentType)
	}
	got := r.Header.Get("X-Twilio-Signature")
	if got == "" {
		return nil, fmt.Errorf("validate webhook: no X-Twilio-Signature: %w", ErrInvalidSignature)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	if err != nil {
		return nil, fmt.Errorf("validate webhook: read body: %w", err)
	}
	if len(body) > MaxWebhookBody {
		return nil, fmt.Errorf("validate webhook: body larger than %d bytes", MaxWebhookBody)
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("validate webhook: body is not a form: %w", err)
	}
	ok := false
	for _, u := range urlVariants(webhookURL) {
		// Every variant is checked, so the time taken does not tell which
		// one matched.
		want := WebhookSignature(authToken, u, params)
		ok = hmac.Equal([]byte(got), []byte(want)) || ok
	}
	if !ok {
		return nil, fmt.Errorf("validate webhook: %w", ErrInvalidSignature)
	}
	return params, nil
}

// urlVariants returns rawURL and the forms of it that Twilio may have
// signed instead: with its scheme's default port added when it has no
// port, or removed when it has that one; and, when its path is empty or
// "/" with no query, with the other of the two, since a client sends an
// empty path as "/" and the receiver sees only that.
func urlVariants(rawURL string) []string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return []string{rawURL}
	}
	hosts := []string{u.Host}
	def := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	switch port := u.Port(); {
	case def == "":
	case port == "":
		hosts = append(hosts, u.Host+":"+def)
	case port == def:
		h := u.Hostname()
		if strings.Contains(h, ":") {
			h = "[" + h + "]" // an IPv6 literal
		}
		hosts = append(hosts, h)
	}
	paths := []string{u.Path}
	if u.RawQuery == "" && u.Fragment == "" && u.Opaque == "" && (u.Path == "" || u.Path == "/") && u.RawPath == "" {
		paths = []string{"", "/"}
	}
	variants := []string{rawURL}
	for _, h := range hosts {
		for _, p := range paths {
			v := *u
			v.Host, v.Path = h, p
			if s := v.String(); !slices.Contains(variants, s) {
				variants = append(variants, s)
			}
		}
	}
	return variants
}
