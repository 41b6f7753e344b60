package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/verifykit/verifykit/internal/store"
)

// The columns of webhooks and deliveries, in the order their scan
// functions read them.
const (
	webhookCols  = `sid, account_sid, service_sid, friendly_name, event_types, status, version, url, date_created, date_updated`
	deliveryCols = `event_id, event_type, webhook_sid, account_sid, service_sid, url, body, attempts, created, next_attempt`
)

// webhookSpecs returns the specs of the statements of webhooks and
// deliveries.
func (st *statements) webhookSpecs(writer, reader *sql.DB) []stmtSpec {
	specs := []stmtSpec{
		// The composite foreign key (account_sid, service_sid) makes the
		// insert check that the service belongs to the account.
		{&st.createWebhook, writer, `INSERT INTO webhooks (` + webhookCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.updateWebhook, writer, `UPDATE webhooks SET friendly_name = ?, event_types = ?, status = ?, version = ?, url = ?, date_updated = ?
WHERE sid = ? AND account_sid = ? AND service_sid = ?`},
		// The webhook's unfinished deliveries follow it: retries go to its
		// URL, and end when it no longer takes their event.
		{&st.followWebhook, writer, `UPDATE deliveries SET url = ? WHERE webhook_sid = ? AND finished_at IS NULL`},
		// ?1 is when, ?2 the webhook, ?3 its status, ?4 its event types.
		{&st.dropDeliveries, writer, `UPDATE deliveries SET finished_at = ?1, lease_until = NULL,
last_error = 'the webhook is disabled or no longer takes this event type'
WHERE webhook_sid = ?2 AND finished_at IS NULL
AND NOT (?3 = 'enabled' AND (instr(?4, ',*,') > 0 OR instr(?4, ',' || event_type || ',') > 0))`},
		{&st.deleteWebhook, writer, `DELETE FROM webhooks WHERE sid = ? AND account_sid = ? AND service_sid = ?`},
		{&st.fetchWebhook, reader, `SELECT ` + webhookCols + ` FROM webhooks WHERE sid = ? AND account_sid = ? AND service_sid = ?`},
		// The same read on the writer, inside an update's transaction.
		{&st.lockWebhook, writer, `SELECT ` + webhookCols + ` FROM webhooks WHERE sid = ? AND account_sid = ? AND service_sid = ?`},

		// One delivery per enabled webhook of the event's service that
		// takes its type, or every type; none when no webhook does. An
		// event recorded for a webhook already is not recorded again. The
		// SELECT's WHERE clause also tells SQLite that ON CONFLICT is the
		// INSERT's, not a join's.
		{&st.recordEvent, writer, `INSERT INTO deliveries (event_id, webhook_sid, event_type, account_sid, service_sid, url, body,
attempts, created, next_attempt, last_status, last_error)
SELECT ?1, sid, ?2, account_sid, service_sid, url, ?3, 0, ?4, ?4, 0, ''
FROM webhooks
WHERE service_sid = ?5 AND account_sid = ?6 AND status = 'enabled'
AND (instr(event_types, ',*,') > 0 OR instr(event_types, ',' || ?2 || ',') > 0)
ON CONFLICT DO NOTHING`},
		// ?1 is now, ?2 the lease's end, ?3 the limit.
		{&st.claimDeliveries, writer, `UPDATE deliveries SET lease_until = ?2
WHERE (event_id, webhook_sid) IN (
	SELECT event_id, webhook_sid FROM deliveries
	WHERE finished_at IS NULL AND next_attempt <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
	ORDER BY next_attempt, created, event_id, webhook_sid
	LIMIT ?3)
RETURNING ` + deliveryCols},
		// A finished delivery stays finished: an instance whose lease ran
		// out finishes nothing.
		{&st.finishDelivery, writer, `UPDATE deliveries SET attempts = attempts + 1, lease_until = NULL, last_status = ?, last_error = ?,
finished_at = ?, next_attempt = coalesce(?, next_attempt)
WHERE event_id = ? AND webhook_sid = ? AND finished_at IS NULL`},
		{&st.pruneDeliveries, writer, `DELETE FROM deliveries WHERE finished_at IS NOT NULL AND finished_at < ?`},
	}
	return append(specs, st.listWebhooks.queries(reader, `SELECT `+webhookCols+` FROM webhooks WHERE account_sid = ? AND service_sid = ?`)...)
}

// emit returns the events of v, or none when events is nil.
func emit[T any](events store.Events[T], v T) []store.Event {
	if events == nil {
		return nil
	}
	return events(v)
}

// record stores, in tx, one delivery of each event for every enabled
// webhook of the event's service that takes its type.
func (s *Store) record(ctx context.Context, tx *sql.Tx, events []store.Event) error {
	for _, e := range events {
		if _, err := tx.StmtContext(ctx, s.stmts.recordEvent).ExecContext(ctx,
			e.ID, e.Type, e.Body, unix(e.Created), e.ServiceSID, e.AccountSID); err != nil {
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
	err = s.exec(ctx, s.stmts.createWebhook,
		w.SID, w.AccountSID, w.ServiceSID, w.FriendlyName, types, w.Status, w.Version, w.URL,
		unix(w.DateCreated), unix(w.DateUpdated))
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.SID, s.translate(err))
	}
	return nil
}

// FetchWebhook implements store.Store.
func (s *Store) FetchWebhook(ctx context.Context, accountSID, serviceSID, sid string) (store.Webhook, error) {
	w, err := scanWebhook(s.stmts.fetchWebhook.QueryRowContext(ctx, sid, accountSID, serviceSID))
	if err != nil {
		return store.Webhook{}, fmt.Errorf("fetch webhook %s: %w", sid, s.translate(err))
	}
	return w, nil
}

// ListWebhooks implements store.Store.
func (s *Store) ListWebhooks(ctx context.Context, accountSID, serviceSID string, p store.Page) ([]store.Webhook, bool, error) {
	q, err := s.stmts.listWebhooks.query(p, accountSID, serviceSID)
	if err != nil {
		return nil, false, fmt.Errorf("list webhooks of %s: %w", serviceSID, err)
	}
	ws, err := list(ctx, q.stmt, scanWebhook, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list webhooks of %s: %w", serviceSID, s.translate(err))
	}
	ws, more := trim(q, ws)
	return ws, more, nil
}

// UpdateWebhook implements store.Store. The committer runs one write at a
// time, so the read inside the write sees every update before it.
func (s *Store) UpdateWebhook(ctx context.Context, accountSID, serviceSID, sid string, change func(*store.Webhook)) (store.Webhook, error) {
	var w store.Webhook
	err := s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		old, err := scanWebhook(tx.StmtContext(ctx, s.stmts.lockWebhook).QueryRowContext(ctx, sid, accountSID, serviceSID))
		if err != nil {
			return err
		}
		w = old.Changed(change)
		types, err := encodeEventTypes(w.EventTypes)
		if err != nil {
			return err
		}
		if err := changeOne(s.stmts.updateWebhook,
			w.FriendlyName, types, w.Status, w.Version, w.URL, unix(w.DateUpdated),
			w.SID, w.AccountSID, w.ServiceSID)(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.stmts.followWebhook).ExecContext(ctx, w.URL, w.SID); err != nil {
			return err
		}
		_, err = tx.StmtContext(ctx, s.stmts.dropDeliveries).ExecContext(ctx, unix(w.DateUpdated), w.SID, w.Status, types)
		return err
	})
	if err != nil {
		return store.Webhook{}, fmt.Errorf("update webhook %s: %w", sid, s.translate(err))
	}
	w.DateUpdated = fromUnix(unix(w.DateUpdated))
	return w, nil
}

// DeleteWebhook implements store.Store. The foreign key from deliveries
// deletes the webhook's with it.
func (s *Store) DeleteWebhook(ctx context.Context, accountSID, serviceSID, sid string) error {
	err := s.transact(ctx, changeOne(s.stmts.deleteWebhook, sid, accountSID, serviceSID))
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", sid, s.translate(err))
	}
	return nil
}

// scanWebhook reads a webhook from a row of its table.
func scanWebhook(sc scanner) (store.Webhook, error) {
	var w store.Webhook
	var types string
	var created, updated int64
	if err := sc.Scan(&w.SID, &w.AccountSID, &w.ServiceSID, &w.FriendlyName, &types, &w.Status, &w.Version, &w.URL,
		&created, &updated); err != nil {
		return store.Webhook{}, err
	}
	w.EventTypes = decodeEventTypes(types)
	w.DateCreated, w.DateUpdated = fromUnix(created), fromUnix(updated)
	return w, nil
}

// encodeEventTypes returns the stored form of a webhook's event types:
// each between commas, as ",factor.created,*,", so that SQL finds a type
// by looking for it between commas. The PostgreSQL engine stores the same
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

// ClaimDeliveries implements store.Store. The committer runs one write at
// a time, so two claims never see the same row due.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	if err := checkClaim(lease, limit); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	var ds []store.Delivery
	err := s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		ds, err = list(ctx, tx.StmtContext(ctx, s.stmts.claimDeliveries), scanDelivery,
			unix(now), unix(now.Add(lease)), limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", s.translate(err))
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
	err := s.transact(ctx, changeOne(s.stmts.finishDelivery,
		r.Status, r.Error, optUnix(finished), optUnix(next), eventID, webhookSID))
	if err != nil {
		return fmt.Errorf("finish delivery of %s to %s: %w", eventID, webhookSID, s.translate(err))
	}
	return nil
}

// finish returns what r makes of a delivery: when it finished, if it did
// (delivered or given up), or else when to try again.
func finish(r store.DeliveryResult) (finished, next *time.Time) {
	if r.Delivered || r.Next.IsZero() {
		return &r.At, nil
	}
	return nil, &r.Next
}

// optUnix returns the stored form of an optional time: NULL for nil.
func optUnix(t *time.Time) any {
	if t == nil {
		return nil
	}
	return unix(*t)
}

// PruneDeliveries implements store.Store.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.stmts.pruneDeliveries).ExecContext(ctx, unix(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", s.translate(err))
	}
	return int(n), nil
}

// scanDelivery reads a delivery from a row of its table.
func scanDelivery(sc scanner) (store.Delivery, error) {
	var d store.Delivery
	var created, next int64
	if err := sc.Scan(&d.EventID, &d.EventType, &d.WebhookSID, &d.AccountSID, &d.ServiceSID, &d.URL, &d.Body,
		&d.Attempts, &created, &next); err != nil {
		return store.Delivery{}, err
	}
	d.Created, d.NextAttempt = fromUnix(created), fromUnix(next)
	return d, nil
}
