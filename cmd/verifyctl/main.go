// Command verifyctl is the command-line client of the Twilio Verify v2
// Access Tokens API, for Twilio itself and for verifyd alike. It creates and
// fetches access tokens, and inspects the tokens themselves. Its device
// commands act as a phone running the Verify Push SDK (package device):
// they enroll a push factor with an access token and verify it, then list,
// approve and deny its challenges, keeping the phone's key in a file
// between runs.
//
// Run `verifyctl help` for the commands, `verifyctl help exit-codes` for the
// exit statuses, and `verifyctl help environment` for the environment
// variables it reads.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/verifykit/verifykit/verify"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run runs verifyctl with everything it would otherwise take from the
// process, and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, isTerminal: isTerminal}
	return a.main(ctx, args)
}

// app is one run of verifyctl: its environment and streams.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// isTerminal reports whether w is a terminal; JSON is indented for
	// terminals only. Tests replace it.
	isTerminal func(w io.Writer) bool
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// main dispatches args (with the program name first) and turns the outcome
// into an exit status, printing a failure as one line on stderr.
func (a *app) main(ctx context.Context, args []string) int {
	if len(args) > 0 {
		args = args[1:]
	}
	code, line := describe(a.dispatch(ctx, args))
	if line != "" {
		fmt.Fprintf(a.stderr, "verifyctl: %s\n", line)
	}
	return code
}

// command is a leaf command of verifyctl.
type command struct {
	// path is the words that select it, such as "access-tokens create".
	path string
	// summary is its line in the root usage.
	summary string
	// usage is its --help text.
	usage string
	// run parses the arguments after path and does the work.
	run func(ctx context.Context, a *app, args []string) error
}

// commands returns the leaf commands, in the order the usage lists them.
func commands() []command {
	return []command{
		{"access-tokens create", "Create an access token", createUsage, runCreate},
		{"access-tokens fetch", "Fetch an access token", fetchUsage, runFetch},
		{"token inspect", "Show an access token's header, and its claims given the key", inspectUsage, runInspect},
		{"device enroll", "Enroll a simulated phone with an access token", enrollUsage, runEnroll},
		{"device verify", "Verify a simulated phone's push factor", verifyUsage, runVerify},
		{"device show", "Show a device file, without its private key", showUsage, runShow},
		{"device challenges", "List the challenges of a simulated phone's factor", challengesUsage, runChallenges},
		{"device approve", "Approve a challenge as a simulated phone", approveUsage, runApprove},
		{"device deny", "Deny a challenge as a simulated phone", denyUsage, runDeny},
		{"webhooks listen", "Receive webhook deliveries, check their signatures and print them", listenUsage, runListen},
	}
}

// dispatch finds the command that args name and runs it.
func (a *app) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErrorf("missing command; run 'verifyctl help' for usage")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		return a.help(nil)
	case "help":
		return a.help(args[1:])
	case "version":
		if len(args) > 1 && !isHelpFlag(args[1]) {
			return usageErrorf("version: unexpected argument %q", args[1])
		}
		fmt.Fprintf(a.stdout, "verifyctl %s\n", verify.Version)
		return nil
	}
	group := args[0]
	var sub []command
	for _, c := range commands() {
		if g, _, _ := strings.Cut(c.path, " "); g == group {
			sub = append(sub, c)
		}
	}
	if len(sub) == 0 {
		return usageErrorf("unknown command %q; run 'verifyctl help' for usage", group)
	}
	if len(args) < 2 {
		return usageErrorf("%s: missing subcommand; run 'verifyctl %s --help' for usage", group, group)
	}
	if isHelpFlag(args[1]) {
		fmt.Fprint(a.stdout, groupUsage(group, sub))
		return nil
	}
	for _, c := range sub {
		if c.path == group+" "+args[1] {
			return c.run(ctx, a, args[2:])
		}
	}
	return usageErrorf("%s: unknown subcommand %q; run 'verifyctl %s --help' for usage", group, args[1], group)
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// help prints the usage of the command or topic that topic names, or the
// root usage when it names nothing, to stdout.
func (a *app) help(topic []string) error {
	t := strings.Join(topic, " ")
	switch t {
	case "":
		fmt.Fprint(a.stdout, rootUsage())
		return nil
	case "exit-codes":
		fmt.Fprint(a.stdout, exitCodesHelp)
		return nil
	case "environment":
		fmt.Fprint(a.stdout, environmentHelp)
		return nil
	}
	var sub []command
	for _, c := range commands() {
		if c.path == t {
			fmt.Fprint(a.stdout, c.usage)
			return nil
		}
		if g, _, _ := strings.Cut(c.path, " "); g == t {
			sub = append(sub, c)
		}
	}
	if len(sub) > 0 {
		fmt.Fprint(a.stdout, groupUsage(t, sub))
		return nil
	}
	return usageErrorf("help: unknown command or topic %q; run 'verifyctl help' for the list", t)
}

// rootUsage returns the usage of verifyctl itself.
func rootUsage() string {
	var b strings.Builder
	b.WriteString(`verifyctl is a command-line client for the Twilio Verify v2 Access Tokens API,
as served by Twilio or by verifyd. Its device commands act as a phone running
the Verify Push SDK, to enroll and verify push factors and to answer their
challenges without a phone.

Usage:
  verifyctl <command> [flags]

Commands:
`)
	row := func(name, summary string) { fmt.Fprintf(&b, "  %-24s %s\n", name, summary) }
	for _, c := range commands() {
		row(c.path, c.summary)
	}
	row("help [command | topic]", "Show the usage of a command, or a help topic")
	row("version", "Print verifyctl's version")
	b.WriteString("\nHelp topics:\n")
	row("environment", "The environment variables verifyctl reads")
	row("exit-codes", "What verifyctl's exit status means")
	b.WriteString(`
Run 'verifyctl <command> --help' for the flags of a command. Usage goes to
stdout with exit status 0; errors go to stderr, one line each, with exit
status 1 to 4 (see 'verifyctl help exit-codes').
`)
	return b.String()
}

// groupUsage returns the usage of a command group such as access-tokens.
func groupUsage(group string, sub []command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  verifyctl %s <subcommand> [flags]\n\nSubcommands:\n", group)
	for _, c := range sub {
		_, name, _ := strings.Cut(c.path, " ")
		fmt.Fprintf(&b, "  %-10s %s\n", name, c.summary)
	}
	fmt.Fprintf(&b, "\nRun 'verifyctl %s <subcommand> --help' for its flags.\n", group)
	return b.String()
}

// environmentHelp is the help topic "environment".
const environmentHelp = `verifyctl reads these environment variables. A flag given on the command line
wins over its variable.

  TWILIO_ACCOUNT_SID     the account SID, AC followed by 32 hex digits  --account-sid
  TWILIO_AUTH_TOKEN      the account's auth token                       --auth-token
  TWILIO_API_KEY         an API key SID, SK followed by 32 hex digits   --api-key
  TWILIO_API_SECRET      the API key's secret                           --api-secret
  VERIFYKIT_BASE_URL     the base URL of a verifyd, instead of Twilio   --base-url
  TWILIO_EDGE            a Twilio edge location, such as sydney         --edge
  TWILIO_REGION          a Twilio region, such as au1                   --region
  VERIFYKIT_TOKEN_KEYS   the keys token inspect decrypts with (JSON)    --key

Credentials are an account SID with its auth token, or an account SID with
an API key and its secret; when both are set, the API key is used. When any of
--auth-token, --api-key and --api-secret is given, the credentials in the
environment are ignored and the flags alone say which kind is used.

VERIFYKIT_TOKEN_KEYS holds what a key file holds (see 'verifyctl token inspect
--help'), such as the output of 'verifyd admin keys export'; with --key, the
file is read instead.

The device commands read no credentials: a simulated phone has none but
the access token it enrolls with (--token, or - for stdin) and then its own
key, which signs its requests. device enroll reads VERIFYKIT_BASE_URL (or
--base-url; else https://verify.twilio.com, the SDKs' built-in URL) and
saves the base URL in the device file; device verify, challenges, approve and
deny use the saved one, and read no variable: only their --base-url replaces
it. TWILIO_EDGE and TWILIO_REGION do not apply to them, as the SDKs have one
URL built in.

Prefer the environment for secrets: command-line arguments show up in ps
output and in shell history.

The endpoint is the base URL when one is set. Otherwise it is
https://verify.twilio.com, or https://verify.{edge}.{region}.twilio.com with
an edge or region: an edge alone gets region us1, and a region alone gets
Twilio's documented edge for it (au1 sydney, br1 sao-paulo, de1 frankfurt,
ie1 dublin, jp1 tokyo, jp2 osaka, sg1 singapore, us1 ashburn, us2 umatilla).
`
