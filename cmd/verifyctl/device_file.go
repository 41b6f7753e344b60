package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/gen/models"
)

// The device commands act as a phone running the Verify Push SDK (package
// device): they read no account credentials, since a phone has none. It
// enrolls with the access token its backend gave it, and afterwards signs
// its own JWTs with the key kept in the device file.

// deviceFlagsUsage documents the flags that every device command shares.
const deviceFlagsUsage = `Output flags:
  -o FORMAT             json (default): the factor as the API returned it,
                        indented on a terminal; table: one "key: value" line
                        per field
`

// printOptions say how a device command prints what it got.
type printOptions struct {
	// Output is "json" or "table".
	Output string
	// Pretty indents JSON output.
	Pretty bool
	// Out receives the output.
	Out io.Writer
}

// newPrintOptions returns the print options of a command, once fs has
// parsed -o into output; -o is checked.
func newPrintOptions(a *app, output string) (printOptions, error) {
	if err := checkOutput(output); err != nil {
		return printOptions{}, err
	}
	return printOptions{Output: output, Pretty: a.isTerminal(a.stdout), Out: a.stdout}, nil
}

// checkDeviceFile checks the value of --device.
func checkDeviceFile(path string) error {
	if path == "" {
		return usageErrorf("--device: missing; want the file that holds the simulated device")
	}
	return nil
}

// checkBaseURL checks a base URL given as setting (a flag, or a flag and
// its variable), with the rule that the other commands apply.
func checkBaseURL(setting, u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" ||
		p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		return usageErrorf("%s: want an absolute http or https URL without user, query or fragment", setting)
	}
	return nil
}

// flagGiven reports whether fs saw the flag name on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// loadDevice reads the device that path holds; opts apply over its saved
// settings, as in device.Load.
func loadDevice(path string, opts ...device.Option) (*device.Device, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--device: %w", err)
	}
	d, err := device.Load(b, opts...)
	if err != nil {
		return nil, fmt.Errorf("--device %s: %w", path, err)
	}
	return d, nil
}

// maxResponse bounds the response bodies a recorder reads: more than the
// device reads, so that the device still sees a body it finds too long.
const maxResponse = 2 << 20

// recorder is the HTTP client of a device command. It keeps the body of
// the last 2xx response, so that -o json prints the factor exactly as the
// API returned it, as the other commands print their resources; the device
// itself keeps only what the SDKs keep.
type recorder struct {
	doer device.Doer
	last []byte
}

var _ device.Doer = (*recorder)(nil)

// newRecorder returns a recorder over the HTTP client a device would make
// itself.
func newRecorder() *recorder {
	return &recorder{doer: &http.Client{Timeout: device.DefaultTimeout}}
}

// Do sends req, reads the response body and hands it on to the caller.
func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.doer.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r.last = body
	}
	return resp, nil
}

// errNoResponse reports a success without a recorded response body, which
// the device does not allow; it would be a bug here.
var errNoResponse = errors.New("no response body to print")

// printFactor writes a factor, received as raw, in the format of o.
func (o printOptions) printFactor(raw []byte) error {
	if len(raw) == 0 {
		return errNoResponse
	}
	if o.Output == "json" {
		return printJSON(o.Out, raw, o.Pretty)
	}
	var f models.Factor
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("decode factor: %w", err)
	}
	return printTable(o.Out, factorFields(&f))
}

// factorFields returns the table of a factor, in the order of the resource
// in the spec, its config flattened.
func factorFields(f *models.Factor) []field {
	var platform string
	if p := f.Config.NotificationPlatform; p != nil {
		platform = string(*p)
	}
	var metadata string
	if f.Metadata != nil {
		b, err := json.Marshal(*f.Metadata)
		if err == nil {
			metadata = string(b)
		}
	}
	return []field{
		{"sid", deref(f.SID)},
		{"account_sid", deref(f.AccountSID)},
		{"service_sid", deref(f.ServiceSID)},
		{"entity_sid", deref(f.EntitySID)},
		{"identity", deref(f.Identity)},
		{"date_created", formatTime(f.DateCreated)},
		{"date_updated", formatTime(f.DateUpdated)},
		{"friendly_name", deref(f.FriendlyName)},
		{"status", string(f.Status)},
		{"factor_type", string(f.FactorType)},
		{"config.credential_sid", f.Config.CredentialSID},
		{"config.notification_platform", platform},
		{"config.notification_token", deref(f.Config.NotificationToken)},
		{"config.app_id", deref(f.Config.AppID)},
		{"config.sdk_version", deref(f.Config.SdkVersion)},
		{"metadata", metadata},
		{"url", deref(f.URL)},
	}
}
