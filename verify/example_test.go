package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/verifykit/verifykit/verify"
)

func ExampleClient_CreateAccessToken() {
	// An in-process verifyd stands in for Twilio. Against Twilio itself,
	// build the client with verify.NewClient(verify.FromEnv(os.Getenv)).
	dir, cleanup := mustTempDir()
	defer cleanup()
	srv, err := startVerifyd(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := verify.NewClient(verify.Config{
		AccountSID: srv.AccountSID,
		APIKey:     srv.APIKey,
		APISecret:  srv.APISecret,
		BaseURL:    srv.URL,
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := client.CreateAccessToken(context.Background(), srv.ServiceSID, verify.CreateParams{
		Identity:           "ff483d1ff591898a9942916050d2ca3f",
		FactorFriendlyName: "John Doe iPhone",
		TTL:                300,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sid prefix:", (*tok.SID)[:2])
	fmt.Println("identity:", *tok.EntityIdentity)
	fmt.Println("factor type:", tok.FactorType)
	fmt.Println("friendly name:", *tok.FactorFriendlyName)
	fmt.Println("ttl:", tok.TTL)
	fmt.Println("token parts:", len(strings.Split(*tok.Token, ".")))
	// Output:
	// sid prefix: YK
	// identity: ff483d1ff591898a9942916050d2ca3f
	// factor type: push
	// friendly name: John Doe iPhone
	// ttl: 300
	// token parts: 5
}

func ExampleClient_FetchAccessToken() {
	dir, cleanup := mustTempDir()
	defer cleanup()
	srv, err := startVerifyd(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := verify.NewClient(verify.Config{
		AccountSID: srv.AccountSID,
		AuthToken:  srv.AuthToken,
		BaseURL:    srv.URL,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	created, err := client.CreateAccessToken(ctx, srv.ServiceSID, verify.CreateParams{Identity: "user-0001"})
	if err != nil {
		log.Fatal(err)
	}

	tok, err := client.FetchAccessToken(ctx, srv.ServiceSID, *created.SID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same token:", *tok.Token == *created.Token)
	fmt.Println("identity:", *tok.EntityIdentity)
	fmt.Println("friendly name set:", tok.FactorFriendlyName != nil)
	fmt.Println("ttl:", tok.TTL)

	// A token that does not exist is a *verify.Error with Twilio's code.
	_, err = client.FetchAccessToken(ctx, srv.ServiceSID, "YK00000000000000000000000000000000")
	var verr *verify.Error
	if errors.As(err, &verr) {
		fmt.Println("error:", verr.Status, verr.Code, verr.MoreInfo)
	}
	// Output:
	// same token: true
	// identity: user-0001
	// friendly name set: false
	// ttl: 60
	// error: 404 20404 https://www.twilio.com/docs/errors/20404
}
