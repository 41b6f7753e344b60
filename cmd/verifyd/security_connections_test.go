package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests hold verifyd to the connection findings of the security
// review: without a cap, a client could open thousands of keep-alive
// connections and hold each for a minute.

// keepAlive is a client connection that speaks HTTP/1.1 by hand, so a test
// decides when it is opened, used and closed.
type keepAlive struct {
	net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAlive{Conn: c, br: bufio.NewReader(c)}
}

// send writes a GET /healthz that leaves the connection open.
func (k *keepAlive) send(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(k, "GET /healthz HTTP/1.1\r\nHost: verifyd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
}

// receive reads one response, waiting at most wait, and returns its status
// or the read error.
func (k *keepAlive) receive(wait time.Duration) (int, error) {
	if err := k.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// TestSecurityConnectionLimit: with -max-connections 2, two open
// connections keep a third from being served until one of them closes.
func TestSecurityConnectionLimit(t *testing.T) {
	d := start(t, map[string]string{"VERIFYD_DATA_DIR": t.TempDir()}, "-addr", "127.0.0.1:0", "-max-connections", "2")

	var held []*keepAlive
	for i := range 2 {
		c := dialKeepAlive(t, d.addr)
		c.send(t)
		if status, err := c.receive(5 * time.Second); err != nil || status != http.StatusOK {
			t.Fatalf("held connection %d: status %d, error %v; want 200", i+1, status, err)
		}
		held = append(held, c)
	}

	// The kernel completes the handshake (the connection waits in the
	// listen backlog), but verifyd does not accept it while two are open.
	third := dialKeepAlive(t, d.addr)
	third.send(t)
	status, err := third.receive(500 * time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection while two are held: status %d, error %v; want no answer within 500ms", status, err)
	}

	if err := held[0].Close(); err != nil {
		t.Fatal(err)
	}
	closed := time.Now()
	if status, err := third.receive(5 * time.Second); err != nil || status != http.StatusOK {
		t.Fatalf("third connection after one closed: status %d, error %v; want 200", status, err)
	}
	t.Logf("third connection served %v after one of the two closed", time.Since(closed).Round(time.Millisecond))

	// The other held connection still works: the cap closed nothing.
	held[1].send(t)
	if status, err := held[1].receive(5 * time.Second); err != nil || status != http.StatusOK {
		t.Errorf("second held connection: status %d, error %v; want 200", status, err)
	}
}

// TestSecurityIdleTimeout: with -idle-timeout 300ms, verifyd closes a
// keep-alive connection that has been idle that long.
func TestSecurityIdleTimeout(t *testing.T) {
	d := start(t, map[string]string{"VERIFYD_DATA_DIR": t.TempDir()}, "-addr", "127.0.0.1:0", "-idle-timeout", "300ms")
	c := dialKeepAlive(t, d.addr)
	c.send(t)
	if status, err := c.receive(5 * time.Second); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, error %v; want 200", status, err)
	}
	idle := time.Now()
	if err := c.SetReadDeadline(idle.Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.br.Read(make([]byte, 1))
	elapsed := time.Since(idle)
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read on the idle connection after %v: %d bytes, error %v; want EOF (closed by verifyd) within 3s", elapsed, n, err)
	}
	if elapsed < 250*time.Millisecond {
		t.Errorf("idle connection closed after %v, want about 300ms", elapsed)
	}
	t.Logf("idle connection closed by verifyd after %v", elapsed.Round(time.Millisecond))
}

// TestConnectionFlags: -max-connections and -idle-timeout have their
// defaults and environment twins, a flag beats the environment, and a
// value that is not positive is refused with a one-line error.
func TestConnectionFlags(t *testing.T) {
	type limits struct {
		MaxConnections int
		IdleTimeout    time.Duration
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    limits
		wantErr string
	}{
		{name: "Defaults", want: limits{1024, 15 * time.Second}},
		{name: "Environment", env: map[string]string{"VERIFYD_MAX_CONNECTIONS": "7", "VERIFYD_IDLE_TIMEOUT": "2s"}, want: limits{7, 2 * time.Second}},
		{name: "FlagBeatsEnvironment", env: map[string]string{"VERIFYD_MAX_CONNECTIONS": "7", "VERIFYD_IDLE_TIMEOUT": "2s"},
			args: []string{"-max-connections", "9", "-idle-timeout", "1m"}, want: limits{9, time.Minute}},
		{name: "ZeroConnections", args: []string{"-max-connections", "0"}, wantErr: "-max-connections"},
		{name: "NegativeConnections", env: map[string]string{"VERIFYD_MAX_CONNECTIONS": "-1"}, wantErr: "-max-connections"},
		{name: "NotANumber", args: []string{"-max-connections", "many"}, wantErr: "-max-connections"},
		{name: "ZeroIdle", args: []string{"-idle-timeout", "0s"}, wantErr: "-idle-timeout"},
		{name: "BadIdle", env: map[string]string{"VERIFYD_IDLE_TIMEOUT": "soon"}, wantErr: "-idle-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			c, err := parseServe(tt.args, func(k string) string { return tt.env[k] }, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Errorf("parseServe = %v, want one line naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, limits{c.maxConnections, c.idleTimeout}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
