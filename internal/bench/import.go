package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// ImportBench imports People synthetic people (population [Seed]) in
// batches and writes their ids to Dir's [IDsFile], for [ReadBench].
type ImportBench struct {
	People int
	Batch  int
	Dir    string // made by PrepareDir
	// ImportAll imports the batches next returns (the vault's ImportAll
	// with the importing actor).
	ImportAll func(ctx context.Context, next func() ([]vault.ImportRow, error), done func(ids []string, failed []vault.RowError) error) error
	// Checkpoint, if set, moves the store's write-ahead log into its
	// database file; the clock stops once it has.
	Checkpoint func(ctx context.Context) error
	// DBPath is the SQLite database file; "" for PostgreSQL.
	DBPath string
	// Progress gets a line every 100,000 records.
	Progress io.Writer
}

// ImportReport is an [ImportBench]'s outcome.
type ImportReport struct {
	People  int // imported
	Batch   int
	Elapsed time.Duration
	DBBytes int64  // database file and write-ahead log (SQLite only)
	DBPath  string // "" for PostgreSQL
	Dir     string
}

// Rate is records imported per second.
func (r *ImportReport) Rate() float64 { return float64(r.People) / r.Elapsed.Seconds() }

// Run imports the people and reports.
func (b *ImportBench) Run(ctx context.Context) (*ImportReport, error) {
	idsPath := filepath.Join(b.Dir, IDsFile)
	f, err := os.OpenFile(idsPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	const every = 100_000
	var generated, imported int
	start := time.Now()
	lastN, lastT := 0, start
	next := func() ([]vault.ImportRow, error) {
		rows := make([]vault.ImportRow, min(b.Batch, b.People-generated))
		// Made on every core, as the vault prepares a batch: made on one,
		// the people would hold up the batch that the other core could
		// be preparing meanwhile.
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Go(func() {
				for j := w; j < len(rows); j += workers {
					p := synth.Make(Seed, generated+j)
					rows[j] = vault.ImportRow{Num: generated + j + 1, Unit: p.Unit, Fields: p.Fields}
				}
			})
		}
		wg.Wait()
		generated += len(rows)
		return rows, nil
	}
	done := func(ids []string, failed []vault.RowError) error {
		if len(failed) > 0 {
			return fmt.Errorf("%d synthetic rows rejected, the first: %s", len(failed), failed[0].Error())
		}
		if err := WriteIDs(bw, ids); err != nil {
			return fmt.Errorf("write %s: %w", idsPath, err)
		}
		imported += len(ids)
		if imported/every > lastN/every || imported == b.People {
			now := time.Now()
			fmt.Fprintf(b.Progress, "imported %8d / %d  %6.1f s  %7.0f records/s  (last %d: %.0f/s)\n",
				imported, b.People, now.Sub(start).Seconds(), float64(imported)/now.Sub(start).Seconds(),
				imported-lastN, float64(imported-lastN)/now.Sub(lastT).Seconds())
			lastN, lastT = imported, now
		}
		return nil
	}
	if err := b.ImportAll(ctx, next, done); err != nil {
		return nil, fmt.Errorf("import (%d records written before): %w", imported, err)
	}
	// The clock stops once the database file holds everything, not just
	// the write-ahead log.
	if b.Checkpoint != nil {
		if err := b.Checkpoint(ctx); err != nil {
			return nil, err
		}
	}
	el := time.Since(start)
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write %s: %w", idsPath, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("write %s: %w", idsPath, err)
	}
	r := &ImportReport{People: imported, Batch: b.Batch, Elapsed: el, DBPath: b.DBPath, Dir: b.Dir}
	if b.DBPath != "" {
		for _, suffix := range []string{"", "-wal"} {
			if st, err := os.Stat(b.DBPath + suffix); err == nil {
				r.DBBytes += st.Size()
			}
		}
	}
	return r, nil
}

// WriteJSON prints the report as bench import --json does.
func (r *ImportReport) WriteJSON(w io.Writer) error {
	return writeIndentedJSON(w, map[string]any{
		"people": r.People, "seconds": r.Elapsed.Seconds(), "records_per_sec": r.Rate(), "batch": r.Batch,
		"durability": "full", "db_bytes": r.DBBytes, "data_dir": r.Dir,
	})
}

// WriteText prints the report as bench import does.
func (r *ImportReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "imported %d synthetic people in %s: %.0f records/s (batches of %d, durability full)\n",
		r.People, r.Elapsed.Round(time.Millisecond), r.Rate(), r.Batch)
	if r.DBPath != "" {
		fmt.Fprintf(w, "database: %.1f MB in %s\n", float64(r.DBBytes)/1e6, r.DBPath)
	} else {
		fmt.Fprintf(w, "database: %s\n", "PostgreSQL (COFFRE_STORE)")
	}
	fmt.Fprintf(w, "next: coffre bench read --data %s\n", r.Dir)
}
