package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

const canaryUsage = "plant N [--partner NAME] | find FIELD VALUE  [--dev | --config FILE] [--json]"
const canaryExample = "coffre canary plant 20 --partner mission-locale --dev"

func runCanary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintf(stderr, "Usage: coffre canary %s\n\nPlants canary subjects: synthetic people stored like any other, that no\nlegitimate work reaches. Reading or looking one up locks the account at once\nand raises a critical alert. A canary bound to a partner names the source of\na leaked data set it shows up in: find tells whether a value (an email,\na phone) is a canary's, and whose.\n\nExample:\n  %s\n  coffre canary find email_pro someone@example.org --dev\n", canaryUsage, canaryExample)
		return flag.ErrHelp
	}
	if len(args) > 0 && args[0] == "find" {
		return runCanaryFind(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "plant" {
		return &usageError{msg: "want a subcommand: plant or find", hint: canaryExample}
	}
	fs := newFlags("canary plant", "N [--partner NAME] [--dev | --config FILE] [--json]", canaryExample, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	partner := fs.String("partner", "", "bind the canaries to this partner `name`")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	args = args[1:]
	if err := parse(fs, argFirst(args)); err != nil {
		return err
	}
	n, err := strconv.Atoi(fs.Arg(0))
	if fs.NArg() != 1 || err != nil || n < 1 || n > 10_000 {
		return &usageError{msg: "want one count of canaries between 1 and 10,000", hint: canaryExample}
	}
	if *partner != "" && !vault.ValidUnit(*partner) {
		return &usageError{msg: "--partner: 1 to 64 characters a-z, 0-9, '-', '_', '.'"}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	ids, err := a.plantCanaries(ctx, n, *partner)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"planted": len(ids), "partner": *partner, "ids": ids})
	}
	fmt.Fprintf(stdout, "planted %d canaries%s; keep this list out of every operator's reach:\n", len(ids), map[bool]string{true: " bound to " + *partner}[*partner != ""])
	for _, id := range ids {
		fmt.Fprintln(stdout, id)
	}
	return nil
}

// plantCanaries makes n synthetic people of the demo population, drawn
// just past the people loaded so far (so they look like the others: same
// units, names, email patterns), and plants them.
func (a *app) plantCanaries(ctx context.Context, n int, partner string) ([]string, error) {
	mark := filepath.Join(a.cfg.DataDir, "demo-loaded")
	next := 0
	if b, err := os.ReadFile(mark); err == nil {
		next, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	// Canaries take indices from a counter of their own, past the loaded
	// people and any earlier canaries.
	cmark := filepath.Join(a.cfg.DataDir, "canaries-made")
	if b, err := os.ReadFile(cmark); err == nil {
		if c, _ := strconv.Atoi(strings.TrimSpace(string(b))); c > next {
			next = c
		}
	}
	next += 1000 // leave room for the demo to grow a little
	rows := make([]vault.ImportRow, n)
	for i := range rows {
		p := synth.Make(demoSeed, next+i)
		rows[i] = vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields}
	}
	ids, err := a.vault.PlantCanaries(ctx, identity.Actor{ID: "system", Role: "admin", Origin: "cli"}, partner, rows)
	if err != nil {
		return nil, fmt.Errorf("plant canaries: %w", err)
	}
	if err := os.WriteFile(cmark, []byte(strconv.Itoa(next+n)), 0o600); err != nil {
		return nil, err
	}
	return ids, nil
}

func runCanaryFind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("canary find", "FIELD VALUE [--dev | --config FILE] [--json]", "coffre canary find email_pro someone@example.org --dev", stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var pos []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") && len(pos) < 2 {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	pos = append(pos, fs.Args()...)
	if len(pos) != 2 {
		return &usageError{msg: "want a lookup field and a value", hint: "coffre canary find email_pro someone@example.org --dev"}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	id, partner, err := a.vault.CanaryOf(ctx, identity.Actor{ID: "system", Role: "admin", Origin: "cli"}, pos[0], pos[1])
	switch {
	case errors.Is(err, store.ErrNotFound):
		if *asJSON {
			writeJSON(stdout, map[string]any{"canary": false})
		} else {
			fmt.Fprintln(stdout, "not a canary's value")
		}
		return errNotCanary
	case errors.Is(err, access.ErrInvalid):
		return &usageError{msg: err.Error(), hint: "fields with lookup: true in the configuration"}
	case err != nil:
		return err
	case *asJSON:
		return writeJSON(stdout, map[string]any{"canary": true, "id": id, "partner": partner})
	case partner == "":
		fmt.Fprintf(stdout, "canary %s (bound to no partner)\n", id)
	default:
		fmt.Fprintf(stdout, "canary %s, bound to partner %s: a data set holding it came through that partner\n", id, partner)
	}
	return nil
}

// errNotCanary makes canary find exit 1 for a value that is no canary's.
var errNotCanary = errors.New("not a canary")
