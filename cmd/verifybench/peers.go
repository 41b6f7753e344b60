package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/verifykit/verifykit/device"
)

// peerStacks are the other Go stacks loaded beside verifyd. Their
// binaries are built from their own module, cmd/verifybench/peers, so
// that verifykit's go.mod does not grow; each takes the fetch's body and
// header files and the account's credentials, and prints "listening on
// ADDR".
var peerStacks = []struct{ name, binary string }{
	{"ogen", "peer-ogen"},
	{"echo+OapiValidator", "peer-echo"},
}

type peer struct {
	name string
	p    *process
}

// startPeers starts each peer binary found in o.peersDir; a missing one
// is skipped with a printed reason.
func startPeers(ctx context.Context, o options, stdout io.Writer, bodyFile, headerFile, account, secret string) ([]peer, error) {
	var peers []peer
	if o.peersDir == "" {
		return nil, nil
	}
	for _, ps := range peerStacks {
		bin := filepath.Join(o.peersDir, ps.binary)
		if _, err := os.Stat(bin); err != nil {
			fmt.Fprintf(stdout, "verifybench: peer %s skipped: %v (make bench-load builds it)\n", ps.name, err)
			continue
		}
		p, err := startProcess(ctx, o.pin, nil, bin, bodyFile, headerFile, account, secret)
		if err != nil {
			for _, q := range peers {
				q.p.stop()
			}
			return nil, fmt.Errorf("peer %s: %w", ps.name, err)
		}
		peers = append(peers, peer{ps.name, p})
	}
	return peers, nil
}

// pendingChallenge enrolls a push factor through the API as a device
// would (the device package: access token, create factor, verify it),
// creates a challenge for it, and returns the challenge's URL, which
// the backend fetches with the account's Basic auth.
func pendingChallenge(ctx context.Context, base, service, accessToken, account, secret string) (string, error) {
	const identity = "ff483d1ff591898a9942916050d2ca3f" // the identity of the seed create
	d, err := device.New(device.WithBaseURL(base))
	if err != nil {
		return "", err
	}
	f, err := d.Enroll(ctx, service, identity, accessToken)
	if err != nil {
		return "", fmt.Errorf("enroll: %w", err)
	}
	if _, err := d.Verify(ctx); err != nil {
		return "", fmt.Errorf("verify factor: %w", err)
	}
	u := base + "/v2/Services/" + service + "/Entities/" + identity + "/Challenges"
	form := url.Values{"FactorSid": {f.SID}, "Details.Message": {"Log in?"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(account, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("create challenge: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create challenge: %d %s", resp.StatusCode, b)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("create challenge: %w", err)
	}
	return u + "/" + c.SID, nil
}

// sameFetch fetches url once and checks that its body is the JSON that
// verifyd sent (want): a peer that answered less would be cheaper for it.
// It says whether the bytes are equal too.
func sameFetch(ctx context.Context, u, auth string, want []byte) (sameBytes bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d: %s", resp.StatusCode, got)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false, fmt.Errorf("body: %w", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		return false, fmt.Errorf("verifyd's body: %w", err)
	}
	if !reflect.DeepEqual(g, w) {
		return false, fmt.Errorf("body %s, want verifyd's %s", got, want)
	}
	return bytes.Equal(got, want), nil
}
