// Package token mints and opens Twilio Verify access tokens.
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
package token
