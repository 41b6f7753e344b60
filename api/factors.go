package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/authn"
	"github.com/verifykit/verifykit/internal/scope"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/internal/webhook"
)

// algES256 is the only binding algorithm of push factors.
const algES256 = "ES256"

// CreateNewFactor implements operation CreateNewFactor: a device enrolls
// with the enrollment access token the backend minted for this service and
// Identity. The entity is created when it does not exist yet; the token is
// used up with the factor, in one transaction.
func (s *server) CreateNewFactor(ctx context.Context, req verifyserver.CreateNewFactorRequestObject) (verifyserver.CreateNewFactorResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	if sc.Scheme != authn.SchemeEnrollment || sc.ServiceSID != req.ServiceSID || sc.Identity != req.Identity {
		return nil, errAuthenticate // a token of another service or Identity
	}
	b := req.Body
	if b == nil {
		return nil, errInvalidParameter("FriendlyName")
	}
	if b.BindingAlg == nil || *b.BindingAlg != algES256 {
		return nil, errBindingInvalid
	}
	if b.BindingPublicKey == nil {
		return nil, errPublicKey
	}
	_, der, err := token.ParsePublicKey(*b.BindingPublicKey)
	if err != nil {
		return nil, errPublicKey
	}
	metadata, err := parseMetadata(b.Metadata)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	e := store.Entity{SID: sid.New(sid.Entity), AccountSID: sc.AccountSID, ServiceSID: req.ServiceSID,
		Identity: req.Identity, DateCreated: now, DateUpdated: now}
	f := store.Factor{
		SID: sid.New(sid.Factor), AccountSID: sc.AccountSID, ServiceSID: req.ServiceSID, EntitySID: e.SID,
		Identity: req.Identity, CredentialSID: sid.New(sid.Credential), FriendlyName: b.FriendlyName,
		PublicKey: der, SdkVersion: b.ConfigSdkVersion, AppID: b.ConfigAppID,
		NotificationPlatform: (*string)(b.ConfigNotificationPlatform), NotificationToken: b.ConfigNotificationToken,
		Metadata: metadata, DateCreated: now, DateUpdated: now,
	}
	if err := checkPush(f); err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	stored, err := s.store.CreateFactor(sctx, e, f, sc.CredentialSID, factorEvent(webhook.FactorCreated, now))
	switch {
	case errors.Is(err, store.ErrUsed):
		return nil, errAuthenticate // the token enrolled a factor already
	case errors.Is(err, store.ErrConflict):
		return nil, errFactorExists
	case errors.Is(err, store.ErrTooMany):
		return nil, errTooManyFactors
	case err != nil:
		return nil, fmt.Errorf("create factor: %w", err)
	}
	s.notify()
	fm := factor(stored, origin)
	return verifyserver.CreateNewFactor201JSONResponse{Body: models.NewFactor{
		SID: fm.SID, AccountSID: fm.AccountSID, ServiceSID: fm.ServiceSID, EntitySID: fm.EntitySID, Identity: fm.Identity,
		DateCreated: fm.DateCreated, DateUpdated: fm.DateUpdated, FriendlyName: fm.FriendlyName, Status: fm.Status,
		FactorType: fm.FactorType, Config: fm.Config, Metadata: fm.Metadata, URL: fm.URL,
		Binding: models.FactorBinding{Alg: algES256, PublicKey: *b.BindingPublicKey},
	}}, nil
}

// ListFactor implements operation ListFactor.
func (s *server) ListFactor(ctx context.Context, req verifyserver.ListFactorRequestObject) (verifyserver.ListFactorResponseObject, error) {
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
	if _, err := s.store.FetchEntity(sctx, sc.AccountSID, req.ServiceSID, req.Identity); err != nil {
		return nil, notFound(err, "list factors", errEntityNotFound)
	}
	fs, more, err := s.store.ListFactors(sctx, sc.AccountSID, req.ServiceSID, req.Identity, p.Page)
	if err != nil {
		return nil, fmt.Errorf("list factors: %w", err)
	}
	list := models.FactorList{Factors: make([]models.Factor, 0, len(fs))}
	for _, f := range fs {
		list.Factors = append(list.Factors, factor(f, origin))
	}
	var first, last *store.Cursor
	if len(fs) > 0 {
		first = &store.Cursor{Created: fs[0].DateCreated, SID: fs[0].SID}
		last = &store.Cursor{Created: fs[len(fs)-1].DateCreated, SID: fs[len(fs)-1].SID}
	}
	list.Meta = p.meta(entityURL(origin, req.ServiceSID, req.Identity)+"/Factors", "factors", first, last, more)
	return verifyserver.ListFactor200JSONResponse{Body: list}, nil
}

// FetchFactor implements operation FetchFactor.
func (s *server) FetchFactor(ctx context.Context, req verifyserver.FetchFactorRequestObject) (verifyserver.FetchFactorResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	f, err := s.store.FetchFactor(sctx, sc.AccountSID, req.ServiceSID, req.Identity, req.SID)
	if err != nil {
		return nil, notFound(err, "fetch factor", errFactorNotFound)
	}
	return verifyserver.FetchFactor200JSONResponse{Body: factor(f, origin)}, nil
}

// UpdateFactor implements operation UpdateFactor: with AuthPayload the
// device proves it holds the factor's key and the factor is verified;
// the other fields update its name and push configuration.
func (s *server) UpdateFactor(ctx context.Context, req verifyserver.UpdateFactorRequestObject) (verifyserver.UpdateFactorResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	if err := ownFactor(sc, req.ServiceSID, req.Identity, req.SID); err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	f, err := s.store.FetchFactor(sctx, sc.AccountSID, req.ServiceSID, req.Identity, req.SID)
	if err != nil {
		return nil, notFound(err, "update factor", errFactorNotFound)
	}
	b := req.Body
	if b == nil {
		b = &models.UpdateFactorFormdataRequestBody{}
	}
	if b.AuthPayload != nil {
		if f.Verified {
			return nil, errAlreadyVerified
		}
		pub, err := token.ParseDERPublicKey(f.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("factor %s: stored public key: %w", f.SID, err)
		}
		if !token.VerifyFactorSignature(pub, f.SID, *b.AuthPayload) {
			return nil, errVerification
		}
		f.Verified = true
	}
	if b.FriendlyName != nil {
		f.FriendlyName = *b.FriendlyName
	}
	if b.ConfigSdkVersion != nil {
		f.SdkVersion = b.ConfigSdkVersion
	}
	if b.ConfigAppID != nil {
		f.AppID = b.ConfigAppID
	}
	if b.ConfigNotificationPlatform != nil {
		f.NotificationPlatform = (*string)(b.ConfigNotificationPlatform)
		if *f.NotificationPlatform == string(models.NotificationPlatformNone) {
			f.NotificationToken = nil
		}
	}
	if b.ConfigNotificationToken != nil {
		f.NotificationToken = b.ConfigNotificationToken
	}
	if err := checkPush(f); err != nil {
		return nil, err
	}
	f.DateUpdated = s.now().UTC().Truncate(time.Second)
	verified := func(old store.Factor) []store.Event {
		if old.Verified || !f.Verified {
			return nil
		}
		return []store.Event{webhook.FactorEvent(webhook.FactorVerified, f, f.DateUpdated)}
	}
	if err := s.store.UpdateFactor(sctx, f, verified); err != nil {
		return nil, notFound(err, "update factor", errFactorNotFound)
	}
	if b.AuthPayload != nil {
		s.notify()
	}
	return verifyserver.UpdateFactor200JSONResponse{Body: factor(f, origin)}, nil
}

// DeleteFactor implements operation DeleteFactor.
func (s *server) DeleteFactor(ctx context.Context, req verifyserver.DeleteFactorRequestObject) (verifyserver.DeleteFactorResponseObject, error) {
	sc := scope.From(ctx)
	if err := ownFactor(sc, req.ServiceSID, req.Identity, req.SID); err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	deleted := factorEvent(webhook.FactorDeleted, s.now().UTC().Truncate(time.Second))
	if err := s.store.DeleteFactor(sctx, sc.AccountSID, req.ServiceSID, req.Identity, req.SID, deleted); err != nil {
		return nil, notFound(err, "delete factor", errFactorNotFound)
	}
	s.notify()
	return verifyserver.DeleteFactor204Response{}, nil
}

// factorEvent returns the store callback that records the event typ about
// the factor the store passes it.
func factorEvent(typ string, now time.Time) store.Events[store.Factor] {
	return func(f store.Factor) []store.Event { return []store.Event{webhook.FactorEvent(typ, f, now)} }
}

// ownFactor refuses a device that acts on a factor not its own: its JWT
// authenticates it for its own factor only.
func ownFactor(sc *scope.Request, serviceSID, identity, factorSID string) error {
	if sc.Scheme == authn.SchemeDevice && (sc.ServiceSID != serviceSID || sc.Identity != identity || sc.FactorSID != factorSID) {
		return errAuthenticate
	}
	return nil
}

// checkPush refuses a push configuration without the token its platform
// needs, and a token without a platform to send it through.
func checkPush(f store.Factor) error {
	none := f.NotificationPlatform == nil || *f.NotificationPlatform == string(models.NotificationPlatformNone)
	hasToken := f.NotificationToken != nil && *f.NotificationToken != ""
	if none == hasToken {
		// A push platform needs a token; without one, a token goes nowhere.
		return errInvalidParameter("Config.NotificationToken")
	}
	return nil
}

// parseMetadata reads the Metadata form field: a JSON object of strings.
func parseMetadata(raw *string) (map[string]string, error) {
	if raw == nil {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(*raw), &m); err != nil || m == nil {
		return nil, errInvalidParameter("Metadata")
	}
	return m, nil
}

// factorURL is the absolute URL of a factor.
func factorURL(origin string, f store.Factor) string {
	return entityURL(origin, f.ServiceSID, f.Identity) + "/Factors/" + f.SID
}

// factor maps a stored factor to the wire resource.
func factor(f store.Factor, origin string) models.Factor {
	u := factorURL(origin, f)
	created, updated := f.DateCreated.UTC(), f.DateUpdated.UTC()
	status := models.Unverified
	if f.Verified {
		status = models.Verified
	}
	var metadata *map[string]string
	if f.Metadata != nil {
		metadata = &f.Metadata
	}
	friendly := f.FriendlyName
	return models.Factor{
		SID:          &f.SID,
		AccountSID:   &f.AccountSID,
		ServiceSID:   &f.ServiceSID,
		EntitySID:    &f.EntitySID,
		Identity:     &f.Identity,
		DateCreated:  &created,
		DateUpdated:  &updated,
		FriendlyName: &friendly,
		Status:       status,
		FactorType:   models.Push,
		Config: models.FactorConfig{
			SdkVersion:           f.SdkVersion,
			AppID:                f.AppID,
			NotificationPlatform: (*models.FactorConfigNotificationPlatform)(f.NotificationPlatform),
			NotificationToken:    f.NotificationToken,
			CredentialSID:        f.CredentialSID,
		},
		Metadata: metadata,
		URL:      &u,
	}
}
