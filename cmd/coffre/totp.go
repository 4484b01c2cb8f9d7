package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"
)

func runTOTP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("totp", "SECRET [--json]", "coffre totp JBSWY3DPEHPK3PXP", stderr)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0]) // the secret before the flags
	}
	if err := parse(fs, args); err != nil {
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
