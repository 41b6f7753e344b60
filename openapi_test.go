package verifykit_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/validate"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("LoadFromData(openapi.yaml): %v", err)
	}
	return doc
}

// TestSpecValidates checks the document with every example, pattern and
// default validated against its schema.
func TestSpecValidates(t *testing.T) {
	doc := loadSpec(t)
	if got, want := doc.OpenAPI, "3.0.3"; got != want {
		t.Errorf("openapi version = %q, want %q", got, want)
	}
	err := doc.Validate(context.Background(),
		openapi3.EnableExamplesValidation(),
		openapi3.EnableSchemaPatternValidation(),
		openapi3.EnableSchemaDefaultsValidation(),
		openapi3.EnableSchemaFormatValidation(),
	)
	if err != nil {
		t.Fatalf("Validate(openapi.yaml) = %v, want nil", err)
	}
}

// TestSpecExamplesMatchSchemas validates each response example against its
// schema with the same options the server uses at run time, formats included.
func TestSpecExamplesMatchSchemas(t *testing.T) {
	doc := loadSpec(t)
	opts := validate.SchemaOptions()
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, resp := range op.Responses.Map() {
				for ct, media := range resp.Value.Content {
					check := func(name string, value any) {
						n++
						if err := media.Schema.Value.VisitJSON(roundTrip(t, value), opts...); err != nil {
							t.Errorf("%s %s %s %s example %q: %v", method, path, status, ct, name, err)
						}
					}
					if media.Example != nil {
						check("example", media.Example)
					}
					for name, ex := range media.Examples {
						check(name, ex.Value.Value)
					}
				}
			}
			if op.RequestBody != nil {
				for ct, media := range op.RequestBody.Value.Content {
					for name, ex := range media.Examples {
						n++
						if err := media.Schema.Value.VisitJSON(roundTrip(t, ex.Value.Value), opts...); err != nil {
							t.Errorf("%s %s request %s example %q: %v", method, path, ct, name, err)
						}
					}
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("checked %d examples, want every operation and response to carry one (at least 20)", n)
	}
}

// roundTrip turns YAML-decoded values into what encoding/json produces, the
// shape the validator sees at run time.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(example): %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("json.Unmarshal(example): %v", err)
	}
	return out
}

// TestSpecFacts pins the parts of the contract that must never change
// without a deliberate, reviewed edit of this test.
func TestSpecFacts(t *testing.T) {
	doc := loadSpec(t)

	ops := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op.OperationID
		}
	}
	wantOps := map[string]string{
		"GET /v2/Services/{ServiceSid}/AccessTokens/{Sid}":                                           "FetchAccessToken",
		"POST /v2/Services/{ServiceSid}/AccessTokens":                                                "CreateAccessToken",
		"POST /v2/Services/{ServiceSid}/Entities":                                                    "CreateEntity",
		"GET /v2/Services/{ServiceSid}/Entities":                                                     "ListEntity",
		"GET /v2/Services/{ServiceSid}/Entities/{Identity}":                                          "FetchEntity",
		"DELETE /v2/Services/{ServiceSid}/Entities/{Identity}":                                       "DeleteEntity",
		"POST /v2/Services/{ServiceSid}/Entities/{Identity}/Factors":                                 "CreateNewFactor",
		"GET /v2/Services/{ServiceSid}/Entities/{Identity}/Factors":                                  "ListFactor",
		"GET /v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}":                            "FetchFactor",
		"POST /v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}":                           "UpdateFactor",
		"DELETE /v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}":                         "DeleteFactor",
		"POST /v2/Services/{ServiceSid}/Entities/{Identity}/Challenges":                              "CreateChallenge",
		"GET /v2/Services/{ServiceSid}/Entities/{Identity}/Challenges":                               "ListChallenge",
		"GET /v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{Sid}":                         "FetchChallenge",
		"POST /v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{Sid}":                        "UpdateChallenge",
		"POST /v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{ChallengeSid}/Notifications": "CreateNotification",
		"POST /v2/Services/{ServiceSid}/Webhooks":                                                    "CreateWebhook",
		"GET /v2/Services/{ServiceSid}/Webhooks":                                                     "ListWebhook",
		"GET /v2/Services/{ServiceSid}/Webhooks/{Sid}":                                               "FetchWebhook",
		"POST /v2/Services/{ServiceSid}/Webhooks/{Sid}":                                              "UpdateWebhook",
		"DELETE /v2/Services/{ServiceSid}/Webhooks/{Sid}":                                            "DeleteWebhook",
		"GET /dev/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}/Pushes":                    "ListPush",
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("operations mismatch (-want +got):\n%s", diff)
	}

	patterns := map[string]string{
		"ServiceSid":     `^VA[0-9a-fA-F]{32}$`,
		"AccessTokenSid": `^YK[0-9a-fA-F]{32}$`,
		"FactorSid":      `^YF[0-9a-fA-F]{32}$`,
		"ChallengeSid":   `^YC[0-9a-fA-F]{32}$`,
		"WebhookSid":     `^YW[0-9a-fA-F]{32}$`,
	}
	for key, p := range doc.Components.Parameters {
		want, ok := patterns[key]
		if !ok {
			continue
		}
		s := p.Value.Schema.Value
		if s.Pattern != want || s.MinLength != 34 || s.MaxLength == nil || *s.MaxLength != 34 || !p.Value.Required {
			t.Errorf("parameter %s: pattern %q len %d..%v required %v, want %q, 34..34, required", key, s.Pattern, s.MinLength, s.MaxLength, p.Value.Required, want)
		}
		delete(patterns, key)
	}
	if len(patterns) != 0 {
		t.Errorf("parameters not declared: %v", patterns)
	}

	resource := doc.Components.Schemas["AccessToken"].Value
	for prop, want := range map[string]string{
		"sid":         `^YK[0-9a-fA-F]{32}$`,
		"account_sid": `^AC[0-9a-fA-F]{32}$`,
		"service_sid": `^VA[0-9a-fA-F]{32}$`,
	} {
		if got := resource.Properties[prop].Value.Pattern; got != want {
			t.Errorf("AccessToken.%s pattern = %q, want %q", prop, got, want)
		}
	}
	if got := resource.Properties["date_created"].Value.Format; got != "date-time" {
		t.Errorf("AccessToken.date_created format = %q, want date-time", got)
	}

	ttl := doc.Components.Schemas["CreateAccessTokenRequest"].Value.Properties["Ttl"].Value
	if ttl.Min == nil || *ttl.Min != 60 || ttl.Max == nil || *ttl.Max != 300 || ttl.Default != float64(60) {
		t.Errorf("Ttl = min %v max %v default %v, want 60, 300, 60", ttl.Min, ttl.Max, ttl.Default)
	}

	errSchema := doc.Components.Schemas["Error"]
	wantStatuses := []int{400, 401, 403, 404, 405, 413, 429, 431, 500, 503}
	withConflict := []int{400, 401, 403, 404, 405, 409, 413, 429, 431, 500, 503}
	for key, op := range ops {
		want := wantStatuses
		if op == "CreateEntity" || op == "CreateNewFactor" {
			want = withConflict
		}
		method, path, _ := strings.Cut(key, " ")
		o := doc.Paths.Find(path).GetOperation(method)
		var got []int
		for status, resp := range o.Responses.Map() {
			code, err := strconv.Atoi(status)
			if err != nil {
				t.Errorf("%s: response %q is not a status code", op, status)
				continue
			}
			if code < 400 {
				continue
			}
			got = append(got, code)
			media := resp.Value.Content.Get("application/json")
			if media == nil || media.Schema.Value != errSchema.Value {
				t.Errorf("%s %d: body is not the Error schema", op, code)
			}
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s error statuses mismatch (-want +got):\n%s", op, diff)
		}
		if o.Security == nil || len(*o.Security) == 0 {
			t.Errorf("%s: no security requirement on the operation", op)
		}
	}
	for _, name := range []string{"accountSid_authToken", "enrollmentToken", "deviceJwt"} {
		if got := doc.Components.SecuritySchemes[name]; got == nil || got.Value.Type != "http" || got.Value.Scheme != "basic" {
			t.Errorf("security scheme %s = %+v, want http/basic", name, got)
		}
	}
	if got := *doc.Paths.Find("/v2/Services/{ServiceSid}/Entities/{Identity}/Factors").Post.Security; len(got) != 1 || got[0]["enrollmentToken"] == nil {
		t.Errorf("CreateNewFactor security = %v, want the enrollment token only", got)
	}
}

// TestEmbeddedSpecMatchesFile guards against a gen/ that drifted from
// openapi.yaml: the server validates with the embedded copy.
func TestEmbeddedSpecMatchesFile(t *testing.T) {
	embedded, err := verifyserver.GetSpec()
	if err != nil {
		t.Fatalf("GetSwagger: %v", err)
	}
	want, err := json.Marshal(loadSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(embedded)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("the spec embedded in gen/verifyserver differs from openapi.yaml: run make generate")
	}
}
