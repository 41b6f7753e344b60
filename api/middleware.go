package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/internal/sid"
)

// requestScope gives every request its Twilio-Request-Id, its base URL and
// a deadline that bounds every store call it makes, in one context.
func requestScope(timeout time.Duration, routes *routeTable) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			ri := &requestInfo{
				id:          sid.New(sid.Request),
				op:          routes.lookup(r.Method, c.Path()),
				paramNames:  c.ParamNames(),
				paramValues: c.ParamValues(),
			}
			ri.base.Scheme = "http"
			if r.TLS != nil {
				ri.base.Scheme = "https"
			}
			ri.base.Host = r.Host
			c.Response().Header().Set("Twilio-Request-Id", ri.id)
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			c.SetRequest(r.WithContext(withRequestInfo(ctx, ri)))
			return next(c)
		}
	}
}

// observe writes one access log line and records the metrics of every
// request. It renders errors itself, so that it sees the final status.
func observe(log *slog.Logger, m *metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			elapsed := time.Since(start)
			r := c.Request()
			op := operationName(r.Context())
			status := c.Response().Status
			m.observe(op, status, elapsed)
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("request_id", requestIDFrom(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("operation", op),
				slog.Int("status", status),
				slog.Int64("bytes", c.Response().Size),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			)
			return nil
		}
	}
}

// recoverPanics turns a panic into a 500 error, logged with its stack by
// renderError; the client sees only the Twilio 20500 body.
func recoverPanics() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					err = errInternal(fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
				}
			}()
			return next(c)
		}
	}
}

// CORS values, as the real service sends them.
const (
	corsAllowMethods  = "GET, POST, OPTIONS"
	corsAllowHeaders  = "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since, User-Agent"
	corsExposeHeaders = "ETag, Twilio-Request-Id"
)

// cors sets the Access-Control-* headers on every response and answers
// preflight requests, which carry no credentials, before authentication.
func cors() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			if c.Request().Method == http.MethodOptions {
				h.Set("Access-Control-Max-Age", "86400")
				return c.NoContent(http.StatusNoContent)
			}
			return next(c)
		}
	}
}

// limitBody answers 413 for a declared length over the limit, and caps the
// body reader for requests that do not declare one.
func limitBody(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > limit {
				return errTooLarge
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			return next(c)
		}
	}
}

// maxHeaderBytes caps a request's header fields; http.Server's
// MaxHeaderBytes must be larger, as a backstop, so that requests over this
// limit reach limitHeaders and get a Twilio error body.
const maxHeaderBytes = 16 << 10

// limitHeaders answers 400 · 60200 (errHeadersTooLarge) when the header
// fields of a request, Host included, add up to more than limit bytes as
// sent ("Name: value\r\n" each).
func limitHeaders(limit int) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			n := len("Host: \r\n") + len(r.Host)
			for name, values := range r.Header {
				for _, v := range values {
					n += len(name) + len(": \r\n") + len(v)
				}
			}
			if n > limit {
				return errHeadersTooLarge
			}
			return next(c)
		}
	}
}

// statusLabel avoids strconv allocations for the statuses verifyd sends.
func statusLabel(status int) string {
	switch status {
	case 200:
		return "200"
	case 201:
		return "201"
	case 400:
		return "400"
	case 401:
		return "401"
	case 404:
		return "404"
	}
	return strconv.Itoa(status)
}
