// Package importer parses the files given to `coffre import`, the vault's
// one bulk write path: CSV with a header row, or JSON lines. A [Reader]
// yields one [Row] per record; validating the values and writing them is
// the vault's job, not this package's.
//
// # Formats
//
// CSV follows RFC 4180 as [encoding/csv] reads it with LazyQuotes off: a
// header row names the columns, every record has as many columns as the
// header, and a quoted field may span lines. Empty cells are omitted from
// [Row.Fields]; a record whose cells are all empty is skipped, like a
// blank line.
//
// JSON lines holds one JSON object per line whose values are all strings:
//
//	{"unit":"ac-versailles","given_name":"Marie","family_name":"Dupont"}
//
// Blank lines are skipped, and an empty string is treated as an absent key,
// like an empty CSV cell. A UTF-8 byte order mark at the start of either
// format is accepted. [DetectFormat] picks the format from the file name or
// its first bytes.
//
// The column or key [UnitColumn] is reserved: it names the organisational
// unit of the record and goes to [Row.Unit]. Every other column or key must
// be a field the vault knows.
//
// # Errors
//
// A problem confined to one record is a [*RowError]: the caller reports it
// and calls [Reader.Next] again, which continues with the next record. Any
// other error from Next is fatal and returned again by every later call: an
// I/O error, or a quoted CSV field still open at the end of the file
// ([ErrUnclosedQuote]), after which no record can be told apart. A bad CSV
// header is a [*HeaderError] from [NewReader], so that a file with a
// misspelt column is rejected before anything is written.
//
// Values are personal data: no error of this package contains one. A
// [RowError] has the row number, the field name and a fixed reason.
//
// # Bounds
//
// A record is at most [MaxLine] bytes, has at most [MaxFields] columns or
// keys, and each value is at most [MaxValue] bytes. A longer record is a
// RowError and reading continues after it; memory use is bounded by these
// constants whatever the input.
//
// # Progress
//
// [Progress] draws a one-line progress bar on a terminal, and nothing
// otherwise.
package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Bounds on the input. See the package documentation.
const (
	// MaxLine is the largest record, in bytes as they are in the file,
	// line endings included: a CSV record (which may span lines) or a JSON
	// line.
	MaxLine = 64 << 10
	// MaxFields is the most columns a CSV header, or keys a JSON object,
	// may have, UnitColumn included.
	MaxFields = 64
	// MaxValue is the longest value, in bytes.
	MaxValue = 8 << 10
)

// UnitColumn is the reserved column (CSV) or key (JSON lines) that holds
// a record's organisational unit.
const UnitColumn = "unit"

// Format is the format of an import file.
type Format int

// The formats. The zero Format is invalid.
const (
	CSV       Format = iota + 1 // comma-separated values with a header row
	JSONLines                   // one JSON object per line
)

func (f Format) String() string {
	switch f {
	case CSV:
		return "CSV"
	case JSONLines:
		return "JSON lines"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ErrUnknownFormat is returned by [DetectFormat] when the file is not one
// it can read (a spreadsheet, UTF-16 text, binary data, a JSON array, or
// nothing at all); the error text says which.
var ErrUnknownFormat = errors.New("unsupported file format")

// ErrUnclosedQuote is wrapped by the fatal error that [Reader.Next]
// returns when a quoted CSV field is still open at the end of the file:
// every line after its opening quote was read as part of it, so the rows
// there cannot be recovered. The error names the line of the record.
var ErrUnclosedQuote = errors.New("quoted field never closed: the rest of the file is part of it")

var bom = []byte("\xef\xbb\xbf")

// DetectFormat returns the format of the file called name whose first
// bytes are head (a few hundred bytes are enough). The extension decides
// if it is .csv, .jsonl, .ndjson or .json (case-insensitive); otherwise a
// first non-space byte '{' means JSON lines and anything else CSV. It
// returns an error wrapping [ErrUnknownFormat] for a spreadsheet
// extension, UTF-16 text, data with a NUL byte, a JSON array, or an empty
// head with no known extension.
func DetectFormat(name string, head []byte) (Format, error) {
	if bytes.HasPrefix(head, []byte{0xff, 0xfe}) || bytes.HasPrefix(head, []byte{0xfe, 0xff}) {
		return 0, fmt.Errorf("%w: text is UTF-16; save it as UTF-8", ErrUnknownFormat)
	}
	head = bytes.TrimPrefix(head, bom)
	first := firstNonSpace(head)
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONLines, nil
	case ".json":
		if first == '[' {
			return 0, fmt.Errorf("%w: a JSON array; write one JSON object per line (JSON lines)", ErrUnknownFormat)
		}
		return JSONLines, nil
	case ".xlsx", ".xls", ".xlsm", ".ods", ".numbers":
		return 0, fmt.Errorf("%w: %s is a spreadsheet; export it as CSV (UTF-8)", ErrUnknownFormat, ext)
	}
	switch {
	case bytes.IndexByte(head, 0) >= 0:
		return 0, fmt.Errorf("%w: binary data, not CSV or JSON lines", ErrUnknownFormat)
	case first == '{':
		return JSONLines, nil
	case first == '[':
		return 0, fmt.Errorf("%w: a JSON array; write one JSON object per line (JSON lines)", ErrUnknownFormat)
	case first == 0:
		return 0, fmt.Errorf("%w: empty input", ErrUnknownFormat)
	}
	return CSV, nil
}

// firstNonSpace returns the first byte of b that is not JSON white space,
// or 0.
func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}

// Row is one record of an import file.
type Row struct {
	// Num is the row number as a user counts it: the line of the file the
	// record starts on (1-based). In a CSV file the header is line 1, so
	// the first data row is usually 2; a record with a quoted line break
	// spans lines and has the number of its first.
	Num int
	// Unit is the value of UnitColumn, or "".
	Unit string
	// Fields maps field names to values; empty values are omitted. It is
	// never nil.
	Fields map[string]string
}

// RowError reports a record that could not be read. It never contains a
// value from the file: only the row number, the field (column or key)
// name if the problem is in one field, and a fixed reason.
type RowError struct {
	Num    int    // as in Row.Num
	Field  string // "" if the problem is not in one field
	Reason string // for example "value is not a string"
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("row %d: %s", e.Num, e.Reason)
	}
	return fmt.Sprintf("row %d: field %q: %s", e.Num, e.Field, e.Reason)
}

// HeaderError reports a CSV header that [NewReader] rejected.
type HeaderError struct {
	Unknown   []string // columns that are neither known fields nor UnitColumn
	Duplicate []string // columns named more than once
	Reason    string   // another problem with the header, or ""
}

// maxListed is how many column names a HeaderError message lists.
const maxListed = 10

func (e *HeaderError) Error() string {
	var parts []string
	if e.Reason != "" {
		parts = append(parts, e.Reason)
	}
	if len(e.Unknown) > 0 {
		parts = append(parts, "unknown "+plural(len(e.Unknown), "column")+" "+list(e.Unknown))
	}
	if len(e.Duplicate) > 0 {
		parts = append(parts, "duplicate "+plural(len(e.Duplicate), "column")+" "+list(e.Duplicate))
	}
	return "header: " + strings.Join(parts, "; ")
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// list quotes at most maxListed names, each cut to a readable length.
func list(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(names)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", shorten(n))
	}
	return b.String()
}

// maxName is the longest name, in bytes, that an error repeats from the
// file: names are not values, but a file without a header has values
// where its names should be.
const maxName = 64

// shorten returns name cut to maxName bytes, on a rune boundary.
func shorten(name string) string {
	if len(name) <= maxName {
		return name
	}
	cut := maxName
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "…"
}

// Reasons of RowError. They are fixed strings so that no value can reach
// an error message.
const (
	reasonLong      = "record longer than 64 KiB"
	reasonColumns   = "%d columns, the header has %d"
	reasonBareQuote = `bare " in an unquoted field`
	reasonQuote     = `misplaced " in a quoted field`
	reasonCSV       = "malformed CSV record"
	reasonValueLong = "value longer than 8 KiB"
	reasonUTF8      = "not valid UTF-8"
	reasonJSON      = "malformed JSON"
	reasonNotObject = "not a JSON object"
	reasonNotString = "value is not a string"
	reasonUnknown   = "unknown field"
	reasonDuplicate = "duplicate key"
	reasonTooMany   = "more than 64 keys"
	reasonTrailing  = "data after the JSON object"
)

// Reader reads rows from an import file. It is not safe for concurrent
// use.
type Reader struct {
	format Format
	known  func(string) bool
	br     *bufio.Reader
	off    int64  // bytes consumed
	line   int    // line breaks consumed
	buf    []byte // the current record
	err    error  // sticky: io.EOF or a fatal error

	csv csvParser // CSV only
}

// NewReader returns a Reader of r in format f. known reports whether a
// field name is one the vault accepts; UnitColumn is always accepted.
//
// For CSV it reads the header at once and returns a [*HeaderError] if a
// column is unknown or named twice, if there are more than [MaxFields]
// columns, or if the header is missing or malformed; the error names the
// columns.
func NewReader(r io.Reader, f Format, known func(field string) bool) (*Reader, error) {
	if f != CSV && f != JSONLines {
		return nil, fmt.Errorf("importer: invalid format %v", f)
	}
	if known == nil {
		return nil, errors.New("importer: nil known func")
	}
	rd := &Reader{format: f, known: known, br: bufio.NewReaderSize(r, MaxLine)}
	head, err := rd.br.Peek(len(bom))
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("read: %w", err)
	}
	if bytes.Equal(head, bom) {
		rd.br.Discard(len(bom))
		rd.off += int64(len(bom))
	}
	if f == CSV {
		if err := rd.readHeader(); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

// Next returns the next row. At the end of the input it returns io.EOF.
// A record that cannot be read is a [*RowError], after which Next may be
// called again for the next record; any other error is fatal and
// returned again by later calls.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	var row Row
	var err error
	if r.format == CSV {
		row, err = r.nextCSV()
	} else {
		row, err = r.nextJSON()
	}
	if _, ok := err.(*RowError); err != nil && !ok {
		r.err = err
	}
	return row, err
}

// Columns returns the CSV header's column names, in order (nil for JSON
// lines, whose keys vary by line).
func (r *Reader) Columns() []string { return slices.Clone(r.csv.header) }

// Offset returns the number of bytes of the input consumed so far,
// byte order mark and header included; at io.EOF it is the input's size.
func (r *Reader) Offset() int64 { return r.off }
