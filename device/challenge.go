package device

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/verifykit/verifykit/gen/verifyclient"
)

// The statuses of a challenge.
const (
	ChallengePending  = "pending"
	ChallengeApproved = "approved"
	ChallengeDenied   = "denied"
	ChallengeExpired  = "expired"
)

// DefaultPageSize is the PageSize that ListChallenges and Challenges send
// unless ListPageSize says otherwise. The SDKs have no default (the app
// passes one); this is Twilio's default page size.
const DefaultPageSize = 50

// signatureFieldsHeader names the properties of a pending challenge that an
// answer signs (ChallengeAPIClient.kt, ChallengeRepository.swift).
const signatureFieldsHeader = "Twilio-Verify-Signature-Fields"

// The local refusals of Approve and Deny, worded as the SDKs word them
// (TwilioVerifyException.kt, TwilioVerifyError.swift). The methods return
// them wrapped; test for them with errors.Is.
var (
	// ErrWrongFactor: the challenge's factor_sid is not the Device's
	// factor. Challenge returns it too, as the SDKs' fetch does.
	ErrWrongFactor = errors.New("wrong factor for challenge")
	// ErrChallengeExpired: the fetched challenge's status is expired.
	ErrChallengeExpired = errors.New("expired challenge can not be updated")
	// ErrChallengeResponded: the fetched challenge's status is approved or
	// denied.
	ErrChallengeResponded = errors.New("responded challenge can not be updated")
	// ErrNoSignatureFields: the challenge is pending, but its fetch had no
	// Twilio-Verify-Signature-Fields header.
	ErrNoSignatureFields = errors.New("signature fields or response not set")
	// ErrSignedFieldMissing: the header lists a property that the body
	// lacks.
	ErrSignedFieldMissing = errors.New("signature field not in the challenge")
	// ErrNotUpdated: the server accepted the answer, but the challenge
	// fetched afterwards does not have the status answered.
	ErrNotUpdated = errors.New("challenge was not updated")
)

// Challenge is a push challenge as the Device fetched or listed it, mapped
// as the SDK of its flavor maps it (ChallengeMapper.kt, ChallengeMapper.swift).
type Challenge struct {
	// SID is the challenge's SID (YC…).
	SID string
	// FactorSID is the factor the challenge asks.
	FactorSID string
	// Status is pending, approved, denied or expired. The Android flavor
	// reads any other status as expired, as its SDK does; the iOS flavor
	// fails the mapping.
	Status string
	// Details are what the user is shown.
	Details ChallengeDetails
	// HiddenDetails is the hidden_details object, or nil when null.
	HiddenDetails map[string]string
	// ExpirationDate, DateCreated and DateUpdated are required, in the
	// forms the flavor's SDK parses (see Flavor).
	ExpirationDate time.Time
	DateCreated    time.Time
	DateUpdated    time.Time
	// DateResponded is zero while the challenge is unanswered, and when it
	// is not RFC 3339: the SDKs do not read it.
	DateResponded time.Time
	// SignatureFields are the names that the Twilio-Verify-Signature-Fields
	// header of a fetch listed, split at each "," and not trimmed, as the
	// SDKs split them; nil unless the challenge is pending and the header
	// was sent, and always nil for a listed challenge.
	SignatureFields []string
	// Raw is the challenge's JSON as received: the body of a fetch, or the
	// challenge's element of a list. An answer signs its properties' values
	// from here, byte for byte.
	Raw json.RawMessage
}

// ChallengeDetails are a challenge's details: what the user is shown.
type ChallengeDetails struct {
	// Message is details.message.
	Message string
	// Fields are details.fields; empty when there are none.
	Fields []ChallengeField
	// Date is details.date, which a service that includes dates sends; zero
	// when absent.
	Date time.Time
}

// ChallengeField is one label and value of a challenge's details.
type ChallengeField struct {
	Label string
	Value string
}

// PayloadField is one member of the payload of an AuthPayload: a name and
// its JSON value, written as given.
type PayloadField struct {
	Name  string
	Value json.RawMessage
}

// ChallengePage is one page of a ListChallenge response.
type ChallengePage struct {
	// Challenges are the page's challenges, in the server's order.
	Challenges []Challenge
	// Page and PageSize are meta.page and meta.page_size.
	Page     int
	PageSize int
	// PreviousPageToken and NextPageToken are the PageToken parameters of
	// meta.previous_page_url and meta.next_page_url; "" when there is none.
	PreviousPageToken string
	NextPageToken     string
	// Raw is the response body as received.
	Raw json.RawMessage
}

// ListOption configures ListChallenges and Challenges.
type ListOption func(*listSettings)

// listSettings collects what the ListOptions set.
type listSettings struct {
	status    string
	order     string
	pageSize  int
	pageToken string
	limit     int
}

// ListStatus lists only the challenges in status, which must be pending,
// approved, denied or expired.
func ListStatus(status string) ListOption { return func(s *listSettings) { s.status = status } }

// ListOrder lists the challenges oldest first ("asc", the SDKs' default) or
// newest first ("desc").
func ListOrder(order string) ListOption { return func(s *listSettings) { s.order = order } }

// ListPageSize sets the PageSize sent; DefaultPageSize by default.
func ListPageSize(n int) ListOption { return func(s *listSettings) { s.pageSize = n } }

// ListPageToken starts the listing at the page that token names, as a
// ChallengePage's NextPageToken or PreviousPageToken gives it.
func ListPageToken(token string) ListOption { return func(s *listSettings) { s.pageToken = token } }

// ListLimit makes Challenges stop once it has n challenges; 0, the default,
// means all of them. ListChallenges ignores it.
func ListLimit(n int) ListOption { return func(s *listSettings) { s.limit = n } }

// AnswerOption configures Approve, Deny and PostAnswer.
type AnswerOption func(*answerSettings)

// answerSettings collects what the AnswerOptions set.
type answerSettings struct {
	metadata map[string]string
}

// AnswerMetadata makes the answer send Metadata, a JSON object of strings,
// after AuthPayload. The SDKs never send it; it is here for tests of the
// server's side.
func AnswerMetadata(md map[string]string) AnswerOption {
	return func(s *answerSettings) {
		s.metadata = make(map[string]string, len(md))
		for k, v := range md {
			s.metadata[k] = v
		}
	}
}

// Challenge fetches the challenge sid of the Device's factor (operation
// FetchChallenge), as the SDK's getChallenge does: a GET with a device JWT,
// the form Content-Type and Accept, and no body. It keeps the body and,
// while the challenge is pending, the Twilio-Verify-Signature-Fields header
// (its name matched in any case), which Approve and Deny sign. It fails with
// ErrWrongFactor when the challenge's factor_sid is not the Device's factor,
// and when the body lacks what the SDK requires: sid, factor_sid, status,
// expiration_date, date_created, date_updated and details.message. A
// response other than 2xx is returned as a *Error.
func (d *Device) Challenge(ctx context.Context, sid string) (*Challenge, error) {
	f, key, err := d.enrolled()
	if err != nil {
		return nil, err
	}
	c, err := d.fetchChallenge(ctx, f, key, sid)
	if err != nil {
		return nil, fmt.Errorf("device: challenge %s: %w", sid, err)
	}
	return c, nil
}

// fetchChallenge fetches and maps the challenge sid of factor f.
func (d *Device) fetchChallenge(ctx context.Context, f *Factor, key *ecdsa.PrivateKey, sid string) (*Challenge, error) {
	if sid == "" {
		return nil, errors.New("empty challenge sid") // the SDKs' EmptyChallengeSid
	}
	r, err := d.send(ctx, d.jwtPassword(f, key), true,
		func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
			return d.gen.FetchChallenge(ctx, f.ServiceSID, f.Identity, sid, edit)
		})
	if err != nil {
		return nil, err
	}
	if !r.ok() {
		return nil, apiError(r)
	}
	// Android takes the first value; iOS finds the name in any case, which
	// net/http's canonical keys give here too.
	var header *string
	if v := r.header.Values(signatureFieldsHeader); len(v) > 0 {
		header = &v[0]
	}
	c, err := d.flavor.mapChallenge(r.body, header)
	if err != nil {
		return nil, err
	}
	if c.FactorSID != f.SID {
		return nil, ErrWrongFactor
	}
	return &c, nil
}

// ListChallenges lists one page of the challenges of the Device's factor
// (operation ListChallenge), as the SDK's getAllChallenges does: a GET with
// a device JWT and the query FactorSid (the Device's factor), PageSize,
// Order, and Status and the page token when set, in the flavor's order and
// spelling (Android PageToken, iOS pageToken). A response other than 2xx is
// returned as a *Error.
func (d *Device) ListChallenges(ctx context.Context, opts ...ListOption) (*ChallengePage, error) {
	s, err := listOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("device: list challenges: %w", err)
	}
	f, key, err := d.enrolled()
	if err != nil {
		return nil, err
	}
	p, err := d.listPage(ctx, f, key, s)
	if err != nil {
		return nil, fmt.Errorf("device: list challenges: %w", err)
	}
	return p, nil
}

// Challenges lists the challenges of the Device's factor as ListChallenges
// does, following each page's NextPageToken until there is none, or until
// ListLimit's count is reached. It fails if a page token comes back twice.
func (d *Device) Challenges(ctx context.Context, opts ...ListOption) ([]Challenge, error) {
	s, err := listOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("device: list challenges: %w", err)
	}
	f, key, err := d.enrolled()
	if err != nil {
		return nil, err
	}
	var all []Challenge
	seen := map[string]bool{}
	for {
		p, err := d.listPage(ctx, f, key, s)
		if err != nil {
			return nil, fmt.Errorf("device: list challenges: %w", err)
		}
		all = append(all, p.Challenges...)
		switch {
		case s.limit > 0 && len(all) >= s.limit:
			return all[:s.limit], nil
		case p.NextPageToken == "":
			return all, nil
		case seen[p.NextPageToken]:
			return nil, fmt.Errorf("device: list challenges: page token %q came back twice", p.NextPageToken)
		}
		seen[p.NextPageToken] = true
		s.pageToken = p.NextPageToken
	}
}

// listOptions applies opts over the defaults and checks them as the SDKs'
// types would: Status and Order are enums there.
func listOptions(opts []ListOption) (listSettings, error) {
	s := listSettings{order: "asc", pageSize: DefaultPageSize}
	for _, opt := range opts {
		opt(&s)
	}
	switch {
	case s.order != "asc" && s.order != "desc":
		return s, fmt.Errorf("order %q: want asc or desc", s.order)
	case s.status != "" && !knownStatus(s.status):
		return s, fmt.Errorf("status %q: want pending, approved, denied or expired", s.status)
	case s.pageSize < 1:
		return s, fmt.Errorf("page size %d: want at least 1", s.pageSize)
	case s.limit < 0:
		return s, fmt.Errorf("limit %d: want 0 (all) or more", s.limit)
	}
	return s, nil
}

// listPage sends one ListChallenge request for factor f and maps the page.
func (d *Device) listPage(ctx context.Context, f *Factor, key *ecdsa.PrivateKey, s listSettings) (*ChallengePage, error) {
	query := d.flavor.encodeForm(d.flavor.listParams(f.SID, s.pageSize, s.order, s.status, s.pageToken))
	// The generated client builds the path; its query encoder (url.Values)
	// would sort the parameters, so the flavor's query replaces it.
	setQuery := func(_ context.Context, req *http.Request) error {
		req.URL.RawQuery = query
		return nil
	}
	r, err := d.send(ctx, d.jwtPassword(f, key), true,
		func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
			return d.gen.ListChallenge(ctx, f.ServiceSID, f.Identity, nil, edit, setQuery)
		})
	if err != nil {
		return nil, err
	}
	if !r.ok() {
		return nil, apiError(r)
	}
	return d.flavor.mapPage(r.body)
}

// Approve approves the challenge sid (operation UpdateChallenge) exactly as
// the SDK's updateChallenge does, and returns the challenge as fetched
// afterwards:
//
//  1. fetch the challenge, as Challenge does (ErrWrongFactor);
//  2. refuse, locally, an expired challenge (ErrChallengeExpired), an
//     answered one (ErrChallengeResponded) and one without signature fields
//     (ErrNoSignatureFields);
//  3. sign the answer, as SignAnswer does, with status approved;
//  4. POST it as the one form field AuthPayload, with a device JWT (and
//     Metadata only when AnswerMetadata asks);
//  5. fetch the challenge again, and fail with ErrNotUpdated unless its
//     status is now approved. The POST's response body is not read.
//
// A response other than 2xx is returned as a *Error, such as 403 with code
// 60324 when the server refuses the signature.
func (d *Device) Approve(ctx context.Context, sid string, opts ...AnswerOption) (*Challenge, error) {
	c, err := d.answer(ctx, sid, ChallengeApproved, opts)
	if err != nil {
		return nil, fmt.Errorf("device: approve %s: %w", sid, err)
	}
	return c, nil
}

// Deny denies the challenge sid as Approve approves it, with status denied.
func (d *Device) Deny(ctx context.Context, sid string, opts ...AnswerOption) (*Challenge, error) {
	c, err := d.answer(ctx, sid, ChallengeDenied, opts)
	if err != nil {
		return nil, fmt.Errorf("device: deny %s: %w", sid, err)
	}
	return c, nil
}

// answer is Approve and Deny, status saying which
// (PushChallengeProcessor.kt, PushChallengeProcessor.swift).
func (d *Device) answer(ctx context.Context, sid, status string, opts []AnswerOption) (*Challenge, error) {
	var s answerSettings
	for _, opt := range opts {
		opt(&s)
	}
	f, key, err := d.enrolled()
	if err != nil {
		return nil, err
	}
	c, err := d.fetchChallenge(ctx, f, key, sid)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Status == ChallengeExpired:
		return nil, ErrChallengeExpired
	case c.Status != ChallengePending:
		return nil, ErrChallengeResponded
	}
	payload, err := d.signAnswer(key, c, status)
	if err != nil {
		return nil, err
	}
	if _, err := d.postAnswer(ctx, f, key, sid, payload, s); err != nil {
		return nil, err
	}
	after, err := d.fetchChallenge(ctx, f, key, sid)
	if err != nil {
		return nil, fmt.Errorf("fetch after the answer: %w", err)
	}
	if after.Status != status {
		return nil, fmt.Errorf("%w: its status is %s, want %s", ErrNotUpdated, after.Status, status)
	}
	return after, nil
}

// PostAnswer posts authPayload as the answer to the challenge sid
// (operation UpdateChallenge) as Approve posts its own, without fetching
// before or after, and returns the response body. Tests use it to send
// payloads that SignPayload built, or that they tampered with. A response
// other than 2xx is returned as a *Error.
func (d *Device) PostAnswer(ctx context.Context, sid, authPayload string, opts ...AnswerOption) (json.RawMessage, error) {
	var s answerSettings
	for _, opt := range opts {
		opt(&s)
	}
	f, key, err := d.enrolled()
	if err != nil {
		return nil, err
	}
	body, err := d.postAnswer(ctx, f, key, sid, authPayload, s)
	if err != nil {
		return nil, fmt.Errorf("device: post answer %s: %w", sid, err)
	}
	return body, nil
}

// postAnswer sends the UpdateChallenge request: AuthPayload, then Metadata
// when s has it, encoded as the flavor encodes a form.
func (d *Device) postAnswer(ctx context.Context, f *Factor, key *ecdsa.PrivateKey, sid, authPayload string, s answerSettings) (json.RawMessage, error) {
	params := []param{{"AuthPayload", authPayload}}
	if s.metadata != nil {
		params = append(params, param{"Metadata", metadataJSON(s.metadata)})
	}
	body := d.flavor.encodeForm(params)
	r, err := d.send(ctx, d.jwtPassword(f, key), true,
		func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
			return d.gen.UpdateChallengeWithBody(ctx, f.ServiceSID, f.Identity, sid, formType, strings.NewReader(body), edit)
		})
	if err != nil {
		return nil, err
	}
	if !r.ok() {
		return nil, apiError(r)
	}
	return r.body, nil
}

// SignAnswer returns the AuthPayload that answers c with status, as Approve
// and Deny build it: SignPayload over AnswerFields(c, status). status is
// not checked, so that tests can sign answers the SDKs never send.
func (d *Device) SignAnswer(c *Challenge, status string) (string, error) {
	d.mu.Lock()
	key := d.key
	d.mu.Unlock()
	s, err := d.signAnswer(key, c, status)
	if err != nil {
		return "", fmt.Errorf("device: sign answer: %w", err)
	}
	return s, nil
}

// signAnswer signs the answer to c with key.
func (d *Device) signAnswer(key *ecdsa.PrivateKey, c *Challenge, status string) (string, error) {
	fields, err := d.answerFields(c, status)
	if err != nil {
		return "", err
	}
	return signPayload(d.flavor, key, fields)
}

// AnswerFields returns the payload of the answer to c with status, as the
// SDK of the Device's flavor builds it (PushChallengeProcessor.kt,
// PushChallengeProcessor.swift): for each name in c.SignatureFields, that
// property's JSON value in c.Raw, byte for byte as received (nested objects
// stay objects), and then "status". Android keeps the header's order, a
// repeated name and a listed "status" staying where they first came (an
// org.json object); iOS builds a dictionary, sorted here as everywhere.
// It fails with ErrNoSignatureFields when c has none, and with
// ErrSignedFieldMissing when c.Raw lacks a listed property.
//
// The SDKs parse the body and serialize the values again, so a real phone
// may send different bytes for the same JSON values (Android writes "/" as
// "\/"); a server must compare the values as JSON.
func (d *Device) AnswerFields(c *Challenge, status string) ([]PayloadField, error) {
	fields, err := d.answerFields(c, status)
	if err != nil {
		return nil, fmt.Errorf("device: answer fields: %w", err)
	}
	return fields, nil
}

func (d *Device) answerFields(c *Challenge, status string) ([]PayloadField, error) {
	if len(c.SignatureFields) == 0 {
		return nil, ErrNoSignatureFields
	}
	values, err := jsonObject(c.Raw)
	if err != nil || len(values) == 0 {
		return nil, ErrNoSignatureFields
	}
	return d.flavor.answerFields(c.SignatureFields, values, status)
}

// answerFields builds the payload of an answer from the listed names, the
// body's values and the status, in the order of flavor f.
func (f Flavor) answerFields(names []string, values map[string]json.RawMessage, status string) ([]PayloadField, error) {
	var out []PayloadField
	at := map[string]int{}
	put := func(name string, v json.RawMessage) {
		if i, ok := at[name]; ok {
			out[i].Value = v
			return
		}
		at[name] = len(out)
		out = append(out, PayloadField{Name: name, Value: v})
	}
	for _, name := range names {
		v, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrSignedFieldMissing, name)
		}
		put(name, bytes.Clone(v))
	}
	put("status", appendJSONString(nil, status))
	if f == IOS {
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	}
	return out, nil
}

// SignPayload returns a compact JWS over fields, signed with the Device's
// key as an AuthPayload is: the header {typ, alg} as the flavor writes it,
// the payload an object of the fields in the order given, each name
// escaped as the flavor escapes strings and each Value written as it is,
// unchecked, so that tests can build any payload, malformed ones included.
func (d *Device) SignPayload(fields []PayloadField) (string, error) {
	d.mu.Lock()
	key := d.key
	d.mu.Unlock()
	s, err := signPayload(d.flavor, key, fields)
	if err != nil {
		return "", fmt.Errorf("device: sign payload: %w", err)
	}
	return s, nil
}

// signPayload signs fields with key as an AuthPayload of flavor f.
func signPayload(f Flavor, key *ecdsa.PrivateKey, fields []PayloadField) (string, error) {
	members := make([]member, len(fields))
	for i, p := range fields {
		members[i] = member{p.Name, p.Value}
	}
	return signCompact(key, encodeJSON(f.jwsHeader()), encodeJSON(members))
}

// knownStatus reports whether s is a challenge status.
func knownStatus(s string) bool {
	switch s {
	case ChallengePending, ChallengeApproved, ChallengeDenied, ChallengeExpired:
		return true
	}
	return false
}

// challengeStatus maps a challenge's status as the SDK of flavor f does:
// Android takes anything unknown for expired (ChallengeMapper.kt); iOS fails
// to decode it (ChallengeStatus is a Swift enum).
func (f Flavor) challengeStatus(s string) (string, error) {
	switch {
	case knownStatus(s):
		return s, nil
	case f == Android:
		return ChallengeExpired, nil
	}
	return "", fmt.Errorf("challenge status %q is not pending, approved, denied or expired", s)
}

// parseTime parses a response's date as the SDK of flavor f does
// (checkDate).
func (f Flavor) parseTime(s string) (time.Time, error) {
	if err := f.checkDate(s); err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, s)
}

// mapChallenge maps a challenge's JSON as the SDK of flavor f does
// (ChallengeMapper.kt, ChallengeDTO.swift); header is the fetch's
// Twilio-Verify-Signature-Fields, or nil when it had none or the challenge
// was listed. Where the SDKs differ on bad input, each flavor follows its
// own for the status, the dates and hidden_details; elsewhere both require
// what iOS requires, the stricter of the two: strings where it decodes
// strings, and details.fields an array of {label, value} or null.
func (f Flavor) mapChallenge(body []byte, header *string) (Challenge, error) {
	m, err := jsonObject(body)
	if err != nil {
		return Challenge{}, errors.New("response is not a challenge: not a JSON object")
	}
	var c Challenge
	var status, expiration, created, updated string
	for _, r := range []struct {
		name string
		dst  *string
	}{
		{"sid", &c.SID},
		{"factor_sid", &c.FactorSID},
		{"status", &status},
		{"expiration_date", &expiration},
		{"date_created", &created},
		{"date_updated", &updated},
	} {
		if *r.dst, err = requireString(m, r.name); err != nil {
			return Challenge{}, err
		}
	}
	if c.Status, err = f.challengeStatus(status); err != nil {
		return Challenge{}, err
	}
	for _, t := range []struct {
		name, s string
		dst     *time.Time
	}{
		{"expiration_date", expiration, &c.ExpirationDate},
		{"date_created", created, &c.DateCreated},
		{"date_updated", updated, &c.DateUpdated},
	} {
		if *t.dst, err = f.parseTime(t.s); err != nil {
			return Challenge{}, fmt.Errorf("response %s %q: %w", t.name, t.s, err)
		}
	}
	// Neither SDK reads date_responded.
	if s, ok, err := stringField(m, "date_responded"); ok && err == nil {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			c.DateResponded = t
		}
	}
	if c.Details, err = f.mapDetails(m["details"]); err != nil {
		return Challenge{}, err
	}
	if c.HiddenDetails, err = f.mapHiddenDetails(m["hidden_details"]); err != nil {
		return Challenge{}, err
	}
	if c.Status == ChallengePending && header != nil {
		c.SignatureFields = strings.Split(*header, ",")
	}
	c.Raw = bytes.Clone(body)
	return c, nil
}

// mapDetails maps a challenge's details object: message is required,
// fields and date optional. A date the SDK cannot parse fails the mapping
// on Android and is ignored on iOS (DateFormatter returns nil there).
func (f Flavor) mapDetails(raw json.RawMessage) (ChallengeDetails, error) {
	if isNull(raw) {
		return ChallengeDetails{}, errors.New("response lacks details, which the SDK requires")
	}
	m, err := jsonObject(raw)
	if err != nil {
		return ChallengeDetails{}, errors.New("response details is not an object")
	}
	var d ChallengeDetails
	if d.Message, err = requireString(m, "message"); err != nil {
		return ChallengeDetails{}, fmt.Errorf("details: %w", err)
	}
	if raw := m["fields"]; !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return ChallengeDetails{}, errors.New("response details.fields is not an array")
		}
		for i, item := range items {
			fm, err := jsonObject(item)
			if err != nil {
				return ChallengeDetails{}, fmt.Errorf("response details.fields[%d] is not an object", i)
			}
			var fld ChallengeField
			if fld.Label, err = requireString(fm, "label"); err == nil {
				fld.Value, err = requireString(fm, "value")
			}
			if err != nil {
				return ChallengeDetails{}, fmt.Errorf("details.fields[%d]: %w", i, err)
			}
			d.Fields = append(d.Fields, fld)
		}
	}
	date, ok, err := stringField(m, "date")
	if err != nil {
		return ChallengeDetails{}, fmt.Errorf("details: %w", err)
	}
	if ok && date != "" {
		t, err := f.parseTime(date)
		switch {
		case err == nil:
			d.Date = t
		case f == Android:
			return ChallengeDetails{}, fmt.Errorf("response details.date %q: %w", date, err)
		}
	}
	return d, nil
}

// mapHiddenDetails maps a challenge's hidden_details. Android reads an
// object (optJSONObject: anything else is none) and takes each value as a
// string (getString: other values as their JSON text); iOS decodes an
// object of strings or fails.
func (f Flavor) mapHiddenDetails(raw json.RawMessage) (map[string]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	m, err := jsonObject(raw)
	if err != nil {
		if f == Android {
			return nil, nil
		}
		return nil, errors.New("response hidden_details is not an object of strings")
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			if f == IOS {
				return nil, fmt.Errorf("response hidden_details.%s is not a string", k)
			}
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return nil, fmt.Errorf("response hidden_details.%s: %w", k, err)
			}
			s = b.String()
		}
		out[k] = s
	}
	return out, nil
}

// mapPage maps a ListChallenge response as the SDK of flavor f does
// (ChallengeListMapper.kt, ChallengeListMapper.swift): challenges and meta
// with page and page_size are required; each challenge is mapped as a
// fetched one without signature fields; the page tokens come from the
// PageToken parameter of meta's URLs.
func (f Flavor) mapPage(body []byte) (*ChallengePage, error) {
	m, err := jsonObject(body)
	if err != nil {
		return nil, errors.New("response is not a page of challenges: not a JSON object")
	}
	var items []json.RawMessage
	if isNull(m["challenges"]) || json.Unmarshal(m["challenges"], &items) != nil {
		return nil, errors.New("response challenges is missing or not an array")
	}
	p := &ChallengePage{Challenges: make([]Challenge, 0, len(items)), Raw: bytes.Clone(body)}
	for i, item := range items {
		c, err := f.mapChallenge(item, nil)
		if err != nil {
			return nil, fmt.Errorf("challenges[%d]: %w", i, err)
		}
		p.Challenges = append(p.Challenges, c)
	}
	meta, err := jsonObject(m["meta"])
	if err != nil {
		return nil, errors.New("response meta is missing or not an object")
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"page", &p.Page}, {"page_size", &p.PageSize}} {
		if isNull(meta[n.name]) || json.Unmarshal(meta[n.name], n.dst) != nil {
			return nil, fmt.Errorf("response meta.%s is missing or not an integer", n.name)
		}
	}
	for _, u := range []struct {
		name string
		dst  *string
	}{{"previous_page_url", &p.PreviousPageToken}, {"next_page_url", &p.NextPageToken}} {
		s, ok, err := stringField(meta, u.name)
		if err != nil {
			return nil, fmt.Errorf("meta: %w", err)
		}
		if ok {
			*u.dst = f.pageToken(s)
		}
	}
	return p, nil
}

// jsonObject decodes b, which must be a JSON object, into its members, the
// values as received. Of a repeated name, the last value counts.
func jsonObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null, not an object")
	}
	return m, nil
}

// isNull reports whether v is absent or JSON null.
func isNull(v json.RawMessage) bool {
	return len(v) == 0 || string(v) == "null"
}

// stringField returns the string m[name]; ok is false when it is absent or
// null, and err set when it is something other than a string.
func stringField(m map[string]json.RawMessage, name string) (s string, ok bool, err error) {
	v := m[name]
	if isNull(v) {
		return "", false, nil
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, fmt.Errorf("response %s is not a string", name)
	}
	return s, true, nil
}

// requireString returns the string m[name], which the SDK requires.
func requireString(m map[string]json.RawMessage, name string) (string, error) {
	s, ok, err := stringField(m, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("response lacks %s, which the SDK requires", name)
	}
	return s, nil
}
