// Package verify is the hand-written client of the Twilio Verify v2 Access
// Tokens API, for Twilio itself and for verifyd alike.
//
// It wraps the generated client in gen/verifyclient with what the contract
// leaves to the caller:
//
//   - credentials: an Account SID with its Auth Token, or an API key (SK…)
//     with its secret, checked when the [Client] is built rather than
//     discovered by a 401 later;
//   - the base URL: https://verify.twilio.com, rewritten for an edge and a
//     region as Twilio's helper libraries do, or replaced outright;
//   - HTTP Basic auth and a User-Agent on every request;
//   - bounded, jittered retries of the requests that are safe to repeat
//     (see [RetryPolicy]);
//   - every non-2xx response as an [*Error] carrying the Twilio error code.
//
// A client for the standard Twilio environment variables:
//
//	c, err := verify.NewClient(verify.FromEnv(os.Getenv))
//	if err != nil {
//		return err
//	}
//	tok, err := c.CreateAccessToken(ctx, serviceSID, verify.CreateParams{Identity: id})
//	var verr *verify.Error
//	if errors.As(err, &verr) && verr.Status == http.StatusNotFound {
//		// no such service
//	}
package verify
