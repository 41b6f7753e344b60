// Command peer-echo is the oapi-codegen stack of verifybench, wired as
// oapi-codegen's examples wire it: the generated echo server
// (gen/verifyserver, from verifykit's openapi.yaml) behind echo-middleware's
// OapiRequestValidator, with Basic auth through its AuthenticationFunc,
// and kin-openapi's ValidateResponse on every response. FetchAccessToken
// answers with verifyd's fetch.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	echomiddleware "github.com/oapi-codegen/echo-middleware"

	"github.com/verifykit/verifykit/cmd/verifybench/peers/fixed"
	"github.com/verifykit/verifykit/gen/verifyserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "peer-echo: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	a, err := fixed.ParseArgs(args)
	if err != nil {
		return err
	}
	h, err := newHandler(a)
	if err != nil {
		return err
	}
	return fixed.Serve(ctx, h, os.Stdout)
}

// newHandler is the validated echo stack answering with a's fetch.
func newHandler(a fixed.Args) (http.Handler, error) {
	spec, err := verifyserver.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load the spec: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(validateResponses(spec))
	e.Use(echomiddleware.OapiRequestValidatorWithOptions(spec, &echomiddleware.Options{
		// Without it every request answers 404 on the loopback host.
		DoNotValidateServers: true,
		Options: openapi3filter.Options{
			AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
				if in.SecuritySchemeName != "accountSid_authToken" {
					return errors.New("scheme not served")
				}
				user, password, ok := in.RequestValidationInput.Request.BasicAuth()
				if !ok || !a.Authorized(user, password) {
					return errors.New("unauthorized")
				}
				return nil
			},
		},
	}))
	verifyserver.RegisterHandlers(e, verifyserver.NewStrictHandler(server{a: a}, nil))
	return e, nil
}

// validateResponses validates each response the handler writes against
// the spec with kin-openapi, as echo-middleware validates requests; a
// response that fails is replaced by a 500. Errors returned down the chain
// (the request validator's 400 and 401) go to echo's error handler
// unvalidated.
func validateResponses(spec *openapi3.T) echo.MiddlewareFunc {
	router, err := newRouter(spec)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err != nil {
				return err
			}
			req := c.Request()
			route, params, err := router.FindRoute(req)
			if err != nil {
				return next(c)
			}
			w := c.Response().Writer
			rec := &recorder{ResponseWriter: w, status: http.StatusOK}
			c.Response().Writer = rec
			err = next(c)
			c.Response().Writer = w
			if err != nil {
				// A rejection by the request validator (or a handler's
				// error) is echo's own error body, which the spec does not
				// describe: echo answers it as is, with its status.
				return err
			}
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
					Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
				Status: rec.status,
				Header: w.Header(),
				Body:   io.NopCloser(bytes.NewReader(rec.body.Bytes())),
			}
			if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
				http.Error(w, "response does not match the spec", http.StatusInternalServerError)
				return nil
			}
			w.WriteHeader(rec.status)
			_, err = w.Write(rec.body.Bytes())
			return err
		}
	}
}

// recorder holds a response back until it has been validated.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// server answers FetchAccessToken with the fixed response; the generated
// interface's other operations are not served (nil, a panic if called,
// which echo's recovery would not catch: they are never loaded).
type server struct {
	verifyserver.StrictServerInterface
	a fixed.Args
}

func (s server) FetchAccessToken(context.Context, verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	return fixedResponse{s.a}, nil
}

type fixedResponse struct{ a fixed.Args }

func (f fixedResponse) VisitFetchAccessTokenResponse(w http.ResponseWriter) error {
	f.a.SetHeader(w.Header())
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(f.a.Body)
	return err
}
