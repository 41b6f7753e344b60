package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/verifykit/verifykit/internal/store"
)

// The store's queries. pgx prepares each one once per connection and
// caches it.
const (
	accountCols = `sid, friendly_name, auth_token_hash, date_created`
	apiKeyCols  = `sid, account_sid, friendly_name, secret_hash, date_created`
	serviceCols = `sid, account_sid, friendly_name, date_created`
	tokenCols   = `sid, account_sid, service_sid, identity, factor_type, factor_friendly_name, ttl, token, date_created`
	keyCols     = `id, secret, created`

	createAccountSQL = `INSERT INTO accounts (` + accountCols + `) VALUES ($1, $2, $3, $4)`
	fetchAccountSQL  = `SELECT ` + accountCols + ` FROM accounts WHERE sid = $1`
	listAccountsSQL  = `SELECT ` + accountCols + ` FROM accounts ORDER BY date_created, sid`

	createAPIKeySQL = `INSERT INTO api_keys (` + apiKeyCols + `) VALUES ($1, $2, $3, $4, $5)`
	fetchAPIKeySQL  = `SELECT ` + apiKeyCols + ` FROM api_keys WHERE sid = $1`
	listAPIKeysSQL  = `SELECT ` + apiKeyCols + ` FROM api_keys WHERE account_sid = $1 ORDER BY date_created, sid`

	createServiceSQL = `INSERT INTO services (` + serviceCols + `) VALUES ($1, $2, $3, $4)`
	fetchServiceSQL  = `SELECT ` + serviceCols + ` FROM services WHERE sid = $1 AND account_sid = $2`
	listServicesSQL  = `SELECT ` + serviceCols + ` FROM services WHERE account_sid = $1 ORDER BY date_created, sid`

	// The composite foreign key (account_sid, service_sid) makes this one
	// statement also check that the service belongs to the account.
	createAccessTokenSQL = `INSERT INTO access_tokens (` + tokenCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	fetchAccessTokenSQL  = `SELECT ` + tokenCols + ` FROM access_tokens WHERE sid = $1 AND account_sid = $2 AND service_sid = $3`

	addTokenKeySQL = `INSERT INTO token_keys (` + keyCols + `) VALUES ($1, $2, $3)`
	tokenKeysSQL   = `SELECT ` + keyCols + ` FROM token_keys ORDER BY created, id`
)

// exec runs a write and translates its error.
func (s *Store) exec(ctx context.Context, sql string, args ...any) error {
	if err := s.check(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, sql, args...)
	return s.translate(ctx, err)
}

// read runs the read-only query q and translates its error. If q fails
// because the connection it got from the pool was lost, which is what the
// first call after the server restarted sees, read resets the pool and runs
// q once more on a fresh connection. Writes are not retried: a write whose
// connection broke may have been applied.
func read[T any](ctx context.Context, s *Store, q func() (T, error)) (T, error) {
	if err := s.check(); err != nil {
		var zero T
		return zero, err
	}
	v, err := q()
	if err != nil && lostConn(ctx, err) {
		s.pool.Reset()
		v, err = q()
	}
	return v, s.translate(ctx, err)
}

// lostConn reports whether err says that an established connection broke,
// and ctx leaves time to try another. A refused connection is not lost: a
// second attempt would be refused too.
func lostConn(ctx context.Context, err error) bool {
	var ce *pgconn.ConnectError
	return classify(ctx, err) == failBroken && !errors.As(err, &ce) && ctx.Err() == nil
}

// fetch runs a query for one row and scans it with scan; no row is
// store.ErrNotFound.
func fetch[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), sql string, args ...any) (T, error) {
	return read(ctx, s, func() (T, error) {
		return scan(s.pool.QueryRow(ctx, sql, args...))
	})
}

// list runs a query and scans every row with scan. No rows is a nil slice.
func list[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	return read(ctx, s, func() ([]T, error) {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return pgx.AppendRows([]T(nil), rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	})
}

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	if err := s.exec(ctx, createAccountSQL, a.SID, a.FriendlyName, a.AuthTokenHash, toDB(a.DateCreated)); err != nil {
		return fmt.Errorf("create account %s: %w", a.SID, err)
	}
	return nil
}

// FetchAccount implements store.Store.
func (s *Store) FetchAccount(ctx context.Context, sid string) (store.Account, error) {
	a, err := fetch(ctx, s, scanAccount, fetchAccountSQL, sid)
	if err != nil {
		return store.Account{}, fmt.Errorf("fetch account %s: %w", sid, err)
	}
	return a, nil
}

// ListAccounts implements store.Store.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	as, err := list(ctx, s, scanAccount, listAccountsSQL)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return as, nil
}

// scanAccount reads an account from a row of its table.
func scanAccount(row pgx.Row) (store.Account, error) {
	var a store.Account
	var created time.Time
	if err := row.Scan(&a.SID, &a.FriendlyName, &a.AuthTokenHash, &created); err != nil {
		return store.Account{}, err
	}
	a.DateCreated = fromDB(created)
	return a, nil
}

// CreateAPIKey implements store.Store.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if err := s.exec(ctx, createAPIKeySQL, k.SID, k.AccountSID, k.FriendlyName, k.SecretHash, toDB(k.DateCreated)); err != nil {
		return fmt.Errorf("create api key %s: %w", k.SID, err)
	}
	return nil
}

// FetchAPIKey implements store.Store.
func (s *Store) FetchAPIKey(ctx context.Context, sid string) (store.APIKey, error) {
	k, err := fetch(ctx, s, scanAPIKey, fetchAPIKeySQL, sid)
	if err != nil {
		return store.APIKey{}, fmt.Errorf("fetch api key %s: %w", sid, err)
	}
	return k, nil
}

// ListAPIKeys implements store.Store.
func (s *Store) ListAPIKeys(ctx context.Context, accountSID string) ([]store.APIKey, error) {
	ks, err := list(ctx, s, scanAPIKey, listAPIKeysSQL, accountSID)
	if err != nil {
		return nil, fmt.Errorf("list api keys of %s: %w", accountSID, err)
	}
	return ks, nil
}

// scanAPIKey reads an API key from a row of its table.
func scanAPIKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	var created time.Time
	if err := row.Scan(&k.SID, &k.AccountSID, &k.FriendlyName, &k.SecretHash, &created); err != nil {
		return store.APIKey{}, err
	}
	k.DateCreated = fromDB(created)
	return k, nil
}

// CreateService implements store.Store.
func (s *Store) CreateService(ctx context.Context, v store.Service) error {
	if err := s.exec(ctx, createServiceSQL, v.SID, v.AccountSID, v.FriendlyName, toDB(v.DateCreated)); err != nil {
		return fmt.Errorf("create service %s: %w", v.SID, err)
	}
	return nil
}

// FetchService implements store.Store.
func (s *Store) FetchService(ctx context.Context, accountSID, sid string) (store.Service, error) {
	v, err := fetch(ctx, s, scanService, fetchServiceSQL, sid, accountSID)
	if err != nil {
		return store.Service{}, fmt.Errorf("fetch service %s: %w", sid, err)
	}
	return v, nil
}

// ListServices implements store.Store.
func (s *Store) ListServices(ctx context.Context, accountSID string) ([]store.Service, error) {
	vs, err := list(ctx, s, scanService, listServicesSQL, accountSID)
	if err != nil {
		return nil, fmt.Errorf("list services of %s: %w", accountSID, err)
	}
	return vs, nil
}

// scanService reads a service from a row of its table.
func scanService(row pgx.Row) (store.Service, error) {
	var v store.Service
	var created time.Time
	if err := row.Scan(&v.SID, &v.AccountSID, &v.FriendlyName, &created); err != nil {
		return store.Service{}, err
	}
	v.DateCreated = fromDB(created)
	return v, nil
}

// CreateAccessToken implements store.Store.
func (s *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	err := s.exec(ctx, createAccessTokenSQL,
		t.SID, t.AccountSID, t.ServiceSID, t.Identity, t.FactorType,
		t.FactorFriendlyName, t.TTL, t.Token, toDB(t.DateCreated))
	if err != nil {
		return fmt.Errorf("create access token %s: %w", t.SID, err)
	}
	return nil
}

// FetchAccessToken implements store.Store.
func (s *Store) FetchAccessToken(ctx context.Context, accountSID, serviceSID, sid string) (store.AccessToken, error) {
	t, err := fetch(ctx, s, scanAccessToken, fetchAccessTokenSQL, sid, accountSID, serviceSID)
	if err != nil {
		return store.AccessToken{}, fmt.Errorf("fetch access token %s: %w", sid, err)
	}
	return t, nil
}

// scanAccessToken reads an access token from a row of its table. A NULL
// factor_friendly_name scans as a nil pointer, an empty one as "".
func scanAccessToken(row pgx.Row) (store.AccessToken, error) {
	var t store.AccessToken
	var created time.Time
	if err := row.Scan(&t.SID, &t.AccountSID, &t.ServiceSID, &t.Identity, &t.FactorType,
		&t.FactorFriendlyName, &t.TTL, &t.Token, &created); err != nil {
		return store.AccessToken{}, err
	}
	t.DateCreated = fromDB(created)
	return t, nil
}

// AddTokenKey implements store.Store.
func (s *Store) AddTokenKey(ctx context.Context, k store.TokenKey) error {
	if err := s.exec(ctx, addTokenKeySQL, k.ID, k.Secret, toDB(k.Created)); err != nil {
		return fmt.Errorf("add token key %s: %w", k.ID, err)
	}
	return nil
}

// TokenKeys implements store.Store.
func (s *Store) TokenKeys(ctx context.Context) ([]store.TokenKey, error) {
	ks, err := list(ctx, s, scanTokenKey, tokenKeysSQL)
	if err != nil {
		return nil, fmt.Errorf("list token keys: %w", err)
	}
	return ks, nil
}

// scanTokenKey reads a token key from a row of its table.
func scanTokenKey(row pgx.Row) (store.TokenKey, error) {
	var k store.TokenKey
	var created time.Time
	if err := row.Scan(&k.ID, &k.Secret, &created); err != nil {
		return store.TokenKey{}, err
	}
	k.Created = fromDB(created)
	return k, nil
}
