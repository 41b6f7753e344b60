package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/verifykit/verifykit/internal/token"
)

// keysEnv is the environment variable that holds token keys, as the JSON of
// a key file; --key wins over it.
const keysEnv = "VERIFYKIT_TOKEN_KEYS"

// inspectUsage is the --help of token inspect.
const inspectUsage = `Show the protected header of an access token (a compact JWE) without
decrypting it. Given the token keys, also decrypt the token, authenticate it
and show its claims. Expiry is not checked: exp is shown as it is.

Usage:
  verifyctl token inspect [--key FILE] [-o FORMAT] TOKEN
  verifyctl token inspect [--key FILE] [-o FORMAT] -

TOKEN is the token itself, or - to read it from stdin. Tokens on the command
line show up in ps output and shell history; prefer -.

Flags:
  --key FILE            read the token keys from a JSON key file (see below)
                        instead of VERIFYKIT_TOKEN_KEYS
  -o FORMAT             json (default): {"header":{…},"claims":{…}}, indented
                        on a terminal; table: one "key: value" line per field

The token keys come from --key, or else from the environment variable
VERIFYKIT_TOKEN_KEYS, which holds the JSON of a key file itself. Without
either, only the header is shown.

A key file holds one key or a list of keys, each an object with the key id
(the token's kid) and the 32-byte AES-256 secret in standard base64:
  {"id": "20250101-0123456789abcdef", "secret": "<base64>"}
  [{"id": "…", "secret": "…"}, {"id": "…", "secret": "…"}]
verifyd writes such a file, holding all its token keys (mode 0600), with
  verifyd admin keys export -o FILE
`

// inspectOptions are the inputs of token inspect, parsed and checked.
type inspectOptions struct {
	// Token is the TOKEN argument: a token, or "-" to read one from In.
	Token string
	// In is stdin.
	In io.Reader
	// KeyFile is the --key file; empty for none.
	KeyFile string
	// EnvKeys is the value of VERIFYKIT_TOKEN_KEYS: the JSON of a key file,
	// used when KeyFile is empty; empty for none.
	EnvKeys string
	// Output is "json" or "table".
	Output string
	// Pretty indents JSON output.
	Pretty bool
	// Out receives the header and claims.
	Out io.Writer
}

// runInspect is the command token inspect.
func runInspect(ctx context.Context, a *app, args []string) error {
	opts, err := parseInspect(a, args)
	if err != nil {
		return err
	}
	return inspectRun(ctx, opts)
}

// parseInspect parses and checks the arguments of token inspect.
func parseInspect(a *app, args []string) (*inspectOptions, error) {
	fs := newFlagSet("token inspect")
	opts := &inspectOptions{In: a.stdin, Out: a.stdout, Pretty: a.isTerminal(a.stdout), EnvKeys: a.getenv(keysEnv)}
	fs.StringVar(&opts.KeyFile, "key", "", "")
	// --data-dir read verifyd's database, which verifyctl no longer links;
	// say what replaces it rather than only that the flag is unknown.
	fs.Func("data-dir", "", func(string) error { return errDataDirRemoved })
	registerOutput(fs, &opts.Output)
	positional, err := parseArgs(fs, args, a.stdout, inspectUsage)
	if err != nil {
		return nil, err
	}
	switch {
	case len(positional) == 0:
		return nil, usageErrorf("missing TOKEN; give the token, or - to read it from stdin")
	case len(positional) > 1:
		return nil, usageErrorf("unexpected argument after TOKEN; give one token")
	}
	opts.Token = positional[0]
	if err := checkOutput(opts.Output); err != nil {
		return nil, err
	}
	return opts, nil
}

// errDataDirRemoved is the answer to --data-dir.
var errDataDirRemoved = errors.New("no longer supported; export the keys with 'verifyd admin keys export -o FILE' and give --key FILE")

// inspection is what token inspect prints as JSON.
type inspection struct {
	Header token.Header  `json:"header"`
	Claims *token.Claims `json:"claims,omitempty"`
}

// inspectRun reads the token, inspects it and, given keys, opens it.
func inspectRun(ctx context.Context, opts *inspectOptions) error {
	compact := opts.Token
	if compact == "-" {
		b, err := io.ReadAll(io.LimitReader(opts.In, token.MaxLen+1))
		if err != nil {
			return fmt.Errorf("read token from stdin: %w", err)
		}
		compact = string(b)
	}
	compact = strings.TrimSpace(compact)
	h, err := token.Inspect(compact)
	if err != nil {
		return err
	}
	out := inspection{Header: h}
	if opts.KeyFile != "" || opts.EnvKeys != "" {
		keys, source, err := loadKeys(opts.KeyFile, opts.EnvKeys)
		if err != nil {
			return err
		}
		c, err := token.Open(keys, compact)
		if errors.Is(err, token.ErrUnknownKey) {
			return fmt.Errorf("token key %s is not among the keys of %s", h.KeyID, source)
		}
		if err != nil {
			return err
		}
		out.Claims = &c
	}
	if opts.Output == "json" {
		raw, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		return printJSON(opts.Out, raw, opts.Pretty)
	}
	fields := []field{
		{"alg", h.Algorithm},
		{"enc", h.Encryption},
		{"zip", h.Compression},
		{"cty", h.ContentType},
		{"kid", h.KeyID},
	}
	if c := out.Claims; c != nil {
		fields = append(fields,
			field{"sub", c.Identity},
			field{"iss", c.Issuer},
			field{"account_sid", c.AccountSID},
			field{"service_sid", c.ServiceSID},
			field{"factor_type", c.FactorType},
			field{"factor_friendly_name", c.FactorFriendlyName},
			field{"iat", fmt.Sprint(c.IssuedAt)},
			field{"exp", fmt.Sprint(c.ExpiresAt)},
			field{"jti", c.SID},
		)
	}
	return printTable(opts.Out, fields)
}

// loadKeys reads the token keys from the key file or, without one, from
// the JSON in envKeys, and returns them with a name for their source, for
// messages.
func loadKeys(keyFile, envKeys string) (*token.KeySet, string, error) {
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, "", fmt.Errorf("--key: %w", err)
		}
		ks, err := parseKeys(b)
		if err != nil {
			return nil, "", fmt.Errorf("--key: %w", err)
		}
		return ks, "--key " + keyFile, nil
	}
	ks, err := parseKeys([]byte(envKeys))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", keysEnv, err)
	}
	return ks, keysEnv, nil
}

// keyFileEntry is one key of a key file.
type keyFileEntry struct {
	// ID is the key id, the kid of the tokens it minted.
	ID string `json:"id"`
	// Secret is the AES-256 key in standard base64.
	Secret string `json:"secret"`
}

// parseKeys parses the JSON of a key file: one keyFileEntry, or a list of
// them. Error messages never quote a secret.
func parseKeys(b []byte) (*token.KeySet, error) {
	b = bytes.TrimSpace(b)
	var entries []keyFileEntry
	var err error
	if len(b) > 0 && b[0] == '[' {
		err = decodeStrict(b, &entries)
	} else {
		var e keyFileEntry
		err = decodeStrict(b, &e)
		entries = []keyFileEntry{e}
	}
	if err != nil {
		return nil, errors.New(`want {"id":"…","secret":"<base64>"} or a list of them`)
	}
	keys := make([]token.Key, len(entries))
	for i, e := range entries {
		secret, err := base64.StdEncoding.DecodeString(e.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %d: secret is not standard base64", i)
		}
		keys[i] = token.Key{ID: e.ID, Secret: secret}
	}
	return token.NewKeySet(keys...)
}

// decodeStrict decodes one JSON value into v, rejecting unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
