package api_test

import (
	"net/http"
	"testing"

	"github.com/verifykit/verifykit/api"
)

// TestSecurityQueryIntoForm: the generated form binding reads the query
// string too (echo's FormParams merges both), while validation checked the
// body alone. So ?Ttl=5000 on a create skipped validation, the token was
// stored, and the client got 500. A query parameter that the operation
// does not declare is refused with 400 · 60200 before anything is stored,
// as an undeclared form field is.
func TestSecurityQueryIntoForm(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			st := &countingStore{Store: eng.open(t)}
			e := serveEnv(t, st, api.Config{}, nil)
			auth := e.A.AccountSID + ":" + e.A.AuthToken
			create := "/v2/Services/" + e.A.ServiceSID + "/AccessTokens"
			valid := "FactorType=push&Identity=abcdefgh"
			for _, tc := range []struct {
				name, method, path, body, param string
			}{
				{"Ttl out of range", http.MethodPost, create + "?Ttl=5000", valid, "Ttl"},
				{"FactorFriendlyName with a control character", http.MethodPost, create + "?FactorFriendlyName=a%0Ab", valid, "FactorFriendlyName"},
				{"a valid Ttl", http.MethodPost, create + "?Ttl=120", valid, "Ttl"},
				{"a field also in the body", http.MethodPost, create + "?Identity=abcdefgh", valid, "Identity"},
				{"an unknown parameter on a fetch", http.MethodGet, create + "/YK00000000000000000000000000000000?Foo=1", "", "Foo"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := st.created.Load()
					ct := ""
					if tc.body != "" {
						ct = formType
					}
					resp, body := e.do(t, tc.method, tc.path, ct, tc.body, auth)
					checkErrorBody(t, resp, body, http.StatusBadRequest, 60200)
					if want := `"Invalid parameter: ` + tc.param + `"`; !bodyContains(body, want) {
						t.Errorf("body %s, want the message %s", body, want)
					}
					if n := st.created.Load() - before; n != 0 {
						t.Errorf("%d tokens stored by a refused create", n)
					}
				})
			}
		})
	}
}
