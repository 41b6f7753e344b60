package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/migration"
)

// Defaults for the DSN parameters that the DSN leaves out. See the package
// documentation for the full list.
const (
	// DefaultMaxConns is pool_max_conns when the DSN does not set it.
	DefaultMaxConns = 16
	// DefaultConnectTimeout is connect_timeout when the DSN does not set it,
	// or sets it to 0, which libpq would take as "wait forever".
	DefaultConnectTimeout = 5 * time.Second
	// DefaultApplicationName is application_name when the DSN does not set
	// it.
	DefaultApplicationName = "verifyd"
)

// Store is a store.Store backed by a PostgreSQL database. It is safe for
// concurrent use, and any number of Stores, in any number of processes, may
// share one database.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Option adjusts the pool configuration after the DSN and the defaults have
// been applied, for settings a DSN cannot express (a tracer, a dialer).
type Option func(*pgxpool.Config)

// Open connects to the PostgreSQL database that dsn names and migrates it to
// the current schema. See the package documentation for the DSN parameters.
// It fails with an error wrapping store.ErrUnavailable when the server
// cannot be reached. The caller must Close the returned Store.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := poolConfig(dsn, opts...)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", translate(ctx, err))
	}
	if err := migrate(ctx, pool, ms); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where(cfg), translate(ctx, err))
	}
	return &Store{pool: pool}, nil
}

// where names the database of cfg for error messages, without credentials.
func where(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return c.Host + ":" + strconv.Itoa(int(c.Port)) + "/" + c.Database
}

// poolConfig parses dsn, fills in the defaults for what it leaves out and
// applies opts.
func poolConfig(dsn string, opts ...Option) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err) // pgx masks passwords in its message
	}
	// pgxpool has its own default for pool_max_conns; only the parameters
	// that reach the server tell whether the DSN set it.
	raw, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	if _, set := raw.RuntimeParams["pool_max_conns"]; !set {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = DefaultApplicationName
	}
	for _, o := range opts {
		o(cfg)
	}
	return cfg, nil
}

// Close closes every connection of the pool, waiting for calls in flight to
// release theirs. Calls made after Close fail with store.ErrUnavailable.
// Later calls to Close return nil.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.pool.Close()
	return nil
}

// Ping runs an empty statement on a pooled connection.
func (s *Store) Ping(ctx context.Context) error {
	_, err := read(ctx, s, func() (struct{}, error) { return struct{}{}, s.pool.Ping(ctx) })
	if err != nil {
		return fmt.Errorf("ping postgres store: %w", err)
	}
	return nil
}

// check fails once the store is closed: a closed pool would answer with an
// error of puddle's, the pool's internals.
func (s *Store) check() error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, errClosed)
	}
	return nil
}

// translate is the package-level translate, plus two things only the Store
// can do. Once the store is closed, every failure is store.ErrUnavailable,
// since a call racing Close may see the pool's own error. And a lost or
// refused connection resets the pool: the other idle connections most
// likely went down with it, and without the reset the first calls after the
// server is back would each pick one and fail.
func (s *Store) translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, errClosed)
	}
	if classify(ctx, err) == failBroken {
		s.pool.Reset()
	}
	return translate(ctx, err)
}

// fromDB converts a time read from the database to the form the store
// returns: UTC. The store wrote it already truncated.
func fromDB(t time.Time) time.Time { return t.UTC() }

// toDB converts t to the stored form: whole seconds in UTC. Truncate rounds
// toward the past, as the SQLite engine's Unix seconds do.
func toDB(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
