// Package token mints and opens Twilio Verify access tokens, and checks
// what the mobile SDKs' devices sign with their push factor keys.
//
// An access token is a compact JWE (RFC 7516) made with direct symmetric
// encryption: five base64url parts separated by dots, the second (the
// encrypted key) empty, a 12-byte IV and a 16-byte tag. Its protected header
// carries exactly these parameters:
//
//	{"alg":"dir","cty":"twilio-fpa;v=1","enc":"A256GCM","kid":"<key id>","zip":"DEF"}
//
// The plaintext is the DEFLATE-compressed JSON encoding of [Claims].
// Twilio's own tokens list the same parameters in another order; go-jose
// writes the header keys sorted, and since the header is a JSON object the
// order carries no meaning.
//
// Keys rotate: a [KeySet] holds every key that may still open tokens, [Mint]
// always encrypts with the newest one, and [Open] picks the key named by the
// token's kid. A key can be removed from the set once every token it minted
// has expired.
//
// A push factor's device holds a P-256 key and proves it in three formats,
// which differ byte by byte:
//   - [ParsePublicKey] reads the key it enrolls: standard Base64 of the DER
//     SubjectPublicKeyInfo;
//   - [VerifyFactorSignature] checks its factor verification: standard
//     Base64 of a DER ECDSA signature of the factor SID;
//   - [ParseDeviceJWT] and [DeviceJWT.Verify] check the ES256 JWT that
//     authenticates each of its later requests: base64url parts, the
//     signature raw R‖S.
//
// These use crypto/ecdsa directly rather than go-jose: go-jose rebuilds a
// JWS's signing input by re-encoding the header and payload it decoded, so
// it accepts other spellings of a signed token, where the device JWT must
// be verified over the bytes exactly as received.
package token
