package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
)

// pinning says where verifybench, its load generators and the servers
// run. With pinned cores the servers share core 1 (one at a time, with
// GOMAXPROCS=1) and the load generator has core 0 to itself, so a
// server's CPU per request is not mixed with the generator's.
type pinning struct {
	on     bool
	reason string // why pinning is off, printed
}

// decidePinning turns -pin (on, off, auto) into a pinning.
func decidePinning(mode string) (pinning, error) {
	_, errTaskset := exec.LookPath("taskset")
	switch mode {
	case "off":
		return pinning{reason: "-pin off"}, nil
	case "on", "auto":
		switch {
		case errTaskset != nil:
			if mode == "on" {
				return pinning{}, fmt.Errorf("-pin on: taskset is not on PATH: %w", errTaskset)
			}
			return pinning{reason: "taskset is not on PATH"}, nil
		case runtime.NumCPU() < 2:
			if mode == "on" {
				return pinning{}, fmt.Errorf("-pin on: %d core, need 2", runtime.NumCPU())
			}
			return pinning{reason: fmt.Sprintf("%d core only", runtime.NumCPU())}, nil
		}
		return pinning{on: true}, nil
	default:
		return pinning{}, fmt.Errorf("-pin: want on, off or auto, got %q", mode)
	}
}

// String says how the run is pinned, for the heading of the output.
func (p pinning) String() string {
	if p.on {
		return "cores pinned: servers on core 1 with GOMAXPROCS=1 (taskset -c 1), load generators on core 0"
	}
	return "cores NOT pinned (" + p.reason + "): servers and load generator share every core, CPU per request is less steady"
}

// pinSelf moves every thread of this process, the Go load generator, to
// core 0; threads started later inherit it.
func (p pinning) pinSelf(ctx context.Context) error {
	if !p.on {
		return nil
	}
	out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", "0", strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pin verifybench to core 0: %w: %s", err, out)
	}
	return nil
}

// server is the command that runs a server: under taskset -c 1 with
// GOMAXPROCS=1 when pinned. taskset execs the server, so the pid is the
// server's own.
func (p pinning) server(ctx context.Context, name string, args ...string) *exec.Cmd {
	if !p.on {
		return exec.CommandContext(ctx, name, args...)
	}
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", "1", name}, args...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	return cmd
}

// generator is the command that runs an external load generator (wrk):
// on core 0 when pinned.
func (p pinning) generator(ctx context.Context, name string, args ...string) *exec.Cmd {
	if !p.on {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", "0", name}, args...)...)
}
