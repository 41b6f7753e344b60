package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// faultRequestTimeout is the -request-timeout of the instance under fault;
// a request that needs the broken part of the store must be answered 503
// within it plus faultSlack, which leaves room for a loaded machine running
// the race detector (1.9s was seen at a load average of 9 on 2 CPUs).
const (
	faultRequestTimeout = time.Second
	faultSlack          = 1500 * time.Millisecond
)

// sqliteFault makes the SQLite store of a data dir fail for writes while
// verifyd runs, and undoes that.
type sqliteFault struct {
	name string
	// setup prepares the data dir before verifyd first starts on it: the
	// disk-full fault puts it on a small file system of its own.
	setup func(t *testing.T) (dataDir string)
	// inject makes writes fail and returns the function that makes them
	// work again.
	inject func(t *testing.T, dataDir string) (recover func())
	// storesNone is set where no create answered 503 can have been stored:
	// the fault keeps every write from starting until each caller's deadline
	// has passed, and the store then leaves out writes whose caller gave up.
	storesNone bool
}

// TestFaultSQLiteUnavailable makes the SQLite store refuse writes while
// verifyd runs, in two ways an operator meets: another process holds the
// database's write lock (a backup, an sqlite3 shell left in a transaction),
// and the file system is full. While it lasts, creates must be answered
// 503 · 20503 with Retry-After within the request timeout, and everything
// that needs only reads (fetches, /readyz) keeps working. Once the fault is
// gone, creates work again without a restart, the file passes
// integrity_check, and every token created before, during or after the
// fault fetches byte for byte after a restart. A create answered 503
// because the write lock was held is never stored: the client retries it,
// and storing both would leave two tokens for one issue.
func TestFaultSQLiteUnavailable(t *testing.T) {
	bin := verifydBinary(t)
	faults := []sqliteFault{
		{name: "WriteLockHeld", setup: func(t *testing.T) string { return t.TempDir() }, inject: holdWriteLock, storesNone: true},
		{name: "DiskFull", setup: smallFileSystem, inject: fillFileSystem},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			dataDir := f.setup(t)
			args := []string{"-addr", "127.0.0.1:0", "-data-dir", dataDir, "-public-url", stablePublicURL,
				"-log-level", "warn", "-request-timeout", faultRequestTimeout.String()}

			// Tokens from an earlier run: the instance under fault has not
			// cached them, so fetching them reads the store.
			earlier := startChild(t, bin, args...)
			creds, err := readDevCreds(filepath.Join(dataDir, devCredentialsFile))
			if err != nil {
				t.Fatal(err)
			}
			var tokens []created
			c := newAPIClient(earlier.addr, creds)
			for i := range 5 {
				tokens = append(tokens, mustCreateToken(t, c, fmt.Sprintf("earlier-%d", i)))
			}
			earlier.stop(t)

			p := startChild(t, bin, args...)
			c = newAPIClient(p.addr, creds)
			cached := mustCreateToken(t, c, "cached-token")
			tokens = append(tokens, cached)

			recoverFn := f.inject(t, dataDir)
			checkCreatesUnavailable(t, c)
			for _, tok := range []created{tokens[0], cached} {
				r, err := c.fetch(t.Context(), tok.sid)
				if err != nil || r.status != http.StatusOK || string(r.body) != string(tok.body) {
					t.Errorf("fetch %s during the fault: %v (status %d, body %s); want 200 and the created body", tok.identity, err, r.status, r.body)
				}
			}
			// The store's ping reads the database file, which both faults
			// leave readable: WAL readers go on past another connection's
			// write lock, and reading needs no free space. (A file that can
			// no longer be read fails it; internal/store/sqlite tests that.)
			ready, err := c.do(t.Context(), http.MethodGet, "/readyz", nil)
			if err != nil || ready.status != http.StatusOK || ready.took > faultRequestTimeout+faultSlack {
				t.Errorf("/readyz during the fault: %v (status %d) after %v; want 200 within %v", err, ready.status, ready.took, faultRequestTimeout+faultSlack)
			}
			t.Logf("during the fault: /readyz %d in %v", ready.status, ready.took.Round(time.Millisecond))

			recoverFn()
			begin := time.Now()
			var after created
			for {
				r, err := c.create(t.Context(), "after-fault")
				if err == nil && r.status == http.StatusCreated {
					if after, err = parseCreated("after-fault", r); err != nil {
						t.Fatal(err)
					}
					break
				}
				if err != nil || r.status != http.StatusServiceUnavailable || time.Since(begin) > 10*time.Second {
					t.Fatalf("create after the fault was removed: %v (status %d, body %s) after %v; want 201 within 10s", err, r.status, r.body, time.Since(begin))
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("recovered without a restart: first create 201 %v after the fault was removed", time.Since(begin).Round(time.Millisecond))
			tokens = append(tokens, after)
			for i := range 8 {
				tokens = append(tokens, mustCreateToken(t, c, fmt.Sprintf("after-fault-%d", i)))
			}
			if ready, err := c.do(t.Context(), http.MethodGet, "/readyz", nil); err != nil || ready.status != http.StatusOK {
				t.Errorf("/readyz after recovery: %v (status %d); want 200", err, ready.status)
			}
			p.stop(t)

			checkSQLiteIntegrity(t, dataDir)
			stored := storedIdentities(t, sqliteRows(dataDir))
			during := 0
			for _, id := range stored {
				if strings.HasPrefix(id, "during-fault-") {
					during++
				}
			}
			// The store's contract allows a create answered 503 to be
			// stored nonetheless (store.ErrUnavailable) when its answer is
			// lost as it commits; count them.
			t.Logf("%d tokens in the store, %d of them from creates answered 503", len(stored), during)
			if f.storesNone && during != 0 {
				t.Errorf("%d creates answered 503 during the fault were stored, want none", during)
			}

			last := startChild(t, bin, args...)
			if n := verifyFetches(t, newAPIClient(last.addr, creds), tokens, 4); n != len(tokens) {
				t.Errorf("after a restart, %d of %d tokens fetched identically", n, len(tokens))
			}
			last.stop(t)
		})
	}
}

// checkCreatesUnavailable sends a burst of concurrent creates, which must all
// be answered 503 · 20503 with Retry-After within the request timeout.
func checkCreatesUnavailable(t *testing.T, c *apiClient) {
	t.Helper()
	const burst = 8
	replies := make([]reply, burst)
	errs := make([]error, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() { replies[i], errs[i] = c.create(t.Context(), fmt.Sprintf("during-fault-%d", i)) })
	}
	wg.Wait()
	var slowest time.Duration
	for i, r := range replies {
		if errs[i] != nil {
			t.Errorf("create during the fault: %v", errs[i])
			continue
		}
		if r.status != http.StatusServiceUnavailable || r.twilioCode() != 20503 || r.header.Get("Retry-After") == "" {
			t.Errorf("create during the fault: status %d, Retry-After %q, body %s; want 503 · 20503 with Retry-After",
				r.status, r.header.Get("Retry-After"), r.body)
		}
		if r.took > faultRequestTimeout+faultSlack {
			t.Errorf("create during the fault took %v; want at most %v (request timeout %v)", r.took, faultRequestTimeout+faultSlack, faultRequestTimeout)
		}
		slowest = max(slowest, r.took)
	}
	t.Logf("during the fault: %d concurrent creates answered %d · %d (Retry-After %s), slowest in %v",
		burst, replies[0].status, replies[0].twilioCode(), replies[0].header.Get("Retry-After"), slowest.Round(time.Millisecond))
}

// holdWriteLock takes SQLite's write lock on the data dir's database from a
// connection of the test's own, as another process would, and holds it.
// verifyd's readers go on under WAL; its writes wait for the lock until the
// request deadline.
func holdWriteLock(t *testing.T, dataDir string) func() {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, dbFile)+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	release := sync.OnceFunc(func() {
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Errorf("release the write lock: %v", err)
		}
		conn.Close()
		db.Close()
	})
	t.Cleanup(release)
	return release
}

// smallFileSystem mounts a 16 MiB tmpfs as the data dir, and unmounts it when
// the test ends. It skips the test where mounting is not allowed (not root,
// or a container without CAP_SYS_ADMIN).
func smallFileSystem(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := mountTmpfs(t, dir, "size=16m,mode=0700"); err != nil {
		t.Skip(err)
	}
	return dir
}

// mountTmpfs mounts a tmpfs with opts on dir and unmounts it at cleanup.
// Cleanups run last first, so call it before starting a process that uses
// dir. It fails where mounting is not allowed.
func mountTmpfs(t *testing.T, dir, opts string) error {
	t.Helper()
	if os.Geteuid() != 0 {
		return errors.New("mounting a tmpfs needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("cannot mount a tmpfs here: %w: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return nil
}

// fillFileSystem fills the file system of dataDir with a file until it
// fails with ENOSPC, and returns the function that deletes that file.
func fillFileSystem(t *testing.T, dataDir string) func() {
	t.Helper()
	path := filepath.Join(dataDir, "filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// Large writes first, then single bytes for what is left: 16 MiB / 4 KiB
	// pages bounds the loop.
	for _, size := range []int{64 << 10, 1} {
		chunk := make([]byte, size)
		for range 1 << 20 {
			if _, err = f.Write(chunk); err != nil {
				break
			}
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fill the file system: %v, want ENOSPC", err)
		}
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dataDir, &st); err == nil {
		t.Logf("file system full: %d bytes free", st.Bavail*uint64(st.Bsize))
	}
	return sync.OnceFunc(func() {
		if err := os.Remove(path); err != nil {
			t.Errorf("free the file system: %v", err)
		}
	})
}

// readOnlyDir returns a directory verifyd cannot write to: a read-only tmpfs
// under root, which ignores permission bits, or else a directory of mode
// 0500. It returns "" and why when neither is possible.
func readOnlyDir(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if err := mountTmpfs(t, dir, "ro,size=1m"); err != nil {
			return "", err.Error()
		}
		return dir, ""
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		return "", err.Error()
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	return dir, ""
}

// TestStartupProcessErrors runs the verifyd binary with start-up problems an
// operator meets: bad flag values, a data dir it cannot create or write, a
// corrupt database, a port in use, an unreachable store. Each must end the
// process with exit status 1 (2 for a usage error), print nothing on
// stdout, and print exactly one line on stderr, "verifyd: " and the
// reason: no stack trace, no log lines, no usage text.
func TestStartupProcessErrors(t *testing.T) {
	bin := verifydBinary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, dbFile), bytes.Repeat([]byte("not a database "), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly, noReadOnly := readOnlyDir(t)

	tests := []struct {
		name  string
		args  []string
		exit  int
		want  string // in the one line
		usage bool   // a usage error: the flag package's usage text follows
		skip  string // why the case cannot run here
	}{
		{name: "bad request timeout", args: []string{"-request-timeout", "soon"}, exit: 1, want: "-request-timeout"},
		{name: "bad response validation mode", args: []string{"-response-validation", "maybe"}, exit: 1, want: "-response-validation"},
		{name: "bad log level", args: []string{"-log-level", "loud"}, exit: 1, want: "-log-level"},
		{name: "bad body limit", args: []string{"-body-limit", "-3"}, exit: 1, want: "-body-limit"},
		{name: "unsupported store", args: []string{"-store", "mysql://x"}, exit: 1, want: "-store"},
		{name: "data dir under a regular file", args: []string{"-data-dir", filepath.Join(file, "sub")}, exit: 1, want: "not a directory"},
		{name: "data dir on a read-only file system", args: []string{"-data-dir", readOnly}, exit: 1, want: "cannot create files in its directory", skip: noReadOnly},
		{name: "data dir cannot be created", args: []string{"-data-dir", filepath.Join(readOnly, "sub")}, exit: 1, want: "data directory", skip: noReadOnly},
		{name: "corrupt database", args: []string{"-data-dir", corrupt}, exit: 1, want: "not a database"},
		{name: "port in use", args: []string{"-addr", busy.Addr().String()}, exit: 1, want: "address already in use"},
		{name: "dev mode on a public address", args: []string{"-addr", "0.0.0.0:0"}, exit: 1, want: "loopback"},
		{name: "missing bootstrap file", args: []string{"-bootstrap", filepath.Join(t.TempDir(), "none.json")}, exit: 1, want: "bootstrap"},
		{name: "unreachable PostgreSQL", args: []string{"-store", "postgres://verifyd@127.0.0.1:1/none?connect_timeout=5"}, exit: 1, want: "-store"},
		{name: "unexpected argument", args: []string{"serve"}, exit: 2, want: "unexpected argument"},
		{name: "unknown flag", args: []string{"-nope"}, exit: 2, want: "-nope", usage: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			args := tc.args
			if !slices.Contains(args, "-data-dir") {
				args = append(args, "-data-dir", t.TempDir())
			}
			if !slices.Contains(args, "-addr") {
				args = append(args, "-addr", "127.0.0.1:0")
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = childEnv()
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			begin := time.Now()
			err := cmd.Run()
			took := time.Since(begin)
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != tc.exit {
				t.Fatalf("verifyd %q: %v after %v, want exit status %d; stderr:\n%s", args, err, took, tc.exit, stderr.String())
			}
			out := stderr.String()
			first, rest, _ := strings.Cut(out, "\n")
			switch {
			case tc.usage:
				if !strings.Contains(first, tc.want) || !strings.Contains(rest, "Usage: verifyd") {
					t.Errorf("verifyd %q: stderr\n%s\nwant the problem on the first line and then the usage", args, out)
				}
			case !strings.HasPrefix(out, "verifyd: ") || !strings.HasSuffix(out, "\n") || rest != "" || !strings.Contains(first, tc.want):
				t.Errorf("verifyd %q: stderr\n%s\nwant exactly one line, \"verifyd: \" and a reason mentioning %q", args, out, tc.want)
			}
			if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") || strings.Contains(out, ".go:") {
				t.Errorf("verifyd %q: stderr holds a stack trace:\n%s", args, out)
			}
			if stdout.Len() != 0 {
				t.Errorf("verifyd %q: stdout %q, want nothing", args, stdout.String())
			}
			if db := filepath.Join(args[slices.Index(args, "-data-dir")+1], dbFile); strings.Count(first, db) > 1 {
				t.Errorf("verifyd %q: stderr names %s more than once: %s", args, db, first)
			}
			t.Logf("exit %d after %v: %s", tc.exit, took.Round(time.Millisecond), first)
		})
	}
}
