package token

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SecretLen is the length in bytes of every key secret: an A256GCM key.
const SecretLen = 32

// Key is a symmetric key that mints and opens tokens.
type Key struct {
	// ID is the key id written to the kid header of every token the key
	// mints. It is not secret.
	ID string
	// Secret is the AES-256 key: exactly SecretLen bytes.
	Secret []byte
	// Created is when the key was made. The newest key in a KeySet mints.
	Created time.Time
}

// NewKey returns a key with a random secret from crypto/rand, created at now.
//
// The ID has the form YYYYMMDD-<16 hex digits>: the UTC date of now, which
// makes ids readable and sorts them by day, then 64 random bits, which makes
// them unique. NewKey currently never fails; the error is there so that a
// key source that can fail fits behind the same signature.
func NewKey(now time.Time) (Key, error) {
	var id [8]byte
	secret := make([]byte, SecretLen)
	// Since Go 1.24 crypto/rand.Read never returns an error.
	_, _ = rand.Read(id[:])
	_, _ = rand.Read(secret)
	return Key{
		ID:      now.UTC().Format("20060102") + "-" + hex.EncodeToString(id[:]),
		Secret:  secret,
		Created: now,
	}, nil
}

// clone returns a copy of k that shares no memory with it.
func (k Key) clone() Key {
	k.Secret = bytes.Clone(k.Secret)
	return k
}

// KeySet is an immutable set of keys. It is safe for concurrent use.
// Build a new KeySet to add or remove keys.
type KeySet struct {
	byID   map[string]Key
	newest Key
	// deflaters pools DEFLATE compressors for Mint; a KeySet is shared by
	// every request of a server, so the pool lives here rather than in a
	// package variable.
	deflaters sync.Pool
}

// deflate compresses b as raw DEFLATE (RFC 1951), the zip=DEF encoding.
func (ks *KeySet) deflate(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, _ := ks.deflaters.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(&buf, flate.DefaultCompression); err != nil {
			return nil, err
		}
	} else {
		w.Reset(&buf)
	}
	defer ks.deflaters.Put(w)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// NewKeySet returns a set holding copies of keys. It fails if keys is empty,
// if any key has an empty ID or a secret that is not SecretLen bytes long,
// or if two keys share an ID.
func NewKeySet(keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("new key set: no keys")
	}
	ks := &KeySet{byID: make(map[string]Key, len(keys))}
	for i, k := range keys {
		switch {
		case k.ID == "":
			return nil, fmt.Errorf("new key set: key %d: empty id", i)
		case len(k.Secret) != SecretLen:
			return nil, fmt.Errorf("new key set: key %s: secret is %d bytes, want %d", k.ID, len(k.Secret), SecretLen)
		}
		if _, dup := ks.byID[k.ID]; dup {
			return nil, fmt.Errorf("new key set: duplicate key id %s", k.ID)
		}
		k = k.clone()
		ks.byID[k.ID] = k
		if i == 0 || newer(k, ks.newest) {
			ks.newest = k
		}
	}
	return ks, nil
}

// newer reports whether a should mint in preference to b: it was created
// later, or at the same instant and has the greater ID.
func newer(a, b Key) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.After(b.Created)
	}
	return a.ID > b.ID
}

// Newest returns a copy of the key that mints new tokens: the one created
// last, with ties broken by the greatest ID.
func (ks *KeySet) Newest() Key {
	return ks.newest.clone()
}

// Lookup returns a copy of the key with the given id, and whether there is one.
func (ks *KeySet) Lookup(id string) (Key, bool) {
	k, ok := ks.byID[id]
	if !ok {
		return Key{}, false
	}
	return k.clone(), true
}
