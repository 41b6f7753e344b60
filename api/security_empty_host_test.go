package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
)

// TestSecurityEmptyHost is finding 4 of the security review: without
// -public-url, a create with an empty Host (or an HTTP/1.0 request with
// none) stored the token and then answered 500, its url being
// "http:///v2/…". A request with no usable Host is refused with
// 400 · 60200 before anything is stored; with a public URL, the Host does
// not matter.
func TestSecurityEmptyHost(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			st := &countingStore{Store: eng.open(t)}
			e := serveEnv(t, st, api.Config{}, nil)
			pub := serveEnv(t, st, api.Config{PublicURL: "https://verify.example.com"}, nil)
			form := "FactorType=push&Identity=abcdefgh"
			for _, tc := range []struct {
				name, host, proto string
				public            bool
				want              int
			}{
				{name: "empty Host", host: "Host: \r\n", proto: "HTTP/1.1", want: 400},
				{name: "HTTP/1.0 without Host", proto: "HTTP/1.0", want: 400},
				{name: "Host too long for a URL", host: "Host: " + strings.Repeat("h", 300) + "\r\n", proto: "HTTP/1.1", want: 400},
				{name: "empty Host with a public URL", host: "Host: \r\n", proto: "HTTP/1.1", public: true, want: 201},
			} {
				t.Run(tc.name, func(t *testing.T) {
					target, tenant := e, e.A
					if tc.public {
						target, tenant = pub, pub.A
					}
					before := st.created.Load()
					auth := basicHeader(tenant.AccountSID, tenant.AuthToken)
					c := dialRaw(t, target)
					c.send(fmt.Sprintf("POST /v2/Services/%s/AccessTokens %s\r\n%sAuthorization: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
						tenant.ServiceSID, tc.proto, tc.host, auth, len(form), form))
					resp, body, err := c.response(5 * time.Second)
					if err != nil {
						t.Fatal(err)
					}
					if tc.want != http.StatusCreated {
						checkErrorBody(t, resp, []byte(body), tc.want, 60200)
						if !strings.Contains(body, "Invalid parameter: Host") {
							t.Errorf("body %s, want Invalid parameter: Host", body)
						}
						if n := st.created.Load() - before; n != 0 {
							t.Errorf("%d tokens stored by a refused create", n)
						}
					} else if resp.StatusCode != tc.want {
						t.Errorf("create = %d %s, want %d", resp.StatusCode, body, tc.want)
					}

					c = dialRaw(t, target)
					c.send(fmt.Sprintf("GET /v2/Services/%s/AccessTokens/YK00000000000000000000000000000000 %s\r\n%sAuthorization: %s\r\n\r\n",
						tenant.ServiceSID, tc.proto, tc.host, auth))
					resp, body, err = c.response(5 * time.Second)
					if err != nil {
						t.Fatal(err)
					}
					if tc.want == http.StatusCreated {
						checkErrorBody(t, resp, []byte(body), 404, 20404)
					} else {
						checkErrorBody(t, resp, []byte(body), tc.want, 60200)
					}
				})
			}
		})
	}
}
