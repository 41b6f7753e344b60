package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/verifykit/verifykit/gen/models"
)

// printJSON writes raw to w, indented when pretty and compact otherwise,
// with a final newline. The keys and values stay as they came.
func printJSON(w io.Writer, raw []byte, pretty bool) error {
	raw = bytes.TrimSpace(raw)
	var b bytes.Buffer
	var err error
	if pretty {
		err = json.Indent(&b, raw, "", "  ")
	} else {
		err = json.Compact(&b, raw)
	}
	if err != nil {
		return fmt.Errorf("format output: %w", err)
	}
	b.WriteByte('\n')
	_, err = w.Write(b.Bytes())
	return err
}

// field is one line of table output.
type field struct {
	key, value string
}

// printTable writes one "key: value" line per field, keeping empty values,
// so that the lines of a kind of output never change in number or order.
func printTable(w io.Writer, fields []field) error {
	var b bytes.Buffer
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %s\n", f.key, f.value)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// accessTokenFields returns the table of an access token, in the order of
// the resource in the spec.
func accessTokenFields(t *models.AccessToken) []field {
	return []field{
		{"sid", deref(t.SID)},
		{"account_sid", deref(t.AccountSID)},
		{"service_sid", deref(t.ServiceSID)},
		{"entity_identity", deref(t.EntityIdentity)},
		{"factor_type", string(t.FactorType)},
		{"factor_friendly_name", deref(t.FactorFriendlyName)},
		{"token", deref(t.Token)},
		{"url", deref(t.URL)},
		{"ttl", fmt.Sprint(t.TTL)},
		{"date_created", formatTime(t.DateCreated)},
	}
}

// printAccessToken writes an access token, received as raw, in format.
func printAccessToken(w io.Writer, raw []byte, format string, pretty bool) error {
	if format == "json" {
		return printJSON(w, raw, pretty)
	}
	var t models.AccessToken
	if err := json.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("decode access token: %w", err)
	}
	return printTable(w, accessTokenFields(&t))
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// formatTime returns t as RFC 3339 in UTC, or "" for nil.
func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
