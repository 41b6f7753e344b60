package token_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/internal/token"
)

// answerHeader is the header both SDKs sign a challenge answer with.
const answerHeader = `{"typ":"JWT","alg":"ES256"}`

// answerPayload is an answer as the Android SDK writes it: the signature
// fields' values as fetched, "/" escaped as "\/", and the status.
const answerPayload = `{"sid":"YCaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","details":{"message":"Log in?","fields":[{"label":"Where","value":"https:\/\/x"}]},"status":"approved"}`

type answerTest struct {
	name string
	jws  string
}

func answerParseErrorTests(tb testing.TB) []answerTest {
	key := deviceKeys.device
	good := signJWT(tb, key, answerHeader, answerPayload, false)
	return []answerTest{
		{"empty", ""},
		{"two parts", strings.Join(strings.Split(good, ".")[:2], ".")},
		{"padding", good + "="},
		{"a space", " " + good},
		{"too long", strings.Repeat("a", token.MaxAnswerLen+1)},
		{"header not JSON", signJWT(tb, key, `{"typ":"JWT","alg":"ES256"`, answerPayload, false)},
		{"header without alg", signJWT(tb, key, `{"typ":"JWT"}`, answerPayload, false)},
		{"typ not JWT", signJWT(tb, key, `{"typ":"JOSE+JSON","alg":"ES256"}`, answerPayload, false)},
		{"crit", signJWT(tb, key, `{"alg":"ES256","crit":["b64"]}`, answerPayload, false)},
		{"payload an array", signJWT(tb, key, answerHeader, `["approved"]`, false)},
		{"payload null", signJWT(tb, key, answerHeader, `null`, false)},
		{"no status", signJWT(tb, key, answerHeader, `{"sid":"YC"}`, false)},
		{"status a number", signJWT(tb, key, answerHeader, `{"status":1}`, false)},
	}
}

func TestParseAnswer(t *testing.T) {
	key := deviceKeys.device
	good := signJWT(t, key, answerHeader, answerPayload, false)
	a, err := token.ParseAnswer(good)
	if err != nil {
		t.Fatalf("ParseAnswer(good) error: %v", err)
	}
	if a.Status != "approved" || string(a.Payload["sid"]) != `"YCaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"` ||
		string(a.Payload["details"]) != `{"message":"Log in?","fields":[{"label":"Where","value":"https:\/\/x"}]}` {
		t.Errorf("ParseAnswer(good) = status %q, payload %q", a.Status, a.Payload)
	}
	if err := a.Verify(&key.PublicKey); err != nil {
		t.Errorf("Verify(good) error: %v", err)
	}
	for _, tc := range answerParseErrorTests(t) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := token.ParseAnswer(tc.jws)
			if !errors.Is(err, token.ErrInvalidAnswer) {
				t.Errorf("ParseAnswer = %v, want ErrInvalidAnswer", err)
			}
		})
	}
}

func TestAnswerVerify(t *testing.T) {
	key := deviceKeys.device
	for _, tc := range []struct {
		name string
		jws  string
	}{
		{"another key", signJWT(t, deviceKeys.other, answerHeader, answerPayload, false)},
		{"DER signature", signJWT(t, key, answerHeader, answerPayload, true)},
		{"alg ES384", signJWT(t, key, `{"typ":"JWT","alg":"ES384"}`, answerPayload, false)},
		{"alg none", signJWT(t, key, `{"alg":"none"}`, answerPayload, false)},
		{"payload changed after signing", func() string {
			parts := strings.Split(signJWT(t, key, answerHeader, answerPayload, false), ".")
			parts[1] = b64url([]byte(strings.Replace(answerPayload, "approved", "denied", 1)))
			return strings.Join(parts, ".")
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := token.ParseAnswer(tc.jws)
			if err != nil {
				t.Fatalf("ParseAnswer error: %v", err)
			}
			if err := a.Verify(&key.PublicKey); !errors.Is(err, token.ErrInvalidAnswer) {
				t.Errorf("Verify = %v, want ErrInvalidAnswer", err)
			}
		})
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add(signJWT(f, deviceKeys.device, answerHeader, answerPayload, false))
	for _, tc := range answerParseErrorTests(f) {
		f.Add(tc.jws)
	}
	pub := &deviceKeys.device.PublicKey
	f.Fuzz(func(t *testing.T, jws string) {
		a, err := token.ParseAnswer(jws)
		if err != nil {
			if !errors.Is(err, token.ErrInvalidAnswer) {
				t.Errorf("ParseAnswer(%q) error = %v, want ErrInvalidAnswer", jws, err)
			}
			checkQuiet(t, "ParseAnswer", jws, err)
			return
		}
		if got := a.SigningInput + "." + b64url(a.Signature); got != jws {
			t.Errorf("ParseAnswer(%q): signing input and signature give back %q", jws, got)
		}
		if err := a.Verify(pub); err != nil {
			if !errors.Is(err, token.ErrInvalidAnswer) {
				t.Errorf("Verify(%q) error = %v, want ErrInvalidAnswer", jws, err)
			}
			checkQuiet(t, "Verify", jws, err)
		}
	})
}

// TestParseAnswerRefusesDuplicateMembers: a signed answer that names a
// member twice, at any depth, says two things at once (a "denied" and an
// "approved" status); the SDKs never send one, and verifyd must not pick
// the last for the device.
func TestParseAnswerRefusesDuplicateMembers(t *testing.T) {
	key := deviceKeys.device
	for _, tc := range []struct{ name, header, payload string }{
		{"status twice", answerHeader, `{"status":"denied","sid":"YCaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"approved"}`},
		{"sid twice", answerHeader, `{"sid":"YCbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","sid":"YCaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"approved"}`},
		{"nested twice", answerHeader, `{"details":{"message":"Pay 1000?","message":"Log in?","fields":[]},"status":"approved"}`},
		{"in an array", answerHeader, `{"details":{"message":"Log in?","fields":[{"label":"a","label":"b","value":"c"}]},"status":"approved"}`},
		{"escaped twice", answerHeader, `{"status":"denied","st\u0061tus":"approved"}`},
		{"header alg twice", `{"typ":"JWT","alg":"none","alg":"ES256"}`, answerPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jws := signJWT(t, key, tc.header, tc.payload, false)
			if _, err := token.ParseAnswer(jws); !errors.Is(err, token.ErrInvalidAnswer) {
				t.Errorf("ParseAnswer(%s) error = %v, want ErrInvalidAnswer", tc.payload, err)
			}
		})
	}
	// The same names in different objects are not duplicates.
	ok := `{"details":{"message":"m","fields":[{"label":"a","value":"b"},{"label":"a","value":"b"}]},"hidden_details":{"message":"x"},"status":"approved"}`
	if _, err := token.ParseAnswer(signJWT(t, key, answerHeader, ok, false)); err != nil {
		t.Errorf("ParseAnswer(%s) error: %v", ok, err)
	}
}
