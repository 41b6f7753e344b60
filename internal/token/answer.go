package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// MaxAnswerLen bounds ParseAnswer's input: openapi.yaml's maxLength of
// UpdateChallenge's AuthPayload. The answer to the largest challenge must
// fit: its 4,624 characters of text (message 256, fields 20 × (36 + 128),
// hidden details 1,024, identity 64) at 6 bytes each when sent as JSON
// escapes (the server itself sends "<" as \u003c), about 1 KB of names
// and punctuation, all in base64url (4/3), are about 38 KB; 40 KiB with
// Metadata still fits the default 64 KiB body.
const MaxAnswerLen = 40960

// ErrInvalidAnswer is wrapped by every error of ParseAnswer and
// Answer.Verify. Its messages never quote the input.
var ErrInvalidAnswer = errors.New("invalid challenge answer")

// Answer is a device's answer to a challenge, the AuthPayload of
// UpdateChallenge, as ParseAnswer read it: a compact JWS whose header is
// {"typ":"JWT","alg":"ES256"} and whose payload holds the JSON values of
// the challenge's signature fields, as the device fetched them, and the
// status it chose. Nothing in it is authenticated until Verify succeeds.
type Answer struct {
	// Payload holds each member of the payload as raw JSON, as sent.
	Payload map[string]json.RawMessage
	// Status is the payload's status member.
	Status string
	// SigningInput is the JWS up to its second dot, exactly as received.
	SigningInput string
	// Signature is the decoded signature part.
	Signature []byte
	algorithm string
}

// ParseAnswer splits and decodes jws without verifying it: at most
// MaxAnswerLen bytes of base64url in three non-empty canonical parts; a
// header that is a JSON object with a string alg, a typ that is "JWT" (in
// any case) when present, and no crit; a payload that is a JSON object
// with a string status; and no object in either that names a member
// twice. Errors wrap ErrInvalidAnswer.
func ParseAnswer(jws string) (Answer, error) {
	if len(jws) > MaxAnswerLen {
		return Answer{}, invalidAnswer("longer than MaxAnswerLen")
	}
	for i := 0; i < len(jws); i++ {
		if c := jws[i]; !isBase64URL(c) && c != '.' {
			return Answer{}, invalidAnswer("byte outside the base64url alphabet")
		}
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return Answer{}, invalidAnswer("want three dot-separated parts")
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := strictRawURL.DecodeString(p)
		if p == "" || err != nil {
			return Answer{}, invalidAnswer("part " + strconv.Itoa(i+1) + " is empty or not canonical base64url")
		}
		raw[i] = b
	}
	// A member named twice would make the signed answer say two things;
	// encoding/json would keep the last without a word.
	if !uniqueMembers(raw[0]) || !uniqueMembers(raw[1]) {
		return Answer{}, invalidAnswer("a json object names a member twice")
	}
	header, err := jsonObject(raw[0])
	if err != nil {
		return Answer{}, invalidAnswer("header is not a json object")
	}
	if _, ok := header["crit"]; ok {
		return Answer{}, invalidAnswer("header has crit")
	}
	a := Answer{SigningInput: jws[:len(parts[0])+1+len(parts[1])], Signature: raw[2]}
	if v, ok := header["alg"]; !ok || !jsonString(v, &a.algorithm) {
		return Answer{}, invalidAnswer("header alg is missing or not a string")
	}
	if v, ok := header["typ"]; ok {
		var typ string
		if !jsonString(v, &typ) || !strings.EqualFold(typ, DeviceType) {
			return Answer{}, invalidAnswer("header typ is not JWT")
		}
	}
	if a.Payload, err = jsonObject(raw[1]); err != nil {
		return Answer{}, invalidAnswer("payload is not a json object")
	}
	if v, ok := a.Payload["status"]; !ok || !jsonString(v, &a.Status) {
		return Answer{}, invalidAnswer("payload status is missing or not a string")
	}
	return a, nil
}

// Verify checks that alg is ES256 and that the signature, 64 bytes of raw
// R‖S, verifies with pub over SigningInput exactly as received.
func (a Answer) Verify(pub *ecdsa.PublicKey) error {
	switch {
	case !validP256(pub):
		return errors.New("verify challenge answer: not a p-256 public key")
	case a.algorithm != DeviceAlgorithm:
		return invalidAnswer("alg is not ES256")
	case len(a.Signature) != 64:
		return invalidAnswer("signature is not 64 bytes of raw r||s")
	}
	r := new(big.Int).SetBytes(a.Signature[:32])
	s := new(big.Int).SetBytes(a.Signature[32:])
	digest := sha256.Sum256([]byte(a.SigningInput))
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return invalidAnswer("signature does not verify")
	}
	return nil
}

// invalidAnswer returns an error wrapping ErrInvalidAnswer.
func invalidAnswer(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidAnswer, reason)
}

// uniqueMembers reports whether b is JSON in which no object, at any
// depth, names a member twice (names compared after unescaping).
func uniqueMembers(b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	var value func() bool
	value = func() bool {
		t, err := d.Token()
		if err != nil {
			return false
		}
		switch t {
		case json.Delim('{'):
			seen := map[string]bool{}
			for d.More() {
				k, err := d.Token()
				name, ok := k.(string)
				if err != nil || !ok || seen[name] {
					return false
				}
				seen[name] = true
				if !value() {
					return false
				}
			}
			_, err := d.Token() // '}'
			return err == nil
		case json.Delim('['):
			for d.More() {
				if !value() {
					return false
				}
			}
			_, err := d.Token() // ']'
			return err == nil
		}
		return true
	}
	return value()
}
