package verify

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"

	"github.com/verifykit/verifykit/gen/models"
)

// WebhookParams are the form fields of CreateWebhook.
type WebhookParams struct {
	// FriendlyName names the webhook, up to 64 characters. Required.
	FriendlyName string
	// EventTypes are the events the webhook receives, such as
	// models.EventTypeChallengeApproved, or models.EventTypeAsterisk for
	// every event; each is sent as its own EventTypes value. Required.
	EventTypes []models.EventType
	// URL is where the events are delivered, an absolute http or https
	// URL. ValidateWebhook needs it again to check each delivery. Required.
	URL string
	// Status is models.Enabled or models.Disabled; left out when empty,
	// and the webhook is then enabled.
	Status models.WebhookStatus
	// Version is models.V2 or models.V1; left out when empty, and the
	// server then uses v2.
	Version models.WebhookVersion
}

// form returns p as the form body of CreateWebhook.
func (p WebhookParams) form() url.Values {
	f := url.Values{"FriendlyName": {p.FriendlyName}, "WebhookUrl": {p.URL}}
	addEventTypes(f, p.EventTypes)
	if p.Status != "" {
		f.Set("Status", string(p.Status))
	}
	if p.Version != "" {
		f.Set("Version", string(p.Version))
	}
	return f
}

// WebhookUpdate are the form fields of UpdateWebhook. Only the fields set
// are sent; the webhook keeps the value of the others.
type WebhookUpdate struct {
	// FriendlyName is the new name, unless nil. It is a pointer because
	// the empty name is a name.
	FriendlyName *string
	// EventTypes replace the events the webhook receives, unless empty.
	EventTypes []models.EventType
	// URL is the new delivery URL, unless empty.
	URL string
	// Status enables or disables the webhook, unless empty.
	Status models.WebhookStatus
	// Version is the new version, unless empty.
	Version models.WebhookVersion
}

// form returns u as the form body of UpdateWebhook.
func (u WebhookUpdate) form() url.Values {
	f := url.Values{}
	if u.FriendlyName != nil {
		f.Set("FriendlyName", *u.FriendlyName)
	}
	addEventTypes(f, u.EventTypes)
	if u.URL != "" {
		f.Set("WebhookUrl", u.URL)
	}
	if u.Status != "" {
		f.Set("Status", string(u.Status))
	}
	if u.Version != "" {
		f.Set("Version", string(u.Version))
	}
	return f
}

// addEventTypes adds each event type to f as its own EventTypes value.
func addEventTypes(f url.Values, types []models.EventType) {
	for _, t := range types {
		f.Add("EventTypes", string(t))
	}
}

// CreateWebhook makes the service serviceSID deliver its events to p.URL
// (operation CreateWebhook). Each delivery is a form POST signed with the
// account's auth token: check it with ValidateWebhook. Retries: on 429
// only, since a repeat could create a second webhook and so deliver every
// event twice.
func (c *Client) CreateWebhook(ctx context.Context, serviceSID string, p WebhookParams) (*models.Webhook, error) {
	if serviceSID == "" {
		return nil, errors.New("create webhook: empty service SID")
	}
	w, err := resource[models.Webhook](c.gen.CreateWebhookWithBody(ctx, serviceSID, formContentType, formBody(p.form())))
	if err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

// FetchWebhook fetches the webhook sid of the service serviceSID
// (operation FetchWebhook). Retries: as RetryPolicy allows a GET.
func (c *Client) FetchWebhook(ctx context.Context, serviceSID, sid string) (*models.Webhook, error) {
	if serviceSID == "" || sid == "" {
		return nil, errors.New("fetch webhook: empty service SID or SID")
	}
	w, err := resource[models.Webhook](c.gen.FetchWebhook(ctx, serviceSID, sid))
	if err != nil {
		return nil, fmt.Errorf("fetch webhook %s: %w", sid, err)
	}
	return w, nil
}

// UpdateWebhook changes the fields of the webhook sid that u sets
// (operation UpdateWebhook). Retries: as RetryPolicy allows a GET, since
// sending the same fields again changes nothing more, although the method
// is POST.
func (c *Client) UpdateWebhook(ctx context.Context, serviceSID, sid string, u WebhookUpdate) (*models.Webhook, error) {
	if serviceSID == "" || sid == "" {
		return nil, errors.New("update webhook: empty service SID or SID")
	}
	w, err := resource[models.Webhook](c.gen.UpdateWebhookWithBody(idempotent(ctx), serviceSID, sid, formContentType, formBody(u.form())))
	if err != nil {
		return nil, fmt.Errorf("update webhook %s: %w", sid, err)
	}
	return w, nil
}

// DeleteWebhook deletes the webhook sid of the service serviceSID; the
// events not yet delivered to it are dropped (operation DeleteWebhook).
// Retries: as RetryPolicy allows a DELETE, so a retry after a first
// attempt that took effect answers 404, code 20404.
func (c *Client) DeleteWebhook(ctx context.Context, serviceSID, sid string) error {
	if serviceSID == "" || sid == "" {
		return errors.New("delete webhook: empty service SID or SID")
	}
	if err := noContent(c.gen.DeleteWebhook(ctx, serviceSID, sid)); err != nil {
		return fmt.Errorf("delete webhook %s: %w", sid, err)
	}
	return nil
}

// ListWebhooksPage fetches the page p of the webhooks of the service
// serviceSID, oldest first (operation ListWebhook). NextPage reads the
// ListParams of the page after it. Retries: as RetryPolicy allows a GET.
func (c *Client) ListWebhooksPage(ctx context.Context, serviceSID string, p ListParams) (*models.WebhookList, error) {
	if serviceSID == "" {
		return nil, errors.New("list webhooks: empty service SID")
	}
	var q models.ListWebhookParams
	q.PageSize, q.Page, q.PageToken = p.query()
	l, err := resource[models.WebhookList](c.gen.ListWebhook(ctx, serviceSID, &q))
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return l, nil
}

// ListWebhooks returns an iterator over the webhooks of the service
// serviceSID, from the page p names on, oldest first. It pages as
// ListEntities does.
func (c *Client) ListWebhooks(ctx context.Context, serviceSID string, p ListParams) iter.Seq2[models.Webhook, error] {
	return items("list webhooks", p, func(p ListParams) ([]models.Webhook, models.ListMeta, error) {
		l, err := c.ListWebhooksPage(ctx, serviceSID, p)
		if err != nil {
			return nil, models.ListMeta{}, err
		}
		return l.Webhooks, l.Meta, nil
	})
}
