package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/verify"
)

// enrollUsage is the --help of device enroll.
const enrollUsage = `Enroll a simulated phone (operation CreateNewFactor): make a device with a
fresh P-256 key and create its push factor with the access token that the
backend created for it ('verifyctl access-tokens create'), sending the
requests the Android or iOS Verify SDK sends. The device, its private key
included, is saved to FILE with mode 0600, for 'device verify' and
'device show'. The factor starts unverified.

Usage:
  verifyctl device enroll --device FILE --service SID --identity ID --token - [flags]
  verifyctl device enroll --device FILE --service SID --identity ID --token TOKEN [flags]

Flags:
  --device FILE         where to save the device (required); an existing file
                        is replaced only with --force
  --force               replace FILE if it exists
  --service SID         the Verify service: VA followed by 32 hex digits (required)
  --identity ID         the entity the access token was created for (required)
  --token TOKEN         the access token (required), or - to read it from stdin.
                        A token on the command line shows up in ps output and
                        shell history; prefer -
  --flavor FLAVOR       the SDK whose requests the device sends: android (the
                        default) or ios
  --friendly-name NAME  the factor's name, up to 64 characters; "verifykit
                        device" when left out
  --platform PLATFORM   how the phone receives pushes: none, fcm or apn; none
                        without --push-token, and the flavor's own (fcm on
                        android, apn on ios) with it
  --push-token TOKEN    the phone's FCM or APNs registration token; not with
                        --platform none
  --base-url URL        send requests here; saved in FILE for the other
                        device commands. Default: VERIFYKIT_BASE_URL, else
                        https://verify.twilio.com, the SDKs' built-in URL

` + deviceFlagsUsage + `
No account credentials are read: the access token is the phone's only
credential until it enrolls, and it enrolls once.

Example:
  verifyctl access-tokens create --service VA… --identity user-0001 | jq -r .token |
    verifyctl device enroll --device phone.json --service VA… --identity user-0001 --token -
`

// enrollOptions are the inputs of device enroll, parsed and checked.
type enrollOptions struct {
	printOptions
	// File is the device file to write.
	File string
	// Force allows File to be replaced.
	Force bool
	// ServiceSID and Identity say where the factor is created.
	ServiceSID string
	Identity   string
	// Token is the access token, or "-" to read it from In.
	Token string
	// In is stdin.
	In io.Reader
	// BaseURL is where the device sends its requests.
	BaseURL string
	// Flavor is the SDK the device reproduces.
	Flavor device.Flavor
	// FriendlyName is the factor's name; empty for the device's default.
	FriendlyName string
	// Platform and PushToken are the push configuration, as
	// device.WithPushToken takes them.
	Platform  string
	PushToken string
}

// runEnroll is the command device enroll.
func runEnroll(ctx context.Context, a *app, args []string) error {
	opts, err := parseEnroll(a, args)
	if err != nil {
		return err
	}
	return enrollRun(ctx, opts)
}

// parseEnroll parses and checks the arguments of device enroll.
func parseEnroll(a *app, args []string) (*enrollOptions, error) {
	fs := newFlagSet("device enroll")
	opts := &enrollOptions{In: a.stdin}
	var flavor, output string
	fs.StringVar(&opts.File, "device", "", "")
	fs.BoolVar(&opts.Force, "force", false, "")
	fs.StringVar(&opts.ServiceSID, "service", "", "")
	fs.StringVar(&opts.Identity, "identity", "", "")
	fs.StringVar(&opts.Token, "token", "", "")
	fs.StringVar(&flavor, "flavor", string(device.Android), "")
	fs.StringVar(&opts.FriendlyName, "friendly-name", "", "")
	fs.StringVar(&opts.Platform, "platform", "", "")
	fs.StringVar(&opts.PushToken, "push-token", "", "")
	fs.StringVar(&opts.BaseURL, "base-url", "", "")
	registerOutput(fs, &output)
	positional, err := parseArgs(fs, args, a.stdout, enrollUsage)
	if err != nil {
		return nil, err
	}
	if err := noArgs(positional); err != nil {
		return nil, err
	}
	if err := checkDeviceFile(opts.File); err != nil {
		return nil, err
	}
	if err := checkServiceSID(opts.ServiceSID); err != nil {
		return nil, err
	}
	switch {
	case opts.Identity == "":
		return nil, usageErrorf("--identity: missing; want the entity the access token was created for")
	case !validIdentity(opts.Identity):
		return nil, usageErrorf("--identity: want 8 to 64 letters and digits, with single dashes between them")
	case opts.Token == "":
		return nil, usageErrorf("--token: missing; give the access token, or - to read it from stdin")
	}
	opts.Flavor = device.Flavor(flavor)
	if opts.Flavor != device.Android && opts.Flavor != device.IOS {
		return nil, usageErrorf("--flavor: want android or ios")
	}
	if n := opts.FriendlyName; utf8.RuneCountInString(n) > 64 || strings.ContainsFunc(n, unicode.IsControl) {
		return nil, usageErrorf("--friendly-name: want at most 64 characters, none of them control characters")
	}
	switch opts.Platform {
	case "", device.PlatformNone, device.PlatformFCM, device.PlatformAPN:
	default:
		return nil, usageErrorf("--platform: want none, fcm or apn")
	}
	switch {
	case opts.Platform == device.PlatformNone && opts.PushToken != "":
		return nil, usageErrorf("--push-token: not sent with --platform none")
	case (opts.Platform == device.PlatformFCM || opts.Platform == device.PlatformAPN) && opts.PushToken == "":
		return nil, usageErrorf("--push-token: missing; --platform %s wants the phone's registration token", opts.Platform)
	case len(opts.PushToken) > 255:
		return nil, usageErrorf("--push-token: want at most 255 bytes")
	}
	// A flag beats the environment, and the environment the SDKs' URL.
	setting := "--base-url"
	if !flagGiven(fs, "base-url") {
		setting = "--base-url (or " + verify.EnvBaseURL + ")"
		opts.BaseURL = a.getenv(verify.EnvBaseURL)
		if opts.BaseURL == "" {
			opts.BaseURL = device.DefaultBaseURL
		}
	}
	if err := checkBaseURL(setting, opts.BaseURL); err != nil {
		return nil, err
	}
	if opts.printOptions, err = newPrintOptions(a, output); err != nil {
		return nil, err
	}
	return opts, nil
}

// enrollRun checks that the device file can be written, enrolls a new
// device, saves it and prints its factor.
func enrollRun(ctx context.Context, opts *enrollOptions) error {
	// Check before enrolling: the token enrolls once, and a factor whose
	// key is lost is of no use.
	if err := checkWritable(opts.File, opts.Force); err != nil {
		return err
	}
	accessToken := opts.Token
	if accessToken == "-" {
		b, err := io.ReadAll(io.LimitReader(opts.In, token.MaxLen+1))
		if err != nil {
			return fmt.Errorf("read access token from stdin: %w", err)
		}
		if accessToken = strings.TrimSpace(string(b)); accessToken == "" {
			return errors.New("--token -: stdin held no access token")
		}
	}
	rec := newRecorder()
	deviceOpts := []device.Option{
		device.WithBaseURL(opts.BaseURL),
		device.WithFlavor(opts.Flavor),
		device.WithHTTPClient(rec),
		device.WithPushToken(opts.Platform, opts.PushToken),
	}
	if opts.FriendlyName != "" {
		deviceOpts = append(deviceOpts, device.WithFriendlyName(opts.FriendlyName))
	}
	d, err := device.New(deviceOpts...)
	if err != nil {
		return err
	}
	f, err := d.Enroll(ctx, opts.ServiceSID, opts.Identity, accessToken)
	if err != nil {
		return err
	}
	if err := d.Save(opts.File); err != nil {
		return fmt.Errorf("factor %s is enrolled, but its device is lost: %w", f.SID, err)
	}
	return opts.printFactor(rec.last)
}

// checkWritable fails unless a device can be saved to path: its directory
// exists, and path does not, or force allows replacing the regular file
// that it is.
func checkWritable(path string, force bool) error {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("--device %s: not a regular file", path)
	case err == nil && !force:
		return fmt.Errorf("--device %s: the file exists; give --force to replace it", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--device: %w", err)
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("--device: %w", err)
	}
	if !dir.IsDir() {
		return fmt.Errorf("--device %s: %s is not a directory", path, filepath.Dir(path))
	}
	return nil
}
