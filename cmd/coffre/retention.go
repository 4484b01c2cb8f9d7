package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/vault"
)

const retentionExample = `coffre retention plan --dev --months 6`

// retentionHelp is `coffre retention --help`.
const retentionHelp = `Usage: coffre retention plan [--at TIME] [--months N] [--json]
       coffre retention run [--batch N] [--rest X] [--json]

Retention on the host: the schema's field rules and the record's rule
(retention.record) applied to every live record.

  plan  counts, without changing anything, what is due now (records
        purged whole, field values dropped, records held by a legal hold)
        and what falls due in each of the next --months months (default
        12). --at TIME plans as of another time. Counts only: never an id.
  run   purges what is due now, in transactions of --batch records
        (default retention.batch), resting --rest times each batch's time
        between them (default retention.rest) so that a running server
        keeps its reads: a record due whole is crypto-shredded (its data
        key destroyed, its lookup entries removed) and counted in the
        statistics' retained aggregates; a field due is dropped from the
        record. A record under a legal hold is left alone. Each batch that
        changed something is audited with counts (action
        retention.purge). Interrupted, run again: it goes on, and counts
        nothing twice. The server also purges every retention.every.

Example:
  ` + retentionExample + `
  coffre retention run --config coffre.yaml
`

func runRetention(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, retentionHelp)
		return flag.ErrHelp
	}
	subs := []string{"plan", "run"}
	if len(args) == 0 || !slices.Contains(subs, args[0]) {
		return &usageError{msg: "want a subcommand: " + strings.Join(subs, ", "), hint: retentionExample}
	}
	sub := args[0]
	fs := newFlags("retention "+sub, "(see coffre retention --help)", retentionExample, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	at := fs.String("at", "", "plan as of this `time` (RFC 3339 or a date; default now); with run, --dev only (a test of the rules)")
	months := fs.Int("months", 12, "plan: the months ahead to count (1 to 120)")
	batch := fs.Int("batch", 0, "run: records per transaction (10 to 10000; default retention.batch)")
	rest := fs.Float64("rest", -1, "run: the pause after each batch, as a multiple of its time (0 to 20; default retention.rest)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + fs.Arg(0), hint: retentionExample}
	case *months < 1 || *months > 120:
		return &usageError{msg: fmt.Sprintf("--months: want 1 to 120, not %d", *months), hint: retentionExample}
	case *batch != 0 && (*batch < 10 || *batch > 10000):
		return &usageError{msg: fmt.Sprintf("--batch: want 10 to 10000, not %d", *batch), hint: retentionExample}
	case *rest != -1 && (*rest < 0 || *rest > 20):
		return &usageError{msg: fmt.Sprintf("--rest: want 0 to 20, not %g", *rest), hint: retentionExample}
	case sub == "run" && *at != "" && !o.dev:
		return &usageError{msg: "--at with run purges as of another time: only with --dev, to try the rules", hint: "coffre retention plan --at TIME shows what would go then"}
	}
	now := time.Now
	if *at != "" {
		t, err := parseTime(*at)
		if err != nil {
			return &usageError{msg: "--at: " + err.Error(), hint: retentionExample}
		}
		now = func() time.Time { return t }
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if sub == "plan" {
		p, err := a.vault.RetentionPlan(ctx, now(), *months)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, p)
		}
		writePlan(stdout, p, now())
		return nil
	}
	r := a.cfg.Retention
	if *batch != 0 {
		r.Batch = *batch
	}
	if *rest != -1 {
		r.Rest = *rest
	}
	start := time.Now()
	last := start
	p, err := a.vault.Purge(ctx, now, r.Batch, r.Rest, func(p vault.Purged) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(stderr, "%d records seen, %d purged, %d field values dropped, %d held\n", p.Seen, p.Records, p.Fields, p.Held)
		}
	})
	took := time.Since(start)
	switch {
	case errors.Is(err, context.Canceled):
		// Stopped between two batches: what was done is done, and
		// counted; the next run goes on.
		err = &usageError{msg: "interrupted; what was purged is counted above", hint: "run coffre retention run again to go on"}
	case err != nil:
		return err
	}
	if *asJSON {
		if werr := writeJSON(stdout, struct {
			vault.Purged
			Seconds float64 `json:"seconds"`
		}{p, took.Seconds()}); werr != nil {
			return werr
		}
		return err
	}
	fmt.Fprintf(stdout, "%d records seen in %.1f s: %d purged (%.0f/s), %d field values dropped, %d held by a legal hold; %d batches audited\n",
		p.Seen, took.Seconds(), p.Records, float64(p.Records)/took.Seconds(), p.Fields, p.Held, p.Batches)
	return err
}

// writePlan prints a retention plan.
func writePlan(w io.Writer, p vault.Plan, now time.Time) {
	fmt.Fprintf(w, "as of %s, of %d live records:\n", now.UTC().Format(time.RFC3339), p.Now.Seen)
	fmt.Fprintf(w, "  due now: %d records, %d field values; %d records held by a legal hold\n", p.Now.Records, p.Now.Fields, p.Now.Held)
	for _, m := range p.Months {
		if m.Records+m.Fields > 0 {
			fmt.Fprintf(w, "  %s: %d records, %d field values\n", m.Month, m.Records, m.Fields)
		}
	}
}
