package api_test

import (
	"net/http"
	"testing"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/sid"
)

// TestListWebhookUnknownService: listing the webhooks of a service that
// does not exist, or is another account's, is 404 as creating one is, not
// an empty list.
func TestListWebhookUnknownService(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := serveEnv(t, eng.open(t), api.Config{}, nil)
			for _, svc := range []string{sid.New(sid.Service), e.B.ServiceSID} {
				resp, body := e.do(t, http.MethodGet, "/v2/Services/"+svc+"/Webhooks", "", "", e.A.AccountSID+":"+e.A.AuthToken)
				checkErrorBody(t, resp, body, http.StatusNotFound, 20404)
			}
		})
	}
}
