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

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/internal/authn"
	"github.com/verifykit/verifykit/internal/limits"
	"github.com/verifykit/verifykit/internal/scope"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/validate"
)

// Twilio error codes, named for their role. 20413 and 20431 have no
// published Twilio counterpart; verifykit follows the 20xxx = HTTP status
// pattern for them.
//
// Headers too large even for http.Server's MaxHeaderBytes get net/http's
// plain-text 431 before any handler runs; verifyd sets that backstop well
// above the limit that the limits stage enforces with a Twilio body.
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

// apiError is a failure with its Twilio status, code and message decided.
// Handlers return it for failures of their own; classify turns every other
// error into one.
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
	errAuthenticate    = &apiError{status: http.StatusUnauthorized, code: codeAuthenticate, message: "Authenticate"}
	errMethod          = &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed, message: "Method not allowed"}
	errTooLarge        = &apiError{status: http.StatusRequestEntityTooLarge, code: codeTooLarge, message: "Request Entity Too Large"}
	errHeadersTooLarge = &apiError{status: http.StatusRequestHeaderFieldsTooLarge, code: codeHeadersTooLarge, message: "Request Header Fields Too Large"}
	// errCrossSite refuses a form post from another site's page.
	errCrossSite = &apiError{status: http.StatusForbidden, code: codeForbidden, message: "Forbidden: cross-site requests must use CORS"}
)

func errTooManyFailures(wait time.Duration) *apiError {
	return &apiError{status: http.StatusTooManyRequests, code: codeTooManyRequests, message: "Too Many Requests",
		retryAfter: int((wait + time.Second - 1) / time.Second)}
}

func errUnavailable(cause error) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "Service Unavailable", retryAfter: 1, cause: cause}
}

func errInternal(cause error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "Internal Server Error", cause: cause}
}

// renderError is echo's HTTPErrorHandler: the only code that writes an
// error body. Every failure, from any stage of the chain, the handlers or
// echo itself, leaves as the Twilio error JSON that openapi.yaml declares
// for its status; anything unrecognised becomes 500 and is logged.
func renderError(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		ctx := c.Request().Context()
		e := classify(err, c.Request())
		if e.status >= http.StatusInternalServerError {
			log.LogAttrs(ctx, slog.LevelError, "request failed",
				slog.String("request_id", scope.From(ctx).ID),
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
			log.LogAttrs(ctx, slog.LevelWarn, "write error response",
				slog.String("request_id", scope.From(ctx).ID),
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

// classify maps any error to the Twilio error it is sent as; the most
// specific cause first.
func classify(err error, r *http.Request) *apiError {
	var (
		ae  *apiError
		le  *authn.LimitedError
		mbe *http.MaxBytesError
		re  *validate.RequestError
		he  *echo.HTTPError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, authn.ErrUnauthenticated):
		return errAuthenticate
	case errors.As(err, &le):
		return errTooManyFailures(le.RetryAfter)
	case errors.Is(err, limits.ErrHeadersTooLarge):
		return errHeadersTooLarge
	case errors.Is(err, limits.ErrBodyTooLarge), errors.As(err, &mbe):
		return errTooLarge
	case errors.Is(err, scope.ErrUnusableHost):
		return errInvalidParameter("Host")
	case errors.As(err, &re):
		e := errInvalidParameter(re.Parameter)
		if re.Code != 0 {
			e.code = re.Code
		}
		return e
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(r.URL.Path)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return errUnavailable(err)
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			return errNotFound(r.URL.Path)
		case http.StatusMethodNotAllowed:
			return errMethod
		case http.StatusRequestEntityTooLarge:
			return errTooLarge
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			return errInvalidParameter("body")
		case http.StatusServiceUnavailable:
			return errUnavailable(err)
		}
	}
	return errInternal(err)
}

// allowedMethods is the Allow header for a 405: echo's router records the
// methods of the path it matched.
func allowedMethods(c echo.Context) string {
	if v, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok && v != "" {
		return v
	}
	return "OPTIONS"
}
