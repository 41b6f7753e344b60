package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/verifykit/verifykit/internal/store"
)

// The columns of challenges and notifications, in the order their scan
// functions read them.
const (
	challengeCols = `sid, account_sid, service_sid, entity_sid, identity, factor_sid, status,
details, hidden_details, metadata, date_created, date_updated, date_responded, expiration_date`
	notificationCols = `sid, account_sid, service_sid, entity_sid, identity, challenge_sid, factor_sid, message, priority, ttl, date_created`
)

// challengeSpecs returns the specs of the statements of challenges and
// notifications.
func (st *statements) challengeSpecs(writer, reader *sql.DB) []stmtSpec {
	specs := []stmtSpec{
		// The challenge takes its entity from the factor, which the
		// WHERE clause finds only in the caller's account, service and
		// entity: no row, no challenge.
		{&st.createChallenge, writer, `INSERT INTO challenges (` + challengeCols + `)
SELECT ?, account_sid, service_sid, entity_sid, identity, sid, 'pending', ?, ?, NULL, ?, ?, NULL, ?
FROM factors WHERE sid = ? AND account_sid = ? AND service_sid = ? AND identity = ?
RETURNING ` + challengeCols},
		// Only a pending challenge that has not expired at the answer's
		// time is answered; see AnswerChallenge.
		{&st.answerChallenge, writer, `UPDATE challenges SET status = ?, metadata = ?, date_responded = ?, date_updated = ?
WHERE sid = ? AND account_sid = ? AND service_sid = ? AND identity = ? AND status = 'pending' AND expiration_date > ?
RETURNING ` + challengeCols},
		{&st.challengeState, writer, `SELECT status, expiration_date FROM challenges
WHERE sid = ? AND account_sid = ? AND service_sid = ? AND identity = ?`},
		{&st.createNotification, writer, `INSERT INTO notifications (` + notificationCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.resendNotification, writer, `INSERT INTO notifications (` + notificationCols + `)
SELECT ?, account_sid, service_sid, entity_sid, identity, sid, factor_sid, json_extract(details, '$.message'), ?, ?, ?
FROM challenges
WHERE sid = ? AND account_sid = ? AND service_sid = ? AND identity = ? AND status = 'pending' AND expiration_date > ?
RETURNING ` + notificationCols},
		{&st.fetchChallenge, reader, `SELECT ` + challengeCols + ` FROM challenges
WHERE sid = ? AND account_sid = ? AND service_sid = ? AND identity = ?`},
	}
	return append(specs, st.listNotifications.queries(reader, `SELECT `+notificationCols+` FROM notifications
WHERE factor_sid = ? AND account_sid = ? AND service_sid = ? AND identity = ?`)...)
}

// CreateChallenge implements store.Store.
func (s *Store) CreateChallenge(ctx context.Context, c store.Challenge, n store.Notification) (store.Challenge, error) {
	details, err := encodeDetails(c.Details)
	if err != nil {
		return store.Challenge{}, fmt.Errorf("create challenge %s: %w", c.SID, err)
	}
	hidden, err := encodeMetadata(c.HiddenDetails)
	if err != nil {
		return store.Challenge{}, fmt.Errorf("create challenge %s: %w", c.SID, err)
	}
	var stored store.Challenge
	err = s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		stored, err = scanChallenge(tx.StmtContext(ctx, s.stmts.createChallenge).QueryRowContext(ctx,
			c.SID, details, hidden, unix(c.DateCreated), unix(c.DateUpdated), unix(c.ExpirationDate),
			c.FactorSID, c.AccountSID, c.ServiceSID, c.Identity))
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.stmts.createNotification).ExecContext(ctx,
			n.SID, stored.AccountSID, stored.ServiceSID, stored.EntitySID, stored.Identity, stored.SID, stored.FactorSID,
			stored.Details.Message, n.Priority, n.TTL, unix(n.DateCreated)); err != nil {
			return fmt.Errorf("notification %s: %w", n.SID, err)
		}
		return nil
	})
	if err != nil {
		return store.Challenge{}, fmt.Errorf("create challenge %s: %w", c.SID, s.translate(err))
	}
	return stored, nil
}

// FetchChallenge implements store.Store.
func (s *Store) FetchChallenge(ctx context.Context, accountSID, serviceSID, identity, sid string, now time.Time) (store.Challenge, error) {
	c, err := scanChallenge(s.stmts.fetchChallenge.QueryRowContext(ctx, sid, accountSID, serviceSID, identity))
	if err != nil {
		return store.Challenge{}, fmt.Errorf("fetch challenge %s: %w", sid, s.translate(err))
	}
	return expireOnRead(c, now), nil
}

// ListChallenges implements store.Store. Its query depends on the filter,
// so it is not prepared: its variants would be many, and a list is rare.
func (s *Store) ListChallenges(ctx context.Context, accountSID, serviceSID, identity string, f store.ChallengeFilter, p store.Page) ([]store.Challenge, bool, error) {
	base, args, err := challengeFilter(f, accountSID, serviceSID, identity)
	if err != nil {
		return nil, false, fmt.Errorf("list challenges of entity %q: %w", identity, err)
	}
	query, q, err := pageText(base, p, f.Desc, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list challenges of entity %q: %w", identity, err)
	}
	cs, err := listText(ctx, s.reader, query, scanChallenge, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list challenges of entity %q: %w", identity, s.translate(err))
	}
	cs, more := trim(q, cs)
	for i := range cs {
		cs[i] = expireOnRead(cs[i], f.Now)
	}
	return cs, more, nil
}

// challengeFilter returns the SELECT of the entity's challenges that f
// picks, and its arguments. A pending challenge has expired when its
// expiration date is not after now, as expireOnRead decides.
func challengeFilter(f store.ChallengeFilter, accountSID, serviceSID, identity string) (string, []any, error) {
	var b strings.Builder
	// The subquery finds the entity through its unique key, once, so the
	// challenges come from challenges_by_entity.
	b.WriteString(`SELECT ` + challengeCols + ` FROM challenges
WHERE entity_sid = (SELECT sid FROM entities WHERE account_sid = ? AND service_sid = ? AND identity = ?)`)
	args := []any{accountSID, serviceSID, identity}
	if f.FactorSID != "" {
		b.WriteString(` AND factor_sid = ?`)
		args = append(args, f.FactorSID)
	}
	switch f.Status {
	case "":
	case store.ChallengePending:
		b.WriteString(` AND status = 'pending' AND expiration_date > ?`)
		args = append(args, unix(f.Now))
	case store.ChallengeExpired:
		b.WriteString(` AND status = 'pending' AND expiration_date <= ?`)
		args = append(args, unix(f.Now))
	case store.ChallengeApproved, store.ChallengeDenied:
		b.WriteString(` AND status = ?`)
		args = append(args, f.Status)
	default:
		return "", nil, fmt.Errorf("unknown challenge status %q", f.Status)
	}
	return b.String(), args, nil
}

// pageText returns the query that reads page p of the records base picks,
// for a list whose query is built per call, and how to read its result
// (see trim). The list is in ascending order of (date_created, sid), or
// descending when desc; After and Before follow that order. Like
// pageStmts.query, it asks for one item more than the page holds.
func pageText(base string, p store.Page, desc bool, owner ...any) (string, pageQuery, error) {
	if p.Limit < 1 {
		return "", pageQuery{}, fmt.Errorf("page limit is %d, want at least 1", p.Limit)
	}
	if p.After != nil && p.Before != nil {
		return "", pageQuery{}, errors.New("page has both an After and a Before cursor")
	}
	n := p.Limit
	if n < math.MaxInt {
		n++
	}
	// forward is the listed order, and ahead the cursor condition of the
	// items after a cursor in it; backward reads before a cursor, nearest
	// first, for trim to reverse.
	forward, backward, ahead, behind := `date_created, sid`, `date_created DESC, sid DESC`, `>`, `<`
	if desc {
		forward, backward, ahead, behind = backward, forward, behind, ahead
	}
	q := pageQuery{limit: p.Limit, args: owner}
	query := base + ` ORDER BY ` + forward + ` LIMIT ?`
	switch {
	case p.After != nil:
		query = base + ` AND (date_created, sid) ` + ahead + ` (?, ?) ORDER BY ` + forward + ` LIMIT ?`
		q.args = append(q.args, unix(p.After.Created), p.After.SID)
	case p.Before != nil:
		query = base + ` AND (date_created, sid) ` + behind + ` (?, ?) ORDER BY ` + backward + ` LIMIT ?`
		q.args = append(q.args, unix(p.Before.Created), p.Before.SID)
		q.backward = true
	}
	q.args = append(q.args, n)
	return query, q, nil
}

// listText runs query, which is not prepared, on db and scans every row
// with scan.
func listText[T any](ctx context.Context, db *sql.DB, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// AnswerChallenge implements store.Store. The UPDATE's WHERE clause is the
// whole decision, and the committer runs one write at a time, so of two
// answers the second finds the challenge answered.
func (s *Store) AnswerChallenge(ctx context.Context, accountSID, serviceSID, identity, sid string, a store.Answer, events store.Events[store.Challenge]) (store.Challenge, error) {
	if a.Status != store.ChallengeApproved && a.Status != store.ChallengeDenied {
		return store.Challenge{}, fmt.Errorf("answer challenge %s: status %q is not an answer", sid, a.Status)
	}
	metadata, err := encodeMetadata(a.Metadata)
	if err != nil {
		return store.Challenge{}, fmt.Errorf("answer challenge %s: %w", sid, err)
	}
	var answered store.Challenge
	err = s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		answered, err = scanChallenge(tx.StmtContext(ctx, s.stmts.answerChallenge).QueryRowContext(ctx,
			a.Status, metadata, unix(a.At), unix(a.At),
			sid, accountSID, serviceSID, identity, unix(a.At)))
		if errors.Is(err, sql.ErrNoRows) {
			return s.unanswerable(ctx, tx, accountSID, serviceSID, identity, sid, a.At)
		}
		if err != nil {
			return err
		}
		return s.record(ctx, tx, emit(events, answered))
	})
	if err != nil {
		return store.Challenge{}, fmt.Errorf("answer challenge %s: %w", sid, s.translate(err))
	}
	return answered, nil
}

// unanswerable returns why the challenge cannot be answered, or have a
// push sent for it, at at: store.ErrNotFound, ErrAnswered or ErrExpired.
func (s *Store) unanswerable(ctx context.Context, tx *sql.Tx, accountSID, serviceSID, identity, sid string, at time.Time) error {
	var status string
	var expires int64
	if err := tx.StmtContext(ctx, s.stmts.challengeState).QueryRowContext(ctx, sid, accountSID, serviceSID, identity).
		Scan(&status, &expires); err != nil {
		return err
	}
	return whyNot(status, fromUnix(expires), at)
}

// whyNot returns why a challenge with that stored status and expiration
// date could not be changed at at.
func whyNot(status string, expires, at time.Time) error {
	switch {
	case status != store.ChallengePending:
		return fmt.Errorf("challenge is %s: %w", status, store.ErrAnswered)
	case !expires.After(at):
		return fmt.Errorf("challenge expired at %s: %w", expires.Format(time.RFC3339), store.ErrExpired)
	}
	// Pending and live, yet the change found nothing: only a challenge
	// created since could be, and the change did not see it.
	return store.ErrNotFound
}

// CreateNotification implements store.Store.
func (s *Store) CreateNotification(ctx context.Context, n store.Notification) (store.Notification, error) {
	var stored store.Notification
	err := s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		stored, err = scanNotification(tx.StmtContext(ctx, s.stmts.resendNotification).QueryRowContext(ctx,
			n.SID, n.Priority, n.TTL, unix(n.DateCreated),
			n.ChallengeSID, n.AccountSID, n.ServiceSID, n.Identity, unix(n.DateCreated)))
		if errors.Is(err, sql.ErrNoRows) {
			return s.unanswerable(ctx, tx, n.AccountSID, n.ServiceSID, n.Identity, n.ChallengeSID, n.DateCreated)
		}
		return err
	})
	if err != nil {
		return store.Notification{}, fmt.Errorf("create notification %s: %w", n.SID, s.translate(err))
	}
	return stored, nil
}

// ListNotifications implements store.Store.
func (s *Store) ListNotifications(ctx context.Context, accountSID, serviceSID, identity, factorSID string, p store.Page) ([]store.Notification, bool, error) {
	q, err := s.stmts.listNotifications.query(p, factorSID, accountSID, serviceSID, identity)
	if err != nil {
		return nil, false, fmt.Errorf("list notifications of factor %s: %w", factorSID, err)
	}
	ns, err := list(ctx, q.stmt, scanNotification, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list notifications of factor %s: %w", factorSID, s.translate(err))
	}
	ns, more := trim(q, ns)
	return ns, more, nil
}

// scanChallenge reads a challenge from a row of its table, with its status
// as stored.
func scanChallenge(sc scanner) (store.Challenge, error) {
	var c store.Challenge
	var details string
	var hidden, metadata *string
	var created, updated, expires int64
	var responded *int64
	if err := sc.Scan(&c.SID, &c.AccountSID, &c.ServiceSID, &c.EntitySID, &c.Identity, &c.FactorSID, &c.Status,
		&details, &hidden, &metadata, &created, &updated, &responded, &expires); err != nil {
		return store.Challenge{}, err
	}
	var err error
	if c.Details, err = decodeDetails(details); err != nil {
		return store.Challenge{}, fmt.Errorf("challenge %s: %w", c.SID, err)
	}
	if c.HiddenDetails, err = decodeMetadata(hidden); err != nil {
		return store.Challenge{}, fmt.Errorf("challenge %s hidden details: %w", c.SID, err)
	}
	if c.Metadata, err = decodeMetadata(metadata); err != nil {
		return store.Challenge{}, fmt.Errorf("challenge %s: %w", c.SID, err)
	}
	c.DateCreated, c.DateUpdated, c.ExpirationDate = fromUnix(created), fromUnix(updated), fromUnix(expires)
	if responded != nil {
		at := fromUnix(*responded)
		c.DateResponded = &at
	}
	return c, nil
}

// expireOnRead returns c as read at now: expired if it is pending and its
// expiration date is not after now. The stored expiration date is whole
// seconds, so comparing it with now or with now truncated is the same.
func expireOnRead(c store.Challenge, now time.Time) store.Challenge {
	if c.Status == store.ChallengePending && !c.ExpirationDate.After(now) {
		c.Status = store.ChallengeExpired
	}
	return c
}

// scanNotification reads a notification from a row of its table.
func scanNotification(sc scanner) (store.Notification, error) {
	var n store.Notification
	var created int64
	if err := sc.Scan(&n.SID, &n.AccountSID, &n.ServiceSID, &n.EntitySID, &n.Identity, &n.ChallengeSID, &n.FactorSID,
		&n.Message, &n.Priority, &n.TTL, &created); err != nil {
		return store.Notification{}, err
	}
	n.DateCreated = fromUnix(created)
	return n, nil
}

// detailsJSON is the stored form of store.ChallengeDetails. The PostgreSQL
// engine stores the same text.
type detailsJSON struct {
	Message string      `json:"message"`
	Fields  []fieldJSON `json:"fields"`
}

// fieldJSON is the stored form of a store.ChallengeField.
type fieldJSON struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// encodeDetails returns the stored form of d. No fields, nil or empty,
// are stored as an empty list.
func encodeDetails(d store.ChallengeDetails) (string, error) {
	v := detailsJSON{Message: d.Message, Fields: make([]fieldJSON, 0, len(d.Fields))}
	for _, f := range d.Fields {
		v.Fields = append(v.Fields, fieldJSON(f))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode details: %w", err)
	}
	return string(b), nil
}

// decodeDetails reverses encodeDetails. Fields is never nil.
func decodeDetails(text string) (store.ChallengeDetails, error) {
	var v detailsJSON
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return store.ChallengeDetails{}, fmt.Errorf("decode details: %w", err)
	}
	d := store.ChallengeDetails{Message: v.Message, Fields: make([]store.ChallengeField, 0, len(v.Fields))}
	for _, f := range v.Fields {
		d.Fields = append(d.Fields, store.ChallengeField(f))
	}
	return d, nil
}
