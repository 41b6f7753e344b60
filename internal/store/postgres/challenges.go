package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/verifykit/verifykit/internal/store"
)

// The queries of challenges and notifications.
const (
	challengeCols = `sid, account_sid, service_sid, entity_sid, identity, factor_sid, status,
details, hidden_details, metadata, date_created, date_updated, date_responded, expiration_date`
	notificationCols = `sid, account_sid, service_sid, entity_sid, identity, challenge_sid, factor_sid, message, priority, ttl, date_created`

	// createChallengeSQL takes the challenge's entity from the factor,
	// which its WHERE clause finds only in the caller's account, service
	// and entity: no row, no challenge.
	createChallengeSQL = `INSERT INTO challenges (` + challengeCols + `)
SELECT $1, account_sid, service_sid, entity_sid, identity, sid, 'pending', $2, $3, NULL, $4, $5, NULL, $6
FROM factors WHERE sid = $7 AND account_sid = $8 AND service_sid = $9 AND identity = $10
RETURNING ` + challengeCols
	createNotificationSQL = `INSERT INTO notifications (` + notificationCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	fetchChallengeSQL     = `SELECT ` + challengeCols + ` FROM challenges
WHERE sid = $1 AND account_sid = $2 AND service_sid = $3 AND identity = $4`

	// answerChallengeSQL answers only a pending challenge that has not
	// expired at the answer's time. Of two at once, the second waits for
	// the first's row lock, then evaluates its WHERE clause again on the
	// row the first stored (READ COMMITTED), which is no longer pending.
	answerChallengeSQL = `UPDATE challenges SET status = $1, metadata = $2, date_responded = $3, date_updated = $3
WHERE sid = $4 AND account_sid = $5 AND service_sid = $6 AND identity = $7 AND status = 'pending' AND expiration_date > $3
RETURNING ` + challengeCols
	challengeStateSQL = `SELECT status, expiration_date FROM challenges
WHERE sid = $1 AND account_sid = $2 AND service_sid = $3 AND identity = $4`

	// resendNotificationSQL records a push of a challenge that is pending
	// and has not expired at its time. FOR SHARE holds off an answer (whose
	// UPDATE waits) until the push is stored, and makes the push wait for
	// an answer under way, then find the challenge answered.
	resendNotificationSQL = `INSERT INTO notifications (` + notificationCols + `)
SELECT $1, account_sid, service_sid, entity_sid, identity, sid, factor_sid, details::jsonb ->> 'message', $2, $3, $4
FROM challenges
WHERE sid = $5 AND account_sid = $6 AND service_sid = $7 AND identity = $8 AND status = 'pending' AND expiration_date > $4
FOR SHARE
RETURNING ` + notificationCols

	listNotificationsSQL = `SELECT ` + notificationCols + ` FROM notifications
WHERE factor_sid = $1 AND account_sid = $2 AND service_sid = $3 AND identity = $4`
	listNotificationsFirstSQL  = listNotificationsSQL + ` ORDER BY date_created, sid LIMIT $5`
	listNotificationsAfterSQL  = listNotificationsSQL + ` AND (date_created, sid) > ($5, $6) ORDER BY date_created, sid LIMIT $7`
	listNotificationsBeforeSQL = listNotificationsSQL + ` AND (date_created, sid) < ($5, $6) ORDER BY date_created DESC, sid DESC LIMIT $7`
)

// CreateChallenge implements store.Store.
func (s *Store) CreateChallenge(ctx context.Context, c store.Challenge, n store.Notification) (store.Challenge, error) {
	stored, err := s.createChallenge(ctx, c, n)
	if err != nil {
		return store.Challenge{}, fmt.Errorf("create challenge %s: %w", c.SID, err)
	}
	return stored, nil
}

// createChallenge does the work of CreateChallenge.
func (s *Store) createChallenge(ctx context.Context, c store.Challenge, n store.Notification) (store.Challenge, error) {
	details, err := encodeDetails(c.Details)
	if err != nil {
		return store.Challenge{}, err
	}
	hidden, err := encodeMetadata(c.HiddenDetails)
	if err != nil {
		return store.Challenge{}, err
	}
	if err := s.check(); err != nil {
		return store.Challenge{}, err
	}
	var stored store.Challenge
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		stored, err = scanChallenge(tx.QueryRow(ctx, createChallengeSQL,
			c.SID, details, hidden, toDB(c.DateCreated), toDB(c.DateUpdated), toDB(c.ExpirationDate),
			c.FactorSID, c.AccountSID, c.ServiceSID, c.Identity))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createNotificationSQL,
			n.SID, stored.AccountSID, stored.ServiceSID, stored.EntitySID, stored.Identity, stored.SID, stored.FactorSID,
			stored.Details.Message, n.Priority, n.TTL, toDB(n.DateCreated)); err != nil {
			return fmt.Errorf("notification %s: %w", n.SID, err)
		}
		return nil
	})
	if err != nil {
		return store.Challenge{}, s.translate(ctx, err)
	}
	return stored, nil
}

// FetchChallenge implements store.Store.
func (s *Store) FetchChallenge(ctx context.Context, accountSID, serviceSID, identity, sid string, now time.Time) (store.Challenge, error) {
	c, err := fetch(ctx, s, scanChallenge, fetchChallengeSQL, sid, accountSID, serviceSID, identity)
	if err != nil {
		return store.Challenge{}, fmt.Errorf("fetch challenge %s: %w", sid, err)
	}
	return expireOnRead(c, now), nil
}

// ListChallenges implements store.Store. Its query depends on the filter;
// pgx caches each variant it sees once per connection.
func (s *Store) ListChallenges(ctx context.Context, accountSID, serviceSID, identity string, f store.ChallengeFilter, p store.Page) ([]store.Challenge, bool, error) {
	var b sqlText
	if err := challengeFilter(&b, f, accountSID, serviceSID, identity); err != nil {
		return nil, false, fmt.Errorf("list challenges of entity %q: %w", identity, err)
	}
	q, err := pageText(&b, p, f.Desc)
	if err != nil {
		return nil, false, fmt.Errorf("list challenges of entity %q: %w", identity, err)
	}
	cs, err := list(ctx, s, scanChallenge, q.sql, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list challenges of entity %q: %w", identity, err)
	}
	cs, more := trim(q, cs)
	for i := range cs {
		cs[i] = expireOnRead(cs[i], f.Now)
	}
	return cs, more, nil
}

// sqlText builds a query and its arguments.
type sqlText struct {
	b    strings.Builder
	args []any
}

// add appends text to the query.
func (q *sqlText) add(text string) { q.b.WriteString(text) }

// arg adds v to the arguments and appends its placeholder to the query.
func (q *sqlText) arg(v any) {
	q.args = append(q.args, v)
	q.b.WriteString("$" + strconv.Itoa(len(q.args)))
}

// challengeFilter writes the SELECT of the entity's challenges that f
// picks. A pending challenge has expired when its expiration date is not
// after now, as expireOnRead decides.
func challengeFilter(q *sqlText, f store.ChallengeFilter, accountSID, serviceSID, identity string) error {
	// The subquery finds the entity through its unique key, once, so the
	// challenges come from challenges_by_entity.
	q.add(`SELECT ` + challengeCols + ` FROM challenges WHERE entity_sid = (SELECT sid FROM entities WHERE account_sid = `)
	q.arg(accountSID)
	q.add(` AND service_sid = `)
	q.arg(serviceSID)
	q.add(` AND identity = `)
	q.arg(identity)
	q.add(`)`)
	if f.FactorSID != "" {
		q.add(` AND factor_sid = `)
		q.arg(f.FactorSID)
	}
	switch f.Status {
	case "":
	case store.ChallengePending:
		q.add(` AND status = 'pending' AND expiration_date > `)
		q.arg(toDB(f.Now))
	case store.ChallengeExpired:
		q.add(` AND status = 'pending' AND expiration_date <= `)
		q.arg(toDB(f.Now))
	case store.ChallengeApproved, store.ChallengeDenied:
		q.add(` AND status = `)
		q.arg(f.Status)
	default:
		return fmt.Errorf("unknown challenge status %q", f.Status)
	}
	return nil
}

// pageText completes q, the SELECT of a list's records, to read page p,
// for a list whose query is built per call. The list is in ascending
// order of (date_created, sid), or descending when desc; After and Before
// follow that order. Like pageSQL.query, it asks for one item more than
// the page holds.
func pageText(q *sqlText, p store.Page, desc bool) (pageQuery, error) {
	if p.Limit < 1 {
		return pageQuery{}, fmt.Errorf("page limit is %d, want at least 1", p.Limit)
	}
	if p.After != nil && p.Before != nil {
		return pageQuery{}, errors.New("page has both an After and a Before cursor")
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
	pq := pageQuery{limit: p.Limit}
	order := forward
	cursor := func(c *store.Cursor, op string) {
		q.add(` AND (date_created, sid) ` + op + ` (`)
		q.arg(toDB(c.Created))
		q.add(`, `)
		q.arg(c.SID)
		q.add(`)`)
	}
	switch {
	case p.After != nil:
		cursor(p.After, ahead)
	case p.Before != nil:
		cursor(p.Before, behind)
		order, pq.backward = backward, true
	}
	q.add(` ORDER BY ` + order + ` LIMIT `)
	q.arg(n)
	pq.sql, pq.args = q.b.String(), q.args
	return pq, nil
}

// AnswerChallenge implements store.Store, in one transaction: the
// conditional UPDATE (answerChallengeSQL), and the events of the
// challenge as answered; or, when the UPDATE changed nothing, the read
// that tells why.
func (s *Store) AnswerChallenge(ctx context.Context, accountSID, serviceSID, identity, sid string, a store.Answer, events store.Events[store.Challenge]) (store.Challenge, error) {
	answered, err := s.answerChallenge(ctx, accountSID, serviceSID, identity, sid, a, events)
	if err != nil {
		return store.Challenge{}, fmt.Errorf("answer challenge %s: %w", sid, err)
	}
	return answered, nil
}

// answerChallenge does the work of AnswerChallenge.
func (s *Store) answerChallenge(ctx context.Context, accountSID, serviceSID, identity, sid string, a store.Answer, events store.Events[store.Challenge]) (store.Challenge, error) {
	if a.Status != store.ChallengeApproved && a.Status != store.ChallengeDenied {
		return store.Challenge{}, fmt.Errorf("status %q is not an answer", a.Status)
	}
	metadata, err := encodeMetadata(a.Metadata)
	if err != nil {
		return store.Challenge{}, err
	}
	if err := s.check(); err != nil {
		return store.Challenge{}, err
	}
	var answered store.Challenge
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		answered, err = scanChallenge(tx.QueryRow(ctx, answerChallengeSQL,
			a.Status, metadata, toDB(a.At), sid, accountSID, serviceSID, identity))
		if errors.Is(err, pgx.ErrNoRows) {
			return unanswerable(ctx, tx, accountSID, serviceSID, identity, sid, a.At)
		}
		if err != nil {
			return err
		}
		return record(ctx, tx, emit(events, answered))
	})
	if err != nil {
		return store.Challenge{}, s.translate(ctx, err)
	}
	return answered, nil
}

// unanswerable returns why the challenge cannot be answered, or have a
// push sent for it, at at: store.ErrNotFound, ErrAnswered or ErrExpired.
func unanswerable(ctx context.Context, tx pgx.Tx, accountSID, serviceSID, identity, sid string, at time.Time) error {
	var status string
	var expires time.Time
	if err := tx.QueryRow(ctx, challengeStateSQL, sid, accountSID, serviceSID, identity).Scan(&status, &expires); err != nil {
		return err
	}
	return whyNot(status, fromDB(expires), at)
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
	if err := s.check(); err != nil {
		return store.Notification{}, fmt.Errorf("create notification %s: %w", n.SID, err)
	}
	var stored store.Notification
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		stored, err = scanNotification(tx.QueryRow(ctx, resendNotificationSQL,
			n.SID, n.Priority, n.TTL, toDB(n.DateCreated),
			n.ChallengeSID, n.AccountSID, n.ServiceSID, n.Identity))
		if errors.Is(err, pgx.ErrNoRows) {
			return unanswerable(ctx, tx, n.AccountSID, n.ServiceSID, n.Identity, n.ChallengeSID, n.DateCreated)
		}
		return err
	})
	if err != nil {
		return store.Notification{}, fmt.Errorf("create notification %s: %w", n.SID, s.translate(ctx, err))
	}
	return stored, nil
}

// ListNotifications implements store.Store.
func (s *Store) ListNotifications(ctx context.Context, accountSID, serviceSID, identity, factorSID string, p store.Page) ([]store.Notification, bool, error) {
	q, err := pageSQL{listNotificationsFirstSQL, listNotificationsAfterSQL, listNotificationsBeforeSQL}.query(p, factorSID, accountSID, serviceSID, identity)
	if err != nil {
		return nil, false, fmt.Errorf("list notifications of factor %s: %w", factorSID, err)
	}
	ns, err := list(ctx, s, scanNotification, q.sql, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list notifications of factor %s: %w", factorSID, err)
	}
	ns, more := trim(q, ns)
	return ns, more, nil
}

// scanChallenge reads a challenge from a row of its table, with its status
// as stored.
func scanChallenge(row pgx.Row) (store.Challenge, error) {
	var c store.Challenge
	var details string
	var hidden, metadata *string
	var created, updated, expires time.Time
	var responded *time.Time
	if err := row.Scan(&c.SID, &c.AccountSID, &c.ServiceSID, &c.EntitySID, &c.Identity, &c.FactorSID, &c.Status,
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
	c.DateCreated, c.DateUpdated, c.ExpirationDate = fromDB(created), fromDB(updated), fromDB(expires)
	if responded != nil {
		at := fromDB(*responded)
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
func scanNotification(row pgx.Row) (store.Notification, error) {
	var n store.Notification
	var created time.Time
	if err := row.Scan(&n.SID, &n.AccountSID, &n.ServiceSID, &n.EntitySID, &n.Identity, &n.ChallengeSID, &n.FactorSID,
		&n.Message, &n.Priority, &n.TTL, &created); err != nil {
		return store.Notification{}, err
	}
	n.DateCreated = fromDB(created)
	return n, nil
}

// detailsJSON is the stored form of store.ChallengeDetails. The SQLite
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
