package api

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/scope"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
)

// CreateWebhook implements operation CreateWebhook.
func (s *server) CreateWebhook(ctx context.Context, req verifyserver.CreateWebhookRequestObject) (verifyserver.CreateWebhookResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	b := req.Body
	if b == nil {
		return nil, errInvalidParameter("FriendlyName")
	}
	if !s.hooks.AllowsURL(b.WebhookURL) {
		return nil, errInvalidParameter("WebhookUrl")
	}
	now := s.now().UTC().Truncate(time.Second)
	w := store.Webhook{
		SID: sid.New(sid.Webhook), AccountSID: sc.AccountSID, ServiceSID: req.ServiceSID,
		FriendlyName: b.FriendlyName, EventTypes: eventTypes(b.EventTypes), Status: string(models.Enabled),
		Version: string(models.V2), URL: b.WebhookURL, DateCreated: now, DateUpdated: now,
	}
	if b.Status != nil {
		w.Status = string(*b.Status)
	}
	if b.Version != nil {
		w.Version = string(*b.Version)
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	if err := s.store.CreateWebhook(sctx, w); err != nil {
		// ErrNotFound: the service is unknown or not the principal's.
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	return verifyserver.CreateWebhook201JSONResponse{Body: webhookModel(w, origin)}, nil
}

// ListWebhook implements operation ListWebhook.
func (s *server) ListWebhook(ctx context.Context, req verifyserver.ListWebhookRequestObject) (verifyserver.ListWebhookResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	p, err := newPageRequest(req.Params.PageSize, req.Params.Page, req.Params.PageToken, nil)
	if err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	// An unknown service, or another account's, is 404 as for
	// CreateWebhook, not an empty list.
	if _, err := s.store.FetchService(sctx, sc.AccountSID, req.ServiceSID); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	ws, more, err := s.store.ListWebhooks(sctx, sc.AccountSID, req.ServiceSID, p.Page)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	list := models.WebhookList{Webhooks: make([]models.Webhook, 0, len(ws))}
	for _, w := range ws {
		list.Webhooks = append(list.Webhooks, webhookModel(w, origin))
	}
	var first, last *store.Cursor
	if len(ws) > 0 {
		first = &store.Cursor{Created: ws[0].DateCreated, SID: ws[0].SID}
		last = &store.Cursor{Created: ws[len(ws)-1].DateCreated, SID: ws[len(ws)-1].SID}
	}
	list.Meta = p.meta(origin+"/v2/Services/"+req.ServiceSID+"/Webhooks", "webhooks", first, last, more)
	return verifyserver.ListWebhook200JSONResponse{Body: list}, nil
}

// FetchWebhook implements operation FetchWebhook.
func (s *server) FetchWebhook(ctx context.Context, req verifyserver.FetchWebhookRequestObject) (verifyserver.FetchWebhookResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	w, err := s.store.FetchWebhook(sctx, sc.AccountSID, req.ServiceSID, req.SID)
	if err != nil {
		return nil, fmt.Errorf("fetch webhook: %w", err)
	}
	return verifyserver.FetchWebhook200JSONResponse{Body: webhookModel(w, origin)}, nil
}

// UpdateWebhook implements operation UpdateWebhook: the fields given
// replace the webhook's.
func (s *server) UpdateWebhook(ctx context.Context, req verifyserver.UpdateWebhookRequestObject) (verifyserver.UpdateWebhookResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	b := req.Body
	if b == nil {
		b = &models.UpdateWebhookFormdataRequestBody{}
	}
	if b.WebhookURL != nil && !s.hooks.AllowsURL(*b.WebhookURL) {
		return nil, errInvalidParameter("WebhookUrl")
	}
	now := s.now().UTC().Truncate(time.Second)
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	// The store applies the change to the webhook as it is, in the same
	// transaction, so a concurrent update of other fields is kept.
	w, err := s.store.UpdateWebhook(sctx, sc.AccountSID, req.ServiceSID, req.SID, func(w *store.Webhook) {
		if b.FriendlyName != nil {
			w.FriendlyName = *b.FriendlyName
		}
		if b.EventTypes != nil {
			w.EventTypes = eventTypes(*b.EventTypes)
		}
		if b.WebhookURL != nil {
			w.URL = *b.WebhookURL
		}
		if b.Status != nil {
			w.Status = string(*b.Status)
		}
		if b.Version != nil {
			w.Version = string(*b.Version)
		}
		w.DateUpdated = now
	})
	if err != nil {
		return nil, fmt.Errorf("update webhook: %w", err)
	}
	return verifyserver.UpdateWebhook200JSONResponse{Body: webhookModel(w, origin)}, nil
}

// DeleteWebhook implements operation DeleteWebhook.
func (s *server) DeleteWebhook(ctx context.Context, req verifyserver.DeleteWebhookRequestObject) (verifyserver.DeleteWebhookResponseObject, error) {
	sc := scope.From(ctx)
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	if err := s.store.DeleteWebhook(sctx, sc.AccountSID, req.ServiceSID, req.SID); err != nil {
		return nil, fmt.Errorf("delete webhook: %w", err)
	}
	return verifyserver.DeleteWebhook204Response{}, nil
}

// eventTypes returns the event types given, each once, in their order.
func eventTypes(ts []models.EventType) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		if !slices.Contains(out, string(t)) {
			out = append(out, string(t))
		}
	}
	return out
}

// webhookModel maps a stored webhook to the wire resource.
func webhookModel(w store.Webhook, origin string) models.Webhook {
	u := origin + "/v2/Services/" + w.ServiceSID + "/Webhooks/" + w.SID
	created, updated := w.DateCreated.UTC(), w.DateUpdated.UTC()
	types := make([]models.EventType, 0, len(w.EventTypes))
	for _, t := range w.EventTypes {
		types = append(types, models.EventType(t))
	}
	method := models.POST
	friendly := w.FriendlyName
	hook := w.URL
	return models.Webhook{
		SID:           &w.SID,
		ServiceSID:    &w.ServiceSID,
		AccountSID:    &w.AccountSID,
		FriendlyName:  &friendly,
		EventTypes:    &types,
		Status:        models.WebhookStatus(w.Status),
		Version:       models.WebhookVersion(w.Version),
		WebhookURL:    &hook,
		WebhookMethod: &method,
		DateCreated:   &created,
		DateUpdated:   &updated,
		URL:           &u,
	}
}
