package verifydtest_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/verifydtest"
)

// curl runs curl with args, as a shell user would, and returns the body
// and the HTTP status it printed.
func curl(t *testing.T, args ...string) (body, status string) {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("curl not found, and CI is set: %v", err)
		}
		t.Skipf("curl not found: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// -q ignores any .curlrc, --noproxy keeps proxies from the environment out.
	base := []string{"-q", "--silent", "--show-error", "--noproxy", "*", "--write-out", "\n%{http_code}"}
	out, err := exec.CommandContext(ctx, path, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v (%s)", strings.Join(args, " "), err, out)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	return s[:i], s[i+1:]
}

// TestCurlConnectTo shows that verifyd serves whatever the Host header
// says: curl addresses verify.twilio.com, and --connect-to sends the
// connection to the test server.
func TestCurlConnectTo(t *testing.T) {
	s := verifydtest.Start(t)
	port := s.URL[strings.LastIndexByte(s.URL, ':')+1:]
	connectTo := "verify.twilio.com:80:127.0.0.1:" + port
	collection := "http://verify.twilio.com/v2/Services/" + s.ServiceSID + "/AccessTokens"
	user := s.AccountSID + ":" + s.AuthToken

	body, status := curl(t, "--connect-to", connectTo, "--user", user,
		"--data-urlencode", "Identity=user-0001", "--data-urlencode", "FactorType=push", collection)
	if status != "201" {
		t.Fatalf("curl POST %s: status %s, want 201 (body %s)", collection, status, body)
	}
	var created accessToken
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatalf("curl POST: body %s: %v", body, err)
	}
	// The server builds url from the Host header curl sent.
	if want := collection + "/" + created.SID; created.URL != want {
		t.Errorf("url = %q, want %q", created.URL, want)
	}

	body, status = curl(t, "--connect-to", connectTo, "--user", user, created.URL)
	if status != "200" {
		t.Fatalf("curl GET %s: status %s, want 200 (body %s)", created.URL, status, body)
	}
	var fetched accessToken
	if err := json.Unmarshal([]byte(body), &fetched); err != nil {
		t.Fatalf("curl GET: body %s: %v", body, err)
	}
	if diff := cmp.Diff(created, fetched); diff != "" {
		t.Errorf("curl GET mismatch (-created +fetched):\n%s", diff)
	}

	body, status = curl(t, "--connect-to", connectTo, "--user", user, "--data", "Identity=user-0001&FactorType=push&Ttl=5", collection)
	var twilioErr map[string]any
	if err := json.Unmarshal([]byte(body), &twilioErr); err != nil {
		t.Fatalf("curl POST Ttl=5: body %s: %v", body, err)
	}
	if status != "400" || twilioErr["code"] != float64(60200) || twilioErr["message"] != "Invalid parameter: Ttl" {
		t.Errorf("curl POST Ttl=5: status %s body %s, want 400 with 60200 Invalid parameter: Ttl", status, body)
	}
}
