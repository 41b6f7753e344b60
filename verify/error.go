package verify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error is a response with a status outside 2xx: the Twilio REST error
// object when the body is one, and otherwise what the status line says.
// Every such response becomes an *Error; test for it with errors.As:
//
//	var verr *verify.Error
//	if errors.As(err, &verr) && verr.Code == 20404 { … }
type Error struct {
	// Code is the Twilio error code, such as 20404, or 0 when the body
	// carried none (it was not Twilio's error JSON).
	Code int
	// Message is the body's message, or the HTTP status text when the body
	// had none.
	Message string
	// MoreInfo links to the documentation of Code; empty when unknown.
	MoreInfo string
	// Status is the HTTP status code of the response. Twilio repeats it in
	// the body, but the status line is what counts here.
	Status int
	// Details holds the body's optional details object. When the body was
	// not Twilio's error JSON, Details["body"] holds the start of it
	// instead, as a string.
	Details map[string]any
	// RequestID is the response's Twilio-Request-Id, the id that Twilio
	// support, or verifyd's access log, knows the request by; empty when
	// the response carried none.
	RequestID string
}

var _ error = (*Error)(nil)

// Error returns "Code: Message", such as "20404: The requested resource
// /v2/Services/VA…/AccessTokens/YK… was not found", or "HTTP Status:
// Message" when there is no code.
func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("%d: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// excerptLen bounds how much of a body that is not Twilio's error JSON an
// Error keeps.
const excerptLen = 512

// newError builds the Error for a response with the given status, header
// and body. It accepts Twilio's error JSON whatever the Content-Type says,
// since proxies and older servers label it loosely.
func newError(status int, header http.Header, body []byte) *Error {
	e := &Error{Status: status, RequestID: header.Get("Twilio-Request-Id")}
	var wire struct {
		Code     int            `json:"code"`
		Message  string         `json:"message"`
		MoreInfo string         `json:"more_info"`
		Details  map[string]any `json:"details"`
	}
	if json.Unmarshal(body, &wire) == nil && (wire.Code != 0 || wire.Message != "") {
		e.Code, e.Message, e.MoreInfo, e.Details = wire.Code, wire.Message, wire.MoreInfo, wire.Details
	} else if b := strings.TrimSpace(string(body)); b != "" {
		e.Details = map[string]any{"body": excerpt(b)}
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
		if e.Message == "" {
			e.Message = "unexpected status"
		}
	}
	return e
}

// excerpt returns at most excerptLen bytes of s, cut at a rune boundary,
// with invalid UTF-8 replaced.
func excerpt(s string) string {
	if len(s) > excerptLen {
		cut := excerptLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut-- // s[cut] continues a rune that starts before it
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
