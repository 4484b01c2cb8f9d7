package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/importer"
	"github.com/coffre/coffre/internal/vault"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "FILE [--dev | --config FILE] [--batch N] [--json]\n\n"+
		"Columns: the schema's fields, unit, and optionally caseworker (a username: the new\n"+
		"person joins that operator's caseload) and caseworker_until (a date or an RFC 3339\n"+
		"date-time; empty: no end).",
		"coffre import --dev people.csv   # CSV with a header row, or JSON lines (.jsonl)", stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	batch := fs.Int("batch", 50000, "records per transaction")
	maxErrors := fs.Int("max-errors", 100, "row errors to print (all are counted)")
	asJSON := fs.Bool("json", false, "print the result as JSON (row errors also stay on stderr)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{msg: "want one FILE", hint: "coffre import --dev people.csv"}
	}
	if *batch < 1 || *batch > 200000 {
		return &usageError{msg: "--batch must be between 1 and 200,000"}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	head, _ := br.Peek(512)
	format, err := importer.DetectFormat(fs.Arg(0), head)
	if err != nil {
		return &usageError{msg: err.Error(), hint: "give a .csv file with a header row or a .jsonl file with one JSON object a line"}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	// The caseworker columns assign the new person to a caseload, unless
	// the schema has fields of those names.
	isField := func(name string) bool { _, ok := a.cfg.Policy.Field(name); return ok }
	assigns := func(name string) bool {
		return (name == vault.ColumnCaseworker || name == vault.ColumnCaseworkerUntil) && !isField(name)
	}
	known := func(name string) bool { return isField(name) || assigns(name) }
	r, err := importer.NewReader(br, format, known)
	if err != nil {
		return &usageError{msg: err.Error(), hint: "the header names schema fields, the reserved column unit, and caseworker and caseworker_until"}
	}
	actor := identity.Actor{ID: "cli-import", Role: "admin", Origin: "cli"}
	prog := importer.NewProgress(stderr, st.Size())
	start := time.Now()
	var imported, failed, printed int
	var report func(vault.RowError)
	rowErrors := []map[string]any{} // the printed ones, for --json
	// The reader fills batches while the previous batch commits.
	var (
		mu      sync.Mutex // report runs from the reader and the committer
		offset  int64
		readErr error
	)
	next := func() ([]vault.ImportRow, error) {
		rows := make([]vault.ImportRow, 0, *batch)
		for len(rows) < *batch {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *importer.RowError
			if errors.As(err, &re) {
				report(vault.RowError{Num: re.Num, Field: re.Field, Reason: re.Reason})
				continue
			}
			if err != nil {
				readErr = err
				return nil, err
			}
			ir := vault.ImportRow{Num: row.Num, Unit: row.Unit, Fields: row.Fields}
			for _, col := range []string{vault.ColumnCaseworker, vault.ColumnCaseworkerUntil} {
				if v, ok := row.Fields[col]; ok && assigns(col) {
					delete(ir.Fields, col)
					if col == vault.ColumnCaseworker {
						ir.Caseworker = v
					} else {
						ir.CaseworkerUntil = v
					}
				}
			}
			rows = append(rows, ir)
		}
		mu.Lock()
		offset = r.Offset()
		mu.Unlock()
		return rows, nil
	}
	report = func(e vault.RowError) {
		mu.Lock()
		defer mu.Unlock()
		failed++
		if printed < *maxErrors {
			printed++
			prog.Finish()
			fmt.Fprintf(stderr, "%s: %s\n", fs.Arg(0), e.Error())
			rowErrors = append(rowErrors, map[string]any{"row": e.Num, "field": e.Field, "reason": e.Reason})
		}
	}
	err = a.vault.ImportAll(ctx, actor, next, func(ids []string, bad []vault.RowError) error {
		imported += len(ids)
		for _, e := range bad {
			report(e)
		}
		mu.Lock()
		prog.Update(offset, imported, failed)
		mu.Unlock()
		return nil
	})
	if err != nil {
		prog.Finish()
		if readErr != nil {
			return fmt.Errorf("%s: %w (%d records imported before; each committed batch is whole)", fs.Arg(0), readErr, imported)
		}
		return fmt.Errorf("import stopped after %d records (each committed batch is whole, the failed one left nothing): %w", imported, err)
	}
	prog.Finish()
	el := time.Since(start)
	if *asJSON {
		if err := writeJSON(stdout, map[string]any{"file": fs.Arg(0), "imported": imported, "rejected": failed, "rejected_rows": rowErrors,
			"seconds": el.Seconds(), "records_per_sec": float64(imported) / el.Seconds()}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "imported %d records, %d rows rejected, in %s (%.0f records/s)\n", imported, failed, el.Round(time.Millisecond), float64(imported)/el.Seconds())
	}
	if failed > 0 {
		return fmt.Errorf("%d rows rejected (see above); fix them and import those rows again", failed)
	}
	return nil
}
