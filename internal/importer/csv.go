package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// encoding/csv reads a record of any length into memory, and cannot be
// told where a record begins. So a small scanner that follows the same
// quoting rules first cuts the input into records, bounded by MaxLine and
// counting lines and bytes, and encoding/csv then parses each record on
// its own. On a quote error encoding/csv drops the rest of the line and
// goes on with the next; the scanner ends the record at that line too, so
// the two agree on every record boundary (FuzzSplitCSV checks this).

// csvParser holds the CSV state of a Reader.
type csvParser struct {
	header  []string
	unitCol int // index of UnitColumn in header, or -1

	rec bytes.Reader  // the current record
	br  *bufio.Reader // over rec, shared with cr
	cr  *csv.Reader
}

// rawRecord is one record as cut by scanRecord.
type rawRecord struct {
	data     []byte // the record's bytes; nil if long
	line     int    // the line it starts on
	long     bool   // longer than MaxLine
	badField int    // the field with a quote error, or -1
}

// csvState is the scanner's position in the CSV grammar.
type csvState uint8

const (
	stFieldStart csvState = iota // at the start of a field
	stUnquoted                   // in an unquoted field
	stQuoted                     // in a quoted field
	stQuote                      // after a quote in a quoted field: its end, or the first of ""
	stQuoteCR                    // after a quote and a \r
	stBad                        // after a quote error: the record ends with the line
)

// scanRecord cuts the next record from the input, and returns io.EOF at
// the end of the input.
func (r *Reader) scanRecord() (rawRecord, error) {
	rec := rawRecord{line: r.line + 1, badField: -1}
	r.buf = r.buf[:0]
	st, field, n := stFieldStart, 0, 0
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.off += int64(len(chunk))
		n += len(chunk)
		if n <= MaxLine {
			r.buf = append(r.buf, chunk...)
		} else {
			rec.long = true
		}
		ended := false
		for _, c := range chunk {
			if c == '\n' {
				// The last byte of chunk.
				r.line++
				ended = st != stQuoted
				break
			}
			switch st {
			case stFieldStart:
				switch c {
				case '"':
					st = stQuoted
				case ',':
					field++
				default:
					st = stUnquoted
				}
			case stUnquoted:
				switch c {
				case ',':
					st = stFieldStart
					field++
				case '"':
					st, rec.badField = stBad, field
				}
			case stQuoted:
				if c == '"' {
					st = stQuote
				}
			case stQuote:
				switch c {
				case '"':
					st = stQuoted
				case ',':
					st = stFieldStart
					field++
				case '\r':
					st = stQuoteCR
				default:
					st, rec.badField = stBad, field
				}
			case stQuoteCR:
				st, rec.badField = stBad, field
			}
		}
		switch {
		case ended:
		case err == nil || err == bufio.ErrBufferFull:
			continue // a line break in a quoted field, or a long line
		case err != io.EOF:
			return rec, fmt.Errorf("read: %w", err)
		case n == 0:
			return rec, io.EOF
		case st == stQuoted:
			return rec, fmt.Errorf("line %d: %w", rec.line, ErrUnclosedQuote)
		}
		if !rec.long {
			rec.data = r.buf
		}
		return rec, nil
	}
}

// scanCSV is scanRecord without the blank lines, which encoding/csv skips.
func (r *Reader) scanCSV() (rawRecord, error) {
	for {
		rec, err := r.scanRecord()
		if err != nil || rec.long || !isBlank(rec.data) {
			return rec, err
		}
	}
}

// isBlank reports whether a record is a blank line (a trailing \r before
// the end of the input is dropped, as encoding/csv does).
func isBlank(b []byte) bool {
	switch string(b) {
	case "\n", "\r\n", "\r":
		return true
	}
	return false
}

// parse parses one record with encoding/csv.
func (p *csvParser) parse(data []byte, fieldsPerRecord int) ([]string, error) {
	p.rec.Reset(data)
	if p.cr == nil {
		p.br = bufio.NewReader(&p.rec)
		p.cr = csv.NewReader(p.br) // uses p.br as is
		p.cr.ReuseRecord = true
	} else {
		p.br.Reset(&p.rec)
	}
	p.cr.FieldsPerRecord = fieldsPerRecord
	return p.cr.Read()
}

func (r *Reader) readHeader() error {
	p := &r.csv
	p.unitCol = -1
	rec, err := r.scanCSV()
	switch {
	case err == io.EOF:
		return &HeaderError{Reason: "no header row: the file is empty"}
	case errors.Is(err, ErrUnclosedQuote):
		return &HeaderError{Reason: "malformed header row"}
	case err != nil:
		return err
	case rec.long:
		return &HeaderError{Reason: "header row longer than 64 KiB"}
	}
	names, err := p.parse(rec.data, -1)
	if err != nil {
		return &HeaderError{Reason: "malformed header row"}
	}
	if len(names) > MaxFields {
		return &HeaderError{Reason: fmt.Sprintf("%d columns, at most %d", len(names), MaxFields)}
	}
	p.header = slices.Clone(names)
	he := &HeaderError{}
	seen := make(map[string]int, len(names))
	for i, name := range p.header {
		seen[name]++
		switch {
		case seen[name] == 2:
			he.Duplicate = append(he.Duplicate, name)
		case seen[name] > 2:
		case name == UnitColumn:
			p.unitCol = i
		case !r.known(name):
			he.Unknown = append(he.Unknown, name)
		}
	}
	if he.Unknown != nil || he.Duplicate != nil {
		if len(he.Unknown) == len(names) {
			// Likely no header at all: the first line is a person's data,
			// which an error must not echo.
			he.Reason = fmt.Sprintf("none of its %d columns is a known one: is the first line a header row? (its values are not shown: they may be personal data)", len(names))
			he.Unknown = nil
		}
		return he
	}
	return nil
}

func (r *Reader) nextCSV() (Row, error) {
	p := &r.csv
	for {
		rec, err := r.scanCSV()
		if err != nil {
			return Row{}, err
		}
		if rec.long {
			return Row{}, &RowError{Num: rec.line, Reason: reasonLong}
		}
		values, err := p.parse(rec.data, len(p.header))
		if err == io.EOF {
			continue // nothing but line breaks; scanCSV should have skipped it
		}
		if err != nil {
			return Row{}, p.rowError(rec, len(values), err)
		}
		row := Row{Num: rec.line, Fields: make(map[string]string, len(values))}
		empty := true
		for i, v := range values {
			if v == "" {
				continue
			}
			empty = false
			name := p.header[i]
			if len(v) > MaxValue {
				return Row{}, &RowError{Num: rec.line, Field: name, Reason: reasonValueLong}
			}
			if !utf8.ValidString(v) {
				return Row{}, &RowError{Num: rec.line, Field: name, Reason: reasonUTF8}
			}
			if i == p.unitCol {
				row.Unit = v
			} else {
				row.Fields[name] = v
			}
		}
		if !empty {
			return row, nil
		}
	}
}

// rowError turns an encoding/csv error into a RowError, without the
// parse error's text.
func (p *csvParser) rowError(rec rawRecord, columns int, err error) *RowError {
	re := &RowError{Num: rec.line, Reason: reasonCSV}
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return re
	}
	switch pe.Err {
	case csv.ErrFieldCount:
		re.Reason = fmt.Sprintf(reasonColumns, columns, len(p.header))
	case csv.ErrBareQuote:
		re.Reason = reasonBareQuote
	case csv.ErrQuote:
		re.Reason = reasonQuote
	}
	if pe.Err != csv.ErrFieldCount && rec.badField >= 0 && rec.badField < len(p.header) {
		re.Field = p.header[rec.badField]
	}
	return re
}
