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
	"strconv"
	"strings"
	"time"

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

// loadDeviceAt reads the device that path holds, sending its requests to
// baseURL instead of the saved base URL when baseURL is set.
func loadDeviceAt(path, baseURL string) (*device.Device, error) {
	var opts []device.Option
	if baseURL != "" {
		opts = append(opts, device.WithBaseURL(baseURL))
	}
	return loadDevice(path, opts...)
}

// saveAfter saves the device to path after a command's requests ended
// with err: always after a success (done says what succeeded), and after a
// failure only when the device corrected its clock meanwhile (offset is
// the one it had before), as the SDKs keep theirs. It returns err, or the
// saving's failure.
func saveAfter(d *device.Device, path string, offset time.Duration, err error, done string) error {
	if err != nil {
		if d.ClockOffset() != offset {
			if serr := d.Save(path); serr != nil {
				return fmt.Errorf("%w (and saving the device failed: %w)", err, serr)
			}
		}
		return err
	}
	if err := d.Save(path); err != nil {
		return fmt.Errorf("%s, but the device was not saved: %w", done, err)
	}
	return nil
}

// printChallenge writes a challenge, received as raw, in the format of o.
func (o printOptions) printChallenge(raw []byte) error {
	if o.Output == "json" {
		return printJSON(o.Out, raw, o.Pretty)
	}
	fields, err := challengeFields(raw)
	if err != nil {
		return err
	}
	return printTable(o.Out, fields)
}

// printChallenges writes challenges in the format of o: JSON, an array of
// the challenges as received; a table, one per challenge, with a blank line
// between two.
func (o printOptions) printChallenges(list []device.Challenge) error {
	if o.Output == "json" {
		raw := []byte{'['}
		for i, c := range list {
			if i > 0 {
				raw = append(raw, ',')
			}
			raw = append(raw, c.Raw...)
		}
		return printJSON(o.Out, append(raw, ']'), o.Pretty)
	}
	var b bytes.Buffer
	for i, c := range list {
		if i > 0 {
			b.WriteByte('\n')
		}
		fields, err := challengeFields(c.Raw)
		if err != nil {
			return err
		}
		if err := printTable(&b, fields); err != nil {
			return err
		}
	}
	_, err := o.Out.Write(b.Bytes())
	return err
}

// challengeFields returns the table of a challenge, received as raw, in
// the order of the resource in the spec; details.fields, hidden_details and
// metadata are compact JSON, or empty when null.
func challengeFields(raw []byte) ([]field, error) {
	var c models.Challenge
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("decode challenge: %w", err)
	}
	var reason, fields, hidden, metadata string
	if c.RespondedReason != nil {
		reason = string(*c.RespondedReason)
	}
	if len(c.Details.Fields) > 0 {
		fields = compactJSON(c.Details.Fields)
	}
	if c.HiddenDetails != nil {
		hidden = compactJSON(*c.HiddenDetails)
	}
	if c.Metadata != nil {
		metadata = compactJSON(*c.Metadata)
	}
	return []field{
		{"sid", deref(c.SID)},
		{"account_sid", deref(c.AccountSID)},
		{"service_sid", deref(c.ServiceSID)},
		{"entity_sid", deref(c.EntitySID)},
		{"identity", deref(c.Identity)},
		{"factor_sid", deref(c.FactorSID)},
		{"date_created", formatTime(c.DateCreated)},
		{"date_updated", formatTime(c.DateUpdated)},
		{"date_responded", formatTime(c.DateResponded)},
		{"expiration_date", formatTime(c.ExpirationDate)},
		{"status", string(c.Status)},
		{"responded_reason", reason},
		{"details.message", tableText(c.Details.Message)},
		{"details.fields", fields},
		{"hidden_details", hidden},
		{"metadata", metadata},
		{"factor_type", string(c.FactorType)},
		{"url", deref(c.URL)},
	}, nil
}

// compactJSON returns v as compact JSON, with <, > and & as they are; ""
// if v cannot be encoded, which decoded JSON always can.
func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// tableText returns s for a table line: as it is, unless it holds a
// character that is not printable (a line break, an escape sequence's
// ESC) or starts with a quote; then as a quoted Go string, so that text
// from the server keeps to its one line and never drives the terminal.
func tableText(s string) string {
	if strings.HasPrefix(s, `"`) || strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
