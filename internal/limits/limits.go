// Package limits is the stage of verifyd's chain that caps what a request
// may send: its header fields and its body. A body that was not read to
// its end, for whatever reason, closes the connection after the response,
// so that what is left of it can never be read as the next request.
package limits

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Errors of the stage. A body that grows past the limit while it is read
// fails the read with *http.MaxBytesError.
var (
	// ErrHeadersTooLarge reports header fields over the header limit.
	ErrHeadersTooLarge = errors.New("limits: request header fields too large")
	// ErrBodyTooLarge reports a declared Content-Length over the body limit.
	ErrBodyTooLarge = errors.New("limits: request body too large")
)

// Config holds the limits.
type Config struct {
	// HeaderBytes caps a request's header fields, Host included, as sent
	// ("Name: value\r\n" each). http.Server's MaxHeaderBytes must be
	// larger, as a backstop, so that requests over this limit get an
	// answer from the chain.
	HeaderBytes int
	// BodyBytes caps a request's body.
	BodyBytes int64
}

// Middleware is the limits stage as echo middleware.
func Middleware(cfg Config) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Body != nil && r.Body != http.NoBody {
				// The cap goes on a copy of the request: net/http looks at
				// the body of its own request to decide whether the
				// connection may serve another one, and a swapped body would
				// hide what is left unread. The writer is net/http's own, so
				// that MaxBytesReader can make net/http close the connection
				// at the cap.
				b := &body{rc: http.MaxBytesReader(c.Response().Writer, r.Body, cfg.BodyBytes), length: r.ContentLength}
				r2 := *r
				r2.Body = b
				c.SetRequest(&r2)
				res := c.Response()
				res.Before(func() {
					if !b.done() {
						res.Header()["Connection"] = connectionClose
					}
				})
			}
			if headerBytes(r) > cfg.HeaderBytes {
				return ErrHeadersTooLarge
			}
			if r.ContentLength > cfg.BodyBytes {
				return ErrBodyTooLarge
			}
			return next(c)
		}
	}
}

// connectionClose is shared by every response it is set on; never written to.
var connectionClose = []string{"close"}

// headerBytes is the size of r's header fields as sent.
func headerBytes(r *http.Request) int {
	n := len("Host: \r\n") + len(r.Host)
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(": \r\n") + len(v)
		}
	}
	return n
}

// body is a request body that knows whether it was read to its end.
type body struct {
	rc     io.ReadCloser
	length int64 // Content-Length; -1 when unknown (chunked)
	read   int64
	eof    bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.read += int64(n)
	if err == io.EOF { //nolint:errorlint // Read returns io.EOF itself, unwrapped
		b.eof = true
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// done reports whether the whole body was read.
func (b *body) done() bool { return b.eof || (b.length >= 0 && b.read == b.length) }
