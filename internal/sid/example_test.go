package sid_test

import (
	"fmt"

	"github.com/verifykit/verifykit/internal/sid"
)

func ExampleNew() {
	s := sid.New(sid.AccessToken)
	fmt.Println(len(s), s[:2], sid.Valid(sid.AccessToken, s))
	// Output: 34 YK true
}

func ExampleValid() {
	fmt.Println(sid.Valid(sid.Account, "AC0123456789ABCDEF0123456789abcdef"))
	fmt.Println(sid.Valid(sid.Account, "ac0123456789abcdef0123456789abcdef"))
	// Output:
	// true
	// false
}
