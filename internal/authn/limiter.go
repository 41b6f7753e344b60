package authn

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Defaults of the failure limit.
const (
	defaultFailureLimit  = 10
	defaultFailureWindow = time.Minute
	// ceilingFactor sizes a client's ceiling on all its failures, whatever
	// the credential, in multiples of the per-credential limit.
	ceilingFactor = 10
	// maxTracked bounds each table of the limiter (about 200 bytes an
	// entry); past it, the least recently used entry is forgotten.
	maxTracked = 10_000
	// lockShards spreads clients over this many locks.
	lockShards = 64
)

// client names who sent a request: an IPv4 address, or an IPv6 /64, which
// one host can draw addresses from at will.
type client = netip.Prefix

// key is one credential as presented by one client. cred is an Account or
// API key SID, or "" for a username that is neither.
type key struct {
	client client
	cred   string
}

// limiter limits failed authentications with token buckets from x/time/rate:
// each (client, credential) may fail limit times in a row and earns one
// more failure every window/limit, and each client may fail ceilingFactor
// times as often over all its credentials. Only failures take tokens. A
// check runs under its client's lock, from the moment its buckets are
// looked at until its failure is recorded, so that requests released
// together cannot all be checked before the first failure counts.
type limiter struct {
	perKey, perClient rate.Limit
	burst, ceiling    int
	now               func() time.Time

	locks   [lockShards]sync.Mutex
	keys    *lru.Cache[key, *rate.Limiter]
	clients *lru.Cache[client, *rate.Limiter]
	// trusted holds the credentials that authenticated from a client while
	// it had failures recorded: over its ceiling, the client may still use
	// those, and only those.
	trusted *lru.Cache[key, struct{}]
}

func newLimiter(limit int, window time.Duration, now func() time.Time) *limiter {
	if limit == 0 {
		limit = defaultFailureLimit
	}
	if window <= 0 {
		window = defaultFailureWindow
	}
	l := &limiter{
		perKey:    rate.Every(window / time.Duration(limit)),
		perClient: rate.Every(window / time.Duration(limit*ceilingFactor)),
		burst:     limit,
		ceiling:   limit * ceilingFactor,
		now:       now,
	}
	// New fails only for a size below 1.
	l.keys, _ = lru.New[key, *rate.Limiter](maxTracked)
	l.clients, _ = lru.New[client, *rate.Limiter](maxTracked)
	l.trusted, _ = lru.New[key, struct{}](maxTracked)
	return l
}

// check runs verify for k unless k or its client has no failure left, in
// which case it returns how long to wait. A false verify is a failure.
func (l *limiter) check(k key, verify func() bool) (ok bool, wait time.Duration) {
	mu := &l.locks[shard(k.client)]
	mu.Lock()
	defer mu.Unlock()
	now := l.now()
	var kb, cb *rate.Limiter
	var hasKey, hasClient bool
	if !l.empty() {
		kb, hasKey = l.keys.Get(k)
		cb, hasClient = l.clients.Get(k.client)
	}
	if w := l.waitLocked(k, kb, cb, now); w > 0 {
		return false, w
	}
	if verify() {
		if hasClient {
			if cb.TokensAt(now) >= float64(l.ceiling) {
				// Full again: forget the client, so that its requests
				// skip these tables until it fails anew.
				l.clients.Remove(k.client)
			} else {
				l.trusted.Add(k, struct{}{})
			}
		}
		if hasKey && kb.TokensAt(now) >= float64(l.burst) {
			l.keys.Remove(k)
		}
		return true, 0
	}
	if !hasKey {
		kb = rate.NewLimiter(l.perKey, l.burst)
		l.keys.Add(k, kb)
	}
	if !hasClient {
		cb = rate.NewLimiter(l.perClient, l.ceiling)
		l.clients.Add(k.client, cb)
	}
	kb.AllowN(now, 1)
	cb.AllowN(now, 1)
	return false, 0
}

// wait returns how long k must wait before it may be checked; 0 when it
// may be now. It lets a refused request skip the credential lookup.
func (l *limiter) wait(k key) time.Duration {
	mu := &l.locks[shard(k.client)]
	mu.Lock()
	defer mu.Unlock()
	if l.empty() {
		return 0
	}
	kb, _ := l.keys.Peek(k)
	cb, _ := l.clients.Peek(k.client)
	return l.waitLocked(k, kb, cb, l.now())
}

// empty reports whether no failure is recorded at all, the common case,
// in which there is nothing to look up.
func (l *limiter) empty() bool { return l.keys.Len() == 0 && l.clients.Len() == 0 }

// waitLocked is wait for the buckets of k, nil where k or its client has
// no failures recorded.
func (l *limiter) waitLocked(k key, kb, cb *rate.Limiter, now time.Time) time.Duration {
	if kb != nil {
		if w := waitFor(kb, now); w > 0 {
			return w
		}
	}
	if cb != nil {
		if w := waitFor(cb, now); w > 0 && !l.trusted.Contains(k) {
			return w
		}
	}
	return 0
}

// waitFor is how long until b holds a whole token; 0 when it does.
func waitFor(b *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - b.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(b.Limit()) * float64(time.Second))
}

// shard picks a client's lock.
func shard(c client) int {
	a := c.Addr().As16()
	var h uint32 = 2166136261 // FNV-1a
	for _, b := range a {
		h = (h ^ uint32(b)) * 16777619
	}
	return int(h % lockShards)
}

// clientOf names the client of r: its IP address, from the connection or,
// when trustXFF is set, from the last X-Forwarded-For entry, the one the
// nearest proxy appended.
func clientOf(r *http.Request, trustXFF bool) client {
	if trustXFF {
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
		return client{} // not from a net/http server: one shared name
	}
	return clientName(ip)
}

func clientName(ip netip.Addr) client {
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits) // cannot fail for these lengths
	return p
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
