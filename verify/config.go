package verify

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/verifykit/verifykit/internal/sid"
)

// DefaultBaseURL is Twilio's Verify endpoint. A Client uses it unless its
// Config names a base URL, an edge or a region.
const DefaultBaseURL = "https://verify.twilio.com"

// The environment variables FromEnv reads: Twilio's own names, plus one of
// verifykit's for pointing the client at a verifyd.
const (
	EnvAccountSID = "TWILIO_ACCOUNT_SID"
	EnvAuthToken  = "TWILIO_AUTH_TOKEN"
	EnvAPIKey     = "TWILIO_API_KEY"
	EnvAPISecret  = "TWILIO_API_SECRET"
	EnvEdge       = "TWILIO_EDGE"
	EnvRegion     = "TWILIO_REGION"
	EnvBaseURL    = "VERIFYKIT_BASE_URL"
)

// Config says whom a Client authenticates as and where it sends requests.
//
// Credentials come in one of two kinds, and AccountSID is required with
// either:
//   - AuthToken: the account's Auth Token, sent as the password of HTTP Basic
//     auth with AccountSID as the user name;
//   - APIKey and APISecret: an API key SID (SK…) and its secret, sent as the
//     user name and password. When APIKey or APISecret is set, the API key is
//     used and AuthToken is ignored, since Twilio recommends API keys.
//
// The endpoint is BaseURL when it is set, and Edge and Region are then
// ignored. Otherwise Edge and Region rewrite the host of DefaultBaseURL to
// verify.{edge}.{region}.twilio.com, as Twilio's helper libraries do:
//   - an Edge without a Region gets region us1, as twilio-go does;
//   - a Region without an Edge gets the edge Twilio documents as that
//     region's own (au1 sydney, br1 sao-paulo, de1 frankfurt, ie1 dublin,
//     jp1 tokyo, jp2 osaka, sg1 singapore, us1 ashburn, us2 umatilla), since
//     Twilio retires the edgeless verify.{region}.twilio.com form; any other
//     region needs an explicit Edge.
//
// String and GoString redact the secrets, so a Config can be logged.
type Config struct {
	// AccountSID is the account (AC…) the client acts for.
	AccountSID string
	// AuthToken is the account's Auth Token.
	AuthToken string
	// APIKey is an API key SID (SK…) of the account.
	APIKey string
	// APISecret is the secret of APIKey.
	APISecret string
	// BaseURL replaces the endpoint, for example the URL of a verifyd.
	BaseURL string
	// Edge is a Twilio edge location such as "sydney".
	Edge string
	// Region is a Twilio processing region such as "au1".
	Region string
}

// FromEnv returns the Config described by the environment variables EnvX,
// read through getenv (os.Getenv, or a map lookup in tests). It does not
// check the values; NewClient does.
func FromEnv(getenv func(string) string) Config {
	return Config{
		AccountSID: getenv(EnvAccountSID),
		AuthToken:  getenv(EnvAuthToken),
		APIKey:     getenv(EnvAPIKey),
		APISecret:  getenv(EnvAPISecret),
		BaseURL:    getenv(EnvBaseURL),
		Edge:       getenv(EnvEdge),
		Region:     getenv(EnvRegion),
	}
}

// String returns c with AuthToken and APISecret redacted.
func (c Config) String() string {
	return fmt.Sprintf("verify.Config{AccountSID:%q AuthToken:%s APIKey:%q APISecret:%s BaseURL:%q Edge:%q Region:%q}",
		c.AccountSID, redact(c.AuthToken), c.APIKey, redact(c.APISecret), c.BaseURL, c.Edge, c.Region)
}

// GoString is String, so that %#v redacts the secrets too.
func (c Config) GoString() string { return c.String() }

// redact hides a secret, saying only whether there is one.
func redact(secret string) string {
	if secret == "" {
		return `""`
	}
	return "REDACTED"
}

// ConfigError reports a Config, or an option of NewClient, that NewClient
// rejects. It never quotes a secret.
type ConfigError struct {
	// Field is the name of the Config field at fault, such as "AccountSID",
	// or "RetryPolicy" for the option WithRetry.
	Field string
	// Problem says what is wrong and what is expected, such as "missing" or
	// "want AC followed by 32 hex digits".
	Problem string
}

var _ error = (*ConfigError)(nil)

// Error returns "verify: Field: Problem".
func (e *ConfigError) Error() string {
	return "verify: " + e.Field + ": " + e.Problem
}

// basicAuth checks the credentials of c and returns the user name and
// password to send.
func (c Config) basicAuth() (user, pass string, err error) {
	switch {
	case c.AccountSID == "":
		return "", "", &ConfigError{Field: "AccountSID", Problem: "missing"}
	case !sid.Valid(sid.Account, c.AccountSID):
		return "", "", &ConfigError{Field: "AccountSID", Problem: "want AC followed by 32 hex digits"}
	}
	if c.APIKey == "" && c.APISecret == "" {
		if c.AuthToken == "" {
			return "", "", &ConfigError{Field: "AuthToken", Problem: "missing; give an auth token, or an API key and secret"}
		}
		return c.AccountSID, c.AuthToken, nil
	}
	switch {
	case c.APIKey == "":
		return "", "", &ConfigError{Field: "APIKey", Problem: "missing, but an API secret is set"}
	case !sid.Valid(sid.APIKey, c.APIKey):
		return "", "", &ConfigError{Field: "APIKey", Problem: "want SK followed by 32 hex digits"}
	case c.APISecret == "":
		return "", "", &ConfigError{Field: "APISecret", Problem: "missing, but an API key is set"}
	}
	return c.APIKey, c.APISecret, nil
}

// endpoint returns the base URL that c selects, without a trailing slash.
func (c Config) endpoint() (string, error) {
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return "", &ConfigError{Field: "BaseURL", Problem: "want an absolute http or https URL without user, query or fragment"}
		}
		return strings.TrimRight(u.String(), "/"), nil
	}
	if c.Edge == "" && c.Region == "" {
		return DefaultBaseURL, nil
	}
	for _, f := range []struct{ name, value string }{{"Edge", c.Edge}, {"Region", c.Region}} {
		if f.value != "" && !isHostLabel(f.value) {
			return "", &ConfigError{Field: f.name, Problem: "want lowercase letters, digits and single dashes, such as sydney or au1"}
		}
	}
	edge, region := c.Edge, c.Region
	if region == "" {
		region = "us1"
	}
	if edge == "" {
		var ok bool
		if edge, ok = defaultEdge(region); !ok {
			return "", &ConfigError{Field: "Edge", Problem: "missing; this region has no default edge, so give one"}
		}
	}
	return "https://verify." + edge + "." + region + ".twilio.com", nil
}

// defaultEdge returns the edge location Twilio documents for a processing
// region, the one its helper libraries use when only a region is given.
func defaultEdge(region string) (string, bool) {
	switch region {
	case "au1":
		return "sydney", true
	case "br1":
		return "sao-paulo", true
	case "de1":
		return "frankfurt", true
	case "ie1":
		return "dublin", true
	case "jp1":
		return "tokyo", true
	case "jp2":
		return "osaka", true
	case "sg1":
		return "singapore", true
	case "us1":
		return "ashburn", true
	case "us2":
		return "umatilla", true
	}
	return "", false
}

// isHostLabel reports whether s is a DNS label of lowercase letters and
// digits joined by single dashes, which every edge and region name is.
func isHostLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
