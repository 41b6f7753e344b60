package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/internal/authn"
	"github.com/verifykit/verifykit/internal/store"
)

// Twilio error codes, named for their role. 20413 and 20431 have no
// published Twilio counterpart; verifykit follows the 20xxx = HTTP status
// pattern for them.
//
// Headers too large even for http.Server's MaxHeaderBytes get net/http's
// plain-text 431 before any handler runs; verifyd sets that backstop well
// above the limit that the pipeline enforces with a Twilio body.
const (
	codeAuthenticate     = 20003
	codeMethodNotAllowed = 20004
	codeForbidden        = 20403
	codeNotFound         = 20404
	codeTooLarge         = 20413
	codeHeadersTooLarge  = 20431
	codeTooManyRequests  = 20429
	codeInternal         = 20500
	codeUnavailable      = 20503
	codeInvalidParameter = 60200
)

const moreInfoBase = "https://www.twilio.com/docs/errors/"

// apiError is a failure with its Twilio status, code and message already
// decided. Handlers and pipeline stages return it; renderError writes it.
type apiError struct {
	status     int
	code       int
	message    string
	retryAfter int   // seconds; sent as Retry-After when positive
	cause      error // logged for 5xx, never sent
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.message + ": " + e.cause.Error()
	}
	return e.message
}

func (e *apiError) Unwrap() error { return e.cause }

func errInvalidParameter(name string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeInvalidParameter, message: "Invalid parameter: " + name}
}

func errNotFound(path string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, message: "The requested resource " + path + " was not found"}
}

var (
	errAuthenticate = &apiError{status: http.StatusUnauthorized, code: codeAuthenticate, message: "Authenticate"}
	errMethod       = &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed, message: "Method not allowed"}
	// errCrossSite refuses a form post from another site's page.
	errCrossSite = &apiError{status: http.StatusForbidden, code: codeForbidden, message: "Forbidden: cross-site requests must use CORS"}
	errTooLarge  = &apiError{status: http.StatusRequestEntityTooLarge, code: codeTooLarge, message: "Request Entity Too Large"}
	// errHeadersTooLarge: see the note on the codes.
	errHeadersTooLarge = &apiError{status: http.StatusRequestHeaderFieldsTooLarge, code: codeHeadersTooLarge, message: "Request Header Fields Too Large"}
)

// errTooManyFailures refuses a client that failed authentication too
// often, for wait more seconds.
func errTooManyFailures(wait int) *apiError {
	return &apiError{status: http.StatusTooManyRequests, code: codeTooManyRequests, message: "Too Many Requests", retryAfter: wait}
}

func errUnavailable(cause error) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "Service Unavailable", retryAfter: 1, cause: cause}
}

func errInternal(cause error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "Internal Server Error", cause: cause}
}

// renderError is echo's HTTPErrorHandler: the only code that writes an error
// body. Every failure leaves as the Twilio error JSON that openapi.yaml
// declares for its status; anything unrecognised becomes 500 and is logged.
func renderError(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		e := classify(err, c.Request())
		if e.status >= http.StatusInternalServerError {
			log.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
				slog.String("request_id", requestIDFrom(c.Request().Context())),
				slog.Int("status", e.status),
				slog.String("error", err.Error()))
		}
		if c.Response().Committed {
			return
		}
		h := c.Response().Header()
		switch e.status {
		case http.StatusUnauthorized:
			h.Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		case http.StatusMethodNotAllowed:
			h.Set("Allow", allowedMethods(c))
		}
		if e.retryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(e.retryAfter))
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(e.status)
			return
		}
		body, err := encodeError(e)
		if err == nil {
			h.Set("Content-Type", echo.MIMEApplicationJSON)
			c.Response().WriteHeader(e.status)
			_, err = c.Response().Write(body)
		}
		if err != nil {
			log.LogAttrs(c.Request().Context(), slog.LevelWarn, "write error response",
				slog.String("request_id", requestIDFrom(c.Request().Context())),
				slog.String("error", err.Error()))
		}
	}
}

// encodeError returns the Twilio error JSON of e, as echo's JSON encoder
// writes it (with a trailing newline). Bodies are not cached: a message
// may carry a path or a field name from the request, and a cache keyed by
// request input grows with whatever a client sends.
func encodeError(e *apiError) ([]byte, error) {
	body, err := json.Marshal(models.Error{
		Code:     e.code,
		Message:  e.message,
		MoreInfo: moreInfoBase + strconv.Itoa(e.code),
		Status:   e.status,
	})
	if err != nil {
		return nil, fmt.Errorf("encode error body: %w", err)
	}
	return append(body, '\n'), nil
}

// classify maps any error to the Twilio error it is sent as.
func classify(err error, r *http.Request) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var le *authn.LimitedError
	if errors.As(err, &le) {
		return errTooManyFailures(int((le.RetryAfter + time.Second - 1) / time.Second))
	}
	if errors.Is(err, authn.ErrUnauthenticated) {
		return errAuthenticate
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(r.URL.Path)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return errUnavailable(err)
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		return errInvalidParameter(parameterName(re))
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return errNotFound(r.URL.Path)
		case http.StatusMethodNotAllowed:
			return errMethod
		case http.StatusRequestEntityTooLarge:
			return errTooLarge
		case http.StatusUnauthorized, http.StatusForbidden:
			return errAuthenticate
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			return errInvalidParameter("body")
		case http.StatusServiceUnavailable:
			return errUnavailable(err)
		}
	}
	return errInternal(err)
}

// parameterName names the offending parameter of a failed request
// validation, the way Twilio words it ("Invalid parameter: Ttl").
func parameterName(re *openapi3filter.RequestError) string {
	if re.Parameter != nil {
		return re.Parameter.Name
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		if p := se.JSONPointer(); len(p) > 0 {
			return p[0]
		}
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		if p := pe.Path(); len(p) > 0 {
			if s, ok := p[0].(string); ok {
				return s
			}
		}
	}
	if re.RequestBody != nil {
		var ce *openapi3filter.ParseError
		if errors.As(re.Err, &ce) && ce.Kind == openapi3filter.KindUnsupportedFormat {
			return "Content-Type"
		}
		return "body"
	}
	return "request"
}

// allowedMethods is the Allow header for a 405: echo's router records the
// methods of the path it matched.
func allowedMethods(c echo.Context) string {
	if v, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok && v != "" {
		return v
	}
	return "OPTIONS"
}
