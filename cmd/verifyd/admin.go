package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
)

const adminUsage = `Usage: verifyd admin COMMAND [flags]

Commands (each prints JSON on stdout; secrets are shown once, on create):
  accounts create [-friendly-name NAME]
  accounts list
  api-keys create -account AC… [-friendly-name NAME]
  api-keys list -account AC…
  services create -account AC… [-friendly-name NAME]
  services list -account AC…
  keys rotate          add a token encryption key; new tokens use it
  keys list            list token key ids (never their secrets)
  keys export [-o FILE]
                       print every token key with its secret, as the key file
                       that verifyctl token inspect --key reads; -o FILE writes
                       it to FILE instead (- is stdout), with mode 0600,
                       replacing FILE atomically. The key file holds secrets
                       that decrypt every token: keep it private.

Every command takes -data-dir and -store, like verifyd itself.
`

// runAdmin provisions the store: a running verifyd sees the changes at once,
// except for rotated keys, which it loads on start.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	if len(args) < 2 {
		if len(args) == 1 && (args[0] == "-help" || args[0] == "--help" || args[0] == "-h") {
			fmt.Fprint(stdout, adminUsage)
			return flag.ErrHelp
		}
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	name := args[0] + " " + args[1]
	var cfg config
	fs := flag.NewFlagSet("verifyd admin "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, getenv, &cfg)
	account := fs.String("account", "", "the account SID (AC…)")
	friendly := fs.String("friendly-name", "", "a name for people")
	var outFile string
	if name == "keys export" {
		fs.StringVar(&outFile, "o", "-", "file to write the keys to, mode 0600; - for stdout")
	}
	if err := fs.Parse(args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	needsAccount := name == "api-keys create" || name == "api-keys list" || name == "services create" || name == "services list"
	if needsAccount && !sid.Valid(sid.Account, *account) {
		return fmt.Errorf("-account: want AC followed by 32 hex digits, got %q", *account)
	}

	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	now := time.Now()
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")

	switch name {
	case "accounts create":
		a, secret, err := provision.Account(ctx, st, *friendly, now)
		if err != nil {
			return err
		}
		return enc.Encode(map[string]string{"account_sid": a.SID, "auth_token": secret, "friendly_name": a.FriendlyName})
	case "accounts list":
		list, err := st.ListAccounts(ctx)
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		out := make([]map[string]string, 0, len(list))
		for _, a := range list {
			out = append(out, map[string]string{"account_sid": a.SID, "friendly_name": a.FriendlyName, "date_created": a.DateCreated.Format(time.RFC3339)})
		}
		return enc.Encode(out)
	case "api-keys create":
		k, secret, err := provision.APIKey(ctx, st, *account, *friendly, now)
		if err != nil {
			return notFoundAccount(err, *account)
		}
		return enc.Encode(map[string]string{"api_key_sid": k.SID, "api_key_secret": secret, "account_sid": k.AccountSID, "friendly_name": k.FriendlyName})
	case "api-keys list":
		list, err := st.ListAPIKeys(ctx, *account)
		if err != nil {
			return fmt.Errorf("list API keys: %w", err)
		}
		out := make([]map[string]string, 0, len(list))
		for _, k := range list {
			out = append(out, map[string]string{"api_key_sid": k.SID, "account_sid": k.AccountSID, "friendly_name": k.FriendlyName, "date_created": k.DateCreated.Format(time.RFC3339)})
		}
		return enc.Encode(out)
	case "services create":
		s, err := provision.Service(ctx, st, *account, *friendly, now)
		if err != nil {
			return notFoundAccount(err, *account)
		}
		return enc.Encode(map[string]string{"service_sid": s.SID, "account_sid": s.AccountSID, "friendly_name": s.FriendlyName})
	case "services list":
		list, err := st.ListServices(ctx, *account)
		if err != nil {
			return fmt.Errorf("list services: %w", err)
		}
		out := make([]map[string]string, 0, len(list))
		for _, s := range list {
			out = append(out, map[string]string{"service_sid": s.SID, "account_sid": s.AccountSID, "friendly_name": s.FriendlyName, "date_created": s.DateCreated.Format(time.RFC3339)})
		}
		return enc.Encode(out)
	case "keys rotate":
		k, err := provision.RotateKey(ctx, st, now)
		if err != nil {
			return err
		}
		return enc.Encode(map[string]string{"key_id": k.ID, "created": k.Created.Format(time.RFC3339)})
	case "keys list":
		list, err := st.TokenKeys(ctx)
		if err != nil {
			return fmt.Errorf("list token keys: %w", err)
		}
		out := make([]map[string]string, 0, len(list))
		for _, k := range list {
			out = append(out, map[string]string{"key_id": k.ID, "created": k.Created.Format(time.RFC3339)})
		}
		return enc.Encode(out)
	case "keys export":
		return exportKeys(ctx, st, outFile, stdout)
	}
	fmt.Fprintf(stderr, "verifyd admin: unknown command %q\n\n%s", name, adminUsage)
	return errUsage
}

func notFoundAccount(err error, account string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("account %s does not exist", account)
	}
	return err
}
