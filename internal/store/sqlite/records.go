package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/verifykit/verifykit/internal/store"
)

// statements are the store's queries, prepared once at Open on the pool
// that runs them.
type statements struct {
	createAccount, fetchAccount, listAccounts *sql.Stmt
	createAPIKey, fetchAPIKey, listAPIKeys    *sql.Stmt
	createService, fetchService, listServices *sql.Stmt
	createAccessToken, fetchAccessToken       *sql.Stmt
	addTokenKey, tokenKeys                    *sql.Stmt

	// Entities and factors; see push.go. The writer's statements run in
	// the committer's transactions through tx.StmtContext.
	createEntity, findEntity, deleteEntity            *sql.Stmt
	countFactors, useToken, createFactor              *sql.Stmt
	updateFactor, deleteFactor                        *sql.Stmt
	fetchEntity, fetchFactor, fetchFactorByCredential *sql.Stmt
	listEntities, listFactors                         pageStmts

	// Factors as they were, for the events of a change; see push.go.
	currentFactor, deleteEntityFactors *sql.Stmt

	// Challenges and notifications (challenges.go), webhooks and
	// deliveries (webhooks.go).
	createChallenge, answerChallenge, challengeState *sql.Stmt
	createNotification, resendNotification           *sql.Stmt
	createWebhook, updateWebhook, deleteWebhook      *sql.Stmt
	recordEvent, claimDeliveries, finishDelivery     *sql.Stmt
	followWebhook, dropDeliveries, pruneDeliveries   *sql.Stmt
	fetchChallenge, fetchWebhook, lockWebhook        *sql.Stmt
	listNotifications, listWebhooks                  pageStmts

	// all is every statement prepared, for close.
	all []*sql.Stmt
}

// prepare prepares every statement: writes on writer, reads on reader.
func (st *statements) prepare(ctx context.Context, writer, reader *sql.DB) error {
	const (
		accountCols = `sid, friendly_name, auth_token_hash, date_created`
		apiKeyCols  = `sid, account_sid, friendly_name, secret_hash, date_created`
		serviceCols = `sid, account_sid, friendly_name, date_created`
		tokenCols   = `sid, account_sid, service_sid, identity, factor_type, factor_friendly_name, ttl, token, date_created`
		keyCols     = `id, secret, created`
		entityCols  = `sid, account_sid, service_sid, identity, date_created, date_updated`
		factorCols  = `sid, account_sid, service_sid, entity_sid, identity, credential_sid, friendly_name, verified, public_key,
sdk_version, app_id, notification_platform, notification_token, metadata, date_created, date_updated`
	)
	list := []stmtSpec{
		{&st.createAccount, writer, `INSERT INTO accounts (` + accountCols + `) VALUES (?, ?, ?, ?)`},
		{&st.fetchAccount, reader, `SELECT ` + accountCols + ` FROM accounts WHERE sid = ?`},
		{&st.listAccounts, reader, `SELECT ` + accountCols + ` FROM accounts ORDER BY date_created, sid`},

		{&st.createAPIKey, writer, `INSERT INTO api_keys (` + apiKeyCols + `) VALUES (?, ?, ?, ?, ?)`},
		{&st.fetchAPIKey, reader, `SELECT ` + apiKeyCols + ` FROM api_keys WHERE sid = ?`},
		{&st.listAPIKeys, reader, `SELECT ` + apiKeyCols + ` FROM api_keys WHERE account_sid = ? ORDER BY date_created, sid`},

		{&st.createService, writer, `INSERT INTO services (` + serviceCols + `) VALUES (?, ?, ?, ?)`},
		{&st.fetchService, reader, `SELECT ` + serviceCols + ` FROM services WHERE sid = ? AND account_sid = ?`},
		{&st.listServices, reader, `SELECT ` + serviceCols + ` FROM services WHERE account_sid = ? ORDER BY date_created, sid`},

		// The composite foreign key (account_sid, service_sid) makes this one
		// statement also check that the service belongs to the account.
		{&st.createAccessToken, writer, `INSERT INTO access_tokens (` + tokenCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.fetchAccessToken, reader, `SELECT ` + tokenCols + ` FROM access_tokens WHERE sid = ? AND account_sid = ? AND service_sid = ?`},

		{&st.addTokenKey, writer, `INSERT INTO token_keys (` + keyCols + `) VALUES (?, ?, ?)`},
		{&st.tokenKeys, reader, `SELECT ` + keyCols + ` FROM token_keys ORDER BY created, id`},

		// The composite foreign key (account_sid, service_sid) makes the
		// insert check that the service belongs to the account.
		{&st.createEntity, writer, `INSERT INTO entities (` + entityCols + `) VALUES (?, ?, ?, ?, ?, ?)`},
		{&st.findEntity, writer, `SELECT sid, identity FROM entities WHERE account_sid = ? AND service_sid = ? AND identity = ?`},
		{&st.deleteEntity, writer, `DELETE FROM entities WHERE account_sid = ? AND service_sid = ? AND identity = ?`},
		{&st.countFactors, writer, `SELECT count(*) FROM factors WHERE entity_sid = ?`},
		{&st.useToken, writer, `INSERT INTO used_access_tokens (sid, date_used) VALUES (?, ?)`},
		{&st.createFactor, writer, `INSERT INTO factors (` + factorCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ` + factorCols},
		{&st.updateFactor, writer, `UPDATE factors SET friendly_name = ?, verified = (verified OR ?), sdk_version = ?, app_id = ?, notification_platform = ?, notification_token = ?, metadata = ?, date_updated = ?
WHERE sid = ? AND account_sid = ? AND service_sid = ? AND entity_sid = ?`},
		{&st.deleteFactor, writer, `DELETE FROM factors WHERE sid = ? AND account_sid = ? AND service_sid = ? AND identity = ? RETURNING ` + factorCols},
		{&st.currentFactor, writer, `SELECT ` + factorCols + ` FROM factors WHERE sid = ? AND account_sid = ? AND service_sid = ? AND entity_sid = ?`},
		{&st.deleteEntityFactors, writer, `DELETE FROM factors WHERE entity_sid = ? RETURNING ` + factorCols},

		{&st.fetchEntity, reader, `SELECT ` + entityCols + ` FROM entities WHERE account_sid = ? AND service_sid = ? AND identity = ?`},
		{&st.fetchFactor, reader, `SELECT ` + factorCols + ` FROM factors WHERE sid = ? AND account_sid = ? AND service_sid = ? AND identity = ?`},
		{&st.fetchFactorByCredential, reader, `SELECT ` + factorCols + ` FROM factors WHERE credential_sid = ?`},
	}
	list = append(list, st.challengeSpecs(writer, reader)...)
	list = append(list, st.webhookSpecs(writer, reader)...)
	list = append(list, st.listEntities.queries(reader, `SELECT `+entityCols+` FROM entities WHERE account_sid = ? AND service_sid = ?`)...)
	// The subquery finds the entity through its unique key, once, so the
	// factors come from factors_by_entity.
	list = append(list, st.listFactors.queries(reader, `SELECT `+factorCols+` FROM factors
WHERE entity_sid = (SELECT sid FROM entities WHERE account_sid = ? AND service_sid = ? AND identity = ?)`)...)
	for _, p := range list {
		stmt, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = stmt
		st.all = append(st.all, stmt)
	}
	return nil
}

// stmtSpec is a statement to prepare: its query, the pool it runs on, and
// where to keep it.
type stmtSpec struct {
	dst   **sql.Stmt
	db    *sql.DB
	query string
}

// close closes every prepared statement.
func (st *statements) close() error {
	var errs []error
	for _, stmt := range st.all {
		errs = append(errs, stmt.Close())
	}
	return errors.Join(errs...)
}

// scanner is the Scan method shared by *sql.Row and *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// list runs a prepared query and scans every row with scan.
func list[T any](ctx context.Context, stmt *sql.Stmt, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := stmt.QueryContext(ctx, args...)
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

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	err := s.exec(ctx, s.stmts.createAccount, a.SID, a.FriendlyName, a.AuthTokenHash, unix(a.DateCreated))
	if err != nil {
		return fmt.Errorf("create account %s: %w", a.SID, s.translate(err))
	}
	return nil
}

// FetchAccount implements store.Store.
func (s *Store) FetchAccount(ctx context.Context, sid string) (store.Account, error) {
	a, err := scanAccount(s.stmts.fetchAccount.QueryRowContext(ctx, sid))
	if err != nil {
		return store.Account{}, fmt.Errorf("fetch account %s: %w", sid, s.translate(err))
	}
	return a, nil
}

// ListAccounts implements store.Store.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	as, err := list(ctx, s.stmts.listAccounts, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", s.translate(err))
	}
	return as, nil
}

// scanAccount reads an account from a row of its table.
func scanAccount(sc scanner) (store.Account, error) {
	var a store.Account
	var created int64
	if err := sc.Scan(&a.SID, &a.FriendlyName, &a.AuthTokenHash, &created); err != nil {
		return store.Account{}, err
	}
	a.DateCreated = fromUnix(created)
	return a, nil
}

// CreateAPIKey implements store.Store.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	err := s.exec(ctx, s.stmts.createAPIKey, k.SID, k.AccountSID, k.FriendlyName, k.SecretHash, unix(k.DateCreated))
	if err != nil {
		return fmt.Errorf("create api key %s: %w", k.SID, s.translate(err))
	}
	return nil
}

// FetchAPIKey implements store.Store.
func (s *Store) FetchAPIKey(ctx context.Context, sid string) (store.APIKey, error) {
	k, err := scanAPIKey(s.stmts.fetchAPIKey.QueryRowContext(ctx, sid))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("fetch api key %s: %w", sid, s.translate(err))
	}
	return k, nil
}

// ListAPIKeys implements store.Store.
func (s *Store) ListAPIKeys(ctx context.Context, accountSID string) ([]store.APIKey, error) {
	ks, err := list(ctx, s.stmts.listAPIKeys, scanAPIKey, accountSID)
	if err != nil {
		return nil, fmt.Errorf("list api keys of %s: %w", accountSID, s.translate(err))
	}
	return ks, nil
}

// scanAPIKey reads an API key from a row of its table.
func scanAPIKey(sc scanner) (store.APIKey, error) {
	var k store.APIKey
	var created int64
	if err := sc.Scan(&k.SID, &k.AccountSID, &k.FriendlyName, &k.SecretHash, &created); err != nil {
		return store.APIKey{}, err
	}
	k.DateCreated = fromUnix(created)
	return k, nil
}

// CreateService implements store.Store.
func (s *Store) CreateService(ctx context.Context, v store.Service) error {
	err := s.exec(ctx, s.stmts.createService, v.SID, v.AccountSID, v.FriendlyName, unix(v.DateCreated))
	if err != nil {
		return fmt.Errorf("create service %s: %w", v.SID, s.translate(err))
	}
	return nil
}

// FetchService implements store.Store.
func (s *Store) FetchService(ctx context.Context, accountSID, sid string) (store.Service, error) {
	v, err := scanService(s.stmts.fetchService.QueryRowContext(ctx, sid, accountSID))
	if err != nil {
		return store.Service{}, fmt.Errorf("fetch service %s: %w", sid, s.translate(err))
	}
	return v, nil
}

// ListServices implements store.Store.
func (s *Store) ListServices(ctx context.Context, accountSID string) ([]store.Service, error) {
	vs, err := list(ctx, s.stmts.listServices, scanService, accountSID)
	if err != nil {
		return nil, fmt.Errorf("list services of %s: %w", accountSID, s.translate(err))
	}
	return vs, nil
}

// scanService reads a service from a row of its table.
func scanService(sc scanner) (store.Service, error) {
	var v store.Service
	var created int64
	if err := sc.Scan(&v.SID, &v.AccountSID, &v.FriendlyName, &created); err != nil {
		return store.Service{}, err
	}
	v.DateCreated = fromUnix(created)
	return v, nil
}

// CreateAccessToken implements store.Store.
func (s *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	err := s.exec(ctx, s.stmts.createAccessToken,
		t.SID, t.AccountSID, t.ServiceSID, t.Identity, t.FactorType,
		t.FactorFriendlyName, t.TTL, t.Token, unix(t.DateCreated))
	if err != nil {
		return fmt.Errorf("create access token %s: %w", t.SID, s.translate(err))
	}
	return nil
}

// FetchAccessToken implements store.Store.
func (s *Store) FetchAccessToken(ctx context.Context, accountSID, serviceSID, sid string) (store.AccessToken, error) {
	t, err := scanAccessToken(s.stmts.fetchAccessToken.QueryRowContext(ctx, sid, accountSID, serviceSID))
	if err != nil {
		return store.AccessToken{}, fmt.Errorf("fetch access token %s: %w", sid, s.translate(err))
	}
	return t, nil
}

// scanAccessToken reads an access token from a row of its table.
func scanAccessToken(sc scanner) (store.AccessToken, error) {
	var t store.AccessToken
	var created int64
	if err := sc.Scan(&t.SID, &t.AccountSID, &t.ServiceSID, &t.Identity, &t.FactorType,
		&t.FactorFriendlyName, &t.TTL, &t.Token, &created); err != nil {
		return store.AccessToken{}, err
	}
	t.DateCreated = fromUnix(created)
	return t, nil
}

// AddTokenKey implements store.Store.
func (s *Store) AddTokenKey(ctx context.Context, k store.TokenKey) error {
	err := s.exec(ctx, s.stmts.addTokenKey, k.ID, k.Secret, unix(k.Created))
	if err != nil {
		return fmt.Errorf("add token key %s: %w", k.ID, s.translate(err))
	}
	return nil
}

// TokenKeys implements store.Store.
func (s *Store) TokenKeys(ctx context.Context) ([]store.TokenKey, error) {
	ks, err := list(ctx, s.stmts.tokenKeys, scanTokenKey)
	if err != nil {
		return nil, fmt.Errorf("list token keys: %w", s.translate(err))
	}
	return ks, nil
}

// scanTokenKey reads a token key from a row of its table.
func scanTokenKey(sc scanner) (store.TokenKey, error) {
	var k store.TokenKey
	var created int64
	if err := sc.Scan(&k.ID, &k.Secret, &created); err != nil {
		return store.TokenKey{}, err
	}
	k.Created = fromUnix(created)
	return k, nil
}
