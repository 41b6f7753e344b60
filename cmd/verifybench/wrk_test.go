package main

import (
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := []byte(`Running 5s test @ http://127.0.0.1:39001/v2/Services/VA00000000000000000000000000000000/AccessTokens/YK00000000000000000000000000000000
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.93ms    1.31ms  21.85ms   87.41%
    Req/Sec    17.75k     1.20k   19.62k    70.00%
  Latency Distribution
     50%    1.62ms
     75%    2.21ms
     90%    3.24ms
     99%    6.91ms
  88306 requests in 5.00s, 102.70MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 3
Requests/sec:  17661.20
Transfer/sec:     20.54MB
`)
	r, err := parseWrk(out, 200)
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 88306 || r.errors != 5 || r.p50 != 1620*time.Microsecond || r.p99 != 6910*time.Microsecond {
		t.Errorf("parseWrk = %+v, want 88306 requests, 5 errors, p50 1.62ms, p99 6.91ms", r)
	}
	if got := r.rps(); got < 17661 || got > 17662 {
		t.Errorf("rps = %.2f, want 17661.20", got)
	}
	if _, err := parseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused\n"), 200); err == nil {
		t.Error("parseWrk(connection refused) = nil error, want one")
	}
}
