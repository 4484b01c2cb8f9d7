package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

func runOperator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, "Usage: coffre operator add USERNAME --role ROLE --unit UNIT [--dev | --config FILE] [--json]\n"+
			"       coffre operator role USERNAME --role ROLE --unit UNIT [--dev | --config FILE] [--json]\n"+
			"       coffre operator enrol-code USERNAME|ID [--dev | --config FILE] [--json]\n"+
			"       coffre operator disable|enable|delete USERNAME|ID [--reason TEXT] [--dev | --config FILE] [--json]\n"+
			"       coffre operator lock USERNAME|ID --reason TEXT [--dev | --config FILE] [--json]\n"+
			"       coffre operator review [--dev | --config FILE] [--json]\n\n"+
			"add creates an operator (any role: the host is where privileged roles are granted)\n"+
			"waiting for its holder, and prints a one-time enrolment code (valid 72 hours) to hand\n"+
			"to the person, who sets their own password and TOTP with it (POST /v1/auth/enrol);\n"+
			"enrol-code resets an account's factors (password, TOTP, security keys, recovery codes;\n"+
			"its sessions end) and prints a new code. role moves an operator to another role and\n"+
			"unit and ends its sessions.\n"+
			"disable stops an account's logins and ends its sessions (the row stays for the audit\n"+
			"trail); enable lifts it; delete erases its identity for good (username, password,\n"+
			"second factors; its id stays in the audit log); lock locks it by hand, until a\n"+
			"security officer lifts it. Every act is audited.\n"+
			"review prints every account with its role, unit, last login, state, caseload size and\n"+
			"reads of the last 30 days, for managers to confirm.\n\n"+
			"Example:\n  coffre operator add marie --role caseworker --unit ac-versailles --dev\n")
		return flag.ErrHelp
	}
	if len(args) > 0 {
		for _, act := range auth.Acts {
			if args[0] == string(act) {
				return runLifecycle(ctx, act, args[1:], stdout, stderr)
			}
		}
		switch args[0] {
		case "review":
			return runReview(ctx, args[1:], stdout, stderr)
		case "enrol-code":
			return runEnrolCode(ctx, args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 || args[0] != "add" && args[0] != "role" {
		return &usageError{msg: "want a subcommand: add, role, enrol-code, disable, enable, delete, lock or review", hint: "coffre operator add marie --role caseworker --unit ac-versailles --dev"}
	}
	sub := args[0]
	fs := newFlags("operator "+sub, "USERNAME --role ROLE --unit UNIT [--dev | --config FILE] [--json]",
		"coffre operator add marie --role caseworker --unit ac-versailles --dev", stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	o.shareFlag(fs)
	role := fs.String("role", "", "the operator's `role` (from the configuration)")
	unit := fs.String("unit", "", "the operator's organisational `unit`")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if len(args) > 1 && args[1] != "" && args[1][0] != '-' {
		// Accept the username before the flags.
		args = append(args[2:], args[1])
	} else {
		args = args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || !validUsername(fs.Arg(0)) {
		return &usageError{msg: "want one username of 1 to 64 characters a-z, 0-9, '.', '-', '_'", hint: "coffre operator add marie --role caseworker --unit ac-versailles"}
	}
	if !vault.ValidUnit(*unit) {
		return &usageError{msg: "--unit is required: 1 to 64 characters a-z, 0-9, '-', '_', '.'"}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if r, err := a.cfg.Policy.Role(*role); err != nil {
		return &usageError{msg: fmt.Sprintf("--role %q is not a role of the configuration", *role), hint: "roles are listed under roles: in coffre.yaml"}
	} else if r.Partner {
		return &usageError{msg: fmt.Sprintf("--role %q is a partner role: partner clients act under it, no operator", *role), hint: "register a partner with coffre partner add"}
	}
	if sub == "role" {
		err := a.auth.SetRole(ctx, fs.Arg(0), *role, *unit)
		if errors.Is(err, store.ErrNotFound) {
			return &usageError{msg: fmt.Sprintf("no operator %q", fs.Arg(0))}
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, map[string]any{"username": fs.Arg(0), "role": *role, "unit": *unit, "sessions_ended": true})
		}
		fmt.Fprintf(stdout, "operator %s: role %s, unit %s; its sessions are ended\n", fs.Arg(0), *role, *unit)
		return nil
	}
	code, err := a.auth.AddOperator(ctx, fs.Arg(0), *role, *unit)
	if errors.Is(err, store.ErrConflict) {
		return &usageError{msg: fmt.Sprintf("operator %q exists", fs.Arg(0))}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"id": code.Operator, "username": code.Username, "role": *role, "unit": *unit,
			"status": "pending_enrolment", "enrolment_code": code.Code, "expires_at": code.Expires.UTC().Format(time.RFC3339)})
	}
	fmt.Fprintf(stdout, "operator %s (%s) created, role %s, unit %s, waiting for enrolment\n", code.Username, code.Operator, *role, *unit)
	printCode(stdout, code)
	return nil
}

// printCode prints an enrolment code and what to do with it.
func printCode(w io.Writer, code *auth.EnrolmentCode) {
	fmt.Fprintf(w, "enrolment code (shown once, valid until %s): %s\n"+
		"Hand it to %s in person or by phone: with it they choose their password and get their\n"+
		"TOTP secret (POST /v1/auth/enrol {\"username\",\"code\",\"password\"}), then log in.\n",
		code.Expires.UTC().Format(time.RFC3339), code.Code, code.Username)
}

// runEnrolCode runs coffre operator enrol-code: a factor reset and a new
// enrolment code.
func runEnrolCode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre operator enrol-code marie --dev"
	fs := newFlags("operator enrol-code", "USERNAME|ID [--dev | --config FILE] [--json]", example, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	o.shareFlag(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, argFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || !validUsername(fs.Arg(0)) {
		return &usageError{msg: "want one username or operator id (a-z, 0-9, '.', '-', '_')", hint: example}
	}
	ref := fs.Arg(0)
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	code, err := a.auth.ResetFactors(ctx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &usageError{msg: fmt.Sprintf("no operator %q", ref), hint: "coffre operator review lists the accounts"}
	case errors.Is(err, store.ErrConflict), errors.Is(err, access.ErrInvalid):
		return &usageError{msg: public.Message(err, "refused"), hint: public.Hint(err, "")}
	case err != nil:
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"operator": ref, "id": code.Operator, "username": code.Username, "status": "pending_enrolment",
			"enrolment_code": code.Code, "expires_at": code.Expires.UTC().Format(time.RFC3339)})
	}
	fmt.Fprintf(stdout, "operator %s (%s): password, TOTP, security keys and recovery codes erased; its sessions are ended\n", code.Username, code.Operator)
	printCode(stdout, code)
	return nil
}

func validUsername(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
