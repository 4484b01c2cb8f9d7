package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/stats"
)

const statsExample = `coffre stats --group-by age_band,unit --over all --epsilon 0.1 --dev`

// statsHelp is `coffre stats --help`.
const statsHelp = `Usage: coffre stats [--group-by DIM,…] [--over live|retained|all] [--epsilon E] [--json]
       coffre stats recount [--json]

Aggregate statistics, on the host (audited as the system, whose privacy
budget it spends like an analyst's; the API offers the same to the
analyst role: POST /v1/stats).

  (query)  counts of records grouped by the declared dimensions
           (statistics.dimensions; none: the total), over the records in
           the store (live, the default), those purged by retention
           (retained) or both (all). Each count gets fresh discrete
           Laplace noise of scale 1/epsilon (default statistics.epsilon);
           a group of fewer than statistics.k people, before or after the
           noise, is never shown. The epsilon is spent from the budget of
           the period (statistics.budget), and the answer says what
           remains and when it renews.
  recount  rebuilds the live counters from the records, after the
           declared dimensions changed (queries are refused until then):
           it opens every record's dimension fields in one transaction,
           which holds the store's writer for seconds per million records.

Example:
  ` + statsExample + `
  coffre stats recount --dev
`

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, statsHelp)
		return flag.ErrHelp
	}
	recount := len(args) > 0 && args[0] == "recount"
	if recount {
		args = args[1:]
	}
	fs := newFlags("stats", "(see coffre stats --help)", statsExample, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	groupBy := fs.String("group-by", "", "the declared `dimensions` to group by, comma-separated (none: the total)")
	over := fs.String("over", stats.Live, "the records counted: live, retained or all")
	epsilon := fs.String("epsilon", "", "the privacy this query spends (`decimal`; default statistics.epsilon)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "unexpected argument " + fs.Arg(0), hint: statsExample}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if recount {
		r, err := a.vault.RecountStats(ctx, host)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, r)
		}
		fmt.Fprintf(stdout, "recounted %d records into %d cells (declaration %s)\n", r.Records, r.Cells, r.Version)
		if r.DroppedRetained {
			fmt.Fprintln(stdout, "the retained cells were of another declaration: dropped")
		}
		return nil
	}
	ans, err := a.vault.Stats(ctx, host, stats.Query{GroupBy: splitList(*groupBy), Over: *over, Epsilon: json.Number(*epsilon)})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, ans)
	}
	writeStats(stdout, ans)
	return nil
}

// writeStats prints an answer as a table, then its budget.
func writeStats(w io.Writer, ans *stats.Answer) {
	cols := append(append([]string{}, ans.GroupBy...), "count")
	rows := [][]string{cols}
	for _, g := range ans.Groups {
		row := make([]string, 0, len(cols))
		for _, d := range ans.GroupBy {
			row = append(row, g.Values[d])
		}
		rows = append(rows, append(row, fmt.Sprint(g.Count)))
	}
	width := make([]int, len(cols))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c + strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	if len(ans.Groups) == 0 {
		fmt.Fprintf(w, "(no group of %d or more)\n", ans.K)
	}
	fmt.Fprintf(w, "over %s; k %d; %s; epsilon spent %s, %s of %s remains until %s\n", ans.Over, ans.K, ans.Mechanism, ans.Epsilon,
		ans.Budget.Remaining, ans.Budget.Budget, ans.Budget.PeriodEnd.Format(time.RFC3339))
}
