package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/coffre/coffre/internal/bench"
	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// statsBenchReport is what coffre bench stats measured.
type statsBenchReport struct {
	People   int64           `json:"people"`
	Imported bool            `json:"imported"`
	Recount  *time.Duration  `json:"recount_ns,omitempty"`
	GroupBy  []string        `json:"group_by"`
	Over     string          `json:"over"`
	Runs     []time.Duration `json:"runs_ns"`
	Median   time.Duration   `json:"median_ns"`
	Max      time.Duration   `json:"max_ns"`
	Groups   int             `json:"groups"`
	Cells    int             `json:"cells"`
}

// runBenchStats times statistics queries end to end through the vault
// (the guard's transaction: budget charged and audit entry appended and
// made durable; the cells read, summed, noised and suppressed) over the
// store of a bench import, which it makes first when --data holds none.
func runBenchStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre bench stats --data ./coffre-bench --people 1000000 --runs 20"
	fset := newFlags("bench stats", "[--data DIR] [--store URL] [--people N] [--runs N] [--group-by DIM,…] [--over SET] [--json]", example, stderr)
	data := fset.String("data", "./coffre-bench", "benchmark data `directory`: made by coffre bench import, or empty (then imported first)")
	people := fset.Int("people", 1_000_000, "people to import when --data holds no benchmark")
	runs := fset.Int("runs", 20, "queries timed")
	groupBy := fset.String("group-by", "age_band,unit", "the declared `dimensions` each query groups by")
	over := fset.String("over", stats.All, "live, retained or all")
	asJSON := fset.Bool("json", false, "print the result as JSON")
	storeURL := fset.String("store", "", "query this PostgreSQL store (a postgres:// `URL`, as given to bench import --store; imported into when --data holds no benchmark)")
	if err := parse(fset, args); err != nil {
		return err
	}
	switch {
	case fset.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fset.Arg(0)), hint: example}
	case *runs < 1 || *runs > 10_000:
		return &usageError{msg: "--runs must be between 1 and 10,000", hint: example}
	}
	rep := &statsBenchReport{GroupBy: splitList(*groupBy), Over: *over}
	ids, err := os.ReadFile(filepath.Join(*data, bench.IDsFile))
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(ids) == 0 {
		fmt.Fprintf(stderr, "no benchmark in %s: importing %d people first\n", *data, *people)
		imp := []string{"--people", strconv.Itoa(*people), "--data", *data, "--fresh"}
		if *storeURL != "" {
			imp = append(imp, "--store", *storeURL)
		}
		if err := runBenchImport(ctx, imp, stderr, stderr); err != nil {
			return err
		}
		rep.Imported = true
	} else if err != nil {
		return err
	}
	a, err := openApp(ctx, appOptions{dev: true, dataDir: *data, store: *storeURL}, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	// The host's budget is the configured one; the benchmark spends far
	// more, on a benchmark store.
	a.cfg.Statistics.Budget = big.NewRat(1_000_000_000, 1)
	q := stats.Query{GroupBy: rep.GroupBy, Over: *over, Epsilon: json.Number("1")}
	if _, err := a.vault.Stats(ctx, host, q); err != nil {
		// A store imported before statistics were declared: recount.
		if !errors.Is(err, vault.ErrStatsStale) {
			return err
		}
		t0 := time.Now()
		r, err := a.vault.RecountStats(ctx, host)
		if err != nil {
			return err
		}
		d := time.Since(t0)
		rep.Recount = &d
		fmt.Fprintf(stderr, "recounted %d records in %s\n", r.Records, d.Round(time.Millisecond))
	}
	for range *runs {
		t0 := time.Now()
		ans, err := a.vault.Stats(ctx, host, q)
		if err != nil {
			return err
		}
		if _, err := json.Marshal(ans); err != nil {
			return err
		}
		rep.Runs = append(rep.Runs, time.Since(t0))
		rep.Groups = len(ans.Groups)
	}
	rep.People, rep.Cells, err = a.statsSize(ctx)
	if err != nil {
		return err
	}
	sorted := slices.Sorted(slices.Values(rep.Runs))
	rep.Median, rep.Max = bench.Percentile(sorted, 0.5), sorted[len(sorted)-1]
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "stats over %d people (%d live cells): group by %v over %s, %d groups released\n", rep.People, rep.Cells, rep.GroupBy, rep.Over, rep.Groups)
	fmt.Fprintf(stdout, "%d queries end to end: median %s, max %s\n", len(rep.Runs), rep.Median.Round(10*time.Microsecond), rep.Max.Round(10*time.Microsecond))
	return nil
}

// statsSize returns the records the live cells count, and the cells.
func (a *app) statsSize(ctx context.Context) (records int64, cells int, err error) {
	err = a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		m, err := tx.Counts(ctx, stats.Live)
		records, cells = 0, len(m)
		for _, n := range m {
			records += n
		}
		return err
	})
	return records, cells, err
}
