package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	verifyd        string
	rounds         int
	duration       time.Duration
	conns          int
	createDuration time.Duration
	memoryDuration time.Duration
	wrk            bool // also run the fetch rounds with wrk
	pin            pinning
	peersDir       string // where the peer stacks' binaries are; "" skips them
}

// result is one round of load against one server.
type result struct {
	requests int
	errors   int
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      time.Duration // the server's CPU time (user and system) over the round; 0 if unknown
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) String() string {
	s := fmt.Sprintf("%9.0f req/s  p50 %7s  p99 %7s  (%d requests, %d errors)",
		r.rps(), r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.requests, r.errors)
	if r.cpu > 0 && r.requests > 0 {
		s += fmt.Sprintf("  server CPU %.1fµs/req", float64(r.cpu.Nanoseconds())/1e3/float64(r.requests))
	}
	return s
}

// process is a child server with its address.
type process struct {
	cmd  *exec.Cmd
	addr string
	once sync.Once
}

// stop interrupts the process and waits for it; only the first call does.
func (p *process) stop() { p.once.Do(p.interrupt) }

func (p *process) interrupt() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// startProcess runs name with args and waits for its "listening on ADDR".
// Its standard error goes to stderr; nil discards it.
func startProcess(ctx context.Context, pin pinning, stderr *os.File, name string, args ...string) (*process, error) {
	cmd := pin.server(ctx, name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s printed nothing", name)
	}
	addr, ok := strings.CutPrefix(sc.Text(), "listening on ")
	if !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s: first line %q, want listening on ADDR", name, sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &process{cmd: cmd, addr: addr}, nil
}

func bench(ctx context.Context, o options, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "verifybench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary directory: best effort

	// verifyd logs as it does by default, one access log line per request,
	// to a file as a service's logs would go.
	logFile, err := os.Create(filepath.Join(dir, "verifyd.log"))
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }() // read back by name, below
	// The limit on failed authentications is off: the 401 row measures the
	// secret's check on every request, where the limit would answer 429
	// before checking after the tenth, and lock the good rows out too.
	vd, err := startProcess(ctx, o.pin, logFile, o.verifyd, "-addr", "127.0.0.1:0", "-data-dir", dir, "-auth-failure-limit", "-1")
	if err != nil {
		return err
	}
	defer vd.stop()
	var creds struct {
		AccountSID string `json:"account_sid"`
		AuthToken  string `json:"auth_token"`
		ServiceSID string `json:"service_sid"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "dev-credentials.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &creds); err != nil {
		return err
	}
	base := "http://" + vd.addr
	createURL := base + "/v2/Services/" + creds.ServiceSID + "/AccessTokens"
	const form = "FactorFriendlyName=John+Doe+iPhone&FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&Ttl=300"
	newCreate := func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, createURL, strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(creds.AccountSID, creds.AuthToken)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	}
	req, err := newCreate()
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	created, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("seed create: %d %s", resp.StatusCode, created)
	}
	var tok struct {
		SID   string `json:"sid"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(created, &tok); err != nil {
		return err
	}
	fetchURL := createURL + "/" + tok.SID

	// The baseline serves the exact bytes of a verifyd fetch.
	fetchReq, _ := http.NewRequest(http.MethodGet, fetchURL, nil)
	fetchReq.SetBasicAuth(creds.AccountSID, creds.AuthToken)
	resp, err = http.DefaultClient.Do(fetchReq)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	bodyFile := filepath.Join(dir, "body.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		return err
	}
	// The baseline sends the same header fields too; net/http adds Date
	// and Content-Length to both.
	header := resp.Header.Clone()
	header.Del("Date")
	header.Del("Content-Length")
	headerJSON, err := json.Marshal(header)
	if err != nil {
		return err
	}
	headerFile := filepath.Join(dir, "header.json")
	if err := os.WriteFile(headerFile, headerJSON, 0o600); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bl, err := startProcess(ctx, o.pin, nil, self, "serve-baseline", bodyFile, headerFile)
	if err != nil {
		return err
	}
	defer bl.stop()
	baseFetchURL := strings.Replace(fetchURL, vd.addr, bl.addr, 1)
	fl, err := startProcess(ctx, o.pin, nil, self, "serve-floor", bodyFile, headerFile)
	if err != nil {
		return err
	}
	defer fl.stop()
	floorFetchURL := strings.Replace(fetchURL, vd.addr, fl.addr, 1)

	chalURL, err := pendingChallenge(ctx, base, creds.ServiceSID, tok.Token, creds.AccountSID, creds.AuthToken)
	if err != nil {
		return fmt.Errorf("set up a pending challenge: %w", err)
	}
	peers, err := startPeers(ctx, o, stdout, bodyFile, headerFile, creds.AccountSID, creds.AuthToken)
	if err != nil {
		return err
	}
	defer func() {
		for _, p := range peers {
			p.p.stop()
		}
	}()

	fmt.Fprintf(stdout, "verifybench: %d rounds × %s, %d connections, fetch body %d bytes\n", o.rounds, o.duration, o.conns, len(body))
	fmt.Fprintf(stdout, "verifybench: %s\n", o.pin)
	if up, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(stdout, "verifybench: load average before the rounds: %s", up)
	}
	failed := 0
	served := 3 // the seed create and fetch, and the challenge's create
	authorization := "Basic " + base64.StdEncoding.EncodeToString([]byte(creds.AccountSID+":"+creds.AuthToken))
	wrongAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(creds.AccountSID+":"+strings.Repeat("0", len(creds.AuthToken))))
	unknownURL := fetchURL[:strings.LastIndex(fetchURL, "/")+1] + "YK" + strings.Repeat("0", 32)
	// The stacks of each round, in order; efficiency is the first's CPU
	// per request over each one's.
	stacks := []stack{
		{name: "baseline net/http", p: bl, url: baseFetchURL, auth: authorization, want: http.StatusOK},
		{name: "floor (bare echo)", p: fl, url: floorFetchURL, auth: authorization, want: http.StatusOK},
		{name: "verifyd fetch", p: vd, url: fetchURL, auth: authorization, want: http.StatusOK},
	}
	for _, p := range peers {
		stacks = append(stacks, stack{name: p.name, p: p.p, url: strings.Replace(fetchURL, vd.addr, p.p.addr, 1), auth: authorization, want: http.StatusOK})
	}
	stacks = append(stacks,
		stack{name: "verifyd 404 (unknown)", p: vd, url: unknownURL, auth: authorization, want: http.StatusNotFound},
		stack{name: "verifyd 401 (secret)", p: vd, url: fetchURL, auth: wrongAuth, want: http.StatusUnauthorized},
		stack{name: "verifyd challenge", p: vd, url: chalURL, auth: authorization, want: http.StatusOK},
	)
	for _, s := range stacks[1:] {
		if s.want != http.StatusOK || s.p == vd {
			continue
		}
		same, err := sameFetch(ctx, s.url, s.auth, body)
		if err != nil {
			return fmt.Errorf("%s does not answer as verifyd: %w", s.name, err)
		}
		if !same {
			fmt.Fprintf(stdout, "verifybench: %s sends the same JSON as verifyd in other bytes\n", s.name)
		}
	}
	goLoad := func(s stack) (result, error) {
		return load(ctx, o, s.want, func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, s.url, nil)
			if err == nil {
				req.Header.Set("Authorization", s.auth)
			}
			return req, err
		}), nil
	}
	count := func(s stack, r result) {
		failed += r.errors
		if s.p == vd {
			served += r.requests
		}
	}
	if err := interleave(ctx, o, stdout, "Go generator", stacks, goLoad, count); err != nil {
		return err
	}
	// The same rounds with wrk, a load generator in C that takes less CPU
	// per request than the Go one.
	if o.wrk {
		name := fmt.Sprintf("wrk -t1 -c%d", o.conns)
		if err := interleave(ctx, o, stdout, name, stacks, func(s stack) (result, error) { return wrkLoad(ctx, o, s) }, count); err != nil {
			return err
		}
	}

	if o.createDuration > 0 {
		co := o
		co.duration = o.createDuration
		c := load(ctx, co, http.StatusCreated, newCreate)
		failed += c.errors
		served += c.requests
		fmt.Fprintf(stdout, "verifyd create (durable)   %s\n", c)
	}
	if o.memoryDuration > 0 {
		m, samples := memoryLoad(ctx, o, vd.cmd.Process.Pid, fetchURL, newCreate, creds.AccountSID, creds.AuthToken)
		failed += m.errors
		served += m.requests
		fmt.Fprintf(stdout, "verifyd mixed load (3 fetches : 1 create) %s\n", m)
		fmt.Fprintf(stdout, "verifyd RSS under mixed load, MiB:")
		for _, s := range samples {
			fmt.Fprintf(stdout, " %.1fs %.1f", s.at.Seconds(), float64(s.rss)/(1<<20))
		}
		fmt.Fprintln(stdout)
	} else if rss, err := rssOf(vd.cmd.Process.Pid); err == nil {
		fmt.Fprintf(stdout, "verifyd RSS after load: %.1f MiB\n", float64(rss)/(1<<20))
	}
	// Stopping verifyd flushes its log; requests cut off at the end of a
	// round may be logged too.
	vd.stop()
	if logged, err := os.ReadFile(logFile.Name()); err == nil {
		n := bytes.Count(logged, []byte(`"msg":"request"`))
		fmt.Fprintf(stdout, "verifyd access log: %d lines for %d completed requests\n", n, served)
		if n < served {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d requests failed or got an unexpected status", failed)
	}
	return nil
}

// rssSample is verifyd's resident set size some time into a load.
type rssSample struct {
	at  time.Duration
	rss int64
}

// memoryLoad runs a mixed load of three fetches to one create for
// o.memoryDuration and samples verifyd's RSS at the start and every
// sixth of the way.
func memoryLoad(ctx context.Context, o options, pid int, fetchURL string, newCreate func() (*http.Request, error), user, pass string) (result, []rssSample) {
	mo := o
	mo.duration = o.memoryDuration
	var n atomic.Int64
	newReq := func() (*http.Request, int, error) {
		if n.Add(1)%4 == 0 {
			req, err := newCreate()
			return req, http.StatusCreated, err
		}
		req, err := http.NewRequest(http.MethodGet, fetchURL, nil)
		if err == nil {
			req.SetBasicAuth(user, pass)
		}
		return req, http.StatusOK, err
	}
	var samples []rssSample
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		t := time.NewTicker(o.memoryDuration / 6)
		defer t.Stop()
		for i := 0; i <= 6; i++ {
			if rss, err := rssOf(pid); err == nil {
				samples = append(samples, rssSample{at: time.Since(start), rss: rss})
			}
			if i == 6 {
				return
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	r := loadMixed(ctx, mo, newReq)
	<-done
	return r, samples
}

// load runs o.conns workers, each with its own keep-alive connection,
// for o.duration, and summarises their latencies; every response must
// have status want.
func load(ctx context.Context, o options, want int, newReq func() (*http.Request, error)) result {
	return loadMixed(ctx, o, func() (*http.Request, int, error) {
		req, err := newReq()
		return req, want, err
	})
}

// loadMixed is load with requests that each say which status they want.
func loadMixed(ctx context.Context, o options, newReq func() (*http.Request, int, error)) result {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range o.conns {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{
				DialContext:         (&net.Dialer{}).DialContext,
				MaxIdleConnsPerHost: 1,
			}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			local := make([]time.Duration, 0, 1<<14)
			bad := 0
			for ctx.Err() == nil {
				req, want, err := newReq()
				if err != nil {
					bad++
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
						bad++
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local = append(local, time.Since(t0))
				if resp.StatusCode != want {
					bad++
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	r := result{requests: len(latencies), errors: errs, elapsed: elapsed}
	if n := len(latencies); n > 0 {
		r.p50 = latencies[n/2]
		r.p99 = latencies[n*99/100]
	}
	return r
}

// serveFixed serves the precomputed header fields and body of a fetch:
// with a plain http.Handler that does nothing else (the baseline), or
// through the generated echo server (the floor, see generatedFloor).
func serveFixed(ctx context.Context, generated bool, bodyFile, headerFile string, stdout io.Writer) error {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(headerFile)
	if err != nil {
		return err
	}
	var header http.Header
	if err := json.Unmarshal(raw, &header); err != nil {
		return fmt.Errorf("%s: %w", headerFile, err)
	}
	var h http.Handler = fixedResponse{Header: header, Body: body}
	if generated {
		h = generatedFloor(header, body)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// cpuOf reads the CPU time, user and system, that a process and all its
// threads have used, from /proc. The kernel counts it in clock ticks,
// which are 1/100 s on Linux (USER_HZ).
func cpuOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("cpuOf: no command name in /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state is field 3, utime 14, stime 15.
	if len(f) < 13 {
		return 0, errors.New("cpuOf: short /proc stat")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpuOf: %w", err)
		}
		ticks += n
	}
	const userHZ = 100
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// rssOf reads a process's resident set size from /proc.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			var kb int64
			if _, err := fmt.Sscanf(string(rest), "%d", &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS")
}
