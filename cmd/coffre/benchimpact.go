package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/coffre/coffre/internal/bench"
	"github.com/coffre/coffre/internal/store/sqlite"
)

// runBenchImpact builds a log of --entries read-shaped entries over
// --days days with a few attackers reading on one day, and times a
// breach's impact for that day (verification included).
func runBenchImpact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre bench impact --entries 10000000 --data /tmp/coffre-impact-bench"
	fs := newFlags("bench impact", "[--entries N] [--days N] [--people N] [--attackers N] [--reads N] [--runs N] [--data DIR] [--store URL] [--fresh] [--json]", example, stderr)
	entries := fs.Int("entries", 10_000_000, "the audit log's size, in entries")
	days := fs.Int("days", 100, "days the entries are spread over, evenly")
	people := fs.Int("people", 1_000_000, "people the entries are about (ids only: no record is made)")
	attackers := fs.Int("attackers", 3, "attacking operators, reading on the middle day")
	reads := fs.Int("reads", 2000, "distinct people each attacker reads")
	runs := fs.Int("runs", 5, "impacts to time, for each scope")
	data := fs.String("data", "./coffre-impact-bench", "benchmark data `directory` (keys, and the SQLite store without --store): built when empty; an earlier bench impact's is reused as it is")
	storeURL := fs.String("store", "", "build in this PostgreSQL store (a postgres:// `URL`, an empty database) instead of --data's SQLite file")
	fresh := fs.Bool("fresh", false, "first delete --data if it holds an earlier benchmark, and build again")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: example}
	case *entries < 10_000 || *entries > 100_000_000:
		return &usageError{msg: "--entries must be between 10,000 and 100,000,000", hint: example}
	case *days < 2 || *days > 3650:
		return &usageError{msg: "--days must be between 2 and 3,650", hint: example}
	case *people < 1 || *people > 10_000_000:
		return &usageError{msg: "--people must be between 1 and 10,000,000", hint: example}
	case *attackers < 1 || *attackers > 50 || *reads < 1 || *reads > 1_000_000:
		return &usageError{msg: "--attackers must be between 1 and 50 and --reads between 1 and 1,000,000", hint: example}
	case *attackers**reads > *people:
		return &usageError{msg: "--people must be at least --attackers × --reads: each attacker reads distinct people", hint: example}
	case 3**attackers**reads > *entries / *days:
		return &usageError{msg: "the attackers' reads must be at most a third of a day's entries (--entries / --days): they read during office hours", hint: example}
	case *runs < 1 || *runs > 1000:
		return &usageError{msg: "--runs must be between 1 and 1,000", hint: example}
	case *data == "":
		return &usageError{msg: "--data must name a directory", hint: example}
	case *storeURL != "" && !strings.HasPrefix(*storeURL, "postgres://") && !strings.HasPrefix(*storeURL, "postgresql://"):
		return &usageError{msg: "--store must be a postgres:// URL", hint: "coffre bench impact --store postgres://localhost/coffre_bench --data /tmp/coffre-impact-pg"}
	}
	kind := "sqlite"
	if *storeURL != "" {
		kind = "postgres"
	}
	d, err := bench.ReadImpactData(*data)
	reuse := err == nil && !*fresh
	if reuse && d.Store != kind {
		return &usageError{msg: fmt.Sprintf("%s holds a %s benchmark, not a %s one", *data, d.Store, kind), hint: "choose another --data, or pass --fresh"}
	}
	if !reuse {
		if err := bench.PrepareDir(*data, *fresh); err != nil {
			var de *bench.DirError
			switch {
			case errors.As(err, &de) && de.NotBench:
				return &usageError{msg: err.Error(), hint: "choose another --data"}
			case errors.As(err, &de):
				return &usageError{msg: err.Error() + " and holds no " + bench.ImpactFile + " file", hint: "pass --fresh to delete the earlier benchmark in it, or choose another --data"}
			}
			return err
		}
		d = &bench.ImpactData{Store: kind}
	}
	a, err := openApp(ctx, appOptions{dev: true, dataDir: *data, store: *storeURL}, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	b := &bench.ImpactBench{Store: a.store, Signer: a.signer, Policy: a.cfg.Policy, Entries: *entries, Days: *days, People: *people,
		Attackers: *attackers, Reads: *reads, Runs: *runs, Log: stderr}
	if _, ok := a.store.(*sqlite.Store); ok != (kind == "sqlite") {
		return fmt.Errorf("bench impact: the store opened is not a %s store", kind)
	}
	if reuse {
		fmt.Fprintf(stderr, "reusing the log of %d entries built in %s (--fresh builds it again)\n", d.Entries, *data)
	} else {
		if err := b.Build(ctx, d); err != nil {
			return err
		}
		if err := bench.WriteImpactData(*data, d); err != nil {
			return err
		}
	}
	rep, err := b.Measure(ctx, d)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	rep.WriteText(stdout)
	return nil
}
