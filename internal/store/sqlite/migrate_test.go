package sqlite

import (
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/migration"
)

// TestEmbeddedMigrations checks the files this build ships: numbered from 1
// without gaps, so a missing file is caught before release.
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

func TestDSN(t *testing.T) {
	tests := []struct {
		name, path, want string
	}{
		{"Absolute", "/var/lib/verifyd/verifyd.db", "file:/var/lib/verifyd/verifyd.db?_k=v"},
		{"Relative", "data/verifyd.db", "file:data/verifyd.db?_k=v"},
		{"URIMetacharacters", "/d/a?b#c%d.db", "file:/d/a%3fb%23c%25d.db?_k=v"},
		{"LeadingDoubleSlash", "//d/verifyd.db", "file:/d/verifyd.db?_k=v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dsn(tt.path, map[string][]string{"_k": {"v"}}); got != tt.want {
				t.Errorf("dsn(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

// TestMigrateAtomic checks that a failing migration leaves the database as
// it was: no table of the good one before it, no schema_migrations row.
func TestMigrateAtomic(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "m.db"), url.Values{"_txlock": {"immediate"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good := migration.Migration{Version: 1, Name: "0001_good.sql", SQL: "CREATE TABLE good (x INTEGER); CREATE TABLE good2 (y INTEGER);"}
	bad := migration.Migration{Version: 2, Name: "0002_bad.sql", SQL: "CREATE TABLE bad (x INTEGER); NOT SQL;"}
	if err := migrate(ctx, db, []migration.Migration{good, bad}); err == nil || !strings.Contains(err.Error(), bad.Name) {
		t.Fatalf("migrate(good, bad) error = %v, want one naming %s", err, bad.Name)
	}
	var tables []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) != 0 {
		t.Errorf("tables after a failed migration = %q, want none", tables)
	}

	// Both statements of a multi-statement file run.
	if err := migrate(ctx, db, []migration.Migration{good}); err != nil {
		t.Fatalf("migrate(good): %v", err)
	}
	for _, table := range []string{"good", "good2"} {
		if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1)"); err != nil {
			t.Errorf("insert into %s after migrate(good): %v", table, err)
		}
	}
}

// TestUpgradeFrom0001 opens a database that the released schema alone
// (0001_init.sql) built and filled, as a verifyd without Verify Push left
// it. Open must migrate it in place: the access tokens and keys it held are
// still there, schema_migrations lists every migration, and a factor can be
// enrolled with one of those tokens.
func TestUpgradeFrom0001(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "verifyd.db")
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Name != "0001_init.sql" || len(ms) < 2 {
		t.Fatalf("embedded migrations start %s and number %d, want 0001_init.sql and more", ms[0].Name, len(ms))
	}

	old, err := sql.Open("sqlite", dsn(path, url.Values{"_txlock": {"immediate"}, "_foreign_keys": {"on"}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, old, ms[:1]); err != nil {
		t.Fatalf("migrate to 0001 only: %v", err)
	}
	at := time.Date(2024, time.July, 1, 12, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts VALUES (?, ?, ?, ?)`, []any{"AC1", "acct", "hash", at.Unix()}},
		{`INSERT INTO services VALUES (?, ?, ?, ?)`, []any{"VA1", "AC1", "svc", at.Unix()}},
		{`INSERT INTO access_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, []any{"YK1", "AC1", "VA1", "alice", "push", "phone", 600, "a.b.c.d.e", at.Unix()}},
		{`INSERT INTO access_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, []any{"YK2", "AC1", "VA1", "bob", "push", nil, 60, "f.g.h.i.j", at.Unix()}},
		{`INSERT INTO token_keys VALUES (?, ?, ?)`, []any{"k1", []byte{0, 1, 2}, at.Unix()}},
	} {
		if _, err := old.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
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

	var names []string
	rows, err := s.reader.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
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
	path := filepath.Join(t.TempDir(), "verifyd.db")
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if ms[1].Name != "0002_push.sql" || len(ms) < 3 {
		t.Fatalf("embedded migrations: second is %s and they number %d, want 0002_push.sql and more", ms[1].Name, len(ms))
	}

	old, err := sql.Open("sqlite", dsn(path, url.Values{"_txlock": {"immediate"}, "_foreign_keys": {"on"}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, old, ms[:2]); err != nil {
		t.Fatalf("migrate to 0002 only: %v", err)
	}
	at := time.Date(2024, time.July, 1, 12, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts VALUES (?, ?, ?, ?)`, []any{"AC1", "acct", "hash", at.Unix()}},
		{`INSERT INTO services VALUES (?, ?, ?, ?)`, []any{"VA1", "AC1", "svc", at.Unix()}},
		{`INSERT INTO entities (sid, account_sid, service_sid, identity, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{"YE1", "AC1", "VA1", "alice", at.Unix(), at.Unix()}},
		{`INSERT INTO factors (sid, account_sid, service_sid, entity_sid, identity, credential_sid, friendly_name, verified, public_key,
sdk_version, app_id, notification_platform, notification_token, metadata, date_created, date_updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"YF1", "AC1", "VA1", "YE1", "alice", "CR1", "phone", 1, []byte{1, 2, 3}, nil, nil, "fcm", "tok", `{"os":"Android"}`, at.Unix(), at.Unix()}},
	} {
		if _, err := old.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
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
