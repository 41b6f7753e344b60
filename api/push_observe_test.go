package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verifydtest"
)

// lockedBuffer is a bytes.Buffer for a logger on the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPushObserved: the new operations are counted in /metrics under
// their operationId and written to the access log, by the chain's one
// observe stage, which names no operation itself.
func TestPushObserved(t *testing.T) {
	logs := &lockedBuffer{}
	s := verifydtest.Start(t, verifydtest.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	ctx := context.Background()
	const identity = "user-0009-seen"
	at, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).SetIdentity(identity).SetFactorType("push"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := device.New(device.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Enroll(ctx, s.ServiceSID, identity, *at.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.VerifyV2.ListFactor(s.ServiceSID, identity, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.VerifyV2.FetchFactor(s.ServiceSID, identity, f.SID); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.VerifyV2.FetchEntity(s.ServiceSID, identity); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.VerifyV2.ListEntity(s.ServiceSID, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Unenroll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.VerifyV2.CreateEntity(s.ServiceSID, (&verifyv2.CreateEntityParams{}).SetIdentity(identity)); err == nil {
		t.Fatal("CreateEntity of an existing entity succeeded")
	}
	if err := rc.VerifyV2.DeleteEntity(s.ServiceSID, identity); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics := string(readAll(t, resp))
	resp.Body.Close()
	for _, c := range []struct {
		op     string
		status int
	}{
		{"CreateNewFactor", 201}, {"UpdateFactor", 200}, {"ListFactor", 200}, {"FetchFactor", 200},
		{"FetchEntity", 200}, {"ListEntity", 200}, {"DeleteFactor", 204}, {"CreateEntity", 409}, {"DeleteEntity", 204},
	} {
		line := fmt.Sprintf(`verifyd_requests_total{operation=%q,status="%d"} 1`, c.op, c.status)
		if !strings.Contains(metrics, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	factorPath := "/v2/Services/" + s.ServiceSID + "/Entities/" + identity + "/Factors"
	for _, want := range []string{
		`"method":"POST","path":"` + factorPath + `","status":201`,
		`"method":"POST","path":"` + factorPath + "/" + f.SID + `","status":200`,
		`"method":"DELETE","path":"` + factorPath + "/" + f.SID + `","status":204`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the access log lacks %s", want)
		}
	}
}
