package client_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffre/coffre/client"
)

// A caseworker signs in with a password and a TOTP code, finds a person by
// their professional email and reads them for a declared purpose; a lock
// by the guard is an error like any other, matched with errors.Is.
func Example() {
	ctx := context.Background()
	c, err := client.New("https://coffre.example.org")
	if err != nil {
		panic(err)
	}
	step, err := c.Login(ctx, "camille", "her password")
	if err != nil {
		panic(err)
	}
	if err := c.TOTP(ctx, step.LoginToken, "123456"); err != nil {
		panic(err)
	}
	id, err := c.Lookup(ctx, client.Access{Purpose: "directory"}, "email_pro", "c.martin@example.org")
	if err != nil {
		panic(err)
	}
	v, err := c.Read(ctx, id, client.Access{Purpose: "case-handling", Reason: "ticket 42"})
	switch {
	case errors.Is(err, client.ErrLocked):
		fmt.Println("the guard locked this account: call the security officer")
	case err != nil:
		panic(err)
	default:
		fmt.Println(v.Fields["given_name"], "read; audit entry", v.AuditSeq)
	}
}
