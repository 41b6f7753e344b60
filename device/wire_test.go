package device

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/verifykit/verifykit/gen/verifyclient"
)

func TestEncodeForm(t *testing.T) {
	params := []param{
		{"FriendlyName", "Ann's phone (2) & co"},
		{"Binding.PublicKey", "MFkw+/ab=="},
		{"Metadata", `{"a":"b;c"}`},
		{"Empty", ""},
		{"Unicode", "ü~*!"},
	}
	tests := []struct {
		flavor Flavor
		want   string
	}{
		// Uri.encode keeps letters, digits and _-!.~'()* only.
		{Android, "FriendlyName=Ann's%20phone%20(2)%20%26%20co&Binding.PublicKey=MFkw%2B%2Fab%3D%3D" +
			"&Metadata=%7B%22a%22%3A%22b%3Bc%22%7D&Empty=&Unicode=%C3%BC~*!"},
		// .urlQueryAllowed less "+" also keeps $&,/:;=?@ (Apple's set).
		{IOS, "FriendlyName=Ann's%20phone%20(2)%20&%20co&Binding.PublicKey=MFkw%2B/ab==" +
			"&Metadata=%7B%22a%22:%22b;c%22%7D&Empty=&Unicode=%C3%BC~*!"},
	}
	for _, tc := range tests {
		if got := tc.flavor.encodeForm(params); got != tc.want {
			t.Errorf("%s encodeForm() =\n%s\nwant\n%s", tc.flavor, got, tc.want)
		}
	}
}

func TestEncodeJSON(t *testing.T) {
	got := string(encodeJSON([]member{
		{"s", "a/b \"q\" \\ \t\n\r\b\f \x01 ü <&>"},
		{"n", int64(-1595358902)},
		{"k/", "v"},
	}))
	// org.json and JSONSerialization both write "/" as "\/"; Go's
	// encoding/json would not, and would escape < & >.
	want := `{"s":"a\/b \"q\" \\ \t\n\r\b\f \u0001 ü <&>","n":-1595358902,"k\/":"v"}`
	if got != want {
		t.Errorf("encodeJSON() =\n%s\nwant\n%s", got, want)
	}
}

// TestDERToRaw uses the vector of the Android SDK's JwtSignerTest ("Sign a
// jwt content with EC256 signer should return signature").
func TestDERToRaw(t *testing.T) {
	der, _ := base64.RawURLEncoding.DecodeString("MEQCIFtun9Ioo-W-juCG7sOl8PPPuozb8cspsUtpu2TxnzP_AiAi1VpFNTr2eK-VX3b1DLHy8rPm3MOpTvUH14hyNr0Gfg")
	want := "W26f0iij5b6O4Ibuw6Xw88-6jNvxyymxS2m7ZPGfM_8i1VpFNTr2eK-VX3b1DLHy8rPm3MOpTvUH14hyNr0Gfg"
	raw, err := derToRaw(der)
	if err != nil || b64url(raw) != want {
		t.Errorf("derToRaw(Android's vector) = %s, %v; want %s", b64url(raw), err, want)
	}
	// Short and sign-padded integers come out 32 bytes each.
	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"short r", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, "00000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000002"},
		{"sign byte", append(append([]byte{0x30, 0x26, 0x02, 0x21, 0x00, 0x80}, make([]byte, 31)...), 0x02, 0x01, 0x05), "80000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005"},
	} {
		raw, err := derToRaw(tc.der)
		if err != nil || hexString(raw) != tc.want {
			t.Errorf("derToRaw(%s) = %s, %v; want %s", tc.name, hexString(raw), err, tc.want)
		}
	}
	for _, bad := range [][]byte{
		nil,
		{0x30, 0x00},
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x00},                                      // trailing byte
		{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x02},                                            // r = 0
		append(append([]byte{0x30, 0x27, 0x02, 0x22, 0x01}, make([]byte, 33)...), 0x02, 0x01, 0x05), // r > 256 bits
	} {
		if raw, err := derToRaw(bad); err == nil {
			t.Errorf("derToRaw(%x) = %x, want an error", bad, raw)
		}
	}
}

func hexString(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

func TestPageTokenParam(t *testing.T) {
	if got := Android.PageTokenParam(); got != "PageToken" {
		t.Errorf("Android.PageTokenParam() = %q, want PageToken", got)
	}
	if got := IOS.PageTokenParam(); got != "pageToken" {
		t.Errorf("IOS.PageTokenParam() = %q, want pageToken", got)
	}
}

// TestGETHeaders sends a GET the way every Device request is sent, through
// the generated client (FetchFactor stands in for any GET; the challenge
// GETs are checked in challenge_test.go): the SDKs send Content-Type and
// Accept of the form type on a GET, where POST and DELETE accept JSON.
func TestGETHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	for _, f := range []Flavor{Android, IOS} {
		d, err := New(WithFlavor(f), WithBaseURL(srv.URL), WithHTTPClient(srv.Client()), WithClock(func() time.Time { return time.Unix(1595358902, 0) }))
		if err != nil {
			t.Fatalf("New() error: %v", err)
		}
		d.factor = &Factor{SID: "YF0123456789abcdef0123456789abcdef", ServiceSID: "VA0123456789abcdef0123456789abcdef",
			Identity: "ff483d1ff591898a9942916050d2ca3f", AccountSID: "AC0123456789abcdef0123456789abcdef", CredentialSID: "CR0123456789abcdef0123456789abcdef"}
		fac, key, err := d.enrolled()
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.send(context.Background(), d.jwtPassword(fac, key), true,
			func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
				return d.gen.FetchFactor(ctx, fac.ServiceSID, fac.Identity, fac.SID, edit)
			})
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("%s GET: status %d, error %v", f, r.status, err)
		}
		for name, want := range map[string]string{
			"Accept":       "application/x-www-form-urlencoded",
			"Content-Type": "application/x-www-form-urlencoded",
			"User-Agent":   f.userAgent(f.sdkVersion()),
		} {
			if v := got.Values(name); len(v) != 1 || v[0] != want {
				t.Errorf("%s GET %s = %q, want %q", f, name, v, want)
			}
		}
		user, _, ok := (&http.Request{Header: got}).BasicAuth()
		if !ok || user != "token" {
			t.Errorf("%s GET Authorization = %q, want Basic token:<jwt>", f, got.Get("Authorization"))
		}
	}
}

func TestCheckDate(t *testing.T) {
	tests := []struct {
		date           string
		android, iosOK bool
	}{
		{"2015-07-30T20:00:00Z", true, true},
		{"2015-07-30T20:00:00-05:00", true, true},
		{"2015-07-30T20:00:00+05:00", false, true},
		{"2015-07-30T20:00:00.5Z", false, false},
		{"2015-07-30 20:00:00Z", false, false},
		{"", false, false},
	}
	for _, tc := range tests {
		if got := Android.checkDate(tc.date) == nil; got != tc.android {
			t.Errorf("Android.checkDate(%q) ok = %t, want %t", tc.date, got, tc.android)
		}
		if got := IOS.checkDate(tc.date) == nil; got != tc.iosOK {
			t.Errorf("IOS.checkDate(%q) ok = %t, want %t", tc.date, got, tc.iosOK)
		}
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	for _, s := range []string{"Sat, 14 Mar 2026 15:09:26 GMT", "Sat, 14 Mar 2026 16:09:26 +0100"} {
		if got, err := parseDate(s); err != nil || !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "2026-03-14T15:09:26Z", "1773500966"} {
		if got, err := parseDate(s); err == nil {
			t.Errorf("parseDate(%q) = %v, want an error", s, got)
		}
	}
}

// TestAnswerJSON pins the bytes of an AuthPayload's header and payload:
// Android writes org.json objects in insertion order, iOS dictionaries
// (sorted here); both escape "/" as "\/" in the names and the status they
// write, while the values copied from the challenge keep their bytes.
func TestAnswerJSON(t *testing.T) {
	values := map[string]json.RawMessage{
		"sid":     json.RawMessage(`"YC0123456789abcdef0123456789abcdef"`),
		"a/b":     json.RawMessage(`{"url": "https:\/\/x.example\/", "n": 1.50}`),
		"details": json.RawMessage(`{"message":"ok"}`),
	}
	names := []string{"sid", "a/b", "details"}
	tests := []struct {
		flavor      Flavor
		wantHeader  string
		wantPayload string
	}{
		{Android, `{"typ":"JWT","alg":"ES256"}`,
			`{"sid":"YC0123456789abcdef0123456789abcdef","a\/b":{"url": "https:\/\/x.example\/", "n": 1.50},"details":{"message":"ok"},"status":"a\/pproved"}`},
		{IOS, `{"alg":"ES256","typ":"JWT"}`,
			`{"a\/b":{"url": "https:\/\/x.example\/", "n": 1.50},"details":{"message":"ok"},"sid":"YC0123456789abcdef0123456789abcdef","status":"a\/pproved"}`},
	}
	for _, tc := range tests {
		if got := string(encodeJSON(tc.flavor.jwsHeader())); got != tc.wantHeader {
			t.Errorf("%s jwsHeader() = %s, want %s", tc.flavor, got, tc.wantHeader)
		}
		fields, err := tc.flavor.answerFields(names, values, "a/pproved")
		if err != nil {
			t.Fatalf("%s answerFields() error: %v", tc.flavor, err)
		}
		members := make([]member, len(fields))
		for i, p := range fields {
			members[i] = member{p.Name, p.Value}
		}
		if got := string(encodeJSON(members)); got != tc.wantPayload {
			t.Errorf("%s answer payload =\n%s\nwant\n%s", tc.flavor, got, tc.wantPayload)
		}
	}
	if _, err := Android.answerFields([]string{"sid", "nonce"}, values, "approved"); !errors.Is(err, ErrSignedFieldMissing) {
		t.Errorf("answerFields() with a name the body lacks: error %v, want ErrSignedFieldMissing", err)
	}
}

// TestSignCompact checks an AuthPayload's signature: ES256 over the first
// two parts, raw R‖S, base64url, verifiable with the public key.
func TestSignCompact(t *testing.T) {
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signCompact(key, []byte(`{"typ":"JWT","alg":"ES256"}`), []byte(`{"status":"approved"}`))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[0] != "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9" || parts[1] != "eyJzdGF0dXMiOiJhcHByb3ZlZCJ9" {
		t.Fatalf("signCompact() = %q, want the header and payload base64url without padding", jws)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature %q: %d bytes, %v; want 64 bytes of base64url", parts[2], len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&key.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Errorf("signature does not verify as raw R||S")
	}
}

// TestListQuery pins the query of a ListChallenge request: the order and
// escaping of each flavor, and iOS's lower-case pageToken.
func TestListQuery(t *testing.T) {
	const yf = "YF0123456789abcdef0123456789abcdef"
	tests := []struct {
		flavor                   Flavor
		order, status, pageToken string
		want                     string
	}{
		{Android, "asc", "", "", "PageSize=50&FactorSid=" + yf + "&Order=asc"},
		{IOS, "asc", "", "", "FactorSid=" + yf + "&PageSize=50&Order=asc"},
		{Android, "desc", "pending", "DN/a+b=", "PageSize=50&FactorSid=" + yf + "&Order=desc&Status=pending&PageToken=DN%2Fa%2Bb%3D"},
		{IOS, "desc", "pending", "DN/a+b=", "FactorSid=" + yf + "&PageSize=50&Order=desc&Status=pending&pageToken=DN/a%2Bb="},
	}
	for _, tc := range tests {
		if got := tc.flavor.encodeForm(tc.flavor.listParams(yf, 50, tc.order, tc.status, tc.pageToken)); got != tc.want {
			t.Errorf("%s list query = %s, want %s", tc.flavor, got, tc.want)
		}
	}
}

var pageTokenTests = []struct {
	url          string
	android, ios string
}{
	{"https://verify.twilio.com/v2/Services/VA1/Entities/e/Challenges?PageSize=50&Page=1&PageToken=DNYC01", "DNYC01", "DNYC01"},
	{"http://127.0.0.1:8080/x?PageToken=a%2Bb+c&PageToken=second", "a+b c", "a+b+c"},
	{"https://x/y?pageToken=lower", "", ""},
	{"https://x/y?Page=1", "", ""},
	{"", "", ""},
	{"null", "", ""},
	{"https://x/y?PageToken=%zz", "", ""},
	{"https://x/y?Page%54oken=escaped", "escaped", "escaped"},
}

func TestPageToken(t *testing.T) {
	for _, tc := range pageTokenTests {
		if got := Android.pageToken(tc.url); got != tc.android {
			t.Errorf("Android.pageToken(%q) = %q, want %q", tc.url, got, tc.android)
		}
		if got := IOS.pageToken(tc.url); got != tc.ios {
			t.Errorf("IOS.pageToken(%q) = %q, want %q", tc.url, got, tc.ios)
		}
	}
}

// FuzzPageToken checks that a token written into a URL as Go escapes a
// query comes back from either flavor, and that no input panics.
func FuzzPageToken(f *testing.F) {
	for _, tc := range pageTokenTests {
		f.Add(tc.url, tc.android)
	}
	f.Fuzz(func(t *testing.T, raw, token string) {
		Android.pageToken(raw)
		IOS.pageToken(raw)
		u := "https://verify.twilio.com/v2/x?" + url.Values{"PageToken": {token}}.Encode()
		if !utf8.ValidString(token) {
			return
		}
		if got := Android.pageToken(u); got != token {
			t.Errorf("Android.pageToken(%q) = %q, want %q", u, got, token)
		}
		if strings.Contains(token, " ") {
			return // Go writes a space as "+", which iOS keeps
		}
		if got := IOS.pageToken(u); got != token {
			t.Errorf("IOS.pageToken(%q) = %q, want %q", u, got, token)
		}
	})
}

// FuzzMapChallenge maps arbitrary bodies and signature-fields headers as
// both flavors do. A mapped challenge must have a known status, signature
// fields exactly when it is pending and the header came, and an answer
// payload that is JSON holding each signed value as received and the
// status.
func FuzzMapChallenge(f *testing.F) {
	good := `{"sid":"YC0123456789abcdef0123456789abcdef","factor_sid":"YF0123456789abcdef0123456789abcdef",` +
		`"status":"pending","expiration_date":"2026-03-14T15:14:26Z","date_created":"2026-03-14T15:09:26Z",` +
		`"date_updated":"2026-03-14T15:09:26-05:00","date_responded":null,"details":{"message":"m\/x","fields":[{"label":"l","value":"v"}],"date":"2026-03-14T15:09:26Z"},` +
		`"hidden_details":{"ip":"1.2.3.4"}}`
	f.Add(good, "sid,factor_sid,details,hidden_details", true)
	f.Add(good, "sid, details", true)
	f.Add(good, "", true)
	f.Add(good, "", false)
	f.Add(strings.Replace(good, "pending", "canceled", 1), "sid", true)
	f.Add(`{"sid":1}`, "sid", true)
	f.Add(`null`, "", false)
	f.Add(`[]`, "", false)
	f.Fuzz(func(t *testing.T, body, header string, hasHeader bool) {
		var h *string
		if hasHeader {
			h = &header
		}
		for _, flavor := range []Flavor{Android, IOS} {
			c, err := flavor.mapChallenge([]byte(body), h)
			if err != nil {
				continue
			}
			if !knownStatus(c.Status) {
				t.Fatalf("%s mapChallenge(%q) status %q", flavor, body, c.Status)
			}
			if want := c.Status == ChallengePending && hasHeader; (c.SignatureFields != nil) != want {
				t.Fatalf("%s mapChallenge(%q, %v) signature fields %q, want some: %t", flavor, body, h, c.SignatureFields, want)
			}
			if c.SignatureFields == nil {
				continue
			}
			values, err := jsonObject(c.Raw)
			if err != nil {
				t.Fatalf("%s: Raw %q is not an object: %v", flavor, c.Raw, err)
			}
			fields, err := flavor.answerFields(c.SignatureFields, values, "approved")
			if err != nil {
				continue
			}
			members := make([]member, len(fields))
			for i, p := range fields {
				members[i] = member{p.Name, p.Value}
			}
			payload := encodeJSON(members)
			var got map[string]json.RawMessage
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatalf("%s answer payload %q is not a JSON object: %v", flavor, payload, err)
			}
			if string(got["status"]) != `"approved"` {
				t.Fatalf("%s answer payload %q: status %s", flavor, payload, got["status"])
			}
			for _, name := range c.SignatureFields {
				if name != "status" && utf8.ValidString(name) && !bytes.Equal(got[name], values[name]) {
					t.Fatalf("%s answer payload %q: %q is %s, want %s as received", flavor, payload, name, got[name], values[name])
				}
			}
		}
	})
}
