package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/migration"
	"github.com/verifykit/verifykit/internal/store/postgres/pgtest"
)

func TestPoolConfig(t *testing.T) {
	type settings struct {
		MaxConns        int32
		ConnectTimeout  time.Duration
		ApplicationName string
		MaxConnIdleTime time.Duration
	}
	tests := []struct {
		name string
		dsn  string
		opts []Option
		want settings
	}{
		{
			name: "Defaults",
			dsn:  "postgres://u@db.example:5432/verifyd",
			want: settings{MaxConns: 16, ConnectTimeout: 5 * time.Second, ApplicationName: "verifyd", MaxConnIdleTime: 30 * time.Minute},
		},
		{
			name: "URLParameters",
			dsn:  "postgres://u@db.example/verifyd?pool_max_conns=3&connect_timeout=2&application_name=blue&pool_max_conn_idle_time=90s",
			want: settings{MaxConns: 3, ConnectTimeout: 2 * time.Second, ApplicationName: "blue", MaxConnIdleTime: 90 * time.Second},
		},
		{
			name: "KeywordValue",
			dsn:  "host=db.example dbname=verifyd pool_max_conns=7 connect_timeout=9",
			want: settings{MaxConns: 7, ConnectTimeout: 9 * time.Second, ApplicationName: "verifyd", MaxConnIdleTime: 30 * time.Minute},
		},
		{
			name: "ZeroConnectTimeoutMeansDefault",
			dsn:  "postgresql://u@db.example/verifyd?connect_timeout=0",
			want: settings{MaxConns: 16, ConnectTimeout: 5 * time.Second, ApplicationName: "verifyd", MaxConnIdleTime: 30 * time.Minute},
		},
		{
			name: "OptionsComeLast",
			dsn:  "postgres://u@db.example/verifyd?pool_max_conns=3",
			opts: []Option{func(c *pgxpool.Config) { c.MaxConns = 40 }},
			want: settings{MaxConns: 40, ConnectTimeout: 5 * time.Second, ApplicationName: "verifyd", MaxConnIdleTime: 30 * time.Minute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := poolConfig(tt.dsn, tt.opts...)
			if err != nil {
				t.Fatalf("poolConfig(%q): %v", tt.dsn, err)
			}
			got := settings{
				MaxConns:        cfg.MaxConns,
				ConnectTimeout:  cfg.ConnConfig.ConnectTimeout,
				ApplicationName: cfg.ConnConfig.RuntimeParams["application_name"],
				MaxConnIdleTime: cfg.MaxConnIdleTime,
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("poolConfig(%q) mismatch (-want +got):\n%s", tt.dsn, diff)
			}
			if _, leaked := cfg.ConnConfig.RuntimeParams["pool_max_conns"]; leaked {
				t.Errorf("pool_max_conns would be sent to the server as a run-time parameter")
			}
		})
	}
}

func TestClassify(t *testing.T) {
	pgErr := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code}) }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()

	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want failure
		// is lists what translate's result must wrap.
		is []error
	}{
		{"NoRows", context.Background(), fmt.Errorf("scan: %w", pgx.ErrNoRows), failNotFound, []error{store.ErrNotFound}},
		{"UniqueViolation", context.Background(), pgErr("23505"), failConflict, []error{store.ErrConflict}},
		{"ForeignKeyViolation", context.Background(), pgErr("23503"), failNotFound, []error{store.ErrNotFound}},
		{"NotNullViolation", context.Background(), pgErr("23502"), failOther, nil},
		{"SyntaxError", context.Background(), pgErr("42601"), failOther, nil},
		{"UndefinedDatabase", context.Background(), pgErr("3D000"), failOther, nil},
		{"ConnectionFailure", context.Background(), pgErr("08006"), failBroken, []error{store.ErrUnavailable}},
		{"AdminShutdown", context.Background(), pgErr("57P01"), failBroken, []error{store.ErrUnavailable}},
		{"CannotConnectNow", context.Background(), pgErr("57P03"), failUnavailable, []error{store.ErrUnavailable}},
		{"TooManyConnections", context.Background(), pgErr("53300"), failUnavailable, []error{store.ErrUnavailable}},
		{"DiskFull", context.Background(), pgErr("53100"), failUnavailable, []error{store.ErrUnavailable}},
		{"ReadOnlyStandby", context.Background(), pgErr("25006"), failUnavailable, []error{store.ErrUnavailable}},
		{"StatementTimeout", context.Background(), pgErr("57014"), failUnavailable, []error{store.ErrUnavailable}},
		{"SerializationFailure", context.Background(), pgErr("40001"), failUnavailable, []error{store.ErrUnavailable}},
		{"ConnectionRefused", context.Background(), refused, failBroken, []error{store.ErrUnavailable, syscall.ECONNREFUSED}},
		{"UnexpectedEOF", context.Background(), fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), failBroken, []error{store.ErrUnavailable}},
		{"ConnClosed", context.Background(), fmt.Errorf("query: %w", pgconn.ErrConnClosed), failBroken, []error{store.ErrUnavailable}},
		{"DeadlineError", context.Background(), fmt.Errorf("acquire: %w", context.DeadlineExceeded), failUnavailable, []error{store.ErrUnavailable, context.DeadlineExceeded}},
		{"DeadlineContext", expired, errors.New("conn closed by its deadline"), failUnavailable, []error{store.ErrUnavailable, context.DeadlineExceeded}},
		{"CanceledError", context.Background(), fmt.Errorf("acquire: %w", context.Canceled), failOther, []error{context.Canceled}},
		{"CanceledContext", cancelled, errors.New("conn closed by its context"), failOther, []error{context.Canceled}},
		{"CanceledButConflict", cancelled, pgErr("23505"), failConflict, []error{store.ErrConflict}},
		{"Unknown", context.Background(), errors.New("something else"), failOther, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.ctx, tt.err); got != tt.want {
				t.Errorf("classify(%v) = %d, want %d", tt.err, got, tt.want)
			}
			got := translate(tt.ctx, tt.err)
			for _, target := range tt.is {
				if !errors.Is(got, target) {
					t.Errorf("translate(%v) = %v, want one wrapping %v", tt.err, got, target)
				}
			}
			if tt.want == failOther && errors.Is(got, store.ErrUnavailable) {
				t.Errorf("translate(%v) = %v, want no %v", tt.err, got, store.ErrUnavailable)
			}
		})
	}
	if translate(context.Background(), nil) != nil {
		t.Error("translate(nil) != nil")
	}
}

func TestOneLine(t *testing.T) {
	multi := fmt.Errorf("failed to connect to `user=u database=d`:\n\t%w\n\t127.0.0.1:5432 (localhost): dial error: refused", io.ErrUnexpectedEOF)
	got := translate(context.Background(), multi)
	const want = "store: unavailable: failed to connect to `user=u database=d`: unexpected EOF; 127.0.0.1:5432 (localhost): dial error: refused"
	if got.Error() != want {
		t.Errorf("translate(multi-line).Error() = %q, want %q", got, want)
	}
	if !errors.Is(got, io.ErrUnexpectedEOF) || !errors.Is(got, store.ErrUnavailable) {
		t.Errorf("translate(multi-line) = %v, want it to wrap the cause and %v", got, store.ErrUnavailable)
	}
}

// TestEmbeddedMigrations checks the files this build ships: numbered from 1
// without gaps.
func TestEmbeddedMigrations(t *testing.T) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatalf("migration.Load(embedded): %v", err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %s has version %d, want %d", m.Name, m.Version, i+1)
		}
	}
}

// newPool opens a pool on dsn, closed when the test ends.
func newPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	cfg, err := poolConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestMigrateAtomic checks that a failing migration leaves the database as
// it was, and that every statement of a multi-statement file runs.
func TestMigrateAtomic(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t, pgtest.NewDatabase(t))
	good := migration.Migration{Version: 1, Name: "0001_good.sql", SQL: "CREATE TABLE good (x integer); CREATE TABLE good2 (y integer);"}
	bad := migration.Migration{Version: 2, Name: "0002_bad.sql", SQL: "CREATE TABLE bad (x integer); NOT SQL;"}
	if err := migrate(ctx, pool, []migration.Migration{good, bad}); err == nil || !strings.Contains(err.Error(), bad.Name) {
		t.Fatalf("migrate(good, bad) error = %v, want one naming %s", err, bad.Name)
	}
	tables := func() []string {
		rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got := tables(); len(got) != 0 {
		t.Errorf("tables after a failed migration = %q, want none", got)
	}
	if err := migrate(ctx, pool, []migration.Migration{good}); err != nil {
		t.Fatalf("migrate(good): %v", err)
	}
	if diff := cmp.Diff([]string{"good", "good2", "schema_migrations"}, tables()); diff != "" {
		t.Errorf("tables after migrate(good) mismatch (-want +got):\n%s", diff)
	}
	if err := migrate(ctx, pool, []migration.Migration{good}); err != nil {
		t.Errorf("migrate(good) again: %v", err)
	}
}

// TestAcquireTimeout checks that a call that cannot get a connection from a
// full pool before its deadline fails with store.ErrUnavailable, and that
// pool_max_conns in the DSN is what bounds the pool.
func TestAcquireTimeout(t *testing.T) {
	dsn := pgtest.NewDatabase(t) + "&pool_max_conns=1"
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held, err := s.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.FetchAccount(ctx, "AC1")
	took := time.Since(start)
	for _, target := range []error{store.ErrUnavailable, context.DeadlineExceeded} {
		if !errors.Is(err, target) {
			t.Errorf("FetchAccount with the only connection taken: error = %v, want one wrapping %v", err, target)
		}
	}
	if took > time.Second {
		t.Errorf("FetchAccount took %v, want about 200ms", took)
	}
}

// TestUpgradeFrom0001 opens a database that the released schema alone
// (0001_init.sql) built and filled, as a verifyd without Verify Push left
// it. Open must migrate it in place: the access tokens and keys it held are
// still there, schema_migrations lists every migration, and a factor can be
// enrolled with one of those tokens.
func TestUpgradeFrom0001(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Name != "0001_init.sql" || len(ms) < 2 {
		t.Fatalf("embedded migrations start %s and number %d, want 0001_init.sql and more", ms[0].Name, len(ms))
	}
	pool := newPool(t, dsn)
	if err := migrate(ctx, pool, ms[:1]); err != nil {
		t.Fatalf("migrate to 0001 only: %v", err)
	}
	at := time.Date(2024, time.July, 1, 12, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts VALUES ($1, $2, $3, $4)`, []any{"AC1", "acct", "hash", at}},
		{`INSERT INTO services VALUES ($1, $2, $3, $4)`, []any{"VA1", "AC1", "svc", at}},
		{`INSERT INTO access_tokens VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, []any{"YK1", "AC1", "VA1", "alice", "push", "phone", 600, "a.b.c.d.e", at}},
		{`INSERT INTO access_tokens VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, []any{"YK2", "AC1", "VA1", "bob", "push", nil, 60, "f.g.h.i.j", at}},
		{`INSERT INTO token_keys VALUES ($1, $2, $3)`, []any{"k1", []byte{0, 1, 2}, at}},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	pool.Close()

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open of a 0001 database: %v", err)
	}
	defer s.Close()

	phone := "phone"
	wantTokens := []store.AccessToken{
		{SID: "YK1", AccountSID: "AC1", ServiceSID: "VA1", Identity: "alice", FactorType: "push", FactorFriendlyName: &phone, TTL: 600, Token: "a.b.c.d.e", DateCreated: at},
		{SID: "YK2", AccountSID: "AC1", ServiceSID: "VA1", Identity: "bob", FactorType: "push", TTL: 60, Token: "f.g.h.i.j", DateCreated: at},
	}
	for _, want := range wantTokens {
		got, err := s.FetchAccessToken(ctx, "AC1", "VA1", want.SID)
		if err != nil {
			t.Fatalf("FetchAccessToken(%s) after the upgrade: %v", want.SID, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FetchAccessToken(%s) after the upgrade mismatch (-want +got):\n%s", want.SID, diff)
		}
	}
	keys, err := s.TokenKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.TokenKey{{ID: "k1", Secret: []byte{0, 1, 2}, Created: at}}, keys); diff != "" {
		t.Errorf("TokenKeys after the upgrade mismatch (-want +got):\n%s", diff)
	}

	rows, err := s.pool.Query(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var wantNames []string
	for _, m := range ms {
		wantNames = append(wantNames, m.Name)
	}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("schema_migrations after the upgrade mismatch (-want +got):\n%s", diff)
	}

	// The old token enrols a factor, once.
	e := store.Entity{SID: "YE1", AccountSID: "AC1", ServiceSID: "VA1", Identity: "alice", DateCreated: at, DateUpdated: at}
	f := store.Factor{SID: "YF1", AccountSID: "AC1", ServiceSID: "VA1", Identity: "alice", CredentialSID: "CR1", FriendlyName: "phone", PublicKey: []byte{1, 2, 3}, DateCreated: at, DateUpdated: at}
	if _, err := s.CreateFactor(ctx, e, f, "YK1", nil); err != nil {
		t.Fatalf("CreateFactor with a token of the 0001 database: %v", err)
	}
	f.SID, f.CredentialSID, f.PublicKey = "YF2", "CR2", []byte{4, 5, 6}
	if _, err := s.CreateFactor(ctx, e, f, "YK1", nil); !errors.Is(err, store.ErrUsed) {
		t.Errorf("CreateFactor with the same token again: error = %v, want one wrapping %v", err, store.ErrUsed)
	}
}

// TestUpgradeFrom0002 opens a database that 0001 and 0002 built and
// filled, as a verifyd with Verify Push part 1 left it. Open must migrate
// it in place: its entities and factors are still there, a factor it held
// takes challenges and sends events, and deleting it deletes them.
func TestUpgradeFrom0002(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if ms[1].Name != "0002_push.sql" || len(ms) < 3 {
		t.Fatalf("embedded migrations: second is %s and they number %d, want 0002_push.sql and more", ms[1].Name, len(ms))
	}
	pool := newPool(t, dsn)
	if err := migrate(ctx, pool, ms[:2]); err != nil {
		t.Fatalf("migrate to 0002 only: %v", err)
	}
	at := time.Date(2024, time.July, 1, 12, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts VALUES ($1, $2, $3, $4)`, []any{"AC1", "acct", "hash", at}},
		{`INSERT INTO services VALUES ($1, $2, $3, $4)`, []any{"VA1", "AC1", "svc", at}},
		{`INSERT INTO entities (sid, account_sid, service_sid, identity, date_created, date_updated) VALUES ($1, $2, $3, $4, $5, $6)`,
			[]any{"YE1", "AC1", "VA1", "alice", at, at}},
		{`INSERT INTO factors (sid, account_sid, service_sid, entity_sid, identity, credential_sid, friendly_name, verified, public_key,
sdk_version, app_id, notification_platform, notification_token, metadata, date_created, date_updated)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			[]any{"YF1", "AC1", "VA1", "YE1", "alice", "CR1", "phone", true, []byte{1, 2, 3}, nil, nil, "fcm", "tok", `{"os":"Android"}`, at, at}},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	pool.Close()

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open of a 0002 database: %v", err)
	}
	defer s.Close()

	fcm, tok := "fcm", "tok"
	wantF := store.Factor{SID: "YF1", AccountSID: "AC1", ServiceSID: "VA1", EntitySID: "YE1", Identity: "alice", CredentialSID: "CR1",
		FriendlyName: "phone", Verified: true, PublicKey: []byte{1, 2, 3}, NotificationPlatform: &fcm, NotificationToken: &tok,
		Metadata: map[string]string{"os": "Android"}, DateCreated: at, DateUpdated: at}
	f, err := s.FetchFactor(ctx, "AC1", "VA1", "alice", "YF1")
	if err != nil {
		t.Fatalf("FetchFactor after the upgrade: %v", err)
	}
	if diff := cmp.Diff(wantF, f); diff != "" {
		t.Errorf("FetchFactor after the upgrade mismatch (-want +got):\n%s", diff)
	}

	if err := s.CreateWebhook(ctx, store.Webhook{SID: "YW1", AccountSID: "AC1", ServiceSID: "VA1", EventTypes: []string{"*"},
		Status: "enabled", Version: "v2", URL: "https://example.com/", DateCreated: at, DateUpdated: at}); err != nil {
		t.Fatalf("CreateWebhook after the upgrade: %v", err)
	}
	c := store.Challenge{SID: "YC1", AccountSID: "AC1", ServiceSID: "VA1", Identity: "alice", FactorSID: "YF1",
		Details: store.ChallengeDetails{Message: "hi"}, DateCreated: at, DateUpdated: at, ExpirationDate: at.Add(time.Minute)}
	n := store.Notification{SID: "NT1", ChallengeSID: "YC1", Priority: "high", TTL: 60, DateCreated: at}
	if _, err := s.CreateChallenge(ctx, c, n); err != nil {
		t.Fatalf("CreateChallenge of a factor of the 0002 database: %v", err)
	}
	deleted := func(store.Factor) []store.Event {
		return []store.Event{{ID: "ev1", Type: "factor.deleted", AccountSID: "AC1", ServiceSID: "VA1", Body: "b", Created: at}}
	}
	if err := s.DeleteFactor(ctx, "AC1", "VA1", "alice", "YF1", deleted); err != nil {
		t.Fatalf("DeleteFactor: %v", err)
	}
	if _, err := s.FetchChallenge(ctx, "AC1", "VA1", "alice", "YC1", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FetchChallenge after DeleteFactor: error = %v, want one wrapping %v", err, store.ErrNotFound)
	}
	ds, err := s.ClaimDeliveries(ctx, at, time.Minute, 10)
	if err != nil || len(ds) != 1 || ds[0].EventID != "ev1" {
		t.Errorf("ClaimDeliveries after DeleteFactor = %+v, %v; want the delivery of ev1", ds, err)
	}
}

// TestEventRecordedDuringWebhookUpdateFollowsIt runs recordEventSQL in a
// transaction that stays open while UpdateWebhook disables the webhook and
// moves it. The update must wait for that transaction (the statement's
// lock on the webhook row must conflict with an UPDATE of it), so that the
// delivery, once committed, is the update's to end. Without the wait the
// delivery commits after the update and goes on to the old URL of a
// disabled webhook.
func TestEventRecordedDuringWebhookUpdateFollowsIt(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2024, time.July, 1, 12, 0, 0, 0, time.UTC)
	w := store.Webhook{SID: "YW1", AccountSID: "AC1", ServiceSID: "VA1", EventTypes: []string{"*"},
		Status: "enabled", Version: "v2", URL: "http://old.example.com/hook", DateCreated: at, DateUpdated: at}
	for _, err := range []error{
		s.CreateAccount(ctx, store.Account{SID: "AC1", FriendlyName: "acct", AuthTokenHash: "hash", DateCreated: at}),
		s.CreateService(ctx, store.Service{SID: "VA1", AccountSID: "AC1", FriendlyName: "svc", DateCreated: at}),
		s.CreateWebhook(ctx, w),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	pool := newPool(t, dsn)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, recordEventSQL, "ev1", "factor.deleted", "b", at, "VA1", "AC1"); err != nil {
		t.Fatalf("record event: %v", err)
	}

	off := w
	off.Status, off.URL, off.DateUpdated = "disabled", "http://new.example.com/hook", at.Add(time.Minute)
	updated := make(chan error, 1)
	go func() {
		_, err := s.UpdateWebhook(ctx, off.AccountSID, off.ServiceSID, off.SID, func(c *store.Webhook) { *c = off })
		updated <- err
	}()
	// Commit once the update waits on a lock, or has returned without
	// waiting (the defect).
	var updateErr error
	returned, waits := false, false
	for !returned && !waits {
		select {
		case updateErr = <-updated:
			returned = true
		case <-time.After(10 * time.Millisecond):
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE NOT l.granted AND a.datname = current_database()`).Scan(&n); err != nil {
				t.Fatalf("pg_locks: %v", err)
			}
			waits = n > 0
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit the event: %v", err)
	}
	if !returned {
		updateErr = <-updated
	}
	if updateErr != nil {
		t.Fatalf("UpdateWebhook: %v", updateErr)
	}
	ds, err := s.ClaimDeliveries(ctx, at.Add(time.Hour), time.Minute, 10)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	if len(ds) != 0 {
		t.Errorf("ClaimDeliveries after the webhook was disabled = %+v, want none", ds)
	}
}
