package api

import (
	"context"
	"time"
)

// ctxKey is the type of this package's context keys, so they collide with
// no other package's.
type ctxKey int

const requestKey ctxKey = 0

// principal is who a request authenticated as.
type principal struct {
	AccountSID    string // the account whose data the request may touch
	CredentialSID string // the AC or SK SID that was presented
}

// principalFrom returns the authenticated principal; the zero value when the
// request did not pass authentication, which owns nothing.
func principalFrom(ctx context.Context) principal {
	if ri := requestInfoFrom(ctx); ri != nil {
		return ri.principal
	}
	return principal{}
}

// requestInfo is what the pipeline learns about a request: its id, the
// base URL it came in on, its deadline, its operation, and who it
// authenticated as. It is itself the request's context, the parent's with
// one more value, so that scoping a request allocates no context.WithValue
// node. The pipeline's scope sets the parent; a requestInfo without one is
// not a usable context.
type requestInfo struct {
	context.Context
	id string
	// idHeader is the Twilio-Request-Id header value, held here so that
	// setting the header allocates nothing.
	idHeader [1]string
	// deadline bounds every store call of the request (storeContext);
	// applied only when a call is made, as most fetches make none.
	deadline time.Time
	// scheme and host the request came in on, for resource URLs.
	scheme, host string
	// principal is set by authentication; the zero value until then.
	principal principal
	// op is the spec operation echo routed the request to (nil for paths
	// outside the spec), with echo's path parameters, so that validation
	// never routes the request a second time.
	op          *operation
	paramNames  []string
	paramValues []string
}

// storeContext bounds a store call by its request's deadline.
func storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ri := requestInfoFrom(ctx); ri != nil && !ri.deadline.IsZero() {
		return context.WithDeadline(ctx, ri.deadline)
	}
	return ctx, func() {}
}

// Value returns ri for this package's key and asks the parent context
// for any other.
func (ri *requestInfo) Value(key any) any {
	if key == requestKey {
		return ri
	}
	return ri.Context.Value(key)
}

func requestInfoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestKey).(*requestInfo)
	return ri
}

func requestIDFrom(ctx context.Context) string {
	if ri := requestInfoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// originFrom returns the scheme and host the request came in on.
func originFrom(ctx context.Context) (scheme, host string) {
	if ri := requestInfoFrom(ctx); ri != nil {
		return ri.scheme, ri.host
	}
	return "http", "localhost"
}
