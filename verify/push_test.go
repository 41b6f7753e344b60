package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/verify"
)

const (
	testIdentity = "ff483d1ff591898a9942916050d2ca3f"
	testYF       = "YFaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testYC       = "YCaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testYW       = "YWaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

	servicePath   = "/v2/Services/" + testVA
	entityPath    = servicePath + "/Entities/" + testIdentity
	challengePath = entityPath + "/Challenges/" + testYC

	signatureFields = "sid,factor_sid,identity,details,hidden_details,date_created,expiration_date"
)

// wireRequest is a request as a recorder received it.
type wireRequest struct {
	Method, Path, Query, ContentType, Body string
}

// recorder is a loopback server that answers every request with one
// status, header and body, and records the requests it receives.
type recorder struct {
	status int
	header map[string]string
	body   string

	mu   sync.Mutex
	got  []wireRequest
	auth []string // "user:password" of each request's Basic auth
	ua   []string
}

// client starts rc and returns a Client for it that authenticates with
// testAC and the auth token "token", without retries.
func (rc *recorder) client(t *testing.T) *verify.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		rc.mu.Lock()
		rc.got = append(rc.got, wireRequest{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			ContentType: r.Header.Get("Content-Type"), Body: string(b),
		})
		rc.auth = append(rc.auth, user+":"+pass)
		rc.ua = append(rc.ua, r.Header.Get("User-Agent"))
		rc.mu.Unlock()
		for k, v := range rc.header {
			w.Header().Set(k, v)
		}
		if rc.body != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(rc.status)
		_, _ = io.WriteString(w, rc.body)
	}))
	t.Cleanup(srv.Close)
	c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "token", BaseURL: srv.URL},
		verify.WithRetry(verify.RetryPolicy{}), verify.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func (rc *recorder) requests() []wireRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]wireRequest(nil), rc.got...)
}

// The form bodies below are written out byte for byte: names sorted, a
// repeated name once per value, JSON values as twilio-go marshals them.
const (
	challengeForm = "Details.Fields=%7B%22label%22%3A%22Location%22%2C%22value%22%3A%22Lisbon%2C+PT%22%7D" +
		"&Details.Fields=%7B%22label%22%3A%22Browser%22%2C%22value%22%3A%22Firefox%22%7D" +
		"&Details.Message=Is+it+you+logging+in%3F" +
		"&ExpirationDate=2015-07-30T20%3A05%3A00Z" +
		"&FactorSid=" + testYF +
		"&HiddenDetails=%7B%22ip%22%3A%22172.168.1.234%22%7D"
	webhookForm = "EventTypes=factor.verified&EventTypes=challenge.approved&EventTypes=challenge.denied" +
		"&FriendlyName=backend&Status=disabled&Version=v1" +
		"&WebhookUrl=https%3A%2F%2Fbackend.example.com%2Fverify-events%3Fsource%3Dverify"
)

// fullChallenge is a ChallengeParams with every field set. Its
// ExpirationDate is 20:05:00.5 UTC, given in another zone.
var fullChallenge = verify.ChallengeParams{
	FactorSID: testYF,
	Message:   "Is it you logging in?",
	Fields: []models.ChallengeField{
		{Label: "Location", Value: "Lisbon, PT"},
		{Label: "Browser", Value: "Firefox"},
	},
	HiddenDetails:  map[string]string{"ip": "172.168.1.234"},
	ExpirationDate: time.Date(2015, 7, 30, 22, 5, 0, 500_000_000, time.FixedZone("CEST", 2*60*60)),
}

func TestPushRequests(t *testing.T) {
	ctx := context.Background()
	entity := example[models.Entity](t, "Entity")
	factor := example[models.Factor](t, "Factor")
	challenge := example[models.Challenge](t, "Challenge")
	webhook := example[models.Webhook](t, "Webhook")
	get := func(path, query string) wireRequest {
		return wireRequest{Method: http.MethodGet, Path: path, Query: query}
	}
	del := func(path string) wireRequest { return wireRequest{Method: http.MethodDelete, Path: path} }
	post := func(path, body string) wireRequest {
		return wireRequest{Method: http.MethodPost, Path: path, ContentType: "application/x-www-form-urlencoded", Body: body}
	}
	for _, tc := range []struct {
		name   string
		call   func(*verify.Client) (any, error)
		status int
		header map[string]string
		body   string // the answer; "" for none
		want   wireRequest
		result any
	}{
		{
			name:   "CreateEntity",
			call:   func(c *verify.Client) (any, error) { return c.CreateEntity(ctx, testVA, testIdentity) },
			status: 201, body: exampleJSON(t, "Entity"),
			want:   post(servicePath+"/Entities", "Identity="+testIdentity),
			result: &entity,
		},
		{
			name:   "FetchEntity",
			call:   func(c *verify.Client) (any, error) { return c.FetchEntity(ctx, testVA, testIdentity) },
			status: 200, body: exampleJSON(t, "Entity"),
			want:   get(entityPath, ""),
			result: &entity,
		},
		{
			name:   "FetchEntity escapes the identity",
			call:   func(c *verify.Client) (any, error) { return c.FetchEntity(ctx, testVA, "a b/c") },
			status: 200, body: exampleJSON(t, "Entity"),
			want:   get(servicePath+"/Entities/a%20b%2Fc", ""),
			result: &entity,
		},
		{
			name:   "DeleteEntity",
			call:   func(c *verify.Client) (any, error) { return nil, c.DeleteEntity(ctx, testVA, testIdentity) },
			status: 204,
			want:   del(entityPath),
		},
		{
			name: "ListEntitiesPage, first page",
			call: func(c *verify.Client) (any, error) {
				return c.ListEntitiesPage(ctx, testVA, verify.ListParams{})
			},
			status: 200, body: exampleJSON(t, "EntityList"),
			want:   get(servicePath+"/Entities", ""),
			result: ptr(example[models.EntityList](t, "EntityList")),
		},
		{
			name: "ListEntitiesPage, a later page",
			call: func(c *verify.Client) (any, error) {
				return c.ListEntitiesPage(ctx, testVA, verify.ListParams{PageSize: 20, Page: 3, PageToken: "PN1438286400_YEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
			},
			status: 200, body: exampleJSON(t, "EntityList"),
			want:   get(servicePath+"/Entities", "PageSize=20&Page=3&PageToken=PN1438286400_YEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
			result: ptr(example[models.EntityList](t, "EntityList")),
		},
		{
			name:   "FetchFactor",
			call:   func(c *verify.Client) (any, error) { return c.FetchFactor(ctx, testVA, testIdentity, testYF) },
			status: 200, body: exampleJSON(t, "Factor"),
			want:   get(entityPath+"/Factors/"+testYF, ""),
			result: &factor,
		},
		{
			name:   "DeleteFactor",
			call:   func(c *verify.Client) (any, error) { return nil, c.DeleteFactor(ctx, testVA, testIdentity, testYF) },
			status: 204,
			want:   del(entityPath + "/Factors/" + testYF),
		},
		{
			name: "ListFactorsPage",
			call: func(c *verify.Client) (any, error) {
				return c.ListFactorsPage(ctx, testVA, testIdentity, verify.ListParams{PageSize: 5})
			},
			status: 200, body: exampleJSON(t, "FactorList"),
			want:   get(entityPath+"/Factors", "PageSize=5"),
			result: ptr(example[models.FactorList](t, "FactorList")),
		},
		{
			name: "CreateChallenge, every field",
			call: func(c *verify.Client) (any, error) {
				return c.CreateChallenge(ctx, testVA, testIdentity, fullChallenge)
			},
			status: 201, body: exampleJSON(t, "Challenge"),
			want:   post(entityPath+"/Challenges", challengeForm),
			result: &challenge,
		},
		{
			name: "CreateChallenge, the required fields only",
			call: func(c *verify.Client) (any, error) {
				return c.CreateChallenge(ctx, testVA, testIdentity, verify.ChallengeParams{FactorSID: testYF, Message: "Log in?", HiddenDetails: map[string]string{}})
			},
			status: 201, body: exampleJSON(t, "Challenge"),
			want:   post(entityPath+"/Challenges", "Details.Message=Log+in%3F&FactorSid="+testYF),
			result: &challenge,
		},
		{
			name:   "FetchChallenge",
			call:   func(c *verify.Client) (any, error) { return c.FetchChallenge(ctx, testVA, testIdentity, testYC) },
			status: 200, body: exampleJSON(t, "Challenge"), header: map[string]string{"Twilio-Verify-Signature-Fields": signatureFields},
			want:   get(challengePath, ""),
			result: &challenge,
		},
		{
			name:   "FetchChallengeRaw, pending",
			call:   func(c *verify.Client) (any, error) { return c.FetchChallengeRaw(ctx, testVA, testIdentity, testYC) },
			status: 200, body: exampleJSON(t, "Challenge"), header: map[string]string{"Twilio-Verify-Signature-Fields": signatureFields},
			want: get(challengePath, ""),
			result: &verify.FetchedChallenge{
				Challenge:       challenge,
				Body:            json.RawMessage(exampleJSON(t, "Challenge")),
				SignatureFields: []string{"sid", "factor_sid", "identity", "details", "hidden_details", "date_created", "expiration_date"},
			},
		},
		{
			name:   "FetchChallengeRaw, answered",
			call:   func(c *verify.Client) (any, error) { return c.FetchChallengeRaw(ctx, testVA, testIdentity, testYC) },
			status: 200, body: exampleJSON(t, "ChallengeApproved"),
			want: get(challengePath, ""),
			result: &verify.FetchedChallenge{
				Challenge: example[models.Challenge](t, "ChallengeApproved"),
				Body:      json.RawMessage(exampleJSON(t, "ChallengeApproved")),
			},
		},
		{
			name: "ListChallengesPage with every filter",
			call: func(c *verify.Client) (any, error) {
				return c.ListChallengesPage(ctx, testVA, testIdentity, verify.ChallengeListParams{
					FactorSID: testYF, Status: models.ChallengeStatusPending, Order: models.Desc, ListParams: verify.ListParams{PageSize: 10},
				})
			},
			status: 200, body: exampleJSON(t, "ChallengeList"),
			want:   get(entityPath+"/Challenges", "FactorSid="+testYF+"&Status=pending&Order=desc&PageSize=10"),
			result: ptr(example[models.ChallengeList](t, "ChallengeList")),
		},
		{
			name: "CreateNotification with a TTL",
			call: func(c *verify.Client) (any, error) {
				return c.CreateNotification(ctx, testVA, testIdentity, testYC, ptr(150))
			},
			status: 201, body: exampleJSON(t, "Notification"),
			want:   post(challengePath+"/Notifications", "Ttl=150"),
			result: ptr(example[models.Notification](t, "Notification")),
		},
		{
			name: "CreateNotification with TTL 0",
			call: func(c *verify.Client) (any, error) {
				return c.CreateNotification(ctx, testVA, testIdentity, testYC, ptr(0))
			},
			status: 201, body: exampleJSON(t, "Notification"),
			want:   post(challengePath+"/Notifications", "Ttl=0"),
			result: ptr(example[models.Notification](t, "Notification")),
		},
		{
			name: "CreateNotification without a TTL",
			call: func(c *verify.Client) (any, error) {
				return c.CreateNotification(ctx, testVA, testIdentity, testYC, nil)
			},
			status: 201, body: exampleJSON(t, "Notification"),
			want:   post(challengePath+"/Notifications", ""),
			result: ptr(example[models.Notification](t, "Notification")),
		},
		{
			name: "CreateWebhook, every field",
			call: func(c *verify.Client) (any, error) {
				return c.CreateWebhook(ctx, testVA, verify.WebhookParams{
					FriendlyName: "backend",
					EventTypes:   []models.EventType{models.EventTypeFactorVerified, models.EventTypeChallengeApproved, models.EventTypeChallengeDenied},
					URL:          "https://backend.example.com/verify-events?source=verify",
					Status:       models.Disabled,
					Version:      models.V1,
				})
			},
			status: 201, body: exampleJSON(t, "Webhook"),
			want:   post(servicePath+"/Webhooks", webhookForm),
			result: &webhook,
		},
		{
			name: "CreateWebhook, the required fields only",
			call: func(c *verify.Client) (any, error) {
				return c.CreateWebhook(ctx, testVA, verify.WebhookParams{
					FriendlyName: "backend", EventTypes: []models.EventType{models.EventTypeAsterisk}, URL: "https://backend.example.com/verify-events",
				})
			},
			status: 201, body: exampleJSON(t, "Webhook"),
			want:   post(servicePath+"/Webhooks", "EventTypes=%2A&FriendlyName=backend&WebhookUrl=https%3A%2F%2Fbackend.example.com%2Fverify-events"),
			result: &webhook,
		},
		{
			name:   "FetchWebhook",
			call:   func(c *verify.Client) (any, error) { return c.FetchWebhook(ctx, testVA, testYW) },
			status: 200, body: exampleJSON(t, "Webhook"),
			want:   get(servicePath+"/Webhooks/"+testYW, ""),
			result: &webhook,
		},
		{
			name: "UpdateWebhook sends the status only",
			call: func(c *verify.Client) (any, error) {
				return c.UpdateWebhook(ctx, testVA, testYW, verify.WebhookUpdate{Status: models.Disabled})
			},
			status: 200, body: exampleJSON(t, "Webhook"),
			want:   post(servicePath+"/Webhooks/"+testYW, "Status=disabled"),
			result: &webhook,
		},
		{
			name: "UpdateWebhook sends an empty name and repeated event types",
			call: func(c *verify.Client) (any, error) {
				return c.UpdateWebhook(ctx, testVA, testYW, verify.WebhookUpdate{
					FriendlyName: ptr(""), EventTypes: []models.EventType{models.EventTypeFactorCreated, models.EventTypeFactorDeleted},
				})
			},
			status: 200, body: exampleJSON(t, "Webhook"),
			want:   post(servicePath+"/Webhooks/"+testYW, "EventTypes=factor.created&EventTypes=factor.deleted&FriendlyName="),
			result: &webhook,
		},
		{
			name: "UpdateWebhook, every field",
			call: func(c *verify.Client) (any, error) {
				return c.UpdateWebhook(ctx, testVA, testYW, verify.WebhookUpdate{
					FriendlyName: ptr("backend"),
					EventTypes:   []models.EventType{models.EventTypeFactorVerified, models.EventTypeChallengeApproved, models.EventTypeChallengeDenied},
					URL:          "https://backend.example.com/verify-events?source=verify",
					Status:       models.Disabled,
					Version:      models.V1,
				})
			},
			status: 200, body: exampleJSON(t, "Webhook"),
			want:   post(servicePath+"/Webhooks/"+testYW, webhookForm),
			result: &webhook,
		},
		{
			name:   "DeleteWebhook",
			call:   func(c *verify.Client) (any, error) { return nil, c.DeleteWebhook(ctx, testVA, testYW) },
			status: 204,
			want:   del(servicePath + "/Webhooks/" + testYW),
		},
		{
			name: "ListWebhooksPage",
			call: func(c *verify.Client) (any, error) {
				return c.ListWebhooksPage(ctx, testVA, verify.ListParams{PageToken: "PN1438286400_YWaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
			},
			status: 200, body: exampleJSON(t, "WebhookList"),
			want:   get(servicePath+"/Webhooks", "PageToken=PN1438286400_YWaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
			result: ptr(example[models.WebhookList](t, "WebhookList")),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recorder{status: tc.status, header: tc.header, body: tc.body}
			c := rc.client(t)
			got, err := tc.call(c)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if tc.result == nil {
				if got != nil {
					t.Errorf("%s = %v, want nothing", tc.name, got)
				}
			} else if diff := cmp.Diff(tc.result, got); diff != "" {
				t.Errorf("%s result mismatch (-want +got):\n%s", tc.name, diff)
			}
			if diff := cmp.Diff([]wireRequest{tc.want}, rc.requests()); diff != "" {
				t.Errorf("%s request mismatch (-want +got):\n%s", tc.name, diff)
			}
			if diff := cmp.Diff([]string{testAC + ":token"}, rc.auth); diff != "" {
				t.Errorf("%s Basic auth mismatch (-want +got):\n%s", tc.name, diff)
			}
			if len(rc.ua) != 1 || !strings.HasPrefix(rc.ua[0], "verifykit/"+verify.Version+" ") {
				t.Errorf("%s User-Agent = %q, want verifykit/%s …", tc.name, rc.ua, verify.Version)
			}
		})
	}
}

// TestFormBodiesFollowContract sends each form body that the contract has
// an example of, and compares what arrives with the example: the same
// names, a repeated name for an array, JSON values equal as JSON.
func TestFormBodiesFollowContract(t *testing.T) {
	ctx := context.Background()
	const (
		challengesPath = "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges"
		webhooksPath   = "/v2/Services/{ServiceSid}/Webhooks"
	)
	// The arrays must be sent as repeated names (style form, explode).
	for _, p := range [][]string{
		{challengesPath, "post", "Details.Fields"},
		{webhooksPath, "post", "EventTypes"},
		{"/v2/Services/{ServiceSid}/Webhooks/{Sid}", "post", "EventTypes"},
	} {
		enc := specAt(t, "paths", p[0], p[1], "requestBody", "content", "application/x-www-form-urlencoded", "encoding", p[2])
		if diff := cmp.Diff(map[string]any{"style": "form", "explode": true}, enc); diff != "" {
			t.Errorf("openapi.yaml: encoding of %s %s %s mismatch (-want +got):\n%s", p[1], p[0], p[2], diff)
		}
	}
	for _, tc := range []struct {
		name    string
		example map[string]any
		call    func(*verify.Client) error
	}{
		{
			name:    "CreateEntity",
			example: formExample(t, "/v2/Services/{ServiceSid}/Entities", "post", ""),
			call: func(c *verify.Client) error {
				_, err := c.CreateEntity(ctx, testVA, testIdentity)
				return err
			},
		},
		{
			name:    "CreateChallenge",
			example: formExample(t, challengesPath, "post", "login"),
			call: func(c *verify.Client) error {
				_, err := c.CreateChallenge(ctx, testVA, testIdentity, verify.ChallengeParams{
					FactorSID: testYF,
					Message:   "Is it you logging in?",
					Fields: []models.ChallengeField{
						{Label: "Location", Value: "Lisbon, PT"},
						{Label: "Browser", Value: "Firefox"},
					},
					HiddenDetails: map[string]string{"ip": "172.168.1.234"},
				})
				return err
			},
		},
		{
			name:    "CreateNotification",
			example: formExample(t, "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{ChallengeSid}/Notifications", "post", "ttl"),
			call: func(c *verify.Client) error {
				_, err := c.CreateNotification(ctx, testVA, testIdentity, testYC, ptr(150))
				return err
			},
		},
		{
			name:    "CreateWebhook",
			example: formExample(t, webhooksPath, "post", "all"),
			call: func(c *verify.Client) error {
				_, err := c.CreateWebhook(ctx, testVA, verify.WebhookParams{
					FriendlyName: "backend", EventTypes: []models.EventType{models.EventTypeAsterisk}, URL: "https://backend.example.com/verify-events",
				})
				return err
			},
		},
		{
			name:    "UpdateWebhook",
			example: formExample(t, "/v2/Services/{ServiceSid}/Webhooks/{Sid}", "post", "disable"),
			call: func(c *verify.Client) error {
				_, err := c.UpdateWebhook(ctx, testVA, testYW, verify.WebhookUpdate{Status: models.Disabled})
				return err
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recorder{status: 500, body: `{"code":20500,"message":"Internal Server Error","more_info":"https://www.twilio.com/docs/errors/20500","status":500}`}
			c := rc.client(t)
			_ = tc.call(c) // only the request matters
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%s sent %d requests, want 1", tc.name, len(reqs))
			}
			got, err := url.ParseQuery(reqs[0].Body)
			if err != nil {
				t.Fatalf("%s body %q is not a form: %v", tc.name, reqs[0].Body, err)
			}
			want := url.Values{}
			for name, v := range tc.example {
				switch v := v.(type) {
				case []any:
					for _, item := range v {
						want.Add(name, item.(string))
					}
				case string:
					want.Set(name, v)
				case int:
					want.Set(name, strconv.Itoa(v))
				default:
					t.Fatalf("example field %s has type %T", name, v)
				}
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(jsonEqualOrSame)); diff != "" {
				t.Errorf("%s body %q differs from the contract's example (-want +got):\n%s", tc.name, reqs[0].Body, diff)
			}
		})
	}
}

// jsonEqualOrSame reports whether a and b are equal strings, or JSON
// documents that are equal as JSON.
func jsonEqualOrSame(a, b string) bool {
	if a == b {
		return true
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
}

// pushOp is one client method, called with the given path arguments.
type pushOp struct {
	name string
	// args names the path arguments the method takes, among "service",
	// "identity" and "sid".
	args []string
	call func(ctx context.Context, c *verify.Client, service, identity, sid string) error
}

// pushOps are the client's push methods, each discarding its result.
var pushOps = []pushOp{
	{"create entity", []string{"service"}, func(ctx context.Context, c *verify.Client, s, i, _ string) error {
		_, err := c.CreateEntity(ctx, s, i)
		return err
	}},
	{"fetch entity", []string{"service", "identity"}, func(ctx context.Context, c *verify.Client, s, i, _ string) error {
		_, err := c.FetchEntity(ctx, s, i)
		return err
	}},
	{"delete entity", []string{"service", "identity"}, func(ctx context.Context, c *verify.Client, s, i, _ string) error {
		return c.DeleteEntity(ctx, s, i)
	}},
	{"list entities", []string{"service"}, func(ctx context.Context, c *verify.Client, s, _, _ string) error {
		return firstErr(c.ListEntities(ctx, s, verify.ListParams{}))
	}},
	{"fetch factor", []string{"service", "identity", "sid"}, func(ctx context.Context, c *verify.Client, s, i, sid string) error {
		_, err := c.FetchFactor(ctx, s, i, sid)
		return err
	}},
	{"delete factor", []string{"service", "identity", "sid"}, func(ctx context.Context, c *verify.Client, s, i, sid string) error {
		return c.DeleteFactor(ctx, s, i, sid)
	}},
	{"list factors", []string{"service", "identity"}, func(ctx context.Context, c *verify.Client, s, i, _ string) error {
		return firstErr(c.ListFactors(ctx, s, i, verify.ListParams{}))
	}},
	{"create challenge", []string{"service", "identity"}, func(ctx context.Context, c *verify.Client, s, i, _ string) error {
		_, err := c.CreateChallenge(ctx, s, i, fullChallenge)
		return err
	}},
	{"fetch challenge", []string{"service", "identity", "sid"}, func(ctx context.Context, c *verify.Client, s, i, sid string) error {
		_, err := c.FetchChallenge(ctx, s, i, sid)
		return err
	}},
	{"list challenges", []string{"service", "identity"}, func(ctx context.Context, c *verify.Client, s, i, _ string) error {
		return firstErr(c.ListChallenges(ctx, s, i, verify.ChallengeListParams{}))
	}},
	{"create notification", []string{"service", "identity", "sid"}, func(ctx context.Context, c *verify.Client, s, i, sid string) error {
		_, err := c.CreateNotification(ctx, s, i, sid, nil)
		return err
	}},
	{"create webhook", []string{"service"}, func(ctx context.Context, c *verify.Client, s, _, _ string) error {
		_, err := c.CreateWebhook(ctx, s, verify.WebhookParams{FriendlyName: "backend", EventTypes: []models.EventType{"*"}, URL: "https://backend.example.com/hook"})
		return err
	}},
	{"fetch webhook", []string{"service", "sid"}, func(ctx context.Context, c *verify.Client, s, _, sid string) error {
		_, err := c.FetchWebhook(ctx, s, sid)
		return err
	}},
	{"update webhook", []string{"service", "sid"}, func(ctx context.Context, c *verify.Client, s, _, sid string) error {
		_, err := c.UpdateWebhook(ctx, s, sid, verify.WebhookUpdate{Status: models.Enabled})
		return err
	}},
	{"delete webhook", []string{"service", "sid"}, func(ctx context.Context, c *verify.Client, s, _, sid string) error {
		return c.DeleteWebhook(ctx, s, sid)
	}},
	{"list webhooks", []string{"service"}, func(ctx context.Context, c *verify.Client, s, _, _ string) error {
		return firstErr(c.ListWebhooks(ctx, s, verify.ListParams{}))
	}},
}

// firstErr runs an iterator to its end and returns the error it yields.
func firstErr[T any](seq func(yield func(T, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestPushErrorResponses(t *testing.T) {
	const rq = "RQ0123456789abcdef0123456789abcdef"
	for _, op := range pushOps {
		t.Run(op.name, func(t *testing.T) {
			rc := &recorder{
				status: http.StatusNotFound,
				header: map[string]string{"Twilio-Request-Id": rq},
				body:   `{"code":20404,"message":"The requested resource /x was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}`,
			}
			err := op.call(context.Background(), rc.client(t), testVA, testIdentity, testYC)
			var got *verify.Error
			if !errors.As(err, &got) {
				t.Fatalf("%s answered 404: error %v (%T), want a *verify.Error", op.name, err, err)
			}
			want := &verify.Error{Code: 20404, Message: "The requested resource /x was not found", MoreInfo: "https://www.twilio.com/docs/errors/20404", Status: 404, RequestID: rq}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s answered 404: mismatch (-want +got):\n%s", op.name, diff)
			}
			if !strings.HasPrefix(err.Error(), op.name) || !strings.HasSuffix(err.Error(), ": 20404: The requested resource /x was not found") {
				t.Errorf("%s answered 404: Error() = %q, want the operation, then the code and message", op.name, err)
			}
		})
	}
}

func TestPushUnexpectedSuccess(t *testing.T) {
	for _, op := range pushOps {
		if strings.HasPrefix(op.name, "delete") {
			continue // a delete reads no body
		}
		t.Run(op.name, func(t *testing.T) {
			rc := &recorder{status: http.StatusOK, header: map[string]string{"Content-Type": "text/plain"}, body: "ok"}
			err := op.call(context.Background(), rc.client(t), testVA, testIdentity, testYC)
			var verr *verify.Error
			if err == nil || errors.As(err, &verr) || !strings.HasPrefix(err.Error(), op.name) {
				t.Errorf("%s answered 200 text/plain: %v; want an error that names the operation and is not a *verify.Error", op.name, err)
			}
		})
	}
}

func TestPushEmptyArguments(t *testing.T) {
	for _, op := range pushOps {
		for _, empty := range op.args {
			t.Run(op.name+" without "+empty, func(t *testing.T) {
				rc := &recorder{status: http.StatusOK, body: "{}"}
				args := map[string]string{"service": testVA, "identity": testIdentity, "sid": testYC}
				args[empty] = ""
				err := op.call(context.Background(), rc.client(t), args["service"], args["identity"], args["sid"])
				if err == nil || !strings.HasPrefix(err.Error(), op.name+": empty ") {
					t.Errorf("%s with an empty %s: error %v, want %q…", op.name, empty, err, op.name+": empty ")
				}
				if n := len(rc.requests()); n != 0 {
					t.Errorf("%s with an empty %s sent %d requests, want none", op.name, empty, n)
				}
			})
		}
	}
}
