package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/verifykit/verifykit/gen/models"
)

// ChallengeParams are the form fields of CreateChallenge.
type ChallengeParams struct {
	// FactorSID is the verified push factor (YF…) whose device is asked.
	// Required.
	FactorSID string
	// Message is shown to the user, up to 256 characters. Required: the
	// server answers 400, code 60368, without it.
	Message string
	// Fields are shown to the user below Message, at most 20. Each is sent
	// as its own Details.Fields value, the JSON object {"label":…,"value":…}
	// that twilio-go sends.
	Fields []models.ChallengeField
	// HiddenDetails is context not shown to the user, such as the IP
	// address of the login. It is sent as one JSON object, keys sorted, and
	// left out when empty.
	HiddenDetails map[string]string
	// ExpirationDate is when the challenge expires, at most an hour from
	// now; it is sent as RFC 3339 in UTC, in whole seconds. When zero it is
	// left out, and the challenge expires five minutes after its creation.
	ExpirationDate time.Time
}

// form returns p as the form body of CreateChallenge.
func (p ChallengeParams) form() (url.Values, error) {
	f := url.Values{"FactorSid": {p.FactorSID}}
	if p.Message != "" {
		f.Set("Details.Message", p.Message)
	}
	for _, field := range p.Fields {
		b, err := json.Marshal(field)
		if err != nil {
			return nil, fmt.Errorf("encode Details.Fields: %w", err)
		}
		f.Add("Details.Fields", string(b))
	}
	if len(p.HiddenDetails) > 0 {
		b, err := json.Marshal(p.HiddenDetails)
		if err != nil {
			return nil, fmt.Errorf("encode HiddenDetails: %w", err)
		}
		f.Set("HiddenDetails", string(b))
	}
	if !p.ExpirationDate.IsZero() {
		f.Set("ExpirationDate", p.ExpirationDate.UTC().Format(time.RFC3339))
	}
	return f, nil
}

// CreateChallenge asks the device that holds the factor p.FactorSID of the
// entity identity to approve or deny something, such as a login
// (operation CreateChallenge). The challenge is pending until the device
// answers or it expires: poll FetchChallenge, or receive the
// challenge.approved and challenge.denied events with a webhook (see
// ValidateWebhook). Retries: on 429 only, since a repeat could create a
// second challenge and a second push.
func (c *Client) CreateChallenge(ctx context.Context, serviceSID, identity string, p ChallengeParams) (*models.Challenge, error) {
	if serviceSID == "" || identity == "" {
		return nil, errors.New("create challenge: empty service SID or identity")
	}
	form, err := p.form()
	if err != nil {
		return nil, fmt.Errorf("create challenge: %w", err)
	}
	ch, err := resource[models.Challenge](c.gen.CreateChallengeWithBody(ctx, serviceSID, identity, formContentType, formBody(form)))
	if err != nil {
		return nil, fmt.Errorf("create challenge for %s: %w", identity, err)
	}
	return ch, nil
}

// FetchChallenge fetches the challenge sid of the entity identity of the
// service serviceSID (operation FetchChallenge). Its Status reads expired
// as soon as its expiration date has passed unanswered. Retries: as
// RetryPolicy allows a GET.
func (c *Client) FetchChallenge(ctx context.Context, serviceSID, identity, sid string) (*models.Challenge, error) {
	fc, err := c.FetchChallengeRaw(ctx, serviceSID, identity, sid)
	if err != nil {
		return nil, err
	}
	return &fc.Challenge, nil
}

// FetchedChallenge is a challenge as FetchChallengeRaw received it.
type FetchedChallenge struct {
	// Challenge is Body, decoded.
	Challenge models.Challenge
	// Body is the response body exactly as received. A device signs the
	// JSON values of SignatureFields as they are here.
	Body json.RawMessage
	// SignatureFields are the names in the response's
	// Twilio-Verify-Signature-Fields header: the properties whose values an
	// answer signs. Nil when the header is absent, which it is once the
	// challenge is no longer pending.
	SignatureFields []string
}

// FetchChallengeRaw is FetchChallenge, but also returns the body exactly
// as received and the Twilio-Verify-Signature-Fields header.
func (c *Client) FetchChallengeRaw(ctx context.Context, serviceSID, identity, sid string) (*FetchedChallenge, error) {
	if serviceSID == "" || identity == "" || sid == "" {
		return nil, errors.New("fetch challenge: empty service SID, identity or SID")
	}
	resp, body, err := receive(c.gen.FetchChallenge(ctx, serviceSID, identity, sid))
	if err != nil {
		return nil, fmt.Errorf("fetch challenge %s: %w", sid, err)
	}
	ch, err := decode[models.Challenge](resp, body)
	if err != nil {
		return nil, fmt.Errorf("fetch challenge %s: %w", sid, err)
	}
	fc := &FetchedChallenge{Challenge: *ch, Body: body}
	if h := resp.Header.Get("Twilio-Verify-Signature-Fields"); h != "" {
		fc.SignatureFields = strings.Split(h, ",")
	}
	return fc, nil
}

// ChallengeListParams select the challenges ListChallenges returns, and
// its pages.
type ChallengeListParams struct {
	// FactorSID keeps the challenges of this factor only, unless empty.
	FactorSID string
	// Status keeps the challenges in this status only, unless empty.
	Status models.ChallengeStatus
	// Order is models.Asc (oldest first) or models.Desc; left out when
	// empty, and the server then lists oldest first.
	Order models.ListChallengeParamsOrder
	ListParams
}

// ListChallengesPage fetches the page p.ListParams of the challenges of
// the entity identity of the service serviceSID that match p (operation
// ListChallenge). NextPage reads the ListParams of the page after it.
// Retries: as RetryPolicy allows a GET.
func (c *Client) ListChallengesPage(ctx context.Context, serviceSID, identity string, p ChallengeListParams) (*models.ChallengeList, error) {
	if serviceSID == "" || identity == "" {
		return nil, errors.New("list challenges: empty service SID or identity")
	}
	var q models.ListChallengeParams
	if p.FactorSID != "" {
		q.FactorSID = &p.FactorSID
	}
	if p.Status != "" {
		q.Status = &p.Status
	}
	if p.Order != "" {
		q.Order = &p.Order
	}
	q.PageSize, q.Page, q.PageToken = p.query()
	l, err := resource[models.ChallengeList](c.gen.ListChallenge(ctx, serviceSID, identity, &q))
	if err != nil {
		return nil, fmt.Errorf("list challenges of %s: %w", identity, err)
	}
	return l, nil
}

// ListChallenges returns an iterator over the challenges of the entity
// identity of the service serviceSID that match p, from the page
// p.ListParams names on. It pages as ListEntities does, keeping p's
// filters on every page.
func (c *Client) ListChallenges(ctx context.Context, serviceSID, identity string, p ChallengeListParams) iter.Seq2[models.Challenge, error] {
	return items("list challenges of "+identity, p.ListParams, func(lp ListParams) ([]models.Challenge, models.ListMeta, error) {
		p.ListParams = lp
		l, err := c.ListChallengesPage(ctx, serviceSID, identity, p)
		if err != nil {
			return nil, models.ListMeta{}, err
		}
		return l.Challenges, l.Meta, nil
	})
}

// CreateNotification sends the push of the pending challenge challengeSID
// again, for example when the first was lost (operation
// CreateNotification). ttl is how long, in seconds, to keep trying to
// deliver it, 0 to 300; nil leaves it out and the server uses 300. A
// challenge answered already is an *Error with code 60322, an expired one
// 60323. Retries: on 429 only, since a repeat would push again.
func (c *Client) CreateNotification(ctx context.Context, serviceSID, identity, challengeSID string, ttl *int) (*models.Notification, error) {
	if serviceSID == "" || identity == "" || challengeSID == "" {
		return nil, errors.New("create notification: empty service SID, identity or challenge SID")
	}
	form := url.Values{}
	if ttl != nil {
		form.Set("Ttl", strconv.Itoa(*ttl))
	}
	n, err := resource[models.Notification](c.gen.CreateNotificationWithBody(ctx, serviceSID, identity, challengeSID, formContentType, formBody(form)))
	if err != nil {
		return nil, fmt.Errorf("create notification for %s: %w", challengeSID, err)
	}
	return n, nil
}
