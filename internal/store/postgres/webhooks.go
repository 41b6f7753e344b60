package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/verifykit/verifykit/internal/store"
)

// The queries of webhooks and the deliveries to them.
const (
	webhookCols  = `sid, account_sid, service_sid, friendly_name, event_types, status, version, url, date_created, date_updated`
	deliveryCols = `event_id, event_type, webhook_sid, account_sid, service_sid, url, body, attempts, created, next_attempt`

	// The composite foreign key (account_sid, service_sid) makes the insert
	// check that the service belongs to the account.
	createWebhookSQL = `INSERT INTO webhooks (` + webhookCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	fetchWebhookSQL  = `SELECT ` + webhookCols + ` FROM webhooks WHERE sid = $1 AND account_sid = $2 AND service_sid = $3`
	// lockWebhookSQL holds the row until an update's transaction ends, so
	// that a concurrent update reads this one's result.
	lockWebhookSQL   = fetchWebhookSQL + ` FOR UPDATE`
	updateWebhookSQL = `UPDATE webhooks SET friendly_name = $1, event_types = $2, status = $3, version = $4, url = $5, date_updated = $6
WHERE sid = $7 AND account_sid = $8 AND service_sid = $9`
	// The webhook's unfinished deliveries follow it: retries go to its
	// URL, and end when it no longer takes their event (dropDeliveriesSQL:
	// $1 is when, $2 the webhook, $3 its status, $4 its event types).
	followWebhookSQL  = `UPDATE deliveries SET url = $1 WHERE webhook_sid = $2 AND finished_at IS NULL`
	dropDeliveriesSQL = `UPDATE deliveries SET finished_at = $1, lease_until = NULL,
last_error = 'the webhook is disabled or no longer takes this event type'
WHERE webhook_sid = $2 AND finished_at IS NULL
AND NOT ($3::text = 'enabled' AND (strpos($4::text, ',*,') > 0 OR strpos($4::text, ',' || event_type || ',') > 0))`
	deleteWebhookSQL = `DELETE FROM webhooks WHERE sid = $1 AND account_sid = $2 AND service_sid = $3`

	listWebhooksSQL       = `SELECT ` + webhookCols + ` FROM webhooks WHERE account_sid = $1 AND service_sid = $2`
	listWebhooksFirstSQL  = listWebhooksSQL + ` ORDER BY date_created, sid LIMIT $3`
	listWebhooksAfterSQL  = listWebhooksSQL + ` AND (date_created, sid) > ($3, $4) ORDER BY date_created, sid LIMIT $5`
	listWebhooksBeforeSQL = listWebhooksSQL + ` AND (date_created, sid) < ($3, $4) ORDER BY date_created DESC, sid DESC LIMIT $5`

	// recordEventSQL stores one delivery of an event per enabled webhook of
	// its service that takes its type, or every type; none when no webhook
	// does. An event recorded for a webhook already is not recorded again.
	// FOR SHARE keeps the webhooks it read until the transaction ends:
	// without it, a webhook deleted meanwhile would fail the deliveries'
	// foreign key, and with it the change the event tells about. It is
	// SHARE, not KEY SHARE, so that UpdateWebhook waits for the delivery
	// to commit and then moves or ends it, and a record that waits on an
	// update reads the webhook as updated (KEY SHARE lets both run, and
	// the delivery keeps the old URL of a webhook now disabled).
	recordEventSQL = `INSERT INTO deliveries (event_id, webhook_sid, event_type, account_sid, service_sid, url, body,
attempts, created, next_attempt, last_status, last_error)
SELECT $1, sid, $2::text, account_sid, service_sid, url, $3, 0, $4, $4, 0, ''
FROM webhooks
WHERE service_sid = $5 AND account_sid = $6 AND status = 'enabled'
AND (strpos(event_types, ',*,') > 0 OR strpos(event_types, ',' || $2::text || ',') > 0)
FOR SHARE
ON CONFLICT DO NOTHING`

	// claimDeliveriesSQL leases the due deliveries it picks. SKIP LOCKED
	// passes over the rows another claim has locked and not yet
	// committed, so concurrent claims take different rows instead of
	// waiting; a row whose claim committed meanwhile is read again under
	// its lock (READ COMMITTED) and no longer due.
	claimDeliveriesSQL = `UPDATE deliveries d SET lease_until = $2
FROM (
	SELECT event_id, webhook_sid FROM deliveries
	WHERE finished_at IS NULL AND next_attempt <= $1 AND (lease_until IS NULL OR lease_until <= $1)
	ORDER BY next_attempt, created, event_id, webhook_sid
	LIMIT $3
	FOR UPDATE SKIP LOCKED
) due
WHERE d.event_id = due.event_id AND d.webhook_sid = due.webhook_sid
RETURNING d.event_id, d.event_type, d.webhook_sid, d.account_sid, d.service_sid, d.url, d.body, d.attempts, d.created, d.next_attempt`

	// finishDeliverySQL leaves a finished delivery finished: an instance
	// whose lease ran out finishes nothing.
	finishDeliverySQL = `UPDATE deliveries SET attempts = attempts + 1, lease_until = NULL, last_status = $1, last_error = $2,
finished_at = $3, next_attempt = coalesce($4, next_attempt)
WHERE event_id = $5 AND webhook_sid = $6 AND finished_at IS NULL`
	pruneDeliveriesSQL = `DELETE FROM deliveries WHERE finished_at IS NOT NULL AND finished_at < $1`
)

// emit returns the events of v, or none when events is nil.
func emit[T any](events store.Events[T], v T) []store.Event {
	if events == nil {
		return nil
	}
	return events(v)
}

// record stores, in tx, one delivery of each event for every enabled
// webhook of the event's service that takes its type.
func record(ctx context.Context, tx pgx.Tx, events []store.Event) error {
	for _, e := range events {
		if _, err := tx.Exec(ctx, recordEventSQL,
			e.ID, e.Type, e.Body, toDB(e.Created), e.ServiceSID, e.AccountSID); err != nil {
			return fmt.Errorf("record event %s: %w", e.ID, err)
		}
	}
	return nil
}

// CreateWebhook implements store.Store.
func (s *Store) CreateWebhook(ctx context.Context, w store.Webhook) error {
	types, err := encodeEventTypes(w.EventTypes)
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.SID, err)
	}
	err = s.exec(ctx, createWebhookSQL,
		w.SID, w.AccountSID, w.ServiceSID, w.FriendlyName, types, w.Status, w.Version, w.URL,
		toDB(w.DateCreated), toDB(w.DateUpdated))
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.SID, err)
	}
	return nil
}

// FetchWebhook implements store.Store.
func (s *Store) FetchWebhook(ctx context.Context, accountSID, serviceSID, sid string) (store.Webhook, error) {
	w, err := fetch(ctx, s, scanWebhook, fetchWebhookSQL, sid, accountSID, serviceSID)
	if err != nil {
		return store.Webhook{}, fmt.Errorf("fetch webhook %s: %w", sid, err)
	}
	return w, nil
}

// ListWebhooks implements store.Store.
func (s *Store) ListWebhooks(ctx context.Context, accountSID, serviceSID string, p store.Page) ([]store.Webhook, bool, error) {
	q, err := pageSQL{listWebhooksFirstSQL, listWebhooksAfterSQL, listWebhooksBeforeSQL}.query(p, accountSID, serviceSID)
	if err != nil {
		return nil, false, fmt.Errorf("list webhooks of %s: %w", serviceSID, err)
	}
	ws, err := list(ctx, s, scanWebhook, q.sql, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list webhooks of %s: %w", serviceSID, err)
	}
	ws, more := trim(q, ws)
	return ws, more, nil
}

// UpdateWebhook implements store.Store.
func (s *Store) UpdateWebhook(ctx context.Context, accountSID, serviceSID, sid string, change func(*store.Webhook)) (store.Webhook, error) {
	if err := s.check(); err != nil {
		return store.Webhook{}, fmt.Errorf("update webhook %s: %w", sid, err)
	}
	var w store.Webhook
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := scanWebhook(tx.QueryRow(ctx, lockWebhookSQL, sid, accountSID, serviceSID))
		if err != nil {
			return err
		}
		w = old.Changed(change)
		types, err := encodeEventTypes(w.EventTypes)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, updateWebhookSQL,
			w.FriendlyName, types, w.Status, w.Version, w.URL, toDB(w.DateUpdated),
			w.SID, w.AccountSID, w.ServiceSID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, followWebhookSQL, w.URL, w.SID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, dropDeliveriesSQL, toDB(w.DateUpdated), w.SID, w.Status, types)
		return err
	})
	if err != nil {
		return store.Webhook{}, fmt.Errorf("update webhook %s: %w", sid, s.translate(ctx, err))
	}
	w.DateUpdated = fromDB(toDB(w.DateUpdated))
	return w, nil
}

// DeleteWebhook implements store.Store. The foreign key from deliveries
// deletes the webhook's with it.
func (s *Store) DeleteWebhook(ctx context.Context, accountSID, serviceSID, sid string) error {
	if err := s.changeOne(ctx, deleteWebhookSQL, sid, accountSID, serviceSID); err != nil {
		return fmt.Errorf("delete webhook %s: %w", sid, err)
	}
	return nil
}

// scanWebhook reads a webhook from a row of its table.
func scanWebhook(row pgx.Row) (store.Webhook, error) {
	var w store.Webhook
	var types string
	var created, updated time.Time
	if err := row.Scan(&w.SID, &w.AccountSID, &w.ServiceSID, &w.FriendlyName, &types, &w.Status, &w.Version, &w.URL,
		&created, &updated); err != nil {
		return store.Webhook{}, err
	}
	w.EventTypes = decodeEventTypes(types)
	w.DateCreated, w.DateUpdated = fromDB(created), fromDB(updated)
	return w, nil
}

// encodeEventTypes returns the stored form of a webhook's event types:
// each between commas, as ",factor.created,*,", so that SQL finds a type
// by looking for it between commas. The SQLite engine stores the same
// text. A type must not be empty or hold a comma.
func encodeEventTypes(types []string) (string, error) {
	for _, t := range types {
		if t == "" || strings.Contains(t, ",") {
			return "", fmt.Errorf("event type %q: empty or holds a comma", t)
		}
	}
	return "," + strings.Join(types, ",") + ",", nil
}

// decodeEventTypes reverses encodeEventTypes; no types is nil.
func decodeEventTypes(text string) []string {
	text = strings.TrimSuffix(strings.TrimPrefix(text, ","), ",")
	if text == "" {
		return nil
	}
	return strings.Split(text, ",")
}

// ClaimDeliveries implements store.Store with one UPDATE
// (claimDeliveriesSQL), so instances that claim at once never get the same
// delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	if err := checkClaim(lease, limit); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// A write: if its connection breaks, the claim may have been
	// committed, so it is not run again (see read).
	rows, err := s.pool.Query(ctx, claimDeliveriesSQL, toDB(now), toDB(now.Add(lease)), limit)
	var ds []store.Delivery
	if err == nil {
		ds, err = pgx.AppendRows(ds, rows, func(r pgx.CollectableRow) (store.Delivery, error) { return scanDelivery(r) })
	}
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", s.translate(ctx, err))
	}
	sortDeliveries(ds)
	return ds, nil
}

// checkClaim checks the arguments of ClaimDeliveries. A lease shorter than
// a second could end, once truncated to whole seconds, before it began.
func checkClaim(lease time.Duration, limit int) error {
	switch {
	case limit < 1:
		return fmt.Errorf("limit is %d, want at least 1", limit)
	case lease < time.Second:
		return fmt.Errorf("lease is %v, want at least a second", lease)
	}
	return nil
}

// sortDeliveries puts claimed deliveries in the order they were due:
// RETURNING has no order.
func sortDeliveries(ds []store.Delivery) {
	slices.SortFunc(ds, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), a.Created.Compare(b.Created),
			cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.WebhookSID, b.WebhookSID))
	})
}

// FinishDelivery implements store.Store. A delivery that is finished
// already is store.ErrNotFound, as one that is gone.
func (s *Store) FinishDelivery(ctx context.Context, eventID, webhookSID string, r store.DeliveryResult) error {
	finished, next := finish(r)
	err := s.changeOne(ctx, finishDeliverySQL, r.Status, r.Error, finished, next, eventID, webhookSID)
	if err != nil {
		return fmt.Errorf("finish delivery of %s to %s: %w", eventID, webhookSID, err)
	}
	return nil
}

// finish returns what r makes of a delivery, in the stored form: when it
// finished, if it did (delivered or given up), or else when to try again.
func finish(r store.DeliveryResult) (finished, next *time.Time) {
	if r.Delivered || r.Next.IsZero() {
		at := toDB(r.At)
		return &at, nil
	}
	at := toDB(r.Next)
	return nil, &at
}

// PruneDeliveries implements store.Store.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	if err := s.check(); err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	tag, err := s.pool.Exec(ctx, pruneDeliveriesSQL, toDB(before))
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", s.translate(ctx, err))
	}
	return int(tag.RowsAffected()), nil
}

// scanDelivery reads a delivery from a row of its table.
func scanDelivery(row pgx.Row) (store.Delivery, error) {
	var d store.Delivery
	var created, next time.Time
	if err := row.Scan(&d.EventID, &d.EventType, &d.WebhookSID, &d.AccountSID, &d.ServiceSID, &d.URL, &d.Body,
		&d.Attempts, &created, &next); err != nil {
		return store.Delivery{}, err
	}
	d.Created, d.NextAttempt = fromDB(created), fromDB(next)
	return d, nil
}
