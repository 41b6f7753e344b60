package device

import "fmt"

// Error is a response with a status outside 2xx to a Device's request: the
// Twilio REST error object when the body is one, and otherwise what the
// status line says. Test for it with errors.As:
//
//	var derr *device.Error
//	if errors.As(err, &derr) && derr.Code == 60311 { … }
//
// It has the fields of verify.Error. It is a type of its own so that this
// package, which acts as a phone rather than as a backend, depends on the
// generated client alone.
type Error struct {
	// Code is the Twilio error code, such as 60311, or 0 when the body
	// carried none.
	Code int
	// Message is the body's message, or the HTTP status text.
	Message string
	// MoreInfo links to the documentation of Code; empty when unknown.
	MoreInfo string
	// Status is the HTTP status code of the response.
	Status int
	// Details holds the body's optional details object. When the body was
	// not Twilio's error JSON, Details["body"] holds the start of it.
	Details map[string]any
	// RequestID is the response's Twilio-Request-Id, if any.
	RequestID string
}

var _ error = (*Error)(nil)

// Error returns "Code: Message", or "HTTP Status: Message" when there is no
// code.
func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("%d: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}
