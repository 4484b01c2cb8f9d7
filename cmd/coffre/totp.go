package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pquerna/otp/totp"
)

func runTOTP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("totp", "SECRET [--json]", "coffre totp JBSWY3DPEHPK3PXP", stderr)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, argFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{msg: "want one base32 TOTP secret", hint: "coffre totp JBSWY3DPEHPK3PXP"}
	}
	code, err := totp.GenerateCode(fs.Arg(0), time.Now())
	if err != nil {
		return &usageError{msg: "not a base32 TOTP secret", hint: "copy the secret printed when the operator was created"}
	}
	if *asJSON {
		return writeJSON(stdout, map[string]string{"code": code})
	}
	fmt.Fprintln(stdout, code)
	return nil
}
