package device

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyclient"
)

// Push is a push that verifyd recorded for the Device's factor: what the
// app would receive from FCM or APNs when a challenge is created, or sent
// again. Data holds the data message's keys, as Twilio's sample app reads
// them: type ("verify_push_challenge"), challenge_sid, factor_sid and
// message.
type Push struct {
	SID          string
	ChallengeSID string
	Priority     string
	TTL          int
	DateCreated  time.Time
	Data         map[string]string
}

// PendingChallenges lists the factor's pending challenges, as the SDKs'
// getAllChallenges does with the status pending, all pages.
func (d *Device) PendingChallenges(ctx context.Context) ([]Challenge, error) {
	return d.Challenges(ctx, ListStatus(ChallengePending))
}

// Pushes returns the pushes verifyd recorded for the Device's factor,
// oldest first, through verifykit's ListPush (not a Twilio operation; a
// real phone receives these from FCM or APNs). The request carries a
// device JWT.
func (d *Device) Pushes(ctx context.Context) ([]Push, error) {
	f, key, err := d.enrolled()
	if err != nil {
		return nil, err
	}
	var all []Push
	var token *string
	for range maxPushPages {
		r, err := d.send(ctx, d.jwtPassword(f, key), true,
			func(ctx context.Context, edit verifyclient.RequestEditorFn) (*http.Response, error) {
				return d.gen.ListPush(ctx, f.ServiceSID, f.Identity, f.SID, &models.ListPushParams{PageToken: token}, edit)
			})
		if err != nil {
			return nil, fmt.Errorf("device: pushes: %w", err)
		}
		if !r.ok() {
			return nil, fmt.Errorf("device: pushes: %w", apiError(r))
		}
		var page models.PushNotificationList
		if err := json.Unmarshal(r.body, &page); err != nil {
			return nil, fmt.Errorf("device: pushes: %w", err)
		}
		for _, p := range page.Pushes {
			all = append(all, Push{SID: p.SID, ChallengeSID: p.ChallengeSID, Priority: p.Priority, TTL: p.TTL,
				DateCreated: p.DateCreated, Data: map[string]string{
					"type": string(p.Data.Type), "challenge_sid": p.Data.ChallengeSID,
					"factor_sid": p.Data.FactorSID, "message": p.Data.Message,
				}})
		}
		if page.Meta.NextPageURL == nil {
			return all, nil
		}
		next := d.flavor.pageToken(*page.Meta.NextPageURL)
		if next == "" {
			return all, nil
		}
		token = &next
	}
	return nil, fmt.Errorf("device: pushes: more than %d pages", maxPushPages)
}

// maxPushPages bounds Pushes, against a server whose pages never end.
const maxPushPages = 1000
