package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// stepClock is a manual clock for the limiter's tests.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time          { return c.t }
func (c *stepClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestFailureLimiter(t *testing.T) {
	type step struct {
		advance  time.Duration
		fails    int // failures recorded after advancing
		wantWait int // wait() after the failures
	}
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		steps  []step
	}{
		{name: "defaults: 10 per minute, then one every 6s", steps: []step{
			{fails: 9, wantWait: 0},
			{fails: 1, wantWait: 6},
			{advance: 5 * time.Second, wantWait: 1},
			{advance: time.Second, wantWait: 0},
			{fails: 1, wantWait: 6},
		}},
		{name: "a full window refills the whole limit", steps: []step{
			{fails: 10, wantWait: 6},
			{advance: time.Minute, fails: 9, wantWait: 0},
			{fails: 1, wantWait: 6},
		}},
		{name: "failures in flight do not lengthen the wait", steps: []step{
			{fails: 25, wantWait: 6},
		}},
		{name: "wait rounds up to whole seconds", limit: 3, window: 10 * time.Second, steps: []step{
			{fails: 3, wantWait: 4}, // 3.33s
			{advance: 3 * time.Second, wantWait: 1},
			{advance: 400 * time.Millisecond, wantWait: 0},
		}},
		{name: "a clock going back refills nothing", limit: 1, window: time.Minute, steps: []step{
			{fails: 1, wantWait: 60},
			{advance: -time.Hour, wantWait: 60},
		}},
		{name: "slow failures never run out", limit: 2, window: time.Minute, steps: []step{
			{fails: 1}, {advance: 30 * time.Second, fails: 1}, {advance: 30 * time.Second, fails: 1},
			{advance: 30 * time.Second, fails: 1}, {advance: 30 * time.Second, fails: 1, wantWait: 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &stepClock{t: time.Unix(1_700_000_000, 0)}
			l := newFailureLimiter(tc.limit, tc.window, 100, false, clock.now)
			for i, s := range tc.steps {
				clock.advance(s.advance)
				for range s.fails {
					l.fail("192.0.2.1")
				}
				if got := l.wait("192.0.2.1"); got != s.wantWait {
					t.Errorf("step %d: wait = %d, want %d", i, got, s.wantWait)
				}
				if got := l.wait("192.0.2.2"); got != 0 {
					t.Errorf("step %d: another client's wait = %d, want 0", i, got)
				}
			}
		})
	}
}

func TestFailureLimiterOff(t *testing.T) {
	if l := newFailureLimiter(-1, time.Minute, 100, false, nil); l != nil {
		t.Errorf("newFailureLimiter(-1, …) = %+v, want nil (no limit)", l)
	}
}

// TestFailureLimiterMemory: the limiter tracks at most maxClients clients,
// forgetting the one that failed longest ago, and drops clients whose
// allowance is whole again.
func TestFailureLimiterMemory(t *testing.T) {
	clock := &stepClock{t: time.Unix(1_700_000_000, 0)}
	l := newFailureLimiter(1, time.Minute, 3, false, clock.now)
	for _, c := range []string{"a", "b", "c"} {
		l.fail(c)
	}
	l.fail("b") // b failed last now; a is the oldest
	l.fail("d")
	if got := l.tracked(); got != 3 {
		t.Errorf("tracked = %d, want 3", got)
	}
	for c, want := range map[string]int{"a": 0, "b": 60, "c": 60, "d": 60} {
		if got := l.wait(c); got != want {
			t.Errorf("wait(%s) = %d, want %d", c, got, want)
		}
	}
	l.fail("e") // evicts c, the oldest now
	if got := l.wait("c"); got != 0 {
		t.Errorf("wait(c) after eviction = %d, want 0", got)
	}

	clock.advance(time.Minute)
	for _, c := range []string{"b", "d", "e"} {
		if got := l.wait(c); got != 0 {
			t.Errorf("wait(%s) after a window = %d, want 0", c, got)
		}
	}
	if got := l.tracked(); got != 0 {
		t.Errorf("tracked after every bucket refilled = %d, want 0", got)
	}

	big := newFailureLimiter(0, 0, maxFailureClients, false, clock.now)
	for i := range maxFailureClients + 500 {
		big.fail(fmt.Sprintf("client-%d", i))
	}
	if got := big.tracked(); got != maxFailureClients {
		t.Errorf("tracked = %d, want the bound %d", got, maxFailureClients)
	}
}

func TestFailureLimiterClient(t *testing.T) {
	tests := []struct {
		name       string
		remoteAddr string
		xff        []string
		trustXFF   bool
		want       string
	}{
		{name: "IPv4 peer", remoteAddr: "192.0.2.7:53211", want: "192.0.2.7"},
		{name: "IPv6 peer is named by its /64", remoteAddr: "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443", want: "2001:db8:1:2::/64"},
		{name: "IPv6 neighbour in the same /64", remoteAddr: "[2001:db8:1:2::1]:443", want: "2001:db8:1:2::/64"},
		{name: "IPv4-mapped IPv6 peer", remoteAddr: "[::ffff:192.0.2.7]:80", want: "192.0.2.7"},
		{name: "zone dropped", remoteAddr: "[fe80::1%eth0]:80", want: "fe80::/64"},
		{name: "X-Forwarded-For ignored by default", remoteAddr: "192.0.2.7:1", xff: []string{"198.51.100.1"}, want: "192.0.2.7"},
		{name: "X-Forwarded-For trusted", remoteAddr: "192.0.2.7:1", xff: []string{"198.51.100.1"}, trustXFF: true, want: "198.51.100.1"},
		{name: "last entry: what the proxy appended", remoteAddr: "192.0.2.7:1", xff: []string{"203.0.113.9, 198.51.100.1"}, trustXFF: true, want: "198.51.100.1"},
		{name: "last header line", remoteAddr: "192.0.2.7:1", xff: []string{"203.0.113.9", "198.51.100.1 "}, trustXFF: true, want: "198.51.100.1"},
		{name: "entry with a port", remoteAddr: "192.0.2.7:1", xff: []string{"198.51.100.1:4711"}, trustXFF: true, want: "198.51.100.1"},
		{name: "IPv6 entry", remoteAddr: "192.0.2.7:1", xff: []string{"2001:db8::5"}, trustXFF: true, want: "2001:db8::/64"},
		{name: "garbage entry falls back to the peer", remoteAddr: "192.0.2.7:1", xff: []string{"unknown"}, trustXFF: true, want: "192.0.2.7"},
		{name: "empty entry falls back to the peer", remoteAddr: "192.0.2.7:1", xff: []string{"198.51.100.1,"}, trustXFF: true, want: "192.0.2.7"},
		{name: "peer without a port", remoteAddr: "192.0.2.7", want: "192.0.2.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newFailureLimiter(0, 0, 10, tc.trustXFF, nil)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remoteAddr
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := l.client(r); got != tc.want {
				t.Errorf("client(RemoteAddr %q, X-Forwarded-For %q) = %q, want %q", tc.remoteAddr, tc.xff, got, tc.want)
			}
		})
	}
}
