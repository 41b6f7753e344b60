package main

import (
	"context"
	"strconv"
	"unicode/utf8"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/verify"
)

// createUsage is the --help of access-tokens create.
const createUsage = `Create an access token for an entity of a Verify service (operation
CreateAccessToken). The entity's app presents the token to enroll a push factor.

Usage:
  verifyctl access-tokens create --service SID --identity ID [flags]

Flags:
  --service SID         the Verify service: VA followed by 32 hex digits (required)
  --identity ID         the entity's external id, never PII: 8 to 64 letters and
                        digits, with single dashes between them (required)
  --factor-type TYPE    the kind of factor the token enrolls: push (the default)
  --friendly-name NAME  a name for the factor, such as the device's; up to 64
                        characters; left out when empty
  --ttl SECONDS         the token's lifetime, 60 to 300; the server's default
                        (60) when left out

` + globalFlagsUsage + `
Example:
  export TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=…
  verifyctl access-tokens create --service VA… --identity ff483d1ff591898a9942916050d2ca3f
`

// createOptions are the inputs of access-tokens create, parsed and checked.
type createOptions struct {
	apiOptions
	ServiceSID string
	Params     verify.CreateParams
}

// runCreate is the command access-tokens create.
func runCreate(ctx context.Context, a *app, args []string) error {
	opts, err := parseCreate(a, args)
	if err != nil {
		return err
	}
	return createRun(ctx, opts)
}

// parseCreate parses and checks the arguments of access-tokens create.
func parseCreate(a *app, args []string) (*createOptions, error) {
	fs := newFlagSet("access-tokens create")
	var g globalOptions
	g.register(fs)
	var service, identity, factorType, friendlyName, ttl string
	fs.StringVar(&service, "service", "", "")
	fs.StringVar(&identity, "identity", "", "")
	fs.StringVar(&factorType, "factor-type", string(models.Push), "")
	fs.StringVar(&friendlyName, "friendly-name", "", "")
	fs.StringVar(&ttl, "ttl", "", "")
	positional, err := parseArgs(fs, args, a.stdout, createUsage)
	if err != nil {
		return nil, err
	}
	if err := noArgs(positional); err != nil {
		return nil, err
	}
	if err := checkServiceSID(service); err != nil {
		return nil, err
	}
	opts := &createOptions{
		ServiceSID: service,
		Params: verify.CreateParams{
			Identity:           identity,
			FactorType:         models.FactorType(factorType),
			FactorFriendlyName: friendlyName,
		},
	}
	switch {
	case identity == "":
		return nil, usageErrorf("--identity: missing; want the entity's external id, 8 to 64 letters and digits with single dashes between them")
	case !validIdentity(identity):
		return nil, usageErrorf("--identity: want 8 to 64 letters and digits, with single dashes between them")
	case !opts.Params.FactorType.Valid():
		return nil, usageErrorf("--factor-type: want push")
	case utf8.RuneCountInString(friendlyName) > 64:
		return nil, usageErrorf("--friendly-name: want at most 64 characters")
	}
	if ttl != "" {
		n, err := strconv.Atoi(ttl)
		if err != nil || n < 60 || n > 300 {
			return nil, usageErrorf("--ttl: want whole seconds from 60 to 300")
		}
		opts.Params.TTL = n
	}
	if opts.apiOptions, err = g.api(fs, a); err != nil {
		return nil, err
	}
	return opts, nil
}

// createRun creates the access token and prints it.
func createRun(ctx context.Context, opts *createOptions) error {
	return opts.printResource(func(c *verify.Client) ([]byte, error) {
		return c.CreateAccessTokenRaw(ctx, opts.ServiceSID, opts.Params)
	})
}

// checkServiceSID checks the value of --service.
func checkServiceSID(s string) error {
	switch {
	case s == "":
		return usageErrorf("--service: missing; want VA followed by 32 hex digits")
	case !sid.Valid(sid.Service, s):
		return usageErrorf("--service: want VA followed by 32 hex digits")
	}
	return nil
}

// validIdentity reports whether s is an identity the contract accepts: 8 to
// 64 ASCII letters and digits, with single dashes between them.
func validIdentity(s string) bool {
	if len(s) < 8 || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}
