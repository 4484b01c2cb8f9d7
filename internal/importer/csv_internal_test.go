package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
)

// csvEvent is a record or a parse error, as a whole-file reading by
// encoding/csv reports it.
type csvEvent struct {
	line   int
	fields []string
	err    error // csv.ErrBareQuote or csv.ErrQuote
}

func (e csvEvent) String() string { return fmt.Sprintf("{%d %q %v}", e.line, e.fields, e.err) }

// wholeCSV reads data with one encoding/csv Reader, as a reference.
func wholeCSV(t *testing.T, data []byte) []csvEvent {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	var evs []csvEvent
	for {
		rec, err := cr.Read()
		var pe *csv.ParseError
		switch {
		case err == io.EOF:
			return evs
		case errors.As(err, &pe):
			evs = append(evs, csvEvent{line: pe.StartLine, err: pe.Err})
		case err != nil:
			t.Fatalf("encoding/csv: %v", err)
		default:
			line, _ := cr.FieldPos(0)
			evs = append(evs, csvEvent{line: line, fields: append([]string(nil), rec...)})
		}
	}
}

// splitCSV reads data as Reader does: scanRecord cuts records, and
// encoding/csv parses each one, which must hold exactly one record.
func splitCSV(t *testing.T, data []byte) []csvEvent {
	r := &Reader{br: bufio.NewReaderSize(bytes.NewReader(data), MaxLine)}
	var evs []csvEvent
	for {
		rec, err := r.scanCSV()
		switch {
		case err == io.EOF:
			return evs
		case errors.Is(err, ErrUnclosedQuote):
			return append(evs, csvEvent{line: rec.line, err: csv.ErrQuote})
		case err != nil:
			t.Fatalf("scanCSV: %v", err)
		}
		fields, err := r.csv.parse(rec.data, -1)
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			evs = append(evs, csvEvent{line: rec.line, err: pe.Err})
			if rec.badField < 0 {
				t.Errorf("line %d: %v, but the scanner saw no quote error", rec.line, pe.Err)
			}
		case err != nil:
			t.Fatalf("line %d: %q: %v", rec.line, rec.data, err)
		default:
			evs = append(evs, csvEvent{line: rec.line, fields: append([]string(nil), fields...)})
			if rec.badField >= 0 {
				t.Errorf("line %d: the scanner saw a quote error in field %d, encoding/csv did not", rec.line, rec.badField)
			}
		}
		if _, err := r.csv.cr.Read(); err != io.EOF {
			t.Errorf("line %d: record %q holds more than one record", rec.line, rec.data)
		}
	}
}

// FuzzSplitCSV checks that the record scanner agrees with encoding/csv on
// where records start and end.
func FuzzSplitCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\nc,d\n",
		"a,\"b\nc\",d\r\ne\n",
		"\n\r\n\r",
		"a\"b,c\nd\n",
		"\"a\"b,c\nd\n",
		"\"a\nb\"x\nc\n",
		"\"a\"\r\r\nb\n",
		"\"a\"\r",
		"\"abc",
		"a,b\r",
		",,\n\"\"\n",
		"\"a\"\"b\",\"\"\"\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxLine {
			return
		}
		want := wholeCSV(t, data)
		got := splitCSV(t, data)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("input %q\nscanner:      %v\nencoding/csv: %v", data, got, want)
		}
	})
}
