// Package spec loads the embedded openapi.yaml for run-time validation and
// holds the validation options that every validator in verifykit shares.
package spec

import (
	"context"
	"fmt"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/verifykit/verifykit/gen/verifyserver"
)

// Load returns the contract embedded in the generated server package, with
// its servers cleared so that routes match on any host, and validated.
func Load(ctx context.Context) (*openapi3.T, error) {
	doc, err := verifyserver.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate embedded spec: %w", err)
	}
	// verifyd serves on any host; matching requests against
	// https://verify.twilio.com would 404 every one of them.
	doc.Servers = nil
	return doc, nil
}

// SchemaOptions are the options used for every schema check: formats that
// kin-openapi leaves unchecked by default are registered per call (no global
// state), and error text never echoes the value or the schema.
func SchemaOptions() []openapi3.SchemaValidationOption {
	// One map for all calls: WithStringFormatValidator would allocate a
	// new map on every validation.
	formats := map[string]openapi3.StringFormatValidator{
		"uri": openapi3.NewCallbackValidator(validateURI),
	}
	return []openapi3.SchemaValidationOption{
		openapi3.EnableFormatValidation(),
		openapi3.WithStringFormatValidators(formats),
		openapi3.DisableSchemaErrorDetails(),
	}
}

// validateURI accepts absolute URIs, the only kind the contract uses.
func validateURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URI: %w", err)
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("not an absolute URI")
	}
	return nil
}
