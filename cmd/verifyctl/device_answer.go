package main

import (
	"context"
	"strings"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/internal/sid"
)

// answerUsage returns the --help of device approve or deny: verb is the
// command, status the status it answers.
func answerUsage(verb, status string) string {
	return strings.NewReplacer("VERB", verb, "STATUS", status).Replace(`Answer a challenge as the simulated phone, with status STATUS (operation
UpdateChallenge), exactly as the Verify SDK does: fetch the challenge; refuse,
without sending more, one that is expired, answered already, of another
factor, or fetched without a Twilio-Verify-Signature-Fields header; sign the
JSON values of the properties that header lists, as fetched, with
"status":"STATUS", using the factor's key (a JWS, ES256); post the JWS as
AuthPayload; then fetch the challenge again and fail unless its status is
STATUS. Each request authenticates with a device JWT. FILE is saved again
afterwards, since the device may have corrected its clock from the server's
Date.

Usage:
  verifyctl device VERB --device FILE --challenge SID [flags]

Flags:
  --device FILE         the device, as 'device enroll' saved it (required)
  --challenge SID       the challenge: YC followed by 32 hex digits (required)
  --base-url URL        send requests here instead of the base URL saved in
                        FILE, and save this one; VERIFYKIT_BASE_URL is not read

Output flags:
  -o FORMAT             json (default): the challenge as the API returned it
                        when fetched last, indented on a terminal; table: one
                        "key: value" line per field

Example:
  verifyctl device challenges --device phone.json --status pending -o table
  verifyctl device VERB --device phone.json --challenge YC…
`)
}

// The --help of device approve and device deny.
var (
	approveUsage = answerUsage("approve", device.ChallengeApproved)
	denyUsage    = answerUsage("deny", device.ChallengeDenied)
)

// answerOptions are the inputs of device approve and device deny, parsed
// and checked.
type answerOptions struct {
	printOptions
	// File is the device file to read and write.
	File string
	// BaseURL replaces the saved base URL; empty keeps it.
	BaseURL string
	// ChallengeSID is the challenge to answer.
	ChallengeSID string
	// Status is the answer: approved or denied.
	Status string
}

// runApprove is the command device approve.
func runApprove(ctx context.Context, a *app, args []string) error {
	opts, err := parseAnswer(a, args, "approve", device.ChallengeApproved, approveUsage)
	if err != nil {
		return err
	}
	return answerRun(ctx, opts)
}

// runDeny is the command device deny.
func runDeny(ctx context.Context, a *app, args []string) error {
	opts, err := parseAnswer(a, args, "deny", device.ChallengeDenied, denyUsage)
	if err != nil {
		return err
	}
	return answerRun(ctx, opts)
}

// parseAnswer parses and checks the arguments of device verb, which
// answers with status.
func parseAnswer(a *app, args []string, verb, status, usage string) (*answerOptions, error) {
	fs := newFlagSet("device " + verb)
	opts := &answerOptions{Status: status}
	var output string
	fs.StringVar(&opts.File, "device", "", "")
	fs.StringVar(&opts.BaseURL, "base-url", "", "")
	fs.StringVar(&opts.ChallengeSID, "challenge", "", "")
	registerOutput(fs, &output)
	positional, err := parseArgs(fs, args, a.stdout, usage)
	if err != nil {
		return nil, err
	}
	if err := noArgs(positional); err != nil {
		return nil, err
	}
	if err := checkDeviceFile(opts.File); err != nil {
		return nil, err
	}
	switch {
	case opts.ChallengeSID == "":
		return nil, usageErrorf("--challenge: missing; want YC followed by 32 hex digits")
	case !sid.Valid(sid.Challenge, opts.ChallengeSID):
		return nil, usageErrorf("--challenge: want YC followed by 32 hex digits")
	}
	if err := checkDeviceBaseURL(fs, opts.BaseURL); err != nil {
		return nil, err
	}
	if opts.printOptions, err = newPrintOptions(a, output); err != nil {
		return nil, err
	}
	return opts, nil
}

// answerRun loads the device, answers the challenge, saves the device and
// prints the challenge as fetched last.
func answerRun(ctx context.Context, opts *answerOptions) error {
	d, err := loadDeviceAt(opts.File, opts.BaseURL)
	if err != nil {
		return err
	}
	answer, done := d.Approve, "challenge approved"
	if opts.Status == device.ChallengeDenied {
		answer, done = d.Deny, "challenge denied"
	}
	offset := d.ClockOffset()
	c, err := answer(ctx, opts.ChallengeSID)
	if err = saveAfter(d, opts.File, offset, err, done); err != nil {
		return err
	}
	return opts.printChallenge(c.Raw)
}
