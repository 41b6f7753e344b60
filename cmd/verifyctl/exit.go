package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verify"
)

// The exit statuses of verifyctl, a documented contract (exitCodesHelp).
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitNotFound = 3
	exitAuth     = 4
)

// exitCodesHelp is the help topic "exit-codes".
const exitCodesHelp = `verifyctl exits with one of these statuses:

  0  success, including --help and help
  1  failure: the API answered with an error not listed below, or the
     network, a file or the token itself failed
  2  usage error: a command, flag, argument or setting is missing or
     malformed; the message names the flag and what it wants
  3  not found: the API answered 404 (such as code 20404); the service,
     access token, entity, factor or challenge does not exist, or belongs to
     another account
  4  authentication failed: the API answered 401 (code 20003); the
     credentials are wrong, or the device's access token is used, expired
     or for another identity, or its factor no longer takes its JWTs

On failure verifyctl prints one line to stderr, such as
  verifyctl: 20404 The requested resource /v2/Services/VA…/AccessTokens/YK… was not found (request RQ…)
`

// usageError is a mistake in the command line or the settings, reported
// with exit status 2.
type usageError struct {
	msg string
}

var _ error = (*usageError)(nil)

func (e *usageError) Error() string { return e.msg }

// usageErrorf returns a *usageError with a formatted message, which should
// name the flag at fault and what it wants.
func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelpShown reports that a command printed its usage because --help
// asked for it: nothing failed.
var errHelpShown = errors.New("help shown")

// describe maps the outcome of a command to its exit status and the line to
// print on stderr (none for success). It is the one place that knows the
// exit statuses.
func describe(err error) (code int, line string) {
	var (
		uerr *usageError
		cerr *verify.ConfigError
		verr *verify.Error
		derr *device.Error
	)
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return exitOK, ""
	case errors.As(err, &uerr):
		return exitUsage, uerr.msg
	case errors.As(err, &cerr):
		return exitUsage, settingName(cerr.Field) + ": " + cerr.Problem
	case errors.As(err, &verr):
		return describeAPI(verr.Status, verr.Code, verr.Message, verr.RequestID)
	case errors.As(err, &derr):
		// The device commands' answers from the API, as the phone saw them.
		return describeAPI(derr.Status, derr.Code, derr.Message, derr.RequestID)
	}
	return exitFailure, err.Error()
}

// describeAPI maps an error answer of the API to its exit status and line.
func describeAPI(status, code int, message, requestID string) (int, string) {
	line := fmt.Sprintf("%d %s", code, message)
	if code == 0 {
		line = fmt.Sprintf("HTTP %d %s", status, message)
	}
	if requestID != "" {
		// The id finds the request in the server's log, or at Twilio support.
		line += " (request " + requestID + ")"
	}
	switch status {
	case http.StatusNotFound:
		return exitNotFound, line
	case http.StatusUnauthorized:
		return exitAuth, line
	}
	return exitFailure, line
}

// settingName names a verify.Config field the way the user set it: as a
// flag or its environment variable.
func settingName(field string) string {
	switch field {
	case "AccountSID":
		return "--account-sid (or " + verify.EnvAccountSID + ")"
	case "AuthToken":
		return "--auth-token (or " + verify.EnvAuthToken + ")"
	case "APIKey":
		return "--api-key (or " + verify.EnvAPIKey + ")"
	case "APISecret":
		return "--api-secret (or " + verify.EnvAPISecret + ")"
	case "BaseURL":
		return "--base-url (or " + verify.EnvBaseURL + ")"
	case "Edge":
		return "--edge (or " + verify.EnvEdge + ")"
	case "Region":
		return "--region (or " + verify.EnvRegion + ")"
	}
	return field
}
