// Command verifyd serves the Twilio Verify v2 Access Tokens API from a
// persistent store: SQLite in its data directory by default, or PostgreSQL.
//
// Usage:
//
//	verifyd [flags]              serve (see -help for the flags)
//	verifyd admin COMMAND ...    manage accounts, API keys, services and token keys
//
// Every flag has an environment twin (VERIFYD_ADDR for -addr, and so on); a
// flag beats the environment, which beats the built-in default.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "verifyd: %v\n", err)
		os.Exit(1)
	}
}

// errUsage marks a command line that could not be parsed; the flag package
// has already printed why.
var errUsage = errors.New("usage error")

// run is the whole program; main only maps its error to an exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "admin" {
		return runAdmin(ctx, args[2:], getenv, stdout, stderr)
	}
	return runServe(ctx, args[1:], getenv, stdout, stderr)
}
