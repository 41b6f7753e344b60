package scope

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

func TestOrigin(t *testing.T) {
	public, _ := url.Parse("https://verify.example.com/base/")
	for _, tc := range []struct {
		name    string
		r       Request
		want    string
		wantErr bool
	}{
		{name: "host", r: Request{host: "127.0.0.1:8080"}, want: "http://127.0.0.1:8080"},
		{name: "TLS", r: Request{host: "verify.example.com", https: true}, want: "https://verify.example.com"},
		{name: "IPv6", r: Request{host: "[::1]:8080"}, want: "http://[::1]:8080"},
		{name: "empty", r: Request{host: ""}, wantErr: true},
		{name: "too long", r: Request{host: strings.Repeat("h", maxHostLen+1)}, wantErr: true},
		{name: "not a host", r: Request{host: "a/b"}, wantErr: true},
		{name: "public URL, whatever the host", r: Request{host: "", public: strings.TrimRight(public.String(), "/")}, want: "https://verify.example.com/base"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, last := range []*atomic.Pointer[lastOrigin]{nil, new(atomic.Pointer[lastOrigin])} {
				r := tc.r
				r.Context, r.last = context.Background(), last
				for range 2 { // the second time from the last origin, when kept
					got, err := r.Origin()
					if tc.wantErr != (err != nil) || got != tc.want {
						t.Errorf("Origin() = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
					}
					if err != nil && !errors.Is(err, ErrUnusableHost) {
						t.Errorf("error %v, want ErrUnusableHost", err)
					}
				}
			}
		})
	}
}

// TestOriginLastIsPerHost: the kept origin answers only for its own host.
func TestOriginLastIsPerHost(t *testing.T) {
	last := new(atomic.Pointer[lastOrigin])
	a := Request{Context: context.Background(), host: "a.example", last: last}
	b := Request{Context: context.Background(), host: "", last: last}
	if got, err := a.Origin(); err != nil || got != "http://a.example" {
		t.Fatalf("a.Origin() = %q, %v", got, err)
	}
	if got, err := b.Origin(); err == nil {
		t.Errorf("b.Origin() with an empty Host = %q, want ErrUnusableHost", got)
	}
}
