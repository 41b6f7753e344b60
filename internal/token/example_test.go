package token_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/verifykit/verifykit/internal/token"
)

func ExampleMint() {
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	key, err := token.NewKey(now)
	if err != nil {
		panic(err)
	}
	keys, err := token.NewKeySet(key)
	if err != nil {
		panic(err)
	}

	const ttl = 10 * time.Minute
	compact, err := token.Mint(keys, token.Claims{
		Identity:   "ff483d1ff591898a9942916050d2ca3f",
		AccountSID: "AC0123456789abcdef0123456789abcdef",
		ServiceSID: "VA0123456789abcdef0123456789abcdef",
		FactorType: "push",
		IssuedAt:   now.Unix(),
		ExpiresAt:  now.Add(ttl).Unix(),
		SID:        "YK0123456789abcdef0123456789abcdef",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("parts:", strings.Count(compact, ".")+1)

	h, err := token.Inspect(compact)
	if err != nil {
		panic(err)
	}
	fmt.Println("header:", h.Algorithm, h.Encryption, h.Compression, h.ContentType, h.KeyID == key.ID)

	c, err := token.Open(keys, compact)
	if err != nil {
		panic(err)
	}
	fmt.Println("jti:", c.SID)
	fmt.Println("ttl:", c.ExpiresAt-c.IssuedAt)
	fmt.Println("expired at exp:", c.Expired(now.Add(ttl)))
	// Output:
	// parts: 5
	// header: dir A256GCM DEF twilio-fpa;v=1 true
	// jti: YK0123456789abcdef0123456789abcdef
	// ttl: 600
	// expired at exp: true
}
