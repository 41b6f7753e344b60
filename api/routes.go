package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/authn"
	"github.com/verifykit/verifykit/internal/docsui"
	"github.com/verifykit/verifykit/internal/spec"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
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
}

const (
	defaultBodyLimit      = 64 << 10
	defaultRequestTimeout = 5 * time.Second
	readyTimeout          = 2 * time.Second
)

// NewHandler builds the whole verifyd HTTP surface: the two spec operations
// behind authentication and validation in both directions, plus /healthz,
// /readyz and /metrics; the contract itself at /openapi.yaml and
// /openapi.json, with Swagger UI at /docs (internal/docsui); and the
// operations as MCP tools at /mcp (mcp.go).
func NewHandler(cfg Config, st store.Store, keys *token.KeySet, log *slog.Logger) (http.Handler, error) {
	if st == nil || keys == nil || log == nil {
		return nil, errors.New("api: store, keys and logger are required")
	}
	srv := &server{store: st, keys: keys, now: cfg.Now, tokens: newTokenCache(tokenCacheSize)}
	if srv.now == nil {
		srv.now = time.Now
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return nil, fmt.Errorf("api: public URL %q is not an absolute URL", cfg.PublicURL)
		}
		u.Path = strings.TrimRight(u.Path, "/")
		srv.publicURL = u
	}
	return newHandler(cfg, st, srv, log)
}

// newHandler wires the pipeline and routes around impl; tests pass an
// impl that misbehaves on purpose.
func newHandler(cfg Config, st store.Store, impl verifyserver.StrictServerInterface, log *slog.Logger) (http.Handler, error) {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = defaultBodyLimit
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	switch cfg.ResponseValidation {
	case "":
		cfg.ResponseValidation = ResponseValidationEnforce
	case ResponseValidationEnforce, ResponseValidationLog:
	default:
		return nil, fmt.Errorf("api: unknown response validation mode %q", cfg.ResponseValidation)
	}

	doc, err := spec.Load(context.Background())
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	p := &pipeline{
		timeout: cfg.RequestTimeout,
		routes:  newRouteTable(doc),
		log:     log,
		metrics: newMetrics(),
		auth: authn.New(st, authn.Config{
			FailureLimit:      cfg.AuthFailureLimit,
			FailureWindow:     cfg.AuthFailureWindow,
			TrustForwardedFor: cfg.TrustForwardedFor,
			LookupTimeout:     cfg.RequestTimeout,
			Now:               cfg.Now,
		}),
		publicURL:   cfg.PublicURL != "",
		bodyLimit:   cfg.BodyLimit,
		headerLimit: maxHeaderBytes,
		requests:    newRequestValidator(),
		responses:   newResponseValidator(cfg.ResponseValidation),
		headers:     newFixedHeaders(),
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = renderError(log)
	e.Use(p.middleware)
	verifyserver.RegisterHandlers(e, verifyserver.NewStrictHandler(impl, nil))

	health := healthz()
	ready := readyz(st)
	metricsHandler := p.metrics.handler()
	contract, err := docsui.Handler()
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	mcpHandler, err := newMCPHandler(e, doc, cfg.BodyLimit, log)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	mcpHandler = p.logged(mcpHandler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			health.ServeHTTP(w, r)
		case "/readyz":
			ready.ServeHTTP(w, r)
		case "/metrics":
			metricsHandler.ServeHTTP(w, r)
		case pathMCP:
			mcpHandler.ServeHTTP(w, r)
		default:
			if docsui.Serves(r.URL.Path) {
				contract.ServeHTTP(w, r)
				return
			}
			e.ServeHTTP(w, r)
		}
	}), nil
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
