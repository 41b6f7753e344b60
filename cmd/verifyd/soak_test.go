package main

// TestSoak is verifyd's soak test: mixed create, fetch and invalid traffic
// at high concurrency against the whole API handler on loopback, for a set
// duration, checking every answer and watching goroutines, heap and RSS.
//
// It runs for 5 seconds by default, so go test ./... (and CI) runs a short
// soak; make soak runs it for a minute. The duration comes from the
// -soak.duration flag, else the VERIFYKIT_SOAK_DURATION environment
// variable:
//
//	go test -run TestSoak -v ./cmd/verifyd -soak.duration=60s
//
// See docs/reliability.md for what it proves and the figures of a full run.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store/sqlite"
)

var durationFlag = flag.Duration("soak.duration", 0, "how long TestSoak sends traffic; 0: VERIFYKIT_SOAK_DURATION, else 5s")

const (
	// envDuration names the environment variable read when the flag is not
	// given.
	envDuration     = "VERIFYKIT_SOAK_DURATION"
	defaultDuration = 5 * time.Second

	workers = 64
	// seedTokens are created before the clock starts, so the first
	// fetches have something to fetch.
	seedTokens = 64
	// ringSize is how many created tokens the workers remember and fetch
	// at random. It exceeds the handler's token cache (20,000 entries), so
	// in a long soak part of the fetches miss the cache and read the store.
	ringSize = 32_768
	// maxPerWorker bounds each worker's loop besides the clock.
	maxPerWorker = 10_000_000

	// The memory check fails only on gross growth: a final sample above
	// growthFactor times the sample at 10% of the run plus growthSlack.
	// The slack covers the caches, which fill up to their bounds during the
	// run (about 20 MiB of tokens), and the garbage between two GCs.
	growthFactor = 2
	growthSlack  = 32 << 20

	// goroutineSettle is how long the goroutines may take to end after the
	// server, the clients and the store are shut down.
	goroutineSettle = 5 * time.Second

	publicURL = "https://verify.example.test"
)

// soakDuration is -soak.duration, else $VERIFYKIT_SOAK_DURATION, else 5s.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	if *durationFlag > 0 {
		return *durationFlag
	}
	if v := os.Getenv(envDuration); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive duration such as 60s", envDuration, v)
		}
		return d
	}
	return defaultDuration
}

// kind is one sort of request the soak sends; each knows its answer.
type kind int

const (
	fetchKnown     kind = iota // a token created earlier: 200 and the body the create returned
	kindCreate                 // 201
	fetchUnknown               // a well-formed SID nobody created: 404 · 20404
	fetchMalformed             // a SID that breaks the pattern: 400 · 60200
	noCredentials              // 401 · 20003; does not count as a failed authentication
	wrongSecret                // from its own loopback address: 401 · 20003, or 429 · 20429 once limited
	unknownService             // create in a service nobody has: 404 · 20404
	invalidBody                // create with an Identity too short: 400 · 60200
	numKinds
)

var kindNames = [numKinds]string{"fetch", "create", "fetch unknown SID", "fetch malformed SID", "no credentials",
	"wrong secret", "unknown service", "invalid body"}

// class groups the kinds for the latency report.
func (k kind) class() int {
	switch k {
	case fetchKnown:
		return 0
	case kindCreate:
		return 1
	}
	return 2
}

var classNames = [3]string{"fetch", "create", "invalid"}

// expected maps each acceptable HTTP status of a kind to its Twilio error
// code (0 for a success).
var expected = [numKinds]map[int]int{
	fetchKnown:     {http.StatusOK: 0},
	kindCreate:     {http.StatusCreated: 0},
	fetchUnknown:   {http.StatusNotFound: 20404},
	fetchMalformed: {http.StatusBadRequest: 60200},
	noCredentials:  {http.StatusUnauthorized: 20003},
	wrongSecret:    {http.StatusUnauthorized: 20003, http.StatusTooManyRequests: 20429},
	unknownService: {http.StatusNotFound: 20404},
	invalidBody:    {http.StatusBadRequest: 60200},
}

// pick draws a kind: 60% fetch, 30% create, 10% spread over the invalid
// kinds.
func pick(rng *rand.Rand, guessing bool) kind {
	switch n := rng.IntN(100); {
	case n < 60:
		return fetchKnown
	case n < 90:
		return kindCreate
	}
	k := fetchUnknown + kind(rng.IntN(int(numKinds-fetchUnknown)))
	if k == wrongSecret && !guessing {
		return noCredentials
	}
	return k
}

// known is a created token: its SID and a digest of the 201 body.
type known struct {
	sid string
	sum [sha256.Size]byte
}

// ring remembers the last ringSize created tokens.
type ring struct {
	mu      sync.RWMutex
	entries []known
	next    int
}

func (r *ring) add(k known) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) < ringSize {
		r.entries = append(r.entries, k)
		return
	}
	r.entries[r.next] = k
	r.next = (r.next + 1) % ringSize
}

func (r *ring) pick(rng *rand.Rand) (known, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.entries) == 0 {
		return known{}, false
	}
	return r.entries[rng.IntN(len(r.entries))], true
}

// histogram counts latencies in buckets that grow by 5%, from 10µs to about
// 100s, so quantiles are exact to 5% in constant memory.
type histogram [histBuckets]int64

const (
	histBase    = 10 * time.Microsecond
	histGrowth  = 1.05
	histBuckets = 332
)

func (h *histogram) add(d time.Duration) {
	i := 0
	if d > histBase {
		i = int(math.Log(float64(d)/float64(histBase))/math.Log(histGrowth)) + 1
	}
	h[min(i, histBuckets-1)]++
}

func (h *histogram) merge(o *histogram) {
	for i := range h {
		h[i] += o[i]
	}
}

func (h *histogram) count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// quantile returns the upper bound of the bucket that holds quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	target := int64(math.Ceil(q * float64(h.count())))
	var seen int64
	for i, c := range h {
		seen += c
		if seen >= target && c > 0 {
			return time.Duration(float64(histBase) * math.Pow(histGrowth, float64(i)))
		}
	}
	return 0
}

// tally is what one worker saw; the workers' tallies are merged at the end.
type tally struct {
	requests   [numKinds]int64
	statuses   map[int]int64
	latency    [3]histogram
	unexpected int64
	examples   []string
}

func (t *tally) merge(o *tally) {
	for k := range t.requests {
		t.requests[k] += o.requests[k]
	}
	for s, n := range o.statuses {
		t.statuses[s] += n
	}
	for c := range t.latency {
		t.latency[c].merge(&o.latency[c])
	}
	t.unexpected += o.unexpected
	t.examples = append(t.examples, o.examples...)
}

func (t *tally) fail(format string, args ...any) {
	t.unexpected++
	if len(t.examples) < 3 {
		t.examples = append(t.examples, fmt.Sprintf(format, args...))
	}
}

// sample is one reading of the process's resources.
type sample struct {
	at         time.Duration
	heapInuse  uint64
	rss        uint64 // 0 where /proc/self/status is missing
	goroutines int
}

func takeSample(at time.Duration) sample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{at: at, heapInuse: ms.HeapInuse, rss: readRSS(), goroutines: runtime.NumGoroutine()}
}

// readRSS returns VmRSS from /proc/self/status in bytes, or 0.
func readRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// logSink takes the server's log lines (warnings and errors only) and
// keeps the first few.
type logSink struct {
	mu     sync.Mutex
	lines  int
	errors int
	head   []string
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.Lines(string(p)) {
		l.lines++
		if strings.Contains(line, `"level":"ERROR"`) {
			l.errors++
		}
		if len(l.head) < 5 {
			l.head = append(l.head, strings.TrimSpace(line))
		}
	}
	return len(p), nil
}

// target is the server under soak and the credentials to use on it.
type target struct {
	base               string
	account, authToken string
	apiKey, apiSecret  string
	service            string
	good, guesser      *http.Client // guesser: from its own loopback address, or nil
	goodTr, guesserTr  *http.Transport
	tokens             ring
	unknownServiceSID  string
	createPath         string
}

// TestSoak runs the API handler, on a SQLite store in a temporary directory,
// behind an http.Server on 127.0.0.1, and sends it mixed traffic from 64
// workers for the soak duration: 60% fetches of tokens created earlier, 30%
// creates, 10% invalid requests (unknown and malformed SIDs, missing and
// wrong credentials, an unknown service, an invalid body). Every answer is
// checked against the status, and for errors the Twilio code, its request
// must get; fetched bodies must equal the body their create returned.
// Wrong secrets come from 127.0.0.2, so the failed-authentication limit
// may answer them 429 but must never limit the other workers on 127.0.0.1.
//
// Meanwhile it samples heap in use, RSS and goroutines every second. It
// fails on any unexpected answer, on gross memory growth (a final sample
// above 2× the sample at 10% of the run plus 32 MiB), and when goroutines
// outlive the shutdown of server, clients and store.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)
	goroutinesBefore := runtime.NumGoroutine()
	ctx := t.Context()

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "verifyd.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	acc, authToken, err := provision.Account(ctx, st, "soak", now)
	if err != nil {
		t.Fatal(err)
	}
	key, secret, err := provision.APIKey(ctx, st, acc.SID, "soak", now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := provision.Service(ctx, st, acc.SID, "soak", now)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := provision.KeySet(ctx, st, now)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logSink{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := api.NewHandler(api.Config{PublicURL: publicURL}, st, keys, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	tg := &target{
		base:      "http://" + ln.Addr().String(),
		account:   acc.SID,
		authToken: authToken,
		apiKey:    key.SID,
		apiSecret: secret,
		service:   svc.SID,
		goodTr:    &http.Transport{MaxIdleConnsPerHost: workers},
	}
	tg.good = &http.Client{Transport: tg.goodTr, Timeout: 30 * time.Second}
	tg.createPath = "/v2/Services/" + svc.SID + "/AccessTokens"
	tg.unknownServiceSID = sid.New(sid.Service)
	tg.guesserTr, tg.guesser = guesserClient(t, ln.Addr().String())

	for i := range seedTokens {
		tk, err := tg.create(ctx, fmt.Sprintf("seed-token-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		tg.tokens.add(tk)
	}

	// Sample every second until the workers are done.
	var samples []sample
	begin := time.Now()
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		samples = append(samples, takeSample(0))
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				samples = append(samples, takeSample(time.Since(begin)))
			case <-stopSampling:
				samples = append(samples, takeSample(time.Since(begin)))
				return
			}
		}
	}()

	end := begin.Add(duration)
	tallies := make([]*tally, workers)
	var wg sync.WaitGroup
	for w := range workers {
		tallies[w] = &tally{statuses: make(map[int]int64)}
		wg.Go(func() { tg.work(ctx, rand.New(rand.NewPCG(uint64(begin.UnixNano()), uint64(w))), end, tallies[w]) })
	}
	wg.Wait()
	elapsed := time.Since(begin)
	close(stopSampling)
	<-sampled

	// Shut everything down; then every goroutine started since the start
	// must end.
	tg.goodTr.CloseIdleConnections()
	if tg.guesserTr != nil {
		tg.guesserTr.CloseIdleConnections()
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		t.Errorf("server shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("close store: %v", err)
	}
	goroutinesAfter := settleGoroutines(goroutinesBefore)
	if goroutinesAfter > goroutinesBefore {
		var dump bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
		t.Errorf("%d goroutines %v after shutdown, %d before the soak: leaked goroutines:\n%s",
			goroutinesAfter, goroutineSettle, goroutinesBefore, dump.String())
	}

	all := &tally{statuses: make(map[int]int64)}
	for _, tl := range tallies {
		all.merge(tl)
	}
	for _, ex := range all.examples {
		t.Errorf("unexpected answer: %s", ex)
	}
	if all.unexpected > 0 {
		t.Errorf("%d unexpected answers in all", all.unexpected)
	}
	if logs.errors > 0 {
		t.Errorf("the server logged %d errors; the first lines:\n%s", logs.errors, strings.Join(logs.head, "\n"))
	}
	checkGrowth(t, samples)
	report(t, duration, elapsed, all, samples, logs, goroutinesBefore, goroutinesAfter)
}

// guesserClient returns a client whose connections come from 127.0.0.2, so
// the server's failed-authentication limit sees it as a client of its own.
// Where that address cannot be used it returns nils, and the soak sends no
// wrong secrets.
func guesserClient(t *testing.T, addr string) (*http.Transport, *http.Client) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Logf("no wrong-secret traffic: cannot dial from 127.0.0.2: %v", err)
		return nil, nil
	}
	conn.Close()
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: workers}
	return tr, &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// settleGoroutines waits up to goroutineSettle for the goroutine count to
// fall to want, and returns the last count.
func settleGoroutines(want int) int {
	deadline := time.Now().Add(goroutineSettle)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// create creates a token with the good client and returns it.
func (tg *target) create(ctx context.Context, identity string) (known, error) {
	status, body, err := tg.send(ctx, tg.good, http.MethodPost, tg.createPath, url.Values{"Identity": {identity}, "FactorType": {"push"}}, tg.apiKey, tg.apiSecret)
	if err != nil {
		return known{}, err
	}
	return soakParseCreated(status, body)
}

func soakParseCreated(status int, body []byte) (known, error) {
	var tok struct {
		SID string `json:"sid"`
	}
	if status != http.StatusCreated {
		return known{}, fmt.Errorf("create: status %d, body %s", status, body)
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.SID == "" {
		return known{}, fmt.Errorf("create: body %s: sid %q, %w", body, tok.SID, err)
	}
	return known{sid: tok.SID, sum: sha256.Sum256(body)}, nil
}

// send makes one request; user "" sends no credentials.
func (tg *target) send(ctx context.Context, c *http.Client, method, path string, form url.Values, user, pass string) (int, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, tg.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// work is one worker: requests until end, each checked against what its kind
// must get.
func (tg *target) work(ctx context.Context, rng *rand.Rand, end time.Time, tl *tally) {
	for i := 0; i < maxPerWorker && time.Now().Before(end); i++ {
		k := pick(rng, tg.guesser != nil)
		// Good requests alternate between the two kinds of credential.
		user, pass := tg.account, tg.authToken
		if i%2 == 1 {
			user, pass = tg.apiKey, tg.apiSecret
		}
		c := tg.good
		var (
			method = http.MethodGet
			path   string
			form   url.Values
			want   known
		)
		switch k {
		case fetchKnown:
			var ok bool
			if want, ok = tg.tokens.pick(rng); !ok {
				continue
			}
			path = tg.createPath + "/" + want.sid
		case kindCreate:
			method, path = http.MethodPost, tg.createPath
			form = url.Values{"Identity": {fmt.Sprintf("soak-%x-%d", rng.Uint32(), i)}, "FactorType": {"push"}}
		case fetchUnknown:
			path = tg.createPath + "/" + sid.New(sid.AccessToken)
		case fetchMalformed:
			path = tg.createPath + "/YK" + strings.Repeat("z", 32)
		case noCredentials:
			path, user = tg.createPath+"/"+sid.New(sid.AccessToken), ""
		case wrongSecret:
			c, path, pass = tg.guesser, tg.createPath, "0123456789abcdef0123456789abcdef"
			method, form = http.MethodPost, url.Values{"Identity": {"wrong-secret"}, "FactorType": {"push"}}
		case unknownService:
			method, path = http.MethodPost, "/v2/Services/"+tg.unknownServiceSID+"/AccessTokens"
			form = url.Values{"Identity": {"unknown-service"}, "FactorType": {"push"}}
		case invalidBody:
			method, path = http.MethodPost, tg.createPath
			form = url.Values{"Identity": {"short"}, "FactorType": {"push"}}
		}

		begin := time.Now()
		status, body, err := tg.send(ctx, c, method, path, form, user, pass)
		tl.latency[k.class()].add(time.Since(begin))
		tl.requests[k]++
		if err != nil {
			tl.fail("%s %s: %v", kindNames[k], path, err)
			continue
		}
		tl.statuses[status]++
		code, ok := expected[k][status]
		if !ok {
			tl.fail("%s %s: status %d, body %s", kindNames[k], path, status, body)
			continue
		}
		switch {
		case k == fetchKnown:
			if sha256.Sum256(body) != want.sum {
				tl.fail("fetch %s: body %s differs from the one its create returned", want.sid, body)
			}
		case k == kindCreate:
			tk, err := soakParseCreated(status, body)
			if err != nil {
				tl.fail("%v", err)
				continue
			}
			tg.tokens.add(tk)
		default:
			var e struct {
				Code   int `json:"code"`
				Status int `json:"status"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Code != code || e.Status != status {
				tl.fail("%s %s: status %d, body %s; want code %d", kindNames[k], path, status, body, code)
			}
		}
	}
}

// checkGrowth fails on gross growth of heap in use or RSS: the last sample
// above growthFactor × the sample at 10% of the run + growthSlack.
func checkGrowth(t *testing.T, samples []sample) {
	t.Helper()
	if len(samples) < 3 {
		t.Logf("only %d resource samples; no growth check", len(samples))
		return
	}
	base, last := samples[max(1, len(samples)/10)], samples[len(samples)-1]
	if limit := growthFactor*base.heapInuse + growthSlack; last.heapInuse > limit {
		t.Errorf("heap in use grew from %s at %v to %s at the end, over the limit %s", mib(base.heapInuse), base.at.Round(time.Second), mib(last.heapInuse), mib(limit))
	}
	if base.rss > 0 {
		if limit := growthFactor*base.rss + growthSlack; last.rss > limit {
			t.Errorf("RSS grew from %s at %v to %s at the end, over the limit %s", mib(base.rss), base.at.Round(time.Second), mib(last.rss), mib(limit))
		}
	}
}

// report logs the figures docs/reliability.md quotes.
func report(t *testing.T, duration, elapsed time.Duration, all *tally, samples []sample, logs *logSink, before, after int) {
	t.Helper()
	var total int64
	for _, n := range all.requests {
		total += n
	}
	t.Logf("soak: %v, %d workers, GOMAXPROCS %d: %d requests, %.0f req/s, %d unexpected",
		duration, workers, runtime.GOMAXPROCS(0), total, float64(total)/elapsed.Seconds(), all.unexpected)
	var overall histogram
	for c := range all.latency {
		overall.merge(&all.latency[c])
		h := &all.latency[c]
		t.Logf("  %-7s %8d requests  p50 %v  p99 %v", classNames[c], h.count(), h.quantile(0.50).Round(10*time.Microsecond), h.quantile(0.99).Round(10*time.Microsecond))
	}
	t.Logf("  %-7s %8d requests  p50 %v  p99 %v", "all", overall.count(), overall.quantile(0.50).Round(10*time.Microsecond), overall.quantile(0.99).Round(10*time.Microsecond))
	var kinds []string
	for k, n := range all.requests {
		kinds = append(kinds, fmt.Sprintf("%s %d", kindNames[k], n))
	}
	t.Logf("  by kind: %s", strings.Join(kinds, ", "))
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(all.statuses)) {
		parts = append(parts, fmt.Sprintf("%d×%d", s, all.statuses[s]))
	}
	t.Logf("  statuses: %s; server log lines at warn or above: %d", strings.Join(parts, ", "), logs.lines)
	if len(samples) > 0 {
		first, base, mid, last := samples[0], samples[max(1, len(samples)/10)%len(samples)], samples[len(samples)/2], samples[len(samples)-1]
		peak := 0
		for _, s := range samples {
			peak = max(peak, s.goroutines)
		}
		for _, row := range []struct {
			name string
			s    sample
		}{{"start", first}, {"10%", base}, {"mid", mid}, {"end", last}} {
			t.Logf("  %-5s at %5v: heap in use %s, RSS %s, goroutines %d", row.name, row.s.at.Round(time.Second), mib(row.s.heapInuse), mib(row.s.rss), row.s.goroutines)
		}
		var heap, rss []string
		for i := range 11 {
			s := samples[min(i*(len(samples)-1)/10, len(samples)-1)]
			heap = append(heap, fmt.Sprintf("%.0f", float64(s.heapInuse)/(1<<20)))
			rss = append(rss, fmt.Sprintf("%.0f", float64(s.rss)/(1<<20)))
		}
		t.Logf("  every 10%% of the run, MiB: heap in use %s; RSS %s", strings.Join(heap, " "), strings.Join(rss, " "))
		t.Logf("  goroutines: %d before, peak %d, %d after shutdown", before, peak, after)
	}
}
