// Package fixed holds what the peer stacks share: the fixed fetch response
// verifybench hands them, their listener, and the account's credentials.
package fixed

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// Args are a peer's arguments, as verifybench passes them.
type Args struct {
	Body    []byte      // the body of verifyd's fetch
	Header  http.Header // its header fields, less Date and Content-Length
	Account string      // the account SID
	Secret  string      // its auth token
}

// ParseArgs reads BODY-FILE HEADER-FILE ACCOUNT-SID AUTH-TOKEN.
func ParseArgs(args []string) (Args, error) {
	if len(args) != 4 {
		return Args{}, errors.New("usage: peer BODY-FILE HEADER-FILE ACCOUNT-SID AUTH-TOKEN")
	}
	body, err := os.ReadFile(args[0])
	if err != nil {
		return Args{}, fmt.Errorf("read body: %w", err)
	}
	raw, err := os.ReadFile(args[1])
	if err != nil {
		return Args{}, fmt.Errorf("read header: %w", err)
	}
	var h http.Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return Args{}, fmt.Errorf("%s: %w", args[1], err)
	}
	return Args{Body: body, Header: h, Account: args[2], Secret: args[3]}, nil
}

// Authorized says whether user and password are the account's, in
// constant time.
func (a Args) Authorized(user, password string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(a.Account))
	p := subtle.ConstantTimeCompare([]byte(password), []byte(a.Secret))
	return u&p == 1
}

// SetHeader sets the fixed header fields on h, as verifyd sends them.
func (a Args) SetHeader(h http.Header) {
	for name, values := range a.Header {
		h[name] = values
	}
}

// Serve listens on a free loopback port, prints "listening on ADDR" to
// stdout, and serves h until ctx is done.
func Serve(ctx context.Context, h http.Handler, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
