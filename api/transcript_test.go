package api_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/api"
)

// update rewrites the golden files of this package from the current code.
var update = flag.Bool("update", false, "rewrite testdata/transcript.txt from the current code")

// transcriptFile holds the recorded exchanges. Its format is described in
// its own header (transcriptHeader).
const transcriptFile = "testdata/transcript.txt"

// transcriptNow is the fixed clock of every handler in the transcript.
var transcriptNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// TestWireTranscript proves that verifyd's behaviour on the wire does not
// change: it sends each request of testdata/transcript.txt, byte for byte,
// to handlers built as the transcript says, and compares each response,
// masked, with the recorded one. With -update it records the transcript
// from the script below instead.
//
// Every request goes over its own TCP connection, written exactly as the
// transcript shows it (headers in that order, CRLF line ends), so nothing
// in between adds, drops or reorders a header field.
func TestWireTranscript(t *testing.T) {
	script := transcriptScript()
	insts := startTranscriptInstances(t)
	run := &transcriptRun{t: t, insts: insts}

	if *update {
		var out strings.Builder
		out.WriteString(transcriptHeader)
		for _, s := range script {
			block := run.step(s, s.request(run))
			out.WriteString("\n" + block)
		}
		if err := os.WriteFile(transcriptFile, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %d exchanges in %s", run.exchanges, transcriptFile)
		return
	}

	data, err := os.ReadFile(transcriptFile)
	if err != nil {
		t.Fatalf("%v; record it with: go test ./api -run TestWireTranscript -update", err)
	}
	recorded, err := parseTranscript(string(data))
	if err != nil {
		t.Fatalf("parse %s: %v", transcriptFile, err)
	}
	if len(recorded) != len(script) {
		t.Fatalf("%s has %d steps, the test's script %d; rerun with -update if the script changed on purpose", transcriptFile, len(recorded), len(script))
	}
	for i, rec := range recorded {
		// The requests come from the transcript; the script must still
		// agree with it, or the transcript is stale.
		if want := script[i].request(run); want != rec.request {
			t.Fatalf("%s: step %d differs from the test's script; rerun with -update if the script changed on purpose (-transcript +script):\n%s",
				transcriptFile, i+1, cmp.Diff(lines(rec.request), lines(want)))
		}
		got := run.step(script[i], rec.request)
		if got != rec.text {
			t.Fatalf("exchange %q answers differently from the transcript (-recorded +replayed):\n%s", rec.title, cmp.Diff(lines(rec.text), lines(got)))
		}
	}
	t.Logf("replayed %d exchanges", run.exchanges)
}

// lines splits s into lines, so that a diff shows whole lines.
func lines(s string) []string { return strings.Split(s, "\n") }

const transcriptHeader = `# The wire transcript of verifyd: every exchange below is replayed, byte for
# byte, by TestWireTranscript (api/transcript_test.go), and each response must
# come back exactly as recorded, after masking. Rerecord with
#   go test ./api -run TestWireTranscript -update
# and review the diff: a change here is a change of behaviour on the wire.
#
# "=== instance NAME" switches to another handler (api.NewHandler over its own
# SQLite store, fixed clock, two provisioned accounts A and B, served on
# 127.0.0.1); "=== close the store" closes the current handler's store.
# "### NNN name" starts an exchange: "> " lines are the request as sent, on a
# connection of its own (header fields sorted by name and sent in that order,
# CRLF line ends, body Go-quoted); "< " lines are the response (every header
# field, sorted by name; the body as is when it is one line of text ending in
# a newline, else Go-quoted).
#
# Placeholders in requests are filled from the run's own environment:
#   {A.AccountSID} {A.AuthToken} {A.APIKeySID} {A.APISecret} {A.ServiceSID}
#   (and B.), {host} (the handler's 127.0.0.1:port), YK<n> and <token n> (the
#   n-th access token minted in this run), {base64:x}, {pct:x} (every byte of x
#   percent-encoded) and {repeat:n:x}.
# Responses are masked with the same placeholders, and RQ<id> for request ids,
# <date> for Date and date_created values, <len> for the Content-Length of a
# body that holds a token (checked separately against the body).
`

// transcriptInstance is one handler of the transcript, with its own store.
type transcriptInstance struct {
	name, about string
	cfg         api.Config
	env         *env
	host        string
}

// transcriptInstanceDefs are the handlers the script switches between; each
// has a description that the transcript repeats.
func transcriptInstanceDefs() []*transcriptInstance {
	now := func() time.Time { return transcriptNow }
	return []*transcriptInstance{
		{
			name:  "main",
			about: "fixed clock, default limits, no failed-auth limit (AuthFailureLimit -1: with a fixed clock the allowance would never refill)",
			cfg:   api.Config{Now: now, AuthFailureLimit: -1},
		},
		{
			name:  "small-body",
			about: "fixed clock, BodyLimit 1024, no failed-auth limit",
			cfg:   api.Config{Now: now, AuthFailureLimit: -1, BodyLimit: 1024},
		},
		{
			name:  "auth-limit",
			about: "fixed clock, AuthFailureLimit 3 per minute",
			cfg:   api.Config{Now: now, AuthFailureLimit: 3},
		},
		{
			name:  "public-url",
			about: "fixed clock, PublicURL https://verify.example.com/base/, no failed-auth limit",
			cfg:   api.Config{Now: now, AuthFailureLimit: -1, PublicURL: "https://verify.example.com/base/"},
		},
		{
			name:  "closed-store",
			about: "fixed clock, no failed-auth limit; its store is closed part way",
			cfg:   api.Config{Now: now, AuthFailureLimit: -1},
		},
	}
}

func startTranscriptInstances(t *testing.T) map[string]*transcriptInstance {
	t.Helper()
	insts := map[string]*transcriptInstance{}
	for _, in := range transcriptInstanceDefs() {
		in.env = startEnv(t, in.cfg)
		u, err := url.Parse(in.env.URL)
		if err != nil {
			t.Fatal(err)
		}
		in.host = u.Host
		insts[in.name] = in
	}
	return insts
}

// txStep is one step of the script: a switch of instance, the closing of
// the current instance's store, or an exchange.
type txStep struct {
	instance   string
	closeStore bool
	ex         *txExchange
}

// txExchange is one request of the script, written with placeholders.
type txExchange struct {
	name   string
	method string
	target string   // the request-target, as sent
	header []string // "Name: value", besides Host, Content-Length and Transfer-Encoding
	body   string
	// chunks, when set, are sent with Transfer-Encoding: chunked instead
	// of body.
	chunks []string
	// noLength sends a request with neither Content-Length nor a body,
	// where a client would send Content-Length: 0.
	noLength bool
	// skipBody compares only the status and Content-Type of the response:
	// the body, and the fields that follow from it, are expected to change.
	skipBody bool
}

// transcriptRun is the state of one recording or replay.
type transcriptRun struct {
	t         *testing.T
	insts     map[string]*transcriptInstance
	cur       *transcriptInstance
	sids      []string // minted access token SIDs, in order of first appearance
	tokens    []string // their tokens, likewise
	exchanges int
}

// request renders the step as the transcript shows it, without the
// response: the directive, or the exchange's title and request lines.
func (s txStep) request(run *transcriptRun) string {
	switch {
	case s.instance != "":
		for _, in := range transcriptInstanceDefs() {
			if in.name == s.instance {
				return "=== instance " + in.name + ": " + in.about + "\n"
			}
		}
		run.t.Fatalf("unknown instance %q", s.instance)
	case s.closeStore:
		return "=== close the store\n"
	}
	return s.ex.render(run)
}

var bodyPlaceholders = regexp.MustCompile(`\{repeat:(\d+):([^{}]*)\}`)

// render returns the title and request lines of x.
func (x *txExchange) render(run *transcriptRun) string {
	title := fmt.Sprintf("### %03d %s", run.exchanges+1, x.name)
	if x.skipBody {
		title += " [body not compared]"
	}
	// YK<last> is the access token minted last, so far.
	last := strings.NewReplacer("YK<last>", fmt.Sprintf("YK<%d>", len(run.sids)))
	target := last.Replace(x.target)
	header := []string{"Host: {host}"}
	for _, h := range x.header {
		header = append(header, last.Replace(h))
	}
	body := last.Replace(x.body)
	switch {
	case x.chunks != nil:
		header = append(header, "Transfer-Encoding: chunked")
		var b strings.Builder
		for _, c := range x.chunks {
			// The placeholders of a body keep their length in every
			// run, so the lengths can be written down.
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(expandLengths(c)), c)
		}
		b.WriteString("0\r\n\r\n")
		body = b.String()
	case !x.noLength && (body != "" || x.method == http.MethodPost || x.method == http.MethodPut || x.method == http.MethodPatch):
		header = append(header, "Content-Length: "+strconv.Itoa(len(expandLengths(body))))
	}
	sort.SliceStable(header, func(i, j int) bool {
		return strings.ToLower(fieldName(header[i])) < strings.ToLower(fieldName(header[j]))
	})
	var b strings.Builder
	b.WriteString(title + "\n")
	b.WriteString("> " + x.method + " " + target + " HTTP/1.1\n")
	for _, h := range header {
		b.WriteString("> " + h + "\n")
	}
	b.WriteString(">\n")
	if body == "" {
		b.WriteString("> (no body)\n")
	} else {
		b.WriteString("> " + strconv.Quote(body) + "\n")
	}
	return b.String()
}

// expandLengths expands the placeholders that change a body's length;
// the others (SIDs, secrets) have the same length in every run, and
// bodies hold none of the rest.
func expandLengths(s string) string {
	return bodyPlaceholders.ReplaceAllStringFunc(s, func(m string) string {
		sub := bodyPlaceholders.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1])
		return strings.Repeat(sub[2], n)
	})
}

func fieldName(line string) string {
	name, _, _ := strings.Cut(line, ":")
	return name
}

// step performs one step whose request lines are req (as the transcript
// holds them) and returns the step's whole text.
func (run *transcriptRun) step(s txStep, req string) string {
	t := run.t
	t.Helper()
	switch {
	case s.instance != "":
		run.cur = run.insts[s.instance]
		return req
	case s.closeStore:
		if err := run.cur.env.Store.Close(); err != nil {
			t.Fatalf("close the store of %s: %v", run.cur.name, err)
		}
		return req
	}
	run.exchanges++
	title, wire, method := run.wire(req)
	status, fields, body := run.roundTrip(title, wire, method)
	return req + run.response(s.ex, title, method, status, fields, body)
}

// wire turns the request lines of the transcript into the bytes to send.
func (run *transcriptRun) wire(req string) (title string, wire []byte, method string) {
	t := run.t
	lines := strings.Split(strings.TrimSuffix(req, "\n"), "\n")
	title = lines[0]
	var head []string
	var body string
	for i, l := range lines[1:] {
		l = strings.TrimPrefix(strings.TrimPrefix(l, ">"), " ")
		if l != "" {
			head = append(head, run.expand(l))
			continue
		}
		if i+2 != len(lines)-1 {
			t.Fatalf("%s: malformed request in the transcript", title)
		}
		raw := strings.TrimPrefix(lines[len(lines)-1], "> ")
		if raw != "(no body)" {
			b, err := strconv.Unquote(raw)
			if err != nil {
				t.Fatalf("%s: request body %s: %v", title, raw, err)
			}
			body = run.expand(b)
		}
		break
	}
	method, _, _ = strings.Cut(head[0], " ")
	return title, []byte(strings.Join(head, "\r\n") + "\r\n\r\n" + body), method
}

var (
	pctPlaceholder    = regexp.MustCompile(`\{pct:([^{}]*)\}`)
	base64Placeholder = regexp.MustCompile(`\{base64:([^{}]*)\}`)
	leftPlaceholder   = regexp.MustCompile(`\{[A-Za-z.0-9]+\}|YK<\d+>|<token \d+>`)
)

// expand fills the placeholders of s from this run.
func (run *transcriptRun) expand(s string) string {
	s = strings.NewReplacer(run.pairs(false)...).Replace(s)
	s = expandLengths(s)
	s = pctPlaceholder.ReplaceAllStringFunc(s, func(m string) string {
		var b strings.Builder
		for _, c := range []byte(pctPlaceholder.FindStringSubmatch(m)[1]) {
			fmt.Fprintf(&b, "%%%02X", c)
		}
		return b.String()
	})
	s = base64Placeholder.ReplaceAllStringFunc(s, func(m string) string {
		return base64.StdEncoding.EncodeToString([]byte(base64Placeholder.FindStringSubmatch(m)[1]))
	})
	if m := leftPlaceholder.FindString(s); m != "" {
		run.t.Fatalf("placeholder %s has no value in this run (in %q)", m, s)
	}
	return s
}

// pairs returns the placeholders of this run and their values, for
// strings.NewReplacer: placeholder first, or value first when mask is set.
// Tokens come before SIDs.
func (run *transcriptRun) pairs(mask bool) []string {
	var kv []string
	add := func(placeholder, value string) {
		if mask {
			kv = append(kv, value, placeholder)
		} else {
			kv = append(kv, placeholder, value)
		}
	}
	for i, tok := range run.tokens {
		add(fmt.Sprintf("<token %d>", i+1), tok)
	}
	for i, s := range run.sids {
		add(fmt.Sprintf("YK<%d>", i+1), s)
	}
	for _, tn := range []struct {
		name string
		t    tenant
	}{{"A", run.cur.env.A}, {"B", run.cur.env.B}} {
		add("{"+tn.name+".AccountSID}", tn.t.AccountSID)
		add("{"+tn.name+".AuthToken}", tn.t.AuthToken)
		add("{"+tn.name+".APIKeySID}", tn.t.APIKeySID)
		add("{"+tn.name+".APISecret}", tn.t.APISecret)
		add("{"+tn.name+".ServiceSID}", tn.t.ServiceSID)
	}
	add("{host}", run.cur.host)
	return kv
}

// roundTrip sends wire on a new connection to the current instance and
// reads one response: its status line, its header fields as sent, and its
// body (without chunk framing).
func (run *transcriptRun) roundTrip(title string, wire []byte, method string) (status string, fields []string, body []byte) {
	t := run.t
	conn, err := net.DialTimeout("tcp", run.cur.host, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", title, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// The server may answer, and close, before it has read the whole
	// request (a body over the limit): write and read at once.
	written := make(chan error, 1)
	go func() {
		_, err := conn.Write(wire)
		written <- err
	}()
	var raw bytes.Buffer
	resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(conn, &raw)), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s: read response: %v (write: %v)", title, err, <-written)
	}
	body, err = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: read response body: %v", title, err)
	}
	if err := <-written; err != nil && !errors.Is(err, net.ErrClosed) && !resp.Close {
		t.Fatalf("%s: write request: %v", title, err)
	}
	head, _, ok := bytes.Cut(raw.Bytes(), []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("%s: no end of header in %q", title, raw.Bytes())
	}
	lines := strings.Split(string(head), "\r\n")
	return lines[0], lines[1:], body
}

var (
	requestIDPattern   = regexp.MustCompile(`RQ[0-9a-f]{32}`)
	dateCreatedPattern = regexp.MustCompile(`"date_created":"[^"]*"`)
	tokenSIDValue      = regexp.MustCompile(`^YK[0-9a-fA-F]{32}$`)
)

// response renders a response, masked, as the transcript shows it.
func (run *transcriptRun) response(x *txExchange, title, method, status string, fields []string, body []byte) string {
	t := run.t
	var b strings.Builder
	b.WriteString("< " + status + "\n")
	if x.skipBody {
		for _, f := range fields {
			if strings.EqualFold(fieldName(f), "Content-Type") {
				b.WriteString("< " + f + "\n")
			}
		}
		b.WriteString("<\n< (body not compared)\n")
		return b.String()
	}

	// Register the access tokens of this body before masking it.
	var resource struct {
		SID   string `json:"sid"`
		Token string `json:"token"`
	}
	if json.Unmarshal(body, &resource) == nil && tokenSIDValue.MatchString(resource.SID) && resource.Token != "" {
		if !contains(run.sids, resource.SID) {
			run.sids = append(run.sids, resource.SID)
		}
		if !contains(run.tokens, resource.Token) {
			run.tokens = append(run.tokens, resource.Token)
		}
	}
	hasToken := false
	for _, tok := range run.tokens {
		hasToken = hasToken || bytes.Contains(body, []byte(tok))
	}
	mask := strings.NewReplacer(run.pairs(true)...)

	sorted := append([]string(nil), fields...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return strings.ToLower(fieldName(sorted[i])) < strings.ToLower(fieldName(sorted[j]))
	})
	for _, f := range sorted {
		name, value, _ := strings.Cut(f, ":")
		value = strings.TrimLeft(value, " \t")
		switch strings.ToLower(name) {
		case "date":
			value = "<date>"
		case "content-length":
			if method != http.MethodHead && value != strconv.Itoa(len(body)) {
				t.Errorf("%s: Content-Length: %s, but the body has %d bytes", title, value, len(body))
			}
			if hasToken {
				value = "<len>"
			}
		}
		value = requestIDPattern.ReplaceAllString(mask.Replace(value), "RQ<id>")
		b.WriteString("< " + name + ": " + value + "\n")
	}
	b.WriteString("<\n")

	masked := mask.Replace(string(body))
	masked = requestIDPattern.ReplaceAllString(masked, "RQ<id>")
	masked = dateCreatedPattern.ReplaceAllString(masked, `"date_created":"<date>"`)
	b.WriteString("< " + renderBody(masked) + "\n")
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// renderBody shows a body that is one line of printable text as it is,
// without its newline, and any other body Go-quoted.
func renderBody(body string) string {
	if body == "" {
		return "(no body)"
	}
	line, ok := strings.CutSuffix(body, "\n")
	plain := ok && utf8.ValidString(line) && !strings.HasPrefix(line, `"`) && !strings.HasPrefix(line, "(")
	for _, r := range line {
		if r < 0x20 || r == 0x7f {
			plain = false
		}
	}
	if plain {
		return line
	}
	return strconv.Quote(body)
}

// recordedStep is one step of a transcript file: its request text, as
// txStep.request renders it, and its whole text.
type recordedStep struct {
	title, request, text string
}

// parseTranscript splits a transcript into its steps.
func parseTranscript(s string) ([]recordedStep, error) {
	var steps []recordedStep
	var cur *recordedStep
	inResponse := false
	for n, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "=== "), strings.HasPrefix(line, "### "):
			steps = append(steps, recordedStep{title: line, request: line + "\n", text: line + "\n"})
			cur, inResponse = &steps[len(steps)-1], false
		case line == "" || (strings.HasPrefix(line, "#") && cur == nil):
		case cur == nil:
			return nil, fmt.Errorf("line %d: %q outside an exchange", n+1, line)
		case strings.HasPrefix(line, ">") && !inResponse:
			cur.request += line + "\n"
			cur.text += line + "\n"
		case strings.HasPrefix(line, "<"):
			inResponse = true
			cur.text += line + "\n"
		default:
			return nil, fmt.Errorf("line %d: %q is neither request nor response", n+1, line)
		}
	}
	return steps, nil
}

// Templates of the script.
const (
	createA = "/v2/Services/{A.ServiceSID}/AccessTokens"
	createB = "/v2/Services/{B.ServiceSID}/AccessTokens"

	authA    = "Authorization: Basic {base64:{A.AccountSID}:{A.AuthToken}}"
	authB    = "Authorization: Basic {base64:{B.AccountSID}:{B.AuthToken}}"
	keyA     = "Authorization: Basic {base64:{A.APIKeySID}:{A.APISecret}}"
	keyB     = "Authorization: Basic {base64:{B.APIKeySID}:{B.APISecret}}"
	formCT   = "Content-Type: application/x-www-form-urlencoded"
	valid    = "FactorType=push&Identity=abcdefgh"
	zeroHex  = "00000000000000000000000000000000"
	unknownV = "VA" + zeroHex
	unknownY = "YK" + zeroHex
)

func fetchPath(service, sid string) string {
	return "/v2/Services/" + service + "/AccessTokens/" + sid
}

// transcriptScript is every step of the transcript, in order.
func transcriptScript() []txStep {
	var steps []txStep
	use := func(name string) { steps = append(steps, txStep{instance: name}) }
	add := func(xs ...txExchange) {
		for i := range xs {
			steps = append(steps, txStep{ex: &xs[i]})
		}
	}
	// create sends a form to A's service as A, with its auth token.
	create := func(name, body string) txExchange {
		return txExchange{name: name, method: "POST", target: createA, header: []string{authA, formCT}, body: body}
	}
	get := func(name, target string, header ...string) txExchange {
		return txExchange{name: name, method: "GET", target: target, header: header}
	}
	bad := func(name, body string) txExchange { return create("400 "+name, body) }

	use("main")
	add(
		create("create: minimal, as A with its auth token", valid),
		create("create: every field (FactorFriendlyName with '+' for spaces, Ttl 300)",
			"Identity=ff483d1ff591898a9942916050d2ca3f&FactorType=push&FactorFriendlyName=John+Doe+iPhone&Ttl=300"),
		txExchange{name: "create: as A with its API key", method: "POST", target: createA, header: []string{keyA, formCT}, body: valid},
		txExchange{name: "create: as B with its auth token", method: "POST", target: createB, header: []string{authB, formCT}, body: "FactorType=push&Identity=bbbbbbbb"},
		txExchange{name: "create: as B with its API key, every field", method: "POST", target: createB, header: []string{keyB, formCT},
			body: "Identity=b-entity-2&FactorType=push&FactorFriendlyName=B%27s+phone&Ttl=120"},
		create("create: Ttl 60, the minimum", valid+"&Ttl=60"),
		create("create: Ttl 300, the maximum", valid+"&Ttl=300"),
		create("create: Ttl with a leading zero (060)", valid+"&Ttl=060"),
		create("create: FactorFriendlyName in UTF-8 (Jörg’s iPhone ✓)",
			valid+"&FactorFriendlyName=J%C3%B6rg%E2%80%99s+iPhone+%E2%9C%93"),
		create("create: FactorFriendlyName of 64 two-byte characters, the maximum", valid+"&FactorFriendlyName={repeat:64:%C3%A9}"),
		create("create: FactorFriendlyName of 64 ASCII characters", valid+"&FactorFriendlyName={repeat:64:n}"),
		create("create: FactorFriendlyName empty", valid+"&FactorFriendlyName="),
		create("create: Identity of 8 characters, the minimum", "FactorType=push&Identity=a1b2c3d4"),
		create("create: Identity of 64 characters, the maximum", "FactorType=push&Identity={repeat:64:Z}"),
		create("create: Identity with dashes", "FactorType=push&Identity=ab-cd-ef-12"),
		create("create: every field percent-encoded", "%49dentity=%61%62%63%64%2D%65%66%67&FactorType=%70%75%73%68&Ttl=%31%32%30"),
		txExchange{name: "create: as twilio-go sends it (sorted fields, charset, Accept, User-Agent)", method: "POST", target: createA,
			header: []string{authA, "Accept: application/json", "Content-Type: application/x-www-form-urlencoded; charset=utf-8", "User-Agent: twilio-go/1.26.3 (linux amd64) go/1.24.4"},
			body:   "FactorFriendlyName=Pixel+8&FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&Ttl=120"},
		txExchange{name: "create: scheme written in lower case (basic)", method: "POST", target: createA,
			header: []string{"Authorization: basic {base64:{A.AccountSID}:{A.AuthToken}}", formCT}, body: valid},
		txExchange{name: "create: Content-Type in mixed case", method: "POST", target: createA,
			header: []string{authA, "Content-Type: Application/X-WWW-Form-URLEncoded"}, body: valid},
		txExchange{name: "create: with a query string of an undeclared name", method: "POST", target: createA + "?Foo=bar",
			header: []string{authA, formCT}, body: valid},
		txExchange{name: "400 create: a query string that repeats a form field", method: "POST", target: createA + "?Identity=zzzzzzzz",
			header: []string{authA, formCT}, body: valid},
		txExchange{name: "create: a query string that adds a form field (Ttl=120)", method: "POST", target: createA + "?Ttl=120",
			header: []string{authA, formCT}, body: valid},
		txExchange{name: "create: a query string that adds a form field out of range (Ttl=5000)", method: "POST", target: createA + "?Ttl=5000",
			header: []string{authA, formCT}, body: valid},
		txExchange{name: "create: a query string that adds an invalid form field (FactorFriendlyName=a%0Ab)", method: "POST", target: createA + "?FactorFriendlyName=a%0Ab",
			header: []string{authA, formCT}, body: valid},
		txExchange{name: "create: with an Origin (CORS)", method: "POST", target: createA,
			header: []string{authA, formCT, "Origin: https://app.example.com"}, body: valid},

		get("fetch: own token, as A with its auth token", fetchPath("{A.ServiceSID}", "YK<1>"), authA),
		get("fetch: own token, as A with its API key", fetchPath("{A.ServiceSID}", "YK<2>"), keyA),
		get("fetch: own token again", fetchPath("{A.ServiceSID}", "YK<1>"), authA),
		get("fetch: B's token, as B with its API key", fetchPath("{B.ServiceSID}", "YK<4>"), keyB),
		get("fetch: with an Origin (CORS)", fetchPath("{A.ServiceSID}", "YK<1>"), authA, "Origin: https://app.example.com"),
		get("fetch: with a query string", fetchPath("{A.ServiceSID}", "YK<1>")+"?PageSize=1", authA),
		get("404 fetch: B's token on B's service, as A", fetchPath("{B.ServiceSID}", "YK<4>"), authA),
		get("404 fetch: A's token on A's service, as B", fetchPath("{A.ServiceSID}", "YK<1>"), authB),
		get("404 fetch: A's token under B's service, as A", fetchPath("{B.ServiceSID}", "YK<1>"), authA),
		get("404 fetch: B's token under A's service, as A", fetchPath("{A.ServiceSID}", "YK<4>"), authA),
		get("404 fetch: unknown token", fetchPath("{A.ServiceSID}", unknownY), authA),
		get("404 fetch: token SID in upper-case hex, unknown", fetchPath("{A.ServiceSID}", "YKFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"), authA),
		get("404 fetch: unknown service", fetchPath(unknownV, "YK<1>"), authA),
		get("400 fetch: ServiceSid too short", fetchPath("VA123", "YK<1>"), authA),
		get("400 fetch: ServiceSid with another prefix", fetchPath("VB"+zeroHex, "YK<1>"), authA),
		get("400 fetch: ServiceSid not hex", fetchPath("VA"+strings.Repeat("g", 32), "YK<1>"), authA),
		get("400 fetch: ServiceSid in lower case (va)", fetchPath("va"+zeroHex, "YK<1>"), authA),
		get("400 fetch: Sid too short", fetchPath("{A.ServiceSID}", "YK123"), authA),
		get("400 fetch: Sid with another prefix", fetchPath("{A.ServiceSID}", "XX"+zeroHex), authA),
		get("400 fetch: Sid of 35 characters", fetchPath("{A.ServiceSID}", "YK<1>0"), authA),
		get("400 fetch: both SIDs malformed", fetchPath("VA123", "YK123"), authA),
		get("fetch: Sid fully percent-encoded", fetchPath("{A.ServiceSID}", "{pct:YK<1>}"), authA),
		get("fetch: ServiceSid fully percent-encoded", fetchPath("{pct:{A.ServiceSID}}", "YK<1>"), authA),
		get("fetch: 'Services' percent-encoded in the path", "/v2/%53ervices/{A.ServiceSID}/AccessTokens/YK<1>", authA),
		get("fetch: Sid with an encoded slash (%2F)", fetchPath("{A.ServiceSID}", "YK<1>%2Fx"), authA),
		get("fetch: Sid with an encoded space (%20)", fetchPath("{A.ServiceSID}", "YK<1>%20"), authA),
		get("fetch: an extra segment", fetchPath("{A.ServiceSID}", "YK<1>")+"/Factors", authA),
		get("fetch: a trailing slash", fetchPath("{A.ServiceSID}", "YK<1>")+"/", authA),
		get("fetch: empty Sid (trailing slash on the list path)", createA+"/", authA),
		get("fetch: empty ServiceSid", "/v2/Services//AccessTokens/YK<1>", authA),
		get("fetch: a doubled leading slash", "/"+fetchPath("{A.ServiceSID}", "YK<1>"), authA),
		get("fetch: path in lower case (services)", "/v2/services/{A.ServiceSID}/AccessTokens/YK<1>", authA),
		txExchange{name: "fetch: HEAD of own token", method: "HEAD", target: fetchPath("{A.ServiceSID}", "YK<1>"), header: []string{authA}},
		txExchange{name: "fetch: HEAD without credentials", method: "HEAD", target: fetchPath("{A.ServiceSID}", "YK<1>")},
		txExchange{name: "fetch: GET with a body", method: "GET", target: fetchPath("{A.ServiceSID}", "YK<1>"), header: []string{authA, formCT}, body: valid},

		bad("Identity missing", "FactorType=push"),
		bad("Identity empty", "FactorType=push&Identity="),
		bad("Identity of 7 characters", "FactorType=push&Identity=abcdefg"),
		bad("Identity of 65 characters", "FactorType=push&Identity={repeat:65:Z}"),
		bad("Identity with an underscore", "FactorType=push&Identity=abcd_efgh"),
		bad("Identity with a leading dash", "FactorType=push&Identity=-abcdefgh"),
		bad("Identity with a double dash", "FactorType=push&Identity=abcd--efgh"),
		bad("Identity with a space", "FactorType=push&Identity=abcd+efgh"),
		bad("Identity of non-UTF-8 bytes", "FactorType=push&Identity=%FF%FE%FD%FC%FB%FA%F9%F8"),
		bad("FactorType missing", "Identity=abcdefgh"),
		bad("FactorType empty", "FactorType=&Identity=abcdefgh"),
		bad("FactorType sms", "FactorType=sms&Identity=abcdefgh"),
		bad("FactorType PUSH", "FactorType=PUSH&Identity=abcdefgh"),
		bad("FactorType with a space", "FactorType=push+&Identity=abcdefgh"),
		bad("FactorFriendlyName of 65 ASCII characters", valid+"&FactorFriendlyName={repeat:65:n}"),
		bad("FactorFriendlyName of 65 two-byte characters", valid+"&FactorFriendlyName={repeat:65:%C3%A9}"),
		bad("FactorFriendlyName with a newline", valid+"&FactorFriendlyName=a%0Ab"),
		bad("FactorFriendlyName with DEL", valid+"&FactorFriendlyName=a%7Fb"),
		bad("FactorFriendlyName with NUL", valid+"&FactorFriendlyName=a%00b"),
		bad("FactorFriendlyName of non-UTF-8 bytes", valid+"&FactorFriendlyName=%FF%FE"),
		bad("FactorFriendlyName of raw non-UTF-8 bytes", valid+"&FactorFriendlyName=\xff\xfe"),
		bad("Ttl text", valid+"&Ttl=abc"),
		bad("Ttl 59", valid+"&Ttl=59"),
		bad("Ttl 301", valid+"&Ttl=301"),
		bad("Ttl 0", valid+"&Ttl=0"),
		bad("Ttl -1", valid+"&Ttl=-1"),
		bad("Ttl 60.5", valid+"&Ttl=60.5"),
		bad("Ttl 1e2", valid+"&Ttl=1e2"),
		bad("Ttl empty", valid+"&Ttl="),
		bad("Ttl huge (20 digits)", valid+"&Ttl=99999999999999999999"),
		bad("Ttl of 3000 digits", valid+"&Ttl={repeat:3000:9}"),
		bad("unknown field", valid+"&Foo=bar"),
		bad("field name in lower case (identity)", "FactorType=push&identity=abcdefgh"),
		bad("field name with brackets", valid+"&Ttl[]=60"),
		bad("Identity repeated", valid+"&Identity=abcdefgh"),
		bad("FactorType repeated", valid+"&FactorType=push"),
		bad("Ttl repeated", valid+"&Ttl=60&Ttl=60"),
		bad("FactorFriendlyName repeated", valid+"&FactorFriendlyName=a&FactorFriendlyName=b"),
		bad("malformed escape (%zz)", "FactorType=push&Identity=%zz"),
		bad("lone percent sign", valid+"&%"),
		bad("semicolon is a character, not a separator: FactorType is push;Identity=abcdefgh", "FactorType=push;Identity=abcdefgh"),
		bad("empty field name", valid+"&=x"),
		create("create: empty pairs between '&'", "FactorType=push&&Identity=abcdefgh&"),
		txExchange{name: "400 JSON body", method: "POST", target: createA, header: []string{authA, "Content-Type: application/json"},
			body: `{"Identity":"abcdefgh","FactorType":"push"}`},
		txExchange{name: "400 text/plain body", method: "POST", target: createA, header: []string{authA, "Content-Type: text/plain"}, body: valid},
		txExchange{name: "400 multipart body", method: "POST", target: createA, header: []string{authA, "Content-Type: multipart/form-data; boundary=x"},
			body: "--x\r\nContent-Disposition: form-data; name=\"Identity\"\r\n\r\nabcdefgh\r\n--x\r\nContent-Disposition: form-data; name=\"FactorType\"\r\n\r\npush\r\n--x--\r\n"},
		txExchange{name: "400 form body without Content-Type", method: "POST", target: createA, header: []string{authA}, body: valid},
		txExchange{name: "create: form Content-Type with charset iso-8859-1", method: "POST", target: createA,
			header: []string{authA, "Content-Type: application/x-www-form-urlencoded; charset=iso-8859-1"}, body: valid},
		txExchange{name: "400 empty body (Content-Length: 0)", method: "POST", target: createA, header: []string{authA, formCT}},
		txExchange{name: "400 no Content-Type and an empty body", method: "POST", target: createA, header: []string{authA}},
		txExchange{name: "400 no Content-Length and no body", method: "POST", target: createA, header: []string{authA, formCT}, noLength: true},
		txExchange{name: "400 malformed ServiceSid on create, with a valid body", method: "POST", target: "/v2/Services/VA123/AccessTokens",
			header: []string{authA, formCT}, body: valid},
		txExchange{name: "400 malformed ServiceSid and an invalid body", method: "POST", target: "/v2/Services/VA123/AccessTokens",
			header: []string{authA, formCT}, body: "Identity=x"},
		txExchange{name: "404 create on an unknown service", method: "POST", target: "/v2/Services/" + unknownV + "/AccessTokens",
			header: []string{authA, formCT}, body: valid},
		txExchange{name: "404 create on B's service, as A", method: "POST", target: createB, header: []string{authA, formCT}, body: valid},
		txExchange{name: "400 create on B's service, as A, with an invalid body", method: "POST", target: createB, header: []string{authA, formCT}, body: "Identity=x"},

		txExchange{name: "401 create without Authorization", method: "POST", target: createA, header: []string{formCT}, body: valid},
		get("401 fetch without Authorization", fetchPath("{A.ServiceSID}", "YK<1>")),
		txExchange{name: "401 Bearer scheme", method: "POST", target: createA, header: []string{"Authorization: Bearer {A.AuthToken}", formCT}, body: valid},
		txExchange{name: "401 Basic with bad base64", method: "POST", target: createA, header: []string{"Authorization: Basic !!!not-base64!!!", formCT}, body: valid},
		txExchange{name: "401 Basic without a colon", method: "POST", target: createA, header: []string{"Authorization: Basic {base64:{A.AccountSID}}", formCT}, body: valid},
		txExchange{name: "401 Basic with nothing after it", method: "POST", target: createA, header: []string{"Authorization: Basic", formCT}, body: valid},
		txExchange{name: "401 Basic with an empty user and password", method: "POST", target: createA, header: []string{"Authorization: Basic {base64::}", formCT}, body: valid},
		txExchange{name: "401 unknown Account SID", method: "POST", target: createA, header: []string{"Authorization: Basic {base64:AC" + zeroHex + ":{A.AuthToken}}", formCT}, body: valid},
		txExchange{name: "401 unknown API key SID", method: "POST", target: createA, header: []string{"Authorization: Basic {base64:SK" + zeroHex + ":{A.APISecret}}", formCT}, body: valid},
		txExchange{name: "401 wrong auth token", method: "POST", target: createA, header: []string{"Authorization: Basic {base64:{A.AccountSID}:{B.AuthToken}}", formCT}, body: valid},
		txExchange{name: "401 wrong API key secret", method: "POST", target: createA, header: []string{"Authorization: Basic {base64:{A.APIKeySID}:{A.AuthToken}}", formCT}, body: valid},
		txExchange{name: "401 malformed username", method: "POST", target: createA, header: []string{"Authorization: Basic {base64:not-a-sid:{A.AuthToken}}", formCT}, body: valid},
		txExchange{name: "401 Account SID in lower case (ac)", method: "POST", target: createA, header: []string{"Authorization: Basic {base64:ac" + zeroHex + ":{A.AuthToken}}", formCT}, body: valid},
		txExchange{name: "401 access token as credentials (token:<JWE>)", method: "POST", target: createA, header: []string{"Authorization: Basic {base64:token:<token 1>}", formCT}, body: valid},
		txExchange{name: "401 wrong auth token, on fetch", method: "GET", target: fetchPath("{A.ServiceSID}", "YK<1>"), header: []string{"Authorization: Basic {base64:{A.AccountSID}:wrong}"}},
		txExchange{name: "401 without Authorization, with an invalid body", method: "POST", target: createA, header: []string{formCT}, body: "Identity=x"},
		txExchange{name: "create: two Authorization fields, the first valid", method: "POST", target: createA,
			header: []string{authA, "Authorization: Basic {base64:{A.AccountSID}:wrong}", formCT}, body: valid},
		txExchange{name: "401 two Authorization fields, the first wrong", method: "POST", target: createA,
			header: []string{"Authorization: Basic {base64:{A.AccountSID}:wrong}", authA, formCT}, body: valid},

		get("404 unknown path /", "/", authA),
		get("404 unknown path /v2", "/v2", authA),
		get("404 unknown path /v2/Services", "/v2/Services", authA),
		get("404 unknown path /v2/Services/{A.ServiceSID}", "/v2/Services/{A.ServiceSID}", authA),
		get("404 unknown version /v1", "/v1/Services/{A.ServiceSID}/AccessTokens/YK<1>", authA),
		get("404 unknown path /favicon.ico", "/favicon.ico", authA),
		get("401 unknown path without Authorization", "/nope"),
		txExchange{name: "404 POST to an unknown path", method: "POST", target: "/v2/Services/{A.ServiceSID}/Unknowns", header: []string{authA, formCT}, body: valid},

		get("405 GET on the create path", createA, authA),
		txExchange{name: "405 PUT on the create path", method: "PUT", target: createA, header: []string{authA, formCT}, body: valid},
		txExchange{name: "405 DELETE on the create path", method: "DELETE", target: createA, header: []string{authA}},
		txExchange{name: "405 PATCH on the create path", method: "PATCH", target: createA, header: []string{authA, formCT}, body: valid},
		txExchange{name: "405 HEAD on the create path", method: "HEAD", target: createA, header: []string{authA}},
		txExchange{name: "405 POST on the fetch path", method: "POST", target: fetchPath("{A.ServiceSID}", "YK<1>"), header: []string{authA, formCT}, body: valid},
		txExchange{name: "405 DELETE on the fetch path", method: "DELETE", target: fetchPath("{A.ServiceSID}", "YK<1>"), header: []string{authA}},
		txExchange{name: "405 PUT on the fetch path", method: "PUT", target: fetchPath("{A.ServiceSID}", "YK<1>"), header: []string{authA, formCT}, body: valid},
		txExchange{name: "405 on the fetch path of an unknown token", method: "DELETE", target: fetchPath("{A.ServiceSID}", unknownY), header: []string{authA}},
		txExchange{name: "405 on a fetch path with a malformed Sid", method: "DELETE", target: fetchPath("{A.ServiceSID}", "YK123"), header: []string{authA}},
		txExchange{name: "401 PUT without Authorization", method: "PUT", target: createA, header: []string{formCT}, body: valid},

		txExchange{name: "preflight on the create path", method: "OPTIONS", target: createA, header: []string{
			"Origin: https://app.example.com", "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization,content-type"}},
		txExchange{name: "preflight on the fetch path", method: "OPTIONS", target: fetchPath("{A.ServiceSID}", "YK<1>"), header: []string{
			"Origin: https://app.example.com", "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: authorization"}},
		txExchange{name: "OPTIONS without preflight headers", method: "OPTIONS", target: createA},
		txExchange{name: "OPTIONS on an unknown path", method: "OPTIONS", target: "/nope"},
		txExchange{name: "OPTIONS with wrong credentials", method: "OPTIONS", target: createA, header: []string{"Authorization: Basic {base64:{A.AccountSID}:wrong}"}},

		txExchange{name: "431 one header field over 16 KiB", method: "POST", target: createA,
			header: []string{authA, formCT, "X-Padding: {repeat:16384:p}"}, body: valid},
		txExchange{name: "431 many header fields over 16 KiB", method: "GET", target: fetchPath("{A.ServiceSID}", "YK<1>"),
			header: []string{authA, "X-Padding-1: {repeat:6000:p}", "X-Padding-2: {repeat:6000:p}", "X-Padding-3: {repeat:6000:p}"}},
		txExchange{name: "431 Authorization over 16 KiB", method: "POST", target: createA,
			header: []string{"Authorization: Basic {repeat:16400:A}", formCT}, body: valid},
		txExchange{name: "431 without Authorization", method: "GET", target: "/nope", header: []string{"X-Padding: {repeat:16384:p}"}},
		txExchange{name: "create: header fields just under 16 KiB", method: "POST", target: createA,
			header: []string{authA, formCT, "X-Padding: {repeat:15360:p}"}, body: valid},

		get("healthz", "/healthz"),
		txExchange{name: "healthz: HEAD", method: "HEAD", target: "/healthz"},
		txExchange{name: "healthz: POST", method: "POST", target: "/healthz", body: "x"},
		get("readyz", "/readyz"),
		txExchange{name: "openapi.yaml", method: "GET", target: "/openapi.yaml", skipBody: true},
		txExchange{name: "openapi.json", method: "GET", target: "/openapi.json", skipBody: true},
		txExchange{name: "metrics", method: "GET", target: "/metrics", skipBody: true},
	)

	use("small-body")
	add(
		create("400 body of 1024 bytes, at the limit (FactorFriendlyName too long)", valid+"&FactorFriendlyName={repeat:971:n}"),
		create("413 body of 1025 bytes, with Content-Length", valid+"&FactorFriendlyName={repeat:972:n}"),
		create("413 body of 4 KiB, with Content-Length", valid+"&FactorFriendlyName={repeat:4096:n}"),
		txExchange{name: "413 body over the limit, without Authorization", method: "POST", target: createA, header: []string{formCT},
			body: valid + "&FactorFriendlyName={repeat:2000:n}"},
		txExchange{name: "413 body over the limit, with wrong credentials", method: "POST", target: createA,
			header: []string{"Authorization: Basic {base64:{A.AccountSID}:wrong}", formCT}, body: valid + "&FactorFriendlyName={repeat:2000:n}"},
		txExchange{name: "413 body over the limit, on the fetch path", method: "GET", target: fetchPath("{A.ServiceSID}", unknownY),
			header: []string{authA, formCT}, body: "{repeat:2000:n}"},
		txExchange{name: "413 body over the limit, on an unknown path", method: "POST", target: "/nope",
			header: []string{authA, formCT}, body: "{repeat:2000:n}"},
		txExchange{name: "create: chunked body under the limit", method: "POST", target: createA, header: []string{authA, formCT},
			chunks: []string{"FactorType=push&", "Identity=abcdefgh"}},
		txExchange{name: "413 chunked body over the limit", method: "POST", target: createA, header: []string{authA, formCT},
			chunks: []string{valid + "&FactorFriendlyName=", "{repeat:500:n}", "{repeat:500:n}", "{repeat:500:n}"}},
	)

	use("auth-limit")
	lockout := func(name string) txExchange {
		return txExchange{name: name, method: "POST", target: createA,
			header: []string{"Authorization: Basic {base64:{A.AccountSID}:wrong}", formCT}, body: valid}
	}
	add(
		create("create: before any failure", valid),
		txExchange{name: "401 without Authorization (not counted)", method: "POST", target: createA, header: []string{formCT}, body: valid},
		lockout("401 wrong auth token, failure 1 of 3"),
		lockout("401 wrong auth token, failure 2 of 3"),
		lockout("401 wrong auth token, failure 3 of 3"),
		lockout("429 wrong auth token, over the limit"),
		create("429 valid credentials, over the limit", valid),
		txExchange{name: "401 without Authorization, while the account SID is over the limit (nothing checked, nothing limited)", method: "POST", target: createA, header: []string{formCT}, body: valid},
		get("fetch with the API key, while the account SID is over the limit (another credential)", fetchPath("{A.ServiceSID}", "YK<last>"), keyA),
		get("429 unknown path, over the limit", "/nope", authA),
		txExchange{name: "preflight, over the limit", method: "OPTIONS", target: createA, header: []string{
			"Origin: https://app.example.com", "Access-Control-Request-Method: POST"}},
		get("healthz, over the limit", "/healthz"),
	)

	use("public-url")
	add(
		create("create: resource URL under the public URL", valid),
		get("fetch: resource URL under the public URL", fetchPath("{A.ServiceSID}", "YK<last>"), authA),
	)

	use("closed-store")
	add(
		create("create: before the store is closed", valid),
		get("fetch: before the store is closed", fetchPath("{A.ServiceSID}", "YK<last>"), authA),
		get("readyz: before the store is closed", "/readyz"),
	)
	steps = append(steps, txStep{closeStore: true})
	add(
		get("readyz: store closed", "/readyz"),
		get("healthz: store closed", "/healthz"),
		create("503 create: store closed, credentials already checked once", valid),
		get("fetch: store closed, token already sent once", fetchPath("{A.ServiceSID}", "YK<last>"), authA),
		get("503 fetch: store closed, unknown token", fetchPath("{A.ServiceSID}", unknownY), authA),
		txExchange{name: "503 create: store closed, credentials not checked before", method: "POST", target: createB,
			header: []string{authB, formCT}, body: valid},
		txExchange{name: "401 store closed, wrong auth token for known credentials", method: "POST", target: createA,
			header: []string{"Authorization: Basic {base64:{A.AccountSID}:wrong}", formCT}, body: valid},
		txExchange{name: "400 store closed, invalid body", method: "POST", target: createA, header: []string{authA, formCT}, body: "Identity=x"},
	)
	return steps
}
