package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store/postgres"
	"github.com/verifykit/verifykit/internal/store/postgres/pgtest"
	"github.com/verifykit/verifykit/internal/token"
)

// Credentials of the bootstrap file the PostgreSQL tests provision with.
const (
	bootAccount   = "AC00000000000000000000000000000b01"
	bootAuthToken = "bootstrap-auth-token-postgres-01"
	bootAPIKey    = "SK00000000000000000000000000000b01"
	bootAPISecret = "bootstrap-api-key-secret-postgres"
	bootService   = "VA00000000000000000000000000000b01"
)

// writeBootstrap writes a bootstrap file with the credentials above.
func writeBootstrap(t *testing.T) string {
	t.Helper()
	body := fmt.Sprintf(`{"accounts":[{"sid":%q,"auth_token":%q,"friendly_name":"pg",`+
		`"api_keys":[{"sid":%q,"secret":%q}],"services":[{"sid":%q}]}]}`,
		bootAccount, bootAuthToken, bootAPIKey, bootAPISecret, bootService)
	path := filepath.Join(t.TempDir(), "bootstrap.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// accessToken is the part of an access token resource the tests read.
type accessToken struct {
	SID   string `json:"sid"`
	Token string `json:"token"`
}

// do makes one request to base, authenticated as user (an Account or API
// key SID of the bootstrap file), with a form body when form is not nil.
func do(c *http.Client, method, base, path, user string, form url.Values) (reply, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		return reply{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		pass := bootAuthToken
		if strings.HasPrefix(user, "SK") {
			pass = bootAPISecret
		}
		req.SetBasicAuth(user, pass)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}, nil
}

// call is do for the test's own goroutine: it fails the test on a
// transport error.
func call(t *testing.T, c *http.Client, method, base, path, user string, form url.Values) reply {
	t.Helper()
	r, err := do(c, method, base, path, user, form)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tokensPath is the collection of the bootstrap service's access tokens.
const tokensPath = "/v2/Services/" + bootService + "/AccessTokens"

// createForm is the body of a create request.
func createForm(identity string) url.Values {
	return url.Values{"Identity": {identity}, "FactorType": {"push"}}
}

// mustCreate creates an access token and returns the response and the
// resource.
func mustCreate(t *testing.T, c *http.Client, base, user, identity string) (reply, accessToken) {
	t.Helper()
	r := call(t, c, http.MethodPost, base, tokensPath, user, createForm(identity))
	if r.status != http.StatusCreated {
		t.Fatalf("create on %s: status %d, body %s", base, r.status, r.body)
	}
	var tok accessToken
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.SID == "" {
		t.Fatalf("create on %s: body %s: %v", base, r.body, err)
	}
	return r, tok
}

// TestPostgresOutage runs two verifyd instances in-process on one fresh
// database: A through a proxy that the test cuts and restores, B directly.
// While the database is unreachable for A, its /readyz fails and requests
// that need the database answer 503 · 20503 within the request timeout;
// once it is back, A serves again without a restart.
//
// A token is created on B, so that A has never seen it: A caches the tokens
// it creates and fetches (they are immutable), and answers for those from
// memory even during an outage, which this test checks too.
func TestPostgresOutage(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	p := pgtest.NewProxy(t, dsn)
	boot := writeBootstrap(t)
	common := []string{"-addr", "127.0.0.1:0", "-bootstrap", boot, "-public-url", stablePublicURL, "-request-timeout", "1s"}
	b := start(t, nil, append(common, "-data-dir", t.TempDir(), "-store", dsn)...)
	a := start(t, nil, append(common, "-data-dir", t.TempDir(), "-store", p.DSN(t, dsn))...)
	baseA, baseB := "http://"+a.addr, "http://"+b.addr
	c := &http.Client{Timeout: 10 * time.Second}

	// createOnB creates a token A has not seen, and returns its SID and the
	// body B fetches it with.
	createOnB := func(t *testing.T, identity string) (string, reply) {
		t.Helper()
		_, tok := mustCreate(t, c, baseB, bootAPIKey, identity)
		r := call(t, c, http.MethodGet, baseB, tokensPath+"/"+tok.SID, bootAPIKey, nil)
		if r.status != http.StatusOK {
			t.Fatalf("fetch on B: status %d, body %s", r.status, r.body)
		}
		return tok.SID, r
	}
	_, onA := mustCreate(t, c, baseA, bootAccount, "outage-a") // cached by A
	wantA := call(t, c, http.MethodGet, baseA, tokensPath+"/"+onA.SID, bootAccount, nil)
	if wantA.status != http.StatusOK {
		t.Fatalf("fetch on A: status %d, body %s", wantA.status, wantA.body)
	}

	// checkDown expects every request that needs the database to fail fast.
	checkDown := func(t *testing.T, uncached string, bound time.Duration) {
		ready := call(t, c, http.MethodGet, baseA, "/readyz", "", nil)
		if ready.status != http.StatusServiceUnavailable {
			t.Errorf("/readyz while down: status %d, want 503", ready.status)
		}
		fetch := call(t, c, http.MethodGet, baseA, tokensPath+"/"+uncached, bootAccount, nil)
		create := call(t, c, http.MethodPost, baseA, tokensPath, bootAccount, createForm("during-outage"))
		for name, r := range map[string]reply{"fetch": fetch, "create": create} {
			if r.status != http.StatusServiceUnavailable || r.twilioCode() != 20503 || r.header.Get("Retry-After") == "" {
				t.Errorf("%s while down: status %d, Retry-After %q, body %s; want 503 · 20503 with Retry-After",
					name, r.status, r.header.Get("Retry-After"), r.body)
			}
			if r.took > bound {
				t.Errorf("%s while down took %v, want at most %v", name, r.took, bound)
			}
		}
		if ready.took > bound+time.Second { // /readyz has a 2s deadline of its own
			t.Errorf("/readyz while down took %v, want at most %v", ready.took, bound+time.Second)
		}
		cached := call(t, c, http.MethodGet, baseA, tokensPath+"/"+onA.SID, bootAccount, nil)
		if cached.status != http.StatusOK || string(cached.body) != string(wantA.body) {
			t.Errorf("fetch of a token A holds in memory, while down: status %d, body %s; want 200 and %s", cached.status, cached.body, wantA.body)
		}
		t.Logf("while down: /readyz %d in %v; fetch %d (code %d, Retry-After %s) in %v; create %d (code %d) in %v; cached fetch %d in %v",
			ready.status, ready.took.Round(time.Millisecond),
			fetch.status, fetch.twilioCode(), fetch.header.Get("Retry-After"), fetch.took.Round(time.Millisecond),
			create.status, create.twilioCode(), create.took.Round(time.Millisecond),
			cached.status, cached.took.Round(time.Millisecond))
	}
	// checkUp expects A to serve again, with the same bytes as B.
	checkUp := func(t *testing.T, uncached string, wantB reply) {
		ready := call(t, c, http.MethodGet, baseA, "/readyz", "", nil)
		if ready.status != http.StatusOK {
			t.Errorf("/readyz after restore: status %d, want 200", ready.status)
		}
		got := call(t, c, http.MethodGet, baseA, tokensPath+"/"+uncached, bootAccount, nil)
		if got.status != http.StatusOK || string(got.body) != string(wantB.body) {
			t.Errorf("fetch on A after restore: status %d, body\n%s\nwant 200 and B's body\n%s", got.status, got.body, wantB.body)
		}
		created := call(t, c, http.MethodPost, baseA, tokensPath, bootAccount, createForm("after-outage"))
		if created.status != http.StatusCreated {
			t.Errorf("create on A after restore: status %d, body %s", created.status, created.body)
		}
		t.Logf("after restore: /readyz %d in %v; fetch %d, body identical to B's, in %v; create %d in %v",
			ready.status, ready.took.Round(time.Millisecond), got.status, got.took.Round(time.Millisecond),
			created.status, created.took.Round(time.Millisecond))
	}

	// The server stopped: connections refused and closed. Failures are
	// immediate.
	t.Run("Unreachable", func(t *testing.T) {
		sid, wantB := createOnB(t, "outage-unreachable")
		p.Break()
		checkDown(t, sid, 2*time.Second)
		p.Restore(t)
		checkUp(t, sid, wantB)
	})
	// A network partition: connections hang. The request timeout (1s)
	// ends every store call.
	t.Run("Silent", func(t *testing.T) {
		sid, wantB := createOnB(t, "outage-silent")
		p.Stall()
		checkDown(t, sid, 2*time.Second)
		p.Restore(t)
		checkUp(t, sid, wantB)
	})
}

// TestPostgresDevMode checks that with PostgreSQL the data directory is
// still created, and holds the dev credentials but no database.
func TestPostgresDevMode(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	d := start(t, nil, "-addr", "127.0.0.1:0", "-data-dir", dir, "-store", dsn)
	creds := readCreds(t, dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != devCredentialsFile {
		t.Errorf("data directory holds %q, want only %s", names, devCredentialsFile)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	req, err := http.NewRequest(http.MethodPost, "http://"+d.addr+"/v2/Services/"+creds.ServiceSID+"/AccessTokens",
		strings.NewReader(createForm("dev-mode-postgres").Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(creds.APIKeySID, creds.APIKeySecret)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("create with the dev credentials: status %d, want 201", resp.StatusCode)
	}
}

// TestPostgresMultiInstance runs two verifyd processes on one PostgreSQL
// database, as a load-balanced deployment does, and checks that they are
// interchangeable: what one creates the other serves byte for byte, with
// the same token key, also under concurrent load through both.
func TestPostgresMultiInstance(t *testing.T) {
	const workers, perWorker = 8, 25 // per instance
	dsn := pgtest.NewDatabase(t)
	bin := verifydBinary(t)
	boot := writeBootstrap(t)

	// Provision the token key before the instances start, as the
	// deployment guide says, so that they all load the same one.
	var rotated struct {
		ID string `json:"key_id"`
	}
	out := runChild(t, bin, "admin", "keys", "rotate", "-store", dsn, "-data-dir", t.TempDir())
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || rotated.ID == "" {
		t.Fatalf("verifyd admin keys rotate printed %q: %v", out, err)
	}

	// Start both at once: migrations and bootstrap race, and must not fail.
	var addrs [2]string
	var wg sync.WaitGroup
	for i := range addrs {
		wg.Go(func() {
			addrs[i] = startServer(t, bin, "-addr", "127.0.0.1:0", "-store", dsn, "-data-dir", t.TempDir(),
				"-bootstrap", boot, "-public-url", stablePublicURL)
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	bases := [2]string{"http://" + addrs[0], "http://" + addrs[1]}
	users := [2]string{bootAccount, bootAPIKey} // one credential kind each
	c := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2 * workers},
	}
	defer c.CloseIdleConnections()

	// One token, created on instance 1, fetched from both.
	created, tok := mustCreate(t, c, bases[0], users[0], "multi-instance")
	from1 := call(t, c, http.MethodGet, bases[0], tokensPath+"/"+tok.SID, users[0], nil)
	from2 := call(t, c, http.MethodGet, bases[1], tokensPath+"/"+tok.SID, users[1], nil)
	if from1.status != http.StatusOK || from2.status != http.StatusOK || string(from1.body) != string(from2.body) {
		t.Fatalf("fetch from instance 1: %d %s\nfetch from instance 2: %d %s\nwant 200 and identical bodies", from1.status, from1.body, from2.status, from2.body)
	}
	if string(from2.body) != string(created.body) {
		t.Errorf("fetch from instance 2:\n%s\nwant the create response of instance 1:\n%s", from2.body, created.body)
	}

	// Concurrent creates through both instances.
	type result struct {
		instance int
		body     []byte
		tok      accessToken
	}
	results := make([][]result, 2*workers)
	var failures sync.Map
	begin := time.Now()
	for w := range 2 * workers {
		inst := w % 2
		wg.Go(func() {
			for i := range perWorker {
				r, err := do(c, http.MethodPost, bases[inst], tokensPath, users[inst], createForm(fmt.Sprintf("worker-%02d-%03d", w, i)))
				var tok accessToken
				if err != nil || r.status != http.StatusCreated || json.Unmarshal(r.body, &tok) != nil {
					failures.Store(fmt.Sprintf("create %d/%d on instance %d", w, i, inst+1), fmt.Sprintf("%v %d %s", err, r.status, r.body))
					continue
				}
				results[w] = append(results[w], result{instance: inst, body: r.body, tok: tok})
			}
		})
	}
	wg.Wait()
	createTook := time.Since(begin)

	sids := make(map[string]int)
	var all []result
	for _, rs := range results {
		for _, r := range rs {
			sids[r.tok.SID]++
			all = append(all, r)
		}
	}
	for s, n := range sids {
		if n > 1 {
			t.Errorf("SID %s was returned by %d creates", s, n)
		}
	}

	// Every token fetches, byte for byte, from the instance that did not
	// create it.
	var crossOK int
	var mu sync.Mutex
	begin = time.Now()
	for w := range 2 * workers {
		wg.Go(func() {
			for i := w; i < len(all); i += 2 * workers {
				r := all[i]
				other := 1 - r.instance
				got, err := do(c, http.MethodGet, bases[other], tokensPath+"/"+r.tok.SID, users[other], nil)
				if err != nil || got.status != http.StatusOK || string(got.body) != string(r.body) {
					failures.Store("fetch "+r.tok.SID, fmt.Sprintf("from instance %d: %v %d %s, want the create body %s", other+1, err, got.status, got.body, r.body))
					continue
				}
				mu.Lock()
				crossOK++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	fetchTook := time.Since(begin)
	failures.Range(func(k, v any) bool {
		t.Errorf("%s: %s", k, v)
		return true
	})

	// Both instances minted with the one key in the store, and the key set
	// loaded from the store opens tokens from either.
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.TokenKeys(t.Context())
	if err != nil || len(stored) != 1 || stored[0].ID != rotated.ID {
		t.Fatalf("token keys in the store = %v, %v; want only %s", stored, err, rotated.ID)
	}
	keys, err := provision.KeySet(t.Context(), st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kids := make(map[string]int)
	opened := 0
	for _, r := range append([]result{{instance: 0, tok: tok}}, all...) {
		h, err := token.Inspect(r.tok.Token)
		if err != nil {
			t.Errorf("token %s: %v", r.tok.SID, err)
			continue
		}
		kids[h.KeyID]++
		claims, err := token.Open(keys, r.tok.Token)
		if err != nil || claims.SID != r.tok.SID {
			t.Errorf("token %s from instance %d: token.Open with the store's keys = %+v, %v", r.tok.SID, r.instance+1, claims, err)
			continue
		}
		opened++
	}
	if len(kids) != 1 || kids[rotated.ID] == 0 {
		t.Errorf("tokens were minted with keys %v, want all with %s", kids, rotated.ID)
	}

	want := 2 * workers * perWorker
	if len(all) != want || len(sids) != want || crossOK != want {
		t.Errorf("%d creates succeeded, %d unique SIDs, %d cross-instance fetches matched; want %d of each", len(all), len(sids), crossOK, want)
	}
	t.Logf("multi-instance: 2 verifyd processes, 1 PostgreSQL database; %d concurrent creates (2 instances × %d goroutines × %d) in %v: %d ok, %d unique SIDs; %d/%d fetched byte-identical from the other instance in %v; all %d tokens minted with key %s and opened with the key set loaded from the store",
		want, workers, perWorker, createTook.Round(time.Millisecond), len(all), len(sids), crossOK, len(all), fetchTook.Round(time.Millisecond), opened, rotated.ID)
}

// TestPostgresKeysExport is TestKeysExport on PostgreSQL, where the keys
// come from the database and the data dir holds only dev credentials.
func TestPostgresKeysExport(t *testing.T) {
	testKeysExport(t, []string{"-store", pgtest.NewDatabase(t)})
}
