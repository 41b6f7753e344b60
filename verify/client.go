package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyclient"
)

// Version is the version of this client, sent in the User-Agent header.
const Version = "0.1.0"

// DefaultTimeout bounds each attempt of a request when NewClient builds the
// HTTP client itself. The caller's context bounds the whole call.
const DefaultTimeout = 30 * time.Second

// maxBody bounds the response bodies a Client reads. Real ones are a few
// hundred bytes.
const maxBody = 1 << 20

// Doer sends one HTTP request. *http.Client is a Doer.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Option changes how NewClient builds a Client.
type Option func(*options)

// options collects what the Options set.
type options struct {
	doer  Doer
	retry RetryPolicy
}

// WithHTTPClient makes the Client send its requests through d, for example
// an *http.Client with its own transport and timeout. By default a Client
// uses an *http.Client with a Timeout of DefaultTimeout. Retries wrap d:
// d sees every attempt.
func WithHTTPClient(d Doer) Option {
	return func(o *options) { o.doer = d }
}

// WithRetry replaces DefaultRetryPolicy. WithRetry(RetryPolicy{}) switches
// retries off.
func WithRetry(p RetryPolicy) Option {
	return func(o *options) { o.retry = p }
}

// Client calls the Verify Access Tokens and Verify Push APIs as a backend.
// It is safe for concurrent use.
type Client struct {
	gen     *verifyclient.ClientWithResponses
	baseURL string
}

// NewClient returns a Client for cfg. It checks the credentials, the base
// URL, the edge and the region here, and returns a *ConfigError naming the
// field at fault, so that a bad setting fails now rather than with a 401 on
// the first call.
func NewClient(cfg Config, opts ...Option) (*Client, error) {
	user, pass, err := cfg.basicAuth()
	if err != nil {
		return nil, err
	}
	baseURL, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	o := options{retry: DefaultRetryPolicy()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.doer == nil {
		o.doer = &http.Client{Timeout: DefaultTimeout}
	}
	policy, err := o.retry.withDefaults()
	if err != nil {
		return nil, err
	}
	ua := userAgent()
	gen, err := verifyclient.NewClientWithResponses(baseURL,
		verifyclient.WithHTTPClient(&retrier{next: o.doer, policy: policy}),
		verifyclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.SetBasicAuth(user, pass)
			req.Header.Set("User-Agent", ua)
			req.Header.Set("Accept", "application/json")
			return nil
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("verify: new client: %w", err)
	}
	return &Client{gen: gen, baseURL: baseURL}, nil
}

// userAgent returns the User-Agent of every request, in the form Twilio's
// helper libraries use: "verifykit/0.1.0 (linux amd64) go/go1.26.8".
func userAgent() string {
	return fmt.Sprintf("verifykit/%s (%s %s) go/%s", Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// BaseURL returns the endpoint the Client sends to, without a trailing
// slash, such as "https://verify.sydney.au1.twilio.com".
func (c *Client) BaseURL() string { return c.baseURL }

// Generated returns the generated client underneath c. It shares c's base
// URL, authentication, User-Agent and retries, but hands back raw responses
// and leaves error bodies to the caller.
func (c *Client) Generated() *verifyclient.ClientWithResponses { return c.gen }

// CreateParams are the form fields of CreateAccessToken.
type CreateParams struct {
	// Identity is the entity's external id, such as a UUID: no PII.
	// Required.
	Identity string
	// FactorType is the kind of factor the token enrolls; models.Push when
	// empty, the only kind there is.
	FactorType models.FactorType
	// FactorFriendlyName names the factor, such as the device's name. It is
	// left out of the request when empty.
	FactorFriendlyName string
	// TTL is the token's lifetime in seconds, 60 to 300. It is left out of
	// the request when zero, and the server then uses 60.
	TTL int
}

// form returns p as the generated request body.
func (p CreateParams) form() models.CreateAccessTokenRequest {
	f := models.CreateAccessTokenRequest{Identity: p.Identity, FactorType: p.FactorType}
	if f.FactorType == "" {
		f.FactorType = models.Push
	}
	if p.FactorFriendlyName != "" {
		f.FactorFriendlyName = &p.FactorFriendlyName
	}
	if p.TTL != 0 {
		f.TTL = &p.TTL
	}
	return f
}

// CreateAccessToken creates an access token for an entity of the service
// serviceSID (operation CreateAccessToken). A response other than 2xx is
// returned as an *Error.
func (c *Client) CreateAccessToken(ctx context.Context, serviceSID string, params CreateParams) (*models.AccessToken, error) {
	tok, _, err := c.create(ctx, serviceSID, params)
	return tok, err
}

// CreateAccessTokenRaw is CreateAccessToken, but returns the response body
// exactly as received, once it has checked that the body is an access
// token. Use it to pass the resource on unchanged.
func (c *Client) CreateAccessTokenRaw(ctx context.Context, serviceSID string, params CreateParams) (json.RawMessage, error) {
	_, raw, err := c.create(ctx, serviceSID, params)
	return raw, err
}

// FetchAccessToken fetches the access token sid of the service serviceSID
// (operation FetchAccessToken). A response other than 2xx is returned as an
// *Error.
func (c *Client) FetchAccessToken(ctx context.Context, serviceSID, sid string) (*models.AccessToken, error) {
	tok, _, err := c.fetch(ctx, serviceSID, sid)
	return tok, err
}

// FetchAccessTokenRaw is FetchAccessToken, but returns the response body
// exactly as received, once it has checked that the body is an access
// token.
func (c *Client) FetchAccessTokenRaw(ctx context.Context, serviceSID, sid string) (json.RawMessage, error) {
	_, raw, err := c.fetch(ctx, serviceSID, sid)
	return raw, err
}

// create sends CreateAccessToken and returns the token both decoded and as
// the body it came in.
func (c *Client) create(ctx context.Context, serviceSID string, params CreateParams) (*models.AccessToken, []byte, error) {
	if serviceSID == "" {
		return nil, nil, errors.New("create access token: empty service SID")
	}
	resp, err := c.gen.CreateAccessTokenWithFormdataBody(ctx, serviceSID, params.form())
	if err != nil {
		return nil, nil, fmt.Errorf("create access token: %w", err)
	}
	body, err := readBody(resp)
	if err != nil {
		return nil, nil, fmt.Errorf("create access token: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, newError(resp.StatusCode, resp.Header, body)
	}
	parsed, err := verifyclient.ParseCreateAccessTokenResponse(withBody(resp, body))
	if err != nil {
		return nil, nil, fmt.Errorf("create access token: decode response: %w", err)
	}
	tok := parsed.JSON201
	if tok == nil && resp.StatusCode == http.StatusOK && isJSON(resp) {
		// Twilio's own spec lists 200 beside 201; ours does not, so the
		// generated parser leaves it alone.
		tok = new(models.AccessToken)
		if err := json.Unmarshal(body, tok); err != nil {
			return nil, nil, fmt.Errorf("create access token: decode response: %w", err)
		}
	}
	if tok == nil {
		return nil, nil, fmt.Errorf("create access token: %w", unexpected(resp))
	}
	return tok, body, nil
}

// fetch sends FetchAccessToken and returns the token both decoded and as
// the body it came in.
func (c *Client) fetch(ctx context.Context, serviceSID, sid string) (*models.AccessToken, []byte, error) {
	if serviceSID == "" || sid == "" {
		return nil, nil, errors.New("fetch access token: empty service SID or SID")
	}
	resp, err := c.gen.FetchAccessToken(ctx, serviceSID, sid)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch access token %s: %w", sid, err)
	}
	body, err := readBody(resp)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch access token %s: %w", sid, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, newError(resp.StatusCode, resp.Header, body)
	}
	parsed, err := verifyclient.ParseFetchAccessTokenResponse(withBody(resp, body))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch access token %s: decode response: %w", sid, err)
	}
	if parsed.JSON200 == nil {
		return nil, nil, fmt.Errorf("fetch access token %s: %w", sid, unexpected(resp))
	}
	return parsed.JSON200, body, nil
}

// readBody reads and closes the body of resp, up to maxBody bytes.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("read response: body larger than %d bytes", maxBody)
	}
	return b, nil
}

// withBody returns resp with its already read body put back, for the
// generated parsers.
func withBody(resp *http.Response, body []byte) *http.Response {
	r := *resp
	r.Body = io.NopCloser(bytes.NewReader(body))
	return &r
}

// isJSON reports whether resp says its body is JSON.
func isJSON(resp *http.Response) bool {
	return strings.Contains(resp.Header.Get("Content-Type"), "json")
}

// unexpected describes a 2xx response that is not the resource asked for.
func unexpected(resp *http.Response) error {
	return fmt.Errorf("unexpected response: status %d with content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
}
