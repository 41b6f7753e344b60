package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyclient"
)

// daemon is verifyd running in-process through run.
type daemon struct {
	addr    string
	out     *syncBuffer   // stdout after the "listening on" line, as it is read
	outDone chan struct{} // closed once stdout has been read to its end
	cancel  context.CancelFunc
	done    chan error
}

// syncBuffer is a strings.Builder safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs verifyd with args and env until stop is called; it returns
// once the server answers /healthz.
func start(t *testing.T, env map[string]string, args ...string) *daemon {
	t.Helper()
	return startLogged(t, env, io.Discard, args...)
}

// startLogged is start with verifyd's stderr, its log, going to stderr.
func startLogged(t *testing.T, env map[string]string, stderr io.Writer, args ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	getenv := func(k string) string { return env[k] }
	d := &daemon{cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}, outDone: make(chan struct{})}
	go func() {
		err := run(ctx, append([]string{"verifyd"}, args...), getenv, pw, stderr)
		exited := errors.New("verifyd exited")
		if err != nil {
			exited = fmt.Errorf("verifyd exited: %w", err)
		}
		pw.CloseWithError(exited)
		d.done <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("verifyd printed nothing: %v", sc.Err())
	}
	addr, ok := strings.CutPrefix(sc.Text(), "listening on ")
	if !ok {
		cancel()
		t.Fatalf("first line = %q, want listening on ADDR", sc.Text())
	}
	d.addr = addr
	go func() {
		defer close(d.outDone)
		for sc.Scan() {
			d.out.WriteString(sc.Text() + "\n")
		}
	}()
	waitHealthy(t, "http://"+addr)
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("verifyd exited with %v, want a clean shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("verifyd did not stop within 15s")
	}
}

// output stops verifyd and returns all it printed after its first line:
// stdout is read apart from the test, so it may lag behind what verifyd has
// written until verifyd exits.
func (d *daemon) output(t *testing.T) string {
	t.Helper()
	d.stop(t)
	select {
	case <-d.outDone:
	case <-time.After(5 * time.Second):
		t.Fatal("verifyd's stdout was not closed within 5s of its exit")
	}
	return d.out.String()
}

// waitOutput waits until verifyd has printed want, and returns what it
// printed so far.
func (d *daemon) waitOutput(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := d.out.String()
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("verifyd did not print %q within 10s; it printed:\n%s", want, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitHealthy polls base/healthz until it answers 200. Each probe closes its
// connection, so none is left holding one of a -max-connections slots.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := probe.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz did not answer 200 within 10s", base)
}

func readCreds(t *testing.T, dir string) devCreds {
	t.Helper()
	path := filepath.Join(dir, devCredentialsFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("dev credentials: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s mode = %o, want 600", devCredentialsFile, mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c devCreds
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var raw map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"account_sid", "auth_token", "api_key_sid", "api_key_secret", "service_sid"} {
		if raw[k] == "" {
			t.Errorf("dev-credentials.json has no %s", k)
		}
	}
	return c
}

func client(t *testing.T, addr, user, pass string) *verifyclient.ClientWithResponses {
	t.Helper()
	c, err := verifyclient.NewClientWithResponses("http://"+addr, verifyclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.SetBasicAuth(user, pass)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRestartKeepsTokens: create, fetch, stop, start again on the same data
// dir, fetch: identical JSON, and dev mode does not mint new credentials.
func TestRestartKeepsTokens(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VERIFYD_DATA_DIR": dir}
	d := start(t, env, "-addr", "127.0.0.1:0")
	creds := readCreds(t, dir)
	if out := d.waitOutput(t, "/AccessTokens"); !strings.Contains(out, creds.AuthToken) || !strings.Contains(out, "curl") {
		t.Errorf("dev banner = %q, want the credentials and a curl example", out)
	}
	ctx := context.Background()
	c := client(t, d.addr, creds.AccountSID, creds.AuthToken)
	created, err := c.CreateAccessTokenWithFormdataBodyWithResponse(ctx, creds.ServiceSID, models.CreateAccessTokenRequest{Identity: "ff483d1ff591898a9942916050d2ca3f", FactorType: models.Push})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create: %v (status %d, body %s)", err, created.StatusCode(), created.Body)
	}
	first, err := c.FetchAccessTokenWithResponse(ctx, creds.ServiceSID, *created.JSON201.SID)
	if err != nil || first.StatusCode() != http.StatusOK {
		t.Fatalf("fetch: %v (status %d)", err, first.StatusCode())
	}
	d.stop(t)

	d2 := start(t, env, "-addr", d.addr)
	if again := readCreds(t, dir); again != creds {
		t.Errorf("restart changed the dev credentials: %+v, want %+v", again, creds)
	}
	second, err := client(t, d2.addr, creds.APIKeySID, creds.APIKeySecret).FetchAccessTokenWithResponse(ctx, creds.ServiceSID, *created.JSON201.SID)
	if err != nil || second.StatusCode() != http.StatusOK {
		t.Fatalf("fetch after restart: %v (status %d)", err, second.StatusCode())
	}
	if string(second.Body) != string(first.Body) {
		t.Errorf("fetch after restart:\n%s\nwant the same JSON as before:\n%s", second.Body, first.Body)
	}
}

func TestStartupErrors(t *testing.T) {
	busy := start(t, map[string]string{"VERIFYD_DATA_DIR": t.TempDir()}, "-addr", "127.0.0.1:0")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"-addr", busy.addr, "-data-dir", t.TempDir()}, "address already in use"},
		{"data dir is a file", []string{"-addr", "127.0.0.1:0", "-data-dir", filepath.Join(file, "sub")}, "data directory"},
		{"bad timeout", []string{"-request-timeout", "soon"}, "-request-timeout"},
		{"bad validation mode", []string{"-response-validation", "maybe"}, "-response-validation"},
		{"zero auth failure limit", []string{"-auth-failure-limit", "0"}, "-auth-failure-limit"},
		{"bad auth failure window", []string{"-auth-failure-window", "often"}, "-auth-failure-window"},
		{"unsupported store", []string{"-store", "mysql://x"}, "-store"},
		{"dev mode on a public address", []string{"-addr", "0.0.0.0:0", "-data-dir", t.TempDir()}, "loopback"},
		{"missing bootstrap file", []string{"-addr", "127.0.0.1:0", "-data-dir", t.TempDir(), "-bootstrap", filepath.Join(t.TempDir(), "none.json")}, "bootstrap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(context.Background(), append([]string{"verifyd"}, tc.args...), func(string) string { return "" }, &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) = nil, want an error", tc.args)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine") {
				t.Errorf("run(%q) = %q, want one line mentioning %q", tc.args, msg, tc.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"verifyd", "-nope"}, func(string) string { return "" }, &stdout, &stderr)
	if !errors.Is(err, errUsage) {
		t.Errorf("run(-nope) = %v, want errUsage", err)
	}
	err = run(context.Background(), []string{"verifyd", "-help"}, func(string) string { return "" }, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "VERIFYD_ADDR") {
		t.Errorf("run(-help) = %v with output %q, want flag.ErrHelp and the environment twins", err, stderr.String())
	}
}
