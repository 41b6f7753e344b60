// Package webhook builds the events verifyd tells a service's webhooks
// about, and delivers them: from the outbox the store fills in the same
// transaction as each change, as form POSTs signed with the account's auth
// token by Twilio's X-Twilio-Signature scheme, at least once.
package webhook

import (
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/verifykit/verifykit/internal/store"
)

// Event types, as webhooks name them in their EventTypes.
const (
	FactorCreated     = "factor.created"
	FactorVerified    = "factor.verified"
	FactorDeleted     = "factor.deleted"
	ChallengeApproved = "challenge.approved"
	ChallengeDenied   = "challenge.denied"
)

// FactorEvent is the event of type typ about f, at now: the fields of
// openapi.yaml's WebhookEvent schema.
func FactorEvent(typ string, f store.Factor, now time.Time) store.Event {
	return event(typ, factorFields(f), f.AccountSID, f.ServiceSID, now)
}

// ChallengeEvent is the event of c's answer (challenge.approved or
// challenge.denied), about c of the factor f.
func ChallengeEvent(c store.Challenge, f store.Factor, metadata string, now time.Time) store.Event {
	typ := ChallengeApproved
	if c.Status == store.ChallengeDenied {
		typ = ChallengeDenied
	}
	v := factorFields(f)
	v.Set("challenge_sid", c.SID)
	v.Set("challenge_status", c.Status)
	if metadata != "" {
		v.Set("challenge_metadata", metadata)
	}
	return event(typ, v, c.AccountSID, c.ServiceSID, now)
}

func factorFields(f store.Factor) url.Values {
	v := url.Values{
		"account_sid":     {f.AccountSID},
		"service_sid":     {f.ServiceSID},
		"entity_identity": {f.Identity},
		"factor_sid":      {f.SID},
		"factor_type":     {"push"},
	}
	if f.FriendlyName != "" {
		v.Set("factor_friendly_name", f.FriendlyName)
	}
	return v
}

func event(typ string, v url.Values, accountSID, serviceSID string, now time.Time) store.Event {
	id := uuid.NewString()
	v.Set("uuid", id)
	v.Set("type", typ)
	return store.Event{ID: id, Type: typ, AccountSID: accountSID, ServiceSID: serviceSID,
		Body: v.Encode(), Created: now}
}
