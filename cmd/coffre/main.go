// Command coffre is Coffre's one binary: the vault server and its tools.
//
//	coffre demo                 serve the demo directory (243,000 synthetic people)
//	coffre serve --dev          serve the demo policy with no configuration
//	coffre serve --config FILE  serve with coffre.yaml
//	coffre operator add NAME    create an operator, print its enrolment
//	coffre import FILE          bulk-create subjects from CSV or JSON lines
//	coffre audit verify         recompute the audit log's Merkle tree, check every checkpoint
//	coffre bench import|read    measure import and audited reads
//	coffre totp SECRET          print the current TOTP code of a secret
//
// Every command has --help with an example.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the vault server", runServe},
		{"demo", "run the vault with 243,000 synthetic people", runDemo},
		{"operator", "manage operators (add)", runOperator},
		{"canary", "plant canary subjects (plant, find)", runCanary},
		{"partner", "register partner organisations and rotate their credentials (add, rotate)", runPartner},
		{"audit", "verify the audit log, print its checkpoint or public key (verify, checkpoint, key)", runAudit},
		{"import", "bulk-create subjects from a CSV or JSON-lines file", runImport},
		{"bench", "measure import and audited reads (import, read)", runBench},
		{"drill", "replay attacks and working days; count what leaks and who is locked", runDrill},
		{"totp", "print the current TOTP code of a base32 secret", runTOTP},
		{"authz", "print the authorization matrix (docs/authorization.md)", runAuthz},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Coffre: a personal-data vault. One person at a time, for a declared purpose, every access audited.")
	fmt.Fprintln(w, "\nUsage: coffre COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'coffre COMMAND --help' for a command's flags and an example.")
}

// usageError is a mistake in the command line; it carries a hint.
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if err == nil || errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "coffre %s: error: %v\n", c.name, err)
		var ue *usageError
		if errors.As(err, &ue) {
			if ue.hint != "" {
				fmt.Fprintf(stderr, "hint: %s\n", ue.hint)
			}
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "coffre: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// newFlags makes a command's FlagSet, whose --help prints the example.
func newFlags(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("coffre "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: coffre %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExample:\n  %s\n", example)
	}
	return fs
}

// parse parses flags, turning a bad flag into a usageError.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error(), hint: "run '" + fs.Name() + " --help'"}
	}
	return nil
}
