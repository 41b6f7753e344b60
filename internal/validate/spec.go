package validate

import (
	"context"
	"fmt"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/verifykit/verifykit/gen/verifyserver"
)

// LoadSpec returns the contract embedded in the generated server package,
// validated.
func LoadSpec(ctx context.Context) (*openapi3.T, error) {
	doc, err := verifyserver.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate embedded spec: %w", err)
	}
	return doc, nil
}

// KinOptions are the kin-openapi options of both directions: defaults are
// not written into the request (the handler applies them), the response
// status must be declared, and schema checks use SchemaOptions.
func KinOptions() openapi3filter.Options {
	return openapi3filter.Options{
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SkipSettingDefaults:     true,
		IncludeResponseStatus:   true,
		SchemaValidationOptions: SchemaOptions(),
	}
}

// SchemaOptions are the options of every schema check: formats that
// kin-openapi leaves unchecked by default are registered per call (no
// global state), and error text never echoes the value or the schema.
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
