package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file holds the helpers that run verifyd as a separate process, which
// the crash, fault and PostgreSQL multi-instance tests share: a process can
// be killed with SIGKILL, several can share one database, and a process's
// exit status and stderr are what an operator sees.

// verifydBinary builds verifyd into the test's temporary directory.
func verifydBinary(t *testing.T) string {
	t.Helper()
	return goBuild(t, ".", "verifyd")
}

// verifyctlBinary builds verifyctl into the test's temporary directory. It
// is a main package too, so verifyd's tests can only run it as a process.
func verifyctlBinary(t *testing.T) string {
	t.Helper()
	return goBuild(t, "../verifyctl", "verifyctl")
}

// goBuild builds the main package in dir into the test's temporary
// directory, as name.
func goBuild(t *testing.T, dir, name string) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatalf("the go command is needed to build %s: %v", name, err)
	}
	bin := filepath.Join(t.TempDir(), name)
	build := exec.Command(goTool, "build", "-o", bin, dir)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// childEnv is the test's environment without VERIFYD_ variables, which would
// configure a child verifyd behind its flags' back.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VERIFYD_") {
			env = append(env, kv)
		}
	}
	return env
}

// runChild runs bin to completion and returns its stdout. It fails the test
// unless bin exits with status 0.
func runChild(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("verifyd %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// outputBuffer collects what a child process writes; safe to read while it
// runs.
type outputBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *outputBuffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *outputBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// child is a verifyd server process started by a test.
type child struct {
	cmd    *exec.Cmd
	addr   string // host:port from its "listening on ADDR" line
	stdout *outputBuffer
	stderr *outputBuffer
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // what cmd.Wait returned; read after exited
}

// startChild starts bin as a verifyd server with args and returns once it
// answers /healthz. Whatever is still running when the test ends is killed.
func startChild(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	c := launchChild(t, bin, args...)
	c.awaitListening(t)
	return c
}

// startServer starts bin as a verifyd server with args, like startChild, for
// a server that runs until the test ends: it is then sent SIGINT and must
// exit with status 0 within 15s, or the test fails (and it is killed). It
// returns the address the server listens on.
func startServer(t *testing.T, bin string, args ...string) string {
	t.Helper()
	c := launchChild(t, bin, args...)
	t.Cleanup(func() {
		_ = c.cmd.Process.Signal(os.Interrupt)
		if !c.ended(15 * time.Second) {
			_ = c.cmd.Process.Kill()
			<-c.exited
			t.Errorf("verifyd (pid %d) did not stop within 15s of SIGINT; killed", c.cmd.Process.Pid)
			return
		}
		if c.err != nil {
			t.Errorf("verifyd (pid %d) exited with %v; stderr:\n%s", c.cmd.Process.Pid, c.err, c.stderr.String())
		}
	})
	c.awaitListening(t)
	return c.addr
}

// launchChild starts bin with args, collecting its output, and kills it when
// the test ends if it is still running.
func launchChild(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, args...), stdout: &outputBuffer{}, stderr: &outputBuffer{}, exited: make(chan struct{})}
	c.cmd.Env = childEnv()
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	return c
}

// awaitListening waits up to 30s for the first line of stdout, "listening on
// ADDR", sets c.addr, and then waits for the server to answer /healthz.
func (c *child) awaitListening(t *testing.T) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		line, _, complete := strings.Cut(c.stdout.String(), "\n")
		if addr, ok := strings.CutPrefix(line, "listening on "); ok && complete {
			c.addr = addr
			break
		}
		select {
		case <-c.exited:
			t.Fatalf("verifyd exited before listening: %v; stderr:\n%s", c.err, c.stderr.String())
		case <-deadline:
			t.Fatalf("verifyd did not print its address within 30s; stderr:\n%s", c.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	waitHealthy(t, "http://"+c.addr)
}

// ended waits up to d for the process to end and reports whether it did.
func (c *child) ended(d time.Duration) bool {
	select {
	case <-c.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill verifyd: %v", err)
	}
	if !c.ended(10 * time.Second) {
		t.Fatal("verifyd still running 10s after SIGKILL")
	}
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("verifyd ended with %v before the SIGKILL reached it; stderr:\n%s", c.err, c.stderr.String())
	}
}

// stop sends SIGTERM and expects a clean exit within 15s.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal verifyd: %v", err)
	}
	if !c.ended(15 * time.Second) {
		t.Fatal("verifyd did not stop within 15s of SIGTERM")
	}
	if c.err != nil {
		t.Errorf("verifyd exited with %v after SIGTERM, want status 0; stderr:\n%s", c.err, c.stderr.String())
	}
}
