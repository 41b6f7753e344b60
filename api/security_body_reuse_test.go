package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
)

// TestSecurityBodyReuse is finding 1 of the security review: after a body
// read timed out, the rest of the body was served as a new request on the
// same connection, a request smuggled past any proxy that reuses backend
// connections. A request whose body was not read to its end, for any
// reason, must leave its connection closed; a request whose body was read
// keeps it.
func TestSecurityBodyReuse(t *testing.T) {
	e := serveEnv(t, openStore(t), api.Config{BodyLimit: 4096}, func(s *http.Server) {
		s.ReadTimeout = 500 * time.Millisecond
	})
	create := "/v2/Services/" + e.A.ServiceSID + "/AccessTokens"
	smuggled := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	head := func(path, auth string, length int) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n",
			path, e.addr(), auth, length)
	}
	good := basicHeader(e.A.AccountSID, e.A.AuthToken)
	bad := basicHeader(e.A.AccountSID, "0123456789abcdef0123456789abcdef")

	tests := []struct {
		name string
		// first is sent at once; rest after the first response.
		first, rest string
		wantStatus  int
	}{
		{
			name:       "body read times out",
			first:      head(create, good, 10+len(smuggled)) + "Identity=a",
			rest:       smuggled,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "authentication fails before the body is read",
			first:      head(create, bad, 10+len(smuggled)) + "Identity=a",
			rest:       smuggled,
			wantStatus: http.StatusUnauthorized,
		},
		{
			name:       "declared length over the body limit",
			first:      head(create, good, 5000) + "Identity=a",
			rest:       strings.Repeat("x", 5000-10-len(smuggled)) + smuggled,
			wantStatus: http.StatusRequestEntityTooLarge,
		},
		{
			name: "chunked body over the body limit",
			first: strings.Replace(head(create, good, 0), "Content-Length: 0\r\n", "Transfer-Encoding: chunked\r\n", 1) +
				fmt.Sprintf("%x\r\n%s\r\n", 5000, strings.Repeat("x", 5000)),
			rest:       "0\r\n\r\n" + smuggled,
			wantStatus: http.StatusRequestEntityTooLarge,
		},
		{
			name:       "MCP body read times out",
			first:      strings.Replace(head("/mcp", good, 10+len(smuggled)), "application/x-www-form-urlencoded", "application/json", 1) + `{"jsonrpc"`,
			rest:       smuggled,
			wantStatus: http.StatusBadRequest,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, e)
			c.send(tc.first)
			resp, body, err := c.response(5 * time.Second)
			if err != nil {
				t.Fatalf("first response: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("first response = %d %s, want %d", resp.StatusCode, body, tc.wantStatus)
			}
			_, _ = c.conn.Write([]byte(tc.rest)) // the server may have closed already
			if closed, more := c.closed(2 * time.Second); !closed {
				t.Errorf("connection still open after a request with an unread body; it then sent %q", more)
			}
		})
	}

	t.Run("a body read to its end keeps the connection", func(t *testing.T) {
		c := dialRaw(t, e)
		form := "FactorType=push&Identity=abcdefgh"
		c.send(head(create, good, len(form)) + form + smuggled)
		for i, want := range []int{http.StatusCreated, http.StatusOK} {
			resp, body, err := c.response(5 * time.Second)
			if err != nil {
				t.Fatalf("response %d: %v", i+1, err)
			}
			if resp.StatusCode != want {
				t.Errorf("response %d = %d %s, want %d", i+1, resp.StatusCode, body, want)
			}
		}
	})
}
