package device

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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
// the generated client (FetchFactor stands in for the challenge GETs the
// SDKs make): the SDKs send Content-Type and Accept of the form type on a
// GET, where POST and DELETE accept JSON.
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
