package verifydtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// HostError reports a request that a redirecting transport refused to send,
// because its host is neither a Twilio Verify host nor the target itself.
// Nothing was sent anywhere.
type HostError struct {
	// Host is the host the request was addressed to, as in its URL.
	Host string
}

var _ error = (*HostError)(nil)

// Error implements error.
func (e *HostError) Error() string {
	return fmt.Sprintf("verifydtest: refusing to send a request for host %q: only verify.twilio.com, "+
		"verify.{region}.twilio.com and verify.{edge}.{region}.twilio.com are redirected", e.Host)
}

// redirect is the http.RoundTripper that RedirectTransport returns.
type redirect struct {
	target *url.URL // scheme, host and an optional path prefix
	next   http.RoundTripper
}

// RedirectTransport returns an http.RoundTripper that sends every request
// for a Twilio Verify host to baseURL instead, and refuses every other
// request with a *HostError, so that code under test cannot reach the
// internet by mistake.
//
// The Verify hosts are the ones the Twilio SDKs address: verify.twilio.com,
// verify.{region}.twilio.com and verify.{edge}.{region}.twilio.com (such as
// verify.sydney.au1.twilio.com), on the default port. Requests for
// baseURL's own host pass through unchanged.
//
// A redirected request is a clone: its scheme and host, and its Host
// header, become baseURL's; its path is kept (after baseURL's path, if
// any), as are its query, headers and body. The caller's request is never
// modified. next sends the clone; nil means http.DefaultTransport.
//
// baseURL must be an absolute http or https URL without user info, query or
// fragment, such as the URL of a [Server] or of a verifyd process.
func RedirectTransport(baseURL string, next http.RoundTripper) (http.RoundTripper, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("verifydtest: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("verifydtest: base URL %q: scheme must be http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("verifydtest: base URL %q has no host", baseURL)
	case u.User != nil, u.RawQuery != "", u.ForceQuery, u.Fragment != "":
		return nil, errors.New("verifydtest: base URL must not have user info, a query or a fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	if next == nil {
		next = http.DefaultTransport
	}
	return &redirect{target: u, next: next}, nil
}

// RedirectClient returns an http.Client that sends Twilio Verify requests
// to baseURL, as [RedirectTransport] describes, over its own connection pool.
// Like the default client of the Twilio SDKs it never follows redirects,
// which the Verify API does not send.
func RedirectClient(baseURL string) (*http.Client, error) {
	tr, err := RedirectTransport(baseURL, http.DefaultTransport.(*http.Transport).Clone())
	if err != nil {
		return nil, err
	}
	return newClient(tr), nil
}

// newClient wraps a redirecting transport the way every client of this
// package is built.
func newClient(tr http.RoundTripper) *http.Client {
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       clientTimeout,
	}
}

// RoundTrip implements http.RoundTripper.
func (rt *redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("verifydtest: request has no URL")
	}
	if strings.EqualFold(req.URL.Host, rt.target.Host) && req.URL.Scheme == rt.target.Scheme {
		return rt.next.RoundTrip(req)
	}
	if !isVerifyHost(req.URL.Host) {
		closeBody(req)
		return nil, &HostError{Host: req.URL.Host}
	}
	out := req.Clone(req.Context()) // a deep copy of URL and headers; the body is handed on
	out.URL.Scheme = rt.target.Scheme
	out.URL.Host = rt.target.Host
	if rt.target.Path != "" {
		out.URL.Path = rt.target.Path + req.URL.Path
		if req.URL.RawPath != "" || rt.target.RawPath != "" {
			out.URL.RawPath = rt.target.EscapedPath() + req.URL.EscapedPath()
		}
	}
	// The server builds each resource's url from the Host it is asked for,
	// so the links it returns point at the server, not at Twilio.
	out.Host = rt.target.Host
	return rt.next.RoundTrip(out)
}

// closeBody closes a request body that will not be sent, as every
// RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// isVerifyHost reports whether host, as in a URL (optionally with a port),
// is a host the Twilio SDKs send Verify requests to: verify.twilio.com,
// verify.{region}.twilio.com or verify.{edge}.{region}.twilio.com, on the
// default HTTPS or HTTP port. Case does not matter.
func isVerifyHost(host string) bool {
	if h, port, err := net.SplitHostPort(host); err == nil {
		if port != "443" && port != "80" {
			return false
		}
		host = h
	}
	labels := strings.Split(strings.ToLower(host), ".")
	n := len(labels)
	if n < 3 || n > 5 || labels[0] != "verify" || labels[n-2] != "twilio" || labels[n-1] != "com" {
		return false
	}
	for _, l := range labels[1 : n-2] { // the edge and region, when present
		if !isDNSLabel(l) {
			return false
		}
	}
	return true
}

// isDNSLabel reports whether s is a letter-digit-hyphen DNS label.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
