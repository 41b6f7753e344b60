// Package scope is the first stage of verifyd's chain: it gives each API
// request its scope, which later stages and the handlers read from the
// request's context:
//
//   - its Twilio-Request-Id (RQ and 32 hex digits), also sent back on the
//     response;
//   - the deadline of its store calls (StoreContext);
//   - the origin its resource URLs are built on (Origin);
//   - who it authenticated as (set by the authn stage).
package scope

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/internal/sid"
)

// ErrUnusableHost reports that resource URLs cannot be built for a
// request: there is no public URL, and its Host is empty, too long, or not
// a host.
var ErrUnusableHost = errors.New("scope: the request's Host cannot be the host of a URL")

// Config holds the settings of the scope stage.
type Config struct {
	// PublicURL is the base of every resource's url, such as
	// "https://verify.example.com"; nil means the scheme and host each
	// request came in on.
	PublicURL *url.URL
	// Timeout bounds the store calls of a request, from when it arrives.
	Timeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Request is the scope of one request. It is itself the request's context
// (the parent's, with this one value more), so that scoping a request
// allocates no context node.
type Request struct {
	context.Context
	// ID is the request's Twilio-Request-Id.
	ID       string
	idHeader [1]string // the header value, so that setting it allocates nothing
	deadline time.Time
	public   string // the public URL, or "" to build origins from host
	host     string
	https    bool
	last     *atomic.Pointer[lastOrigin] // shared by the requests of one stage
	// Who the request authenticated as, set by the authn stage: empty
	// until it has run, and for requests it let through unauthenticated.
	//
	// Scheme names the security scheme of the spec that authenticated the
	// request, AccountSID the account whose data it may touch, and
	// CredentialSID what it presented: an AC or SK SID, an access token's
	// YK SID (scheme enrollmentToken), or a factor's CR credential SID
	// (scheme deviceJwt).
	Scheme, AccountSID, CredentialSID string
	// ServiceSID and Identity are what an enrollment token was minted for,
	// or the service and entity of a device's factor; FactorSID is the
	// device's factor.
	ServiceSID, Identity, FactorSID string
}

type key struct{}

// Value returns r for this package's key and asks the parent for others.
func (r *Request) Value(k any) any {
	if k == (key{}) {
		return r
	}
	return r.Context.Value(k)
}

// From returns the scope of the request whose context ctx is, or the zero
// scope (no id, no origin, no principal) outside a scoped request.
func From(ctx context.Context) *Request {
	if r, ok := ctx.Value(key{}).(*Request); ok {
		return r
	}
	return &Request{Context: ctx}
}

// Origin returns the base of the request's resource URLs: the public URL,
// or the scheme and host the request came in on.
func (r *Request) Origin() (string, error) {
	if r.public != "" {
		return r.public, nil
	}
	if r.last == nil { // not a scoped request
		return origin(r.host, r.https)
	}
	if last := r.last.Load(); last != nil && last.host == r.host && last.https == r.https {
		return last.origin, nil
	}
	o, err := origin(r.host, r.https)
	if err == nil {
		r.last.Store(&lastOrigin{host: r.host, https: r.https, origin: o})
	}
	return o, err
}

// lastOrigin is the origin of the last request whose Host was usable:
// clients mostly send the same Host, and a hit saves parsing it again.
type lastOrigin struct {
	host   string
	https  bool
	origin string
}

// StoreContext bounds a store call by its request's deadline. The
// deadline is applied only when a call is made: many requests make none.
func StoreContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r, ok := ctx.Value(key{}).(*Request); ok && !r.deadline.IsZero() {
		return context.WithDeadline(ctx, r.deadline)
	}
	return ctx, func() {}
}

// Middleware is the scope stage as echo middleware.
func Middleware(cfg Config) echo.MiddlewareFunc {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	public := ""
	if cfg.PublicURL != nil {
		public = strings.TrimRight(cfg.PublicURL.String(), "/")
	}
	last := new(atomic.Pointer[lastOrigin])
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			s := &Request{Context: req.Context(), ID: sid.New(sid.Request), public: public, host: req.Host, https: req.TLS != nil, last: last}
			if cfg.Timeout > 0 {
				s.deadline = cfg.Now().Add(cfg.Timeout)
			}
			s.idHeader[0] = s.ID
			c.Response().Header()["Twilio-Request-Id"] = s.idHeader[:]
			c.SetRequest(req.WithContext(s))
			return next(c)
		}
	}
}

// maxHostLen bounds the Host resource URLs are built from: a DNS name has
// at most 253 characters, and a port 6 more.
const maxHostLen = 260

// origin is scheme://host, unless host is empty, too long or not parsed
// back as itself.
func origin(host string, https bool) (string, error) {
	if host == "" || len(host) > maxHostLen {
		return "", ErrUnusableHost
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	u, err := url.Parse(scheme + "://" + host + "/")
	if err != nil || u.Host != host {
		return "", ErrUnusableHost
	}
	return scheme + "://" + host, nil
}
