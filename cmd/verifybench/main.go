// Command verifybench is verifykit's load benchmark. It starts verifyd on a
// temporary data directory, logging as it does by default, and more
// processes that answer every fetch with the body of a verifyd fetch: a
// minimal net/http server (the baseline), the generated echo server with
// nothing of verifyd's around it (the floor of the framework), and the
// peer stacks built from cmd/verifybench/peers (ogen, and echo with
// echo-middleware's OapiRequestValidator). With taskset and two cores, each
// server runs on core 1 with GOMAXPROCS=1 and the load generators on core
// 0. It loads them over loopback in interleaved rounds, with its own Go
// load generator and then with wrk when it is installed, and prints per
// stack the efficiency (the baseline's CPU per request ÷ the stack's),
// CPU per request, req/s, p50 and p99, as medians with min and max; rows
// for verifyd's 404, 401 and challenge fetch too; then a round of durable
// creates, and verifyd's RSS sampled through a mixed load.
//
// Usage:
//
//	go build -o bin/verifyd ./cmd/verifyd
//	go -C cmd/verifybench/peers build -o ../../../bin/ ./peer-ogen ./peer-echo
//	go run ./cmd/verifybench -verifyd bin/verifyd [-rounds 7] [-duration 3s] [-conns 32] [-wrk auto] [-pin auto] [-peers bin] [-memory-duration 60s]
//
// Every request goes to 127.0.0.1; the run ends by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	err := run(context.Background(), os.Args, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "verifybench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 3 && (args[1] == "serve-baseline" || args[1] == "serve-floor") {
		return serveFixed(ctx, args[1] == "serve-floor", args[2], args[3], stdout)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.verifyd, "verifyd", "bin/verifyd", "path of the verifyd binary to load")
	fs.IntVar(&o.rounds, "rounds", 7, "interleaved rounds of baseline and verifyd fetch load")
	fs.DurationVar(&o.duration, "duration", 3e9, "length of each round")
	fs.IntVar(&o.conns, "conns", 32, "concurrent keep-alive connections")
	fs.DurationVar(&o.createDuration, "create-duration", 5e9, "length of the create round (0 skips it)")
	wrk := fs.String("wrk", "auto", "also run the fetch rounds with wrk: on, off, or auto (when wrk is on PATH)")
	fs.DurationVar(&o.memoryDuration, "memory-duration", 60e9, "length of the mixed load during which verifyd's RSS is sampled (0 skips it)")
	pin := fs.String("pin", "auto", "pin the servers to core 1 (GOMAXPROCS=1) and the load generators to core 0 with taskset: on, off, or auto")
	fs.StringVar(&o.peersDir, "peers", "bin", "directory of the peer stacks' binaries (peer-ogen, peer-echo); empty skips them")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var err error
	if o.pin, err = decidePinning(*pin); err != nil {
		return err
	}
	if err := o.pin.pinSelf(ctx); err != nil {
		return err
	}
	if o.rounds < 1 || o.conns < 1 || o.duration <= 0 {
		return errors.New("-rounds, -conns and -duration must be positive")
	}
	switch *wrk {
	case "on":
		o.wrk = true
	case "off":
	case "auto":
		if _, err := exec.LookPath("wrk"); err == nil {
			o.wrk = true
		} else {
			fmt.Fprintln(stdout, "verifybench: wrk is not on PATH; only the Go load generator runs")
		}
	default:
		return fmt.Errorf("-wrk: want on, off or auto, got %q", *wrk)
	}
	return bench(ctx, o, stdout, stderr)
}
