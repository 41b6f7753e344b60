package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/authn"
	"github.com/verifykit/verifykit/internal/scope"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/internal/webhook"
)

// Challenge error codes (docs/design.md lists which failure gets which).
const (
	codeFactorUnverified     = 60318
	codeChallengeAnswered    = 60322
	codeChallengeExpired     = 60323
	codeChallengeSignature   = 60324
	codeChallengeDetails     = 60368
	codeChallengeNotFound    = 60391
	defaultChallengeExpiry   = 5 * time.Minute
	maxChallengeExpiry       = time.Hour
	maxChallengeFieldLabel   = 36
	maxChallengeFieldValue   = 128
	pushNotificationTTL      = 300
	pushNotificationPriority = "high"
)

var (
	errFactorUnverified  = &apiError{status: http.StatusForbidden, code: codeFactorUnverified, message: "Factor is not verified"}
	errChallengeAnswered = &apiError{status: http.StatusForbidden, code: codeChallengeAnswered, message: "Challenge has already been responded"}
	errChallengeExpired  = &apiError{status: http.StatusForbidden, code: codeChallengeExpired, message: "Challenge has expired"}
	errChallengeAnswer   = &apiError{status: http.StatusForbidden, code: codeChallengeSignature, message: "Challenge verification failed"}
	errChallengeNotFound = &apiError{status: http.StatusNotFound, code: codeChallengeNotFound, message: "Challenge not found"}
)

func errChallengeDetails(name string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeChallengeDetails, message: "Invalid parameter: " + name}
}

// signatureFields are the properties of a pending challenge whose JSON
// values a device signs to answer it, in the Twilio-Verify-Signature-Fields
// header: those that say what is approved, and none that changes when it
// is answered.
var signatureFields = []string{"sid", "factor_sid", "identity", "details", "hidden_details", "date_created", "expiration_date"}

// signatureFieldsHeader is signatureFields as the header sends them.
var signatureFieldsHeader = strings.Join(signatureFields, ",")

// CreateChallenge implements operation CreateChallenge: the backend asks
// the device of a verified factor to approve or deny, and verifyd records
// the push it would send.
func (s *server) CreateChallenge(ctx context.Context, req verifyserver.CreateChallengeRequestObject) (verifyserver.CreateChallengeResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	b := req.Body
	if b == nil {
		return nil, errInvalidParameter("FactorSid")
	}
	if b.DetailsMessage == nil || *b.DetailsMessage == "" {
		return nil, errChallengeDetails("Details.Message")
	}
	fields, err := parseChallengeFields(b.DetailsFields)
	if err != nil {
		return nil, err
	}
	hidden, err := parseStringObject(b.HiddenDetails, "HiddenDetails")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	expires := now.Add(defaultChallengeExpiry)
	if b.ExpirationDate != nil {
		t, err := time.Parse(time.RFC3339, *b.ExpirationDate)
		if err != nil {
			return nil, errInvalidParameter("ExpirationDate")
		}
		expires = t.UTC().Truncate(time.Second)
		if !expires.After(now) || expires.After(now.Add(maxChallengeExpiry)) {
			return nil, errInvalidParameter("ExpirationDate")
		}
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	f, err := s.store.FetchFactor(sctx, sc.AccountSID, req.ServiceSID, req.Identity, b.FactorSID)
	if err != nil {
		return nil, notFound(err, "create challenge", errFactorNotFound)
	}
	if !f.Verified {
		return nil, errFactorUnverified
	}
	c := store.Challenge{
		SID: sid.New(sid.Challenge), AccountSID: sc.AccountSID, ServiceSID: req.ServiceSID, EntitySID: f.EntitySID,
		Identity: f.Identity, FactorSID: f.SID, Status: store.ChallengePending,
		Details:       store.ChallengeDetails{Message: *b.DetailsMessage, Fields: fields},
		HiddenDetails: hidden, DateCreated: now, DateUpdated: now, ExpirationDate: expires,
	}
	n := store.Notification{SID: sid.New(sid.Notification), AccountSID: sc.AccountSID, ServiceSID: req.ServiceSID,
		EntitySID: f.EntitySID, Identity: f.Identity, ChallengeSID: c.SID, FactorSID: f.SID,
		Priority: pushNotificationPriority, TTL: pushNotificationTTL, DateCreated: now}
	stored, err := s.store.CreateChallenge(sctx, c, n)
	if err != nil {
		return nil, notFound(err, "create challenge", errFactorNotFound)
	}
	return verifyserver.CreateChallenge201JSONResponse{Body: challenge(stored, origin)}, nil
}

// ListChallenge implements operation ListChallenge. A device lists only
// its own factor's challenges.
func (s *server) ListChallenge(ctx context.Context, req verifyserver.ListChallengeRequestObject) (verifyserver.ListChallengeResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	q := req.Params
	filter := store.ChallengeFilter{Now: s.now().UTC()}
	filters := url.Values{}
	if q.FactorSID != nil {
		filter.FactorSID = *q.FactorSID
		filters.Set("FactorSid", *q.FactorSID)
	}
	if sc.Scheme == authn.SchemeDevice {
		if err := ownEntity(sc, req.ServiceSID, req.Identity); err != nil {
			return nil, err
		}
		if filter.FactorSID != "" && filter.FactorSID != sc.FactorSID {
			return nil, errAuthenticate
		}
		filter.FactorSID = sc.FactorSID
	}
	if q.Status != nil {
		filter.Status = string(*q.Status)
		filters.Set("Status", filter.Status)
	}
	if q.Order != nil {
		filter.Desc = *q.Order == models.Desc
		filters.Set("Order", string(*q.Order))
	}
	p, err := newPageRequest(q.PageSize, q.Page, q.PageToken, q.PageTokenIOS)
	if err != nil {
		return nil, err
	}
	p.filters = filters.Encode()
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	if _, err := s.store.FetchEntity(sctx, sc.AccountSID, req.ServiceSID, req.Identity); err != nil {
		return nil, notFound(err, "list challenges", errEntityNotFound)
	}
	cs, more, err := s.store.ListChallenges(sctx, sc.AccountSID, req.ServiceSID, req.Identity, filter, p.Page)
	if err != nil {
		return nil, fmt.Errorf("list challenges: %w", err)
	}
	list := models.ChallengeList{Challenges: make([]models.Challenge, 0, len(cs))}
	for _, c := range cs {
		list.Challenges = append(list.Challenges, challenge(c, origin))
	}
	var first, last *store.Cursor
	if len(cs) > 0 {
		first = &store.Cursor{Created: cs[0].DateCreated, SID: cs[0].SID}
		last = &store.Cursor{Created: cs[len(cs)-1].DateCreated, SID: cs[len(cs)-1].SID}
	}
	list.Meta = p.meta(entityURL(origin, req.ServiceSID, req.Identity)+"/Challenges", "challenges", first, last, more)
	return verifyserver.ListChallenge200JSONResponse{Body: list}, nil
}

// FetchChallenge implements operation FetchChallenge; while the challenge
// is pending, Twilio-Verify-Signature-Fields names what an answer signs.
func (s *server) FetchChallenge(ctx context.Context, req verifyserver.FetchChallengeRequestObject) (verifyserver.FetchChallengeResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	c, err := s.readChallenge(ctx, sc, req.ServiceSID, req.Identity, req.SID)
	if err != nil {
		return nil, err
	}
	resp := verifyserver.FetchChallenge200JSONResponse{Body: challenge(c, origin)}
	if c.Status == store.ChallengePending {
		resp.Headers.TwilioVerifySignatureFields = &signatureFieldsHeader
	}
	return resp, nil
}

// UpdateChallenge implements operation UpdateChallenge: the device's
// signed answer. Of two answers at once, the store lets one win.
func (s *server) UpdateChallenge(ctx context.Context, req verifyserver.UpdateChallengeRequestObject) (verifyserver.UpdateChallengeResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, errInvalidParameter("AuthPayload")
	}
	metadata, err := parseStringObject(req.Body.Metadata, "Metadata")
	if err != nil {
		return nil, err
	}
	c, err := s.readChallenge(ctx, sc, req.ServiceSID, req.Identity, req.SID)
	if err != nil {
		return nil, err
	}
	switch c.Status {
	case store.ChallengeExpired:
		return nil, errChallengeExpired
	case store.ChallengeApproved, store.ChallengeDenied:
		return nil, errChallengeAnswered
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	f, err := s.store.FetchFactor(sctx, c.AccountSID, c.ServiceSID, c.Identity, c.FactorSID)
	if err != nil {
		return nil, notFound(err, "update challenge", errChallengeNotFound)
	}
	status, err := checkAnswer(c, f, req.Body.AuthPayload)
	if err != nil {
		return nil, err
	}
	var raw string
	if req.Body.Metadata != nil {
		raw = *req.Body.Metadata
	}
	now := s.now().UTC().Truncate(time.Second)
	answered, err := s.store.AnswerChallenge(sctx, sc.AccountSID, req.ServiceSID, req.Identity, req.SID,
		store.Answer{Status: status, Metadata: metadata, At: now},
		func(c store.Challenge) []store.Event { return []store.Event{webhook.ChallengeEvent(c, f, raw, now)} })
	switch {
	case errors.Is(err, store.ErrAnswered):
		return nil, errChallengeAnswered
	case errors.Is(err, store.ErrExpired):
		return nil, errChallengeExpired
	case err != nil:
		return nil, notFound(err, "update challenge", errChallengeNotFound)
	}
	s.notify()
	return verifyserver.UpdateChallenge200JSONResponse{Body: challenge(answered, origin)}, nil
}

// CreateNotification implements operation CreateNotification: the push
// of a pending challenge, recorded again.
func (s *server) CreateNotification(ctx context.Context, req verifyserver.CreateNotificationRequestObject) (verifyserver.CreateNotificationResponseObject, error) {
	sc := scope.From(ctx)
	ttl := pushNotificationTTL
	if req.Body != nil && req.Body.TTL != nil {
		ttl = *req.Body.TTL
	}
	n := store.Notification{SID: sid.New(sid.Notification), AccountSID: sc.AccountSID, ServiceSID: req.ServiceSID,
		Identity: req.Identity, ChallengeSID: req.ChallengeSID, Priority: pushNotificationPriority, TTL: ttl,
		DateCreated: s.now().UTC().Truncate(time.Second)}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	stored, err := s.store.CreateNotification(sctx, n)
	switch {
	case errors.Is(err, store.ErrAnswered):
		return nil, errChallengeAnswered
	case errors.Is(err, store.ErrExpired):
		return nil, errChallengeExpired
	case err != nil:
		return nil, notFound(err, "create notification", errChallengeNotFound)
	}
	created := stored.DateCreated.UTC()
	return verifyserver.CreateNotification201JSONResponse{Body: models.Notification{
		SID: &stored.SID, AccountSID: &stored.AccountSID, ServiceSID: &stored.ServiceSID, EntitySID: &stored.EntitySID,
		Identity: &stored.Identity, ChallengeSID: &stored.ChallengeSID, Priority: &stored.Priority, TTL: stored.TTL,
		DateCreated: &created,
	}}, nil
}

// readChallenge fetches the challenge that the request may see: a device
// sees only its own factor's, and another's is as missing.
func (s *server) readChallenge(ctx context.Context, sc *scope.Request, serviceSID, identity, challengeSID string) (store.Challenge, error) {
	if err := ownEntity(sc, serviceSID, identity); err != nil {
		return store.Challenge{}, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	c, err := s.store.FetchChallenge(sctx, sc.AccountSID, serviceSID, identity, challengeSID, s.now().UTC())
	if err != nil {
		return store.Challenge{}, notFound(err, "fetch challenge", errChallengeNotFound)
	}
	if sc.Scheme == authn.SchemeDevice && c.FactorSID != sc.FactorSID {
		return store.Challenge{}, errChallengeNotFound
	}
	return c, nil
}

// ownEntity refuses a device that acts on another entity's resources.
func ownEntity(sc *scope.Request, serviceSID, identity string) error {
	if sc.Scheme == authn.SchemeDevice && (sc.ServiceSID != serviceSID || sc.Identity != identity) {
		return errAuthenticate
	}
	return nil
}

// checkAnswer verifies a device's AuthPayload for the pending challenge c
// of factor f, and returns the status it chose: the factor's key signed
// it, and it holds exactly the signature fields, each equal as JSON to the
// challenge's, and a status of approved or denied.
func checkAnswer(c store.Challenge, f store.Factor, authPayload string) (string, error) {
	a, err := token.ParseAnswer(authPayload)
	if err != nil {
		return "", errChallengeAnswer
	}
	pub, err := token.ParseDERPublicKey(f.PublicKey)
	if err != nil {
		return "", fmt.Errorf("factor %s: stored public key: %w", f.SID, err)
	}
	if a.Verify(pub) != nil {
		return "", errChallengeAnswer
	}
	if a.Status != store.ChallengeApproved && a.Status != store.ChallengeDenied {
		return "", errChallengeAnswer
	}
	if len(a.Payload) != len(signatureFields)+1 {
		return "", errChallengeAnswer
	}
	// The values as a fetch shows them; none of the signed ones depends
	// on the URL, so the origin does not matter.
	shown, err := json.Marshal(challenge(c, ""))
	if err != nil {
		return "", fmt.Errorf("encode challenge %s: %w", c.SID, err)
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(shown, &want); err != nil {
		return "", fmt.Errorf("decode challenge %s: %w", c.SID, err)
	}
	for _, name := range signatureFields {
		got, ok := a.Payload[name]
		if !ok || !sameJSON(got, want[name]) {
			return "", errChallengeAnswer
		}
	}
	return a.Status, nil
}

// sameJSON reports whether a and b are the same JSON value: equal after
// decoding, so that escapes such as "\/" and the order of members do not
// matter; numbers are compared as written.
func sameJSON(a, b json.RawMessage) bool {
	decode := func(raw json.RawMessage) (any, bool) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		return v, d.Decode(&v) == nil
	}
	va, okA := decode(a)
	vb, okB := decode(b)
	return okA && okB && reflect.DeepEqual(va, vb)
}

// parseChallengeFields reads Details.Fields: each value one JSON object
// with a label and a value, within their lengths, without NUL (which
// PostgreSQL cannot store).
func parseChallengeFields(raw *[]string) ([]store.ChallengeField, error) {
	if raw == nil {
		return nil, nil
	}
	fields := make([]store.ChallengeField, 0, len(*raw))
	for _, item := range *raw {
		var f struct {
			Label *string `json:"label"`
			Value *string `json:"value"`
		}
		d := json.NewDecoder(strings.NewReader(item))
		d.DisallowUnknownFields()
		if err := d.Decode(&f); err != nil || d.More() || f.Label == nil || f.Value == nil ||
			strings.ContainsRune(*f.Label, 0) || strings.ContainsRune(*f.Value, 0) ||
			utf8.RuneCountInString(*f.Label) > maxChallengeFieldLabel || utf8.RuneCountInString(*f.Value) > maxChallengeFieldValue {
			return nil, errChallengeDetails("Details.Fields")
		}
		fields = append(fields, store.ChallengeField{Label: *f.Label, Value: *f.Value})
	}
	return fields, nil
}

// parseStringObject reads a form field that holds a JSON object of
// strings, such as HiddenDetails or Metadata.
func parseStringObject(raw *string, name string) (map[string]string, error) {
	if raw == nil {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(*raw), &m); err != nil || m == nil {
		return nil, errInvalidParameter(name)
	}
	return m, nil
}

// challengeURL is the absolute URL of a challenge.
func challengeURL(origin string, c store.Challenge) string {
	return entityURL(origin, c.ServiceSID, c.Identity) + "/Challenges/" + c.SID
}

// challenge maps a stored challenge to the wire resource.
func challenge(c store.Challenge, origin string) models.Challenge {
	u := challengeURL(origin, c)
	created, updated, expires := c.DateCreated.UTC(), c.DateUpdated.UTC(), c.ExpirationDate.UTC()
	var responded *time.Time
	if c.DateResponded != nil {
		t := c.DateResponded.UTC()
		responded = &t
	}
	fields := make([]models.ChallengeField, 0, len(c.Details.Fields))
	for _, f := range c.Details.Fields {
		fields = append(fields, models.ChallengeField{Label: f.Label, Value: f.Value})
	}
	var hidden, metadata *map[string]string
	if c.HiddenDetails != nil {
		hidden = &c.HiddenDetails
	}
	if c.Metadata != nil {
		metadata = &c.Metadata
	}
	reason := models.ChallengeRespondedReasonNone
	return models.Challenge{
		SID:             &c.SID,
		AccountSID:      &c.AccountSID,
		ServiceSID:      &c.ServiceSID,
		EntitySID:       &c.EntitySID,
		Identity:        &c.Identity,
		FactorSID:       &c.FactorSID,
		DateCreated:     &created,
		DateUpdated:     &updated,
		DateResponded:   responded,
		ExpirationDate:  &expires,
		Status:          models.ChallengeStatus(c.Status),
		RespondedReason: &reason,
		Details:         models.ChallengeDetails{Message: c.Details.Message, Fields: fields},
		HiddenDetails:   hidden,
		Metadata:        metadata,
		FactorType:      models.Push,
		URL:             &u,
		Links:           models.ChallengeLinks{Notifications: u + "/Notifications"},
	}
}

// ListPush implements operation ListPush, verifykit's own: the pushes
// recorded for a factor, as its app would receive them. A device lists
// only its own.
func (s *server) ListPush(ctx context.Context, req verifyserver.ListPushRequestObject) (verifyserver.ListPushResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	if err := ownFactor(sc, req.ServiceSID, req.Identity, req.SID); err != nil {
		return nil, err
	}
	p, err := newPageRequest(req.Params.PageSize, req.Params.Page, req.Params.PageToken, req.Params.PageTokenIOS)
	if err != nil {
		return nil, err
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	if _, err := s.store.FetchFactor(sctx, sc.AccountSID, req.ServiceSID, req.Identity, req.SID); err != nil {
		return nil, notFound(err, "list pushes", errFactorNotFound)
	}
	ns, more, err := s.store.ListNotifications(sctx, sc.AccountSID, req.ServiceSID, req.Identity, req.SID, p.Page)
	if err != nil {
		return nil, fmt.Errorf("list pushes: %w", err)
	}
	list := models.PushNotificationList{Pushes: make([]models.PushNotification, 0, len(ns))}
	for _, n := range ns {
		list.Pushes = append(list.Pushes, models.PushNotification{
			SID: n.SID, ChallengeSID: n.ChallengeSID, FactorSID: n.FactorSID, Priority: n.Priority, TTL: n.TTL,
			DateCreated: n.DateCreated.UTC(),
			Data: models.PushNotificationData{Type: models.VerifyPushChallenge, ChallengeSID: n.ChallengeSID,
				FactorSID: n.FactorSID, Message: n.Message},
		})
	}
	var first, last *store.Cursor
	if len(ns) > 0 {
		first = &store.Cursor{Created: ns[0].DateCreated, SID: ns[0].SID}
		last = &store.Cursor{Created: ns[len(ns)-1].DateCreated, SID: ns[len(ns)-1].SID}
	}
	list.Meta = p.meta(origin+"/dev/Services/"+req.ServiceSID+"/Entities/"+req.Identity+"/Factors/"+req.SID+"/Pushes", "pushes", first, last, more)
	return verifyserver.ListPush200JSONResponse{Body: list}, nil
}
