package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Hosts is where verifyd may deliver webhooks: host names, and IP
// addresses in prefixes. verifyd is not a proxy to the hosts it can reach,
// so a webhook URL must name one of these, and every connection a delivery
// makes is checked again.
type Hosts struct {
	names    map[string]bool
	prefixes []netip.Prefix
}

// Loopback is the default of ParseHosts: localhost, 127.0.0.0/8 and ::1.
const Loopback = "loopback"

// ParseHosts reads a comma-separated list of host names, IP addresses and
// CIDR prefixes; "loopback" stands for localhost, 127.0.0.0/8 and ::1, and
// is what an empty list means.
func ParseHosts(spec string) (*Hosts, error) {
	h := &Hosts{names: map[string]bool{}}
	if strings.TrimSpace(spec) == "" {
		spec = Loopback
	}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		switch {
		case item == "":
			return nil, errors.New("webhook hosts: empty entry")
		case item == Loopback:
			h.names["localhost"] = true
			h.prefixes = append(h.prefixes, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
		case strings.Contains(item, "/"):
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("webhook hosts: %q: %w", item, err)
			}
			h.prefixes = append(h.prefixes, p.Masked())
		default:
			if a, err := netip.ParseAddr(item); err == nil {
				h.prefixes = append(h.prefixes, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			if strings.ContainsAny(item, ":[] ") {
				return nil, fmt.Errorf("webhook hosts: %q is not a host name, an IP address or a prefix", item)
			}
			h.names[item] = true
		}
	}
	return h, nil
}

// allowsHost reports whether host, a URL's host without port, is allowed:
// a listed name, or an IP address in a listed prefix.
func (h *Hosts) allowsHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		a = a.Unmap()
		for _, p := range h.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return h.names[host]
}

// AllowsURL reports whether webhooks may be delivered to raw: an absolute
// http or https URL without user info or fragment, whose host is allowed
// and whose port, when it has one, is 1 to 65535.
func (h *Hosts) AllowsURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Hostname() == "" {
		return false
	}
	// The signature covers the whole URL, and a receiver never sees a
	// fragment (an empty one included), so it could not check it.
	if strings.Contains(raw, "#") {
		return false
	}
	// A port no connection can use would be stored and retried in vain.
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return h.allowsHost(u.Hostname())
}

// errHostNotAllowed is the error of a connection to a host not allowed.
var errHostNotAllowed = errors.New("webhook host not allowed")

// NewClient returns the HTTP client deliveries are sent with: timeout
// bounds each attempt; it connects only to allowed hosts, by name or
// address as the URL gives them, never through an HTTP proxy of the
// environment; and it follows no redirect (a 3xx is a failed attempt).
func NewClient(timeout time.Duration, hosts *Hosts) *http.Client {
	dialer := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil || !hosts.allowsHost(host) {
				return nil, fmt.Errorf("dial %s: %w", addr, errHostNotAllowed)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
