package main

import (
	"context"

	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/verify"
)

// fetchUsage is the --help of access-tokens fetch.
const fetchUsage = `Fetch an access token of a Verify service (operation FetchAccessToken), with
the same token string it was created with.

Usage:
  verifyctl access-tokens fetch --service SID --sid SID [flags]

Flags:
  --service SID         the Verify service: VA followed by 32 hex digits (required)
  --sid SID             the access token: YK followed by 32 hex digits (required)

` + globalFlagsUsage + `
Example:
  verifyctl access-tokens fetch --service VA… --sid YK… -o table
`

// fetchOptions are the inputs of access-tokens fetch, parsed and checked.
type fetchOptions struct {
	apiOptions
	ServiceSID string
	SID        string
}

// runFetch is the command access-tokens fetch.
func runFetch(ctx context.Context, a *app, args []string) error {
	opts, err := parseFetch(a, args)
	if err != nil {
		return err
	}
	return fetchRun(ctx, opts)
}

// parseFetch parses and checks the arguments of access-tokens fetch.
func parseFetch(a *app, args []string) (*fetchOptions, error) {
	fs := newFlagSet("access-tokens fetch")
	var g globalOptions
	g.register(fs)
	var service, tokenSID string
	fs.StringVar(&service, "service", "", "")
	fs.StringVar(&tokenSID, "sid", "", "")
	positional, err := parseArgs(fs, args, a.stdout, fetchUsage)
	if err != nil {
		return nil, err
	}
	if err := noArgs(positional); err != nil {
		return nil, err
	}
	if err := checkServiceSID(service); err != nil {
		return nil, err
	}
	switch {
	case tokenSID == "":
		return nil, usageErrorf("--sid: missing; want YK followed by 32 hex digits")
	case !sid.Valid(sid.AccessToken, tokenSID):
		return nil, usageErrorf("--sid: want YK followed by 32 hex digits")
	}
	api, err := g.api(fs, a)
	if err != nil {
		return nil, err
	}
	return &fetchOptions{apiOptions: api, ServiceSID: service, SID: tokenSID}, nil
}

// fetchRun fetches the access token and prints it.
func fetchRun(ctx context.Context, opts *fetchOptions) error {
	return opts.printResource(func(c *verify.Client) ([]byte, error) {
		return c.FetchAccessTokenRaw(ctx, opts.ServiceSID, opts.SID)
	})
}
