package authn

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// stepClock is a manual clock.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time          { return c.t }
func (c *stepClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func fail() bool { return false }
func pass() bool { return true }

func TestLimiterBuckets(t *testing.T) {
	type step struct {
		advance  time.Duration
		fails    int           // failed checks after advancing
		wantWait time.Duration // wait() after them
	}
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		steps  []step
	}{
		{name: "defaults: 10 per minute, then one every 6s", steps: []step{
			{fails: 9, wantWait: 0},
			{fails: 1, wantWait: 6 * time.Second},
			{advance: 5 * time.Second, wantWait: time.Second},
			{advance: time.Second, wantWait: 0},
			{fails: 1, wantWait: 6 * time.Second},
		}},
		{name: "a full window refills the whole limit", steps: []step{
			{fails: 10, wantWait: 6 * time.Second},
			{advance: time.Minute, fails: 9, wantWait: 0},
			{fails: 1, wantWait: 6 * time.Second},
		}},
		{name: "refused checks do not lengthen the wait", steps: []step{
			{fails: 25, wantWait: 6 * time.Second},
		}},
		{name: "a clock going back refills nothing", limit: 1, window: time.Minute, steps: []step{
			{fails: 1, wantWait: time.Minute},
			{advance: -time.Hour, wantWait: time.Minute},
		}},
		{name: "slow failures never run out", limit: 2, window: time.Minute, steps: []step{
			{fails: 1}, {advance: 30 * time.Second, fails: 1}, {advance: 30 * time.Second, fails: 1},
			{advance: 30 * time.Second, fails: 1}, {advance: 30 * time.Second, fails: 1, wantWait: 0},
		}},
	}
	a := key{client: clientName(netip.MustParseAddr("192.0.2.1")), cred: "SKa"}
	others := []key{
		{client: a.client, cred: "SKb"},                                      // another credential of the client
		{client: clientName(netip.MustParseAddr("192.0.2.2")), cred: a.cred}, // the credential from another client
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &stepClock{t: time.Unix(1_700_000_000, 0)}
			l := newLimiter(tc.limit, tc.window, clock.now)
			for i, s := range tc.steps {
				clock.advance(s.advance)
				for range s.fails {
					l.check(a, fail)
				}
				if got := l.wait(a); got != s.wantWait {
					t.Errorf("step %d: wait = %v, want %v", i, got, s.wantWait)
				}
				for _, o := range others {
					if got := l.wait(o); got != 0 {
						t.Errorf("step %d: wait of %+v = %v, want 0", i, o, got)
					}
				}
			}
		})
	}
}

// TestLimiterRefusesWithoutChecking: a limited credential is not checked
// at all, so a right guess made while limited teaches nothing.
func TestLimiterRefusesWithoutChecking(t *testing.T) {
	l := newLimiter(1, time.Minute, (&stepClock{t: time.Unix(0, 0)}).now)
	k := key{client: clientName(netip.MustParseAddr("192.0.2.1")), cred: "SKa"}
	l.check(k, fail)
	checked := false
	ok, wait := l.check(k, func() bool { checked = true; return true })
	if ok || wait != time.Minute || checked {
		t.Errorf("check while limited = %v, %v (checked %v), want false, 1m and no check", ok, wait, checked)
	}
}

// TestLimiterMemory: each table holds at most maxTracked entries, and a
// client whose buckets are full again is forgotten once it succeeds.
func TestLimiterMemory(t *testing.T) {
	clock := &stepClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(0, 0, clock.now)
	for i := range maxTracked + 500 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.check(key{client: clientName(ip), cred: fmt.Sprint(i)}, fail)
	}
	if l.keys.Len() != maxTracked || l.clients.Len() != maxTracked {
		t.Errorf("tracked %d keys and %d clients, want the bound %d", l.keys.Len(), l.clients.Len(), maxTracked)
	}
	k := key{client: clientName(netip.MustParseAddr("192.0.2.9")), cred: "SKa"}
	l.check(k, fail)
	clock.advance(time.Hour)
	l.check(k, pass)
	if _, ok := l.keys.Peek(k); ok {
		t.Error("a full credential bucket is still tracked after a success")
	}
	if _, ok := l.clients.Peek(k.client); ok {
		t.Error("a full client bucket is still tracked after a success")
	}
}

func TestLimiterClient(t *testing.T) {
	tests := []struct {
		name       string
		remoteAddr string
		xff        []string
		trustXFF   bool
		want       string
	}{
		{name: "IPv4 peer", remoteAddr: "192.0.2.7:53211", want: "192.0.2.7/32"},
		{name: "IPv6 peer is named by its /64", remoteAddr: "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443", want: "2001:db8:1:2::/64"},
		{name: "IPv6 neighbour in the same /64", remoteAddr: "[2001:db8:1:2::1]:443", want: "2001:db8:1:2::/64"},
		{name: "IPv4-mapped IPv6 peer", remoteAddr: "[::ffff:192.0.2.7]:80", want: "192.0.2.7/32"},
		{name: "zone dropped", remoteAddr: "[fe80::1%eth0]:80", want: "fe80::/64"},
		{name: "X-Forwarded-For ignored by default", remoteAddr: "192.0.2.7:1", xff: []string{"198.51.100.1"}, want: "192.0.2.7/32"},
		{name: "X-Forwarded-For trusted", remoteAddr: "192.0.2.7:1", xff: []string{"198.51.100.1"}, trustXFF: true, want: "198.51.100.1/32"},
		{name: "last entry: what the proxy appended", remoteAddr: "192.0.2.7:1", xff: []string{"203.0.113.9, 198.51.100.1"}, trustXFF: true, want: "198.51.100.1/32"},
		{name: "last header line", remoteAddr: "192.0.2.7:1", xff: []string{"203.0.113.9", "198.51.100.1 "}, trustXFF: true, want: "198.51.100.1/32"},
		{name: "entry with a port", remoteAddr: "192.0.2.7:1", xff: []string{"198.51.100.1:4711"}, trustXFF: true, want: "198.51.100.1/32"},
		{name: "IPv6 entry", remoteAddr: "192.0.2.7:1", xff: []string{"2001:db8::5"}, trustXFF: true, want: "2001:db8::/64"},
		{name: "garbage entry falls back to the peer", remoteAddr: "192.0.2.7:1", xff: []string{"unknown"}, trustXFF: true, want: "192.0.2.7/32"},
		{name: "empty entry falls back to the peer", remoteAddr: "192.0.2.7:1", xff: []string{"198.51.100.1,"}, trustXFF: true, want: "192.0.2.7/32"},
		{name: "peer without a port", remoteAddr: "192.0.2.7", want: "192.0.2.7/32"},
		{name: "not an address", remoteAddr: "pipe", want: "invalid Prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remoteAddr
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientOf(r, tc.trustXFF).String(); got != tc.want {
				t.Errorf("clientOf(RemoteAddr %q, X-Forwarded-For %q) = %q, want %q", tc.remoteAddr, tc.xff, got, tc.want)
			}
		})
	}
}

// TestLimiterCredentialOutlivesClient: a credential stays limited after
// its client's ceiling, which refills ten times faster, has refilled and
// been forgotten.
func TestLimiterCredentialOutlivesClient(t *testing.T) {
	clock := &stepClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(1, time.Minute, clock.now)
	c := clientName(netip.MustParseAddr("192.0.2.1"))
	x, y := key{client: c, cred: "SKx"}, key{client: c, cred: "SKy"}
	l.check(x, fail)
	clock.advance(10 * time.Second) // the ceiling is full again, x is not
	if ok, _ := l.check(y, pass); !ok {
		t.Fatal("another credential was refused")
	}
	if _, tracked := l.clients.Peek(c); tracked {
		t.Fatal("the client is still tracked; the test needs it forgotten")
	}
	if ok, wait := l.check(x, pass); ok || wait == 0 {
		t.Errorf("check of the limited credential = %v, %v; want refused", ok, wait)
	}
}
