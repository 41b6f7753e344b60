package api_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/api"
)

// TestSecurityLogTruncation is a hardening decision of the security
// review: the access log wrote path and method at full length, so a 60 KB
// unauthenticated path made a 60 KB log line. Both are cut short, with a
// marker that says how much was left out.
func TestSecurityLogTruncation(t *testing.T) {
	e := startEnv(t, api.Config{})
	long := "/" + strings.Repeat("a", 60<<10)
	resp, _ := e.do(t, http.MethodGet, long, "", "", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET of a long path = %d, want 401", resp.StatusCode)
	}
	if resp, _ = e.do(t, strings.Repeat("M", 5000), "/x", "", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a long method = %d, want 401", resp.StatusCode)
	}
	e.Logs.waitFor(t, `"method":"MMMM`)
	sc := bufio.NewScanner(strings.NewReader(e.Logs.String()))
	sc.Buffer(nil, 1<<20)
	var lines int
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"msg":"request"`) {
			continue
		}
		lines++
		if len(line) > 4<<10 {
			t.Errorf("access log line of %d bytes, want at most 4 KiB: %.200s…", len(line), line)
		}
		if !strings.Contains(line, "[truncated ") {
			t.Errorf("access log line without the truncation marker: %.300s", line)
		}
	}
	if lines != 2 {
		t.Errorf("%d access log lines, want 2:\n%s", lines, e.Logs.String())
	}
}
