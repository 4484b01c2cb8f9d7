package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/coffre/coffre/internal/bench"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// purgeSeed is the synthetic population of the expired people bench purge
// adds: not bench import's, whose people the readers read.
const purgeSeed = 1607

// runBenchPurge is coffre bench purge: expired people added to a bench
// directory, then reads with and without a purge beside the server.
func runBenchPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre bench purge --data ./coffre-bench --expired 1000000 --window 10s"
	fs := newFlags("bench purge", "[--data DIR] [--store URL] [--expired N] [--window D] [--baseline D] [--concurrency N] [--batch N] [--rest X] [--rounds N] [--json]", example, stderr)
	data := fs.String("data", "./coffre-bench", "benchmark data `directory` made by coffre bench import")
	storeURL := fs.String("store", "", "serve from this PostgreSQL store (a postgres:// `URL`, as given to bench import --store)")
	expired := fs.Int("expired", 1_000_000, "expired people to purge: added (created six years ago) until the store holds this many due")
	window := fs.Duration("window", 10*time.Second, "measured `time` of each read window during the purge")
	baseline := fs.Duration("baseline", 0, "measured `time` of each read window without it (default --window)")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured `time` before each window")
	concurrency := fs.Int("concurrency", 32, "concurrent `readers`")
	batch := fs.Int("batch", 500, "the purge's records per transaction (retention run --batch)")
	rest := fs.Float64("rest", 1, "the purge's pause after each batch, as a multiple of its time (retention run --rest)")
	rounds := fs.Int("rounds", 200, "at most `N` rounds (each a window without the purge, then one with it)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	server := fs.String("server", "", "the coffre `binary` to run as the server and the purge (default: this one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: example}
	case *expired < 1 || *expired > 10_000_000:
		return &usageError{msg: "--expired must be between 1 and 10,000,000", hint: example}
	case *window < time.Second || *window > time.Hour:
		return &usageError{msg: "--window must be between 1s and 1h", hint: example}
	case *baseline != 0 && (*baseline < time.Second || *baseline > time.Hour):
		return &usageError{msg: "--baseline must be between 1s and 1h", hint: example}
	case *warmup < 0 || *warmup > time.Minute:
		return &usageError{msg: "--warmup must be between 0s and 1m", hint: "--warmup 2s"}
	case *concurrency < 1 || *concurrency > 1024:
		return &usageError{msg: "--concurrency must be between 1 and 1024", hint: "--concurrency 32"}
	case *batch < 10 || *batch > 10000:
		return &usageError{msg: "--batch must be between 10 and 10000", hint: "--batch 500"}
	case *rest < 0 || *rest > 20:
		return &usageError{msg: "--rest must be between 0 and 20", hint: "--rest 1"}
	case *rounds < 1 || *rounds > 1000:
		return &usageError{msg: "--rounds must be between 1 and 1000", hint: example}
	}
	op, ids, err := benchDir(*data)
	if err != nil {
		return err
	}
	if err := addExpired(ctx, *data, *storeURL, *expired, stderr); err != nil {
		return err
	}
	bin, err := serverBinary(*server)
	if err != nil {
		return err
	}
	rep, err := (&bench.PurgeBench{Server: bin, Dir: *data, Store: *storeURL, Operator: op, IDs: ids, Concurrency: *concurrency,
		Warmup: *warmup, Window: *window, Baseline: cmp.Or(*baseline, *window), MaxRounds: *rounds, Batch: *batch, Rest: *rest,
		Purpose: "case-handling", Reason: "bench", Log: stderr}).Run(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		rep.WriteText(stdout)
	}
	return rep.Failed()
}

// addExpired imports people created six years ago into the directory
// until want of its records are due for purge (the demo's records go five
// years after their last activity).
func addExpired(ctx context.Context, dir, storeURL string, want int, stderr io.Writer) error {
	past := func() time.Time { return time.Now().AddDate(-6, 0, 0) }
	a, err := openApp(ctx, appOptions{dev: true, dataDir: dir, store: storeURL, guard: "off", noNotices: true, now: past}, io.Discard)
	if err != nil {
		return err
	}
	defer a.close()
	plan, err := a.vault.RetentionPlan(ctx, time.Now(), 1)
	if err != nil {
		return err
	}
	due := plan.Now.Records
	fmt.Fprintf(stderr, "%d records due for purge of %d live\n", due, plan.Now.Seen)
	hr := identity.Actor{ID: "op_bench_purge", Role: "hr-officer", Origin: "127.0.0.1"}
	start, added := time.Now(), 0
	for from := 0; due < want; from += 50_000 {
		rows := make([]vault.ImportRow, 0, 50_000)
		for i := from; i < from+50_000 && len(rows) < want-due; i++ {
			p := synth.Make(purgeSeed, plan.Now.Seen+i)
			rows = append(rows, vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields})
		}
		got, _, err := a.vault.Import(ctx, hr, rows) // a row whose lookup value is taken is skipped
		if err != nil {
			return fmt.Errorf("add expired people: %w", err)
		}
		due += len(got)
		added += len(got)
	}
	if added > 0 {
		fmt.Fprintf(stderr, "added %d expired people in %s\n", added, time.Since(start).Round(time.Second))
	}
	return nil
}
