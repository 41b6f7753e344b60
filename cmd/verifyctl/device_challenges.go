package main

import (
	"context"
	"flag"

	"github.com/verifykit/verifykit/device"
)

// challengesUsage is the --help of device challenges.
const challengesUsage = `List the challenges of a simulated phone's factor (operation ListChallenge), as
the Verify SDK lists them: a GET with a device JWT and the factor's SID as
FactorSid, a page at a time, following each page's next_page_url until the
last. FILE is saved again afterwards, since the device may have corrected its
clock from the server's Date.

Usage:
  verifyctl device challenges --device FILE [flags]

Flags:
  --device FILE         the device, as 'device enroll' saved it (required)
  --status STATUS       only the challenges in STATUS: pending, approved,
                        denied or expired
  --order ORDER         asc (oldest first, the default) or desc
  --page-size N         challenges per request, 1 to 1000; 50 when left out
  --limit N             stop after N challenges; 0 (the default) lists all
  --base-url URL        send requests here instead of the base URL saved in
                        FILE, and save this one; VERIFYKIT_BASE_URL is not read

Output flags:
  -o FORMAT             json (default): an array of the challenges as the API
                        returned them, indented on a terminal; table: one
                        "key: value" line per field, a blank line between
                        challenges

The list shows no Twilio-Verify-Signature-Fields: the SDKs answer a challenge
only after fetching it alone ('device approve', 'device deny').

Example:
  verifyctl device challenges --device phone.json --status pending -o table
`

// maxPageSize is the largest PageSize the API takes.
const maxPageSize = 1000

// challengesOptions are the inputs of device challenges, parsed and checked.
type challengesOptions struct {
	printOptions
	// File is the device file to read and write.
	File string
	// BaseURL replaces the saved base URL; empty keeps it.
	BaseURL string
	// Status filters by status; empty lists all.
	Status string
	// Order is asc or desc.
	Order string
	// PageSize is the PageSize of each request.
	PageSize int
	// Limit stops the listing after so many challenges; 0 lists all.
	Limit int
}

// runChallenges is the command device challenges.
func runChallenges(ctx context.Context, a *app, args []string) error {
	opts, err := parseChallenges(a, args)
	if err != nil {
		return err
	}
	return challengesRun(ctx, opts)
}

// parseChallenges parses and checks the arguments of device challenges.
func parseChallenges(a *app, args []string) (*challengesOptions, error) {
	fs := newFlagSet("device challenges")
	opts := &challengesOptions{}
	var output string
	fs.StringVar(&opts.File, "device", "", "")
	fs.StringVar(&opts.BaseURL, "base-url", "", "")
	fs.StringVar(&opts.Status, "status", "", "")
	fs.StringVar(&opts.Order, "order", "asc", "")
	fs.IntVar(&opts.PageSize, "page-size", device.DefaultPageSize, "")
	fs.IntVar(&opts.Limit, "limit", 0, "")
	registerOutput(fs, &output)
	positional, err := parseArgs(fs, args, a.stdout, challengesUsage)
	if err != nil {
		return nil, err
	}
	if err := noArgs(positional); err != nil {
		return nil, err
	}
	if err := checkDeviceFile(opts.File); err != nil {
		return nil, err
	}
	if err := checkDeviceBaseURL(fs, opts.BaseURL); err != nil {
		return nil, err
	}
	switch opts.Status {
	case "", device.ChallengePending, device.ChallengeApproved, device.ChallengeDenied, device.ChallengeExpired:
	default:
		return nil, usageErrorf("--status: want pending, approved, denied or expired")
	}
	switch {
	case opts.Order != "asc" && opts.Order != "desc":
		return nil, usageErrorf("--order: want asc or desc")
	case opts.PageSize < 1 || opts.PageSize > maxPageSize:
		return nil, usageErrorf("--page-size: want 1 to %d", maxPageSize)
	case opts.Limit < 0:
		return nil, usageErrorf("--limit: want 0 (all) or more")
	}
	if opts.printOptions, err = newPrintOptions(a, output); err != nil {
		return nil, err
	}
	return opts, nil
}

// checkDeviceBaseURL checks --base-url of a command that reads a device
// file, if the command line gave it: the file says where its factor lives,
// and only an explicit flag says otherwise, not a variable that was set for
// other commands.
func checkDeviceBaseURL(fs *flag.FlagSet, baseURL string) error {
	if !flagGiven(fs, "base-url") {
		return nil
	}
	return checkBaseURL("--base-url", baseURL)
}

// challengesRun loads the device, lists its factor's challenges, saves the
// device and prints the challenges.
func challengesRun(ctx context.Context, opts *challengesOptions) error {
	d, err := loadDeviceAt(opts.File, opts.BaseURL)
	if err != nil {
		return err
	}
	listOpts := []device.ListOption{device.ListOrder(opts.Order), device.ListPageSize(opts.PageSize), device.ListLimit(opts.Limit)}
	if opts.Status != "" {
		listOpts = append(listOpts, device.ListStatus(opts.Status))
	}
	offset := d.ClockOffset()
	list, err := d.Challenges(ctx, listOpts...)
	if err = saveAfter(d, opts.File, offset, err, "challenges listed"); err != nil {
		return err
	}
	return opts.printChallenges(list)
}
