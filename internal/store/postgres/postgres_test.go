package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/postgres"
	"github.com/verifykit/verifykit/internal/store/postgres/pgtest"
	"github.com/verifykit/verifykit/internal/store/storetest"
)

// The bounds storetest.RunUnavailable holds engines to: a call under a
// one-second deadline returns within two seconds.
const (
	callDeadline = time.Second
	callBound    = 2 * time.Second
)

// openAt opens a store on dsn and closes it when the test ends.
func openAt(t testing.TB, dsn string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	pgtest.ServerDSN(t) // skip (or, under CI, fail) once, not in every subtest
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, pgtest.NewDatabase(t))
	})
}

// TestShared opens two stores on one database, as two verifyd instances
// would.
func TestShared(t *testing.T) {
	pgtest.ServerDSN(t)
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := pgtest.NewDatabase(t)
		return openAt(t, dsn), openAt(t, dsn)
	})
}

// TestUnavailable cuts the store off from its server with a proxy that
// refuses new connections and closes the open ones, as a stopped server
// does.
func TestUnavailable(t *testing.T) {
	pgtest.ServerDSN(t)
	storetest.RunUnavailable(t, func(t *testing.T) (store.Store, func()) {
		dsn := pgtest.NewDatabase(t)
		p := pgtest.NewProxy(t, dsn)
		return openAt(t, p.DSN(t, dsn)), p.Break
	})
}

// probe is one call of the store, made under ctx.
type probe struct {
	name string
	call func(ctx context.Context, s store.Store, n int) error
}

// probes are a read, a write and a ping; n makes each write's SID unique.
var probes = []probe{
	{"Ping", func(ctx context.Context, s store.Store, _ int) error { return s.Ping(ctx) }},
	{"FetchAccount", func(ctx context.Context, s store.Store, _ int) error {
		_, err := s.FetchAccount(ctx, sid("AC", 1))
		return err
	}},
	{"ListServices", func(ctx context.Context, s store.Store, _ int) error {
		_, err := s.ListServices(ctx, sid("AC", 1))
		return err
	}},
	{"CreateService", func(ctx context.Context, s store.Store, n int) error {
		return s.CreateService(ctx, store.Service{SID: sid("VA", n), AccountSID: sid("AC", 1), DateCreated: time.Now()})
	}},
	{"TokenKeys", func(ctx context.Context, s store.Store, _ int) error {
		_, err := s.TokenKeys(ctx)
		return err
	}},
}

// sid returns a well-formed SID with the given two-letter prefix.
func sid(prefix string, n int) string { return fmt.Sprintf("%s%032x", prefix, n) }

// runProbes makes every probe under a callDeadline context and returns
// their errors and the longest time one took.
func runProbes(t *testing.T, s store.Store, round int) (map[string]error, time.Duration) {
	t.Helper()
	errs := make(map[string]error)
	var slowest time.Duration
	for i, p := range probes {
		ctx, cancel := context.WithTimeout(t.Context(), callDeadline)
		start := time.Now()
		errs[p.name] = p.call(ctx, s, round*100+i)
		slowest = max(slowest, time.Since(start))
		cancel()
	}
	return errs, slowest
}

// TestRecovery breaks the connection to the server, checks that every call
// fails fast with store.ErrUnavailable, restores it on the same address, and
// checks that the very next calls succeed on the same Store.
func TestRecovery(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	p := pgtest.NewProxy(t, dsn)
	s := openAt(t, p.DSN(t, dsn))
	ctx := t.Context()
	if err := s.CreateAccount(ctx, store.Account{SID: sid("AC", 1), DateCreated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	warmUp(t, s)

	for round := range 3 {
		p.Break()
		start := time.Now()
		errs, slowest := runProbes(t, s, 2*round)
		for name, err := range errs {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("round %d: %s while broken: error = %v, want one wrapping %v", round, name, err, store.ErrUnavailable)
			}
		}
		if slowest > callBound {
			t.Errorf("round %d: slowest call while broken took %v, want at most %v", round, slowest, callBound)
		}
		broken := time.Since(start)

		p.Restore(t)
		start = time.Now()
		errs, _ = runProbes(t, s, 2*round+1)
		for name, err := range errs {
			if err != nil {
				t.Errorf("round %d: %s after restore: %v", round, name, err)
			}
		}
		t.Logf("round %d: %d calls failed with ErrUnavailable in %v (slowest %v); after restore, %d calls succeeded in %v",
			round, len(probes), broken.Round(time.Millisecond), slowest.Round(time.Millisecond), len(probes), time.Since(start).Round(time.Millisecond))
	}

	// A break that no call saw leaves the pool's idle connections stale:
	// the first read finds one lost, resets the pool and runs again.
	warmUp(t, s)
	p.Break()
	p.Restore(t)
	errs, _ := runProbes(t, s, 99)
	for name, err := range errs {
		if err != nil {
			t.Errorf("%s after an unseen break: %v", name, err)
		}
	}
}

// warmUp makes concurrent calls, so that the pool holds several idle
// connections.
func warmUp(t *testing.T, s store.Store) {
	t.Helper()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.FetchAccount(t.Context(), sid("AC", 1)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestStall makes the server silent instead of unreachable: connections
// open, but nothing comes back, as in a network partition. Only deadlines
// end such calls, and they must.
func TestStall(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	p := pgtest.NewProxy(t, dsn)
	s := openAt(t, p.DSN(t, dsn))
	if err := s.CreateAccount(t.Context(), store.Account{SID: sid("AC", 1), DateCreated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	errs, slowest := runProbes(t, s, 0)
	for name, err := range errs {
		for _, target := range []error{store.ErrUnavailable, context.DeadlineExceeded} {
			if !errors.Is(err, target) {
				t.Errorf("%s while stalled: error = %v, want one wrapping %v", name, err, target)
			}
		}
	}
	if slowest > callBound {
		t.Errorf("slowest call while stalled took %v, want at most %v", slowest, callBound)
	}
	p.Restore(t)
	errs, _ = runProbes(t, s, 1)
	for name, err := range errs {
		if err != nil {
			t.Errorf("%s after the stall ended: %v", name, err)
		}
	}
	t.Logf("stalled: %d calls failed with ErrUnavailable+DeadlineExceeded, slowest %v", len(probes), slowest.Round(time.Millisecond))
}

// TestConcurrentOpen starts many stores at once on a fresh database, as a
// fleet of instances would: every Open succeeds, and each migration is
// applied and recorded once. 0001_init.sql creates its tables without IF
// NOT EXISTS, so applying it twice would fail an Open.
func TestConcurrentOpen(t *testing.T) {
	const n = 12
	dsn := pgtest.NewDatabase(t)
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}

	conn := connect(t, dsn)
	rows, err := conn.Query(t.Context(), `SELECT name, count(*) FROM schema_migrations GROUP BY name ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name  string
		Count int64
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	want := []row{{"0001_init.sql", 1}, {"0002_push.sql", 1}, {"0003_push2.sql", 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema_migrations after %d concurrent opens mismatch (-want +got):\n%s", n, diff)
	}

	// Every store works, and all share one set of token keys.
	if err := stores[0].AddTokenKey(t.Context(), store.TokenKey{ID: "k1", Secret: []byte("s"), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		keys, err := s.TokenKeys(t.Context())
		if err != nil || len(keys) != 1 || keys[0].ID != "k1" {
			t.Errorf("store #%d: TokenKeys() = %v, %v; want the key store #0 added", i, keys, err)
		}
	}
}

// connect opens a plain connection to dsn for the test to inspect the
// database with.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestPersistence writes through one store and reads through another open
// on the same database at the same time, then through a third after both
// have closed.
func TestPersistence(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := t.Context()
	at := time.Date(2024, time.July, 1, 12, 0, 0, 0, time.UTC)
	acct := store.Account{SID: "AC1", FriendlyName: "acct", AuthTokenHash: "h", DateCreated: at}
	key := store.APIKey{SID: "SK1", AccountSID: "AC1", FriendlyName: "key", SecretHash: "h", DateCreated: at}
	svc := store.Service{SID: "VA1", AccountSID: "AC1", FriendlyName: "svc", DateCreated: at}
	name := "phone"
	tok := store.AccessToken{SID: "YK1", AccountSID: "AC1", ServiceSID: "VA1", Identity: "id", FactorType: "push", FactorFriendlyName: &name, TTL: 60, Token: "a.b.c.d.e", DateCreated: at}
	tk := store.TokenKey{ID: "k1", Secret: []byte{1, 2, 3}, Created: at}
	ent := store.Entity{SID: "YE1", AccountSID: "AC1", ServiceSID: "VA1", Identity: "id", DateCreated: at, DateUpdated: at}
	fac := store.Factor{SID: "YF1", AccountSID: "AC1", ServiceSID: "VA1", EntitySID: "YE1", Identity: "id", CredentialSID: "CR1", FriendlyName: "phone", Verified: true, PublicKey: []byte{0, 1, 2}, NotificationPlatform: &name, Metadata: map[string]string{"os": "iOS"}, DateCreated: at, DateUpdated: at}

	writer, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		writer.CreateAccount(ctx, acct),
		writer.CreateAPIKey(ctx, key),
		writer.CreateService(ctx, svc),
		writer.CreateAccessToken(ctx, tok),
		writer.AddTokenKey(ctx, tk),
	} {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if _, err := writer.CreateFactor(ctx, ent, fac, "YK1", nil); err != nil {
		t.Fatalf("CreateFactor: %v", err)
	}
	checkAll := func(label string, s store.Store) {
		t.Helper()
		gotAcct, err := s.FetchAccount(ctx, "AC1")
		check(t, label+" FetchAccount", acct, gotAcct, err)
		gotKey, err := s.FetchAPIKey(ctx, "SK1")
		check(t, label+" FetchAPIKey", key, gotKey, err)
		gotSvc, err := s.FetchService(ctx, "AC1", "VA1")
		check(t, label+" FetchService", svc, gotSvc, err)
		gotTok, err := s.FetchAccessToken(ctx, "AC1", "VA1", "YK1")
		check(t, label+" FetchAccessToken", tok, gotTok, err)
		gotKeys, err := s.TokenKeys(ctx)
		check(t, label+" TokenKeys", []store.TokenKey{tk}, gotKeys, err)
		gotEnt, err := s.FetchEntity(ctx, "AC1", "VA1", "id")
		check(t, label+" FetchEntity", ent, gotEnt, err)
		gotFac, err := s.FetchFactor(ctx, "AC1", "VA1", "id", "YF1")
		check(t, label+" FetchFactor", fac, gotFac, err)
		again := fac
		again.SID, again.CredentialSID, again.PublicKey = "YF2", "CR2", []byte{3}
		if _, err := s.CreateFactor(ctx, ent, again, "YK1", nil); !errors.Is(err, store.ErrUsed) {
			t.Errorf("%s CreateFactor with the used token: error = %v, want one wrapping %v", label, err, store.ErrUsed)
		}
	}
	checkAll("second store", reader)
	for _, s := range []*postgres.Store{writer, reader} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	checkAll("after reopen", openAt(t, dsn))
}

// check reports err, or any difference between want and got.
func check(t *testing.T, call string, want, got any, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", call, err)
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
	}
}

// TestClosed checks the error of calls after Close: store.ErrUnavailable.
func TestClosed(t *testing.T) {
	s := openAt(t, pgtest.NewDatabase(t))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range probes {
		if err := p.call(t.Context(), s, 1); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close: error = %v, want one wrapping %v", p.name, err, store.ErrUnavailable)
		}
	}
}

// silentListener accepts TCP connections and never answers, as a server
// behind a black-holing firewall would once the handshake is through.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns a 127.0.0.1 address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestOpenErrors(t *testing.T) {
	server := pgtest.ServerDSN(t)
	tests := []struct {
		name string
		dsn  func(t *testing.T) string
		// timeout bounds Open's context; bound is how long Open may take.
		timeout, bound time.Duration
		// is lists sentinels the error must wrap.
		is []error
		// not is text the error must not contain.
		not string
	}{
		{
			name:    "ConnectionRefused",
			dsn:     func(t *testing.T) string { return pgtest.WithHost(t, server, closedPort(t)) },
			timeout: 10 * time.Second,
			bound:   time.Second,
			is:      []error{store.ErrUnavailable},
		},
		{
			name:    "SilentServerContextDeadline",
			dsn:     func(t *testing.T) string { return pgtest.WithHost(t, server, silentListener(t)) },
			timeout: time.Second,
			bound:   2 * time.Second,
			is:      []error{store.ErrUnavailable, context.DeadlineExceeded},
		},
		{
			name: "SilentServerConnectTimeout",
			dsn: func(t *testing.T) string {
				u, err := url.Parse(pgtest.WithHost(t, server, silentListener(t)))
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				q.Set("connect_timeout", "1")
				u.RawQuery = q.Encode()
				return u.String()
			},
			timeout: 10 * time.Second,
			bound:   2 * time.Second,
			is:      []error{store.ErrUnavailable},
		},
		{
			name:    "BadPoolParameter",
			dsn:     func(*testing.T) string { return "postgres://u:s3cret-pw@127.0.0.1:1/db?pool_max_conns=many" },
			timeout: time.Second,
			bound:   time.Second,
			not:     "s3cret-pw",
		},
		{
			name: "NoSuchDatabase",
			dsn: func(t *testing.T) string {
				u, err := url.Parse(server)
				if err != nil {
					t.Fatal(err)
				}
				u.Path = "/vk_no_such_database"
				return u.String()
			},
			timeout: 10 * time.Second,
			bound:   5 * time.Second,
		},
		{
			name: "NewerSchema",
			dsn: func(t *testing.T) string {
				dsn := pgtest.NewDatabase(t)
				if err := openAt(t, dsn).Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := connect(t, dsn).Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
					t.Fatal(err)
				}
				return dsn
			},
			timeout: 10 * time.Second,
			bound:   5 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := tt.dsn(t)
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			start := time.Now()
			s, err := postgres.Open(ctx, dsn)
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			t.Logf("Open failed after %v: %v", took.Round(time.Millisecond), err)
			if took > tt.bound {
				t.Errorf("Open took %v, want at most %v", took, tt.bound)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("Open error = %v, want one wrapping %v", err, target)
				}
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("Open error = %q, must not contain %q", err, tt.not)
			}
			if !strings.Contains(tt.name, "Silent") && !strings.Contains(tt.name, "Refused") && errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Open error = %v: a configuration error must not look like an outage", err)
			}
		})
	}
}
