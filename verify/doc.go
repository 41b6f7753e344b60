// Package verify is the hand-written client of the Twilio Verify v2 Access
// Tokens and Verify Push APIs, for Twilio itself and for verifyd alike. It
// covers what a backend does: access tokens, entities, factors,
// challenges, notifications and webhooks. What the phone does (enrolling a
// factor, answering a challenge) is package device.
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
//   - form bodies as the contract wants them: arrays as repeated names,
//     times as RFC 3339;
//   - bounded, jittered retries of the requests that are safe to repeat
//     (see [RetryPolicy]; each method says which rule it follows);
//   - every non-2xx response as an [*Error] carrying the Twilio error code;
//   - lists as iterators that follow the pages (see [ListParams]);
//   - [ValidateWebhook], to check the X-Twilio-Signature of event
//     deliveries.
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
//
// # Push
//
// Once the user's phone has enrolled a factor with that token, the backend
// asks it to approve a login, and waits for the answer by polling:
//
//	ch, err := c.CreateChallenge(ctx, serviceSID, id, verify.ChallengeParams{
//		FactorSID: factorSID,
//		Message:   "Is it you logging in?",
//		Fields:    []models.ChallengeField{{Label: "Browser", Value: "Firefox"}},
//	})
//	if err != nil {
//		return err
//	}
//	for ch.Status == models.ChallengeStatusPending {
//		select {
//		case <-ctx.Done():
//			return ctx.Err()
//		case <-time.After(2 * time.Second):
//		}
//		if ch, err = c.FetchChallenge(ctx, serviceSID, id, *ch.SID); err != nil {
//			return err
//		}
//	}
//	// approved, denied or expired
//
// or by receiving the events of a webhook, created once with
// [Client.CreateWebhook]:
//
//	http.HandleFunc("/verify-events", func(w http.ResponseWriter, r *http.Request) {
//		event, err := verify.ValidateWebhook(authToken, "https://backend.example.com/verify-events", r)
//		if err != nil {
//			http.Error(w, "forbidden", http.StatusForbidden)
//			return
//		}
//		if event.Get("type") == "challenge.approved" {
//			// let event.Get("challenge_sid") in
//		}
//	})
package verify
