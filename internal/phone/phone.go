// Package phone serves /phone, verifyd's virtual phone: a page that acts
// as simulated devices (package device), so that a developer can enroll a
// push factor with an access token and approve or deny its challenges from
// a browser, with no real phone, FCM or APNs.
//
// The devices live server-side, one state file per device (mode 0600, in a
// directory of mode 0700): their private keys never reach the page, which
// needs no crypto of its own. Each device talks to verifyd's own REST API
// over real HTTP on the loopback address the page's request came in on,
// exactly as the simulator does.
//
// It is a dev tool: verifyd mounts it only in dev mode on a loopback listen
// address, and it answers only requests that came in on a loopback
// connection with a loopback Host and no proxy's forwarding headers, so
// that a web page elsewhere cannot reach it through DNS rebinding, nor a
// client elsewhere through a tunnel.
package phone

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/verifykit/verifykit/device"
)

// Path is the page; its assets and endpoints live under Path + "/".
const Path = "/phone"

//go:embed index.html phone.js phone.css
var files embed.FS

// contentSecurityPolicy allows the page's own script, style and fetches
// only.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Claims are what an access token says about the factor it enrolls.
type Claims struct {
	ServiceSID string
	Identity   string
}

// Config configures the phone.
type Config struct {
	// Dir holds the device state files; it is created with mode 0700.
	Dir string
	// OpenToken reads the service and identity from an access token, so
	// that the page needs only the token.
	OpenToken func(token string) (Claims, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Serves reports whether path is one the phone answers.
func Serves(path string) bool {
	return path == Path || strings.HasPrefix(path, Path+"/")
}

// Handler serves the page, its assets and its endpoints.
type Handler struct {
	cfg    Config
	client *http.Client
	assets map[string]asset
}

type asset struct {
	body        []byte
	contentType string
}

// requestTimeout bounds one endpoint's calls to verifyd.
const requestTimeout = 10 * time.Second

// New returns the phone's handler. It creates cfg.Dir only when a device
// first enrolls: an unused phone leaves the data directory as it was.
func New(cfg Config) (*Handler, error) {
	if cfg.Dir == "" || cfg.OpenToken == nil {
		return nil, errors.New("phone: a directory and a token reader are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, client: &http.Client{Timeout: requestTimeout}, assets: map[string]asset{}}
	for path, name := range map[string]string{Path: "index.html", Path + "/phone.js": "phone.js", Path + "/phone.css": "phone.css"} {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("phone: %w", err)
		}
		ct := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
			".css": "text/css; charset=utf-8"}[filepath.Ext(name)]
		h.assets[path] = asset{body: b, contentType: ct}
	}
	return h, nil
}

// Local reports whether r came in on a loopback connection, names a
// loopback host and was not relayed by a proxy: the phone answers nothing
// else.
func Local(r *http.Request) bool {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || !loopbackHost(addr.String()) {
		return false
	}
	// A tunnel on this machine connects over loopback, and may rewrite
	// Host to localhost, for a client anywhere; it says so in one of these
	// headers, which browsers never send.
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip"} {
		if _, relayed := r.Header[h]; relayed {
			return false
		}
	}
	return loopbackHost(r.Host)
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

var (
	devicePath = regexp.MustCompile(`^/phone/api/devices/(YF[0-9a-f]{32})/(inbox|challenges/(YC[0-9a-f]{32})/(approve|deny))$`)
	factorFile = regexp.MustCompile(`^YF[0-9a-f]{32}\.json$`)
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if a, ok := h.assets[r.URL.Path]; ok {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		_, _ = w.Write(a.body)
		return
	}
	// A cross-site form cannot send JSON without a preflight, which the
	// phone never answers: a POST must say it is JSON.
	if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "send application/json")
		return
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok { // not from an http.Server: no address of verifyd to call
		writeError(w, http.StatusNotFound, "no such phone endpoint")
		return
	}
	base := "http://" + local.String()
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	switch p := r.URL.Path; {
	case p == Path+"/api/devices" && r.Method == http.MethodGet:
		h.list(w)
	case p == Path+"/api/devices" && r.Method == http.MethodPost:
		h.enroll(ctx, w, r, base)
	default:
		m := devicePath.FindStringSubmatch(p)
		switch {
		case m == nil:
			writeError(w, http.StatusNotFound, "no such phone endpoint")
		case m[2] == "inbox" && r.Method == http.MethodGet:
			h.inbox(ctx, w, m[1], base)
		case m[2] != "inbox" && r.Method == http.MethodPost:
			h.answer(ctx, w, m[1], m[3], m[4], base)
		default:
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		}
	}
}

// deviceView is a device as the page lists it.
type deviceView struct {
	FactorSID  string `json:"factor_sid"`
	ServiceSID string `json:"service_sid"`
	Identity   string `json:"identity"`
	Name       string `json:"friendly_name"`
	Status     string `json:"status"`
}

func view(d *device.Device) deviceView {
	f, _ := d.Factor()
	return deviceView{FactorSID: f.SID, ServiceSID: f.ServiceSID, Identity: f.Identity, Name: f.FriendlyName, Status: f.Status}
}

func (h *Handler) list(w http.ResponseWriter) {
	entries, err := os.ReadDir(h.cfg.Dir)
	if errors.Is(err, os.ErrNotExist) {
		entries, err = nil, nil // no device has enrolled yet
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("read devices: %v", err))
		return
	}
	out := []deviceView{}
	for _, e := range entries {
		if !factorFile.MatchString(e.Name()) {
			continue
		}
		d, err := device.LoadFile(filepath.Join(h.cfg.Dir, e.Name()))
		if err != nil {
			continue // a broken file is not the page's to fix
		}
		out = append(out, view(d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FactorSID < out[j].FactorSID })
	writeJSON(w, http.StatusOK, out)
}

// maxBody caps the phone's request bodies: an access token and a name.
const maxBody = 16 << 10

func (h *Handler) enroll(ctx context.Context, w http.ResponseWriter, r *http.Request, base string) {
	var req struct {
		Token string `json:"token"`
		Name  string `json:"friendly_name"`
	}
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", maxBody))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "the body is not JSON with a token")
		return
	}
	tok := strings.TrimSpace(req.Token)
	claims, err := h.cfg.OpenToken(tok)
	if err != nil {
		writeError(w, http.StatusBadRequest, "not an access token of this verifyd: "+err.Error())
		return
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = "Virtual phone"
	}
	d, err := device.New(device.WithBaseURL(base), device.WithHTTPClient(h.client), device.WithFriendlyName(name), device.WithClock(h.cfg.Now))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	f, err := d.Enroll(ctx, claims.ServiceSID, claims.Identity, tok)
	if err != nil {
		writeDeviceError(w, err)
		return
	}
	// No lock: each device has a file of its own, written atomically, and
	// makeDir may run twice at once.
	if err := h.makeDir(); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	path := h.file(f.SID)
	// Saved before Verify: an enrolled factor whose key is lost is useless.
	if err := d.Save(path); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if _, err := d.Verify(ctx); err != nil {
		writeDeviceError(w, err)
		return
	}
	if err := d.Save(path); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, view(d))
}

// makeDir creates the devices' directory, private to its owner.
func (h *Handler) makeDir() error {
	// MkdirAll keeps the mode of a directory that exists: Chmod sets it.
	if err := os.MkdirAll(h.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("phone: %w", err)
	}
	if err := os.Chmod(h.cfg.Dir, 0o700); err != nil { //nolint:gosec // a directory needs x to be entered; 0700 is its owner only
		return fmt.Errorf("phone: %w", err)
	}
	return nil
}

func (h *Handler) file(factorSID string) string {
	return filepath.Join(h.cfg.Dir, factorSID+".json")
}

func (h *Handler) load(w http.ResponseWriter, factorSID, base string) (*device.Device, bool) {
	// The port may differ from the one the device enrolled on.
	d, err := device.LoadFile(h.file(factorSID), device.WithBaseURL(base), device.WithHTTPClient(h.client), device.WithClock(h.cfg.Now))
	if errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusNotFound, "no such device")
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return nil, false
	}
	return d, true
}

// item is one challenge in the inbox.
type item struct {
	SID       string    `json:"sid"`
	Message   string    `json:"message"`
	Fields    []field   `json:"fields"`
	Status    string    `json:"status"`
	Created   time.Time `json:"date_created"`
	Expires   time.Time `json:"expiration_date"`
	Pushed    time.Time `json:"pushed_at,omitzero"` // the first push, as FCM or APNs would bring it
	Responded time.Time `json:"date_responded,omitzero"`
}

// field is one label and value of a challenge's details.
type field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// inbox is the device's challenges, newest first, with the server's time
// so that the page's countdowns do not depend on the browser's clock.
type inbox struct {
	Now   time.Time `json:"now"`
	Items []item    `json:"items"`
}

func (h *Handler) inbox(ctx context.Context, w http.ResponseWriter, factorSID, base string) {
	d, ok := h.load(w, factorSID, base)
	if !ok {
		return
	}
	pushes, err := d.Pushes(ctx)
	if err != nil {
		writeDeviceError(w, err)
		return
	}
	// Newest first: past maxInbox, the oldest drop out, not the new ones.
	challenges, err := d.Challenges(ctx, device.ListOrder("desc"), device.ListLimit(maxInbox))
	if err != nil {
		writeDeviceError(w, err)
		return
	}
	pushed := map[string]time.Time{}
	for _, p := range pushes { // oldest first
		if _, seen := pushed[p.ChallengeSID]; !seen {
			pushed[p.ChallengeSID] = p.DateCreated
		}
	}
	now := h.cfg.Now().UTC()
	out := inbox{Now: now, Items: []item{}}
	for _, c := range challenges {
		status := c.Status
		// verifyd marks a challenge expired when it is next read or
		// answered; the page shows it at once.
		if status == device.ChallengePending && !now.Before(c.ExpirationDate) {
			status = device.ChallengeExpired
		}
		fields := []field{}
		for _, f := range c.Details.Fields {
			fields = append(fields, field{Label: f.Label, Value: f.Value})
		}
		out.Items = append(out.Items, item{SID: c.SID, Message: c.Details.Message, Fields: fields, Status: status,
			Created: c.DateCreated, Expires: c.ExpirationDate, Pushed: pushed[c.SID], Responded: c.DateResponded})
	}
	// Newest first; the dates have whole seconds, so challenges of one
	// second go by SID, as ListChallenge orders them.
	sort.SliceStable(out.Items, func(i, j int) bool {
		if !out.Items[i].Created.Equal(out.Items[j].Created) {
			return out.Items[i].Created.After(out.Items[j].Created)
		}
		return out.Items[i].SID > out.Items[j].SID
	})
	writeJSON(w, http.StatusOK, out)
}

// maxInbox bounds the challenges the inbox lists.
const maxInbox = 100

func (h *Handler) answer(ctx context.Context, w http.ResponseWriter, factorSID, challengeSID, action, base string) {
	d, ok := h.load(w, factorSID, base)
	if !ok {
		return
	}
	var (
		c   *device.Challenge
		err error
	)
	if action == "approve" {
		c, err = d.Approve(ctx, challengeSID)
	} else {
		c, err = d.Deny(ctx, challengeSID)
	}
	if err != nil {
		writeDeviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"sid": c.SID, "status": c.Status})
}

// verifyd's errors for a challenge that cannot be answered. The device
// refuses these states before it posts, and verifyd when the state changed
// in between; the page gets the same error either way.
const (
	codeChallengeAnswered = 60322
	codeChallengeExpired  = 60323
	codeChallengeNotFound = 60391
)

// writeDeviceError passes on verifyd's answer to a device, or says what the
// simulator refused.
func writeDeviceError(w http.ResponseWriter, err error) {
	var de *device.Error
	switch {
	case errors.As(err, &de) && de.Code != 0:
		writeCoded(w, de.Status, de.Code, err.Error())
	case errors.As(err, &de):
		writeError(w, de.Status, err.Error())
	case errors.Is(err, device.ErrChallengeResponded):
		writeCoded(w, http.StatusForbidden, codeChallengeAnswered, err.Error())
	case errors.Is(err, device.ErrChallengeExpired):
		writeCoded(w, http.StatusForbidden, codeChallengeExpired, err.Error())
	case errors.Is(err, device.ErrWrongFactor): // verifyd hides another factor's challenge
		writeCoded(w, http.StatusNotFound, codeChallengeNotFound, err.Error())
	default:
		writeError(w, http.StatusBadGateway, err.Error())
	}
}

// writeError answers in Twilio's error shape, with the generic code of the
// status (20000 plus it), as verifyd's own errors do.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeCoded(w, status, 20000+status, msg)
}

func writeCoded(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone: nothing to do
}
