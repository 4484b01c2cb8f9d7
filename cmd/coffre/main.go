// Command coffre is Coffre's one binary: the vault server and its tools.
//
//	coffre serve --dev                    serve the demo policy with no configuration
//	coffre serve --config FILE            serve with coffre.yaml
//	coffre demo                           serve the demo directory (243,000 synthetic people)
//	coffre operator add NAME              create an operator, print its enrolment code
//	coffre operator enrol-code NAME       reset an operator's factors, print a new enrolment code
//	coffre operator role NAME             move an operator to another role and unit
//	coffre caseload assign|remove|sync    change caseloads from the host (the nightly feed)
//	coffre canary plant N                 plant canary subjects
//	coffre canary find FIELD VALUE        tell whether a value is a canary's, and whose
//	coffre partner add NAME               register a partner, issue its credentials
//	coffre partner rotate NAME            issue a partner new credentials
//	coffre audit verify                   recompute the audit log's Merkle tree, check every checkpoint
//	coffre audit checkpoint               print the latest signed checkpoint
//	coffre audit key                      print the checkpoint verifier key
//	coffre migrate [--dry-run]             apply the store's pending schema migrations, or list them
//	coffre backup --to FILE --recipient K  write an age-encrypted snapshot and, apart, its data keys
//	coffre restore --from FILE --keys F   restore a backup into an empty store, verify the audit log
//	coffre import FILE                    bulk-create subjects from CSV or JSON lines
//	coffre bench import|read|audit|login  measure import, audited reads, the audit log, login timing
//	coffre drill                          replay attacks and working days, count what leaks
//	coffre incident open|list|show|scope  breach response: the incident, its scope, clocks and timeline
//	coffre retention plan|run             what the retention rules purge, and when; purge it
//	coffre stats --group-by DIM,…         noised counts over the declared dimensions (no group under k)
//	coffre stats recount                  rebuild the statistics counters after the dimensions changed
//	coffre keys init --shares N --threshold M   create a root key, sealed; print N shares of which M unseal it
//	coffre unseal --share-file F          enter one share into a sealed server
//	coffre seal --reason TEXT             seal a running server (its keys leave memory)
//	coffre totp SECRET                    print the current TOTP code of a secret
//	coffre authz                          print the authorization matrix
//	coffre version                        print the version, commit and Go version
//
// Every command has --help with an example. Every command that prints a
// result takes --json and then prints one JSON document on stdout instead
// of text; errors and progress stay on stderr as text.
//
// The transcripts in testdata/script pin each command's behaviour
// (TestScript).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/coffre/coffre/internal/public"
)

func main() { os.Exit(coffreMain()) }

// coffreMain runs the command line of this process until it ends or the
// process is told to stop, and returns the exit code.
func coffreMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
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
		{"operator", "manage operators (add, role, enrol-code, disable, enable, delete, lock, review)", runOperator},
		{"caseload", "assign people to caseloads from the host (assign, remove, sync)", runCaseload},
		{"canary", "plant canary subjects (plant, find)", runCanary},
		{"partner", "register partner organisations and rotate their credentials (add, rotate)", runPartner},
		{"audit", "verify the audit log, print its checkpoint or public key, a subject's history, or check one (verify, checkpoint, key, history, verify-subject)", runAudit},
		{"migrate", "apply the store's pending schema migrations, or list them (--dry-run)", runMigrate},
		{"backup", "write an encrypted snapshot of the SQLite store and, apart, its data keys", runBackup},
		{"restore", "restore a backup into an empty store and verify its audit log", runRestore},
		{"import", "bulk-create subjects from a CSV or JSON-lines file", runImport},
		{"bench", "measure import, audited reads, the audit log and login timing (import, read, audit, login)", runBench},
		{"drill", "replay attacks and working days; count what leaks and who is locked", runDrill},
		{"incident", "breach response: open an incident, its scope, clocks and timeline (open, list, show, scope)", runIncident},
		{"retention", "apply the retention rules: what is due and when (plan), purge it (run)", runRetention},
		{"stats", "aggregate statistics: noised counts over the declared dimensions, a privacy budget (recount)", runStats},
		{"keys", "create the root key, sealed under M-of-N shares for its holders (init)", runKeys},
		{"unseal", "enter one share into a sealed server (one holder a call)", runUnseal},
		{"seal", "seal a running server: its keys leave memory, every data route answers 503", runSeal},
		{"totp", "print the current TOTP code of a base32 secret", runTOTP},
		{"authz", "print the authorization matrix (docs/authorization.md)", runAuthz},
		{"openapi", "print the API's OpenAPI 3.1 document (docs/openapi.json)", runOpenAPI},
		{"config", "check a configuration: every problem at once, or a summary of what it sets (check)", runConfig},
		{"version", "print the version, VCS commit and Go version of this binary", runVersion},
		{"completion", "print a shell's completion script (bash, zsh, fish)", runCompletion},
		{"man", "print coffre's manual page (roff)", runMan},
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
		if h := public.Hint(err, ""); h != "" {
			fmt.Fprintf(stderr, "hint: %s\n", h)
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

// argFirst lets a command's one argument (an operator, a count, a
// secret) come before its flags, as the examples write it: the flag
// package stops at the first argument, so it moves to the end.
func argFirst(args []string) []string {
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		return append(args[1:], args[0])
	}
	return args
}

// writeJSON prints v as one indented JSON document: the --json output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
