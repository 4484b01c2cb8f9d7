package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/importer"
	"github.com/coffre/coffre/internal/vault"
)

const caseloadExample = "coffre caseload sync --file assignments.csv --dev"

// caseloadHelp is `coffre caseload --help`.
const caseloadHelp = `Usage: coffre caseload assign OPERATOR --file IDS [--until DATE] [--dev | --config FILE] [--json]
       coffre caseload remove OPERATOR --file IDS [--dev | --config FILE] [--json]
       coffre caseload sync --file ASSIGNMENTS.csv [--dev | --config FILE] [--json]

Caseloads are the people an operator reads at no out-of-caseload cost. On
the host (no budget: this is where a case-management system's nightly feed
lands), audited as the system:

  assign   adds the people of IDS to OPERATOR's caseload (a username), until
           DATE (an RFC 3339 date-time, or a date: to the end of that day;
           at most 2 years ahead; default no end); people assigned already
           take the new end.
  remove   ends their assignments.
  sync     makes each caseload the file says: a CSV with a header row of
           operator,subject,until (until may be left empty: no end). An
           operator's assignments the file does not name end, unless a row
           of that operator is refused: then nothing of its caseload ends.
           Operators the file does not name are left alone. Each operator's
           rows are one transaction.

IDS has one person a line: a subject id (sub_…) or FIELD=VALUE, the exact
value of a lookup field (email_pro=a.martin@ac-lyon.fr). Blank lines and
lines starting with # are skipped. Rows at fault are reported by row,
column and reason (never by value), the others applied; exit 1 when any is.

Example:
  coffre caseload sync --file assignments.csv --dev
  coffre caseload assign camille --file ids.txt --until 2026-12-31 --dev
`

// host is who changes caseloads from the command line.
var host = identity.Actor{ID: "system", Role: "admin", Origin: "cli"}

func runCaseload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, caseloadHelp)
		return flag.ErrHelp
	}
	if len(args) == 0 || !slices.Contains([]string{"assign", "remove", "sync"}, args[0]) {
		return &usageError{msg: "want a subcommand: assign, remove or sync", hint: caseloadExample}
	}
	sub := args[0]
	synopsis := "OPERATOR --file IDS [--until DATE] [--dev | --config FILE] [--json]"
	example := "coffre caseload assign camille --file ids.txt --until 2026-12-31 --dev"
	switch sub {
	case "remove":
		synopsis, example = "OPERATOR --file IDS [--dev | --config FILE] [--json]", "coffre caseload remove camille --file ids.txt --dev"
	case "sync":
		synopsis, example = "--file ASSIGNMENTS.csv [--dev | --config FILE] [--json]", caseloadExample
	}
	fs := newFlags("caseload "+sub, synopsis, example, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	file := fs.String("file", "", "the `file` to read")
	until := ""
	if sub == "assign" {
		fs.StringVar(&until, "until", "", "end of the assignments: an RFC 3339 date-time or a `date` (default: no end)")
	}
	maxErrors := fs.Int("max-errors", 100, "row errors to print (all are counted)")
	asJSON := fs.Bool("json", false, "print the result as JSON (row errors also stay on stderr)")
	args = args[1:]
	if sub != "sync" {
		args = argFirst(args)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case sub != "sync" && (fs.NArg() != 1 || !validUsername(fs.Arg(0))):
		return &usageError{msg: "want one operator's username", hint: example}
	case sub == "sync" && fs.NArg() != 0:
		return &usageError{msg: "sync takes no argument: the file names the operators", hint: example}
	case *file == "":
		return &usageError{msg: "--file is required", hint: example}
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	r := &caseloadReport{file: *file, stderr: stderr, max: *maxErrors}
	var changes []vault.CaseloadChange
	if sub == "sync" {
		changes, err = a.readSync(f, r)
	} else {
		var end time.Time
		if until != "" {
			if end, err = a.vault.ParseUntil(until); err != nil {
				return &usageError{msg: "--until: want an RFC 3339 date-time (2026-09-30T18:00:00+02:00) or a date (2026-09-30)", hint: example}
			}
			if why := vault.UntilReason(end, time.Now()); why != "" {
				return &usageError{msg: "--until: " + why, hint: example}
			}
		}
		var rows []vault.CaseloadRow
		rows, err = readIDs(f, end, r)
		changes = []vault.CaseloadChange{{Username: fs.Arg(0), Rows: rows, Remove: sub == "remove"}}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	for _, c := range changes {
		res, err := a.vault.ChangeCaseload(ctx, host, c)
		if err != nil {
			return fmt.Errorf("caseload of %s: %w (the operators before it are done; each operator's change is whole)", c.Username, err)
		}
		r.add(c, res)
	}
	return r.print(stdout, *asJSON, sub)
}

// caseloadReport gathers what a caseload command did and prints it.
type caseloadReport struct {
	file      string
	stderr    io.Writer
	max       int
	refused   int
	printed   []map[string]any
	operators []map[string]any
	assigned  int
	removed   int
}

// refuse reports a row at fault.
func (r *caseloadReport) refuse(e vault.RowError) {
	r.refused++
	if len(r.printed) < r.max {
		fmt.Fprintf(r.stderr, "%s: row %d: column %q: %s\n", r.file, e.Num, e.Field, e.Reason)
		r.printed = append(r.printed, map[string]any{"row": e.Num, "column": e.Field, "reason": e.Reason})
	}
}

func (r *caseloadReport) add(c vault.CaseloadChange, res *vault.CaseloadResult) {
	for _, e := range res.Failed {
		r.refuse(e)
	}
	r.assigned += res.Assigned
	r.removed += res.Removed
	r.operators = append(r.operators, map[string]any{"username": c.Username, "operator": res.Operator,
		"assigned": res.Assigned, "removed": res.Removed, "synced": res.Synced, "refused": len(res.Failed)})
}

func (r *caseloadReport) print(w io.Writer, asJSON bool, sub string) error {
	if asJSON {
		if err := writeJSON(w, map[string]any{"file": r.file, "assigned": r.assigned, "removed": r.removed, "refused": r.refused,
			"operators": r.operators, "refused_rows": append([]map[string]any{}, r.printed...)}); err != nil {
			return err
		}
	} else {
		for _, op := range r.operators {
			line := fmt.Sprintf("%s (%s): %d assigned, %d removed", op["username"], op["operator"], op["assigned"], op["removed"])
			switch {
			case op["operator"] == "":
				line = fmt.Sprintf("%s: nothing changed", op["username"])
			case sub == "sync" && op["synced"] == true:
				line += "; its caseload is the file's"
			case sub == "sync":
				line += "; rows refused, so its other assignments are kept"
			}
			fmt.Fprintln(w, line)
		}
		fmt.Fprintf(w, "%d assigned, %d removed, %d rows refused\n", r.assigned, r.removed, r.refused)
	}
	if r.refused > 0 {
		return fmt.Errorf("%d rows refused (see above); fix them and run again", r.refused)
	}
	return nil
}

// Bounds of a caseload file.
const (
	maxIDLine   = 4 << 10
	maxSyncRows = 1_000_000
)

// readIDs reads a file of subject ids or FIELD=VALUE, one a line.
func readIDs(f io.Reader, until time.Time, r *caseloadReport) ([]vault.CaseloadRow, error) {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxIDLine)
	var rows []vault.CaseloadRow
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(rows) == vault.MaxCaseloadRows {
			return nil, fmt.Errorf("more than %d people: split the file", vault.MaxCaseloadRows)
		}
		rows = append(rows, vault.CaseloadRow{Num: n, Subject: line, Until: until})
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, fmt.Errorf("a line longer than %d bytes: want one subject id or FIELD=VALUE a line", maxIDLine)
	}
	return rows, sc.Err()
}

// Columns of a sync file.
var syncColumns = []string{"operator", "subject", "until"}

// readSync reads a sync file and returns one change per operator, in the
// order of their first row. Rows that cannot be read are reported, and
// their operator's change is incomplete (nothing else of its caseload
// ends).
func (a *app) readSync(f io.Reader, r *caseloadReport) ([]vault.CaseloadChange, error) {
	br := bufio.NewReaderSize(f, 1<<16)
	head, _ := br.Peek(512)
	format, err := importer.DetectFormat(r.file, head)
	if err != nil {
		return nil, &usageError{msg: err.Error(), hint: "give a CSV file with the header row operator,subject,until"}
	}
	rd, err := importer.NewReader(br, format, func(name string) bool { return slices.Contains(syncColumns, name) })
	if err != nil {
		return nil, &usageError{msg: err.Error(), hint: "the header names the columns operator, subject and until (until may be left out)"}
	}
	if cols := rd.Columns(); cols != nil && (!slices.Contains(cols, "operator") || !slices.Contains(cols, "subject")) {
		return nil, &usageError{msg: "header: want the columns operator and subject (and until)", hint: "the first line: operator,subject,until"}
	}
	var changes []vault.CaseloadChange
	index := map[string]int{} // username → changes[i]
	total := 0
	// unknown: a row refused before its operator was known. It may have
	// been any operator's, so no caseload is complete: nothing ends.
	unknown := false
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *importer.RowError
		if errors.As(err, &re) {
			r.refuse(vault.RowError{Num: re.Num, Field: re.Field, Reason: re.Reason})
			unknown = true // whose row it was is not known
			continue
		}
		if err != nil {
			return nil, err
		}
		if total++; total > maxSyncRows {
			return nil, fmt.Errorf("more than %d rows: split the file by operator", maxSyncRows)
		}
		name := row.Fields["operator"]
		bad := func(col, reason string) {
			r.refuse(vault.RowError{Num: row.Num, Field: col, Reason: reason})
			if i, ok := index[name]; ok {
				changes[i].Incomplete = true
			}
		}
		if !validUsername(name) {
			bad("operator", "want a username (a-z, 0-9, '.', '-', '_')")
			unknown = true
			continue
		}
		if _, ok := index[name]; !ok {
			index[name] = len(changes)
			changes = append(changes, vault.CaseloadChange{Username: name, Sync: true})
		}
		c := &changes[index[name]]
		var until time.Time
		switch {
		case row.Unit != "":
			bad("unit", "not a column of a caseload file")
			continue
		case row.Fields["subject"] == "":
			bad("subject", "required")
			continue
		case row.Fields["until"] != "":
			if until, err = a.vault.ParseUntil(row.Fields["until"]); err != nil {
				bad("until", "want an RFC 3339 date-time or a date (2026-09-30), or nothing for no end")
				continue
			}
		}
		if len(c.Rows) == vault.MaxCaseloadRows {
			bad("operator", fmt.Sprintf("more than %d rows for this operator", vault.MaxCaseloadRows))
			continue
		}
		c.Rows = append(c.Rows, vault.CaseloadRow{Num: row.Num, Subject: row.Fields["subject"], Until: until})
	}
	if unknown {
		for i := range changes {
			changes[i].Incomplete = true
		}
	}
	return changes, nil
}
