package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/scope"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/webhook"
)

// Verify Push error codes (docs/design.md lists which failure gets which).
const (
	codeEntityExists       = 60301
	codeFactorVerification = 60311
	codeBindingInvalid     = 60314
	codeTooManyFactors     = 60315
	codeFactorExists       = 60317
	codeFactorStatus       = 60383
	codePublicKeyInvalid   = 60385
	codeFactorNotFound     = 60390
	codeEntityNotFound     = 60392
)

var (
	errEntityExists    = &apiError{status: http.StatusConflict, code: codeEntityExists, message: "Entity already exists"}
	errEntityNotFound  = &apiError{status: http.StatusNotFound, code: codeEntityNotFound, message: "Entity not found"}
	errFactorNotFound  = &apiError{status: http.StatusNotFound, code: codeFactorNotFound, message: "Factor not found"}
	errFactorExists    = &apiError{status: http.StatusConflict, code: codeFactorExists, message: "Factor already exists"}
	errTooManyFactors  = &apiError{status: http.StatusBadRequest, code: codeTooManyFactors, message: "Max number of push factors reached for this entity"}
	errBindingInvalid  = &apiError{status: http.StatusBadRequest, code: codeBindingInvalid, message: "Binding is invalid: Binding.Alg must be ES256"}
	errPublicKey       = &apiError{status: http.StatusBadRequest, code: codePublicKeyInvalid, message: "Binding.PublicKey is missing or is not a P-256 public key"}
	errVerification    = &apiError{status: http.StatusForbidden, code: codeFactorVerification, message: "Factor verification failed"}
	errAlreadyVerified = &apiError{status: http.StatusBadRequest, code: codeFactorStatus, message: "Factor is already verified"}
)

// notFound replaces store.ErrNotFound in err by the resource's own
// not-found error; any other error passes, wrapped.
func notFound(err error, what string, replacement *apiError) error {
	if errors.Is(err, store.ErrNotFound) {
		return replacement
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CreateEntity implements operation CreateEntity.
func (s *server) CreateEntity(ctx context.Context, req verifyserver.CreateEntityRequestObject) (verifyserver.CreateEntityResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, errInvalidParameter("Identity")
	}
	now := s.now().UTC().Truncate(time.Second)
	e := store.Entity{SID: sid.New(sid.Entity), AccountSID: sc.AccountSID, ServiceSID: req.ServiceSID,
		Identity: req.Body.Identity, DateCreated: now, DateUpdated: now}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	switch err := s.store.CreateEntity(sctx, e); {
	case errors.Is(err, store.ErrConflict):
		return nil, errEntityExists
	case err != nil:
		// ErrNotFound: the service is unknown or not the principal's.
		return nil, fmt.Errorf("create entity: %w", err)
	}
	return verifyserver.CreateEntity201JSONResponse{Body: entity(e, origin)}, nil
}

// ListEntity implements operation ListEntity.
func (s *server) ListEntity(ctx context.Context, req verifyserver.ListEntityRequestObject) (verifyserver.ListEntityResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	p, err := newPageRequest(req.Params.PageSize, req.Params.Page, req.Params.PageToken, req.Params.PageTokenIOS)
	if err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	// An unknown service, or another account's, is 404 as for
	// CreateEntity, not an empty list.
	if _, err := s.store.FetchService(sctx, sc.AccountSID, req.ServiceSID); err != nil {
		return nil, fmt.Errorf("list entities: %w", err)
	}
	es, more, err := s.store.ListEntities(sctx, sc.AccountSID, req.ServiceSID, p.Page)
	if err != nil {
		return nil, fmt.Errorf("list entities: %w", err)
	}
	list := models.EntityList{Entities: make([]models.Entity, 0, len(es))}
	for _, e := range es {
		list.Entities = append(list.Entities, entity(e, origin))
	}
	var first, last *store.Cursor
	if len(es) > 0 {
		first = &store.Cursor{Created: es[0].DateCreated, SID: es[0].SID}
		last = &store.Cursor{Created: es[len(es)-1].DateCreated, SID: es[len(es)-1].SID}
	}
	list.Meta = p.meta(origin+"/v2/Services/"+req.ServiceSID+"/Entities", "entities", first, last, more)
	return verifyserver.ListEntity200JSONResponse{Body: list}, nil
}

// FetchEntity implements operation FetchEntity.
func (s *server) FetchEntity(ctx context.Context, req verifyserver.FetchEntityRequestObject) (verifyserver.FetchEntityResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	e, err := s.store.FetchEntity(sctx, sc.AccountSID, req.ServiceSID, req.Identity)
	if err != nil {
		return nil, notFound(err, "fetch entity", errEntityNotFound)
	}
	return verifyserver.FetchEntity200JSONResponse{Body: entity(e, origin)}, nil
}

// DeleteEntity implements operation DeleteEntity; its factors go with it.
func (s *server) DeleteEntity(ctx context.Context, req verifyserver.DeleteEntityRequestObject) (verifyserver.DeleteEntityResponseObject, error) {
	sc := scope.From(ctx)
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	deleted := factorEvent(webhook.FactorDeleted, s.now().UTC().Truncate(time.Second))
	if err := s.store.DeleteEntity(sctx, sc.AccountSID, req.ServiceSID, req.Identity, deleted); err != nil {
		return nil, notFound(err, "delete entity", errEntityNotFound)
	}
	s.notify()
	return verifyserver.DeleteEntity204Response{}, nil
}

// entityURL is the absolute URL of an entity.
func entityURL(origin, serviceSID, identity string) string {
	return origin + "/v2/Services/" + serviceSID + "/Entities/" + identity
}

// entity maps a stored entity to the wire resource.
func entity(e store.Entity, origin string) models.Entity {
	u := entityURL(origin, e.ServiceSID, e.Identity)
	created, updated := e.DateCreated.UTC(), e.DateUpdated.UTC()
	return models.Entity{
		SID:         &e.SID,
		Identity:    &e.Identity,
		AccountSID:  &e.AccountSID,
		ServiceSID:  &e.ServiceSID,
		DateCreated: &created,
		DateUpdated: &updated,
		URL:         &u,
		Links:       models.EntityLinks{Factors: u + "/Factors", NewFactors: u + "/Factors", Challenges: u + "/Challenges"},
	}
}
