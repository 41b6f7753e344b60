package credential_test

import (
	"fmt"

	"github.com/verifykit/verifykit/internal/credential"
)

func Example() {
	secret := credential.Generate() // shown to the user once
	stored := credential.Hash(secret)

	fmt.Println(credential.Verify(stored, secret))
	fmt.Println(credential.Verify(stored, credential.Generate()))
	// Output:
	// true
	// false
}
