package phone

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestLocal: only a request on a loopback connection that names a
// loopback host is the phone's; a rebound name or a public address is not.
func TestLocal(t *testing.T) {
	for _, tc := range []struct {
		local, host string
		want        bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "localhost:8080", true},
		{"[::1]:8080", "[::1]:8080", true},
		{"127.0.0.1:8080", "localhost", true},
		{"127.0.0.1:8080", "rebound.example:8080", false},
		{"127.0.0.1:8080", "127.0.0.1.nip.example", false},
		{"127.0.0.1:8080", "", false},
		{"192.0.2.7:8080", "127.0.0.1:8080", false},
		{"", "127.0.0.1:8080", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/phone", nil)
		r.Host = tc.host
		if tc.local != "" {
			addr, err := net.ResolveTCPAddr("tcp", tc.local)
			if err != nil {
				t.Fatal(err)
			}
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
		}
		if got := Local(r); got != tc.want {
			t.Errorf("Local(connection %q, Host %q) = %v, want %v", tc.local, tc.host, got, tc.want)
		}
	}
}

// TestLocalRefusesProxiedRequests: a request that a proxy or tunnel on this
// machine relayed comes in on loopback, often with a loopback Host
// rewritten for it, but from a client elsewhere; its forwarding headers
// say so, and the phone is not its.
func TestLocalRefusesProxiedRequests(t *testing.T) {
	addr, err := net.ResolveTCPAddr("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range [][2]string{
		{"X-Forwarded-For", "203.0.113.9"},
		{"X-Forwarded-Host", "tunnel.example"},
		{"Forwarded", "for=203.0.113.9;host=tunnel.example"},
		{"X-Real-Ip", "203.0.113.9"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/phone", nil)
		r.Host = "localhost:8080"
		r.Header.Set(h[0], h[1])
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
		if Local(r) {
			t.Errorf("Local(loopback, Host localhost, %s: %s) = true, want false", h[0], h[1])
		}
	}
}
