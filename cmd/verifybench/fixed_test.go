package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestFixedServersSendTheSameResponse: the baseline and the floor must
// answer a fetch with the same status, header fields and body, or their
// ratios would compare different work.
func TestFixedServersSendTheSameResponse(t *testing.T) {
	header := http.Header{"Content-Type": {"application/json"}, "Twilio-Request-Id": {"RQ" + strings.Repeat("0", 32)}}
	body := []byte(`{"sid":"YK` + strings.Repeat("1", 32) + `"}` + "\n")
	path := "/v2/Services/VA" + strings.Repeat("2", 32) + "/AccessTokens/YK" + strings.Repeat("1", 32)
	for name, h := range map[string]http.Handler{
		"baseline": fixedResponse{Header: header, Body: body},
		"floor":    generatedFloor(header, body),
	} {
		srv := httptest.NewServer(h)
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != http.StatusOK || string(got) != string(body) {
			t.Errorf("%s: %d %q, want 200 %q", name, resp.StatusCode, got, body)
		}
		for key, want := range header {
			if v := resp.Header.Values(key); len(v) != 1 || v[0] != want[0] {
				t.Errorf("%s: %s = %q, want %q", name, key, v, want)
			}
		}
	}
}

func TestCPUOfCountsThisProcess(t *testing.T) {
	before, err := cpuOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel's tick-based counter moves (ticks are 10 ms).
	deadline := time.Now().Add(5 * time.Second)
	for x := 0; time.Now().Before(deadline); x++ {
		if x%100000 == 0 {
			after, err := cpuOf(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if after > before {
				return
			}
		}
	}
	t.Fatal("cpuOf did not grow after 5 s of spinning")
}
