package main

import (
	"context"
	"fmt"

	"github.com/verifykit/verifykit/device"
)

// verifyUsage is the --help of device verify.
const verifyUsage = `Verify the factor of a simulated phone (operation UpdateFactor): prove that
the device holds the factor's key by signing the factor SID with it, as the
Verify SDK does after enrolling. The request authenticates with a device
JWT signed by that key. FILE is saved again afterwards, since the device
may have corrected its clock from the server's Date.

Usage:
  verifyctl device verify --device FILE [flags]

Flags:
  --device FILE         the device, as 'device enroll' saved it (required)
  --base-url URL        send requests here instead of the base URL saved in
                        FILE, and save this one; VERIFYKIT_BASE_URL is not read

` + deviceFlagsUsage + `
Example:
  verifyctl device verify --device phone.json -o table
`

// verifyOptions are the inputs of device verify, parsed and checked.
type verifyOptions struct {
	printOptions
	// File is the device file to read and write.
	File string
	// BaseURL replaces the saved base URL; empty keeps it.
	BaseURL string
}

// runVerify is the command device verify.
func runVerify(ctx context.Context, a *app, args []string) error {
	opts, err := parseVerify(a, args)
	if err != nil {
		return err
	}
	return verifyRun(ctx, opts)
}

// parseVerify parses and checks the arguments of device verify.
func parseVerify(a *app, args []string) (*verifyOptions, error) {
	fs := newFlagSet("device verify")
	opts := &verifyOptions{}
	var output string
	fs.StringVar(&opts.File, "device", "", "")
	fs.StringVar(&opts.BaseURL, "base-url", "", "")
	registerOutput(fs, &output)
	positional, err := parseArgs(fs, args, a.stdout, verifyUsage)
	if err != nil {
		return nil, err
	}
	if err := noArgs(positional); err != nil {
		return nil, err
	}
	if err := checkDeviceFile(opts.File); err != nil {
		return nil, err
	}
	// The file says where its factor lives; only an explicit flag says
	// otherwise, not a variable that was set for other commands.
	if flagGiven(fs, "base-url") {
		if err := checkBaseURL("--base-url", opts.BaseURL); err != nil {
			return nil, err
		}
	}
	if opts.printOptions, err = newPrintOptions(a, output); err != nil {
		return nil, err
	}
	return opts, nil
}

// verifyRun loads the device, verifies its factor, saves the device and
// prints the factor.
func verifyRun(ctx context.Context, opts *verifyOptions) error {
	rec := newRecorder()
	deviceOpts := []device.Option{device.WithHTTPClient(rec)}
	if opts.BaseURL != "" {
		deviceOpts = append(deviceOpts, device.WithBaseURL(opts.BaseURL))
	}
	d, err := loadDevice(opts.File, deviceOpts...)
	if err != nil {
		return err
	}
	offset := d.ClockOffset()
	if _, err := d.Verify(ctx); err != nil {
		// Keep a corrected clock even so, as the SDKs keep theirs.
		if d.ClockOffset() != offset {
			if serr := d.Save(opts.File); serr != nil {
				return fmt.Errorf("%w (and saving the device failed: %w)", err, serr)
			}
		}
		return err
	}
	if err := d.Save(opts.File); err != nil {
		return fmt.Errorf("factor verified, but the device was not saved: %w", err)
	}
	return opts.printFactor(rec.last)
}
