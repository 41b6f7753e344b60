package device

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds the byte formats of the two SDKs: how they encode forms,
// write JSON and sign. Sources are the SDKs' own files, named below;
// "Android" is twilio-verify-android 0.9.0, "iOS" twilio-verify-ios 3.0.2.

// Flavor is the mobile SDK whose requests a Device reproduces. The two
// agree on every field and differ in bytes: form encoding, JSON key order,
// page token spelling, User-Agent and the push platform.
type Flavor string

// The flavors.
const (
	// Android is the twilio-verify-android SDK.
	Android Flavor = "android"
	// IOS is the twilio-verify-ios SDK.
	IOS Flavor = "ios"
)

// The SDK versions a Device reports by default, the ones whose sources the
// byte formats were read from.
const (
	AndroidSDKVersion = "0.9.0"
	IOSSDKVersion     = "3.0.2"
)

// The notification platforms of a factor (Config.NotificationPlatform).
const (
	PlatformFCM  = "fcm"  // Firebase Cloud Messaging, the Android SDK's
	PlatformAPN  = "apn"  // Apple Push Notification service, the iOS SDK's
	PlatformNone = "none" // no push: the app polls for challenges
)

// valid reports whether f is a known flavor.
func (f Flavor) valid() bool { return f == Android || f == IOS }

// sdkVersion is the SDK version a Device of flavor f reports by default.
func (f Flavor) sdkVersion() string {
	if f == IOS {
		return IOSSDKVersion
	}
	return AndroidSDKVersion
}

// pushPlatform is the notification platform the SDK of flavor f sends
// with a push token.
func (f Flavor) pushPlatform() string {
	if f == IOS {
		return PlatformAPN
	}
	return PlatformFCM
}

// PageTokenParam is the query parameter in which the SDK of flavor f sends
// the page token when it lists challenges: Android PageToken, iOS pageToken
// (Android ChallengeAPIClient.kt, iOS ChallengeAPIClient.swift).
func (f Flavor) PageTokenParam() string {
	if f == IOS {
		return "pageToken"
	}
	return "PageToken"
}

// userAgent builds the User-Agent the SDK of flavor f sends, for a made-up
// app on a made-up phone. Android (RequestHelper.kt): "app; Android;
// version; code; Android release (api); model; VerifySDK; sdk version; sdk
// code". iOS (RequestHelper.swift): "app; iOS; version; build; iOS version;
// model; TwilioVerify; sdk version; sdk build".
func (f Flavor) userAgent(sdkVersion string) string {
	if f == IOS {
		return "VerifyKit Device; iOS; 1.0; 1; iOS 18.5; iPhone; TwilioVerify; " + sdkVersion + "; 1"
	}
	return "VerifyKit Device; Android; 1.0; 1; Android 15 (35); verifykit; VerifySDK; " + sdkVersion + "; 2013"
}

// param is one form field, in the order the SDK adds it.
type param struct{ name, value string }

// encodeForm encodes params as the SDK of flavor f writes a form body or a
// query string, byte for byte; Go's url.Values would sort the fields and
// write a space as "+".
//
// Android (Request.kt) passes each name and value through
// Uri.Builder.appendQueryParameter, which keeps letters, digits and
// "_-!.~'()*" and percent-encodes every other UTF-8 byte. iOS
// (Parameters.swift) joins name and value with "=" first, then
// percent-encodes that whole string with .urlQueryAllowed less "+", which
// keeps "&", "=", ";", "/" and more: an "&" in a value splits the field on
// the wire, as it does on a real iPhone.
func (f Flavor) encodeForm(params []param) string {
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		if f == IOS {
			percentEncode(&b, p.name+"="+p.value, iosKeeps)
			continue
		}
		percentEncode(&b, p.name, androidKeeps)
		b.WriteByte('=')
		percentEncode(&b, p.value, androidKeeps)
	}
	return b.String()
}

// androidKeeps reports whether Android's Uri.encode leaves c as it is.
func androidKeeps(c byte) bool {
	return isAlnum(c) || strings.IndexByte("_-!.~'()*", c) >= 0
}

// iosKeeps reports whether c is in Apple's CharacterSet.urlQueryAllowed
// (RFC 3986's query characters) less "+", the set the iOS SDK encodes with.
func iosKeeps(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!$&'()*,-./:;=?@_~", c) >= 0
}

func isAlnum(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// percentEncode writes s to b with every byte that keep rejects written as
// %XX, upper-case hex, as both platforms do.
func percentEncode(b *strings.Builder, s string, keep func(byte) bool) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// member is one member of a JSON object the SDK writes: its value is a
// string, an int64, or a json.RawMessage written as it is.
type member struct {
	key   string
	value any
}

// encodeJSON writes an object with members in the given order, as the
// SDKs' JSON writers do: no spaces, integers in decimal, and strings
// escaped the way both Android's org.json and Apple's JSONSerialization
// escape them, "/" as "\/" included. Go's encoding/json would not escape
// "/" and would escape "<", ">" and "&".
func encodeJSON(members []member) []byte {
	var b []byte
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, m.key)
		b = append(b, ':')
		switch v := m.value.(type) {
		case string:
			b = appendJSONString(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case json.RawMessage:
			b = append(b, v...)
		default:
			panic(fmt.Sprintf("device: encodeJSON: unsupported %T", v)) // a bug here, not bad input
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, escaped as org.json's
// JSONStringer does: quote, backslash and slash get a backslash; \b \t \n
// \f \r their short forms; other control characters \u00xx; the rest, non-
// ASCII included, stays as it is.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '/':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// jwtHeader and jwtClaims are the members of a device JWT in the order the
// SDK of flavor f writes them. Android builds org.json objects, which keep
// insertion order (AuthenticationProvider.kt puts cty and kid, then
// JwtGenerator.kt typ and alg; sub, exp, nbf). iOS serializes Swift
// dictionaries, whose order is unspecified and changes between runs; the
// simulator writes them sorted, one order a real iPhone may produce.
func (f Flavor) jwtHeader(kid string) []member {
	if f == IOS {
		return []member{{"alg", "ES256"}, {"cty", contentType}, {"kid", kid}, {"typ", "JWT"}}
	}
	return []member{{"cty", contentType}, {"kid", kid}, {"typ", "JWT"}, {"alg", "ES256"}}
}

func (f Flavor) jwtClaims(sub string, nbf int64) []member {
	exp := nbf + jwtValidFor
	if f == IOS {
		return []member{{"exp", exp}, {"nbf", nbf}, {"sub", sub}}
	}
	return []member{{"sub", sub}, {"exp", exp}, {"nbf", nbf}}
}

// jwsHeader is the header of a challenge answer's JWS (AuthPayload) as the
// SDK of flavor f writes it: typ and alg only, no kid and no cty. Android
// puts them into an empty org.json object in that order (JwtGenerator.kt,
// called by PushChallengeProcessor.kt with JSONObject()); iOS serializes a
// dictionary, sorted here as jwtHeader says.
func (f Flavor) jwsHeader() []member {
	if f == IOS {
		return []member{{"alg", "ES256"}, {"typ", "JWT"}}
	}
	return []member{{"typ", "JWT"}, {"alg", "ES256"}}
}

// contentType is the cty of a device JWT; jwtValidFor the seconds between
// its nbf and exp (AuthenticationProvider.kt, Authentication.swift).
const (
	contentType = "twilio-pba;v=1"
	jwtValidFor = 600
)

// listParams returns the query of a ListChallenge request in the order the
// SDK of flavor f adds the parameters: Android PageSize, FactorSid, Order
// (a LinkedHashMap, ChallengeAPIClient.kt), iOS FactorSid, PageSize, Order
// (an array, ChallengeAPIClient.swift); then Status and the page token
// when set, spelled PageToken on Android and pageToken on iOS. The query is
// encoded as the flavor encodes a form (Request.kt, URLRequestBuilder.swift).
func (f Flavor) listParams(factorSID string, pageSize int, order, status, pageToken string) []param {
	size := param{"PageSize", strconv.Itoa(pageSize)}
	ps := []param{size, {"FactorSid", factorSID}}
	if f == IOS {
		ps = []param{{"FactorSid", factorSID}, size}
	}
	ps = append(ps, param{"Order", order})
	if status != "" {
		ps = append(ps, param{"Status", status})
	}
	if pageToken != "" {
		ps = append(ps, param{f.PageTokenParam(), pageToken})
	}
	return ps
}

// pageToken returns the PageToken query parameter of a list's
// next_page_url or previous_page_url, as the SDK of flavor f reads it back
// (both read PageToken, whatever they send), or "" when there is none.
// Android's Uri.getQueryParameter decodes "+" as a space; iOS's
// URLComponents leaves it, and finds nothing in a string that is not a URL.
func (f Flavor) pageToken(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	for _, pair := range strings.Split(u.RawQuery, "&") {
		name, value, _ := strings.Cut(pair, "=")
		if n, err := url.PathUnescape(name); err != nil || n != "PageToken" {
			continue
		}
		unescape := url.PathUnescape
		if f == Android {
			unescape = url.QueryUnescape
		}
		v, err := unescape(value)
		if err != nil {
			return ""
		}
		return v
	}
	return ""
}

// configParams returns the Config.* fields of a create or update in the
// order the SDK of flavor f adds them. Android (PushFactory.kt) adds
// SdkVersion, AppId, NotificationPlatform, then NotificationToken unless
// the platform is none. iOS (PushFactory.swift) builds a dictionary, whose
// order is unspecified; the simulator sorts it.
func (f Flavor) configParams(sdkVersion, appID, platform, token string) []param {
	ps := []param{
		{"Config.SdkVersion", sdkVersion},
		{"Config.AppId", appID},
		{"Config.NotificationPlatform", platform},
	}
	if platform != PlatformNone {
		ps = append(ps, param{"Config.NotificationToken", token})
	}
	if f == IOS {
		sort.Slice(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
	}
	return ps
}

// bindingParams returns the Binding.* fields of a create: Android keeps
// PublicKey, Alg; iOS's dictionary is sorted here, as configParams says.
func (f Flavor) bindingParams(publicKey string) []param {
	if f == IOS {
		return []param{{"Binding.Alg", "ES256"}, {"Binding.PublicKey", publicKey}}
	}
	return []param{{"Binding.PublicKey", publicKey}, {"Binding.Alg", "ES256"}}
}

// metadataJSON returns the Metadata field's value: a JSON object of
// strings with its keys sorted (neither SDK fixes an order for an app's
// map), escaped as their JSON writers escape.
func metadataJSON(md map[string]string) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	members := make([]member, len(keys))
	for i, k := range keys {
		members[i] = member{k, md[k]}
	}
	return string(encodeJSON(members))
}

// signDER signs SHA-256 of msg with key and returns the DER signature, as
// the platform keystores (Android's SHA256withECDSA, iOS's
// ecdsaSignatureMessageX962SHA256) return it.
func signDER(key *ecdsa.PrivateKey, msg string) ([]byte, error) {
	digest := sha256.Sum256([]byte(msg))
	return ecdsa.SignASN1(rand.Reader, key, digest[:])
}

// derToRaw transcodes a DER ECDSA P-256 signature into the 64 bytes of R‖S
// that ES256 wants, as the SDKs' JwtSigner does before it writes a JWT:
// each integer left-padded, or stripped of its sign byte, to 32 bytes.
//
// iOS's transcoder pads a short integer with one zero byte only, so that
// about one signature in 65536 comes out 63 bytes long; this one pads fully,
// as Android's does, rather than make tests fail at random.
func derToRaw(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 {
		return nil, errors.New("invalid ecdsa signature format")
	}
	if sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, errors.New("ecdsa signature longer than p-256's")
	}
	raw := make([]byte, 64)
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return raw, nil
}

var (
	b64    = base64.StdEncoding.EncodeToString    // NO_WRAP, as both SDKs send keys and signatures
	b64url = base64.RawURLEncoding.EncodeToString // URL_SAFE | NO_PADDING | NO_WRAP, for JWTs
)

// parseDate parses a response's Date header as the SDKs do: RFC 1123,
// "EEE, dd MMM yyyy HH:mm:ss zzz" (DateParser.kt, DateFormatter+
// Extensions.swift).
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC1123, s)
	if err != nil {
		t, err = time.Parse(time.RFC1123Z, s)
	}
	return t, err
}

// checkDate reports whether the SDK of flavor f can parse s, a response's
// date_created: "yyyy-MM-dd'T'HH:mm:ss" then "Z" or an offset, with no
// fractional seconds. Android splits an offset at its last "-", so only
// negative offsets survive there (DateParser.kt); iOS takes either sign
// (ZZZZZ, DateFormatter+Extensions.swift).
func (f Flavor) checkDate(s string) error {
	if strings.ContainsRune(s, '.') {
		return errors.New("fractional seconds")
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z07:00", s); err != nil {
		return errors.New("not yyyy-mm-ddThh:mm:ss with Z or an offset")
	}
	if f == Android && !strings.HasSuffix(s, "Z") && s[len(s)-6] != '-' {
		return errors.New("a positive offset, which the Android SDK misreads")
	}
	return nil
}
