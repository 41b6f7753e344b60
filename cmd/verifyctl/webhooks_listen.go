package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/verifykit/verifykit/verify"
)

// listenUsage is the --help of webhooks listen.
const listenUsage = `Receive webhook deliveries as a backend would, and print each one: listen on
ADDR, check every POST's X-Twilio-Signature with the account's auth token
(verify.ValidateWebhook: HMAC-SHA1 over the URL and the sorted form fields),
answer 204 and print the event as one JSON line on stdout; answer 403 to a
delivery that does not validate, and say so on stderr. A webhook whose
WebhookUrl is this listener's URL (printed on stderr at start) delivers here.

Usage:
  verifyctl webhooks listen [flags]

Flags:
  --addr ADDR           listen address; 127.0.0.1:8099 when left out, and a
                        port of 0 picks a free one
  --url URL             the URL the webhook was created with, when it is not
                        http://ADDR (behind a proxy or a tunnel); each
                        request's path and query are appended to it
  --count N             exit after N valid deliveries; 0 (the default) runs
                        until interrupted
  --auth-token TOKEN    the account's auth token             [TWILIO_AUTH_TOKEN]

Each line is {"signature":"valid","type":…,"uuid":…,"path":…,"params":{…}},
params holding every form field (the first value of a repeated one; events
repeat none). An event can arrive more than once; its uuid tells.

Example:
  verifyctl webhooks listen --count 1
`

// listenOptions are the inputs of webhooks listen.
type listenOptions struct {
	Addr, URL, AuthToken string
	Count                int
}

// runListen is the command webhooks listen.
func runListen(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet("webhooks listen")
	opts := listenOptions{}
	fs.StringVar(&opts.Addr, "addr", "127.0.0.1:8099", "")
	fs.StringVar(&opts.URL, "url", "", "")
	fs.IntVar(&opts.Count, "count", 0, "")
	fs.StringVar(&opts.AuthToken, "auth-token", "", "")
	positional, err := parseArgs(fs, args, a.stdout, listenUsage)
	if err != nil {
		return err
	}
	if err := noArgs(positional); err != nil {
		return err
	}
	if opts.AuthToken == "" {
		opts.AuthToken = a.getenv(verify.EnvAuthToken)
	}
	switch {
	case opts.AuthToken == "":
		return usageErrorf("--auth-token (or %s): missing; deliveries are signed with it", verify.EnvAuthToken)
	case opts.Count < 0:
		return usageErrorf("--count: want 0 or more")
	}
	if opts.URL != "" {
		if u, err := url.Parse(opts.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErrorf("--url: want an http or https URL")
		}
	}
	return listen(ctx, a, opts)
}

// delivery is one line of webhooks listen's output.
type delivery struct {
	Signature string            `json:"signature"`
	Type      string            `json:"type"`
	UUID      string            `json:"uuid"`
	Path      string            `json:"path"`
	Params    map[string]string `json:"params"`
}

// listen serves until ctx ends or opts.Count deliveries validated.
func listen(ctx context.Context, a *app, opts listenOptions) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("webhooks listen: %w", err)
	}
	base := strings.TrimSuffix(opts.URL, "/")
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // one line at a time, and the count
	valid := 0
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			params, err := verify.ValidateWebhook(opts.AuthToken, base+r.URL.RequestURI(), r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintf(a.stderr, "verifyctl: refused a delivery to %s: %v\n", r.URL.Path, err)
				status := http.StatusForbidden
				if !errors.Is(err, verify.ErrInvalidSignature) {
					status = http.StatusBadRequest
				}
				http.Error(w, http.StatusText(status), status)
				return
			}
			fields := make(map[string]string, len(params))
			for k := range params {
				fields[k] = params.Get(k)
			}
			line, err := json.Marshal(delivery{Signature: "valid", Type: params.Get("type"), UUID: params.Get("uuid"), Path: r.URL.Path, Params: fields})
			if err != nil {
				http.Error(w, "encode", http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(a.stdout, "%s\n", line)
			w.WriteHeader(http.StatusNoContent)
			if valid++; opts.Count > 0 && valid >= opts.Count {
				cancel()
			}
		}),
	}
	fmt.Fprintf(a.stderr, "verifyctl: listening for webhook deliveries at %s\n", base)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("webhooks listen: %w", err)
	case <-ctx.Done():
	}
	sctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("webhooks listen: shut down: %w", err)
	}
	return nil
}
