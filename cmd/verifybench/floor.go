// floor.go serves a fixed fetch response in the two ways verifykit's
// benchmarks compare verifyd with: a plain http.Handler (the baseline), and
// the generated echo server with nothing of verifyd's around it (the
// framework's floor).
package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/gen/verifyserver"
)

// generatedFloor is the generated echo server with nothing of verifyd's
// around it: echo routes, the generated wrapper binds the path parameters,
// the strict handler calls FetchAccessToken, and the response writes the
// fixed header fields and body. No authentication, validation, logging or
// metrics: its cost is the framework's alone, the floor that verifyd's own
// stages add to.
func generatedFloor(header http.Header, body []byte) http.Handler {
	e := echo.New()
	verifyserver.RegisterHandlers(e, verifyserver.NewStrictHandler(floorServer{resp: fixedResponse{header, body}}, nil))
	return e
}

// fixedResponse is a response with the same header fields and body every time;
// as an http.Handler it is the plain baseline.
type fixedResponse struct {
	Header http.Header
	Body   []byte
}

func (f fixedResponse) write(w http.ResponseWriter) {
	h := w.Header()
	for name, values := range f.Header {
		h[name] = values
	}
	_, _ = w.Write(f.Body)
}

// ServeHTTP writes the response, whatever the request.
func (f fixedResponse) ServeHTTP(w http.ResponseWriter, _ *http.Request) { f.write(w) }

// VisitFetchAccessTokenResponse implements
// verifyserver.FetchAccessTokenResponseObject.
func (f fixedResponse) VisitFetchAccessTokenResponse(w http.ResponseWriter) error {
	f.write(w)
	return nil
}

// floorServer implements the generated strict interface with the fixed
// response.
type floorServer struct {
	// The other operations are not served: the floor answers fetches only
	// (calling one would panic on the nil interface).
	verifyserver.StrictServerInterface
	resp fixedResponse
}

var errNotLoaded = errors.New("floor: only fetch is served")

func (floorServer) CreateAccessToken(context.Context, verifyserver.CreateAccessTokenRequestObject) (verifyserver.CreateAccessTokenResponseObject, error) {
	return nil, errNotLoaded
}

func (s floorServer) FetchAccessToken(context.Context, verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	return s.resp, nil
}
