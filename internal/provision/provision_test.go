package provision_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store/sqlite"
	"github.com/verifykit/verifykit/internal/token"
)

// TestKeySetRace: instances that start together on an empty store mint
// with one and the same key.
func TestKeySetRace(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 8
	sets := make([]*token.KeySet, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ks, err := provision.KeySet(ctx, st, time.Now())
			if err != nil {
				t.Errorf("KeySet: %v", err)
				return
			}
			sets[i] = ks
		})
	}
	wg.Wait()
	for i, ks := range sets {
		if ks == nil {
			continue
		}
		if got := ks.Newest().ID; got != provision.FirstKeyID {
			t.Errorf("instance %d mints with key %q, want %q", i, got, provision.FirstKeyID)
		}
		if string(ks.Newest().Secret) != string(sets[0].Newest().Secret) {
			t.Errorf("instance %d has a different secret for the first key", i)
		}
	}
	keys, err := st.TokenKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Errorf("store holds %d keys (err %v), want exactly 1", len(keys), err)
	}
}

// TestRotateKey: a rotated key becomes the newest, and the first still opens.
func TestRotateKey(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, err := provision.KeySet(ctx, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	old, err := token.Mint(first, token.Claims{Identity: "abcdefgh", SID: "YK1"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := provision.RotateKey(ctx, st, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := provision.KeySet(ctx, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Newest().ID != k.ID {
		t.Errorf("newest key after rotation = %q, want %q", rotated.Newest().ID, k.ID)
	}
	if c, err := token.Open(rotated, old); err != nil || c.SID != "YK1" {
		t.Errorf("Open(token of the first key) after rotation = %+v, %v; want it to open", c, err)
	}
}
