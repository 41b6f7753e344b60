package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/verifykit/verifykit/device"
)

// showUsage is the --help of device show.
const showUsage = `Show what a device file holds, without sending a request: the SDK flavor,
the base URL, the factor as the device knows it, the clock offset it learned
and its public key. The private key is never shown; it leaves the file only
as the signatures of the device's requests.

Usage:
  verifyctl device show --device FILE [-o FORMAT]

Flags:
  --device FILE         the device, as 'device enroll' saved it (required)
  -o FORMAT             json (default): {"flavor":…,"base_url":…,"factor":{…},…},
                        indented on a terminal; table: one "key: value" line
                        per field, the factor's empty for a device without one

Example:
  verifyctl device show --device phone.json -o table
`

// showOptions are the inputs of device show, parsed and checked.
type showOptions struct {
	printOptions
	// File is the device file to read.
	File string
}

// runShow is the command device show.
func runShow(ctx context.Context, a *app, args []string) error {
	opts, err := parseShow(a, args)
	if err != nil {
		return err
	}
	return showRun(ctx, opts)
}

// parseShow parses and checks the arguments of device show.
func parseShow(a *app, args []string) (*showOptions, error) {
	fs := newFlagSet("device show")
	opts := &showOptions{}
	var output string
	fs.StringVar(&opts.File, "device", "", "")
	registerOutput(fs, &output)
	positional, err := parseArgs(fs, args, a.stdout, showUsage)
	if err != nil {
		return nil, err
	}
	if err := noArgs(positional); err != nil {
		return nil, err
	}
	if err := checkDeviceFile(opts.File); err != nil {
		return nil, err
	}
	if opts.printOptions, err = newPrintOptions(a, output); err != nil {
		return nil, err
	}
	return opts, nil
}

// deviceView is what device show prints as JSON: a device file without
// its private key.
type deviceView struct {
	Flavor  device.Flavor `json:"flavor"`
	BaseURL string        `json:"base_url"`
	// Factor is null for a device that is not enrolled.
	Factor *device.Factor `json:"factor"`
	// ClockOffset is in seconds.
	ClockOffset int64 `json:"clock_offset"`
	// PublicKey is standard Base64 of the DER SubjectPublicKeyInfo, as the
	// device sent it at enrollment.
	PublicKey string `json:"public_key"`
}

// showRun loads the device and prints it without its private key.
func showRun(_ context.Context, opts *showOptions) error {
	d, err := loadDevice(opts.File)
	if err != nil {
		return err
	}
	v := deviceView{
		Flavor:      d.Flavor(),
		BaseURL:     d.BaseURL(),
		ClockOffset: int64(d.ClockOffset().Seconds()),
		PublicKey:   d.PublicKeyBase64(),
	}
	if f, ok := d.Factor(); ok {
		v.Factor = &f
	}
	if opts.Output == "json" {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		return printJSON(opts.Out, raw, opts.Pretty)
	}
	var f device.Factor
	if v.Factor != nil {
		f = *v.Factor
	}
	return printTable(opts.Out, []field{
		{"flavor", string(v.Flavor)},
		{"base_url", v.BaseURL},
		{"factor.sid", f.SID},
		{"factor.service_sid", f.ServiceSID},
		{"factor.identity", f.Identity},
		{"factor.account_sid", f.AccountSID},
		{"factor.credential_sid", f.CredentialSID},
		{"factor.friendly_name", f.FriendlyName},
		{"factor.status", f.Status},
		{"factor.notification_platform", f.NotificationPlatform},
		{"clock_offset", strconv.FormatInt(v.ClockOffset, 10)},
		{"public_key", v.PublicKey},
	})
}
