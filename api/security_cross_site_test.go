package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/api"
)

// TestSecurityCrossSiteForm is a hardening decision of the security
// review: a page on another site could make a visitor's browser POST a
// form to verifyd, with Basic credentials the browser had cached, and
// create tokens blind. A browser marks such a request with
// Sec-Fetch-Site and a Sec-Fetch-Mode other than cors; it is refused with
// 403 · 20403 before authentication. Script requests that pass CORS
// (Sec-Fetch-Mode: cors), same-origin ones and clients that are not
// browsers (no Sec-Fetch-* fields) are served as before.
func TestSecurityCrossSiteForm(t *testing.T) {
	st := &countingStore{Store: openStore(t)}
	e := serveEnv(t, st, api.Config{}, nil)
	create := e.URL + "/v2/Services/" + e.A.ServiceSID + "/AccessTokens"
	fetch := e.URL + "/v2/Services/" + e.A.ServiceSID + "/AccessTokens/YK00000000000000000000000000000000"
	for _, tc := range []struct {
		name, method, url string
		header            map[string]string
		want              int
	}{
		{"cross-site form post", http.MethodPost, create, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site no-cors post", http.MethodPost, create, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"same-site form post", http.MethodPost, create, map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"}, http.StatusForbidden},
		{"cross-site CORS post", http.MethodPost, create, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Origin": "https://app.example"}, http.StatusCreated},
		{"same-origin form post", http.MethodPost, create, map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"}, http.StatusCreated},
		{"typed in the address bar", http.MethodPost, create, map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}, http.StatusCreated},
		{"not a browser", http.MethodPost, create, nil, http.StatusCreated},
		{"cross-site navigation to a fetch", http.MethodGet, fetch, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := st.created.Load()
			var body string
			if tc.method == http.MethodPost {
				body = "FactorType=push&Identity=abcdefgh"
			}
			req, err := http.NewRequest(tc.method, tc.url, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth(e.A.AccountSID, e.A.AuthToken)
			if body != "" {
				req.Header.Set("Content-Type", formType)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b := readAll(t, resp)
			if tc.want == http.StatusForbidden {
				checkErrorBody(t, resp, b, http.StatusForbidden, 20403)
				if n := st.created.Load() - before; n != 0 {
					t.Errorf("%d tokens stored by a refused request", n)
				}
			} else if resp.StatusCode != tc.want {
				t.Errorf("%s = %d %s, want %d", tc.name, resp.StatusCode, b, tc.want)
			}
		})
	}
}
