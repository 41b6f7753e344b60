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
	"path/filepath"

	"github.com/verifykit/verifykit/internal/store"
)

// keyFileEntry is one key of a key file, the format verifyctl token inspect
// --key reads.
type keyFileEntry struct {
	// ID is the key id, the kid of the tokens the key minted.
	ID string `json:"id"`
	// Secret is the AES-256 key in standard base64.
	Secret string `json:"secret"`
}

// exportKeys writes every token key of st as a key file: to stdout when
// path is "-", else to path, atomically and with mode 0600.
func exportKeys(ctx context.Context, st store.Store, path string, stdout io.Writer) error {
	stored, err := st.TokenKeys(ctx)
	if err != nil {
		return fmt.Errorf("list token keys: %w", err)
	}
	if len(stored) == 0 {
		// An empty list would only fail later, in verifyctl.
		return errors.New("the store holds no token keys yet; start verifyd once, or run verifyd admin keys rotate")
	}
	entries := make([]keyFileEntry, len(stored))
	for i, k := range stored {
		entries[i] = keyFileEntry{ID: k.ID, Secret: base64.StdEncoding.EncodeToString(k.Secret)}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(entries); err != nil {
		return fmt.Errorf("encode token keys: %w", err)
	}
	switch path {
	case "-":
		if _, err := stdout.Write(b.Bytes()); err != nil {
			return fmt.Errorf("write token keys: %w", err)
		}
		return nil
	case "":
		return errors.New("-o: want a file name, or - for stdout")
	}
	if err := writeFileAtomic(path, b.Bytes()); err != nil {
		return fmt.Errorf("-o: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data, readable by its owner only.
// Readers see the old file or the whole new one, never a part; after a
// crash, at worst a stray temporary file is left beside it.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	// CreateTemp makes the file with mode 0600 before anything is written.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	// Exactly 0600, whatever the umask.
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
