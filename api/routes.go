package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/verifykit/verifykit/api/mcp"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/authn"
	"github.com/verifykit/verifykit/internal/docsui"
	"github.com/verifykit/verifykit/internal/limits"
	"github.com/verifykit/verifykit/internal/observe"
	"github.com/verifykit/verifykit/internal/phone"
	"github.com/verifykit/verifykit/internal/scope"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/internal/validate"
	"github.com/verifykit/verifykit/internal/webhook"
)

// ResponseValidation says what happens to a response that breaks the spec.
type ResponseValidation = validate.ResponseMode

// The response validation modes.
const (
	// ResponseValidationEnforce replaces the response with 500 · 20500 and
	// logs why. It is the default.
	ResponseValidationEnforce = validate.Enforce
	// ResponseValidationLog logs why and sends the response unchanged.
	ResponseValidationLog = validate.LogOnly
)

// Config holds the settings of the API handler. The zero value is usable.
type Config struct {
	// PublicURL is the base of every resource's url, such as
	// "https://verify.example.com". Empty means the scheme and host each
	// request came in on.
	PublicURL string
	// ResponseValidation is ResponseValidationEnforce when empty.
	ResponseValidation ResponseValidation
	// BodyLimit caps request bodies, in bytes; 64 KiB when zero.
	BodyLimit int64
	// RequestTimeout bounds each request's store calls; 5 s when zero. A
	// store that does not answer in time gives 503 · 20503.
	RequestTimeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// AuthFailureLimit is how many failed authentications a client (an IP
	// address; an IPv6 /64) may make per credential SID per
	// AuthFailureWindow, and a tenth of how many it may make over all
	// credentials; 10 when zero, no limit when negative. A credential that
	// used them up gets 429 · 20429 with Retry-After before it is checked,
	// until its allowance refills; other credentials from the same client
	// are not affected unless the client is over its ceiling (see
	// docs/design.md).
	AuthFailureLimit int
	// AuthFailureWindow is the time over which AuthFailureLimit refills
	// (one failure's worth every AuthFailureWindow/AuthFailureLimit);
	// one minute when zero.
	AuthFailureWindow time.Duration
	// TrustForwardedFor names clients by the last X-Forwarded-For address,
	// the one the nearest proxy appended, instead of the connection's peer
	// (still used when the header is missing or not an address). Set it
	// only behind a reverse proxy that appends that header: without one,
	// clients choose their own names and escape the limit.
	TrustForwardedFor bool
	// EventsRecorded is called, and must not block, after a request has
	// recorded webhook events, so that a deliverer sends them at once
	// rather than at its next poll; nil when nothing listens.
	EventsRecorded func()
	// WebhookHosts are the hosts a webhook URL may name; loopback only
	// when nil.
	WebhookHosts *webhook.Hosts
	// Collectors are more metrics that /metrics serves, such as the
	// webhook deliverer's.
	Collectors []prometheus.Collector
	// PhoneDir, when set, serves the virtual phone at /phone (package
	// internal/phone), keeping its devices' state files in this directory.
	// verifyd sets it only in dev mode on a loopback listen address; even
	// then the phone answers only loopback requests, and /phone is an
	// unknown route (404) otherwise.
	PhoneDir string
}

const (
	defaultBodyLimit      = 64 << 10
	defaultRequestTimeout = 5 * time.Second
	readyTimeout          = 2 * time.Second
	// maxHeaderBytes caps a request's header fields; http.Server's
	// MaxHeaderBytes must be larger, as a backstop.
	maxHeaderBytes = 16 << 10
)

// NewHandler builds the whole verifyd HTTP surface: the spec's operations
// behind the chain, and /mcp through the same chain; outside it,
// /healthz, /readyz and /metrics, the contract at /openapi.yaml and
// /openapi.json with Swagger UI at /docs, and the virtual phone at /phone
// when cfg.PhoneDir is set.
func NewHandler(cfg Config, st store.Store, keys *token.KeySet, log *slog.Logger) (http.Handler, error) {
	if st == nil || keys == nil || log == nil {
		return nil, errors.New("api: store, keys and logger are required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	notify := cfg.EventsRecorded
	if notify == nil {
		notify = func() {}
	}
	hosts := cfg.WebhookHosts
	if hosts == nil {
		hosts, _ = webhook.ParseHosts(webhook.Loopback) // cannot fail
	}
	return newHandler(cfg, st, keys, newServer(st, keys, now, notify, hosts), log)
}

// newHandler builds the handler around impl; tests pass an impl that
// misbehaves on purpose.
func newHandler(cfg Config, st store.Store, keys *token.KeySet, impl verifyserver.StrictServerInterface, log *slog.Logger) (http.Handler, error) {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = defaultBodyLimit
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	switch cfg.ResponseValidation {
	case "", ResponseValidationEnforce, ResponseValidationLog:
	default:
		return nil, fmt.Errorf("api: unknown response validation mode %q", cfg.ResponseValidation)
	}
	var public *url.URL
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return nil, fmt.Errorf("api: public URL %q is not an absolute URL", cfg.PublicURL)
		}
		public = u
	}
	doc, err := validate.LoadSpec(context.Background())
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	validator := validate.New(doc, validate.Options{
		Options:   validate.KinOptions(),
		Responses: cfg.ResponseValidation,
		Logger:    log,
	})
	observer := observe.New(log, validator.OperationID)
	if err := observer.Register(cfg.Collectors...); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	auth := authn.New(st, authn.Config{
		FailureLimit:      cfg.AuthFailureLimit,
		FailureWindow:     cfg.AuthFailureWindow,
		TrustForwardedFor: cfg.TrustForwardedFor,
		Keys:              keys,
		LookupTimeout:     cfg.RequestTimeout,
		Now:               cfg.Now,
	})

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = renderError(log)
	chain := []echo.MiddlewareFunc{
		scope.Middleware(scope.Config{PublicURL: public, Timeout: cfg.RequestTimeout}), // 1. Twilio-Request-Id, deadline, origin
		recoverPanics(),       // 2. a panic becomes 500 · 20500, logged with its stack
		observer.Middleware(), // 3. one access log line and the metrics
		cors(),                // 4. Access-Control-*; preflight; cross-site forms refused
		limits.Middleware(limits.Config{ // 5. header and body caps; unread bodies close the connection
			HeaderBytes: maxHeaderBytes, BodyBytes: cfg.BodyLimit}),
		auth.Middleware(validator.Schemes), // 6. the operation's security schemes; failures limited
		validator.Middleware(),             // 7. kin-openapi: the request now, the response before it is sent
	}
	// echo composes the chain anew for each request (about 0.3 µs and
	// seven small allocations: docs/benchmarks.md); the price of a chain
	// that every route, 404 and 405 included, passes in one visible order.
	e.Use(chain...)
	verifyserver.RegisterHandlers(e, verifyserver.NewStrictHandler(impl, nil)) // 8. the strict handlers
	tools, err := mcp.NewHandler(doc, e, log)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	// MCP is outside the spec: the authn and validate stages let it
	// through, and each tool call authenticates and validates as it
	// re-enters the chain.
	e.Any(mcp.Path, echo.WrapHandler(tools))

	health, ready, metrics := healthz(), readyz(st), observer.Metrics()
	contract, err := docsui.Handler()
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	var phoneUI http.Handler // nil: /phone goes to echo, an unknown route
	if cfg.PhoneDir != "" {
		if phoneUI, err = newPhone(cfg, keys); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	// The probes, the metrics, the contract and the dev-only phone are
	// outside the chain: no credentials, no access log (the phone's
	// devices call the operations through the chain, over HTTP). A switch,
	// not a ServeMux, so that echo sees every other path exactly as sent.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz":
			health.ServeHTTP(w, r)
		case p == "/readyz":
			ready.ServeHTTP(w, r)
		case p == "/metrics":
			metrics.ServeHTTP(w, r)
		case docsui.Serves(p):
			contract.ServeHTTP(w, r)
		case phoneUI != nil && phone.Serves(p) && phone.Local(r):
			phoneUI.ServeHTTP(w, r)
		default:
			e.ServeHTTP(w, r)
		}
	}), nil
}

// newPhone builds the virtual phone; it reads access tokens with the
// handler's own keys, so that the page needs only the token.
func newPhone(cfg Config, keys *token.KeySet) (http.Handler, error) {
	return phone.New(phone.Config{
		Dir: cfg.PhoneDir,
		OpenToken: func(compact string) (phone.Claims, error) {
			c, err := token.Open(keys, compact)
			if err != nil {
				return phone.Claims{}, err
			}
			return phone.Claims{ServiceSID: c.ServiceSID, Identity: c.Identity}, nil
		},
		Now: cfg.Now,
	})
}

// recoverPanics is echo's Recover middleware, set to return the panic as
// an error with its stack, which renderError logs and sends as 500 · 20500.
func recoverPanics() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableErrorHandler: true,
		LogErrorFunc: func(_ echo.Context, err error, stack []byte) error {
			return errInternal(fmt.Errorf("panic: %w\n%s", err, stack))
		},
	})
}

// healthz answers 200 while the process serves HTTP.
func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// readyz answers 200 only while the store answers a ping.
func readyz(st store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := st.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("store unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
