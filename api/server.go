package api

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/internal/webhook"
)

// server implements the strict interface generated from openapi.yaml.
// Its handlers are thin: they check ownership, call the store and the
// token package, and return the generated response types; every failure
// is a returned error, which renderError writes.
type server struct {
	store store.Store
	keys  *token.KeySet
	now   func() time.Time
	// tokens caches access tokens by SID: the row and its resource, as
	// last sent. Tokens are immutable once created, so the cache is
	// write-through and never stale; a revocation would Remove from it.
	tokens *lru.Cache[string, *cachedToken]
	// notify tells the webhook deliverer that events were recorded.
	notify func()
	// hooks are the hosts a webhook URL may name.
	hooks *webhook.Hosts
}

// cachedToken is a stored token with its resource, built for the origin
// of the request that last fetched it.
type cachedToken struct {
	row    store.AccessToken
	origin string
	model  models.AccessToken
}

var _ verifyserver.StrictServerInterface = (*server)(nil)

// tokenCacheSize bounds the token cache (about 1 KiB each).
const tokenCacheSize = 4096

func newServer(st store.Store, keys *token.KeySet, now func() time.Time, notify func(), hooks *webhook.Hosts) *server {
	tokens, _ := lru.New[string, *cachedToken](tokenCacheSize) // fails only for a size below 1
	return &server{store: st, keys: keys, now: now, tokens: tokens, notify: notify, hooks: hooks}
}
