package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/gen/verifyserver"
)

// floorHandler is the generated echo server with nothing of verifyd's
// around it: echo routes, the generated wrapper binds the path parameters,
// the strict handler calls FetchAccessToken, and the response writes the
// fixed header fields and body. No authentication, validation, logging or
// metrics. Its throughput is what the framework alone leaves, the floor
// under which verifyd's own stages cannot take it.
func floorHandler(header http.Header, body []byte) http.Handler {
	e := echo.New()
	verifyserver.RegisterHandlers(e, verifyserver.NewStrictHandler(floorServer{fixedResponse{header, body}}, nil))
	return e
}

// fixedResponse writes the same header fields and body every time.
type fixedResponse struct {
	header http.Header
	body   []byte
}

func (f fixedResponse) write(w http.ResponseWriter) {
	h := w.Header()
	for name, values := range f.header {
		h[name] = values
	}
	_, _ = w.Write(f.body)
}

func (f fixedResponse) ServeHTTP(w http.ResponseWriter, _ *http.Request) { f.write(w) }

func (f fixedResponse) VisitFetchAccessTokenResponse(w http.ResponseWriter) error {
	f.write(w)
	return nil
}

// floorServer implements the generated strict interface with the fixed
// response.
type floorServer struct{ resp fixedResponse }

var errNotLoaded = errors.New("verifybench: the floor server only serves fetch")

func (floorServer) CreateAccessToken(context.Context, verifyserver.CreateAccessTokenRequestObject) (verifyserver.CreateAccessTokenResponseObject, error) {
	return nil, errNotLoaded
}

func (s floorServer) FetchAccessToken(context.Context, verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	return s.resp, nil
}
