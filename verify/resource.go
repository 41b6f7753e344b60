package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// formContentType is the Content-Type of every request body of the API.
const formContentType = "application/x-www-form-urlencoded"

// formBody encodes v as a form body: names sorted, the values of a
// repeated name in the order given, each as its own name=value pair. The
// generated ...WithFormdataBody methods cannot be used for bodies with
// arrays or times: runtime.MarshalForm writes an array as Name[0]=… and
// has no encoding for time.Time, where the contract wants the name
// repeated and RFC 3339.
func formBody(v url.Values) io.Reader {
	return strings.NewReader(v.Encode())
}

// receive finishes a request that the generated client sent: it reads the
// body, and turns a status outside 2xx into an *Error.
func receive(resp *http.Response, err error) (*http.Response, []byte, error) {
	if err != nil {
		return nil, nil, err
	}
	body, err := readBody(resp)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, newError(resp.StatusCode, resp.Header, body)
	}
	return resp, body, nil
}

// decode returns the JSON body of the 2xx response resp as a new T.
func decode[T any](resp *http.Response, body []byte) (*T, error) {
	if !isJSON(resp) {
		return nil, unexpected(resp)
	}
	v := new(T)
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return v, nil
}

// resource finishes a request whose 2xx answer is a resource of type T.
func resource[T any](resp *http.Response, err error) (*T, error) {
	resp, body, err := receive(resp, err)
	if err != nil {
		return nil, err
	}
	return decode[T](resp, body)
}

// noContent finishes a request whose 2xx answer has no body worth
// reading, such as a delete's 204.
func noContent(resp *http.Response, err error) error {
	_, _, err = receive(resp, err)
	return err
}
