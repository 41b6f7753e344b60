package api

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults of the failed-authentication limit: a client may fail
// defaultAuthFailureLimit times per defaultAuthFailureWindow.
const (
	defaultAuthFailureLimit  = 10
	defaultAuthFailureWindow = time.Minute
	// maxFailureClients bounds the clients tracked at once (about 200 bytes
	// each); past it, the client that failed longest ago is forgotten.
	maxFailureClients = 10_000
)

// failureLimiter limits failed authentications per client with a token
// bucket: each client may fail limit times in a row, and earns one more
// failure every window/limit. A client with no failure left is refused
// before its credentials are checked, whatever they are, until it has
// earned one. Successful authentications cost nothing.
//
// The bucket is kept as the time it will be full again (the generic cell
// rate algorithm), in integer nanoseconds, so waits are exact. Only clients
// that have failed are tracked, in least-recently-failed order, and a
// client whose bucket is full again is dropped, so memory stays bounded by
// maxClients however many clients there are.
type failureLimiter struct {
	window     time.Duration // how long an empty bucket takes to fill
	interval   time.Duration // window/limit: what one failure costs
	maxClients int
	trustXFF   bool
	now        func() time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // of *bucket
	order   list.List                // front: the client that failed last
}

// bucket is one client's allowance of failed authentications.
type bucket struct {
	key  string
	full time.Time // when the bucket is full again; in the past: it is full
}

// newFailureLimiter returns a limiter of limit failures per window, or nil,
// which limits nothing, when limit is negative. Zero values take the
// defaults.
func newFailureLimiter(limit int, window time.Duration, maxClients int, trustXFF bool, now func() time.Time) *failureLimiter {
	if limit < 0 {
		return nil
	}
	if limit == 0 {
		limit = defaultAuthFailureLimit
	}
	if window <= 0 {
		window = defaultAuthFailureWindow
	}
	if now == nil {
		now = time.Now
	}
	return &failureLimiter{
		window:     window,
		interval:   max(window/time.Duration(limit), 1),
		maxClients: max(maxClients, 1),
		trustXFF:   trustXFF,
		now:        now,
		clients:    map[string]*list.Element{},
	}
}

// wait returns how long, in whole seconds, the client must wait before it
// may present credentials again; 0 when it may now.
func (l *failureLimiter) wait(client string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.clients[client]
	if !ok {
		return 0
	}
	now := l.now()
	b := l.bound(el, now)
	// The client may fail once more while the bucket holds one failure's
	// worth: while it is full again within window - interval.
	d := b.full.Sub(now) - (l.window - l.interval)
	if d <= 0 {
		if !b.full.After(now) {
			l.forget(el)
		}
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// waitRequest is wait for the client of r. It names the client only when
// some client has failed recently, which keeps the common case free of
// work.
func (l *failureLimiter) waitRequest(r *http.Request) int {
	l.mu.Lock()
	none := len(l.clients) == 0
	l.mu.Unlock()
	if none {
		return 0
	}
	return l.wait(l.client(r))
}

// fail records a failed authentication of the client.
func (l *failureLimiter) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	el, ok := l.clients[client]
	if !ok {
		el = l.order.PushFront(&bucket{key: client, full: now})
		l.clients[client] = el
		for l.order.Len() > l.maxClients {
			l.forget(l.order.Back())
		}
	} else {
		l.order.MoveToFront(el)
	}
	b := el.Value.(*bucket)
	if b.full.Before(now) {
		b.full = now
	}
	// Never beyond an empty bucket: failures that were already in flight
	// when it emptied do not lengthen the wait, nor does a clock that went
	// back.
	b.full = b.full.Add(l.interval)
	if limit := now.Add(l.window); b.full.After(limit) {
		b.full = limit
	}
}

// bound returns el's bucket, never emptier than empty: a clock that went
// back must not lengthen the wait beyond a window.
func (l *failureLimiter) bound(el *list.Element, now time.Time) *bucket {
	b := el.Value.(*bucket)
	if limit := now.Add(l.window); b.full.After(limit) {
		b.full = limit
	}
	return b
}

func (l *failureLimiter) forget(el *list.Element) {
	delete(l.clients, el.Value.(*bucket).key)
	l.order.Remove(el)
}

// tracked returns the number of clients tracked, for tests.
func (l *failureLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// client names the client of r for the limit: its IP address, from the
// connection or, when trustXFF is set, from the last X-Forwarded-For entry,
// the one the nearest proxy appended. IPv6 clients are named by their /64,
// which one host can draw addresses from at will.
func (l *failureLimiter) client(r *http.Request) string {
	if l.trustXFF {
		if ip, ok := lastForwardedFor(r.Header); ok {
			return clientName(ip)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host // not from a net/http server; limit it under that name
	}
	return clientName(ip)
}

func clientName(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64) // cannot fail for a 128-bit address
		return p.String()
	}
	return ip.String()
}

// lastForwardedFor returns the last address of the X-Forwarded-For header,
// which may carry a port.
func lastForwardedFor(h http.Header) (netip.Addr, bool) {
	values := h.Values("X-Forwarded-For")
	if len(values) == 0 {
		return netip.Addr{}, false
	}
	last := values[len(values)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	last = strings.TrimSpace(last)
	if ip, err := netip.ParseAddr(last); err == nil {
		return ip, true
	}
	if ap, err := netip.ParseAddrPort(last); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}
