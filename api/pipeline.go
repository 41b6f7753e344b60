package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/internal/authn"
	"github.com/verifykit/verifykit/internal/sid"
)

// pipeline is everything verifyd does around the generated handlers, in the
// design's order: scope the request, then (recovering from panics) CORS,
// header and body limits, authentication, request validation and the
// handler, with the response held back until it has been validated; last,
// one access log line and the metrics.
//
// It is one echo middleware whose stages are plain method calls: echo v4
// builds its middleware chain anew on every request, one closure per
// middleware, and this hot path cannot afford nine.
type pipeline struct {
	timeout time.Duration
	routes  *routeTable
	log     *slog.Logger
	metrics *metrics
	auth    *authn.Authenticator
	// publicURL: resource URLs do not depend on the request's Host.
	publicURL   bool
	bodyLimit   int64
	headerLimit int
	requests    *requestValidator
	responses   *responseValidator
	headers     fixedHeaders
}

// fixedHeaders are header values sent on every response, each built once.
// The slices are shared by all responses and never written to.
type fixedHeaders struct {
	allowOrigin, allowMethods, allowHeaders, allowCredentials, exposeHeaders, maxAge []string
}

// CORS values, as the real service sends them.
const (
	corsAllowMethods  = "GET, POST, OPTIONS"
	corsAllowHeaders  = "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since, User-Agent"
	corsExposeHeaders = "ETag, Twilio-Request-Id"
)

func newFixedHeaders() fixedHeaders {
	return fixedHeaders{
		allowOrigin:      []string{"*"},
		allowMethods:     []string{corsAllowMethods},
		allowHeaders:     []string{corsAllowHeaders},
		allowCredentials: []string{"true"},
		exposeHeaders:    []string{corsExposeHeaders},
		maxAge:           []string{"86400"},
	}
}

// middleware is the pipeline as echo middleware.
func (p *pipeline) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return p.serve(c, next) }
}

// serve runs one request through every stage. Errors are rendered here, by
// renderError, so that response validation and the access log see the
// final response.
func (p *pipeline) serve(c echo.Context, next echo.HandlerFunc) error {
	start := time.Now()
	ri := p.scope(c, start)
	if !matchesTemplate(c.Path(), echo.GetPath(c.Request())) {
		// echo's last path parameter takes the rest of the path, and a
		// 405 names the route without its parameters; in the spec's
		// templates, as in kin-openapi's router, each parameter is one
		// non-empty segment. Such a path is outside the spec: 404.
		ri.op, next = nil, routeNotFound
	}
	if ri.op == nil {
		// Outside the spec: echo or routeNotFound answers 404 or 405, and
		// no operation declares what such a response looks like.
		if err := p.guarded(c, ri, next); err != nil {
			c.Error(err)
		}
	} else {
		p.validated(c, ri, next)
	}
	p.observe(c, ri, start)
	return nil
}

// capBody caps the body of r, the request net/http gave the handler, at
// the body limit, and returns a copy of r that reads through the cap.
// net/http's own request keeps its own body: net/http looks there to
// decide whether the connection may serve another request, and a request
// that swaps it hides an unfinished body, whose rest would then be read
// as a new request. w must be net/http's own writer, through which
// MaxBytesReader makes net/http close the connection at the cap. A body
// not read to its end, for whatever reason, closes the connection after
// the response (Connection: close, set by closeUnread).
func (p *pipeline) capBody(ctx context.Context, w http.ResponseWriter, r *http.Request) (*http.Request, *countedBody) {
	r2 := r.WithContext(ctx)
	if r.Body == nil || r.Body == http.NoBody {
		return r2, nil
	}
	b := &countedBody{rc: http.MaxBytesReader(w, r.Body, p.bodyLimit), length: r.ContentLength}
	r2.Body = b
	return r2, b
}

// countedBody is a request body that knows whether it was read to its
// end.
type countedBody struct {
	rc     io.ReadCloser
	length int64 // Content-Length; -1 when unknown (chunked)
	read   int64
	eof    bool
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.read += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *countedBody) Close() error { return b.rc.Close() }

// done reports whether the whole body was read.
func (b *countedBody) done() bool { return b.eof || (b.length >= 0 && b.read == b.length) }

// closeUnread asks net/http to close the connection after the response
// when b was not read to its end: what is left of it must never be taken
// for the next request. h is the header of the response about to be sent.
func closeUnread(b *countedBody, h http.Header) {
	if b != nil && !b.done() {
		h["Connection"] = connectionClose
	}
}

// connectionClose is shared by every response it is set on; never written to.
var connectionClose = []string{"close"}

// matchesTemplate reports whether path, as echo routed it (an encoded
// slash is still "%2F"), has the segments of echo's route template, each
// ":name" parameter one non-empty segment. It knows only the templates
// that the generated code registers: whole-segment parameters, no "*".
// An empty template (no route matched) matches: echo answers 404 itself.
func matchesTemplate(template, path string) bool {
	if template == "" {
		return true
	}
	for {
		ti, pi := strings.IndexByte(template, '/'), strings.IndexByte(path, '/')
		if (ti < 0) != (pi < 0) {
			return false
		}
		tseg, pseg := template, path
		if ti >= 0 {
			tseg, pseg = template[:ti], path[:pi]
		}
		if pseg == "" && strings.HasPrefix(tseg, ":") {
			return false
		}
		if ti < 0 {
			return true
		}
		template, path = template[ti+1:], path[pi+1:]
	}
}

// routeNotFound answers a request whose path matches no operation.
func routeNotFound(echo.Context) error { return echo.ErrNotFound }

// scope gives the request its Twilio-Request-Id, its base URL, its spec
// operation and a deadline that bounds every store call it makes, all in
// one context value, and caps the reader of its body.
func (p *pipeline) scope(c echo.Context, start time.Time) *requestInfo {
	r := c.Request()
	ri := &requestInfo{
		Context:     r.Context(),
		id:          sid.New(sid.Request),
		deadline:    start.Add(p.timeout),
		op:          p.routes.lookup(r.Method, c.Path()),
		paramNames:  c.ParamNames(),
		paramValues: c.ParamValues(),
	}
	ri.scheme, ri.host = "http", r.Host
	if r.TLS != nil {
		ri.scheme = "https"
	}
	ri.idHeader[0] = ri.id
	c.Response().Header()["Twilio-Request-Id"] = ri.idHeader[:]
	// Before validation swaps in the recorder.
	r2, body := p.capBody(ri, c.Response().Writer, r)
	if body != nil {
		res := c.Response()
		res.Before(func() { closeUnread(body, res.Header()) })
	}
	c.SetRequest(r2)
	return ri
}

// maxHostLen bounds the Host of a request whose resource URLs are built
// from it: a DNS name has at most 253 characters, and a port 6 more.
const maxHostLen = 260

// usableHost reports whether host can be the host of an absolute URL that
// validates as format uri: not empty, not too long, and parsed back as
// itself.
func usableHost(host string) bool {
	if host == "" || len(host) > maxHostLen {
		return false
	}
	u, err := url.Parse("http://" + host + "/")
	return err == nil && u.Host == host
}

// validated runs a request of a spec operation with its response held
// back, renders any error into it as well, and sends it only once it has
// been found valid against the spec.
func (p *pipeline) validated(c echo.Context, ri *requestInfo, next echo.HandlerFunc) {
	orig := c.Response()
	rec := p.responses.recorder(orig.Header())
	defer p.responses.release(rec)
	c.SetResponse(echo.NewResponse(rec, c.Echo()))
	if err := p.guarded(c, ri, next); err != nil {
		c.Error(err)
	}
	c.SetResponse(orig)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	r := c.Request()
	if verr := p.checkResponse(r, ri, rec); verr != nil {
		if p.responses.mode != ResponseValidationLog {
			// renderError logs the 500 with the reason. The 500 carries
			// nothing of the response it replaces, header fields included.
			p.resetHeaders(c, ri)
			c.Error(errInternal(fmt.Errorf("response violates openapi.yaml (%s, status %d): %w", ri.op.id, rec.status, verr)))
			return
		}
		p.log.LogAttrs(r.Context(), slog.LevelError, "response violates openapi.yaml",
			slog.String("request_id", ri.id),
			slog.String("operation", ri.op.id),
			slog.Int("status", rec.status),
			slog.String("reason", verr.Error()))
	}
	orig.WriteHeader(rec.status)
	if _, err := orig.Write(rec.body.Bytes()); err != nil {
		p.log.LogAttrs(r.Context(), slog.LevelDebug, "write response",
			slog.String("request_id", ri.id), slog.String("error", err.Error()))
	}
}

// resetHeaders leaves on the response only the header fields that the
// pipeline sets on every response.
func (p *pipeline) resetHeaders(c echo.Context, ri *requestInfo) {
	h := c.Response().Header()
	clear(h)
	h["Twilio-Request-Id"] = ri.idHeader[:]
	p.cors(c)
}

// checkResponse validates a held-back response; a panic while doing so
// counts as a violation, so the client still gets a 500 and the access log
// its line.
func (p *pipeline) checkResponse(r *http.Request, ri *requestInfo, rec *recorder) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic while validating: %v\n%s", v, debug.Stack())
		}
	}()
	return p.responses.check(r, ri, rec)
}

// guarded runs the stages that may refuse a request, then the handler,
// and turns a panic in any of them into a 500 error; renderError logs it
// with its stack, and the client sees only the Twilio 20500 body.
func (p *pipeline) guarded(c echo.Context, ri *requestInfo, next echo.HandlerFunc) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			err = errInternal(fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
		}
	}()
	if p.cors(c) {
		return c.NoContent(http.StatusNoContent)
	}
	if crossSiteForm(c.Request()) {
		return errCrossSite
	}
	if err := p.limit(c); err != nil {
		return err
	}
	if ri.op != nil && !p.publicURL && !usableHost(ri.host) {
		// Resource URLs are built from the Host; refuse before anything
		// is stored rather than fail to describe what was.
		return errInvalidParameter("Host")
	}
	pr, err := p.auth.Authenticate(ri, c.Request())
	if err != nil {
		return err
	}
	ri.principal = principal{AccountSID: pr.AccountSID, CredentialSID: pr.CredentialSID}
	if ri.op != nil {
		if err := p.requests.check(c, ri); err != nil {
			return err
		}
	}
	return next(c)
}

// cors sets the Access-Control-* headers on every response, and reports
// whether the request is a preflight, which is answered before
// authentication because it carries no credentials.
func (p *pipeline) cors(c echo.Context) (preflight bool) {
	h := c.Response().Header()
	h["Access-Control-Allow-Origin"] = p.headers.allowOrigin
	h["Access-Control-Allow-Methods"] = p.headers.allowMethods
	h["Access-Control-Allow-Headers"] = p.headers.allowHeaders
	h["Access-Control-Allow-Credentials"] = p.headers.allowCredentials
	h["Access-Control-Expose-Headers"] = p.headers.exposeHeaders
	if c.Request().Method != http.MethodOptions {
		return false
	}
	h["Access-Control-Max-Age"] = p.headers.maxAge
	return true
}

// crossSiteForm reports whether r is a state-changing request that a
// browser sent for a page of another site without CORS: a form post or a
// no-cors fetch, which would carry Basic credentials the browser cached
// for verifyd. Browsers mark such requests with Sec-Fetch-Site and
// Sec-Fetch-Mode; scripts that pass CORS send Sec-Fetch-Mode: cors, and
// clients that are not browsers send neither.
func crossSiteForm(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return (site == "cross-site" || site == "same-site") && r.Header.Get("Sec-Fetch-Mode") != "cors"
}

// maxHeaderBytes caps a request's header fields; http.Server's
// MaxHeaderBytes must be larger, as a backstop, so that requests over this
// limit reach limit and get a Twilio error body.
const maxHeaderBytes = 16 << 10

// limit answers 431 · 20431 when the header fields of a request, Host
// included, add up to more than the header limit as sent ("Name:
// value\r\n" each); 413 · 20413 for a declared body length over the body
// limit. scope caps the reader of any other body.
func (p *pipeline) limit(c echo.Context) error {
	r := c.Request()
	n := len("Host: \r\n") + len(r.Host)
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(": \r\n") + len(v)
		}
	}
	if n > p.headerLimit {
		return errHeadersTooLarge
	}
	if r.ContentLength > p.bodyLimit {
		return errTooLarge
	}
	return nil
}

// observe records the metrics of a request and writes its access log
// line.
func (p *pipeline) observe(c echo.Context, ri *requestInfo, start time.Time) {
	end := time.Now()
	elapsed := end.Sub(start)
	r := c.Request()
	op := "none"
	if ri.op != nil {
		op = ri.op.id
	}
	status := c.Response().Status
	p.metrics.observe(op, status, elapsed)
	p.accessLog(r, ri.id, status, end, elapsed)
}

// accessLog writes the access log line of a request.
func (p *pipeline) accessLog(r *http.Request, id string, status int, end time.Time, elapsed time.Duration) {
	// The record goes straight to the handler: Logger.LogAttrs would also
	// look up the caller, which the line does not show.
	h := p.log.Handler()
	if !h.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	// Five attributes: a record holds up to five without allocating. The
	// operation is in the metrics, and follows from the method and path.
	rec.AddAttrs(
		slog.String("request_id", id),
		slog.String("method", truncate(r.Method, maxLoggedMethod)),
		slog.String("path", truncate(r.URL.Path, maxLoggedPath)),
		slog.Int("status", status),
		// An integer: slog encodes floats through encoding/json.
		slog.Int64("duration_us", elapsed.Microseconds()),
	)
	_ = h.Handle(r.Context(), rec) // a handler that cannot write has nowhere to say so
}

// Lengths beyond which the access log cuts a request's method and path:
// they come from the client, and the line must stay one readable line.
const (
	maxLoggedMethod = 32
	maxLoggedPath   = 2048
)

// truncate cuts s to n bytes, at a rune boundary, and says how much it
// left out.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[truncated " + strconv.Itoa(len(s)-cut) + " bytes]"
}

// logged gives each request to a handler outside echo, the MCP endpoint,
// a Twilio-Request-Id and an access log line, as every REST request has.
// The REST requests that its tool calls make have their own.
func (p *pipeline) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := sid.New(sid.Request)
		w.Header().Set("Twilio-Request-Id", id)
		r, body := p.capBody(r.Context(), w, r) // before statusWriter wraps w
		sw := &statusWriter{ResponseWriter: w, before: func(h http.Header) { closeUnread(body, h) }}
		returned := false
		defer func() {
			// Deferred, so that a request whose handler panics (net/http
			// recovers it, further up) still gets its line.
			status := sw.status()
			if !returned && sw.code == 0 {
				status = http.StatusInternalServerError
			}
			end := time.Now()
			p.accessLog(r, id, status, end, end.Sub(start))
		}()
		next.ServeHTTP(sw, r)
		returned = true
	})
}

// statusWriter remembers the status of a response. Unwrap lets
// http.ResponseController reach the writer's Flush, which streaming needs.
type statusWriter struct {
	http.ResponseWriter
	code   int
	before func(http.Header) // runs once, before the status is sent
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= http.StatusOK {
		w.code = code
		w.before(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the response's status; net/http sends 200 when the handler
// wrote nothing.
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
