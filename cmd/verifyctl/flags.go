package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/verifykit/verifykit/verify"
)

// globalFlagsUsage documents the flags that globalOptions registers; every
// API command's usage ends with it.
const globalFlagsUsage = `Connection flags (each has an environment variable, which the flag overrides):
  --account-sid SID     the account: AC followed by 32 hex digits    [TWILIO_ACCOUNT_SID]
  --auth-token TOKEN    the account's auth token                     [TWILIO_AUTH_TOKEN]
  --api-key SID         an API key: SK followed by 32 hex digits     [TWILIO_API_KEY]
  --api-secret SECRET   the API key's secret                         [TWILIO_API_SECRET]
  --base-url URL        send requests here instead of Twilio         [VERIFYKIT_BASE_URL]
  --edge EDGE           a Twilio edge location, such as sydney       [TWILIO_EDGE]
  --region REGION       a Twilio region, such as au1                 [TWILIO_REGION]

  Warning: secrets given as flags show up in ps output and shell history;
  prefer the environment variables. See 'verifyctl help environment'.

Output flags:
  -o FORMAT             json (default): the resource as received, indented on a
                        terminal; table: one "key: value" line per field
`

// globalOptions are the connection and output flags of every API command.
type globalOptions struct {
	accountSID, authToken, apiKey, apiSecret string
	baseURL, edge, region                    string
	output                                   string
}

// register defines the flags of g on fs.
func (g *globalOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&g.accountSID, "account-sid", "", "")
	fs.StringVar(&g.authToken, "auth-token", "", "")
	fs.StringVar(&g.apiKey, "api-key", "", "")
	fs.StringVar(&g.apiSecret, "api-secret", "", "")
	fs.StringVar(&g.baseURL, "base-url", "", "")
	fs.StringVar(&g.edge, "edge", "", "")
	fs.StringVar(&g.region, "region", "", "")
	registerOutput(fs, &g.output)
}

// registerOutput defines -o on fs.
func registerOutput(fs *flag.FlagSet, output *string) {
	fs.StringVar(output, "o", "json", "")
}

// checkOutput checks the value of -o.
func checkOutput(output string) error {
	if output != "json" && output != "table" {
		return usageErrorf("-o: want json or table")
	}
	return nil
}

// config merges the flags that fs saw set into the settings of the
// environment: a flag given on the command line wins over its variable.
// When any of --auth-token, --api-key and --api-secret is given, the
// environment's credentials are dropped, so that the flags alone select the
// kind of credentials.
func (g *globalOptions) config(fs *flag.FlagSet, getenv func(string) string) verify.Config {
	cfg := verify.FromEnv(getenv)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["auth-token"] || set["api-key"] || set["api-secret"] {
		cfg.AuthToken, cfg.APIKey, cfg.APISecret = "", "", ""
	}
	for name, dst := range map[string]*string{
		"account-sid": &cfg.AccountSID,
		"auth-token":  &cfg.AuthToken,
		"api-key":     &cfg.APIKey,
		"api-secret":  &cfg.APISecret,
		"base-url":    &cfg.BaseURL,
		"edge":        &cfg.Edge,
		"region":      &cfg.Region,
	} {
		if set[name] {
			*dst = fs.Lookup(name).Value.String()
		}
	}
	return cfg
}

// newFlagSet returns a flag set for the command path that reports errors
// only through Parse.
func newFlagSet(path string) *flag.FlagSet {
	fs := flag.NewFlagSet("verifyctl "+path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses args with fs, allowing flags after the positional
// arguments too, and returns the positional ones. "--" ends the flags. On
// --help it prints usage to stdout and returns errHelpShown.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer, usage string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage)
				return nil, errHelpShown
			}
			msg := flagMessage(err)
			if strings.HasPrefix(msg, "unknown flag") {
				msg += "; run '" + fs.Name() + " --help' for usage"
			}
			return nil, usageErrorf("%s", msg)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagMessage rewrites the flag package's errors to name flags the way the
// usage does: two dashes, but -o.
func flagMessage(err error) string {
	msg := err.Error()
	for _, p := range []struct{ prefix, say string }{
		{"flag provided but not defined: -", "unknown flag "},
		{"flag needs an argument: -", "flag needs a value: "},
	} {
		if name, ok := strings.CutPrefix(msg, p.prefix); ok {
			return p.say + dashed(name)
		}
	}
	// invalid value "x" for flag -ttl: want …
	if _, rest, ok := strings.Cut(msg, " for flag -"); ok && strings.HasPrefix(msg, "invalid value ") {
		name, why, _ := strings.Cut(rest, ": ")
		return dashed(name) + ": " + why
	}
	return msg
}

// dashed returns a flag name as the usage writes it.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// noArgs fails when a command that takes none got positional arguments.
func noArgs(positional []string) error {
	if len(positional) > 0 {
		return usageErrorf("unexpected argument %q; every input is a flag", positional[0])
	}
	return nil
}

// apiOptions are the inputs that every command calling the API shares.
type apiOptions struct {
	// Config says where to send the request and as whom.
	Config verify.Config
	// Output is "json" or "table".
	Output string
	// Pretty indents JSON output.
	Pretty bool
	// Out receives the resource.
	Out io.Writer
}

// api returns the shared inputs of an API command, once fs has parsed its
// arguments; -o is checked.
func (g *globalOptions) api(fs *flag.FlagSet, a *app) (apiOptions, error) {
	if err := checkOutput(g.output); err != nil {
		return apiOptions{}, err
	}
	return apiOptions{Config: g.config(fs, a.getenv), Output: g.output, Pretty: a.isTerminal(a.stdout), Out: a.stdout}, nil
}

// printResource makes one call with a client for o.Config and prints the
// access token it returns.
func (o apiOptions) printResource(call func(*verify.Client) ([]byte, error)) error {
	c, err := verify.NewClient(o.Config)
	if err != nil {
		return err
	}
	raw, err := call(c)
	if err != nil {
		return err
	}
	return printAccessToken(o.Out, raw, o.Output, o.Pretty)
}
