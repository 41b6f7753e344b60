// Command peer-ogen is the ogen stack of verifybench: a server that ogen
// generated from verifykit's openapi.yaml (package ogenapi), with ogen's
// own parameter validation, Basic auth through its security handler, and
// a FetchAccessToken that answers with verifyd's fetch, decoded into
// ogen's types once at start and encoded by ogen on every request.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-faster/jx"

	"github.com/verifykit/verifykit/cmd/verifybench/peers/fixed"
	"github.com/verifykit/verifykit/cmd/verifybench/peers/ogenapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "peer-ogen: %v\n", err)
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

// newHandler is the ogen server answering with a's fetch.
func newHandler(a fixed.Args) (http.Handler, error) {
	var tok ogenapi.AccessToken
	if err := tok.Decode(jx.DecodeBytes(a.Body)); err != nil {
		return nil, fmt.Errorf("decode the fetch body: %w", err)
	}
	// The header fields the spec declares are ogen's to write; the others
	// (Vary, say) are set before it runs.
	resp := &ogenapi.FetchAccessTokenOKHeaders{Response: tok}
	for name, field := range map[string]*ogenapi.OptString{
		"Access-Control-Allow-Headers":  &resp.AccessControlAllowHeaders,
		"Access-Control-Allow-Methods":  &resp.AccessControlAllowMethods,
		"Access-Control-Allow-Origin":   &resp.AccessControlAllowOrigin,
		"Access-Control-Expose-Headers": &resp.AccessControlExposeHeaders,
		"Twilio-Request-Id":             &resp.TwilioRequestID,
	} {
		if v := a.Header.Get(name); v != "" {
			*field = ogenapi.NewOptString(v)
		}
		a.Header.Del(name)
	}
	if v := a.Header.Get("Access-Control-Allow-Credentials"); v != "" {
		resp.AccessControlAllowCredentials = ogenapi.NewOptBool(v == "true")
	}
	a.Header.Del("Access-Control-Allow-Credentials")
	a.Header.Del("Content-Type")
	srv, err := ogenapi.NewServer(handler{resp: resp}, security{a})
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.SetHeader(w.Header())
		srv.ServeHTTP(w, r)
	}), nil
}

// handler serves FetchAccessToken; ogen answers the other operations
// with its UnimplementedHandler.
type handler struct {
	ogenapi.UnimplementedHandler
	resp *ogenapi.FetchAccessTokenOKHeaders
}

func (h handler) FetchAccessToken(context.Context, ogenapi.FetchAccessTokenParams) (ogenapi.FetchAccessTokenRes, error) {
	return h.resp, nil
}

var errUnauthorized = errors.New("unauthorized")

// security checks the account's Basic auth; the other schemes are not
// served.
type security struct{ a fixed.Args }

func (s security) HandleAccountSidAuthToken(ctx context.Context, _ ogenapi.OperationName, t ogenapi.AccountSidAuthToken) (context.Context, error) {
	if !s.a.Authorized(t.Username, t.Password) {
		return ctx, errUnauthorized
	}
	return ctx, nil
}

func (security) HandleDeviceJwt(ctx context.Context, _ ogenapi.OperationName, _ ogenapi.DeviceJwt) (context.Context, error) {
	return ctx, errUnauthorized
}

func (security) HandleEnrollmentToken(ctx context.Context, _ ogenapi.OperationName, _ ogenapi.EnrollmentToken) (context.Context, error) {
	return ctx, errUnauthorized
}
