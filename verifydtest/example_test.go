package verifydtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verify"
	"github.com/verifykit/verifykit/verifydtest"
)

// testCreateAccessToken is a test as you would write it in your own code,
// as func TestCreateAccessToken(t *testing.T). The request is addressed to
// Twilio, as your code would address it; s.Client() sends it to s instead.
func testCreateAccessToken(t testing.TB) {
	s := verifydtest.Start(t)

	form := url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}}
	req, err := http.NewRequest(http.MethodPost,
		"https://verify.twilio.com/v2/Services/"+s.ServiceSID+"/AccessTokens",
		strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AccountSID, s.AuthToken)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		Identity string `json:"entity_identity"`
		TTL      int    `json:"ttl"`
		Token    string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil {
		t.Fatal(err)
	}
	fmt.Println(resp.Status)
	fmt.Println(created.Identity, created.TTL)

	claims, err := s.OpenToken(created.Token)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(claims.Identity, claims.FactorType, claims.ExpiresAt.Sub(claims.IssuedAt))
}

func ExampleStart() {
	if log, failed := runTest(testCreateAccessToken); failed {
		fmt.Print(log)
	}
	// Output:
	// 201 Created
	// user-0001 60
	// user-0001 push 1m0s
}

// testPushEnrollment is a test as you would write it in your own code, as
// func TestPushEnrollment(t *testing.T): the backend creates an access
// token, and a simulated phone (package device) enrolls with it and
// verifies its factor, as an app with the Verify Push SDK does.
func testPushEnrollment(t testing.TB) {
	s := verifydtest.Start(t)
	ctx := context.Background()
	backend, err := verify.NewClient(verify.Config{AccountSID: s.AccountSID, AuthToken: s.AuthToken, BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := backend.CreateAccessToken(ctx, s.ServiceSID, verify.CreateParams{Identity: "user-0001"})
	if err != nil {
		t.Fatal(err)
	}

	phone, err := device.New(device.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	f, err := phone.Enroll(ctx, s.ServiceSID, "user-0001", *tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(f.Identity, f.Status)
	if f, err = phone.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Println(f.Identity, f.Status)

	// The token enrolls once.
	other, err := device.New(device.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Enroll(ctx, s.ServiceSID, "user-0001", *tok.Token)
	var derr *device.Error
	if !errors.As(err, &derr) {
		t.Fatalf("second Enroll: %v, want a *device.Error", err)
	}
	fmt.Println(derr.Status, derr.Code, derr.Message)
}

func ExampleStart_device() {
	if log, failed := runTest(testPushEnrollment); failed {
		fmt.Print(log)
	}
	// Output:
	// user-0001 unverified
	// user-0001 verified
	// 401 20003 Authenticate
}

// runTest runs test the way go test runs a test function: in a goroutine
// of its own, where Fatal ends it, then its cleanups, last first. It returns
// what the test logged and whether it failed. It exists only because an
// example has no *testing.T; in a test, call verifydtest.Start(t).
func runTest(test func(t testing.TB)) (log string, failed bool) {
	t := &minimalT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		test(t)
	}()
	<-done
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.log.String(), t.failed
}

// minimalT implements what verifydtest.Start uses of testing.TB; the
// embedded nil interface makes any other method panic.
type minimalT struct {
	testing.TB

	mu       sync.Mutex
	log      strings.Builder
	failed   bool
	cleanups []func()
}

func (t *minimalT) Helper()                      {}
func (t *minimalT) Cleanup(f func())             { t.cleanups = append(t.cleanups, f) }
func (t *minimalT) Log(args ...any)              { t.Logf("%s", fmt.Sprintln(args...)) }
func (t *minimalT) Error(args ...any)            { t.Errorf("%s", fmt.Sprintln(args...)) }
func (t *minimalT) Fatal(args ...any)            { t.Fatalf("%s", fmt.Sprintln(args...)) }
func (t *minimalT) Fatalf(f string, args ...any) { t.Errorf(f, args...); runtime.Goexit() }

func (t *minimalT) Logf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log.WriteString(strings.TrimRight(fmt.Sprintf(format, args...), "\n") + "\n")
}

func (t *minimalT) Errorf(format string, args ...any) {
	t.Logf(format, args...)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

func (t *minimalT) TempDir() string {
	dir, err := os.MkdirTemp("", "verifydtest-example-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
